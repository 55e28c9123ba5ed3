//! Diagnostics: Falco's load result codes, positions, caret snippets, text and JSON forms.
//! OWNER: loader helper. STUB.

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One error or warning of a load.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Falco's code, e.g. `LOAD_ERR_COMPILE_CONDITION`.
    pub code: &'static str,
    pub message: String,
}
