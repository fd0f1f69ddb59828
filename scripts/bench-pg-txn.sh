#!/usr/bin/env bash
# The PostgreSQL reference for `strata bench txn`, on the same machine:
# the same transactions at REPEATABLE READ (PostgreSQL's snapshot
# isolation), each reading its rows in one SELECT and writing them back,
# with durable commits, driven by pgbench. Serialization failures are
# retried (up to 10 tries), as `strata bench txn` retries aborts.
# Each transaction updates its rows in one statement (in key order, so
# that transactions never deadlock). PostgreSQL here is one node without replication, so `cross` is the same
# work as `multi`; Strata keeps 3 replicas and commits `cross` in two
# phases.
#
#   scripts/bench-pg-txn.sh [DURATION_SECONDS] [KEYS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
keys=${2:-10000}
accounts=1000
regions=8 # `strata bench txn` cuts the keys into 8 Regions
source scripts/bench-pg-server.sh
psql_ -c "create table bank (k int primary key, v bigint)"
psql_ -c "insert into bank select i, 1000 from generate_series(0, $accounts - 1) i"
psql_ -c "create table t (k int primary key, v bigint)"
psql_ -c "insert into t select i, 0 from generate_series(0, $keys - 1) i"
region=$((keys / regions))
cat > "$pgdir/bank.sql" <<SQL
\set from random(0, $accounts - 1)
\set to (:from + random(1, $accounts - 1)) % $accounts
\set amount random(1, 10)
\set debit 0 - :amount
begin isolation level repeatable read;
select k, v from bank where k in (:from, :to);
update bank set v = v + case when k = :from then :debit::bigint else :amount::bigint end where k in (:from, :to);
commit;
SQL
cat > "$pgdir/single.sql" <<SQL
\set a random(0, $keys - 1)
begin isolation level repeatable read;
select v from t where k = :a;
update t set v = v + 1 where k = :a;
commit;
SQL
# Four neighbouring keys (multi) or four keys a quarter of the table apart
# (cross), as `strata bench txn` picks them.
for w in multi cross; do
  if [[ $w == multi ]]; then
    pick="\\set a random(0, $keys - 5)
\\set b :a + 1
\\set c :a + 2
\\set d :a + 3"
  else
    pick="\\set a random(0, $((region - 1))) + random(0, $((regions - 1))) * $region
\\set b (:a + 2 * $region) % $keys
\\set c (:a + 4 * $region) % $keys
\\set d (:a + 6 * $region) % $keys"
  fi
  cat > "$pgdir/$w.sql" <<SQL
$pick
begin isolation level repeatable read;
select k, v from t where k in (:a, :b, :c, :d);
update t set v = v + 1 where k in (:a, :b, :c, :d);
commit;
SQL
done
echo "# PostgreSQL $pg_version at REPEATABLE READ: bank $accounts accounts, others $keys keys, ${secs}s per run, on $(nproc) CPUs"
printf "%-8s %11s %12s %10s %10s\n" workload concurrency txn/s "p50 ms" "p99 ms"
pgbench_row bank 8 "$pgdir/bank.sql" --max-tries 10
for w in single multi cross; do
  for c in 1 8 64; do
    pgbench_row $w $c "$pgdir/$w.sql" --max-tries 10
  done
done
