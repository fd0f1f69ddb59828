#!/usr/bin/env bash
# sysbench's OLTP workloads against Strata and against PostgreSQL on the same
# machine, with the same table size and threads: prints one row per workload
# with transactions/s, queries/s, p99 latency and sysbench's "ignored errors"
# for both, and the ratio of Strata's tps to PostgreSQL's.
#
#   scripts/bench-sysbench.sh                     # every workload, both systems
#   SECS=60 THREADS=16 scripts/bench-sysbench.sh
#   WORKLOADS="oltp_point_select oltp_insert" scripts/bench-sysbench.sh
#   STRATA_SKIP=1 scripts/bench-sysbench.sh       # PostgreSQL only
#   scripts/bench-sysbench.sh --help              # this text
#
# Environment (defaults in brackets):
#   TABLE_SIZE [10000]   rows per table (sysbench --table-size)
#   TABLES [1]           tables (--tables)
#   THREADS [8]          client threads, one connection each (--threads)
#   SECS [30]            length of each run in seconds (--time)
#   WORKLOADS            sysbench scripts to run, in order
#                        [oltp_point_select oltp_read_only oltp_write_only
#                         oltp_insert oltp_read_write oltp_update_index
#                         select_random_ranges]
#   SECONDARY            create sysbench's index k_1 on k [on] (off: none)
#   REPORT_INTERVAL [5]  seconds between sysbench's interim lines in the raw logs
#   PAUSE [3]            seconds of rest before each run
#   PREPARE_TIMEOUT [900] seconds a prepare (table load) may take
#   STRATA_BIN           the strata binary
#                        [${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}/release/strata,
#                        where scripts/playground.sh builds it]; build it with
#                        source scripts/env.sh && cargo build --release --bin strata
#   STRATA_PD_PORT [24790], STRATA_STORE_PORT [24800], STRATA_SQL_PORT [24432]
#                        the playground's ports (PD's HTTP API uses PD's port + 1;
#                        stores use STORE_PORT + 0..2, their metrics + 20..22)
#   STRATA_ARGS          extra flags for `strata playground`
#   STRATA_SKIP=1 / PG_SKIP=1   leave out Strata / PostgreSQL
#
# Strata is a `strata playground` (PD, 3 stores keeping 3 replicas, one SQL
# node) started here on its own temporary data directory, removed on exit
# (its log is copied to the results directory). PostgreSQL is the throwaway
# durable server of scripts/bench-pg-server.sh (fsync and synchronous_commit
# on, one node, port 25432). Both run for the whole benchmark; each run gets
# the machine to itself apart from the other's idle background work.
#
# For each workload the two systems take turns (Strata first for the 1st,
# 3rd, ... workload, PostgreSQL first for the others), each with a fresh
# table: cleanup (drops leftovers) -> prepare -> run -> cleanup. The sysbench
# options are the same for both:
#   --db-driver=pgsql --pgsql-host=127.0.0.1 --pgsql-port=PORT
#   --pgsql-user=postgres --pgsql-db=postgres --tables --table-size --threads
#   --db-ps-mode=auto (server-side prepared statements: Parse once per
#     connection, then Bind/Execute; oltp_insert and prepare send plain
#     queries whatever the mode) --percentile=99
#   --create_secondary=$SECONDARY (on by default): CREATE INDEX k_1 ON
#     sbtest1(k) after the load, which oltp_update_index maintains and
#     select_random_ranges reads. (sysbench 1.0.20 spells the option this
#     way and rejects --create_secondary_indexes as an invalid option.)
# sysbench's pgsql driver treats SQLSTATE 40001 (serialization failure),
# 40P01 (deadlock) and 23505 (unique violation) as ignorable: it sends
# ROLLBACK and restarts the transaction, counting an "ignored error". Strata
# may return 40001 under contention; PostgreSQL (READ COMMITTED) returns
# 40P01 and 23505 (oltp_write_only and oltp_read_write delete and re-insert
# random ids).
#
# What sysbench sends: prepare creates
#   CREATE TABLE sbtest1(id SERIAL, k INTEGER DEFAULT '0' NOT NULL,
#     c CHAR(120) DEFAULT '' NOT NULL, pad CHAR(60) DEFAULT '' NOT NULL, PRIMARY KEY (id))
# and loads it with multi-row INSERT INTO sbtest1(k, c, pad) VALUES (...),...;
# the runs use point selects (WHERE id=$1), range selects (id BETWEEN $1 AND
# $2, with SUM(k), ORDER BY c, DISTINCT ... ORDER BY c), UPDATE ... WHERE
# id=$1, DELETE + INSERT of the same id inside BEGIN/COMMIT, and
# oltp_insert's plain INSERT INTO sbtest1 (k, c, pad) VALUES (...).
#
# Output: the table on stdout (also in RESULTS/summary.txt), progress on
# stderr. Raw sysbench outputs stay in a temporary results directory (printed;
# not removed): WORKLOAD.SYSTEM.{prepare,run,cleanup}.log, plus
# strata-playground.log and strata.log. A run that fails shows FAILED with the
# first error line of sysbench's output, and the benchmark goes on; the exit
# status is then 1.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

