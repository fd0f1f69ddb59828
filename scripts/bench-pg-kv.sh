#!/usr/bin/env bash
# The PostgreSQL reference for `strata bench kv`, on the same machine: one
# table kv(k text primary key, v bytea) with the same keys and value size,
# single-row SELECTs and upserts (durable commits: fsync and
# synchronous_commit on) at the same concurrency levels, driven by pgbench.
# PostgreSQL here is one node without replication; Strata keeps 3 replicas.
#
#   scripts/bench-pg-kv.sh [DURATION_SECONDS] [KEYS] [VALUE_SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
keys=${2:-10000}
vsize=${3:-128}
source scripts/bench-pg-server.sh
psql_ -c "create table kv (k text primary key, v bytea)"
psql_ -c "insert into kv select 'bench/' || lpad(i::text, 12, '0'), decode(repeat('78', $vsize), 'hex') from generate_series(0, $keys - 1) i"
cat > "$pgdir/get.sql" <<SQL
\set id random(0, $keys - 1)
select v from kv where k = 'bench/' || lpad(:id::text, 12, '0');
SQL
cat > "$pgdir/put.sql" <<SQL
\set id random(0, $keys - 1)
insert into kv values ('bench/' || lpad(:id::text, 12, '0'), decode(repeat('78', $vsize), 'hex')) on conflict (k) do update set v = excluded.v;
SQL
echo "# PostgreSQL $pg_version: $keys keys, $vsize B values, ${secs}s per run, on $(nproc) CPUs"
printf "%-8s %11s %12s %10s %10s\n" op concurrency ops/s "p50 ms" "p99 ms"
for op in put get; do
  for c in 1 8 64; do
    pgbench_row $op $c "$pgdir/$op.sql"
  done
done
