#!/usr/bin/env bash
# `make test`: every check in order, with a summary. Stops at the first failing step.
set -uo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CARGO="${CARGO:-cargo}"

declare -a NAMES=() RESULTS=() TIMES=()
summary() {
    echo
    echo "================ tiercel test summary ================"
    for i in "${!NAMES[@]}"; do
        printf '  %-34s %-6s %5ss\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
    done
    echo "======================================================"
}
step() {
    local name="$1"; shift
    echo
    echo ">>> $name: $*"
    local t0=$SECONDS
    "$@"
    local rc=$?
    NAMES+=("$name"); TIMES+=($((SECONDS - t0)))
    if [ $rc -eq 0 ]; then RESULTS+=(ok); else
        RESULTS+=(FAIL); summary; echo "FAILED: $name (exit $rc)"; exit $rc
    fi
}

step "setup (scripts/setup.sh)"     bash scripts/setup.sh
step "rustfmt --check"              $CARGO fmt --all -- --check
step "clippy -D warnings"           $CARGO clippy --workspace --all-targets -- -D warnings
step "unit + data-driven tests"     $CARGO test --workspace --exclude tiercel-e2e
step "release build"                $CARGO build --release --workspace --bins
step "static (musl) build for the image" $CARGO build --release --target x86_64-unknown-linux-musl -p tiercel -p tiercel-shim -p tiercel-hook
export TIERCEL_BIN="$CARGO_TARGET_DIR/release/tiercel"
if [ "$(id -u)" -ne 0 ] && [ -z "${CI:-}" ]; then
    echo "SKIP: end-to-end tests need root (runc); run 'sudo make e2e'"
    NAMES+=("end-to-end (runc)"); RESULTS+=(SKIP); TIMES+=(0)
else
    step "end-to-end (runc, root)"  $CARGO test -p tiercel-e2e -- --test-threads=1
fi
step "conformance (Falco evtgen suite)" $CARGO test -p tiercel-e2e --test evtgen -- --ignored --nocapture --test-threads=1
summary
echo "all checks passed"
