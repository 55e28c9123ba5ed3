//! Syscalls newer than the runtime's libseccomp can name (runc 1.1.5 links libseccomp
//! 2.5.4): `setxattrat` (463) would set `security.capability` on `/bin/busybox` under the
//! enforce preset, which watches `setxattr` but has no event type for `setxattrat`.
//! Enforce profiles refuse every syscall tiercel does not allow by name (ENOSYS); audit
//! profiles let them through (the control that shows the probe reaches the kernel).
//! Run as root: `cargo test -p tiercel-e2e --test newsyscalls -- --test-threads=1`.

use std::collections::BTreeMap;
use std::time::Duration;

use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(90);

/// `CALL <name> ok` / `CALL <name> errno <NAME> <n>` lines → name → "ok" | errno name.
fn calls(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == "CALL").then_some(())?;
            let name = it.next()?.to_string();
            let result = match it.next()? {
                "errno" => it.next()?.to_string(),
                other => other.to_string(),
            };
            Some((name, result))
        })
        .collect()
}

/// The host's view of an xattr of a file in the bundle (`probe xattr`).
fn host_xattr(env: &Env, b: &Bundle, path: &str, name: &str) -> String {
    let host = b.host_path(path);
    let out = probe_host(&env.probe, &["xattr", host.to_str().unwrap(), name]).expect("probe");
    out.stdout.trim().to_string()
}

/// Runs `/probe newsyscalls /bin/busybox` under the preset in `mode`.
fn run_probe(env: &Env, mode: &str) -> (Bundle, BTreeMap<String, String>, String) {
    let preset = example("rules/protect-binary-dirs.yaml");
    let sup =
        Supervisor::start(&env.tiercel, SupervisorOpts::new(&[preset], mode)).expect("supervisor");
    let profile = sup
        .profile()
        .unwrap_or_else(|e| panic!("tiercel profile: {e:#}\n{}", sup.dump()));
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    b.set_seccomp(profile);
    b.set_args(&["/probe", "newsyscalls", "/bin/busybox"]);
    let out = run_container(&b, &container_id(&format!("newsc-{mode}")), RUN).expect("runc run");
    assert!(
        out.success() && out.stdout.contains("DONE newsyscalls"),
        "{mode}: {out:?}\n{}",
        sup.dump()
    );
    let dump = sup.dump();
    (b, calls(&out.stdout), dump)
}

#[test]
fn enforce_refuses_syscalls_newer_than_libseccomp() {
    let t = "enforce_refuses_syscalls_newer_than_libseccomp";
    let Some(env) = container_env(t) else { return };
    let busybox = std::fs::read(busybox_static().expect("busybox")).unwrap();

    // Control: an audit profile allows by default; the kernel runs setxattrat and the
    // capability lands on the bundle's busybox.
    let (b, got, dump) = run_probe(&env, "audit");
    assert_eq!(
        got.get("setxattrat").map(String::as_str),
        Some("ok"),
        "{got:?}\n{dump}"
    );
    assert_eq!(
        host_xattr(&env, &b, "/bin/busybox", "security.capability"),
        "XATTR security.capability size 20"
    );
    drop(b);

    // Enforce: refused before the kernel sees them, with ENOSYS (so libc would fall back
    // to the calls the rules watch), and /bin/busybox is unchanged.
    let (b, got, dump) = run_probe(&env, "enforce");
    for name in [
        "setxattrat",
        "removexattrat",
        "file_getattr",
        "file_setattr",
        "open_tree_attr",
    ] {
        assert_eq!(
            got.get(name).map(String::as_str),
            Some("ENOSYS"),
            "{name}: {got:?}\n{dump}"
        );
    }
    assert_eq!(
        host_xattr(&env, &b, "/bin/busybox", "security.capability"),
        "XATTR security.capability errno ENODATA 61"
    );
    assert_eq!(
        std::fs::read(b.host_path("/bin/busybox")).unwrap(),
        busybox,
        "/bin/busybox changed"
    );
}
