//! What the runtime integrations share: the shim's and the hook's configuration
//! (`/etc/tiercel/shim.yaml` plus environment overrides), reachability of a supervisor
//! socket, runc-style JSON log lines, and container metadata that engines keep outside the
//! OCI annotations (podman's containers/storage `containers.json`).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::profile::Mode;

/// Default configuration file of the shim and the hook.
pub const DEFAULT_CONFIG: &str = "/etc/tiercel/shim.yaml";
/// Default supervisor socket.
pub const DEFAULT_SOCKET: &str = "/run/tiercel/tiercel.sock";
/// The OCI annotation a container uses to ask for its mode.
pub const MODE_ANNOTATION: &str = "io.tiercel.mode";
/// Largest file read by these helpers (config.json, containers.json, config).
const MAX_FILE: u64 = 64 << 20;

/// What to do when no supervisor answers on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    /// Refuse to start the container.
    FailClosed,
    /// Start the container unwatched, with a loud log line.
    FailOpen,
}

impl OnMissing {
    pub fn parse(s: &str) -> Option<OnMissing> {
        match s.trim() {
            "fail-closed" | "closed" => Some(OnMissing::FailClosed),
            "fail-open" | "open" => Some(OnMissing::FailOpen),
            _ => None,
        }
    }
}

/// Configuration of `tiercel-shim` and `tiercel-hook`.
///
/// ```yaml
/// runtime: /usr/sbin/runc          # the real OCI runtime (runc or crun)
/// socket: /run/tiercel/tiercel.sock
/// rules: [/etc/tiercel/rules.d/falco_rules.yaml]
/// config: /etc/tiercel/falco.yaml  # the supervisor's config: its `rules:` selection and
///                                  # `priority` shape the profile; the hook passes it as -c
///                                  # (default: /etc/tiercel/falco.yaml when it exists)
/// mode: audit                      # default mode; io.tiercel.mode may change it
/// allow_annotation_downgrade: false  # may io.tiercel.mode=audit weaken mode: enforce?
/// on_missing_supervisor: fail-closed # or fail-open; default: closed for enforce, open for audit
/// supervisor: /usr/local/bin/tiercel # the hook starts `supervisor supervise …`
/// supervisor_args: [--alerts, /var/log/tiercel/alerts.json]
/// start_timeout_ms: 3000            # hook: bounded wait for the supervisor
/// state_dir: /run/tiercel/hook      # hook: per-container state
/// ```
///
/// Environment overrides: `TIERCEL_SHIM_CONFIG` (the file), `TIERCEL_RUNTIME`,
/// `TIERCEL_SOCKET`, `TIERCEL_RULES` (`:`-separated), `TIERCEL_MODE`,
/// `TIERCEL_ON_MISSING`, `TIERCEL_SUPERVISOR`, `TIERCEL_STATE_DIR`.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationConfig {
    pub runtime: PathBuf,
    pub socket: PathBuf,
    pub rules: Vec<PathBuf>,
    /// The supervisor's config file (`config`).
    pub config: Option<PathBuf>,
    pub mode: Mode,
    pub allow_annotation_downgrade: bool,
    pub on_missing: Option<OnMissing>,
    pub supervisor: PathBuf,
    pub supervisor_args: Vec<String>,
    pub start_timeout: Duration,
    pub state_dir: PathBuf,
}

impl Default for IntegrationConfig {
    fn default() -> Self {
        IntegrationConfig {
            runtime: default_runtime(),
            socket: PathBuf::from(DEFAULT_SOCKET),
            rules: Vec::new(),
            config: None,
            mode: Mode::Audit,
            allow_annotation_downgrade: false,
            on_missing: None,
            supervisor: PathBuf::from("tiercel"),
            supervisor_args: Vec::new(),
            start_timeout: Duration::from_millis(3000),
            state_dir: PathBuf::from("/run/tiercel/hook"),
        }
    }
}

