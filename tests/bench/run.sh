#!/usr/bin/env bash
# tiercel benchmark (`make bench`): every configuration × workload inside real runc
# containers built from busybox-static, several runs each; medians and p99; writes
# BENCHMARKS.md with the machine and kernel.
#
# Configurations:
#   bare         no seccomp filter
#   allow        an ALLOW-only filter (same syscall list as the notifying ones, action ALLOW)
#   floor        the minimal C notifier (RECV → CONTINUE), SYNC_WAKE_UP
#   floor-path   the same + path read with process_vm_readv + ID_VALID
#   seed         tiercel audit, the seed rule
#   stable       tiercel audit, the upstream stable rules (falco_rules.yaml) only
#   upstream     tiercel audit, the three upstream rule files
#   preset       tiercel enforce, the protect-binary-dirs preset
# Workloads: probe loops (getppid, openat read, openat write, execve, connect) and a realistic
# one (unpack a tarball, walk the tree, a shell script spawning short processes).
#
# Environment: TIERCEL_BIN, RUNS (default 5; the realistic workload at least REALISTIC_RUNS,
# default 11), LOOP_N (default 20000), BENCH_OUT (BENCHMARKS.md),
# BENCH_CONFIGS / BENCH_WORKLOADS (space-separated subsets), BENCH_MULTI=0 to skip the
# MULTI_N-container (default 10) memory measurement.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
TIERCEL="${TIERCEL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/tiercel}"
RUNS="${RUNS:-5}"
LOOP_N="${LOOP_N:-20000}"
REALISTIC_RUNS="${REALISTIC_RUNS:-11}"
OUT="${BENCH_OUT:-$repo/BENCHMARKS.md}"
CONFIGS="${BENCH_CONFIGS:-bare allow floor floor-path seed stable upstream preset}"
WORKLOADS="${BENCH_WORKLOADS:-getppid openat-read openat-write execve connect realistic}"
SHARED="${TIERCEL_SHARED:-$repo/../shared}"
SEED="$repo/examples/rules/seed-write-below-binary-dir.yaml"
PRESET="$repo/examples/rules/protect-binary-dirs.yaml"
UPSTREAM=("$SHARED/upstream-rules/falco_rules.yaml" "$SHARED/upstream-rules/falco-incubating_rules.yaml"
          "$SHARED/upstream-rules/falco-sandbox_rules.yaml")

[ "$(id -u)" -eq 0 ] || { echo "bench: run as root"; exit 1; }
[ -x "$TIERCEL" ] || { echo "bench: $TIERCEL not found (make release)"; exit 1; }
for p in runc busybox jq gcc; do command -v $p >/dev/null || { echo "bench: $p missing"; exit 1; }; done

work="$(mktemp -d /tmp/tiercel-bench.XXXXXX)"
sup_pid=""
cleanup() {
    for id in $(runc list -q 2>/dev/null | grep '^tiercel-bench-' || true); do
        runc kill "$id" KILL 2>/dev/null || true; runc delete --force "$id" 2>/dev/null || true
    done
    [ -n "$sup_pid" ] && { kill "$sup_pid" 2>/dev/null || true; wait "$sup_pid" 2>/dev/null || true; }
    rm -rf "$work"
}
trap cleanup EXIT
log() { printf 'bench: %s\n' "$*" >&2; }
# A sleep without spawning a process: a read with a timeout on a pipe nobody writes to.
exec {nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$nap_fd" _ || true; }

# ---- binaries
gcc -static -no-pie -O2 -pthread -o "$work/probe" "$repo/tests/probe/probe.c"
gcc -O2 -pthread -o "$work/notifier" "$here/notifier.c"

# ---- bundle
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,dev,sys,root,data}
chmod 1777 "$bundle/rootfs/tmp"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$bundle/rootfs/etc/group"
cp "$work/probe" "$bundle/rootfs/probe"
# The realistic workload's input: a tarball of ~2000 small files in 40 directories.
mkdir -p "$work/tree"
for d in $(seq 40); do
    mkdir -p "$work/tree/d$d"
    for f in $(seq 50); do echo "file $d/$f $(date +%N)" > "$work/tree/d$d/f$f.txt"; done
