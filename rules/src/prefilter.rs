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
//!
//! [`open_flag_classes`] generalises that to the flag bits that decide more fields
//! ([`OPEN_CLASS_MASK`]: the access mode, `O_CREAT`, `O_TRUNC`, `__O_TMPFILE`,
//! `O_DIRECTORY`): for each value `v` of `flags & OPEN_CLASS_MASK` (a *class*),
//! `evt.is_open_read`/`evt.is_open_write`/`evt.is_open_create` and `fd.typechar` are
//! known ([`open_class_fields`]), and so is a `contains`/`icontains` check on
//! `evt.arg.flags` whose outcome the class fixes for every flags value in it
//! (`flags_contains_in_class`, from the table of the names the flags renderer can
//! show, [`OPEN_FLAG_NAMES`]). The bits whose value never changes the answer are then
//! dropped, so the seccomp filter compares as few bits as possible.
//!
//! [`arg_value_set`] does the same for one numeric exit parameter compared for equality
//! (an ioctl's `evt.arg.request`): the values the rules name, each evaluated known, and
//! one value equal to none of them; [`can_match_arg`] evaluates one rendered value
//! (`unshare` with `CLONE_NEWNS`, for the profile's namespace refusal).

use crate::eval::{bytes_op, CheckNode, CmpOp, Const, Matcher, Node, Operand, StrOp, TArg};
use crate::event::{Event, EventType, FieldArg, Value};
use crate::fields::Field;
use crate::program::Program;

/// Three-valued (Kleene) truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
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

    #[cfg(test)]
    fn eval(&self, n: &Node) -> Tri {
        tri_eval(n, &|c| self.decides(c).then(|| c.eval(self)))
    }
}

