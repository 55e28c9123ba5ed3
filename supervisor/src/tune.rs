//! `tiercel tune`: from the JSON alerts of an audit period to the Falco exceptions that
//! silence exactly those alerts, written as `override: {exceptions: append}` items that
//! Falco (≥ 0.37) and tiercel load after the rules.
//!
//! Per rule that alerted: the value tuples of the alerts' `output_fields` become
//! exception values. An existing list-form exception of the rule whose fields every
//! alert carries, with equality comparisons (`=`, `==`, `in`), gets the values appended
//! (only `values` may be appended to an existing exception name); otherwise a new
//! exception `tiercel_tune` (or `tiercel_tune_N` when taken) is added on the fields the
//! alerts carry among `proc.name`, `fd.name` (else `fd.directory`) and
//! `container.image.repository`. Every value is checked to survive Falco's exception
//! expansion (`field = value` text, quoted only when it holds a space) by parsing it
//! back; values that would not (quotes, parentheses, commas …) are left out and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;
use tiercel_rules::ast::{Expr, Rhs};
use tiercel_rules::loader::{ExceptionSummary, RuleSummary};

/// A line of the alerts file longer than this is skipped.
const MAX_LINE: usize = 1 << 20;
/// At most this many alerts are read.
const MAX_ALERTS: usize = 1_000_000;

/// `tiercel tune` arguments.
#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The JSON alerts of the audit period (one Falco JSON alert per line, as written by
    /// `supervise --alerts` or `json_output`); `-` for stdin.
    #[arg(long, value_name = "FILE")]
    pub alerts: PathBuf,
    /// The rule files the alerts came from, loaded in order.
    #[arg(short = 'r', long = "rules", required = true)]
    pub rules: Vec<PathBuf>,
    /// Write the exceptions file here (default: stdout). The summary goes to stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// One alert: its rule and output fields.
#[derive(Debug, Clone)]
pub struct AlertRec {
    pub rule: String,
    pub fields: serde_json::Map<String, Value>,
}

/// Reads JSON alert lines; lines that are not alerts are counted, not fatal.
pub fn read_alerts(r: impl BufRead) -> std::io::Result<(Vec<AlertRec>, usize)> {
    let mut out = Vec::new();
    let mut bad = 0usize;
    let mut r = r;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE && !buf.ends_with(b"\n") {
            // Skip the rest of an overlong line.
            bad += 1;
            let mut sink = Vec::new();
            r.read_until(b'\n', &mut sink)?;
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut o)) => {
                let rule = o.get("rule").and_then(Value::as_str).map(str::to_string);
                let fields = match o.remove("output_fields") {
                    Some(Value::Object(f)) => f,
                    _ => serde_json::Map::new(),
                };
                match rule {
                    Some(rule) if out.len() < MAX_ALERTS => out.push(AlertRec { rule, fields }),
                    _ => bad += 1,
                }
            }
            _ => bad += 1,
        }
    }
    Ok((out, bad))
}

/// What tuning does for one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePlan {
    pub rule: String,
    pub alerts: usize,
    /// Distinct value tuples among the alerts.
    pub distinct: usize,
    /// The exception the values go to.
    pub exception: String,
    /// It is an existing exception of the rule (values appended), else a new one.
    pub existing: bool,
    pub fields: Vec<String>,
    pub comps: Vec<String>,
    /// The tuples added.
    pub values: Vec<Vec<String>>,
    /// Tuples the exception already had.
    pub already: usize,
    /// Tuples left out: a value would not survive Falco's exception expansion.
    pub unrepresentable: Vec<Vec<String>>,
}

/// A rule that alerted but gets no exception, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub rule: String,
    pub alerts: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub rules: Vec<RulePlan>,
    pub skipped: Vec<Skipped>,
}

/// The fields a new exception is built on, in order; `fd.directory` only without
/// `fd.name`.
const NEW_FIELDS: &[&[&str]] = &[
    &["proc.name"],
    &["fd.name", "fd.directory"],
    &["container.image.repository"],
];

/// Comparisons for which appending the alert's value silences exactly that value.
fn exact_comp(c: &str) -> bool {
    matches!(c, "=" | "==" | "in")
}

/// The string value of `field` in the alert, when it has one.
fn value<'a>(a: &'a AlertRec, field: &str) -> Option<&'a str> {
    a.fields.get(field).and_then(Value::as_str)
}

/// Falco's `quote_item` (rule_loader_compiler.cpp): a value with a space is double-quoted.
fn quote_item(e: &str) -> String {
    if e.contains(' ') && !e.starts_with('"') && !e.starts_with('\'') {
        format!("\"{e}\"")
    } else {
        e.to_string()
    }
}

