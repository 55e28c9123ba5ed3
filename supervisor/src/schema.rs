//! The configuration schema: one table of every key tiercel knows (Falco's and its own),
//! with its type, default, Falco's meaning and what tiercel does with it. The checker
//! ([`check`]: types, choices, unknown keys, with `file:line:col`), `tiercel config check`
//! ([`Finding`]) and `docs/configuration.md` ([`reference_markdown`]) derive from it.

use crate::settings::{Loc, N, V};

/// A key's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Bool,
    /// A non-negative integer.
    UInt,
    /// A string (paths too).
    Str,
    /// A string or a number (durations such as `1h`, errno names or numbers).
    Scalar,
    /// A string or a list of strings.
    StrList,
    /// One of these strings (case-insensitive).
    Enum(&'static [&'static str]),
    /// A mapping whose keys are in the table (`path.key`).
    Map,
    /// `tiercel.deny`: selector strings or `{rule|tag|priority, errno, action}` mappings
    /// (checked by the config's deny parser).
    DenyList,
    /// Falco's `rules` selection list (`- enable|disable: {rule|tag: …}`).
    Selection,
    /// `config_files`: paths or `{path, strategy}` (checked while merging).
    ConfigFiles,
    /// Any value; not looked into (keys without effect in tiercel).
    Any,
}

impl Ty {
    fn name(self) -> String {
        match self {
            Ty::Bool => "bool".into(),
            Ty::UInt => "integer ≥ 0".into(),
            Ty::Str => "string".into(),
            Ty::Scalar => "string or number".into(),
            Ty::StrList => "list of strings".into(),
            Ty::Enum(c) => c.join(" \\| "),
            Ty::Map => "mapping".into(),
            Ty::Selection => "list of enable/disable items".into(),
            Ty::DenyList => "list of selector strings or mappings".into(),
            Ty::ConfigFiles => "list of paths or {path, strategy}".into(),
            Ty::Any => "any".into(),
        }
    }
}

/// What tiercel does with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// Honoured with Falco's meaning (notes, when any, say how tiercel differs).
    Applied(&'static str),
    /// Accepted (a full `falco.yaml` loads) but without effect: why.
    NoEffect(&'static str),
}

/// One key of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path from the top (`file_output.enabled`).
    pub path: &'static str,
    pub ty: Ty,
    /// The default, as written in YAML (`""`: unset).
    pub default: &'static str,
    /// Falco's meaning (tiercel's for `tiercel.*`).
    pub meaning: &'static str,
    pub support: Support,
}

const fn k(
    path: &'static str,
    ty: Ty,
    default: &'static str,
    meaning: &'static str,
    support: Support,
) -> Key {
    Key {
        path,
        ty,
        default,
        meaning,
        support,
    }
}

use Support::{Applied as A, NoEffect as X};

const DRIVER: &str = "tiercel has no kernel driver: events come from seccomp user notification";
const PLUGINS: &str = "tiercel loads no plugins (it serves the container plugin's fields itself)";
const LEVELS: &[&str] = &[
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "info",
    "debug",
];

