//! Stage 3: the condition parser (libsinsp `filter/parser.cpp`, ported by hand).
//! OWNER: parser helper. STUB until implemented.

use crate::ast::Expr;

/// libsinsp's default nesting limit; Falco raises it to 1000 for rule conditions.
pub const DEFAULT_MAX_DEPTH: usize = 100;
/// The limit Falco's rule loader uses.
pub const FALCO_MAX_DEPTH: usize = 1000;

/// A syntax error with Falco's message text and the position where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// Falco's message, e.g. `unexpected token after 'in', expecting 'or', 'and'`.
    pub message: String,
    /// Byte offset into the input.
    pub offset: usize,
    /// 1-based line and column (as libsinsp counts them).
    pub line: u32,
    pub col: u32,
}

/// Parses a whole condition with the given nesting limit.
pub fn parse(input: &str, max_depth: usize) -> Result<Expr, ParseError> {
    let _ = (input, max_depth);
    Err(ParseError {
        message: "parser not implemented".into(),
        offset: 0,
        line: 1,
        col: 1,
    })
}
