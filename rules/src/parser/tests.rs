//! Unit tests: AST shapes, positions, `as_string`, messages, error positions and
//! quirks (ported from libsinsp `test/filter_parser.ut.cpp` where noted).

use super::*;
use crate::ast::*;

fn p(s: &str) -> Expr {
    match parse(s, DEFAULT_MAX_DEPTH) {
        Ok(e) => e,
        Err(e) => panic!("parse failed for {s:?}: {e:?}"),
    }
}

fn perr(s: &str) -> ParseError {
    match parse(s, DEFAULT_MAX_DEPTH) {
        Ok(e) => panic!("expected error for {s:?}, got {e}"),
        Err(e) => e,
    }
}

/// `(message, offset, line, col)` of the error for `s`.
fn perr_at(s: &str) -> (String, usize, u32, u32) {
    let e = perr(s);
    (e.message, e.offset, e.line, e.col)
}

// ----- positions: libsinsp `pos_visitor` ---------------------------------------------

/// Mirrors upstream's `pos_visitor`: node kind followed by `idx line col`.
/// `val(...)` has no node of its own in our AST (upstream prints a `transformer`
/// entry for it); its field is printed.
fn pos_string(input: &str, e: &Expr) -> String {
    let mut out = String::new();
    let add = |out: &mut String, kind: &str, off: u32| {
        let (l, c) = line_col(input, off as usize);
        out.push_str(&format!("{kind}{off} {l} {c}"));
    };
    fn field_expr(out: &mut String, input: &str, f: &FieldExpr) {
        let add = |out: &mut String, kind: &str, off: u32| {
            let (l, c) = line_col(input, off as usize);
            out.push_str(&format!("{kind}{off} {l} {c}"));
        };
        match f {
            FieldExpr::Field(fr) => add(out, "field", fr.span.start),
            FieldExpr::Transform(t) => {
                add(out, "transformer", t.span.start);
                for a in &t.args {
                    match a {
                        TransformArg::Field(fe) => field_expr(out, input, fe),
                        TransformArg::Literal(l) => add(out, "value", l.span.start),
                        TransformArg::List(_, s) => add(out, "list", s.start),
                    }
                }
            }
        }
    }
    fn walk(out: &mut String, input: &str, e: &Expr) {
        let add = |out: &mut String, kind: &str, off: u32| {
            let (l, c) = line_col(input, off as usize);
            out.push_str(&format!("{kind}{off} {l} {c}"));
        };
        match e {
            Expr::And(ch, s) | Expr::Or(ch, s) => {
                add(
                    out,
                    if matches!(e, Expr::And(..)) {
                        "and"
                    } else {
                        "or"
                    },
                    s.start,
                );
                for c in ch {
                    walk(out, input, c);
                }
            }
            Expr::Not(c, s) => {
                add(out, "not", s.start);
                walk(out, input, c);
            }
            Expr::Ident(_, s) => add(out, "identifier", s.start),
            Expr::Check(c) => {
                let kind = if c.op == Op::Exists {
                    "unary"
                } else {
                    "binary"
                };
                add(out, kind, c.span.start);
                field_expr(out, input, &c.lhs);
                match &c.rhs {
                    Rhs::None => {}
                    Rhs::Value(l) => add(out, "value", l.span.start),
                    Rhs::List(_, s) => add(out, "list", s.start),
                    Rhs::ListIdent(_, s) => add(out, "value", s.start),
                    Rhs::Val(f) => add(out, "field", f.span.start),
                    Rhs::Transform(t) => field_expr(out, input, &FieldExpr::Transform(t.clone())),
                }
            }
        }
    }
    let _ = add;
    walk(&mut out, input, e);
    out
}

fn assert_pos(input: &str, expected: &str) {
    assert_eq!(
        pos_string(input, &p(input)),
        expected,
        "positions of {input:?}"
    );
}

