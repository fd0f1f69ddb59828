#!/usr/bin/env bash
# The PostgreSQL reference for `strata bench kv`, on the same machine: one
# table kv(k text primary key, v bytea) with the same keys and value size,
# single-row SELECTs and upserts (durable commits: fsync and
# synchronous_commit on) at the same concurrency levels, driven by pgbench.
# PostgreSQL here is one node without replication; Strata keeps 3 replicas.
#
#   scripts/bench-pg-kv.sh [DURATION_SECONDS] [KEYS] [VALUE_SIZE]
set -euo pipefail
secs=${1:-10}
keys=${2:-10000}
vsize=${3:-128}
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql (Debian package)" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | tail -1)")
dir=$(mktemp -d /tmp/strata-pgbench.XXXXXX)
chmod 755 "$dir"
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[[ $(id -u) -eq 0 ]] && chown postgres "$dir"
port=25432
cleanup() { as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w \
  -o "-p $port -k $dir -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
psql_() { as_pg "$bin/psql" -h "$dir" -p $port -U postgres -qAt "$@"; }
psql_ -c "create table kv (k text primary key, v bytea)"
psql_ -c "insert into kv select 'bench/' || lpad(i::text, 12, '0'), decode(repeat('78', $vsize), 'hex') from generate_series(0, $keys - 1) i"
cat > "$dir/get.sql" <<SQL
\set id random(0, $keys - 1)
select v from kv where k = 'bench/' || lpad(:id::text, 12, '0');
SQL
cat > "$dir/put.sql" <<SQL
\set id random(0, $keys - 1)
insert into kv values ('bench/' || lpad(:id::text, 12, '0'), decode(repeat('78', $vsize), 'hex')) on conflict (k) do update set v = excluded.v;
SQL
chmod 644 "$dir"/*.sql
echo "# PostgreSQL $("$bin/postgres" --version | awk '{print $3}'): $keys keys, $vsize B values, ${secs}s per run, on $(nproc) CPUs"
printf "%-5s %11s %12s %10s %10s\n" op concurrency ops/s "p50 ms" "p99 ms"
for op in put get; do
  for c in 1 8 64; do
    rm -f "$dir"/pgbench_log*
    out=$(cd "$dir" && as_pg "$bin/pgbench" -h "$dir" -p $port -U postgres -n -M prepared -c $c -j 2 -T "$secs" -l -f "$dir/$op.sql" postgres 2>/dev/null)
    tps=$(echo "$out" | awk '/^tps/ {print $3; exit}')
    # Per-transaction log: the third field is the latency in microseconds.
    read -r p50 p99 < <(cat "$dir"/pgbench_log* | awk '{print $3}' | sort -n |
      awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
    printf "%-5s %11s %12.0f %10s %10s\n" $op $c "$tps" "$p50" "$p99"
  done
done
