//! Output templates (`%field`, `%field[arg]`, width prefixes, transformers) and Falco's
//! alert formats (text line, JSON object).
//! OWNER: compile/eval helper. STUB.

use crate::compile::{CompileDiag, CompileDiagKind};

/// A compiled output template.
#[derive(Debug, Clone)]
pub struct OutputFormat {}

impl OutputFormat {
    /// Compiles a template; `Err` is a `LOAD_ERR_COMPILE_OUTPUT` error, the `Vec` holds warnings.
    pub fn parse(format: &str) -> Result<(OutputFormat, Vec<CompileDiag>), CompileDiag> {
        let _ = format;
        Err(CompileDiag {
            kind: CompileDiagKind::Error,
            message: "output compiler not implemented".into(),
            span: Default::default(),
        })
    }
}
