//! Evaluation of compiled filters.
//!
//! A [`crate::compile::Filter`] is a tree of [`Node`]s whose leaves are checks with a
//! resolved left operand ([`Operand`]: a [`Field`] + [`FieldArg`], or a transformer) and
//! a pre-built [`Matcher`] (typed constants, compiled regex, glob, hash set ...).
//! Nothing is looked up by name and nothing is parsed here.
//!
//! Trees are not walked at run time: [`Code`] compiles them to flat jump code (one
//! instruction per check, `and`/`or`/`not` are jump targets). A
//! [`crate::program::Program`] also folds `evt.type` checks per event type
//! ([`Node::fold_evt_type`]) and remembers subtrees shared by several rules per event
//! ([`Node::Memo`], [`Memo`]). Per check, the common cases (a borrowed string, a number,
//! a boolean) are matched without allocating, copying or dropping: `contains` uses a
//! prepared `memchr` searcher, `icontains` a case-folded first-byte scan, `in` on
//! strings a length mask then an Fx hash set, `=`/`startswith`/`endswith` inline byte
//! comparisons.
//!
//! Falco's rules, reproduced:
//! * a missing value (`Event::extract` → `None`) makes every comparison false,
//!   including `!=`; `exists` is false;
//! * a [`Value::List`] from a single-valued field (the ancestors of `proc.aname` without
//!   argument, client+server of `fd.ip`/`fd.port`/`fd.net`) matches if **any** element
//!   matches;
//! * for list-valued fields (`fd.types`, `getopt()`), `in` requires **all** elements in
//!   the set and `intersects` **any**;
//! * `and`/`or` short-circuit left to right.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use crate::ast::{ListModifier, TransformKind};
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::Field;
use crate::program::RuleMatching;

/// A boolean node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Shared: the copies of a tree made per event type share their checks.
    Check(Arc<CheckNode>),
    /// A subtree folded to a constant (see [`Node::fold_evt_type`]).
    Const(bool),
    /// A subtree that occurs more than once among the rules of a
    /// [`crate::program::Program`]: its value is computed once per event and kept in
    /// slot `.0` of the [`Memo`].
    Memo(u16, Box<Node>),
}

/// Number of [`Memo`] slots.
pub(crate) const MEMO_SLOTS: usize = 1024;

/// Per-event memory of shared subtrees (`known`/`value` bit per slot): evaluation is pure,
/// so a subtree that several rules share (a macro) is evaluated at most once per event.
#[derive(Clone)]
pub(crate) struct Memo {
    known: [u64; MEMO_SLOTS / 64],
    value: [u64; MEMO_SLOTS / 64],
}

impl Memo {
    pub fn new() -> Memo {
        Memo {
            known: [0; MEMO_SLOTS / 64],
            value: [0; MEMO_SLOTS / 64],
        }
    }
}

/// An event that only has a type: `evt.type` checks are folded against it.
struct TypeOnly(EventType);

impl Event for TypeOnly {
    fn event_type(&self) -> EventType {
        self.0
    }
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match (field, arg) {
            (Field::EvtType, FieldArg::None) => Some(Value::Str(Cow::Borrowed(self.0.name()))),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CheckNode {
    pub lhs: Operand,
    /// The LHS produces a list (`fd.types`, `getopt()`): `in` = all, `intersects` = any.
    pub lhs_is_list: bool,
    pub matcher: Matcher,
}

/// Something that produces a value from an event.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Field { field: Field, arg: FieldArg },
    Transform(Box<TransformNode>),
}

#[derive(Debug, Clone)]
pub(crate) struct TransformNode {
    pub kind: TransformKind,
    pub args: Vec<TArg>,
    /// `getopt(...)[t]`.
    pub index: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum TArg {
    Operand(Operand),
    Lit(String),
    List(Vec<TArg>),
}

/// A typed constant from the rule text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Str(Box<str>),
    Bytes(Box<[u8]>),
    /// Every integer type, widened.
    Int(i128),
    Double(f64),
    Bool(bool),
    Ip(IpAddr),
    Net(IpNet),
}

/// An IPv4/IPv6 network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let p = u32::from(self.prefix.min(32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                u32::from(n) & mask == u32::from(*a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let p = u32::from(self.prefix.min(128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                u128::from(n) & mask == u128::from(*a) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrOp {
    Contains,
    /// Pattern stored lowercased.
    IContains,
    StartsWith,
    EndsWith,
    BContains,
    BStartsWith,
}

/// How one value is tested.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Exists,
    Cmp(CmpOp, Const),
    Str(Box<StrPat>),
    Glob(Glob),
    Regex(Box<regex::Regex>),
    Set(Box<SetMatcher>),
    Pmatch(Vec<Vec<Glob>>),
    /// `<op> oneof|anyof|allof (...)`: one matcher per list item.
    Modifier(ListModifier, Vec<Matcher>),
    /// Comparison with another operand (`val(x)` or a transformer); `glob`, `regex`,
    /// `pmatch` ... against an operand are rejected at compile time.
    Operand(CmpOp, Option<StrOp>, Box<Operand>),
}

