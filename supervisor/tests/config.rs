//! Configuration as users meet it, through the real `tiercel` binary and real files:
//! `-o` (nested keys, lists, errors), bad values and unknown keys with `file:line:col`,
//! Falco's own falco.yaml, `config_files` order and strategies, rule selection (`rules:`
//! items, `-T`/`-t`/`-D`; `rules syscalls` and `profile` shrink), reload (SIGHUP and a
//! file change; good and broken), and `log_level` / `log_stderr`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{spawn_with_log, wait_for};

fn tiercel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tiercel"));
    // Never pick up a host's /etc/tiercel/falco.yaml.
    c.env("TIERCEL_DEFAULT_CONFIG", "/nonexistent/tiercel.yaml");
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tiercel-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let o: Output = cmd.stdin(Stdio::null()).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        text(&o.stdout),
        text(&o.stderr),
    )
}

/// Rules A (openat, tag a), B (connect, tag b), C (execve, tag c), D (execve, tag c,
/// disabled in the file).
const RULES: &str = "\
- rule: A open
  desc: d
  condition: evt.type = openat and proc.name = a
  output: a
  priority: WARNING
  tags: [a]
- rule: B connect
  desc: d
  condition: evt.type = connect and proc.name = b
  output: b
  priority: ERROR
  tags: [b, net]
- rule: C exec
  desc: d
  condition: evt.type = execve and proc.name = c
  output: c
  priority: NOTICE
  tags: [c]
- rule: D exec
  desc: d
  condition: evt.type = execve and proc.name = d
  output: d
  priority: NOTICE
  tags: [c]
  enabled: false
";

fn rules_file(root: &Path) -> PathBuf {
    let p = root.join("rules.yaml");
    std::fs::write(&p, RULES).unwrap();
    p
}

