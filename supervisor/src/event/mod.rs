//! Building Falco events from a stopped syscall: decode the call per architecture, read
//! its pointer arguments from the target (through [`ReadMem`]), resolve paths and process
//! info from `/proc`, and serve fields to the rules engine (`tiercel_rules::event::Event`).
//! OWNER: event helper. STUB: the interface the notify loop uses.

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
/// (from the OCI state JSON, annotations and containers/storage).
#[derive(Debug, Clone, Default)]
pub struct ContainerInfo {
    /// Full OCI id; `container.id` is its first 12 characters.
    pub id: String,
    pub name: Option<String>,
    pub image_repository: Option<String>,
    pub image_tag: Option<String>,
    pub privileged: Option<bool>,
    /// Host pid of the container's init.
    pub init_pid: Option<u32>,
    pub bundle: Option<String>,
}

pub mod builder;
pub mod decode;
pub mod flags;
pub mod mem;
pub mod path;
pub mod procfs;
pub mod sock;
pub mod syscalls;
