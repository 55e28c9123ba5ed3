//! What the `cli_*` tests share: the real `tiercel` binary, and running it with stdin.

use std::io::Write;
use std::process::{Command, Output, Stdio};

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