/// Every key tiercel knows, in `falco.yaml`'s order, then tiercel's own.
pub static SCHEMA: &[Key] = &[
    k("config_files", Ty::ConfigFiles, "[]", "More config files or directories (their files in lexicographic order), merged after the main file in order with a strategy: append (default), override, add-only.", A("")),
    k("watch_config_files", Ty::Bool, "true", "Reload when a config or rules file changes.", A("mtimes of the config files and rules files/directories polled every second; a change reloads as SIGHUP does")),
    k("rules_files", Ty::StrList, "[]", "Rules files or directories (their .yaml/.yml files in name order), loaded in order.", A("relative paths are resolved from the main config file's directory; -r replaces the list")),
    k("rules_file", Ty::StrList, "[]", "Deprecated spelling of rules_files (before Falco 0.38).", A("added to rules_files")),
    k("rules", Ty::Selection, "[]", "Enable or disable rules by name (wildcard *) or tag, items applied in order after the files, over the rules' own enabled flags.", A("")),
    k("engine", Ty::Any, "", "The event source driver (kmod, modern_ebpf, replay, nodriver) and its options.", X(DRIVER)),
    k("capture", Ty::Any, "", "Write captures of events around alerts (scap files).", X("tiercel writes no scap captures")),
    k("load_plugins", Ty::Any, "[]", "Plugins to load.", X(PLUGINS)),
    k("plugins", Ty::Any, "", "Plugin definitions.", X(PLUGINS)),
    k("plugins_hostinfo", Ty::Any, "true", "Give plugins host information.", X(PLUGINS)),
    k("time_format_iso_8601", Ty::Bool, "false", "Alert times as ISO 8601 instead of local time.", A("")),
    k("buffer_format_base64", Ty::Any, "false", "Print data buffers (evt.buffer) in base64.", X("tiercel does not read syscall data buffers")),
    k("priority", Ty::Enum(LEVELS), "debug", "Minimum rule priority to load and run.", A("rules below it are not loaded, so the profile does not notify for them")),
    k("json_output", Ty::Bool, "false", "Alerts as JSON.", A("")),
    k("json_include_output_property", Ty::Bool, "true", "JSON alerts carry `output`.", A("")),
    k("json_include_message_property", Ty::Bool, "false", "JSON alerts carry `message` (output without timestamp and priority).", A("")),
    k("json_include_output_fields_property", Ty::Bool, "true", "JSON alerts carry `output_fields`.", A("")),
    k("json_include_tags_property", Ty::Bool, "true", "JSON alerts carry `tags`.", A("")),
    k("buffered_outputs", Ty::Any, "false", "Buffer output writes.", X("each output has its own thread and queue; writes are flushed per alert")),
    k("rule_matching", Ty::Enum(&["first", "all"]), "first", "Alert on the first matching rule, or on all.", A("")),
    k("outputs_queue", Ty::Map, "", "The alert queue.", A("")),
    k("outputs_queue.capacity", Ty::UInt, "0", "Queue capacity (0: unbounded).", A("0 means tiercel's default bound (4096), per output")),
    k("append_output", Ty::Any, "[{suggested_output: true}]", "Extra text or fields appended to the outputs of the rules an item matches (match: rule, source, tags).", A("items without match: extra_output appended to every rule's output, suggested_output; items with match and extra_fields are warned about and ignored")),
    k("stdout_output", Ty::Map, "", "Alerts on standard output.", A("")),
    k("stdout_output.enabled", Ty::Bool, "true", "Enabled.", A("")),
    k("syslog_output", Ty::Map, "", "Alerts to syslog.", A("")),
    k("syslog_output.enabled", Ty::Bool, "true", "Enabled.", A("")),
    k("file_output", Ty::Map, "", "Alerts appended to a file.", A("")),
    k("file_output.enabled", Ty::Bool, "false", "Enabled.", A("")),
    k("file_output.keep_alive", Ty::Bool, "false", "Keep the file open (else reopened per alert).", A("")),
    k("file_output.filename", Ty::Str, "./events.txt", "The file.", A("")),
    k("http_output", Ty::Map, "", "Alerts POSTed to a URL.", A("")),
    k("http_output.enabled", Ty::Bool, "false", "Enabled.", A("")),
    k("http_output.url", Ty::Str, "", "The URL.", A("")),
    k("http_output.user_agent", Ty::Str, "falcosecurity/falco", "User-Agent header.", A("")),
    k("http_output.insecure", Ty::Bool, "false", "Do not verify the server's certificate.", A("")),
    k("http_output.ca_cert", Ty::Str, "", "CA certificate file.", A("")),
    k("http_output.ca_bundle", Ty::Str, "", "CA bundle file.", A("")),
    k("http_output.ca_path", Ty::Str, "/etc/ssl/certs", "CA certificate directory.", A("")),
    k("http_output.mtls", Ty::Bool, "false", "Present a client certificate.", A("")),
    k("http_output.client_cert", Ty::Str, "/etc/ssl/certs/client.crt", "Client certificate.", A("")),
    k("http_output.client_key", Ty::Str, "/etc/ssl/certs/client.key", "Client key.", A("")),
    k("http_output.echo", Ty::Bool, "false", "Log the server's responses.", A("")),
    k("http_output.compress_uploads", Ty::Bool, "false", "gzip the request bodies.", A("")),
    k("http_output.keep_alive", Ty::Bool, "false", "Reuse the connection.", A("")),
    k("http_output.max_consecutive_timeouts", Ty::UInt, "5", "Retries after timeouts before dropping an alert.", A("")),
    k("program_output", Ty::Map, "", "Alerts piped to a program's standard input.", A("")),
    k("program_output.enabled", Ty::Bool, "false", "Enabled.", A("")),
    k("program_output.keep_alive", Ty::Bool, "false", "Keep one program running (else one per alert).", A("")),
    k("program_output.program", Ty::Str, "", "The shell command.", A("")),
    k("grpc", Ty::Any, "", "The gRPC server (removed in Falco 0.43).", X("tiercel has no gRPC server")),
    k("grpc_output", Ty::Any, "", "Alerts over gRPC (removed in Falco 0.43).", X("tiercel has no gRPC server")),
    k("webserver", Ty::Map, "", "The embedded web server (/healthz, /versions, /metrics).", A("")),
    k("webserver.enabled", Ty::Bool, "true", "Enabled.", A("off unless the config has a webserver block")),
    k("webserver.threadiness", Ty::Any, "0", "Server threads.", X("tiercel's server runs on one thread")),
    k("webserver.listen_port", Ty::UInt, "8765", "Port.", A("")),
    k("webserver.listen_address", Ty::Str, "0.0.0.0", "Address.", A("")),
    k("webserver.k8s_healthz_endpoint", Ty::Str, "/healthz", "Health endpoint path.", A("")),
    k("webserver.prometheus_metrics_enabled", Ty::Bool, "false", "Serve /metrics.", A("")),
    k("webserver.ssl_enabled", Ty::Bool, "false", "HTTPS.", A("")),
    k("webserver.ssl_certificate", Ty::Str, "/etc/falco/falco.pem", "PEM file with key and certificate.", A("")),
    k("log_stderr", Ty::Bool, "true", "Falco's own log on standard error.", A("read at start")),
    k("log_syslog", Ty::Bool, "true", "Falco's own log to syslog.", A("through /dev/log or tiercel.syslog_socket (daemon facility), read at start; skipped (debug note) when there is no syslog socket")),
    k("log_level", Ty::Enum(LEVELS), "info", "Minimum level of Falco's own log.", A("emergency/alert/critical/error map to error, notice to info; a reload applies a new level; TIERCEL_LOG, when set, wins")),
    k("libs_logger", Ty::Any, "", "Log of the libs (libsinsp/libscap).", X("tiercel has no libs; its log is log_level's")),
    k("output_timeout", Ty::Any, "2000", "Warn when an output blocks longer (ms).", X("each output has its own queue; a slow one drops its own alerts (counted in metrics)")),
    k("syscall_event_timeouts", Ty::Any, "", "Alert when no events arrive.", X(DRIVER)),
    k("syscall_event_drops", Ty::Any, "", "Actions on driver drops.", X("seccomp notifications are not dropped: every notified call waits for the supervisor")),
    k("metrics", Ty::Map, "", "Periodic metrics.", A("")),
    k("metrics.enabled", Ty::Bool, "false", "Enabled.", A("")),
    k("metrics.interval", Ty::Scalar, "1h", "Period (Prometheus time duration).", A("")),
    k("metrics.output_rule", Ty::Bool, "true", "Emit metrics as an alert-like output.", A("")),
    k("metrics.output_file", Ty::Str, "", "Append metrics JSON lines to a file.", A("")),
    k("metrics.rules_counters_enabled", Ty::Bool, "true", "Per-rule match counters.", A("")),
    k("metrics.resource_utilization_enabled", Ty::Any, "true", "CPU and memory usage.", X("not collected")),
    k("metrics.state_counters_enabled", Ty::Any, "true", "Thread table counters.", X("tiercel has no thread table")),
    k("metrics.kernel_event_counters_enabled", Ty::Any, "true", "Driver counters.", X(DRIVER)),
    k("metrics.kernel_event_counters_per_cpu_enabled", Ty::Any, "false", "Driver counters per CPU.", X(DRIVER)),
    k("metrics.libbpf_stats_enabled", Ty::Any, "true", "libbpf statistics.", X(DRIVER)),
    k("metrics.plugins_metrics_enabled", Ty::Any, "true", "Plugin metrics.", X(PLUGINS)),
    k("metrics.kernel_iter_event_counters_enabled", Ty::Any, "true", "Iterator counters.", X(DRIVER)),
    k("metrics.jemalloc_stats_enabled", Ty::Any, "false", "jemalloc statistics.", X("tiercel does not use jemalloc")),
    k("metrics.convert_memory_to_mb", Ty::Any, "true", "Memory in MB.", X("no memory metrics")),
    k("metrics.include_empty_values", Ty::Any, "false", "Emit zero values.", X("not applicable")),
    k("base_syscalls", Ty::Any, "", "Syscalls the driver always captures (state engine).", X("the seccomp profile notifies only what the enabled rules need")),
    k("falco_libs", Ty::Any, "", "libsinsp tuning (thread table, snaplen).", X("tiercel has no libs")),
    k("container_engines", Ty::Any, "", "Container runtimes to query (before Falco 0.41).", X("container metadata comes from the OCI bundle")),
    k("tiercel", Ty::Map, "", "tiercel's own settings.", A("")),
    k("tiercel.mode", Ty::Enum(&["audit", "enforce"]), "audit", "audit: report only; enforce: refuse calls matching a deny selector.", A("")),
    k("tiercel.deny", Ty::DenyList, "[]", "Which matches deny in enforce mode, each with its errno and action: `rule:NAME`, `tag:TAG`, `priority:P`, then `[=ERRNO][,errno=E][,action=deny|kill-process|kill-container]`; or mappings `{rule|tag|priority: …, errno: …, action: …}`.", A("")),
    k("tiercel.errno", Ty::Scalar, "EPERM", "The errno a denied call fails with (name or number).", A("")),
    k("tiercel.socket", Ty::Str, "", "The listenerPath socket.", A("")),
    k("tiercel.allow_mode_downgrade", Ty::Bool, "false", "Let a container's io.tiercel.mode annotation lower the mode.", A("")),
    k("tiercel.syslog_socket", Ty::Str, "/dev/log", "The syslog socket of syslog_output and log_syslog.", A("")),
    k("tiercel.queue", Ty::UInt, "", "Alert queue bound (wins over outputs_queue.capacity).", A("")),
];

