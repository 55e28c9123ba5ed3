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

use tiercel_rules::event::{Event, EventType};
use tiercel_rules::priority::Priority;
use tiercel_rules::program::{CompiledRule, Program, RuleMatching};

use crate::event::SyscallEvent;
use crate::sys::Answer;

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

/// The compiled rules with the policy's per-rule tables: everything a decision on one
/// call depends on besides the call itself and the container's mode.
pub struct Decider {
    program: Program,
    matching: RuleMatching,
    policy: Policy,
    deny_table: Vec<bool>,
    enabled: Vec<bool>,
    /// Per event type (`EventType.0`): some enabled rule for it denies (decides whether
    /// the resolved-path evaluation is worth doing).
    deny_by_type: Vec<bool>,
    any_deny: bool,
    /// Some rule is below the configured minimum priority.
    any_disabled: bool,
    /// Opens a deny rule could match are decided on their object
    /// ([`Decision::object`]) rather than on a separate walk of the path.
    emulate_opens: bool,
}

impl fmt::Debug for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decider")
            .field("rules", &self.program.rules().len())
            .field("matching", &self.matching)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The outcome of the evaluation on the resolved view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondLook {
    /// Not done, or nothing to deny.
    None,
    /// This rule (index) denies on the resolved paths.
    Rule(usize),
    /// A modified path is unknown (unreadable magic link): deny.
    Unknown,
}

/// The decision on one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// What the kernel is told.
    pub answer: Answer,
    /// The verdict on Falco's view (which match, if any, denies); the matches are in
    /// [`Scratch::matches`].
    pub verdict: Verdict,
    /// The verdict on the resolved view, when Falco's view denied nothing.
    pub second: SecondLook,
    /// Enforce mode, an open that some deny rule could match on its path, and Falco's
    /// view denied nothing: the decision must be made on the object the open reaches,
    /// established by performing the open on the caller's behalf
    /// ([`crate::emulate::open_for_caller`]); `answer` is not final.
    pub object: bool,
    /// Audit mode: the index into `matches` of the match enforce mode would deny.
    pub would_deny: Option<usize>,
}

impl Decision {
    /// Whether output work follows the answer (an alert will read the event's `/proc`
    /// values after the caller is released, so they must be pinned before SEND).
    pub fn alerts(&self, scratch: &Scratch) -> bool {
        !scratch.matches.is_empty() || matches!(self.second, SecondLook::Rule(_))
    }
}

/// Per-session buffers of [`Decider::decide`] (no allocation per call).
#[derive(Debug, Default)]
pub struct Scratch {
    /// The enabled matches on Falco's view, rule indices in definition order.
    pub matches: Vec<usize>,
    /// Matches of the resolved-view evaluation.
    pub resolved: Vec<usize>,
}

impl Scratch {
    pub fn with_capacity(n: usize) -> Scratch {
        Scratch {
            matches: Vec::with_capacity(n),
            resolved: Vec::with_capacity(n),
        }
    }
}

/// Whether rule `i` is enabled and may deny.
fn rule_denies(deny_table: &[bool], enabled: &[bool], i: usize) -> bool {
    deny_table.get(i).copied().unwrap_or(false) && enabled.get(i).copied().unwrap_or(false)
}

fn deny_capable(program: &Program, deny_table: &[bool], enabled: &[bool], t: EventType) -> bool {
    program
        .rules_for(t)
        .iter()
        .any(|&i| rule_denies(deny_table, enabled, i as usize))
}

impl Decider {
    pub fn new(program: Program, matching: RuleMatching, policy: Policy) -> Decider {
        let deny_table = policy.deny_table(program.rules());
        let enabled = policy.enabled_table(program.rules());
        let any_deny = deny_table.iter().any(|&d| d);
        let any_disabled = enabled.iter().any(|&e| !e);
        let deny_by_type = EventType::all()
            .map(|t| deny_capable(&program, &deny_table, &enabled, t))
            .collect();
        Decider {
            program,
            matching,
            policy,
            deny_table,
            enabled,
            deny_by_type,
            any_deny,
            any_disabled,
            emulate_opens: crate::emulate::supported().is_ok(),
        }
    }

    /// Whether opens are decided on the object tiercel opens itself (default: when
    /// [`crate::emulate::supported`]).
    pub fn set_emulate_opens(&mut self, on: bool) {
        self.emulate_opens = on;
    }