/// A string operator with its pattern, prepared for searching.
#[derive(Debug, Clone)]
pub(crate) struct StrPat {
    op: StrOp,
    /// Lowercased for `icontains`.
    pat: Box<[u8]>,
    /// A substring searcher for `contains`/`bcontains`.
    finder: Option<memchr::memmem::Finder<'static>>,
}

impl StrPat {
    pub fn new(op: StrOp, pat: Vec<u8>) -> StrPat {
        let finder = matches!(op, StrOp::Contains | StrOp::BContains)
            .then(|| memchr::memmem::Finder::new(&pat).into_owned());
        StrPat {
            op,
            pat: pat.into_boxed_slice(),
            finder,
        }
    }

    /// The pattern (lowercased for `icontains`).
    pub fn pattern(&self) -> &[u8] {
        &self.pat
    }

    /// The operator.
    pub fn op(&self) -> StrOp {
        self.op
    }

    #[inline]
    fn test(&self, hay: &[u8]) -> bool {
        match (&self.finder, self.op) {
            (Some(f), _) => f.find(hay).is_some(),
            (None, op) => bytes_op(hay, op, &self.pat),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SetMatcher {
    pub items: Vec<Const>,
    /// Fast path for string sets.
    pub strs: Option<StrSet>,
    /// Bit `min(len, 63)` is set for the length of every string of `strs`: most lookups
    /// are rejected without hashing.
    pub str_lens: u64,
    pub intersects: bool,
}

/// The [`SetMatcher::str_lens`] bit of a string length.
pub(crate) fn len_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

/// A string hash set with a fast non-cryptographic hasher (keys come from rule files).
pub(crate) type StrSet = HashSet<Box<str>, BuildHasherDefault<FxHasher>>;

/// The Fx hash (rustc's): fast for short keys; HashDoS is no concern for rule constants
/// looked up with event strings, as the table is fixed at load time.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An fnmatch(3) pattern without FNM_PATHNAME (`*` also matches `/`), matched on bytes
/// as glibc does in the C locale; `icase` = FNM_CASEFOLD (ASCII).
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pat: Box<[u8]>,
    icase: bool,
}

impl Glob {
    pub fn new(pat: &str, icase: bool) -> Glob {
        Glob {
            pat: pat.as_bytes().into(),
            icase,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        fnmatch(&self.pat, s.as_bytes(), self.icase)
    }
}

fn beq(a: u8, b: u8, icase: bool) -> bool {
    a == b || (icase && a.eq_ignore_ascii_case(&b))
}

/// Matches one bracket expression at `p[i..]` (just after `[`) against `c`.
/// Returns (matched, index after `]`), or None if the bracket is not closed (then `[`
/// is an ordinary character, as in glibc).
fn bracket(p: &[u8], mut i: usize, c: u8, icase: bool) -> Option<(bool, usize)> {
    let mut negate = false;
    if i < p.len() && (p[i] == b'!' || p[i] == b'^') {
        negate = true;
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    let lc = c.to_ascii_lowercase();
    loop {
        if i >= p.len() {
            return None;
        }
        let mut lo = p[i];
        if lo == b']' && !first {
            i += 1;
            break;
        }
        first = false;
        if lo == b'\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        i += 1;
        let mut hi = lo;
        if i + 1 < p.len() && p[i] == b'-' && p[i + 1] != b']' {
            hi = p[i + 1];
            if hi == b'\\' && i + 2 < p.len() {
                hi = p[i + 2];
                i += 1;
            }
            i += 2;
        }
        if (lo <= c && c <= hi)
            || (icase && lo.to_ascii_lowercase() <= lc && lc <= hi.to_ascii_lowercase())
        {
            matched = true;
        }
    }
    Some((matched != negate, i))
}

/// The `glob` operator's matching (fnmatch without `FNM_PATHNAME`: `*` also matches `/`),
/// for other users of Falco's glob semantics (e.g. `container.mount.dest[/proc*]`).
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    fnmatch(pattern, s, false)
}

fn fnmatch(p: &[u8], s: &[u8], icase: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi < p.len() && p[pi] == b'*' {
                        pi += 1;
                    }
                    if pi == p.len() {
                        return true;
                    }
                    star = Some((pi, si));
                    continue;
                }
                b'?' if si < s.len() => {
                    pi += 1;
                    si += 1;
                    continue;
                }
                b'[' if si < s.len() => {
                    if let Some((ok, next)) = bracket(p, pi + 1, s[si], icase) {
                        if ok {
                            pi = next;
                            si += 1;
                            continue;
                        }
                    } else if s[si] == b'[' {
                        pi += 1;
                        si += 1;
                        continue;
                    }
                }
                b'\\' if pi + 1 < p.len() && si < s.len() && beq(p[pi + 1], s[si], icase) => {
                    pi += 2;
                    si += 1;
                    continue;
                }
                c if si < s.len()
                    && beq(c, s[si], icase)
                    && c != b'?'
                    && c != b'['
                    && (c != b'\\' || pi + 1 == p.len()) =>
                {
                    pi += 1;
                    si += 1;
                    continue;
                }
                _ => {}
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: backtrack to the last star, letting it eat one more byte.
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Splits a path into its non-empty components.
pub(crate) fn path_components(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty())
}

/// A jump target meaning "the filter is true".
const TRUE: u32 = u32::MAX;
/// A jump target meaning "the filter is false".
const FALSE: u32 = u32::MAX - 1;

/// One instruction of a [`Code`]. Targets are instruction indices, [`TRUE`] or [`FALSE`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ins {
    /// Evaluate check `check`; continue at `t` if it holds, else at `f`.
    Test { check: u32, t: u32, f: u32 },
    /// A remembered subtree: if slot `slot` is known, continue at `t`/`f` by its value,
    /// else evaluate the subtree at `miss` (which ends in two [`Ins::Store`]s).
    Memo {
        slot: u16,
        t: u32,
        f: u32,
        miss: u32,
    },
    /// Remember `value` in slot `slot`, continue at `next`.
    Store { slot: u16, value: bool, next: u32 },
    /// Rule `rule` matches: record it; stop under [`RuleMatching::First`], else continue
    /// at `next` (the next rule).
    Match { rule: u32, next: u32 },
}

/// Boolean trees compiled to flat jump code: `and`/`or`/`not` and constants cost no
/// instruction (they become jump targets: `not` swaps the true and false targets, `and`
/// chains its children's true targets, `or` their false targets), so evaluating a filter
/// is a loop over checks with short-circuit jumps. A [`crate::program::Program`] puts
/// all the rules of an event type in one code, one after the other, each ending in
/// [`Ins::Match`] when true. Every jump goes forward, so the loop ends.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    ins: Vec<Ins>,
    checks: Vec<Arc<CheckNode>>,
    entry: u32,
}

