//! The seccomp profile generator: which syscalls the loaded rules need notified, the
//! `linux.seccomp` object that sends them to tiercel, and merging that into an existing
//! profile (a bundle's `config.json`, or podman's/docker's `seccomp.json`).
//!
//! Decisions (documented for ARCHITECTURE.md):
//! - Falco event types map to x86_64 syscall names ([`falco_event_syscalls`]): the inverse
//!   of the decoder's naming (`crate::event::syscalls::FALCO_NAMES`), so a notified call
//!   gets the event type the rule asked for: most are the syscall's own name; `pread`/
//!   `pwrite` are the kernel's `pread64`/`pwrite64`; meta events (`procexit`, `container`
//!   …) and other-architecture names (`mmap2`, `socketcall`, `umount` …) map to nothing.
//! - A rule without an event-type restriction (or one matching more than
//!   [`MANY_EVTTYPES`] types, i.e. a negated `evt.type`) is served with [`decoded_syscalls`]:
//!   every syscall the event builder turns into a Falco event — files, exec, network,
//!   credentials, namespaces, modules, mounts. Hot calls (`read`, `futex`, `mmap`, `close`,
//!   thread creation …) are deliberately absent: notifying them would stall every workload.
//! - `open`/`openat` are prefiltered in the kernel on their flags ([`notify_plan`]): for
//!   each value of `flags & OPEN_CLASS_MASK` (`O_ACCMODE|O_CREAT|O_TRUNC|__O_TMPFILE|
//!   O_DIRECTORY`, 64 classes) the rules are evaluated in three-valued logic with the
//!   fields that class decides known — `evt.is_open_read`/`write`/`create`,
//!   `fd.typechar`, and `evt.arg.flags contains|icontains P` when the class fixes it for
//!   every flags value (P part of a name shown, or, without `|`, of no name the class may
//!   show) — and every other field unknown ([`tiercel_rules::prefilter`]). Bits that never
//!   change the answer are dropped from the mask; only the classes some rule can match
//!   are notified, one NOTIFY rule per class with the OCI condition `{"index": 2 (openat)
//!   / 1 (open), "value": mask, "valueTwo": class, "op": "SCMP_CMP_MASKED_EQ"}`
//!   (runc/crun: `(arg & value) == valueTwo`). The seed rule gives mask `0o200003`
//!   (`fd.typechar='f'` is decided by `O_DIRECTORY`) with classes 1 and 2; the
//!   protect-binary-dirs preset 58 of the 64 classes of the whole mask. A call no rule can
//!   match in any class is not notified; one that needs every class is notified without
//!   condition. `openat2` (flags inside a struct) and `creat` (always a write) are never
//!   prefiltered. `tiercel rules syscalls` prints `openat (flags & 0o200003 in
//!   {0o1,0o2})`, or `not in` the other classes when that list is shorter; with mask 3,
//!   `openat (flags & O_ACCMODE in {1,2})`.
//! - libseccomp lets an unconditional rule for a syscall win over every conditional rule
//!   for it (whatever the order and actions), so merging takes a prefiltered call out of
//!   an unconditional allow rule and writes one single-class copy of that rule per value
//!   of the mask (NOTIFY for the planned classes, the rule's own action for the others;
//!   at most 64); a base rule that already has `args` for the call keeps them and gets a
//!   plain NOTIFY copy instead (conditions on the same argument are not combined).
//! - `ioctl` is notified only for the request numbers the rules name
//!   ([`VALUE_FILTERED`], [`tiercel_rules::prefilter::arg_value_set`]): one NOTIFY rule per
//!   request with `(arg1 & 0xffffffff) == request` (the kernel's `cmd` is an `unsigned
//!   int`; musl passes a sign-extended `int`), and the allow rules naming it without
//!   `args` rewritten to `arg1 >= 0` ([`object::rest_arg`]): always true, but libseccomp
//!   2.5.4 then keeps the conditional rules and tests the masked compares first (an
//!   unconditional allow, or a mask-0 compare, makes it drop them). A rule on ioctl that
//!   tests the request otherwise, or not at all, gets every ioctl notified.
//! - Enforce profiles whose plan `refuse_namespaces` (an enabled rule can match an
//!   `unshare` with `CLONE_NEWNS`, e.g. the preset's namespace rule; `tiercel profile
//!   --allow-namespaces` turns it off) answer `clone` with any of [`NS_CLONE_FLAGS`]
//!   `EPERM` (one masked compare per flag; the allow rules get `arg0 >= 0`) and `clone3`
//!   `ENOSYS` (its flags are in memory; libc falls back to `clone`), in the kernel.
//! - `write` is never notified (runc refuses it, and it would deadlock runc's sync pipe);
//!   NOTIFY is never the `defaultAction` (runc refuses that too).
//! - Generated profiles list only the native architecture (`SCMP_ARCH_X86_64`): the runtime's
//!   bad-arch action kills non-native calls in the kernel. Merged profiles keep their
//!   architectures in audit mode and are cut to the native one in enforce mode.
//! - Enforce mode refuses `io_uring_setup`/`io_uring_enter`/`io_uring_register` in the kernel
//!   with `ENOSYS` (programs fall back to plain syscalls, which are watched).
//! - Enforce profiles refuse what tiercel does not know: `defaultAction: SCMP_ACT_ERRNO`
//!   with `defaultErrnoRet: 38` (ENOSYS, so libc falls back), an explicit allow list of
//!   every syscall of tiercel's x86_64 table up to the newest libseccomp 2.5.4 can name
//!   ([`enforce_allowed`], [`LIBSECCOMP_NEWEST`]: runc 1.1.5 ignores a name its
//!   libseccomp cannot resolve, crun warns) minus [`UNVETTED`] newer calls (`setxattrat`
//!   …), NOTIFY for what the rules need. A merged profile keeps the base's refusals and
//!   loses the unvetted calls from its allow rules; a base that allows by default is
//!   turned into one that refuses by default, with the allow list for every syscall none
//!   of its rules names.
//! - `listenerMetadata` is `mode=<audit|enforce>` (newline-separated `key=value` pairs), written
//!   only when a mode was asked for (`--mode`, `--metadata`; the shim: enforce): without it
//!   the supervisor's own mode applies, instead of every container asking for audit.
//!
//! Layout: [`plan`] (rules → [`NotifyPlan`]), [`object`] (the typed OCI/podman seccomp
//! profile, which keeps every key it does not know, and the generated object),
//! [`merge`](mod@merge) (a plan merged into an existing profile), [`bundle`] (that, on a
//! whole OCI `config.json`: the shim and the podman hook), [`cli`] (`tiercel profile`).

