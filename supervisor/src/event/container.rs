//! [`ContainerCtx`]: what the events of one session (one listener fd, one container)
//! share: the container's identity, its [`ContainerTables`] (the process table and user
//! db, shared by every session of the container), its bundle's `config.json`
//! (annotations, mounts) read once, and the DNS table for `fd.*ip.name`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tiercel_rules::event::FieldArg;

use super::procfs::{self, ProcCache, UserDb};
use super::ContainerInfo;

/// Host names (from the rules' `fd.*ip.name` values) by the addresses they resolve to,
/// maintained by whoever resolves them (shared by every session).
pub type DnsTable = Arc<std::sync::RwLock<std::collections::HashMap<IpAddr, Vec<String>>>>;

/// How often a cached user db is checked against its files (in-root `fstat`s).
pub const USERDB_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// What every session of one container shares: the process table (tasks by (tid, start
/// time), per-process facts by thread group; bounded in bytes), the user db read from the
/// container's own files with the time of its last change check, and the root's overlay
/// upperdir. One per container id while a session of it lives (see
/// [`ContainerTables::for_container`]); dropped, with all it holds, with the last one.
#[derive(Debug, Default)]
pub struct ContainerTables {
    pub(super) cache: Mutex<ProcCache>,
    pub(super) userdb: Mutex<Option<(Arc<UserDb>, std::time::Instant)>>,
    /// A handle on the container root's overlay upperdir (`None` inside: not an overlay,
    /// or not reachable from here), opened once.
    pub(super) upperdir: Mutex<Option<Option<Arc<std::os::fd::OwnedFd>>>>,
}

impl Drop for ContainerTables {
    /// The container's last session has ended: its tables go (their `Drop`s unaccount
    /// them), and the freed heap is handed back to the kernel.
    /// (The heap the container's events and alerts used is freed by then as well: a
    /// container that made the supervisor grow does not leave it grown.)
    fn drop(&mut self) {
        if let Ok(c) = self.cache.get_mut() {
            *c = ProcCache::with_budget(0);
        }
        if let Ok(u) = self.userdb.get_mut() {
            *u = None;
        }
        crate::sys::malloc_trim();
    }
}

type Registry = Mutex<std::collections::HashMap<String, std::sync::Weak<ContainerTables>>>;

fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(Default::default)
}

impl ContainerTables {
    /// The tables of container `id`: the live ones when another session of it has them,
    /// new ones otherwise (an empty id gets private tables).
    pub fn for_container(id: &str) -> Arc<ContainerTables> {
        if id.is_empty() {
            return Arc::default();
        }
        let Ok(mut r) = registry().lock() else {
            return Arc::default();
        };
        if let Some(t) = r.get(id).and_then(std::sync::Weak::upgrade) {
            return t;
        }
        // Forget the containers whose last session has ended.
        r.retain(|_, w| w.strong_count() > 0);
        let t = Arc::new(ContainerTables::default());
        r.insert(id.to_string(), Arc::downgrade(&t));
        t
    }

    /// Bytes the process table accounts for now.
    pub fn cache_bytes(&self) -> usize {
        self.cache.lock().map(|c| c.bytes()).unwrap_or(0)
    }
}

/// State shared by the events of one session (one container).
#[derive(Debug)]
pub struct ContainerCtx {
    pub container: ContainerInfo,
    pub(super) proc_root: PathBuf,
    /// Shared with the container's other sessions.
    pub(super) tables: Arc<ContainerTables>,
    pub(super) hostname: String,
    pub(super) boot_ns: Option<u64>,
    pub(super) dns: std::sync::RwLock<Option<DnsTable>>,
    /// OCI annotations from the bundle's `config.json`, read once.
    annotations: std::sync::OnceLock<std::collections::HashMap<String, String>>,
    /// The container's bind mounts from the bundle's `config.json`, read once.
    mounts: std::sync::OnceLock<Vec<MountInfo>>,
    /// This session's callers' `/proc/<tid>` handles, kept between events.
    pub(super) dirs: Mutex<procfs::ProcDirs>,
}

/// One of the container's mounts as Falco's container plugin reports it
/// (`container.mounts`, `container.mount.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Host path (or volume) mounted.
    pub source: String,
    /// Where it is mounted in the container.
    pub dest: String,
    /// The engine's mode string (OCI has none: empty).
    pub mode: String,
    /// Mounted read-write (no `ro` option).
    pub rdwr: bool,
    /// `private`, `rprivate`, `shared`, `rshared`, `slave`, `rslave`, or empty.
    pub propagation: String,
}

impl MountInfo {
    /// Falco's `source:dest:mode:rdwr:propagation`.
    pub fn render(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.source, self.dest, self.mode, self.rdwr, self.propagation
        )
    }
}

