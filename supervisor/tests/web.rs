//! The web server and metrics of `tiercel supervise`, against a real listener: `/healthz`,
//! `/versions`, `/metrics` over HTTP and HTTPS (a certificate made by the test), and the
//! periodic metrics snapshot file.

use std::path::Path;
use std::time::{Duration, Instant};

use tiercel::metrics::MetricsConfig;
use tiercel::sinks::SinkConfig;
use tiercel::supervise::{Supervisor, SupervisorConfig};
use tiercel::web::WebConfig;
use tiercel_rules::program::{Program, RuleMatching};

fn start(dir: &Path, web: WebConfig, metrics: MetricsConfig) -> Supervisor {
    Supervisor::start(SupervisorConfig {
        socket: dir.join("s.sock"),
        program: Program::default(),
        matching: RuleMatching::First,
        policy: Default::default(),
        alert_options: Default::default(),
        web,
        metrics,
        sinks: SinkConfig::default(),
        watched: Vec::new(),
        watch: false,
        log: Default::default(),
    })
    .unwrap()
}

fn local_web() -> WebConfig {
    WebConfig {
        enabled: true,
        listen_address: "127.0.0.1".into(),
        listen_port: 0,
        prometheus_metrics_enabled: true,
        ..WebConfig::default()
    }
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, String) {
    match agent.get(url).call() {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap()),
        Err(ureq::Error::StatusCode(c)) => (c, String::new()),
        Err(e) => panic!("{url}: {e}"),
    }
}

#[test]
fn healthz_versions_metrics_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let sup = start(
        dir.path(),
        local_web(),
        MetricsConfig {
            enabled: true,
            ..MetricsConfig::default()
        },
    );
    let base = format!("http://{}", sup.web_addr().unwrap());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into();
    let (c, body) = get(&agent, &format!("{base}/healthz"));
    assert_eq!((c, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (c, body) = get(&agent, &format!("{base}/versions"));
    assert_eq!(c, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["engine_version_semver"], "0.63.0");
    let (c, body) = get(&agent, &format!("{base}/metrics"));
    assert_eq!(c, 200);
    for name in [
        "# TYPE falcosecurity_falco_outputs_queue_num_drops counter",
        "falcosecurity_falco_outputs_queue_num_drops_total 0",
        "tiercel_notifications_total 0",
        "tiercel_sessions_active 0",
        "# TYPE tiercel_cache_bytes gauge",
        "# TYPE tiercel_proc_watches gauge",
        "# TYPE tiercel_notification_handling_seconds histogram",
        "tiercel_notification_handling_seconds_bucket{le=\"+Inf\"} 0",
        "# EOF",
    ] {
        assert!(body.contains(name), "{name} missing in:\n{body}");
    }
    let (c, _) = get(&agent, &format!("{base}/nope"));
    assert_eq!(c, 404);
    sup.shutdown();
}

#[test]
fn metrics_need_both_switches() {
    let dir = tempfile::tempdir().unwrap();
    let sup = start(dir.path(), local_web(), MetricsConfig::default());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .build()
        .into();
    let (c, _) = get(
        &agent,
        &format!("http://{}/metrics", sup.web_addr().unwrap()),
    );
    assert_eq!(c, 404, "metrics.enabled is off");
    sup.shutdown();
}

#[test]
fn https_with_one_pem_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pem = dir.path().join("falco.pem");
    std::fs::write(&pem, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let sup = start(
        dir.path(),
        WebConfig {
            ssl_enabled: true,
            ssl_certificate: pem,
            ..local_web()
        },
        MetricsConfig::default(),
    );
    let port = sup.web_addr().unwrap().port();
    let root = ureq::tls::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[root]))
                .build(),
        )
        .build()
        .into();
    let (c, body) = get(&agent, &format!("https://localhost:{port}/healthz"));
    assert_eq!((c, body.as_str()), (200, r#"{"status":"ok"}"#));
    sup.shutdown();
}

#[test]
fn snapshot_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("metrics.jsonl");
    let sup = start(
        dir.path(),
        WebConfig::default(),
        MetricsConfig {
            enabled: true,
            interval: Duration::from_millis(100),
            output_rule: false,
            output_file: Some(file.clone()),
            rules_counters_enabled: true,
        },
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&file).map_or(0, |s| s.lines().count()) < 2
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["rule"], "Falco internal: metrics snapshot");
    assert_eq!(first["priority"], "Informational");
    assert_eq!(first["output_fields"]["falco.version"], "0.44.1");
    assert_eq!(first["output_fields"]["falco.rules.matches_total"], 0);
    sup.shutdown();
}
