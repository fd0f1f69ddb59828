#!/usr/bin/env bash
# TPC-H on Strata and on PostgreSQL 15 on the same machine with the same
# data: loads the 8 tables into both, runs the 22 queries on both and prints
# one row per query with the times, their ratio and whether the answers agree.
#
#   scripts/bench-tpch.sh                     # SF 1, all 22 queries, both systems
#   SF=0.01 scripts/bench-tpch.sh             # a quick run (data of ~10 MB)
#   QUERIES="1 6 14" RUNS=3 scripts/bench-tpch.sh
#   STRATA_SKIP=1 scripts/bench-tpch.sh       # PostgreSQL only
#   scripts/bench-tpch.sh --help              # this text
#
# Environment (defaults in brackets):
#   SF [1]               TPC-H scale factor (1 = 6M lineitems, ~1 GB of text)
#   QUERIES              query numbers to run, in order [1 2 ... 22]
#   RUNS [2]             runs of each query on each system
#   QUERY_TIMEOUT [300]  seconds a query may take (statement_timeout on the
#                        server, and the client gives up 15 s later)
#   LOADERS [4]          parallel connections loading Strata
#   BATCH [1000]         rows per INSERT statement loading Strata
#   DATA_DIR             the generated .tbl files, made once and reused
#                        [$HOME/.cache/strata/tpch-sf$SF]
#   TOOLS_DIR            where tpchgen-cli is installed [$HOME/.cache/strata/tools];
#                        if missing it is built there once with
#                        `cargo install --locked tpchgen-cli --version $TPCHGEN_VERSION`
#                        (CARGO_TARGET_DIR=$HOME/.cache/strata/tools-target, niced)
#   TPCHGEN_VERSION [4.0.0]
#   STRATA_BIN           the strata binary
#                        [${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}/release/strata];
#                        build it with
#                        source scripts/env.sh && cargo build --release --bin strata
#   STRATA_PD_PORT [27790], STRATA_STORE_PORT [27800], STRATA_SQL_PORT [27432]
#                        the playground's ports (PD's HTTP API uses PD's port + 1;
#                        stores use STORE_PORT + 0..2, their metrics + 20..22)
#   STRATA_ARGS          extra flags for `strata playground`
#   PG_PORT [27433]      PostgreSQL's port
#   PG_CONF              PostgreSQL settings (ALTER SYSTEM, then a restart)
#                        ["fsync=on synchronous_commit=on full_page_writes=on
#                          shared_buffers=256MB"]
#   RESULTS              results directory [a new /tmp/strata-tpch.XXXXXX]
#   STRATA_SKIP=1 / PG_SKIP=1   leave out Strata / PostgreSQL
#
# Data: tpchgen-cli (crates.io; the spec's dbgen in Rust) writes DATA_DIR/
# TABLE.tbl, pipe-delimited. Schema: scripts/tpch/schema.sql, the same DDL on
# both: the 8 tables with their primary keys, CHAR(n) as VARCHAR(n), INTEGER
# keys, NUMERIC(15,2) amounts, DATE dates; no secondary indexes.
#
# Strata is a `strata playground` (PD, 3 stores keeping 3 replicas, one SQL
# node) started here on a temporary data directory, removed on exit (its log
# is copied to the results directory). PostgreSQL is scripts/pg-server.sh's
# throwaway server (C.UTF-8, UTC; text sorts in byte order as in Strata) made
# durable again by PG_CONF, as scripts/bench-pg-server.sh's. Both run for the
# whole benchmark, on the same CPUs.
#
# Load: PostgreSQL with COPY ... FROM STDIN (one per table); Strata, which
# has no COPY, with multi-row INSERT statements of BATCH rows made from the
# .tbl files, the rows of each table split into LOADERS contiguous ranges
# loaded in parallel, one psql connection each, every statement committed on
# its own. Tables are loaded one after another, then counted (the counts
# must match the files) and ANALYZEd; the report gives the times.
#
# Queries: scripts/tpch/q01.sql ... q22.sql, the spec's queries with its
# validation parameters, in PostgreSQL syntax (Q15's view as a WITH). Each
# query runs RUNS times on each system, interleaved (Strata, PostgreSQL,
# Strata, ...), each run a new psql session; the time is psql's \timing
# (client round trip including the transfer of the result). A system's runs
# of a query stop at its first timeout or error. The report gives the best
# and the median time, PostgreSQL's best / Strata's best (> 1: Strata is
# faster), and whether the answers agree: the rows of the first run, every
# numeric field rounded to 2 decimals, sorted, compared as text: "yes" if
# identical, "~" if they differ only in numbers by at most 0.01 (or a
# relative 1e-9), "NO" otherwise (diff in RESULTS/qNN.diff). Totals are over
# the queries both systems answered.
#
# Output: the report on stdout (also RESULTS/summary.txt), progress on
# stderr. RESULTS keeps every run's output (qNN.SYSTEM.runK.out/.err), the
# normalized answers (qNN.SYSTEM.answer), the load logs, strata.log and
# strata-playground.log. Exit status 1 if a load or a query failed, timed
# out, or the answers disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

