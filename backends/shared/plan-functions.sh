# Prints a command, then runs it.
run() {
  printf '+ %s\n' "$*"
  "$@"
}

# Runs a membership command until it succeeds (software refuses a change while its cluster
# settles: etcd's `member add` right after a member restarted); stops the plan after $timeout s.
retry() {
  retry_unless false "$@"
}

# As `retry`, where a failure after which the check $1 passes counts as done: the change took
# effect though its answer was lost.
retry_unless() {
  done_check=$1
  shift
  printf '+ %s\n' "$*"
  waited=0
  until "$@"; do
    if "$done_check"; then
      printf '  (failed, but %s: done)\n' "$done_check"
      return 0
    fi
    if [ "$waited" -ge "$timeout" ]; then
      printf 'berth plan stopped: the command above failed for %s s; the cluster is as the last step left it\n' "$timeout" >&2
      exit 1
    fi
    printf '  (failed; again in 2 s)\n'
    sleep 2
    waited=$((waited + 2))
  done
}

# Whether `listing` no longer names the member `find_id` looked up last: its removal took effect.
# shellcheck disable=SC2317 # retry_unless calls it through its argument
unlisted() {
  listed=$(listing 2>/dev/null) &&
    [ -z "$(printf '%s\n' "$listed" | id_of "$name" "$separator" "$name_field" "$id_field")" ]
}

step() {
  printf '\n==> %s\n' "$1"
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

# Stops the plan before its first change when member $1, named lost, is healthy: it would be
# removed from the cluster without its checks.
need_lost() {
  if healthy "$1"; then
    printf 'berth plan stopped before its first step: %s is named lost, but it runs and is healthy; plan it with --replace, or without it\n' "$1" >&2
    exit 1
  fi
}

every_member_healthy() {
  for member in "$@"; do
    healthy "$member" || return 1
  done
}

# Reads a listing of members on stdin and prints the id of the member named $1: fields are
# separated by the character $2, the name is field $3 and the id field $4.
id_of() {
  awk -F "$2" -v name="$1" -v n="$3" -v i="$4" '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    trim($n) == name { print trim($i) }'
}

# Sets member_id to the id of member $1 in what the command after $4 lists (see id_of), asking
# again every 2 s until exactly one line names it; stops the plan after $timeout seconds.
find_id() {
  name=$1
  separator=$2
  name_field=$3
  id_field=$4
  shift 4
  printf '+ %s\n' "$*"
  waited=0
  while :; do
    member_id=$("$@" 2>/dev/null | id_of "$name" "$separator" "$name_field" "$id_field") || member_id=
    case "$member_id" in
      '' | *"
"*) ;;
      *) return 0 ;;
    esac
    if [ "$waited" -ge "$timeout" ]; then
      printf 'berth plan stopped: the listing of members names %s not once in %s s\n' "$name" "$timeout" >&2
      exit 1
    fi
    sleep 2
    waited=$((waited + 2))
  done
}

# Stops the plan before its first step when a file the user provides is missing (docker would
# mount an empty directory in its place).
need_file() {
  if [ ! -f "$1" ]; then
    printf 'berth plan stopped before its first step: %s is missing; put it beside plan.sh\n' "$1" >&2
    exit 1
  fi
}
