#!/usr/bin/env bash
# Installs what building Strata needs beyond the Rust toolchain.
#
# RocksDB's Rust bindings are generated with bindgen, which needs libclang
# (Debian: libclang-dev). protoc is not needed: it comes vendored from a crate.
# The SQL tests need psql (Debian: postgresql-client).
# Safe to run repeatedly; does nothing when everything is present.
set -euo pipefail

have_libclang() {
  ldconfig -p 2>/dev/null | grep -Eq 'libclang(-[0-9.]+)?\.so' && return 0
  compgen -G '/usr/lib/llvm-*/lib/libclang.so*' >/dev/null && return 0
  compgen -G '/usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so*' >/dev/null && return 0
  return 1
}

if ! have_libclang; then
  echo "setup: installing libclang-dev (needed by RocksDB's bindings)" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi

# The SQL tests (tests/sql.rs) run the real PostgreSQL client against the
# playground.
if ! command -v psql >/dev/null; then
  echo "setup: installing postgresql-client (psql, used by the SQL tests)" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq postgresql-client >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install the Rust toolchain (https://rustup.rs)" >&2
  exit 1
fi