/// Whether `v` comes back as itself from the condition text Falco builds for it.
fn representable(field: &str, comp: &str, v: &str) -> bool {
    let text = if comp == "in" {
        format!("{field} in ({v})")
    } else {
        format!("{field} {comp} {}", quote_item(v))
    };
    match tiercel_rules::parser::parse(&text, 16) {
        Ok(Expr::Check(c)) => match &c.rhs {
            Rhs::Value(l) => l.text == v,
            Rhs::List(items, _) => items.len() == 1 && items[0].text == v,
            _ => false,
        },
        _ => false,
    }
}

/// Builds the plan: per rule (in the rules' order), the exception and the tuples.
pub fn plan(rules: &[RuleSummary], alerts: &[AlertRec]) -> Plan {
    let mut by_rule: BTreeMap<&str, Vec<&AlertRec>> = BTreeMap::new();
    for a in alerts {
        by_rule.entry(a.rule.as_str()).or_default().push(a);
    }
    let mut plan = Plan::default();
    for (name, list) in &by_rule {
        if !rules.iter().any(|r| r.name == *name) {
            plan.skipped.push(Skipped {
                rule: name.to_string(),
                alerts: list.len(),
                reason: "not a rule of the given files".into(),
            });
        }
    }
    for rule in rules {
        let Some(list) = by_rule.get(rule.name.as_str()) else {
            continue;
        };
        match plan_rule(rule, list) {
            Ok(p) => plan.rules.push(p),
            Err(reason) => plan.skipped.push(Skipped {
                rule: rule.name.clone(),
                alerts: list.len(),
                reason,
            }),
        }
    }
    plan
}

fn carried(list: &[&AlertRec], field: &str) -> bool {
    list.iter().all(|a| value(a, field).is_some())
}

fn plan_rule(rule: &RuleSummary, list: &[&AlertRec]) -> Result<RulePlan, String> {
    let existing = rule.exceptions.iter().find(|e| {
        e.list_form
            && !e.fields.is_empty()
            && e.fields.iter().all(|f| carried(list, f))
            && e.comps.iter().all(|c| exact_comp(c))
    });
    let (exception, is_existing, fields, comps, have): (
        String,
        bool,
        Vec<String>,
        Vec<String>,
        BTreeSet<Vec<String>>,
    ) = match existing {
        Some(e) => (
            e.name.clone(),
            true,
            e.fields.clone(),
            e.comps.clone(),
            existing_tuples(e),
        ),
        None => {
            let fields: Vec<String> = NEW_FIELDS
                .iter()
                .filter_map(|alts| alts.iter().find(|f| carried(list, f)))
                .map(|f| f.to_string())
                .collect();
            if fields.is_empty() {
                return Err(
                    "the alerts carry none of proc.name, fd.name, fd.directory, \
                         container.image.repository (add them to the rule's output)"
                        .into(),
                );
            }
            let taken: BTreeSet<&str> = rule.exceptions.iter().map(|e| e.name.as_str()).collect();
            let name = std::iter::once("tiercel_tune".to_string())
                .chain((2..).map(|n| format!("tiercel_tune_{n}")))
                .find(|n| !taken.contains(n.as_str()))
                .unwrap_or_default();
            let comps = vec!["=".to_string(); fields.len()];
            (name, false, fields, comps, BTreeSet::new())
        }
    };
    let tuples: BTreeSet<Vec<String>> = list
        .iter()
        .map(|a| {
            fields
                .iter()
                .map(|f| value(a, f).unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    let mut values = Vec::new();
    let mut unrepresentable = Vec::new();
    let mut already = 0;
    for t in &tuples {
        if have.contains(t) {
            already += 1;
        } else if t
            .iter()
            .zip(fields.iter().zip(&comps))
            .all(|(v, (f, c))| representable(f, c, v))
        {
            values.push(t.clone());
        } else {
            unrepresentable.push(t.clone());
        }
    }
    Ok(RulePlan {
        rule: rule.name.clone(),
        alerts: list.len(),
        distinct: tuples.len(),
        exception,
        existing: is_existing,
        fields,
        comps,
        values,
        already,
        unrepresentable,
    })
}

fn existing_tuples(e: &ExceptionSummary) -> BTreeSet<Vec<String>> {
    e.values
        .iter()
        .filter_map(|t| t.iter().cloned().collect::<Option<Vec<String>>>())
        .collect()
}

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn flow(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The exceptions file: one `override: {exceptions: append}` item per rule with values.
pub fn render_yaml(plan: &Plan, source: &str) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Exceptions generated by `tiercel tune` from {source}.\n\
         # Load after the rules (falco -r RULES -r THIS, tiercel supervise -r RULES -r THIS).\n\
         # Review each value: an exception silences every future event with these values."
    );
    let mut any = false;
    for r in &plan.rules {
        if r.values.is_empty() {
            continue;
        }
        any = true;
        let _ = writeln!(
            y,
            "\n# {}: {} alerts, {} distinct tuples, {} added to {} exception {}",
            r.rule.replace('\n', " "),
            r.alerts,
            r.distinct,
            r.values.len(),
            if r.existing { "existing" } else { "new" },
            r.exception
        );
        let _ = writeln!(
            y,
            "- rule: {}\n  exceptions:\n    - name: {}",
            q(&r.rule),
            q(&r.exception)
        );
        if !r.existing {
            let _ = writeln!(
                y,
                "      fields: {}\n      comps: {}",
                flow(&r.fields),
                flow(&r.comps)
            );
        }
        let _ = writeln!(y, "      values:");
        for t in &r.values {
            let _ = writeln!(y, "        - {}", flow(t));
        }
        let _ = writeln!(y, "  override:\n    exceptions: append");
    }
    if !any {
        y.push_str("[]\n");
    }
    y
}

/// The review summary: per rule, alerts, distinct tuples, what was added.
pub fn render_summary(plan: &Plan, bad_lines: usize) -> String {
    let mut s = String::new();
    for r in &plan.rules {
        let _ = writeln!(
            s,
            "{}: {} alerts, {} distinct ({}) tuples; {} {} exception {:?}: {} added, {} already there{}",
            r.rule,
            r.alerts,
            r.distinct,
            r.fields.join(", "),
            if r.values.is_empty() { "nothing for" } else { "appended to" },
            if r.existing { "existing" } else { "new" },
            r.exception,
            r.values.len(),
            r.already,
            if r.unrepresentable.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} left out (a value Falco's exception text cannot hold): {:?}",
                    r.unrepresentable.len(),
                    r.unrepresentable
                )
            }
        );
        for t in &r.values {
            let _ = writeln!(s, "  + {}", flow(t));
        }
    }
    for k in &plan.skipped {
        let _ = writeln!(s, "{}: {} alerts, skipped: {}", k.rule, k.alerts, k.reason);
    }
    if bad_lines > 0 {
        let _ = writeln!(s, "({bad_lines} lines of the alerts file were not alerts)");
    }
    s
}

