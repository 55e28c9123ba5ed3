//! Running tiercel like Falco in production, end to end with a real runc container: a
//! falco.yaml-style config with the web server, Prometheus metrics and an `http_output` to an
//! endpoint that accepts connections and never answers (a black hole). The container's
//! notified calls must not slow down or fail because of the dead endpoint (the measured
//! slowest call is printed), and `curl` of `/healthz`, `/versions` and `/metrics` after the
//! real alerts shows the rule counters and the HTTP output's drops.

use std::fs;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use tiercel_e2e::*;

const RUN: Duration = Duration::from_secs(120);

fn curl(url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_string(), code.to_string())
}

/// The web server's address from the supervisor's log line `webserver listening on …`.
fn web_addr(sup: &Supervisor) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = sup.stderr();
        if let Some(rest) = log.split("webserver listening on http://").nth(1) {
            return rest.split_whitespace().next().map(str::to_string);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn black_hole_http_output_and_metrics_after_real_alerts() {
    let t = "black_hole_http_output_and_metrics_after_real_alerts";
    let Some(env) = container_env(t) else { return };
    if !require(t, "curl not installed (scripts/setup.sh)", have("curl")) {
        return;
    }
    // The black hole: connections are accepted (kept in the backlog) and never answered.
    let hole = TcpListener::bind("127.0.0.1:0").expect("bind");
    let hole_port = hole.local_addr().unwrap().port();
    // Accepted connections are kept open, never read, until the test process ends.
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in hole.incoming().flatten() {
            conns.push(c);
        }
    });
    let seed = example("rules/seed-write-below-binary-dir.yaml");
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = cfg_dir.path().join("falco.yaml");
    fs::write(
        &cfg,
        format!(
            "json_output: true\n\
             stdout_output:\n  enabled: false\n\
             http_output:\n  enabled: true\n  url: http://127.0.0.1:{hole_port}/\n\
             outputs_queue:\n  capacity: 512\n\
             webserver:\n  enabled: true\n  listen_address: 127.0.0.1\n  listen_port: 0\n  \
             prometheus_metrics_enabled: true\n\
             metrics:\n  enabled: true\n  output_rule: false\n"
        ),
    )
    .unwrap();
    let mut opts = SupervisorOpts::new(std::slice::from_ref(&seed), "audit");
    opts.extra = vec!["-c".into(), cfg.display().to_string()];
    let sup = Supervisor::start(&env.tiercel, opts).expect("supervisor");
    let addr = web_addr(&sup).unwrap_or_else(|| panic!("{t}: no web server\n{}", sup.dump()));
    let base = format!("http://{addr}");

    // A container whose 2 threads write below /bin every ms for 3 s: every call is notified
    // and alerts, and every alert is offered to the dead HTTP endpoint, whose queue (512,
    // `outputs_queue.capacity`) fills: the container makes 4000–6000 calls depending on the
    // machine's timer slack, so the default 4096 would not always be reached.
    let mut b = Bundle::busybox(Some(&env.probe)).expect("bundle");
    b.set_seccomp(sup.profile().expect("profile"));
    b.set_args(&["/probe", "hammer", "2", "3000", "/bin/ops"]);
    let id = container_id("ops");
    let out = run_container(&b, &id, RUN).expect("runc run");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("HAMMER "))
        .unwrap_or_else(|| panic!("{t}: no HAMMER line: {out:?}\n{}", sup.dump()));
    println!("{t}: {line}");
    let count = |k: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{t}: no {k}= in {line}"))
    };
    assert!(count("calls") > 1000, "{t}: too few calls: {line}");
    assert_eq!(count("ok"), count("calls"), "{t}: failed calls: {line}");
    assert_eq!(
        count("enosys") + count("other") + count("eperm"),
        0,
        "{t}: {line}"
    );

    let (body, code) = curl(&format!("{base}/healthz"));
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", r#"{"status":"ok"}"#)
    );
    let (body, code) = curl(&format!("{base}/versions"));
    assert_eq!(code, "200", "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("versions JSON");
    assert_eq!(v["engine_version_semver"], "0.63.0");
    let (metrics, code) = curl(&format!("{base}/metrics"));
    assert_eq!(code, "200", "{metrics}");
    let value = |prefix: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{t}: no {prefix} in\n{metrics}"))
    };
    let matches = value("falcosecurity_falco_rules_matches_total{");
    let front_drops = value("falcosecurity_falco_outputs_queue_num_drops_total");
    assert!(
        matches + front_drops >= count("calls"),
        "{t}: {matches} matches + {front_drops} drops for {line}"
    );
    assert!(value("tiercel_notifications_total") >= count("calls"));
    // The dead endpoint dropped its own alerts; the front queue dropped none of them
    // through it, and the alerts file got every one.
    assert!(
        value("tiercel_output_dropped_total{output=\"http\"}") > 0,
        "{metrics}"
    );
    assert_eq!(value("tiercel_output_written_total{output=\"http\"}"), 0);
    let alerts = sup.alerts().expect("alerts");
    assert!(
        !alerts.is_empty(),
        "{t}: no alerts in the file output\n{}",
        sup.dump()
    );
    println!(
        "{t}: {} notified writes, slowest {} µs, with the HTTP endpoint dead",
        count("calls"),
        count("max_us")
    );
    drop(held);
}
