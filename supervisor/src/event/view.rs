//! The path view of an event: Falco's normalised paths (`fd.name`), and the resolved view
//! used for enforcement (`tiercel.resolved`): every path argument resolved inside the
//! caller's root, symlinks and `/proc/self/{fd/N,cwd,root}` magic links followed.

use super::builder::SyscallEvent;
use super::decode::PathArg;
use super::fields::lossy;
use super::flags::AT_FDCWD;
use super::path::{self, Resolved, RootCtx};

/// A resolution that stopped on a procfs magic link (`/proc/<pid>/{fd/N,cwd,root,exe}`,
/// `map_files`, also below `task/<tid>/`) instead of reaching its target: what the call
/// would reach is unknown. Other procfs files (`/proc/self/oom_score_adj`) are known.
fn unreadable_magic_link(p: &[u8]) -> bool {
    let c: Vec<&[u8]> = p.split(|b| *b == b'/').filter(|c| !c.is_empty()).collect();
    if c.first() != Some(&&b"proc"[..]) {
        return false;
    }
    let k = if c.get(2) == Some(&&b"task"[..]) {
        4
    } else {
        2
    };
    matches!(
        c.get(k).copied(),
        Some(b"fd" | b"cwd" | b"root" | b"exe" | b"map_files")
    )
}

impl SyscallEvent {
    // ---- paths --------------------------------------------------------------------------

    fn dirfd_link(&self, fd: i32) -> Option<Vec<u8>> {
        let link = self.pd()?.read_link(&format!("fd/{fd}")).ok()?;
        link.starts_with(b"/").then_some(link)
    }

    /// The caller thread's cwd, in its view (no trailing `/`).
    pub fn cwd_path(&self) -> Option<&[u8]> {
        self.cwd
            .get_or_init(|| {
                let l = self.pd()?.read_link("cwd").ok()?;
                l.starts_with(b"/").then_some(l)
            })
            .as_deref()
    }

    fn base_for(&self, p: &PathArg) -> Option<Vec<u8>> {
        match p.dirfd {
            None | Some(AT_FDCWD) => self.cwd_path().map(<[u8]>::to_vec),
            Some(fd) => self.dirfd_link(fd),
        }
    }

    /// Falco's normalised absolute path of path argument `i` (`fd.name` for opens).
    pub fn norm_path(&self, i: usize) -> Option<&[u8]> {
        let v = self.norm.get_or_init(|| {
            self.d
                .paths
                .iter()
                .map(|p| {
                    if p.unreadable {
                        return None;
                    }
                    if p.empty_path {
                        return p.dirfd.and_then(|fd| self.dirfd_link(fd));
                    }
                    if p.raw.starts_with(b"/") {
                        return Some(path::normalize(b"/", &p.raw));
                    }
                    Some(path::normalize(&self.base_for(p)?, &p.raw))
                })
                .collect()
        });
        v.get(i)?.as_deref()
    }

    /// Switches the event between Falco's view (the default: path-valued fields are the
    /// normalised paths Falco shows) and the resolved view used for enforcement: `fd.name`
    /// (of path-taking calls), `fd.directory`, `fd.filename`, path parameters
    /// (`evt.arg.name/path/pathname/filename/oldpath/newpath/linkpath/dir`), `fs.path.*`
    /// and `evt.abspath*` become the paths resolved inside the caller's root, symlinks (the
    /// last one only when the call follows it) and `/proc/self/{fd/N,cwd,root}` magic links
    /// followed. A path whose resolution failed keeps Falco's value (the kernel fails such
    /// a call too: ELOOP, ENAMETOOLONG, ENOTDIR); a procfs object (`pipe:[1]`,
    /// `/memfd:x (deleted)`, `/bin/x (deleted)`) is served as its link target.
    pub fn set_resolved_view(&self, on: bool) {
        self.resolved_view.set(on);
    }

    /// Whether the resolved view is on.
    pub fn resolved_view(&self) -> bool {
        self.resolved_view.get()
    }

    /// Path argument `i` as the current view serves it.
    pub(in crate::event) fn path_value(&self, i: usize) -> Option<&[u8]> {
        if self.resolved_view.get() {
            if let Some((_, Ok(r))) = self.resolved_paths().nth(i) {
                return Some(&r.path);
            }
        }
        self.norm_path(i)
    }

