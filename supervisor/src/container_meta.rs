//! Container metadata as Falco shows it (`container.name`, `container.image*`,
//! `container.labels`, `container.privileged`, `container.start_ts`, `container.mounts`,
//! `container.type`), taken from each engine's own record:
//!
//! * Docker: its container store, `<data-root>/containers/<id>/config.v2.json` and
//!   `hostconfig.json`. The bundle's `config.json` reveals the data root: Docker bind-mounts
//!   `<data-root>/containers/<id>/hostname` (and `hosts`, `resolv.conf`) into every container.
//!   The record is accepted only when its `ID` is the container's id.
//! * podman: containers/storage's `containers.json` two directories above the bundle.
//! * containerd (CRI) and CRI-O: their annotations (the engine writes them; whoever writes
//!   the pod spec controls only the pod's own annotations, not these keys).
//!
//! Never on the hot path: a session starts with what the state JSON's annotations say
//! ([`from_annotations`]) and a background thread ([`spawn_lookup`]) reads the engine's record,
//! retrying while it is incomplete (a session can start before the engine has written its
//! record), and swaps the result into the session's [`MetaCell`]; alerts formatted after
//! that show it. The engine's record wins over annotations (annotations can be forged by
//! whoever writes the config); [`ContainerMeta::sources`] says where each value came from.
//!
//! Annotations never override an engine record: once the container is known to belong to
//! an engine with its own store (Docker by its bundle path or hostname mount, podman /
//! containers-storage by `containers.json`), the name and image that only annotations
//! vouched for are dropped, even before the record is written. For plain runc (and CRI,
//! CRI-O and containerd, whose annotations are the engine's own record) the name and the
//! image come from annotations alone: they are the config writer's claims. Each alert's
//! JSON carries `tiercel.meta_source` ([`ContainerMeta::source_summary`]): where
//! `container.name` and `container.image` came from, annotation values marked as claims.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::event::container::MountInfo;

/// Largest engine record read (config.v2.json, hostconfig.json, config.json).
const MAX_RECORD: u64 = 8 << 20;
/// At most this many labels are kept (Falco's plugin drops long ones too).
const MAX_LABELS: usize = 256;
/// Labels whose value is longer than this are dropped (Falco's `label_max_len` default).
const LABEL_MAX_LEN: usize = 100;

/// Where a metadata value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An OCI annotation (the key).
    Annotation(String),
    /// Docker's container store (the file).
    DockerStore(PathBuf),
    /// podman's containers/storage `containers.json`.
    PodmanStore(PathBuf),
    /// The bundle's path (`…/io.containerd.runtime.v2.task/<namespace>/<id>`).
    BundlePath,
    /// The bundle's `config.json` (the process's capability bounding set).
    Bundle(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Annotation(k) => write!(f, "annotation {k}"),
            Source::DockerStore(p) => write!(f, "docker {}", p.display()),
            Source::Bundle(p) => write!(f, "bundle {}", p.display()),
            Source::PodmanStore(p) => write!(f, "podman {}", p.display()),
            Source::BundlePath => f.write_str("bundle path"),
        }
    }
}

/// What is known about a container's engine-side identity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerMeta {
    /// `container.type`: docker, podman, containerd, cri-o.
    pub engine: Option<&'static str>,
    pub name: Option<String>,
    /// The image as the engine names it (`container.image`).
    pub image: Option<String>,
    pub image_repository: Option<String>,
    pub image_tag: Option<String>,
    pub image_digest: Option<String>,
    pub image_id: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub privileged: Option<bool>,
    pub host_pid: Option<bool>,
    pub host_network: Option<bool>,
    pub host_ipc: Option<bool>,
    /// The engine's start time of the container (epoch ns).
    pub start_ns: Option<u64>,
    /// The engine's list of the container's mounts (volumes, binds).
    pub mounts: Option<Vec<MountInfo>>,
    /// Field name (`container.name`, …) → where its value came from.
    pub sources: BTreeMap<&'static str, Source>,
    /// The engine's record was found and is final (nothing left to wait for).
    pub complete: bool,
}

