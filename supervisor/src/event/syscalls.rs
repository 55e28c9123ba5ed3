//! Syscall numbers and names per architecture (`AUDIT_ARCH_X86_64`, `AUDIT_ARCH_I386`), and the
//! Falco event type name of each syscall.

#![deny(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

#[path = "syscall_tables.rs"]
mod tables;

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_I386` (`EM_386 | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

/// The architectures tiercel decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    I386,
}

impl Arch {
    /// From a `seccomp_data.arch` value; `None` for an architecture tiercel does not decode.
    pub fn from_audit(arch: u32) -> Option<Arch> {
        match arch {
            AUDIT_ARCH_X86_64 => Some(Arch::X86_64),
            AUDIT_ARCH_I386 => Some(Arch::I386),
            _ => None,
        }
    }

    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            Arch::I386 => AUDIT_ARCH_I386,
        }
    }

    /// Size of a user-space pointer (and of `long`) in bytes.
    pub fn ptr_size(self) -> usize {
        match self {
            Arch::X86_64 => 8,
            Arch::I386 => 4,
        }
    }

    fn table(self) -> &'static [Option<&'static str>] {
        match self {
            Arch::X86_64 => &tables::X86_64,
            Arch::I386 => &tables::I386,
        }
    }
}

/// The kernel's name of syscall `nr` on `arch` (`openat`, `chown32`, `socketcall` ...).
pub fn syscall_name(arch: Arch, nr: i32) -> Option<&'static str> {
    let idx = usize::try_from(nr).ok()?;
    arch.table().get(idx).copied().flatten()
}

/// The native (x86_64) number of a syscall, for the profile generator.
pub fn syscall_nr(name: &str) -> Option<i32> {
    syscall_nr_arch(Arch::X86_64, name)
}

/// The number of syscall `name` on `arch`.
pub fn syscall_nr_arch(arch: Arch, name: &str) -> Option<i32> {
    arch.table()
        .iter()
        .position(|n| *n == Some(name))
        .and_then(|i| i32::try_from(i).ok())
}

/// Every syscall name of `arch`, with its number.
pub fn all_syscalls(arch: Arch) -> impl Iterator<Item = (i32, &'static str)> {
    arch.table()
        .iter()
        .enumerate()
        .filter_map(|(i, n)| Some((i32::try_from(i).ok()?, (*n)?)))
}

/// Kernel syscall names whose Falco event has another name: Falco maps ia32 syscalls to
/// their x86_64 equivalents (`chown32` → `chown`) and names a few syscalls differently
/// (`pread64` → `pread`). Both directions are derived from this one table:
/// [`falco_event_name`] (decoder) and [`x86_64_syscalls_of_event`] (profile).
pub const FALCO_NAMES: &[(&str, &str)] = &[
    ("pread64", "pread"),
    ("pwrite64", "pwrite"),
    ("_llseek", "llseek"),
    ("_newselect", "select"),
    ("fcntl64", "fcntl"),
    ("sendfile64", "sendfile"),
    ("ugetrlimit", "getrlimit"),
    ("truncate64", "truncate"),
    ("ftruncate64", "ftruncate"),
    ("fadvise64_64", "fadvise64"),
    ("lchown32", "lchown"),
    ("fchown32", "fchown"),
    ("chown32", "chown"),
    ("getuid32", "getuid"),
    ("getgid32", "getgid"),
    ("geteuid32", "geteuid"),
    ("getegid32", "getegid"),
    ("setreuid32", "setreuid"),
    ("setregid32", "setregid"),
    ("getgroups32", "getgroups"),
    ("setgroups32", "setgroups"),
    ("setresuid32", "setresuid"),
    ("getresuid32", "getresuid"),
    ("setresgid32", "setresgid"),
    ("getresgid32", "getresgid"),
    ("setuid32", "setuid"),
    ("setgid32", "setgid"),
    ("setfsuid32", "setfsuid"),
    ("setfsgid32", "setfsgid"),
    ("statfs64", "statfs"),
    ("fstatfs64", "fstatfs"),
    ("fstatat64", "newfstatat"),
];