    pub fn emulates_opens(&self) -> bool {
        self.emulate_opens
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Falco's `rule_matching` (which matches alert).
    pub fn matching(&self) -> RuleMatching {
        self.matching
    }

    /// Whether some enabled rule evaluated for events of type `t` denies.
    fn denies_type(&self, t: EventType) -> bool {
        match self.deny_by_type.get(usize::from(t.0)) {
            Some(&d) => d,
            None => deny_capable(&self.program, &self.deny_table, &self.enabled, t),
        }
    }

    /// Decides on one call of a container in `mode` (the session passes audit while the
    /// runtime runs): evaluates the rules on Falco's view and, when that denies nothing
    /// in enforce mode, on the resolved view. Leaves the enabled matches in
    /// `scratch.matches`.
    pub fn decide(&self, event: &SyscallEvent, mode: Mode, scratch: &mut Scratch) -> Decision {
        // Enforcement must see a deny rule even when an alert-only rule matched first,
        // and a disabled (below `priority`) first match must not hide an enabled one.
        // Audit reports what enforce would deny, so it needs the same matches.
        let matching = if self.any_deny || self.any_disabled {
            RuleMatching::All
        } else {
            self.matching
        };
        scratch.matches.clear();
        self.program.eval(event, matching, &mut scratch.matches);
        let enabled = &self.enabled;
        scratch
            .matches
            .retain(|&i| enabled.get(i).copied().unwrap_or(false));
        let verdict = decide(mode, &self.deny_table, &scratch.matches);
        // Decisions on paths as the kernel will resolve them: when Falco's view (paths as
        // spelled, normalised) denies nothing, evaluate again on the resolved view.
        let mut object = false;
        let would_deny = if mode == Mode::Audit {
            decide(Mode::Enforce, &self.deny_table, &scratch.matches).deny
        } else {
            None
        };
        let second = if verdict.deny.is_some() {
            SecondLook::None
        } else if self.emulate_opens
            && (self.object_decides(event, mode)
                || (mode == Mode::Audit && self.audit_resolves(event)))
        {
            object = true;
            SecondLook::None
        } else {
            self.resolved_verdict(&mut scratch.resolved, event, mode)
        };
        let answer = match (verdict.deny, second) {
            (Some(_), _) | (None, SecondLook::Rule(_) | SecondLook::Unknown) => {
                Answer::Errno(self.policy.errno)
            }
            (None, SecondLook::None) => Answer::Continue,
        };
        Decision {
            answer,
            verdict,
            second,
            object,
            would_deny,
        }
    }

    /// Audit mode: whether the call has paths and rules for its type (then its paths are
    /// resolved, and the rules evaluated again when a resolved path differs from Falco's).
    /// No three-valued prefilter here: with many rules it reads the `/proc` fields the
    /// other operands need, which costs more than resolving the paths.
    fn audit_resolves(&self, event: &SyscallEvent) -> bool {
        !event.decoded().paths.is_empty() && !self.program.rules_for(event.event_type()).is_empty()
    }

    /// Whether rule `i` denies (in enforce mode) when it matches.
    pub fn denies(&self, i: usize) -> bool {
        rule_denies(&self.deny_table, &self.enabled, i)
    }

    /// Audit mode, after the object was resolved ([`SyscallEvent::set_object`] or the
    /// resolved paths set by [`crate::emulate::resolve_paths`]): the first enabled rule
    /// that matches the resolved view and did not match Falco's.
    pub fn decide_resolved(&self, event: &SyscallEvent, scratch: &mut Scratch) -> SecondLook {
        if !event.resolved_differs() {
            return SecondLook::None;
        }
        event.set_resolved_view(true);
        scratch.resolved.clear();
        self.program
            .eval(event, RuleMatching::All, &mut scratch.resolved);
        event.set_resolved_view(false);
        let enabled = &self.enabled;
        let hit =
            scratch.resolved.iter().copied().find(|&i| {
                enabled.get(i).copied().unwrap_or(false) && !scratch.matches.contains(&i)
            });
        match hit {
            Some(i) => SecondLook::Rule(i),
            None => SecondLook::None,
        }
    }

    /// Whether the call is an open (open, openat, openat2, creat) that some enabled deny
    /// rule could match with some value of its path fields, in enforce mode.
    fn object_decides(&self, event: &SyscallEvent, mode: Mode) -> bool {
        let d = event.decoded();
        mode == Mode::Enforce
            && d.fd_path.is_some()
            && matches!(d.kname, Some("open" | "openat" | "openat2" | "creat"))
            && self.denies_type(event.event_type())
            && self.path_could_deny(event)
    }

    fn path_could_deny(&self, event: &SyscallEvent) -> bool {
        let deny = |i: usize| rule_denies(&self.deny_table, &self.enabled, i);
        self.program
            .can_match_masked(event, &deny, &|f, a| event.view_dependent(f, a))
    }

    /// The verdict on the object the call reaches, set on the event
    /// ([`SyscallEvent::set_object`]): the rules evaluated on the resolved view.
    pub fn decide_object(
        &self,
        event: &SyscallEvent,
        mode: Mode,
        scratch: &mut Scratch,
    ) -> SecondLook {
        if mode != Mode::Enforce || !event.resolved_differs() {
            return SecondLook::None;
        }
        event.set_resolved_view(true);
        scratch.resolved.clear();
        self.program
            .eval(event, RuleMatching::All, &mut scratch.resolved);
        event.set_resolved_view(false);
        let deny = |i: usize| rule_denies(&self.deny_table, &self.enabled, i);
        match scratch.resolved.iter().copied().find(|&i| deny(i)) {
            Some(i) => SecondLook::Rule(i),
            None => SecondLook::None,
        }
    }

    /// In enforce mode, for calls with path arguments and deny rules for their type:
    /// evaluates the rules on the resolved view of the event (see
    /// [`SyscallEvent::set_resolved_view`]). A deny rule matching there denies; so does a
    /// modified path whose resolution is unknown (a procfs magic link that could not be
    /// read, [`SyscallEvent::unresolved_modified_path`]), since no rule can be checked
    /// against it.
    fn resolved_verdict(
        &self,
        resolved_matches: &mut Vec<usize>,
        event: &SyscallEvent,
        mode: Mode,
    ) -> SecondLook {
        if mode != Mode::Enforce
            || event.decoded().paths.is_empty()
            || !self.denies_type(event.event_type())
        {
            return SecondLook::None;
        }
        // Resolving paths costs a walk of the caller's root; it can only change the
        // outcome if some deny rule can match this event with *some* values of its path
        // fields. Nothing else differs between the views, so when the other fields
        // already rule every deny rule out, neither a resolved path nor an unresolvable
        // one matters.
        let deny = |i: usize| rule_denies(&self.deny_table, &self.enabled, i);
        if !self.path_could_deny(event) {
            return SecondLook::None;
        }
        event.set_resolved_view(true);
        resolved_matches.clear();
        self.program
            .eval(event, RuleMatching::All, resolved_matches);
        event.set_resolved_view(false);
        let hit = resolved_matches.iter().copied().find(|&i| deny(i));
        match hit {
            Some(i) => SecondLook::Rule(i),
            None if event.unresolved_modified_path() => SecondLook::Unknown,
            None => SecondLook::None,
        }
    }
}

/// The answer when no decision could be made (the call could not be decoded, or the
/// handling panicked before SEND): fail open in audit, closed in enforce, and never
/// deny the runtime (pre-exec) phase.
pub fn fallback_answer(mode: Mode, runtime_phase: bool, errno: i32) -> Answer {
    match mode {
        Mode::Enforce if !runtime_phase => Answer::Errno(errno),
        _ => Answer::Continue,
    }
}

/// Which matches alert, as (position in `matches`, rule index): every match under
/// `rule_matching: all`; otherwise the first, plus the denying one when it is another
/// (every deny is an alert).
pub fn alerted(
    matches: &[usize],
    deny_at: Option<usize>,
    matching: RuleMatching,
) -> impl Iterator<Item = (usize, usize)> + '_ {
    let all = matching == RuleMatching::All;
    matches
        .iter()
        .copied()
        .enumerate()
        .filter(move |&(k, _)| all || k == 0 || deny_at == Some(k))
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

