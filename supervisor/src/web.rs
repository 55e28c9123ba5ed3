//! Falco's embedded web server (`webserver:`): `/healthz` (or `k8s_healthz_endpoint`),
//! `/versions` (what falcoctl reads), and `/metrics` (Prometheus, when both
//! `webserver.prometheus_metrics_enabled` and `metrics.enabled` are set, as in Falco);
//! plain HTTP or HTTPS (`ssl_enabled`, `ssl_certificate`: one PEM file holding the
//! certificate chain and the key). axum on a single-threaded tokio runtime of its own: the
//! notify hot path never touches it. Also the periodic metrics snapshot
//! (`metrics.output_rule`, `metrics.output_file`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use saphyr::Yaml;
use serde_json::json;
use tiercel_rules::priority::Priority;

use crate::metrics::{MetricsConfig, Sources, FALCO_VERSION};
use crate::sinks::{Alert, SinkSender};

/// `webserver:` of falco.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    pub enabled: bool,
    pub listen_address: String,
    pub listen_port: u16,
    pub k8s_healthz_endpoint: String,
    pub prometheus_metrics_enabled: bool,
    pub ssl_enabled: bool,
    pub ssl_certificate: PathBuf,
}

impl Default for WebConfig {
    /// Falco's defaults for the keys, but disabled: tiercel starts a web server only when
    /// the config has a `webserver` block (a supervisor per container, started by the hook,
    /// would otherwise fight over port 8765).
    fn default() -> Self {
        WebConfig {
            enabled: false,
            listen_address: "0.0.0.0".into(),
            listen_port: 8765,
            k8s_healthz_endpoint: "/healthz".into(),
            prometheus_metrics_enabled: false,
            ssl_enabled: false,
            ssl_certificate: PathBuf::from("/etc/falco/falco.pem"),
        }
    }
}

use crate::sinks::config::{block as sub, bool_key as get_bool, err, str_key as get_str};

/// Reads `webserver:` and `metrics:`. `base` resolves relative paths.
pub fn parse_config(root: &Yaml, base: &Path) -> Result<(WebConfig, MetricsConfig), String> {
    let rel = |p: &str| {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let mut w = WebConfig::default();
    if let Some(b) = sub(root, "webserver")? {
        let k = "webserver";
        w.enabled = get_bool(b, k, "enabled", true)?;
        if let Some(a) = get_str(b, k, "listen_address")? {
            w.listen_address = a.to_string();
        }
        match b.as_mapping_get("listen_port") {
            None => {}
            Some(v) if v.is_null() => {}
            Some(v) => {
                w.listen_port = v
                    .as_integer()
                    .and_then(|i| u16::try_from(i).ok())
                    .ok_or_else(|| err("webserver.listen_port", "expected a port number"))?;
            }
        }
        if let Some(e) = get_str(b, k, "k8s_healthz_endpoint")? {
            if !e.starts_with('/') {
                return Err(err("webserver.k8s_healthz_endpoint", "expected a path"));
            }
            w.k8s_healthz_endpoint = e.to_string();
        }
        w.prometheus_metrics_enabled = get_bool(b, k, "prometheus_metrics_enabled", false)?;
        w.ssl_enabled = get_bool(b, k, "ssl_enabled", false)?;
        if let Some(c) = get_str(b, k, "ssl_certificate")? {
            w.ssl_certificate = rel(c);
        }
    }
    let mut m = MetricsConfig::default();
    if let Some(b) = sub(root, "metrics")? {
        let k = "metrics";
        m.enabled = get_bool(b, k, "enabled", false)?;
        match b.as_mapping_get("interval") {
            None => {}
            Some(v) if v.is_null() => {}
            Some(v) => {
                let s = v
                    .as_str()
                    .ok_or_else(|| err("metrics.interval", "expected a duration like 1h"))?;
                m.interval =
                    crate::metrics::parse_duration(s).map_err(|e| err("metrics.interval", &e))?;
            }
        }
        m.output_rule = get_bool(b, k, "output_rule", true)?;
        m.output_file = get_str(b, k, "output_file")?
            .filter(|s| !s.is_empty())
            .map(rel);
        m.rules_counters_enabled = get_bool(b, k, "rules_counters_enabled", true)?;
    }
    Ok((w, m))
}

#[derive(Clone)]
struct WebState {
    sources: Sources,
    prometheus: bool,
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Falco's `/versions`, with the engine version tiercel implements; `falco_version` is the
/// Falco release whose rules language that is, `tiercel_version` ours.
fn versions_json() -> serde_json::Value {
    let (maj, min, patch) = tiercel_rules::loader::ENGINE_VERSION;
    json!({
        "engine_version": min.to_string(),
        "engine_version_semver": format!("{maj}.{min}.{patch}"),
        "falco_version": FALCO_VERSION,
        "tiercel_version": env!("CARGO_PKG_VERSION"),
        "libs_version": "tiercel (seccomp user notification)",
        "plugin_api_version": "",
        "driver_api_version": "",
        "driver_schema_version": "",
        "default_driver_version": "",
    })
}

async fn versions() -> impl IntoResponse {
    Json(versions_json())
}

async fn metrics_handler(State(st): State<WebState>) -> impl IntoResponse {
    if !st.prometheus {
        return (
            axum::http::StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "metrics are off: set webserver.prometheus_metrics_enabled and metrics.enabled\n"
                .to_string(),
        );
    }
    (
        axum::http::StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.sources.prometheus(),
    )
}

/// The running web server (its thread ends with the process).
#[derive(Debug)]
pub struct WebServer {
    pub addr: SocketAddr,
}

fn tls_acceptor(cert: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = std::fs::read(cert).with_context(|| format!("ssl_certificate {cert:?}"))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("ssl_certificate {cert:?}: certificates"))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "ssl_certificate {cert:?}: no certificate"
    );
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .with_context(|| format!("ssl_certificate {cert:?}: no private key"))?;
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Binds now (a busy port or a bad certificate fails at start) and serves on a thread.
pub fn start(
    cfg: &WebConfig,
    metrics: &MetricsConfig,
    sources: Sources,
) -> anyhow::Result<WebServer> {
    let addr = format!("{}:{}", cfg.listen_address, cfg.listen_port);
    let listener = std::net::TcpListener::bind(&addr)
        .with_context(|| format!("webserver: listening on {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let tls = if cfg.ssl_enabled {
        Some(tls_acceptor(&cfg.ssl_certificate)?)
    } else {
        None
    };
    let state = WebState {
        sources,
        prometheus: cfg.prometheus_metrics_enabled && metrics.enabled,
    };
    let app = Router::new()
        .route(&cfg.k8s_healthz_endpoint, get(healthz))
        .route("/versions", get(versions))
        .route("/metrics", get(metrics_handler))
        .with_state(state);
    std::thread::Builder::new()
        .name("tiercel-web".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("webserver: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!("webserver: {e}");
                        return;
                    }
                };
                match tls {
                    None => {
                        if let Err(e) = axum::serve(listener, app).await {
                            tracing::error!("webserver: {e}");
                        }
                    }
                    Some(acceptor) => loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let (acceptor, app) = (acceptor.clone(), app.clone());
                        tokio::spawn(async move {
                            // A client that never finishes its handshake holds one task,
                            // not the server.
                            let Ok(Ok(tls)) =
                                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp))
                                    .await
                            else {
                                return;
                            };
                            let svc = hyper_util::service::TowerToHyperService::new(app);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                                .await;
                        });
                    },
                }
            });
        })?;
    tracing::info!(
        "webserver listening on {}://{local}",
        if cfg.ssl_enabled { "https" } else { "http" }
    );
    Ok(WebServer { addr: local })
}

