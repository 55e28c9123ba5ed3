//! Stage 5: compiled rules indexed by event type; evaluation.
//!
//! [`Program::new`] builds, for every event type, the list of rules that can match it:
//! the rules whose event-type set contains it merged with the rules that apply to every
//! type, in definition order. Evaluating an event walks only its type's list.

use crate::compile::Filter;
use crate::event::Event;
use crate::evttype::EventType;
use crate::output::OutputFormat;
use crate::priority::Priority;

/// One loaded, enabled, compiled rule.
#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    /// Sorted, de-duplicated.
    pub tags: Vec<String>,
    pub source: String,
    pub output: OutputFormat,
    pub filter: Filter,
    /// `None` = the rule applies to every event type.
    pub evttypes: Option<Vec<EventType>>,
}

/// Falco's `rule_matching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// Stop at the first matching rule (Falco's default).
    #[default]
    First,
    /// Every matching rule, in definition order.
    All,
}

/// The rules, in definition order, indexed by event type.
#[derive(Debug, Clone, Default)]
pub struct Program {
    rules: Vec<CompiledRule>,
    /// `by_type[t]` = indices of the rules that can match type `t`, ascending.
    by_type: Vec<Vec<u32>>,
    /// Rules without an event-type restriction (for types outside the table).
    any_type: Vec<u32>,
}

impl Program {
    pub fn new(rules: Vec<CompiledRule>) -> Program {
        let n = EventType::count();
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut any_type = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            match &r.evttypes {
                None => {
                    any_type.push(i);
                    for l in by_type.iter_mut() {
                        l.push(i);
                    }
                }
                Some(types) => {
                    for t in types {
                        if let Some(l) = by_type.get_mut(t.0 as usize) {
                            if l.last() != Some(&i) {
                                l.push(i);
                            }
                        }
                    }
                }
            }
        }
        Program {
            rules,
            by_type,
            any_type,
        }
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// The indices of the rules evaluated for events of type `t`, in definition order.
    pub fn rules_for(&self, t: EventType) -> &[u32] {
        self.by_type.get(t.0 as usize).unwrap_or(&self.any_type)
    }

    /// Every event type at least one rule can match (for the seccomp filter), or `None`
    /// if some rule applies to every event type.
    pub fn event_types(&self) -> Option<Vec<EventType>> {
        if !self.any_type.is_empty() {
            return None;
        }
        Some(
            EventType::all()
                .filter(|t| !self.rules_for(*t).is_empty())
                .collect(),
        )
    }

    /// Appends the indices (into [`Program::rules`]) of the rules that match `event`.
    pub fn eval(&self, event: &dyn Event, matching: RuleMatching, out: &mut Vec<usize>) {
        for &i in self.rules_for(event.event_type()) {
            let i = i as usize;
            if self.rules[i].filter.eval(event) {
                out.push(i);
                if matching == RuleMatching::First {
                    return;
                }
            }
        }
    }
}
