//! Which executable is an OCI runtime's (runc, crun, youki), by what the workload cannot
//! fake: the file's identity, never its name. The kernel comm (`prctl(PR_SET_NAME)`, a
//! script's file name) and the exe link's name (a file named `runc` in the image, a memfd
//! named `runc_cloned`) are the workload's to choose.
//!
//! A process runs a runtime when `/proc/<pid>/exe` is
//! - one of the host's runtime binaries (same device and inode): crun, youki, runc ≥ 1.2
//!   and any runtime run from its file; the binaries are looked up once, by name, in the
//!   supervisor's `PATH` and the usual system directories (a container's files are on
//!   other inodes unless the host's binary is mounted into it);
//! - or an unlinked copy (runc 1.1 re-executes itself from a sealed memfd) whose bytes are
//!   those of one of the host's runtime binaries: compared in full, size first (≈ 9 MB
//!   for runc, once per session).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A runtime binary on the host.
#[derive(Debug, Clone)]
pub struct HostBinary {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
}

const NAMES: [&str; 3] = ["runc", "crun", "youki"];
const DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The host's runtime binaries (looked up once).
pub fn host_binaries() -> &'static [HostBinary] {
    static HOST: OnceLock<Vec<HostBinary>> = OnceLock::new();
    HOST.get_or_init(|| {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        dirs.extend(DIRS.iter().map(PathBuf::from));
        let mut out: Vec<HostBinary> = Vec::new();
        for d in dirs.iter().filter(|d| d.is_absolute()) {
            for n in NAMES {
                if let Some(b) = host_binary(&d.join(n)) {
                    if !out.iter().any(|o| o.dev == b.dev && o.ino == b.ino) {
                        out.push(b);
                    }
                }
            }
        }
        tracing::debug!(
            binaries = ?out.iter().map(|b| b.path.display().to_string()).collect::<Vec<_>>(),
            "runtime binaries (runtime-phase exemption)"
        );
        out
    })
}

/// `path` as a runtime binary (a regular file, followed through symlinks).
pub fn host_binary(path: &Path) -> Option<HostBinary> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| HostBinary {
        path: path.to_owned(),
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
    })
}

/// The (device, inode) of `pid`'s executable when it is one of `hosts` or an unlinked
/// byte-for-byte copy of one; `None` otherwise (or when it cannot be read).
pub fn runtime_exe(pid: u32, hosts: &[HostBinary]) -> Option<(u64, u64)> {
    if hosts.is_empty() {
        return None;
    }
    // Opening the link opens the executable itself (a memfd too).
    let mut f = File::open(format!("/proc/{pid}/exe")).ok()?;
    let m = f.metadata().ok()?;
    let id = (m.dev(), m.ino());
    if hosts.iter().any(|h| (h.dev, h.ino) == id) {
        return Some(id);
    }
    if m.nlink() != 0 || !m.is_file() {
        return None;
    }
    for h in hosts.iter().filter(|h| h.size == m.size()) {
        let Ok(mut host) = File::open(&h.path) else {
            continue;
        };
        if same_bytes(&mut f, &mut host, m.size()) {
            return Some(id);
        }
    }
    None
}

/// Compares `len` bytes of both files from their starts (`a` is rewound first).
fn same_bytes(a: &mut File, b: &mut File, len: u64) -> bool {
    use std::io::{Seek, SeekFrom};
    if a.seek(SeekFrom::Start(0)).is_err() {
        return false;
    }
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(1 << 16)).unwrap_or(1 << 16);
        if a.read_exact(&mut x[..n]).is_err() || b.read_exact(&mut y[..n]).is_err() {
            return false;
        }
        if x[..n] != y[..n] {
            return false;
        }
        left -= n as u64;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    fn exe_of(child: &Child, not: &Path) -> bool {
        // Waits until the child has exec'd (its exe is no longer the test binary).
        let me = std::fs::metadata("/proc/self/exe").unwrap().ino();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(m) = std::fs::metadata(format!("/proc/{}/exe", child.id())) {
                if m.ino() != me {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = not;
        false
    }

    /// A child killed and reaped when dropped (also when an assertion fails).
    struct Kid(Child);

    impl Drop for Kid {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl std::ops::Deref for Kid {
        type Target = Child;
        fn deref(&self) -> &Child {
            &self.0
        }
    }

    fn spawn(path: &Path, args: &[&str]) -> Kid {
        // A file just written may still be open for writing in a child that another test
        // thread forked meanwhile (ETXTBSY until that child execs): retry briefly.
        let mut tries = 0;
        loop {
            match Command::new(path).args(args).spawn() {
                Ok(c) => return Kid(c),
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 200 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("spawn {}: {e}", path.display()),
            }
        }
    }

    /// Issue 16 (e): a workload named like a runtime — a copy of a binary under the file
    /// name `runc`, a script named `crun` (its comm is `crun`) — is no runtime; the
    /// trusted binary itself is, and a linked copy of it on another inode is not.
    #[test]
    fn runtimes_are_recognised_by_identity_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let trusted = dir.path().join("trusted-runtime");
        std::fs::copy("/bin/sleep", &trusted).unwrap();
        let hosts = vec![host_binary(&trusted).unwrap()];
        let named = dir.path().join("runc");
        std::fs::copy("/bin/sleep", &named).unwrap();
        let script = dir.path().join("crun");
        std::fs::write(
            &script,
            "#!/bin/sh\ni=0\nwhile [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

        let real = spawn(&trusted, &["5"]);
        let fake = spawn(&named, &["5"]);
        let comm = spawn(&script, &[]);
        for c in [&real, &fake, &comm] {
            assert!(exe_of(c, &trusted));
        }
        std::thread::sleep(Duration::from_millis(50));
        let comm_text = std::fs::read_to_string(format!("/proc/{}/comm", comm.id())).unwrap();
        assert_eq!(
            comm_text.trim(),
            "crun",
            "the script's comm is its file name"
        );

        assert!(
            runtime_exe(real.id(), &hosts).is_some(),
            "the trusted binary"
        );
        assert_eq!(runtime_exe(fake.id(), &hosts), None, "a file named runc");
        assert_eq!(runtime_exe(comm.id(), &hosts), None, "a task named crun");
        assert_eq!(runtime_exe(real.id(), &[]), None);
        assert_eq!(runtime_exe(u32::MAX, &hosts), None);
    }

    #[test]
    fn unlinked_copies_must_match_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let trusted = dir.path().join("trusted-runtime");
        std::fs::copy("/bin/sleep", &trusted).unwrap();
        let hosts = vec![host_binary(&trusted).unwrap()];
        // An unlinked exact copy (what runc's sealed memfd is): a runtime.
        let copy = dir.path().join("copy");
        std::fs::copy("/bin/sleep", &copy).unwrap();
        let same = spawn(&copy, &["5"]);
        assert!(exe_of(&same, &trusted));
        std::fs::remove_file(&copy).unwrap();
        assert!(runtime_exe(same.id(), &hosts).is_some());
        // An unlinked binary of the same size with other bytes: not a runtime.
        let mut bytes = std::fs::read("/bin/sleep").unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let other = dir.path().join("other");
        std::fs::write(&other, &bytes).unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
        let diff = spawn(&other, &["5"]);
        assert!(exe_of(&diff, &trusted));
        std::fs::remove_file(&other).unwrap();
        assert_eq!(runtime_exe(diff.id(), &hosts), None);
    }
}
