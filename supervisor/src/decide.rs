//! Verdicts: audit or enforce, and which rule matches deny.
//!
//! Rule files stay loadable by Falco, so what denies is chosen outside the rules:
//! `--deny rule:NAME`, `--deny tag:TAG`, `--deny priority:P` (P or more severe). The
//! errno is configurable (`EPERM` by default). The mode is global and can be raised per
//! container (OCI annotation `io.tiercel.mode`, or `listenerMetadata`); a container's
//! own setting never lowers it unless the trusted config allows that, because whoever
//! writes the container's seccomp profile also writes its metadata.

use std::fmt;
use std::str::FromStr;

use tiercel_rules::priority::Priority;
use tiercel_rules::program::CompiledRule;

/// The annotation (and `listenerMetadata` key) that selects a container's mode.
pub const MODE_ANNOTATION: &str = "io.tiercel.mode";

/// Audit reports; enforce also refuses calls that match a deny selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Mode {
    #[default]
    Audit,
    Enforce,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "audit" => Ok(Mode::Audit),
            "enforce" => Ok(Mode::Enforce),
            other => Err(format!(
                "unknown mode {other:?} (expected audit or enforce)"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        })
    }
}

/// Which matching rules deny (in enforce mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// `rule:NAME`: the rule with this exact name.
    Rule(String),
    /// `tag:TAG`: every rule with this tag.
    Tag(String),
    /// `priority:P`: every rule of priority P or more severe.
    Priority(Priority),
}

impl FromStr for Selector {
    type Err = String;
    fn from_str(s: &str) -> Result<Selector, String> {
        let (kind, value) = s.split_once(':').ok_or_else(|| {
            format!("deny selector {s:?}: expected rule:NAME, tag:TAG or priority:P")
        })?;
        if value.is_empty() {
            return Err(format!("deny selector {s:?}: empty value"));
        }
        match kind.trim() {
            "rule" => Ok(Selector::Rule(value.to_string())),
            "tag" => Ok(Selector::Tag(value.trim().to_string())),
            "priority" => Priority::parse(value.trim())
                .map(Selector::Priority)
                .ok_or_else(|| format!("deny selector {s:?}: unknown priority {value:?}")),
            other => Err(format!(
                "deny selector {s:?}: unknown kind {other:?} (expected rule, tag or priority)"
            )),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Rule(n) => write!(f, "rule:{n}"),
            Selector::Tag(t) => write!(f, "tag:{t}"),
            Selector::Priority(p) => write!(f, "priority:{p}"),
        }
    }
}

impl Selector {
    pub fn matches(&self, rule: &CompiledRule) -> bool {
        match self {
            Selector::Rule(n) => rule.name == *n,
            Selector::Tag(t) => rule.tags.iter().any(|x| x == t),
            Selector::Priority(p) => rule.priority.at_least(*p),
        }
    }
}

/// Errno names accepted by `--errno` (and their numbers on Linux).
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("E2BIG", libc::E2BIG),
    ("ENOEXEC", libc::ENOEXEC),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EFAULT", libc::EFAULT),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("EXDEV", libc::EXDEV),
    ("ENODEV", libc::ENODEV),
    ("ENOTDIR", libc::ENOTDIR),
    ("EISDIR", libc::EISDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ETXTBSY", libc::ETXTBSY),
    ("EFBIG", libc::EFBIG),
    ("ENOSPC", libc::ENOSPC),
    ("EROFS", libc::EROFS),
    ("EMLINK", libc::EMLINK),
    ("ENAMETOOLONG", libc::ENAMETOOLONG),
    ("ENOSYS", libc::ENOSYS),
    ("ENOTEMPTY", libc::ENOTEMPTY),
    ("ELOOP", libc::ELOOP),
    ("ENOTSUP", libc::ENOTSUP),
    ("EOPNOTSUPP", libc::EOPNOTSUPP),
    ("EAFNOSUPPORT", libc::EAFNOSUPPORT),
    ("EADDRINUSE", libc::EADDRINUSE),
    ("ENETUNREACH", libc::ENETUNREACH),
    ("ECONNREFUSED", libc::ECONNREFUSED),
    ("EHOSTUNREACH", libc::EHOSTUNREACH),
    ("ECANCELED", libc::ECANCELED),
    ("EDQUOT", libc::EDQUOT),
];

