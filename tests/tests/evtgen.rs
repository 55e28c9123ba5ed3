//! `make conformance`: Falco's own declarative end-to-end suite (falco `e2e_tests/evtgen_suite`,
//! copied to `../shared/upstream-tests/falco-e2e-evtgen-suite/`) as an outside oracle.
//!
//! Every case of every file (matrix and vector cases expanded, `%{ item.x }` substituted) is
//! turned into a plan for the static helper `tests/evtgen/evtgen.c`, which runs as PID 1 of a
//! runc container watched by `tiercel supervise --mode audit` with the unmodified stable rules
//! (`falco_rules.yaml`). The helper builds the described process chain (real execve of itself
//! under the described name, argv[0], arguments and user), the "before" script, the resources
//! and the steps (real syscalls), and reports a time window per case. A case passes when an
//! alert of the expected rule, with the expected priority and output fields, was raised inside
//! its window (the steps' window when the test has steps, else the whole case).
//!
//! Each case ends passed, failed, or not applicable with a stated reason. The last line is
//! `evtgen: P passed, F failed, N not applicable of T cases`; the test fails when F > 0.
//!
//! Differences from event-generator's HostRunner, all of them deliberate:
//! - tiercel watches containers only, so every case runs in a container, also those whose
//!   `context.container` is null (host cases). The container is privileged as Docker makes it
//!   for event-generator's container context (all capabilities), its root is an overlayfs
//!   like Docker's (so `proc.is_exe_upper_layer` is meaningful), and the system users the
//!   suite names exist in its /etc/passwd (event-generator creates missing users).
//! - A process run as another user becomes that user before its execve (setresuid keeping every
//!   capability as ambient) instead of through a setuid copy with `all=iep` file capabilities:
//!   the process that runs is the same (same user, same capabilities, a copied executable).
//!
//! Ignored by a plain `cargo test`: `make conformance` (and so `make test`) runs it with
//! `--ignored`. Needs root, runc, the static helper (gcc, glibc static) and the corpora.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{json, Map, Value};
use tiercel_e2e::*;

const TEST: &str = "evtgen_suite";
const CONTAINER_TIMEOUT: Duration = Duration::from_secs(120);

/// Every capability up to CAP_CHECKPOINT_RESTORE, in number order; Docker's `--privileged`
/// gives those of them the host's bounding set has (`host_caps`).
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Debian 12's base-passwd users (the suite's system users among them).
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nlp:x:7:\nmail:x:8:\nnews:x:9:\n\
uucp:x:10:\nman:x:12:\nproxy:x:13:\nwww-data:x:33:\ngames:x:60:\nuser:x:1000:\nnogroup:x:65534:\n";

/// The capabilities of ALL_CAPS in our own bounding set (a sandbox may lack some).
fn host_caps() -> Vec<&'static str> {
    let missing = missing_caps();
    ALL_CAPS
        .iter()
        .copied()
        .filter(|c| !missing.iter().any(|m| m == c))
        .collect()
}

// ---- the suite: loading and case expansion -------------------------------------------------

/// One expanded case.
struct Case {
    file: String,
    name: String,
    rule: String,
    priority: String,
    fields: Vec<(String, String)>,
    /// Plan lines for the helper, or why the case is not applicable.
    plan: std::result::Result<Plan, String>,
}

struct Plan {
    lines: Vec<String>,
    nets: Vec<(String, u8)>,
    parallel: bool,
    has_steps: bool,
}

enum Verdict {
    Passed,
    Failed(String),
    NotApplicable(String),
}

fn placeholder(key: &str) -> String {
    format!("__EGITEM_{key}__")
}

