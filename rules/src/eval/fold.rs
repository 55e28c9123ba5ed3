//! `evt.type` checks decided per event type: a tree specialised to one type, with the
//! constants propagated.

use std::borrow::Cow;

use super::ir::Node;
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::Field;

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
