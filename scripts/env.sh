# Sourced by the project's scripts: one persistent target directory outside
# the clone, so every checkout (and CI's fresh clone) builds incrementally.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${STRATA_TARGET_DIR:-$HOME/.cache/strata/target}}"
mkdir -p "$CARGO_TARGET_DIR"