/// `%{ item.x }` → a plain scalar placeholder, so that the text parses as YAML also where
/// the template stands unquoted (`runIf: %{ item.runIf }`).
fn protect_templates(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("%{") {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => {
                let inner = rest[i + 2..i + j].trim();
                out.push_str(&placeholder(inner.strip_prefix("item.").unwrap_or(inner)));
                rest = &rest[i + j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Value(s) => match s {
            Scalar::Null => Value::Null,
            Scalar::Boolean(b) => json!(b),
            Scalar::Integer(i) => json!(i),
            Scalar::FloatingPoint(f) => json!(f.into_inner()),
            Scalar::String(s) => json!(s.as_ref()),
        },
        Yaml::Representation(s, _, _) => json!(s.as_ref()),
        Yaml::Sequence(v) => Value::Array(v.iter().map(yaml_to_json).collect()),
        Yaml::Mapping(m) => {
            let mut o = Map::new();
            for (k, v) in m {
                let key = match yaml_to_json(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                o.insert(key, yaml_to_json(v));
            }
            Value::Object(o)
        }
        Yaml::Tagged(_, inner) => yaml_to_json(inner),
        Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Substitutes an item's values: a scalar that is exactly a placeholder takes the value with
/// its type (a mapping, null, a number); a placeholder inside a string takes its text.
fn substitute(v: &Value, item: &Map<String, Value>) -> Result<Value> {
    Ok(match v {
        Value::String(s) => {
            if let Some(key) = s
                .strip_prefix("__EGITEM_")
                .and_then(|k| k.strip_suffix("__"))
                .filter(|k| !k.contains("__EGITEM_"))
            {
                item.get(key)
                    .cloned()
                    .ok_or_else(|| anyhow!("template item.{key} has no value"))?
            } else if s.contains("__EGITEM_") {
                let mut out = s.clone();
                for (k, val) in item {
                    out = out.replace(&placeholder(k), &text_of(val));
                }
                if out.contains("__EGITEM_") {
                    bail!("unresolved template in {s:?}");
                }
                Value::String(out)
            } else {
                v.clone()
            }
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute(x, item))
                .collect::<Result<_>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), substitute(x, item)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

/// The items of a test's `cases` (matrix: cartesian product in the file's key order; vector:
/// one item); one empty item when the test has no cases.
fn expand_items(test: &Value) -> Result<Vec<Map<String, Value>>> {
    let Some(cases) = test.get("cases").and_then(Value::as_array) else {
        return Ok(vec![Map::new()]);
    };
    let mut items = Vec::new();
    for c in cases {
        let values = c["values"]
            .as_object()
            .ok_or_else(|| anyhow!("case without values: {c}"))?;
        match c["strategy"].as_str() {
            Some("vector") => items.push(values.clone()),
            Some("matrix") => {
                let mut acc: Vec<Map<String, Value>> = vec![Map::new()];
                for (k, list) in values {
                    let list = list
                        .as_array()
                        .ok_or_else(|| anyhow!("matrix value {k} is not a list"))?;
                    let mut next = Vec::with_capacity(acc.len() * list.len());
                    for base in &acc {
                        for v in list {
                            let mut m = base.clone();
                            m.insert(k.clone(), v.clone());
                            next.push(m);
                        }
                    }
                    acc = next;
                }
                items.extend(acc);
            }
            other => bail!("unknown case strategy {other:?}"),
        }
    }
    Ok(items)
}

fn case_label(name: &str, item: &Map<String, Value>) -> String {
    if item.is_empty() {
        return name.to_string();
    }
    let parts: Vec<String> = item
        .iter()
        .filter(|(k, _)| k.as_str() != "runIf")
        .map(|(k, v)| format!("{k}={}", compact(v)))
        .collect();
    format!("{name}[{}]", parts.join(","))
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn load_suite(dir: &Path) -> Result<Vec<Case>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let fname = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = fs::read_to_string(&f).with_context(|| format!("read {}", f.display()))?;
        let docs = Yaml::load_from_str(&protect_templates(&text))
            .map_err(|e| anyhow!("{}: {e}", f.display()))?;
        let doc = docs
            .first()
            .map(yaml_to_json)
            .ok_or_else(|| anyhow!("{}: empty", f.display()))?;
        let tests = doc["tests"]
            .as_array()
            .ok_or_else(|| anyhow!("{}: no tests list", f.display()))?;
        for t in tests {
            let tname = t["name"].as_str().unwrap_or("?").to_string();
            let mut body = t.clone();
            if let Some(o) = body.as_object_mut() {
                o.remove("cases");
            }
            for item in expand_items(t).with_context(|| format!("{}: {tname}", f.display()))? {
                let name = case_label(&tname, &item);
                let c =
                    substitute(&body, &item).with_context(|| format!("{}: {name}", f.display()))?;
                let exp = &c["expectedOutcome"];
                let fields = exp["outputFields"]
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), text_of(v))).collect())
                    .unwrap_or_default();
                out.push(Case {
                    file: fname.clone(),
                    name,
                    rule: c["rule"].as_str().unwrap_or_default().to_string(),
                    priority: exp["priority"].as_str().unwrap_or_default().to_string(),
                    fields,
                    plan: compile(&c),
                });
            }
        }
    }
    Ok(out)
}

// ---- compiling a case into helper instructions ----------------------------------------------

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `runIf: { arch: { op: ne|eq, val: … } }`; Ok(None) = run.
fn run_if(v: &Value) -> std::result::Result<Option<String>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let Some(o) = v.as_object() else {
        return Err(format!("runIf {v} not understood"));
    };
    for (k, cond) in o {
        if k != "arch" {
            return Err(format!("runIf on {k} not supported"));
        }
        let val = cond["val"].as_str().unwrap_or_default();
        let skip = match cond["op"].as_str() {
            Some("ne") => go_arch() == val,
            Some("eq") => go_arch() != val,
            other => return Err(format!("runIf op {other:?} not supported")),
        };
        if skip {
            return Ok(Some(format!("runIf: arch {} excluded", go_arch())));
        }
    }
    Ok(None)
}

/// event-generator's argument splitting: `"…"` and `'…'` group words, else whitespace splits.
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = s.chars().peekable();
    while let Some(&c) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        let mut tok = String::new();
        if c == '"' || c == '\'' {
            it.next();
            for ch in it.by_ref() {
                if ch == c {
                    break;
                }
                tok.push(ch);
            }
        } else {
            while let Some(&ch) = it.peek() {
                if ch.is_whitespace() {
                    break;
                }
                tok.push(ch);
                it.next();
            }
        }
        if !tok.is_empty() {
            out.push(tok);
        }
    }
    out
}

