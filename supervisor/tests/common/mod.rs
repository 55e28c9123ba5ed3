//! What the CLI tests share: the real `tiercel` binary, running it with stdin, and
//! following a running supervisor's log.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn tiercel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tiercel"))
}

/// Runs `cmd` with `stdin` written to it, and collects its output.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tiercel");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Spawns `cmd` (a `supervise`) with stderr sent line by line to the returned receiver;
/// the child keeps running.
pub fn spawn_with_log(cmd: &mut Command) -> (mpsc::Receiver<String>, Child) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (rx, child)
}

/// Appends the log's lines to `log` until one contains `needle` (true) or 20 s pass.
pub fn wait_for(rx: &mpsc::Receiver<String>, needle: &str, log: &mut String) -> bool {
    let end = Instant::now() + Duration::from_secs(20);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                log.push_str(&line);
                log.push('\n');
                if line.contains(needle) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}
