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
if docker network inspect "$network" >/dev/null 2>&1; then
  docker network rm "$network" >/dev/null
fi
