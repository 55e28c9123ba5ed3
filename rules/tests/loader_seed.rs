//! The seed rule: refused exactly as written, with positioned diagnostics; the corrected
//! version shipped in examples/ loads cleanly.

use std::path::PathBuf;

use tiercel_rules::loader::{Loader, LoaderOptions};

fn data(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// `(code, message, "line:col" of the innermost location, 1-based)` of each diagnostic.
fn summary(o: &tiercel_rules::loader::LoadOutcome) -> Vec<(String, String, String)> {
    o.diagnostics
        .iter()
        .map(|d| {
            let l = d.context.innermost().unwrap();
            (
                d.code.to_string(),
                d.message.clone(),
                format!("{}:{}", l.pos.line + 1, l.pos.col + 1),
            )
        })
        .collect()
}

#[test]
fn seed_original_is_refused_with_positions() {
    let mut l = Loader::new(LoaderOptions::default());
    l.add_str("seed.yaml", include_str!("data/seed-original.yaml"));
    let o = l.finish();
    assert!(o.program.is_none());
    let got = summary(&o);
    let want: Vec<(String, String, String)> = [
        (
            "LOAD_ERR_YAML_VALIDATE",
            "Item has no mapping for key 'condition'",
            "7:3",
        ),
        (
            "LOAD_ERR_YAML_VALIDATE",
            "Item has no mapping for key 'priority'",
            "10:3",
        ),
        (
            "LOAD_ERR_YAML_VALIDATE",
            "Rules content is not yaml array of objects",
            "14:1",
        ),
        (
            "LOAD_ERR_COMPILE_CONDITION",
            "unexpected token after 'in', expecting 'or', 'and'",
            "2:17",
        ),
        (
            "LOAD_ERR_COMPILE_CONDITION",
            "unexpected token after 'in', expecting 'or', 'and'",
            "12:64",
        ),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(got, want, "\n{}", o.render_text());
    // Every diagnostic has item kind/name, a snippet with a caret, hints where we know more.
    let d = &o.diagnostics[0];
    assert_eq!(d.context.item().unwrap().item_name, "package_mgmt_binaries");
    assert_eq!(d.snippet, "- macro: package_mgmt_binaries\n  ^\n");
    assert!(d
        .hint
        .as_deref()
        .unwrap()
        .contains("- list: package_mgmt_binaries"));
    assert!(o.diagnostics[1]
        .hint
        .as_deref()
        .unwrap()
        .contains("line 14"));
    assert!(o.diagnostics[2].hint.is_some());
    let t = o.render_text();
    assert!(t.starts_with("seed.yaml: Invalid\n5 Errors:\nseed.yaml:7:3: error: Item has no mapping for key 'condition'\n"), "{t}");
    let j = o.render_json();
    assert_eq!(
        j["falco_load_results"][0]["errors"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn seed_corrected_loads() {
    let mut l = Loader::new(LoaderOptions::default());
    l.add_file(&data("../examples/rules/seed-write-below-binary-dir.yaml"));
    let o = l.finish();
    assert_eq!(o.errors(), 0, "{}", o.render_text());
    assert_eq!(o.warnings(), 0, "{}", o.render_text());
    let p = o.program.expect("program");
    assert_eq!(p.rules().len(), 1);
    assert_eq!(p.rules()[0].name, "Write below binary dir");
    assert_eq!(p.rules()[0].priority.as_str(), "Warning");
}

#[test]
fn seed_with_only_the_list_fixed() {
    // (f) point 3: next error is the rule's missing priority.
    let src = include_str!("data/seed-original.yaml").replace(
        "- macro: package_mgmt_binaries",
        "- list: package_mgmt_binaries",
    );
    let mut l = Loader::new(LoaderOptions::default());
    l.add_str("seed.yaml", &src);
    let o = l.finish();
    let msgs: Vec<&str> = o.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(msgs[0], "Item has no mapping for key 'priority'");
}
