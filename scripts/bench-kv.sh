#!/usr/bin/env bash
# Benchmarks raw KV against a fresh 3-store playground (release build).
# Extra arguments go to `strata bench kv` (e.g. --duration 5s).
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
# Wait until the Region has three voters.
for _ in $(seq 1 120); do
  if "$bin" ctl --pd 127.0.0.1:23790 regions --json 2>/dev/null | grep -o '"role": "Voter"' | wc -l | grep -q '^3$'; then
    break
  fi
  sleep 0.5
done
"$bin" ctl --pd 127.0.0.1:23790 regions
"$bin" bench kv --pd 127.0.0.1:23790 "$@"
