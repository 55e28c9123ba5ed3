//! Rules that can never fire with a given event source: every event type the rule can
//! match is one the source never produces, or its condition is definitely false once the
//! fields the source never serves are missing.
//!
//! The event source's knowledge (which event types it decodes, which fields it serves)
//! comes through [`EventSource`], so this crate stays free of the supervisor's decoder.
//!
//! The analysis is exact in the sense that matters: a rule is reported only if no event
//! can make it match. For each event type `t` the rule is evaluated for (its event-type
//! set, restricted to the types the source decodes), its condition is evaluated in
//! three-valued (Kleene) logic, as [`crate::prefilter`] does: an `evt.type` check
//! compared with constants is decided by `t`; a check reading a field the source never
//! serves is **false** (a missing value makes every comparison false, `!=` and `exists`
//! included; transformers propagate the missing value); every other check is unknown.
//! The rule cannot fire only if the result is false for every such `t`, so a rule that
//! may fire through another branch of an `or` (or under a `not`) is never reported.

use crate::eval::CheckNode;
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::{Availability, Field};
use crate::prefilter::{matcher_known, operand_known, tri_eval, Tri};
use crate::program::{CompiledRule, Program};

/// What an event source can produce.
pub trait EventSource: std::fmt::Debug + Send + Sync {
    /// Whether events of type `t` are ever produced (decoded and delivered to the rules).
    fn decodes(&self, t: EventType) -> bool;
    /// Whether `field` can ever have a value (with any argument).
    fn serves(&self, field: Field) -> bool;
}

/// Why a rule cannot fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfireable {
    /// Index into [`Program::rules`].
    pub rule: usize,
    /// The rule's event types the source never produces (all of them when
    /// `fields` is empty).
    pub undecoded: Vec<EventType>,
    /// Fields the condition reads that the source never serves, with why.
    pub fields: Vec<(Field, Availability)>,
}

impl Unfireable {
    /// Why, in one sentence fragment: `field fd.connected has no value at syscall
    /// entry (it needs the call's result)`, `event type procexit is not decoded by
    /// tiercel`.
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        for (f, a) in &self.fields {
            parts.push(format!("field {} {}", f.name(), availability_reason(*a)));
        }
        if !self.undecoded.is_empty() {
            let names: Vec<&str> = self.undecoded.iter().map(|t| t.name()).collect();
            let (noun, verb) = if names.len() == 1 {
                ("event type", "is")
            } else {
                ("event types", "are")
            };
            parts.push(format!(
                "{noun} {} {verb} not decoded by tiercel",
                names.join(", ")
            ));
        }
        if parts.is_empty() {
            "its condition is false for every event type it applies to".into()
        } else {
            parts.join("; ")
        }
    }

    /// The short form for listings: `fields:fd.connected` / `events:procexit`.
    pub fn short(&self) -> String {
        let names = |v: Vec<&str>| v.join(",");
        if !self.fields.is_empty() {
            format!(
                "fields:{}",
                names(self.fields.iter().map(|(f, _)| f.name()).collect())
            )
        } else if !self.undecoded.is_empty() {
            format!(
                "events:{}",
                names(self.undecoded.iter().map(|t| t.name()).collect())
            )
        } else {
            "condition".into()
        }
    }
}

fn availability_reason(a: Availability) -> &'static str {
    match a {
        Availability::ExitOnly => {
            "has no value at syscall entry (it needs the call's result or the state after it)"
        }
        Availability::NotServed => "is not served by tiercel (plugin, scheduler or capture field)",
        _ => "has no value in tiercel's events",
    }
}

/// An event that only has a type.
struct TypeOnly(EventType);

impl Event for TypeOnly {
    fn event_type(&self) -> EventType {
        self.0
    }
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        (field == Field::EvtType && *arg == FieldArg::None).then(|| Value::str(self.0.name()))
    }
}

/// The rules of `program` that cannot fire with `source`, in rule order.
pub fn unfireable(program: &Program, source: &dyn EventSource) -> Vec<Unfireable> {
    program
        .rules()
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            rule_unfireable(r, source).map(|mut u| {
                u.rule = i;
                u
            })
        })
        .collect()
}

/// Whether `rule` cannot fire with `source` (and why), `rule` index left 0.
pub fn rule_unfireable(rule: &CompiledRule, source: &dyn EventSource) -> Option<Unfireable> {
    let types: Vec<EventType> = match &rule.evttypes {
        Some(v) => v.clone(),
        None => EventType::all().collect(),
    };
    let (decoded, undecoded): (Vec<EventType>, Vec<EventType>) =
        types.into_iter().partition(|t| source.decodes(*t));
    let unserved = |f: Field, _: &FieldArg| !source.serves(f);
    let fields: Vec<(Field, Availability)> = rule
        .filter
        .fields()
        .iter()
        .filter(|f| !source.serves(**f))
        .map(|f| (*f, f.info().availability))
        .collect();
    if !decoded.is_empty() {
        let root = rule.filter.root();
        for t in &decoded {
            let ev = TypeOnly(*t);
            let decide = |c: &CheckNode| {
                if !operand_known(&c.lhs, &unserved) || !matcher_known(&c.matcher, &unserved) {
                    Some(false)
                } else if c.is_evt_type() {
                    Some(c.eval(&ev))
                } else {
                    None
                }
            };
            if tri_eval(root, &decide) != Tri::False {
                return None;
            }
        }
    }
    // Unrestricted rules: listing every undecoded type says nothing.
    let undecoded = if rule.evttypes.is_none() {
        Vec::new()
    } else {
        undecoded
    };
    Some(Unfireable {
        rule: 0,
        undecoded,
        fields,
    })
}

