#!/usr/bin/env bash
# Runs the sqllogictest files (sqllogictest/*.slt) against a throwaway
# PostgreSQL 15 (scripts/pg-server.sh), through the same harness that runs
# them against Strata (tests/slt.rs, with STRATA_SLT_URL set). The expected
# results are PostgreSQL's: this must pass. Exits non-zero if a record fails.
#
#   scripts/slt-pg.sh                           # every file
#   STRATA_SLT_FILES=txn,keys scripts/slt-pg.sh # only files whose names contain these
#   STRATA_SLT_OVERRIDE=1 scripts/slt-pg.sh     # rewrite expected results with PG's answers
#   STRATA_SLT_PG_PORT=25433                    # the port PostgreSQL listens on
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/env.sh
port=${STRATA_SLT_PG_PORT:-25433}
# Build before starting the server: a cold build takes a while.
cargo test --workspace --no-run
source scripts/pg-server.sh "$port"
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
STRATA_SLT_URL="host=127.0.0.1 port=$port user=postgres dbname=postgres" \
  cargo test --workspace --test slt -- --nocapture "$@"
