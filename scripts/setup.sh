#!/usr/bin/env bash
# Install what tiercel's build, tests, demo and benchmark need on Debian 12 (run as root).
# Idempotent: installs only what is missing, runs `apt-get update` at most once, and says
# what it did.
set -euo pipefail

# Everything the tests use: the runtimes and engines of the end-to-end tests (runc, crun,
# podman, docker.io, containerd; uidmap and slirp4netns for rootless containers), the
# container rootfs (busybox-static), the probe's static build (gcc, libc6-dev), the musl C
# compiler for the static image build (musl-tools: ring's C parts), the deploy file checks
# (python3 with PyYAML; python3-venv for the Kubernetes schema validator), jq for the demo
# and the benchmark, valgrind for the benchmark's instruction counts.
PKGS=(runc crun podman docker.io containerd uidmap slirp4netns busybox-static
      libseccomp-dev gcc libc6-dev musl-tools make jq valgrind python3 python3-yaml python3-venv
      pkg-config tar gzip procps util-linux coreutils iproute2)

say() { printf 'setup: %s\n' "$*"; }

if [ "$(uname -s)" != Linux ]; then
    say "not Linux; nothing to do"; exit 0
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PKGS[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$st" in *"install ok installed"*) ;; *) missing+=("$p") ;; esac
    done
else
    say "dpkg-query not found: not a Debian system, skipping package checks"
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "missing packages: ${missing[*]} (need root to install them)"; exit 1
    fi
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    say "installed: ${missing[*]}"
else
    say "all packages present: ${PKGS[*]}"
fi

# The Kubernetes schema validator (PyPI's kubernetes-validate ships the API schemas, so
# validating needs no network) for the deploy/kubernetes test, in its own virtualenv.
KV=/opt/tiercel-tools/kv
if [ -x "$KV/bin/kubernetes-validate" ]; then
    say "kubernetes-validate present"
elif [ "$(id -u)" -eq 0 ] && python3 -m venv "$KV" >/dev/null 2>&1 \
        && "$KV/bin/pip" install -q kubernetes-validate >/dev/null 2>&1; then
    say "installed kubernetes-validate in $KV"
else
    say "WARNING: could not install kubernetes-validate (the Kubernetes files test will skip)"
fi

# Static (musl) Rust target for the container-side helpers and the sidecar image.
if command -v rustup >/dev/null 2>&1; then
    if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
        say "rust target x86_64-unknown-linux-musl present"
    elif rustup target add x86_64-unknown-linux-musl >/dev/null 2>&1; then
        say "installed rust target x86_64-unknown-linux-musl"
    else
        say "WARNING: could not add rust target x86_64-unknown-linux-musl: the static build for the image (make test) will fail"
    fi
else
    say "rustup not found: skipping the musl target"
fi

# Components that lint needs.
if command -v rustup >/dev/null 2>&1; then
    for c in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
            rustup component add "$c" >/dev/null 2>&1 && say "installed rust component $c" \
                || say "WARNING: could not add rust component $c"
        fi
    done
fi

# Facts the tests depend on.
for b in runc crun podman docker containerd busybox gcc jq python3 newuidmap slirp4netns; do
    command -v "$b" >/dev/null 2>&1 || { say "ERROR: $b not found after install"; exit 1; }
done
python3 -c 'import yaml' 2>/dev/null || { say "ERROR: python3 cannot import yaml (python3-yaml)"; exit 1; }
if ! file_out=$(busybox 2>&1 | head -1); then :; fi
say "runc: $(runc --version | head -1); kernel: $(uname -r); $file_out"
