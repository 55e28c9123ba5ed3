//! Rootless end to end: a non-root user's podman (rootless: Debian's uidmap for the user
//! namespace, `--network none` so slirp4netns is not even needed) and a `tiercel supervise`
//! running as that same user, with no root process anywhere on the container's path —
//! audit and enforce.
//!
//! The test (root) creates the user `tiercel-e2e-rl` with a subordinate id range when it is
//! missing, then runs everything else as that user through `setpriv` (no PAM, no session):
//! the supervisor on a socket in the user's runtime directory, `podman import` of a
//! busybox image into the user's storage, and `podman run --security-opt
//! seccomp=PROFILE` with the profile from `tiercel profile --format podman`.
//!
//! Facts of this machine (cgroup v1 with a cgroup2 `unified` mount, no systemd): crun refuses
//! rootless containers ("cgroups in hybrid mode not supported, drop all controllers from
//! cgroupv2"), with or without `--cgroups=disabled`; runc runs them (it ignores the cgroups
//! it cannot create) but podman refuses `--cgroups=disabled` with runc, so the test uses
//! `--runtime runc` with podman's default cgroups setting, `--cgroup-manager=cgroupfs` and
//! `--events-backend=file` (no journald).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tiercel_e2e::daemons::{write_below_bin_rules, TOUCH_BIN_SCRIPT as SCRIPT};
use tiercel_e2e::{
    busybox_rootfs, busybox_static, have, is_root, require, run_cmd, tiercel_bin, RunOutput,
};

const USER: &str = "tiercel-e2e-rl";
const IMAGE: &str = "localhost/tiercel-e2e-rootless:latest";
const RULE: &str = "Write below /bin (rootless test)";
fn sh(cmd: &mut Command, secs: u64) -> RunOutput {
    run_cmd(cmd, Duration::from_secs(secs), || {}).unwrap()
}

fn id_of(flag: &str) -> u32 {
    let o = sh(Command::new("id").args([flag, USER]), 10);
    o.stdout.trim().parse().unwrap()
}

/// Creates the user and its subordinate id ranges when missing.
fn ensure_user() {
    if !sh(Command::new("id").arg(USER), 10).success() {
        let o = sh(
            Command::new("useradd").args(["-m", "-s", "/bin/sh", USER]),
            30,
        );
        assert!(o.success(), "useradd: {o:?}");
    }
    for (file, flag) in [
        ("/etc/subuid", "--add-subuids"),
        ("/etc/subgid", "--add-subgids"),
    ] {
        let has = fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:")));
        if !has {
            let o = sh(
                Command::new("usermod").args([flag, "300000-365535", USER]),
                30,
            );
            assert!(o.success(), "usermod {flag}: {o:?}");
        }
    }
}

/// The user's environment and a command run as the user (setpriv: no root left).
struct As {
    uid: u32,
    gid: u32,
    home: PathBuf,
    runtime_dir: PathBuf,
}

impl As {
    fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(prog)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", USER)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .current_dir(&self.runtime_dir);
        c
    }
    fn podman(&self) -> Command {
        let mut c = self.cmd("podman");
        c.args(["--events-backend=file", "--cgroup-manager=cgroupfs"]);
        c
    }
}

struct UserSup {
    child: Child,
    socket: PathBuf,
    alerts: PathBuf,
    log: PathBuf,
}