fn default_runtime() -> PathBuf {
    for p in [
        "/usr/bin/runc",
        "/usr/sbin/runc",
        "/usr/local/bin/runc",
        "/usr/local/sbin/runc",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    PathBuf::from("runc")
}

/// Configuration errors.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {msg}")]
    Invalid { path: String, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl IntegrationConfig {
    /// Loads the file named by `TIERCEL_SHIM_CONFIG` (or [`DEFAULT_CONFIG`]; a missing
    /// default file is not an error), then applies the environment overrides.
    pub fn load() -> Result<IntegrationConfig, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("TIERCEL_"))
            .collect();
        Self::load_with(&env)
    }

    /// [`IntegrationConfig::load`] with an explicit environment (for tests).
    pub fn load_with(env: &BTreeMap<String, String>) -> Result<IntegrationConfig, ConfigError> {
        let (path, required) = match env.get("TIERCEL_SHIM_CONFIG") {
            Some(p) if !p.is_empty() => (PathBuf::from(p), true),
            _ => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let mut cfg = match read_bounded(&path) {
            Ok(text) => Self::from_yaml(&text, &path.display().to_string())?,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(e) => {
                return Err(ConfigError::Io {
                    path: path.display().to_string(),
                    source: e,
                })
            }
        };
        cfg.apply_env(env)?;
        Ok(cfg)
    }

    /// Parses the YAML form (unknown keys are an error, so typos do not go unnoticed).
    pub fn from_yaml(text: &str, name: &str) -> Result<IntegrationConfig, ConfigError> {
        use saphyr::{LoadableYamlNode, Yaml};
        let bad = |msg: String| ConfigError::Invalid {
            path: name.to_owned(),
            msg,
        };
        let docs = Yaml::load_from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut cfg = IntegrationConfig::default();
        let Some(doc) = docs.first() else {
            return Ok(cfg);
        };
        if doc.is_null() {
            return Ok(cfg);
        }
        let map = doc
            .as_mapping()
            .ok_or_else(|| bad("expected a mapping".into()))?;
        let string = |k: &str, v: &Yaml| -> Result<String, ConfigError> {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_integer().map(|i| i.to_string()))
                .or_else(|| v.as_bool().map(|b| b.to_string()))
                .ok_or_else(|| bad(format!("{k}: expected a string")))
        };
        let strings = |k: &str, v: &Yaml| -> Result<Vec<String>, ConfigError> {
            match v.as_sequence() {
                Some(seq) => seq.iter().map(|x| string(k, x)).collect(),
                None => Ok(vec![string(k, v)?]),
            }
        };
        for (k, v) in map {
            let key = k
                .as_str()
                .ok_or_else(|| bad("keys must be strings".into()))?;
            match key {
                "runtime" => cfg.runtime = string(key, v)?.into(),
                "socket" => cfg.socket = string(key, v)?.into(),
                "rules" => cfg.rules = strings(key, v)?.into_iter().map(PathBuf::from).collect(),
                "config" => cfg.config = Some(string(key, v)?.into()),
                "mode" => {
                    cfg.mode = string(key, v)?
                        .parse()
                        .map_err(|e| bad(format!("mode: {e}")))?
                }
                "allow_annotation_downgrade" => {
                    cfg.allow_annotation_downgrade = v
                        .as_bool()
                        .ok_or_else(|| bad(format!("{key}: expected true/false")))?
                }
                "on_missing_supervisor" => {
                    let s = string(key, v)?;
                    cfg.on_missing = Some(OnMissing::parse(&s).ok_or_else(|| {
                        bad(format!("{key}: {s:?} (expected fail-closed or fail-open)"))
                    })?)
                }
                "supervisor" => cfg.supervisor = string(key, v)?.into(),
                "supervisor_args" => cfg.supervisor_args = strings(key, v)?,
                "start_timeout_ms" => {
                    let ms = v
                        .as_integer()
                        .filter(|ms| (1..=60_000).contains(ms))
                        .ok_or_else(|| bad(format!("{key}: expected 1..=60000")))?;
                    cfg.start_timeout = Duration::from_millis(ms as u64)
                }
                "state_dir" => cfg.state_dir = string(key, v)?.into(),
                other => return Err(bad(format!("unknown key {other:?}"))),
            }
        }
        Ok(cfg)
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        let bad = |k: &str, msg: String| ConfigError::Invalid {
            path: format!("${k}"),
            msg,
        };
        for (k, v) in env {
            match k.as_str() {
                "TIERCEL_RUNTIME" => self.runtime = v.into(),
                "TIERCEL_SOCKET" => self.socket = v.into(),
                "TIERCEL_RULES" => {
                    self.rules = v
                        .split(':')
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                }
                "TIERCEL_MODE" => self.mode = v.parse().map_err(|e| bad(k, e))?,
                "TIERCEL_ON_MISSING" => {
                    self.on_missing = Some(OnMissing::parse(v).ok_or_else(|| {
                        bad(k, format!("{v:?} (expected fail-closed or fail-open)"))
                    })?)
                }
                "TIERCEL_SUPERVISOR" => self.supervisor = v.into(),
                "TIERCEL_STATE_DIR" => self.state_dir = v.into(),
                _ => {}
            }
        }
        Ok(())
    }

    /// The mode of a container with these OCI annotations: `io.tiercel.mode` when given
    /// and allowed (it may always strengthen; it weakens only with
    /// `allow_annotation_downgrade`), else the configured mode. The `String` explains an
    /// ignored annotation.
    pub fn container_mode(&self, annotations: Option<&Value>) -> (Mode, Option<String>) {
        let asked = annotations
            .and_then(|a| a.get(MODE_ANNOTATION))
            .and_then(Value::as_str);
        let Some(asked) = asked else {
            return (self.mode, None);
        };
        match asked.parse::<Mode>() {
            Err(_) => (
                self.mode,
                Some(format!(
                    "ignoring annotation {MODE_ANNOTATION}={:?}: expected audit or enforce",
                    asked.chars().take(64).collect::<String>()
                )),
            ),
            Ok(Mode::Audit) if self.mode == Mode::Enforce && !self.allow_annotation_downgrade => (
                Mode::Enforce,
                Some(format!(
                    "ignoring annotation {MODE_ANNOTATION}=audit: the configured mode is enforce \
                     and allow_annotation_downgrade is false"
                )),
            ),
            Ok(m) => (m, None),
        }
    }

    /// What to do without a supervisor, for a container in `mode`.
    pub fn on_missing_for(&self, mode: Mode) -> OnMissing {
        self.on_missing.unwrap_or(match mode {
            Mode::Enforce => OnMissing::FailClosed,
            Mode::Audit => OnMissing::FailOpen,
        })
    }
}

