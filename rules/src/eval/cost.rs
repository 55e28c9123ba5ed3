//! The operands of every `and`/`or` ordered by the cost of the fields they read,
//! cheapest first ([`Node::order_by_cost`]).

use super::ir::{Matcher, Node, Operand, TArg};
use crate::fields::Field;

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
