#!/bin/sh
# Load-independent figure for the eval bench: instructions per event (callgrind Ir of
# `callgrind_loop` / events), with RuleMatching::All and ::First, for the whole mix and
# per event type.
#   rules/benches/callgrind.sh            # build (cargo bench --no-run) and measure
#   CALLGRIND_TYPES="MIX execve" rules/benches/callgrind.sh   # only these rows
# TIERCEL_BENCH_RULES (files separated by ':') chooses the rules, as for the eval bench.
# Needs valgrind. CARGO_TARGET_DIR is honoured.
set -eu
cd "$(dirname "$0")/../.."
bin=$(cargo bench -p tiercel-rules --bench eval --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "bench binary not found" >&2; exit 1; }
events=20000
out=$(mktemp)
trap 'rm -f "$out"' EXIT
measure() { # matching [type]
    TIERCEL_BENCH_CALLGRIND=$1 TIERCEL_BENCH_TYPE=${2:-} valgrind --tool=callgrind \
        --callgrind-out-file="$out" --collect-atstart=no --toggle-collect='*callgrind_loop*' \
        "$bin" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
printf '%-14s %12s %12s\n' events "All Ir/ev" "First Ir/ev"
types=${CALLGRIND_TYPES:-MIX openat open openat2 execve execveat connect socket dup2 dup3 symlinkat linkat ptrace memfd_create finit_module}
for t in $types; do
    tt=$t; [ "$t" = MIX ] && tt=
    a=$(measure all "$tt"); f=$(measure first "$tt")
    printf '%-14s %12d %12d\n' "$t" $((a / events)) $((f / events))
done