#[test]
fn position_checks() {
    assert_pos("proc.name exists", "unary0 1 1field0 1 1");
    assert_pos("proc.name=nginx", "binary0 1 1field0 1 1value10 1 11");
    assert_pos("proc.aname[3]=nginx", "binary0 1 1field0 1 1value14 1 15");
    assert_pos("proc.name =nginx", "binary0 1 1field0 1 1value11 1 12");
    assert_pos("proc.name= nginx", "binary0 1 1field0 1 1value11 1 12");
    assert_pos("proc.name = nginx", "binary0 1 1field0 1 1value12 1 13");
    assert_pos(
        "proc.name in (nginx, apache)",
        "binary0 1 1field0 1 1list13 1 14",
    );
    assert_pos(
        "proc.name in ( nginx, apache)",
        "binary0 1 1field0 1 1list13 1 14",
    );
    assert_pos(
        "not proc.name=nginx",
        "not0 1 1binary4 1 5field4 1 5value14 1 15",
    );
}

#[test]
fn position_bool_ops() {
    assert_pos(
        "proc.name=nginx or proc.name=apache",
        "or0 1 1binary0 1 1field0 1 1value10 1 11binary19 1 20field19 1 20value29 1 30",
    );
    assert_pos(
        "(proc.name=nginx or proc.name=apache)",
        "or1 1 2binary1 1 2field1 1 2value11 1 12binary20 1 21field20 1 21value30 1 31",
    );
    assert_pos(
        "proc.name=nginx and proc.name=apache",
        "and0 1 1binary0 1 1field0 1 1value10 1 11binary20 1 21field20 1 21value30 1 31",
    );
    assert_pos(
        "(proc.name=nginx and proc.name=apache)",
        "and1 1 2binary1 1 2field1 1 2value11 1 12binary21 1 22field21 1 22value31 1 32",
    );
}

#[test]
fn position_complex() {
    assert_pos(
        "(proc.aname[2]=nginx and evt.type in (connect,accept)) or (not fd.name exists) or (proc.name=apache and evt.type=switch)",
        "or0 1 1and1 1 2binary1 1 2field1 1 2value15 1 16binary25 1 26field25 1 26list37 1 38not59 1 60unary63 1 64field63 1 64and83 1 84binary83 1 84field83 1 84value93 1 94binary104 1 105field104 1 105value113 1 114",
    );
}

#[test]
fn position_complex_multiline() {
    let s = "\n(proc.aname[2]=nginx\n     and evt.type in (connect,accept))\n   or (not fd.name exists)\n   or (proc.name=apache\n       and evt.type=switch)";
    assert_pos(
        s,
        "or0 1 1and2 2 2binary2 2 2field2 2 2value16 2 16binary31 3 10field31 3 10list43 3 22not68 4 8unary72 4 12field72 4 12and95 5 8binary95 5 8field95 5 8value105 5 18binary123 6 12field123 6 12value132 6 21",
    );
}

#[test]
fn position_complex_transformers() {
    // upstream expects "...transformer55 1 56field59 1 60..." for `val(some.field)`;
    // `val` is not a node of its own here, so only its field (59) is listed.
    assert_pos(
        "b64(evt.name) exists and tolower(toupper(evt.type)) in val(some.field) and not evt.dir=b64(some.field) or proc.name=b64(tolower(some.field))",
        "or0 1 1and0 1 1unary0 1 1transformer0 1 1field4 1 5binary25 1 26transformer25 1 26transformer33 1 34field41 1 42field59 1 60not75 1 76binary79 1 80field79 1 80transformer87 1 88field91 1 92binary106 1 107field106 1 107transformer116 1 117transformer120 1 121field128 1 129",
    );
}

#[test]
fn line_col_counts_cr_and_lf() {
    assert_eq!(line_col("ab", 0), (1, 1));
    assert_eq!(line_col("ab", 2), (1, 3));
    assert_eq!(line_col("a\r\nb", 3), (3, 1));
    assert_eq!(line_col("a\nbc", 3), (2, 2));
    assert_eq!(line_col("a", 99), (1, 2));
}

