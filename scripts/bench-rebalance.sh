#!/usr/bin/env bash
# Rebalancing benchmark (release build): PD and three stores as processes
# with a 16 MiB split size, 512 MiB of data, then a fourth store joins while
# a write load runs. Prints how long PD takes to rebalance, the MiB/s moved
# onto the new store, and put throughput before and during.
# Extra arguments go to `strata bench rebalance` (e.g. --load 1GiB).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
cargo build --release --bin strata
bin="$CARGO_TARGET_DIR/release/strata"
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
split=(--region-split-size 16MiB)
"$bin" pd --data-dir "$dir/pd" --listen 127.0.0.1:24790 --http 127.0.0.1:24791 > "$dir/pd.log" 2>&1 &
pids+=($!)
for i in 1 2 3; do
  "$bin" kv --pd 127.0.0.1:24790 --data-dir "$dir/store-$i" --listen "127.0.0.1:$((24800 + i))" "${split[@]}" > "$dir/store-$i.log" 2>&1 &
  pids+=($!)
done
"$bin" bench rebalance --pd 127.0.0.1:24790 --data-dir "$dir/store-4" --store-flags "${split[*]}" "$@"
