//! Falco's `program_output`: each alert line on the stdin of `sh -c PROGRAM`, one process
//! per alert, or one long-lived process with `keep_alive` (re-spawned when it exits and
//! on SIGUSR1).

use std::io::{self, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Formatted, Output};

pub(super) struct ProgramOutput {
    program: String,
    json: bool,
    keep_alive: bool,
    running: Option<(Child, ChildStdin)>,
}

fn spawn(program: &str) -> io::Result<(Child, ChildStdin)> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(program)
        .stdin(Stdio::piped())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("program output: no stdin pipe"))?;
    Ok((child, stdin))
}

/// Closes the program's stdin and reaps it; a program that does not exit within `grace`
/// is killed (an output must never wait forever).
fn finish(mut child: Child, stdin: ChildStdin, grace: Duration) -> io::Result<()> {
    drop(stdin);
    let deadline = Instant::now() + grace;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl ProgramOutput {
    pub(super) fn new(program: String, json: bool, keep_alive: bool) -> ProgramOutput {
        ProgramOutput {
            program,
            json,
            keep_alive,
            running: None,
        }
    }
}

impl Output for ProgramOutput {
    fn name(&self) -> &'static str {
        "program"
    }

    fn write(&mut self, f: &Formatted) -> io::Result<()> {
        let line = if self.json { &f.json } else { &f.text };
        if !self.keep_alive {
            let (child, mut stdin) = spawn(&self.program)?;
            let r = writeln!(stdin, "{line}");
            finish(child, stdin, Duration::from_secs(10))?;
            return r;
        }
        if let Some((c, _)) = self.running.as_mut() {
            if c.try_wait()?.is_some() {
                self.running = None;
            }
        }
        if self.running.is_none() {
            self.running = Some(spawn(&self.program)?);
        }
        let Some((_, stdin)) = self.running.as_mut() else {
            return Ok(());
        };
        let r = writeln!(stdin, "{line}").and_then(|()| stdin.flush());
        if r.is_err() {
            // It exited (EPIPE): reap it; the next alert starts a new one.
            if let Some((c, s)) = self.running.take() {
                let _ = finish(c, s, Duration::from_millis(100));
            }
        }
        r
    }

    fn reopen(&mut self) {
        if let Some((c, s)) = self.running.take() {
            let _ = finish(c, s, Duration::from_secs(1));
        }
    }
}

impl Drop for ProgramOutput {
    fn drop(&mut self) {
        self.reopen();
    }
}
