//! End-to-end tests with a real Docker engine (Debian's docker.io 20.10): a `dockerd` of the
//! test's own on private paths (data root, exec root, socket, config file; never the host's
//! engine), `tiercel-shim` registered as a runtime in its `daemon.json`, and a real
//! `tiercel supervise`:
//!
//! * enforce: `docker run --runtime tiercel --name web …` is refused a write below `/bin`;
//!   the alert carries Docker's metadata (name, image repository and tag, labels, mounts);
//!   a `docker exec` session is watched and refused too; `docker stop`/`rm` end the sessions.
//! * audit: a container restarted by its restart policy is watched on every start.
//! * `container.privileged` from Docker's record: the stable Falco rule "Debugfs Launched in
//!   Privileged Container" fires for `--privileged` only.
//! * the Falco walk-through with Docker: the supervisor image built from the repository's
//!   `Containerfile` with `docker build`, run `--privileged --pid=host` with the rules, the
//!   socket directory and the events file mounted; a container started with `--runtime
//!   tiercel` does something suspicious; the events file says so.
//!
//! Needs root, dockerd (docker.io), busybox-static and the binaries (`cargo build --release
//! --workspace --bins`; the walk-through also the musl build of `Containerfile`). A missing
//! prerequisite prints `SKIP:` (and fails under `CI`).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tiercel_e2e::daemons::{
    alerts_of, command_path, engine_prereq, shim_config, write_below_bin_rules,
};
use tiercel_e2e::{
    have, require, runc_without_missing_caps, session_notifications, Dockerd, Supervisor,
    SupervisorOpts,
};

const IMAGE: &str = "tiercel-e2e/busybox:1.36";
const RULE: &str = "Write below /bin (docker test)";
const T: Duration = Duration::from_secs(60);

struct Bins {
    tiercel: PathBuf,
    shim: PathBuf,
}

fn prereq(test: &str) -> Option<Bins> {
    let needs = [
        ("dockerd not installed (docker.io)", have("dockerd")),
        (
            "/usr/bin/docker not installed (docker.io)",
            tiercel_e2e::docker_cli().is_some(),
        ),
    ];
    let (tiercel, shim) = engine_prereq(test, &needs, "tiercel-shim", "TIERCEL_SHIM_BIN")?;
    Some(Bins { tiercel, shim })
}

/// The rules of the tests: [`RULE`] with Docker's metadata in its output.
fn rules_text() -> String {
    write_below_bin_rules(
        RULE,
        "File below /bin opened (file=%fd.name command=%proc.cmdline id=%container.id \
         name=%container.name image=%container.image repo=%container.image.repository \
         tag=%container.image.tag type=%container.type privileged=%container.privileged \
         labels=%container.labels mounts=%container.mounts)",
    )
}

/// The shim's config file (runc, the supervisor's socket, its rules, the mode) and a
/// dockerd whose `tiercel` runtime is the shim with that file.
fn engine(b: &Bins, sup: &Supervisor, rules: &[PathBuf], mode: &str) -> Dockerd {
    engine_with(b, sup, rules, mode, None)
}

/// [`engine`] with another real runtime behind the shim.
fn engine_with(
    b: &Bins,
    sup: &Supervisor,
    rules: &[PathBuf],
    mode: &str,
    runtime: Option<&Path>,
) -> Dockerd {
    let cfg = sup.dir.path().join("shim.yaml");
    let runtime = runtime.map_or_else(|| command_path("runc"), |p| p.display().to_string());
    fs::write(&cfg, shim_config(&runtime, &sup.socket, rules, mode)).unwrap();
    let d = Dockerd::start(&json!({
        "runtimes": {"tiercel": {
            "path": b.shim,
            "runtimeArgs": ["--tiercel-config", cfg]
        }}
    }))
    .unwrap();
    d.import_busybox(IMAGE).unwrap();
    d
}

