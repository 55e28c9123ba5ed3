//! Data-driven conformance test: every case of libsinsp `test/filter_parser.ut.cpp`
//! (extracted to `shared/upstream-tests/libsinsp_filter_parser_cases.json`).
//!
//! As upstream's `test_accept`, every accepted input is also re-parsed as
//! `" " + s + " "`, then with every space of that replaced by `\n`, then by `\t`.
//! The fixture is an upstream corpus (`upstream-tests/` of the shared directory, see
//! `tiercel_testdata`): without it the test is skipped with a line saying so, under CI it
//! fails.

use tiercel_rules::parser::{parse, DEFAULT_MAX_DEPTH, FALCO_MAX_DEPTH};

#[derive(serde::Deserialize)]
struct Case {
    test: String,
    kind: String,
    input: String,
    msg: Option<String>,
}

fn load_cases() -> Option<Vec<Case>> {
    let path = tiercel_testdata::upstream("upstream-tests/libsinsp_filter_parser_cases.json")?;
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read parser fixture {}: {e}", path.display()));
    Some(serde_json::from_str(&text).expect("fixture is a JSON array of cases"))
}

#[test]
fn upstream_parser_cases() {
    let Some(cases) = load_cases() else { return };
    assert_eq!(
        cases.len(),
        530,
        "fixture should hold all 530 upstream cases"
    );
    let mut failures = Vec::new();
    let (mut accepts, mut rejects, mut msgs) = (0, 0, 0);
    for c in &cases {
        match c.kind.as_str() {
            "accept" => {
                accepts += 1;
                let padded = format!(" {} ", c.input);
                let variants = [
                    c.input.clone(),
                    padded.clone(),
                    padded.replace(' ', "\n"),
                    padded.replace(' ', "\t"),
                ];
                for v in &variants {
                    if let Err(e) = parse(v, DEFAULT_MAX_DEPTH) {
                        failures.push(format!(
                            "[{}] should accept {:?}: {} at {}:{}",
                            c.test, v, e.message, e.line, e.col
                        ));
                    }
                }
            }
            "reject" => {
                rejects += 1;
                match parse(&c.input, DEFAULT_MAX_DEPTH) {
                    Ok(ast) => failures.push(format!(
                        "[{}] should reject {:?}, parsed as {ast}",
                        c.test, c.input
                    )),
                    Err(e) => {
                        if let Some(m) = &c.msg {
                            msgs += 1;
                            if &e.message != m {
                                failures.push(format!(
                                    "[{}] {:?}: message {:?}, expected {:?}",
                                    c.test, c.input, e.message, m
                                ));
                            }
                        }
                    }
                }
            }
            k => failures.push(format!("unknown case kind {k}")),
        }
    }
    assert_eq!((accepts, rejects), (335, 195));
    assert!(msgs >= 4, "exact-message cases were not checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn depth_limit_default() {
    // upstream recursion_depth_limit: 100000 '(' with the default limit
    let input = "(".repeat(100_000);
    let e = parse(&input, DEFAULT_MAX_DEPTH).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 100");
    assert!(parse("((((((((((a))))))))))", DEFAULT_MAX_DEPTH).is_ok());
}

/// Runs `f` on a thread with a fixed 8 MiB stack: unoptimised builds use up to
/// ~3 KiB of stack per depth unit (optimised: < 0.5 KiB), so Falco's limit of 1000
/// does not fit the 2 MiB default test thread in a debug build.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("test thread");
}

#[test]
fn depth_limit_falco() {
    on_big_stack(depth_limit_falco_body);
}

fn depth_limit_falco_body() {
    let input = "(".repeat(100_000);
    let e = parse(&input, FALCO_MAX_DEPTH).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 1000");
    // `not not not …` chains are flat (one loop), but `not(` nesting recurses
    let e = parse(&"not(".repeat(100_000), FALCO_MAX_DEPTH).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 1000");
    let e = parse(&"tolower(".repeat(100_000), FALCO_MAX_DEPTH).unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 1000");
    let e = parse(
        &format!("a.b = {}", "b64(".repeat(100_000)),
        FALCO_MAX_DEPTH,
    )
    .unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 1000");
    let e = parse(
        &format!("join(\"-\", ({}", "join(\"-\", (".repeat(50_000)),
        FALCO_MAX_DEPTH,
    )
    .unwrap_err();
    assert_eq!(e.message, "exceeded max depth limit of 1000");
    let chain = format!("{}a", "not ".repeat(100_000));
    assert!(parse(&chain, FALCO_MAX_DEPTH).is_ok());
}

#[test]
fn deep_nesting_small_stack() {
    // The deepest accepted nesting at Falco's limit must fit a small thread stack.
    let depth = 190;
    let input = format!("{}a.b = c{}", "(".repeat(depth), ")".repeat(depth));
    let stack = if cfg!(debug_assertions) {
        4 << 20
    } else {
        1 << 20
    };
    let h = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || parse(&input, FALCO_MAX_DEPTH).map(|_| ()))
        .unwrap();
    h.join().expect("no stack overflow").expect("parses");
}
