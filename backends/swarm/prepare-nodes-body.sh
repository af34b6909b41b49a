if [ "$#" -eq 0 ]; then
  echo "prepare-nodes.sh: name the nodes, one per member: sh prepare-nodes.sh NODE..." >&2
  exit 2
fi
if [ "$spread_required" = 1 ]; then
  if [ "$#" -lt "$members" ]; then
    echo "prepare-nodes.sh: $service requires spread: name $members distinct nodes, one per member" >&2
    exit 2
  fi
  seen=" "
  for node in "$@"; do
    case "$seen" in
      *" $node "*)
        echo "prepare-nodes.sh: $node is named twice; $service requires one member per node" >&2
        exit 2
        ;;
    esac
    seen="$seen$node "
  done
fi

# Sets node to the node of member $1 among the nodes after it: members go round them in turn.
node_of() {
  index=$(($1 % ($# - 1) + 2))
  eval "node=\${$index}"
}

# A member that left a node (`berth plan`) left its volumes there, marked by a label: it would
# start on that data. Checked for every member before any label changes.
member=0
while [ "$member" -lt "$members" ]; do
  node_of "$member" "$@"
  old="$label_prefix$member.old-volumes"
  labels=$(docker node inspect --format '{{range $key, $value := .Spec.Labels}} {{$key}}={{$value}}{{end}}' "$node")
  case "$labels " in
    *" $old=true "*)
      echo "prepare-nodes.sh: $node holds the old volumes of member $member, which left the cluster: remove them there (docker volume rm), then the label (docker node update --label-rm $old $node), or name another node" >&2
      exit 1
      ;;
  esac
  member=$((member + 1))
done

member=0
while [ "$member" -lt "$members" ]; do
  node_of "$member" "$@"
  label="$label_prefix$member"
  target=$(docker node inspect --format '{{.ID}}' "$node")
  # A member labelled on two nodes could start on the one without its data: clear the others.
  # Never the node it stays on: a label taken away and put back moves its running task.
  for other in $(docker node ls --quiet --filter "node.label=$label"); do
    if [ "$other" != "$target" ]; then
      docker node update --label-rm "$label" "$other" >/dev/null
    fi
  done
  docker node update --label-add "$label=true" "$node" >/dev/null
  echo "prepare-nodes.sh: member $member of $service runs on $node" >&2
  member=$((member + 1))
done