/// Parses an errno name (`EPERM`, case-insensitive) or a positive number.
pub fn parse_errno(s: &str) -> Result<i32, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return if (1..4096).contains(&n) {
            Ok(n)
        } else {
            Err(format!("errno {n} out of range 1..4095"))
        };
    }
    let up = t.to_ascii_uppercase();
    ERRNOS
        .iter()
        .find(|(n, _)| *n == up)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("unknown errno name {s:?}"))
}

/// The name of an errno (for alerts and logs), or its number.
pub fn errno_name(e: i32) -> String {
    ERRNOS
        .iter()
        .find(|(_, v)| *v == e)
        .map(|(n, _)| (*n).to_string())
        .unwrap_or_else(|| e.to_string())
}

/// The policy of the supervisor (global part).
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub deny: Vec<Selector>,
    /// Positive errno answered for a deny.
    pub errno: i32,
    /// Lets a container's annotation/metadata lower the mode (enforce → audit).
    pub allow_downgrade: bool,
    /// Falco's `priority`: matches of less severe rules are ignored.
    pub min_priority: Priority,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Audit,
            deny: Vec::new(),
            errno: libc::EPERM,
            allow_downgrade: false,
            min_priority: Priority::Debug,
        }
    }
}

impl Policy {
    /// Per rule of the program: does a match deny (in enforce mode)? Every rule does
    /// unless `--deny` selectors narrow it to the rules they select. Computed once per
    /// program so the hot path does no string comparison.
    pub fn deny_table(&self, rules: &[CompiledRule]) -> Vec<bool> {
        rules
            .iter()
            .map(|r| self.deny.is_empty() || self.deny.iter().any(|s| s.matches(r)))
            .collect()
    }

    /// Per rule: is it at least `min_priority`?
    pub fn enabled_table(&self, rules: &[CompiledRule]) -> Vec<bool> {
        rules
            .iter()
            .map(|r| r.priority.at_least(self.min_priority))
            .collect()
    }

    /// The mode of one container: the global mode, raised (or, when allowed, lowered)
    /// by what the container asked for.
    pub fn container_mode(&self, requested: Option<Mode>) -> Mode {
        match requested {
            None => self.mode,
            Some(m) if self.allow_downgrade => m,
            Some(m) => m.max(self.mode),
        }
    }
}

/// The mode a container asks for: the `io.tiercel.mode` annotation, else the
/// `listenerMetadata` string (`io.tiercel.mode=enforce`, `mode=enforce` or a bare
/// `enforce`, items separated by newlines, `;`, `,` or spaces). Unknown values are
/// ignored (and reported by the caller via the `Err` list).
pub fn requested_mode(
    annotation: Option<&str>,
    metadata: Option<&str>,
) -> (Option<Mode>, Vec<String>) {
    let mut bad = Vec::new();
    if let Some(a) = annotation {
        match a.parse::<Mode>() {
            Ok(m) => return (Some(m), bad),
            Err(e) => bad.push(format!("annotation {MODE_ANNOTATION}: {e}")),
        }
    }
    if let Some(md) = metadata {
        for item in md
            .split(['\n', ';', ',', ' ', '\t'])
            .filter(|s| !s.is_empty())
        {
            let value = match item.split_once('=') {
                Some((k, v)) if k == MODE_ANNOTATION || k == "mode" => v,
                Some(_) => continue,
                None => item,
            };
            match value.parse::<Mode>() {
                Ok(m) => return (Some(m), bad),
                Err(e) => bad.push(format!("listenerMetadata: {e}")),
            }
        }
    }
    (None, bad)
}

/// Which matched rules to alert on, and which one (if any) denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Index into `matches` of the denying match, when the call is refused.
    pub deny: Option<usize>,
}