usage() { sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; }
case ${1:-} in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

TABLE_SIZE=${TABLE_SIZE:-10000}
TABLES=${TABLES:-1}
THREADS=${THREADS:-8}
SECS=${SECS:-30}
WORKLOADS=${WORKLOADS:-"oltp_point_select oltp_read_only oltp_write_only oltp_insert oltp_read_write oltp_update_index select_random_ranges"}
SECONDARY=${SECONDARY:-on}
REPORT_INTERVAL=${REPORT_INTERVAL:-5}
PAUSE=${PAUSE:-3}
PREPARE_TIMEOUT=${PREPARE_TIMEOUT:-900}
STRATA_BIN=${STRATA_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}/release/strata}
STRATA_PD_PORT=${STRATA_PD_PORT:-24790}
STRATA_STORE_PORT=${STRATA_STORE_PORT:-24800}
STRATA_SQL_PORT=${STRATA_SQL_PORT:-24432}
STRATA_ARGS=${STRATA_ARGS:-}
STRATA_SKIP=${STRATA_SKIP:-0}
PG_SKIP=${PG_SKIP:-0}

die() { echo "bench-sysbench: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

# need CMD PACKAGE: installs the Debian package if CMD is missing.
need() {
  command -v "$1" >/dev/null && return
  log "installing $2 (Debian package)"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null ||
    die "cannot install $2"
}

# port_busy PORT: whether something listens on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

strata_pid=""
strata_dir=""

start_strata() {
  local p
  for p in "$STRATA_PD_PORT" $((STRATA_PD_PORT + 1)) "$STRATA_SQL_PORT" \
    "$STRATA_STORE_PORT" $((STRATA_STORE_PORT + 1)) $((STRATA_STORE_PORT + 2)) \
    $((STRATA_STORE_PORT + 20)) $((STRATA_STORE_PORT + 21)) $((STRATA_STORE_PORT + 22)); do
    port_busy "$p" && die "port $p is in use (see STRATA_*_PORT in --help)"
  done
  strata_dir=$(mktemp -d /tmp/strata-sysbench-data.XXXXXX)
  # setsid: the playground leads its own process group, stopped as a whole.
  # shellcheck disable=SC2086 # STRATA_ARGS is a list of flags
  setsid "$STRATA_BIN" playground --data-dir "$strata_dir/data" \
    --pd-port "$STRATA_PD_PORT" --store-port "$STRATA_STORE_PORT" \
    --sql-port "$STRATA_SQL_PORT" $STRATA_ARGS >"$results/strata-playground.log" 2>&1 &
  strata_pid=$!
  local deadline=$((SECONDS + 120))
  until strata_psql -c 'select 1' >/dev/null 2>&1; do
    if ! kill -0 "$strata_pid" 2>/dev/null; then
      tail -n 20 "$results/strata-playground.log" >&2
      die "strata playground exited before answering (log: $results/strata-playground.log)"
    fi
    ((SECONDS < deadline)) || die "strata playground did not answer on port $STRATA_SQL_PORT within 120 s"
    sleep 0.5
  done
}

strata_psql() {
  PGCONNECT_TIMEOUT=3 psql -X -qAt -h 127.0.0.1 -p "$STRATA_SQL_PORT" -U postgres -d postgres "$@"
}

stop_strata() {
  [[ -n $strata_pid ]] || return 0
  kill -TERM -- "-$strata_pid" 2>/dev/null || true
  local i
  for i in $(seq 1 40); do
    kill -0 -- "-$strata_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$strata_pid" 2>/dev/null || true
  wait "$strata_pid" 2>/dev/null || true
  strata_pid=""
  cp "$strata_dir/data/strata.log" "$results/strata.log" 2>/dev/null || true
  rm -rf "$strata_dir"
}

cleanup() {
  if [[ -n $sb_pid ]]; then
    kill "$sb_pid" 2>/dev/null || true # timeout passes it on to sysbench
    wait "$sb_pid" 2>/dev/null || true
  fi
  stop_strata
  if declare -F pg_cleanup >/dev/null; then pg_cleanup; fi
}

# sb TIMEOUT PORT WORKLOAD COMMAND [SYSBENCH OPTIONS...]
# Runs in the background and waits, so that Ctrl-C or SIGTERM stops the
# benchmark at once (cleanup() stops sysbench).
sb_pid=""
sb() {
  local limit=$1 port=$2 w=$3 cmd=$4 rc=0
  shift 4
  timeout -k 10 "$limit" sysbench "$w" --db-driver=pgsql --pgsql-host=127.0.0.1 \
    --pgsql-port="$port" --pgsql-user=postgres --pgsql-db=postgres \
    --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$THREADS" \
    --create_secondary="$SECONDARY" --db-ps-mode=auto --percentile=99 "$@" "$cmd" &
  sb_pid=$!
  wait "$sb_pid" || rc=$?
  sb_pid=""
  return "$rc"
}

# first_error LOG STATUS: the line that says why sysbench failed.
first_error() {
  local line
  if [[ $2 -eq 124 || $2 -eq 137 ]]; then
    echo "timed out"
    return
  fi
  line=$(grep -m1 -E 'FATAL|ALERT|ERROR|failed|[Ee]rror:' "$1" || true)
  [[ -n $line ]] || line=$(grep -v '^[[:space:]]*$' "$1" | tail -n1 || true)
  echo "${line:-exit status $2, no output}" | cut -c1-200
}

# Results, per "SYSTEM WORKLOAD": "tps qps p99 ignored" or "FAILED reason".
declare -A result

# parse LOG: prints "tps qps p99 ignored" from a sysbench run's output.
parse() {
  awk '/^ *transactions:/ { gsub(/\(/, ""); tps = $3 }
       /^ *queries:/ { gsub(/\(/, ""); qps = $3 }
       /^ *ignored errors:/ { ign = $3 }
       /th percentile:/ { p99 = $3 }
       END { if (tps != "" && qps != "" && p99 != "" && ign != "") print tps, qps, p99, ign }' "$1"
}

# bench SYSTEM PORT WORKLOAD: a fresh table, prepare, run, cleanup.
bench() {
  local sys=$1 port=$2 w=$3 base="$results/$3.$1" rc=0 fields
  if [[ $sys == strata ]] && ! kill -0 "$strata_pid" 2>/dev/null; then
    result[$sys $w]="FAILED the playground is no longer running"
    log "$sys $w: ${result[$sys $w]}"
    return
  fi
  sleep "$PAUSE"
  log "$sys $w: prepare"
  sb 300 "$port" "$w" cleanup >"$base.cleanup.log" 2>&1 || true
  sb "$PREPARE_TIMEOUT" "$port" "$w" prepare >"$base.prepare.log" 2>&1 || rc=$?
  # A failed prepare can still exit 0 (sysbench runs it as a parallel command).
  if ((rc != 0)) || grep -q '^FATAL' "$base.prepare.log"; then
    result[$sys $w]="FAILED prepare: $(first_error "$base.prepare.log" $rc)"
  else
    log "$sys $w: run ${SECS}s"
    sb $((SECS + 300)) "$port" "$w" run --time="$SECS" \
      --report-interval="$REPORT_INTERVAL" >"$base.run.log" 2>&1 || rc=$?
    fields=$(parse "$base.run.log")
    if ((rc != 0)) || [[ -z $fields ]] || grep -q '^FATAL' "$base.run.log"; then
      result[$sys $w]="FAILED run: $(first_error "$base.run.log" $rc)"
    else
      result[$sys $w]=$fields
    fi
  fi
  sb 300 "$port" "$w" cleanup >>"$base.cleanup.log" 2>&1 ||
    log "$sys $w: cleanup failed (see $base.cleanup.log)"
  log "$sys $w: ${result[$sys $w]}"
}

# cells SYSTEM WORKLOAD: the four columns of one system.
cells() {
  local r=${result[$1 $2]:-}
  if [[ -z $r ]]; then
    printf "%10s %10s %9s %8s" - - - -
  elif [[ $r == FAILED* ]]; then
    printf "%10s %10s %9s %8s" FAILED - - -
  else
    # shellcheck disable=SC2086
    printf "%10.1f %10.1f %9.2f %8d" $r
  fi
}

report() {
  local w s p ratio failures=0
  echo "# sysbench $(sysbench --version | awk '{print $2}') pgsql driver: $TABLES table(s) x $TABLE_SIZE rows," \
    "$THREADS threads, ${SECS}s per run, on $(nproc) CPUs"
  [[ $STRATA_SKIP == 1 ]] || echo "# Strata: ${strata_version:-strata} playground (3 replicas), $STRATA_BIN"
  [[ $PG_SKIP == 1 ]] || echo "# PostgreSQL $pg_version (one node, durable commits)"
  echo "# raw outputs: $results"
  printf "%-18s %7s | %10s %10s %9s %8s | %10s %10s %9s %8s | %7s\n" workload threads \
    "strata tps" "qps" "p99 ms" "ignored" "pg tps" "qps" "p99 ms" "ignored" "s/pg"
  for w in $WORKLOADS; do
    ratio=-
    s=${result[strata $w]:-}
    p=${result[pg $w]:-}
    if [[ -n $s && -n $p && $s != FAILED* && $p != FAILED* ]]; then
      ratio=$(awk -v a="${s%% *}" -v b="${p%% *}" 'BEGIN { print (b > 0) ? sprintf("%.2f", a / b) : "-" }')
    fi
    printf "%-18s %7s | %s | %s | %7s\n" "$w" "$THREADS" "$(cells strata "$w")" "$(cells pg "$w")" "$ratio"
  done
  for w in $WORKLOADS; do
    for s in strata pg; do
      if [[ ${result[$s $w]:-} == FAILED* ]]; then
        ((failures == 0)) && echo "# failures:"
        failures=$((failures + 1))
        echo "#   $s $w: ${result[$s $w]#FAILED }"
      fi
    done
  done
  return 0
}

[[ $STRATA_SKIP == 1 && $PG_SKIP == 1 ]] && die "STRATA_SKIP=1 and PG_SKIP=1 leave nothing to run"
need sysbench sysbench
need psql postgresql-client
need setsid util-linux
for w in $WORKLOADS; do
  [[ -f /usr/share/sysbench/$w.lua || -f $w ]] || die "unknown workload $w (see /usr/share/sysbench)"
done
if [[ $STRATA_SKIP != 1 && ! -x $STRATA_BIN ]]; then
  die "no strata binary at $STRATA_BIN; build it with
  source scripts/env.sh && cargo build --release --bin strata
or point STRATA_BIN at one (or set STRATA_SKIP=1)"
fi
results=$(mktemp -d /tmp/strata-sysbench.XXXXXX)
log "raw sysbench outputs: $results"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
pg_version=""
if [[ $PG_SKIP != 1 ]]; then
  # Starts PostgreSQL on port 25432 and sets its own EXIT trap (pg_cleanup),
  # which cleanup() calls: take the trap back.
  source scripts/bench-pg-server.sh
  trap cleanup EXIT
  log "PostgreSQL $pg_version on 127.0.0.1:$pgport"
fi
strata_version=""
if [[ $STRATA_SKIP != 1 ]]; then
  strata_version=$("$STRATA_BIN" --version 2>/dev/null | head -n1 || true)
  start_strata
  log "Strata ${strata_version:-playground} on 127.0.0.1:$STRATA_SQL_PORT (data $strata_dir)"
fi

i=0
for w in $WORKLOADS; do
  order="strata pg"
  ((i % 2 == 1)) && order="pg strata"
  i=$((i + 1))
  for sys in $order; do
    case $sys in
      strata) [[ $STRATA_SKIP == 1 ]] || bench strata "$STRATA_SQL_PORT" "$w" ;;
      pg) [[ $PG_SKIP == 1 ]] || bench pg "$pgport" "$w" ;;
    esac
  done
done

report | tee "$results/summary.txt"
for key in "${!result[@]}"; do
  [[ ${result[$key]} == FAILED* ]] && exit 1
done
exit 0
