//! `evt.type` checks decided per event type: a tree specialised to one type, with the
//! constants propagated. Also decided per type: integer comparisons of a field whose
//! values on that type the event source declares ([`FieldRanges`]).

use std::borrow::Cow;

use super::ir::{CheckNode, Const, Matcher, Node, Operand};
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::Field;

/// What an event source knows of a field on every event of a type: `Some((lo, hi))` when
/// every event of that type has the field, as an integer (`Value::I64`) in `lo..=hi`.
/// A comparison of such a field with an integer constant that holds (or fails) for every
/// value in the range is folded to that constant for the type: the field is then not
/// extracted at all (e.g. tiercel's `fd.num >= 0` on opens, whose `fd.num` is the
/// predicted result of a successful open, never negative).
pub type FieldRanges<'a> = &'a dyn Fn(EventType, Field) -> Option<(i64, i64)>;

/// An event with a type and one integer field.
struct OneInt(EventType, Field, i64);

impl Event for OneInt {
    fn event_type(&self) -> EventType {
        self.0
    }
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match (field, arg) {
            (Field::EvtType, FieldArg::None) => Some(Value::Str(Cow::Borrowed(self.0.name()))),
            (f, FieldArg::None) if f == self.1 => Some(Value::I64(self.2)),
            _ => None,
        }
    }
}

impl CheckNode {
    /// A check that [`FieldRanges`] could decide for some type: an integer constant
    /// compared with a plain field (the same for every type, so that the outcomes that
    /// key the folded trees line up).
    fn range_field(&self) -> Option<(Field, i128)> {
        match (&self.lhs, &self.matcher) {
            (
                Operand::Field {
                    field,
                    arg: FieldArg::None,
                },
                Matcher::Cmp(_, Const::Int(c)),
            ) if !self.lhs_is_list && *field != Field::EvtType => Some((*field, *c)),
            _ => None,
        }
    }

    /// The outcome of this check on every event of type `t`, when the field's range
    /// decides it. The check itself is evaluated at the range's ends and around the
    /// constant: an order comparison with an integer depends only on the sign of
    /// `value - constant`, and these points meet every sign the range contains.
    fn decided_by_range(&self, t: EventType, ranges: Option<FieldRanges<'_>>) -> Option<bool> {
        let (field, c) = self.range_field()?;
        let (lo, hi) = ranges?(t, field)?;
        if lo > hi {
            return None;
        }
        let mut points = vec![lo, hi];
        for d in [-1i128, 0, 1] {
            let p = c + d;
            if p >= i128::from(lo) && p <= i128::from(hi) {
                points.push(p as i64);
            }
        }
        let first = self.eval(&OneInt(t, field, lo));
        points
            .iter()
            .all(|&v| self.eval(&OneInt(t, field, v)) == first)
            .then_some(first)
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

impl Node {
    /// The outcomes of this tree's `evt.type` checks for events of type `t`, in tree
    /// order: two types with the same outcomes fold the tree identically.
    /// With `ranges`, the outcomes of the checks they can decide are included (two
    /// entries per such check, whether decided and how, at the same places for every type).
    pub fn evt_type_outcomes(
        &self,
        t: EventType,
        ranges: Option<FieldRanges<'_>>,
        out: &mut Vec<bool>,
    ) {
        match self {
            Node::And(v) | Node::Or(v) => {
                v.iter().for_each(|n| n.evt_type_outcomes(t, ranges, out))
            }
            Node::Not(n) | Node::Memo(_, n) => n.evt_type_outcomes(t, ranges, out),
            Node::Check(c) => {
                if c.is_evt_type() {
                    out.push(c.eval(&TypeOnly(t)));
                } else if ranges.is_some() && c.range_field().is_some() {
                    let d = c.decided_by_range(t, ranges);
                    out.push(d.is_some());
                    out.push(d.unwrap_or(false));
                }
            }
            Node::Const(_) => {}
        }
    }

    /// This tree specialised to events of type `t`: `evt.type` checks become constants,
    /// which are then propagated (`and` with false is false ...). Evaluation is pure, so
    /// the folded tree gives the same result as the original on every event of type `t`
    /// whose `evt.type` field is `t`'s name (and, with `ranges`, whose fields lie in
    /// the declared ranges).
    pub fn fold_evt_type(&self, t: EventType, ranges: Option<FieldRanges<'_>>) -> Node {
        match self {
            Node::And(v) | Node::Or(v) => {
                let is_and = matches!(self, Node::And(_));
                let mut kids = Vec::with_capacity(v.len());
                for n in v {
                    match n.fold_evt_type(t, ranges) {
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
            Node::Not(n) => match n.fold_evt_type(t, ranges) {
                Node::Const(b) => Node::Const(!b),
                k => Node::Not(Box::new(k)),
            },
            Node::Memo(slot, n) => match n.fold_evt_type(t, ranges) {
                Node::Const(b) => Node::Const(b),
                k => Node::Memo(*slot, Box::new(k)),
            },
            Node::Check(c) if c.is_evt_type() => Node::Const(c.eval(&TypeOnly(t))),
            Node::Check(c) => match c.decided_by_range(t, ranges) {
                Some(b) => Node::Const(b),
                None => self.clone(),
            },
            other => other.clone(),
        }
    }
}