usage() { sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0"; }
case ${1:-} in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) usage >&2; exit 2 ;;
esac

SF=${SF:-1}
QUERIES=${QUERIES:-$(seq -s ' ' 1 22)}
RUNS=${RUNS:-2}
QUERY_TIMEOUT=${QUERY_TIMEOUT:-300}
LOADERS=${LOADERS:-4}
BATCH=${BATCH:-1000}
DATA_DIR=${DATA_DIR:-$HOME/.cache/strata/tpch-sf$SF}
TOOLS_DIR=${TOOLS_DIR:-$HOME/.cache/strata/tools}
TPCHGEN_VERSION=${TPCHGEN_VERSION:-4.0.0}
STRATA_BIN=${STRATA_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}/release/strata}
STRATA_PD_PORT=${STRATA_PD_PORT:-27790}
STRATA_STORE_PORT=${STRATA_STORE_PORT:-27800}
STRATA_SQL_PORT=${STRATA_SQL_PORT:-27432}
STRATA_ARGS=${STRATA_ARGS:-}
PG_PORT=${PG_PORT:-27433}
PG_CONF=${PG_CONF:-"fsync=on synchronous_commit=on full_page_writes=on shared_buffers=256MB"}
RESULTS=${RESULTS:-}
STRATA_SKIP=${STRATA_SKIP:-0}
PG_SKIP=${PG_SKIP:-0}

TABLES="region nation part supplier partsupp customer orders lineitem"
# Per table, one letter per column: n = a number (written as is), s = text or
# a date (a quoted literal) in the INSERT statements that load Strata.
declare -A COLTYPES=(
  [region]=nss [nation]=nsns [part]=nssssnsns [supplier]=nssnsns
  [partsupp]=nnnns [customer]=nssnsnss [orders]=nnsnsssns
  [lineitem]=nnnnnnnnssssssss
)

die() { echo "bench-tpch: $*" >&2; exit 1; }
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

# now: seconds since the epoch, with microseconds.
now() { echo "$EPOCHREALTIME"; }
# since T0: milliseconds from T0 to now.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# sql PORT PSQL-ARGS...: psql as postgres on 127.0.0.1:PORT, stopping at the
# first error.
sql() {
  local port=$1
  shift
  PGCONNECT_TIMEOUT=30 psql -X -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 "$@"
}

# Background jobs (loaders, psql runs), stopped by cleanup().
bg_pids=()
# wait_bg PID: waits for a background job; returns its status.
wait_bg() {
  local rc=0
  wait "$1" || rc=$?
  return "$rc"
}

# ---------------------------------------------------------------- data

install_tpchgen() {
  tpchgen=$TOOLS_DIR/bin/tpchgen-cli
  [[ -x $tpchgen ]] && return
  command -v cargo >/dev/null || die "no tpchgen-cli at $tpchgen, and no cargo to install it"
  log "installing tpchgen-cli $TPCHGEN_VERSION into $TOOLS_DIR (once; takes minutes)"
  (cd / && CARGO_TARGET_DIR=$HOME/.cache/strata/tools-target nice cargo install --locked \
    --root "$TOOLS_DIR" --version "$TPCHGEN_VERSION" tpchgen-cli) >&2 ||
    die "cannot install tpchgen-cli"
}