impl UserSup {
    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for UserSup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ends the user's podman pause process (rootless podman keeps one per runtime directory
/// to hold its namespaces) when the test is done: nothing of the test stays running.
struct PauseGuard(PathBuf);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        let pid = fs::read_to_string(self.0.join("libpod/tmp/pause.pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<u32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

fn uid_of_pid(pid: u32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn rootless(mode: &str) {
    let test = format!("rootless_podman_{mode}");
    if !require(&test, "must run as root (to create the user)", is_root())
        || !require(&test, "podman not installed", have("podman"))
        || !require(&test, "runc not installed", have("runc"))
        || !require(&test, "newuidmap missing (uidmap)", have("newuidmap"))
        || !require(&test, "setpriv missing (util-linux)", have("setpriv"))
        || !require(&test, "busybox-static missing", busybox_static().is_some())
    {
        return;
    }
    let Some(tiercel) = tiercel_bin() else {
        require(&test, "tiercel not built", false);
        return;
    };
    ensure_user();
    let (uid, gid) = (id_of("-u"), id_of("-g"));
    let dir = tempfile::Builder::new()
        .prefix("tiercel-rl-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // The user's runtime directory where logind would make it. Not a temporary directory:
    // podman records its runtime paths in the user's database on first use and keeps using
    // them (its pause process's pid file among them).
    let runtime_dir = PathBuf::from(format!("/run/user/{uid}"));
    fs::create_dir_all(&runtime_dir).unwrap();
    std::os::unix::fs::chown(&runtime_dir, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700)).unwrap();
    let _pause = PauseGuard(runtime_dir.clone());
    let user = As {
        uid,
        gid,
        home: PathBuf::from(format!("/home/{USER}")),
        runtime_dir: runtime_dir.clone(),
    };
    // Everything the user needs, readable by the user.
    let bin = dir.path().join("tiercel");
    fs::copy(&tiercel, &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let rules = dir.path().join("rules.yaml");
    let text = write_below_bin_rules(
        RULE,
        "File below /bin opened (file=%fd.name user=%user.uid name=%container.name \
         image=%container.image.repository)",
    );
    fs::write(&rules, text).unwrap();
    fs::set_permissions(&rules, fs::Permissions::from_mode(0o644)).unwrap();

    // The supervisor, as the user.
    // The supervisor's socket and alerts: in a directory of the user's, fresh per test.
    let own = dir.path().join("user");
    fs::create_dir_all(&own).unwrap();
    std::os::unix::fs::chown(&own, Some(uid), Some(gid)).unwrap();
    fs::set_permissions(&own, fs::Permissions::from_mode(0o700)).unwrap();
    let socket = own.join("tiercel/tiercel.sock");
    let alerts = own.join("alerts.json");
    let log = dir.path().join("supervisor.log");
    let child = user
        .cmd(bin.to_str().unwrap())
        .arg("supervise")
        .arg("--socket")
        .arg(&socket)
        .arg("-r")
        .arg(&rules)
        .args(["--mode", mode, "--alerts"])
        .arg(&alerts)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let sup = UserSup {
        child,
        socket: socket.clone(),
        alerts,
        log,
    };
    let end = Instant::now() + Duration::from_secs(30);
    while !sup.socket.exists() {
        assert!(Instant::now() < end, "no socket: {}", sup.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        uid_of_pid(sup.child.id()),
        Some(uid),
        "the supervisor runs as the user"
    );

    // The profile (podman's seccomp.json format) sending the rules' calls to that socket.
    let profile = dir.path().join("profile.json");
    let o = sh(
        Command::new(&bin)
            .args(["profile", "-r"])
            .arg(&rules)
            .arg("--socket")
            .arg(&socket)
            .args(["--mode", mode, "--format", "podman", "-o"])
            .arg(&profile),
        30,
    );
    assert!(o.success(), "{o:?}");
    fs::set_permissions(&profile, fs::Permissions::from_mode(0o644)).unwrap();

    // The image, in the user's storage.
    let img = dir.path().join("img");
    fs::create_dir_all(&img).unwrap();
    let root = busybox_rootfs(&img).unwrap();
    let tar = dir.path().join("rootfs.tar");
    let o = sh(
        Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        60,
    );
    assert!(o.success(), "{o:?}");
    fs::set_permissions(&tar, fs::Permissions::from_mode(0o644)).unwrap();
    let o = sh(user.podman().arg("import").arg(&tar).arg(IMAGE), 120);
    assert!(o.success(), "podman import as {USER}: {o:?}");

    let name = format!("tce-rl-{mode}-{}", std::process::id());
    let o = sh(
        user.podman()
            .args([
                "--runtime",
                "runc",
                "run",
                "--rm",
                "--network",
                "none",
                "--name",
                &name,
                "--security-opt",
            ])
            .arg(format!("seccomp={}", profile.display()))
            .args([IMAGE, "sh", "-c", SCRIPT]),
        120,
    );
    assert!(
        o.success() && o.stdout.contains("tmp-ok"),
        "rootless podman run: {o:?}\n{}",
        sup.log()
    );
    let want = if mode == "enforce" {
        "touch-rc=1"
    } else {
        "touch-rc=0"
    };
    assert!(o.stdout.contains(want), "{o:?}\n{}", sup.log());
    let end = Instant::now() + Duration::from_secs(20);
    let found = loop {
        let a: Vec<Value> = fs::read_to_string(&sup.alerts)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .filter(|a: &Value| a["rule"] == RULE)
            .collect();
        if !a.is_empty() || Instant::now() > end {
            break a;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(found.len(), 1, "one alert\n{}", sup.log());
    let f = &found[0]["output_fields"];
    assert_eq!(f["fd.name"], "/bin/evil", "{f}");
    assert_eq!(f["container.name"], name.as_str(), "{f}");
    assert_eq!(
        f["container.image.repository"], "localhost/tiercel-e2e-rootless",
        "{f}"
    );
    drop(sup);
    let _ = sh(user.podman().args(["rm", "-f", &name]), 30);
}

#[test]
fn rootless_podman_audit() {
    rootless("audit");
}

#[test]
fn rootless_podman_enforce() {
    rootless("enforce");
}
