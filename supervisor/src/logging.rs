//! tiercel's own log with Falco's keys: `log_level` (Falco's syslog-style levels),
//! `log_stderr`, `log_syslog` (daemon facility, through `/dev/log` or
//! `tiercel.syslog_socket`). `TIERCEL_LOG` (a tracing filter), when set, wins over
//! `log_level`.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};
use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Falco's `log_level` as a tracing filter directive: emergency … error → error,
/// warning → warn, notice and info → info, debug → debug.
pub fn level_directive(falco_level: &str) -> Option<&'static str> {
    Some(match falco_level.trim().to_ascii_lowercase().as_str() {
        "emergency" | "alert" | "critical" | "error" => "error",
        "warning" => "warn",
        "notice" | "info" => "info",
        "debug" => "debug",
        _ => return None,
    })
}

/// What to set up.
#[derive(Debug, Clone)]
pub struct LogSetup {
    pub level: String,
    pub stderr: bool,
    pub syslog: bool,
    pub syslog_socket: Option<PathBuf>,
}

impl Default for LogSetup {
    fn default() -> LogSetup {
        LogSetup {
            level: "info".into(),
            stderr: true,
            syslog: false,
            syslog_socket: None,
        }
    }
}

type SysLogger = Logger<LoggerBackend, Formatter3164>;

#[derive(Clone)]
struct SyslogMake(Arc<Mutex<SysLogger>>);

/// One log line, sent to syslog when dropped.
struct SyslogLine {
    logger: Arc<Mutex<SysLogger>>,
    level: Level,
    buf: Vec<u8>,
}

impl io::Write for SyslogLine {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let msg = text.trim_end();
        if msg.is_empty() {
            return;
        }
        let Ok(mut l) = self.logger.lock() else {
            return;
        };
        let _ = match self.level {
            Level::ERROR => l.err(msg),
            Level::WARN => l.warning(msg),
            Level::INFO => l.info(msg),
            _ => l.debug(msg),
        };
    }
}

impl<'a> MakeWriter<'a> for SyslogMake {
    type Writer = SyslogLine;
    fn make_writer(&'a self) -> SyslogLine {
        SyslogLine {
            logger: self.0.clone(),
            level: Level::INFO,
            buf: Vec::new(),
        }
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine {
        SyslogLine {
            logger: self.0.clone(),
            level: *meta.level(),
            buf: Vec::new(),
        }
    }
}

fn connect(socket: Option<&PathBuf>) -> io::Result<SysLogger> {
    let f = Formatter3164 {
        facility: Facility::LOG_DAEMON,
        hostname: None,
        process: "tiercel".into(),
        pid: std::process::id(),
    };
    match socket {
        Some(p) => syslog::unix_custom(f, p),
        None => syslog::unix(f),
    }
    .map_err(|e| io::Error::other(format!("syslog: {e}")))
}

type LevelSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Changes the level of the installed subscriber (set by [`init`] unless `TIERCEL_LOG`
/// fixes the filter).
static SET_LEVEL: OnceLock<LevelSetter> = OnceLock::new();

/// A reload's `log_level`: applied to the running log (not when `TIERCEL_LOG` is set).
/// `log_stderr` and `log_syslog` take effect at the next start.
pub fn set_level(falco_level: &str) -> Result<(), String> {
    let d =
        level_directive(falco_level).ok_or_else(|| format!("unknown log_level {falco_level:?}"))?;
    match SET_LEVEL.get() {
        Some(f) => f(d),
        None => Ok(()),
    }
}

/// Installs the global subscriber. Returns a note to log once it runs (e.g. no syslog).
pub fn init(setup: &LogSetup) -> Option<String> {
    let mut note = None;
    let fixed = EnvFilter::try_from_env("TIERCEL_LOG").ok();
    let from_env = fixed.is_some();
    let filter = fixed.unwrap_or_else(|| {
        let d = level_directive(&setup.level).unwrap_or_else(|| {
            note = Some(format!("unknown log_level {:?}, using info", setup.level));
            "info"
        });
        EnvFilter::new(d)
    });
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
    if !from_env {
        let _ = SET_LEVEL.set(Box::new(move |d: &str| {
            handle.reload(EnvFilter::new(d)).map_err(|e| e.to_string())
        }));
    }
    let stderr = setup.stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            // Colours only on a terminal: logs sent to a file stay plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
            .with_target(false)
    });
    let syslog = if setup.syslog {
        match connect(setup.syslog_socket.as_ref()) {
            Ok(l) => Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(SyslogMake(Arc::new(Mutex::new(l))))
                    .with_ansi(false)
                    .with_target(false)
                    .without_time()
                    .with_level(false),
            ),
            Err(e) => {
                note = Some(format!("log_syslog: {e}; logging without syslog"));
                None
            }
        }
    } else {
        None
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(syslog)
        .try_init();
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falco_levels() {
        assert_eq!(level_directive("critical"), Some("error"));
        assert_eq!(level_directive("Warning"), Some("warn"));
        assert_eq!(level_directive("notice"), Some("info"));
        assert_eq!(level_directive("debug"), Some("debug"));
        assert_eq!(level_directive("loud"), None);
    }
}
