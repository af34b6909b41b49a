: "${METRONOME_URL:?set METRONOME_URL to the address of Metronome, such as http://metronome.mesos:9000 or on DC/OS https://CLUSTER/service/metronome}"
job_file=$(mktemp)
trap 'rm -f "$job_file"' EXIT

# A request to Metronome's REST API, as `marathon` is to Marathon's.
metronome() {
  api "$METRONOME_URL" "$@"
}

# Creates the one-off job (plan/oneoff.metronome.json) unless it exists.
ensure_job() {
  if ! metronome GET "/v1/jobs/$job" >/dev/null 2>&1; then
    run metronome POST /v1/jobs --data-binary @plan/oneoff.metronome.json
  fi
}

# Runs a command in a run of the one-off job, quietly (a check asks it many times): the job's
# entrypoint is the command's first word, its arguments the rest (the member named first is not
# needed here). Succeeds when the run finished successfully. Each step returns on its own
# failure: the callers run it as a condition, where `set -e` does not stop the script.
oneoff() {
  entrypoint=$2
  shift 2
  # `--args --`: every word after it is an argument, also one that starts with `-`.
  jq --arg entrypoint "$entrypoint" '.run.docker.parameters = [{key: "entrypoint", value: $entrypoint}] | .run.args = $ARGS.positional' plan/oneoff.metronome.json --args -- "$@" >"$job_file" || return 1
  metronome PUT "/v1/jobs/$job" --data-binary "@$job_file" >/dev/null || return 1
  run_id=$(metronome POST "/v1/jobs/$job/runs" --data-binary '{}' | jq -r '.id // empty') || return 1
  [ -n "$run_id" ] || return 1
  # A run is listed under its job while it is active.
  while metronome GET "/v1/jobs/$job/runs/$run_id" >/dev/null 2>&1; do
    sleep 2
  done
  metronome GET "/v1/jobs/$job?embed=history" | jq -e --arg id "$run_id" '.history.successfulFinishedRuns | any(.id == $id)' >/dev/null
}