    /// The resolved path arguments that differ from Falco's values, rendered
    /// (`name=/bin/x`, comma separated) for the alert of a match found only in the
    /// resolved view. `None` when none differs.
    pub fn resolved_summary(&self) -> Option<String> {
        let mut out = String::new();
        for (i, (p, r)) in self.resolved_paths().enumerate() {
            let Ok(r) = r else { continue };
            if self.norm_path(i) == Some(r.path.as_slice()) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(", ");
            }
            if self.d.paths.len() > 1 {
                out.push_str(p.param);
                out.push('=');
            }
            out.push_str(&lossy(&r.path));
        }
        (!out.is_empty()).then_some(out)
    }

    /// Whether some resolved path argument differs from Falco's value (otherwise the
    /// resolved view is Falco's view and evaluating it again can change nothing).
    pub fn resolved_differs(&self) -> bool {
        self.resolved_paths()
            .enumerate()
            .any(|(i, (_, r))| matches!(r, Ok(r) if self.norm_path(i) != Some(r.path.as_slice())))
    }

    /// Path arguments the call modifies whose resolution is unknown: the walk failed for
    /// another reason than one the kernel fails the call with too, or it ended on a procfs
    /// magic link it could not read.
    pub fn unresolved_modified_path(&self) -> bool {
        self.resolved_paths().any(|(p, r)| {
            p.modifies
                && match r {
                    Ok(r) => r.magic && unreadable_magic_link(&r.path),
                    Err(_) => false,
                }
        })
    }

    /// Every path argument resolved inside the caller's root with symlinks followed as the
    /// call would (for decisions), in argument order, with its parameter name.
    pub fn resolved_paths(&self) -> impl Iterator<Item = (&PathArg, &Result<Resolved, String>)> {
        let v = self
            .resolved
            .get_or_init(|| self.d.paths.iter().map(|p| self.resolve_one(p)).collect());
        self.d.paths.iter().zip(v.iter())
    }

    /// The first path argument that the call creates or modifies, resolved in the root
    /// (open for writing, creat, mkdir, the new name of link/rename/symlink...), else the
    /// first path argument.
    pub fn resolved_path(&self) -> Option<&Result<Resolved, String>> {
        let all: Vec<_> = self.resolved_paths().collect();
        all.iter()
            .find(|(p, _)| p.modifies)
            .or_else(|| all.first())
            .map(|(_, r)| *r)
    }

    fn resolve_one(&self, p: &PathArg) -> Result<Resolved, String> {
        if p.unreadable {
            return Err("the path could not be read from the caller's memory".into());
        }
        let pd = self.pd().ok_or("caller's /proc entry is gone")?;
        if p.empty_path {
            let fd = p.dirfd.ok_or("AT_EMPTY_PATH without a dirfd")?;
            let l = pd
                .read_link(&format!("fd/{fd}"))
                .map_err(|e| e.to_string())?;
            let magic =
                !l.starts_with(b"/") || l.ends_with(b" (deleted)") || l.starts_with(b"/memfd:");
            return Ok(Resolved {
                path: l,
                exists: true,
                followed_symlink: false,
                magic,
            });
        }
        let ctx = RootCtx {
            root: pd.entry("root"),
            proc_dir: Some(pd.path()),
        };
        let base = if p.raw.starts_with(b"/") {
            b"/".to_vec()
        } else {
            self.base_for(p)
                .ok_or("cannot read the caller's cwd or dirfd")?
        };
        path::resolve_in_root(&ctx, &base, &p.raw, p.follow_last).map_err(|e| e.to_string())
    }

    /// Opens the caller's `/proc/<tid>/<name>` with extra open flags (`O_PATH` of `root`,
    /// `cwd`, `fd/N`): handles on what the caller's paths start from.
    pub fn proc_open(&self, name: &str, flags: i32) -> std::io::Result<std::os::fd::OwnedFd> {
        self.pd()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?
            .open_with(name, flags)
    }

    /// Reads the caller's `/proc/<tid>/<name>` link.
    pub fn proc_read_link(&self, name: &str) -> std::io::Result<Vec<u8>> {
        self.pd()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?
            .read_link(name)
    }

    /// `statx` of the caller's `/proc/<tid>/<name>` (`follow`: what a link such as `root`
    /// names).
    pub fn proc_stat(&self, name: &str, follow: bool) -> std::io::Result<crate::sys::FileStat> {
        self.pd()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?
            .stat_entry(name, follow)
    }

    /// Reads the caller's `/proc/<tid>/<name>` (bounded).
    pub fn proc_read(&self, name: &str) -> std::io::Result<Vec<u8>> {
        self.pd()
            .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ESRCH))?
            .read(name)
    }

    /// Sets the object the call reaches, as established by tiercel performing the call
    /// (the real path of the opened or created file inside the caller's root): the
    /// resolved view then serves it for the call's path argument. Returns false when the
    /// resolved view was already computed (it is then left alone).
    pub fn set_object(&self, object: Resolved) -> bool {
        let mut object = Some(object);
        let v: Vec<Result<Resolved, String>> = (0..self.d.paths.len())
            .map(|i| {
                if Some(i) == self.d.fd_path.or(Some(0)) {
                    object.take().ok_or_else(String::new)
                } else {
                    Err("not established".into())
                }
            })
            .collect();
        self.resolved.set(v).is_ok()
    }

    /// Sets every path argument's resolution (in argument order), as established by
    /// tiercel with handles on the caller's root, cwd and dirfd. False when the resolved
    /// view was already computed.
    pub fn set_resolved_paths(&self, v: Vec<Result<Resolved, String>>) -> bool {
        v.len() == self.d.paths.len() && self.resolved.set(v).is_ok()
    }

    pub(in crate::event) fn fd_path_norm(&self) -> Option<&[u8]> {
        self.path_value(self.d.fd_path?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testutil::*;

    #[test]
    fn dirfd_directories_and_resolution() {
        let t = target("dirfd");
        let pid = t.child.id();
        let d = t.dir.to_string_lossy().to_string();
        std::os::unix::fs::symlink("sub", t.dir.join("d/link")).unwrap();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"link/x");
        let sub = m.put_cstr(b"sub");
        let mut b = builder();
        // openat(5, "link/x") with fd 5 = dir/d
        let ev = b
            .build(&notif(pid, "openat", [5, p, 0o101, 0o644, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/link/x"));
        let r = ev.resolved_path().unwrap().as_ref().unwrap();
        assert_eq!(String::from_utf8_lossy(&r.path), format!("{d}/d/sub/x"));
        assert!(!r.exists && r.followed_symlink);
        // As in libsinsp, an open's fd type comes from its flags alone: an existing
        // directory opened without O_DIRECTORY is a file, with it a directory.
        let ev = b
            .build(&notif(pid, "openat", [5, sub, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "f");
        let ev = b
            .build(&notif(pid, "openat", [5, sub, 0o200000, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "d");
        assert_eq!(get(&ev, "fd.type").unwrap(), "directory");
        // An fd-using call: fchmod(5) → fd.name is the directory.
        let ev = b
            .build(&notif(pid, "fchmod", [5, 0o755, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d"));
        assert_eq!(get(&ev, "fd.typechar").unwrap(), "d");
        assert_eq!(get(&ev, "fd.num").unwrap(), "5");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("mode".into())).unwrap(),
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"
        );
        // dup2(5, 1): the result is newfd.
        let ev = b
            .build(&notif(pid, "dup2", [5, 1, 0, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "evt.rawres").unwrap(), "1");
        // Rename: both paths, normalised and resolved.
        let a = m.put_cstr(b"/etc/../tmp/a");
        let bb = m.put_cstr(b"d/link/b");
        let ev = b
            .build(
                &notif(
                    pid,
                    "renameat2",
                    [(-100i64) as u64, a, (-100i64) as u64, bb, 0, 0],
                ),
                &m,
            )
            .unwrap();
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("oldpath".into())).unwrap(),
            "/tmp/a"
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("newpath".into())).unwrap(),
            format!("{d}/d/link/b")
        );
        assert_eq!(get(&ev, "fs.path.source").unwrap(), "/tmp/a");
        let all: Vec<_> = ev.resolved_paths().collect();
        assert_eq!(all.len(), 2);
        assert_eq!(
            String::from_utf8_lossy(&all[1].1.as_ref().unwrap().path),
            format!("{d}/d/sub/b")
        );
        assert!(get(&ev, "fd.name").is_none(), "rename has no fd");
    }

    #[test]
    fn resolved_view_serves_resolved_paths() {
        let t = target("rview");
        let pid = t.child.id();
        let d = t.dir.to_string_lossy().to_string();
        std::os::unix::fs::symlink(format!("{d}/d/sub"), t.dir.join("l_abs")).unwrap();
        std::os::unix::fs::symlink(format!("{d}/d/sub/target"), t.dir.join("dangling")).unwrap();
        let mut m = BufMem::new(0x1000);
        let p = m.put_cstr(b"l_abs/x");
        let mut b = builder();
        // open("l_abs/x", O_WRONLY|O_CREAT) relative to the cwd, through an absolute symlink.
        let ev = b
            .build(&notif(pid, "open", [p, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        let falco = format!("{d}/l_abs/x");
        let real = format!("{d}/d/sub/x");
        assert_eq!(get(&ev, "fd.name").unwrap(), falco);
        assert!(!ev.resolved_view());
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), real);
        assert_eq!(get(&ev, "fd.directory").unwrap(), format!("{d}/d/sub"));
        assert_eq!(get(&ev, "fd.filename").unwrap(), "x");
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("name".into())).unwrap(),
            real
        );
        assert_eq!(get(&ev, "fs.path.name").unwrap(), real);
        assert_eq!(get(&ev, "evt.abspath").unwrap(), real);
        // Raw values and evt.args stay as spelled.
        assert_eq!(get(&ev, "fd.nameraw").unwrap(), "l_abs/x");
        ev.set_resolved_view(false);
        assert_eq!(get(&ev, "fd.name").unwrap(), falco);
        assert_eq!(ev.resolved_summary().unwrap(), real);
        assert!(!ev.unresolved_modified_path());
        // A dangling last symlink: O_CREAT follows it (creates its target), O_CREAT|O_EXCL
        // does not.
        let dl = m.put_cstr(b"dangling");
        let ev = b
            .build(&notif(pid, "open", [dl, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/sub/target"));
        let ev = b
            .build(&notif(pid, "open", [dl, 0o301, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/dangling"));
        // symlink(target, linkpath): the link itself is not followed; the target is text.
        let tg = m.put_cstr(b"/etc/shadow");
        let lp = m.put_cstr(b"l_abs/newlink");
        let ev = b
            .build(&notif(pid, "symlink", [tg, lp, 0, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("linkpath".into())).unwrap(),
            format!("{d}/d/sub/newlink")
        );
        assert_eq!(
            get_arg(&ev, "evt.arg", FieldArg::Name("target".into())).unwrap(),
            "/etc/shadow"
        );
        // /proc/self/fd/5/x (fd 5 = dir/d) and /proc/self/cwd/x follow the magic links.
        let pf = m.put_cstr(b"/proc/self/fd/5/x");
        let ev = b
            .build(&notif(pid, "open", [pf, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        assert_eq!(get(&ev, "fd.name").unwrap(), "/proc/self/fd/5/x");
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/d/x"));
        let pc = m.put_cstr(b"/proc/self/cwd/y");
        let ev = b
            .build(&notif(pid, "open", [pc, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        ev.set_resolved_view(true);
        assert_eq!(get(&ev, "fd.name").unwrap(), format!("{d}/y"));
        // An fd that is not open: the magic link cannot be read; unknown.
        let bad = m.put_cstr(b"/proc/self/fd/77/z");
        let ev = b
            .build(&notif(pid, "open", [bad, 0o101, 0o644, 0, 0, 0]), &m)
            .unwrap();
        assert!(ev.unresolved_modified_path());
        // Reading through it modifies nothing.
        let ev = b
            .build(&notif(pid, "open", [bad, 0, 0, 0, 0, 0]), &m)
            .unwrap();
        assert!(!ev.unresolved_modified_path());
    }

    #[test]
    fn magic_link_classification() {
        assert!(unreadable_magic_link(b"/proc/self/fd/7"));
        assert!(unreadable_magic_link(b"/proc/12/root"));
        assert!(unreadable_magic_link(b"/proc/12/task/13/cwd"));
        assert!(!unreadable_magic_link(b"/proc/self/oom_score_adj"));
        assert!(!unreadable_magic_link(b"pipe:[12]"));
        assert!(!unreadable_magic_link(b"/bin/x (deleted)"));
    }
}
