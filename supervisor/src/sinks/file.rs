//! Append-only alert files: Falco's `file_output` (text or JSON as `json_output` says) and
//! tiercel's `--alerts FILE` (always JSON lines).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use super::{Formatted, Output};

pub(super) struct FileOutput {
    path: PathBuf,
    json: bool,
    keep_alive: bool,
    file: Option<BufWriter<File>>,
}

fn open(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl FileOutput {
    /// Creates the directory and opens the file now, so that a bad path fails at start.
    pub(super) fn new(path: PathBuf, json: bool, keep_alive: bool) -> io::Result<FileOutput> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let f = open(&path)?;
        Ok(FileOutput {
            path,
            json,
            keep_alive,
            file: keep_alive.then(|| BufWriter::new(f)),
        })
    }
}

impl Output for FileOutput {
    fn name(&self) -> &'static str {
        "file"
    }

    fn write(&mut self, f: &Formatted) -> io::Result<()> {
        let line = if self.json { &f.json } else { &f.text };
        if !self.keep_alive {
            // Falco's default: open, append, close — a rotated file is never written to.
            let mut file = open(&self.path)?;
            return writeln!(file, "{line}");
        }
        if self.file.is_none() {
            self.file = Some(BufWriter::new(open(&self.path)?));
        }
        match self.file.as_mut() {
            Some(w) => writeln!(w, "{line}"),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }

    /// SIGUSR1 (logrotate's `postrotate`): the next alert opens the path anew.
    fn reopen(&mut self) {
        if let Some(mut w) = self.file.take() {
            let _ = w.flush();
        }
    }
}
