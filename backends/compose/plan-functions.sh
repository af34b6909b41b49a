set -eu
cd "$(dirname "$0")"
project=${COMPOSE_PROJECT_NAME:-$service}

compose() {
  if command -v docker-compose >/dev/null 2>&1; then
    docker-compose "$@"
  else
    docker compose "$@"
  fi
}

# Runs a command inside a member's running container, quietly (a check asks it many times).
inside() {
  member=$1
  shift
  compose -f compose.yaml exec -T "$member" "$@"
}

# Runs a command in a container of the member image on the members' network, quietly (the
# member named first is not needed here).
oneoff() {
  entrypoint=$2
  shift 2
  docker run --rm --network "$network" --entrypoint "$entrypoint" "$image" "$@"
}

# The container of a member of this project, also one that compose.yaml no longer defines.
container_of() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1" | head -n 1
}

# Whether a member's container runs and passes its health check (where it has one).
healthy() {
  id=$(container_of "$1")
  [ -n "$id" ] || return 1
  state=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
  [ "$state" = healthy ] || [ "$state" = running ]
}

# Stops and removes the container of a member that left, giving it $2 seconds to stop, with the
# anonymous volumes its image declares (never a named one).
retire() {
  id=$(container_of "$1")
  if [ -n "$id" ]; then
    run docker stop --time "$2" "$id"
    run docker rm --volumes "$id"
  fi
}

# Removes a volume a member left, where it is: a lost member's may have gone with its disk.
remove_volume() {
  if docker volume inspect "$1" >/dev/null 2>&1; then
    run docker volume rm "$1"
  fi
}