impl Default for Code {
    /// The code of no rule (always false).
    fn default() -> Code {
        Code {
            ins: Vec::new(),
            checks: Vec::new(),
            entry: FALSE,
        }
    }
}

impl Code {
    /// The code of one filter: ends at [`TRUE`] or [`FALSE`].
    pub fn new(root: &Node) -> Code {
        let mut c = Code::empty();
        let entry = c.gen(root, TRUE, FALSE);
        c.finish(entry)
    }

    /// The code of rules `(index, tree)`, in this order: records the matching indices.
    pub fn rules<'a>(rules: impl DoubleEndedIterator<Item = (u32, &'a Node)>) -> Code {
        let mut c = Code::empty();
        let mut next = FALSE;
        for (rule, tree) in rules.rev() {
            let m = c.push(Ins::Match { rule, next });
            next = c.gen(tree, m, next);
        }
        c.finish(next)
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.ins.len()
    }

    fn empty() -> Code {
        Code::default()
    }

    /// Instructions were pushed successors first: reverse them so that execution runs
    /// forward through memory.
    fn finish(mut self, entry: u32) -> Code {
        let n = self.ins.len() as u32;
        let map = |x: u32| if x >= FALSE { x } else { n - 1 - x };
        self.ins.reverse();
        for i in &mut self.ins {
            match i {
                Ins::Test { t, f, .. } => (*t, *f) = (map(*t), map(*f)),
                Ins::Memo { t, f, miss, .. } => (*t, *f, *miss) = (map(*t), map(*f), map(*miss)),
                Ins::Store { next, .. } | Ins::Match { next, .. } => *next = map(*next),
            }
        }
        self.entry = map(entry);
        self
    }

    fn push(&mut self, i: Ins) -> u32 {
        self.ins.push(i);
        self.ins.len() as u32 - 1
    }

    /// Emits `n` with its true/false continuations; returns its entry point.
    fn gen(&mut self, n: &Node, t: u32, f: u32) -> u32 {
        match n {
            Node::And(v) => v.iter().rev().fold(t, |next, k| self.gen(k, next, f)),
            Node::Or(v) => v.iter().rev().fold(f, |next, k| self.gen(k, t, next)),
            Node::Not(k) => self.gen(k, f, t),
            Node::Const(b) => {
                if *b {
                    t
                } else {
                    f
                }
            }
            Node::Check(c) => {
                self.checks.push(c.clone());
                let check = self.checks.len() as u32 - 1;
                self.push(Ins::Test { check, t, f })
            }
            Node::Memo(slot, k) => {
                let slot = *slot;
                let st = self.push(Ins::Store {
                    slot,
                    value: true,
                    next: t,
                });
                let sf = self.push(Ins::Store {
                    slot,
                    value: false,
                    next: f,
                });
                let miss = self.gen(k, st, sf);
                self.push(Ins::Memo { slot, t, f, miss })
            }
        }
    }

    /// Evaluates a filter's code ([`Code::new`]) against an event.
    pub fn eval(&self, ev: &dyn Event) -> bool {
        self.test(ev, &mut Memo::new())
    }

    /// Evaluates a filter's code ([`Code::new`]) with a memo shared with other codes.
    pub fn test(&self, ev: &dyn Event, memo: &mut Memo) -> bool {
        let mut out = Vec::new();
        self.run(ev, RuleMatching::First, memo, &mut out) == TRUE
    }

    /// Runs the code; appends the rules that match (for [`Code::rules`]) to `out`.
    /// Returns the end reached ([`TRUE`] or [`FALSE`]).
    pub fn run(
        &self,
        ev: &dyn Event,
        matching: RuleMatching,
        memo: &mut Memo,
        out: &mut Vec<usize>,
    ) -> u32 {
        let mut pc = self.entry;
        while let Some(ins) = self.ins.get(pc as usize) {
            pc = match *ins {
                Ins::Test { check, t, f } => {
                    let ok = self.checks.get(check as usize).is_some_and(|c| c.eval(ev));
                    if ok {
                        t
                    } else {
                        f
                    }
                }
                Ins::Memo { slot, t, f, miss } => match memo.get(slot) {
                    Some(true) => t,
                    Some(false) => f,
                    None => miss,
                },
                Ins::Store { slot, value, next } => {
                    memo.set(slot, value);
                    next
                }
                Ins::Match { rule, next } => {
                    out.push(rule as usize);
                    if matching == RuleMatching::First {
                        return TRUE;
                    }
                    next
                }
            };
        }
        pc
    }
}

