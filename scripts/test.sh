#!/usr/bin/env bash
# Runs every test of the workspace. This is the command the README gives and the one CI runs.
#
# PostgreSQL tests: when `initdb` and `pg_ctl` are available, a throwaway cluster is started on a
# free port and DATABASE_URL_POSTGRES points at it; it is removed on exit. Without them the
# PostgreSQL tests are skipped, and this script says so loudly; with CFC_REQUIRE_POSTGRES set (CI
# sets it) they fail instead (sync_engine::testing decides, for every crate's tests).
set -euo pipefail
cd "$(dirname "$0")/.."

find_pg_bin() {
  for dir in "" /usr/lib/postgresql/*/bin; do
    if [ -z "$dir" ]; then
      command -v "$1" 2>/dev/null && return 0
    elif [ -x "$dir/$1" ]; then
      echo "$dir/$1" && return 0
    fi
  done
  return 1
}

PG_DIR=""
cleanup() {
  if [ -n "$PG_DIR" ]; then
    "$PG_CTL" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
trap cleanup EXIT

# A fresh machine may lack the server binaries; the package registry is reachable, so try once.
if ! find_pg_bin initdb >/dev/null && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "test.sh: initdb not found, installing PostgreSQL from apt for the PostgreSQL tests"
  timeout 300 apt-get install -y -q postgresql >/dev/null 2>&1 \
    || (timeout 120 apt-get update -q >/dev/null 2>&1 \
        && timeout 300 apt-get install -y -q postgresql >/dev/null 2>&1) \
    || echo "test.sh: could not install PostgreSQL"
fi

if INITDB=$(find_pg_bin initdb) && PG_CTL=$(find_pg_bin pg_ctl); then
  PG_DIR=$(mktemp -d)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  PG_USER=$(id -un)
  RUN_AS=()
  if [ "$(id -u)" = "0" ]; then
    # PostgreSQL refuses to run as root; run the throwaway cluster as nobody.
    chown nobody "$PG_DIR" 2>/dev/null || true
    RUN_AS=(runuser -u nobody --)
    PG_USER=nobody
  fi
  "${RUN_AS[@]}" "$INITDB" -D "$PG_DIR/data" -A trust -U "$PG_USER" >"$PG_DIR/initdb.log" 2>&1
  "${RUN_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -l "$PG_DIR/pg.log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export DATABASE_URL_POSTGRES="postgres://$PG_USER@127.0.0.1:$PG_PORT/postgres"
  echo "test.sh: PostgreSQL tests ON (throwaway cluster on 127.0.0.1:$PG_PORT)"
else
  echo "################################################################################"
  echo "test.sh: initdb/pg_ctl not found: PostgreSQL tests are SKIPPED."
  echo "test.sh: install PostgreSQL (apt-get install postgresql) to run them."
  echo "################################################################################"
fi

# nextest does not run doctests (the compile_fail ones prove type-level guarantees), so they
# run first, with plain cargo test.
cargo test --workspace --doc --quiet "$@"

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
