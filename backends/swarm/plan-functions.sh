set -eu
cd "$(dirname "$0")"
stack=${1:?usage: sh plan.sh STACK [DOCKER-STACK-DEPLOY-OPTION...]}
shift
deploy_options="$*"
jobs=0

# Runs a command once, as a swarm job of the member image on the members' network, on the node
# of member $1 (which has the image); prints its output and fails as it does, or when it has not
# finished within $timeout seconds.
oneoff() {
  label="$label_prefix${1##*-}"
  shift
  entrypoint=$1
  shift
  jobs=$((jobs + 1))
  job="berth-plan-$$-$jobs"
  docker service create --quiet --detach --name "$job" --mode replicated-job \
    --restart-condition none --network "$network" --constraint "node.labels.$label==true" \
    --entrypoint "$entrypoint" "$image" "$@" >/dev/null || return 1
  status=1
  waited=0
  while [ "$waited" -lt "$timeout" ]; do
    state=$(docker service ps --format '{{.CurrentState}}' "$job" 2>/dev/null | head -n 1)
    case "$state" in
      Complete*) status=0 && break ;;
      Failed* | Rejected* | Shutdown*) break ;;
    esac
    sleep 1
    waited=$((waited + 1))
  done
  docker service logs --raw "$job" 2>&1
  docker service rm "$job" >/dev/null
  return "$status"
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

# Removes a member's service, and its label from its node; its volumes stay there.
retire() {
  run docker service rm "${stack}_$1"
  label="$label_prefix${1##*-}"
  for node in $(docker node ls --quiet --filter "node.label=$label=true"); do
    run docker node update --label-rm "$label" "$node"
  done
}