const OPEN_FLAGS: &[(&str, u64)] = &[
    ("O_RDONLY", 0),
    ("O_WRONLY", 0o1),
    ("O_RDWR", 0o2),
    ("O_CREAT", 0o100),
    ("O_EXCL", 0o200),
    ("O_NOCTTY", 0o400),
    ("O_TRUNC", 0o1000),
    ("O_APPEND", 0o2000),
    ("O_NONBLOCK", 0o4000),
    ("O_DSYNC", 0o10000),
    ("O_DIRECT", 0o40000),
    ("O_LARGEFILE", 0o100000),
    ("O_DIRECTORY", 0o200000),
    ("O_NOFOLLOW", 0o400000),
    ("O_NOATIME", 0o1000000),
    ("O_CLOEXEC", 0o2000000),
    ("O_SYNC", 0o4010000),
    ("O_PATH", 0o10000000),
    ("O_TMPFILE", 0o20200000),
];
const RESOLVE_FLAGS: &[(&str, u64)] = &[
    ("RESOLVE_NO_XDEV", 0x01),
    ("RESOLVE_NO_MAGICLINKS", 0x02),
    ("RESOLVE_NO_SYMLINKS", 0x04),
    ("RESOLVE_BENEATH", 0x08),
    ("RESOLVE_IN_ROOT", 0x10),
    ("RESOLVE_CACHED", 0x20),
];
const SOCK_CONSTS: &[(&str, u64)] = &[
    ("AF_UNIX", 1),
    ("AF_LOCAL", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_NETLINK", 16),
    ("AF_PACKET", 17),
    ("SOCK_STREAM", 1),
    ("SOCK_DGRAM", 2),
    ("SOCK_RAW", 3),
    ("SOCK_SEQPACKET", 5),
    ("SOCK_NONBLOCK", 0o4000),
    ("SOCK_CLOEXEC", 0o2000000),
    ("IPPROTO_IP", 0),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
];
const DUP3_FLAGS: &[(&str, u64)] = &[("O_CLOEXEC", 0o2000000)];

/// A flag set (`A|B`, a number, or absent = 0) as a number.
fn flags(v: &Value, table: &[(&str, u64)]) -> std::result::Result<u64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_u64().ok_or_else(|| format!("bad number {n}")),
        Value::String(s) => {
            let mut f = 0;
            for part in s.split('|').map(str::trim) {
                if let Ok(n) = part.parse::<u64>() {
                    f |= n;
                } else if let Some((_, bits)) = table.iter().find(|(n, _)| *n == part) {
                    f |= bits;
                } else {
                    return Err(format!("constant {part} not supported"));
                }
            }
            Ok(f)
        }
        other => Err(format!("flags {other} not understood")),
    }
}

/// A mode: YAML 1.2 reads `0644` as the integer 644; modes are octal.
fn mode(v: &Value) -> std::result::Result<String, String> {
    let digits = match v {
        Value::Null => return Ok("0".into()),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim_start_matches("0o").to_string(),
        other => return Err(format!("mode {other} not understood")),
    };
    u32::from_str_radix(&digits, 8)
        .map(|m| format!("0{m:o}"))
        .map_err(|_| format!("mode {digits} not octal"))
}

/// `${ res.field.fd }` → `@res.field` (the helper resolves it); a number stays.
fn fd_arg(v: &Value) -> std::result::Result<String, String> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => {
            let t = s.trim();
            if let Some(inner) = t.strip_prefix("${").and_then(|x| x.strip_suffix('}')) {
                let inner = inner.trim();
                let path = inner.strip_suffix(".fd").unwrap_or(inner);
                Ok(format!("@{path}"))
            } else if t.parse::<i64>().is_ok() {
                Ok(t.to_string())
            } else {
                Err(format!("fd argument {t:?} not understood"))
            }
        }
        other => Err(format!("fd argument {other} not understood")),
    }
}

