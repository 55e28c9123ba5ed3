//! Evaluation semantics on JSON events: missing values, ancestors, operators, lists,
//! event-type sets, rule indexing and alerts.

use serde_json::json;
use tiercel_rules::compile::{compile_condition, CompiledCondition};
use tiercel_rules::evttype::EventType;
use tiercel_rules::json_event::JsonEvent;
use tiercel_rules::output::{Alert, AlertOptions, OutputFormat};
use tiercel_rules::parser::{parse, FALCO_MAX_DEPTH};
use tiercel_rules::priority::Priority;
use tiercel_rules::program::{CompiledRule, Program, RuleMatching};

fn cc(cond: &str) -> CompiledCondition {
    let e = parse(cond, FALCO_MAX_DEPTH).unwrap_or_else(|e| panic!("{cond}: {e}"));
    compile_condition(&e).unwrap_or_else(|e| panic!("{cond}: {e:?}"))
}

fn open_event() -> JsonEvent {
    JsonEvent::from_json(&json!({
        "evt.type": "openat",
        "fd.name": "/opt/dir/subdir/file.txt",
        "fd.directory": "/opt/dir/subdir",
        "evt.arg.flags": "O_RDWR|O_CREAT",
        "fd.num": 3,
        "evt.rawres": 3,
        "proc.name": "cat",
        "proc.aname": ["bash", "sshd", "systemd"],
        "proc.aname[1]": "bash",
        "proc.pid": 100,
        "fd.sip": "10.1.2.3",
        "fd.ip": ["192.168.0.2", "10.1.2.3"],
        "fd.net": ["192.168.0.2", "10.1.2.3"],
        "fd.sport": 443,
        "evt.is_open_read": true,
        "proc.tty": 0,
    }))
    .unwrap()
}

fn check(cond: &str, expect: bool) {
    let got = cc(cond).filter.eval(&open_event());
    assert_eq!(got, expect, "{cond}");
}

#[test]
fn missing_values_make_every_comparison_false() {
    check("proc.pname = bash", false);
    check("proc.pname != bash", false);
    check("proc.pname exists", false);
    check("not proc.pname exists", true);
    check("not proc.pname = bash", true);
    check("proc.pname in (bash)", false);
}

#[test]
fn ancestors_and_lists() {
    check("proc.aname = sshd", true);
    check("proc.aname = cat", false); // self is not an ancestor
    check("proc.aname[1] = bash", true);
    check("proc.aname in (init, systemd)", true);
    check("fd.ip = 10.1.2.3", true);
    check("fd.net = 10.0.0.0/8", true);
    check("fd.snet = 10.0.0.0/8", false); // fd.snet missing in the event
    check("fd.sip = 10.1.2.3 and fd.sport = https", true);
    check("fd.sport in (80, 443)", true);
}

#[test]
fn operators() {
    for (c, want) in [
        ("fd.name pmatch (/opt/dir)", true),
        ("fd.name pmatch (/opt/dir/subdir)", true),
        ("fd.name pmatch (/opt/dir2)", false),
        ("fd.name pmatch (/opt/*)", true),
        ("fd.name pmatch (/opt/*/subdir)", true),
        ("fd.name pmatch (/opt/di?/subdir)", true),
        ("fd.name pmatch (/opt/dii?/subdir)", false),
        ("fd.name pmatch (/opt/di[r]/subdir)", true),
        ("fd.name pmatch (/opt/di[!r]/subdir)", false),
        ("fd.name pmatch (/opt/di/subdir)", false),
        ("fd.name pmatch (/opt/*/subdir2)", false),
        ("fd.name pmatch (/opt/*/*)", true),
        ("fd.name pmatch (/opt/*/*/subsubdir)", false),
        ("evt.arg.flags contains O_CREAT", true),
        ("evt.arg[flags] contains O_TMPFILE", false),
        ("evt.arg.flags icontains o_creat", true),
        ("fd.name icontains /SUBDIR", true),
        ("fd.name glob '/opt/*.txt'", true),
        ("fd.name iglob '/OPT/*.TXT'", true),
        ("fd.name regex '/opt/.*'", true),
        ("fd.name regex 'opt/.*'", false),
        ("fd.name startswith /opt and fd.name endswith .txt", true),
        ("fd.num >= 0", true),
        ("fd.num < 0", false),
        ("fd.num > -65535", true),
        ("fd.num = 0x3", true),
        ("evt.is_open_read = true", true),
        ("proc.tty != 0", false),
        ("proc.name > 1", true),
        ("proc.name == oneof (cat, dog)", true),
        ("proc.name startswith allof (c, ca)", true),
        ("basename(fd.name) = file.txt", true),
        ("len(proc.name) = 3", true),
        ("toupper(proc.name) = CAT", true),
        (
            "join(\"-\", (proc.name, fd.directory)) = cat-/opt/dir/subdir",
            true,
        ),
        ("fd.directory = val(fd.directory)", true),
        ("fd.name = val(fd.directory)", false),
    ] {
        check(c, want);
    }
}

