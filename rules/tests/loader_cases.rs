//! Rule-loader cases from falcosecurity/testing and Falco's engine unit tests
//! (reference/conformance.md (c)), plus evaluation through the loaded program.

use tiercel_rules::json_event::JsonEvent;
use tiercel_rules::loader::{LoadOutcome, Loader, LoaderOptions};
use tiercel_rules::program::RuleMatching;

fn load(files: &[&str]) -> LoadOutcome {
    let mut l = Loader::new(LoaderOptions::default());
    for (i, f) in files.iter().enumerate() {
        l.add_str(&format!("f{}.yaml", i + 1), f);
    }
    l.finish()
}

/// `(code, item name of the innermost named item, message)` of every error.
fn errors(o: &LoadOutcome) -> Vec<(String, String, String)> {
    o.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            (
                d.code.to_string(),
                d.context
                    .item()
                    .map(|l| l.item_name.clone())
                    .unwrap_or_default(),
                d.message.clone(),
            )
        })
        .collect()
}

fn warnings(o: &LoadOutcome) -> Vec<(String, String)> {
    o.diagnostics
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| (d.code.to_string(), d.message.clone()))
        .collect()
}

fn e(code: &str, item: &str, msg: &str) -> (String, String, String) {
    (code.into(), item.into(), msg.into())
}

/// Rules (in program order) that match the JSON event.
fn matches(o: &LoadOutcome, ev: &str) -> Vec<String> {
    let p = o.program.as_ref().expect("program");
    let ev = JsonEvent::parse(ev).expect("event");
    let mut out = Vec::new();
    p.eval(&ev, RuleMatching::All, &mut out);
    out.iter().map(|&i| p.rules()[i].name.clone()).collect()
}

const OPEN_RULE: &str =
    "- rule: some rule\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n";

#[test]
fn invalid_append_macro_across_files_and_documents() {
    let f1 = "- macro: some_macro\n  condition: evt.type=execve\n";
    let f2 = "- macro: some_macro\n  condition: foo\n  append: true\n";
    let o = load(&[f1, f2]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_COMPILE_CONDITION",
            "some_macro",
            "unexpected token after 'execve', expecting 'or', 'and'"
        )]
    );
    // file 1 alone was fine: its unused macro warning belongs to f1.
    let w: Vec<_> = o
        .diagnostics
        .iter()
        .filter(|d| d.code == "LOAD_UNUSED_MACRO")
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].origin, "f1.yaml");
    // The caret points into the appended text in file 2 (col of `foo`).
    let d = o.diagnostics.iter().find(|d| d.is_error()).unwrap();
    let l = d.context.innermost().unwrap();
    assert_eq!((l.file.as_str(), l.pos.line, l.pos.col), ("f2.yaml", 1, 13));
    // Same thing as two documents of one file.
    let o = load(&[&format!("{f1}---\n{f2}")]);
    assert_eq!(errors(&o).len(), 1);
}

#[test]
fn overwrite_macro_and_rule() {
    let o = load(&[
        "- macro: some_macro\n  condition: evt.type=execve\n",
        "- macro: some_macro\n  condition: foo\n  append: false\n",
    ]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_VALIDATE",
            "some_macro",
            "Undefined macro 'foo' used in filter."
        )]
    );
    let o = load(&[OPEN_RULE, "- rule: some rule\n  desc: d\n  condition: bar\n  output: o\n  priority: INFO\n  append: false\n"]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_VALIDATE",
            "some rule",
            "Undefined macro 'bar' used in filter."
        )]
    );
    let o = load(&[
        OPEN_RULE,
        "- rule: some rule\n  condition: bar\n  append: true\n",
    ]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_COMPILE_CONDITION",
            "some rule",
            "unexpected token after 'open', expecting 'or', 'and'"
        )]
    );
    assert!(warnings(&o).iter().any(|w| w.0 == "LOAD_DEPRECATED_ITEM"));
}

