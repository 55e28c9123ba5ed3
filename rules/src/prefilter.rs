//! What the loaded rules can match when only some fields of an event are known: the
//! analysis behind in-kernel prefiltering (a seccomp filter can only look at a syscall's
//! number and register arguments, so only events whose rule outcome is decided by those
//! may be left in the kernel).
//!
//! [`Program::can_match_with`] evaluates, for an event type, every rule the program
//! evaluates for that type (rules restricted to it and rules without an event-type
//! restriction; exceptions are part of the compiled conditions) in three-valued logic:
//! a check whose left operand is `evt.type` or one of the known fields, without
//! transformer and compared with constants, is decided by evaluating it against an event
//! that has only those fields (as [`crate::eval`]'s `evt.type` folding does); every other
//! check is unknown, and `and`/`or`/`not` propagate true/false/unknown (Kleene). The
//! answer is `false` only if every rule is definitely false: conservative by
//! construction, since an unknown check may take either value on a real event.
//!
//! [`open_access_modes`] applies it to the access mode of `open`/`openat` (`flags &
//! O_ACCMODE`), the part of the flags that decides Falco's `evt.is_open_read` and
//! `evt.is_open_write` ([`open_access_fields`]).

use crate::eval::{CheckNode, Matcher, Node, Operand, TArg};
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::Field;
use crate::program::Program;

/// Three-valued (Kleene) truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    False,
    True,
    Unknown,
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
}

/// An event that has a type and the known fields (without argument), nothing else.
struct Partial<'a> {
    t: EventType,
    known: &'a [(Field, Value<'a>)],
}

impl Event for Partial<'_> {
    fn event_type(&self) -> EventType {
        self.t
    }
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        if *arg != FieldArg::None {
            return None;
        }
        if field == Field::EvtType {
            return Some(Value::str(self.t.name()));
        }
        self.known
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, v)| v.clone())
    }
}

/// A matcher that needs no other operand of the event (constants only).
fn constant_matcher(m: &Matcher) -> bool {
    match m {
        Matcher::Operand(..) => false,
        Matcher::Modifier(_, items) => items.iter().all(constant_matcher),
        _ => true,
    }
}

impl Partial<'_> {
    /// Whether `c` is decided by this event's fields alone.
    fn decides(&self, c: &CheckNode) -> bool {
        let Operand::Field {
            field,
            arg: FieldArg::None,
        } = &c.lhs
        else {
            return false;
        };
        (*field == Field::EvtType || self.known.iter().any(|(f, _)| f == field))
            && constant_matcher(&c.matcher)
    }

    fn eval(&self, n: &Node) -> Tri {
        tri_eval(n, &|c| self.decides(c).then(|| c.eval(self)))
    }
}

/// Kleene evaluation of `n`: `decide` gives a check's value, or `None` when unknown.
fn tri_eval(n: &Node, decide: &dyn Fn(&CheckNode) -> Option<bool>) -> Tri {
    match n {
        Node::Const(b) => Tri::from(*b),
        Node::Not(k) => match tri_eval(k, decide) {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        },
        Node::Memo(_, k) => tri_eval(k, decide),
        Node::And(v) | Node::Or(v) => {
            // `and`: false decides, true is neutral; `or` the other way round.
            let decisive = Tri::from(matches!(n, Node::Or(_)));
            let mut r = Tri::from(matches!(n, Node::And(_)));
            for k in v {
                match tri_eval(k, decide) {
                    x if x == decisive => return x,
                    Tri::Unknown => r = Tri::Unknown,
                    _ => {}
                }
            }
            r
        }
        Node::Check(c) => decide(c).map_or(Tri::Unknown, Tri::from),
    }
}

/// Whether every field `op` reads is known (`unknown` says which are not).
fn operand_known(op: &Operand, unknown: &dyn Fn(Field, &FieldArg) -> bool) -> bool {
    match op {
        Operand::Field { field, arg } => !unknown(*field, arg),
        Operand::Transform(t) => t.args.iter().all(|a| targ_known(a, unknown)),
    }
}

fn targ_known(a: &TArg, unknown: &dyn Fn(Field, &FieldArg) -> bool) -> bool {
    match a {
        TArg::Operand(o) => operand_known(o, unknown),
        TArg::Lit(_) => true,
        TArg::List(v) => v.iter().all(|x| targ_known(x, unknown)),
    }
}

