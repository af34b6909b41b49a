#!/bin/bash
# The rabbitmq image's documented entrypoint contract: started as root for `rabbitmq-server`, it
# hands /var/lib/rabbitmq to rabbitmq and drops to it; long host names switch on long node names.
set -euo pipefail
if [[ "$1" == rabbitmq* ]] && [ "$(id -u)" = '0' ]; then
  if [ "$1" = 'rabbitmq-server' ]; then
    find /var/lib/rabbitmq \! -user rabbitmq -exec chown rabbitmq '{}' +
  fi
  exec gosu rabbitmq "$BASH_SOURCE" "$@"
fi
if [ -z "${RABBITMQ_USE_LONGNAME:-}" ] && [ "$(hostname)" != "$(hostname -s)" ]; then
  : "${RABBITMQ_USE_LONGNAME:=true}"
  export RABBITMQ_USE_LONGNAME
fi
exec "$@"
