stack=${1:?usage: sh deploy.sh STACK [DOCKER-STACK-DEPLOY-OPTION...]}
shift
here=$(dirname "$0")

# running_task SERVICE: the task Swarm wants running for the member (none while it replaces it).
running_task() {
  docker service ps --quiet --filter desired-state=running "$1" 2>/dev/null | head -n 1
}

task_template() {
  docker service inspect --format '{{json .Spec.TaskTemplate}}' "$1" 2>/dev/null || true
}

# update_status SERVICE: the state of Swarm's latest update of it, and when that update started.
update_status() {
  docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}} {{.UpdateStatus.StartedAt}}{{end}}' "$1" 2>/dev/null || true
}

# The network shared with other stacks: external to each, so created once, here; one that
# exists must be an overlay network, encrypted if the spec asks for it.
if [ -n "$shared_network" ] && ! docker network inspect "$shared_network" >/dev/null 2>&1; then
  if [ "$encrypted" = 1 ]; then
    docker network create --driver overlay --attachable --opt encrypted --label "berth.network=$shared_network" "$shared_network" >/dev/null
  else
    docker network create --driver overlay --attachable --label "berth.network=$shared_network" "$shared_network" >/dev/null
  fi
  echo "deploy.sh: created the overlay network $shared_network, shared with other stacks" >&2
elif [ -n "$shared_network" ]; then
  found=" $(docker network inspect --format '{{.Driver}}{{range $key, $value := .Options}} {{$key}}{{end}}' "$shared_network") "
  case "$found" in
    " overlay "*) ;;
    *)
      echo "deploy.sh: the network $shared_network exists but is not an overlay network; remove it or name another in network.name" >&2
      exit 1
      ;;
  esac
  if [ "$encrypted" = 1 ] && [ "${found#* encrypted }" = "$found" ]; then
    echo "deploy.sh: the network $shared_network exists unencrypted, and the spec asks for an encrypted one (replication.encryption); remove it so that deploy.sh creates it encrypted" >&2
    exit 1
  fi
fi
if [ -z "$(docker service ls --quiet --filter "label=com.docker.stack.namespace=$stack")" ]; then
  docker stack deploy "$@" --compose-file "$here/stack.yaml" "$stack"
  echo "deploy.sh: $service deployed as $stack, every member at once" >&2
  exit 0
fi
for member in $members; do
  name="${stack}_$member"
  template=$(task_template "$name")
  old=$(running_task "$name")
  previous_update=$(update_status "$name")
  docker stack deploy "$@" --compose-file "$here/members/$member.yaml" "$stack"
  # An unchanged task template leaves the member's task as it is.
  if [ -n "$template" ] && [ "$(task_template "$name")" = "$template" ]; then
    continue
  fi
  waited=0
  while :; do
    update=$(update_status "$name")
    if [ "$update" != "$previous_update" ]; then
      case "$update" in
        rollback_* | paused*)
          echo "deploy.sh: the update of $member failed (${update%% *}); see docker service ps $name" >&2
          exit 1
          ;;
      esac
    fi
    new=$(running_task "$name")
    if [ -n "$new" ] && [ "$new" != "$old" ] &&
      [ "$(docker inspect --type task --format '{{.Status.State}}' "$new")" = running ]; then
      break
    fi
    waited=$((waited + 2))
    if [ "$waited" -ge 600 ]; then
      echo "deploy.sh: $member does not run the new spec after 10 minutes; see docker service ps $name" >&2
      exit 1
    fi
    sleep 2
  done
  sleep "$settle"
  echo "deploy.sh: $member replaced" >&2
done