/// `N rules cannot fire under tiercel: a, b, …` (`None` when there is none).
pub fn summary(program: &Program, list: &[Unfireable]) -> Option<String> {
    if list.is_empty() {
        return None;
    }
    let names: Vec<String> = list
        .iter()
        .filter_map(|u| program.rules().get(u.rule))
        .map(|r| format!("'{}'", r.name))
        .collect();
    let n = list.len();
    Some(format!(
        "{n} rule{} cannot fire under tiercel: {}",
        if n == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{Loader, LoaderOptions};

    /// Produces syscall events only (no meta events), serves every field but the
    /// exit-only and not-served ones.
    #[derive(Debug)]
    struct Syscalls;

    impl EventSource for Syscalls {
        fn decodes(&self, t: EventType) -> bool {
            t.is_x86_64_syscall() && t.name() != "write"
        }
        fn serves(&self, f: Field) -> bool {
            !matches!(
                f.info().availability,
                Availability::ExitOnly | Availability::NotServed
            )
        }
    }

    fn program(yaml: &str) -> Program {
        let mut l = Loader::new(LoaderOptions::default());
        l.add_str("t.yaml", yaml);
        let o = l.finish();
        assert_eq!(o.errors(), 0, "{}", o.render_text());
        o.program.unwrap()
    }

    fn rule(name: &str, cond: &str) -> String {
        format!(
            "- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n"
        )
    }

    fn names(yaml: &str) -> Vec<(String, String)> {
        let p = program(yaml);
        unfireable(&p, &Syscalls)
            .iter()
            .map(|u| (p.rules()[u.rule].name.clone(), u.reason()))
            .collect()
    }

    #[test]
    fn exit_only_field_in_a_conjunction_cannot_fire() {
        let r = names(&rule("c", "evt.type = connect and fd.connected = true"));
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, "c");
        assert!(
            r[0].1
                .contains("field fd.connected has no value at syscall entry"),
            "{r:?}"
        );
    }

    #[test]
    fn another_branch_of_an_or_can_fire() {
        let y = rule(
            "o",
            "evt.type = connect and (fd.connected = true or proc.name = nc)",
        );
        assert!(names(&y).is_empty());
        // a negated check on a missing field is true: the rule can fire
        let y = rule("n", "evt.type = connect and not fd.name_changed = true");
        assert!(names(&y).is_empty());
        // `!=` on a missing value is false as well: cannot fire
        let y = rule("ne", "evt.type = read and evt.buffer != abc");
        assert_eq!(names(&y).len(), 1);
    }

    #[test]
    fn branches_per_event_type() {
        // connect needs fd.connected (missing); open needs nothing missing: can fire
        let y = rule(
            "t",
            "(evt.type = connect and fd.connected = true) or (evt.type = open and proc.name = x)",
        );
        assert!(names(&y).is_empty());
        // each type's branch needs a missing field
        let y = rule(
            "u",
            "(evt.type = connect and fd.connected = true) or (evt.type = read and evt.buflen > 0)",
        );
        let r = names(&y);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(
            r[0].1.contains("fd.connected") && r[0].1.contains("evt.buflen"),
            "{r:?}"
        );
    }

    #[test]
    fn undecoded_event_types() {
        let r = names(&rule("p", "evt.type = procexit and proc.name = x"));
        assert_eq!(r.len(), 1);
        assert!(
            r[0].1.contains("event type procexit is not decoded"),
            "{r:?}"
        );
        let r = names(&rule("w", "evt.type in (write, procexit)"));
        assert!(
            r[0].1
                .contains("event types write, procexit are not decoded"),
            "{r:?}"
        );
        // one decoded type is enough
        assert!(names(&rule("q", "evt.type in (open, procexit)")).is_empty());
        // unrestricted rules can fire
        assert!(names(&rule("a", "proc.name = x")).is_empty());
    }

    #[test]
    fn summary_names_the_rules() {
        let y = rule("a", "evt.type = procexit") + &rule("b", "evt.type = open");
        let p = program(&y);
        let u = unfireable(&p, &Syscalls);
        assert_eq!(
            summary(&p, &u).as_deref(),
            Some("1 rule cannot fire under tiercel: 'a'")
        );
    }
}
