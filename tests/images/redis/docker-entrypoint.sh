#!/bin/sh
# The redis image's documented entrypoint contract: options alone start redis-server, and a start
# as root hands /data to redis and drops to it.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi
um="$(umask)"
if [ "$um" = '0022' ]; then
  umask 0077
fi
exec "$@"