/// Decides on one call. `matches` are rule indices in definition order (all matches,
/// not only the first); `deny_table` comes from [`Policy::deny_table`].
pub fn decide(mode: Mode, deny_table: &[bool], matches: &[usize]) -> Verdict {
    if mode != Mode::Enforce {
        return Verdict { deny: None };
    }
    let deny = matches
        .iter()
        .position(|&i| deny_table.get(i).copied().unwrap_or(false));
    Verdict { deny }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse() {
        assert_eq!(
            "rule:Write below binary dir".parse::<Selector>().unwrap(),
            Selector::Rule("Write below binary dir".into())
        );
        assert_eq!(
            "tag:filesystem".parse::<Selector>().unwrap(),
            Selector::Tag("filesystem".into())
        );
        assert_eq!(
            "priority:warning".parse::<Selector>().unwrap(),
            Selector::Priority(Priority::Warning)
        );
        assert!("priority:warn".parse::<Selector>().is_err());
        assert!("name:x".parse::<Selector>().is_err());
        assert!("rule:".parse::<Selector>().is_err());
        assert!("x".parse::<Selector>().is_err());
    }

    #[test]
    fn errnos() {
        assert_eq!(parse_errno("EPERM").unwrap(), 1);
        assert_eq!(parse_errno("eacces").unwrap(), 13);
        assert_eq!(parse_errno("30").unwrap(), libc::EROFS);
        assert!(parse_errno("0").is_err());
        assert!(parse_errno("EWHAT").is_err());
        assert_eq!(errno_name(libc::EROFS), "EROFS");
    }

    #[test]
    fn modes() {
        let p = Policy::default();
        assert_eq!(p.container_mode(Some(Mode::Enforce)), Mode::Enforce);
        let p = Policy {
            mode: Mode::Enforce,
            ..Policy::default()
        };
        assert_eq!(p.container_mode(Some(Mode::Audit)), Mode::Enforce);
        let p = Policy {
            mode: Mode::Enforce,
            allow_downgrade: true,
            ..Policy::default()
        };
        assert_eq!(p.container_mode(Some(Mode::Audit)), Mode::Audit);
        assert_eq!(p.container_mode(None), Mode::Enforce);
    }

    #[test]
    fn requested() {
        assert_eq!(requested_mode(Some("enforce"), None).0, Some(Mode::Enforce));
        assert_eq!(
            requested_mode(None, Some("foo=bar\nio.tiercel.mode=enforce")).0,
            Some(Mode::Enforce)
        );
        assert_eq!(
            requested_mode(None, Some("mode=audit")).0,
            Some(Mode::Audit)
        );
        assert_eq!(requested_mode(None, Some("enforce")).0, Some(Mode::Enforce));
        let (m, bad) = requested_mode(Some("loud"), Some("x=y"));
        assert_eq!(m, None);
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn enforce_denies_every_match_unless_selectors_narrow_it() {
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str(
            "t.yaml",
            "- rule: a\n  desc: a\n  condition: evt.type = open\n  output: a\n  priority: WARNING\n  tags: [x]\n\
             - rule: b\n  desc: b\n  condition: evt.type = openat\n  output: b\n  priority: ERROR\n",
        );
        let program = loader.finish().program.expect("rules load");
        let all = Policy::default();
        assert_eq!(all.deny_table(program.rules()), vec![true, true]);
        let by_tag = Policy {
            deny: vec!["tag:x".parse().unwrap()],
            ..Policy::default()
        };
        assert_eq!(by_tag.deny_table(program.rules()), vec![true, false]);
        let by_priority = Policy {
            deny: vec!["priority:error".parse().unwrap()],
            ..Policy::default()
        };
        assert_eq!(by_priority.deny_table(program.rules()), vec![false, true]);
    }

    #[test]
    fn decisions() {
        let table = [false, true, false];
        assert_eq!(decide(Mode::Audit, &table, &[1]).deny, None);
        assert_eq!(decide(Mode::Enforce, &table, &[0, 2]).deny, None);
        assert_eq!(decide(Mode::Enforce, &table, &[0, 1]).deny, Some(1));
        assert_eq!(decide(Mode::Enforce, &table, &[7]).deny, None);
    }
}
