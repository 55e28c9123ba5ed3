//! Verdicts: audit or enforce, and which rule matches deny.
//!
//! Rule files stay loadable by Falco, so what denies is chosen outside the rules:
//! `--deny rule:NAME`, `--deny tag:TAG`, `--deny priority:P` (P or more severe). The
//! errno is configurable (`EPERM` by default), and per selector, with a response action
//! beyond the errno: `--deny 'rule:Write below binary dir=EROFS'`,
//! `--deny 'tag:T1,action=kill-process'`, `--deny 'priority:critical,errno=EACCES,action=kill-container'`
//! (see [`DenySpec`]). The mode is global and can be raised per
//! container (OCI annotation `io.tiercel.mode`, or `listenerMetadata`); a container's
//! own setting never lowers it unless the trusted config allows that, because whoever
//! writes the container's seccomp profile also writes its metadata.

use std::fmt;
use std::str::FromStr;

use tiercel_rules::event::{Event, EventType};
use tiercel_rules::fields::Field;
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

/// What happens to the caller besides the errno, when a selector denies a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Refuse the call with the errno (nothing more).
    #[default]
    Deny,
    /// Refuse the call, then SIGKILL the calling process (through a pidfd).
    KillProcess,
    /// Refuse the call, then SIGKILL the init of the caller's pid namespace (the
    /// container's init: the kernel then kills every process of the namespace).
    KillContainer,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::KillProcess => "kill-process",
            Action::KillContainer => "kill-container",
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Action, String> {
        match s.trim() {
            "deny" => Ok(Action::Deny),
            "kill-process" => Ok(Action::KillProcess),
            "kill-container" => Ok(Action::KillContainer),
            other => Err(format!(
                "unknown action {other:?} (expected deny, kill-process or kill-container)"
            )),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `--deny` item: which rules deny, with an optional errno of its own (else the
/// global `--errno`) and an action.
///
/// Syntax: `KIND:VALUE[=ERRNO][,errno=ERRNO][,action=ACTION]`, e.g.
/// `rule:Write below binary dir=EROFS`, `tag:T1,action=kill-process`,
/// `priority:critical,errno=EACCES,action=kill-container`. Options are read from the
/// end: a trailing `,errno=…` / `,action=…` item is an option (each at most once), and
/// a trailing `=E…` (an upper-case errno name) or `=N` (a number) is the errno. Anything
/// else belongs to the value, so rule names may hold commas; a rule whose name itself
/// ends in `=EPERM` needs the `,errno=` form after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenySpec {
    pub selector: Selector,
    pub errno: Option<i32>,
    pub action: Action,
}

impl From<Selector> for DenySpec {
    fn from(selector: Selector) -> DenySpec {
        DenySpec {
            selector,
            errno: None,
            action: Action::Deny,
        }
    }
}

/// `E` + upper-case letters/digits, or digits: what a trailing `=…` errno looks like.
fn looks_like_errno(t: &str) -> bool {
    let b = t.as_bytes();
    (!b.is_empty() && b.iter().all(u8::is_ascii_digit))
        || (b.len() >= 2
            && b[0] == b'E'
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
}

impl FromStr for DenySpec {
    type Err = String;
    fn from_str(s: &str) -> Result<DenySpec, String> {
        let mut rest = s;
        let mut errno = None;
        let mut action = None;
        // Trailing `,key=value` options.
        while let Some((head, tail)) = rest.rsplit_once(',') {
            let Some((key, value)) = tail.split_once('=') else {
                break;
            };
            let known = matches!(key.trim(), "errno" | "action");
            // `,word=` without spaces is an option (unknown ones are errors); anything
            // else (`, b=c`) belongs to the value.
            let word = !key.is_empty() && key.bytes().all(|c| c.is_ascii_lowercase() || c == b'-');
            if !known && !word {
                break;
            }
            let key = key.trim();
            match key {
                "errno" if errno.is_none() => {
                    errno =
                        Some(parse_errno(value).map_err(|e| format!("deny selector {s:?}: {e}"))?)
                }
                "action" if action.is_none() => {
                    action = Some(
                        value
                            .parse::<Action>()
                            .map_err(|e| format!("deny selector {s:?}: {e}"))?,
                    )
                }
                "errno" | "action" => {
                    return Err(format!("deny selector {s:?}: {key} given twice"));
                }
                other => {
                    return Err(format!(
                        "deny selector {s:?}: unknown option {other:?} (expected errno= or action=)"
                    ))
                }
            }
            rest = head;
        }
        // A trailing `=ERRNO`.
        if let Some((head, tail)) = rest.rsplit_once('=') {
            if looks_like_errno(tail.trim()) {
                if errno.is_some() {
                    return Err(format!("deny selector {s:?}: errno given twice"));
                }
                errno = Some(parse_errno(tail).map_err(|e| format!("deny selector {s:?}: {e}"))?);
                rest = head;
            }
        }
        let selector = rest.parse::<Selector>().map_err(|e| {
            if rest == s {
                e
            } else {
                format!("deny selector {s:?}: {e}")
            }
        })?;
        Ok(DenySpec {
            selector,
            errno,
            action: action.unwrap_or_default(),
        })
    }
}

impl fmt::Display for DenySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.selector)?;
        if let Some(e) = self.errno {
            write!(f, ",errno={}", errno_name(e))?;
        }
        if self.action != Action::Deny {
            write!(f, ",action={}", self.action)?;
        }
        Ok(())
    }
}

