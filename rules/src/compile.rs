//! Stage 4b: a macro-expanded condition AST → a typed, compiled filter.
//!
//! Every field reference is resolved here ([`crate::fields::resolve`]); operators are
//! checked against the field type (libsinsp `flt_is_comparable`); right-hand values are
//! parsed by the field's type (numbers, booleans, IPs/CIDRs, ports incl. service names,
//! hex for `bcontains`); regexes are compiled once (anchored at both ends), globs and
//! `pmatch` patterns prepared, `in` lists turned into hash sets. All errors of a
//! condition are collected. The event-type set of the condition is computed with
//! libsinsp's De Morgan push-down (`filter/ppm_codes.cpp`).

use std::net::IpAddr;

use crate::ast::{
    Check, Expr, FieldExpr, FieldRef, Literal, Op, Rhs, Span, Transform, TransformArg,
    TransformKind,
};
use crate::eval::{
    CheckNode, CmpOp, Const, Glob, IpNet, Matcher, Node, Operand, SetMatcher, StrOp, TArg,
    TransformNode,
};
use crate::event::{Event, FieldArg};
use crate::evttype::EventType;
use crate::fields::{self, flags, Field, FieldInfo, FieldType, ResolveError};

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

/// Falco's deprecation text for `evt.dir` (libs ≥ 0.22 deliver exit events only).
pub const EVT_DIR_DEPRECATION: &str = "due to the drop of enter events, 'evt.dir = <' always evaluates to true, and 'evt.dir = >' always evaluates to false. The rule expression can be simplified by removing the condition on 'evt.dir'";

/// A compiled, type-checked boolean filter.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
    /// Fields the filter reads (for availability reports), sorted, de-duplicated.
    fields: Vec<Field>,
    /// Constants compared with `fd.*ip.name` fields (to be DNS-resolved by the source).
    dns_names: Vec<String>,
}

impl Filter {
    /// Evaluates the filter against an event.
    pub fn eval(&self, event: &dyn Event) -> bool {
        self.root.eval(event)
    }

    /// The fields this filter reads.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Host names compared with `fd.sip.name`/`fd.cip.name`/`fd.rip.name`/`fd.lip.name`.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }
}

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
    let mut c = Compiler::default();
    let root = c.node(expr);
    if !c.errors.is_empty() {
        return Err(c.errors);
    }
    let Some(root) = root else {
        return Err(vec![diag(
            CompileDiagKind::Error,
            "invalid condition",
            expr.span(),
        )]);
    };
    let set = evttype_set(expr, false);
    let evttypes = if set.is_all() {
        None
    } else {
        Some(set.to_vec())
    };
    c.fields.sort();
    c.fields.dedup();
    c.dns.sort();
    c.dns.dedup();
    Ok(CompiledCondition {
        filter: Filter {
            root,
            fields: c.fields,
            dns_names: c.dns,
        },
        evttypes,
        warnings: c.warnings,
    })
}

fn diag(kind: CompileDiagKind, message: impl Into<String>, span: Span) -> CompileDiag {
    CompileDiag {
        kind,
        message: message.into(),
        span,
    }
}

/// The type of what an operand produces.
#[derive(Debug, Clone, Copy)]
struct OutType {
    ftype: FieldType,
    /// List-valued (`fd.types`, `getopt()` without index).
    list: bool,
    info: Option<&'static FieldInfo>,
}

#[derive(Default)]
struct Compiler {
    errors: Vec<CompileDiag>,
    warnings: Vec<CompileDiag>,
    fields: Vec<Field>,
    dns: Vec<String>,
}

impl Compiler {
    fn err(&mut self, message: impl Into<String>, span: Span) {
        self.errors
            .push(diag(CompileDiagKind::Error, message, span));
    }

    fn node(&mut self, e: &Expr) -> Option<Node> {
        match e {
            Expr::And(v, _) => {
                let kids: Vec<Option<Node>> = v.iter().map(|x| self.node(x)).collect();
                kids.into_iter().collect::<Option<Vec<_>>>().map(Node::And)
            }
            Expr::Or(v, _) => {
                let kids: Vec<Option<Node>> = v.iter().map(|x| self.node(x)).collect();
                kids.into_iter().collect::<Option<Vec<_>>>().map(Node::Or)
            }
            Expr::Not(x, _) => self.node(x).map(|n| Node::Not(Box::new(n))),
            Expr::Ident(name, span) => {
                self.err(format!("Undefined macro '{name}' used in filter."), *span);
                None
            }
            Expr::Check(c) => self.check(c).map(|c| Node::Check(Box::new(c))),
        }
    }

