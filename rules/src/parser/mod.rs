//! Stage 3: the condition parser, a hand-written port of libsinsp `filter/parser.cpp`.
//!
//! Grammar, token regexes, error messages and quirks follow libsinsp (libs 0.25):
//! see `shared/reference/rules-language.md` (a). Notable quirks kept on purpose:
//! * keywords are matched by prefix (`test.op existsand macro` parses);
//! * word operators must be followed by a blank, symbol/list operators need none
//!   (`a.b in(x)`, `a.b =x`);
//! * a failing first item of a list literal is swallowed and the list is treated as
//!   empty if a `)` follows (`a.b in ('\q')` parses as `a.b in ()`), as libsinsp's
//!   `try/catch` around the first element does;
//! * the recursion-depth counter leaks one unit when the limit is hit inside that
//!   swallowed first item, which then surfaces as
//!   `parser fatal error: recursion is unbalanced` (libsinsp's `depth_guard` behaves so).
//!
//! Positions: [`ParseError`] carries libsinsp's cursor position at the moment the error
//! is raised (what Falco reports). AST node spans start where libsinsp's `pos_info`
//! for that node would (so the top-level `or`/`and` of an input with leading blanks
//! starts at 0) and end just after the node's last token (closing `)` included).
//! Field, transformer and literal spans cover exactly their tokens.
//!
//! Stack safety: every recursive function is counted against the depth limit *before*
//! it recurses, exactly where libsinsp's `depth_guard`s are, so Rust recursion is
//! bounded by the limit. The limit itself is capped at [`HARD_MAX_DEPTH`].

mod dump;
mod lexer;

use crate::ast::{
    Check, Expr, FieldExpr, FieldRef, ListModifier, Literal, Op, Rhs, Span, Transform,
    TransformArg, TransformKind,
};
pub use crate::text::{escape_str, unescape_str};
pub use dump::dump_tree;
use lexer::{Lexer, Pos};

/// libsinsp's default nesting limit; Falco raises it to 1000 for rule conditions.
pub const DEFAULT_MAX_DEPTH: usize = 100;
/// The limit Falco's rule loader uses.
pub const FALCO_MAX_DEPTH: usize = 1000;
/// Larger limits are clamped to this, so a caller cannot make the parser recurse deep
/// enough to exhaust a thread's stack.
pub const HARD_MAX_DEPTH: usize = 2000;

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
    Parser::new(input, max_depth).parse()
}

/// 1-based line and column of byte `offset` in `input`, counted as libsinsp does
/// (every byte is a column; `\n` and `\r` each start a new line). Offsets past the
/// end are clamped.
pub fn line_col(input: &str, offset: usize) -> (u32, u32) {
    let mut line = 1u32;
    let mut col = 1u32;
    for &b in &input.as_bytes()[..offset.min(input.len())] {
        col = col.saturating_add(1);
        if b == b'\n' || b == b'\r' {
            col = 1;
            line = line.saturating_add(1);
        }
    }
    (line, col)
}

/// libsinsp `parser::supported_operators()`, in its order (20 operators).
pub fn supported_operators() -> Vec<&'static str> {
    let mut ops: Vec<&'static str> = Vec::with_capacity(20);
    ops.extend(UNARY_OPS);
    ops.extend(NUM_OPS);
    ops.extend(STR_OPS.iter().map(|s| s.trim_end()));
    ops.extend(LIST_OPS);
    ops
}

/// libsinsp `parser::supported_operators(true)`: the list-only operators.
pub fn supported_list_operators() -> Vec<&'static str> {
    LIST_OPS.to_vec()
}

/// libsinsp `parser::supported_field_transformers(include_val)`.
pub fn supported_field_transformers(include_val: bool) -> Vec<&'static str> {
    let mut v = Vec::with_capacity(TRANSFORMERS.len() + 1);
    if include_val {
        v.push("val");
    }
    v.extend(TRANSFORMERS.iter().map(|(s, _)| s.trim_end_matches('(')));
    v
}

