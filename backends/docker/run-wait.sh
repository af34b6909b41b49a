
# wait_healthy NAME: waits until the member's health check passes (ordered start).
wait_healthy() {
  tries=0
  until [ "$(docker container inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 120 ]; then
      echo "run.sh: $1 is not healthy after 10 minutes; see docker logs $1" >&2
      exit 1
    fi
    sleep 5
  done
}