impl Memo {
    #[inline]
    fn get(&self, slot: u16) -> Option<bool> {
        let (w, bit) = (
            usize::from(slot) / 64 % (MEMO_SLOTS / 64),
            1u64 << (slot % 64),
        );
        if self.known[w] & bit != 0 {
            Some(self.value[w] & bit != 0)
        } else {
            None
        }
    }

    #[inline]
    fn set(&mut self, slot: u16, value: bool) {
        let (w, bit) = (
            usize::from(slot) / 64 % (MEMO_SLOTS / 64),
            1u64 << (slot % 64),
        );
        self.known[w] |= bit;
        if value {
            self.value[w] |= bit;
        }
    }
}

impl Node {
    /// The reference (tree-walking) evaluator; [`Code`] must agree with it.
    #[cfg(test)]
    pub fn eval(&self, ev: &dyn Event, memo: &mut Memo) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(ev, memo)),
            Node::Or(v) => v.iter().any(|n| n.eval(ev, memo)),
            Node::Not(n) => !n.eval(ev, memo),
            Node::Check(c) => c.eval(ev),
            Node::Const(b) => *b,
            Node::Memo(slot, n) => {
                if let Some(r) = memo.get(*slot) {
                    return r;
                }
                let r = n.eval(ev, memo);
                memo.set(*slot, r);
                r
            }
        }
    }

    /// The outcomes of this tree's `evt.type` checks for events of type `t`, in tree
    /// order: two types with the same outcomes fold the tree identically.
    pub fn evt_type_outcomes(&self, t: EventType, out: &mut Vec<bool>) {
        match self {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.evt_type_outcomes(t, out)),
            Node::Not(n) | Node::Memo(_, n) => n.evt_type_outcomes(t, out),
            Node::Check(c) => {
                if c.is_evt_type() {
                    out.push(c.eval(&TypeOnly(t)));
                }
            }
            Node::Const(_) => {}
        }
    }

    /// This tree specialised to events of type `t`: `evt.type` checks become constants,
    /// which are then propagated (`and` with false is false ...). Evaluation is pure, so
    /// the folded tree gives the same result as the original on every event of type `t`
    /// whose `evt.type` field is `t`'s name.
    pub fn fold_evt_type(&self, t: EventType) -> Node {
        match self {
            Node::And(v) | Node::Or(v) => {
                let is_and = matches!(self, Node::And(_));
                let mut kids = Vec::with_capacity(v.len());
                for n in v {
                    match n.fold_evt_type(t) {
                        // `and` with false / `or` with true decides.
                        Node::Const(b) if b != is_and => return Node::Const(b),
                        // The neutral element is dropped.
                        Node::Const(_) => {}
                        k => kids.push(k),
                    }
                }
                match kids.len() {
                    0 => Node::Const(is_and),
                    1 => kids.pop().unwrap_or(Node::Const(is_and)),
                    _ if is_and => Node::And(kids),
                    _ => Node::Or(kids),
                }
            }
            Node::Not(n) => match n.fold_evt_type(t) {
                Node::Const(b) => Node::Const(!b),
                k => Node::Not(Box::new(k)),
            },
            Node::Memo(slot, n) => match n.fold_evt_type(t) {
                Node::Const(b) => Node::Const(b),
                k => Node::Memo(*slot, Box::new(k)),
            },
            Node::Check(c) if c.is_evt_type() => Node::Const(c.eval(&TypeOnly(t))),
            other => other.clone(),
        }
    }
}