/// A supervisor in `mode` on [`rules_text`] and a dockerd whose shim uses the same rules,
/// with the temporary directory the rules are in.
fn start(b: &Bins, mode: &str) -> (tempfile::TempDir, Supervisor, Dockerd) {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("docker-rules.yaml");
    fs::write(&rules, rules_text()).unwrap();
    let sup = Supervisor::start(
        &b.tiercel,
        SupervisorOpts::new(std::slice::from_ref(&rules), mode),
    )
    .unwrap();
    let d = engine(b, &sup, std::slice::from_ref(&rules), mode);
    (tmp, sup, d)
}

fn wait_for(sup: &Supervisor, what: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    sup.wait_alerts(Duration::from_secs(20), Duration::from_millis(300), what)
        .unwrap()
}

#[test]
fn docker_enforce_metadata_exec_stop_rm() {
    let test = "docker_enforce_metadata_exec_stop_rm";
    let Some(b) = prereq(test) else { return };
    let (tmp, sup, d) = start(&b, "enforce");
    let vol = tmp.path().join("vol");
    fs::create_dir_all(&vol).unwrap();
    let volume = format!("{}:/data", vol.display());

    // 1. docker run --name web: the write below /bin is refused, other work goes on.
    let o = d
        .docker(
            &[
                "run",
                "--runtime",
                "tiercel",
                "--network",
                "none",
                "--name",
                "web",
                "-l",
                "app=web",
                "-l",
                "tier=front",
                "-v",
                &volume,
                IMAGE,
                "sh",
                "-c",
                "touch /bin/evil; echo touch-rc=$?; touch /data/ok && echo data-ok",
            ],
            T,
        )
        .unwrap();
    assert!(
        o.stdout.contains("touch-rc=1") && o.stdout.contains("data-ok"),
        "enforce refuses /bin/evil only: {o:?}\n{}",
        sup.dump()
    );
    assert!(o.stderr.contains("Operation not permitted"), "{o:?}");
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "web"], T)
        .unwrap();
    let alerts = wait_for(&sup, |a| !alerts_of(a, RULE, &id).is_empty());
    let a = alerts_of(&alerts, RULE, &id);
    assert!(!a.is_empty(), "no alert for web\n{}", sup.dump());
    let f = &a[0]["output_fields"];
    assert_eq!(f["container.id"], id[..12], "{f}");
    assert_eq!(f["container.name"], "web", "{f}");
    assert_eq!(f["container.image"], IMAGE, "{f}");
    assert_eq!(
        f["container.image.repository"], "tiercel-e2e/busybox",
        "{f}"
    );
    assert_eq!(f["container.image.tag"], "1.36", "{f}");
    assert_eq!(f["container.type"], "docker", "{f}");
    assert_eq!(f["container.privileged"], false, "{f}");
    assert_eq!(f["container.labels"], "app:web, tier:front", "{f}");
    assert_eq!(
        f["container.mounts"],
        format!("{}:/data::true:rprivate", vol.display()),
        "{f}"
    );
    assert_eq!(f["fd.name"], "/bin/evil", "{f}");
    d.docker_ok(&["rm", "web"], T).unwrap();

    // 2. docker exec into a running container: a session of its own, watched and refused.
    d.docker_ok(
        &[
            "run",
            "-d",
            "--runtime",
            "tiercel",
            "--network",
            "none",
            "--name",
            "web2",
            IMAGE,
            "sleep",
            "300",
        ],
        T,
    )
    .unwrap();
    let id2 = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "web2"], T)
        .unwrap();
    let o = d
        .docker(
            &[
                "exec",
                "web2",
                "sh",
                "-c",
                "touch /bin/exec-evil; echo exec-rc=$?",
            ],
            T,
        )
        .unwrap();
    assert!(o.stdout.contains("exec-rc=1"), "exec refused: {o:?}");
    let alerts = wait_for(&sup, |a| {
        alerts_of(a, RULE, &id2)
            .iter()
            .any(|x| x["output_fields"]["fd.name"] == "/bin/exec-evil")
    });
    let a: Vec<_> = alerts_of(&alerts, RULE, &id2)
        .into_iter()
        .filter(|x| x["output_fields"]["fd.name"] == "/bin/exec-evil")
        .collect();
    assert_eq!(
        a.len(),
        1,
        "one alert from the exec session\n{}",
        sup.dump()
    );
    assert_eq!(a[0]["output_fields"]["container.name"], "web2");
    let o = d
        .docker(&["exec", "web2", "ls", "/bin/exec-evil"], T)
        .unwrap();
    assert!(!o.success(), "the file must not exist: {o:?}");

    // 3. docker stop and rm: the sessions end, the supervisor stays up.
    let ended_before = session_notifications(&sup.stderr()).len();
    d.docker_ok(&["stop", "-t", "2", "web2"], T).unwrap();
    d.docker_ok(&["rm", "web2"], T).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while session_notifications(&sup.stderr()).len() < ended_before + 1 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        session_notifications(&sup.stderr()).len() > ended_before,
        "stopping web2 ends its sessions\n{}",
        sup.dump()
    );
    let mut sup = sup;
    assert!(sup.is_alive(), "{}", sup.dump());
    drop(d);
}

