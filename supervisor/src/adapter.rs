//! TEMPORARY minimal event adapter, used by the notify loop until the event helper's
//! `EventBuilder` lands (then `build` below becomes a call to it). It serves only
//! `evt.type`, `proc.name`, `proc.cmdline` and `fd.name` (the path argument, not
//! resolved) for a few x86_64 syscalls.

use std::borrow::Cow;

use tiercel_rules::event::{Event, EventType, Field, FieldArg, Value};

use crate::event::{ContainerInfo, Notif, ReadMem};
use crate::mem::PATH_MAX;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// x86_64 syscall name and the index of its path argument, if any.
fn x86_64(nr: i32) -> Option<(&'static str, Option<usize>)> {
    Some(match nr {
        0 => ("read", None),
        2 => ("open", Some(0)),
        4 => ("stat", Some(0)),
        6 => ("lstat", Some(0)),
        21 => ("access", Some(0)),
        59 => ("execve", Some(0)),
        76 => ("truncate", Some(0)),
        82 => ("rename", Some(0)),
        83 => ("mkdir", Some(0)),
        84 => ("rmdir", Some(0)),
        85 => ("creat", Some(0)),
        86 => ("link", Some(0)),
        87 => ("unlink", Some(0)),
        88 => ("symlink", Some(1)),
        90 => ("chmod", Some(0)),
        257 => ("openat", Some(1)),
        258 => ("mkdirat", Some(1)),
        262 => ("newfstatat", Some(1)),
        263 => ("unlinkat", Some(1)),
        264 => ("renameat", Some(1)),
        265 => ("linkat", Some(1)),
        266 => ("symlinkat", Some(2)),
        268 => ("fchmodat", Some(1)),
        269 => ("faccessat", Some(1)),
        316 => ("renameat2", Some(1)),
        322 => ("execveat", Some(1)),
        437 => ("openat2", Some(1)),
        439 => ("faccessat2", Some(1)),
        _ => return None,
    })
}

/// The minimal event.
#[derive(Debug)]
pub struct MiniEvent {
    etype: EventType,
    name: &'static str,
    path: Option<String>,
    comm: Option<String>,
}

/// Builds the event: reads the path argument and the caller's comm.
pub fn build(n: &Notif, mem: &dyn ReadMem, _container: &ContainerInfo) -> MiniEvent {
    let (name, path_arg) = if n.arch == AUDIT_ARCH_X86_64 {
        x86_64(n.nr).unwrap_or(("unknown", None))
    } else {
        ("unknown", None)
    };
    let path = path_arg.and_then(|i| {
        mem.read_cstr(n.args[i], PATH_MAX - 1)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    });
    let comm = std::fs::read(format!("/proc/{}/comm", n.pid))
        .ok()
        .map(|b| String::from_utf8_lossy(b.strip_suffix(b"\n").unwrap_or(&b)).into_owned());
    MiniEvent {
        etype: EventType::from_name(name).unwrap_or(EventType(u16::MAX)),
        name,
        path,
        comm,
    }
}

impl MiniEvent {
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl Event for MiniEvent {
    fn event_type(&self) -> EventType {
        self.etype
    }

    fn extract(&self, field: Field, _arg: &FieldArg) -> Option<Value<'_>> {
        #[allow(unreachable_patterns)]
        match field {
            Field::EvtType => Some(Value::Str(Cow::Borrowed(self.name))),
            Field::FdName => self.path.as_deref().map(|p| Value::Str(Cow::Borrowed(p))),
            Field::ProcName | Field::ProcCmdline => {
                self.comm.as_deref().map(|p| Value::Str(Cow::Borrowed(p)))
            }
            _ => None,
        }
    }
}