pub mod bundle;
pub mod cli;
pub mod merge;
pub mod object;
pub mod plan;

pub use bundle::add_notify_to_config;
pub use cli::{build, load_program, read_base, run, Format, ProfileArgs, PODMAN_DEFAULT_PROFILE};
pub use merge::{merge, merge_into, Merged};
pub use object::{access_mode_arg, seccomp_object, Seccomp};
pub use plan::{
    decoded_syscalls, falco_event_syscalls, notify_plan, notify_syscalls, notify_syscalls_for,
    rules_refuse_namespaces, AccessFilter, NotifyPlan, NotifyRule, ValueFilter,
    ACCESS_MODE_SYSCALLS, O_ACCMODE, VALUE_FILTERED,
};

/// The native seccomp architecture of the profiles we generate.
pub const NATIVE_ARCH: &str = "SCMP_ARCH_X86_64";

/// Syscalls that are never notified, whatever the rules say (runc refuses NOTIFY on
/// `write`; notifying it could also deadlock the runtime's own sync pipe).
pub const NEVER_NOTIFY: &[&str] = &["write"];

/// Refused in the kernel in enforce mode (a bypass channel: io_uring does file and
/// network operations without syscalls).
pub const IO_URING: &[&str] = &["io_uring_setup", "io_uring_enter", "io_uring_register"];

