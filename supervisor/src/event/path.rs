//! Paths: Falco's lexical normalisation (`fd.name`), and resolution inside a container root
//! with symlinks followed (for decisions), done component by component with std only.
//!
//! The in-root walk never builds a host path from a component that is `.`, `..`, empty or
//! contains `/`; `..` stops at the root; symlink targets are re-walked from the root
//! (absolute) or from the link's directory (relative); at most [`MAX_SYMLINK_HOPS`]
//! symlinks are followed. It is still a walk made of separate `lstat`/`readlink` calls: a
//! container that renames directories concurrently can race it (see the module docs of
//! `event`); `openat2(RESOLVE_IN_ROOT)` in the `sys` module would close that.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Linux's `MAXSYMLINKS`.
pub const MAX_SYMLINK_HOPS: usize = 40;
/// Most components walked in one resolution (bounds work on hostile input).
pub const MAX_COMPONENTS: usize = 4096;

/// Lexically joins `path` to `base` (an absolute directory) unless `path` is absolute, and
/// normalises: `//` → `/`, `.` dropped, `..` removes the previous component (never above
/// `/`), no trailing `/` (except for `/` itself). This is Falco's `fd.name` for files.
pub fn normalize(base: &[u8], path: &[u8]) -> Vec<u8> {
    fn push_all<'a>(comps: &mut Vec<&'a [u8]>, p: &'a [u8]) {
        for c in p.split(|b| *b == b'/') {
            match c {
                b"" | b"." => {}
                b".." => {
                    comps.pop();
                }
                c => comps.push(c),
            }
        }
    }
    let mut comps: Vec<&[u8]> = Vec::new();
    if !path.starts_with(b"/") {
        push_all(&mut comps, base);
    }
    push_all(&mut comps, path);
    join_abs(&comps)
}

fn join_abs<T: AsRef<[u8]>>(comps: &[T]) -> Vec<u8> {
    if comps.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::new();
    for c in comps {
        out.push(b'/');
        out.extend_from_slice(c.as_ref());
    }
    out
}

/// `fd.directory` of a normalised path.
pub fn dirname(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(0) => b"/",
        Some(i) => &p[..i],
        None => b"",
    }
}

/// `fd.filename` of a normalised path.
pub fn basename(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|b| *b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// The result of resolving a path inside a container root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Absolute path as seen inside the root, symlinks resolved (the last component only
    /// when following was asked), normalised.
    pub path: Vec<u8>,
    /// Whether the final object exists (false: it would be created, or the call fails).
    pub exists: bool,
    /// Whether at least one symlink was followed.
    pub followed_symlink: bool,
    /// The walk met a procfs magic link it could not resolve to a path (e.g. `/proc/1/root`,
    /// a pipe or memfd behind `/proc/self/fd/N`). `path` is then the link's target when it
    /// could be read (`/memfd:x (deleted)`, `pipe:[12]`), else the lexical path up to the
    /// magic link; decisions should treat it as unknown.
    pub magic: bool,
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("too many levels of symbolic links")]
    Loop,
    #[error("path too long or too many components")]
    TooLong,
    #[error("a component is not a directory")]
    NotDir,
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Where the walk is: the container root on the host side, and how to reach the caller's
/// own `/proc` entries (for `/proc/self` and `/proc/thread-self`).
#[derive(Debug, Clone)]
pub struct RootCtx {
    /// Host path of the task's root, e.g. `/proc/<tid>/root` (or a test directory).
    pub root: PathBuf,
    /// Host path of the caller's `/proc/<tid>` directory, for `/proc/self/...`.
    pub proc_dir: Option<PathBuf>,
}

/// The entry `comps` of the root, looked up by the kernel inside it
/// ([`crate::sys::open_in_root`], last component not followed): its metadata and an
/// `O_PATH` handle (for reading it if it is a symlink). Never a host path walk, so a
/// component swapped for a symlink meanwhile cannot reach outside the root.
fn lstat_in_root(
    root: std::os::fd::BorrowedFd<'_>,
    comps: &[Vec<u8>],
) -> io::Result<(std::fs::Metadata, std::fs::File)> {
    let f = std::fs::File::from(crate::sys::open_in_root(
        root,
        &join_abs(comps),
        libc::O_PATH | libc::O_NOFOLLOW,
    )?);
    Ok((f.metadata()?, f))
}

/// A handle on the root directory of `ctx`.
fn open_root(ctx: &RootCtx) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(&ctx.root)
}

fn split_rev(p: &[u8], out: &mut Vec<Vec<u8>>) {
    for c in p.split(|b| *b == b'/').rev() {
        if !c.is_empty() && c != b"." {
            out.push(c.to_vec());
        }
    }
}