gen_tmp=""
generate() {
  local t
  if [[ -f $DATA_DIR/.complete ]]; then
    log "data: $DATA_DIR (SF $SF, generated before)"
  else
    install_tpchgen
    log "data: generating SF $SF into $DATA_DIR"
    gen_tmp=$DATA_DIR.tmp.$$
    rm -rf "$gen_tmp"
    mkdir -p "$gen_tmp"
    nice "$tpchgen" tbl -s "$SF" -o "$gen_tmp" -q || die "tpchgen-cli failed"
    rm -rf "$DATA_DIR"
    mv "$gen_tmp" "$DATA_DIR"
    gen_tmp=""
    "$tpchgen" --version >"$DATA_DIR/.complete"
  fi
  for t in $TABLES; do
    [[ -s $DATA_DIR/$t.tbl ]] || die "no $DATA_DIR/$t.tbl (remove $DATA_DIR to generate it again)"
  done
}

# inserts TABLE FROM TO: INSERT statements of BATCH rows for lines FROM..TO
# (1-based, inclusive) of the table's .tbl file, one statement per line.
inserts() {
  awk -F'|' -v t="$1" -v from="$2" -v to="$3" -v types="${COLTYPES[$1]}" -v batch="$BATCH" '
    NR < from { next }
    NR > to { exit }
    {
      row = "("
      for (i = 1; i <= length(types); i++) {
        v = $i
        if (substr(types, i, 1) == "s") { gsub(/\047/, "\047\047", v); v = "\047" v "\047" }
        row = row (i > 1 ? "," : "") v
      }
      row = row ")"
      if (n == 0) printf "insert into %s values %s", t, row
      else printf ",%s", row
      if (++n == batch) { print ";"; n = 0 }
    }
    END { if (n > 0) print ";" }' "$DATA_DIR/$1.tbl"
}

# ---------------------------------------------------------------- servers

strata_pid=""
strata_dir=""

start_strata() {
  local p
  for p in "$STRATA_PD_PORT" $((STRATA_PD_PORT + 1)) "$STRATA_SQL_PORT" \
    "$STRATA_STORE_PORT" $((STRATA_STORE_PORT + 1)) $((STRATA_STORE_PORT + 2)) \
    $((STRATA_STORE_PORT + 20)) $((STRATA_STORE_PORT + 21)) $((STRATA_STORE_PORT + 22)); do
    port_busy "$p" && die "port $p is in use (see STRATA_*_PORT in --help)"
  done
  strata_dir=$(mktemp -d /tmp/strata-tpch-data.XXXXXX)
  # setsid: the playground leads its own process group, stopped as a whole.
  # shellcheck disable=SC2086 # STRATA_ARGS is a list of flags
  setsid "$STRATA_BIN" playground --data-dir "$strata_dir/data" \
    --pd-port "$STRATA_PD_PORT" --store-port "$STRATA_STORE_PORT" \
    --sql-port "$STRATA_SQL_PORT" $STRATA_ARGS >"$RESULTS/strata-playground.log" 2>&1 &
  strata_pid=$!
  local deadline=$((SECONDS + 120))
  until sql "$STRATA_SQL_PORT" -c 'select 1' >/dev/null 2>&1; do
    if ! kill -0 "$strata_pid" 2>/dev/null; then
      tail -n 20 "$RESULTS/strata-playground.log" >&2
      die "strata playground exited before answering (log: $RESULTS/strata-playground.log)"
    fi
    ((SECONDS < deadline)) || die "strata playground did not answer on port $STRATA_SQL_PORT within 120 s"
    sleep 0.5
  done
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
  cp "$strata_dir/data/strata.log" "$RESULTS/strata.log" 2>/dev/null || true
  rm -rf "$strata_dir"
}

