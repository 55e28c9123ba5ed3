//! Response actions beyond the errno (`--deny …,action=kill-process|kill-container`).
//!
//! The target is pinned with a pidfd ([`arm`], after the session's `ID_VALID`, which it
//! repeats afterwards so the pidfd is known to name the caller or its container's init,
//! never a task that reused the number) and signalled ([`Armed::fire`]) while the caller
//! still waits in the kernel on its notification; the errno answer follows. The call
//! never runs either way (a task woken from the notification wait by a fatal signal
//! skips the syscall; the answer is an errno), and because SIGKILL is already pending
//! when the caller leaves the kernel, not one more instruction of it runs — answering
//! first and signalling second let the caller print its EPERM result before dying (seen
//! in the e2e test). SIGKILL of a pid namespace's init makes the kernel kill every other
//! process of that namespace; the caller is signalled directly too, so that it does not
//! return to user space before the namespace is torn down.
//!
//! Never used in the runtime phase: the decision there is made in audit mode and carries
//! no action.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use crate::decide::Action;
use crate::sys;

/// A target pinned by a pidfd, to be signalled after the answer.
#[derive(Debug)]
pub struct Armed {
    action: Action,
    pidfd: OwnedFd,
    /// `kill-container`: the caller itself, signalled along with the init.
    caller: Option<OwnedFd>,
    /// The host pid the pidfd was opened on (for logs).
    pid: u32,
}

impl Armed {
    pub fn action(&self) -> Action {
        self.action
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends SIGKILL through the pidfd. An error means nothing was killed (ESRCH: the
    /// target already exited).
    pub fn fire(self) -> Result<Action, String> {
        if let Some(c) = &self.caller {
            // Best effort: the init's death kills it anyway.
            let _ = sys::pidfd_send_signal(c.as_fd(), libc::SIGKILL);
        }
        sys::pidfd_send_signal(self.pidfd.as_fd(), libc::SIGKILL)
            .map(|()| self.action)
            .map_err(|e| format!("{}: SIGKILL to pid {}: {e}", self.action, self.pid))
    }
}

/// Pins the target of `action` for the caller `tid`: the caller itself, or the init of
/// its pid namespace. `installer` is the process that installed the filter (the state
/// JSON's pid: a runc/crun container's init), tried first for the container.
pub fn arm(action: Action, tid: u32, installer: Option<u32>) -> Result<Armed, String> {
    match action {
        Action::Deny => Err("deny has no target".into()),
        Action::KillProcess => {
            let pidfd = sys::pidfd_open_task(tid)
                .map_err(|e| format!("kill-process: pidfd_open({tid}): {e}"))?;
            Ok(Armed {
                action,
                pidfd,
                caller: None,
                pid: tid,
            })
        }
        Action::KillContainer => {
            let (pidfd, pid) = container_init(tid, installer)?;
            Ok(Armed {
                action,
                pidfd,
                caller: sys::pidfd_open_task(tid).ok(),
                pid,
            })
        }
    }
}

/// The inode of `/proc/<pid>/ns/pid` (which pid namespace the task is in).
fn pid_ns(pid: &str) -> Result<u64, String> {
    std::fs::metadata(format!("/proc/{pid}/ns/pid"))
        .map(|m| m.ino())
        .map_err(|e| format!("/proc/{pid}/ns/pid: {e}"))
}

/// `PPid` and the innermost `NSpid` of `/proc/<pid>/status` (bounded read).
fn status(pid: u32) -> Option<(u32, u32)> {
    let f = std::fs::File::open(format!("/proc/{pid}/status")).ok()?;
    let mut text = String::new();
    f.take(16 * 1024).read_to_string(&mut text).ok()?;
    let mut ppid = None;
    let mut inner = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("PPid:") {
            ppid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("NSpid:") {
            inner = v.split_whitespace().last().and_then(|x| x.parse().ok());
        }
    }
    Some((ppid?, inner?))
}

/// Hops from the caller up its parents looking for its namespace's init.
const MAX_HOPS: usize = 64;

/// A pidfd on the init (pid 1) of `tid`'s pid namespace, which must not be the
/// supervisor's own namespace. Each candidate is checked *after* its pidfd is open (same
/// namespace as the caller, pid 1 in it), so the pidfd names the checked process.
fn container_init(tid: u32, installer: Option<u32>) -> Result<(OwnedFd, u32), String> {
    let ns = pid_ns(&tid.to_string())?;
    if ns == pid_ns("self")? {
        return Err(
            "kill-container: the caller shares the supervisor's pid namespace (no container \
             pid namespace to end)"
                .into(),
        );
    }
    let check = |pid: u32| -> Option<OwnedFd> {
        let fd = sys::pidfd_open_task(pid).ok()?;
        let (_, inner) = status(pid)?;
        (inner == 1 && pid_ns(&pid.to_string()).ok()? == ns).then_some(fd)
    };
    if let Some(p) = installer.filter(|&p| p > 0) {
        if let Some(fd) = check(p) {
            return Ok((fd, p));
        }
    }
    let mut p = tid;
    for _ in 0..MAX_HOPS {
        let Some((ppid, inner)) = status(p) else {
            break;
        };
        if inner == 1 {
            if let Some(fd) = check(p) {
                return Ok((fd, p));
            }
        }
        if ppid == 0 {
            break;
        }
        p = ppid;
    }
    Err(format!(
        "kill-container: no init found for the pid namespace of task {tid}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;

    #[test]
    fn kill_process_kills_the_armed_child_only() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let armed = arm(Action::KillProcess, child.id(), None).unwrap();
        assert_eq!(armed.fire().unwrap(), Action::KillProcess);
        let st = child.wait().unwrap();
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn a_reaped_target_is_not_signalled() {
        let mut child = Command::new("true").spawn().unwrap();
        let armed = arm(Action::KillProcess, child.id(), None).unwrap();
        child.wait().unwrap();
        let e = armed.fire().unwrap_err();
        assert!(
            e.contains("kill-process") && e.contains("No such process"),
            "{e}"
        );
    }

    #[test]
    fn container_kill_refuses_the_host_namespace() {
        let e = arm(Action::KillContainer, std::process::id(), Some(1)).unwrap_err();
        assert!(e.contains("shares the supervisor's pid namespace"), "{e}");
        assert!(arm(Action::KillProcess, u32::MAX, None).is_err());
    }

    #[test]
    fn status_reads_ppid_and_inner_pid() {
        let (ppid, inner) = status(std::process::id()).unwrap();
        assert!(ppid > 0);
        assert!(inner > 0);
    }
}
