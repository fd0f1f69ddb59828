#!/usr/bin/env bash
# Benchmarks transactions against a fresh 3-store playground (release
# build): the bank workload with its snapshot checks, then single-key,
# multi-key single-Region and cross-Region transactions at 1, 8 and 64
# clients. Each run lasts $DURATION (default 10s); extra arguments go to
# every `strata bench txn` run.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-10s}"
source scripts/bench-playground.sh
"$bin" bench txn --pd 127.0.0.1:23790 --workload bank --accounts 1000 --concurrency 8 --duration "$duration" "$@"
for w in single multi cross; do
  "$bin" bench txn --pd 127.0.0.1:23790 --workload "$w" --accounts 10000 --concurrency 1,8,64 --duration "$duration" "$@"
done
