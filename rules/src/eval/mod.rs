//! Evaluation of compiled filters.
//!
//! A [`crate::compile::Filter`] is a tree of [`Node`]s whose leaves are checks with a
//! resolved left operand ([`Operand`]: a [`Field`](crate::fields::Field) +
//! [`FieldArg`](crate::fields::FieldArg), or a transformer) and a pre-built [`Matcher`]
//! (typed constants, compiled regex, glob, hash set ...).
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
//! * a [`Value::List`](crate::event::Value::List) from a single-valued field (the ancestors of `proc.aname` without
//!   argument, client+server of `fd.ip`/`fd.port`/`fd.net`) matches if **any** element
//!   matches;
//! * for list-valued fields (`fd.types`, `getopt()`), `in` requires **all** elements in
//!   the set and `intersects` **any**;
//! * `and`/`or` short-circuit left to right.
//!
//! Submodules, each using only the ones before it:
//! * [`matchers`]: string operators, string sets and globs on bytes (no event);
//! * [`ir`]: the filter tree ([`Node`], [`CheckNode`], [`Operand`], [`Matcher`] ...);
//! * [`compare`]: values as text, bytes and integers; comparisons with constants;
//! * [`transform`]: an operand's value (a field, or a transformer applied);
//! * [`check`]: one check against an event;
//! * [`jump`]: [`Code`], the jump code, its [`Memo`] and [`RuleMatching`];
//! * [`fold`]: `evt.type` checks decided per event type;
//! * [`cost`]: `and`/`or` operands ordered by the cost of their fields.

mod check;
mod compare;
mod cost;
mod fold;
mod ir;
mod jump;
mod matchers;
mod transform;

pub(crate) use compare::{parse_int, value_text};
pub use fold::FieldRanges;
pub(crate) use ir::{
    CheckNode, CmpOp, Const, IpNet, Matcher, Node, Operand, SetMatcher, TArg, TransformNode,
};
pub use jump::RuleMatching;
pub(crate) use jump::{Code, Memo, MEMO_SLOTS};
pub use matchers::glob_match;
pub(crate) use matchers::{bytes_op, len_bit, path_components, Glob, StrOp, StrPat, StrSet};