/// The namespace flags of `clone` (`CLONE_NEWNS`, `CLONE_NEWCGROUP`, `CLONE_NEWUTS`,
/// `CLONE_NEWIPC`, `CLONE_NEWUSER`, `CLONE_NEWPID`, `CLONE_NEWNET`: docker's mask
/// `0x7E020000`). Enforce profiles whose plan refuses namespaces answer a `clone` with
/// any of them `EPERM` in the kernel, one masked compare per flag, so fork and threads
/// never leave the kernel.
pub const NS_CLONE_FLAGS: &[u64] = &[
    0x0002_0000,
    0x0200_0000,
    0x0400_0000,
    0x0800_0000,
    0x1000_0000,
    0x2000_0000,
    0x4000_0000,
];

/// `EPERM`: what `clone` with a namespace flag gets.
pub const EPERM: u32 = libc::EPERM.unsigned_abs();

/// The errno io_uring calls get in enforce mode.
pub const IO_URING_ERRNO: u32 = ENOSYS;

/// `ENOSYS`: what enforce profiles answer for every syscall they do not allow, so that
/// libc falls back to an older call (which the rules watch).
pub const ENOSYS: u32 = libc::ENOSYS.unsigned_abs();

/// Syscalls tiercel's table names but enforce profiles never allow (they get the
/// refusing default, `ENOSYS`, like the numbers tiercel does not know): newer calls that
/// change file attributes or mounts through a path, or read them, without an event type
/// the Falco rules watch — `setxattrat` would set `security.capability` on a binary the
/// rules protect against `setxattr`. libc falls back to the older calls (`setxattr`,
/// `fsetxattr`, `open_tree` …), which the rules see.
pub const UNVETTED: &[&str] = &[
    "setxattrat",
    "removexattrat",
    "getxattrat",
    "listxattrat",
    "file_setattr",
    "file_getattr",
    "open_tree_attr",
];

/// The newest x86_64 syscall number libseccomp 2.5.4 (Debian 12; runc 1.1.5 links it)
/// resolves by name (`futex_requeue`; `statmount` = 457 is unknown to it). Enforce
/// profiles allow nothing newer: a name the runtime's libseccomp cannot resolve is
/// ignored by runc and warned about by crun, so it would not be allowed anyway, and a
/// newer libseccomp must not allow what this one refuses.
pub const LIBSECCOMP_NEWEST: u32 = 456;

/// Not notified in enforce mode, and never allowed: io_uring and [`UNVETTED`].
pub fn enforce_refused() -> impl Iterator<Item = &'static str> {
    IO_URING.iter().chain(UNVETTED).copied()
}

/// What an enforce profile allows (or notifies): every x86_64 syscall of tiercel's table
/// up to [`LIBSECCOMP_NEWEST`] but [`enforce_refused`]. Everything else — numbers tiercel
/// does not know, newer ones — gets the refusing default (`ENOSYS`).
pub fn enforce_allowed() -> Vec<&'static str> {
    crate::event::syscalls::all_syscalls(crate::event::syscalls::Arch::X86_64)
        .filter(|&(nr, n)| {
            u32::try_from(nr).is_ok_and(|nr| nr <= LIBSECCOMP_NEWEST)
                && !enforce_refused().any(|r| r == n)
        })
        .map(|(_, n)| n)
        .collect()
}

/// A rule matching more event types than this (e.g. `evt.type != open`) is treated as
/// unrestricted: it gets [`decoded_syscalls`], not every syscall of the table.
pub const MANY_EVTTYPES: usize = 100;

pub use crate::decide::Mode;

/// The `listenerMetadata` string for `mode`.
pub fn metadata_for(mode: Mode) -> String {
    format!("mode={mode}")
}

/// Errors of profile generation and merging.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("invalid seccomp profile: {0}")]
    Invalid(String),
    #[error(
        "the seccomp profile already sends notifications to another agent (listenerPath {0:?}); \
         only one notifying filter per container is possible (EBUSY)"
    )]
    OtherAgent(String),
    #[error("the seccomp profile uses SCMP_ACT_NOTIFY as defaultAction, which runc refuses")]
    NotifyDefault,
}

/// The x86_64 number of syscall `name`.
pub fn x86_64_syscall_nr(name: &str) -> Option<u32> {
    crate::event::syscalls::syscall_nr(name).and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests;
