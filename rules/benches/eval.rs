//! Evaluation benchmark: the upstream stable rules against a realistic event mix.
//!
//! `cargo bench -p tiercel-rules --bench eval` prints ns/event (one core). The rule file is
//! expanded here with a minimal list/macro expander (textual list substitution as Falco
//! does, macro expansion on the AST); the full loader lives in `loader.rs`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::json;
use tiercel_rules::ast::Expr;
use tiercel_rules::compile::compile_condition;
use tiercel_rules::json_event::JsonEvent;
use tiercel_rules::output::OutputFormat;
use tiercel_rules::parser::{parse, FALCO_MAX_DEPTH};
use tiercel_rules::priority::Priority;
use tiercel_rules::program::{CompiledRule, Program, RuleMatching};

fn scalar(y: &Yaml) -> Option<String> {
    y.as_str()
        .map(str::to_owned)
        .or_else(|| y.as_integer().map(|i| i.to_string()))
        .or_else(|| y.as_bool().map(|b| b.to_string()))
}

fn is_delim(c: Option<char>) -> bool {
    c.is_none_or(|c| " \t\n\r(),=".contains(c))
}

fn substitute_lists(cond: &str, lists: &[(String, String)]) -> String {
    let mut s = cond.to_string();
    for (name, items) in lists {
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while let Some(k) = s[i..].find(name.as_str()) {
            let at = i + k;
            let before = s[..at].chars().next_back();
            let after = s[at + name.len()..].chars().next();
            out.push_str(&s[i..at]);
            if is_delim(before) && is_delim(after) {
                out.push_str(items);
            } else {
                out.push_str(name);
            }
            i = at + name.len();
        }
        out.push_str(&s[i..]);
        s = out;
    }
    // Empty lists inside a list literal leave stray commas: drop them.
    let mut t = String::with_capacity(s.len());
    for c in s.chars() {
        if c == ',' || c == ')' {
            let trimmed = t.trim_end();
            if trimmed.ends_with(',') || (c == ',' && trimmed.ends_with('(')) {
                let keep = if trimmed.ends_with(',') && c == ',' {
                    trimmed.len()
                } else {
                    trimmed.len() - usize::from(trimmed.ends_with(','))
                };
                t.truncate(keep);
                if c == ',' && t.trim_end().ends_with('(') {
                    continue;
                }
                if c == ',' {
                    continue;
                }
            }
        }
        t.push(c);
    }
    t
}

fn expand(e: &Expr, macros: &HashMap<String, Expr>, depth: usize) -> Expr {
    assert!(depth < 64, "macro loop");
    match e {
        Expr::And(v, s) => Expr::And(v.iter().map(|x| expand(x, macros, depth)).collect(), *s),
        Expr::Or(v, s) => Expr::Or(v.iter().map(|x| expand(x, macros, depth)).collect(), *s),
        Expr::Not(x, s) => Expr::Not(Box::new(expand(x, macros, depth)), *s),
        Expr::Ident(name, _) => match macros.get(name) {
            Some(m) => expand(m, macros, depth + 1),
            None => e.clone(),
        },
        Expr::Check(_) => e.clone(),
    }
}