done
tar -C "$work" -czf "$bundle/rootfs/data/tree.tar.gz" tree
cat > "$bundle/rootfs/data/realistic.sh" <<'EOF'
#!/bin/sh
set -e
t0=$(/probe now)
rm -rf /tmp/w && mkdir -p /tmp/w && cd /tmp/w
tar -xzf /data/tree.tar.gz
find . -type f | wc -l >/dev/null
find . -name '*.txt' -exec cat {} + | wc -c >/dev/null
i=0
while [ $i -lt 200 ]; do
    echo "$i" | grep -q 7 && true
    i=$((i + 1))
done
for f in tree/d1/*.txt; do cp "$f" "$f.bak"; done
rm -rf /tmp/w
echo "REALISTIC wall_ns=$(( $(/probe now) - t0 ))"
EOF
chmod +x "$bundle/rootfs/data/realistic.sh"
(cd "$bundle" && runc spec)
# /tmp is a tmpfs in the container: the realistic workload unpacks and deletes ~2000 files
# there, and on the host disk the writeback of earlier runs made later configurations look
# slower (run-order effects of 2-4x, unrelated to the filter).
jq '.process.terminal=false | .root.readonly=false
    | .mounts += [{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev", "mode=1777", "size=256m"]}]' \
   "$bundle/config.json" > "$bundle/base.json"

NOTIFY_SET='["open","openat","openat2","creat","execve","execveat","connect","socket","getppid"]'

# seccomp object for a configuration (empty = none)
seccomp_for() {
    local cfg="$1" sock="$2"
    case "$cfg" in
        bare) echo null ;;
        # ALLOW-only in effect: the same syscalls carry a rule whose argument test never holds.
        allow) jq -n --argjson n "$NOTIFY_SET" '{defaultAction:"SCMP_ACT_ALLOW",architectures:["SCMP_ARCH_X86_64"],syscalls:[{names:$n,action:"SCMP_ACT_ERRNO",errnoRet:1,args:[{index:5,value:81985529216486895,op:"SCMP_CMP_EQ"}]}]}' ;;
        floor|floor-path) jq -n --argjson n "$NOTIFY_SET" --arg s "$sock" '{defaultAction:"SCMP_ACT_ALLOW",architectures:["SCMP_ARCH_X86_64"],listenerPath:$s,syscalls:[{names:$n,action:"SCMP_ACT_NOTIFY"}]}' ;;
        seed) "$TIERCEL" profile -r "$SEED" --socket "$sock" --mode audit ;;
        stable) "$TIERCEL" profile -r "${UPSTREAM[0]}" --socket "$sock" --mode audit ;;
        upstream) "$TIERCEL" profile "${UPSTREAM[@]/#/-r}" --socket "$sock" --mode audit ;;
        preset) "$TIERCEL" profile -r "$PRESET" --socket "$sock" --mode enforce ;;
    esac
}

start_agent() {
    local cfg="$1" sock="$2"
    case "$cfg" in
        bare|allow) return 0 ;;
        floor) "$work/notifier" "$sock" 2>"$work/agent.log" & ;;
        floor-path) "$work/notifier" --read-path "$sock" 2>"$work/agent.log" & ;;
        seed) "$TIERCEL" supervise --socket "$sock" -r "$SEED" --mode audit --alerts "$work/alerts.json" >/dev/null 2>"$work/agent.log" & ;;
        stable) "$TIERCEL" supervise --socket "$sock" -r "${UPSTREAM[0]}" --mode audit --alerts "$work/alerts.json" >/dev/null 2>"$work/agent.log" & ;;
        upstream) "$TIERCEL" supervise --socket "$sock" "${UPSTREAM[@]/#/-r}" --mode audit --alerts "$work/alerts.json" >/dev/null 2>"$work/agent.log" & ;;
        preset) "$TIERCEL" supervise --socket "$sock" -r "$PRESET" --mode enforce --alerts "$work/alerts.json" >/dev/null 2>"$work/agent.log" & ;;
    esac
    sup_pid=$!
    for _ in $(seq 300); do [ -S "$sock" ] && return 0; kill -0 "$sup_pid" 2>/dev/null || break; sleep 0.05; done
    log "agent for $cfg did not start:"; cat "$work/agent.log" >&2; return 1
}

# agent CPU time (utime+stime, ms) and peak RSS (KiB) from /proc
agent_stats() {
    [ -n "$sup_pid" ] && [ -r "/proc/$sup_pid/stat" ] || { echo "- -"; return; }
    local tck; tck=$(getconf CLK_TCK)
    local cpu; cpu=$(awk -v t="$tck" '{print int(($14+$15)*1000/t)}' "/proc/$sup_pid/stat")
    local rss; rss=$(awk '/VmHWM/ {print $2}' "/proc/$sup_pid/status")
    echo "$cpu $rss"
}

stop_agent() {
    [ -n "$sup_pid" ] && { kill "$sup_pid" 2>/dev/null || true; wait "$sup_pid" 2>/dev/null || true; }
    sup_pid=""
}

# tiercel's own mean RECV-return → SEND-call time (µs) and its parts, from its exit log line
agent_handling() {
    local l; l=$(grep -a 'supervisor stopped' "$work/agent.log" 2>/dev/null | tail -1)
    local h b e
    h=$(sed -n 's/.*mean_handling_us=\([0-9.]*\).*/\1/p' <<<"$l")
    b=$(sed -n 's/.*mean_build_us=\([0-9.]*\).*/\1/p' <<<"$l")
    e=$(sed -n 's/.*mean_eval_us=\([0-9.]*\).*/\1/p' <<<"$l")
    if [ -n "$h" ]; then printf '%.1f (%.1f / %.1f)' "$h" "${b:-0}" "${e:-0}"; else echo "-"; fi
}