/// Kleene evaluation of `n`: `decide` gives a check's value, or `None` when unknown.
pub(crate) fn tri_eval(n: &Node, decide: &dyn Fn(&CheckNode) -> Option<bool>) -> Tri {
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
pub(crate) fn operand_known(op: &Operand, unknown: &dyn Fn(Field, &FieldArg) -> bool) -> bool {
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

pub(crate) fn matcher_known(m: &Matcher, unknown: &dyn Fn(Field, &FieldArg) -> bool) -> bool {
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
        self.can_match_decided(t, &|c| ev.decides(c).then(|| c.eval(&ev)))
    }

    /// False only if every rule evaluated for type `t` is definitely false when the
    /// checks `decide` knows have its values and every other check is unknown.
    fn can_match_decided(&self, t: EventType, decide: &dyn Fn(&CheckNode) -> Option<bool>) -> bool {
        self.rules_for(t).iter().any(|&i| {
            self.rules()
                .get(i as usize)
                .is_none_or(|r| tri_eval(r.filter.root(), decide) != Tri::False)
        })
    }

    /// [`Program::can_match_with`] for an `open`/`openat` event whose flags lie in class
    /// `v` (`flags & OPEN_CLASS_MASK == v`): the fields of [`open_class_fields`] are
    /// known, and so are the `evt.arg.flags` checks [`flags_contains_in_class`] decides.
    pub fn can_match_open_class(&self, t: EventType, v: u64) -> bool {
        let known = open_class_fields(v);
        let ev = Partial { t, known: &known };
        self.can_match_decided(t, &|c| {
            if ev.decides(c) {
                Some(c.eval(&ev))
            } else {
                flags_contains_in_class(c, v)
            }
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

/// `O_CREAT` (x86_64 and generic).
pub const O_CREAT: u64 = 0o100;
/// `O_TRUNC`.
pub const O_TRUNC: u64 = 0o1000;
/// `O_DIRECTORY`.
pub const O_DIRECTORY: u64 = 0o200000;
/// `__O_TMPFILE`: `O_TMPFILE` is `__O_TMPFILE | O_DIRECTORY`.
pub const O_TMPFILE_BIT: u64 = 0o20000000;
/// `O_TMPFILE`.
pub const O_TMPFILE: u64 = O_TMPFILE_BIT | O_DIRECTORY;

/// The open flag bits a class fixes: those deciding `evt.is_open_read`/`write`
/// (`O_ACCMODE`), `evt.is_open_create` (`O_CREAT`, `O_TMPFILE`), `fd.typechar`
/// (`O_DIRECTORY`), and whether `evt.arg.flags` shows `O_RDONLY`, `O_WRONLY`, `O_RDWR`,
/// `O_CREAT`, `O_TRUNC`, `O_DIRECTORY` and `O_TMPFILE`.
pub const OPEN_CLASS_MASK: u64 = O_ACCMODE | O_CREAT | O_TRUNC | O_DIRECTORY | O_TMPFILE_BIT;

/// When a name of [`OPEN_FLAG_NAMES`] appears in `evt.arg.flags` of an open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagBits {
    /// When every bit of the mask is set.
    All(u64),
    /// When the access mode (`flags & O_ACCMODE`) is one of these.
    AccMode(&'static [u64]),
    /// Not decided by the flag bits (never shown for an open's flags, but treated as
    /// possibly shown).
    Other,
}

impl FlagBits {
    /// Whether the name is shown for `flags` (`None`: not decided by the flags).
    pub fn shown(&self, flags: u64) -> Option<bool> {
        match self {
            FlagBits::All(m) => Some(flags & m == *m),
            FlagBits::AccMode(a) => Some(a.contains(&(flags & O_ACCMODE))),
            FlagBits::Other => None,
        }
    }

    /// Whether the name is shown for every flags value of class `v` of `mask`
    /// (`Some(false)`: for none of them; `None`: the class does not decide it).
    fn shown_in_class(&self, v: u64, mask: u64) -> Option<bool> {
        match self {
            FlagBits::All(m) if m & !mask == 0 => self.shown(v),
            FlagBits::AccMode(_) if O_ACCMODE & !mask == 0 => self.shown(v),
            _ => None,
        }
    }
}

/// The names `evt.arg.flags` of an `open`/`openat` can show (Falco's `file_flags` table,
/// in its order), with the kernel flag bits that show each. The supervisor renders the
/// flags with its own copy of Falco's table (`supervisor/src/event/flags.rs`,
/// `FILE_FLAGS`); a unit test there checks that both agree name by name and on what
/// each flags value shows. Kept here as data because the rules crate does not depend
/// on the supervisor, and the analysis must not need a table passed in to be correct.
pub const OPEN_FLAG_NAMES: &[(&str, FlagBits)] = &[
    ("O_LARGEFILE", FlagBits::All(0o100000)),
    ("O_DIRECTORY", FlagBits::All(O_DIRECTORY)),
    ("O_DIRECT", FlagBits::All(0o40000)),
    ("O_TRUNC", FlagBits::All(O_TRUNC)),
    ("O_SYNC", FlagBits::All(0o4010000)),
    ("O_NONBLOCK", FlagBits::All(0o4000)),
    ("O_EXCL", FlagBits::All(0o200)),
    ("O_DSYNC", FlagBits::All(0o10000)),
    ("O_APPEND", FlagBits::All(0o2000)),
    ("O_CREAT", FlagBits::All(O_CREAT)),
    ("O_RDWR", FlagBits::AccMode(&[2])),
    ("O_WRONLY", FlagBits::AccMode(&[1])),
    // Falco's drivers map an access mode of 3 to PPM_O_RDONLY.
    ("O_RDONLY", FlagBits::AccMode(&[0, 3])),
    ("O_CLOEXEC", FlagBits::All(0o2000000)),
    ("O_NONE", FlagBits::Other),
    ("O_TMPFILE", FlagBits::All(O_TMPFILE)),
    ("O_F_CREATED", FlagBits::Other),
];

/// Falco's `evt.is_open_create` for open flags `flags`: `O_CREAT`, or both bits of
/// `O_TMPFILE`. Event sources use it too, so that the prefilter and the rules agree.
pub fn open_creates(flags: u64) -> bool {
    flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE
}

/// The fields class `v` (`flags & OPEN_CLASS_MASK`) of an open decides:
/// `evt.is_open_read`, `evt.is_open_write`, `evt.is_open_create` (`O_CREAT`, or both
/// `O_TMPFILE` bits) and `fd.typechar` (`d` with `O_DIRECTORY`, else `f`).
pub fn open_class_fields(v: u64) -> [(Field, Value<'static>); 4] {
    let [r, w] = open_access_fields(v);
    let create = open_creates(v);
    let typechar = if v & O_DIRECTORY != 0 { "d" } else { "f" };
    [
        r,
        w,
        (Field::EvtIsOpenCreate, Value::Bool(create)),
        (Field::FdTypechar, Value::str(typechar)),
    ]
}

/// The value of check `c` for every open whose flags lie in class `v` of
/// [`OPEN_CLASS_MASK`], when the class decides it: `evt.arg.flags contains P` (or
/// `icontains`, compared as the evaluator does) is true if `P` is part of a name the
/// class shows, false if `P` has no `|` (names are joined by `|`) and is part of no name
/// the class may show; anything else (other operators, other arguments, transformers,
/// a pattern spanning names or part of a name the class does not decide) is unknown.
pub(crate) fn flags_contains_in_class(c: &CheckNode, v: u64) -> Option<bool> {
    let Operand::Field {
        field: Field::EvtArg,
        arg: FieldArg::Name(arg),
    } = &c.lhs
    else {
        return None;
    };
    let Matcher::Str(p) = &c.matcher else {
        return None;
    };
    let op = p.op();
    if &**arg != "flags" || c.lhs_is_list || !matches!(op, StrOp::Contains | StrOp::IContains) {
        return None;
    }
    let pat = p.pattern();
    let mut maybe = false;
    for (name, bits) in OPEN_FLAG_NAMES {
        if !bytes_op(name.as_bytes(), op, pat) {
            continue;
        }
        match bits.shown_in_class(v, OPEN_CLASS_MASK) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => maybe = true,
        }
    }
    (!maybe && !pat.contains(&b'|')).then_some(false)
}

/// The values of `flags & mask` (ascending) for which some rule can match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagClasses {
    /// The flag bits that change the answer (a subset of [`OPEN_CLASS_MASK`]; 0 when
    /// the answer is the same for every flags value).
    pub mask: u64,
    /// The values of `flags & mask` some rule can match: empty for none, `[0]` with
    /// mask 0 for every call.
    pub values: Vec<u64>,
}

/// Every subset of `mask`, ascending.
pub fn subsets(mask: u64) -> Vec<u64> {
    let mut out = vec![0];
    let mut s = 0u64;
    loop {
        s = s.wrapping_sub(mask) & mask;
        if s == 0 {
            break;
        }
        out.push(s);
    }
    out
}

/// The flag classes of `open`/`openat` events (type `t`) that some rule of `program`
/// can match ([`Program::can_match_open_class`] for every value of `flags &
/// OPEN_CLASS_MASK`), over the smallest mask: a bit is dropped when flipping it never
/// changes the answer (then the answer depends on the other bits alone).
pub fn open_flag_classes(program: &Program, t: EventType) -> FlagClasses {
    let all = subsets(OPEN_CLASS_MASK);
    let need: std::collections::BTreeSet<u64> = all
        .iter()
        .copied()
        .filter(|&v| program.can_match_open_class(t, v))
        .collect();
    let mut mask = 0;
    let mut b = 1u64;
    while b <= OPEN_CLASS_MASK {
        if OPEN_CLASS_MASK & b != 0
            && all
                .iter()
                .any(|v| need.contains(v) != need.contains(&(v ^ b)))
        {
            mask |= b;
        }
        b <<= 1;
    }
    let values: std::collections::BTreeSet<u64> = need.iter().map(|v| v & mask).collect();
    FlagClasses {
        mask,
        values: values.into_iter().collect(),
    }
}

/// Whether some rule of `program` for events of type `t` can match an event whose
/// exit parameter `name` is rendered `text` (checks on `evt.arg.NAME` with constants
/// are decided, every other check is unknown).
pub fn can_match_arg(program: &Program, t: EventType, name: &str, text: &str) -> bool {
    let ev = OneArg { t, name, text };
    program.can_match_decided(t, &|c| {
        (is_arg_check(c, name) && constant_matcher(&c.matcher)).then(|| c.eval(&ev))
    })
}

/// The values of one numeric exit parameter for which some rule can match
/// ([`arg_value_set`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValues {
    /// Some rule can match whatever the value (or the analysis cannot tell).
    Any,
    /// Only these values (ascending; empty: no rule can match at all).
    Only(Vec<u64>),
}

/// Whether `c` tests exactly `evt.arg.NAME` (no transformer, not a list).
fn is_arg_check(c: &CheckNode, name: &str) -> bool {
    matches!(&c.lhs, Operand::Field { field: Field::EvtArg, arg: FieldArg::Name(a) } if &**a == name)
        && !c.lhs_is_list
}

/// Calls `f` on every check of `n`.
fn each_check(n: &Node, f: &mut dyn FnMut(&CheckNode)) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().for_each(|k| each_check(k, f)),
        Node::Not(k) | Node::Memo(_, k) => each_check(k, f),
        Node::Check(c) => f(c),
        Node::Const(_) => {}
    }
}

/// The string constants `c` compares its operand with for equality (`=`, `!=`, `in`).
fn equality_constants(c: &CheckNode) -> Option<Vec<&str>> {
    match &c.matcher {
        Matcher::Cmp(CmpOp::Eq | CmpOp::Ne, Const::Str(s)) => Some(vec![&**s]),
        Matcher::Set(set) if !set.intersects => set
            .items
            .iter()
            .map(|i| match i {
                Const::Str(s) => Some(&**s),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// An event that has a type and one rendered exit parameter, nothing else.
struct OneArg<'a> {
    t: EventType,
    name: &'a str,
    text: &'a str,
}

impl Event for OneArg<'_> {
    fn event_type(&self) -> EventType {
        self.t
    }
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
        match (field, arg) {
            (Field::EvtType, FieldArg::None) => Some(Value::str(self.t.name())),
            (Field::EvtArg, FieldArg::Name(n)) if &**n == self.name => Some(Value::str(self.text)),
            _ => None,
        }
    }
}

/// The values of exit parameter `name` of events of type `t` (a number the event source
/// renders as `render(v)`, e.g. Falco's `%X` hex of an ioctl request) for which some
/// rule of `program` can match, every other field unknown: the analysis behind the
/// in-kernel filter on an ioctl's request number.
///
/// The candidates are the constants the rules compare `evt.arg.NAME` with for equality
/// (`=`, `!=`, `in`), turned into numbers by `parse` (a constant `render` would never
/// produce is no candidate: no value can equal it). Each candidate is evaluated with
/// `evt.arg.NAME` known; then one value equal to none of them (an equality or `in` on
/// the parameter is false, `!=` true). If that value can match, or a rule tests the
/// parameter any other way (`startswith`, `evt.rawarg.NAME`, `evt.args` … are unknown
/// checks), the answer is [`ArgValues::Any`].
pub fn arg_value_set(
    program: &Program,
    t: EventType,
    name: &str,
    parse: &dyn Fn(&str) -> Option<u64>,
    render: &dyn Fn(u64) -> String,
) -> ArgValues {
    let mut candidates = std::collections::BTreeSet::new();
    for &i in program.rules_for(t) {
        let Some(r) = program.rules().get(i as usize) else {
            continue;
        };
        each_check(r.filter.root(), &mut |c| {
            if is_arg_check(c, name) {
                for s in equality_constants(c).unwrap_or_default() {
                    if let Some(v) = parse(s).filter(|&v| render(v) == s) {
                        candidates.insert(v);
                    }
                }
            }
        });
    }
    let other = |c: &CheckNode| {
        if !is_arg_check(c, name) {
            return None;
        }
        match &c.matcher {
            Matcher::Cmp(CmpOp::Eq, Const::Str(_)) => Some(false),
            Matcher::Cmp(CmpOp::Ne, Const::Str(_)) => Some(true),
            Matcher::Set(_) if equality_constants(c).is_some() => Some(false),
            _ => None,
        }
    };
    if program.can_match_decided(t, &other) {
        return ArgValues::Any;
    }
    ArgValues::Only(
        candidates
            .into_iter()
            .filter(|&v| can_match_arg(program, t, name, &render(v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::{Loader, LoaderOptions};
    use crate::program::tests::upstream;

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

    #[test]
    fn upstream_stable_rules() {
        let Some(p) = upstream(&["falco_rules.yaml"]) else {
            return;
        };
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

    fn classes(p: &Program, ty: &str) -> (u64, Vec<u64>) {
        let c = open_flag_classes(p, t(ty));
        (c.mask, c.values)
    }

    /// Whether an open with these flags is notified.
    fn notified(p: &Program, ty: &str, flags: u64) -> bool {
        let c = open_flag_classes(p, t(ty));
        c.values.contains(&(flags & c.mask))
    }

    const O_WRONLY: u64 = 1;
    const O_RDWR: u64 = 2;
    const O_CLOEXEC: u64 = 0o2000000;
    const O_NONBLOCK: u64 = 0o4000;

    #[test]
    fn subsets_of_a_mask() {
        assert_eq!(subsets(0), [0]);
        assert_eq!(subsets(0b1010), [0, 0b10, 0b1000, 0b1010]);
        assert_eq!(subsets(OPEN_CLASS_MASK).len(), 64);
    }

    #[test]
    fn class_fields() {
        let f = |v| open_class_fields(v).map(|(_, x)| x);
        let b = Value::Bool;
        assert_eq!(f(0), [b(true), b(false), b(false), Value::str("f")]);
        assert_eq!(
            f(O_WRONLY | O_CREAT),
            [b(false), b(true), b(true), Value::str("f")]
        );
        assert_eq!(
            f(O_RDWR | O_TMPFILE),
            [b(true), b(true), b(true), Value::str("d")]
        );
        // __O_TMPFILE without O_DIRECTORY does not create (the kernel refuses it)
        assert_eq!(f(O_RDWR | O_TMPFILE_BIT)[2], b(false));
        assert_eq!(f(O_DIRECTORY)[3], Value::str("d"));
    }

    #[test]
    fn seed_rule_classes_are_write_modes_of_non_directories() {
        // `open_write` has `fd.typechar='f'`, which O_DIRECTORY decides (libsinsp types
        // the fd of an open by its flags): still two classes, with one more bit
        let p = program(SEED);
        for ty in ["open", "openat"] {
            assert_eq!(
                classes(&p, ty),
                (O_ACCMODE | O_DIRECTORY, vec![1, 2]),
                "{ty}"
            );
        }
        assert_eq!(classes(&p, "execve"), (0, vec![]));
    }

    #[test]
    fn preset_leaves_read_only_opens_alone() {
        let p = program(PRESET);
        for ty in ["open", "openat"] {
            let (mask, values) = classes(&p, ty);
            assert_eq!(mask, OPEN_CLASS_MASK, "{ty}");
            // not notified: access mode 0 or 3, without O_CREAT, O_TRUNC, or both
            // O_TMPFILE bits: 2 × 3 classes
            assert_eq!(values.len(), 64 - 6, "{ty}");
            for ro in [
                0,
                3,
                O_CLOEXEC,
                O_NONBLOCK | O_CLOEXEC,
                O_DIRECTORY | O_CLOEXEC,
                O_TMPFILE_BIT, // EINVAL in the kernel
                3 | O_DIRECTORY,
            ] {
                assert!(!notified(&p, ty, ro), "{ty} {ro:#o}");
            }
            for w in [
                O_WRONLY,
                O_RDWR,
                O_WRONLY | O_CREAT | O_TRUNC,
                O_CREAT,
                O_CREAT | O_CLOEXEC,
                O_TRUNC,
                3 | O_TRUNC,
                O_TMPFILE | O_RDWR,
                O_TMPFILE,
                O_DIRECTORY | O_CREAT,
            ] {
                assert!(notified(&p, ty, w), "{ty} {w:#o}");
            }
        }
    }

    #[test]
    fn flags_checks_decided_by_the_class() {
        let c = |cond: &str| {
            classes(
                &program(&rule(&format!("evt.type=openat and {cond}"))),
                "openat",
            )
        };
        let every = (0, vec![0]);
        assert_eq!(
            c("evt.arg.flags contains O_CREAT"),
            (O_CREAT, vec![O_CREAT])
        );
        assert_eq!(
            c("evt.arg.flags icontains o_trunc"),
            (O_TRUNC, vec![O_TRUNC])
        );
        assert_eq!(
            c("evt.arg.flags contains O_TMP"),
            (O_TMPFILE, vec![O_TMPFILE])
        );
        assert_eq!(c("evt.arg.flags contains RDWR"), (O_ACCMODE, vec![2]));
        assert_eq!(c("evt.arg.flags contains WR"), (O_ACCMODE, vec![1, 2]));
        // O_RDONLY shows for access modes 0 and 3
        assert_eq!(
            c("not evt.arg.flags contains O_RDONLY"),
            (O_ACCMODE, vec![1, 2])
        );
        assert_eq!(
            c("fd.typechar='d' and evt.arg.flags contains O_WRONLY"),
            (O_ACCMODE | O_DIRECTORY, vec![O_DIRECTORY | 1])
        );
        assert_eq!(
            c("evt.is_open_create=true"),
            (
                O_CREAT | O_TMPFILE,
                vec![
                    O_CREAT,
                    O_DIRECTORY | O_CREAT,
                    O_TMPFILE_BIT | O_CREAT,
                    O_TMPFILE,
                    O_TMPFILE | O_CREAT
                ]
            )
        );
        // O_SYNC is part of O_DSYNC, neither decided by the class: unknown
        assert_eq!(c("evt.arg.flags contains O_SYNC"), every);
        assert_eq!(c("not evt.arg.flags contains O_SYNC"), every);
        // O_DIRECT is part of O_DIRECTORY but is not decided itself
        assert_eq!(c("evt.arg.flags contains O_DIRECT"), every);
        // a pattern spanning names: unknown (unless a shown name contains it)
        assert_eq!(c("evt.arg.flags contains \"O_CREAT|O_WR\""), every);
        // other operators and arguments: unknown
        assert_eq!(c("evt.arg.flags startswith O_CREAT"), every);
        assert_eq!(c("evt.arg.flags = O_RDONLY"), every);
        assert_eq!(c("evt.arg.mode contains O_CREAT"), every);
        assert_eq!(
            c("evt.arg.flags contains O_CREAT and proc.name=cat"),
            (O_CREAT, vec![O_CREAT])
        );
        // a name no class shows: false everywhere
        assert_eq!(c("evt.arg.flags contains O_NOSUCH"), (0, vec![]));
        // no rule for the type
        assert_eq!(
            classes(&program(&rule("evt.type=execve")), "openat"),
            (0, vec![])
        );
    }

    #[test]
    fn upstream_stable_rules_flag_classes() {
        let Some(p) = upstream(&["falco_rules.yaml"]) else {
            return;
        };
        // every rule on open/openat has `fd.typechar='f'` (open_read, open_write,
        // open_file_failed), and "Directory traversal monitored file read" needs every
        // access mode: only O_DIRECTORY opens are left in the kernel
        for ty in ["open", "openat"] {
            assert_eq!(classes(&p, ty), (O_DIRECTORY, vec![0]), "{ty}");
        }
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

    fn requests(text: &str) -> ArgValues {
        let p = program(text);
        arg_value_set(
            &p,
            t("ioctl"),
            "request",
            &|s| {
                u64::from_str_radix(s, 16)
                    .ok()
                    .filter(|&v| v <= 0xffff_ffff)
            },
            &|v| format!("{v:X}"),
        )
    }

    #[test]
    fn ioctl_request_set_from_equalities() {
        let only = |v: &[u64]| ArgValues::Only(v.to_vec());
        // `in` and `=`: exactly the listed values (not the unrenderable ones).
        assert_eq!(
            requests(&rule(
                "evt.type=ioctl and evt.arg.request in (40086602, 401C5820, 0x1, 401c5820)"
            )),
            only(&[0x4008_6602, 0x401C_5820])
        );
        assert_eq!(
            requests(&rule(
                "evt.type=ioctl and (evt.arg.request=40086602 or evt.arg.request=40049409) and fd.name startswith /bin"
            )),
            only(&[0x4004_9409, 0x4008_6602])
        );
        // A value excluded by `not in` in the same rule is not needed.
        assert_eq!(
            requests(&rule(
                "evt.type=ioctl and evt.arg.request in (40086602, 40049409) and not evt.arg.request in (40049409)"
            )),
            only(&[0x4008_6602])
        );
        // Other event types do not count.
        assert_eq!(
            requests(&rule("evt.type=open and evt.arg.request=40086602")),
            only(&[])
        );
    }

    #[test]
    fn ioctl_request_set_any_when_the_rules_cannot_be_enumerated() {
        for cond in [
            "evt.type=ioctl",
            "evt.type=ioctl and fd.name startswith /bin",
            "evt.type=ioctl and evt.arg.request != 40086602",
            "evt.type=ioctl and evt.arg.request startswith 4008",
            "evt.type=ioctl and evt.rawarg.request=1074292226",
            "evt.type=ioctl and evt.args contains 40086602",
            "evt.type=ioctl and not evt.arg.request in (5401)",
            "evt.type in (ioctl, open) and (evt.arg.request=40086602 or proc.name=x)",
        ] {
            assert_eq!(requests(&rule(cond)), ArgValues::Any, "{cond}");
        }
    }

    #[test]
    fn ioctl_request_set_of_the_preset_is_finite() {
        let ArgValues::Only(v) = requests(PRESET) else {
            panic!("the preset's ioctl rule must name its requests");
        };
        for want in [0x4008_6602u64, 0x401C_5820, 0x4004_9409] {
            assert!(v.contains(&want), "{want:#x} missing: {v:x?}");
        }
        assert!(!v.contains(&0x5401), "TCGETS is not an inode change");
        assert!(
            !v.contains(&0x8008_6601),
            "FS_IOC_GETFLAGS is not an inode change"
        );
    }
}