impl Node {
    /// A copy whose `and`/`or` operands are ordered cheapest first (stable among equal
    /// costs), with its own expected cost: a check costs what `cost` says of the fields it
    /// reads; an `and` costs its first operand plus half the second, a quarter of the
    /// third … (operands of rule conditions are mostly false, so an `and` usually
    /// stops early), an `or` its first plus three quarters of the second … (it usually
    /// runs on).
    ///
    /// Evaluation is pure and a check on a missing field is simply false, so the order
    /// of the operands of `and`/`or` changes no result, only which fields are read
    /// before the outcome is known: an expensive field (one the event source computes
    /// with system calls) is then read only for events that pass the cheap checks.
    pub(crate) fn order_by_cost(&self, cost: &dyn Fn(Field) -> u32) -> (Node, f64) {
        match self {
            Node::And(v) | Node::Or(v) => {
                let is_and = matches!(self, Node::And(_));
                let mut kids: Vec<(Node, f64)> = v.iter().map(|k| k.order_by_cost(cost)).collect();
                kids.sort_by(|a, b| a.1.total_cmp(&b.1));
                let q = if is_and { 0.5 } else { 0.75 };
                let (mut total, mut w) = (0.0, 1.0);
                // `evt.type` checks are decided per event type before evaluation (folded
                // away): they neither cost nor stop anything.
                for k in kids.iter().filter(|k| !k.0.is_evt_type_check()) {
                    total += w * k.1;
                    w *= q;
                }
                let kids = kids.into_iter().map(|k| k.0).collect();
                (
                    if is_and {
                        Node::And(kids)
                    } else {
                        Node::Or(kids)
                    },
                    total,
                )
            }
            Node::Not(k) => {
                let (k, c) = k.order_by_cost(cost);
                (Node::Not(Box::new(k)), c)
            }
            Node::Memo(slot, k) => {
                let (k, c) = k.order_by_cost(cost);
                (Node::Memo(*slot, Box::new(k)), c)
            }
            Node::Const(b) => (Node::Const(*b), 0.0),
            Node::Check(c) => {
                let mut total = c.lhs.cost(cost);
                if let Matcher::Operand(_, _, rhs) = &c.matcher {
                    total += rhs.cost(cost);
                }
                (Node::Check(c.clone()), total)
            }
        }
    }
}

impl Node {
    /// An `evt.type` check (possibly negated).
    fn is_evt_type_check(&self) -> bool {
        match self {
            Node::Check(c) => c.is_evt_type(),
            Node::Not(k) => k.is_evt_type_check(),
            _ => false,
        }
    }
}

impl Operand {
    /// The sum of `cost` over the fields this operand reads.
    fn cost(&self, cost: &dyn Fn(Field) -> u32) -> f64 {
        match self {
            Operand::Field { field, .. } => f64::from(cost(*field)),
            Operand::Transform(t) => t.args.iter().map(|x| x.cost(cost)).sum(),
        }
    }
}

impl TArg {
    fn cost(&self, cost: &dyn Fn(Field) -> u32) -> f64 {
        match self {
            TArg::Operand(o) => o.cost(cost),
            TArg::Lit(_) => 0.0,
            TArg::List(v) => v.iter().map(|x| x.cost(cost)).sum(),
        }
    }
}

impl CheckNode {
    /// `evt.type <op> <constants>`: decided by the event type alone.
    pub(crate) fn is_evt_type(&self) -> bool {
        matches!(
            self.lhs,
            Operand::Field {
                field: Field::EvtType,
                arg: FieldArg::None
            }
        ) && !matches!(self.matcher, Matcher::Operand(..))
    }

    #[inline]
    pub(crate) fn eval(&self, ev: &dyn Event) -> bool {
        let Some(v) = self.lhs.extract(ev) else {
            return false;
        };
        // Values that own nothing (borrowed strings, numbers ...) are forgotten rather
        // than dropped: that saves a call to the drop glue per check. Others are dropped
        // as usual.
        let (r, owns_nothing) = match &v {
            Value::Str(Cow::Borrowed(s)) => (self.matcher.test_str(s, ev), true),
            Value::Bytes(Cow::Borrowed(_))
            | Value::U64(_)
            | Value::I64(_)
            | Value::Bool(_)
            | Value::Ip(_)
            | Value::Time(_)
            | Value::Double(_) => (self.eval_value(&v, ev), true),
            Value::Str(Cow::Owned(_)) | Value::Bytes(Cow::Owned(_)) | Value::List(_) => {
                (self.eval_value(&v, ev), false)
            }
        };
        if owns_nothing {
            std::mem::forget(v);
        }
        r
    }

    fn eval_value(&self, v: &Value<'_>, ev: &dyn Event) -> bool {
        if let Matcher::Exists = self.matcher {
            return true;
        }
        match (v, &self.matcher) {
            (Value::List(items), Matcher::Set(set)) if self.lhs_is_list => {
                if set.intersects {
                    items.iter().any(|i| set.contains(i))
                } else {
                    items.iter().all(|i| set.contains(i))
                }
            }
            (Value::List(items), m) => items.iter().any(|i| m.test(i, ev)),
            (v, m) => m.test(v, ev),
        }
    }
}

impl Operand {
    #[inline]
    pub fn extract<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self {
            Operand::Field { field, arg } => ev.extract(*field, arg),
            Operand::Transform(t) => t.apply(ev),
        }
    }
}