#[test]
fn spans_cover_tokens() {
    let s = "proc.aname[2] contains 'x y' and not (fd.name in (a, \"b\"))";
    let e = p(s);
    let Expr::And(ch, span) = &e else {
        panic!("and expected")
    };
    assert_eq!((span.start, span.end as usize), (0, s.len()));
    let Expr::Check(c) = &ch[0] else { panic!() };
    let FieldExpr::Field(f) = &c.lhs else {
        panic!()
    };
    assert_eq!(
        &s[f.span.start as usize..f.span.end as usize],
        "proc.aname[2]"
    );
    assert_eq!(
        &s[f.name_span.start as usize..f.name_span.end as usize],
        "proc.aname"
    );
    assert_eq!(
        &s[c.op_span.start as usize..c.op_span.end as usize],
        "contains"
    );
    let Rhs::Value(v) = &c.rhs else { panic!() };
    assert_eq!(&s[v.span.start as usize..v.span.end as usize], "'x y'");
    assert_eq!((v.text.as_str(), v.quoted), ("x y", true));
    assert_eq!(
        &s[c.span.start as usize..c.span.end as usize],
        "proc.aname[2] contains 'x y'"
    );
    let Expr::Not(inner, nspan) = &ch[1] else {
        panic!()
    };
    assert_eq!(
        &s[nspan.start as usize..nspan.end as usize],
        "not (fd.name in (a, \"b\"))"
    );
    let Expr::Check(c2) = &**inner else { panic!() };
    let Rhs::List(items, lspan) = &c2.rhs else {
        panic!()
    };
    assert_eq!(&s[lspan.start as usize..lspan.end as usize], "(a, \"b\")");
    assert_eq!(items.len(), 2);
    assert!(!items[0].quoted && items[1].quoted);
    // identifiers
    let s = "  my_macro";
    let Expr::Ident(name, sp) = p(s) else {
        panic!()
    };
    assert_eq!((name.as_str(), sp.start, sp.end), ("my_macro", 2, 10));
}

// ----- AST shapes -----------------------------------------------------------------

#[test]
fn expr_all_node_types() {
    let e = p("evt.name exists and evt.type in (a, b) and not evt.dir=< or proc.name=cat");
    assert_eq!(
        e.to_string(),
        "((evt.name exists and evt.type in (a, b) and not evt.dir = <) or proc.name = cat)"
    );
    let Expr::Or(or, _) = &e else { panic!() };
    assert_eq!(or.len(), 2);
    let Expr::And(and, _) = &or[0] else { panic!() };
    assert_eq!(and.len(), 3);
    assert!(matches!(&and[0], Expr::Check(c) if c.op == Op::Exists && c.rhs == Rhs::None));
    assert!(
        matches!(&and[1], Expr::Check(c) if c.op == Op::In && matches!(&c.rhs, Rhs::List(v, _) if v.len() == 2))
    );
    assert!(matches!(&and[2], Expr::Not(..)));
}

#[test]
fn expr_transformers() {
    let e = p("b64(evt.name) exists and tolower(toupper(evt.type)) in val(some.field) and not evt.dir=b64(some.field) or proc.name=b64(tolower(some.field))");
    assert_eq!(
        e.to_string(),
        "((b64(evt.name) exists and tolower(toupper(evt.type)) in val(some.field) and not evt.dir = b64(some.field)) or proc.name = b64(tolower(some.field)))"
    );
    let Expr::Or(or, _) = &e else { panic!() };
    let Expr::And(and, _) = &or[0] else { panic!() };
    let Expr::Check(c) = &and[1] else { panic!() };
    let FieldExpr::Transform(t) = &c.lhs else {
        panic!()
    };
    assert_eq!(t.kind, TransformKind::ToLower);
    assert!(
        matches!(&t.args[..], [TransformArg::Field(FieldExpr::Transform(inner))] if inner.kind == TransformKind::ToUpper)
    );
    assert!(matches!(&c.rhs, Rhs::Val(f) if f.name == "some.field"));
}

