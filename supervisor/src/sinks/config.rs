//! The output blocks of falco.yaml, with Falco's keys and defaults: `stdout_output`,
//! `file_output`, `syslog_output`, `program_output`, `http_output`, `outputs_queue`.

use std::path::{Path, PathBuf};

use saphyr::Yaml;

/// `file_output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutputConfig {
    pub filename: PathBuf,
    /// Falco's `keep_alive`: keep the file open between alerts (reopened on SIGUSR1);
    /// false (Falco's default): open, append and close for every alert.
    pub keep_alive: bool,
}

/// `syslog_output`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyslogOutputConfig {
    /// The syslog socket: `/dev/log` (then `/var/run/syslog`, `/var/run/log`) when unset;
    /// a tiercel key (`tiercel.syslog_socket`) for tests and unusual hosts.
    pub socket: Option<PathBuf>,
}

/// `program_output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramOutputConfig {
    /// Run with `sh -c`.
    pub program: String,
    /// Start once and write every alert to its stdin (re-spawned on SIGUSR1 or when it
    /// exits); false: one process per alert.
    pub keep_alive: bool,
}

/// `http_output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOutputConfig {
    pub url: String,
    pub user_agent: String,
    pub insecure: bool,
    pub ca_cert: Option<PathBuf>,
    pub ca_bundle: Option<PathBuf>,
    pub ca_path: Option<PathBuf>,
    pub mtls: bool,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub echo: bool,
    pub compress_uploads: bool,
    pub keep_alive: bool,
    pub max_consecutive_timeouts: u32,
    /// Whole-request timeout (connect: at most 5 s of it); not a Falco key (libcurl's
    /// defaults there).
    pub timeout: std::time::Duration,
}

impl Default for HttpOutputConfig {
    fn default() -> Self {
        HttpOutputConfig {
            url: String::new(),
            user_agent: "falcosecurity/falco".into(),
            insecure: false,
            ca_cert: None,
            ca_bundle: None,
            ca_path: Some(PathBuf::from("/etc/ssl/certs")),
            mtls: false,
            client_cert: PathBuf::from("/etc/ssl/certs/client.crt"),
            client_key: PathBuf::from("/etc/ssl/certs/client.key"),
            echo: false,
            compress_uploads: false,
            keep_alive: false,
            max_consecutive_timeouts: 5,
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

/// Every output block; `None`: the output is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputsConfig {
    pub stdout: bool,
    pub file: Option<FileOutputConfig>,
    pub syslog: Option<SyslogOutputConfig>,
    pub program: Option<ProgramOutputConfig>,
    pub http: Option<HttpOutputConfig>,
    /// `outputs_queue.capacity`; Falco's 0 ("unbounded") is not offered: 0 keeps the
    /// default bound.
    pub queue_capacity: Option<usize>,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            stdout: true,
            file: None,
            syslog: None,
            program: None,
            http: None,
            queue_capacity: None,
        }
    }
}

/// `config: KEY: WHAT` (also used by the web server's and metrics' blocks).
pub(crate) fn err(key: &str, what: &str) -> String {
    format!("config: {key}: {what}")
}

pub(crate) fn block<'a>(root: &'a Yaml<'a>, key: &str) -> Result<Option<&'a Yaml<'a>>, String> {
    match root.as_mapping_get(key) {
        None => Ok(None),
        Some(b) if b.is_null() => Ok(None),
        Some(b) if b.as_mapping().is_some() => Ok(Some(b)),
        Some(_) => Err(err(key, "expected a mapping")),
    }
}

pub(crate) fn bool_key(b: &Yaml, block: &str, key: &str, default: bool) -> Result<bool, String> {
    match b.as_mapping_get(key) {
        None => Ok(default),
        Some(v) if v.is_null() => Ok(default),
        Some(v) => v
            .as_bool()
            .ok_or_else(|| err(&format!("{block}.{key}"), "expected true or false")),
    }
}

pub(crate) fn str_key<'a>(
    b: &'a Yaml<'a>,
    block: &str,
    key: &str,
) -> Result<Option<&'a str>, String> {
    match b.as_mapping_get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| err(&format!("{block}.{key}"), "expected a string")),
    }
}

pub(crate) fn uint_key(b: &Yaml, block: &str, key: &str) -> Result<Option<u64>, String> {
    match b.as_mapping_get(key) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .map(Some)
            .ok_or_else(|| err(&format!("{block}.{key}"), "expected a number ≥ 0")),
    }
}