args_for() {
    case "$1" in
        realistic) echo '["/bin/sh","/data/realistic.sh"]' ;;
        execve) echo "[\"/probe\",\"loop-execve\",\"$((LOOP_N / 20))\"]" ;;
        connect) echo "[\"/probe\",\"loop-connect\",\"$((LOOP_N / 4))\"]" ;;
        *) echo "[\"/probe\",\"loop-$1\",\"$LOOP_N\"]" ;;
    esac
}

# one container run; prints "median_ns p99_ns wall_ms start_ms"
run_once() {
    local cfg="$1" wl="$2" sock="$3" seccomp="$4" n="$5"
    local id="tiercel-bench-$cfg-$wl-$n-$$"
    jq --argjson a "$(args_for "$wl")" --argjson s "$seccomp" \
       '.process.args=$a | if $s == null then del(.linux.seccomp) else .linux.seccomp=$s end' \
       "$bundle/base.json" > "$bundle/config.json"
    # container start time: create → created
    local t0 t1 t2 t3
    t0=$(date +%s%N)
    runc create -b "$bundle" "$id" </dev/null >"$work/out.txt" 2>&1
    t1=$(date +%s%N)
    t2=$(date +%s%N)
    local pid; pid=$(runc state "$id" | jq -r .pid)
    runc start "$id"
    # Wait for the container's process to end, with shell builtins only (spawning a
    # poller every few ms would steal CPU from the workload on a small machine).
    local st=""
    while read -r st < "/proc/$pid/stat" 2>/dev/null && [[ "$st" != *") Z "* ]]; do nap 0.002; done
    t3=$(date +%s%N)
    runc delete --force "$id" >/dev/null 2>&1 || true
    local line; line=$(grep '^LOOP' "$work/out.txt" || true)
    local med p99 wall=$(((t3 - t2) / 1000000))
    med=$(sed -n 's/.*median_ns=\([0-9]*\).*/\1/p' <<<"$line"); p99=$(sed -n 's/.*p99_ns=\([0-9]*\).*/\1/p' <<<"$line")
    if [ "$wl" = realistic ]; then
        # The script times itself inside the container (first to last command).
        local ns; ns=$(sed -n 's/^REALISTIC wall_ns=\([0-9]*\).*/\1/p' "$work/out.txt")
        if [ -n "$ns" ]; then wall=$((ns / 1000000)); else log "$cfg/$wl run $n failed: $(head -c 500 "$work/out.txt")"; fi
    fi
    if [ "$wl" != realistic ] && { [ -z "$line" ] || ! grep -q 'errors=0' <<<"$line"; }; then
        log "$cfg/$wl run $n failed: $(head -c 500 "$work/out.txt")"
    fi
    echo "${med:--} ${p99:--} $wall $(((t1 - t0) / 1000000))"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -A MED P99 WALL START CPU RSS HANDLING
for cfg in $CONFIGS; do
    case "$cfg" in
        seed) [ -f "$SEED" ] || { log "skip seed: $SEED missing"; continue; } ;;
        preset) [ -f "$PRESET" ] || { log "skip preset: $PRESET missing"; continue; } ;;
        upstream|stable) [ -f "${UPSTREAM[0]}" ] || { log "skip $cfg: rules missing"; continue; } ;;
    esac
    sock="$work/$cfg.sock"
    start_agent "$cfg" "$sock"
    seccomp=$(seccomp_for "$cfg" "$sock")
    for wl in $WORKLOADS; do
        : > "$work/runs.txt"
        runs=$RUNS
        # The realistic workload is short and spawns ~450 processes: its time varies more
        # from run to run on a small machine, so it gets more runs.
        [ "$wl" = realistic ] && [ "$runs" -lt "$REALISTIC_RUNS" ] && runs=$REALISTIC_RUNS
        for n in $(seq "$runs"); do run_once "$cfg" "$wl" "$sock" "$seccomp" "$n" >> "$work/runs.txt"; done
        MED[$cfg/$wl]=$(awk '{print $1}' "$work/runs.txt" | { grep -v -- - || true; } | median)
        P99[$cfg/$wl]=$(awk '{print $2}' "$work/runs.txt" | { grep -v -- - || true; } | median)
        WALL[$cfg/$wl]=$(awk '{print $3}' "$work/runs.txt" | median)
        START[$cfg/$wl]=$(awk '{print $4}' "$work/runs.txt" | median)
        log "$cfg/$wl: median ${MED[$cfg/$wl]} ns, p99 ${P99[$cfg/$wl]} ns, wall ${WALL[$cfg/$wl]} ms"
    done
    read -r c r < <(agent_stats)
    CPU[$cfg]=$c; RSS[$cfg]=$r
    stop_agent
    case "$cfg" in seed|stable|upstream|preset) HANDLING[$cfg]=$(agent_handling) ;; esac
