//! Boolean trees compiled to flat jump code ([`Code`]), run against an event with a
//! per-event [`Memo`] of shared subtrees; [`RuleMatching`] says whether a run stops at
//! the first matching rule.

use std::sync::Arc;

use super::ir::{CheckNode, Node};
use crate::event::Event;

/// Falco's `rule_matching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// Stop at the first matching rule (Falco's default).
    #[default]
    First,
    /// Every matching rule, in definition order.
    All,
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
}
