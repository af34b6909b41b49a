docker network inspect "$network" >/dev/null 2>&1 ||
  docker network create --label "berth.service=$service" "$network" >/dev/null

# volume_free VOLUME MEMBER: refuses the volume while another container (a compose deployment
# of the same service, say) has it, since two processes would write one data directory.
volume_free() {
  for user in $(docker ps --all --filter "volume=$1" --format '{{.Names}}'); do
    if [ "$user" != "$2" ]; then
      echo "run.sh: volume $1 is in use by container $user; stop and remove it first (docker rm -f $user keeps the volume)" >&2
      exit 1
    fi
  done
}

# ensure_volume VOLUME MEMBER: creates the volume once; refuses it while another container has it.
ensure_volume() {
  if docker volume inspect "$1" >/dev/null 2>&1; then
    volume_free "$1" "$2"
  else
    docker volume create --label "berth.service=$service" "$1" >/dev/null
  fi
}

# existing_volume VOLUME MEMBER: the volume the spec names as holding the member's data already
# (`volumes.external`); never created, so that a wrong name cannot start a member on empty data.
existing_volume() {
  if ! docker volume inspect "$1" >/dev/null 2>&1; then
    echo "run.sh: volume $1, which the spec says holds the data of $2 (volumes.external), does not exist; correct the name" >&2
    exit 1
  fi
  volume_free "$1" "$2"
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
