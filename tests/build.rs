//! Builds the in-container probe and the evtgen conformance helper (static C) and the
//! benchmark's minimal notifier with gcc.
//! A missing compiler is not a build error: the tests then report the probe as missing
//! (a skip outside CI, a failure in CI).

use std::path::{Path, PathBuf};
use std::process::Command;

fn gcc(out: &Path, name: &str, src: &str, extra: &[&str]) -> Option<PathBuf> {
    let dst = out.join(name);
    let status = Command::new("gcc")
        .args(extra)
        .args(["-O2", "-Wall", "-pthread", "-o"])
        .arg(&dst)
        .arg(src)
        .status();
    match status {
        Ok(s) if s.success() => Some(dst),
        Ok(s) => {
            println!("cargo:warning=gcc failed for {src}: {s}");
            None
        }
        Err(e) => {
            println!("cargo:warning=gcc not available for {src}: {e}");
            None
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=probe/probe.c");
    println!("cargo:rerun-if-changed=bench/notifier.c");
    println!("cargo:rerun-if-changed=evtgen/evtgen.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let probe = gcc(&out, "probe", "probe/probe.c", &["-static", "-no-pie"]);
    let notifier = gcc(&out, "notifier", "bench/notifier.c", &[]);
    let evtgen = gcc(&out, "evtgen", "evtgen/evtgen.c", &["-static", "-no-pie"]);
    let show = |p: Option<PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_default();
    println!("cargo:rustc-env=TIERCEL_E2E_PROBE={}", show(probe));
    println!("cargo:rustc-env=TIERCEL_E2E_NOTIFIER={}", show(notifier));
    println!("cargo:rustc-env=TIERCEL_E2E_EVTGEN={}", show(evtgen));
}