#[test]
fn expr_multi_negation() {
    // double negations are folded away
    let e = p("not not not not not(not not(not not_macro))");
    let Expr::Not(a, _) = &e else { panic!("{e:?}") };
    let Expr::Not(b, _) = &**a else {
        panic!("{a:?}")
    };
    assert!(matches!(&**b, Expr::Ident(n, _) if n == "not_macro"));
    assert!(matches!(p("not not a"), Expr::Ident(..)));
    assert!(matches!(p("not not not a"), Expr::Not(..)));
}

#[test]
fn precedence() {
    assert_eq!(
        p("a.a=1 or b.b=2 and c").to_string(),
        "(a.a = 1 or (b.b = 2 and c))"
    );
    assert_eq!(
        p("a and b or c and d").to_string(),
        "((a and b) or (c and d))"
    );
    assert_eq!(p("not a and b").to_string(), "(not a and b)");
}

#[test]
fn field_arguments() {
    let Expr::Check(c) = p(r#"test.str[""] = empty"#) else {
        panic!()
    };
    assert!(matches!(&c.lhs, FieldExpr::Field(f) if f.arg.as_deref() == Some("")));
    let Expr::Check(c) = p("proc.aname[2] = x") else {
        panic!()
    };
    assert!(matches!(&c.lhs, FieldExpr::Field(f) if f.arg.as_deref() == Some("2")));
    let Expr::Check(c) = p("evt.arg.flags = x") else {
        panic!()
    };
    assert!(matches!(&c.lhs, FieldExpr::Field(f) if f.name == "evt.arg.flags" && f.arg.is_none()));
}

#[test]
fn transformer_lists_and_index() {
    let e = p(r#"getopt(proc.args, "nt:")[t] = value"#);
    assert_eq!(e.to_string(), "getopt(proc.args,nt:)[t] = value");
    let Expr::Check(c) = &e else { panic!() };
    let FieldExpr::Transform(t) = &c.lhs else {
        panic!()
    };
    assert_eq!(
        (t.kind, t.index.as_deref()),
        (TransformKind::Getopt, Some("t"))
    );
    let e = p(r#"join("-", (fd.name, tolower(fd.directory), "x", 12)) = /tmp"#);
    let Expr::Check(c) = &e else { panic!() };
    let FieldExpr::Transform(t) = &c.lhs else {
        panic!()
    };
    assert_eq!(t.kind, TransformKind::Join);
    assert!(matches!(&t.args[0], TransformArg::Literal(l) if l.text == "-" && l.quoted));
    let TransformArg::List(items, _) = &t.args[1] else {
        panic!()
    };
    assert_eq!(items.len(), 4);
    assert!(matches!(&items[3], TransformArg::Literal(l) if l.text == "12" && !l.quoted));
    assert!(
        matches!(p(r#"join("-", ()) = x"#), Expr::Check(c) if matches!(&c.lhs, FieldExpr::Transform(t) if matches!(&t.args[1], TransformArg::List(v, _) if v.is_empty())))
    );
    let Expr::Check(c) = p("concat(proc.name, \"-\", proc.pid) = x") else {
        panic!()
    };
    assert!(
        matches!(&c.lhs, FieldExpr::Transform(t) if t.kind == TransformKind::Concat && t.args.len() == 3)
    );
}

#[test]
fn modifiers() {
    let Expr::Check(c) = p("proc.name == oneof (cat, nginx)") else {
        panic!()
    };
    assert_eq!((c.op, c.modifier), (Op::EqEq, Some(ListModifier::OneOf)));
    assert!(matches!(&c.rhs, Rhs::List(v, _) if v.len() == 2));
    let Expr::Check(c) = p("proc.name contains allof my_list") else {
        panic!()
    };
    assert_eq!(c.modifier, Some(ListModifier::AllOf));
    assert!(matches!(&c.rhs, Rhs::ListIdent(n, _) if n == "my_list"));
    // not modifiers: plain values
    for s in [
        "proc.name == oneof",
        "proc.name == anyof_extra",
        "proc.name ==oneof",
    ] {
        let Expr::Check(c) = p(s) else { panic!() };
        assert_eq!(c.modifier, None, "{s}");
        assert!(matches!(&c.rhs, Rhs::Value(_)));
    }
    let e = p("proc.name == oneof and fd.name exists");
    assert_eq!(
        e.to_string(),
        "(proc.name = oneof and fd.name exists)".replace(" = ", " == ")
    );
    assert_eq!(
        p("proc.name != anyof (a, 'b c')").to_string(),
        "proc.name != anyof (a, \"b c\")"
    );
}

#[test]
fn list_ident_and_values() {
    let Expr::Check(c) = p("proc.name in shell_binaries") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::ListIdent(n, _) if n == "shell_binaries"));
    let Expr::Check(c) = p("some.field = test.field") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "test.field" && !l.quoted));
    let Expr::Check(c) = p("fd.num >= -0.1222e+10") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "-0.1222e+10"));
    let Expr::Check(c) = p("fd.num <= 0XaB00AB") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "0XaB00AB"));
}

