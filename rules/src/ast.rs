//! Stage 2 types: the abstract syntax tree of one Falco condition, as written.
//!
//! Produced by [`crate::parser`] from a condition string (after lists were substituted
//! textually, as Falco does). Field names are plain strings here: they are resolved to
//! typed extractors by [`crate::compile`]. Every node carries a [`Span`] of byte
//! offsets into the condition text it was parsed from, so later stages can point a
//! caret at the exact spot.

use std::fmt;

/// A half-open byte range `[start, end)` into the condition text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start.min(u32::MAX as usize) as u32,
            end: end.min(u32::MAX as usize) as u32,
        }
    }
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// n-ary `and`, at least two children, left to right.
    And(Vec<Expr>, Span),
    /// n-ary `or`, at least two children, left to right.
    Or(Vec<Expr>, Span),
    /// `not x`. Double negation is folded away by the parser (as libsinsp does).
    Not(Box<Expr>, Span),
    /// A bare identifier in check position: a macro reference (`a and my_macro`).
    Ident(String, Span),
    /// `lhs op rhs`, `lhs exists`.
    Check(Box<Check>),
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::And(_, s) | Expr::Or(_, s) | Expr::Not(_, s) | Expr::Ident(_, s) => *s,
            Expr::Check(c) => c.span,
        }
    }
}

/// One comparison: `proc.name in (a, b)`, `fd.name exists`, `tolower(proc.name) = val(user.name)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub lhs: FieldExpr,
    pub op: Op,
    /// `oneof` / `anyof` / `allof` after a string operator (libs >= 0.25).
    pub modifier: Option<ListModifier>,
    pub rhs: Rhs,
    pub span: Span,
    /// Span of the operator token.
    pub op_span: Span,
}

/// A field, or a transformer applied to fields (left side, or right side of a comparison).
#[derive(Debug, Clone, PartialEq)]
pub enum FieldExpr {
    Field(FieldRef),
    Transform(Box<Transform>),
}

impl FieldExpr {
    pub fn span(&self) -> Span {
        match self {
            FieldExpr::Field(f) => f.span,
            FieldExpr::Transform(t) => t.span,
        }
    }
}

/// `name` or `name[arg]`, e.g. `proc.aname[2]`, `evt.arg.flags`, `proc.env[HOME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRef {
    /// The dotted name exactly as lexed (`evt.arg.flags` stays one name).
    pub name: String,
    /// The bracket argument, unescaped. `Some("")` for `x[""]` (empty arg is not "no arg").
    pub arg: Option<String>,
    /// Whole `name[arg]`.
    pub span: Span,
    /// Only the name.
    pub name_span: Span,
}

/// `tolower(x)`, `join(",", (a, b))`, `getopt(proc.args, "nt:")[t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    pub kind: TransformKind,
    pub args: Vec<TransformArg>,
    /// `[arg]` after the closing parenthesis (e.g. `getopt(...)[t]`).
    pub index: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TransformArg {
    Field(FieldExpr),
    /// A quoted string or a number literal.
    Literal(Literal),
    /// `(a, b, "c")` inside `join`/`concat`.
    List(Vec<TransformArg>, Span),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransformKind {
    ToLower,
    ToUpper,
    B64,
    Basename,
    Len,
    Join,
    Concat,
    Getopt,
}

impl TransformKind {
    pub fn name(self) -> &'static str {
        match self {
            TransformKind::ToLower => "tolower",
            TransformKind::ToUpper => "toupper",
            TransformKind::B64 => "b64",
            TransformKind::Basename => "basename",
            TransformKind::Len => "len",
            TransformKind::Join => "join",
            TransformKind::Concat => "concat",
            TransformKind::Getopt => "getopt",
        }
    }
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq)]
pub enum Rhs {
    /// `exists` has no right-hand side.
    None,
    /// One value (quoted or bare string, or number token; typed later by the field).
    Value(Literal),
    /// `(a, b, 'c')` list literal.
    List(Vec<Literal>, Span),
    /// `in some_identifier`: a list identifier that was not substituted textually.
    /// Falco treats it as a plain string value at compile time.
    ListIdent(String, Span),
    /// `val(field)`.
    Val(FieldRef),
    /// A transformer on the right-hand side (`= tolower(user.name)`).
    Transform(Box<Transform>),
}

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The value after unescaping (quotes removed).
    pub text: String,
    /// Whether it was quoted in the source (`'x'`, `"x"`).
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,       // =
    EqEq,     // ==
    Ne,       // !=
    Lt,       // <
    Le,       // <=
    Gt,       // >
    Ge,       // >=
    Contains, // contains
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    Pmatch,
    Exists,
}

