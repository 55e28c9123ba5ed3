//! Alert outputs. Sessions hand alerts to a bounded queue ([`SinkSender::send`] never
//! blocks: when the queue is full the alert is dropped and counted); one output thread
//! writes them: Falco's text line to stdout, Falco JSON lines appended to a file, syslog,
//! and an HTTP POST per alert (falcosidekick-style, on its own thread and queue so a
//! slow endpoint cannot hold up the other outputs). Drops are reported in a periodic
//! and a final log line.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiercel_rules::priority::Priority;

use crate::decide::errno_name;

/// One alert (Falco's, from `tiercel_rules::output`) plus tiercel's verdict. Built
/// after the notification was answered.
#[derive(Debug, Clone)]
pub struct Alert {
    pub alert: tiercel_rules::output::Alert,
    /// `Some(errno)` when the call was refused.
    pub denied: Option<i32>,
    /// The rule matched only the resolved view of the call's paths (symlinks and
    /// `/proc/self` magic links followed inside the container's root): those paths
    /// (`/bin/x`, or `name=/bin/x, ...` for several arguments). Falco's output shows the
    /// paths as spelled.
    pub resolved: Option<String>,
}

impl Alert {
    /// Falco's text line (`HH:MM:SS.nnnnnnnnn: Priority output`), with
    /// ` (denied: EPERM)` appended when the call was refused.
    pub fn text_line(&self) -> String {
        let mut line = self.alert.text_line();
        if let Some(e) = self.denied {
            line.push_str(" (denied: ");
            line.push_str(&errno_name(e));
            if let Some(r) = &self.resolved {
                line.push_str(", resolved: ");
                line.push_str(&tiercel_rules::safe_text::escape_line(r));
            }
            line.push(')');
        }
        line
    }

    /// Falco's JSON alert, plus `tiercel: {action: "deny", errno}` for refused calls
    /// (and `resolved` when the match was on the resolved paths).
    pub fn json(&self) -> Value {
        let mut v = self.alert.json();
        if let (Some(e), Some(obj)) = (self.denied, v.as_object_mut()) {
            let mut t = json!({"action": "deny", "errno": errno_name(e)});
            if let (Some(r), Some(o)) = (&self.resolved, t.as_object_mut()) {
                o.insert("resolved".into(), json!(r));
            }
            obj.insert("tiercel".into(), t);
        }
        v
    }
}

/// Where alerts go.
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    /// Write alerts to stdout.
    pub stdout: bool,
    /// Falco's `json_output`: stdout gets JSON lines instead of text lines.
    pub stdout_json: bool,
    /// Append one Falco JSON alert per line to this file.
    pub file: Option<PathBuf>,
    /// Send each alert's text line to the local syslog (`/dev/log`).
    pub syslog: bool,
    /// POST each alert's JSON to this `http://` URL (falcosidekick-style).
    pub http_url: Option<String>,
    /// Queue capacity (alerts in flight between sessions and the output thread).
    pub queue: usize,
}

/// Counters of the output side.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub queued: AtomicU64,
    pub dropped: AtomicU64,
    pub written: AtomicU64,
    pub write_errors: AtomicU64,
    pub http_dropped: AtomicU64,
}

enum Msg {
    Alert(Box<Alert>),
    Flush(SyncSender<()>),
}

/// The sessions' handle on the output queue. Cheap to clone.
#[derive(Clone)]
pub struct SinkSender {
    tx: SyncSender<Msg>,
    stats: Arc<SinkStats>,
}

impl std::fmt::Debug for SinkSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSender").finish_non_exhaustive()
    }
}

impl SinkSender {
    /// Queues an alert; never blocks. Returns false when it was dropped.
    pub fn send(&self, alert: Alert) -> bool {
        match self.tx.try_send(Msg::Alert(Box::new(alert))) {
            Ok(()) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }
}

/// The running output thread(s).
pub struct Sinks {
    sender: SinkSender,
    thread: Option<JoinHandle<()>>,
    stats: Arc<SinkStats>,
}

impl std::fmt::Debug for Sinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sinks").finish_non_exhaustive()
    }
}

