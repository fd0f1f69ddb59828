# Sourced by the benchmark scripts: builds the release binary into $bin and
# starts a fresh 3-store playground (PD at 127.0.0.1:23790, removed on exit),
# returning once its first Region has three voters.
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