#[test]
fn docker_restart_policy_audit() {
    let test = "docker_restart_policy_audit";
    let Some(b) = prereq(test) else { return };
    let (tmp, sup, d) = start(&b, "audit");
    d.docker_ok(
        &[
            "run",
            "-d",
            "--runtime",
            "tiercel",
            "--network",
            "none",
            "--restart",
            "on-failure:2",
            "--name",
            "flaky",
            IMAGE,
            "sh",
            "-c",
            "echo x >> /bin/evil; exit 3",
        ],
        T,
    )
    .unwrap();
    // Wait for the restarts to be used up.
    let end = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let s = d
            .docker_ok(
                &[
                    "inspect",
                    "-f",
                    "{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}",
                    "flaky",
                ],
                T,
            )
            .unwrap();
        if s.starts_with("2 exited") || Instant::now() > end {
            break s;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(state, "2 exited 3", "{}", d.log());
    let id = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "flaky"], T)
        .unwrap();
    let alerts = wait_for(&sup, |a| alerts_of(a, RULE, &id).len() >= 3);
    let a = alerts_of(&alerts, RULE, &id);
    assert_eq!(
        a.len(),
        3,
        "one alert per start (1 + 2 restarts)\n{}",
        sup.dump()
    );
    for x in &a {
        assert_eq!(x["output_fields"]["container.name"], "flaky");
        assert_eq!(x["output_fields"]["container.image.tag"], "1.36");
    }
    // Audit: the write happened.
    let o = d
        .docker(&["cp", "flaky:/bin/evil", tmp.path().to_str().unwrap()], T)
        .unwrap();
    assert!(o.success(), "audit lets the write run: {o:?}");
}

#[test]
fn docker_privileged_from_the_engine_record() {
    let test = "docker_privileged_from_the_engine_record";
    let Some(b) = prereq(test) else { return };
    let Some(upstream) = tiercel_e2e::upstream_rule_files() else {
        // upstream_rule_files() reported the skip.
        return;
    };
    let rules = vec![upstream[0].clone()];
    let sup = Supervisor::start(&b.tiercel, SupervisorOpts::new(&rules, "audit")).unwrap();
    // This machine's root lacks CAP_SYS_RESOURCE, so runc cannot start a `--privileged`
    // container as Docker asks (even without tiercel): the shim's runtime is then a runc
    // wrapper that drops the missing capabilities. Docker's record still says privileged.
    let capfix = runc_without_missing_caps(sup.dir.path()).unwrap();
    let d = engine_with(&b, &sup, &rules, "audit", capfix.as_deref());
    let rule = "Debugfs Launched in Privileged Container";
    for (name, privileged) in [("plain", false), ("priv", true)] {
        let mut args = vec![
            "run",
            "--runtime",
            "tiercel",
            "--network",
            "none",
            "--name",
            name,
        ];
        if privileged {
            args.push("--privileged");
        }
        args.extend([IMAGE, "sh", "-c", "debugfs -R stats /dev/null; true"]);
        let o = d.docker(&args, T).unwrap();
        assert!(o.success(), "{o:?}\n{}", sup.dump());
    }
    let pid = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "priv"], T)
        .unwrap();
    let plain = d
        .docker_ok(&["inspect", "-f", "{{.Id}}", "plain"], T)
        .unwrap();
    let alerts = wait_for(&sup, |a| !alerts_of(a, rule, &pid).is_empty());
    assert_eq!(
        alerts_of(&alerts, rule, &pid).len(),
        1,
        "debugfs in a --privileged container\n{}",
        sup.dump()
    );
    assert!(
        alerts_of(&alerts, rule, &plain).is_empty(),
        "not privileged: no alert\n{}",
        sup.dump()
    );
}