impl ContainerMeta {
    /// Drops the name and image that only annotations vouched for: the container belongs to
    /// an engine whose own record alone names it.
    fn drop_claims(&mut self) {
        let claimed = |m: &Self, f: &str| matches!(m.sources.get(f), Some(Source::Annotation(_)));
        if claimed(self, "container.name") {
            self.name = None;
            self.sources.remove("container.name");
        }
        if claimed(self, "container.image") {
            self.image = None;
            self.image_repository = None;
            self.image_tag = None;
            self.image_digest = None;
            for f in [
                "container.image",
                "container.image.repository",
                "container.image.tag",
            ] {
                self.sources.remove(f);
            }
        }
    }

    /// Where `container.name` and `container.image` came from, for the JSON alert's
    /// `tiercel.meta_source`: `{"container.name": "docker /…/config.v2.json", …}`, an
    /// annotation's value written `annotation KEY (claim)`. `None` when neither is known.
    pub fn source_summary(&self) -> Option<Value> {
        let mut o = serde_json::Map::new();
        for f in ["container.name", "container.image"] {
            if let Some(src) = self.sources.get(f) {
                let text = match src {
                    Source::Annotation(_) => format!("{src} (claim)"),
                    _ => src.to_string(),
                };
                o.insert(f.into(), Value::String(text));
            }
        }
        (!o.is_empty()).then_some(Value::Object(o))
    }

