#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's package) for comparing Strata with the
# real thing: C.UTF-8 locale and UTF8 encoding (C collation, so text sorts in
# byte order as in Strata), trust authentication, superuser `postgres`,
# database `postgres`, time zone UTC, listening on 127.0.0.1:PORT. Its data
# lives in a temporary directory that is removed when it stops. Durability
# is off (fsync, synchronous_commit): it is for tests, not benchmarks.
#
#   scripts/pg-server.sh [PORT]          # runs until Ctrl-C / SIGTERM (default port 25433)
#   source scripts/pg-server.sh [PORT]   # starts it for the sourcing script, which gets
#                                        #   pg_port, pg_dir, pg_bin, psql_pg ARGS...,
#                                        #   pg_stop; it stops when that script exits
#
# initdb refuses to run as root: as root, the server runs as the system user
# `strata-pg` (created if absent). PostgreSQL 15 is installed if missing.

_pg_main() {
  pg_port=${1:-25433}
  pg_bin=/usr/lib/postgresql/15/bin
  if [[ ! -x $pg_bin/postgres ]]; then
    echo "pg-server: installing postgresql-15 (Debian package)" >&2
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -qq &&
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null ||
      { echo "pg-server: cannot install postgresql-15" >&2; return 1; }
  fi
  if [[ $(id -u) -eq 0 ]]; then
    if ! id strata-pg >/dev/null 2>&1; then
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin strata-pg
    fi
    _pg_as() { runuser -u strata-pg -- "$@"; }
  else
    _pg_as() { "$@"; }
  fi
  pg_dir=$(mktemp -d /tmp/strata-pg.XXXXXX)
  chmod 755 "$pg_dir"
  [[ $(id -u) -eq 0 ]] && chown strata-pg "$pg_dir"
  # initdb and pg_ctl must not inherit a current directory strata-pg cannot read.
  (cd "$pg_dir" && _pg_as "$pg_bin/initdb" -D "$pg_dir/data" --locale=C.UTF-8 -E UTF8 \
    -A trust -U postgres >"$pg_dir/initdb.log" 2>&1) ||
    { cat "$pg_dir/initdb.log" >&2; rm -rf "$pg_dir"; return 1; }
  (cd "$pg_dir" && _pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/pg.log" -w -t 60 \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c timezone=UTC \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null) ||
    { cat "$pg_dir/pg.log" >&2; rm -rf "$pg_dir"; return 1; }
}

pg_stop() {
  if [[ -n ${pg_dir:-} && -d $pg_dir ]]; then
    (cd "$pg_dir" && _pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1) || true
    rm -rf "$pg_dir"
  fi
  pg_dir=""
}

psql_pg() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -X -qAt "$@"; }

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
  # Sourced.
  _pg_main "$@" || return 1
  trap pg_stop EXIT
else
  set -euo pipefail
  _pg_main "$@"
  echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') is running on 127.0.0.1:$pg_port (data in $pg_dir)."
  echo "Connect:  psql -h 127.0.0.1 -p $pg_port -U postgres postgres      (Ctrl-C stops and removes it)"
  sleep infinity &
  _pg_sleep=$!
  trap 'kill $_pg_sleep 2>/dev/null; pg_stop' EXIT
  trap 'exit 0' INT TERM
  wait $_pg_sleep || true
fi