fn at_fdcwd_only(args: &Value, keys: &[&str]) -> std::result::Result<(), String> {
    for k in keys {
        match &args[*k] {
            Value::Null => {}
            Value::String(s) if s == "AT_FDCWD" => {}
            other => return Err(format!("{k}={other}: only AT_FDCWD is supported")),
        }
    }
    Ok(())
}

fn path_arg(args: &Value, key: &str) -> std::result::Result<String, String> {
    match &args[key] {
        Value::String(s) if !s.contains('\t') && !s.contains('\n') => Ok(s.clone()),
        other => Err(format!("argument {key}={other} missing or not a path")),
    }
}

fn step_line(step: &Value) -> std::result::Result<String, String> {
    if step["type"] != "syscall" {
        return Err(format!("step type {} not supported", step["type"]));
    }
    let sc = step["syscall"].as_str().unwrap_or_default();
    let a = &step["args"];
    let l = match sc {
        "open" => format!(
            "S\topen\t{}\t{}\t{}",
            path_arg(a, "pathname")?,
            flags(&a["flags"], OPEN_FLAGS)?,
            mode(&a["mode"])?
        ),
        "openat" => {
            at_fdcwd_only(a, &["dirfd"])?;
            format!(
                "S\topenat\t{}\t{}\t{}",
                path_arg(a, "pathname")?,
                flags(&a["flags"], OPEN_FLAGS)?,
                mode(&a["mode"])?
            )
        }
        "openat2" => {
            at_fdcwd_only(a, &["dirfd"])?;
            let how = &a["how"];
            format!(
                "S\topenat2\t{}\t{}\t{}\t{}",
                path_arg(a, "pathname")?,
                flags(&how["flags"], OPEN_FLAGS)?,
                mode(&how["mode"])?,
                flags(&how["resolve"], RESOLVE_FLAGS)?
            )
        }
        "link" | "symlink" => {
            let (old, new) = if sc == "link" {
                ("oldPath", "newPath")
            } else {
                ("target", "linkPath")
            };
            format!("S\t{sc}\t{}\t{}", path_arg(a, old)?, path_arg(a, new)?)
        }
        "linkat" => {
            at_fdcwd_only(a, &["oldDirFd", "newDirFd"])?;
            format!(
                "S\tlinkat\t{}\t{}\t{}",
                path_arg(a, "oldPath")?,
                path_arg(a, "newPath")?,
                flags(
                    &a["flags"],
                    &[("AT_SYMLINK_FOLLOW", 0x400), ("AT_EMPTY_PATH", 0x1000)]
                )?
            )
        }
        "symlinkat" => {
            at_fdcwd_only(a, &["newDirFd"])?;
            format!(
                "S\tsymlinkat\t{}\t{}",
                path_arg(a, "target")?,
                path_arg(a, "linkPath")?
            )
        }
        "socket" => format!(
            "S\tsocket\t{}\t{}\t{}",
            flags(&a["domain"], SOCK_CONSTS)?,
            flags(&a["type"], SOCK_CONSTS)?,
            flags(&a["protocol"], SOCK_CONSTS)?
        ),
        "dup" => format!("S\tdup\t{}", fd_arg(&a["oldFd"])?),
        "dup2" => format!(
            "S\tdup2\t{}\t{}",
            fd_arg(&a["oldFd"])?,
            fd_arg(&a["newFd"])?
        ),
        "dup3" => format!(
            "S\tdup3\t{}\t{}\t{}",
            fd_arg(&a["oldFd"])?,
            fd_arg(&a["newFd"])?,
            flags(&a["flags"], DUP3_FLAGS)?
        ),
        other => {
            return Err(format!(
                "syscall step {other:?} not implemented by the helper"
            ))
        }
    };
    Ok(l)
}

/// `ip:port` or `[ip6]:port`.
fn split_addr(s: &str) -> Option<(String, String)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:")?;
        return Some((ip.to_string(), port.to_string()));
    }
    let (ip, port) = s.rsplit_once(':')?;
    Some((ip.to_string(), port.to_string()))
}