    /// Resolves a plain field reference.
    fn field(&mut self, f: &FieldRef) -> Option<(&'static FieldInfo, FieldArg)> {
        match fields::resolve(&f.name, f.arg.as_deref()) {
            Ok((info, arg)) => {
                self.fields.push(info.field);
                if info.deprecated() {
                    let msg = if info.field == Field::EvtDir {
                        EVT_DIR_DEPRECATION.to_string()
                    } else {
                        format!("usage of deprecated field '{}'", info.name)
                    };
                    self.warnings
                        .push(diag(CompileDiagKind::Deprecated, msg, f.span));
                }
                Some((info, arg))
            }
            Err(ResolveError::Unknown(m)) => {
                self.errors
                    .push(diag(CompileDiagKind::UnknownField, m, f.name_span));
                None
            }
            Err(ResolveError::BadArg(m)) => {
                self.err(m, f.span);
                None
            }
        }
    }

    fn field_expr(&mut self, fe: &FieldExpr) -> Option<(Operand, OutType)> {
        match fe {
            FieldExpr::Field(f) => {
                let (info, arg) = self.field(f)?;
                Some((
                    Operand::Field {
                        field: info.field,
                        arg,
                    },
                    OutType {
                        ftype: info.ftype,
                        list: info.is_list(),
                        info: Some(info),
                    },
                ))
            }
            FieldExpr::Transform(t) => self.transform(t),
        }
    }

