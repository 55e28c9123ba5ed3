//! The three upstream Falco rule files load with zero errors, alone and together.

use std::path::PathBuf;

use tiercel_rules::loader::{LoadOutcome, Loader, LoaderOptions};

fn upstream(name: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/upstream-rules");
    root.join(name)
}

const STABLE: &str = "falco_rules.yaml";
const INCUBATING: &str = "falco-incubating_rules.yaml";
const SANDBOX: &str = "falco-sandbox_rules.yaml";

fn load(files: &[&str]) -> Option<LoadOutcome> {
    let mut l = Loader::new(LoaderOptions::default());
    for f in files {
        let p = upstream(f);
        if !p.exists() {
            panic!(
                "{} not found: the upstream rules must be at ../shared/upstream-rules beside the repository",
                p.display()
            );
        }
        l.add_file(&p);
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
    let o = load(&[STABLE]).expect("loaded");
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
    let o = load(&[INCUBATING]).expect("loaded");
    assert_clean(&o);
    assert_eq!((o.rules, o.macros, o.lists), (31, 82, 54));
}

#[test]
fn sandbox_alone() {
    let o = load(&[SANDBOX]).expect("loaded");
    assert_clean(&o);
    assert_eq!((o.rules, o.macros, o.lists), (37, 183, 60));
    assert_eq!(o.rule_summaries.iter().filter(|r| !r.enabled).count(), 12);
}

#[test]
fn all_three_in_order() {
    let o = load(&[STABLE, INCUBATING, SANDBOX]).expect("loaded");
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
    let p = upstream(STABLE);
    assert!(p.exists(), "{} not found", p.display());
    l.add_file(&p);
    let o = l.finish();
    assert_clean(&o);
    let prog = o.program.unwrap();
    assert!(prog.rules().len() < 25);
    assert!(prog.rules().iter().all(|r| r
        .priority
        .at_least(tiercel_rules::priority::Priority::Critical)));
}