start_pg() {
  local kv
  port_busy "$PG_PORT" && die "port $PG_PORT is in use (see PG_PORT in --help)"
  # Starts PostgreSQL 15 and sets its own EXIT trap (pg_stop), which
  # cleanup() calls: take the trap back.
  source scripts/pg-server.sh "$PG_PORT" || die "cannot start PostgreSQL"
  trap cleanup EXIT
  for kv in $PG_CONF; do
    psql_pg -c "alter system set ${kv%%=*} = '${kv#*=}'" || die "PG_CONF: cannot set $kv"
  done
  (cd "$pg_dir" && _pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/pg.log" -w -t 60 \
    restart >/dev/null) || { cat "$pg_dir/pg.log" >&2; die "cannot restart PostgreSQL"; }
  pg_version=$("$pg_bin/postgres" --version | awk '{print $3}')
}

cleanup() {
  local p
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  stop_strata
  if declare -F pg_stop >/dev/null; then
    cp "$pg_dir/pg.log" "$RESULTS/pg.log" 2>/dev/null || true
    pg_stop
  fi
  [[ -z $gen_tmp ]] || rm -rf "$gen_tmp"
}

# ---------------------------------------------------------------- load

# Load results, per "SYSTEM TABLE" (ms), "SYSTEM analyze" (ms) and
# "SYSTEM total" (ms, load without ANALYZE); load_failed[SYSTEM] = reason.
declare -A load_ms=() load_failed=()

create_schema() {
  local port=$1 t drops=""
  for t in $TABLES; do drops+="drop table if exists $t; "; done
  sql "$port" -c "$drops" >/dev/null &&
    sql "$port" -f scripts/tpch/schema.sql >/dev/null
}

load_pg() {
  local t t0 all
  log "pg: loading (COPY)"
  create_schema "$PG_PORT" 2>"$RESULTS/load.pg.log" ||
    { load_failed[pg]="schema: $(head -c 300 "$RESULTS/load.pg.log")"; return; }
  all=$(now)
  for t in $TABLES; do
    t0=$(now)
    if ! sed 's/|$//' "$DATA_DIR/$t.tbl" |
      sql "$PG_PORT" -c "copy $t from stdin with (format text, delimiter '|')" >>"$RESULTS/load.pg.log" 2>&1; then
      load_failed[pg]="$t: $(grep -m1 -E 'ERROR|FATAL|error' "$RESULTS/load.pg.log" | head -c 300)"
      return
    fi
    load_ms[pg $t]=$(since "$t0")
    log "pg: $t ${load_ms[pg $t]} ms"
  done
  load_ms[pg total]=$(since "$all")
}

load_strata() {
  local t t0 all n k chunk i from to pid rc pids
  log "strata: loading (INSERT, $BATCH rows per statement, up to $LOADERS loaders)"
  create_schema "$STRATA_SQL_PORT" 2>"$RESULTS/load.strata.log" ||
    { load_failed[strata]="schema: $(head -c 300 "$RESULTS/load.strata.log")"; return; }
  all=$(now)
  for t in $TABLES; do
    t0=$(now)
    n=$(wc -l <"$DATA_DIR/$t.tbl")
    # No loader gets less than one statement.
    k=$(((n + BATCH - 1) / BATCH))
    ((k > LOADERS)) && k=$LOADERS
    ((k < 1)) && k=1
    chunk=$(((n + k - 1) / k))
    pids=()
    for ((i = 0; i < k; i++)); do
      from=$((i * chunk + 1))
      to=$(((i + 1) * chunk))
      # shellcheck disable=SC2094
      { inserts "$t" "$from" "$to" | sql "$STRATA_SQL_PORT" -f -; } \
        >"$RESULTS/load.strata.$t.$i.log" 2>&1 &
      pids+=($!)
      bg_pids+=($!)
    done
    rc=0
    for pid in "${pids[@]}"; do wait_bg "$pid" || rc=$?; done
    bg_pids=()
    for ((i = 0; i < k; i++)); do cat "$RESULTS/load.strata.$t.$i.log"; done >>"$RESULTS/load.strata.log"
    if ((rc != 0)); then
      load_failed[strata]="$t: $(cat "$RESULTS"/load.strata."$t".*.log | grep -m1 -E 'ERROR|FATAL|error' | head -c 300)"
      return
    fi
    rm -f "$RESULTS"/load.strata."$t".*.log
    load_ms[strata $t]=$(since "$t0")
    log "strata: $t ${load_ms[strata $t]} ms ($k loaders)"
  done
  load_ms[strata total]=$(since "$all")
}

# check_and_analyze SYSTEM PORT: row counts against the files, then ANALYZE.
check_and_analyze() {
  local sys=$1 port=$2 t n got t0 stmts=""
  for t in $TABLES; do
    n=$(wc -l <"$DATA_DIR/$t.tbl")
    got=$(sql "$port" -c "select count(*) from $t" 2>&1) || got="error: $got"
    if [[ $got != "$n" ]]; then
      load_failed[$sys]="$t has ${got:0:200} rows, the file $n"
      return
    fi
  done
  for t in $TABLES; do stmts+="analyze $t; "; done
  t0=$(now)
  if ! sql "$port" -c "$stmts" >>"$RESULTS/load.$sys.log" 2>&1; then
    load_failed[$sys]="analyze: $(grep -m1 -E 'ERROR|FATAL|error' "$RESULTS/load.$sys.log" | head -c 300)"
    return
  fi
  load_ms[$sys analyze]=$(since "$t0")
  log "$sys: analyze ${load_ms[$sys analyze]} ms"
}

# ---------------------------------------------------------------- queries

# Per "SYSTEM Q": the run times in ms (space-separated), or "TIMEOUT" /
# "ERROR message"; agree[Q] = yes, ~, NO.
declare -A qtimes=() qfail=() agree=()

# normalize FILE: psql's output without \timing's lines, numbers rounded to
# 2 decimals, sorted.
normalize() {
  awk -F'|' -v OFS='|' '
    /^Time: [0-9.]+ ms/ { next }
    {
      for (i = 1; i <= NF; i++)
        if ($i ~ /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) {
          $i = sprintf("%.2f", $i)
          if ($i == "-0.00") $i = "0.00"
        }
      print
    }' "$1" | sort
}

# run_query SYSTEM PORT Q RUN: one run; records its time or its failure.
run_query() {
  local sys=$1 port=$2 q=$3 run=$4 nn base pid rc=0 ms msg
  nn=$(printf %02d "$q")
  base="$RESULTS/q$nn.$sys.run$run"
  PGOPTIONS="-c statement_timeout=$((QUERY_TIMEOUT * 1000))" \
    timeout -s INT -k 10 $((QUERY_TIMEOUT + 15)) \
    psql -X -qAt -F'|' -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c '\timing on' -f "scripts/tpch/q$nn.sql" >"$base.out" 2>"$base.err" &
  pid=$!
  bg_pids=("$pid")
  wait_bg "$pid" || rc=$?
  bg_pids=()
  ms=$(awk '/^Time: [0-9.]+ ms/ { t = $2 } END { print t }' "$base.out")
  if ((rc == 124 || rc == 137)) || grep -q 'canceling statement due to statement timeout' "$base.err"; then
    qfail[$sys $q]="TIMEOUT"
  elif ((rc != 0)) || [[ -z $ms ]]; then
    msg=$(grep -m1 -E 'ERROR|FATAL|error' "$base.err" || true)
    [[ -n $msg ]] || msg=$(head -n1 "$base.err")
    msg=${msg#*ERROR:  }
    qfail[$sys $q]="ERROR ${msg:-psql exit status $rc, no output}"
  else
    qtimes[$sys $q]+="$ms "
    [[ -f $RESULTS/q$nn.$sys.answer ]] || normalize "$base.out" >"$RESULTS/q$nn.$sys.answer"
  fi
  log "$sys q$nn run $run: ${qfail[$sys $q]:-$ms ms}"
}

# compare Q: agree[Q] from the two answers.
compare() {
  local q=$1 nn a b
  nn=$(printf %02d "$q")
  a=$RESULTS/q$nn.strata.answer
  b=$RESULTS/q$nn.pg.answer
  [[ -f $a && -f $b ]] || return 0
  if cmp -s "$a" "$b"; then
    agree[$q]=yes
    return
  fi
  diff "$a" "$b" >"$RESULTS/q$nn.diff" || true
  if [[ $(wc -l <"$a") -eq $(wc -l <"$b") ]] &&
    awk -F'|' '
      function num(s) { return s ~ /^-?[0-9]+\.[0-9]+$/ }
      function abs(x) { return x < 0 ? -x : x }
      NR == FNR { a[FNR] = $0; next }
      {
        m = split(a[FNR], x, "|")
        if (m != NF) exit 1
        for (i = 1; i <= NF; i++) {
          if (x[i] == $i) continue
          if (!num(x[i]) || !num($i)) exit 1
          d = abs(x[i] - $i)
          if (d > 0.0100001 && d > 1e-9 * abs($i)) exit 1
        }
      }' "$a" "$b"; then
    agree[$q]="~"
  else
    agree[$q]=NO
  fi
}

# stats TIMES...: "best median" in ms.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%.1f %.1f\n", v[1], m }'
}

# ---------------------------------------------------------------- report

secs() { awk -v ms="${1:-}" 'BEGIN { if (ms == "") print "-"; else printf "%.1f", ms / 1000 }'; }

report() {
  local t q nn s p sb sm pb pm ratio n st=0 pt=0 both=0 lsum=0 lcnt=0 fails=0 sys
  echo "# TPC-H SF $SF ($(cat "$DATA_DIR/.complete" 2>/dev/null || echo tpchgen-cli)), $RUNS run(s) per query" \
    "and system, interleaved; QUERY_TIMEOUT ${QUERY_TIMEOUT}s; $(nproc) CPUs"
  [[ $STRATA_SKIP == 1 ]] || echo "# Strata: ${strata_version:-strata} playground (3 replicas), $STRATA_BIN"
  [[ $PG_SKIP == 1 ]] || echo "# PostgreSQL $pg_version (one node; $PG_CONF)"
  echo "# raw outputs: $RESULTS"
  echo "#"
  echo "# load, s: Strata multi-row INSERT ($BATCH rows per statement, up to $LOADERS connections)," \
    "PostgreSQL COPY"
  printf "%-10s %10s | %10s %10s\n" table rows "strata s" "pg s"
  for t in $TABLES analyze; do
    if [[ $t == analyze ]]; then n=-; else n=$(wc -l <"$DATA_DIR/$t.tbl"); fi
    printf "%-10s %10s | %10s %10s\n" "$t" "$n" "$(secs "${load_ms[strata $t]:-}")" "$(secs "${load_ms[pg $t]:-}")"
  done
  printf "%-10s %10s | %10s %10s\n" "load total" "" "$(secs "${load_ms[strata total]:-}")" "$(secs "${load_ms[pg total]:-}")"
  echo "#"
  echo "# queries, ms (best and median of the runs); pg/strata = PostgreSQL's best / Strata's best"
  printf "%-5s | %10s %10s | %10s %10s | %9s | %5s\n" query "strata" "median" "pg" "median" "pg/strata" agree
  for q in $QUERIES; do
    nn=$(printf %02d "$q")
    sb=- sm=- pb=- pm=- ratio=-
    s=${qfail[strata $q]:-}
    p=${qfail[pg $q]:-}
    # shellcheck disable=SC2086
    if [[ -z $s && -n ${qtimes[strata $q]:-} ]]; then read -r sb sm < <(stats ${qtimes[strata $q]}); fi
    # shellcheck disable=SC2086
    if [[ -z $p && -n ${qtimes[pg $q]:-} ]]; then read -r pb pm < <(stats ${qtimes[pg $q]}); fi
    [[ -n $s ]] && sb=${s%% *} sm=-
    [[ -n $p ]] && pb=${p%% *} pm=-
    if [[ $sb =~ ^[0-9.]+$ && $pb =~ ^[0-9.]+$ ]]; then
      ratio=$(awk -v a="$sb" -v b="$pb" 'BEGIN { r = (a > 0) ? b / a : 0; printf (r < 0.1) ? "%.4f" : "%.2f", r }')
      st=$(awk -v a="$st" -v b="$sb" 'BEGIN { print a + b }')
      pt=$(awk -v a="$pt" -v b="$pb" 'BEGIN { print a + b }')
      lsum=$(awk -v s="$lsum" -v r="$ratio" 'BEGIN { print (r > 0) ? s + log(r) : s }')
      lcnt=$((lcnt + 1))
      both=$((both + 1))
    fi
    printf "Q%-4s | %10s %10s | %10s %10s | %9s | %5s\n" "$nn" "$sb" "$sm" "$pb" "$pm" "$ratio" "${agree[$q]:--}"
  done
  if ((both > 0)); then
    printf "%-5s | %10.1f %10s | %10.1f %10s | %9s | %5s\n" total "$st" "" "$pt" "" \
      "$(awk -v a="$st" -v b="$pt" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')" ""
    echo "# total: sum of the best times over the $both queries both systems answered;" \
      "geometric mean of pg/strata: $(awk -v s="$lsum" -v n="$lcnt" 'BEGIN { printf "%.2f", exp(s / n) }')"
  fi
  for sys in strata pg; do
    if [[ -n ${load_failed[$sys]:-} ]]; then
      ((fails++ == 0)) && echo "# failures:"
      echo "#   $sys load: ${load_failed[$sys]}"
    fi
  done
  for q in $QUERIES; do
    nn=$(printf %02d "$q")
    for sys in strata pg; do
      if [[ -n ${qfail[$sys $q]:-} ]]; then
        ((fails++ == 0)) && echo "# failures:"
        echo "#   $sys Q$nn: ${qfail[$sys $q]}"
      fi
    done
    if [[ ${agree[$q]:-} == NO ]]; then
      ((fails++ == 0)) && echo "# failures:"
      echo "#   Q$nn answers differ: strata $(wc -l <"$RESULTS/q$nn.strata.answer") rows," \
        "pg $(wc -l <"$RESULTS/q$nn.pg.answer") rows (diff: $RESULTS/q$nn.diff)"
    fi
  done
  return 0
}

# ---------------------------------------------------------------- main

[[ $STRATA_SKIP == 1 && $PG_SKIP == 1 ]] && die "STRATA_SKIP=1 and PG_SKIP=1 leave nothing to run"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ $QUERY_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "QUERY_TIMEOUT must be a positive number of seconds"
[[ $LOADERS =~ ^[1-9][0-9]*$ && $BATCH =~ ^[1-9][0-9]*$ ]] || die "LOADERS and BATCH must be positive integers"
for q in $QUERIES; do
  [[ $q =~ ^[0-9]+$ && -f scripts/tpch/q$(printf %02d "$((10#$q))").sql ]] || die "no query $q (scripts/tpch/qNN.sql)"
done
QUERIES=$(for q in $QUERIES; do printf '%d ' "$((10#$q))"; done)
need psql postgresql-client
need setsid util-linux
if [[ $STRATA_SKIP != 1 && ! -x $STRATA_BIN ]]; then
  die "no strata binary at $STRATA_BIN; build it with
  source scripts/env.sh && cargo build --release --bin strata
or point STRATA_BIN at one (or set STRATA_SKIP=1)"
fi
if [[ -n $RESULTS ]]; then
  mkdir -p "$RESULTS"
else
  RESULTS=$(mktemp -d /tmp/strata-tpch.XXXXXX)
fi
log "raw outputs: $RESULTS"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

generate

pg_version=""
if [[ $PG_SKIP != 1 ]]; then
  start_pg
  log "PostgreSQL $pg_version on 127.0.0.1:$PG_PORT"
fi
strata_version=""
if [[ $STRATA_SKIP != 1 ]]; then
  strata_version=$("$STRATA_BIN" --version 2>/dev/null | head -n1 || true)
  start_strata
  log "Strata ${strata_version:-playground} on 127.0.0.1:$STRATA_SQL_PORT (data $strata_dir)"
fi

systems=""
if [[ $PG_SKIP != 1 ]]; then
  load_pg
  [[ -n ${load_failed[pg]:-} ]] || check_and_analyze pg "$PG_PORT"
  [[ -n ${load_failed[pg]:-} ]] && log "pg: load failed: ${load_failed[pg]}"
fi
if [[ $STRATA_SKIP != 1 ]]; then
  load_strata
  [[ -n ${load_failed[strata]:-} ]] || check_and_analyze strata "$STRATA_SQL_PORT"
  [[ -n ${load_failed[strata]:-} ]] && log "strata: load failed: ${load_failed[strata]}"
fi
[[ $STRATA_SKIP == 1 || -n ${load_failed[strata]:-} ]] || systems+="strata "
[[ $PG_SKIP == 1 || -n ${load_failed[pg]:-} ]] || systems+="pg "

for q in $QUERIES; do
  for ((run = 1; run <= RUNS; run++)); do
    for sys in $systems; do
      [[ -z ${qfail[$sys $q]:-} ]] || continue
      if [[ $sys == strata ]] && ! kill -0 "$strata_pid" 2>/dev/null; then
        qfail[$sys $q]="ERROR the playground is no longer running"
        continue
      fi
      case $sys in
        strata) run_query strata "$STRATA_SQL_PORT" "$q" "$run" ;;
        pg) run_query pg "$PG_PORT" "$q" "$run" ;;
      esac
    done
  done
  compare "$q"
  [[ -z ${agree[$q]:-} ]] || log "q$(printf %02d "$q"): answers agree: ${agree[$q]}"
done

report | tee "$RESULTS/summary.txt"
[[ -z ${load_failed[*]:-} ]] || exit 1
((${#qfail[@]} == 0)) || exit 1
for q in "${!agree[@]}"; do [[ ${agree[$q]} != NO ]] || exit 1; done
exit 0