// ----- as_string ------------------------------------------------------------------

#[test]
fn as_string_round_trips() {
    assert_eq!(
        p(r#"evt.arg["key with space"] = value"#).to_string(),
        r#"evt.arg["key with space"] = value"#
    );
    assert_eq!(p("a.b = 'x\\'y'").to_string(), "a.b = \"x'y\"");
    assert_eq!(p("a.b in ()").to_string(), "a.b in ()");
    assert_eq!(
        p("tolower(a.b) = val(c.d[1])").to_string(),
        "tolower(a.b) = val(c.d[1])"
    );
    // the printed form parses back to the same print (not always: libsinsp prints
    // transformer string arguments unquoted, e.g. `getopt(proc.args,nt:)`)
    for s in [
        "evt.name exists and evt.type in (a, b) and not evt.dir=< or proc.name=cat",
        "not (a and not b) or c.d contains \"x y\"",
    ] {
        let once = p(s).to_string();
        assert_eq!(p(&once).to_string(), once, "{s}");
    }
}

#[test]
fn supported_lists() {
    let ops = supported_operators();
    assert_eq!(ops.len(), 20);
    for op in [
        "=",
        "==",
        "!=",
        "<=",
        ">=",
        "<",
        ">",
        "exists",
        "contains",
        "icontains",
        "bcontains",
        "glob",
        "iglob",
        "bstartswith",
        "startswith",
        "endswith",
        "in",
        "intersects",
        "pmatch",
        "regex",
    ] {
        assert_eq!(ops.iter().filter(|o| **o == op).count(), 1, "{op}");
        assert!(Op::from_name(op).is_some());
    }
    assert_eq!(
        supported_list_operators(),
        vec!["intersects", "in", "pmatch"]
    );
    assert_eq!(
        supported_field_transformers(false),
        vec!["tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt"]
    );
    assert_eq!(supported_field_transformers(true)[0], "val");
}

// ----- messages and error positions -----------------------------------------------

#[test]
fn error_messages_and_positions() {
    assert_eq!(
        perr_at(""),
        ("filter input string is empty".into(), 0, 1, 1)
    );
    assert_eq!(
        perr_at("   "),
        (
            "expected a '(' token, a field check, or an identifier".into(),
            3,
            1,
            4
        )
    );
    assert_eq!(
        perr_at("a.b in (x) foo"),
        (
            "unexpected token after ')', expecting 'or', 'and'".into(),
            11,
            1,
            12
        )
    );
    assert_eq!(
        perr_at("a andb"),
        ("expected blank or '(' after 'and'".into(), 5, 1, 6)
    );
    assert_eq!(perr_at("a orb").0, "expected blank or '(' after 'or'");
    assert_eq!(perr_at("(a.b = 1").0, "expected a ')' token");
    assert_eq!(perr_at("a and\n(b").2, 2);
    // `in` is matched by prefix: `in` + identifier `validoperator`, then `xxx` is left
    assert_eq!(
        perr_at("a.a invalidoperator xxx").0,
        "unexpected token after 'validoperator', expecting 'or', 'and'"
    );
    assert_eq!(
        perr_at("a not b").0,
        "unexpected token after 'a', expecting 'or', 'and'"
    );
    let ops = "'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'";
    assert_eq!(
        perr_at("a.a xoperator xxx"),
        (
            format!("expected a valid check operator: one of {ops}"),
            4,
            1,
            5
        )
    );
    // the word operator was consumed before the missing blank was noticed
    assert_eq!(perr_at("test.op containsvalue").1, 16);
    let tr = "'val', 'tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'";
    assert_eq!(
        perr_at("test.num <= a").0,
        format!("expected a number value or a field with a valid transformer: {tr}")
    );
    assert_eq!(
        perr_at("test.str = a,").0,
        "unexpected token after 'a', expecting 'or', 'and'"
    );
    assert_eq!(
        perr_at("test.str = ,").0,
        format!("expected a string value or a field with a valid transformer: {tr}")
    );
    assert_eq!(
        perr_at("test.list in )").0,
        format!("expected a list, an identifier, or a field with a valid transformer: {tr}")
    );
    assert_eq!(
        perr_at("test.list in (value,)").0,
        "expected a string value"
    );
    assert_eq!(perr_at("evt.arg[] = value").1, 8);
    assert_eq!(perr_at("evt.arg[\"x\" = value").1, 11);
    assert_eq!(
        perr_at("some.field = val(test.field [1])").0,
        "expected a ')' token closing the transformer"
    );
    assert_eq!(
        perr_at("some.field = val(b64(x.y))").0,
        "expected a field within 'val' transformer"
    );
    assert_eq!(
        perr_at("b64(val(test.field)) exists").0,
        "expected field transformer argument: field, transformer, quoted string, number, or transformer list"
    );
    assert_eq!(
        perr_at("join(\"-\", (macro)) = x").0,
        "expected transformer list argument: field, transformer, quoted string, or number"
    );
    assert_eq!(
        perr_at("join(\"-\", (fd.name, fd.directory) = /tmp").0,
        "expected a ')' token closing the transformer"
    );
    assert_eq!(
        perr_at("join(\"-\", (fd.name fd.directory)) = /tmp").0,
        "expected ')'"
    );
    // escapes: the error is raised after the closing quote
    assert_eq!(
        perr_at("a.b = 'x\\q'"),
        ("unsupported string escape sequence: \\q".into(), 11, 1, 12)
    );
    assert_eq!(
        perr_at("a.b = 'mixed \\\"'").0,
        "invalid \\\" escape in '-quoted string"
    );
}

#[test]
fn depth_limit_messages() {
    assert_eq!(
        perr(&"(".repeat(1000)).message,
        "exceeded max depth limit of 100"
    );
    assert!(parse(&format!("{}a{}", "(".repeat(18), ")".repeat(18)), 100).is_ok());
    assert!(parse(&format!("{}a{}", "(".repeat(20), ")".repeat(20)), 100).is_err());
    let e = parse("((a))", 3).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 3");
    // unoptimised builds need ~3 KiB of stack per depth unit
    let e = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(|| parse(&"(".repeat(100_000), usize::MAX).unwrap_err())
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(
        e.message,
        format!("exceeded max depth limit of {HARD_MAX_DEPTH}")
    );
}

// ----- quirks kept on purpose -------------------------------------------------------

#[test]
fn quirks() {
    // keyword prefixes
    assert!(matches!(p("test.op existsand macro"), Expr::And(..)));
    assert!(matches!(p("macro and and_macro"), Expr::And(..)));
    // `in` needs no blank: `innocent` is `in nocent`
    let Expr::Check(c) = p("test.op innocent") else {
        panic!()
    };
    assert!(c.op == Op::In && matches!(&c.rhs, Rhs::ListIdent(n, _) if n == "nocent"));
    // a word operator without blank stops the search, the list operators still run
    let Expr::Check(c) = p("x.y containsin (a)") else {
        panic!()
    };
    assert_eq!(c.op, Op::In);
    // a failing first list item is swallowed
    let Expr::Check(c) = p("a.b in ('\\q')") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::List(v, _) if v.is_empty()));
    // a string ending in an escaped backslash is not closed by the next quote
    let Expr::Check(c) = p("test.str = 'multiple escape single quote \\' \\\\''") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "multiple escape single quote ' \\'"));
    // legacy `\ ` escape
    let Expr::Check(c) = p("test.str = \"bad escape \\ \" ") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "bad escape \\"));
    // `\b` is a blank for the lexer
    assert!(parse("a\u{8}and\u{8}b", 100).is_ok());
    // hex escapes
    let Expr::Check(c) = p("a.b = '\\x41'") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "A"));
}