/// The schema entry of a dotted path.
pub fn key(path: &str) -> Option<&'static Key> {
    SCHEMA.iter().find(|k| k.path == path)
}

/// What `tiercel config check` says about one key found in the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub path: String,
    pub at: Loc,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Applied,
    NoEffect(&'static str),
    Unknown,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.status {
            Status::Applied => write!(f, "{}: {}: applied", self.at, self.path),
            Status::NoEffect(r) => write!(
                f,
                "{}: {}: accepted without effect ({r})",
                self.at, self.path
            ),
            Status::Unknown => write!(f, "{}: {}: unknown key, ignored", self.at, self.path),
        }
    }
}

/// The result of checking a tree against the schema.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub findings: Vec<Finding>,
    pub errors: Vec<String>,
}

impl Checked {
    /// `file:line:col: unknown configuration key 'x' (ignored)` for each unknown key.
    pub fn unknown_warnings(&self) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.status == Status::Unknown)
            .map(|f| format!("{}: unknown configuration key '{}' (ignored)", f.at, f.path))
            .collect()
    }
}

/// Checks a merged tree: types and choices (errors, with position and key path), unknown
/// keys (findings with [`Status::Unknown`]).
pub fn check(root: &N) -> Checked {
    let mut out = Checked::default();
    if let V::Map(m) = &root.v {
        walk(m, "", &mut out);
    } else {
        out.errors
            .push(format!("{}: the top level must be a mapping", root.at));
    }
    out
}

