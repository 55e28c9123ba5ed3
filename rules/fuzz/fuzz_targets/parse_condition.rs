//! Arbitrary bytes → condition string → parser (Falco's depth limit). Must never
//! panic; also checks that errors and spans point inside the input, on character
//! boundaries, and that the AST can be printed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiercel_rules::ast::{Expr, FieldExpr, Rhs, Span, TransformArg};
use tiercel_rules::parser::{dump_tree, line_col, parse, FALCO_MAX_DEPTH};

fn check_span(s: &str, sp: Span) {
    let (a, b) = (sp.start as usize, sp.end as usize);
    assert!(a <= b && b <= s.len(), "span {a}..{b} out of {}", s.len());
    assert!(
        s.is_char_boundary(a) && s.is_char_boundary(b),
        "span {a}..{b} splits a char"
    );
}

fn check_field_expr(s: &str, f: &FieldExpr) {
    match f {
        FieldExpr::Field(fr) => {
            check_span(s, fr.span);
            check_span(s, fr.name_span);
        }
        FieldExpr::Transform(t) => {
            check_span(s, t.span);
            t.args.iter().for_each(|a| check_arg(s, a));
        }
    }
}

fn check_arg(s: &str, a: &TransformArg) {
    match a {
        TransformArg::Field(f) => check_field_expr(s, f),
        TransformArg::Literal(l) => check_span(s, l.span),
        TransformArg::List(items, sp) => {
            check_span(s, *sp);
            items.iter().for_each(|a| check_arg(s, a));
        }
    }
}

fn check_expr(s: &str, e: &Expr) {
    check_span(s, e.span());
    match e {
        Expr::And(ch, _) | Expr::Or(ch, _) => ch.iter().for_each(|c| check_expr(s, c)),
        Expr::Not(c, _) => check_expr(s, c),
        Expr::Ident(..) => {}
        Expr::Check(c) => {
            check_span(s, c.op_span);
            check_field_expr(s, &c.lhs);
            match &c.rhs {
                Rhs::None => {}
                Rhs::Value(l) => check_span(s, l.span),
                Rhs::List(items, sp) => {
                    check_span(s, *sp);
                    items.iter().for_each(|l| check_span(s, l.span));
                }
                Rhs::ListIdent(_, sp) => check_span(s, *sp),
                Rhs::Val(f) => check_span(s, f.span),
                Rhs::Transform(t) => check_field_expr(s, &FieldExpr::Transform(t.clone())),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    match parse(&s, FALCO_MAX_DEPTH) {
        Ok(e) => {
            check_expr(&s, &e);
            let _ = e.to_string();
            let _ = dump_tree(&e);
        }
        Err(e) => {
            assert!(e.offset <= s.len());
            assert!(
                s.is_char_boundary(e.offset),
                "error offset {} splits a char",
                e.offset
            );
            assert_eq!(line_col(&s, e.offset), (e.line, e.col));
            assert!(!e.message.is_empty());
        }
    }
});
