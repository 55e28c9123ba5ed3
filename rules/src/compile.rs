//! Stage 4b: a macro-expanded condition AST → a typed, compiled filter.
//! OWNER: compile/eval helper. STUB.

use crate::ast::{Expr, Span};
use crate::evttype::EventType;

/// What went wrong (or is suspicious) in a condition, with the span it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileDiag {
    pub kind: CompileDiagKind,
    /// Falco's text, e.g. `filter_check called with nonexistent field proc.nobody`.
    pub message: String,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileDiagKind {
    /// Unknown field (downgraded to a warning under `skip-if-unknown-filter`).
    UnknownField,
    /// `unknown event type X`.
    UnknownEventType,
    /// Any other compile error (types, operators, values, leftover identifier).
    Error,
    /// `LOAD_COMPILE_CONDITION` warnings (misused field as a string, regex hints).
    Warning,
    /// `LOAD_DEPRECATED_ITEM` warnings (`evt.dir`, `evt.latency` ...).
    Deprecated,
}

/// A compiled, type-checked boolean filter.
#[derive(Debug, Clone)]
pub struct Filter {}

/// The result of compiling one condition.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    pub filter: Filter,
    /// Event types the condition can match; `None` = every type.
    pub evttypes: Option<Vec<EventType>>,
    pub warnings: Vec<CompileDiag>,
}

/// Compiles a macro-expanded condition. Every error found is returned, not only the first.
pub fn compile_condition(expr: &Expr) -> Result<CompiledCondition, Vec<CompileDiag>> {
    let _ = expr;
    Err(vec![CompileDiag {
        kind: CompileDiagKind::Error,
        message: "compiler not implemented".into(),
        span: Span::default(),
    }])
}