impl Op {
    /// The operator as Falco spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::EqEq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Parses an operator name as used in exception `comps` (`=`, `in`, `startswith` ...).
    pub fn from_name(s: &str) -> Option<Op> {
        Some(match s {
            "=" => Op::Eq,
            "==" => Op::EqEq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListModifier {
    OneOf,
    AnyOf,
    AllOf,
}

impl ListModifier {
    pub fn as_str(self) -> &'static str {
        match self {
            ListModifier::OneOf => "oneof",
            ListModifier::AnyOf => "anyof",
            ListModifier::AllOf => "allof",
        }
    }
}

// ---------------------------------------------------------------------------------------
// libsinsp `ast::as_string` (the `string_visitor`), as `Display`.
// `and`/`or` print as `(a and b)`, values through `escape_str`, field arguments as
// `[arg]` (omitted when empty, as libsinsp does), transformer arguments joined by `,`.

fn join_display<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    sep: &str,
) -> fmt::Result {
    for (i, it) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{it}")?;
    }
    Ok(())
}

fn write_arg(f: &mut fmt::Formatter<'_>, arg: &Option<String>) -> fmt::Result {
    match arg {
        Some(a) if !a.is_empty() => write!(f, "[{}]", crate::text::escape_str(a)),
        _ => Ok(()),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(children, _) | Expr::Or(children, _) => {
                let op = if matches!(self, Expr::And(..)) {
                    " and "
                } else {
                    " or "
                };
                f.write_str("(")?;
                join_display(f, children, op)?;
                f.write_str(")")
            }
            Expr::Not(child, _) => write!(f, "not {child}"),
            Expr::Ident(name, _) => f.write_str(name),
            Expr::Check(c) => write!(f, "{c}"),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.lhs, self.op)?;
        if let Some(m) = self.modifier {
            write!(f, " {}", m.as_str())?;
        }
        match &self.rhs {
            Rhs::None => Ok(()),
            rhs => write!(f, " {rhs}"),
        }
    }
}

impl fmt::Display for FieldExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldExpr::Field(fr) => write!(f, "{fr}"),
            FieldExpr::Transform(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        write_arg(f, &self.arg)
    }
}

impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.kind.name())?;
        join_display(f, &self.args, ",")?;
        f.write_str(")")?;
        write_arg(f, &self.index)
    }
}

impl fmt::Display for TransformArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformArg::Field(fe) => write!(f, "{fe}"),
            TransformArg::Literal(l) => write!(f, "{l}"),
            TransformArg::List(items, _) => {
                f.write_str("(")?;
                join_display(f, items, ",")?;
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::escape_str(&self.text))
    }
}

impl fmt::Display for Rhs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rhs::None => Ok(()),
            Rhs::Value(l) => write!(f, "{l}"),
            Rhs::List(items, _) => {
                f.write_str("(")?;
                join_display(f, items, ", ")?;
                f.write_str(")")
            }
            Rhs::ListIdent(name, _) => f.write_str(&crate::text::escape_str(name)),
            Rhs::Val(fr) => write!(f, "val({fr})"),
            Rhs::Transform(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for TransformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for ListModifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
