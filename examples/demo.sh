#!/usr/bin/env bash
# tiercel demo: the seed scenario — a container runs `touch /bin/evil` — first in audit mode
# (the write happens, Falco's "Write below binary dir" alert is raised), then in enforce mode
# (the write is refused inside the container with EPERM, the alert is raised).
#
# Needs root, runc and busybox-static (scripts/setup.sh installs them). `make demo` runs it.
# Environment: TIERCEL_BIN (default: build and use target/release/tiercel), DEMO_NO_BUILD=1,
# DEMO_RULES (default: examples/rules/seed-write-below-binary-dir.yaml).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (runc needs it)"; exit 1; }
for p in runc busybox jq; do
    command -v "$p" >/dev/null || { echo "demo: $p missing; run scripts/setup.sh"; exit 1; }
done

TIERCEL="${TIERCEL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/tiercel}"
if [ -z "${DEMO_NO_BUILD:-}" ]; then
    bold "Building tiercel (release)"
    (cd "$repo" && cargo build --release -p tiercel --bins)
fi
[ -x "$TIERCEL" ] || { echo "demo: $TIERCEL not found (cargo build --release)"; exit 1; }
RULES="${DEMO_RULES:-$here/rules/seed-write-below-binary-dir.yaml}"
[ -f "$RULES" ] || { echo "demo: rule file $RULES not found"; exit 1; }

work="$(mktemp -d /tmp/tiercel-demo.XXXXXX)"
sup_pid=""
cid=""
cleanup() {
    [ -n "$cid" ] && { runc kill "$cid" KILL 2>/dev/null || true; runc delete --force "$cid" 2>/dev/null || true; }
    [ -n "$sup_pid" ] && kill "$sup_pid" 2>/dev/null && wait "$sup_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bold "Preparing a busybox-static container bundle in $work/bundle"
bundle="$work/bundle"
mkdir -p "$bundle/rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,dev,sys,root}
chmod 1777 "$bundle/rootfs/tmp"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for a in $("$bundle/rootfs/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$bundle/rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bundle/rootfs/etc/passwd"
echo 'root:x:0:' > "$bundle/rootfs/etc/group"
(cd "$bundle" && runc spec)
say "rootfs: busybox $(busybox | head -1 | awk '{print $2}') with $(ls "$bundle/rootfs/bin" | wc -l) applets"

# run_scenario MODE
run_scenario() {
    local mode="$1" sock="$work/$1/tiercel.sock" log="$work/$1/falco_events.log"
    mkdir -p "$work/$mode"
    bold "$(echo "$mode" | tr a-z A-Z) mode: starting the supervisor"
    say "$TIERCEL supervise --socket $sock -r $(basename "$RULES") --mode $mode --alerts $log"
    "$TIERCEL" supervise --socket "$sock" -r "$RULES" --mode "$mode" --alerts "$log" \
        >"$work/$mode/stdout.log" 2>"$work/$mode/stderr.log" &
    sup_pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; kill -0 "$sup_pid" 2>/dev/null || break; sleep 0.1; done
    if [ ! -S "$sock" ]; then echo "demo: supervisor did not start:"; cat "$work/$mode/stderr.log"; exit 1; fi
    say "ready: $(grep -m1 -i ready "$work/$mode/stderr.log" | sed 's/\x1b\[[0-9;]*m//g' || echo "socket $sock is up")"

    say "generating the container's seccomp profile: tiercel profile -r $(basename "$RULES") --socket $sock"
    "$TIERCEL" profile -r "$RULES" --socket "$sock" --mode "$mode" > "$work/$mode/seccomp.json" 2> "$work/$mode/profile.log"
    say "$(grep -m1 '^notified syscalls:' "$work/$mode/profile.log")"
    rm -f "$bundle/rootfs/bin/evil"
    # `/bin/touch` with its path: busybox's shell runs a bare `touch` as an applet in a
    # forked shell without execve, and the kernel would show the shell's arguments.
    jq --slurpfile s "$work/$mode/seccomp.json" \
       '.process.terminal=false | .root.readonly=false
        | .process.args=["/bin/sh","-c","echo \"container: touch /bin/evil\"; /bin/touch /bin/evil && echo \"container: write succeeded\" || echo \"container: write refused (exit $?)\"; echo \"container: echo hi > /tmp/ok\"; echo hi > /tmp/ok && cat /tmp/ok"]
        | .linux.seccomp=$s[0]' "$bundle/config.json" > "$bundle/config.json.new"
    mv "$bundle/config.json.new" "$bundle/config.json"

    cid="tiercel-demo-$mode-$$"
    bold "$(echo "$mode" | tr a-z A-Z) mode: runc run $cid"
    local rc=0
    timeout 120 runc run -b "$bundle" "$cid" </dev/null >"$work/$mode/container.log" 2>&1 || rc=$?
    sed 's/^/   | /' "$work/$mode/container.log"
    runc delete --force "$cid" 2>/dev/null || true
    cid=""
    say "container exit status: $rc"
    local written=no alerted=no
    if [ -e "$bundle/rootfs/bin/evil" ]; then
        written=yes
        say "host view: $bundle/rootfs/bin/evil EXISTS"
    else
        say "host view: $bundle/rootfs/bin/evil does not exist"
    fi

    for _ in $(seq 50); do [ -s "$log" ] && break; sleep 0.1; done
    sleep 0.5
    bold "$(echo "$mode" | tr a-z A-Z) mode: tail $log"
    if [ -s "$log" ]; then
        alerted=yes
        tail -n 5 "$log" | sed 's/^/   /'
        say ""
        say "rule(s): $(jq -r '.rule' "$log" | sort | uniq -c | tr '\n' ' ')"
        jq -r '"   \(.priority): \(.output)"' "$log" | tail -n 3
    else
        say "(no alerts)"
    fi
    kill "$sup_pid" 2>/dev/null || true
    wait "$sup_pid" 2>/dev/null || true
    sup_pid=""
    case "$mode/$written/$alerted" in
        audit/yes/yes) VERDICT+=("audit: the write went through and was reported") ;;
        enforce/no/yes) VERDICT+=("enforce: the write was refused inside the container and reported") ;;
        *) VERDICT+=("$mode: UNEXPECTED (file written: $written, alert raised: $alerted)"); FAILED=1 ;;
    esac
}
VERDICT=()
FAILED=0

run_scenario audit
run_scenario enforce

bold "demo finished"
for v in "${VERDICT[@]}"; do say "$v"; done
exit "$FAILED"
