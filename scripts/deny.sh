#!/usr/bin/env bash
# Supply-chain check: cargo-deny over the workspace's dependency tree (licenses, bans, sources).
#
# cargo-deny is installed from crates.io (pinned, --locked) into
# $CFC_TOOLS_DIR/cargo-deny (default ~/.cache/confluence-connector/tools/cargo-deny) on first use;
# a stamp file makes the cache follow the pinned version. Works from a clean clone with an empty
# cache; the first run compiles cargo-deny (several minutes on 2 cores), later runs take seconds.
#
# Advisories are NOT checked here: cargo-deny (like cargo-audit) reads the RustSec advisory
# database from its git repository, and this project's machines and CI reach only the package
# registries (crates.io, PyPI, Debian, npm), none of which publishes that database. See
# docs/reliability/security.md. Set CFC_DENY_ADVISORIES=1 on a machine that can fetch it to
# check advisories too.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
tools=${CFC_TOOLS_DIR:-${HOME}/.cache/confluence-connector/tools}
root="$tools/cargo-deny"
bin="$root/bin/cargo-deny"
stamp="$root/.version"

if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$CARGO_DENY_VERSION" ]; then
  echo "deny.sh: installing cargo-deny $CARGO_DENY_VERSION from crates.io into $root"
  # Its own build directory: the workspace's target directory stays untouched.
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  CARGO_TARGET_DIR="$build" cargo install --locked --quiet \
    --root "$root" --version "$CARGO_DENY_VERSION" cargo-deny
  echo "$CARGO_DENY_VERSION" >"$stamp"
fi

checks=(licenses bans sources)
if [ "${CFC_DENY_ADVISORIES:-0}" = "1" ]; then
  checks=(advisories "${checks[@]}")
fi

echo "deny.sh: cargo deny check ${checks[*]}"
"$bin" --locked check "${checks[@]}"
