#!/usr/bin/env bash
# Benchmarks transactions against a fresh 3-store playground (release
# build): the bank workload with its snapshot checks, then single-key,
# multi-key single-Region and cross-Region transactions at 1, 8 and 64
# clients. Extra arguments go to every `strata bench txn` run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release --bin strata
bin="$CARGO_TARGET_DIR/release/strata"
dir=$(mktemp -d)
trap 'kill $pg 2>/dev/null; wait $pg 2>/dev/null; rm -rf "$dir"' EXIT
"$bin" playground --data-dir "$dir" --pd-port 23790 --store-port 23800 > "$dir/playground.log" 2>&1 &
pg=$!
for _ in $(seq 1 120); do
  if "$bin" ctl --pd 127.0.0.1:23790 regions --json 2>/dev/null | grep -o '"role": "Voter"' | wc -l | grep -q '^3$'; then
    break
  fi
  sleep 0.5
done
"$bin" bench txn --pd 127.0.0.1:23790 --workload bank --accounts 1000 --concurrency 8 --duration 10s "$@"
for w in single multi cross; do
  "$bin" bench txn --pd 127.0.0.1:23790 --workload "$w" --accounts 10000 --concurrency 1,8,64 --duration 10s "$@"
done
