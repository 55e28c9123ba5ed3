//! Falco's `http_output` (falcosidekick, webhooks): one POST per alert with `ureq` over
//! rustls — the server verified against `ca_cert`, `ca_bundle` or the PEM files of
//! `ca_path` (Mozilla's roots when none is set), `insecure` to skip verification, `mtls`
//! with `client_cert`/`client_key`; `keep_alive` reuses the connection; `compress_uploads`
//! gzips the body; `echo` prints the server's answer. Transient failures (connection
//! errors, timeouts, 429 and 5xx answers) are retried with backoff; after
//! `max_consecutive_timeouts` timeouts in a row each alert gets one attempt until the
//! endpoint answers again, so a black hole costs one timeout per alert, on this output's
//! own thread only.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use ureq::tls::{parse_pem, Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};
use ureq::Agent;

use super::config::HttpOutputConfig;
use super::{Formatted, Output};

/// Attempts per alert while the endpoint is not known to be timing out.
const ATTEMPTS: u32 = 3;
/// Backoff before the second and third attempts.
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(500)];
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `echo` prints at most this much of an answer.
const ECHO_LIMIT: u64 = 64 * 1024;

pub(super) struct HttpOutput {
    agent: Agent,
    url: String,
    json: bool,
    compress: bool,
    echo: bool,
    max_consecutive_timeouts: u32,
    consecutive_timeouts: u32,
}

fn read(path: &Path, what: &str) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{what} {path:?}: {e}")))
}

fn certs_in(pem: &[u8], path: &Path) -> io::Result<Vec<Certificate<'static>>> {
    let mut out = Vec::new();
    for item in parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => out.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{path:?}: {e}"),
                ))
            }
        }
    }
    Ok(out)
}

/// The trust store: `ca_cert` and `ca_bundle` files, else the PEM files in `ca_path`, else
/// Mozilla's roots (webpki-roots).
fn root_certs(c: &HttpOutputConfig) -> io::Result<RootCerts> {
    let mut certs = Vec::new();
    for p in [&c.ca_cert, &c.ca_bundle].into_iter().flatten() {
        let found = certs_in(&read(p, "CA file")?, p)?;
        if found.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("CA file {p:?}: no PEM certificate"),
            ));
        }
        certs.extend(found);
    }
    if certs.is_empty() {
        if let Some(dir) = c.ca_path.as_deref().filter(|d| d.is_dir()) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            entries.sort();
            for p in entries {
                // Hash links and other files in a CA directory may not be PEM: skip them.
                if let Ok(pem) = std::fs::read(&p) {
                    certs.extend(certs_in(&pem, &p).unwrap_or_default());
                }
            }
        }
    }
    Ok(if certs.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::from(certs)
    })
}

fn client_cert(c: &HttpOutputConfig) -> io::Result<Option<ClientCert>> {
    if !c.mtls {
        return Ok(None);
    }
    let chain = certs_in(&read(&c.client_cert, "client_cert")?, &c.client_cert)?;
    if chain.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("client_cert {:?}: no PEM certificate", c.client_cert),
        ));
    }
    let key = PrivateKey::from_pem(&read(&c.client_key, "client_key")?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("client_key {:?}: {e}", c.client_key),
        )
    })?;
    Ok(Some(ClientCert::new_with_certs(&chain, key)))
}

impl HttpOutput {
    /// Builds the client; unreadable CA or client files fail here, at start.
    pub(super) fn new(c: &HttpOutputConfig, json: bool) -> io::Result<HttpOutput> {
        let tls = TlsConfig::builder()
            .root_certs(root_certs(c)?)
            .client_cert(client_cert(c)?)
            .disable_verification(c.insecure)
            .build();
        let agent: Agent = Agent::config_builder()
            .tls_config(tls)
            .user_agent(c.user_agent.as_str())
            .timeout_connect(Some(CONNECT_TIMEOUT.min(c.timeout)))
            .timeout_global(Some(c.timeout))
            .max_idle_connections(if c.keep_alive { 4 } else { 0 })
            .max_idle_connections_per_host(if c.keep_alive { 4 } else { 0 })
            .http_status_as_error(true)
            .build()
            .into();
        Ok(HttpOutput {
            agent,
            url: c.url.clone(),
            json,
            compress: c.compress_uploads,
            echo: c.echo,
            max_consecutive_timeouts: c.max_consecutive_timeouts,
            consecutive_timeouts: 0,
        })
    }

    fn post(&self, body: &[u8]) -> Result<String, ureq::Error> {
        let ctype = if self.json {
            "application/json"
        } else {
            "text/plain"
        };
        let mut req = self.agent.post(&self.url).header("Content-Type", ctype);
        if self.compress {
            req = req.header("Content-Encoding", "gzip");
        }
        let mut resp = req.send(body)?;
        if self.echo {
            resp.body_mut()
                .with_config()
                .limit(ECHO_LIMIT)
                .read_to_string()
        } else {
            Ok(String::new())
        }
    }
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data)?;
    e.finish()
}

fn retryable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::StatusCode(s) => *s == 429 || *s >= 500,
        ureq::Error::Timeout(_) | ureq::Error::Io(_) | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

impl Output for HttpOutput {
    fn name(&self) -> &'static str {
        "http"
    }

    fn write(&mut self, f: &Formatted) -> io::Result<()> {
        let line = if self.json { &f.json } else { &f.text };
        let body = if self.compress {
            gzip(line.as_bytes())?
        } else {
            line.as_bytes().to_vec()
        };
        let attempts = if self.consecutive_timeouts >= self.max_consecutive_timeouts {
            1
        } else {
            ATTEMPTS
        };
        let mut last = None;
        for i in 0..attempts {
            if i > 0 {
                std::thread::sleep(BACKOFF[(i as usize - 1).min(BACKOFF.len() - 1)]);
            }
            match self.post(&body) {
                Ok(answer) => {
                    self.consecutive_timeouts = 0;
                    if self.echo {
                        let mut out = io::stdout().lock();
                        let _ = writeln!(out, "{}", tiercel_rules::safe_text::escape_line(&answer));
                    }
                    return Ok(());
                }
                Err(e) => {
                    if matches!(e, ureq::Error::Timeout(_)) {
                        self.consecutive_timeouts = self.consecutive_timeouts.saturating_add(1);
                    }
                    let again = retryable(&e)
                        && self.consecutive_timeouts < self.max_consecutive_timeouts.max(1);
                    last = Some(e);
                    if !again {
                        break;
                    }
                }
            }
        }
        Err(io::Error::other(format!(
            "http output {}: {}",
            self.url,
            last.map_or_else(|| "failed".to_string(), |e| e.to_string())
        )))
    }
}