/// A value as text (strings as-is, numbers in decimal, IPs in canonical form).
pub(crate) fn value_text<'a>(v: &'a Value<'_>) -> Cow<'a, str> {
    match v {
        Value::Str(s) => Cow::Borrowed(s.as_ref()),
        Value::Bytes(b) => String::from_utf8_lossy(b),
        Value::U64(n) | Value::Time(n) => Cow::Owned(n.to_string()),
        Value::I64(n) => Cow::Owned(n.to_string()),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Ip(ip) => Cow::Owned(ip.to_string()),
        Value::Double(d) => Cow::Owned(d.to_string()),
        Value::List(items) => Cow::Owned(
            items
                .iter()
                .map(|i| value_text(i).into_owned())
                .collect::<Vec<_>>()
                .join(","),
        ),
    }
}

fn value_bytes<'a>(v: &'a Value<'_>) -> Cow<'a, [u8]> {
    match v {
        Value::Bytes(b) => Cow::Borrowed(b.as_ref()),
        Value::Str(s) => Cow::Borrowed(s.as_bytes()),
        other => match value_text(other) {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
    }
}

fn value_int(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::U64(n) | Value::Time(n) => Some(i128::from(*n)),
        Value::I64(n) => Some(i128::from(*n)),
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Double(d) => Some(*d as i128),
        Value::Str(s) => parse_int(s),
        _ => None,
    }
}

/// Decimal (optionally signed) or `0x` hex integer.
pub(crate) fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let n = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || h.len() > 32 {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || body.len() > 38 {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -n } else { n })
}

fn ord_ok(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Le => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Ge => o != Ordering::Less,
    }
}

fn cmp_const(v: &Value<'_>, op: CmpOp, c: &Const) -> bool {
    match c {
        Const::Str(s) => ord_ok(op, value_text(v).as_ref().cmp(s.as_ref())),
        Const::Bytes(b) => ord_ok(op, value_bytes(v).as_ref().cmp(b.as_ref())),
        Const::Int(n) => match v {
            Value::Double(d) => (*d)
                .partial_cmp(&(*n as f64))
                .is_some_and(|o| ord_ok(op, o)),
            _ => value_int(v).is_some_and(|x| ord_ok(op, x.cmp(n))),
        },
        Const::Double(d) => {
            let x = match v {
                Value::Double(x) => *x,
                other => match value_int(other) {
                    Some(n) => n as f64,
                    None => return false,
                },
            };
            x.partial_cmp(d).is_some_and(|o| ord_ok(op, o))
        }
        Const::Bool(b) => {
            let x = match v {
                Value::Bool(x) => *x,
                Value::Str(s) => match s.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => return false,
                },
                other => match value_int(other) {
                    Some(n) => n != 0,
                    None => return false,
                },
            };
            ord_ok(op, x.cmp(b))
        }
        Const::Ip(ip) => {
            let x = match v {
                Value::Ip(x) => *x,
                Value::Str(s) => match s.parse::<IpAddr>() {
                    Ok(x) => x,
                    Err(_) => return false,
                },
                _ => return false,
            };
            let eq = canon_ip(x) == canon_ip(*ip);
            match op {
                CmpOp::Eq => eq,
                CmpOp::Ne => !eq,
                _ => false,
            }
        }
        Const::Net(net) => {
            let x = match v {
                Value::Ip(x) => canon_ip(*x),
                Value::Str(s) => match s.parse::<IpAddr>() {
                    Ok(x) => canon_ip(x),
                    Err(_) => return false,
                },
                _ => return false,
            };
            let inside = net.contains(&x);
            match op {
                CmpOp::Eq => inside,
                CmpOp::Ne => !inside,
                _ => false,
            }
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canon_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn str_op(v: &Value<'_>, op: StrOp, pat: &[u8]) -> bool {
    bytes_op(&value_bytes(v), op, pat)
}

/// Byte equality without a call to `memcmp` (patterns and values are short, and most
/// comparisons fail on the first bytes).
#[inline]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

pub(crate) fn bytes_op(hay: &[u8], op: StrOp, pat: &[u8]) -> bool {
    match op {
        StrOp::Contains | StrOp::BContains => memchr::memmem::find(hay, pat).is_some(),
        StrOp::IContains => icontains(hay, pat),
        StrOp::StartsWith | StrOp::BStartsWith => {
            hay.len() >= pat.len() && short_eq(&hay[..pat.len()], pat)
        }
        StrOp::EndsWith => hay.len() >= pat.len() && short_eq(&hay[hay.len() - pat.len()..], pat),
    }
}

/// strcasestr: ASCII case-insensitive search; `pat` is lowercased.
fn icontains(hay: &[u8], pat: &[u8]) -> bool {
    let Some((&first, rest)) = pat.split_first() else {
        return true;
    };
    if hay.len() < pat.len() {
        return false;
    }
    let last_start = hay.len() - pat.len();
    let upper = first.to_ascii_uppercase();
    let mut i = 0;
    while i <= last_start {
        let Some(k) = memchr::memchr2(first, upper, &hay[i..=last_start]) else {
            return false;
        };
        let p = i + k;
        if hay[p + 1..p + pat.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        i = p + 1;
    }
    false
}

impl SetMatcher {
    fn contains(&self, v: &Value<'_>) -> bool {
        if let Some(strs) = &self.strs {
            let t = value_text(v);
            return self.str_lens & len_bit(t.len()) != 0 && strs.contains(t.as_ref());
        }
        self.items.iter().any(|c| cmp_const(v, CmpOp::Eq, c))
    }
}

impl Matcher {
    /// [`Matcher::test`] of a string value.
    #[inline]
    fn test_str(&self, s: &str, ev: &dyn Event) -> bool {
        match self {
            Matcher::Cmp(CmpOp::Eq, Const::Str(c)) => short_eq(s.as_bytes(), c.as_bytes()),
            Matcher::Cmp(CmpOp::Ne, Const::Str(c)) => !short_eq(s.as_bytes(), c.as_bytes()),
            Matcher::Str(p) => p.test(s.as_bytes()),
            Matcher::Set(set) => match &set.strs {
                Some(strs) => set.str_lens & len_bit(s.len()) != 0 && strs.contains(s),
                None => set.contains(&Value::Str(Cow::Borrowed(s))),
            },
            Matcher::Exists => true,
            _ => self.test(&Value::Str(Cow::Borrowed(s)), ev),
        }
    }

    fn test(&self, v: &Value<'_>, ev: &dyn Event) -> bool {
        match self {
            Matcher::Exists => true,
            Matcher::Cmp(op, c) => cmp_const(v, *op, c),
            Matcher::Str(p) => p.test(&value_bytes(v)),
            Matcher::Glob(g) => g.matches(&value_text(v)),
            Matcher::Regex(r) => r.is_match(&value_text(v)),
            Matcher::Set(s) => s.contains(v),
            Matcher::Pmatch(pats) => {
                let t = value_text(v);
                pats.iter().any(|p| {
                    let mut comps = path_components(&t);
                    p.iter().all(|g| comps.next().is_some_and(|c| g.matches(c)))
                })
            }
            Matcher::Modifier(kind, items) => {
                if items.is_empty() {
                    return false;
                }
                match kind {
                    ListModifier::AnyOf => items.iter().any(|m| m.test(v, ev)),
                    ListModifier::AllOf => items.iter().all(|m| m.test(v, ev)),
                    ListModifier::OneOf => items.iter().filter(|m| m.test(v, ev)).count() == 1,
                }
            }
            Matcher::Operand(op, sop, rhs) => {
                let Some(r) = rhs.extract(ev) else {
                    return false;
                };
                let r = match r {
                    Value::List(mut l) if !l.is_empty() => l.swap_remove(0),
                    Value::List(_) => return false,
                    r => r,
                };
                if let Some(sop) = sop {
                    let pat = match sop {
                        StrOp::IContains => value_text(&r).to_ascii_lowercase().into_bytes(),
                        _ => value_bytes(&r).into_owned(),
                    };
                    return str_op(v, *sop, &pat);
                }
                cmp_values(v, *op, &r)
            }
        }
    }
}

fn cmp_values(a: &Value<'_>, op: CmpOp, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Str(_), _) | (_, Value::Str(_)) | (Value::Bytes(_), _) | (_, Value::Bytes(_)) => {
            ord_ok(op, value_bytes(a).as_ref().cmp(value_bytes(b).as_ref()))
        }
        (Value::Ip(x), Value::Ip(y)) => match op {
            CmpOp::Eq => canon_ip(*x) == canon_ip(*y),
            CmpOp::Ne => canon_ip(*x) != canon_ip(*y),
            _ => false,
        },
        (Value::Double(_), _) | (_, Value::Double(_)) => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).is_some_and(|o| ord_ok(op, o)),
            _ => false,
        },
        _ => match (value_int(a), value_int(b)) {
            (Some(x), Some(y)) => ord_ok(op, x.cmp(&y)),
            _ => false,
        },
    }
}