const UNARY_OPS: [&str; 1] = ["exists"];
const NUM_OPS: [&str; 4] = ["<=", "<", ">=", ">"];
/// By libsinsp convention a trailing space means "must be followed by a blank".
const STR_OPS: [&str; 12] = [
    "==",
    "=",
    "!=",
    "glob ",
    "iglob ",
    "contains ",
    "icontains ",
    "bcontains ",
    "startswith ",
    "bstartswith ",
    "endswith ",
    "regex ",
];
const LIST_OPS: [&str; 3] = ["intersects", "in", "pmatch"];
const MODIFIERS: [(&str, ListModifier); 3] = [
    ("oneof", ListModifier::OneOf),
    ("anyof", ListModifier::AnyOf),
    ("allof", ListModifier::AllOf),
];
const TRANSFORMERS: [(&str, TransformKind); 8] = [
    ("tolower(", TransformKind::ToLower),
    ("toupper(", TransformKind::ToUpper),
    ("b64(", TransformKind::B64),
    ("basename(", TransformKind::Basename),
    ("len(", TransformKind::Len),
    ("join(", TransformKind::Join),
    ("concat(", TransformKind::Concat),
    ("getopt(", TransformKind::Getopt),
];

fn op_from_token(tok: &str) -> Op {
    Op::from_name(tok.trim_end()).unwrap_or(Op::Eq)
}

fn token_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

type PResult<T> = Result<T, ParseError>;