    #[test]
    fn alerted_matches() {
        let m = [4, 7, 9];
        let v: Vec<_> = alerted(&m, None, RuleMatching::First).collect();
        assert_eq!(v, vec![(0, 4)]);
        let v: Vec<_> = alerted(&m, Some(2), RuleMatching::First).collect();
        assert_eq!(v, vec![(0, 4), (2, 9)]);
        let v: Vec<_> = alerted(&m, Some(0), RuleMatching::First).collect();
        assert_eq!(v, vec![(0, 4)]);
        let v: Vec<_> = alerted(&m, None, RuleMatching::All).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(alerted(&[], None, RuleMatching::All).count(), 0);
    }

    /// The decision as a function of (rules + policy, event, mode), on events built by
    /// the real builder from a notification of this process (arguments in a buffer).
    mod decider {
        use super::*;
        use crate::event::mem::BufMem;
        use crate::event::{syscall_nr, ContainerInfo, EventBuilder, Notif, AUDIT_ARCH_X86_64};

        const RULES: &str = "\
- rule: alert only
  desc: d
  condition: evt.type = openat and fd.name startswith /tmp/tiercel-decide/
  output: a %fd.name
  priority: NOTICE
  tags: [quiet]
- rule: secret
  desc: d
  condition: evt.type = openat and fd.name startswith /tmp/tiercel-decide/secret
  output: s %fd.name
  priority: ERROR
  tags: [deny]
- rule: debug only
  desc: d
  condition: evt.type = openat and fd.name = /tmp/tiercel-decide/debug
  output: d
  priority: DEBUG
";