    fn transform(&mut self, t: &Transform) -> Option<(Operand, OutType)> {
        let name = t.kind.name();
        if t.index.is_some() && t.kind != TransformKind::Getopt {
            self.err(
                format!("filter error: transformer '{name}' does not support field arguments"),
                t.span,
            );
            return None;
        }
        let mut ok = true;
        let mut args = Vec::with_capacity(t.args.len());
        let mut types = Vec::with_capacity(t.args.len());
        for a in &t.args {
            match self.targ(a, name) {
                Some((ta, ty)) => {
                    args.push(ta);
                    types.push(ty);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let string_input = |ty: &Option<OutType>| matches!(ty, Some(o) if matches!(o.ftype, FieldType::String | FieldType::ByteBuf));
        let out = match t.kind {
            TransformKind::ToLower
            | TransformKind::ToUpper
            | TransformKind::B64
            | TransformKind::Basename
            | TransformKind::Len => {
                if args.len() != 1 || !matches!(args[0], TArg::Operand(_)) {
                    self.err(format!("filter error: transformer '{name}' requires exactly one field argument"), t.span);
                    return None;
                }
                if !string_input(&types[0]) {
                    let tn = types[0].map(|o| o.ftype.name()).unwrap_or("?");
                    self.err(
                        format!(
                            "filter error: transformer '{name}' does not support field type {tn}"
                        ),
                        t.span,
                    );
                    return None;
                }
                let list = types[0].is_some_and(|o| o.list);
                if t.kind == TransformKind::Len {
                    OutType {
                        ftype: FieldType::Uint64,
                        list: false,
                        info: None,
                    }
                } else {
                    OutType {
                        ftype: FieldType::String,
                        list,
                        info: None,
                    }
                }
            }
            TransformKind::Join => {
                if args.len() != 2 || !matches!(args[1], TArg::List(_)) {
                    self.err("filter error: transformer 'join' requires a separator and a list of values", t.span);
                    return None;
                }
                OutType {
                    ftype: FieldType::String,
                    list: false,
                    info: None,
                }
            }
            TransformKind::Concat => {
                if args.len() < 2 {
                    self.err(
                        "filter error: transformer 'concat' requires at least two arguments",
                        t.span,
                    );
                    return None;
                }
                OutType {
                    ftype: FieldType::String,
                    list: false,
                    info: None,
                }
            }
            TransformKind::Getopt => {
                if args.len() != 2
                    || !matches!(args[1], TArg::Lit(_))
                    || !matches!(args[0], TArg::Operand(_))
                {
                    self.err(
                        "filter error: transformer 'getopt' requires a field and an option string",
                        t.span,
                    );
                    return None;
                }
                OutType {
                    ftype: FieldType::String,
                    list: t.index.is_none(),
                    info: None,
                }
            }
        };
        Some((
            Operand::Transform(Box::new(TransformNode {
                kind: t.kind,
                args,
                index: t.index.clone(),
            })),
            out,
        ))
    }

    fn targ(&mut self, a: &TransformArg, tname: &str) -> Option<(TArg, Option<OutType>)> {
        match a {
            TransformArg::Field(fe) => {
                let (op, ty) = self.field_expr(fe)?;
                if let Some(info) = ty.info {
                    if info.has(flags::NO_TRANSFORMER) {
                        self.err(
                            format!(
                                "filter error: field '{}' does not support transformer '{tname}'",
                                info.name
                            ),
                            fe.span(),
                        );
                        return None;
                    }
                }
                Some((TArg::Operand(op), Some(ty)))
            }
            TransformArg::Literal(l) => Some((TArg::Lit(l.text.clone()), None)),
            TransformArg::List(items, _) => {
                let mut v = Vec::new();
                for i in items {
                    v.push(self.targ(i, tname)?.0);
                }
                Some((TArg::List(v), None))
            }
        }
    }

    fn check(&mut self, c: &Check) -> Option<CheckNode> {
        let (lhs, lt) = self.field_expr(&c.lhs)?;
        let is_evt_type = matches!(
            lhs,
            Operand::Field {
                field: Field::EvtType,
                ..
            }
        );
        // Operator / type compatibility.
        if c.op != Op::Exists {
            if let Some(msg) = incompatible(c.op, lt) {
                self.err(msg, c.op_span);
                return None;
            }
        }
        if c.modifier.is_some()
            && matches!(lt.ftype, FieldType::IpAddr | FieldType::IpNet)
            && !matches!(c.op, Op::Eq | Op::EqEq | Op::Ne)
        {
            self.err(
                format!("filter error: '{}' operator not supported with list modifiers for IP address filters", c.op),
                c.op_span,
            );
            return None;
        }
        let is_dns = matches!(
            lhs,
            Operand::Field {
                field: Field::FdSipName | Field::FdCipName | Field::FdRipName | Field::FdLipName,
                ..
            }
        );
        let matcher = match &c.rhs {
            Rhs::None => {
                if c.op != Op::Exists {
                    self.err(
                        format!("filter error: operator '{}' requires a value", c.op),
                        c.span,
                    );
                    return None;
                }
                Matcher::Exists
            }
            Rhs::Value(l) => {
                if let Some(m) = c.modifier {
                    let _ = m;
                    self.err(
                        "filter error: list modifiers require a list of values",
                        l.span,
                    );
                    return None;
                }
                if is_evt_type {
                    self.check_evt_type(l);
                }
                if is_dns {
                    self.dns.push(l.text.clone());
                }
                if c.op.is_list_op() {
                    // `x in value` without parentheses: a one-item list.
                    self.list_matcher(c.op, lt, std::slice::from_ref(l))?
                } else {
                    self.value_matcher(c.op, lt, l)?
                }
            }
            Rhs::List(items, _) => {
                if is_evt_type {
                    for l in items {
                        self.check_evt_type(l);
                    }
                }
                if is_dns {
                    self.dns.extend(items.iter().map(|l| l.text.clone()));
                }
                if let Some(m) = c.modifier {
                    let mut ms = Vec::with_capacity(items.len());
                    for l in items {
                        ms.push(self.value_matcher(c.op, lt, l)?);
                    }
                    Matcher::Modifier(m, ms)
                } else if c.op.is_list_op() {
                    self.list_matcher(c.op, lt, items)?
                } else {
                    self.err(
                        format!(
                            "filter error: operator '{}' does not accept a list of values",
                            c.op
                        ),
                        c.span,
                    );
                    return None;
                }
            }
            Rhs::ListIdent(name, span) => {
                let l = Literal {
                    text: name.clone(),
                    quoted: false,
                    span: *span,
                };
                if is_evt_type {
                    self.check_evt_type(&l);
                }
                if let Some(m) = c.modifier {
                    Matcher::Modifier(m, vec![self.value_matcher(c.op, lt, &l)?])
                } else {
                    self.list_matcher(c.op, lt, std::slice::from_ref(&l))?
                }
            }
            Rhs::Val(f) => {
                let (info, arg) = self.field(f)?;
                if info.has(flags::NO_RHS) || info.has(flags::FILTER_ONLY) {
                    self.err(
                        format!("filter error: field '{}' can't be used on the right-hand side of a comparison", info.name),
                        f.span,
                    );
                    return None;
                }
                let rt = OutType {
                    ftype: info.ftype,
                    list: info.is_list(),
                    info: Some(info),
                };
                self.operand_matcher(
                    c,
                    lt,
                    Operand::Field {
                        field: info.field,
                        arg,
                    },
                    rt,
                    f.span,
                )?
            }
            Rhs::Transform(t) => {
                let (op, rt) = self.transform(t)?;
                self.operand_matcher(c, lt, op, rt, t.span)?
            }
        };
        Some(CheckNode {
            lhs,
            lhs_is_list: lt.list,
            matcher,
        })
    }

    fn check_evt_type(&mut self, l: &Literal) {
        if EventType::from_name(&l.text).is_none() {
            self.errors.push(diag(
                CompileDiagKind::UnknownEventType,
                format!("unknown event type {}", l.text),
                l.span,
            ));
        }
    }

    fn operand_matcher(
        &mut self,
        c: &Check,
        lt: OutType,
        rhs: Operand,
        rt: OutType,
        span: Span,
    ) -> Option<Matcher> {
        if c.modifier.is_some() {
            self.err(
                "filter error: list modifiers require a list of values",
                span,
            );
            return None;
        }
        if let Some(info) = lt.info {
            if info.has(flags::FILTER_ONLY) || info.has(flags::NO_RHS) && info.arg_allowed() {
                self.err(
                    format!(
                        "filter error: field '{}' can't be compared with another field",
                        info.name
                    ),
                    span,
                );
                return None;
            }
        }
        let (cmp, sop) = match c.op {
            Op::Eq | Op::EqEq => (CmpOp::Eq, None),
            Op::Ne => (CmpOp::Ne, None),
            Op::Lt => (CmpOp::Lt, None),
            Op::Le => (CmpOp::Le, None),
            Op::Gt => (CmpOp::Gt, None),
            Op::Ge => (CmpOp::Ge, None),
            Op::Contains => (CmpOp::Eq, Some(StrOp::Contains)),
            Op::IContains => (CmpOp::Eq, Some(StrOp::IContains)),
            Op::StartsWith => (CmpOp::Eq, Some(StrOp::StartsWith)),
            Op::EndsWith => (CmpOp::Eq, Some(StrOp::EndsWith)),
            Op::BContains => (CmpOp::Eq, Some(StrOp::BContains)),
            Op::BStartsWith => (CmpOp::Eq, Some(StrOp::BStartsWith)),
            op => {
                self.err(
                    format!("filter error: operator '{op}' does not support a field on the right-hand side"),
                    span,
                );
                return None;
            }
        };
        if matches!(lt.ftype, FieldType::IpNet) {
            self.err(
                "filter error: IP network fields do not support a field on the right-hand side",
                span,
            );
            return None;
        }
        if !same_kind(lt.ftype, rt.ftype) || lt.list != rt.list {
            let lname = lt.info.map(|i| i.name).unwrap_or("transformer");
            let rname = rt.info.map(|i| i.name).unwrap_or("transformer");
            self.err(
                format!(
                    "field '{lname}' has type {} while the right-hand side field '{rname}' has incompatible type {}",
                    lt.ftype.name(),
                    rt.ftype.name()
                ),
                span,
            );
            return None;
        }
        Some(Matcher::Operand(cmp, sop, Box::new(rhs)))
    }

    fn nul_check(&mut self, lt: OutType, l: &Literal) -> bool {
        if lt.ftype != FieldType::ByteBuf && l.text.contains('\0') {
            self.err("filter value cannot contain a NUL byte", l.span);
            return false;
        }
        true
    }

    fn misuse_warning(&mut self, l: &Literal) {
        let t = l.text.as_str();
        if looks_like_field(t) {
            self.warnings.push(diag(
                CompileDiagKind::Warning,
                format!("'{t}' may be a valid field misused as a const string value"),
                l.span,
            ));
        } else if looks_like_transformer(t) {
            self.warnings.push(diag(
                CompileDiagKind::Warning,
                format!("'{t}' may be a valid field transformer misused as a const string value"),
                l.span,
            ));
        }
    }

    /// A matcher for one value and a non-list operator.
    fn value_matcher(&mut self, op: Op, lt: OutType, l: &Literal) -> Option<Matcher> {
        if !self.nul_check(lt, l) {
            return None;
        }
        let text = l.text.as_str();
        let m = match op {
            Op::Eq | Op::EqEq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                let cmp = match op {
                    Op::Eq | Op::EqEq => CmpOp::Eq,
                    Op::Ne => CmpOp::Ne,
                    Op::Lt => CmpOp::Lt,
                    Op::Le => CmpOp::Le,
                    Op::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                if lt.ftype == FieldType::String {
                    self.misuse_warning(l);
                }
                Matcher::Cmp(cmp, self.constant(lt.ftype, l)?)
            }
            Op::Contains | Op::StartsWith | Op::EndsWith | Op::IContains => {
                self.misuse_warning(l);
                let sop = match op {
                    Op::Contains => StrOp::Contains,
                    Op::StartsWith => StrOp::StartsWith,
                    Op::EndsWith => StrOp::EndsWith,
                    _ => StrOp::IContains,
                };
                let pat = if sop == StrOp::IContains {
                    text.to_ascii_lowercase().into_bytes()
                } else {
                    text.as_bytes().to_vec()
                };
                Matcher::Str(sop, pat.into_boxed_slice())
            }
            Op::BContains | Op::BStartsWith => {
                let Some(bytes) = hex_decode(text) else {
                    self.err(
                        "filter error: bcontains and bstartswith operator support hex strings only",
                        l.span,
                    );
                    return None;
                };
                let sop = if op == Op::BContains {
                    StrOp::BContains
                } else {
                    StrOp::BStartsWith
                };
                Matcher::Str(sop, bytes.into_boxed_slice())
            }
            Op::Glob | Op::IGlob => {
                self.misuse_warning(l);
                Matcher::Glob(Glob::new(text, op == Op::IGlob))
            }
            Op::Regex => {
                if regex_is_simple(text) {
                    self.warnings.push(diag(
                        CompileDiagKind::Warning,
                        format!("regex check with '{text}' may be optimized with simpler operators such as '=', 'contains', 'startswith', 'endswith'"),
                        l.span,
                    ));
                }
                match regex::Regex::new(&format!("^(?:{text})$")) {
                    Ok(r) => Matcher::Regex(Box::new(r)),
                    Err(e) => {
                        self.err(
                            format!("filter error: invalid regular expression '{text}': {e}"),
                            l.span,
                        );
                        return None;
                    }
                }
            }
            Op::In | Op::Intersects | Op::Pmatch => {
                return self.list_matcher(op, lt, std::slice::from_ref(l))
            }
            Op::Exists => Matcher::Exists,
        };
        Some(m)
    }

    fn list_matcher(&mut self, op: Op, lt: OutType, items: &[Literal]) -> Option<Matcher> {
        let mut ok = true;
        for l in items {
            ok &= self.nul_check(lt, l);
        }
        if !ok {
            return None;
        }
        if op == Op::Pmatch {
            let pats = items
                .iter()
                .map(|l| {
                    crate::eval::path_components(&l.text)
                        .map(|c| Glob::new(c, false))
                        .collect()
                })
                .collect();
            return Some(Matcher::Pmatch(pats));
        }
        let mut consts = Vec::with_capacity(items.len());
        for l in items {
            if lt.ftype == FieldType::String {
                self.misuse_warning(l);
            }
            match self.constant(lt.ftype, l) {
                Some(c) => consts.push(c),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let strs = if lt.ftype == FieldType::String {
            Some(
                consts
                    .iter()
                    .filter_map(|c| match c {
                        Const::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect::<crate::eval::StrSet>(),
            )
        } else {
            None
        };
        Some(Matcher::Set(Box::new(SetMatcher {
            items: consts,
            strs,
            intersects: op == Op::Intersects,
        })))
    }

    /// Parses a literal by the field's type.
    fn constant(&mut self, t: FieldType, l: &Literal) -> Option<Const> {
        let text = l.text.as_str();
        let bad_number = |c: &mut Self| {
            c.err(
                format!("filter error: '{text}' is not a valid number"),
                l.span,
            );
            None
        };
        match t {
            FieldType::String => Some(Const::Str(text.into())),
            FieldType::ByteBuf => Some(Const::Bytes(text.as_bytes().into())),
            FieldType::Bool => match text {
                "true" => Some(Const::Bool(true)),
                "false" => Some(Const::Bool(false)),
                _ => {
                    self.err(
                        format!("filter error: unrecognized boolean value {text}"),
                        l.span,
                    );
                    None
                }
            },
            FieldType::Uint64 | FieldType::AbsTime | FieldType::RelTime => {
                match crate::eval::parse_int(text) {
                    Some(n) if (0..=i128::from(u64::MAX)).contains(&n) => Some(Const::Int(n)),
                    _ => bad_number(self),
                }
            }
            FieldType::Int64 => match crate::eval::parse_int(text) {
                Some(n) if (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&n) => {
                    Some(Const::Int(n))
                }
                _ => bad_number(self),
            },
            FieldType::Double => match crate::eval::parse_int(text) {
                Some(n) => Some(Const::Double(n as f64)),
                None => bad_number(self),
            },
            FieldType::Port => match crate::eval::parse_int(text) {
                Some(n) if (0..=65535).contains(&n) => Some(Const::Int(n)),
                Some(_) => bad_number(self),
                None => match service_port(text) {
                    Some(p) => Some(Const::Int(i128::from(p))),
                    None => {
                        self.err(format!("filter error: unrecognized port {text}"), l.span);
                        None
                    }
                },
            },
            FieldType::IpAddr => match text.parse::<IpAddr>() {
                Ok(ip) => Some(Const::Ip(ip)),
                Err(_) => {
                    self.err(
                        format!("filter error: unrecognized IP address {text}"),
                        l.span,
                    );
                    None
                }
            },
            FieldType::IpNet => match parse_net(text) {
                Some(n) => Some(Const::Net(n)),
                None => {
                    self.err(
                        format!("filter error: unrecognized IP network {text}"),
                        l.span,
                    );
                    None
                }
            },
        }
    }
}

fn same_kind(a: FieldType, b: FieldType) -> bool {
    use FieldType::*;
    let k = |t: FieldType| match t {
        String | ByteBuf => 0,
        Uint64 | Int64 | Port | AbsTime | RelTime | Double => 1,
        Bool => 2,
        IpAddr => 3,
        IpNet => 4,
    };
    a == b || (k(a) == k(b) && k(a) != 1) || (k(a) == 1 && k(b) == 1)
}

/// libsinsp `flt_is_comparable`: `Some(message)` when `op` is not allowed on `t`.
fn incompatible(op: Op, t: OutType) -> Option<String> {
    use Op::*;
    let (allowed, tname): (bool, &str) = if t.list {
        (matches!(op, In | Intersects | Exists), "list")
    } else {
        match t.ftype {
            FieldType::String => (!matches!(op, BContains | BStartsWith), "string"),
            FieldType::ByteBuf => (
                matches!(
                    op,
                    Eq | EqEq
                        | Ne
                        | Contains
                        | In
                        | Exists
                        | StartsWith
                        | EndsWith
                        | Intersects
                        | BContains
                        | BStartsWith
                ),
                "buffer",
            ),
            FieldType::Bool => (
                matches!(op, Eq | EqEq | Ne | In | Intersects | Exists),
                "boolean",
            ),
            FieldType::IpAddr => (
                matches!(op, Eq | EqEq | Ne | In | Intersects | Exists),
                "ip address",
            ),
            FieldType::IpNet => (
                matches!(op, Eq | EqEq | Ne | In | Intersects | Exists),
                "ip network",
            ),
            _ => (
                matches!(
                    op,
                    Eq | EqEq | Ne | Lt | Le | Gt | Ge | In | Intersects | Exists
                ),
                "numeric",
            ),
        }
    };
    if allowed {
        None
    } else {
        Some(format!(
            "filter error: '{op}' operator not supported for {tname} filters"
        ))
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

fn parse_net(s: &str) -> Option<IpNet> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => {
            let n: u8 = p.parse().ok()?;
            if n > max {
                return None;
            }
            n
        }
        None => max,
    };
    Some(IpNet { addr, prefix })
}

/// A small built-in `/etc/services` (TCP names) for port fields: no libc in this crate.
pub fn service_port(name: &str) -> Option<u16> {
    const SERVICES: &[(&str, u16)] = &[
        ("ftp-data", 20),
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("time", 37),
        ("whois", 43),
        ("domain", 53),
        ("tftp", 69),
        ("gopher", 70),
        ("finger", 79),
        ("http", 80),
        ("www", 80),
        ("kerberos", 88),
        ("pop3", 110),
        ("sunrpc", 111),
        ("auth", 113),
        ("nntp", 119),
        ("ntp", 123),
        ("epmap", 135),
        ("netbios-ns", 137),
        ("netbios-dgm", 138),
        ("netbios-ssn", 139),
        ("imap2", 143),
        ("imap", 143),
        ("snmp", 161),
        ("snmp-trap", 162),
        ("bgp", 179),
        ("irc", 194),
        ("ldap", 389),
        ("https", 443),
        ("microsoft-ds", 445),
        ("kpasswd", 464),
        ("submissions", 465),
        ("syslog", 514),
        ("printer", 515),
        ("submission", 587),
        ("ldaps", 636),
        ("rsync", 873),
        ("ftps", 990),
        ("imaps", 993),
        ("pop3s", 995),
        ("socks", 1080),
        ("openvpn", 1194),
        ("ms-sql-s", 1433),
        ("ms-sql-m", 1434),
        ("radius", 1812),
        ("nfs", 2049),
        ("mysql", 3306),
        ("postgresql", 5432),
        ("amqp", 5672),
        ("x11", 6000),
        ("redis", 6379),
        ("http-alt", 8080),
        ("memcache", 11211),
        ("mongodb", 27017),
        ("rtsp", 554),
        ("sip", 5060),
        ("xmpp-client", 5222),
        ("git", 9418),
        ("zabbix-agent", 10050),
    ];
    SERVICES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

/// `name` or `name[arg]` that resolves to a known field.
fn looks_like_field(t: &str) -> bool {
    let (name, arg) = match t.split_once('[') {
        Some((n, rest)) => match rest.strip_suffix(']') {
            Some(a) => (n, Some(a)),
            None => return false,
        },
        None => (t, None),
    };
    if !is_field_name(name) {
        return false;
    }
    fields::resolve(name, arg).is_ok()
}

fn is_field_name(s: &str) -> bool {
    let mut parts = s.split('.');
    let mut n = 0;
    for p in parts.by_ref() {
        let mut b = p.bytes();
        if !b.next().is_some_and(|c| c.is_ascii_alphabetic()) {
            return false;
        }
        if !b.all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return false;
        }
        n += 1;
    }
    n >= 2
}

fn looks_like_transformer(t: &str) -> bool {
    let Some(open) = t.find('(') else {
        return false;
    };
    let Some(inner) = t[open + 1..].strip_suffix(')') else {
        return false;
    };
    let known = [
        "tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt",
    ];
    known.contains(&&t[..open]) && (looks_like_field(inner) || looks_like_transformer(inner))
}

/// True when a regex is a plain word, optionally anchored or padded with `.*`/`.+`/`.?`.
fn regex_is_simple(p: &str) -> bool {
    let mut s = p.strip_prefix('^').unwrap_or(p);
    s = s.strip_suffix('$').unwrap_or(s);
    for pre in [".*", ".+", ".?"] {
        if let Some(r) = s.strip_prefix(pre) {
            s = r;
            break;
        }
    }
    for suf in [".*", ".+", ".?"] {
        if let Some(r) = s.strip_suffix(suf) {
            s = r;
            break;
        }
    }
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '/' || c == ' ')
}

// ---------------------------------------------------------------------------------------
// Event-type sets (libsinsp `filter/ppm_codes.cpp`).

/// A set of event types as a bitset over [`EventType::count`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct TypeSet(Vec<u64>);

impl TypeSet {
    fn words() -> usize {
        EventType::count().div_ceil(64)
    }
    fn none() -> Self {
        TypeSet(vec![0; Self::words()])
    }
    fn all() -> Self {
        let n = EventType::count();
        let mut v = vec![u64::MAX; Self::words()];
        if n % 64 != 0 {
            if let Some(last) = v.last_mut() {
                *last = (1u64 << (n % 64)) - 1;
            }
        }
        TypeSet(v)
    }
    fn insert(&mut self, t: EventType) {
        let i = t.0 as usize;
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn union(mut self, o: &TypeSet) -> Self {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a |= b;
        }
        self
    }
    fn intersect(mut self, o: &TypeSet) -> Self {
        for (a, b) in self.0.iter_mut().zip(&o.0) {
            *a &= b;
        }
        self
    }
    fn complement(mut self) -> Self {
        let all = TypeSet::all();
        for (a, b) in self.0.iter_mut().zip(&all.0) {
            *a = !*a & b;
        }
        self
    }
    fn is_all(&self) -> bool {
        *self == TypeSet::all()
    }
    fn to_vec(&self) -> Vec<EventType> {
        EventType::all()
            .filter(|t| self.0[t.0 as usize / 64] & (1 << (t.0 as usize % 64)) != 0)
            .collect()
    }
}

/// The event types `e` (or `not e` when `neg`) can match.
fn evttype_set(e: &Expr, neg: bool) -> TypeSet {
    match e {
        Expr::And(v, _) | Expr::Or(v, _) => {
            let is_and = matches!(e, Expr::And(..));
            // De Morgan: under negation `and` becomes `or` and vice versa.
            let intersect = is_and != neg;
            let mut it = v.iter().map(|x| evttype_set(x, neg));
            let first = it.next().unwrap_or_else(TypeSet::all);
            it.fold(first, |acc, s| {
                if intersect {
                    acc.intersect(&s)
                } else {
                    acc.union(&s)
                }
            })
        }
        Expr::Not(x, _) => evttype_set(x, !neg),
        Expr::Ident(..) => TypeSet::all(),
        Expr::Check(c) => check_types(c, neg),
    }
}

fn check_types(c: &Check, neg: bool) -> TypeSet {
    let FieldExpr::Field(f) = &c.lhs else {
        return TypeSet::all();
    };
    if f.arg.is_some() {
        return TypeSet::all();
    }
    if f.name == "evt.num" && !neg && matches!(c.op, Op::Eq | Op::EqEq) {
        if let Rhs::Value(l) = &c.rhs {
            if crate::eval::parse_int(&l.text) == Some(0) {
                return TypeSet::none();
            }
        }
    }
    if f.name != "evt.type" {
        return TypeSet::all();
    }
    let names: Vec<&str> = match (&c.op, &c.rhs, c.modifier) {
        (Op::Eq | Op::EqEq | Op::Ne, Rhs::Value(l), None) => vec![l.text.as_str()],
        (Op::In | Op::Intersects, Rhs::List(items, _), None) => {
            items.iter().map(|l| l.text.as_str()).collect()
        }
        (Op::In | Op::Intersects, Rhs::Value(l), None) => vec![l.text.as_str()],
        (Op::In | Op::Intersects, Rhs::ListIdent(n, _), None) => vec![n.as_str()],
        _ => return TypeSet::all(),
    };
    let mut s = TypeSet::none();
    for n in names {
        if let Some(t) = EventType::from_name(n) {
            s.insert(t);
        }
    }
    let positive = c.op != Op::Ne;
    if positive != neg {
        s
    } else {
        s.complement()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_simplicity() {
        for p in [
            "syscall",
            "^syscall$",
            "^syscall",
            "syscall$",
            ".*syscall",
            "syscall.*",
            ".*syscall.*",
            ".+syscall",
            "syscall.+",
            ".+syscall.+",
            ".?syscall",
            "syscall.?",
            ".?syscall.?",
        ] {
            assert!(regex_is_simple(p), "{p}");
        }
        for p in ["syscall.{1}", "syscall\\.*", "s.*l", "syscal[l]?"] {
            assert!(!regex_is_simple(p), "{p}");
        }
    }

    #[test]
    fn misuse_detection() {
        assert!(looks_like_field("evt.plugininfo"));
        assert!(!looks_like_field("unknown.field"));
        assert!(!looks_like_field("tolower"));
        assert!(looks_like_transformer("tolower(evt.plugininfo)"));
        assert!(!looks_like_transformer("tolow(evt.plugininfo)"));
    }

    #[test]
    fn hex_and_nets() {
        assert_eq!(
            hex_decode("12ab001fc5").unwrap(),
            vec![0x12, 0xab, 0x00, 0x1f, 0xc5]
        );
        assert!(hex_decode("g").is_none());
        assert!(hex_decode("123Z").is_none());
        assert!(hex_decode("abc_1").is_none());
        assert_eq!(parse_net("10.0.0.0/8").unwrap().prefix, 8);
        assert_eq!(parse_net("127.0.0.1").unwrap().prefix, 32);
        assert!(parse_net("1.2.3.4/33").is_none());
        assert_eq!(service_port("ssh"), Some(22));
    }
}