/// Falco's walk-through, with tiercel: the supervisor in a privileged container, the shim
/// on the host, the events file read at the end.
#[test]
fn docker_walkthrough_supervisor_image() {
    let test = "docker_walkthrough_supervisor_image";
    let Some(b) = prereq(test) else { return };
    let musl = b
        .tiercel
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("x86_64-unknown-linux-musl/release"))
        .unwrap_or_default();
    let bins = ["tiercel", "tiercel-shim", "tiercel-hook"];
    if !require(
        test,
        "static binaries not built (cargo build --release --target x86_64-unknown-linux-musl -p tiercel -p tiercel-shim -p tiercel-hook)",
        bins.iter().all(|x| musl.join(x).is_file()),
    ) {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // /etc/falco's equivalent: the rules and a config, the events log, the socket dir.
    let etc = tempfile::tempdir().unwrap();
    let conf = etc.path().join("tiercel");
    let rules_dir = conf.join("rules");
    fs::create_dir_all(&rules_dir).unwrap();
    fs::copy(
        repo.join("examples/rules/seed-write-below-binary-dir.yaml"),
        rules_dir.join("rules.yaml"),
    )
    .unwrap();
    let log_dir = etc.path().join("log");
    fs::create_dir_all(&log_dir).unwrap();
    let events = log_dir.join("events.json");
    fs::write(&events, "").unwrap();
    let run_dir = etc.path().join("run");
    fs::create_dir_all(&run_dir).unwrap();
    let socket = run_dir.join("tiercel.sock");
    let shim_cfg = conf.join("shim.yaml");
    fs::write(
        &shim_cfg,
        shim_config(
            &command_path("runc"),
            &socket,
            &[rules_dir.join("rules.yaml")],
            "audit",
        ),
    )
    .unwrap();
    // The supervisor container is `--privileged`; on a machine whose root lacks a
    // capability runc cannot start it as asked (see docker_privileged_from_the_engine_record):
    // it then runs under a runc wrapper that drops the missing capabilities.
    let capfix = runc_without_missing_caps(etc.path()).unwrap();
    let mut daemon = json!({
        "runtimes": {"tiercel": {"path": b.shim, "runtimeArgs": ["--tiercel-config", shim_cfg]}}
    });
    if let Some(p) = &capfix {
        daemon["runtimes"]["capfix"] = json!({ "path": p });
    }
    let d = Dockerd::start(&daemon).unwrap();
    d.import_busybox(IMAGE).unwrap();
    // docker build from the repository's Containerfile (FROM scratch: no registry).
    let ctx = tempfile::tempdir().unwrap();
    fs::create_dir_all(ctx.path().join("bin")).unwrap();
    for x in bins {
        fs::copy(musl.join(x), ctx.path().join("bin").join(x)).unwrap();
    }
    fs::copy(repo.join("Containerfile"), ctx.path().join("Containerfile")).unwrap();
    fs::create_dir_all(ctx.path().join("rules")).unwrap();
    fs::copy(
        repo.join("examples/rules/seed-write-below-binary-dir.yaml"),
        ctx.path().join("rules/seed-write-below-binary-dir.yaml"),
    )
    .unwrap();
    d.docker_ok(
        &[
            "build",
            "-f",
            ctx.path().join("Containerfile").to_str().unwrap(),
            "--build-arg",
            "BIN=bin",
            "--build-arg",
            "RULES=rules",
            "-t",
            "tiercel:e2e",
            ctx.path().to_str().unwrap(),
        ],
        Duration::from_secs(300),
    )
    .unwrap();
    // The supervisor container: privileged, host pid namespace, the socket directory, the
    // rules and the events file; Docker's container store and bundles (read-only, same
    // paths) for the containers' names and images.
    let m =
        |h: &Path, c: &str, ro: bool| format!("{}:{c}{}", h.display(), if ro { ":ro" } else { "" });
    let store = d.data_root.join("containers");
    let bundles = d.exec_root.join("containerd");
    let sup_args = [
        "run".to_string(),
        "-d".into(),
        "--name".into(),
        "tiercel".into(),
        "--privileged".into(),
        "--pid=host".into(),
        "--runtime".into(),
        if capfix.is_some() { "capfix" } else { "runc" }.into(),
        "--network".into(),
        "none".into(),
        "-v".into(),
        m(&run_dir, &run_dir.display().to_string(), false),
        "-v".into(),
        m(&rules_dir, "/etc/tiercel/rules", true),
        "-v".into(),
        m(&log_dir, "/var/log/tiercel", false),
        "-v".into(),
        m(&store, &store.display().to_string(), true),
        "-v".into(),
        m(&bundles, &bundles.display().to_string(), true),
        "tiercel:e2e".into(),
        "supervise".into(),
        "--socket".into(),
        socket.display().to_string(),
        "-r".into(),
        "/etc/tiercel/rules/rules.yaml".into(),
        "--alerts".into(),
        "/var/log/tiercel/events.json".into(),
    ];
    let args: Vec<&str> = sup_args.iter().map(String::as_str).collect();
    d.docker_ok(&args, T).unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !socket.exists() {
        let logs = d.docker(&["logs", "tiercel"], T).unwrap();
        assert!(
            Instant::now() < end,
            "supervisor container did not listen: {logs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Something suspicious in another container.
    let o = d
        .docker(
            &[
                "run",
                "--runtime",
                "tiercel",
                "--network",
                "none",
                "--name",
                "suspicious",
                IMAGE,
                "sh",
                "-c",
                "touch /bin/evil; echo rc=$?",
            ],
            T,
        )
        .unwrap();
    assert!(o.stdout.contains("rc=0"), "audit: {o:?}");
    let end = Instant::now() + Duration::from_secs(20);
    let alert = loop {
        let text = fs::read_to_string(&events).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|a| a["rule"] == "Write below binary dir");
        if let Some(a) = found {
            break a;
        }
        let logs = d.docker(&["logs", "tiercel"], T).unwrap();
        assert!(
            Instant::now() < end,
            "no event in {}: {text}\n{logs:?}",
            events.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(alert["priority"], "Warning", "{alert}");
    assert!(
        alert["output"].as_str().unwrap().contains("/bin/evil"),
        "{alert}"
    );
    assert_eq!(alert["output_fields"]["fd.name"], "/bin/evil", "{alert}");
    // Docker's metadata, read by the supervisor in its container from the mounted store
    // (tiercel appends the container fields to every output, as Falco does).
    let f = &alert["output_fields"];
    assert_eq!(f["container.name"], "suspicious", "{alert}");
    assert_eq!(
        f["container.image.repository"], "tiercel-e2e/busybox",
        "{alert}"
    );
    assert_eq!(f["container.image.tag"], "1.36", "{alert}");
    let _ = d.docker(&["rm", "-f", "tiercel", "suspicious"], T);
    let _ = d.docker(&["rmi", "-f", "tiercel:e2e"], T);
}
