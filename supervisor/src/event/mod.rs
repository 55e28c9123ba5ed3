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
//! * [`fields`]: field extraction, one file per class (`evt`, `fd`, `proc`, `user`,
//!   `container`, `fs`), dispatched by the field's class; [`field_cost`].
//! * [`container`]: [`ContainerCtx`], the state a session's events share (container
//!   identity, process cache, user db, bundle annotations and mounts, DNS table).
//! * [`view`]: Falco's normalised paths and the resolved view used for enforcement.
//! * [`procfs`]: `/proc/<pid>` parsing, the (tid, starttime)-keyed process cache
//!   (invalidated on exec, bounded), capabilities, the container's user/group db.
//! * [`path`]: Falco's lexical normalisation (`fd.name`) and the in-root resolution used
//!   for decisions (used by [`view`]).
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

/// One seccomp notification, as received (defined with the syscall wrappers).
pub use crate::sys::Notif;

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
pub mod container;
pub mod decode;
pub mod fields;
pub mod flags;
pub mod mem;
pub mod overlay;
pub mod path;
pub mod procfs;
pub mod sock;
pub mod syscalls;
#[cfg(test)]
pub(crate) mod testutil;
pub mod view;

pub use builder::{BuildError, EventBuilder, SyscallEvent};
pub use container::{ContainerCtx, DnsTable};
pub use fields::{field_cost, field_range};
pub use path::Resolved;
pub use syscalls::{syscall_nr, Arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};
