//! Stage 5: compiled rules indexed by event type; evaluation.
//!
//! [`Program::new`] builds, for every event type, the list of rules that can match it:
//! the rules whose event-type set contains it merged with the rules that apply to every
//! type, in definition order. Evaluating an event walks only its type's list.
//!
//! For evaluation the rule trees are prepared once more (the rules' own
//! [`CompiledRule::filter`]s are left as compiled):
//! * subtrees that occur more than once among all rules (macros, repeated checks) are
//!   found by hash-consing and wrapped in [`Node::Memo`]: per event each is evaluated
//!   at most once;
//! * per event type, `evt.type` checks are folded to constants and the constants
//!   propagated ([`Node::fold_evt_type`]); a rule that folds to `false` is dropped from
//!   that type's list. Types on which a rule's `evt.type` checks give the same outcomes
//!   share one folded tree.
//!
//! Evaluation is pure (no side effects, no state kept between events), so both
//! transformations keep every result. They rely on one invariant of event sources:
//! `extract(evt.type)` is the name of `event_type()`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::compile::Filter;
// Defined with the jump code that honours it; re-exported here, where it is chosen.
use crate::eval::{Code, Memo, Node, MEMO_SLOTS};
pub use crate::eval::{FieldRanges, RuleMatching};
use crate::event::Event;
use crate::evttype::EventType;
use crate::fields::Field;
use crate::output::{Alert, AlertOptions, OutputFormat};
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

/// The alert constructor lives beside [`CompiledRule`] (the rest of [`Alert`] is in
/// [`crate::output`], which this module depends on for the rules' output formats).
impl Alert {
    pub fn new(
        rule: &CompiledRule,
        ev: &dyn Event,
        time_ns: u64,
        hostname: &str,
        options: AlertOptions,
    ) -> Alert {
        let mut output_fields = rule.output.output_fields(ev);
        let key = if options.time_iso8601 {
            "evt.time.iso8601"
        } else {
            "evt.time"
        };
        output_fields.insert(key.to_string(), Json::from(time_ns));
        let mut tags = rule.tags.clone();
        tags.sort();
        tags.dedup();
        Alert {
            rule: rule.name.clone(),
            priority: rule.priority,
            source: rule.source.clone(),
            tags,
            message: rule.output.render(ev),
            output_fields,
            time_ns,
            hostname: hostname.to_string(),
            options,
        }
    }
}

/// The rules, in definition order, indexed by event type.
#[derive(Debug, Clone, Default)]
pub struct Program {
    rules: Vec<CompiledRule>,
    /// `by_type[t]` = indices of the rules that can match type `t`, ascending.
    by_type: Vec<Vec<u32>>,
    /// Rules without an event-type restriction (for types outside the table).
    any_type: Vec<u32>,
    /// `eval_by_type[t]` = the code of the rules evaluated for type `t`, folded for `t`.
    eval_by_type: Vec<TypeCode>,
    /// The same, unfolded, for `any_type`.
    eval_any_type: TypeCode,
}

/// Above this many instructions in merged per-type codes, further types get a list of
/// per-rule codes instead (shared between types): a bound on memory for rule files with
/// many rules that apply to many types.
const MAX_MERGED_INS: usize = 1 << 20;

/// The code run for the events of one type.
#[derive(Debug, Clone)]
enum TypeCode {
    /// All the type's rules in one code.
    Merged(Arc<Code>),
    /// One code per rule, in rule order.
    Rules(Arc<Vec<(u32, Arc<Code>)>>),
}

impl Default for TypeCode {
    fn default() -> TypeCode {
        TypeCode::Merged(Arc::default())
    }
}

impl Program {
    pub fn new(rules: Vec<CompiledRule>) -> Program {
        Program::with_budget(rules, MAX_MERGED_INS)
    }

    /// The same rules, evaluated with the operands of every `and`/`or` ordered by the
    /// cost of the fields they read, cheapest first ([`Node::order_by_cost`]): `cost`
    /// is the event source's estimate of what extracting a field costs (0 = free).
    /// Every result is the same as with [`Program::new`]; only the fields read before
    /// an outcome is known change.
    pub fn with_field_costs(self, cost: &dyn Fn(Field) -> u32) -> Program {
        Program::build(self.rules, MAX_MERGED_INS, Some(cost), None)
    }