done

# Supervisor memory with many containers: the stable rules, MULTI_N containers at once, each
# running short loops (opens, execs) and then staying alive; RSS read while all sessions live.
MULTI_N="${MULTI_N:-10}"
MULTI_RSS="-"; MULTI_HWM="-"; MULTI_SESSIONS="-"
if [ "${BENCH_MULTI:-1}" = 1 ] && [ -f "${UPSTREAM[0]}" ]; then
    sock="$work/multi.sock"
    start_agent stable "$sock"
    seccomp=$(seccomp_for stable "$sock")
    jq --argjson s "$seccomp" \
       '.process.args=["/bin/sh","-c","/probe loop-openat-read 2000 >/dev/null; /probe loop-execve 20 >/dev/null; /probe loop-connect 50 >/dev/null; sleep 4"] | .linux.seccomp=$s' \
       "$bundle/base.json" > "$bundle/config.json"
    for i in $(seq "$MULTI_N"); do
        runc run -d -b "$bundle" "tiercel-bench-multi-$i-$$" </dev/null >/dev/null 2>&1 || log "multi: container $i did not start"
    done
    nap 3
    MULTI_RSS=$(awk '/VmRSS/ {print $2}' "/proc/$sup_pid/status")
    MULTI_HWM=$(awk '/VmHWM/ {print $2}' "/proc/$sup_pid/status")
    MULTI_SESSIONS=$(runc list -q | grep -c "^tiercel-bench-multi-" || true)
    log "multi: $MULTI_SESSIONS containers, supervisor RSS $MULTI_RSS KiB, peak $MULTI_HWM KiB"
    for i in $(seq "$MULTI_N"); do
        runc kill "tiercel-bench-multi-$i-$$" KILL >/dev/null 2>&1 || true
        runc delete --force "tiercel-bench-multi-$i-$$" >/dev/null 2>&1 || true
    done
    stop_agent
fi

# "| what | a/b = r× | ≤ limit× | met/missed |"
target_row() {
    local what="$1" a="$2" b="$3" lim="$4"
    if [[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ && "$b" -gt 0 ]]; then
        awk -v w="$what" -v a="$a" -v b="$b" -v l="$lim" 'BEGIN {
            r = a / b; printf "| %s | %d / %d = %.2f× | ≤ %.2f× | %s |\n", w, a, b, r, l, (r <= l ? "met" : sprintf("missed by %.0f%%", (r / l - 1) * 100)) }'
    else
        echo "| $what | - | ≤ ${lim}× | not measured |"
    fi
}
# "| what | value | < limit | met/missed |"
abs_row() {
    local what="$1" v="$2" lim="$3" unit="$4"
    if [[ "$v" =~ ^-?[0-9]+$ ]]; then
        awk -v w="$what" -v v="$v" -v l="$lim" -v u="$unit" 'BEGIN {
            printf "| %s | %d %s | < %d %s | %s |\n", w, v, u, l, u, (v < l ? "met" : "missed") }'
    else
        echo "| $what | - | < $lim $unit | not measured |"
    fi
}
# median runc-create time of config $1 minus bare's (ms)
delay_ms() {
    local c="$1" a b
    a=$(for wl in $WORKLOADS; do echo "${START[$c/$wl]:-}"; done | { grep -v '^$' || true; } | median)
    b=$(for wl in $WORKLOADS; do echo "${START[bare/$wl]:-}"; done | { grep -v '^$' || true; } | median)
    if [[ "$a" =~ ^[0-9]+$ && "$b" =~ ^[0-9]+$ ]]; then echo $((a - b)); else echo "-"; fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/ && b > 0) printf "%.2f×", a / b; else print "-" }'; }

