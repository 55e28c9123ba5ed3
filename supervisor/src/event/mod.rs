//! Building Falco events from a stopped syscall: decode the call per architecture, read
//! its pointer arguments from the target (through [`ReadMem`]), resolve paths and process
//! info from `/proc`, and serve fields to the rules engine (`tiercel_rules::event::Event`).
//!
//! * [`syscalls`]: x86_64 and i386 number ↔ name tables, Falco event names, `syscall_nr`.
//! * [`decode`]: one notification → [`decode::Decoded`]: Falco's exit parameters, every
//!   path/argv/envp/sockaddr/open_how read from target memory (bounded), i386 `socketcall`
//!   demultiplexed, int arguments compared as 32-bit.
//! * [`builder`]: [`EventBuilder`] (per session) and [`SyscallEvent`]. `build` does all
//!   target-memory reads and opens `/proc/<tid>` as a directory handle; `/proc` values are
//!   read lazily through that handle on first use and cached in the event.
//! * [`procfs`]: `/proc/<pid>` parsing, the (tid, starttime)-keyed process cache
//!   (invalidated on exec, bounded), capabilities, the container's user/group db.
//! * [`path`]: Falco's lexical normalisation (`fd.name`) and the in-root resolution used
//!   for decisions ([`SyscallEvent::resolved_paths`]).
//! * [`flags`]: Falco's flag/enum renderings. [`sock`]: `/proc/net` socket lookup.
//! * [`mem`]: bounded argument readers and [`mem::BufMem`], a byte-buffer `ReadMem`.
//!
//! Entry-time values that describe a result (`evt.res`, `evt.rawres`, `fd.num`) assume the
//! call succeeds: `SUCCESS`; dup2/dup3 → newfd; fd-returning calls → the caller's lowest
//! free fd number at build time (another thread can take it first).

use std::io;

/// Reads the stopped task's memory. Implemented by the notify loop (page-aware,
/// bounded `process_vm_readv` with a `/proc/<tid>/mem` fallback).
pub trait ReadMem {
    /// Reads up to `buf.len()` bytes at `addr`; returns how many were read.
    fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads a NUL-terminated string of at most `max` bytes (NUL excluded);
    /// an error when no NUL is found within `max` or the memory is unreadable.
    fn read_cstr(&self, addr: u64, max: usize) -> io::Result<Vec<u8>>;
}

/// One seccomp notification, as received (`struct seccomp_notif`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notif {
    pub id: u64,
    /// Thread id of the caller, in the supervisor's pid namespace.
    pub pid: u32,
    /// `AUDIT_ARCH_*` of the call.
    pub arch: u32,
    pub nr: i32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// What the supervisor knows about the container a session belongs to
/// (from the OCI state JSON; the engine's metadata in `meta`, filled in by
/// [`crate::container_meta`]'s background lookup).
#[derive(Debug, Clone, Default)]
pub struct ContainerInfo {
    /// Full OCI id; `container.id` is its first 12 characters.
    pub id: String,
    /// Name, image, labels, privileged, … as the engine records them (swappable).
    pub meta: std::sync::Arc<crate::container_meta::MetaCell>,
    /// Host pid of the container's init.
    pub init_pid: Option<u32>,
    pub bundle: Option<String>,
}

pub mod builder;
pub mod decode;
pub mod flags;
pub mod mem;
pub mod overlay;
pub mod path;
pub mod procfs;
pub mod sock;
pub mod syscalls;

pub use builder::{BuildError, DnsTable, EventBuilder, SyscallEvent};
pub use path::Resolved;
pub use syscalls::{syscall_nr, Arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

/// What extracting `field` from a [`builder::SyscallEvent`] costs, roughly in µs of
/// system calls on a cache miss (0 = decoded values, no system call). The rules engine
/// orders the operands of `and`/`or` by it ([`tiercel_rules::program::Program::with_field_costs`]),
/// so that, e.g., an `openat` that no rule's path test matches is decided without
/// scanning the caller's fd table (`fd.num`) or reading its `/proc` entries.
pub fn field_cost(field: tiercel_rules::fields::Field) -> u32 {
    let name = field.name();
    let (class, rest) = name.split_once('.').unwrap_or((name, ""));
    match class {
        "evt" => match rest {
            // fd-returning calls: the caller's lowest free fd (a scan of /proc/<tid>/fd).
            "res" | "rawres" | "failed" => 20,
            "abspath" | "abspath.src" | "abspath.dst" => 3,
            // Every parameter rendered (paths, fds).
            "args" | "info" => 5,
            // One parameter rendered as text (flag names, a path).
            "arg" => 2,
            _ => 0,
        },
        "fd" => match rest {
            "num" | "types" => 20,
            // Open flags; for fd-using calls a readlink of /proc/<tid>/fd/N.
            "typechar" | "type" => 2,
            // The path argument (the caller's cwd or dirfd for relative ones); for
            // fd-using calls a readlink.
            "name" | "directory" | "filename" | "nameraw" => 3,
            // Sockets: the socket itself (pidfd_getfd) and its addresses.
            _ => 10,
        },
        "fs" => 3,
        "container" | "k8s" | "syscall" => 0,
        "proc" | "thread" => match rest {
            // The ancestors: one /proc/<pid>/stat per level.
            r if r.starts_with('a')
                || matches!(r, "pname" | "pcmdline" | "pexe" | "pexepath" | "sname")
                || r.starts_with("vpgid.") =>
            {
                12
            }
            "env" | "is_exe_upper_layer" | "is_exe_from_memfd" | "is_exe_writable" => 10,
            _ => 8,
        },
        "user" | "group" => 15,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::field_cost;
    use tiercel_rules::fields;

    #[test]
    fn field_costs_order_decoded_before_paths_before_proc_before_scans() {
        let c = |n: &str| field_cost(fields::lookup(n).unwrap().field);
        assert_eq!(c("evt.type"), 0);
        assert_eq!(c("evt.is_open_write"), 0);
        assert!(c("evt.arg") < c("fd.name"));
        assert!(c("fd.name") < c("proc.name"));
        assert!(c("proc.name") < c("proc.aname"));
        assert!(c("proc.name") < c("fd.sip"));
        assert!(c("proc.aname") < c("fd.num"));
        assert_eq!(c("fd.num"), c("evt.rawres"));
        // Every field has a cost (no panics, nothing absurd).
        for f in fields::all() {
            assert!(field_cost(f.field) <= 20, "{}", f.name);
        }
    }
}