/// Resolves `path` (relative paths against `base`, an absolute path inside the root) in the
/// root of `ctx`, following symlinks (the last one only with `follow_last`).
pub fn resolve_in_root(
    ctx: &RootCtx,
    base: &[u8],
    path: &[u8],
    follow_last: bool,
) -> Result<Resolved, ResolveError> {
    if path.len() >= super::mem::PATH_MAX || base.len() >= super::mem::PATH_MAX {
        return Err(ResolveError::TooLong);
    }
    // Components still to walk, in reverse order (pop from the end).
    let mut todo: Vec<Vec<u8>> = Vec::new();
    split_rev(path, &mut todo);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    if !path.starts_with(b"/") {
        // The base is trusted to be a directory path; normalise it lexically.
        let b = normalize(b"/", base);
        for c in b.split(|x| *x == b'/').filter(|c| !c.is_empty()) {
            stack.push(c.to_vec());
        }
    }
    let root_dir = open_root(ctx)?;
    let root = std::os::fd::AsFd::as_fd(&root_dir);
    let mut hops = 0usize;
    let mut steps = 0usize;
    let mut followed = false;
    let mut exists = true;
    while let Some(c) = todo.pop() {
        steps += 1;
        if steps > MAX_COMPONENTS {
            return Err(ResolveError::TooLong);
        }
        if c == b".." {
            stack.pop();
            continue;
        }
        let is_last = todo.is_empty();
        stack.push(c);
        if !exists {
            // A missing directory in the middle: the rest is lexical.
            continue;
        }
        // /proc/self and /proc/thread-self: the caller's own /proc entry.
        if stack.len() == 2
            && stack[0] == b"proc"
            && (stack[1] == b"self" || stack[1] == b"thread-self")
            && (!is_last || follow_last)
        {
            if let Some(pd) = &ctx.proc_dir {
                return resolve_proc_self(ctx, pd, &mut stack, &mut todo, follow_last, hops).map(
                    |mut r| {
                        r.followed_symlink = true;
                        r
                    },
                );
            }
        }
        let (md, entry) = match lstat_in_root(root, &stack) {
            Ok(m) => m,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                exists = false;
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Err(ResolveError::NotDir),
            Err(e) => return Err(e.into()),
        };
        if md.file_type().is_symlink() && (!is_last || follow_last) {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(ResolveError::Loop);
            }
            let target = match crate::sys::read_link_at(
                std::os::fd::AsFd::as_fd(&entry),
                "",
                libc::PATH_MAX as usize,
            ) {
                Ok(t) => t,
                Err(_) => {
                    // A procfs magic link we cannot read (e.g. /proc/<pid>/root of a task
                    // we may not inspect).
                    return Ok(Resolved {
                        path: join_abs(&stack),
                        exists: true,
                        followed_symlink: followed,
                        magic: true,
                    });
                }
            };
            let t = target.as_slice();
            if in_proc(&stack) && !t.starts_with(b"/") && looks_magic(t) {
                return Ok(Resolved {
                    path: join_abs(&stack),
                    exists: true,
                    followed_symlink: followed,
                    magic: true,
                });
            }
            followed = true;
            stack.pop();
            if t.starts_with(b"/") {
                stack.clear();
            }
            split_rev(t, &mut todo);
            if todo.len() > MAX_COMPONENTS {
                return Err(ResolveError::TooLong);
            }
            continue;
        }
        if !is_last && !md.is_dir() {
            return Err(ResolveError::NotDir);
        }
    }
    Ok(Resolved {
        path: join_abs(&stack),
        exists,
        followed_symlink: followed,
        magic: false,
    })
}

fn in_proc(stack: &[Vec<u8>]) -> bool {
    stack.first().map(|c| c == b"proc").unwrap_or(false)
}

/// Targets of procfs links that are objects, not paths (`pipe:[1]`, `socket:[2]`,
/// `anon_inode:[eventfd]`, `/memfd:x (deleted)` starts with '/', handled by the caller).
fn looks_magic(t: &[u8]) -> bool {
    t.contains(&b':')
}

