//! Test helpers shared by the event modules' unit tests: a real target process, a
//! notification for it, field getters.

use std::path::PathBuf;
use std::process::{Child, Command};

pub use tiercel_rules::event::{FieldArg, Value};

pub use super::mem::BufMem;
use super::syscalls::{syscall_nr, AUDIT_ARCH_X86_64};
pub use super::{ContainerInfo, DnsTable, EventBuilder, Notif, SyscallEvent};

pub struct Target {
    pub child: Child,
    pub dir: PathBuf,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real process (`sh` that opens fd 5 on `dir/d` and execs `sleep`) in a temp cwd.
pub fn target(name: &str) -> Target {
    let dir = std::env::temp_dir().join(format!("tiercel-ev-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("d/sub")).unwrap();
    let child = Command::new("sh")
        .arg("-c")
        .arg("exec 5<d; exec sleep 30")
        .current_dir(&dir)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Wait until `sleep` sits in its sleep syscall (clock_nanosleep or nanosleep), so
    // its start-up (locale files...) no longer opens fds.
    eventually(|| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep")
            && std::fs::read_to_string(format!("/proc/{pid}/syscall"))
                .is_ok_and(|c| c.starts_with("230 ") || c.starts_with("35 "))
    });
    Target { child, dir }
}

/// Whether `cond` comes true, tried every 5 ms for 2 s.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    (0..400).any(|_| {
        cond() || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            false
        }
    })
}

/// Whether `/proc/<pid>/cmdline` comes to satisfy `ok`: a child is past its exec
/// (`spawn` returns at the vfork release, inside the execve: until the new image's
/// stack is set up its cmdline reads empty; the supervisor never sees that window, the
/// exec'ing thread being the process's only one and in the kernel).
pub fn cmdline_until(pid: u32, ok: impl Fn(&[u8]) -> bool) -> bool {
    eventually(|| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| ok(&c)))
}

/// Whether `/proc/<pid>/comm` comes to read `comm` and a newline.
pub fn comm_until(pid: u32, comm: &str) -> bool {
    eventually(|| {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.strip_suffix('\n') == Some(comm))
    })
}

pub fn notif(pid: u32, name: &str, args: [u64; 6]) -> Notif {
    Notif {
        id: 7,
        pid,
        arch: AUDIT_ARCH_X86_64,
        nr: syscall_nr(name).unwrap(),
        instruction_pointer: 0,
        args,
    }
}

pub fn get(ev: &SyscallEvent, f: &str) -> Option<String> {
    get_arg(ev, f, FieldArg::None)
}

pub fn get_arg(ev: &SyscallEvent, f: &str, a: FieldArg) -> Option<String> {
    ev.extract_named(f, &a).map(|v| match v {
        Value::Str(s) => s.into_owned(),
        Value::U64(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Ip(i) => i.to_string(),
        Value::Time(t) => t.to_string(),
        Value::List(l) => format!("{l:?}"),
        other => format!("{other:?}"),
    })
}

pub fn builder() -> EventBuilder {
    EventBuilder::new(ContainerInfo {
        id: "0123456789abcdef0123".into(),
        meta: std::sync::Arc::new(crate::container_meta::MetaCell::new(
            crate::container_meta::ContainerMeta {
                name: Some("web".into()),
                image: Some("docker.io/library/busybox:1.36".into()),
                image_repository: Some("docker.io/library/busybox".into()),
                image_tag: Some("1.36".into()),
                privileged: Some(false),
                ..Default::default()
            },
        )),
        ..Default::default()
    })
}

pub fn our_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim()
        .to_string()
}