/// Reads the output blocks of a config document. `rel` resolves relative paths against
/// the config file's directory.
pub fn parse(root: &Yaml, base: &Path) -> Result<OutputsConfig, String> {
    let rel = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let opt_path = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(rel);
    let mut c = OutputsConfig::default();
    if let Some(b) = block(root, "stdout_output")? {
        c.stdout = bool_key(b, "stdout_output", "enabled", true)?;
    }
    if let Some(b) = block(root, "file_output")? {
        if bool_key(b, "file_output", "enabled", false)? {
            let name = str_key(b, "file_output", "filename")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("file_output.filename", "required when enabled"))?;
            c.file = Some(FileOutputConfig {
                filename: rel(name),
                keep_alive: bool_key(b, "file_output", "keep_alive", false)?,
            });
        }
    }
    if let Some(b) = block(root, "syslog_output")? {
        if bool_key(b, "syslog_output", "enabled", true)? {
            c.syslog = Some(SyslogOutputConfig::default());
        }
    }
    if let Some(b) = block(root, "program_output")? {
        if bool_key(b, "program_output", "enabled", false)? {
            let program = str_key(b, "program_output", "program")?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| err("program_output.program", "required when enabled"))?;
            c.program = Some(ProgramOutputConfig {
                program: program.to_string(),
                keep_alive: bool_key(b, "program_output", "keep_alive", false)?,
            });
        }
    }
    if let Some(b) = block(root, "http_output")? {
        if bool_key(b, "http_output", "enabled", false)? {
            let d = HttpOutputConfig::default();
            let k = "http_output";
            let url = str_key(b, k, "url")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err("http_output.url", "required when enabled"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(err(
                    "http_output.url",
                    "expected an http:// or https:// URL",
                ));
            }
            c.http = Some(HttpOutputConfig {
                url: url.to_string(),
                user_agent: str_key(b, k, "user_agent")?
                    .map(str::to_string)
                    .unwrap_or(d.user_agent),
                insecure: bool_key(b, k, "insecure", false)?,
                ca_cert: opt_path(str_key(b, k, "ca_cert")?),
                ca_bundle: opt_path(str_key(b, k, "ca_bundle")?),
                ca_path: match b.as_mapping_get("ca_path") {
                    None => d.ca_path,
                    Some(_) => opt_path(str_key(b, k, "ca_path")?),
                },
                mtls: bool_key(b, k, "mtls", false)?,
                client_cert: opt_path(str_key(b, k, "client_cert")?).unwrap_or(d.client_cert),
                client_key: opt_path(str_key(b, k, "client_key")?).unwrap_or(d.client_key),
                echo: bool_key(b, k, "echo", false)?,
                compress_uploads: bool_key(b, k, "compress_uploads", false)?,
                keep_alive: bool_key(b, k, "keep_alive", false)?,
                max_consecutive_timeouts: match uint_key(b, k, "max_consecutive_timeouts")? {
                    Some(n) => u32::try_from(n)
                        .map_err(|_| err("http_output.max_consecutive_timeouts", "too large"))?,
                    None => d.max_consecutive_timeouts,
                },
                timeout: d.timeout,
            });
        }
    }
    if let Some(b) = block(root, "outputs_queue")? {
        if let Some(n) = uint_key(b, "outputs_queue", "capacity")? {
            c.queue_capacity = (n > 0).then(|| usize::try_from(n).unwrap_or(usize::MAX));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    fn p(text: &str) -> Result<OutputsConfig, String> {
        let docs = Yaml::load_from_str(text).unwrap();
        parse(&docs[0], Path::new("/etc/falco"))
    }

    #[test]
    fn defaults_are_falcos() {
        let c = p("{}").unwrap();
        assert!(c.stdout && c.file.is_none() && c.http.is_none() && c.program.is_none());
    }

    #[test]
    fn every_block() {
        let c = p(r#"
stdout_output: {enabled: false}
file_output: {enabled: true, keep_alive: true, filename: events.log}
syslog_output: {enabled: true}
program_output: {enabled: true, keep_alive: true, program: "logger -t falco"}
http_output:
  enabled: true
  url: https://sidekick:2801/
  user_agent: me
  insecure: true
  ca_cert: ca.pem
  ca_path: ""
  mtls: true
  client_cert: c.crt
  client_key: /k.key
  echo: true
  compress_uploads: true
  keep_alive: true
  max_consecutive_timeouts: 2
outputs_queue: {capacity: 10}
"#)
        .unwrap();
        assert!(!c.stdout);
        let f = c.file.unwrap();
        assert_eq!(f.filename, Path::new("/etc/falco/events.log"));
        assert!(f.keep_alive);
        assert!(c.syslog.is_some());
        assert_eq!(c.program.unwrap().program, "logger -t falco");
        let h = c.http.unwrap();
        assert_eq!(h.ca_cert.as_deref(), Some(Path::new("/etc/falco/ca.pem")));
        assert_eq!(h.ca_path, None);
        assert_eq!(h.client_cert, Path::new("/etc/falco/c.crt"));
        assert_eq!(h.client_key, Path::new("/k.key"));
        assert!(h.insecure && h.mtls && h.echo && h.compress_uploads && h.keep_alive);
        assert_eq!(h.max_consecutive_timeouts, 2);
        assert_eq!(c.queue_capacity, Some(10));
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            p("file_output: {enabled: true}").unwrap_err(),
            "config: file_output.filename: required when enabled"
        );
        assert_eq!(
            p("http_output: {enabled: true, url: ftp://x}").unwrap_err(),
            "config: http_output.url: expected an http:// or https:// URL"
        );
        assert_eq!(
            p("http_output: {enabled: yes please, url: http://x}").unwrap_err(),
            "config: http_output.enabled: expected true or false"
        );
        assert_eq!(
            p("outputs_queue: {capacity: -1}").unwrap_err(),
            "config: outputs_queue.capacity: expected a number ≥ 0"
        );
    }
}