fn matcher_known(m: &Matcher, unknown: &dyn Fn(Field, &FieldArg) -> bool) -> bool {
    match m {
        Matcher::Operand(_, _, op) => operand_known(op, unknown),
        Matcher::Modifier(_, items) => items.iter().all(|i| matcher_known(i, unknown)),
        _ => true,
    }
}

impl Program {
    /// False only if none of the rules `select` picks among those evaluated for `ev`'s
    /// type can match `ev` whatever the values of the fields `unknown` names (the
    /// others are read from `ev`). Enforcement uses it to skip resolving paths when no
    /// deny rule could match on any path.
    pub fn can_match_masked(
        &self,
        ev: &dyn Event,
        select: &dyn Fn(usize) -> bool,
        unknown: &dyn Fn(Field, &FieldArg) -> bool,
    ) -> bool {
        let decide = |c: &CheckNode| {
            (operand_known(&c.lhs, unknown) && matcher_known(&c.matcher, unknown))
                .then(|| c.eval(ev))
        };
        self.rules_for(ev.event_type())
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| select(i))
            .any(|i| {
                self.rules()
                    .get(i)
                    .is_none_or(|r| tri_eval(r.filter.root(), &decide) != Tri::False)
            })
    }

    /// False only if no rule evaluated for events of type `t` can match an event whose
    /// fields `known` (without argument, e.g. `evt.is_open_write`) have the given values,
    /// whatever the values of its other fields. True means "maybe".
    pub fn can_match_with(&self, t: EventType, known: &[(Field, Value<'_>)]) -> bool {
        let ev = Partial { t, known };
        self.rules_for(t).iter().any(|&i| {
            self.rules()
                .get(i as usize)
                .is_none_or(|r| ev.eval(r.filter.root()) != Tri::False)
        })
    }
}

/// `O_ACCMODE`: the access-mode bits of open flags.
pub const O_ACCMODE: u64 = 0o3;

/// Falco's `evt.is_open_read` and `evt.is_open_write` for access mode `acc` (`flags &
/// O_ACCMODE`). Falco's drivers map the access mode to `PPM_O_WRONLY` for 1
/// (`O_WRONLY`), `PPM_O_RDWR` (both bits) for 2 and `PPM_O_RDONLY` for anything else,
/// 3 included; the fields test those bits. Event sources use this function for both
/// fields, so that the kernel-side prefilter and the values rules see cannot disagree.
pub fn open_is_read_write(acc: u64) -> (bool, bool) {
    match acc & O_ACCMODE {
        1 => (false, true),
        2 => (true, true),
        _ => (true, false),
    }
}

/// [`open_is_read_write`] as known field values for [`Program::can_match_with`].
pub fn open_access_fields(acc: u64) -> [(Field, Value<'static>); 2] {
    let (r, w) = open_is_read_write(acc);
    [
        (Field::EvtIsOpenRead, Value::Bool(r)),
        (Field::EvtIsOpenWrite, Value::Bool(w)),
    ]
}

/// The access modes (`flags & O_ACCMODE`, ascending, among 0..=3) of events of type `t`
/// (an open call whose access mode is known) that some rule of `program` can match.
pub fn open_access_modes(program: &Program, t: EventType) -> Vec<u64> {
    (0..=O_ACCMODE)
        .filter(|&acc| program.can_match_with(t, &open_access_fields(acc)))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::loader::{Loader, LoaderOptions};

    fn program(text: &str) -> Program {
        let mut l = Loader::new(LoaderOptions::default());
        l.add_str("test.yaml", text);
        let mut out = l.finish();
        match out.program.take() {
            Some(p) => p,
            None => panic!("rules do not load:\n{}", out.render_text()),
        }
    }

    fn rule(cond: &str) -> String {
        format!("- rule: r\n  desc: d\n  condition: {cond}\n  output: o\n  priority: WARNING\n")
    }

    fn t(name: &str) -> EventType {
        EventType::from_name(name).unwrap()
    }

    fn modes(p: &Program, ty: &str) -> Vec<u64> {
        open_access_modes(p, t(ty))
    }

    const SEED: &str = include_str!("../../examples/rules/seed-write-below-binary-dir.yaml");
    const PRESET: &str = include_str!("../../examples/rules/protect-binary-dirs.yaml");

    #[test]
    fn access_fields() {
        let f = |acc| {
            let [(_, r), (_, w)] = open_access_fields(acc);
            (r, w)
        };
        assert_eq!(f(0), (Value::Bool(true), Value::Bool(false)));
        assert_eq!(f(1), (Value::Bool(false), Value::Bool(true)));
        assert_eq!(f(2), (Value::Bool(true), Value::Bool(true)));
        // Falco's drivers map an access mode of 3 to PPM_O_RDONLY.
        assert_eq!(f(3), (Value::Bool(true), Value::Bool(false)));
    }

    #[test]
    fn seed_rule_needs_write_modes_only() {
        let p = program(SEED);
        assert_eq!(modes(&p, "openat"), vec![1, 2]);
        assert_eq!(modes(&p, "open"), vec![1, 2]);
        // not a type of the rule
        assert!(modes(&p, "openat2").is_empty());
        assert!(modes(&p, "execve").is_empty());
    }

    #[test]
    fn open_read_needs_read_modes() {
        let p = program(&rule(
            "evt.type in (open, openat) and evt.is_open_read=true and fd.name startswith /etc",
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 2, 3]);
    }

    #[test]
    fn negations_and_false_comparisons() {
        let p = program(&rule(
            "evt.type=openat and evt.is_open_write=false and fd.name=/x",
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 3]);
        let p = program(&rule(
            "evt.type=openat and not evt.is_open_write=true and proc.name=cat",
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 3]);
        let p = program(&rule(
            "evt.type=openat and not (evt.is_open_read=true or proc.name=cat)",
        ));
        assert_eq!(modes(&p, "openat"), vec![1]);
        let p = program(&rule(
            "evt.type=openat and evt.is_open_read=true and evt.is_open_write=true",
        ));
        assert_eq!(modes(&p, "openat"), vec![2]);
        let p = program(&rule(
            "evt.type=openat and evt.is_open_read=true and evt.is_open_read=false",
        ));
        assert!(modes(&p, "openat").is_empty());
        // `!=` and `in` on the known field
        let p = program(&rule("evt.type=openat and evt.is_open_write != true"));
        assert_eq!(modes(&p, "openat"), vec![0, 3]);
    }

    #[test]
    fn unknown_fields_keep_every_mode() {
        let p = program(&rule("evt.type=openat and evt.arg.flags contains O_RDONLY"));
        assert_eq!(modes(&p, "openat"), vec![0, 1, 2, 3]);
        // an `or` with an unknown check keeps the other side alive
        let p = program(&rule(
            "evt.type=openat and (evt.is_open_write=true or fd.name=/etc/shadow)",
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 1, 2, 3]);
        // a field compared with another field is not decided
        let p = program(&rule(
            "evt.type=openat and evt.is_open_write=val(evt.is_open_read)",
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn rules_without_event_type() {
        // no evttype restriction: evaluated for every type
        let p = program(&rule("proc.name=cat"));
        assert_eq!(modes(&p, "openat"), vec![0, 1, 2, 3]);
        let p = program(&rule("evt.is_open_write=true and proc.name=cat"));
        assert_eq!(modes(&p, "openat"), vec![1, 2]);
        // together with a write rule: the union
        let p = program(&format!(
            "{}{}",
            rule("evt.type=openat and evt.is_open_write=true"),
            rule("evt.is_open_read=true and proc.name=cat").replace("rule: r", "rule: r2")
        ));
        assert_eq!(modes(&p, "openat"), vec![0, 1, 2, 3]);
    }

    #[test]
    fn exceptions_are_part_of_the_condition() {
        // an exception can only make a rule match less
        let text = "- rule: r\n  desc: d\n  condition: evt.type=openat and evt.is_open_write=true\n  output: o\n  priority: WARNING\n  exceptions:\n    - name: ro\n      fields: [evt.is_open_read]\n      comps: [=]\n      values: [[true]]\n";
        let p = program(text);
        // write-only matches; read-write is excepted (evt.is_open_read=true)
        assert_eq!(modes(&p, "openat"), vec![1]);
        let text = text.replace("[[true]]", "[[false]]");
        assert_eq!(modes(&program(&text), "openat"), vec![2]);
        let text = "- rule: r\n  desc: d\n  condition: evt.type=openat and evt.is_open_write=true\n  output: o\n  priority: WARNING\n  exceptions:\n    - name: cat\n      fields: [proc.name]\n      values: [[cat]]\n";
        assert_eq!(modes(&program(text), "openat"), vec![1, 2]);
    }

    #[test]
    fn preset_needs_every_mode() {
        // `evt.arg.flags contains O_CREAT` (any access mode) keeps every mode
        let p = program(PRESET);
        for ty in ["open", "openat", "openat2"] {
            assert_eq!(modes(&p, ty), vec![0, 1, 2, 3], "{ty}");
        }
    }

    fn upstream(files: &[&str]) -> Program {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/upstream-rules");
        let mut l = Loader::new(LoaderOptions::default());
        for f in files {
            l.add_file(&root.join(f));
        }
        let mut out = l.finish();
        match out.program.take() {
            Some(p) => p,
            None => panic!("upstream rules do not load:\n{}", out.render_text()),
        }
    }

    #[test]
    fn upstream_stable_rules() {
        let p = upstream(&["falco_rules.yaml"]);
        // Read rules need 0 and 2, write rules 1 and 2, and "Directory traversal
        // monitored file read" (`open_read or open_file_failed`: the failure is unknown
        // in the kernel) every mode: no prefilter for the stable rules.
        for ty in ["open", "openat"] {
            assert_eq!(modes(&p, ty), vec![0, 1, 2, 3], "{ty}");
        }
        let rules_for = |acc| {
            let known = open_access_fields(acc);
            let ev = Partial {
                t: t("openat"),
                known: &known,
            };
            p.rules_for(t("openat"))
                .iter()
                .map(|&i| &p.rules()[i as usize])
                .filter(|r| ev.eval(r.filter.root()) != Tri::False)
                .map(|r| r.name.clone())
                .collect::<Vec<String>>()
        };
        let traversal = "Directory traversal monitored file read";
        assert_eq!(
            rules_for(0),
            [
                traversal,
                "Read sensitive file trusted after startup",
                "Read sensitive file untrusted"
            ]
        );
        assert_eq!(
            rules_for(1),
            [
                traversal,
                "Clear Log Activities",
                "Detect release_agent File Container Escapes"
            ]
        );
        assert_eq!(rules_for(2).len(), 5);
        assert_eq!(rules_for(3), rules_for(0));
    }

    #[test]
    fn masked_fields_leave_only_the_known_ones_deciding() {
        use crate::json_event::JsonEvent;
        let p = program(PRESET);
        let path_fields = |f: Field, _: &FieldArg| {
            matches!(f, Field::FdName | Field::FdDirectory | Field::FdFilename)
        };
        let all = |_: usize| true;
        // A read-only open without O_CREAT/O_TRUNC: no rule of the preset can match,
        // whatever the path turns out to be.
        let ro = JsonEvent::parse(
            r#"{"evt.type":"openat","evt.is_open_write":false,"evt.is_open_read":true,"evt.arg.flags":"O_RDONLY","fd.name":"/etc/passwd","fd.directory":"/etc","proc.name":"cat"}"#,
        )
        .unwrap();
        assert!(!p.can_match_masked(&ro, &all, &path_fields));
        // Writing: the path decides, so it may match.
        let wr = JsonEvent::parse(
            r#"{"evt.type":"openat","evt.is_open_write":true,"evt.is_open_read":false,"evt.arg.flags":"O_WRONLY|O_CREAT","fd.name":"/tmp/x","fd.directory":"/tmp","fd.typechar":"f","fd.num":3,"proc.name":"touch"}"#,
        )
        .unwrap();
        assert!(p.can_match_masked(&wr, &all, &path_fields));
        // With nothing unknown it is plain evaluation: /tmp matches nothing.
        assert!(!p.can_match_masked(&wr, &all, &|_, _| false));
        // No rule selected: nothing can match.
        assert!(!p.can_match_masked(&wr, &|_| false, &path_fields));
    }
}