/// The rule names `rules list` prints.
fn listed(args: &[&str], root: &Path) -> Vec<String> {
    let (code, out, err) = run(tiercel()
        .current_dir(root)
        .arg("rules")
        .arg("list")
        .args(args));
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn o_sets_nested_keys_and_lists_and_refuses_bad_ones() {
    let root = scratch("o");
    rules_file(&root);
    // Lists and nested keys: the selection items come only from -o/--option.
    let names = listed(
        &[
            "--option",
            "rules_files=[rules.yaml]",
            "--option",
            "rules[].disable.rule=*",
            "--option",
            "rules[].enable.tag=c",
            "--option",
            "rules[1].enable.tag=b",
        ],
        &root,
    );
    assert_eq!(names, ["B connect"], "rules[1] replaced the second item");
    let names = listed(
        &["--option", "rules_files[]=rules.yaml", "-D", "connect"],
        &root,
    );
    assert_eq!(names, ["A open", "C exec"]);
    // Errors name the option and the key path.
    let (code, out, err) = run(tiercel().args(["config", "check", "-o", "json_output=maybe"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("-o json_output: json_output: expected true or false, got \"maybe\""),
        "{err}"
    );
    let (code, _, err) = run(tiercel().args(["config", "check", "-o", "rules_files[3]=x"]));
    assert_eq!(code, 1);
    assert!(err.contains("index 3 is past the end"), "{err}");
    let (code, _, err) = run(tiercel().args(["config", "check", "-o", "json_output"]));
    assert_eq!(code, 1);
    assert!(err.contains("expected key=value"), "{err}");
    let (code, _, err) = run(tiercel().args([
        "config",
        "check",
        "-o",
        "json_output=true",
        "-o",
        "json_output.x=1",
    ]));
    assert_eq!(code, 1);
    assert!(err.contains("not a mapping"), "{err}");
    // A nested unknown key set with -o is reported where it came from.
    let (code, out, _) = run(tiercel().args([
        "config",
        "check",
        "-o",
        "file_output.colour=red",
        "-o",
        "tiercel.mode=enforce",
    ]));
    assert_eq!(code, 0);
    assert!(
        out.contains("-o file_output.colour: file_output.colour: unknown key, ignored"),
        "{out}"
    );
    assert!(
        out.contains("-o tiercel.mode: tiercel.mode: applied"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn bad_values_and_unknown_keys_have_file_line_col() {
    let root = scratch("bad");
    let rules = rules_file(&root);
    let cfg = root.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [{}]\nfile_output:\n  enabled: sometimes\n",
            rules.display()
        ),
    )
    .unwrap();
    let sock = root.join("s.sock");
    let (code, _, err) = run(tiercel()
        .args(["supervise", "--socket", sock.to_str().unwrap(), "-c"])
        .arg(&cfg));
    assert_ne!(code, 0);
    let want = format!(
        "{}:3:3: file_output.enabled: expected true or false, got \"sometimes\"",
        cfg.display()
    );
    assert!(err.contains(&want), "{err}");
    std::fs::write(&cfg, "priority: loudest\ntiercel:\n  mode: quiet\n").unwrap();
    let (code, _, err) = run(tiercel().args(["config", "check", "-c"]).arg(&cfg));
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{}:1:1: priority: expected one of", cfg.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:3:3: tiercel.mode: expected one of audit, enforce",
            cfg.display()
        )),
        "{err}"
    );
    // A typed parser's own check gets the key's position too.
    std::fs::write(&cfg, "file_output:\n  enabled: true\n").unwrap();
    let (code, _, err) = run(tiercel().args(["config", "check", "-c"]).arg(&cfg));
    assert_eq!(code, 1);
    assert!(
        err.contains("file_output.filename: required when enabled"),
        "{err}"
    );
    // Unknown keys: warned with their position, the supervisor still starts.
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [{}]\ncolour: red\nstdout_output:\n  enabled: true\n  flavour: x\n",
            rules.display()
        ),
    )
    .unwrap();
    let (log, _) = supervise_until(
        tiercel()
            .args(["supervise", "--socket", sock.to_str().unwrap(), "-c"])
            .arg(&cfg),
        "supervisor ready",
    );
    assert!(log.contains("supervisor ready"), "{log}");
    assert!(
        log.contains(&format!(
            "{}:2:1: unknown configuration key 'colour' (ignored)",
            cfg.display()
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{}:5:3: unknown configuration key 'stdout_output.flavour' (ignored)",
            cfg.display()
        )),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn falcos_own_falco_yaml_loads_with_a_report() {
    let Some(f) = tiercel_testdata::upstream("upstream-config/falco.yaml") else {
        return;
    };
    let (code, out, err) = run(tiercel().args(["config", "check", "-c"]).arg(&f));
    assert_eq!(code, 0, "{err}");
    let fl = f.display().to_string();
    for line in [
        format!("{fl}:657:1: json_output: applied"),
        format!("{fl}:441:1: engine: accepted without effect (tiercel has no kernel driver"),
        format!("{fl}:939:3: webserver.threadiness: accepted without effect"),
        format!("{fl}:994:1: log_level: applied"),
    ] {
        assert!(out.contains(&line), "{line}\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l == "50 applied, 24 accepted without effect, 0 unknown, 0 error(s)"),
        "{out}"
    );
    assert!(
        err.contains("config_files: /etc/falco/config.d does not exist, skipped"),
        "{err}"
    );
}

#[test]
fn config_files_merge_in_order_with_their_strategies() {
    let root = scratch("include");
    rules_file(&root);
    let d = root.join("conf.d");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        root.join("main.yaml"),
        "rules_files: [rules.yaml]\nrules:\n  - disable: {rule: A open}\n\
         config_files:\n  - conf.d\n  - path: last.yaml\n    strategy: add-only\n  - path: over.yaml\n    strategy: override\n",
    )
    .unwrap();
    // Lexicographic order: 10 disables C, 20 enables tag c again (C and D on).
    std::fs::write(d.join("20-b.yaml"), "rules:\n  - enable: {tag: c}\n").unwrap();
    std::fs::write(d.join("10-a.yaml"), "rules:\n  - disable: {rule: C*}\n").unwrap();
    // add-only: `rules` exists, ignored.
    std::fs::write(
        root.join("last.yaml"),
        "rules:\n  - enable: {rule: A open}\n",
    )
    .unwrap();
    std::fs::write(root.join("over.yaml"), "priority: debug\n").unwrap();
    let names = listed(&["-c", "main.yaml"], &root);
    assert_eq!(names, ["B connect", "C exec", "D exec"]);
    // override: `rules` replaced as a whole (append would have added the item).
    std::fs::write(
        root.join("over.yaml"),
        "rules:\n  - disable: {rule: 'D*'}\n",
    )
    .unwrap();
    let names = listed(&["-c", "main.yaml"], &root);
    assert_eq!(names, ["A open", "B connect", "C exec"]);
    // The files are read in Falco's order.
    let (code, out, err) =
        run(tiercel()
            .current_dir(&root)
            .args(["config", "check", "-c", "main.yaml"]));
    assert_eq!(code, 0, "{err}");
    let read: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("# read "))
        .collect();
    let tail: Vec<String> = read
        .iter()
        .map(|p| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        tail,
        [
            "main.yaml",
            "10-a.yaml",
            "20-b.yaml",
            "last.yaml",
            "over.yaml"
        ]
    );
    // Nested includes are refused.
    std::fs::write(d.join("30-c.yaml"), "config_files: [x.yaml]\n").unwrap();
    let (code, _, err) =
        run(tiercel()
            .current_dir(&root)
            .args(["config", "check", "-c", "main.yaml"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("30-c.yaml:1:1: config_files in an included file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn rule_selection_flags_and_items_shrink_what_is_notified() {
    let root = scratch("select");
    let r = rules_file(&root);
    let r = r.to_str().unwrap();
    assert_eq!(listed(&["-r", r], &root), ["A open", "B connect", "C exec"]);
    assert_eq!(listed(&["-r", r, "-T", "net"], &root), ["A open", "C exec"]);
    assert_eq!(listed(&["-r", r, "-t", "c"], &root), ["C exec", "D exec"]);
    assert_eq!(
        listed(&["-r", r, "-t", "a", "-t", "b"], &root),
        ["A open", "B connect"]
    );
    assert_eq!(
        listed(&["-r", r, "-D", "exec", "-D", "open"], &root),
        ["B connect"]
    );
    let (code, _, err) = run(tiercel().args(["rules", "list", "-r", r, "-t", "a", "-T", "b"]));
    assert_ne!(code, 0);
    assert!(err.contains("cannot be combined"), "{err}");
    // priority drops less severe rules.
    assert_eq!(
        listed(&["-r", r, "--option", "priority=warning"], &root),
        ["A open", "B connect"]
    );
    // `rules:` in a config, wildcards, enabling a rule the file disables.
    let cfg = root.join("c.yaml");
    std::fs::write(
        &cfg,
        "rules:\n  - disable: {rule: '*'}\n  - enable: {rule: '* exec'}\n  - disable: {tag: nothing}\n",
    )
    .unwrap();
    assert_eq!(
        listed(&["-r", r, "-c", cfg.to_str().unwrap()], &root),
        ["C exec", "D exec"]
    );
    std::fs::write(&cfg, "rules:\n  - enable: {rule: x, colour: y}\n").unwrap();
    let (code, _, err) =
        run(tiercel().args(["rules", "list", "-r", r, "-c", cfg.to_str().unwrap()]));
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "{}:2:23: enable: unknown key \"colour\"",
            cfg.display()
        )),
        "{err}"
    );
    // What is notified follows the selection.
    let syscalls = |extra: &[&str]| {
        let (code, out, err) = run(tiercel().args(["rules", "syscalls", "-r", r]).args(extra));
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = syscalls(&[]);
    assert!(
        all.contains(&"connect".to_string()) && all.contains(&"execve".to_string()),
        "{all:?}"
    );
    let no_net = syscalls(&["-T", "net"]);
    assert!(!no_net.contains(&"connect".to_string()), "{no_net:?}");
    assert!(no_net.len() < all.len());
    let only_c = syscalls(&["-t", "c"]);
    assert!(
        only_c
            .iter()
            .all(|s| s.starts_with("execve") || s == "execveat"),
        "{only_c:?}"
    );
    let profile_names = |extra: &[&str]| {
        let (code, out, err) = run(tiercel()
            .args(["profile", "-r", r, "--socket", "/run/t.sock"])
            .args(extra));
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut names: Vec<String> = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"] == "SCMP_ACT_NOTIFY")
            .flat_map(|s| {
                s["names"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let p_all = profile_names(&[]);
    let p_net = profile_names(&["-T", "net"]);
    assert!(p_all.contains(&"connect".to_string()), "{p_all:?}");
    assert!(!p_net.contains(&"connect".to_string()), "{p_net:?}");
    let _ = std::fs::remove_dir_all(root);
}

/// Runs `cmd` (a `supervise`) without a `TIERCEL_LOG` from the environment; its log
/// lines arrive on the receiver; the child keeps running.
fn supervise_start(cmd: &mut Command) -> (mpsc::Receiver<String>, Child) {
    spawn_with_log(cmd.env_remove("TIERCEL_LOG"))
}

fn supervise_until(cmd: &mut Command, needle: &str) -> (String, bool) {
    let (rx, mut child) = supervise_start(cmd.env("TIERCEL_LOG", "info"));
    let mut log = String::new();
    let ok = wait_for(&rx, needle, &mut log);
    let _ = child.kill();
    let _ = child.wait();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&l);
        log.push('\n');
    }
    (log, ok)
}

fn hup(child: &Child) {
    // the child this test spawned and has not reaped
    let st = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn reload_on_sighup_and_on_file_change_good_and_broken() {
    let root = scratch("reload");
    rules_file(&root);
    let cfg = root.join("c.yaml");
    let sock = root.join("s.sock");
    let alerts = root.join("events.txt");
    let write_cfg = |extra: &str| {
        std::fs::write(
            &cfg,
            format!(
                "rules_files: [rules.yaml]\nrules:\n  - disable: {{tag: net}}\n{extra}tiercel:\n  socket: {}\n",
                sock.display()
            ),
        )
        .unwrap()
    };
    write_cfg("");
    let (rx, mut child) = supervise_start(
        tiercel()
            .args(["supervise", "-c"])
            .arg(&cfg)
            .env("TIERCEL_LOG", "info")
            .env("TIERCEL_WATCH_MS", "100"),
    );
    let mut log = String::new();
    let ready = wait_for(&rx, "supervisor ready", &mut log);
    // 1. SIGHUP with a good edit: the net rule comes back (needing connect, which the
    // started profile does not notify), and a file output appears.
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [rules.yaml]\nfile_output:\n  enabled: true\n  filename: {}\ntiercel:\n  socket: {}\n",
            alerts.display(),
            sock.display()
        ),
    )
    .unwrap();
    hup(&child);
    let reloaded = wait_for(&rx, "rules reloaded", &mut log);
    let warned = log.contains("do not send to tiercel: connect");
    let outputs = log.contains("outputs reopened with the new configuration");
    // 2. SIGHUP with a broken edit: kept, with the position.
    std::fs::write(&cfg, "json_output: perhaps\n").unwrap();
    hup(&child);
    let failed = wait_for(
        &rx,
        "reload failed, keeping the running rules and outputs",
        &mut log,
    );
    let _ = wait_for(&rx, "json_output: expected", &mut log);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready && reloaded && failed, "{log}");
    assert!(warned, "{log}");
    assert!(outputs, "{log}");
    assert!(
        log.contains(&format!(
            "{}:1:1: json_output: expected true or false",
            cfg.display()
        )),
        "{log}"
    );
    assert!(log.contains("rules=3"), "A, B, C after the reload: {log}");

    // 3. A file change (watch_config_files, default true) reloads without a signal; a broken
    // rules file keeps the running rules and says where.
    let _ = std::fs::remove_file(&sock);
    write_cfg("");
    let (rx, mut child) = supervise_start(
        tiercel()
            .args(["supervise", "-c"])
            .arg(&cfg)
            .env("TIERCEL_LOG", "info")
            .env("TIERCEL_WATCH_MS", "100"),
    );
    let mut log = String::new();
    let ready = wait_for(&rx, "supervisor ready", &mut log);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [rules.yaml]\nrules:\n  - disable: {{rule: 'A*'}}\ntiercel:\n  socket: {}\n",
            sock.display()
        ),
    )
    .unwrap();
    let changed = wait_for(&rx, "a config or rules file changed", &mut log);
    let reloaded = wait_for(&rx, "rules reloaded", &mut log);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(
        root.join("rules.yaml"),
        format!("{RULES}- rule: Broken\n  condition: x\n"),
    )
    .unwrap();
    let failed = wait_for(&rx, "reload failed", &mut log);
    let _ = wait_for(&rx, "rules.yaml:26:3: error", &mut log);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready && changed && reloaded && failed, "{log}");
    assert!(log.contains("rules.yaml:26:3: error"), "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn log_level_and_log_stderr_are_honoured() {
    let root = scratch("log");
    rules_file(&root);
    let sock = root.join("s.sock");
    let cfg = root.join("c.yaml");
    let run_with = |level: &str, stderr: bool| -> String {
        let _ = std::fs::remove_file(&sock);
        std::fs::write(
            &cfg,
            format!(
                "rules_files: [rules.yaml]\nlog_level: {level}\nlog_stderr: {stderr}\nlog_syslog: false\n\
                 colour: red\ntiercel:\n  socket: {}\n",
                sock.display()
            ),
        )
        .unwrap();
        let (rx, mut child) = supervise_start(tiercel().args(["supervise", "-c"]).arg(&cfg));
        let end = Instant::now() + Duration::from_secs(20);
        while !sock.exists() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(200));
        let _ = child.kill();
        let _ = child.wait();
        let mut log = String::new();
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            log.push_str(&l);
            log.push('\n');
        }
        assert!(
            sock.exists() || log.contains("ready"),
            "did not start: {log}"
        );
        log
    };
    let warning = run_with("warning", true);
    assert!(
        warning.contains("unknown configuration key 'colour'"),
        "{warning}"
    );
    assert!(!warning.contains("supervisor ready"), "{warning}");
    let error = run_with("error", true);
    assert!(!error.contains("unknown configuration key"), "{error}");
    let info = run_with("info", true);
    assert!(info.contains("supervisor ready"), "{info}");
    let quiet = run_with("debug", false);
    assert!(quiet.trim().is_empty(), "{quiet}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn log_syslog_sends_the_log_to_the_syslog_socket() {
    use std::os::unix::net::UnixDatagram;
    let root = scratch("syslog");
    rules_file(&root);
    let sock = root.join("s.sock");
    let log_sock = root.join("log.sock");
    let server = UnixDatagram::bind(&log_sock).unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let cfg = root.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [rules.yaml]\nlog_level: info\nlog_stderr: false\nlog_syslog: true\n\
             stdout_output: {{enabled: false}}\nsyslog_output: {{enabled: false}}\n\
             tiercel:\n  socket: {}\n  syslog_socket: {}\n",
            sock.display(),
            log_sock.display()
        ),
    )
    .unwrap();
    let (_rx, mut child) = supervise_start(tiercel().args(["supervise", "-c"]).arg(&cfg));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = server.recv(&mut buf) {
        let line = text(&buf[..n]);
        let done = line.contains("supervisor ready");
        got.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let ready = got
        .iter()
        .find(|l| l.contains("supervisor ready"))
        .unwrap_or_else(|| panic!("{got:?}"));
    // RFC 3164, daemon facility (3) at info (6): <30>.
    assert!(ready.starts_with("<30>"), "{ready}");
    assert!(ready.contains("tiercel["), "{ready}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_reload_applies_the_new_log_level() {
    let root = scratch("loglevel");
    rules_file(&root);
    let sock = root.join("s.sock");
    let cfg = root.join("c.yaml");
    let write = |level: &str| {
        std::fs::write(
            &cfg,
            format!(
                "rules_files: [rules.yaml]\nlog_level: {level}\nlog_syslog: false\n\
                 watch_config_files: false\ntiercel:\n  socket: {}\n",
                sock.display()
            ),
        )
        .unwrap()
    };
    write("error");
    let (rx, mut child) = supervise_start(tiercel().args(["supervise", "-c"]).arg(&cfg));
    let end = Instant::now() + Duration::from_secs(20);
    while !sock.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    // At error level a reload says nothing; after switching to info it says so.
    hup(&child);
    std::thread::sleep(Duration::from_millis(300));
    write("info");
    hup(&child);
    let mut log = String::new();
    let reloaded = wait_for(&rx, "rules reloaded", &mut log);
    write("warning");
    hup(&child);
    std::thread::sleep(Duration::from_millis(300));
    hup(&child);
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        log.push_str(&l);
        log.push('\n');
    }
    assert!(reloaded, "{log}");
    assert!(
        !log.contains("supervisor ready"),
        "started at error level: {log}"
    );
    // one info reload line (the switch to info), then warning hides the next ones
    assert_eq!(log.matches("rules reloaded").count(), 1, "{log}");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn append_output_extends_outputs_and_warns_about_what_it_ignores() {
    let root = scratch("append");
    let r = rules_file(&root);
    let cfg = root.join("c.yaml");
    std::fs::write(
        &cfg,
        "append_output:\n  - suggested_output: false\n  - extra_output: \"by=%proc.name\"\n  \
         - match: {tags: [a]}\n    extra_output: never\n",
    )
    .unwrap();
    let mut child = tiercel()
        .args(["rules", "eval", "-r"])
        .arg(&r)
        .arg("-c")
        .arg(&cfg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"{\"evt.type\":\"openat\",\"proc.name\":\"a\"}\n")
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    let alert: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let output = alert["output"].as_str().unwrap();
    assert!(output.ends_with("Warning a by=a"), "{output}");
    assert!(
        err.contains(&format!(
            "{}:4:5: append_output: items with `match` are not supported yet; ignored",
            cfg.display()
        )),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn default_config_file_and_config_files_from_o() {
    let root = scratch("default");
    let main = root.join("falco.yaml");
    std::fs::write(&main, "json_output: true\n").unwrap();
    std::fs::write(root.join("extra.yaml"), "rule_matching: all\n").unwrap();
    // Without -c the default file is read when it exists.
    let (code, out, err) = run(tiercel()
        .env("TIERCEL_DEFAULT_CONFIG", &main)
        .args(["config", "check"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("# read {}", main.display())), "{out}");
    assert!(
        out.contains(&format!("{}:1:1: json_output: applied", main.display())),
        "{out}"
    );
    // ... and not when it does not.
    let (code, out, _) = run(tiercel().args(["config", "check"]));
    assert_eq!(code, 0);
    assert!(!out.contains("# read"), "{out}");
    // -o config_files includes more files, after the main file's.
    let (code, out, err) = run(tiercel().current_dir(&root).args([
        "config",
        "check",
        "-c",
        "falco.yaml",
        "-o",
        "config_files[]=extra.yaml",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("extra.yaml:1:1: rule_matching: applied"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_new_file_in_a_config_files_directory_reloads() {
    let root = scratch("watchdir");
    rules_file(&root);
    let d = root.join("conf.d");
    std::fs::create_dir_all(&d).unwrap();
    let sock = root.join("s.sock");
    let cfg = root.join("c.yaml");
    std::fs::write(
        &cfg,
        format!(
            "rules_files: [rules.yaml]\nconfig_files: [conf.d]\ntiercel:\n  socket: {}\n",
            sock.display()
        ),
    )
    .unwrap();
    let (rx, mut child) = supervise_start(
        tiercel()
            .args(["supervise", "-c"])
            .arg(&cfg)
            .env("TIERCEL_LOG", "info")
            .env("TIERCEL_WATCH_MS", "100"),
    );
    let mut log = String::new();
    let ready = wait_for(&rx, "supervisor ready", &mut log);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(d.join("10-quiet.yaml"), "rules:\n  - disable: {tag: net}\n").unwrap();
    let reloaded = wait_for(&rx, "rules reloaded", &mut log);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready && reloaded, "{log}");
    assert!(
        log.contains("rules=3") && log.contains("rules reloaded rules=2"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(root);
}
