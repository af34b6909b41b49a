set -eu
cd "$(dirname "$0")"
stack=${1:?usage: sh plan.sh STACK [DOCKER-STACK-DEPLOY-OPTION...]}
shift
deploy_options="$*"
jobs=0

# Runs a command once, as a swarm job of the member image on the members' network, on the node
# of member $1 (which has the image); prints its output and fails as it does.
oneoff() {
  member=$1
  entrypoint=$2
  shift 2
  job "$member" --entrypoint "$entrypoint" "$image" "$@"
}

# Runs a swarm job on the node of member $1 and the members' network: the rest are the options
# of `docker service create` after those, its image and its command. Prints the job's output and
# fails as it does, or when it has not finished within $timeout seconds.
# Its variables are its own (`job_...`): its callers run inside `until_passes` and `retry`, whose
# count of the time waited it must not reset.
job() {
  job_label="$label_prefix${1##*-}"
  shift
  jobs=$((jobs + 1))
  job="berth-plan-$$-$jobs"
  docker service create --quiet --detach --name "$job" --mode replicated-job \
    --restart-condition none --network "$network" --constraint "node.labels.$job_label==true" \
    "$@" >/dev/null || return 1
  job_status=1
  job_waited=0
  while [ "$job_waited" -lt "$timeout" ]; do
    job_state=$(docker service ps --format '{{.CurrentState}}' "$job" 2>/dev/null | head -n 1)
    case "$job_state" in
      Complete*) job_status=0 && break ;;
      Failed* | Rejected* | Shutdown*) break ;;
    esac
    sleep 1
    job_waited=$((job_waited + 1))
  done
  docker service logs --raw "$job" 2>&1
  docker service rm "$job" >/dev/null
  return "$job_status"
}

# Whether a member's service runs its task.
healthy() {
  state=$(docker service ps --filter desired-state=running --format '{{.CurrentState}}' "${stack}_$1" 2>/dev/null | head -n 1)
  [ "${state%% *}" = Running ]
}

# Deploys a member's files (`-c FILE`...), then waits until Swarm runs a new task of it.
deploy_member() {
  name="${stack}_$1"
  shift
  old=$(docker service ps --quiet --filter desired-state=running "$name" 2>/dev/null | head -n 1)
  # shellcheck disable=SC2086 # the options are words
  run docker stack deploy $deploy_options "$@" "$stack"
  waited=0
  while :; do
    new=$(docker service ps --quiet --filter desired-state=running "$name" 2>/dev/null | head -n 1)
    if [ -n "$new" ] && [ "$new" != "$old" ] &&
      [ "$(docker inspect --type task --format '{{.Status.State}}' "$new")" = running ]; then
      return 0
    fi
    if [ "$waited" -ge "$timeout" ]; then
      printf 'berth plan stopped: %s runs no new task after %s s; see docker service ps %s\n' "$name" "$timeout" "$name" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
}

# Stops the plan before its first step when no node is labelled for a member that joins.
need_node() {
  if [ -z "$(docker node ls --quiet --filter "node.label=$label_prefix$1=true")" ]; then
    printf 'berth plan stopped before its first step: no node is labelled for member %s; run prepare-nodes.sh of this directory with one node per member first\n' "$1" >&2
    exit 1
  fi
}

# Stops the plan before its first step when fewer nodes are free than members move (`vacate`).
need_free_nodes() {
  free=$(free_nodes | wc -l)
  if [ "$free" -lt "$1" ]; then
    printf 'berth plan stopped before its first step: %s members move to new volumes, each on an active node that runs no member of this service, and %s such nodes are ready; join nodes to the swarm first\n' "$1" "$free" >&2
    exit 1
  fi
}

# The nodes a member may move to, by host name: active and ready, and with no label of this
# service: none for a member, none marking the old volumes of one (`retire`).
free_nodes() {
  # shellcheck disable=SC2046 # the node ids are words
  docker node inspect --format '{{.Description.Hostname}} {{.ID}} {{.Spec.Availability}} {{.Status.State}} {{range $key, $value := .Spec.Labels}}{{$key}} {{end}}' $(docker node ls --quiet) |
    while read -r host id availability state labels; do
      case " $labels" in *" $label_prefix"*) continue ;; esac
      if [ "$availability $state" = "active ready" ]; then
        echo "$host $id"
      fi
    done | sort | cut -d ' ' -f 2
}

# Removes a member's service (stopped first, so that its container no longer holds its volumes),
# then marks its volumes on its node (`NAME VOLUME...`, see `leave_volumes`).
retire() {
  run docker service scale --detach=false "${stack}_$1=0"
  run docker service rm "${stack}_$1"
  leave_volumes "$@"
}

# Replaces a member's label on its node with one that marks the volumes it left there
# (`NAME VOLUME...`), which the manager cannot reach: the mark keeps the member off that node in
# `prepare-nodes.sh` and in moves until someone removes them.
leave_volumes() {
  name=$1
  shift
  label="$label_prefix${name##*-}"
  nodes=$(docker node ls --quiet --filter "node.label=$label=true")
  for node in $nodes; do
    if [ "$#" -eq 0 ]; then
      run docker node update --label-rm "$label" "$node"
      continue
    fi
    run docker node update --label-rm "$label" --label-add "$label.old-volumes=true" "$node"
    host=$(docker node inspect --format '{{.Description.Hostname}}' "$node")
    printf 'berth plan: %s left its volumes on %s, marked there by the label %s; before a member named %s runs there again, remove them on %s, then the label: docker volume rm %s; docker node update --label-rm %s %s\n' "$name" "$host" "$label.old-volumes" "$name" "$host" "$*" "$label.old-volumes" "$host"
  done
}

# Moves a member that left the cluster to a new volume (`NAME VOLUME...`): retired, its label
# given to the first free node, where its volumes are new and empty.
vacate() {
  retire "$@"
  move_to_free_node "$1"
}

# Moves a member whose node is lost to a new volume (`NAME VOLUME...`): its service removed
# without waiting for its task to stop (no node would report it), its volumes marked on the lost
# node should it return, and its label given to the first free node.
abandon() {
  if docker service inspect "${stack}_$1" >/dev/null 2>&1; then
    run docker service rm "${stack}_$1"
  fi
  leave_volumes "$@"
  move_to_free_node "$1"
}

# Gives member $1's label to the first free node.
move_to_free_node() {
  label="$label_prefix${1##*-}"
  node=$(free_nodes | head -n 1)
  if [ -z "$node" ]; then
    printf 'berth plan stopped: no node is free for %s to move to; join a node to the swarm, label it (docker node update --label-add %s=true NODE), and go on by hand from the step that deploys %s\n' "$1" "$label" "$1" >&2
    exit 1
  fi
  run docker node update --label-add "$label=true" "$node"
  host=$(docker node inspect --format '{{.Description.Hostname}}' "$node")
  printf 'berth plan: %s moves to %s; name %s for member %s when prepare-nodes.sh runs again (and in [backends.swarm] nodes, where the spec names the nodes)\n' "$1" "$host" "$host" "${1##*-}"
}
