set -eu
cd "$(dirname "$0")"

# Runs a command inside a member's running container, quietly (a check asks it many times).
inside() {
  member=$1
  shift
  docker exec "$member" "$@"
}

# Runs a command in a container of the member image on the members' network, quietly (the
# member named first is not needed here).
oneoff() {
  entrypoint=$2
  shift 2
  docker run --rm --network "$network" --entrypoint "$entrypoint" "$image" "$@"
}

# Whether a member's container runs and passes its health check (where it has one).
healthy() {
  state=$(docker container inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1" 2>/dev/null) || return 1
  [ "$state" = healthy ] || [ "$state" = running ]
}

# Stops and removes a member's container, giving it $2 seconds to stop, with the anonymous
# volumes its image declares (never a named one).
remove_member() {
  if docker container inspect "$1" >/dev/null 2>&1; then
    run docker stop --time "$2" "$1"
    run docker rm --volumes "$1"
  fi
}

# Creates the volume of a member that joins: it starts empty, so a volume of that name that
# exists already (a member's that left, or someone else's) stops the plan.
new_volume() {
  if docker volume inspect "$1" >/dev/null 2>&1; then
    printf 'berth plan stopped: the volume %s exists; a joining member starts on an empty one (docker volume rm %s, once its data is not needed)\n' "$1" "$1" >&2
    exit 1
  fi
  run docker volume create --label "berth.service=$service" "$1"
}

# Removes a volume a member left, where it is: a lost member's may have gone with its disk.
remove_volume() {
  if docker volume inspect "$1" >/dev/null 2>&1; then
    run docker volume rm "$1"
  fi
}
