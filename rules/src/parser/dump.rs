//! `dump_tree`: an indented, one-node-per-line view of a condition AST
//! (used by `tiercel rules parse`).
//!
//! ```text
//! or @0..73
//!   and @0..58
//!     check evt.name exists @0..15
//!     not @43..58
//!       check evt.dir = < @47..58
//!   check proc.name = cat @62..73
//! ```
//! Checks whose sides are plain fields/values fit on one line; a check with a
//! transformer or `val()` on either side is printed as `check OP` with `lhs:`/`rhs:`
//! subtrees. `@a..b` is the node's byte span.

use std::fmt::Write;

use crate::ast::{Check, Expr, FieldExpr, Rhs, Span, Transform, TransformArg};

/// Renders `expr` as an indented tree, one node per line (trailing newline included).
pub fn dump_tree(expr: &Expr) -> String {
    let mut out = String::new();
    expr_node(&mut out, expr, 0);
    out
}

fn line(out: &mut String, depth: usize, text: &str, span: Option<Span>) {
    for _ in 0..depth {
        out.push_str("  ");
    }
    out.push_str(text);
    if let Some(s) = span {
        let _ = write!(out, " @{}..{}", s.start, s.end);
    }
    out.push('\n');
}

fn expr_node(out: &mut String, e: &Expr, depth: usize) {
    match e {
        Expr::And(children, span) | Expr::Or(children, span) => {
            let name = if matches!(e, Expr::And(..)) {
                "and"
            } else {
                "or"
            };
            line(out, depth, name, Some(*span));
            for c in children {
                expr_node(out, c, depth + 1);
            }
        }
        Expr::Not(child, span) => {
            line(out, depth, "not", Some(*span));
            expr_node(out, child, depth + 1);
        }
        Expr::Ident(name, span) => line(out, depth, &format!("macro {name}"), Some(*span)),
        Expr::Check(c) => check_node(out, c, depth),
    }
}

fn is_simple_lhs(l: &FieldExpr) -> bool {
    matches!(l, FieldExpr::Field(_))
}

fn is_simple_rhs(r: &Rhs) -> bool {
    !matches!(r, Rhs::Val(_) | Rhs::Transform(_))
}

fn check_node(out: &mut String, c: &Check, depth: usize) {
    let mut head = format!("check {}", c.op);
    if let Some(m) = c.modifier {
        let _ = write!(head, " {m}");
    }
    if is_simple_lhs(&c.lhs) && is_simple_rhs(&c.rhs) {
        // one line: `check FIELD OP [MOD] VALUE(S)`
        let mut text = format!("check {} {}", c.lhs, c.op);
        if let Some(m) = c.modifier {
            let _ = write!(text, " {m}");
        }
        match &c.rhs {
            Rhs::None => {}
            Rhs::ListIdent(name, _) => {
                let _ = write!(text, " list-identifier {name}");
            }
            rhs => {
                let _ = write!(text, " {rhs}");
            }
        }
        line(out, depth, &text, Some(c.span));
        return;
    }
    line(out, depth, &head, Some(c.span));
    field_expr_node(out, &c.lhs, depth + 1, "lhs: ");
    match &c.rhs {
        Rhs::None => {}
        Rhs::Val(f) => {
            line(out, depth + 1, "rhs: val", None);
            line(out, depth + 2, &format!("field {f}"), Some(f.span));
        }
        Rhs::Transform(t) => transform_node(out, t, depth + 1, "rhs: "),
        Rhs::ListIdent(name, span) => line(
            out,
            depth + 1,
            &format!("rhs: list-identifier {name}"),
            Some(*span),
        ),
        rhs => line(out, depth + 1, &format!("rhs: {rhs}"), None),
    }
}

fn field_expr_node(out: &mut String, f: &FieldExpr, depth: usize, prefix: &str) {
    match f {
        FieldExpr::Field(fr) => line(out, depth, &format!("{prefix}field {fr}"), Some(fr.span)),
        FieldExpr::Transform(t) => transform_node(out, t, depth, prefix),
    }
}

fn transform_node(out: &mut String, t: &Transform, depth: usize, prefix: &str) {
    let mut head = format!("{prefix}transform {}", t.kind);
    if let Some(ix) = &t.index {
        let _ = write!(head, " [{}]", crate::text::escape_str(ix));
    }
    line(out, depth, &head, Some(t.span));
    for a in &t.args {
        transform_arg_node(out, a, depth + 1);
    }
}

fn transform_arg_node(out: &mut String, a: &TransformArg, depth: usize) {
    match a {
        TransformArg::Field(fe) => field_expr_node(out, fe, depth, ""),
        TransformArg::Literal(l) => line(out, depth, &format!("literal {l}"), Some(l.span)),
        TransformArg::List(items, span) => {
            line(out, depth, "list", Some(*span));
            for it in items {
                transform_arg_node(out, it, depth + 1);
            }
        }
    }
}
