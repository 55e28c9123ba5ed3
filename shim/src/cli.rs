//! Just enough of runc's and crun's command line to find what the shim needs: the global
//! `--log`/`--log-format`, the subcommand, and for `create`/`run` the bundle and config
//! file. Every argument is handed to the real runtime unchanged.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

/// Global flags of runc and crun that take a value (`--root X`, `--log X` …).
const GLOBAL_WITH_VALUE: &[&str] = &[
    "log",
    "log-format",
    "log-level",
    "root",
    "criu",
    "rootless",
    "cgroup-manager",
];

/// `create`/`run` flags of runc and crun that take a value.
const CREATE_WITH_VALUE: &[&str] = &[
    "bundle",
    "b",
    "console-socket",
    "pid-file",
    "preserve-fds",
    "config",
    "f",
];

/// What the shim learned from the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `--log FILE` (the runtime's log; containerd and conmon read it on failure).
    pub log: Option<PathBuf>,
    /// `--log-format json`.
    pub log_json: bool,
    /// The subcommand (`create`, `state` …), if any.
    pub command: Option<String>,
    /// `create`/`run`: `--bundle`/`-b` (None: the current directory).
    pub bundle: Option<PathBuf>,
    /// crun's `--config`/`-f` (relative to the bundle).
    pub config: Option<PathBuf>,
    /// `create`/`run`: the container id (the first positional argument).
    pub id: Option<String>,
    /// The shim's own global flag `--tiercel-config FILE` (e.g. from podman's
    /// `--runtime-flag tiercel-config=FILE`); removed before the runtime sees the arguments.
    pub tiercel_config: Option<PathBuf>,
    /// The arguments for the runtime: everything but the shim's own flags.
    pub runtime_args: Vec<OsString>,
}

impl Invocation {
    /// True for the subcommands whose bundle the shim edits.
    pub fn edits_bundle(&self) -> bool {
        matches!(self.command.as_deref(), Some("create" | "run"))
    }
}

/// Splits `-x`, `--x`, `-x=v`, `--x=v` into (`x`, `Some(v)`); `None` for non-flags.
fn flag(arg: &OsStr) -> Option<(String, Option<OsString>)> {
    let b = arg.as_bytes();
    if b.len() < 2 || b[0] != b'-' || b == b"--" {
        return None;
    }
    let body = if b.starts_with(b"--") {
        &b[2..]
    } else {
        &b[1..]
    };
    match body.iter().position(|&c| c == b'=') {
        Some(i) => Some((
            String::from_utf8_lossy(&body[..i]).into_owned(),
            Some(OsStr::from_bytes(&body[i + 1..]).to_owned()),
        )),
        None => Some((String::from_utf8_lossy(body).into_owned(), None)),
    }
}

/// Scans the arguments (without argv\[0\]).
pub fn parse(args: &[OsString]) -> Invocation {
    let mut own = None;
    let mut rest = Vec::with_capacity(args.len());
    let mut k = 0;
    // only among the global flags, before the subcommand
    while k < args.len() {
        let a = &args[k];
        let Some((name, inline)) = flag(a).filter(|_| a.as_bytes() != b"--") else {
            break;
        };
        if name == "tiercel-config" {
            own = inline.or_else(|| {
                k += 1;
                args.get(k).cloned()
            });
        } else {
            rest.push(a.clone());
            if GLOBAL_WITH_VALUE.contains(&name.as_str()) && inline.is_none() {
                k += 1;
                if let Some(v) = args.get(k) {
                    rest.push(v.clone());
                }
            }
        }
        k += 1;
    }
    rest.extend(args[k.min(args.len())..].iter().cloned());
    let mut inv = scan(&rest);
    inv.tiercel_config = own.map(PathBuf::from);
    inv.runtime_args = rest;
    inv
}