/// How often the output thread reports new drops.
const REPORT_EVERY: Duration = Duration::from_secs(30);

impl Sinks {
    /// Opens the outputs (the alerts file is created/appended now, so a bad path fails
    /// at start) and starts the output thread.
    pub fn start(cfg: SinkConfig) -> io::Result<Sinks> {
        let file = match &cfg.file {
            Some(p) => {
                if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)?;
                }
                Some(BufWriter::new(
                    OpenOptions::new().create(true).append(true).open(p)?,
                ))
            }
            None => None,
        };
        let syslog = if cfg.syslog {
            let s = UnixDatagram::unbound()?;
            match s.connect("/dev/log") {
                Ok(()) => Some(s),
                Err(e) => {
                    tracing::warn!("syslog output disabled: /dev/log: {e}");
                    None
                }
            }
        } else {
            None
        };
        let stats = Arc::new(SinkStats::default());
        let http = match &cfg.http_url {
            Some(url) => Some(HttpSink::start(url, stats.clone())?),
            None => None,
        };
        let (tx, rx) = mpsc::sync_channel(cfg.queue.max(1));
        let mut out = Output {
            cfg,
            file,
            syslog,
            http,
            stats: stats.clone(),
            reported_drops: 0,
        };
        let thread = std::thread::Builder::new()
            .name("tiercel-output".into())
            .spawn(move || out.run(rx))?;
        Ok(Sinks {
            sender: SinkSender {
                tx,
                stats: stats.clone(),
            },
            thread: Some(thread),
            stats,
        })
    }

    pub fn sender(&self) -> SinkSender {
        self.sender.clone()
    }

    pub fn stats(&self) -> &Arc<SinkStats> {
        &self.stats
    }

    /// Waits until everything queued before this call is written (bounded wait).
    pub fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        let deadline = Instant::now() + timeout;
        let mut msg = Msg::Flush(tx);
        loop {
            match self.sender.tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) if Instant::now() < deadline => {
                    msg = m;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return false,
            }
        }
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Flushes, stops the output thread, and logs the final counters.
    pub fn shutdown(mut self, timeout: Duration) {
        self.flush(timeout);
        let s = &self.stats;
        let dropped = s.dropped.load(Ordering::Relaxed);
        let http_dropped = s.http_dropped.load(Ordering::Relaxed);
        tracing::info!(
            written = s.written.load(Ordering::Relaxed),
            dropped,
            http_dropped,
            write_errors = s.write_errors.load(Ordering::Relaxed),
            "alert outputs closed"
        );
        // The thread ends when every sender is gone; sessions may still hold senders,
        // so it is detached rather than joined.
        drop(self.thread.take());
    }
}

struct Output {
    cfg: SinkConfig,
    file: Option<BufWriter<File>>,
    syslog: Option<UnixDatagram>,
    http: Option<HttpSink>,
    stats: Arc<SinkStats>,
    reported_drops: u64,
}

impl Output {
    fn run(&mut self, rx: Receiver<Msg>) {
        let mut last_report = Instant::now();
        loop {
            match rx.recv_timeout(REPORT_EVERY) {
                Ok(msg) => {
                    self.handle(msg);
                    // Drain what is already queued, then flush once.
                    while let Ok(msg) = rx.try_recv() {
                        self.handle(msg);
                    }
                    self.flush_all();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush_all();
                    return;
                }
            }
            if last_report.elapsed() >= REPORT_EVERY {
                last_report = Instant::now();
                self.report_drops();
            }
        }
    }