#[test]
fn skip_unknown_filter() {
    let rules = |skip: &str| {
        format!(
            "- rule: Contains Unknown Event And Not Skipping (field)\n  desc: d\n  condition: proc.nobody=cat\n  output: o\n  priority: INFO\n{skip}\
             - rule: Contains Unknown Event And Not Skipping (evt type)\n  desc: d\n  condition: evt.type=some_invalid_event\n  output: o\n  priority: INFO\n{skip}\
             - rule: Contains Unknown Event And Not Skipping (output)\n  desc: d\n  condition: evt.type=open\n  output: \"%proc.nobody\"\n  priority: INFO\n{skip}"
        )
    };
    let o = load(&[&rules("  skip-if-unknown-filter: false\n")]);
    let errs = errors(&o);
    // Falco stops at the first; we report all three.
    assert_eq!(errs.len(), 3, "{}", o.render_text());
    assert_eq!(
        errs[0],
        e(
            "LOAD_ERR_COMPILE_CONDITION",
            "Contains Unknown Event And Not Skipping (field)",
            "filter_check called with nonexistent field proc.nobody"
        )
    );
    assert_eq!(errs[1].2, "unknown event type some_invalid_event");
    assert_eq!(errs[2].0, "LOAD_ERR_COMPILE_OUTPUT");
    let o = load(&[&format!(
        "{}{OPEN_RULE}",
        rules("  skip-if-unknown-filter: true\n")
    )]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    let w: Vec<_> = warnings(&o)
        .into_iter()
        .filter(|w| w.0 == "LOAD_UNKNOWN_FILTER")
        .collect();
    assert_eq!(w.len(), 3);
    assert_eq!(
        w[0].1,
        "filter_check called with nonexistent field proc.nobody"
    );
    assert_eq!(w[1].1, "unknown event type some_invalid_event");
    assert_eq!(o.program.as_ref().unwrap().rules().len(), 1);
}

#[test]
fn order_and_redefinitions_evaluate() {
    let o = load(&[
        "- list: cat_binaries\n  items: [dog]\n- list: cat_binaries\n  items: [cat]\n\
         - macro: is_cat\n  condition: proc.name=dog\n- macro: is_cat\n  condition: proc.name in (cat_binaries)\n\
         - rule: r1\n  desc: d\n  condition: evt.type=open and is_cat\n  output: o\n  priority: INFO\n\
         - rule: r2\n  desc: d\n  condition: evt.type=open and proc.name=cat_binaries\n  output: o\n  priority: INFO\n\
         - rule: r3\n  desc: d\n  condition: evt.type=open and proc.name in (ls, cat_binaries, ps)\n  output: o\n  priority: INFO\n\
         - rule: r4\n  desc: d\n  condition: evt.type=open and fd.name in (file_cat_binaries)\n  output: o\n  priority: INFO\n",
    ]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    assert_eq!(
        matches(
            &o,
            r#"{"evt.type": "open", "proc.name": "cat", "fd.name": "file_cat_binaries"}"#
        ),
        ["r1", "r2", "r3", "r4"]
    );
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "dog"}"#),
        Vec::<String>::new()
    );
}

#[test]
fn list_and_condition_append_after_use() {
    let o = load(&[
        "- list: shell_binaries\n  items: [ash, bash]\n\
         - macro: interactive\n  condition: proc.name = login\n\
         - rule: r\n  desc: d\n  condition: evt.type = open and (proc.name in (shell_binaries) or interactive)\n  output: o\n  priority: INFO\n\
         - list: shell_binaries\n  items: [pwsh]\n  override:\n    items: append\n\
         - macro: interactive\n  condition: or proc.name = ssh\n  override:\n    condition: append\n",
    ]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "pwsh"}"#),
        ["r"]
    );
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "ssh"}"#),
        ["r"]
    );
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "zsh"}"#),
        Vec::<String>::new()
    );
}

#[test]
fn rule_overrides_and_enabled() {
    let o = load(&[
        OPEN_RULE,
        "- rule: some rule\n  condition: and proc.name = cat\n  priority: WARNING\n  override:\n    condition: append\n    priority: replace\n",
        "- rule: other\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  enabled: false\n- rule: other\n  enabled: true\n",
    ]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    let p = o.program.as_ref().unwrap();
    assert_eq!(p.rules()[0].priority.as_str(), "Warning");
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "cat"}"#),
        ["some rule", "other"]
    );
    assert_eq!(
        matches(&o, r#"{"evt.type": "open", "proc.name": "dog"}"#),
        ["other"]
    );
    // enabled: true inside an append is ignored.
    let o = load(&["- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n  enabled: false\n- rule: r\n  condition: and proc.name=cat\n  enabled: true\n  append: true\n"]);
    assert_eq!(o.program.as_ref().unwrap().rules().len(), 0);
    assert!(!o.rule_summaries[0].enabled);
}

