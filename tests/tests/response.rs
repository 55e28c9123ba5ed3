//! Response actions beyond the errno (`--deny SELECTOR,action=…`, `SELECTOR=ERRNO`): real
//! runc containers (busybox-static), the real `tiercel` binary, the static probe. Root;
//! run with `cargo test -p tiercel-e2e --test response -- --test-threads=1`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(90);
const ALERT_WAIT: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_millis(1500);
const WRITE_BELOW_BIN: &str = "Write below binary dir";

fn supervisor(env: &Env, seed: PathBuf, deny: &str) -> Supervisor {
    let mut opts = SupervisorOpts::new(&[seed], "enforce");
    opts.extra = vec!["--deny".into(), deny.into()];
    Supervisor::start(&env.tiercel, opts).expect("supervisor")
}

fn denials<'a>(alerts: &'a [Value], file: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["rule"] == WRITE_BELOW_BIN && a["output_fields"]["fd.name"] == file)
        .collect()
}

/// `action=kill-process`: the writer is refused, then killed; its parent shell sees the
/// SIGKILL status (137) and goes on; the container exits normally.
#[test]
fn kill_process_on_write_below_bin() {
    let t = "kill_process_on_write_below_bin";
    let Some(env) = container_env(t) else { return };
    let Some(seed) = seed_rules(t) else { return };
    let sup = supervisor(
        &env,
        seed,
        "rule:Write below binary dir,action=kill-process",
    );
    let mut b = bundle_for(&env, &sup);
    b.set_script(
        "/bin/touch /bin/evil; echo touch_rc=$?; /probe write /bin/evil2; echo probe_rc=$?; \
         echo data > /tmp/ok && cat /tmp/ok && echo shell_alive",
    );
    let id = container_id("killproc");
    let out = run_container(&b, &id, RUN).expect("runc run");
    assert!(
        out.success(),
        "{t}: the container (shell) must exit 0: {out:?}\n{}",
        sup.dump()
    );
    assert!(
        out.stdout.contains("touch_rc=137"),
        "{t}: touch must die of SIGKILL: {out:?}"
    );
    assert!(
        out.stdout.contains("probe_rc=137"),
        "{t}: probe must die of SIGKILL: {out:?}"
    );
    assert!(
        !out.stdout.contains("CALL write"),
        "{t}: the probe must not live to report its call: {out:?}"
    );
    assert!(
        out.stdout.contains("data") && out.stdout.contains("shell_alive"),
        "{t}: {out:?}"
    );
    assert!(
        !b.host_path("/bin/evil").exists(),
        "{t}: /bin/evil was created"
    );
    assert!(
        !b.host_path("/bin/evil2").exists(),
        "{t}: /bin/evil2 was created"
    );
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| {
            !denials(a, "/bin/evil").is_empty() && !denials(a, "/bin/evil2").is_empty()
        })
        .expect("alerts");
    for f in ["/bin/evil", "/bin/evil2"] {
        let hits = denials(&alerts, f);
        assert_eq!(hits.len(), 1, "{t}: {f}: {alerts:#?}\n{}", sup.dump());
        assert_eq!(
            hits[0]["tiercel"]["action"], "kill-process",
            "{t}: {}",
            hits[0]
        );
        assert_eq!(hits[0]["tiercel"]["errno"], "EPERM", "{t}: {}", hits[0]);
    }
}

/// `action=kill-container`: the write is refused, then the container's init is killed
/// through a pidfd, which ends every process of its pid namespace (a background sleeper
/// too); `runc state` says stopped.
#[test]
fn kill_container_on_write_below_bin() {
    let t = "kill_container_on_write_below_bin";
    let Some(env) = container_env(t) else { return };
    let Some(seed) = seed_rules(t) else { return };
    let sup = supervisor(
        &env,
        seed,
        "rule:Write below binary dir=EROFS,action=kill-container",
    );
    let mut b = bundle_for(&env, &sup);
    b.set_script(
        "sleep 300 & sleep 1; /bin/touch /bin/evil; echo survived > /tmp/survived; sleep 300",
    );
    let id = container_id("killctr");
    let c = Detached::start(&b, &id, RUN).expect("runc run -d");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut status = c.status();
    while status.as_deref() != Some("stopped") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        status = c.status();
    }
    assert_eq!(
        status.as_deref(),
        Some("stopped"),
        "{t}: container still running\n{}",
        sup.dump()
    );
    assert!(
        !b.host_path("/bin/evil").exists(),
        "{t}: /bin/evil was created"
    );
    assert!(
        !b.host_path("/tmp/survived").exists(),
        "{t}: the shell ran on after the denied write"
    );
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| !denials(a, "/bin/evil").is_empty())
        .expect("alerts");
    let hits = denials(&alerts, "/bin/evil");
    assert_eq!(hits.len(), 1, "{t}: {alerts:#?}\n{}", sup.dump());
    assert_eq!(
        hits[0]["tiercel"]["action"], "kill-container",
        "{t}: {}",
        hits[0]
    );
    assert_eq!(hits[0]["tiercel"]["errno"], "EROFS", "{t}: {}", hits[0]);
    // No process of the container is left (the background sleeper died with init).
    let left = std::process::Command::new("runc")
        .args(["ps", &id])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(!left.contains("sleep"), "{t}: processes left: {left}");
}