fn walk(entries: &[(String, N)], prefix: &str, out: &mut Checked) {
    for (name, n) in entries {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(key) = key(&path) else {
            out.findings.push(Finding {
                path,
                at: n.at.clone(),
                status: Status::Unknown,
            });
            continue;
        };
        let status = match key.support {
            Support::Applied(_) => Status::Applied,
            Support::NoEffect(r) => Status::NoEffect(r),
        };
        if let Err(e) = check_type(key.ty, n) {
            out.errors.push(format!("{}: {path}: {e}", n.at));
        }
        if key.ty == Ty::Map {
            if let V::Map(m) = &n.v {
                walk(m, &path, out);
                continue;
            }
        }
        out.findings.push(Finding {
            path,
            at: n.at.clone(),
            status,
        });
    }
}

fn check_type(ty: Ty, n: &N) -> Result<(), String> {
    let got = n.show();
    if matches!(n.v, V::Null) {
        return Ok(());
    }
    match ty {
        Ty::Any | Ty::ConfigFiles => Ok(()),
        Ty::Bool => match n.v {
            V::Bool(_) => Ok(()),
            _ => Err(format!("expected true or false, got {got}")),
        },
        Ty::UInt => match n.v {
            V::Int(i) if i >= 0 => Ok(()),
            _ => Err(format!("expected an integer ≥ 0, got {got}")),
        },
        Ty::Str => match n.v {
            V::Str(_) => Ok(()),
            _ => Err(format!("expected a string, got {got}")),
        },
        Ty::Scalar => match n.v {
            V::Str(_) | V::Int(_) | V::Float(_) => Ok(()),
            _ => Err(format!("expected a string or a number, got {got}")),
        },
        Ty::StrList => match &n.v {
            V::Str(_) => Ok(()),
            V::Seq(items) => {
                for i in items {
                    if !matches!(i.v, V::Str(_)) {
                        return Err(format!("{}: expected a string, got {}", i.at, i.show()));
                    }
                }
                Ok(())
            }
            _ => Err(format!("expected a list of strings, got {got}")),
        },
        Ty::Enum(choices) => match &n.v {
            V::Str(s) if choices.iter().any(|c| c.eq_ignore_ascii_case(s.trim())) => Ok(()),
            _ => Err(format!("expected one of {}, got {got}", choices.join(", "))),
        },
        Ty::Map => match n.v {
            V::Map(_) => Ok(()),
            _ => Err(format!("expected a mapping, got {got}")),
        },
        Ty::Selection => crate::load::parse_selection(n).map(|_| ()),
        Ty::DenyList => match &n.v {
            V::Str(_) => Ok(()),
            V::Seq(items) => {
                for i in items {
                    if !matches!(i.v, V::Str(_) | V::Map(_)) {
                        return Err(format!(
                            "{}: expected a selector string or a mapping, got {}",
                            i.at,
                            i.show()
                        ));
                    }
                }
                Ok(())
            }
            _ => Err(format!("expected a list of selectors, got {got}")),
        },
    }
}

