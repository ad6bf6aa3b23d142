#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for tests and local development.
#
#   scripts/postgres.sh start [DIR] [PORT]   create + start a cluster in DIR (default: a new
#                                            temporary folder) on 127.0.0.1:PORT (default 55432);
#                                            prints the SQLAlchemy URL on stdout
#   scripts/postgres.sh stop DIR             stop it and delete DIR
#   scripts/postgres.sh url DIR              print the URL of a running cluster
#
# Trust authentication, listening on 127.0.0.1 only, data in DIR: never use it for real data.
# Needs the PostgreSQL server binaries (Debian: apt-get install -y postgresql). When run as
# root the cluster runs as the 'postgres' system user (PostgreSQL refuses to run as root).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return; fi
  done
  echo "postgres.sh: '$name' not found; install the server: apt-get update && apt-get install -y postgresql" >&2
  exit 3
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:-}
case "$cmd" in
  start)
    dir=${2:-$(mktemp -d /tmp/cxrpilot-pg.XXXXXX)}
    port=${3:-55432}
    initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir" && chmod 700 "$dir"
    user=$( [ "$(id -u)" = 0 ] && echo postgres || id -un )
    as_owner "$initdb" -D "$dir/data" -U "$user" --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port $user" > "$dir/conn"
    echo "postgresql+psycopg://$user@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    pg_ctl=$(find_bin pg_ctl)
    if [ -d "$dir/data" ]; then as_owner "$pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$dir"
    ;;
  url)
    dir=${2:?usage: postgres.sh url DIR}
    read -r port user < "$dir/conn"
    echo "postgresql+psycopg://$user@127.0.0.1:$port/postgres"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
