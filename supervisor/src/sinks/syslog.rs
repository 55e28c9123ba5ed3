//! Falco's `syslog_output`: one RFC 3164 record per alert on the local syslog socket
//! (the `syslog` crate), facility LOG_USER, severity from the rule's priority (Falco's
//! priorities are syslog's severities, one to one).

use std::io;
use std::path::PathBuf;

use syslog::{Facility, Formatter3164, Logger, LoggerBackend};
use tiercel_rules::priority::Priority;

use super::{Formatted, Output};

pub(super) struct SyslogOutput {
    socket: Option<PathBuf>,
    json: bool,
    logger: Option<Logger<LoggerBackend, Formatter3164>>,
}

fn connect(socket: Option<&PathBuf>) -> io::Result<Logger<LoggerBackend, Formatter3164>> {
    let f = Formatter3164 {
        facility: Facility::LOG_USER,
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

impl SyslogOutput {
    /// Connects now; a missing socket is reported at start and retried at each alert.
    pub(super) fn new(socket: Option<PathBuf>, json: bool) -> SyslogOutput {
        let logger = match connect(socket.as_ref()) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!("syslog output: {e} (retried at each alert)");
                None
            }
        };
        SyslogOutput {
            socket,
            json,
            logger,
        }
    }
}

impl Output for SyslogOutput {
    fn name(&self) -> &'static str {
        "syslog"
    }

    fn write(&mut self, f: &Formatted) -> io::Result<()> {
        if self.logger.is_none() {
            self.logger = Some(connect(self.socket.as_ref())?);
        }
        let Some(l) = self.logger.as_mut() else {
            return Ok(());
        };
        let msg: &str = if self.json { &f.json } else { &f.text };
        let r = match f.priority {
            Priority::Emergency => l.emerg(msg),
            Priority::Alert => l.alert(msg),
            Priority::Critical => l.crit(msg),
            Priority::Error => l.err(msg),
            Priority::Warning => l.warning(msg),
            Priority::Notice => l.notice(msg),
            Priority::Informational => l.info(msg),
            Priority::Debug => l.debug(msg),
        };
        r.map_err(|e| {
            // Reconnect at the next alert (syslogd restarted).
            self.logger = None;
            io::Error::other(format!("syslog: {e}"))
        })
    }

    fn reopen(&mut self) {
        self.logger = None;
    }
}