#[test]
fn unicode_inputs() {
    let Expr::Check(c) = p("proc.name = héllo") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::Value(l) if l.text == "héllo"));
    let Expr::Check(c) = p("proc.name in ('日本', ünï)") else {
        panic!()
    };
    assert!(matches!(&c.rhs, Rhs::List(v, _) if v[0].text == "日本" && v[1].text == "ünï"));
    for s in [
        "é",
        "a.b = 'é",
        "a.b[é",
        "日本 and",
        "a.b = x é",
        "a.b = '\\é'",
        "(é",
        "a.b é",
    ] {
        let e = perr(s);
        assert!(s.is_char_boundary(e.offset), "{s:?} -> {e:?}");
    }
}

#[test]
fn nul_bytes() {
    // a NUL ends a quoted-string scan, as the C string does
    assert!(parse("a.b = 'x\0'", 100).is_err());
    assert!(parse("a\0", 100).is_err());
}

#[test]
fn long_inputs_are_linear() {
    // 200k-item list and a 1 MB bare string parse quickly
    let items = vec!["item"; 200_000].join(", ");
    let s = format!("proc.name in ({items})");
    let t = std::time::Instant::now();
    let Expr::Check(c) = p(&s) else { panic!() };
    assert!(matches!(&c.rhs, Rhs::List(v, _) if v.len() == 200_000));
    let s = format!("a.b = {}", "x".repeat(1 << 20));
    p(&s);
    let s = format!("a.b = '{}", "x".repeat(1 << 20));
    perr(&s);
    let s = vec!["a.b = c"; 50_000].join(" or ");
    p(&s);
    assert!(t.elapsed().as_secs() < 20, "too slow: {:?}", t.elapsed());
}

#[test]
fn dump_tree_shape() {
    let d = dump_tree(&p(
        "evt.name exists and not tolower(proc.name) = val(user.name) or m",
    ));
    assert_eq!(
        d,
        "or @0..64\n  and @0..59\n    check evt.name exists @0..15\n    not @20..59\n      check = @24..59\n        lhs: transform tolower @24..42\n          field proc.name @32..41\n        rhs: val\n          field user.name @49..58\n  macro m @63..64\n"
    );
    let d = dump_tree(&p("a.b in (x, 'y z')"));
    assert_eq!(d, "check a.b in (x, \"y z\") @0..17\n");
}