/// `docs/configuration.md`: the table as Markdown (`tiercel config reference`).
pub fn reference_markdown() -> String {
    let mut s = String::from(
        "# Configuration reference\n\n\
         Generated by `tiercel config reference` from the schema in `supervisor/src/schema.rs`;\n\
         a test fails when this file is out of date. Regenerate with\n\
         `cargo run -p tiercel -- config reference > docs/configuration.md`.\n\n\
         tiercel reads Falco's `falco.yaml` keys with Falco's meaning, plus its own under\n\
         `tiercel:`. `tiercel supervise -c FILE` (`--config`) names the file; without `-c`,\n\
         `/etc/tiercel/falco.yaml` is read when it exists (Falco's `/etc/falco/falco.yaml` is\n\
         not read implicitly: pass it with `-c`). `-o key=value` sets any key (Falco's syntax:\n\
         `a.b.c=v`, `l[0]=v`, `l[]=v` appends, the value is YAML such as `[a, b]`).\n\
         `config_files` are merged after the main file, then the `-o` options.\n\
         Command-line flags (`-r`, `--mode`, …) win over the file.\n\n\
         `tiercel config check -c FILE` prints, for every key of a configuration, `applied`,\n\
         `accepted without effect (why)` or `unknown`; unknown keys are also warned about\n\
         when the supervisor starts, with `file:line:col`. A wrong type or value is refused\n\
         with `file:line:col` and the key path.\n\n\
         | key | type | default | Falco's meaning | tiercel |\n\
         |---|---|---|---|---|\n",
    );
    for key in SCHEMA {
        let support = match key.support {
            Support::Applied("") => "applied".to_string(),
            Support::Applied(n) => format!("applied: {n}"),
            Support::NoEffect(r) => format!("no effect: {r}"),
        };
        let default = if key.default.is_empty() {
            String::new()
        } else {
            format!("`{}`", key.default)
        };
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            key.path,
            key.ty.name(),
            default,
            key.meaning.replace('|', "\\|"),
            support.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::parse_yaml;

    #[test]
    fn reference_doc_is_up_to_date() {
        let doc = include_str!("../../docs/configuration.md");
        assert!(
            doc == reference_markdown(),
            "docs/configuration.md is stale: run `cargo run -p tiercel -- config reference > docs/configuration.md`"
        );
    }

    #[test]
    fn every_nested_key_has_its_parent_as_a_map() {
        for k in SCHEMA {
            if let Some((parent, _)) = k.path.rsplit_once('.') {
                assert_eq!(key(parent).map(|p| p.ty), Some(Ty::Map), "{}", k.path);
            }
        }
    }

    #[test]
    fn types_unknown_keys_and_positions() {
        let n = parse_yaml(
            "json_output: yes please\nfile_output:\n  enabled: true\n  colour: red\nbogus: 1\nengine: {kind: kmod}\npriority: loud\n",
            "c.yaml",
        )
        .unwrap();
        let c = check(&n);
        assert_eq!(
            c.errors,
            [
                "c.yaml:1:1: json_output: expected true or false, got \"yes please\"",
                "c.yaml:7:1: priority: expected one of emergency, alert, critical, error, warning, notice, info, debug, got \"loud\""
            ]
        );
        assert_eq!(
            c.unknown_warnings(),
            [
                "c.yaml:4:3: unknown configuration key 'file_output.colour' (ignored)",
                "c.yaml:5:1: unknown configuration key 'bogus' (ignored)"
            ]
        );
        let engine = c.findings.iter().find(|f| f.path == "engine").unwrap();
        assert!(matches!(engine.status, Status::NoEffect(_)));
    }
}

/// The schema's defaults are the parsers' defaults: for every applied key inside a block,
/// writing its documented default changes nothing.
#[cfg(test)]
mod defaults {
    use super::*;

    /// What makes a block's other keys count (a disabled output ignores them).
    fn base(block: &str) -> Vec<String> {
        let v: &[&str] = match block {
            "file_output" => &["file_output.enabled=true", "file_output.filename=/tmp/e"],
            "http_output" => &[
                "http_output.enabled=true",
                "http_output.url=http://localhost/",
            ],
            "program_output" => &["program_output.enabled=true", "program_output.program=cat"],
            "metrics" => &["metrics.enabled=true"],
            _ => &[],
        };
        let mut out: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        if out.is_empty() {
            out.push(format!("{block}={{}}"));
        }
        out
    }

    #[test]
    fn documented_defaults_match_the_parsers() {
        let mut checked = 0;
        for k in SCHEMA {
            let Some((block, _)) = k.path.split_once('.') else {
                continue;
            };
            if !matches!(k.support, Support::Applied(_))
                || k.default.is_empty()
                || block == "tiercel"
                || matches!(k.ty, Ty::Map | Ty::Any)
            {
                continue;
            }
            let b = base(block);
            if b.iter().any(|o| o.starts_with(&format!("{}=", k.path))) {
                continue;
            }
            let plain = crate::config::load_full(None, &b).unwrap();
            let mut with = b.clone();
            with.push(format!("{}={}", k.path, k.default));
            let set =
                crate::config::load_full(None, &with).unwrap_or_else(|e| panic!("{}: {e}", k.path));
            assert_eq!(plain, set, "{}: documented default {:?}", k.path, k.default);
            checked += 1;
        }
        assert!(checked >= 25, "{checked}");
    }

    /// The same for top-level keys, through what the supervisor runs with.
    #[test]
    fn documented_top_level_defaults_match_the_supervisor() {
        let run = |extra: Option<String>| {
            let mut args = crate::supervise::SuperviseArgs {
                set: vec!["tiercel.socket=/run/x.sock".into()],
                ..Default::default()
            };
            args.set.extend(extra);
            let c = crate::supervise::build_config(&args).unwrap();
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?}",
                c.sinks, c.alert_options, c.matching, c.policy, c.log, c.watch
            )
        };
        let plain = run(None);
        let mut checked = 0;
        for k in SCHEMA {
            if k.path.contains('.')
                || !matches!(k.support, Support::Applied(_))
                || k.default.is_empty()
                || k.default.starts_with('[')
                || matches!(k.ty, Ty::Map | Ty::Any)
            {
                continue;
            }
            let with = run(Some(format!("{}={}", k.path, k.default)));
            assert_eq!(
                plain, with,
                "{}: documented default {:?}",
                k.path, k.default
            );
            checked += 1;
        }
        assert!(checked >= 12, "{checked}");
    }
}