/// A per-selector errno: the selected rule answers EROFS (the global errno stays EPERM
/// for the others), no action beyond the errno.
#[test]
fn per_selector_errno_seen_by_the_caller() {
    let t = "per_selector_errno_seen_by_the_caller";
    let Some(env) = container_env(t) else { return };
    let Some(seed) = seed_rules(t) else { return };
    let sup = supervisor(&env, seed, "rule:Write below binary dir=EROFS");
    let mut b = bundle_for(&env, &sup);
    b.set_script("touch /bin/evil; echo touch_rc=$?; /probe write /bin/evil2; echo probe_rc=$?");
    let id = container_id("errno");
    let out = run_container(&b, &id, RUN).expect("runc run");
    assert!(out.success(), "{t}: {out:?}\n{}", sup.dump());
    assert!(out.stdout.contains("touch_rc=1"), "{t}: {out:?}");
    assert!(
        out.stderr.contains("Read-only file system"),
        "{t}: want EROFS from touch: {out:?}"
    );
    assert!(
        out.stdout.contains("CALL write errno EROFS 30"),
        "{t}: {out:?}"
    );
    assert!(out.stdout.contains("probe_rc="), "{t}: {out:?}");
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| !denials(a, "/bin/evil2").is_empty())
        .expect("alerts");
    let hits = denials(&alerts, "/bin/evil2");
    assert_eq!(hits.len(), 1, "{t}: {alerts:#?}");
    assert_eq!(hits[0]["tiercel"]["action"], "deny");
    assert_eq!(hits[0]["tiercel"]["errno"], "EROFS");
}

/// Audit → tune → enforce: the writes seen in an audit run are excepted by the file
/// `tiercel tune` writes from its alerts; in enforce mode with that file they succeed,
/// while another write below /bin is still refused.
#[test]
fn tune_then_enforce() {
    let t = "tune_then_enforce";
    let Some(env) = container_env(t) else { return };
    let Some(seed) = seed_rules(t) else { return };
    let mut sup = Supervisor::start(
        &env.tiercel,
        SupervisorOpts::new(std::slice::from_ref(&seed), "audit"),
    )
    .expect("supervisor");
    let mut b = bundle_for(&env, &sup);
    b.set_script("/bin/touch /bin/tool; echo touch_rc=$?; /probe write /bin/tool.conf");
    let out = run_container(&b, &container_id("tuneaudit"), RUN).expect("runc run");
    assert!(
        out.success() && out.stdout.contains("touch_rc=0"),
        "{t}: {out:?}"
    );
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| {
            !denials(a, "/bin/tool").is_empty() && !denials(a, "/bin/tool.conf").is_empty()
        })
        .expect("alerts");
    assert_eq!(alerts.len(), 2, "{t}: {alerts:#?}");
    sup.stop();
    let tuned = sup.dir.path().join("tuned.yaml");
    let tune = std::process::Command::new(&env.tiercel)
        .arg("tune")
        .arg("--alerts")
        .arg(&sup.alerts_path)
        .arg("-r")
        .arg(&seed)
        .arg("-o")
        .arg(&tuned)
        .output()
        .expect("tiercel tune");
    let summary = String::from_utf8_lossy(&tune.stderr);
    assert!(tune.status.success(), "{t}: tune: {summary}");
    assert!(
        summary.contains("Write below binary dir: 2 alerts, 2 distinct (fd.name) tuples"),
        "{t}: {summary}"
    );

    let mut opts = SupervisorOpts::new(&[seed, tuned.clone()], "enforce");
    opts.extra = vec!["--deny".into(), "rule:Write below binary dir=EROFS".into()];
    let sup = Supervisor::start(&env.tiercel, opts).expect("enforce supervisor");
    let mut b = bundle_for(&env, &sup);
    b.set_script(
        "rm -f /bin/tool /bin/tool.conf; /bin/touch /bin/tool; echo touch_rc=$?; \
         /probe write /bin/tool.conf; /probe write /bin/other; true",
    );
    let out = run_container(&b, &container_id("tuneenf"), RUN).expect("runc run");
    assert!(out.success(), "{t}: {out:?}\n{}", sup.dump());
    assert!(
        out.stdout.contains("touch_rc=0"),
        "{t}: tuned write refused: {out:?}"
    );
    assert!(
        out.stdout.contains("CALL write ok"),
        "{t}: tuned probe write refused: {out:?}"
    );
    assert!(
        out.stdout.contains("CALL write errno EROFS 30"),
        "{t}: the other write must still be refused: {out:?}"
    );
    assert!(
        !b.host_path("/bin/other").exists(),
        "{t}: /bin/other created"
    );
    let alerts = sup
        .wait_alerts(ALERT_WAIT, SETTLE, |a| !denials(a, "/bin/other").is_empty())
        .expect("alerts");
    assert!(denials(&alerts, "/bin/tool").is_empty(), "{t}: {alerts:#?}");
    assert!(
        denials(&alerts, "/bin/tool.conf").is_empty(),
        "{t}: {alerts:#?}"
    );
}
