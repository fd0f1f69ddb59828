# Sourced by the PostgreSQL reference benchmarks: installs PostgreSQL (the
# Debian package) if needed, starts a throwaway server on port 25432
# (durable commits: fsync and synchronous_commit on; removed on exit), and
# defines
#   psql_ ARGS...                    psql as the superuser
#   pgbench_row NAME CLIENTS FILE [PGBENCH ARGS...]
#                                    runs pgbench for $secs seconds and
#                                    prints "NAME CLIENTS tx/s p50 p99"
#                                    (latencies in ms, from pgbench's log)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql (Debian package)" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | tail -1)")
pgdir=$(mktemp -d /tmp/strata-pgbench.XXXXXX)
chmod 755 "$pgdir"
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) -eq 0 ]] && chown postgres "$pgdir"
pgport=25432
pg_cleanup() { as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap pg_cleanup EXIT
as_pg "$pgbin/initdb" -D "$pgdir/data" -A trust -U postgres >/dev/null
as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -w \
  -o "-p $pgport -k $pgdir -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
pg_version=$("$pgbin/postgres" --version | awk '{print $3}')
psql_() { as_pg "$pgbin/psql" -h "$pgdir" -p $pgport -U postgres -qAt "$@"; }
pgbench_row() {
  local name=$1 c=$2 file=$3 out tps p50 p99
  shift 3
  chmod 644 "$file"
  rm -f "$pgdir"/pgbench_log*
  out=$(cd "$pgdir" && as_pg "$pgbin/pgbench" -h "$pgdir" -p $pgport -U postgres -n -M prepared \
    -c "$c" -j 2 -T "$secs" -l -f "$file" "$@" postgres 2>/dev/null)
  tps=$(echo "$out" | awk '/^tps/ {print $3; exit}')
  # Per-transaction log: the third field is the latency in microseconds.
  read -r p50 p99 < <(cat "$pgdir"/pgbench_log* | awk '{print $3}' | sort -n |
    awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
  printf "%-8s %11s %12.0f %10s %10s\n" "$name" "$c" "$tps" "$p50" "$p99"
}