        fn decider(policy: Policy, matching: RuleMatching) -> Decider {
            let mut loader = tiercel_rules::loader::Loader::new(Default::default());
            loader.add_str("t.yaml", RULES);
            Decider::new(
                loader.finish().program.expect("rules load"),
                matching,
                policy,
            )
        }

        fn openat(path: &str) -> SyscallEvent {
            let mut mem = BufMem::new(0x10000);
            let p = mem.put_cstr(path.as_bytes());
            let n = Notif {
                id: 1,
                pid: std::process::id(),
                arch: AUDIT_ARCH_X86_64,
                nr: syscall_nr("openat").unwrap(),
                instruction_pointer: 0,
                args: [libc::AT_FDCWD as i64 as u64, p, 0, 0, 0, 0],
            };
            EventBuilder::new(ContainerInfo::default())
                .build(&n, &mem)
                .expect("builds")
        }

        #[test]
        fn audit_never_denies_enforce_denies_by_selector() {
            let policy = Policy {
                deny: vec!["tag:deny".parse().unwrap()],
                ..Policy::default()
            };
            let d = decider(policy, RuleMatching::First);
            let mut sc = Scratch::default();
            let secret = openat("/tmp/tiercel-decide/secret/k");
            let r = d.decide(&secret, Mode::Audit, &mut sc);
            assert_eq!(r.answer, Answer::Continue);
            assert_eq!(
                sc.matches,
                vec![0, 1],
                "audit evaluates every rule to report what enforce would deny"
            );
            assert_eq!(r.would_deny, Some(1), "reported as would deny");
            assert!(r.alerts(&sc));
            let r = d.decide(&secret, Mode::Enforce, &mut sc);
            assert_eq!(r.answer, Answer::Errno(libc::EPERM));
            assert_eq!(
                sc.matches,
                vec![0, 1],
                "enforce: an alert-only first match does not hide the deny rule"
            );
            assert_eq!(r.verdict.deny, Some(1));
            let plain = openat("/tmp/tiercel-decide/plain");
            let r = d.decide(&plain, Mode::Enforce, &mut sc);
            assert_eq!(r.answer, Answer::Continue);
            assert_eq!(sc.matches, vec![0]);
            let other = openat("/etc/hostname");
            let r = d.decide(&other, Mode::Enforce, &mut sc);
            assert_eq!((r.answer, r.second), (Answer::Continue, SecondLook::None));
            assert!(!r.alerts(&sc));
        }

        #[test]
        fn disabled_rules_neither_alert_nor_deny() {
            let policy = Policy {
                min_priority: Priority::Informational,
                errno: libc::EACCES,
                ..Policy::default()
            };
            let d = decider(policy, RuleMatching::First);
            let mut sc = Scratch::default();
            let r = d.decide(&openat("/tmp/tiercel-decide/debug"), Mode::Enforce, &mut sc);
            assert_eq!(sc.matches, vec![0], "the DEBUG rule is below the minimum");
            assert_eq!(
                r.answer,
                Answer::Errno(libc::EACCES),
                "every rule denies without selectors"
            );
        }

        #[test]
        fn resolved_view_denies_through_a_symlink() {
            let dir = std::env::temp_dir().join(format!("tiercel-decide-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            // /tmp/tiercel-decide/secret may not exist: link to its spelling.
            let link = dir.join("innocent");
            std::os::unix::fs::symlink("/tmp/tiercel-decide/secret/x", &link).unwrap();
            let policy = Policy {
                deny: vec!["rule:secret".parse().unwrap()],
                ..Policy::default()
            };
            let mut d = decider(policy, RuleMatching::First);
            // The path walk (the fallback when opens are not performed by tiercel).
            d.set_emulate_opens(false);
            let mut sc = Scratch::default();
            let ev = openat(link.to_str().unwrap());
            let r = d.decide(&ev, Mode::Enforce, &mut sc);
            assert!(sc.matches.is_empty(), "Falco's view: the path as spelled");
            assert_eq!(r.second, SecondLook::Rule(1));
            assert_eq!(r.answer, Answer::Errno(libc::EPERM));
            assert!(r.alerts(&sc));
            // Audit never looks at the resolved view.
            let r = d.decide(&ev, Mode::Audit, &mut sc);
            assert_eq!((r.answer, r.second), (Answer::Continue, SecondLook::None));
            let _ = std::fs::remove_dir_all(&dir);
        }

        #[test]
        fn fallback() {
            assert_eq!(fallback_answer(Mode::Audit, false, 1), Answer::Continue);
            assert_eq!(fallback_answer(Mode::Enforce, false, 13), Answer::Errno(13));
            assert_eq!(fallback_answer(Mode::Enforce, true, 13), Answer::Continue);
        }
    }
}
