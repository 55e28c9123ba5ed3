//! The compiled filter: boolean [`Node`]s whose leaves are [`CheckNode`]s (an
//! [`Operand`] and a [`Matcher`]), with typed constants ([`Const`]). Built by
//! [`crate::compile`]; evaluated by [`super::check`] and [`super::jump`].

use std::net::IpAddr;
use std::sync::Arc;

use super::matchers::{Glob, StrOp, StrPat, StrSet};
use crate::ast::{ListModifier, TransformKind};
use crate::event::FieldArg;
use crate::fields::Field;

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
    /// slot `.0` of the [`Memo`](super::jump::Memo).
    Memo(u16, Box<Node>),
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
    #[inline]
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