    fn report_drops(&mut self) {
        let d = self.stats.dropped.load(Ordering::Relaxed)
            + self.stats.http_dropped.load(Ordering::Relaxed);
        if d > self.reported_drops {
            tracing::warn!(
                dropped_total = d,
                new = d - self.reported_drops,
                "alerts dropped: output queue full"
            );
            self.reported_drops = d;
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Alert(a) => self.write(&a),
            Msg::Flush(done) => {
                self.flush_all();
                let _ = done.try_send(());
            }
        }
    }

    fn write(&mut self, a: &Alert) {
        let need_json = self.file.is_some() || self.http.is_some() || self.cfg.stdout_json;
        let json = need_json.then(|| json_line(a));
        let text = a.text_line();
        let mut ok = true;
        if self.cfg.stdout {
            let line = if self.cfg.stdout_json {
                json.as_deref().unwrap_or(&text)
            } else {
                &text
            };
            let mut out = io::stdout().lock();
            ok &= writeln!(out, "{line}").is_ok();
        }
        if let (Some(f), Some(j)) = (self.file.as_mut(), json.as_deref()) {
            ok &= writeln!(f, "{j}").is_ok();
        }
        if let Some(s) = &self.syslog {
            ok &= s.send(syslog_datagram(a, &text).as_bytes()).is_ok();
        }
        if let (Some(h), Some(j)) = (&self.http, json) {
            h.send(j);
        }
        if ok {
            self.stats.written.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush_all(&mut self) {
        if self.cfg.stdout {
            let _ = io::stdout().lock().flush();
        }
        if let Some(f) = self.file.as_mut() {
            if f.flush().is_err() {
                self.stats.write_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The alert as one JSON line, safe for line-oriented outputs (`safe_text::escape_json_line`:
/// DEL, C1 and bidi controls, which JSON encoders leave raw, as `\uXXXX`).
fn json_line(a: &Alert) -> String {
    let raw = a.json().to_string();
    match tiercel_rules::safe_text::escape_json_line(&raw) {
        std::borrow::Cow::Borrowed(_) => raw,
        std::borrow::Cow::Owned(s) => s,
    }
}

/// The datagram for `/dev/log`: facility LOG_USER (1), the priority's severity, the text
/// line (already escaped: one alert, one record, no terminal controls).
fn syslog_datagram(a: &Alert, text: &str) -> String {
    let sev = syslog_severity(a.alert.priority);
    format!("<{}>tiercel: {}", 8 + sev, text)
}

fn syslog_severity(p: Priority) -> u8 {
    // Falco priorities map 1:1 onto syslog severities.
    p as u8
}

/// A minimal HTTP/1.1 JSON POST client on its own thread with its own bounded queue.
struct HttpSink {
    tx: SyncSender<String>,
    stats: Arc<SinkStats>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpTarget {
    host: String,
    port: u16,
    path: String,
}

fn parse_http_url(url: &str) -> Result<HttpTarget, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("http output {url:?}: only http:// URLs are supported"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.trim_start_matches('[').trim_end_matches(']'),
            p.parse::<u16>()
                .map_err(|_| format!("http output {url:?}: bad port"))?,
        ),
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("http output {url:?}: no host"));
    }
    Ok(HttpTarget {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

impl HttpSink {
    fn start(url: &str, stats: Arc<SinkStats>) -> io::Result<HttpSink> {
        let target =
            parse_http_url(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let (tx, rx) = mpsc::sync_channel::<String>(1024);
        std::thread::Builder::new()
            .name("tiercel-http".into())
            .spawn(move || {
                let limit = crate::rate_limit::RateLimit::new(Duration::from_secs(10), 1);
                for body in rx {
                    if let Err(e) = http_post(&target, &body) {
                        if let Some(n) = limit.check() {
                            tracing::warn!(
                                suppressed = n,
                                "http output {}:{}: {e}",
                                target.host,
                                target.port
                            );
                        }
                    }
                }
            })?;
        Ok(HttpSink { tx, stats })
    }

    fn send(&self, body: String) {
        if self.tx.try_send(body).is_err() {
            self.stats.http_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn http_post(t: &HttpTarget, body: &str) -> io::Result<()> {
    let timeout = Duration::from_secs(2);
    let addr = (t.host.as_str(), t.port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tiercel\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        t.path,
        t.host,
        body.len(),
        body
    )?;
    let mut head = [0u8; 64];
    let n = s.read(&mut head)?;
    let status = std::str::from_utf8(&head[..n])
        .ok()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(io::Error::other(format!("HTTP status {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn alert(denied: Option<i32>) -> Alert {
        let mut f = serde_json::Map::new();
        f.insert("proc.name".into(), json!("cat"));
        Alert {
            alert: tiercel_rules::output::Alert {
                rule: "R".into(),
                priority: Priority::Warning,
                source: "syscall".into(),
                tags: vec!["a".into()],
                message: "hello (proc.name=cat)".into(),
                output_fields: f,
                time_ns: 1_700_000_000_000_000_005,
                hostname: "h".into(),
                options: Default::default(),
            },
            denied,
            resolved: None,
        }
    }

    #[test]
    fn text_and_json() {
        let a = alert(None);
        assert!(
            a.text_line()
                .ends_with(".000000005: Warning hello (proc.name=cat)"),
            "{}",
            a.text_line()
        );
        let j = a.json();
        assert_eq!(j["rule"], "R");
        assert_eq!(j["priority"], "Warning");
        assert_eq!(j["output_fields"]["proc.name"], "cat");
        assert_eq!(j["time"], "2023-11-14T22:13:20.000000005Z");
        assert!(j.get("tiercel").is_none());
        let d = alert(Some(libc::EPERM));
        assert!(d.text_line().ends_with("(denied: EPERM)"));
        assert_eq!(d.json()["tiercel"]["errno"], "EPERM");
        assert!(d.json()["tiercel"].get("resolved").is_none());
        let mut r = alert(Some(libc::EPERM));
        r.resolved = Some("/bin/x".into());
        assert_eq!(r.json()["tiercel"]["resolved"], "/bin/x");
        assert!(r.text_line().ends_with("(denied: EPERM, resolved: /bin/x)"));
        assert_eq!(
            d.json()["output"],
            a.json()["output"],
            "Falco's output text is kept"
        );
    }

    /// Container-chosen names (any bytes: control characters, newlines, ANSI escapes,
    /// invalid UTF-8, bidi controls) never forge a line or reach a terminal through the
    /// text, syslog or JSON outputs, and JSON keeps the exact value.
    mod forged_lines {
        use super::*;
        use proptest::prelude::*;
        use tiercel_rules::json_event::JsonEvent;
        use tiercel_rules::output::OutputFormat;

        fn alert_for(name: &str, cmdline: &str, resolved: Option<String>) -> Alert {
            let (fmt, _) = OutputFormat::parse("write file=%fd.name cmd=%proc.cmdline").unwrap();
            let ev = JsonEvent::from_json(&json!({
                "evt.type": "openat", "fd.name": name, "proc.cmdline": cmdline,
            }))
            .unwrap();
            let mut a = alert(Some(libc::EPERM));
            a.alert.message = fmt.render(&ev);
            a.alert.output_fields = fmt.output_fields(&ev);
            a.resolved = resolved;
            a
        }

        fn assert_one_clean_line(what: &str, s: &str) {
            assert!(
                !s.chars().any(tiercel_rules::safe_text::needs_escape),
                "{what}: a control character survived: {s:?}"
            );
            assert_eq!(s.lines().count(), 1, "{what}: not one line: {s:?}");
        }

        fn bytes() -> impl Strategy<Value = Vec<u8>> {
            let interesting = prop::sample::select(vec![
                b"\n00:00:00.000000000: Notice all clear".to_vec(),
                b"\x1b[2K\x1b[1A".to_vec(),
                b"\x1b]0;title\x07".to_vec(),
                "\u{202e}\u{2028}\u{9b}".as_bytes().to_vec(),
                vec![0xff, 0xfe, 0xc3],
                b"\r\t\0\x7f".to_vec(),
            ]);
            prop::collection::vec(
                prop_oneof![
                    3 => any::<u8>().prop_map(|b| vec![b]),
                    1 => interesting,
                ],
                0..24,
            )
            .prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn no_forged_lines(name in bytes(), cmd in bytes(), res in bytes()) {
                let name = String::from_utf8_lossy(&name).into_owned();
                let cmd = String::from_utf8_lossy(&cmd).into_owned();
                let res = String::from_utf8_lossy(&res).into_owned();
                let a = alert_for(&name, &cmd, Some(res.clone()));
                let text = a.text_line();
                assert_one_clean_line("text", &text);
                assert_one_clean_line("syslog", &syslog_datagram(&a, &text));
                let j = json_line(&a);
                assert_one_clean_line("json", &j);
                let back: Value = serde_json::from_str(&j).unwrap();
                prop_assert_eq!(back["output_fields"]["fd.name"].as_str(), Some(name.as_str()));
                prop_assert_eq!(back["output_fields"]["proc.cmdline"].as_str(), Some(cmd.as_str()));
                prop_assert_eq!(back["tiercel"]["resolved"].as_str(), Some(res.as_str()));
            }
        }

        #[test]
        fn the_reported_attack() {
            let a = alert_for(
                "/bin/x\n00:00:00.000000000: Notice all clear\x1b[31m",
                "touch",
                None,
            );
            assert!(
                a.text_line().ends_with(
                    "Warning write file=/bin/x\\n00:00:00.000000000: Notice all clear\\x1b[31m \
                     cmd=touch (denied: EPERM)"
                ),
                "{}",
                a.text_line()
            );
        }
    }

    #[test]
    fn file_sink_appends_json_lines() {
        let dir = std::env::temp_dir().join(format!("tiercel-sinks-{}", std::process::id()));
        let path = dir.join("sub/alerts.json");
        let sinks = Sinks::start(SinkConfig {
            file: Some(path.clone()),
            queue: 16,
            ..SinkConfig::default()
        })
        .unwrap();
        let tx = sinks.sender();
        assert!(tx.send(alert(None)));
        assert!(tx.send(alert(Some(1))));
        assert!(sinks.flush(Duration::from_secs(5)));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["tiercel"]["action"], "deny");
        sinks.shutdown(Duration::from_secs(1));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn full_queue_drops_and_counts() {
        // A queue of 1 with a flood: some alerts must be dropped, none may block.
        let sinks = Sinks::start(SinkConfig {
            queue: 1,
            ..SinkConfig::default()
        })
        .unwrap();
        let tx = sinks.sender();
        let sent = (0..10_000).filter(|_| tx.send(alert(None))).count();
        let dropped = sinks.stats().dropped.load(Ordering::Relaxed) as usize;
        assert_eq!(sent + dropped, 10_000);
        assert!(dropped > 0);
    }

    #[test]
    fn http_urls() {
        assert_eq!(
            parse_http_url("http://localhost:2801/x").unwrap(),
            HttpTarget {
                host: "localhost".into(),
                port: 2801,
                path: "/x".into()
            }
        );
        assert_eq!(parse_http_url("http://h").unwrap().port, 80);
        assert!(parse_http_url("https://h").is_err());
    }

    #[test]
    fn http_post_reaches_a_server() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let srv = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") || !got.ends_with(b"}") {
                let n = c.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        let t = parse_http_url(&format!("http://127.0.0.1:{port}/")).unwrap();
        http_post(&t, "{\"rule\":\"R\"}").unwrap();
        let req = srv.join().unwrap();
        assert!(req.starts_with("POST / HTTP/1.1\r\n"));
        assert!(req.ends_with("{\"rule\":\"R\"}"));
    }
}
