//! Loading rule files into a [`Program`]: reading, collecting, list substitution, macro
//! expansion, exceptions, visibility across files, compiling, diagnostics.
//! OWNER: loader helper. STUB.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::program::Program;

/// Options of a load (Falco config equivalents).
#[derive(Debug, Clone, Default)]
pub struct LoaderOptions {}

/// What a load produced.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Every error and warning, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The enabled, compiled rules; `None` when there was any error.
    pub program: Option<Program>,
    pub rules: usize,
    pub macros: usize,
    pub lists: usize,
}

/// Loads rule files in order, like `falco -r a.yaml -r b.yaml`.
#[derive(Debug, Default)]
pub struct Loader {
    #[allow(dead_code)]
    opts: LoaderOptions,
}

impl Loader {
    pub fn new(opts: LoaderOptions) -> Loader {
        Loader { opts }
    }

    /// Adds a file (read from disk).
    pub fn add_file(&mut self, path: &Path) {
        let _ = path;
    }

    /// Adds rules content under a display name.
    pub fn add_str(&mut self, name: &str, content: &str) {
        let _ = (name, content);
    }

    /// Compiles everything added so far.
    pub fn finish(self) -> LoadOutcome {
        LoadOutcome::default()
    }
}