/// `tiercel tune`.
pub fn run(args: TuneArgs) -> Result<()> {
    let outcome = crate::load::load(&args.rules);
    if outcome.errors() > 0 {
        anyhow::bail!("the rules do not load:\n{}", outcome.render_text());
    }
    let (alerts, bad) = if args.alerts == Path::new("-") {
        read_alerts(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(&args.alerts)
            .with_context(|| format!("open {}", args.alerts.display()))?;
        read_alerts(std::io::BufReader::new(f))
    }
    .with_context(|| format!("read {}", args.alerts.display()))?;
    let plan = plan(&outcome.rule_summaries, &alerts);
    let yaml = render_yaml(&plan, &args.alerts.display().to_string());
    match &args.output {
        Some(p) => std::fs::write(p, &yaml).with_context(|| format!("write {}", p.display()))?,
        None => print!("{yaml}"),
    }
    eprint!("{}", render_summary(&plan, bad));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "\
- rule: writer
  desc: d
  condition: evt.type = openat and fd.directory = /bin
  output: w %proc.name %fd.name %fd.directory
  priority: WARNING
  exceptions:
    - name: proc_writer
      fields: [proc.name, fd.directory]
      values:
        - [apt, /bin]
- rule: reader
  desc: d
  condition: evt.type = openat
  output: r %proc.name %fd.name %container.image.repository
  priority: NOTICE
- rule: bare
  desc: d
  condition: evt.type = openat
  output: b %evt.type
  priority: NOTICE
";

    fn summaries() -> Vec<RuleSummary> {
        let mut l = tiercel_rules::loader::Loader::new(Default::default());
        l.add_str("t.yaml", RULES);
        let o = l.finish();
        assert_eq!(o.errors(), 0, "{}", o.render_text());
        o.rule_summaries
    }

    fn alert(rule: &str, kv: &[(&str, Value)]) -> AlertRec {
        AlertRec {
            rule: rule.into(),
            fields: kv.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    #[test]
    fn reads_alert_lines_and_counts_the_rest() {
        let text = "{\"rule\":\"a\",\"output_fields\":{\"proc.name\":\"x\"}}\n\nnot json\n[1]\n{\"output_fields\":{}}\n";
        let (a, bad) = read_alerts(text.as_bytes()).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(value(&a[0], "proc.name"), Some("x"));
        assert_eq!(bad, 3);
        let long = format!("{}\n{{\"rule\":\"b\"}}\n", "x".repeat(MAX_LINE + 10));
        let (a, bad) = read_alerts(long.as_bytes()).unwrap();
        assert_eq!((a.len(), bad), (1, 1));
    }

    #[test]
    fn existing_exception_gets_values_new_one_otherwise() {
        let s = summaries();
        let v = |x: &str| Value::String(x.into());
        let alerts = vec![
            alert(
                "writer",
                &[
                    ("proc.name", v("touch")),
                    ("fd.name", v("/bin/a")),
                    ("fd.directory", v("/bin")),
                ],
            ),
            alert(
                "writer",
                &[
                    ("proc.name", v("touch")),
                    ("fd.name", v("/bin/b")),
                    ("fd.directory", v("/bin")),
                ],
            ),
            alert(
                "writer",
                &[
                    ("proc.name", v("apt")),
                    ("fd.name", v("/bin/c")),
                    ("fd.directory", v("/bin")),
                ],
            ),
            alert(
                "reader",
                &[
                    ("proc.name", v("cat")),
                    ("fd.name", v("/etc/my file")),
                    ("container.image.repository", Value::Null),
                ],
            ),
            alert(
                "reader",
                &[
                    ("proc.name", v("cat")),
                    ("fd.name", v("/etc/x(1)")),
                    ("container.image.repository", Value::Null),
                ],
            ),
            alert("bare", &[("evt.type", v("openat"))]),
            alert("gone", &[]),
        ];
        let p = plan(&s, &alerts);
        assert_eq!(p.rules.len(), 2);
        let w = &p.rules[0];
        assert_eq!(
            (w.rule.as_str(), w.exception.as_str(), w.existing),
            ("writer", "proc_writer", true)
        );
        assert_eq!((w.alerts, w.distinct, w.already), (3, 2, 1));
        assert_eq!(
            w.values,
            vec![vec!["touch".to_string(), "/bin".to_string()]]
        );
        let r = &p.rules[1];
        assert_eq!((r.exception.as_str(), r.existing), ("tiercel_tune", false));
        assert_eq!(
            r.fields,
            vec!["proc.name", "fd.name"],
            "null image: not a field"
        );
        assert_eq!(
            r.values,
            vec![vec!["cat".to_string(), "/etc/my file".to_string()]]
        );
        assert_eq!(
            r.unrepresentable.len(),
            1,
            "parentheses do not survive Falco's text"
        );
        assert_eq!(p.skipped.len(), 2);
        assert!(p
            .skipped
            .iter()
            .any(|k| k.rule == "gone" && k.reason.contains("not a rule")));
        assert!(p
            .skipped
            .iter()
            .any(|k| k.rule == "bare" && k.reason.contains("carry none")));
        let y = render_yaml(&p, "alerts.json");
        assert!(
            y.contains("- name: \"proc_writer\"\n      values:\n        - [\"touch\", \"/bin\"]"),
            "{y}"
        );
        assert!(
            y.contains("fields: [\"proc.name\", \"fd.name\"]\n      comps: [\"=\", \"=\"]"),
            "{y}"
        );
        let sum = render_summary(&p, 2);
        assert!(
            sum.contains("writer: 3 alerts, 2 distinct (proc.name, fd.directory) tuples"),
            "{sum}"
        );
        assert!(sum.contains("2 lines"), "{sum}");
        // The generated file loads after the rules and silences exactly those tuples.
        let mut l = tiercel_rules::loader::Loader::new(Default::default());
        l.add_str("t.yaml", RULES);
        l.add_str("tune.yaml", &y);
        let o = l.finish();
        assert_eq!(o.errors(), 0, "{}\n{y}", o.render_text());
        let ex = &o.rule_summaries[0].exceptions[0];
        assert_eq!(ex.values.len(), 2);
    }

    #[test]
    fn representability_follows_the_parser() {
        assert!(representable("fd.name", "=", "/etc/my file"));
        assert!(representable("proc.name", "=", "touch"));
        assert!(representable("proc.name", "in", "touch"));
        for bad in ["a\"b c", "x(1)", "a,b", "", "a b\"", "'q'"] {
            assert!(!representable("fd.name", "=", bad), "{bad}");
        }
    }
}