    /// `container.labels`: `key:value` pairs joined by `, `, sorted by key.
    pub fn labels_text(&self) -> Option<String> {
        let l = self.labels.as_ref()?;
        Some(
            l.iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    fn set_image(&mut self, image: &str, src: &Source) {
        let (r, t) = crate::engines::split_image(image);
        self.image = Some(image.to_string());
        self.image_repository = Some(r);
        self.image_tag = t;
        self.image_digest = image.split_once('@').map(|(_, d)| d.to_string());
        for f in [
            "container.image",
            "container.image.repository",
            "container.image.tag",
        ] {
            self.sources.insert(f, src.clone());
        }
    }
}

/// A session's metadata, swapped whole when the background lookup learns more.
#[derive(Debug, Default)]
pub struct MetaCell {
    cur: RwLock<Arc<ContainerMeta>>,
}

impl MetaCell {
    pub fn new(m: ContainerMeta) -> Self {
        MetaCell {
            cur: RwLock::new(Arc::new(m)),
        }
    }

    /// The current record (a cheap `Arc` clone).
    pub fn load(&self) -> Arc<ContainerMeta> {
        match self.cur.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn store(&self, m: ContainerMeta) {
        let m = Arc::new(m);
        match self.cur.write() {
            Ok(mut g) => *g = m,
            Err(p) => *p.into_inner() = m,
        }
    }
}

/// What identifies a container to the lookup.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Full OCI id.
    pub id: String,
    pub bundle: Option<PathBuf>,
    pub annotations: BTreeMap<String, String>,
}

/// Metadata from annotations and the bundle path alone (no file reads): what a session
/// starts with.
pub fn from_annotations(t: &Target) -> ContainerMeta {
    let mut m = ContainerMeta::default();
    let a = |k: &'static str| {
        t.annotations
            .get(k)
            .filter(|s| !s.is_empty())
            .map(|v| (k, v.as_str()))
    };
    let first = |keys: &[&'static str]| keys.iter().find_map(|k| a(k));
    if let Some((k, n)) = first(&[
        "io.kubernetes.cri.container-name",
        "io.kubernetes.container.name",
        "nerdctl/name",
        "io.kubernetes.cri-o.ContainerName",
    ]) {
        m.name = Some(n.trim_start_matches('/').to_string());
        m.sources
            .insert("container.name", Source::Annotation(k.into()));
    }
    if let Some((k, i)) = first(&[
        "io.kubernetes.cri.image-name",
        "io.kubernetes.cri-o.ImageName",
        "org.opencontainers.image.ref.name",
    ]) {
        m.set_image(i, &Source::Annotation(k.into()));
    }
    let has_prefix = |p: &str| t.annotations.keys().any(|k| k.starts_with(p));
    let engine = if a("io.container.manager").map(|x| x.1) == Some("libpod") {
        Some(("podman", Source::Annotation("io.container.manager".into())))
    } else if has_prefix("io.kubernetes.cri-o.") {
        Some(("cri-o", Source::Annotation("io.kubernetes.cri-o.*".into())))
    } else if has_prefix("io.kubernetes.cri.") {
        Some((
            "containerd",
            Source::Annotation("io.kubernetes.cri.*".into()),
        ))
    } else {
        t.bundle
            .as_deref()
            .and_then(containerd_namespace)
            .map(|ns| {
                (
                    if ns == "moby" { "docker" } else { "containerd" },
                    Source::BundlePath,
                )
            })
    };
    if let Some((e, src)) = engine {
        m.engine = Some(e);
        m.sources.insert("container.type", src);
    }
    if t.bundle.as_deref().and_then(containerd_namespace) == Some("moby") {
        // Docker writes no name or image annotations: such claims are someone else's.
        m.drop_claims();
    }
    m
}

/// The containerd namespace of a shim v2 bundle
/// (`…/io.containerd.runtime.v2.task/<namespace>/<id>`); Docker's is `moby`.
pub fn containerd_namespace(bundle: &Path) -> Option<&str> {
    let ns_dir = bundle.parent()?;
    if ns_dir.parent()?.file_name()? != "io.containerd.runtime.v2.task" {
        return None;
    }
    ns_dir.file_name()?.to_str()
}

/// Everything known now: annotations, then the engine's record (which wins); without an
/// engine value, `container.privileged` from the bundle's bounding set (every capability
/// the supervisor itself has), as for plain runc.
pub fn lookup(t: &Target) -> ContainerMeta {
    let mut m = lookup_records(t);
    privileged_from_bundle(&mut m, t.bundle.as_deref());
    m
}

/// Without an engine value, `container.privileged` from the bundle's bounding set (every
/// capability the supervisor itself has), with its source.
pub fn privileged_from_bundle(m: &mut ContainerMeta, bundle: Option<&Path>) {
    if m.privileged.is_some() {
        return;
    }
    if let Some(b) = bundle {
        m.privileged = crate::engines::bundle_privileged(b);
        if m.privileged.is_some() {
            m.sources.insert(
                "container.privileged",
                Source::Bundle(b.join("config.json")),
            );
        }
    }
}

fn lookup_records(t: &Target) -> ContainerMeta {
    let mut m = from_annotations(t);
    let Some(bundle) = t.bundle.as_deref() else {
        m.complete = true;
        return m;
    };
    if let Some((name, image)) = crate::engines::podman_container_info(bundle) {
        m.drop_claims();
        let src = Source::PodmanStore(
            bundle
                .parent()
                .and_then(Path::parent)
                .map(|p| p.join("containers.json"))
                .unwrap_or_default(),
        );
        m.name = Some(name);
        m.sources.insert("container.name", src.clone());
        if !image.is_empty() {
            m.set_image(&image, &src);
        }
        m.complete = true;
        return m;
    }
    if let Some(dir) = docker_container_dir(bundle, &t.id) {
        m.engine = Some("docker");
        m.drop_claims();
        match docker_record(&dir, &t.id, &mut m) {
            Ok(done) => m.complete = done,
            Err(e) => tracing::debug!(container = %t.id, "docker record: {e}"),
        }
        return m;
    }
    // Neither store applies: annotations are all there is.
    m.complete = containerd_namespace(bundle) != Some("moby");
    m
}

/// Docker's `<data-root>/containers/<id>` for a bundle: from the bind mount of its
/// `hostname` (or `hosts`, `resolv.conf`) file in the bundle's `config.json`.
pub fn docker_container_dir(bundle: &Path, id: &str) -> Option<PathBuf> {
    if id.is_empty() || id.contains('/') {
        return None;
    }
    let text = read_bounded(&bundle.join("config.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("mounts")?
        .as_array()?
        .iter()
        .take(4096)
        .filter_map(|mnt| {
            let dest = mnt.get("destination")?.as_str()?;
            let src = Path::new(mnt.get("source")?.as_str()?);
            let file = src.file_name()?.to_str()?;
            let dir = src.parent()?;
            let ok = matches!(
                (dest, file),
                ("/etc/hostname", "hostname")
                    | ("/etc/hosts", "hosts")
                    | ("/etc/resolv.conf", "resolv.conf")
            ) && dir.file_name()?.to_str()? == id
                && dir.parent()?.file_name()? == "containers";
            ok.then(|| dir.to_path_buf())
        })
        .next()
}

/// Fills `m` from Docker's `config.v2.json` and `hostconfig.json` in `dir`. Returns whether
/// the record is final (the container has a start time).
fn docker_record(dir: &Path, id: &str, m: &mut ContainerMeta) -> Result<bool, String> {
    let cfg_path = dir.join("config.v2.json");
    let text = read_bounded(&cfg_path).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    let c: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", cfg_path.display()))?;
    if c.get("ID").and_then(Value::as_str) != Some(id) {
        return Err(format!("{}: not container {id}", cfg_path.display()));
    }
    let src = Source::DockerStore(cfg_path.clone());
    m.sources.insert("container.type", src.clone());
    if let Some(n) = c.get("Name").and_then(Value::as_str) {
        m.name = Some(n.trim_start_matches('/').to_string());
        m.sources.insert("container.name", src.clone());
    }
    let config = c.get("Config");
    if let Some(img) = config
        .and_then(|x| x.get("Image"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        m.set_image(img, &src);
        // Docker images referred to without a tag are `latest` (as Falco reports them).
        if m.image_tag.is_none() && m.image_digest.is_none() && !img.starts_with("sha256:") {
            m.image_tag = Some("latest".into());
        }
    }
    if let Some(iid) = c.get("Image").and_then(Value::as_str) {
        m.image_id = Some(
            iid.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>(),
        );
        m.sources.insert("container.image.id", src.clone());
        if m.image_digest.is_none() {
            if let (Some(repo), Some(root)) = (m.image_repository.clone(), dir.parent()) {
                if let Some(d) = root.parent().and_then(|r| docker_digest(r, &repo, iid)) {
                    m.image_digest = Some(d.1);
                    m.sources
                        .insert("container.image.digest", Source::DockerStore(d.0));
                }
            }
        }
    }
    if let Some(l) = config
        .and_then(|x| x.get("Labels"))
        .and_then(Value::as_object)
    {
        m.labels = Some(
            l.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .filter(|(_, v)| v.len() <= LABEL_MAX_LEN)
                .take(MAX_LABELS)
                .collect(),
        );
        m.sources.insert("container.labels", src.clone());
    }
    if let Some(mps) = c.get("MountPoints").and_then(Value::as_object) {
        let mut mounts: Vec<MountInfo> = mps
            .values()
            .take(4096)
            .filter_map(|mp| {
                let s = |k: &str| mp.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let dest = s("Destination");
                (!dest.is_empty()).then(|| MountInfo {
                    source: s("Source"),
                    dest,
                    mode: s("Mode"),
                    rdwr: mp.get("RW").and_then(Value::as_bool).unwrap_or(false),
                    propagation: s("Propagation"),
                })
            })
            .collect();
        mounts.sort_by(|a, b| a.dest.cmp(&b.dest));
        m.mounts = Some(mounts);
        m.sources.insert("container.mounts", src.clone());
    }
    let host_path = dir.join("hostconfig.json");
    if let Ok(h) = read_bounded(&host_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        let hsrc = Source::DockerStore(host_path);
        if let Some(p) = h.get("Privileged").and_then(Value::as_bool) {
            m.privileged = Some(p);
            m.sources.insert("container.privileged", hsrc.clone());
        }
        let mode = |k: &str| h.get(k).and_then(Value::as_str).map(|v| v == "host");
        m.host_network = mode("NetworkMode");
        m.host_pid = mode("PidMode");
        m.host_ipc = mode("IpcMode");
    }
    let started = c
        .get("State")
        .and_then(|s| s.get("StartedAt"))
        .and_then(Value::as_str)
        .and_then(parse_rfc3339_ns);
    if let Some(ns) = started {
        m.start_ns = Some(ns);
        m.sources.insert("container.start_ts", src);
    }
    Ok(m.privileged.is_some() && started.is_some())
}

/// The registry digest of image `image_id` in Docker's `repositories.json`
/// (`<data-root>/image/<driver>/repositories.json`: `repo` → `repo@sha256:…` → image id).
fn docker_digest(root: &Path, repo: &str, image_id: &str) -> Option<(PathBuf, String)> {
    let dirs = std::fs::read_dir(root.join("image")).ok()?;
    for d in dirs.take(16).flatten() {
        let p = d.path().join("repositories.json");
        let Ok(text) = read_bounded(&p) else { continue };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let Some(refs) = v
            .get("Repositories")
            .and_then(|r| r.get(repo))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (r, id) in refs {
            if id.as_str() == Some(image_id) {
                if let Some((_, dg)) = r.split_once('@') {
                    return Some((p, dg.to_string()));
                }
            }
        }
    }
    None
}

/// `2024-05-01T10:20:30.123456789Z` (or with a `+hh:mm` offset) → epoch ns. Docker's
/// "never started" `0001-01-01T00:00:00Z` is `None`.
pub fn parse_rfc3339_ns(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if y < 1970 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_ns = 0u64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let mut f = r[..digits.min(9)].to_string();
        while f.len() < 9 {
            f.push('0');
        }
        frac_ns = f.parse().ok()?;
        rest = &r[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let oh: i64 = o.get(1..3)?.parse().ok()?;
            let om: i64 = o.get(4..6)?.parse().ok()?;
            let v = oh * 3600 + om * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    // days_from_civil (Howard Hinnant)
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(frac_ns)
}

fn read_bounded(p: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let f = std::fs::File::open(p)?;
    let mut s = String::new();
    f.take(MAX_RECORD + 1).read_to_string(&mut s)?;
    if s.len() as u64 > MAX_RECORD {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "record too large",
        ));
    }
    Ok(s)
}

/// How long the background lookup keeps retrying an incomplete record.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(30);

/// Starts the background lookup for a session's `cell`: looks the container up, swaps in
/// what it found when it changed, and retries (50 ms, doubling to 1 s) until the record
/// is complete, `deadline` passes, or the session is gone (the cell dropped).
/// Returns a receiver that gets `()` after the first attempt.
pub fn spawn_lookup(
    cell: &Arc<MetaCell>,
    target: Target,
    deadline: Duration,
) -> Option<std::sync::mpsc::Receiver<()>> {
    let weak: Weak<MetaCell> = Arc::downgrade(cell);
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let r = std::thread::Builder::new()
        .name("tiercel-meta".into())
        .spawn(move || {
            let start = Instant::now();
            let mut wait = Duration::from_millis(50);
            let mut first = Some(tx);
            loop {
                let Some(cell) = weak.upgrade() else { return };
                let m = lookup(&target);
                let done = m.complete;
                if *cell.load() != m {
                    tracing::debug!(
                        container = %target.id,
                        name = ?m.name,
                        image = ?m.image,
                        complete = done,
                        sources = ?m.sources.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>(),
                        "container metadata"
                    );
                    cell.store(m);
                }
                drop(cell);
                if let Some(tx) = first.take() {
                    let _ = tx.try_send(());
                }
                if done || start.elapsed() >= deadline {
                    return;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        });
    match r {
        Ok(_) => Some(rx),
        Err(e) => {
            tracing::warn!("container metadata lookup thread: {e}");
            None
        }
    }
}

/// How long a new session waits for the lookup's first attempt (local files only): long
/// enough that rules on `container.privileged` & co see the engine's record from the
/// container's first call when the engine wrote it before starting the container (Docker,
/// podman), short enough that a slow store cannot hold a container's start.
pub const FIRST_LOOKUP_WAIT: Duration = Duration::from_millis(100);

/// [`spawn_lookup`] with [`LOOKUP_DEADLINE`], waiting up to [`FIRST_LOOKUP_WAIT`] for the
/// first attempt.
pub fn start_lookup(cell: &Arc<MetaCell>, target: Target) {
    if let Some(rx) = spawn_lookup(cell, target, LOOKUP_DEADLINE) {
        let _ = rx.recv_timeout(FIRST_LOOKUP_WAIT);
    }
}

/// Annotations as a map (for [`Target`]).
pub fn annotations_map(a: &HashMap<String, String>) -> BTreeMap<String, String> {
    a.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tmp(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("tiercel-meta-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }

    const ID: &str = "4f1c0e8a9b7d6c5e4f1c0e8a9b7d6c5e4f1c0e8a9b7d6c5e4f1c0e8a9b7d6c5e";

    /// A Docker-like layout: data root with `containers/<id>`, a containerd bundle whose
    /// `config.json` mounts the container's `hostname` file.
    fn docker_layout(root: &Path) -> (PathBuf, PathBuf) {
        let cdir = root.join("data/containers").join(ID);
        std::fs::create_dir_all(&cdir).unwrap();
        let bundle = root
            .join("exec/containerd/daemon/io.containerd.runtime.v2.task/moby/")
            .join(ID);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(
            bundle.join("config.json"),
            serde_json::json!({"ociVersion":"1.0.2","mounts":[
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/etc/hostname","type":"bind","source": cdir.join("hostname"),"options":["rbind","rprivate"]}
            ]})
            .to_string(),
        )
        .unwrap();
        (bundle, cdir)
    }

    fn write_record(cdir: &Path, started: &str, privileged: Option<bool>) {
        std::fs::write(
            cdir.join("config.v2.json"),
            serde_json::json!({
                "ID": ID, "Name": "/web", "Image": "sha256:0123456789abcdef0123",
                "Config": {"Image": "tiercel-e2e/busybox:1.36", "Labels": {"tier": "front", "app": "web"}},
                "State": {"StartedAt": started},
                "MountPoints": {"/data": {"Source": "/srv/data", "Destination": "/data", "RW": true, "Mode": "", "Propagation": "rprivate"}}
            })
            .to_string(),
        )
        .unwrap();
        match privileged {
            Some(p) => std::fs::write(
                cdir.join("hostconfig.json"),
                serde_json::json!({"Privileged": p, "NetworkMode": "host", "PidMode": ""})
                    .to_string(),
            )
            .unwrap(),
            None => {
                let _ = std::fs::remove_file(cdir.join("hostconfig.json"));
            }
        }
    }

    #[test]
    fn docker_store_record() {
        let t = tmp("docker");
        let (bundle, cdir) = docker_layout(&t.0);
        let target = Target {
            id: ID.into(),
            bundle: Some(bundle.clone()),
            annotations: [("io.kubernetes.cri.container-name".into(), "forged".into())].into(),
        };
        // Nothing written yet: the engine is known from the bundle path, nothing else.
        let m = lookup(&target);
        assert_eq!(m.engine, Some("docker"));
        assert!(!m.complete);
        assert_eq!(m.name, None, "an annotation never names a docker container");
        write_record(&cdir, "2026-12-05T16:11:48.123456789Z", Some(true));
        let m = lookup(&target);
        assert!(m.complete, "{m:?}");
        assert_eq!(m.name.as_deref(), Some("web"), "engine record wins");
        assert_eq!(
            m.sources["container.name"],
            Source::DockerStore(cdir.join("config.v2.json"))
        );
        assert_eq!(m.image.as_deref(), Some("tiercel-e2e/busybox:1.36"));
        assert_eq!(m.image_repository.as_deref(), Some("tiercel-e2e/busybox"));
        assert_eq!(m.image_tag.as_deref(), Some("1.36"));
        assert_eq!(m.image_id.as_deref(), Some("0123456789ab"));
        assert_eq!(m.privileged, Some(true));
        assert_eq!(m.host_network, Some(true));
        assert_eq!(m.host_pid, Some(false));
        assert_eq!(m.labels_text().as_deref(), Some("app:web, tier:front"));
        assert_eq!(m.start_ns, Some(1_796_487_108_123_456_789));
        assert_eq!(m.image_digest, None, "no repositories.json entry by digest");
        // An image pulled by digest: repositories.json maps `repo@sha256:…` to its id.
        let repos = t.0.join("data/image/overlay2");
        std::fs::create_dir_all(&repos).unwrap();
        std::fs::write(
            repos.join("repositories.json"),
            r#"{"Repositories":{"tiercel-e2e/busybox":{"tiercel-e2e/busybox:1.36":"sha256:0123456789abcdef0123","tiercel-e2e/busybox@sha256:feed":"sha256:0123456789abcdef0123","tiercel-e2e/busybox@sha256:other":"sha256:99"}}}"#,
        )
        .unwrap();
        let m = lookup(&target);
        assert_eq!(m.image_digest.as_deref(), Some("sha256:feed"));
        assert_eq!(
            m.sources["container.image.digest"],
            Source::DockerStore(repos.join("repositories.json"))
        );
        let mounts = m.mounts.as_ref().unwrap();
        assert_eq!(mounts.len(), 1);
        assert_eq!(mounts[0].render(), "/srv/data:/data::true:rprivate");
        // A record of another container (a forged hostname mount) is refused.
        let other = Target {
            id: "0000".into(),
            ..target.clone()
        };
        assert!(docker_container_dir(&bundle, "0000").is_none());
        assert_eq!(lookup(&other).name, None);
    }

    #[test]
    fn background_lookup_fills_in_later_and_stops_when_complete() {
        let t = tmp("bg");
        let (bundle, cdir) = docker_layout(&t.0);
        let target = Target {
            id: ID.into(),
            bundle: Some(bundle),
            annotations: BTreeMap::new(),
        };
        // Order 1: the session starts before the engine wrote its record.
        let cell = Arc::new(MetaCell::new(from_annotations(&target)));
        assert_eq!(cell.load().engine, Some("docker"));
        assert_eq!(cell.load().name, None);
        spawn_lookup(&cell, target.clone(), Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(cell.load().name, None);
        write_record(&cdir, "0001-01-01T00:00:00Z", None);
        let until = |f: &dyn Fn(&ContainerMeta) -> bool| {
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end {
                if f(&cell.load()) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        };
        assert!(until(&|m| m.name.as_deref() == Some("web")));
        assert!(!cell.load().complete, "not started yet: keeps looking");
        write_record(&cdir, "2026-12-05T16:11:48Z", Some(false));
        assert!(until(&|m| m.complete && m.privileged == Some(false)));
        // Order 2: the record is there before the session starts.
        let cell2 = Arc::new(MetaCell::new(from_annotations(&target)));
        spawn_lookup(&cell2, target, Duration::from_secs(10));
        let end = Instant::now() + Duration::from_secs(5);
        while !cell2.load().complete && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(cell2.load().name.as_deref(), Some("web"));
    }

    /// Issue 16 (c): annotations that claim a trusted name and image never override an
    /// engine's record — not even a field the record leaves empty — and the alert says
    /// where each value came from.
    #[test]
    fn annotations_never_override_an_engine_record() {
        let claims: BTreeMap<String, String> = [
            (
                "io.kubernetes.cri.container-name".into(),
                "trusted-app".into(),
            ),
            (
                "io.kubernetes.cri.image-name".into(),
                "registry.corp/trusted:1".into(),
            ),
        ]
        .into();
        // podman / containers-storage with an empty image in its record.
        let t = tmp("claims-podman");
        let ud = t.0.join("overlay-containers/abc/userdata");
        std::fs::create_dir_all(&ud).unwrap();
        std::fs::write(
            t.0.join("overlay-containers/containers.json"),
            r#"[{"id":"abc","names":["real"],"metadata":"{}"}]"#,
        )
        .unwrap();
        let m = lookup(&Target {
            id: "abc".into(),
            bundle: Some(ud),
            annotations: claims.clone(),
        });
        assert_eq!(m.name.as_deref(), Some("real"));
        assert_eq!(m.image, None, "{m:?}");
        assert_eq!(m.image_repository, None);
        assert!(!m.sources.contains_key("container.image"));
        let s = m.source_summary().unwrap();
        assert!(s["container.name"].as_str().unwrap().starts_with("podman "));
        assert!(s.get("container.image").is_none());
        // Docker: claims are dropped from the first look (before the record exists) and
        // when the record has no image.
        let t = tmp("claims-docker");
        let (bundle, cdir) = docker_layout(&t.0);
        let target = Target {
            id: ID.into(),
            bundle: Some(bundle),
            annotations: claims.clone(),
        };
        let first = from_annotations(&target);
        assert_eq!((first.name.clone(), first.image.clone()), (None, None));
        std::fs::write(
            cdir.join("config.v2.json"),
            serde_json::json!({"ID": ID, "Name": "/web", "Config": {}}).to_string(),
        )
        .unwrap();
        let m = lookup(&target);
        assert_eq!(m.name.as_deref(), Some("web"));
        assert_eq!(m.image, None);
        // Plain runc (no engine record): the values are the annotations', marked claims.
        let m = lookup(&Target {
            id: "x".into(),
            bundle: Some(t.0.join("plain-bundle")),
            annotations: claims,
        });
        assert_eq!(m.name.as_deref(), Some("trusted-app"));
        let s = m.source_summary().unwrap();
        assert_eq!(
            s["container.image"],
            "annotation io.kubernetes.cri.image-name (claim)"
        );
        assert_eq!(
            s["container.name"],
            "annotation io.kubernetes.cri.container-name (claim)"
        );
    }

    #[test]
    fn annotations_and_bundle_paths() {
        let t = Target {
            id: "x".into(),
            bundle: Some("/run/containerd/io.containerd.runtime.v2.task/default/x".into()),
            annotations: BTreeMap::new(),
        };
        let m = lookup(&t);
        assert_eq!(m.engine, Some("containerd"));
        assert!(m.complete);
        let t = Target {
            id: "x".into(),
            bundle: None,
            annotations: [
                ("io.kubernetes.cri.container-name".into(), "app".into()),
                (
                    "io.kubernetes.cri.image-name".into(),
                    "docker.io/library/nginx:1.25@sha256:abcd".into(),
                ),
            ]
            .into(),
        };
        let m = lookup(&t);
        assert_eq!(m.engine, Some("containerd"));
        assert_eq!(m.name.as_deref(), Some("app"));
        assert_eq!(
            m.image_repository.as_deref(),
            Some("docker.io/library/nginx")
        );
        assert_eq!(m.image_tag.as_deref(), Some("1.25"));
        assert_eq!(m.image_digest.as_deref(), Some("sha256:abcd"));
        assert_eq!(
            m.sources["container.name"],
            Source::Annotation("io.kubernetes.cri.container-name".into())
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            parse_rfc3339_ns("1970-01-01T00:00:01Z"),
            Some(1_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_ns("1970-01-01T01:00:01.5+01:00"),
            Some(1_500_000_000)
        );
        assert_eq!(parse_rfc3339_ns("0001-01-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_ns("garbage"), None);
        assert_eq!(
            parse_rfc3339_ns("2026-12-05T16:11:48Z"),
            Some(1_796_487_108_000_000_000)
        );
    }
}