/// Reads a file of at most 64 MiB.
pub fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt as _;
    // Paths that come from a peer: never block on a FIFO, read regular files only.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut s = String::new();
    f.take(MAX_FILE + 1).read_to_string(&mut s)?;
    if s.len() as u64 > MAX_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "file too large",
        ));
    }
    Ok(s)
}

/// True when something accepts connections on `socket`. The probe connects and closes
/// without sending anything (the supervisor treats an empty connection as a probe).
pub fn supervisor_listening(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// Waits up to `timeout` for [`supervisor_listening`].
pub fn wait_listening(socket: &Path, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if supervisor_listening(socket) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Appends one runc-style log line (`{"level","msg","time"}` for `--log-format json`,
/// logrus text otherwise) to the runtime's `--log` file, which containerd and conmon
/// show when a runtime command fails. Errors are ignored: logging must not change the
/// outcome.
pub fn runtime_log(log: Option<&Path>, json_format: bool, level: &str, msg: &str) {
    let Some(path) = log else { return };
    let time = humantime_now();
    let line = if json_format {
        let mut v = serde_json::Map::new();
        v.insert("level".into(), Value::from(level));
        v.insert("msg".into(), Value::from(msg));
        v.insert("time".into(), Value::from(time));
        format!("{}\n", Value::Object(v))
    } else {
        format!("time=\"{time}\" level={level} msg={msg:?}\n")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

/// RFC 3339 UTC time with nanoseconds, computed without a time crate.
fn humantime_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = tiercel_rules::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// podman (containers/storage) keeps the container's name and image outside the OCI
/// annotations: `…/overlay-containers/containers.json`, two directories above the bundle
/// `…/overlay-containers/<id>/userdata`. Returns `(name, image)` for the bundle's
/// container, the image as podman names it (`localhost/busybox:latest`).
pub fn podman_container_info(bundle: &Path) -> Option<(String, String)> {
    if bundle.file_name()? != "userdata" {
        return None;
    }
    let id_dir = bundle.parent()?;
    let id = id_dir.file_name()?.to_str()?;
    let store = id_dir.parent()?.join("containers.json");
    let text = read_bounded(&store).ok()?;
    let list: Value = serde_json::from_str(&text).ok()?;
    let entry = list
        .as_array()?
        .iter()
        .find(|c| c.get("id").and_then(Value::as_str) == Some(id))?;
    let meta: Option<Value> = entry
        .get("metadata")
        .and_then(Value::as_str)
        .and_then(|m| serde_json::from_str(m).ok());
    let name = entry
        .get("names")
        .and_then(|n| n.get(0))
        .and_then(Value::as_str)
        .or_else(|| meta.as_ref()?.get("name")?.as_str())?
        .to_owned();
    let image = meta
        .as_ref()
        .and_then(|m| m.get("image-name"))
        .and_then(Value::as_str)
        .or_else(|| entry.get("image").and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    Some((name, image))
}

/// `container.privileged` from the bundle's `config.json`: true when the container's
/// bounding set holds every capability this process's bounding set holds (what Docker's and
/// podman's `--privileged` grant), false when it lacks one; `None` without a readable config.
pub fn bundle_privileged(bundle: &Path) -> Option<bool> {
    let config = read_bundle_config(&bundle.join("config.json")).ok()?;
    let own = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())?;
    Some(privileged_caps(&config, own))
}

fn privileged_caps(config: &Value, own_bounding: u64) -> bool {
    let names: Vec<&str> = config
        .pointer("/process/capabilities/bounding")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    crate::event::procfs::caps_to_string(own_bounding)
        .split_whitespace()
        .all(|n| names.iter().any(|x| x.eq_ignore_ascii_case(n)))
}

/// Splits an image reference into Falco's `container.image.repository` and
/// `container.image.tag` (`None` when the reference has no tag; a digest is dropped).
pub fn split_image(image: &str) -> (String, Option<String>) {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (
                no_digest[..at].to_owned(),
                Some(no_digest[at + 1..].to_owned()),
            )
        }
        None => (no_digest.to_owned(), None),
    }
}

/// Reads a bundle's `config.json` as a JSON value (unknown fields kept).
pub fn read_bundle_config(path: &Path) -> std::io::Result<Value> {
    let text = read_bounded(path)?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Writes `config.json` back atomically (temp file in the same directory, then rename),
/// keeping the original file's permissions.
///
/// The temporary file has a random name and is created with `O_CREAT|O_EXCL` (never through
/// a planted symlink or an existing file) and mode 0600; its mode becomes the original's only
/// once it is written. A bundle directory that is writable by group or others, or owned by
/// someone else than us (or root), is refused (`PermissionDenied`): whoever can write there
/// could replace the config under the runtime, and tiercel writes nothing into it.
pub fn write_bundle_config(path: &Path, config: &Value) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config.json");
    let dmeta = std::fs::metadata(dir)?;
    let euid = crate::sys::geteuid();
    if dmeta.mode() & 0o022 != 0 || (dmeta.uid() != euid && dmeta.uid() != 0) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "bundle directory {} is writable by others (mode {:o}, owner {}): not writing \
                 config.json there",
                dir.display(),
                dmeta.mode() & 0o7777,
                dmeta.uid()
            ),
        ));
    }
    let mut text = serde_json::to_vec(config).map_err(std::io::Error::other)?;
    text.push(b'\n');
    let perm = std::fs::metadata(path).map(|m| m.permissions()).ok();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tiercel."))
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(&text)?;
    tmp.as_file().sync_all()?;
    if let Some(p) = perm {
        tmp.as_file().set_permissions(p)?;
    }
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    #[test]
    fn privileged_means_every_capability_of_the_host() {
        let cfg =
            |caps: &[&str]| serde_json::json!({"process": {"capabilities": {"bounding": caps}}});
        let own = 1 | (1 << 21); // CAP_CHOWN, CAP_SYS_ADMIN
        assert!(super::privileged_caps(
            &cfg(&["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_KILL"]),
            own
        ));
        assert!(!super::privileged_caps(
            &cfg(&["CAP_CHOWN", "CAP_KILL"]),
            own
        ));
        assert!(!super::privileged_caps(&serde_json::json!({}), own));
    }

    #[test]
    fn privileged_reads_regular_files_only() {
        let dir = std::env::temp_dir().join(format!("tiercel-priv-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(super::bundle_privileged(&dir), None);
        // A FIFO where config.json should be: no value, and no blocking open.
        let st = std::process::Command::new("mkfifo")
            .arg(dir.join("config.json"))
            .status();
        if st.is_ok_and(|s| s.success()) {
            assert_eq!(super::bundle_privileged(&dir), None);
            std::fs::remove_file(dir.join("config.json")).unwrap();
        }
        std::fs::write(
            dir.join("config.json"),
            r#"{"process":{"capabilities":{"bounding":[]}}}"#,
        )
        .unwrap();
        assert_eq!(super::bundle_privileged(&dir), Some(false));
        let _ = std::fs::remove_dir_all(&dir);
    }

    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn yaml_and_env() {
        let dir = std::env::temp_dir().join(format!("tiercel-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("shim.yaml");
        std::fs::write(
            &f,
            "runtime: /usr/bin/crun\nsocket: /run/x.sock\nrules: [/a.yaml, /b.yaml]\nmode: enforce\n\
             on_missing_supervisor: fail-open\nstart_timeout_ms: 500\n",
        )
        .unwrap();
        let c = IntegrationConfig::load_with(&env(&[("TIERCEL_SHIM_CONFIG", f.to_str().unwrap())]))
            .unwrap();
        assert_eq!(c.runtime, PathBuf::from("/usr/bin/crun"));
        assert_eq!(
            c.rules,
            vec![PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]
        );
        assert_eq!(c.mode, Mode::Enforce);
        assert_eq!(c.on_missing, Some(OnMissing::FailOpen));
        assert_eq!(c.start_timeout, Duration::from_millis(500));
        let c = IntegrationConfig::load_with(&env(&[
            ("TIERCEL_SHIM_CONFIG", f.to_str().unwrap()),
            ("TIERCEL_SOCKET", "/run/y.sock"),
            ("TIERCEL_RULES", "/c.yaml:/d.yaml"),
            ("TIERCEL_MODE", "audit"),
        ]))
        .unwrap();
        assert_eq!(c.socket, PathBuf::from("/run/y.sock"));
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.mode, Mode::Audit);
        std::fs::write(&f, "sockte: /x\n").unwrap();
        let e = IntegrationConfig::load_with(&env(&[("TIERCEL_SHIM_CONFIG", f.to_str().unwrap())]))
            .unwrap_err();
        assert!(e.to_string().contains("unknown key"), "{e}");
        assert!(
            IntegrationConfig::load_with(&env(&[("TIERCEL_SHIM_CONFIG", "/nonexistent/x")]))
                .is_err()
        );
        assert!(IntegrationConfig::load_with(&env(&[("TIERCEL_MODE", "loud")])).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn modes_from_annotations() {
        let mut c = IntegrationConfig::default();
        let a = json!({"io.tiercel.mode": "enforce"});
        assert_eq!(c.container_mode(Some(&a)).0, Mode::Enforce);
        assert_eq!(c.container_mode(None).0, Mode::Audit);
        c.mode = Mode::Enforce;
        let (m, why) = c.container_mode(Some(&json!({"io.tiercel.mode": "audit"})));
        assert_eq!(m, Mode::Enforce);
        assert!(why.unwrap().contains("downgrade"));
        c.allow_annotation_downgrade = true;
        assert_eq!(
            c.container_mode(Some(&json!({"io.tiercel.mode": "audit"})))
                .0,
            Mode::Audit
        );
        assert_eq!(c.on_missing_for(Mode::Enforce), OnMissing::FailClosed);
        assert_eq!(c.on_missing_for(Mode::Audit), OnMissing::FailOpen);
    }

    #[test]
    fn images() {
        assert_eq!(
            split_image("localhost/busybox:latest"),
            ("localhost/busybox".into(), Some("latest".into()))
        );
        assert_eq!(split_image("reg:5000/a/b"), ("reg:5000/a/b".into(), None));
        assert_eq!(
            split_image("reg:5000/a/b:1.2@sha256:ab"),
            ("reg:5000/a/b".into(), Some("1.2".into()))
        );
        assert_eq!(split_image("nginx"), ("nginx".into(), None));
    }

    #[test]
    fn podman_storage() {
        let root = std::env::temp_dir().join(format!("tiercel-pod-{}", std::process::id()));
        let bundle = root.join("overlay-containers/abc123/userdata");
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(
            root.join("overlay-containers/containers.json"),
            r#"[{"id":"zzz","names":["other"]},{"id":"abc123","names":["web"],"image":"deadbeef",
            "metadata":"{\"image-name\":\"localhost/busybox:latest\",\"name\":\"web\"}"}]"#,
        )
        .unwrap();
        assert_eq!(
            podman_container_info(&bundle),
            Some(("web".to_string(), "localhost/busybox:latest".to_string()))
        );
        assert_eq!(
            podman_container_info(&root.join("overlay-containers/nope/userdata")),
            None
        );
        assert_eq!(podman_container_info(Path::new("/")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn time_format() {
        let t = humantime_now();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn config_round_trip_keeps_unknown_fields() {
        let dir = std::env::temp_dir().join(format!("tiercel-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.json");
        std::fs::write(
            &p,
            r#"{"ociVersion":"1.0.2","x-future":{"a":[1,2]},"linux":{}}"#,
        )
        .unwrap();
        let mut v = read_bundle_config(&p).unwrap();
        v["linux"]["seccomp"] = json!({"defaultAction":"SCMP_ACT_ALLOW"});
        write_bundle_config(&p, &v).unwrap();
        let back = read_bundle_config(&p).unwrap();
        assert_eq!(back["x-future"], json!({"a":[1,2]}));
        assert_eq!(back["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ALLOW");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Issue 16 (b): a file planted where the temporary config goes — a symlink to a file
    /// elsewhere, under the name the writer used to derive from its pid — is never written
    /// through, and the new config keeps the original's mode.
    #[test]
    fn config_write_never_follows_a_planted_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, b"untouched").unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, br#"{"ociVersion":"1.0.2"}"#).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        for name in [
            format!(".config.json.tiercel.{}", std::process::id()),
            ".config.json.tiercel".to_owned(),
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        write_bundle_config(&p, &json!({"ociVersion": "1.0.2", "x": 1})).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
        assert_eq!(read_bundle_config(&p).unwrap()["x"], 1);
        let meta = std::fs::symlink_metadata(&p).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        // No temporary file is left behind (the planted symlinks stay).
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("config.json")]);
    }

    /// A bundle directory that others can write is refused: whoever can write there could
    /// swap the config under runc anyway, and tiercel does not write into it.
    #[test]
    fn config_write_refuses_a_directory_others_can_write() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, br#"{"ociVersion":"1.0.2"}"#).unwrap();
        for mode in [0o777, 0o1777, 0o775] {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
            let e = write_bundle_config(&p, &json!({"x": 1})).unwrap_err();
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied,
                "{mode:o}: {e}"
            );
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        write_bundle_config(&p, &json!({"x": 1})).unwrap();
    }
}