/// The periodic metrics snapshot (`metrics.enabled` with `output_rule` and/or
/// `output_file`): an alert of the rule "Falco internal: metrics snapshot" through the
/// outputs, and/or one JSON line appended to the file, every `interval`.
pub fn start_snapshots(
    m: &MetricsConfig,
    sources: Sources,
    sink: SinkSender,
    hostname: String,
) -> anyhow::Result<()> {
    if !m.enabled || !(m.output_rule || m.output_file.is_some()) {
        return Ok(());
    }
    let m = m.clone();
    std::thread::Builder::new()
        .name("tiercel-metrics".into())
        .spawn(move || loop {
            std::thread::sleep(m.interval);
            let fields = sources.snapshot_fields(m.rules_counters_enabled);
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let alert = Alert {
                alert: tiercel_rules::output::Alert {
                    rule: "Falco internal: metrics snapshot".into(),
                    priority: Priority::Informational,
                    source: "internal".into(),
                    tags: vec![],
                    message: "Falco metrics snapshot".into(),
                    output_fields: fields,
                    time_ns: now,
                    hostname: hostname.clone(),
                    options: Default::default(),
                },
                denied: None,
                resolved: None,
                action: None,
                meta_source: None,
                would_deny: false,
            };
            if let Some(p) = &m.output_file {
                let line = alert.json().to_string();
                let r = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .and_then(|mut f| writeln!(f, "{line}"));
                if let Err(e) = r {
                    tracing::warn!("metrics.output_file {p:?}: {e}");
                }
            }
            if m.output_rule {
                sink.send_internal(alert);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    fn p(text: &str) -> Result<(WebConfig, MetricsConfig), String> {
        let docs = Yaml::load_from_str(text).unwrap();
        parse_config(&docs[0], Path::new("/etc/falco"))
    }

    #[test]
    fn config_keys() {
        let (w, m) = p("{}").unwrap();
        assert!(!w.enabled && !m.enabled);
        let (w, m) = p(r#"
webserver: {listen_port: 9000, listen_address: 127.0.0.1, prometheus_metrics_enabled: true,
            ssl_enabled: true, ssl_certificate: cert.pem, k8s_healthz_endpoint: /health}
metrics: {enabled: true, interval: 15m, output_rule: false, output_file: m.jsonl}
"#)
        .unwrap();
        assert!(w.enabled && w.prometheus_metrics_enabled && w.ssl_enabled);
        assert_eq!(w.listen_port, 9000);
        assert_eq!(w.ssl_certificate, Path::new("/etc/falco/cert.pem"));
        assert_eq!(w.k8s_healthz_endpoint, "/health");
        assert_eq!(m.interval, Duration::from_secs(900));
        assert!(!m.output_rule);
        assert_eq!(
            m.output_file.as_deref(),
            Some(Path::new("/etc/falco/m.jsonl"))
        );
        assert_eq!(
            p("webserver: {listen_port: 70000}").unwrap_err(),
            "config: webserver.listen_port: expected a port number"
        );
        assert!(p("metrics: {interval: soon}")
            .unwrap_err()
            .starts_with("config: metrics.interval:"));
    }

    #[test]
    fn versions_say_the_engine() {
        let v = versions_json();
        assert_eq!(v["engine_version_semver"], "0.63.0");
        assert_eq!(v["engine_version"], "63");
    }
}