/// `/proc/self/<rest>` → the caller's `/proc/<tid>/<rest>`: `fd/N`, `cwd`, `root`, `exe`
/// are magic links whose targets (read from the host) are paths in the caller's view.
fn resolve_proc_self(
    ctx: &RootCtx,
    proc_dir: &Path,
    stack: &mut Vec<Vec<u8>>,
    todo: &mut Vec<Vec<u8>>,
    follow_last: bool,
    hops: usize,
) -> Result<Resolved, ResolveError> {
    let magic = |stack: &[Vec<u8>], todo: &[Vec<u8>]| {
        let mut all = stack.to_vec();
        all.extend(todo.iter().rev().cloned());
        Resolved {
            path: join_abs(&all),
            exists: true,
            followed_symlink: true,
            magic: true,
        }
    };
    // Expect: fd N | cwd | root | exe ; anything else stays a (procfs) path we treat as magic.
    let first = match todo.pop() {
        Some(c) => c,
        None => return Ok(magic(stack, todo)),
    };
    let (link, n_used): (PathBuf, usize) = match first.as_slice() {
        b"fd" => match todo.pop() {
            Some(n) if n.iter().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
                let mut p = proc_dir.join("fd");
                p.push(OsStr::from_bytes(&n));
                stack.push(first.clone());
                stack.push(n);
                (p, 2)
            }
            other => {
                stack.push(first);
                if let Some(o) = other {
                    stack.push(o);
                }
                return Ok(magic(stack, todo));
            }
        },
        b"cwd" | b"root" | b"exe" => {
            stack.push(first.clone());
            (proc_dir.join(OsStr::from_bytes(&first)), 1)
        }
        _ => {
            stack.push(first);
            return Ok(magic(stack, todo));
        }
    };
    let _ = n_used;
    if todo.is_empty() && !follow_last {
        // The link itself (e.g. unlink("/proc/self/fd/3")): a procfs object.
        return Ok(magic(stack, todo));
    }
    let target = match std::fs::read_link(&link) {
        Ok(t) => t,
        Err(_) => return Ok(magic(stack, todo)),
    };
    let t = target.as_os_str().as_bytes();
    if !t.starts_with(b"/") || t.ends_with(b" (deleted)") || t.starts_with(b"/memfd:") {
        // Not a path (pipe:[..], socket:[..], a memfd, a deleted file): report the object.
        let mut r = magic(stack, todo);
        r.path = t.to_vec();
        return Ok(r);
    }
    // Continue the walk from the target, a path in the caller's view.
    let mut rest: Vec<u8> = t.to_vec();
    for c in todo.iter().rev() {
        rest.push(b'/');
        rest.extend_from_slice(c);
    }
    if hops + 1 > MAX_SYMLINK_HOPS {
        return Err(ResolveError::Loop);
    }
    let sub = RootCtx {
        root: ctx.root.clone(),
        proc_dir: None,
    };
    resolve_in_root(&sub, b"/", &rest, follow_last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn normalize_like_falco() {
        assert_eq!(normalize(b"/", b"/etc/../etc/shadow"), b"/etc/shadow");
        assert_eq!(normalize(b"/home/u", b"x/./y//z"), b"/home/u/x/y/z");
        assert_eq!(normalize(b"/a", b"../../../../etc"), b"/etc");
        assert_eq!(normalize(b"/a/b", b".."), b"/a");
        assert_eq!(normalize(b"/", b""), b"/");
        assert_eq!(normalize(b"/usr/bin/", b"ls"), b"/usr/bin/ls");
        assert_eq!(dirname(b"/usr/bin/ls"), b"/usr/bin");
        assert_eq!(dirname(b"/ls"), b"/");
        assert_eq!(basename(b"/usr/bin/ls"), b"ls");
        assert_eq!(basename(b"/"), b"");
    }

    fn tmp_root(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tiercel-path-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("usr/bin")).unwrap();
        std::fs::create_dir_all(d.join("tmp/sub")).unwrap();
        std::fs::write(d.join("usr/bin/ls"), b"x").unwrap();
        d
    }

    fn ctx(root: &Path) -> RootCtx {
        RootCtx {
            root: root.to_path_buf(),
            proc_dir: None,
        }
    }

    #[test]
    fn resolves_inside_root_only() {
        let r = tmp_root("inside");
        let c = ctx(&r);
        // Absolute symlink pointing "outside": re-rooted.
        symlink("/usr/bin", r.join("tmp/bin")).unwrap();
        let x = resolve_in_root(&c, b"/", b"/tmp/bin/ls", true).unwrap();
        assert_eq!(x.path, b"/usr/bin/ls");
        assert!(x.exists && x.followed_symlink);
        // `..` chains clamp at the root.
        let x = resolve_in_root(&c, b"/tmp/sub", b"../../../../../../usr/bin/new", false).unwrap();
        assert_eq!(x.path, b"/usr/bin/new");
        assert!(!x.exists);
        // Relative symlink with `..` escaping upwards.
        symlink("../../../../../../../usr/bin", r.join("tmp/sub/up")).unwrap();
        let x = resolve_in_root(&c, b"/", b"tmp/sub/up/ls", true).unwrap();
        assert_eq!(x.path, b"/usr/bin/ls");
        // A symlink to a host path that exists only on the host stays inside the root.
        symlink("/etc/hostname", r.join("tmp/h")).unwrap();
        let x = resolve_in_root(&c, b"/", b"/tmp/h", true).unwrap();
        assert_eq!(x.path, b"/etc/hostname");
        assert!(!x.exists, "must not see the host's /etc/hostname");
        // Last component not followed: the link itself.
        let x = resolve_in_root(&c, b"/", b"/tmp/bin", false).unwrap();
        assert_eq!(x.path, b"/tmp/bin");
        // Followed: the directory it names.
        let x = resolve_in_root(&c, b"/", b"/tmp/bin", true).unwrap();
        assert!(x.exists && x.followed_symlink);
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn loops_and_long_paths() {
        let r = tmp_root("loops");
        let c = ctx(&r);
        symlink("b", r.join("tmp/a")).unwrap();
        symlink("a", r.join("tmp/b")).unwrap();
        assert!(matches!(
            resolve_in_root(&c, b"/", b"/tmp/a", true),
            Err(ResolveError::Loop)
        ));
        symlink("self", r.join("tmp/self")).unwrap();
        assert!(matches!(
            resolve_in_root(&c, b"/", b"/tmp/self/x", false),
            Err(ResolveError::Loop)
        ));
        let long = vec![b'a'; 5000];
        assert!(resolve_in_root(&c, b"/", &long, false).is_err());
        let dots = b"/..".repeat(1300);
        let x = resolve_in_root(&c, b"/", &dots, false).unwrap();
        assert_eq!(x.path, b"/");
        // A file used as a directory.
        assert!(matches!(
            resolve_in_root(&c, b"/", b"/usr/bin/ls/x", false),
            Err(ResolveError::NotDir)
        ));
        // Missing middle directory: lexical rest, not existing.
        let x = resolve_in_root(&c, b"/", b"/nope/../usr/bin/ls", false).unwrap();
        assert_eq!(x.path, b"/usr/bin/ls");
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn proc_self_fd_magic_link() {
        // Our own process stands in for the caller: /proc/self/cwd inside a root "/" resolves
        // through the real /proc/<pid>/cwd link.
        let r = tmp_root("procself");
        let c = RootCtx {
            root: PathBuf::from("/"),
            proc_dir: Some(PathBuf::from(format!("/proc/{}", std::process::id()))),
        };
        let f = std::fs::File::open(r.join("usr/bin/ls")).unwrap();
        use std::os::fd::AsRawFd;
        let p = format!("/proc/self/fd/{}", f.as_raw_fd());
        let x = resolve_in_root(&c, b"/", p.as_bytes(), true).unwrap();
        assert_eq!(x.path, r.join("usr/bin/ls").as_os_str().as_bytes());
        assert!(!x.magic);
        // A socket behind an fd is magic.
        let (rd, _wr) = std::os::unix::net::UnixStream::pair().unwrap();
        let p = format!("/proc/self/fd/{}", rd.as_raw_fd());
        let x = resolve_in_root(&c, b"/", p.as_bytes(), true).unwrap();
        assert!(x.magic);
        assert!(
            x.path.starts_with(b"socket:["),
            "{:?}",
            String::from_utf8_lossy(&x.path)
        );
        drop(f);
        std::fs::remove_dir_all(&r).unwrap();
    }

    /// A component swapped for a symlink to a host directory while the walk runs: the
    /// walk never sees what is behind it on the host (each step is looked up inside the
    /// root by the kernel).
    #[test]
    fn swapped_components_stay_inside() {
        let r = tmp_root("swap");
        let host = std::env::temp_dir().join(format!("tiercel-path-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&host);
        std::fs::create_dir_all(host.join("hostonly")).unwrap();
        std::fs::create_dir_all(r.join("d")).unwrap();
        std::os::unix::fs::symlink(&host, r.join("evil")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipper = {
            let (stop, r) = (stop.clone(), r.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::rename(r.join("d"), r.join("t"));
                    let _ = std::fs::rename(r.join("evil"), r.join("d"));
                    let _ = std::fs::rename(r.join("t"), r.join("evil"));
                }
            })
        };
        let c = ctx(&r);
        let mut seen = 0;
        for _ in 0..5000 {
            // Through the symlink the path is the host directory's name *inside* the
            // root, where it does not exist.
            if let Ok(x) = resolve_in_root(&c, b"/", b"/d/hostonly/x", false) {
                if x.path.starts_with(host.as_os_str().as_bytes()) {
                    seen += 1;
                }
            }
            let d = resolve_in_root(&c, b"/", b"/d/hostonly", false);
            if let Ok(d) = d {
                assert!(!d.exists, "a host directory seen through the root");
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flipper.join().unwrap();
        assert!(seen > 0);
        std::fs::remove_dir_all(&r).unwrap();
        std::fs::remove_dir_all(&host).unwrap();
    }
}