fn scan(args: &[OsString]) -> Invocation {
    let mut inv = Invocation::default();
    let mut i = 0;
    // global flags, up to the subcommand
    while i < args.len() {
        let a = &args[i];
        if a.as_bytes() == b"--" {
            i += 1;
            break;
        }
        let Some((name, inline)) = flag(a) else { break };
        let value = if GLOBAL_WITH_VALUE.contains(&name.as_str()) && inline.is_none() {
            i += 1;
            args.get(i).cloned()
        } else {
            inline
        };
        match name.as_str() {
            "log" => inv.log = value.map(PathBuf::from),
            "log-format" => inv.log_json = value.is_some_and(|v| v == "json"),
            _ => {}
        }
        i += 1;
    }
    let Some(cmd) = args.get(i) else { return inv };
    inv.command = Some(cmd.to_string_lossy().into_owned());
    if !inv.edits_bundle() {
        return inv;
    }
    i += 1;
    while i < args.len() {
        let a = &args[i];
        if a.as_bytes() == b"--" {
            if inv.id.is_none() {
                inv.id = args.get(i + 1).map(|s| s.to_string_lossy().into_owned());
            }
            break;
        }
        match flag(a) {
            Some((name, inline)) => {
                let value = if CREATE_WITH_VALUE.contains(&name.as_str()) && inline.is_none() {
                    i += 1;
                    args.get(i).cloned()
                } else {
                    inline
                };
                match name.as_str() {
                    "bundle" | "b" => inv.bundle = value.map(PathBuf::from),
                    "config" | "f" => inv.config = value.map(PathBuf::from),
                    _ => {}
                }
            }
            None => {
                if inv.id.is_none() {
                    inv.id = Some(a.to_string_lossy().into_owned());
                }
            }
        }
        i += 1;
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Invocation {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn containerd_create() {
        let i = p(&[
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/run/x/log.json",
            "--log-format",
            "json",
            "--systemd-cgroup",
            "create",
            "--bundle",
            "/run/b",
            "--pid-file",
            "/run/pid",
            "--console-socket",
            "/tmp/c.sock",
            "abc",
        ]);
        assert_eq!(i.command.as_deref(), Some("create"));
        assert_eq!(i.bundle, Some(PathBuf::from("/run/b")));
        assert_eq!(i.log, Some(PathBuf::from("/run/x/log.json")));
        assert!(i.log_json);
        assert_eq!(i.id.as_deref(), Some("abc"));
        assert!(i.edits_bundle());
    }

    #[test]
    fn conmon_and_short_forms() {
        let i = p(&[
            "--log-format=json",
            "--log=/l",
            "create",
            "-b=/b",
            "--pid-file=/p",
            "id1",
        ]);
        assert_eq!(i.bundle, Some(PathBuf::from("/b")));
        assert_eq!(i.log, Some(PathBuf::from("/l")));
        assert_eq!(i.id.as_deref(), Some("id1"));
        let i = p(&["run", "-d", "-b", "/b2", "-f", "c.json", "id2"]);
        assert_eq!(i.command.as_deref(), Some("run"));
        assert_eq!(i.bundle, Some(PathBuf::from("/b2")));
        assert_eq!(i.config, Some(PathBuf::from("c.json")));
        assert_eq!(i.id.as_deref(), Some("id2"));
        let i = p(&["-root", "/r", "run", "id3"]);
        assert_eq!(i.bundle, None);
        assert_eq!(i.id.as_deref(), Some("id3"));
        // the value of --console-socket is not the bundle or the id
        let i = p(&["create", "--console-socket", "-b", "id4"]);
        assert_eq!(i.bundle, None);
        assert_eq!(i.id.as_deref(), Some("id4"));
    }

    #[test]
    fn other_commands() {
        assert_eq!(p(&["--version"]).command, None);
        let i = p(&["--root", "/r", "state", "x"]);
        assert_eq!(i.command.as_deref(), Some("state"));
        assert!(!i.edits_bundle());
        assert_eq!(i.bundle, None);
        // `create` as the value of a global flag is not the subcommand
        let i = p(&["--root", "create", "list"]);
        assert_eq!(i.command.as_deref(), Some("list"));
        assert_eq!(p(&[]), Invocation::default());
    }

    #[test]
    fn own_flag_is_removed() {
        let i = p(&[
            "--tiercel-config=/etc/x.yaml",
            "--root",
            "/r",
            "create",
            "--bundle",
            "/b",
            "id",
        ]);
        assert_eq!(i.tiercel_config, Some(PathBuf::from("/etc/x.yaml")));
        assert_eq!(i.bundle, Some(PathBuf::from("/b")));
        let want: Vec<OsString> = ["--root", "/r", "create", "--bundle", "/b", "id"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(i.runtime_args, want);
        let i = p(&["--log", "/l", "--tiercel-config", "/y", "state", "id"]);
        assert_eq!(i.tiercel_config, Some(PathBuf::from("/y")));
        assert_eq!(i.runtime_args.len(), 4);
        // after the subcommand it is not ours
        let i = p(&["exec", "id", "--tiercel-config=/z"]);
        assert_eq!(i.tiercel_config, None);
        assert_eq!(i.runtime_args.len(), 3);
    }
}
