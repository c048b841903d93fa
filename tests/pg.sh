#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL server for the tests.
#   tests/pg.sh start DIR   initdb (as postgres: initdb refuses root) in a
#                           fresh directory under /tmp, serve on a free
#                           loopback port, write DIR/url
#   tests/pg.sh stop DIR    stop it and remove both directories
# The server's files live under /tmp, not in DIR: the postgres user must be
# able to reach them, and DIR may sit below a directory only root enters.
set -euo pipefail
action=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "pg.sh: PostgreSQL is not installed" >&2; exit 1; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    "$0" stop "$dir" 2>/dev/null || true
    mkdir -p "$dir"
    data=$(mktemp -d /tmp/mcpz-pg.XXXXXX)
    echo "$data" > "$dir/data"
    [ "$(id -u)" = 0 ] && chown postgres: "$data"
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_postgres "$bin/initdb" -D "$data/db" -U postgres --auth=trust -E UTF8 >"$data/initdb.log" 2>&1 \
      || { cat "$data/initdb.log" >&2; exit 1; }
    as_postgres "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data -c max_connections=200" \
      >/dev/null || { cat "$data/server.log" >&2; exit 1; }
    echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$dir/url"
    echo "pg.sh: PostgreSQL up at $(cat "$dir/url")"
    ;;
  stop)
    if [ -f "$dir/data" ]; then
      data=$(cat "$dir/data")
      if [ -d "$data/db" ]; then
        as_postgres "$bin/pg_ctl" -D "$data/db" -m immediate -w stop >/dev/null 2>&1 || true
      fi
      rm -rf "$data"
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: tests/pg.sh start|stop DIR" >&2
    exit 2
    ;;
esac