fn as_f64(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Double(d) => Some(*d),
        other => value_int(other).map(|n| n as f64),
    }
}

impl TransformNode {
    fn apply<'e>(&self, ev: &'e dyn Event) -> Option<Value<'e>> {
        match self.kind {
            TransformKind::ToLower
            | TransformKind::ToUpper
            | TransformKind::B64
            | TransformKind::Basename
            | TransformKind::Len => {
                let v = self.args.first().and_then(|a| targ_value(a, ev))?;
                Some(map_value(v, &|v| unary(self.kind, v)))
            }
            TransformKind::Join => {
                let sep = match self.args.first() {
                    Some(TArg::Lit(s)) => s.clone(),
                    Some(a) => value_text(&targ_value(a, ev)?).into_owned(),
                    None => String::new(),
                };
                let mut parts = Vec::new();
                for a in &self.args[1..] {
                    collect_texts(a, ev, &mut parts)?;
                }
                Some(Value::Str(Cow::Owned(parts.join(&sep))))
            }
            TransformKind::Concat => {
                let mut parts = Vec::new();
                for a in &self.args {
                    collect_texts(a, ev, &mut parts)?;
                }
                Some(Value::Str(Cow::Owned(parts.concat())))
            }
            TransformKind::Getopt => {
                let args = self.args.first().and_then(|a| targ_value(a, ev))?;
                let optstring = match self.args.get(1) {
                    Some(TArg::Lit(s)) => s.clone(),
                    _ => return None,
                };
                let words: Vec<String> = match &args {
                    Value::List(l) => l.iter().map(|v| value_text(v).into_owned()).collect(),
                    v => value_text(v)
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                };
                let opts = getopt(&words, &optstring);
                match &self.index {
                    Some(ix) => opts
                        .into_iter()
                        .find(|(k, _)| k == ix)
                        .map(|(_, v)| Value::Str(Cow::Owned(v))),
                    None => Some(Value::List(
                        opts.into_iter()
                            .map(|(k, _)| Value::Str(Cow::Owned(k)))
                            .collect(),
                    )),
                }
            }
        }
    }
}