/// What a denying rule does: the errno answered and the action after the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub errno: i32,
    pub action: Action,
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
    /// The selectors (with their errno and action); the first that selects a rule
    /// decides its response.
    pub deny: Vec<DenySpec>,
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
            .map(|r| self.deny.is_empty() || self.deny.iter().any(|s| s.selector.matches(r)))
            .collect()
    }

    /// Per rule of the program: the errno and action of its deny (the first selector
    /// that selects it; the global errno and a plain deny without selectors or for rules
    /// no selector selects, which do not deny anyway).
    pub fn response_table(&self, rules: &[CompiledRule]) -> Vec<Response> {
        rules
            .iter()
            .map(|r| match self.deny.iter().find(|s| s.selector.matches(r)) {
                Some(s) => Response {
                    errno: s.errno.unwrap_or(self.errno),
                    action: s.action,
                },
                None => Response {
                    errno: self.errno,
                    action: Action::Deny,
                },
            })
            .collect()
    }

    /// Whether some selector has an action beyond the errno.
    pub fn kills(&self) -> bool {
        self.deny.iter().any(|s| s.action != Action::Deny)
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
    /// Per rule: its errno and action when it denies.
    responses: Vec<Response>,
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
    /// What follows the answer (only ever beyond [`Action::Deny`] for a denied call,
    /// and never while the runtime runs: the session then decides in audit mode).
    pub action: Action,
    /// The verdict on Falco's view (which match, if any, denies); the matches are in
    /// [`Scratch::matches`].
    pub verdict: Verdict,
    /// The verdict on the resolved view, when Falco's view denied nothing.
    pub second: SecondLook,
    /// Enforce mode, a call tiercel performs itself (an open, a path-changing call, a
    /// descriptor form: [`crate::perform::kind`]) that some deny rule could match on its
    /// paths, and Falco's view denied nothing: the decision must be made on the objects
    /// the call reaches, established and performed on the caller's behalf
    /// ([`crate::perform::for_caller`]); `answer` is not final.
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
        let responses = policy.response_table(program.rules());
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
            responses,
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
        let global = Response {
            errno: self.policy.errno,
            action: Action::Deny,
        };
        let response = match (verdict.deny, second) {
            (Some(k), _) => scratch
                .matches
                .get(k)
                .and_then(|&i| self.responses.get(i))
                .copied()
                .or(Some(global)),
            (None, SecondLook::Rule(i)) => self.responses.get(i).copied().or(Some(global)),
            // No rule matched: the path is unknown, a plain deny.
            (None, SecondLook::Unknown) => Some(global),
            (None, SecondLook::None) => None,
        };
        let (answer, action) = match response {
            Some(r) => (Answer::Errno(r.errno), r.action),
            None => (Answer::Continue, Action::Deny),
        };
        Decision {
            answer,
            action,
            verdict,
            second,
            object,
            would_deny,
        }
    }

    /// Audit mode: whether the call has paths and rules for its type (then its paths are
    /// resolved, and the rules evaluated again when a resolved path differs from Falco's).
    /// No three-valued prefilter here: with many rules it reads the `/proc` fields the
    /// other operands need, which costs more than resolving the paths (measured: stable
    /// openat 60 µs with it, 24 µs without).
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

    /// Whether the call is one tiercel performs itself ([`crate::perform::kind`]: opens,
    /// path-changing calls, calls changing the object behind a descriptor) and some
    /// enabled deny rule could match it with some value of its path fields (`fd.*` for
    /// the descriptor forms), in enforce mode.
    fn object_decides(&self, event: &SyscallEvent, mode: Mode) -> bool {
        use crate::perform::Kind;
        let d = event.decoded();
        if mode != Mode::Enforce || !self.denies_type(event.event_type()) {
            return false;
        }
        match crate::perform::kind(d) {
            Some(Kind::Open) => d.fd_path.is_some() && self.path_could_deny(event),
            Some(Kind::Paths) => self.path_could_deny(event),
            Some(Kind::Fd) => self.fd_could_deny(event),
            None => false,
        }
    }

    /// Whether some enabled deny rule could match `event` with some value of the fields
    /// that describe its descriptor's file.
    fn fd_could_deny(&self, event: &SyscallEvent) -> bool {
        let deny = |i: usize| rule_denies(&self.deny_table, &self.enabled, i);
        self.program.can_match_masked(event, &deny, &|f, a| {
            event.view_dependent(f, a)
                || matches!(
                    f,
                    Field::FdName
                        | Field::FdDirectory
                        | Field::FdFilename
                        | Field::FdTypechar
                        | Field::FdType
                        | Field::FdNameraw
                )
        })
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

/// For unit tests elsewhere: the rules in `rules` (one YAML text), default policy, first
/// match, calls performed on the caller's behalf.
#[cfg(test)]
impl Decider {
    pub fn for_tests(rules: &str) -> Decider {
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str("t.yaml", rules);
        let mut d = Decider::new(
            loader.finish().program.expect("rules load"),
            RuleMatching::First,
            Policy::default(),
        );
        d.set_emulate_opens(true);
        d
    }
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
    fn deny_specs_parse() {
        let d = |s: &str| s.parse::<DenySpec>();
        let plain = d("rule:Write below binary dir").unwrap();
        assert_eq!(
            plain,
            Selector::Rule("Write below binary dir".into()).into()
        );
        let e = d("rule:Write below binary dir=EROFS").unwrap();
        assert_eq!(e.selector, Selector::Rule("Write below binary dir".into()));
        assert_eq!((e.errno, e.action), (Some(libc::EROFS), Action::Deny));
        let k = d("tag:T1,action=kill-process").unwrap();
        assert_eq!(k.selector, Selector::Tag("T1".into()));
        assert_eq!((k.errno, k.action), (None, Action::KillProcess));
        let c = d("priority:critical,errno=EACCES,action=kill-container").unwrap();
        assert_eq!(c.selector, Selector::Priority(Priority::Critical));
        assert_eq!(
            (c.errno, c.action),
            (Some(libc::EACCES), Action::KillContainer)
        );
        // Option order is free; `=ERRNO` combines with `,action=`; numbers work.
        let c = d("tag:x=13,action=kill-container").unwrap();
        assert_eq!((c.errno, c.action), (Some(13), Action::KillContainer));
        let c = d("tag:x,action=deny,errno=30").unwrap();
        assert_eq!((c.errno, c.action), (Some(30), Action::Deny));
        // Commas and `=` that are not options stay in the rule name.
        let n = d("rule:a, b=c").unwrap();
        assert_eq!(n.selector, Selector::Rule("a, b=c".into()));
        assert_eq!(n.errno, None);
        let n = d("rule:x=Eq,errno=EPERM").unwrap();
        assert_eq!(n.selector, Selector::Rule("x=Eq".into()));
        // Round trip through Display.
        for s in [
            "rule:A b,errno=EROFS",
            "tag:T1,action=kill-process",
            "priority:Error",
        ] {
            assert_eq!(d(&d(s).unwrap().to_string()).unwrap(), d(s).unwrap());
        }
        // Errors: each names the problem.
        for (bad, says) in [
            ("rule:x=EWHAT", "unknown errno name"),
            ("rule:x=0", "out of range"),
            ("tag:T1,action=kill", "unknown action"),
            ("tag:T1,action=kill-process,action=deny", "twice"),
            ("tag:T1=EROFS,errno=EPERM", "twice"),
            ("tag:T1,signal=9", "unknown option"),
            ("tag:,action=kill-process", "empty value"),
            ("=EROFS", "expected rule:NAME"),
            ("proc:x,errno=EPERM", "unknown kind"),
            ("priority:loud=EROFS", "unknown priority"),
        ] {
            let e = d(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn responses_come_from_the_first_selecting_spec() {
        let mut loader = tiercel_rules::loader::Loader::new(Default::default());
        loader.add_str(
            "t.yaml",
            "- rule: a\n  desc: a\n  condition: evt.type = open\n  output: a\n  priority: WARNING\n  tags: [x]\n\
             - rule: b\n  desc: b\n  condition: evt.type = openat\n  output: b\n  priority: ERROR\n",
        );
        let program = loader.finish().program.expect("rules load");
        let p = Policy {
            deny: vec![
                "rule:a=EROFS,action=kill-process".parse().unwrap(),
                "tag:x,action=kill-container".parse().unwrap(),
                "priority:error".parse().unwrap(),
            ],
            errno: libc::EACCES,
            ..Policy::default()
        };
        assert!(p.kills());
        assert_eq!(
            p.response_table(program.rules()),
            vec![
                Response {
                    errno: libc::EROFS,
                    action: Action::KillProcess
                },
                Response {
                    errno: libc::EACCES,
                    action: Action::Deny
                },
            ]
        );
        assert!(!Policy::default().kills());
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
        fn per_selector_errno_and_action_only_in_enforce() {
            let policy = Policy {
                deny: vec!["rule:secret=EROFS,action=kill-process".parse().unwrap()],
                ..Policy::default()
            };
            let d = decider(policy, RuleMatching::First);
            let mut sc = Scratch::default();
            let secret = openat("/tmp/tiercel-decide/secret/k");
            let r = d.decide(&secret, Mode::Enforce, &mut sc);
            assert_eq!(r.answer, Answer::Errno(libc::EROFS));
            assert_eq!(r.action, Action::KillProcess);
            // Audit (and the runtime phase, decided as audit) never acts.
            let r = d.decide(&secret, Mode::Audit, &mut sc);
            assert_eq!((r.answer, r.action), (Answer::Continue, Action::Deny));
            let r = d.decide(&openat("/tmp/tiercel-decide/plain"), Mode::Enforce, &mut sc);
            assert_eq!((r.answer, r.action), (Answer::Continue, Action::Deny));
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
