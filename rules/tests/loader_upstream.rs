//! The three upstream Falco rule files load with zero errors, alone and together. They are
//! an upstream corpus (`upstream-rules/` of the shared directory, see `tiercel_testdata`):
//! without it each test is skipped with a line saying so, under CI it fails.

use std::path::PathBuf;

use tiercel_rules::loader::{LoadOutcome, Loader, LoaderOptions};

fn upstream(name: &str) -> Option<PathBuf> {
    tiercel_testdata::upstream(&format!("upstream-rules/{name}"))
}

const STABLE: &str = "falco_rules.yaml";
const INCUBATING: &str = "falco-incubating_rules.yaml";
const SANDBOX: &str = "falco-sandbox_rules.yaml";

fn load(files: &[&str]) -> Option<LoadOutcome> {
    let mut l = Loader::new(LoaderOptions::default());
    for f in files {
        l.add_file(&upstream(f)?);
    }
    Some(l.finish())
}

fn assert_clean(o: &LoadOutcome) {
    let errors: Vec<_> = o.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{}", o.render_text());
    assert!(o.program.is_some());
}

#[test]
fn stable_alone() {
    let Some(o) = load(&[STABLE]) else { return };
    assert_clean(&o);
    assert_eq!((o.rules, o.macros, o.lists), (25, 87, 49));
    let p = o.program.as_ref().unwrap();
    let enabled = o.rule_summaries.iter().filter(|r| r.enabled).count();
    assert_eq!(p.rules().len(), enabled);
    // Definition order is kept.
    let names: Vec<&str> = p.rules().iter().map(|r| r.name.as_str()).collect();
    let summ: Vec<&str> = o
        .rule_summaries
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(names, summ);
}

#[test]
fn incubating_alone() {
    let Some(o) = load(&[INCUBATING]) else { return };
    assert_clean(&o);
    assert_eq!((o.rules, o.macros, o.lists), (31, 82, 54));
}

#[test]
fn sandbox_alone() {
    let Some(o) = load(&[SANDBOX]) else { return };
    assert_clean(&o);
    assert_eq!((o.rules, o.macros, o.lists), (37, 183, 60));
    assert_eq!(o.rule_summaries.iter().filter(|r| !r.enabled).count(), 12);
}

#[test]
fn all_three_in_order() {
    let Some(o) = load(&[STABLE, INCUBATING, SANDBOX]) else {
        return;
    };
    assert_clean(&o);
    assert_eq!(o.rules, 93);
    let p = o.program.as_ref().unwrap();
    assert_eq!(p.rules().len(), 93 - 12);
    // No LOAD_ERR and every warning has a real position.
    for d in &o.diagnostics {
        let inner = d.context.innermost().unwrap();
        assert!(!inner.file.is_empty());
    }
}

#[test]
fn min_priority_filters_the_program_only() {
    let mut l = Loader::new(LoaderOptions {
        min_priority: tiercel_rules::priority::Priority::Critical,
        ..Default::default()
    });
    let Some(p) = upstream(STABLE) else { return };
    l.add_file(&p);
    let o = l.finish();
    assert_clean(&o);
    let prog = o.program.unwrap();
    assert!(prog.rules().len() < 25);
    assert!(prog.rules().iter().all(|r| r
        .priority
        .at_least(tiercel_rules::priority::Priority::Critical)));
}