#[test]
fn exceptions_compile_into_the_condition() {
    let o = load(&[
        "- list: allowed\n  items: [wget]\n\
         - rule: r\n  desc: d\n  condition: evt.type=execve and (proc.cmdline contains curl or proc.cmdline contains wget)\n  output: o\n  priority: INFO\n\
         \x20 exceptions:\n    - name: local\n      fields: [proc.cmdline]\n      comps: [contains]\n      values: [[curl 127.0.0.1]]\n\
         \x20   - name: names\n      fields: proc.name\n      values: [allowed, \"my tool\"]\n",
    ]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    assert_eq!(
        matches(
            &o,
            r#"{"evt.type": "execve", "proc.cmdline": "curl evil.com", "proc.name": "curl"}"#
        ),
        ["r"]
    );
    assert!(matches(
        &o,
        r#"{"evt.type": "execve", "proc.cmdline": "curl 127.0.0.1", "proc.name": "curl"}"#
    )
    .is_empty());
    assert!(matches(
        &o,
        r#"{"evt.type": "execve", "proc.cmdline": "wget x", "proc.name": "wget"}"#
    )
    .is_empty());
    assert!(matches(
        &o,
        r#"{"evt.type": "execve", "proc.cmdline": "curl x", "proc.name": "my tool"}"#
    )
    .is_empty());
    let o = load(&[&format!(
        "{OPEN_RULE}  exceptions:\n    - name: ex1\n      fields: [proc.name, fd.filename]\n      values: [[nginx]]\n"
    )]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_VALIDATE",
            "ex1",
            "Fields and values lists must have equal length"
        )]
    );
    let o = load(&[&format!(
        "{OPEN_RULE}  exceptions:\n    - name: ex1\n      fields: [not.exist]\n"
    )]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_VALIDATE",
            "ex1",
            "'not.exist' is not a supported filter field"
        )]
    );
}

#[test]
fn unused_and_invalid_names() {
    let o = load(&[&format!(
        "- macro: unused_m\n  condition: proc.name=x\n- list: unused_l\n  items: [a]\n- macro: test-macro\n  condition: proc.name=y\n- list: test list\n  items: [b]\n{OPEN_RULE}"
    )]);
    assert!(errors(&o).is_empty());
    let w = warnings(&o);
    assert!(w.contains(&(
        "LOAD_UNUSED_MACRO".into(),
        "Macro not referred to by any other rule/macro".into()
    )));
    assert!(w.contains(&(
        "LOAD_UNUSED_LIST".into(),
        "List not referred to by any other rule/macro".into()
    )));
    assert!(w.iter().any(|w| w.0 == "LOAD_INVALID_MACRO_NAME"
        && w.1 == "Macro has an invalid name. Macro names should match a regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)"));
    assert!(w.iter().any(|w| w.0 == "LOAD_INVALID_LIST_NAME"));
}

#[test]
fn evttype_warnings() {
    let o = load(&["- rule: no_evttype\n  desc: d\n  condition: proc.name=foo\n  output: o\n  priority: INFO\n\
                    - rule: quiet\n  desc: d\n  condition: proc.name=foo\n  output: o\n  priority: INFO\n  warn_evttypes: false\n\
                    - rule: fine\n  desc: d\n  condition: evt.type=execve and proc.name!=foo\n  output: o\n  priority: INFO\n"]);
    let w: Vec<_> = o
        .diagnostics
        .iter()
        .filter(|d| d.code == "LOAD_NO_EVTTYPE")
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].context.item().unwrap().item_name, "no_evttype");
    assert_eq!(
        w[0].message,
        "Rule matches too many evt.type values. This has a significant performance penalty."
    );
}