/// The name Falco gives to the event of a kernel syscall name ([`FALCO_NAMES`]); every
/// other syscall keeps its kernel name.
pub fn falco_event_name(kernel_name: &'static str) -> &'static str {
    FALCO_NAMES
        .iter()
        .find(|(k, _)| *k == kernel_name)
        .map_or(kernel_name, |(_, f)| f)
}

/// The x86_64 syscalls whose events Falco names `event` (the inverse of
/// [`falco_event_name`]): `pread` → `pread64`; empty for meta events and names of other
/// architectures.
pub fn x86_64_syscalls_of_event(event: &str) -> Vec<&'static str> {
    all_syscalls(Arch::X86_64)
        .map(|(_, k)| k)
        .filter(|k| falco_event_name(k) == event)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x86_64_numbers() {
        assert_eq!(syscall_name(Arch::X86_64, 2), Some("open"));
        assert_eq!(syscall_name(Arch::X86_64, 257), Some("openat"));
        assert_eq!(syscall_name(Arch::X86_64, 59), Some("execve"));
        assert_eq!(syscall_name(Arch::X86_64, 322), Some("execveat"));
        assert_eq!(syscall_name(Arch::X86_64, 437), Some("openat2"));
        assert_eq!(syscall_name(Arch::X86_64, 452), Some("fchmodat2"));
        assert_eq!(syscall_name(Arch::X86_64, -1), None);
        assert_eq!(syscall_name(Arch::X86_64, 100_000), None);
        assert_eq!(syscall_nr("openat"), Some(257));
        assert_eq!(syscall_nr("io_uring_setup"), Some(425));
        assert_eq!(syscall_nr("socketcall"), None);
        assert_eq!(syscall_nr("nope"), None);
    }

    #[test]
    fn i386_numbers() {
        assert_eq!(syscall_name(Arch::I386, 5), Some("open"));
        assert_eq!(syscall_name(Arch::I386, 11), Some("execve"));
        assert_eq!(syscall_name(Arch::I386, 102), Some("socketcall"));
        assert_eq!(syscall_name(Arch::I386, 295), Some("openat"));
        assert_eq!(syscall_name(Arch::I386, 212), Some("chown32"));
        assert_eq!(falco_event_name("chown32"), "chown");
        assert_eq!(syscall_nr_arch(Arch::I386, "openat2"), Some(437));
    }

    #[test]
    fn every_rules_syscall_is_known() {
        for n in [
            "open",
            "openat",
            "openat2",
            "creat",
            "execve",
            "execveat",
            "connect",
            "socket",
            "sendto",
            "sendmsg",
            "accept",
            "accept4",
            "listen",
            "bind",
            "dup",
            "dup2",
            "dup3",
            "ptrace",
            "symlink",
            "symlinkat",
            "link",
            "linkat",
            "init_module",
            "finit_module",
            "chmod",
            "fchmod",
            "fchmodat",
            "fchmodat2",
            "chown",
            "lchown",
            "fchown",
            "fchownat",
            "rename",
            "renameat",
            "renameat2",
            "unlink",
            "unlinkat",
            "rmdir",
            "mkdir",
            "mkdirat",
            "mknod",
            "mknodat",
            "truncate",
            "setns",
            "setuid",
            "unshare",
            "bpf",
            "userfaultfd",
            "recvfrom",
            "recvmsg",
            "memfd_create",
            "io_uring_setup",
            "utimensat",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
            "removexattr",
            "open_by_handle_at",
            "name_to_handle_at",
            "mount",
            "umount2",
            "open_tree",
            "move_mount",
            "fsopen",
            "fsmount",
            "mount_setattr",
        ] {
            assert!(syscall_nr(n).is_some(), "{n}");
        }
    }
}
