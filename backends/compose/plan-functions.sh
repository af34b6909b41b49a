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

# Prints a command, then runs it.
run() {
  printf '+ %s\n' "$*"
  "$@"
}

# Runs a membership command until it succeeds (software refuses a change while its cluster
# settles: etcd's `member add` right after a member restarted); stops the plan after $timeout s.
retry() {
  printf '+ %s\n' "$*"
  waited=0
  until "$@"; do
    if [ "$waited" -ge "$timeout" ]; then
      printf 'berth plan stopped: the command above failed for %s s; the cluster is as the last step left it\n' "$timeout" >&2
      exit 1
    fi
    printf '  (failed; again in 2 s)\n'
    sleep 2
    waited=$((waited + 2))
  done
}

step() {
  printf '\n==> %s\n' "$1"
}

# Runs a command inside a member's running container, quietly (a check asks it many times).
inside() {
  member=$1
  shift
  compose -f compose.yaml exec -T "$member" "$@"
}

# Runs a command in a container of the member image on the members' network, quietly.
oneoff() {
  entrypoint=$1
  shift
  docker run --rm --network "$network" --entrypoint "$entrypoint" "$image" "$@"
}

# Asks a check again every 2 seconds until it passes; stops the plan after $timeout seconds.
until_passes() {
  what=$1
  shift
  printf '... until %s\n' "$what"
  waited=0
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$timeout" ]; then
      printf 'berth plan stopped: %s did not pass within %s s; the cluster is as the last step left it\n' "$what" "$timeout" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
}

# The container of a member of this project, also one that compose.yaml no longer defines.
container_of() {
  docker ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1"
}

# Whether a member's container runs and passes its health check (where it has one).
healthy() {
  id=$(container_of "$1")
  [ -n "$id" ] || return 1
  state=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
  [ "$state" = healthy ] || [ "$state" = running ]
}

every_member_healthy() {
  for member in "$@"; do
    healthy "$member" || return 1
  done
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

# Reads a listing of members on stdin and prints the id of the member named $1: fields are
# separated by the character $2, the name is field $3 and the id field $4.
id_of() {
  awk -F "$2" -v name="$1" -v n="$3" -v i="$4" '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    trim($n) == name { print trim($i) }'
}

# Stops the plan before its first step when a file the user provides is missing (docker would
# mount an empty directory in its place).
need_file() {
  if [ ! -f "$1" ]; then
    printf 'berth plan stopped before its first step: %s is missing; put it beside compose.yaml\n' "$1" >&2
    exit 1
  fi
}

# Stops the plan when a member's id was not found.
need_id() {
  if [ -z "$member_id" ]; then
    printf 'berth plan stopped: the listing of members has no id for %s\n' "$1" >&2
    exit 1
  fi
}