fn compile_err(cond: &str) -> String {
    let e = parse(cond, FALCO_MAX_DEPTH).unwrap();
    compile_condition(&e)
        .err()
        .unwrap_or_else(|| panic!("{cond} compiled"))
        .iter()
        .map(|d| d.message.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn compile_errors_are_collected() {
    assert_eq!(
        compile_err("proc.nobody = cat"),
        "filter_check called with nonexistent field proc.nobody"
    );
    assert_eq!(
        compile_err("evt.type = some_invalid_event"),
        "unknown event type some_invalid_event"
    );
    assert_eq!(
        compile_err("proc.name = cat and my_macro"),
        "Undefined macro 'my_macro' used in filter."
    );
    assert_eq!(
        compile_err("evt.is_open_read = yes"),
        "filter error: unrecognized boolean value yes"
    );
    assert_eq!(
        compile_err("proc.pid contains 1"),
        "filter error: 'contains' operator not supported for numeric filters"
    );
    let two = compile_err("proc.nobody = 1 or evt.type = nope");
    assert!(
        two.contains("proc.nobody") && two.contains("unknown event type nope"),
        "{two}"
    );
}

#[test]
fn deprecation_warning_for_evt_dir() {
    let c = cc("evt.type = open and evt.dir = <");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0]
        .message
        .starts_with("due to the drop of enter events, 'evt.dir = <' always evaluates to true"));
}

fn names(c: &CompiledCondition) -> Option<Vec<&'static str>> {
    c.evttypes
        .as_ref()
        .map(|v| v.iter().map(|t| t.name()).collect())
}

#[test]
fn event_type_sets() {
    assert_eq!(
        names(&cc("evt.type in (open, openat) and proc.name = cat")),
        Some(vec!["open", "openat"])
    );
    assert_eq!(names(&cc("proc.name = cat")), None);
    assert_eq!(names(&cc("evt.num = 0")), Some(vec![]));
    assert_eq!(
        names(&cc("evt.type = open and evt.type = close")),
        Some(vec![])
    );
    assert_eq!(names(&cc("not (evt.type != execve)")), Some(vec!["execve"]));
    let n = cc("evt.type != execve").evttypes.unwrap();
    assert_eq!(n.len(), EventType::count() - 1);
    let mut v = names(&cc(
        "(evt.type = connect or evt.type = sendto) and fd.num >= 0",
    ))
    .unwrap();
    v.sort();
    assert_eq!(v, vec!["connect", "sendto"]);
}

fn rule(name: &str, cond: &str, output: &str) -> CompiledRule {
    let c = cc(cond);
    CompiledRule {
        name: name.into(),
        desc: String::new(),
        priority: Priority::Warning,
        tags: vec!["filesystem".into(), "mitre".into()],
        source: "syscall".into(),
        output: OutputFormat::parse(output).unwrap().0,
        filter: c.filter,
        evttypes: c.evttypes,
    }
}

#[test]
fn program_matching_and_alerts() {
    let p = Program::new(vec![
        rule("exec", "evt.type = execve and proc.name = cat", "x"),
        rule("open cat", "evt.type in (open, openat) and proc.name = cat", "file=%fd.name user=%user.name flags=%evt.arg.flags gp=%proc.aname[1] up=%toupper(proc.name)"),
        rule("any", "proc.name = cat", "any %proc.name"),
    ]);
    let ev = open_event();
    let mut out = Vec::new();
    p.eval(&ev, RuleMatching::First, &mut out);
    assert_eq!(out, vec![1]);
    out.clear();
    p.eval(&ev, RuleMatching::All, &mut out);
    assert_eq!(out, vec![1, 2]);

    let a = Alert::new(
        &p.rules()[1],
        &ev,
        1_470_327_477_881_781_397,
        "host1",
        AlertOptions::default(),
    );
    assert_eq!(
        a.text_line(),
        "16:17:57.881781397: Warning file=/opt/dir/subdir/file.txt user=<NA> flags=O_RDWR|O_CREAT gp=bash up=CAT"
    );
    let j = a.json();
    assert_eq!(j["time"], "2016-08-04T16:17:57.881781397Z");
    assert_eq!(j["output_fields"]["user.name"], serde_json::Value::Null);
    assert_eq!(j["output_fields"]["proc.aname[1]"], "bash");
    assert_eq!(j["output_fields"]["evt.time"], 1_470_327_477_881_781_397u64);
    assert!(j["output_fields"].get("toupper(proc.name)").is_none());
    assert_eq!(j["output_fields"]["proc.name"], "cat");
    let keys: Vec<_> = j.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "hostname",
            "output",
            "output_fields",
            "priority",
            "rule",
            "source",
            "tags",
            "time"
        ]
    );
}

#[test]
fn suggested_output_extras() {
    let (f, _) = OutputFormat::parse("File opened (file=%fd.name)").unwrap();
    let f = f.with_suggested();
    let s = f.render(&open_event());
    assert_eq!(
        s,
        "File opened (file=/opt/dir/subdir/file.txt) container_id=<NA> container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>"
    );
}