fn load_rules(path: &str) -> Vec<CompiledRule> {
    let text = std::fs::read_to_string(path).expect("rules file");
    let docs = Yaml::load_from_str(&text).expect("yaml");
    let mut lists: Vec<(String, Vec<String>)> = Vec::new();
    let mut macro_src: Vec<(String, String)> = Vec::new();
    let mut rules_src = Vec::new();
    for doc in &docs {
        let Some(items) = doc.as_sequence() else {
            continue;
        };
        for item in items {
            if let Some(name) = item.as_mapping_get("list").and_then(scalar) {
                let vals: Vec<String> = item
                    .as_mapping_get("items")
                    .and_then(|i| i.as_sequence())
                    .map(|s| s.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                // Items naming an earlier list are replaced by that list's items.
                let mut resolved = Vec::new();
                for v in vals {
                    match lists.iter().find(|(n, _)| *n == v) {
                        Some((_, items)) => resolved.extend(items.iter().cloned()),
                        None => resolved.push(v),
                    }
                }
                let vals = resolved;
                lists.retain(|(n, _)| *n != name);
                lists.push((name, vals));
            } else if let Some(name) = item.as_mapping_get("macro").and_then(scalar) {
                let c = item
                    .as_mapping_get("condition")
                    .and_then(scalar)
                    .unwrap_or_default();
                macro_src.push((name, c));
            } else if let Some(name) = item.as_mapping_get("rule").and_then(scalar) {
                let c = item
                    .as_mapping_get("condition")
                    .and_then(scalar)
                    .unwrap_or_default();
                let o = item
                    .as_mapping_get("output")
                    .and_then(scalar)
                    .unwrap_or_default();
                let p = item
                    .as_mapping_get("priority")
                    .and_then(scalar)
                    .unwrap_or_default();
                let enabled = item
                    .as_mapping_get("enabled")
                    .and_then(|y| y.as_bool())
                    .unwrap_or(true);
                if enabled {
                    rules_src.push((name, c, o, p));
                }
            }
        }
    }
    let lists: Vec<(String, String)> = lists
        .into_iter()
        .map(|(n, items)| {
            let items: Vec<String> = items
                .into_iter()
                .map(|v| {
                    if v.contains(' ') && !v.starts_with(['"', '\'']) {
                        format!("\"{v}\"")
                    } else {
                        v
                    }
                })
                .collect();
            (n, items.join(", "))
        })
        .collect();
    let mut macros = HashMap::new();
    for (name, c) in &macro_src {
        let c = substitute_lists(c, &lists);
        let e = parse(&c, FALCO_MAX_DEPTH).unwrap_or_else(|e| panic!("macro {name}: {e}"));
        macros.insert(name.clone(), e);
    }
    let mut out = Vec::new();
    for (name, c, o, p) in rules_src {
        let c = substitute_lists(&c, &lists);
        let e = parse(&c, FALCO_MAX_DEPTH).unwrap_or_else(|e| panic!("rule {name}: {e}"));
        let e = expand(&e, &macros, 0);
        let cc = compile_condition(&e).unwrap_or_else(|e| panic!("rule {name}: {e:?}"));
        let (output, _) =
            OutputFormat::parse(o.trim()).unwrap_or_else(|e| panic!("rule {name}: {e:?}"));
        out.push(CompiledRule {
            name,
            desc: String::new(),
            priority: Priority::parse(&p).unwrap_or(Priority::Debug),
            tags: Vec::new(),
            source: "syscall".into(),
            output,
            filter: cc.filter,
            evttypes: cc.evttypes,
        });
    }
    out
}

fn events() -> Vec<JsonEvent> {
    let base = |extra: serde_json::Value| {
        let mut m = json!({
            "proc.name": "python3", "proc.exe": "/usr/bin/python3", "proc.exepath": "/usr/bin/python3",
            "proc.cmdline": "python3 app.py", "proc.args": "app.py", "proc.pname": "sh",
            "proc.pcmdline": "sh -c python3 app.py", "proc.pexe": "/bin/sh", "proc.aname": ["sh", "containerd-shim"],
            "proc.aname[1]": "sh", "proc.aname[2]": "containerd-shim", "proc.aname[3]": "systemd",
            "proc.pid": 4242, "proc.vpid": 7, "proc.ppid": 4200, "proc.tty": 0, "proc.cwd": "/app/",
            "proc.duration": 30_000_000_000u64, "user.name": "app", "user.uid": 1000, "user.loginuid": -1,
            "container.id": "3ad7b26ded6d", "container.name": "web", "container.image.repository": "docker.io/library/python",
            "container.privileged": false, "thread.cap_effective": "", "proc.is_exe_upper_layer": false,
            "proc.is_exe_from_memfd": false, "evt.num": 10, "evt.dir": "<", "proc.sname": "python3",
        });
        if let (Some(m), Some(x)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in x {
                m.insert(k.clone(), v.clone());
            }
        }
        JsonEvent::from_json(&m).expect("event")
    };
    vec![
        base(
            json!({"evt.type": "openat", "fd.name": "/app/data/cache.db", "fd.directory": "/app/data", "fd.filename": "cache.db",
            "fd.typechar": "f", "fd.type": "file", "fd.num": 5, "evt.rawres": 5, "evt.res": "SUCCESS",
            "evt.is_open_read": true, "evt.is_open_write": false, "evt.arg.flags": "O_RDONLY|O_CLOEXEC", "fd.nameraw": "data/cache.db"}),
        ),
        base(
            json!({"evt.type": "openat", "fd.name": "/tmp/out.log", "fd.directory": "/tmp", "fd.filename": "out.log",
            "fd.typechar": "f", "fd.type": "file", "fd.num": 6, "evt.rawres": 6, "evt.res": "SUCCESS",
            "evt.is_open_read": false, "evt.is_open_write": true, "evt.arg.flags": "O_WRONLY|O_CREAT|O_TRUNC", "fd.nameraw": "/tmp/out.log"}),
        ),
        base(
            json!({"evt.type": "openat", "fd.name": "/etc/shadow", "fd.directory": "/etc", "fd.filename": "shadow",
            "fd.typechar": "f", "fd.type": "file", "fd.num": 3, "evt.rawres": 3, "evt.res": "SUCCESS",
            "evt.is_open_read": true, "evt.is_open_write": false, "evt.arg.flags": "O_RDONLY", "fd.nameraw": "/etc/shadow"}),
        ),
        base(
            json!({"evt.type": "open", "fd.name": "/usr/lib/x86_64-linux-gnu/libc.so.6", "fd.directory": "/usr/lib/x86_64-linux-gnu",
            "fd.filename": "libc.so.6", "fd.typechar": "f", "fd.num": 3, "evt.rawres": 3, "evt.is_open_read": true,
            "evt.is_open_write": false, "evt.arg.flags": "O_RDONLY|O_CLOEXEC"}),
        ),
        base(
            json!({"evt.type": "execve", "proc.name": "bash", "proc.exe": "/bin/bash", "proc.exepath": "/usr/bin/bash",
            "proc.cmdline": "bash -c ls", "proc.args": "-c ls", "proc.pname": "python3", "proc.tty": 34816, "evt.arg.flags": "EXE_LOWER_LAYER"}),
        ),
        base(
            json!({"evt.type": "execve", "proc.name": "ls", "proc.exe": "ls", "proc.exepath": "/usr/bin/ls",
            "proc.cmdline": "ls -la", "proc.args": "-la", "proc.pname": "bash", "evt.arg.flags": "EXE_LOWER_LAYER"}),
        ),
        base(
            json!({"evt.type": "execve", "proc.name": "curl", "proc.exe": "curl", "proc.exepath": "/usr/bin/curl",
            "proc.cmdline": "curl -s http://example.com", "proc.args": "-s http://example.com", "proc.pname": "sh"}),
        ),
        base(
            json!({"evt.type": "connect", "fd.typechar": "4", "fd.type": "ipv4", "fd.sip": "93.184.216.34", "fd.sport": 443,
            "fd.rip": "93.184.216.34", "fd.rport": 443, "fd.l4proto": "tcp", "fd.sockfamily": "ip", "fd.num": 7,
            "evt.rawres": 0, "evt.res": "SUCCESS", "fd.name": "172.17.0.2:40000->93.184.216.34:443",
            "fd.ip": ["172.17.0.2", "93.184.216.34"], "fd.net": ["172.17.0.2", "93.184.216.34"]}),
        ),
        base(
            json!({"evt.type": "socket", "evt.arg.domain": "AF_INET", "fd.num": 7, "evt.rawres": 7}),
        ),
        base(json!({"evt.type": "read", "fd.num": 5})),
        base(json!({"evt.type": "close", "fd.num": 5})),
        base(json!({"evt.type": "mmap"})),
    ]
}

fn main() {
    let path = std::env::var("TIERCEL_BENCH_RULES").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/upstream-rules/falco_rules.yaml"
        )
        .to_string()
    });
    let t0 = Instant::now();
    let rules = load_rules(&path);
    let n_rules = rules.len();
    let program = Program::new(rules);
    println!("loaded {n_rules} stable rules in {:?}", t0.elapsed());
    let evs = events();
    let mut out = Vec::with_capacity(8);
    let mut matches = 0usize;
    // Warm-up.
    for e in &evs {
        program.eval(e, RuleMatching::All, &mut out);
    }
    println!(
        "matches in one pass (all): {:?}",
        out.iter()
            .map(|&i| program.rules()[i].name.as_str())
            .collect::<Vec<_>>()
    );
    for matching in [RuleMatching::First, RuleMatching::All] {
        let iters = 200_000;
        let start = Instant::now();
        for _ in 0..iters {
            for e in &evs {
                out.clear();
                program.eval(black_box(e), matching, &mut out);
                matches += out.len();
            }
        }
        let dt = start.elapsed();
        let n = (iters * evs.len()) as f64;
        println!(
            "{matching:?}: {:.0} ns/event over {} events ({} event types mixed)",
            dt.as_nanos() as f64 / n,
            n,
            evs.len()
        );
    }
    black_box(matches);
}
