docker network inspect "$network" >/dev/null 2>&1 ||
  docker network create --label "berth.service=$service" "$network" >/dev/null

ensure_volume() {
  docker volume inspect "$1" >/dev/null 2>&1 ||
    docker volume create --label "berth.service=$service" "$1" >/dev/null
}

# start_member NAME CONFIG DOCKER-RUN-ARGUMENTS...: runs a member once; afterwards only starts it.
start_member() {
  name=$1
  config=$2
  shift 2
  if current=$(docker container inspect --format '{{index .Config.Labels "berth.config"}}' "$name" 2>/dev/null); then
    if [ "$current" != "$config" ]; then
      echo "run.sh: $name was created from another spec; it keeps running as it is. To apply this one: docker stop $name && docker rm $name (its volumes stay), then run this script again." >&2
    fi
    docker start "$name" >/dev/null
  else
    docker run --detach --label "berth.config=$config" "$@" >/dev/null
  fi
  echo "run.sh: $name started" >&2
}