fn resource_line(r: &Value, nets: &mut Vec<(String, u8)>) -> std::result::Result<String, String> {
    let name = r["name"].as_str().unwrap_or("res");
    match r["type"].as_str() {
        Some("fd") => match r["subtype"].as_str() {
            Some("file") => Ok(format!("R\tfile\t{name}\t{}", path_arg(r, "filePath")?)),
            Some("directory") => Ok(format!("R\tdir\t{name}\t{}", path_arg(r, "dirPath")?)),
            other => Err(format!("fd resource subtype {other:?} not implemented")),
        },
        Some("clientServer") => {
            let fam = match r["l4Proto"].as_str() {
                Some("tcp4") => "4",
                Some("tcp6") => "6",
                other => return Err(format!("clientServer l4Proto {other:?} not implemented")),
            };
            let addr = r["address"].as_str().unwrap_or_default();
            let (ip, port) =
                split_addr(addr).ok_or_else(|| format!("address {addr:?} not understood"))?;
            if ip != "127.0.0.1" && ip != "::1" {
                nets.push((ip.clone(), if fam == "4" { 32 } else { 128 }));
            }
            Ok(format!("R\tcs\t{name}\t{fam}\t{ip}\t{port}"))
        }
        Some("process") if r["fileLess"] == true => Ok(format!("R\tmemfd\t{name}\t{name}")),
        other => Err(format!("resource type {other:?} not implemented")),
    }
}

fn compile(c: &Value) -> std::result::Result<Plan, String> {
    if let Some(why) = run_if(&c["runIf"])? {
        return Err(why);
    }
    if c["runner"].as_str().is_some_and(|r| r != "HostRunner") {
        return Err(format!("runner {} not supported", c["runner"]));
    }
    let mut lines = Vec::new();
    let mut nets = Vec::new();
    let ctx = &c["context"];
    if let Some(cont) = ctx["container"].as_object() {
        if !cont.is_empty() {
            return Err(format!(
                "container context with {:?} not supported",
                cont.keys().collect::<Vec<_>>()
            ));
        }
    }
    for p in ctx["processes"].as_array().into_iter().flatten() {
        for k in p.as_object().into_iter().flat_map(|o| o.keys()) {
            if !matches!(k.as_str(), "name" | "exe" | "args" | "user") {
                return Err(format!("process key {k} not supported"));
            }
        }
        let name = p["name"].as_str().unwrap_or("evtgen-proc");
        if name.contains('/') || name.contains('\t') {
            return Err(format!("process name {name:?} not supported"));
        }
        let mut l = format!(
            "P\t{name}\t{}\t{}",
            p["exe"].as_str().unwrap_or("-"),
            p["user"].as_str().unwrap_or("-")
        );
        for a in split_args(p["args"].as_str().unwrap_or_default()) {
            l.push('\t');
            l.push_str(&a);
        }
        lines.push(l);
    }
    let mut parallel = false;
    if let Some(before) = c["before"].as_str() {
        for cmd in before.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let w: Vec<&str> = cmd.split_whitespace().collect();
            match w.as_slice() {
                ["sleep", n] if n.parse::<u32>().is_ok() => {
                    lines.push(format!("B\tsleep\t{n}"));
                    // Cases that wait run side by side (each is matched on its own fields).
                    parallel = true;
                }
                ["rm", "-f", path] => lines.push(format!("B\trm\t{path}")),
                _ => return Err(format!("before script {cmd:?} not supported")),
            }
        }
    }
    if c.get("after").is_some_and(|a| !a.is_null()) {
        return Err("after script not supported".into());
    }
    for r in c["resources"].as_array().into_iter().flatten() {
        lines.push(resource_line(r, &mut nets)?);
    }
    let mut has_steps = false;
    for s in c["steps"].as_array().into_iter().flatten() {
        lines.push(step_line(s)?);
        has_steps = true;
    }
    if c["expectedOutcome"]["source"].as_str().unwrap_or("syscall") != "syscall" {
        return Err("only the syscall source is supported".into());
    }
    Ok(Plan {
        lines,
        nets,
        parallel,
        has_steps,
    })
}

// ---- running a file's cases in one container ------------------------------------------------

/// The bundle's rootfs as an overlayfs (lower = the busybox tree), unmounted on drop.
struct Overlay {
    merged: PathBuf,
}

impl Overlay {
    fn mount(bundle: &Bundle) -> Result<Overlay> {
        let root = bundle.rootfs();
        let base = bundle.path();
        let lower = base.join("lower");
        fs::rename(&root, &lower)?;
        for d in ["upper", "work", "rootfs"] {
            fs::create_dir_all(base.join(d))?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            base.join("upper").display(),
            base.join("work").display()
        );
        let st = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&root)
            .status()
            .context("mount")?;
        if !st.success() {
            bail!("mount -t overlay failed ({st})");
        }
        Ok(Overlay { merged: root })
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.merged).status();
    }
}

struct Windows {
    whole: BTreeMap<usize, (u128, u128)>,
    steps: BTreeMap<usize, (u128, u128)>,
    notes: BTreeMap<usize, Vec<String>>,
    done: bool,
}