    /// [`Program::with_field_costs`], and per event type the comparisons that the
    /// source's declared field ranges decide folded to constants ([`FieldRanges`]).
    /// Every result is the same as with [`Program::new`] on events whose fields lie in
    /// the declared ranges.
    pub fn with_field_hints(self, cost: &dyn Fn(Field) -> u32, ranges: FieldRanges<'_>) -> Program {
        Program::build(self.rules, MAX_MERGED_INS, Some(cost), Some(ranges))
    }

    /// [`Program::new`] with a bound on the instructions of merged per-type codes.
    fn with_budget(rules: Vec<CompiledRule>, max_merged_ins: usize) -> Program {
        Program::build(rules, max_merged_ins, None, None)
    }

    fn build(
        rules: Vec<CompiledRule>,
        max_merged_ins: usize,
        cost: Option<&dyn Fn(Field) -> u32>,
        ranges: Option<FieldRanges<'_>>,
    ) -> Program {
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
        let trees: Vec<Arc<Node>> = share_subtrees(&rules)
            .into_iter()
            .map(|t| match cost {
                Some(c) => Arc::new(t.order_by_cost(c).0),
                None => Arc::new(t),
            })
            .collect();
        let eval_any_type = TypeCode::Merged(Arc::new(Code::rules(
            any_type.iter().map(|&i| (i, &*trees[i as usize])),
        )));
        // Per rule: folded tree by the outcomes of its `evt.type` checks (`None` = false).
        let mut folded: Vec<HashMap<Vec<bool>, Option<Arc<Node>>>> =
            vec![HashMap::new(); rules.len()];
        // Per rule and folding: its own code (used when merged codes get too big).
        let mut single: HashMap<usize, Arc<Code>> = HashMap::new();
        // Types whose folded rule lists are the same share one code.
        let mut codes: HashMap<Vec<(u32, usize)>, TypeCode> = HashMap::new();
        let mut merged_ins = 0usize;
        let mut outcomes = Vec::new();
        let eval_by_type = by_type
            .iter()
            .enumerate()
            .map(|(t, list)| {
                let t = EventType(t as u16);
                let list: Vec<(u32, Arc<Node>)> = list
                    .iter()
                    .filter_map(|&i| {
                        let tree = &trees[i as usize];
                        outcomes.clear();
                        tree.evt_type_outcomes(t, ranges, &mut outcomes);
                        if outcomes.is_empty() {
                            return Some((i, tree.clone()));
                        }
                        folded[i as usize]
                            .entry(outcomes.clone())
                            .or_insert_with(|| match tree.fold_evt_type(t, ranges) {
                                Node::Const(false) => None,
                                n => Some(Arc::new(n)),
                            })
                            .clone()
                            .map(|n| (i, n))
                    })
                    .collect();
                let key = list
                    .iter()
                    .map(|(i, n)| (*i, Arc::as_ptr(n) as usize))
                    .collect();
                codes
                    .entry(key)
                    .or_insert_with(|| {
                        if merged_ins < max_merged_ins {
                            let code = Code::rules(list.iter().map(|(i, n)| (*i, &**n)));
                            merged_ins += code.len();
                            TypeCode::Merged(Arc::new(code))
                        } else {
                            let codes = list
                                .iter()
                                .map(|(i, n)| {
                                    let c = single
                                        .entry(Arc::as_ptr(n) as usize)
                                        .or_insert_with(|| Arc::new(Code::new(n)));
                                    (*i, c.clone())
                                })
                                .collect();
                            TypeCode::Rules(Arc::new(codes))
                        }
                    })
                    .clone()
            })
            .collect();
        Program {
            rules,
            by_type,
            any_type,
            eval_by_type,
            eval_any_type,
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
        let code = self
            .eval_by_type
            .get(event.event_type().0 as usize)
            .unwrap_or(&self.eval_any_type);
        let mut memo = Memo::new();
        match code {
            TypeCode::Merged(c) if c.len() == 0 => {}
            TypeCode::Merged(c) => {
                c.run(event, matching, &mut memo, out);
            }
            TypeCode::Rules(rules) => {
                for (i, c) in rules.iter() {
                    if c.test(event, &mut memo) {
                        out.push(*i as usize);
                        if matching == RuleMatching::First {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// The structure of a subtree, children by id (hash-consing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Shape {
    /// A check, by its full debug text (operand, typed constants, patterns).
    Check(String),
    And(Vec<u32>),
    Or(Vec<u32>),
    Not(u32),
    Const(bool),
    Memo(u32),
}

#[derive(Default)]
struct Interner {
    ids: HashMap<Shape, u32>,
    /// Occurrences of each id among all trees.
    count: Vec<u32>,
    /// Memo slot of each id worth remembering.
    slot: HashMap<u32, u16>,
}

impl Interner {
    fn id(&mut self, shape: Shape, count: bool) -> u32 {
        let next = self.ids.len() as u32;
        let id = *self.ids.entry(shape).or_insert(next);
        if id == next {
            self.count.push(0);
        }
        if count {
            self.count[id as usize] += 1;
        }
        id
    }

    fn shape_of(&mut self, n: &Node, count: bool) -> u32 {
        let shape = match n {
            Node::And(v) => Shape::And(v.iter().map(|k| self.shape_of(k, count)).collect()),
            Node::Or(v) => Shape::Or(v.iter().map(|k| self.shape_of(k, count)).collect()),
            Node::Not(k) => Shape::Not(self.shape_of(k, count)),
            Node::Memo(_, k) => Shape::Memo(self.shape_of(k, count)),
            Node::Const(b) => Shape::Const(*b),
            Node::Check(c) => Shape::Check(format!("{c:?}")),
        };
        self.id(shape, count)
    }

    /// A copy of `n` whose shared proper subtrees are wrapped in [`Node::Memo`], with
    /// the id of `n` and whether `n` itself may be remembered (`not x` is remembered as
    /// `x`, constants and `evt.type` checks, folded per type, are not).
    fn wrap(&mut self, n: &Node) -> (Node, u32, bool) {
        match n {
            Node::And(v) | Node::Or(v) => {
                let kids: Vec<(Node, u32, bool)> = v.iter().map(|k| self.wrap(k)).collect();
                let ids: Vec<u32> = kids.iter().map(|k| k.1).collect();
                let is_and = matches!(n, Node::And(_));
                let id = self.id(
                    if is_and {
                        Shape::And(ids)
                    } else {
                        Shape::Or(ids)
                    },
                    false,
                );
                let within = self.count[id as usize];
                let kids = kids
                    .into_iter()
                    .map(|(k, kid, ok)| self.memo(k, kid, ok, within))
                    .collect();
                (
                    if is_and {
                        Node::And(kids)
                    } else {
                        Node::Or(kids)
                    },
                    id,
                    true,
                )
            }
            Node::Not(k) => {
                let (k, kid, ok) = self.wrap(k);
                let id = self.id(Shape::Not(kid), false);
                let within = self.count[id as usize];
                (
                    Node::Not(Box::new(self.memo(k, kid, ok, within))),
                    id,
                    false,
                )
            }
            Node::Memo(_, k) => self.wrap(k),
            Node::Const(b) => (Node::Const(*b), self.id(Shape::Const(*b), false), false),
            Node::Check(c) => (
                n.clone(),
                self.id(Shape::Check(format!("{c:?}")), false),
                !c.is_evt_type(),
            ),
        }
    }

    /// `n` (of id `id`) wrapped in [`Node::Memo`] if it occurs more often than `within`,
    /// the occurrences of its parent (else it is shared only through the parent).
    fn memo(&mut self, n: Node, id: u32, ok: bool, within: u32) -> Node {
        let own = self.count[id as usize];
        if !ok || own <= within.max(1) {
            return n;
        }
        let next = self.slot.len();
        let slot = match self.slot.get(&id) {
            Some(s) => *s,
            None if next < MEMO_SLOTS => {
                let s = next as u16;
                self.slot.insert(id, s);
                s
            }
            None => return n,
        };
        Node::Memo(slot, Box::new(n))
    }
}

/// Every rule's tree with the subtrees shared across rules (or within one) wrapped in
/// [`Node::Memo`].
fn share_subtrees(rules: &[CompiledRule]) -> Vec<Node> {
    let mut int = Interner::default();
    for r in rules {
        int.shape_of(r.filter.root(), true);
    }
    rules
        .iter()
        .map(|r| {
            let (n, id, ok) = int.wrap(r.filter.root());
            int.memo(n, id, ok, 1)
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::eval::{CheckNode, Const, Matcher, Operand};
    use crate::event::{FieldArg, Value};
    use crate::fields::{Field, FieldType};
    use crate::json_event::JsonEvent;
    use crate::loader::{Loader, LoaderOptions};

    /// The upstream rule files `files` (`upstream-rules/` of the shared directory) loaded
    /// together; `None` (the test is skipped, see `tiercel_testdata`) when they are absent.
    pub(crate) fn upstream(files: &[&str]) -> Option<Program> {
        let mut l = Loader::new(LoaderOptions::default());
        for f in files {
            l.add_file(&tiercel_testdata::upstream(&format!("upstream-rules/{f}"))?);
        }
        let mut out = l.finish();
        match out.program.take() {
            Some(p) => Some(p),
            None => panic!("upstream rules do not load:\n{}", out.render_text()),
        }
    }

    fn upstream_program() -> Option<Program> {
        upstream(&[
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ])
    }

    #[test]
    fn prepared_code_size() {
        let Some(p) = upstream_program() else { return };
        let mut seen = std::collections::HashSet::new();
        let (mut ins, mut codes) = (0, 0);
        for c in p.eval_by_type.iter().chain([&p.eval_any_type]) {
            if let TypeCode::Merged(c) = c {
                if seen.insert(Arc::as_ptr(c)) {
                    ins += c.len();
                    codes += 1;
                }
            }
        }
        eprintln!(
            "{} rules, {codes} distinct codes, {ins} instructions",
            p.rules().len()
        );
    }

    /// Values the rules compare each `(field, arg)` with: events built from them get
    /// deep into the conditions.
    fn harvest(n: &Node, pool: &mut HashMap<(Field, FieldArg), Vec<String>>) {
        match n {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|k| harvest(k, pool)),
            Node::Not(k) | Node::Memo(_, k) => harvest(k, pool),
            Node::Const(_) => {}
            Node::Check(c) => harvest_check(c, pool),
        }
    }

    fn harvest_check(c: &CheckNode, pool: &mut HashMap<(Field, FieldArg), Vec<String>>) {
        let Operand::Field { field, arg } = &c.lhs else {
            return;
        };
        let e = pool.entry((*field, arg.clone())).or_default();
        let mut add = |m: &Matcher| match m {
            Matcher::Cmp(_, Const::Str(s)) => e.push(s.to_string()),
            Matcher::Cmp(_, Const::Int(n)) => e.push(n.to_string()),
            Matcher::Str(p) => {
                let p = String::from_utf8_lossy(p.pattern()).into_owned();
                e.push(format!("/x/{p}"));
                e.push(format!("{p}/y"));
                e.push(p.to_uppercase());
                e.push(p);
            }
            Matcher::Set(s) => {
                for c in &s.items {
                    match c {
                        Const::Str(s) => e.push(s.to_string()),
                        Const::Int(n) => e.push(n.to_string()),
                        _ => {}
                    }
                }
            }
            _ => {}
        };
        match &c.matcher {
            Matcher::Modifier(_, ms) => ms.iter().for_each(&mut add),
            m => add(m),
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn value(ft: FieldType, text: &str, rng: &mut Rng) -> Option<Value<'static>> {
        Some(match ft {
            FieldType::String => Value::Str(Cow::Owned(text.to_string())),
            FieldType::Bool => Value::Bool(rng.below(2) == 0),
            FieldType::Int64 => Value::I64(text.parse().unwrap_or(rng.below(5) as i64 - 1)),
            FieldType::Uint64 | FieldType::Port => {
                Value::U64(text.parse().unwrap_or(rng.below(5) as u64))
            }
            _ => return None,
        })
    }

    /// The prepared program (jump code, memo, folding) agrees with the reference tree
    /// evaluator, rule by rule, on events drawn from the rules' own constants.
    #[test]
    fn prepared_program_agrees_with_reference_evaluator() {
        let Some(p) = upstream_program() else { return };
        // The same rules with per-rule codes only (the fallback for big rule sets).
        let per_rule = Program::with_budget(p.rules().to_vec(), 0);
        assert!(per_rule
            .eval_by_type
            .iter()
            .any(|c| matches!(c, TypeCode::Rules(_))));
        // The same rules with `and`/`or` operands reordered by arbitrary field costs.
        let reordered = p
            .clone()
            .with_field_costs(&|f: Field| (f as u32).wrapping_mul(7919) % 13);
        // The same rules with `fd.num` declared within 0..=9 on opens (the events below
        // give opens such values only), comparisons it decides folded per type.
        let opens = |t: EventType| matches!(t.name(), "open" | "openat" | "openat2" | "creat");
        let hinted = p.clone().with_field_hints(&|_| 0, &|t, f| {
            (f == Field::FdNum && opens(t)).then_some((0, 9))
        });
        let mut pool = HashMap::new();
        for r in p.rules() {
            harvest(r.filter.root(), &mut pool);
        }
        let mut keys: Vec<(Field, FieldArg)> = pool.keys().cloned().collect();
        keys.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        let types: Vec<EventType> = p.event_types().unwrap_or_default();
        assert!(types.len() > 20, "{types:?}");
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let (mut matched, mut checked) = (0usize, 0usize);
        for _ in 0..4000 {
            let t = types[rng.below(types.len())];
            let mut ev = JsonEvent::parse(&format!("{{\"evt.type\": \"{}\"}}", t.name())).unwrap();
            for (field, arg) in &keys {
                // (fd.num is always present on opens: the declared range says so.)
                let declared = *field == Field::FdNum && *arg == FieldArg::None && opens(t);
                if (rng.below(4) == 0 && !declared) || *field == Field::EvtType {
                    continue;
                }
                let vals = &pool[&(*field, arg.clone())];
                let text = if vals.is_empty() || rng.below(5) == 0 {
                    "other".to_string()
                } else {
                    vals[rng.below(vals.len())].clone()
                };
                let v = if declared {
                    Some(Value::I64(rng.below(10) as i64))
                } else if *field == Field::ProcAname && *arg == FieldArg::None {
                    Some(Value::List(vec![
                        Value::Str(Cow::Owned(text)),
                        Value::Str(Cow::Owned("bash".into())),
                    ]))
                } else {
                    value(field.ftype(), &text, &mut rng)
                };
                if let Some(v) = v {
                    ev.set(*field, arg.clone(), v);
                }
            }
            let mut want = Vec::new();
            for &i in p.rules_for(t) {
                let rule = &p.rules()[i as usize];
                let tree = rule.filter.root().eval(&ev, &mut Memo::new());
                assert_eq!(rule.filter.eval(&ev), tree, "{}: code vs tree", rule.name);
                if tree {
                    want.push(i as usize);
                }
                checked += 1;
            }
            for p in [&p, &per_rule, &reordered, &hinted] {
                let mut got = Vec::new();
                p.eval(&ev, RuleMatching::All, &mut got);
                assert_eq!(got, want, "type {}", t.name());
                let mut first = Vec::new();
                p.eval(&ev, RuleMatching::First, &mut first);
                assert_eq!(first, want.first().copied().into_iter().collect::<Vec<_>>());
            }
            matched += want.len();
        }
        // The generator must reach matches, else the comparison says little.
        assert!(
            matched > 100,
            "only {matched} matches in {checked} rule evaluations"
        );
    }

    /// An event that records the fields read from it.
    struct Recording<'a>(&'a JsonEvent, std::cell::RefCell<Vec<Field>>);

    impl Event for Recording<'_> {
        fn event_type(&self) -> EventType {
            self.0.event_type()
        }
        fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>> {
            self.1.borrow_mut().push(field);
            self.0.extract(field, arg)
        }
    }

    #[test]
    fn costly_fields_are_read_last() {
        let text = "- macro: open_read\n  condition: (evt.type in (open,openat) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)\n\
                    - rule: r\n  desc: d\n  condition: open_read and fd.name startswith /etc and proc.name != sshd\n  output: o\n  priority: WARNING\n";
        let mut l = Loader::new(LoaderOptions::default());
        l.add_str("t.yaml", text);
        let mut out = l.finish();
        let p = out.program.take().expect("loads");
        let costly = |f: Field| match f {
            Field::FdNum => 100,
            Field::ProcName => 50,
            Field::FdName => 5,
            _ => 0,
        };
        let q = p.clone().with_field_costs(&costly);
        for (name, hit) in [("/tmp/x", false), ("/etc/shadow", true)] {
            let ev = JsonEvent::parse(&format!(
                r#"{{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"{name}","proc.name":"cat"}}"#
            ))
            .unwrap();
            for (prog, ordered) in [(&p, false), (&q, true)] {
                let rec = Recording(&ev, Default::default());
                let mut got = Vec::new();
                prog.eval(&rec, RuleMatching::First, &mut got);
                assert_eq!(got.len(), usize::from(hit), "{name}");
                let read = rec.1.into_inner();
                if ordered && !hit {
                    assert!(!read.contains(&Field::FdNum), "{read:?}");
                    assert!(!read.contains(&Field::ProcName), "{read:?}");
                }
                if !ordered {
                    // Definition order: the macro's fd.num is read before fd.name.
                    assert!(read.contains(&Field::FdNum), "{read:?}");
                }
                if ordered && hit {
                    assert_eq!(read.first(), Some(&Field::FdName), "{read:?}");
                }
            }
        }
    }

    #[test]
    fn declared_field_ranges_decide_comparisons_per_type() {
        // fd.num is declared non-negative on opens only: `fd.num>=0` and `fd.num=-1` are
        // decided there without reading it; `fd.num<3` still reads it; other types keep
        // every check.
        let text = "- macro: open_read\n  condition: (evt.type in (open,openat,dup) and evt.is_open_read=true and fd.num>=0)\n\
                    - rule: ok\n  desc: d\n  condition: open_read and fd.name startswith /etc\n  output: o\n  priority: WARNING\n\
                    - rule: failed\n  desc: d\n  condition: evt.type in (open,openat,dup) and fd.num=-1\n  output: o\n  priority: WARNING\n\
                    - rule: low\n  desc: d\n  condition: evt.type in (open,openat,dup) and fd.num<3\n  output: o\n  priority: WARNING\n";
        let mut l = Loader::new(LoaderOptions::default());
        l.add_str("t.yaml", text);
        let mut out = l.finish();
        let p = out.program.take().expect("loads");
        let opens = |t: EventType, f: Field| {
            (f == Field::FdNum && matches!(t.name(), "open" | "openat")).then_some((0, i64::MAX))
        };
        let q = p.clone().with_field_hints(&|_| 0, &opens);
        for ty in ["openat", "dup"] {
            for num in [-1i64, 0, 2, 3, 7] {
                let ev = JsonEvent::parse(&format!(
                    r#"{{"evt.type":"{ty}","evt.is_open_read":true,"fd.num":{num},"fd.name":"/etc/x"}}"#
                ))
                .unwrap();
                let mut want = Vec::new();
                p.eval(&ev, RuleMatching::All, &mut want);
                let rec = Recording(&ev, Default::default());
                let mut got = Vec::new();
                q.eval(&rec, RuleMatching::All, &mut got);
                if ty == "openat" && num < 0 {
                    // Outside the declared range: the folded program need not agree.
                    continue;
                }
                assert_eq!(got, want, "{ty} fd.num={num}");
                let reads = rec
                    .1
                    .into_inner()
                    .iter()
                    .filter(|f| **f == Field::FdNum)
                    .count();
                // openat: only `low` reads fd.num; dup: all three rules do.
                assert_eq!(
                    reads,
                    if ty == "openat" { 1 } else { 3 },
                    "{ty} fd.num={num}"
                );
            }
        }
    }
}
