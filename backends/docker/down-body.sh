for container in $containers; do
  owner=$(docker container inspect --format '{{index .Config.Labels "berth.service"}}' "$container" 2>/dev/null) || continue
  if [ "$owner" != "$service" ]; then
    echo "down.sh: $container does not belong to $service; left alone" >&2
    continue
  fi
  docker stop "$container" >/dev/null
  docker rm "$container" >/dev/null
  echo "down.sh: $container removed" >&2
done
# The network goes with its last container, and only if a run.sh made it: one that other
# services share stays until the last of them is down.
if docker network inspect "$network" >/dev/null 2>&1; then
  maker=$(docker network inspect --format '{{index .Labels "berth.service"}}' "$network")
  attached=$(docker network inspect --format '{{len .Containers}}' "$network")
  if [ -z "$maker" ]; then
    echo "down.sh: the network $network was not made by berth; left alone" >&2
  elif [ "$attached" != 0 ]; then
    echo "down.sh: the network $network still has $attached containers; left" >&2
  else
    docker network rm "$network" >/dev/null
  fi
fi