fn parse_report(stdout: &str) -> Windows {
    let mut w = Windows {
        whole: BTreeMap::new(),
        steps: BTreeMap::new(),
        notes: BTreeMap::new(),
        done: false,
    };
    for line in stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let id = f.get(1).and_then(|s| s.parse::<usize>().ok());
        match (f.first().copied(), id) {
            (Some(k @ ("W" | "S")), Some(id)) if f.len() >= 4 => {
                if let (Ok(a), Ok(b)) = (f[2].parse(), f[3].parse()) {
                    if k == "W" {
                        w.whole.insert(id, (a, b));
                    } else {
                        w.steps.insert(id, (a, b));
                    }
                }
            }
            (Some("RES" | "ERR"), Some(id)) => {
                w.notes.entry(id).or_default().push(line.to_string());
            }
            (Some("DONE"), _) => w.done = true,
            _ => {}
        }
    }
    w
}

/// Falco's JSON `time` (`2026-12-05T16:14:57.123456789Z`) in ns since the epoch.
fn alert_time_ns(s: &str) -> Option<u128> {
    let (date, time) = s.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<i64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // days from civil (Howard Hinnant)
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    let mut frac = frac.to_string();
    frac.truncate(9);
    while frac.len() < 9 {
        frac.push('0');
    }
    Some(secs as u128 * 1_000_000_000 + frac.parse::<u128>().ok()?)
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<NA>".into(),
        other => other.to_string(),
    }
}

fn judge(case: &Case, plan: &Plan, id: usize, w: &Windows, alerts: &[(u128, &Value)]) -> Verdict {
    let notes = w.notes.get(&id).map(|n| n.join("; ")).unwrap_or_default();
    let window = if plan.has_steps {
        w.steps.get(&id)
    } else {
        w.whole.get(&id)
    };
    let Some(&(t0, t1)) = window else {
        return Verdict::Failed(format!(
            "the helper reported no window for the case ({})",
            if notes.is_empty() { "no notes" } else { &notes }
        ));
    };
    let inside: Vec<&Value> = alerts
        .iter()
        .filter(|(t, _)| *t >= t0 && *t <= t1)
        .map(|(_, a)| *a)
        .collect();
    let of_rule: Vec<&Value> = inside
        .iter()
        .copied()
        .filter(|a| a["rule"] == case.rule.as_str())
        .collect();
    let mismatch = |a: &Value| -> Vec<String> {
        let mut m = Vec::new();
        let pr = a["priority"].as_str().unwrap_or_default();
        if !pr.eq_ignore_ascii_case(&case.priority) {
            m.push(format!("priority: expected {}, got {pr}", case.priority));
        }
        for (k, want) in &case.fields {
            let got = field_text(&a["output_fields"][k.as_str()]);
            if &got != want {
                m.push(format!("{k}: expected {want:?}, got {got:?}"));
            }
        }
        m
    };
    if of_rule.iter().any(|a| mismatch(a).is_empty()) {
        return Verdict::Passed;
    }
    if let Some(a) = of_rule.first() {
        return Verdict::Failed(format!(
            "{} alert(s) of the rule, none as expected: {} [{notes}] (first: {})",
            of_rule.len(),
            mismatch(a).join(", "),
            a["output"].as_str().unwrap_or_default()
        ));
    }
    let others: Vec<&str> = inside.iter().filter_map(|a| a["rule"].as_str()).collect();
    Verdict::Failed(format!(
        "no alert of the rule in the case window (other alerts: {others:?}) [{notes}]"
    ))
}

fn write_plan(cases: &[(usize, &Case, &Plan)]) -> String {
    let mut s = String::new();
    let mut nets: Vec<(String, u8)> = Vec::new();
    for (_, _, p) in cases {
        for n in &p.nets {
            if !nets.contains(n) {
                nets.push(n.clone());
            }
        }
    }
    for (ip, len) in nets {
        s.push_str(&format!("NET\t{ip}\t{len}\n"));
    }
    for (id, _, p) in cases {
        s.push_str(&format!("CASE\t{id}\t{}\n", u8::from(p.parallel)));
        for l in &p.lines {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str("END\n");
    }
    s
}

fn run_file(
    helper: &Path,
    sup: &Supervisor,
    profile: &Value,
    batch: &[(usize, &Case, &Plan)],
) -> Result<(Windows, Vec<Value>, String)> {
    let mut b = Bundle::busybox(None)?;
    let root = b.rootfs();
    fs::write(root.join("etc/passwd"), PASSWD)?;
    fs::write(root.join("etc/group"), GROUP)?;
    fs::copy(helper, root.join("evtgen"))?;
    fs::set_permissions(root.join("evtgen"), fs::Permissions::from_mode(0o755))?;
    fs::write(root.join("evtgen.plan"), write_plan(batch))?;
    for d in ["usr/local/bin", "dev/shm", "home"] {
        fs::create_dir_all(root.join(d))?;
    }
    let caps = json!(host_caps());
    for set in ["bounding", "effective", "permitted", "inheritable"] {
        b.config["process"]["capabilities"][set] = caps.clone();
    }
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.set_args(&["/evtgen"]);
    b.set_seccomp(profile.clone());
    let before = sup.alerts()?.len();
    let overlay = Overlay::mount(&b)?;
    let id = container_id("evtgen");
    let out = run_container(&b, &id, CONTAINER_TIMEOUT)?;
    drop(overlay);
    // Alerts are written after each SEND by the output thread: wait until they settle.
    let start = Instant::now();
    let mut last = sup.alerts()?.len();
    let mut stable_since = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        let n = sup.alerts()?.len();
        if n != last {
            last = n;
            stable_since = Instant::now();
        } else if stable_since.elapsed() > Duration::from_millis(600) {
            break;
        }
    }
    let alerts = sup.alerts()?[before..].to_vec();
    let w = parse_report(&out.stdout);
    let mut diag = String::new();
    if !w.done || out.timed_out {
        diag = format!(
            "container did not finish its plan (exit {:?}, timed out {}): {}",
            out.code(),
            out.timed_out,
            tail(&out.stderr, 10)
        );
    }
    Ok((w, alerts, diag))
}