/// The bind mounts of an OCI `config.json` (`mounts` entries of type `bind` or with a
/// `bind`/`rbind` option): what container engines report as the container's mounts
/// (volumes, host paths), not the runtime's own proc/sysfs/tmpfs mounts.
pub fn oci_bind_mounts(config: &serde_json::Value) -> Vec<MountInfo> {
    let Some(ms) = config.get("mounts").and_then(|m| m.as_array()) else {
        return Vec::new();
    };
    ms.iter()
        .take(4096)
        .filter_map(|m| {
            let opts: Vec<&str> = m
                .get("options")
                .and_then(|o| o.as_array())
                .map(|o| o.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            let bind = m.get("type").and_then(|t| t.as_str()) == Some("bind")
                || opts.iter().any(|o| matches!(*o, "bind" | "rbind"));
            if !bind {
                return None;
            }
            Some(MountInfo {
                source: m.get("source")?.as_str()?.to_string(),
                dest: m.get("destination")?.as_str()?.to_string(),
                mode: String::new(),
                rdwr: !opts.contains(&"ro"),
                propagation: opts
                    .iter()
                    .find(|o| {
                        matches!(
                            **o,
                            "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                        )
                    })
                    .map(|o| o.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// `container.mount*[arg]`: the mount at index `arg`, or the first whose source (by
/// source) or destination (by destination) matches the glob `arg`.
pub fn find_mount<'a>(
    mounts: &'a [MountInfo],
    arg: &FieldArg,
    by_dest: bool,
) -> Option<&'a MountInfo> {
    match arg {
        FieldArg::Index(i) => mounts.get(usize::try_from(*i).ok()?),
        FieldArg::Name(n) => mounts.iter().find(|m| {
            let key = if by_dest { &m.dest } else { &m.source };
            tiercel_rules::eval::glob_match(n.as_bytes(), key.as_bytes())
        }),
        FieldArg::None => None,
    }
}

impl ContainerCtx {
    /// A context for `container`, with the host's name and boot time read now.
    pub fn new(container: ContainerInfo) -> Self {
        let hostname = procfs::read_bounded(std::path::Path::new("/proc/sys/kernel/hostname"), 256)
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        ContainerCtx {
            proc_root: PathBuf::from("/proc"),
            tables: ContainerTables::for_container(&container.id),
            hostname,
            boot_ns: procfs::boot_time_ns(),
            dns: std::sync::RwLock::new(None),
            annotations: std::sync::OnceLock::new(),
            mounts: std::sync::OnceLock::new(),
            dirs: Mutex::default(),
            container,
        }
    }

    /// The tables this session shares with the container's other sessions.
    pub fn tables(&self) -> &Arc<ContainerTables> {
        &self.tables
    }

    fn config_json(&self) -> Option<serde_json::Value> {
        let b = self.container.bundle.as_ref()?;
        let raw = procfs::read_bounded(&PathBuf::from(b).join("config.json"), 8 << 20).ok()?;
        serde_json::from_slice::<serde_json::Value>(&raw).ok()
    }

    /// The container's mounts (from `<bundle>/config.json`), empty when unknown.
    pub fn mounts(&self) -> &[MountInfo] {
        self.mounts.get_or_init(|| {
            self.config_json()
                .map(|v| oci_bind_mounts(&v))
                .unwrap_or_default()
        })
    }

    /// The container's OCI annotations (`<bundle>/config.json`), empty when unknown.
    pub fn annotations(&self) -> &std::collections::HashMap<String, String> {
        self.annotations.get_or_init(|| {
            let Some(v) = self.config_json() else {
                return Default::default();
            };
            v.get("annotations")
                .and_then(|a| a.as_object())
                .map(|o| {
                    o.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        })
    }

    /// The first non-empty value among the annotations `keys`.
    pub(in crate::event) fn annotation(&self, keys: &[&str]) -> Option<&str> {
        let a = self.annotations();
        keys.iter()
            .find_map(|k| a.get(*k).map(String::as_str).filter(|v| !v.is_empty()))
    }

    /// The container's start: its init process's start time (epoch ns).
    pub(in crate::event) fn container_start_ns(&self) -> Option<u64> {
        if let Some(ns) = self.container.meta.load().start_ns {
            return Some(ns);
        }
        let pid = self.container.init_pid?;
        let b = procfs::read_bounded(&self.proc_root.join(format!("{pid}/stat")), 4096).ok()?;
        let st = procfs::Stat::parse(&b)?;
        Some(self.boot_ns? + procfs::ticks_to_ns(st.starttime))
    }

    /// Serves `fd.sip.name` & co from this table (names the rules compare with, by address).
    pub fn set_dns_table(&self, t: DnsTable) {
        if let Ok(mut g) = self.dns.write() {
            *g = Some(t);
        }
    }
}
