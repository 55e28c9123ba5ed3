//! Where tiercel's tests find the data the project does not own, and how a test that cannot
//! run says so. Pure: the standard library only, no I/O beyond the lookups and the skip log.
//!
//! * The upstream corpora (Falco's rule files, libsinsp's parser and compiler cases, Falco's
//!   e2e suites, Falco's configuration) are not in the repository: a test finds them under
//!   `$TIERCEL_SHARED`, else under `../shared` beside the repository. Everything the project
//!   owns (its examples, its own cases) is in the repository and never skipped.
//! * A test whose data or prerequisite is missing calls [`skip`] (or gets `None` from
//!   [`upstream`]): outside CI it prints one `SKIP` line on the real stderr (the test
//!   harness does not capture it) and appends the same line to the file named by
//!   `$TIERCEL_SKIP_LOG` (`scripts/test.sh` sets it and lists the lines in its summary);
//!   under CI ([`ci`]) it panics, so a missing corpus is a failure.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The environment variable naming the directory of the upstream corpora.
pub const SHARED_ENV: &str = "TIERCEL_SHARED";
/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG_ENV: &str = "TIERCEL_SKIP_LOG";

/// Whether `value` (of the `CI` variable) means "running under CI": set and not one of
/// `""`, `"0"`, `"false"`. `scripts/test.sh` (`is_ci`) applies the same rule.
pub fn ci_value(value: Option<&str>) -> bool {
    matches!(value, Some(v) if !matches!(v, "" | "0" | "false"))
}

/// Whether we run under CI (`CI` set and not `""`, `"0"` or `"false"`): nothing may be
/// skipped there.
pub fn ci() -> bool {
    ci_value(std::env::var("CI").ok().as_deref())
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The directory of the upstream corpora: `$TIERCEL_SHARED` (which must then exist: a
/// variable pointing nowhere is a mistake, not a skip), else `../shared` beside the
/// repository when it is there.
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SHARED_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_dir(),
            "{SHARED_ENV}={} is not a directory",
            p.display()
        );
        return Some(p);
    }
    let p = repo_root().join("../shared");
    p.is_dir().then_some(p)
}

/// Where an upstream corpus comes from, by its directory in the shared directory.
fn origin(rel: &str) -> &'static str {
    match rel.split('/').next().unwrap_or_default() {
        "upstream-rules" => "Falco's rule files, github.com/falcosecurity/rules",
        "upstream-tests" if rel.contains("libsinsp_") => {
            "libsinsp's filter tests, github.com/falcosecurity/libs userspace/libsinsp/test"
        }
        "upstream-tests" => "Falco's e2e suites, github.com/falcosecurity/falco e2e_tests",
        "upstream-config" => "Falco's configuration, github.com/falcosecurity/falco",
        _ => "the shared directory",
    }
}

/// The upstream file or directory `rel` of the shared directory (e.g.
/// `upstream-rules/falco_rules.yaml`), or `None` after a [`skip`] naming it and where it
/// comes from. With `$TIERCEL_SHARED` set, a missing `rel` is a failure.
pub fn upstream(rel: &str) -> Option<PathBuf> {
    let explicit = std::env::var_os(SHARED_ENV).is_some_and(|p| !p.is_empty());
    let found = shared_dir().map(|d| d.join(rel)).filter(|p| p.exists());
    if found.is_none() && explicit {
        panic!("{rel} not found in {SHARED_ENV}");
    }
    if found.is_none() {
        skip(&format!(
            "needs {rel} ({}): set {SHARED_ENV}=DIR or put the shared directory at ../shared beside the repository",
            origin(rel)
        ));
    }
    found
}

/// The running test binary's name without cargo's hash (`compiler_cases`, `e2e`).
pub fn test_binary() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => s,
        })
        .unwrap_or_default()
}

/// The name of the running test: the test binary (without cargo's hash) and the test
/// harness's thread name, e.g. `compiler_cases::libsinsp_compiler_cases`.
pub fn current_test() -> String {
    let bin = test_binary();
    let thread = std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .map(str::to_string);
    match thread {
        Some(t) if !bin.is_empty() => format!("{bin}::{t}"),
        Some(t) => t,
        None => bin,
    }
}

/// Skips the running test (see [`skip_named`]).
pub fn skip(what: &str) {
    skip_named(&current_test(), what);
}

/// Reports that `test` is skipped because of `what`: panics under CI; otherwise one
/// `SKIP test: what` line on the real stderr and in `$TIERCEL_SKIP_LOG`.
pub fn skip_named(test: &str, what: &str) {
    if ci() {
        panic!("{test}: cannot be skipped under CI: {what}");
    }
    let line = format!("SKIP {test}: {}\n", what.replace('\n', " "));
    // Not `eprint!`, which the test harness captures for passing tests.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if let Some(log) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) {
        // One write of one short line with O_APPEND: lines of concurrent tests do not mix.
        match OpenOptions::new().create(true).append(true).open(&log) {
            Ok(mut f) => {
                if let Err(e) = f.write_all(line.as_bytes()) {
                    panic!("cannot append to {}: {e}", Path::new(&log).display());
                }
            }
            Err(e) => panic!("cannot open {}: {e}", Path::new(&log).display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_set_and_not_empty_zero_or_false() {
        for v in [None, Some(""), Some("0"), Some("false")] {
            assert!(!ci_value(v), "{v:?}");
        }
        for v in ["true", "1", "yes"] {
            assert!(ci_value(Some(v)), "{v}");
        }
    }

    #[test]
    fn the_test_name_comes_from_the_harness_thread() {
        assert_eq!(
            current_test(),
            "tiercel_testdata::tests::the_test_name_comes_from_the_harness_thread"
        );
    }

    #[test]
    fn origins_name_the_upstream_project() {
        assert!(origin("upstream-rules/falco_rules.yaml").contains("falcosecurity/rules"));
        assert!(origin("upstream-tests/libsinsp_filter_parser_cases.json")
            .contains("falcosecurity/libs"));
        assert!(origin("upstream-tests/falco-e2e-evtgen-suite").contains("falcosecurity/falco"));
    }

    #[test]
    fn the_repository_root_holds_the_workspace() {
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("examples/rules").is_dir());
    }
}