fn targ_value<'e>(a: &TArg, ev: &'e dyn Event) -> Option<Value<'e>> {
    match a {
        TArg::Operand(o) => o.extract(ev),
        TArg::Lit(s) => Some(Value::Str(Cow::Owned(s.clone()))),
        TArg::List(_) => None,
    }
}

fn collect_texts(a: &TArg, ev: &dyn Event, out: &mut Vec<String>) -> Option<()> {
    match a {
        TArg::List(items) => {
            for i in items {
                collect_texts(i, ev, out)?;
            }
        }
        other => out.push(value_text(&targ_value(other, ev)?).into_owned()),
    }
    Some(())
}

fn map_value<'e>(v: Value<'e>, f: &dyn Fn(Value<'e>) -> Value<'e>) -> Value<'e> {
    match v {
        Value::List(items) => Value::List(items.into_iter().map(f).collect()),
        v => f(v),
    }
}

fn unary(kind: TransformKind, v: Value<'_>) -> Value<'_> {
    match kind {
        TransformKind::ToLower => Value::Str(Cow::Owned(value_text(&v).to_lowercase())),
        TransformKind::ToUpper => Value::Str(Cow::Owned(value_text(&v).to_uppercase())),
        TransformKind::Basename => {
            let t = value_text(&v);
            let b = t.rsplit('/').next().unwrap_or("");
            Value::Str(Cow::Owned(b.to_owned()))
        }
        TransformKind::Len => match &v {
            Value::List(l) => Value::U64(l.len() as u64),
            other => Value::U64(value_bytes(other).len() as u64),
        },
        TransformKind::B64 => match b64_decode(&value_bytes(&v)) {
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(s) => Value::Str(Cow::Owned(s)),
                Err(e) => Value::Bytes(Cow::Owned(e.into_bytes())),
            },
            None => Value::Str(Cow::Owned(String::new())),
        },
        _ => v,
    }
}

/// Standard base64 decoding (padding optional, whitespace ignored).
pub(crate) fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// POSIX getopt over `words` (argv without argv[0]): `(option, argument)` pairs, in order.
fn getopt(words: &[String], optstring: &str) -> Vec<(String, String)> {
    let spec: Vec<char> = optstring.chars().collect();
    let takes_arg = |c: char| -> Option<bool> {
        let i = spec.iter().position(|&s| s == c && s != ':')?;
        Some(spec.get(i + 1) == Some(&':'))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        if w == "--" || !w.starts_with('-') || w.len() < 2 {
            break;
        }
        let chars: Vec<char> = w.chars().skip(1).collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            match takes_arg(c) {
                Some(true) => {
                    let rest: String = chars[j + 1..].iter().collect();
                    let arg = if !rest.is_empty() {
                        rest
                    } else {
                        i += 1;
                        words.get(i).cloned().unwrap_or_default()
                    };
                    out.push((c.to_string(), arg));
                    break;
                }
                Some(false) => out.push((c.to_string(), String::new())),
                None => {}
            }
            j += 1;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, s: &str) -> bool {
        Glob::new(p, false).matches(s)
    }

    #[test]
    fn fnmatch_without_pathname() {
        assert!(g("*.log", "/var/log/x.log"));
        assert!(g("/etc/*", "/etc/a/b"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("[abc]x", "bx"));
        assert!(!g("[!abc]x", "bx"));
        assert!(g("[a-c]x", "cx"));
        assert!(g("\\*", "*"));
        assert!(!g("\\*", "a"));
        assert!(g("*", ""));
        assert!(g("di[r]", "dir"));
        assert!(!g("di[!r]", "dir"));
        assert!(g("[", "["));
        assert!(g("a*b*c", "aXXbYYc"));
        assert!(!g("a*b*c", "aXXbYY"));
        assert!(Glob::new("*.LOG", true).matches("x.log"));
    }

    #[test]
    fn nets_and_ints() {
        let n = IpNet {
            addr: "10.0.0.0".parse().unwrap(),
            prefix: 8,
        };
        assert!(n.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!n.contains(&"11.1.2.3".parse().unwrap()));
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("1.5"), None);
    }

    #[test]
    fn b64_and_getopt() {
        assert_eq!(b64_decode(b"YWFhLWJiYg==").unwrap(), b"aaa-bbb");
        let w: Vec<String> = ["-n", "-t", "foo", "bar"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            getopt(&w, "nt:"),
            vec![("n".into(), String::new()), ("t".into(), "foo".into())]
        );
    }
}
