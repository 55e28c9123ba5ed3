//! Stage 5: compiled rules indexed by event type; evaluation.
//! OWNER: compile/eval helper. STUB.

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
}

impl Program {
    pub fn new(rules: Vec<CompiledRule>) -> Program {
        Program { rules }
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Appends the indices (into [`Program::rules`]) of the rules that match `event`.
    pub fn eval(&self, event: &dyn Event, matching: RuleMatching, out: &mut Vec<usize>) {
        let _ = (event, matching, out);
    }
}