#[test]
fn macro_loops_and_visibility() {
    // A macro sees only macros defined before it...
    let o = load(&["- macro: a\n  condition: b\n- macro: b\n  condition: proc.name=x\n"]);
    assert_eq!(
        errors(&o),
        [e(
            "LOAD_ERR_VALIDATE",
            "a",
            "Undefined macro 'b' used in filter."
        )]
    );
    // ...a rule sees every macro of its file.
    let o = load(&["- rule: r\n  desc: d\n  condition: evt.type=open and m\n  output: o\n  priority: INFO\n- macro: m\n  condition: proc.name=x\n"]);
    assert!(errors(&o).is_empty(), "{}", o.render_text());
    // ...but not one from a later file: the error belongs to the file of the rule.
    let o = load(&[
        "- rule: r\n  desc: d\n  condition: evt.type=open and m\n  output: o\n  priority: INFO\n",
        "- macro: m\n  condition: proc.name=x\n",
    ]);
    let errs: Vec<_> = o.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].origin, "f1.yaml");
    // Loops (via redefinition) are reported.
    let o = load(&["- macro: a\n  condition: proc.name=x\n- macro: b\n  condition: a\n- macro: a\n  condition: b\n"]);
    assert!(
        errors(&o)
            .iter()
            .any(|x| x.2 == "reference loop in macro 'a'" || x.2 == "reference loop in macro 'b'"),
        "{}",
        o.render_text()
    );
}

#[test]
fn macro_expansion_bomb_is_bounded() {
    let mut s = String::from("- macro: m0\n  condition: proc.name=x\n");
    for i in 1..=30 {
        s.push_str(&format!(
            "- macro: m{i}\n  condition: m{} and m{}\n",
            i - 1,
            i - 1
        ));
    }
    s.push_str(
        "- rule: r\n  desc: d\n  condition: evt.type=open and m30\n  output: o\n  priority: INFO\n",
    );
    // 2^30 nodes if expanded: the load must stop at the bound (an unbounded expansion
    // would not finish), with the error below.
    let o = load(&[&s]);
    assert!(o.program.is_none());
    let errs = errors(&o);
    assert_eq!(errs.len(), 1, "{}", o.render_text());
    assert!(errs[0].2.contains("larger than"), "{errs:?}");
}

#[test]
fn condition_positions_map_through_yaml_styles() {
    // Folded block scalar, error on the third line of the condition.
    let src = "- rule: r\n  desc: d\n  condition: >\n    evt.type=open and\n    proc.name=x and\n    proc.nobody=y\n  output: o\n  priority: INFO\n";
    let o = load(&[src]);
    let d = o.diagnostics.iter().find(|d| d.is_error()).unwrap();
    let l = d.context.innermost().unwrap();
    assert_eq!((l.pos.line, l.pos.col), (5, 4), "{}", o.render_text());
    assert_eq!(d.snippet, "    proc.nobody=y\n    ^\n");
    // Double-quoted, with a list substituted before the error.
    let src = "- list: l\n  items: [a, b, c]\n- rule: r\n  desc: d\n  condition: \"evt.type=open and proc.name in (l) and proc.nobody=1\"\n  output: o\n  priority: INFO\n";
    let o = load(&[src]);
    let d = o.diagnostics.iter().find(|d| d.is_error()).unwrap();
    let l = d.context.innermost().unwrap();
    let line = src.lines().nth(l.pos.line as usize).unwrap();
    assert!(
        line[l.pos.col as usize..].starts_with("proc.nobody"),
        "{}",
        o.render_text()
    );
}

#[test]
fn malformed_inputs_never_panic() {
    let base = format!(
        "- required_engine_version: 0.26.0\n- list: l\n  items: [a, 'b c']\n- macro: m\n  condition: proc.name in (l)\n{OPEN_RULE}  exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[x]]\n"
    );
    for i in 0..base.len() {
        if !base.is_char_boundary(i) {
            continue;
        }
        let mut cut = base[..i].to_string();
        let _ = load(&[&cut]);
        cut.push_str("\n  - ]: {\n");
        let _ = load(&[&cut]);
    }
    for junk in [
        "",
        "---",
        "- ~",
        "- []",
        "- rule: [1]",
        "- list: x\n  items: {a: b}",
        "- macro: m\n  condition: [x]",
        "*x",
        "- &a [*a]",
    ] {
        let _ = load(&[junk]);
    }
}