#[test]
#[ignore = "Falco's evtgen suite: run by `make conformance` (and `make test`)"]
fn evtgen_suite() {
    let Some(env) = container_env(TEST) else {
        return;
    };
    let helper = env!("TIERCEL_E2E_EVTGEN");
    if !require(
        TEST,
        "evtgen helper not built (gcc and glibc static libs needed)",
        !helper.is_empty() && Path::new(helper).is_file(),
    ) {
        return;
    }
    let shared = shared_dir();
    let rules = shared
        .as_ref()
        .map(|s| s.join("upstream-rules/falco_rules.yaml"));
    let suite = shared
        .as_ref()
        .map(|s| s.join("upstream-tests/falco-e2e-evtgen-suite"));
    if !require(
        TEST,
        "corpus missing: set TIERCEL_SHARED or provide ../shared (upstream-rules/falco_rules.yaml, upstream-tests/falco-e2e-evtgen-suite)",
        rules.as_ref().is_some_and(|r| r.is_file()) && suite.as_ref().is_some_and(|s| s.is_dir()),
    ) {
        return;
    }
    let (rules, suite) = (rules.unwrap(), suite.unwrap());
    if !require(
        TEST,
        "overlayfs not available (mount -t overlay)",
        fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay")),
    ) {
        return;
    }
    let t_start = Instant::now();
    let mut cases = load_suite(&suite).expect("load the evtgen suite");
    // EVTGEN_ONLY=SUBSTRING runs the files whose name contains it (while debugging a rule).
    if let Ok(only) = std::env::var("EVTGEN_ONLY") {
        cases.retain(|c| c.file.contains(&only));
        eprintln!("evtgen: EVTGEN_ONLY={only}: {} cases", cases.len());
    }
    let sup = Supervisor::start(&env.tiercel, SupervisorOpts::new(&[rules], "audit"))
        .expect("start tiercel supervise");
    let profile = sup.profile().expect("tiercel profile");

    let mut verdicts: Vec<Option<Verdict>> = cases.iter().map(|_| None).collect();
    let mut files: Vec<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    files.dedup();
    for file in files {
        let mut batch: Vec<(usize, &Case, &Plan)> = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            if c.file != file {
                continue;
            }
            match &c.plan {
                Ok(p) => batch.push((i, c, p)),
                Err(why) => verdicts[i] = Some(Verdict::NotApplicable(why.clone())),
            }
        }
        if batch.is_empty() {
            continue;
        }
        let t = Instant::now();
        match run_file(Path::new(helper), &sup, &profile, &batch) {
            Ok((w, alerts, diag)) => {
                let timed: Vec<(u128, &Value)> = alerts
                    .iter()
                    .filter_map(|a| Some((alert_time_ns(a["time"].as_str()?)?, a)))
                    .collect();
                for (i, c, p) in &batch {
                    let mut v = judge(c, p, *i, &w, &timed);
                    if let (Verdict::Failed(m), false) = (&mut v, diag.is_empty()) {
                        m.push_str(&format!(" ({diag})"));
                    }
                    verdicts[*i] = Some(v);
                }
                eprintln!(
                    "evtgen: {file}: {} cases, {} alerts, {:.1}s",
                    batch.len(),
                    alerts.len(),
                    t.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                for (i, _, _) in &batch {
                    verdicts[*i] = Some(Verdict::Failed(format!("running the container: {e:#}")));
                }
            }
        }
    }

    let (mut p, mut f, mut n) = (0, 0, 0);
    for (c, v) in cases.iter().zip(&verdicts) {
        match v {
            Some(Verdict::Passed) => p += 1,
            Some(Verdict::Failed(why)) => {
                f += 1;
                eprintln!("evtgen: FAILED {}/{}: {}: {why}", c.file, c.name, c.rule);
            }
            Some(Verdict::NotApplicable(why)) => {
                n += 1;
                eprintln!("evtgen: N/A {}/{}: {why}", c.file, c.name);
            }
            None => {
                f += 1;
                eprintln!("evtgen: FAILED {}/{}: not run", c.file, c.name);
            }
        }
    }
    let alive = {
        let mut s = sup;
        let a = s.is_alive();
        if !a {
            eprintln!("evtgen: the supervisor died:\n{}", s.dump());
        }
        a
    };
    eprintln!("evtgen: run took {:.1}s", t_start.elapsed().as_secs_f64());
    eprintln!(
        "evtgen: {p} passed, {f} failed, {n} not applicable of {} cases",
        cases.len()
    );
    assert!(alive, "the supervisor died during the suite");
    assert_eq!(f, 0, "evtgen: {f} case(s) failed");
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn templates_and_matrix_expand() {
        let text = "tests:\n  - name: t\n    runIf: %{ item.r }\n    x: \"a %{ item.v } b\"\n    cases:\n      - strategy: matrix\n        values:\n          r: [null]\n          v: [1, two]\n      - strategy: vector\n        values:\n          r: {arch: {op: ne, val: arm64}}\n          v: three\n";
        let doc = yaml_to_json(&Yaml::load_from_str(&protect_templates(text)).unwrap()[0]);
        let t = &doc["tests"][0];
        let items = expand_items(t).unwrap();
        assert_eq!(items.len(), 3);
        let c0 = substitute(t, &items[0]).unwrap();
        assert!(c0["runIf"].is_null());
        assert_eq!(c0["x"], "a 1 b");
        let c2 = substitute(t, &items[2]).unwrap();
        assert_eq!(c2["runIf"]["arch"]["val"], "arm64");
        assert_eq!(c2["x"], "a three b");
    }

    #[test]
    fn judge_needs_rule_priority_fields_and_the_window() {
        let case = Case {
            file: "f".into(),
            name: "n".into(),
            rule: "R".into(),
            priority: "warning".into(),
            fields: vec![("proc.name".into(), "x".into())],
            plan: Err(String::new()),
        };
        let plan = Plan {
            lines: Vec::new(),
            nets: Vec::new(),
            parallel: false,
            has_steps: true,
        };
        let w = parse_report("W 7 50 300\nS 7 100 200\nRES 7 step:open 3 0\nDONE 1\n");
        let good = json!({"rule": "R", "priority": "Warning", "output_fields": {"proc.name": "x"}});
        let other_field =
            json!({"rule": "R", "priority": "Warning", "output_fields": {"proc.name": "y"}});
        let other_prio =
            json!({"rule": "R", "priority": "Notice", "output_fields": {"proc.name": "x"}});
        let other_rule =
            json!({"rule": "S", "priority": "Warning", "output_fields": {"proc.name": "x"}});
        let pass = |id, alerts: &[(u128, &Value)]| {
            matches!(judge(&case, &plan, id, &w, alerts), Verdict::Passed)
        };
        assert!(pass(7, &[(150, &good)]));
        assert!(pass(7, &[(120, &other_field), (150, &good)]));
        // outside the steps' window (inside the whole case), or no window for the case
        assert!(!pass(7, &[(250, &good)]));
        assert!(!pass(8, &[(150, &good)]));
        assert!(!pass(7, &[(150, &other_field)]));
        assert!(!pass(7, &[(150, &other_prio)]));
        assert!(!pass(7, &[(150, &other_rule)]));
    }

    #[test]
    fn flags_modes_args_and_times() {
        assert_eq!(
            flags(&json!("O_WRONLY|O_CREAT|O_TRUNC"), OPEN_FLAGS),
            Ok(0o1101)
        );
        assert!(flags(&json!("O_BOGUS"), OPEN_FLAGS).is_err());
        assert_eq!(mode(&json!(644)).unwrap(), "0644");
        assert_eq!(fd_arg(&json!("${ cs.client.fd }")).unwrap(), "@cs.client");
        assert_eq!(
            split_args("-c '/dev/shm/x y' z"),
            vec!["-c", "/dev/shm/x y", "z"]
        );
        assert_eq!(
            alert_time_ns("1970-01-02T00:00:01.5Z"),
            Some(86_401_500_000_000)
        );
        assert_eq!(
            split_addr("[::1]:9999"),
            Some(("::1".to_string(), "9999".to_string()))
        );
    }
}
