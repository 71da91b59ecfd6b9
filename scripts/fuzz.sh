#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for a bounded time against the committed
# corpus; fails on the first crash, panic, timeout or out-of-memory (docs/reliability/fuzzing.md).
#
#   scripts/fuzz.sh                 # every target, FUZZ_SECONDS (default 30) each
#   scripts/fuzz.sh cql_round_trip  # some targets
#   scripts/fuzz.sh --cmin          # minimise the committed corpora in place (maintainers)
#
# Environment:
#   FUZZ_SECONDS     run time per target (libFuzzer -max_total_time), default 30
#   FUZZ_SANITIZER   cargo-fuzz sanitizer, default none (every crate is #![deny(unsafe_code)];
#                    panics, overflows and debug assertions are what the targets catch)
#   FUZZ_TARGET_DIR  build directory, default $HOME/.cache/confluence-connector/fuzz-target
#   FUZZ_TOOLS_DIR   where cargo-fuzz is installed, default $HOME/.cache/confluence-connector/tools/cargo-fuzz
#
# The toolchain is stable; cargo-fuzz needs nightly-only flags (-Zsanitizer, -Cpasses=sancov…),
# which RUSTC_BOOTSTRAP=1 unlocks on a stable compiler.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-30}"
sanitizer="${FUZZ_SANITIZER:-none}"
target_dir="${FUZZ_TARGET_DIR:-$HOME/.cache/confluence-connector/fuzz-target}"
tools_dir="${FUZZ_TOOLS_DIR:-$HOME/.cache/confluence-connector/tools/cargo-fuzz}"
export RUSTC_BOOTSTRAP=1 CARGO_INCREMENTAL=0
export PATH="$tools_dir/bin:$PATH"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $tools_dir"
    CARGO_TARGET_DIR="$tools_dir/build" cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" \
        --locked --root "$tools_dir"
    rm -rf "$tools_dir/build"
fi

cmin=false
targets=()
for arg in "$@"; do
    case "$arg" in
        --cmin) cmin=true ;;
        *) targets+=("$arg") ;;
    esac
done
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

build=(--sanitizer "$sanitizer" --target-dir "$target_dir")
echo "fuzz: building ${targets[*]} (release, debug assertions, sanitizer $sanitizer)"
cargo fuzz build "${build[@]}"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    if $cmin; then
        echo "fuzz: minimising $corpus"
        # Smallest set that keeps every edge (hit counts ignored): the corpus stays small.
        cargo fuzz cmin "${build[@]}" "$target" "$corpus" -- -set_cover_merge=1 -use_counters=0
        continue
    fi
    echo "fuzz: $target for ${seconds}s from $corpus ($(ls "$corpus" | wc -l) inputs)"
    # New inputs go to a scratch directory: the committed corpus changes only through --cmin.
    mkdir -p "$scratch/$target"
    set +e
    cargo fuzz run "${build[@]}" "$target" "$scratch/$target" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1
    status=$?
    set -e
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' \
        "$scratch/$target.log" | sed "s/^/fuzz: $target: /" || true
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $target FAILED (exit $status); last lines of its log:" >&2
        tail -n 60 "$scratch/$target.log" >&2
        echo "fuzz: reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $sanitizer $target fuzz/artifacts/$target/<file>" >&2
        exit 1
    fi
done
if $cmin; then
    du -sh fuzz/corpus
else
    echo "fuzz: all targets ran ${seconds}s without a failure"
fi
