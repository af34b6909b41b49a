set -eu
cd "$(dirname "$0")"
: "${MARATHON_URL:?set MARATHON_URL to the address of Marathon, such as http://marathon.mesos:8080 or on DC/OS https://CLUSTER/service/marathon with DCOS_TOKEN}"
if ! command -v jq >/dev/null 2>&1; then
  printf 'berth plan stopped before its first step: it reads the answers of Marathon with jq; install jq\n' >&2
  exit 1
fi

# A request to Marathon's REST API (`marathon METHOD PATH [CURL-OPTIONS...]`), with DC/OS's
# token where DCOS_TOKEN is set; fails on an HTTP error.
marathon() {
  api "$MARATHON_URL" "$@"
}

api() {
  base=$1
  method=$2
  path=$3
  shift 3
  set -- --fail --silent --show-error --request "$method" --header 'Content-Type: application/json' "$@" "$base$path"
  if [ -n "${DCOS_TOKEN:-}" ]; then
    set -- --header "Authorization: token=$DCOS_TOKEN" "$@"
  fi
  curl "$@"
}

# The HTTP status of a GET of Marathon's PATH (000 when Marathon does not answer).
status_of() {
  api "$MARATHON_URL" GET "$1" --output /dev/null --write-out '%{http_code}' 2>/dev/null || true
}

# Whether member app $1 has no deployment left and runs its one instance, healthy where it has
# health checks.
deployed() {
  marathon GET "/v2/apps/$group/$1" | jq -e '.app | (.deployments | length) == 0 and .tasksRunning == .instances and ((.healthChecks | length) == 0 or .tasksHealthy == .instances)' >/dev/null
}

healthy() {
  deployed "$1"
}

# Whether member app $1 is gone.
gone() {
  [ "$(status_of "/v2/apps/$group/$1")" = 404 ]
}