log "rules engine benchmark (cargo bench -p tiercel-rules --bench eval)"
(cd "$repo" && cargo bench -q -p tiercel-rules --bench eval 2>"$work/rules-bench.err") > "$work/rules-bench.txt" || echo "rules bench failed" > "$work/rules-bench.txt"
# Without the upstream rules the bench prints one SKIP line on stderr and nothing else.
grep '^SKIP ' "$work/rules-bench.err" >> "$work/rules-bench.txt" || true

# The supervisor library's notify loop alone (no rules), `dd bs=1` with `read` notified vs not:
# an #[ignore]d measurement of supervisor/tests/runc_notify.rs, run here rather than by `make test`.
log "notify-loop latency (cargo test --release -p tiercel --test runc_notify -- --ignored latency_of_notified_reads)"
(cd "$repo" && cargo test -q --release -p tiercel --test runc_notify -- --ignored --exact \
    latency_of_notified_reads --nocapture --test-threads=1 2>&1) \
    | grep '^LATENCY' > "$work/latency.txt" || echo "latency measurement failed" > "$work/latency.txt"

{
    echo "# tiercel benchmarks"
    echo
    echo "Generated by \`make bench\` (tests/bench/run.sh) on $(date -u +%Y-%m-%d). Each figure is the median of"
    echo "$RUNS runs (the realistic workload: $((RUNS > REALISTIC_RUNS ? RUNS : REALISTIC_RUNS))); per-call figures are the median and p99 of $LOOP_N calls per run (execve: $((LOOP_N / 20)),"
    echo "connect: $((LOOP_N / 4))), measured inside a runc container (busybox-static + the static probe; /tmp is a tmpfs)."
    echo
    echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "- kernel: $(uname -r); runc: $(runc --version | head -1 | awk '{print $3}'); tiercel: $("$TIERCEL" --version 2>/dev/null || echo unknown)"
    echo
    echo "Configurations: bare = no filter; allow = ALLOW-only filter; floor = minimal C notifier"
    echo "(RECV → CONTINUE, SYNC_WAKE_UP); floor-path = floor + path read + ID_VALID; seed = tiercel audit,"
    echo "seed rule; stable = tiercel audit, falco_rules.yaml; upstream = tiercel audit, three upstream rule files; preset = tiercel enforce,"
    echo "protect-binary-dirs."
    echo
    echo "## Targets (issue 5), from the figures below"
    echo
    echo "| target | measured | limit | verdict |"
    echo "|---|---|---|---|"
    target_row "notified openat (read) under the stable rules vs floor-path" "${MED[stable/openat-read]:-}" "${MED[floor-path/openat-read]:-}" 1.25
    for c in seed stable upstream preset; do
        target_row "unmonitored getppid under $c vs ALLOW-only" "${MED[$c/getppid]:-}" "${MED[allow/getppid]:-}" 1.05
    done
    target_row "read-only openat, write rules only (seed) vs ALLOW-only" "${MED[seed/openat-read]:-}" "${MED[allow/openat-read]:-}" 1.05
    target_row "read-only openat, enforce preset (write rules) vs ALLOW-only" "${MED[preset/openat-read]:-}" "${MED[allow/openat-read]:-}" 1.05
    target_row "realistic workload under the seed rule vs bare" "${WALL[seed/realistic]:-}" "${WALL[bare/realistic]:-}" 1.10
    mix=$(awk '$1 == "MIX" && $2 ~ /^[0-9]+$/ {print $4; exit}' "$work/rules-bench.txt")
    abs_row "rule evaluation, stable rules, ns/event (median)" "$mix" 500 ns
    abs_row "supervisor RSS, stable rules, $MULTI_SESSIONS containers (KiB)" "$MULTI_HWM" 20480 KiB
    for c in seed stable preset; do
        d=$(delay_ms "$c")
        abs_row "container start delay, $c (runc create vs bare, ms)" "$d" 50 ms
    done
    echo
    echo "## Per-call latency (ns): median / p99"
    echo
    printf '| workload |'; for c in $CONFIGS; do printf ' %s |' "$c"; done; echo
    printf '|---|'; for c in $CONFIGS; do printf -- '---|'; done; echo
    for wl in $WORKLOADS; do
        [ "$wl" = realistic ] && continue
        printf '| %s |' "$wl"
        for c in $CONFIGS; do printf ' %s / %s |' "${MED[$c/$wl]:--}" "${P99[$c/$wl]:--}"; done; echo
    done
    echo
    echo "## Ratios of the median per-call latency"
    echo
    echo "| workload | tiercel config | vs bare | vs allow | vs floor | vs floor-path |"
    echo "|---|---|---|---|---|---|"
    for wl in $WORKLOADS; do
        [ "$wl" = realistic ] && continue
        for c in seed stable upstream preset; do
            [ -n "${MED[$c/$wl]:-}" ] || continue
            echo "| $wl | $c | $(ratio "${MED[$c/$wl]}" "${MED[bare/$wl]:-}") | $(ratio "${MED[$c/$wl]}" "${MED[allow/$wl]:-}") | $(ratio "${MED[$c/$wl]}" "${MED[floor/$wl]:-}") | $(ratio "${MED[$c/$wl]}" "${MED[floor-path/$wl]:-}") |"
        done
    done
    echo
    echo "## Workload wall time (ms: loops from runc start to the container's exit; realistic timed by the script itself inside the container), with ratios to bare and to floor"
    echo
    printf '| workload |'; for c in $CONFIGS; do printf ' %s |' "$c"; done; echo
    printf '|---|'; for c in $CONFIGS; do printf -- '---|'; done; echo
    for wl in $WORKLOADS; do
        printf '| %s |' "$wl"
        for c in $CONFIGS; do printf ' %s (%s, %s) |' "${WALL[$c/$wl]:--}" "$(ratio "${WALL[$c/$wl]:-}" "${WALL[bare/$wl]:-}")" "$(ratio "${WALL[$c/$wl]:-}" "${WALL[floor/$wl]:-}")"; done; echo
    done
    echo
    echo "## Container start (ms, \`runc create\`) and agent cost"
    echo
    echo "| config | runc create (median over all runs) | agent CPU (ms, whole config) | agent peak RSS (KiB) | tiercel's own work per notification, µs mean: RECV return → SEND call (build incl. ID_VALID / evaluate) |"
    echo "|---|---|---|---|---|"
    for c in $CONFIGS; do
        s=$(for wl in $WORKLOADS; do echo "${START[$c/$wl]:-}"; done | { grep -v '^$' || true; } | median)
        echo "| $c | $s | ${CPU[$c]:--} | ${RSS[$c]:--} | ${HANDLING[$c]:--} |"
    done
    echo
    echo "## Supervisor memory with $MULTI_N containers"
    echo
    echo "tiercel audit with the upstream stable rules, $MULTI_N runc containers started at once (each: 2000"
    echo "opens, 20 execs, 50 connects, then alive 4 s); read while they all run. Target: < 20 MiB."
    echo
    echo "| containers running | supervisor RSS (KiB) | supervisor peak RSS (KiB) |"
    echo "|---|---|---|"
    echo "| $MULTI_SESSIONS | $MULTI_RSS | $MULTI_HWM |"
    echo
    echo "## Notify loop alone (\`supervisor/tests/runc_notify.rs\`, \`latency_of_notified_reads\`, same run)"
    echo
    echo "The supervisor library with no rules: a runc container doing 20000 one-byte reads with"
    echo "\`read\` notified, against the same container with \`read\` not notified."
    echo
    echo '```'
    cat "$work/latency.txt"
    echo '```'
    echo
    echo "## Rule evaluation (\`cargo bench -p tiercel-rules --bench eval\`, same run)"
    echo
    echo "The upstream stable rules, loaded with the real loader, over a weighted mix of events"
    echo "with precomputed field values (the engine alone, one core). Target: < 500 ns/event."
    echo
    echo '```'
    cat "$work/rules-bench.txt"
    echo '```'
} > "$OUT"
log "wrote $OUT"