struct Parser<'a> {
    lx: Lexer<'a>,
    depth: usize,
    max_depth: usize,
    requested_max_depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, max_depth: usize) -> Parser<'a> {
        Parser {
            lx: Lexer::new(input),
            depth: 0,
            max_depth: max_depth.min(HARD_MAX_DEPTH),
            requested_max_depth: max_depth,
        }
    }

    fn err<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(self.error_at(self.lx.pos, msg))
    }

    fn error_at(&self, pos: Pos, msg: impl Into<String>) -> ParseError {
        ParseError {
            message: msg.into(),
            offset: pos.idx,
            line: pos.line,
            col: pos.col,
        }
    }

    /// libsinsp `depth_guard` constructor: count this frame and fail when the limit is
    /// reached. On failure the count is *not* given back (the C++ guard's destructor
    /// does not run when its constructor throws).
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;

        if self.depth >= self.max_depth {
            let shown = if self.requested_max_depth > self.max_depth {
                self.max_depth
            } else {
                self.requested_max_depth
            };
            return self.err(format!("exceeded max depth limit of {shown}"));
        }
        Ok(())
    }

    /// Leaves a depth-counted function successfully (the guard's destructor).
    /// Error paths return early without this: an error ends the parse, except where
    /// libsinsp catches it (the first item of a list literal), and that site restores
    /// the count itself. Keeping guard and body in one function keeps one stack frame
    /// per counted level.
    fn ok<T>(&mut self, v: T) -> PResult<T> {
        self.depth -= 1;
        Ok(v)
    }

    /// `ok` for a tail call's result.
    fn done<T>(&mut self, r: PResult<T>) -> PResult<T> {
        let v = r?;
        self.ok(v)
    }

    fn span_from(&self, start: usize) -> Span {
        Span::new(start, self.lx.tok_end.max(start))
    }

    fn parse(mut self) -> PResult<Expr> {
        if self.lx.len() == 0 {
            return self.err("filter input string is empty");
        }
        let res = self.parse_bool_op(true)?;
        if self.depth > 0 {
            return self.err("parser fatal error: recursion is unbalanced");
        }
        if !self.lx.at_end() {
            return self.err(format!(
                "unexpected token after '{}', expecting 'or', 'and'",
                self.lx.last
            ));
        }
        Ok(res)
    }

    /// `parse_or` / `parse_and` (identical shape).
    fn parse_bool_op(&mut self, is_or: bool) -> PResult<Expr> {
        self.enter()?;
        let start = self.lx.pos.idx;
        let (kw, msg) = if is_or {
            ("or", "expected blank or '(' after 'or'")
        } else {
            ("and", "expected blank or '(' after 'and'")
        };
        self.lx.lex_blank();
        let first = if is_or {
            self.parse_bool_op(false)?
        } else {
            self.parse_not()?
        };
        let mut children = Vec::new();
        self.lx.lex_blank();
        while self.lx.lex_str(kw) {
            let child = if !self.lx.lex_blank() {
                if self.lx.lex_str("(") {
                    self.parse_embedded_remainder()?
                } else {
                    return self.err(msg);
                }
            } else {
                if is_or {
                    self.parse_bool_op(false)?
                } else {
                    self.parse_not()?
                }
            };
            children.push(child);
            self.lx.lex_blank();
        }
        if children.is_empty() {
            return self.ok(first);
        }
        children.insert(0, first);
        let span = self.span_from(start);
        self.ok(if is_or {
            Expr::Or(children, span)
        } else {
            Expr::And(children, span)
        })
    }

    fn parse_not(&mut self) -> PResult<Expr> {
        self.enter()?;
        let start = self.lx.pos.idx;
        let mut is_not = false;
        self.lx.lex_blank();
        while self.lx.lex_not_blank() {
            is_not = !is_not;
        }
        let child = if self.lx.lex_str("not(") {
            is_not = !is_not;
            self.parse_embedded_remainder()?
        } else {
            self.parse_check()?
        };
        self.ok(if is_not {
            let span = self.span_from(start);
            Expr::Not(Box::new(child), span)
        } else {
            child
        })
    }

    /// The rest of a parenthesised expression, right after its `(`.
    fn parse_embedded_remainder(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.lx.lex_blank();
        let child = self.parse_bool_op(true)?;
        self.lx.lex_blank();
        if !self.lx.lex_str(")") {
            return self.err("expected a ')' token");
        }
        self.ok(child)
    }

    fn parse_check(&mut self) -> PResult<Expr> {
        self.enter()?;
        let start = self.lx.pos.idx;
        self.lx.lex_blank();
        if self.lx.lex_str("(") {
            let r = self.parse_embedded_remainder();
            return self.done(r);
        }
        let tok_start = self.lx.pos.idx;
        if self.lx.lex_field_name() {
            let name = self.lx.last.clone();
            let field = self.parse_field_remainder(name, tok_start)?;
            let r = self.parse_condition(FieldExpr::Field(field), start);
            return self.done(r);
        }
        if let Some(kind) = self.lex_transformer_type() {
            self.lx.lex_blank();
            let t = self.parse_transformer_remainder(kind, tok_start)?;
            let r = self.parse_condition(FieldExpr::Transform(Box::new(t)), start);
            return self.done(r);
        }
        if self.lx.lex_identifier() {
            let name = self.lx.last.clone();
            return self.ok(Expr::Ident(name, self.span_from(start)));
        }
        self.err("expected a '(' token, a field check, or an identifier")
    }

    fn lex_transformer_type(&mut self) -> Option<TransformKind> {
        let names: [&str; 8] = TRANSFORMERS.map(|(s, _)| s);
        self.lx.lex_str_list(&names).map(|i| TRANSFORMERS[i].1)
    }

    fn lex_quoted(&mut self) -> PResult<bool> {
        self.lx.lex_quoted_str().or_else(|m| self.err(m))
    }

    /// `[arg]` after a field name or a transformer's `)`; returns the argument.
    fn parse_bracket_arg(&mut self) -> PResult<Option<String>> {
        if !self.lx.lex_str("[") {
            return Ok(None);
        }
        if !self.lex_quoted()? && !self.lx.lex_field_arg_bare_str() {
            return self.err("expected a valid field argument: a quoted string or a bare string");
        }
        let arg = self.lx.last.clone();
        if !self.lx.lex_str("]") {
            return self.err("expected a ']' token");
        }
        Ok(Some(arg))
    }

    /// A field name was just lexed (starting at `start`): its optional `[arg]`.
    fn parse_field_remainder(&mut self, name: String, start: usize) -> PResult<FieldRef> {
        self.enter()?;
        let name_span = Span::new(start, start + name.len());
        let arg = self.parse_bracket_arg()?;
        let span = self.span_from(start);
        self.ok(FieldRef {
            name,
            arg,
            span,
            name_span,
        })
    }

    /// `FieldTransformerTail`: the arguments after `name(`, the `)`, and the optional
    /// `[index]`.
    fn parse_transformer_remainder(
        &mut self,
        kind: TransformKind,
        start: usize,
    ) -> PResult<Transform> {
        self.enter()?;
        self.lx.lex_blank();
        let mut args = Vec::new();
        loop {
            args.push(self.parse_transformer_arg()?);
            self.lx.lex_blank();
            if !self.lx.lex_str(",") {
                break;
            }
        }
        self.lx.lex_blank();
        if !self.lx.lex_str(")") {
            return self.err("expected a ')' token closing the transformer");
        }
        let index = self.parse_bracket_arg()?;
        self.ok(Transform {
            kind,
            args,
            index,
            span: self.span_from(start),
        })
    }

    fn literal(&self, start: usize, quoted: bool) -> Literal {
        Literal {
            text: self.lx.last.clone(),
            quoted,
            span: self.span_from(start),
        }
    }

    /// `FieldTransformerArg ::= FieldTransformer | Field | QuotedStr | NumValue | TransformerList`
    fn parse_transformer_arg(&mut self) -> PResult<TransformArg> {
        self.enter()?;
        self.lx.lex_blank();
        let start = self.lx.pos.idx;
        if self.lx.lex_hex_num() || self.lx.lex_num() {
            return self.ok(TransformArg::Literal(self.literal(start, false)));
        }
        if self.lex_quoted()? {
            return self.ok(TransformArg::Literal(self.literal(start, true)));
        }
        if self.lx.lex_str("(") {
            let r = self.parse_transformer_list(start);
            return self.done(r);
        }
        if let Some(kind) = self.lex_transformer_type() {
            let t = self.parse_transformer_remainder(kind, start)?;
            return self.ok(TransformArg::Field(FieldExpr::Transform(Box::new(t))));
        }
        if self.lx.lex_field_name() {
            let name = self.lx.last.clone();
            let f = self.parse_field_remainder(name, start)?;
            return self.ok(TransformArg::Field(FieldExpr::Field(f)));
        }
        self.err(
                "expected field transformer argument: field, transformer, quoted string, number, or transformer list",
            )
    }

    /// `TransformerList ::= '(' (TransformerListArg (',' TransformerListArg)*)? ')'`,
    /// called after the `(`. (Not depth-counted in libsinsp; its items cannot be lists,
    /// and nested transformers are counted.)
    fn parse_transformer_list(&mut self, start: usize) -> PResult<TransformArg> {
        let mut items = Vec::new();
        self.lx.lex_blank();
        if self.lx.lex_str(")") {
            return Ok(TransformArg::List(items, self.span_from(start)));
        }
        items.push(self.parse_transformer_list_arg()?);
        self.lx.lex_blank();
        while self.lx.lex_str(",") {
            self.lx.lex_blank();
            items.push(self.parse_transformer_list_arg()?);
            self.lx.lex_blank();
        }
        if !self.lx.lex_str(")") {
            return self.err("expected ')'");
        }
        Ok(TransformArg::List(items, self.span_from(start)))
    }

    /// `TransformerListArg ::= Field | FieldTransformer | QuotedStr | NumValue`
    fn parse_transformer_list_arg(&mut self) -> PResult<TransformArg> {
        let start = self.lx.pos.idx;
        if self.lx.lex_field_name() {
            let name = self.lx.last.clone();
            let f = self.parse_field_remainder(name, start)?;
            return Ok(TransformArg::Field(FieldExpr::Field(f)));
        }
        if let Some(kind) = self.lex_transformer_type() {
            self.lx.lex_blank();
            let t = self.parse_transformer_remainder(kind, start)?;
            return Ok(TransformArg::Field(FieldExpr::Transform(Box::new(t))));
        }
        if self.lex_quoted()? {
            return Ok(TransformArg::Literal(self.literal(start, true)));
        }
        if self.lx.lex_hex_num() || self.lx.lex_num() {
            return Ok(TransformArg::Literal(self.literal(start, false)));
        }
        self.err("expected transformer list argument: field, transformer, quoted string, or number")
    }

    /// The operator and right-hand side of a check whose left side was just parsed.
    fn parse_condition(&mut self, lhs: FieldExpr, start: usize) -> PResult<Expr> {
        self.enter()?;
        self.lx.lex_blank();
        let op_start = self.lx.pos.idx;
        if self.lx.lex_operator_list(&UNARY_OPS).is_some() {
            return self.ok(Expr::Check(Box::new(Check {
                lhs,
                op: Op::Exists,
                modifier: None,
                rhs: Rhs::None,
                op_span: Span::new(op_start, self.lx.tok_end),
                span: self.span_from(start),
            })));
        }
        self.lx.lex_blank();
        let op_start = self.lx.pos.idx;
        let mut modifier = None;
        let (op, op_span, rhs) = if let Some(i) = self.lx.lex_operator_list(&NUM_OPS) {
            let op_span = Span::new(op_start, self.lx.tok_end);
            (
                op_from_token(NUM_OPS[i]),
                op_span,
                self.parse_num_value_or_transformer()?,
            )
        } else if let Some(i) = self.lx.lex_operator_list(&STR_OPS) {
            let op_span = Span::new(op_start, self.lx.tok_end);
            // word operators already consumed their mandatory blank
            let blank_after = STR_OPS[i].ends_with(' ') || self.lx.peek_is_blank();
            let rhs = match self.try_parse_modifier(blank_after)? {
                Some((m, rhs)) => {
                    modifier = Some(m);
                    rhs
                }
                None => self.parse_str_value_or_transformer(false)?,
            };
            (op_from_token(STR_OPS[i]), op_span, rhs)
        } else if let Some(i) = self.lx.lex_operator_list(&LIST_OPS) {
            let op_span = Span::new(op_start, self.lx.tok_end);
            (
                op_from_token(LIST_OPS[i]),
                op_span,
                self.parse_list_value_or_transformer()?,
            )
        } else {
            return self.err(format!(
                "expected a valid check operator: one of {}",
                token_list(&supported_operators())
            ));
        };
        self.ok(Expr::Check(Box::new(Check {
            lhs,
            op,
            modifier,
            rhs,
            span: self.span_from(start),
            op_span,
        })))
    }

    /// `StrOperator StrOperatorModifier ListValue` (libs 0.25). The modifier needs a
    /// blank before and after it and must be followed by a list literal or a list
    /// identifier; otherwise the word is an ordinary string value (`proc.name == oneof`,
    /// `proc.name == oneof and x`, `proc.name == oneof_x` are plain comparisons).
    fn try_parse_modifier(&mut self, blank_before: bool) -> PResult<Option<(ListModifier, Rhs)>> {
        if !blank_before {
            return Ok(None);
        }
        let mark = self.lx.mark();
        self.lx.lex_blank();
        let names = MODIFIERS.map(|(s, _)| s);
        let Some(i) = self.lx.lex_str_list(&names) else {
            self.lx.reset(mark);
            return Ok(None);
        };
        if !self.lx.lex_blank() {
            self.lx.reset(mark);
            return Ok(None);
        }
        let modifier = MODIFIERS[i].1;
        if self.lx.peek() == Some(b'(') {
            // counted like libsinsp's parse_list_value_or_transformer
            self.enter()?;
            let start = self.lx.pos.idx;
            self.lx.lex_str("(");
            let rhs = self.parse_list_literal(start)?;
            self.depth -= 1;
            return Ok(Some((modifier, rhs)));
        }
        match self.lx.peek_identifier() {
            Some(id) if id != b"and" && id != b"or" => {
                let start = self.lx.pos.idx;
                self.lx.lex_identifier();
                let name = self.lx.last.clone();
                Ok(Some((
                    modifier,
                    Rhs::ListIdent(name, self.span_from(start)),
                )))
            }
            _ => {
                self.lx.reset(mark);
                Ok(None)
            }
        }
    }

    fn parse_num_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.enter()?;
        self.lx.lex_blank();
        let start = self.lx.pos.idx;
        if let Some(rhs) = self.try_parse_transformer_or_val()? {
            return self.ok(rhs);
        }
        if self.lx.lex_hex_num() || self.lx.lex_num() {
            return self.ok(Rhs::Value(self.literal(start, false)));
        }
        self.err(format!(
            "expected a number value or a field with a valid transformer: {}",
            token_list(&supported_field_transformers(true))
        ))
    }

    fn parse_str_value_or_transformer(&mut self, no_transformer: bool) -> PResult<Rhs> {
        self.enter()?;
        self.lx.lex_blank();
        let start = self.lx.pos.idx;
        if !no_transformer {
            if let Some(rhs) = self.try_parse_transformer_or_val()? {
                return self.ok(rhs);
            }
        }
        if self.lex_quoted()? {
            return self.ok(Rhs::Value(self.literal(start, true)));
        }
        if self.lx.lex_bare_str() {
            return self.ok(Rhs::Value(self.literal(start, false)));
        }
        if no_transformer {
            return self.err("expected a string value");
        }
        self.err(format!(
            "expected a string value or a field with a valid transformer: {}",
            token_list(&supported_field_transformers(true))
        ))
    }

    fn parse_list_value_or_transformer(&mut self) -> PResult<Rhs> {
        self.enter()?;
        self.lx.lex_blank();
        let start = self.lx.pos.idx;
        if self.lx.lex_str("(") {
            let r = self.parse_list_literal(start);
            return self.done(r);
        }
        if let Some(rhs) = self.try_parse_transformer_or_val()? {
            return self.ok(rhs);
        }
        if self.lx.lex_identifier() {
            let name = self.lx.last.clone();
            return self.ok(Rhs::ListIdent(name, self.span_from(start)));
        }
        self.err(format!(
            "expected a list, an identifier, or a field with a valid transformer: {}",
            token_list(&supported_field_transformers(true))
        ))
    }

    /// `(v1, v2, …)` after its `(`. As in libsinsp, any error while parsing the first
    /// item is swallowed and the list is then expected to be empty.
    fn parse_list_literal(&mut self, start: usize) -> PResult<Rhs> {
        let mut values = Vec::new();
        self.lx.lex_blank();
        let depth = self.depth;
        let first = self.parse_str_value_or_transformer(true);
        if let Err(e) = &first {
            // libsinsp catches this error. Guards unwound by the exception gave their
            // count back; only one that threw in its constructor did not.
            self.depth = depth + usize::from(e.message.starts_with("exceeded max depth"));
        }
        if let Ok(Rhs::Value(v)) = first {
            values.push(v);
            self.lx.lex_blank();
            while self.lx.lex_str(",") {
                match self.parse_str_value_or_transformer(true)? {
                    Rhs::Value(v) => values.push(v),
                    _ => return self.err("parser fatal error: null value expr in body of list"),
                }
                self.lx.lex_blank();
            }
        }
        if !self.lx.lex_str(")") {
            return self.err("expected a ')' token");
        }
        Ok(Rhs::List(values, self.span_from(start)))
    }

    /// `val(field)` or a transformer, on the right-hand side; `None` if neither starts
    /// at the cursor.
    fn try_parse_transformer_or_val(&mut self) -> PResult<Option<Rhs>> {
        self.enter()?;
        self.lx.lex_blank();
        let start = self.lx.pos.idx;
        if self.lx.lex_str("val(") {
            self.lx.lex_blank();
            let field_start = self.lx.pos.idx;
            if !self.lx.lex_field_name() {
                return self.err("expected a field within 'val' transformer");
            }
            let name = self.lx.last.clone();
            let field = self.parse_field_remainder(name, field_start)?;
            self.lx.lex_blank();
            if !self.lx.lex_str(")") {
                return self.err("expected a ')' token closing the transformer");
            }
            return self.ok(Some(Rhs::Val(field)));
        }
        if let Some(kind) = self.lex_transformer_type() {
            self.lx.lex_blank();
            let t = self.parse_transformer_remainder(kind, start)?;
            return self.ok(Some(Rhs::Transform(Box::new(t))));
        }
        self.ok(None)
    }
}

#[cfg(test)]
mod tests;
