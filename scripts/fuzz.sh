#!/usr/bin/env bash
# Runs every cargo-fuzz target under rules/fuzz/ for SECONDS each (default 60).
# Needs a nightly toolchain and cargo-fuzz; says so and exits 0 when they are missing
# (fails instead when CI is set and REQUIRE_FUZZ=1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
missing() {
    echo "fuzz: $*"
    if [ -n "${CI:-}" ] && [ "${REQUIRE_FUZZ:-0}" = 1 ]; then exit 1; fi
    echo "SKIP: fuzzing"; exit 0
}
[ -d rules/fuzz ] || missing "rules/fuzz does not exist (no fuzz targets yet)"
command -v rustup >/dev/null && rustup toolchain list | grep -q nightly || missing "no nightly toolchain (rustup toolchain install nightly)"
cargo +nightly fuzz --version >/dev/null 2>&1 || missing "cargo-fuzz not installed (cargo install cargo-fuzz)"
targets=$(cd rules && cargo +nightly fuzz list)
[ -n "$targets" ] || missing "no fuzz targets in rules/fuzz"
for t in $targets; do
    echo "fuzz: $t for ${secs}s"
    (cd rules && cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048)
done
echo "fuzz: all targets ran ${secs}s without a crash"
