//! Loading rule files into a [`Program`]: reading, collecting, list substitution, macro
//! expansion, exceptions, visibility across files, compiling, diagnostics.
//!
//! The pipeline follows Falco's `load_rules` (`rule_loader_reader/collector/compiler.cpp`):
//!
//! 1. each file is parsed ([`crate::yaml`]) and read into items ([`crate::reader`]),
//!    which go into one persistent [`Collector`];
//! 2. after each file, *everything collected so far* is compiled again (Falco does the
//!    same: a rule needing a macro that only a later file defines fails when its own file
//!    is loaded, and a later redefinition changes earlier rules):
//!    * lists: an item naming an earlier list is replaced by that list's items (one level);
//!    * conditions: lists are substituted **textually** (a.7.1), exceptions are appended
//!      textually (b.4), the text is parsed with [`crate::parser::parse`] (depth 1000);
//!    * macros are parsed (even unused ones) and resolved in definition order, each seeing
//!      the macros whose first definition precedes its own last (re)definition;
//!    * rules: output compiled ([`OutputFormat::parse`]), then the condition parsed, its
//!      macros expanded on the AST (every macro visible), compiled with
//!      [`crate::compile::compile_condition`];
//!    * unused macros and lists are reported when the pass had no error.
//!
//! Unlike Falco, every error is collected (reading goes on after a bad item, compiling
//! after a bad macro or rule); errors that only follow from an earlier one (a rule using a
//! broken macro, an append to a rule that failed to read) are not repeated. Diagnostics
//! carry exact file positions: the parser's byte offset is mapped back through list
//! substitution, `append`, exceptions and YAML scalar folding to the file.
//!
//! Bounds: files are read up to [`MAX_FILE_SIZE`]; a macro expansion may not exceed
//! [`MAX_EXPANDED_NODES`] nodes or [`MAX_EXPANDED_DEPTH`] levels (a macro used twice per
//! level for 30 levels is reported, not expanded).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use crate::ast::{Check, Expr, FieldExpr, Rhs, Span as AstSpan, Transform, TransformArg};
use crate::collector::{is_operator_for_list, CollectConfig, Collector, RuleInfo};
use crate::compile::{compile_condition, CompileDiag, CompileDiagKind};
use crate::diag::{
    codes, render_json, render_text, Context, Diagnostic, ItemType, Severity, Sources,
};
use crate::output::OutputFormat;
use crate::parser::{parse, FALCO_MAX_DEPTH};
use crate::priority::Priority;
use crate::program::{CompiledRule, Program};
use crate::reader::{parse_semver, ExceptionInfo, Reader, Text};
use crate::yaml::{load_all, map_scalar_offsets, Pos};

/// Largest rules file read.
pub const MAX_FILE_SIZE: u64 = 64 << 20;
/// Largest macro-expanded condition, in AST nodes.
pub const MAX_EXPANDED_NODES: usize = 200_000;
/// Deepest macro-expanded condition.
pub const MAX_EXPANDED_DEPTH: usize = 1000;

/// Falco's engine version this loader implements (`falco_engine_version.h`).
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// Options of a load (Falco config equivalents).
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    /// Falco `priority`: rules less severe are loaded and checked but not run.
    pub min_priority: Priority,
    /// Event sources rules may use (`source:`); others are skipped with a warning.
    pub sources: Vec<String>,
    /// Plugins considered loaded for `required_plugin_versions` (name, version). tiercel
    /// serves the container plugin's fields itself.
    pub plugins: Vec<(String, String)>,
    /// Falco `suggested_output` (default true): append `container_id=%container.id …`.
    pub suggested_output: bool,
    /// Falco `append_output` extras appended to every rule's output (`" " + fmt`).
    pub append_output: Vec<String>,
    /// The event source the rules will run on: when set, rules that can never fire with
    /// it are reported ([`crate::fireable`], warning `LOAD_COMPILE_CONDITION`).
    pub event_source: Option<std::sync::Arc<dyn crate::fireable::EventSource>>,
    /// Falco's `rules:` selection, applied in order over the rules' `enabled` flags.
    pub selection: Vec<crate::selection::SelectItem>,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            min_priority: Priority::Debug,
            sources: vec!["syscall".into()],
            plugins: vec![("container".into(), "0.4.0".into())],
            suggested_output: true,
            append_output: Vec::new(),
            event_source: None,
            selection: Vec::new(),
        }
    }
}

/// What `tiercel rules list` shows about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSummary {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub tags: Vec<String>,
    /// File and 0-based position of the (first) definition.
    pub file: String,
    pub pos: Pos,
    /// Compiled and part of the program (enabled, priority high enough, no error).
    pub loaded: bool,
    /// The rule's exceptions after appends and overrides (for `tiercel tune`).
    pub exceptions: Vec<ExceptionSummary>,
}

/// One exception of a rule as collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSummary {
    pub name: String,
    /// `fields: [a, b]` (true) or the scalar form `fields: a` (false).
    pub list_form: bool,
    pub fields: Vec<String>,
    /// One operator per field, Falco's defaults filled in (`=` in the list form, `in`
    /// in the scalar form).
    pub comps: Vec<String>,
    /// The value tuples (list form; one-element tuples in the scalar form). An element
    /// that is itself a list is `None`.
    pub values: Vec<Vec<Option<String>>>,
}

impl ExceptionSummary {
    fn new(ex: &crate::reader::ExceptionInfo) -> ExceptionSummary {
        let list_form = ex.fields.as_ref().is_some_and(|f| f.is_list);
        let fields: Vec<String> = match &ex.fields {
            Some(f) if f.is_list => f.items.iter().map(|x| x.item.clone()).collect(),
            Some(f) => vec![f.item.clone()],
            None => Vec::new(),
        };
        let comps = (0..fields.len())
            .map(|k| match (&ex.comps, list_form) {
                (Some(c), true) => c.items.get(k).map_or("=", |x| x.item.as_str()).to_string(),
                (Some(c), false) => c.item.clone(),
                (None, true) => "=".into(),
                (None, false) => "in".into(),
            })
            .collect();
        let elem = |v: &crate::reader::ExEntry| (!v.is_list).then(|| v.item.clone());
        let values = ex
            .values
            .iter()
            .map(|v| {
                if list_form {
                    v.items.iter().map(elem).collect()
                } else {
                    vec![elem(v)]
                }
            })
            .collect();
        ExceptionSummary {
            name: ex.name.clone(),
            list_form,
            fields,
            comps,
            values,
        }
    }
}

/// What a load produced.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    /// Every error and warning, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The enabled, compiled rules; `None` when there was any error.
    pub program: Option<Program>,
    pub rules: usize,
    pub macros: usize,
    pub lists: usize,
    /// Every collected rule in definition order (including disabled ones).
    pub rule_summaries: Vec<RuleSummary>,
    /// The files in load order (display names).
    pub files: Vec<String>,
    /// Rules of `program` that cannot fire with [`LoaderOptions::event_source`].
    pub unfireable: Vec<crate::fireable::Unfireable>,
}

impl LoadOutcome {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }

    /// Falco's verbose text of all diagnostics, per file (with `file:line:col` and carets).
    pub fn render_text(&self) -> String {
        render_text(&self.files, &self.diagnostics)
    }

    /// Falco's JSON validation output.
    pub fn render_json(&self) -> serde_json::Value {
        render_json(&self.files, &self.diagnostics)
    }
}

/// What makes two diagnostics the same (for de-duplication across compile passes).
type SeenKey = (String, &'static str, String, Vec<(String, u32, u32)>);

/// Loads rule files in order, like `falco -r a.yaml -r b.yaml`.
#[derive(Debug, Default)]
pub struct Loader {
    opts: LoaderOptions,
    sources: Sources,
    collector: Collector,
    files: Vec<String>,
    diags: Vec<Diagnostic>,
    seen: HashSet<SeenKey>,
    last: Option<PassOutput>,
}

/// The result of compiling everything collected so far.
#[derive(Debug, Default)]
struct PassOutput {
    rules: Vec<CompiledRule>,
    loaded: HashSet<String>,
    errors: usize,
}

impl Loader {
    pub fn new(opts: LoaderOptions) -> Loader {
        Loader {
            opts,
            ..Default::default()
        }
    }

    /// Adds a file (read from disk).
    pub fn add_file(&mut self, path: &Path) {
        let name = path.display().to_string();
        let read = std::fs::metadata(path).and_then(|m| {
            if m.len() > MAX_FILE_SIZE {
                Err(std::io::Error::other(format!(
                    "file larger than {MAX_FILE_SIZE} bytes"
                )))
            } else {
                std::fs::read(path)
            }
        });
        match read {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.add_str(&name, &text);
            }
            Err(e) => {
                self.files.push(name.clone());
                let d = self.sources.diagnostic(
                    Severity::Error,
                    codes::LOAD_ERR_FILE_READ,
                    format!("Could not read rules file {name}: {e}"),
                    Context::file(&name),
                    &name,
                );
                self.push(d);
            }
        }
    }

    /// Adds rules content under a display name.
    pub fn add_str(&mut self, name: &str, content: &str) {
        self.files.push(name.to_string());
        self.sources.add(name, content);
        match load_all(content) {
            Err(e) => {
                let ctx = Context::file(name).child(ItemType::ValueFor, "", e.pos);
                let d = self.sources.diagnostic(
                    Severity::Error,
                    codes::LOAD_ERR_YAML_PARSE,
                    e.message.clone(),
                    ctx,
                    name,
                );
                self.push(d);
            }
            Ok(docs) => {
                let mut items = Vec::new();
                let mut diags = Vec::new();
                Reader {
                    file: name,
                    sources: &self.sources,
                    diags: &mut diags,
                    items: &mut items,
                }
                .read(&docs);
                for d in diags {
                    self.push(d);
                }
                let field_defined = |f: &str| field_defined(f);
                let cfg = CollectConfig {
                    sources: &self.opts.sources,
                    engine_version: ENGINE_VERSION,
                    field_defined: &field_defined,
                };
                let mut out = Vec::new();
                for it in items {
                    match self.collector.add(&cfg, it) {
                        Ok(ws) => {
                            for w in ws {
                                out.push(self.sources.diagnostic(
                                    Severity::Warning,
                                    w.code,
                                    w.msg,
                                    w.ctx,
                                    name,
                                ));
                            }
                        }
                        Err(Some(e)) => {
                            out.push(self.sources.diagnostic(
                                Severity::Error,
                                e.code,
                                e.msg,
                                e.ctx,
                                name,
                            ));
                        }
                        Err(None) => {}
                    }
                }
                for d in out {
                    self.push(d);
                }
            }
        }
        let pass = self.compile_pass(name);
        self.last = Some(pass);
    }

    fn push(&mut self, d: Diagnostic) {
        let key = (
            d.message.clone(),
            d.code,
            d.context
                .locs
                .last()
                .map(|l| l.item_name.clone())
                .unwrap_or_default(),
            d.context
                .locs
                .iter()
                .map(|l| (l.file.clone(), l.pos.line, l.pos.col))
                .collect(),
        );
        if self.seen.insert(key) {
            self.diags.push(d);
        }
    }

    /// Compiles everything added so far.
    pub fn finish(mut self) -> LoadOutcome {
        self.check_plugin_requirements();
        let pass = self.last.take().unwrap_or_default();
        let has_errors = self.diags.iter().any(|d| d.is_error());
        let summaries = self
            .collector
            .rules
            .iter()
            .map(|r| {
                let loc = r.ctx.item();
                RuleSummary {
                    name: r.name.clone(),
                    desc: r.desc.clone(),
                    priority: r.priority,
                    source: r.source.clone(),
                    enabled: r.enabled,
                    tags: r.tags.iter().cloned().collect(),
                    file: loc.map(|l| l.file.clone()).unwrap_or_default(),
                    pos: loc.map(|l| l.pos).unwrap_or_default(),
                    loaded: !has_errors && pass.loaded.contains(&r.name),
                    exceptions: r.exceptions.iter().map(ExceptionSummary::new).collect(),
                }
            })
            .collect();
        let program = (!has_errors).then(|| Program::new(pass.rules));
        let unfireable = self.report_unfireable(program.as_ref());
        LoadOutcome {
            program,
            unfireable,
            rules: self.collector.rules.len(),
            macros: self.collector.macros.len(),
            lists: self.collector.lists.len(),
            rule_summaries: summaries,
            files: self.files,
            diagnostics: self.diags,
        }
    }

    /// Warns about every rule of `program` that cannot fire with the event source.
    fn report_unfireable(&mut self, program: Option<&Program>) -> Vec<crate::fireable::Unfireable> {
        let (Some(program), Some(source)) = (program, self.opts.event_source.clone()) else {
            return Vec::new();
        };
        let list = crate::fireable::unfireable(program, source.as_ref());
        for u in &list {
            let Some(rule) = program.rules().get(u.rule) else {
                continue;
            };
            let Some(info) = self.collector.rules.get(&rule.name) else {
                continue;
            };
            let (ctx, origin) = (info.cond_ctx.clone(), info.ctx.locs.first());
            let origin = origin.map(|l| l.file.clone()).unwrap_or_default();
            let d = self.sources.diagnostic(
                Severity::Warning,
                codes::LOAD_COMPILE_CONDITION,
                format!(
                    "Rule '{}' cannot fire under tiercel: {}",
                    rule.name,
                    u.reason()
                ),
                ctx,
                &origin,
            );
            self.push(d);
        }
        list
    }

    fn check_plugin_requirements(&mut self) {
        let reqs = self.collector.required_plugin_versions.clone();
        for req in reqs {
            let ok = req.alternatives.iter().any(|alt| {
                self.opts.plugins.iter().any(|(name, ver)| {
                    name == &alt.name
                        && match (parse_semver(ver), parse_semver(&alt.version)) {
                            (Some(have), Some(want)) => {
                                have.0 == want.0 && (have.1, have.2) >= (want.1, want.2)
                            }
                            _ => false,
                        }
                })
            });
            if !ok {
                let alts: Vec<String> = req
                    .alternatives
                    .iter()
                    .map(|a| format!("{} (>= {})", a.name, a.version))
                    .collect();
                let origin = req
                    .ctx
                    .locs
                    .first()
                    .map(|l| l.file.clone())
                    .unwrap_or_default();
                let d = self.sources.diagnostic(
                    Severity::Error,
                    codes::LOAD_ERR_VALIDATE,
                    format!(
                        "Plugin requirement not satisfied, must load one of: {}",
                        alts.join(", ")
                    ),
                    req.ctx.clone(),
                    &origin,
                );
                self.push(d);
            }
        }
    }

    fn compile_pass(&mut self, origin: &str) -> PassOutput {
        let mut pass = Pass {
            col: &self.collector,
            sources: &self.sources,
            opts: &self.opts,
            origin,
            arena: Vec::new(),
            texts: Vec::new(),
            diags: Vec::new(),
            errors: 0,
        };
        let out = pass.run();
        let diags = std::mem::take(&mut pass.diags);
        for d in diags {
            self.push(d);
        }
        out
    }
}

/// Whether an exception field (`proc.name`, `proc.aname[2]`, `tolower(proc.name)`) names
/// a known field.
fn field_defined(f: &str) -> bool {
    // Strip transformers: keep the first argument of the innermost call.
    let mut s = f.trim();
    while let Some(open) = s.find('(') {
        let inner = &s[open + 1..];
        let end = inner.find([',', ')']).unwrap_or(inner.len());
        s = inner[..end].trim();
    }
    let (name, arg) = match s.find('[') {
        Some(i) => (
            &s[..i],
            Some(s[i + 1..].trim_end_matches(']').trim_matches(['"', '\''])),
        ),
        None => (s, None),
    };
    !matches!(
        crate::fields::resolve(name, arg),
        Err(crate::fields::ResolveError::Unknown(_))
    )
}

// ---------------------------------------------------------------------------------------
// Mapped text: a condition string that remembers where each byte came from.

#[derive(Debug, Clone)]
enum Origin {
    /// Byte `voff` of arena text `t` (a YAML scalar); `fixed`: don't advance.
    Text { t: usize, voff: usize, fixed: bool },
    /// A fixed file position.
    Point { file: String, pos: Pos },
}

impl Origin {
    fn advanced(&self, n: usize) -> Origin {
        match self {
            Origin::Text {
                t,
                voff,
                fixed: false,
            } => Origin::Text {
                t: *t,
                voff: voff + n,
                fixed: false,
            },
            o => o.clone(),
        }
    }

    fn fixed(self) -> Origin {
        match self {
            Origin::Text { t, voff, .. } => Origin::Text {
                t,
                voff,
                fixed: true,
            },
            o => o,
        }
    }
}

#[derive(Debug, Clone)]
struct Seg {
    start: usize,
    len: usize,
    origin: Origin,
}

#[derive(Debug, Clone, Default)]
struct MappedText {
    text: String,
    segs: Vec<Seg>,
}

impl MappedText {
    fn push(&mut self, s: &str, origin: Origin) {
        if s.is_empty() {
            return;
        }
        self.segs.push(Seg {
            start: self.text.len(),
            len: s.len(),
            origin,
        });
        self.text.push_str(s);
    }

    /// The origin of byte `off` (clamped).
    fn origin_at(&self, off: usize) -> Option<Origin> {
        let i = match self.segs.binary_search_by(|s| s.start.cmp(&off)) {
            Ok(i) => i,
            Err(0) => 0,
            Err(i) => i - 1,
        };
        let s = self.segs.get(i)?;
        let within = off.saturating_sub(s.start).min(s.len.saturating_sub(1));
        Some(s.origin.advanced(within))
    }

    /// Replaces `a..b` with `new`, whose bytes all map to `origin`.
    fn replace(&mut self, a: usize, b: usize, new: &str, origin: Origin) {
        let delta = new.len() as isize - (b - a) as isize;
        let mut out = Vec::with_capacity(self.segs.len() + 2);
        for s in &self.segs {
            let (ss, se) = (s.start, s.start + s.len);
            if ss < a {
                out.push(Seg {
                    start: ss,
                    len: se.min(a) - ss,
                    origin: s.origin.clone(),
                });
            }
            if se > b {
                let st = ss.max(b);
                out.push(Seg {
                    start: (st as isize + delta) as usize,
                    len: se - st,
                    origin: s.origin.advanced(st - ss),
                });
            }
        }
        if !new.is_empty() {
            out.push(Seg {
                start: a,
                len: new.len(),
                origin,
            });
        }
        out.sort_by_key(|s| s.start);
        self.text.replace_range(a..b, new);
        self.segs = out;
    }
}

/// Falco `quote_item`.
fn quote_item(e: &str) -> String {
    if e.contains(' ') && !e.starts_with('"') && !e.starts_with('\'') {
        format!("\"{e}\"")
    } else {
        e.to_string()
    }
}

/// Falco `paren_item`.
fn paren_item(e: &str) -> String {
    if e.starts_with('(') {
        e.to_string()
    } else {
        format!("({e})")
    }
}

fn find_from(hay: &str, needle: &str, from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay.as_bytes()[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|p| p + from)
}

/// Falco `resolve_list`: textual substitution of one list. Returns whether it was used.
fn resolve_list(cnd: &mut MappedText, name: &str, items: &[String]) -> bool {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    let mut used = false;
    let mut start = find_from(&cnd.text, name, 0);
    while let Some(mut s) = start {
        let b = cnd.text.as_bytes();
        let mut end = s + name.len();
        if (s == 0 || DELIMS.contains(&b[s - 1])) && (end >= b.len() || DELIMS.contains(&b[end])) {
            let name_origin = cnd.origin_at(s).map(Origin::fixed);
            while s > 0 && BLANKS.contains(&b[s - 1]) {
                s -= 1;
            }
            while end < b.len() && BLANKS.contains(&b[end]) {
                end += 1;
            }
            let sub = items
                .iter()
                .map(|i| quote_item(i))
                .collect::<Vec<_>>()
                .join(", ");
            if sub.is_empty() {
                if s > 0 && b[s - 1] == b',' {
                    s -= 1;
                } else if end < b.len() && b[end] == b',' {
                    end += 1;
                }
            }
            let mut new = String::new();
            if s > 0 {
                new.push(' ');
            }
            new.push_str(&sub);
            new.push(' ');
            let origin = name_origin.unwrap_or(Origin::Point {
                file: String::new(),
                pos: Pos::default(),
            });
            cnd.replace(s, end, &new, origin);
            s += sub.len() + 1;
            used = true;
        }
        start = find_from(&cnd.text, name, s + 1);
    }
    used
}

/// Where a diagnostic about a condition text points: the owner's context chain.
#[derive(Debug, Clone)]
struct CondText {
    base: usize,
    text: MappedText,
    /// The context of the condition (e.g. rule 'x' › rule condition).
    ctx: Context,
}

struct Pass<'a> {
    col: &'a Collector,
    sources: &'a Sources,
    opts: &'a LoaderOptions,
    origin: &'a str,
    arena: Vec<Text>,
    texts: Vec<CondText>,
    diags: Vec<Diagnostic>,
    errors: usize,
}

/// The outcome of resolving macros in one AST.
#[derive(Default)]
struct Resolution {
    /// (message, span) of the first error or unknown macro, Falco-style.
    errors: Vec<(String, AstSpan)>,
    unknown: Vec<(String, AstSpan)>,
    resolved: Vec<usize>,
    /// A broken macro was referenced (its error is already reported).
    uses_broken: bool,
    nodes: usize,
    limit: Option<String>,
}

struct MacroTable<'t> {
    by_name: HashMap<&'t str, usize>,
    asts: &'t [Option<Expr>],
    broken: &'t [bool],
}

fn node_count_depth(e: &Expr) -> (usize, usize) {
    match e {
        Expr::And(c, _) | Expr::Or(c, _) => {
            let mut n = 1;
            let mut d = 0;
            for x in c {
                let (cn, cd) = node_count_depth(x);
                n += cn;
                d = d.max(cd);
            }
            (n, d + 1)
        }
        Expr::Not(c, _) => {
            let (n, d) = node_count_depth(c);
            (n + 1, d + 1)
        }
        _ => (1, 1),
    }
}

/// Falco `filter_macro_resolver`: replaces macro identifiers by clones of the macros' ASTs.
fn resolve_macros(
    e: &mut Expr,
    table: &MacroTable<'_>,
    path: &mut Vec<usize>,
    depth: usize,
    res: &mut Resolution,
) {
    if res.limit.is_some() {
        return;
    }
    match e {
        Expr::And(c, _) | Expr::Or(c, _) => {
            for x in c.iter_mut() {
                resolve_macros(x, table, path, depth + 1, res);
            }
        }
        Expr::Not(c, _) => resolve_macros(c, table, path, depth + 1, res),
        Expr::Ident(name, span) => {
            let Some(&mi) = table.by_name.get(name.as_str()) else {
                res.unknown.push((name.clone(), *span));
                return;
            };
            if table.broken[mi] {
                res.uses_broken = true;
                return;
            }
            let Some(ast) = &table.asts[mi] else {
                res.uses_broken = true;
                return;
            };
            if path.contains(&mi) {
                res.errors
                    .push((format!("reference loop in macro '{name}'"), *span));
                res.unknown.push((name.clone(), *span));
                return;
            }
            let (n, d) = node_count_depth(ast);
            res.nodes += n;
            if res.nodes > MAX_EXPANDED_NODES {
                res.limit = Some(format!(
                    "expanding macro '{name}' makes the condition larger than {MAX_EXPANDED_NODES} nodes"
                ));
                res.errors
                    .push((res.limit.clone().unwrap_or_default(), *span));
                return;
            }
            if depth + d > MAX_EXPANDED_DEPTH {
                res.limit = Some(format!(
                    "expanding macro '{name}' makes the condition deeper than {MAX_EXPANDED_DEPTH} levels"
                ));
                res.errors
                    .push((res.limit.clone().unwrap_or_default(), *span));
                return;
            }
            path.push(mi);
            let mut new = ast.clone();
            resolve_macros(&mut new, table, path, depth, res);
            path.pop();
            res.resolved.push(mi);
            *e = new;
        }
        Expr::Check(_) => {}
    }
}

/// Adds `base` to every span of an AST (so spans identify the text they came from).
fn shift(e: &mut Expr, base: u32) {
    fn sp(s: &mut AstSpan, b: u32) {
        s.start = s.start.saturating_add(b);
        s.end = s.end.saturating_add(b);
    }
    fn fe(f: &mut FieldExpr, b: u32) {
        match f {
            FieldExpr::Field(r) => {
                sp(&mut r.span, b);
                sp(&mut r.name_span, b);
            }
            FieldExpr::Transform(t) => tr(t, b),
        }
    }
    fn tr(t: &mut Transform, b: u32) {
        sp(&mut t.span, b);
        for a in &mut t.args {
            ta(a, b);
        }
    }
    fn ta(a: &mut TransformArg, b: u32) {
        match a {
            TransformArg::Field(f) => fe(f, b),
            TransformArg::Literal(l) => sp(&mut l.span, b),
            TransformArg::List(v, s) => {
                sp(s, b);
                for x in v {
                    ta(x, b);
                }
            }
        }
    }
    fn ck(c: &mut Check, b: u32) {
        sp(&mut c.span, b);
        sp(&mut c.op_span, b);
        fe(&mut c.lhs, b);
        match &mut c.rhs {
            Rhs::None => {}
            Rhs::Value(l) => sp(&mut l.span, b),
            Rhs::List(v, s) => {
                sp(s, b);
                for l in v {
                    sp(&mut l.span, b);
                }
            }
            Rhs::ListIdent(_, s) => sp(s, b),
            Rhs::Val(r) => {
                sp(&mut r.span, b);
                sp(&mut r.name_span, b);
            }
            Rhs::Transform(t) => tr(t, b),
        }
    }
    match e {
        Expr::And(c, s) | Expr::Or(c, s) => {
            sp(s, base);
            for x in c {
                shift(x, base);
            }
        }
        Expr::Not(c, s) => {
            sp(s, base);
            shift(c, base);
        }
        Expr::Ident(_, s) => sp(s, base),
        Expr::Check(c) => ck(c, base),
    }
}

fn is_unknown_kind(d: &CompileDiag) -> bool {
    matches!(
        d.kind,
        CompileDiagKind::UnknownField | CompileDiagKind::UnknownEventType
    ) || d.message.contains("nonexistent field")
        || d.message.contains("invalid formatting token")
        || d.message.contains("unknown event type")
        || d.message.contains("unknown filter:")
}

impl Pass<'_> {
    fn diag(
        &mut self,
        sev: Severity,
        code: &'static str,
        msg: impl Into<String>,
        ctx: Context,
    ) -> &mut Diagnostic {
        if sev == Severity::Error {
            self.errors += 1;
        }
        let d = self.sources.diagnostic(sev, code, msg, ctx, self.origin);
        self.diags.push(d);
        let n = self.diags.len() - 1;
        &mut self.diags[n]
    }

    fn text_origin(&mut self, t: &Text) -> Origin {
        self.arena.push(t.clone());
        Origin::Text {
            t: self.arena.len() - 1,
            voff: 0,
            fixed: false,
        }
    }

    /// Joins pieces with single spaces (Falco's `append`).
    fn mapped(&mut self, pieces: &[Text]) -> MappedText {
        let mut m = MappedText::default();
        for (i, p) in pieces.iter().enumerate() {
            let o = self.text_origin(p);
            if i > 0 {
                m.push(" ", o.clone().fixed());
            }
            m.push(&p.text, o);
        }
        m
    }

    /// File position of an origin.
    fn resolve_origin(&self, o: &Origin) -> (String, Pos) {
        match o {
            Origin::Point { file, pos } => (file.clone(), *pos),
            Origin::Text { t, voff, .. } => {
                let Some(text) = self.arena.get(*t) else {
                    return (String::new(), Pos::default());
                };
                let Some((src, idx)) = self.sources.get(&text.file) else {
                    return (text.file.clone(), text.span.start);
                };
                let map = map_scalar_offsets(src, text.span, &text.text);
                let byte = map
                    .get(*voff)
                    .or(map.last())
                    .copied()
                    .unwrap_or(text.span.start.offset);
                (text.file.clone(), idx.pos(src, byte))
            }
        }
    }

    /// Context for a byte offset inside a mapped condition text.
    fn cond_pos_ctx(&self, base_ctx: &Context, m: &MappedText, off: usize) -> Context {
        match m.origin_at(off) {
            Some(o) => {
                let (file, pos) = self.resolve_origin(&o);
                if file.is_empty() {
                    base_ctx.clone()
                } else {
                    base_ctx.child_in(&file, ItemType::ConditionExpression, "", pos)
                }
            }
            None => base_ctx.clone(),
        }
    }

    /// Context for a virtual span (any text registered in this pass).
    fn span_ctx(&self, fallback: &Context, span: AstSpan) -> Context {
        let v = span.start as usize;
        let i = match self.texts.binary_search_by(|t| t.base.cmp(&v)) {
            Ok(i) => i,
            Err(0) => return fallback.clone(),
            Err(i) => i - 1,
        };
        let t = &self.texts[i];
        let off = v - t.base;
        // Inside the fallback's own text: keep its chain; inside a macro: the macro's chain.
        let mut ctx = fallback.clone();
        let own = fallback.locs.last().map(|l| (l.file.clone(), l.pos))
            == t.ctx.locs.last().map(|l| (l.file.clone(), l.pos));
        if !own {
            if let Some(item) = t.ctx.item() {
                ctx = fallback.child_in(
                    &item.file,
                    item.item_type,
                    &item.item_name.clone(),
                    item.pos,
                );
            }
        }
        self.cond_pos_ctx(&ctx, &t.text, off)
    }

    /// Substitutes lists, parses, registers the text and shifts spans.
    fn parse_cond(
        &mut self,
        mut m: MappedText,
        lists: &[(String, Vec<String>)],
        used: &mut [bool],
        ctx: &Context,
    ) -> Result<Expr, ()> {
        for (i, (name, items)) in lists.iter().enumerate() {
            if resolve_list(&mut m, name, items) {
                used[i] = true;
            }
        }
        match parse(&m.text, FALCO_MAX_DEPTH) {
            Ok(mut e) => {
                let base = self
                    .texts
                    .last()
                    .map_or(1, |t| t.base + t.text.text.len() + 1);
                shift(&mut e, base as u32);
                self.texts.push(CondText {
                    base,
                    text: m,
                    ctx: ctx.clone(),
                });
                Ok(e)
            }
            Err(pe) => {
                let c = self.cond_pos_ctx(ctx, &m, pe.offset);
                self.diag(
                    Severity::Error,
                    codes::LOAD_ERR_COMPILE_CONDITION,
                    pe.message,
                    c,
                );
                Err(())
            }
        }
    }

    fn run(&mut self) -> PassOutput {
        let col = self.col;
        // Lists (Falco compile_list_infos): one level of list references, by visibility.
        let mut lists: Vec<(String, Vec<String>)> = Vec::new();
        let mut list_used = vec![false; col.lists.len()];
        for l in col.lists.iter() {
            let mut items = Vec::new();
            for it in &l.items {
                match col.lists.get(&it.text) {
                    Some(r) if r.index < l.visibility => {
                        if let Some(p) = col.lists.position(&it.text) {
                            list_used[p] = true;
                        }
                        items.extend(r.items.iter().map(|t| t.text.clone()));
                    }
                    _ => items.push(it.text.clone()),
                }
            }
            lists.push((l.name.clone(), items));
        }

        // Macros: parse all, then resolve in definition order.
        let n = col.macros.len();
        let mut asts: Vec<Option<Expr>> = Vec::with_capacity(n);
        let mut broken = vec![false; n];
        for (i, m) in col.macros.iter().enumerate() {
            let mt = self.mapped(&m.cond);
            match self.parse_cond(mt, &lists, &mut list_used, &m.cond_ctx) {
                Ok(e) => asts.push(Some(e)),
                Err(()) => {
                    asts.push(None);
                    broken[i] = true;
                }
            }
        }
        let mut macro_used = vec![false; n];
        let names: Vec<&str> = col.macros.iter().map(|m| m.name.as_str()).collect();
        for (i, m) in col.macros.iter().enumerate() {
            let Some(ast) = asts[i].clone() else { continue };
            let by_name: HashMap<&str, usize> = col
                .macros
                .iter()
                .enumerate()
                .filter(|(_, o)| o.index < m.visibility)
                .map(|(j, _)| (names[j], j))
                .collect();
            let (ast, res) = {
                let table = MacroTable {
                    by_name,
                    asts: &asts,
                    broken: &broken,
                };
                let mut ast = ast;
                let mut res = Resolution::default();
                resolve_macros(&mut ast, &table, &mut Vec::new(), 0, &mut res);
                (ast, res)
            };
            for &r in &res.resolved {
                macro_used[r] = true;
            }
            if self.report_resolution(&res, &m.ctx, &m.cond_ctx) {
                broken[i] = true;
                asts[i] = None;
            } else {
                asts[i] = Some(ast);
            }
        }

        // Rules, in definition order.
        let all_macros: HashMap<&str, usize> =
            names.iter().enumerate().map(|(j, n)| (*n, j)).collect();
        let mut out = PassOutput::default();
        for r in col.rules.iter() {
            if r.unknown_source {
                continue;
            }
            let table = MacroTable {
                by_name: all_macros.clone(),
                asts: &asts,
                broken: &broken,
            };
            if let Some(cr) = self.compile_rule(r, &lists, &mut list_used, &table, &mut macro_used)
            {
                let enabled = crate::selection::apply(
                    &self.opts.selection,
                    &r.name,
                    r.tags.iter(),
                    r.enabled,
                );
                if enabled && r.priority.at_least(self.opts.min_priority) {
                    out.loaded.insert(r.name.clone());
                    out.rules.push(cr);
                }
            }
        }
        for c in &col.check_only {
            let table = MacroTable {
                by_name: all_macros.clone(),
                asts: &asts,
                broken: &broken,
            };
            let mt = self.mapped(std::slice::from_ref(&c.cond));
            if let Ok(mut e) = self.parse_cond(mt, &lists, &mut list_used, &c.cond_ctx) {
                let mut res = Resolution::default();
                resolve_macros(&mut e, &table, &mut Vec::new(), 0, &mut res);
                if !self.report_resolution(&res, &c.ctx, &c.cond_ctx) {
                    self.compile_expr(&e, &c.cond_ctx, false, true);
                }
            }
        }

        if self.errors == 0 {
            for (i, m) in col.macros.iter().enumerate() {
                if !macro_used[i] {
                    self.diag(
                        Severity::Warning,
                        codes::LOAD_UNUSED_MACRO,
                        "Macro not referred to by any other rule/macro",
                        m.ctx.clone(),
                    );
                }
            }
            for (i, l) in col.lists.iter().enumerate() {
                if !list_used[i] {
                    self.diag(
                        Severity::Warning,
                        codes::LOAD_UNUSED_LIST,
                        "List not referred to by any other rule/macro",
                        l.ctx.clone(),
                    );
                }
            }
        }
        out.errors = self.errors;
        out
    }

    /// Reports a macro resolution's first error (Falco reports only the first); returns
    /// whether the condition is unusable.
    fn report_resolution(
        &mut self,
        res: &Resolution,
        item_ctx: &Context,
        cond_ctx: &Context,
    ) -> bool {
        let (msg, span) = if let Some((m, s)) = res.errors.first() {
            (m.clone(), *s)
        } else if let Some((name, s)) = res.unknown.iter().find(|(name, _)| {
            !self
                .col
                .failed
                .contains(&("macro".to_string(), name.clone()))
        }) {
            (format!("Undefined macro '{name}' used in filter."), *s)
        } else {
            return res.uses_broken || !res.unknown.is_empty();
        };
        let ctx = self.span_ctx(cond_ctx, span);
        // Falco's chain for these errors is item › condition expression.
        let mut c = item_ctx.clone();
        if let Some(l) = ctx.locs.last() {
            if ctx.locs.len() > cond_ctx.locs.len() {
                for extra in &ctx.locs[cond_ctx.locs.len()..] {
                    c.locs.push(extra.clone());
                }
            } else {
                c.locs.push(l.clone());
            }
        }
        let d = self.diag(Severity::Error, codes::LOAD_ERR_VALIDATE, msg, c);
        if res.limit.is_some() {
            d.hint = Some("macros are expanded by copying their condition at every use; restructure the macros so the expanded condition stays small".into());
        }
        true
    }

    /// Compiles an expanded condition; reports diagnostics. `None` when it failed (or was
    /// skipped under skip-if-unknown-filter).
    fn compile_expr(
        &mut self,
        e: &Expr,
        cond_ctx: &Context,
        skip_unknown: bool,
        warn_evttypes: bool,
    ) -> Option<crate::compile::CompiledCondition> {
        match compile_condition(e) {
            Ok(cc) => {
                for w in &cc.warnings {
                    let code = match w.kind {
                        CompileDiagKind::Deprecated => codes::LOAD_DEPRECATED_ITEM,
                        _ => codes::LOAD_COMPILE_CONDITION,
                    };
                    let c = self.span_ctx(cond_ctx, w.span);
                    self.diag(Severity::Warning, code, w.message.clone(), c);
                }
                let _ = warn_evttypes;
                Some(cc)
            }
            Err(errs) => {
                if skip_unknown && !errs.is_empty() && errs.iter().all(is_unknown_kind) {
                    let c = self.span_ctx(cond_ctx, errs[0].span);
                    self.diag(
                        Severity::Warning,
                        codes::LOAD_UNKNOWN_FILTER,
                        errs[0].message.clone(),
                        c,
                    );
                    return None;
                }
                for er in errs {
                    let c = self.span_ctx(cond_ctx, er.span);
                    self.diag(
                        Severity::Error,
                        codes::LOAD_ERR_COMPILE_CONDITION,
                        er.message,
                        c,
                    );
                }
                None
            }
        }
    }

    fn compile_rule(
        &mut self,
        r: &RuleInfo,
        lists: &[(String, Vec<String>)],
        list_used: &mut [bool],
        table: &MacroTable<'_>,
        macro_used: &mut [bool],
    ) -> Option<CompiledRule> {
        let mut ok = true;
        // Condition text with exceptions (Falco build_rule_exception_infos).
        let mut cond = self.mapped(&r.cond);
        if !r.exceptions.is_empty() {
            if let Err((msg, ctx)) = self.append_exceptions(&mut cond, &r.exceptions) {
                self.diag(Severity::Error, codes::LOAD_ERR_VALIDATE, msg, ctx);
                return None;
            }
        }
        // Output.
        let mut out_text = r
            .output
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        for extra in &self.opts.append_output {
            out_text.push(' ');
            out_text.push_str(extra);
        }
        let output = match OutputFormat::parse(&out_text) {
            Ok((fmt, warnings)) => {
                for w in warnings {
                    let code = match w.kind {
                        CompileDiagKind::Deprecated => codes::LOAD_DEPRECATED_ITEM,
                        _ => codes::LOAD_COMPILE_CONDITION,
                    };
                    self.diag(Severity::Warning, code, w.message, r.output_ctx.clone());
                }
                Some(if self.opts.suggested_output {
                    fmt.with_suggested()
                } else {
                    fmt
                })
            }
            Err(e) => {
                if r.skip_if_unknown_filter && is_unknown_kind(&e) {
                    self.diag(
                        Severity::Warning,
                        codes::LOAD_UNKNOWN_FILTER,
                        e.message,
                        r.output_ctx.clone(),
                    );
                    return None;
                }
                self.diag(
                    Severity::Error,
                    codes::LOAD_ERR_COMPILE_OUTPUT,
                    e.message,
                    r.output_ctx.clone(),
                );
                ok = false;
                None
            }
        };
        // Condition.
        let mut e = self.parse_cond(cond, lists, list_used, &r.cond_ctx).ok()?;
        let mut res = Resolution::default();
        resolve_macros(&mut e, table, &mut Vec::new(), 0, &mut res);
        for &m in &res.resolved {
            macro_used[m] = true;
        }
        if self.report_resolution(&res, &r.ctx, &r.cond_ctx) {
            return None;
        }
        let cc = self.compile_expr(&e, &r.cond_ctx, r.skip_if_unknown_filter, r.warn_evttypes)?;
        if r.source == "syscall" && r.warn_evttypes {
            let too_many = match &cc.evttypes {
                None => true,
                Some(v) => v.len() > 100,
            };
            if too_many {
                self.diag(
                    Severity::Warning,
                    codes::LOAD_NO_EVTTYPE,
                    "Rule matches too many evt.type values. This has a significant performance penalty.",
                    r.ctx.clone(),
                );
            }
        }
        if !ok {
            return None;
        }
        Some(CompiledRule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r
                .tags
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            source: r.source.clone(),
            output: output?,
            filter: cc.filter,
            evttypes: cc.evttypes,
        })
    }

    /// Falco `build_rule_exception_infos`: `(cond) and not (...)` per exception.
    fn append_exceptions(
        &mut self,
        cond: &mut MappedText,
        exs: &[ExceptionInfo],
    ) -> Result<(), (String, Context)> {
        let open_origin = cond
            .origin_at(0)
            .map(Origin::fixed)
            .unwrap_or(Origin::Point {
                file: String::new(),
                pos: Pos::default(),
            });
        let mut m = MappedText::default();
        m.push("(", open_origin.clone());
        for s in &cond.segs {
            let piece = cond.text.get(s.start..s.start + s.len).unwrap_or("");
            m.push(piece, s.origin.clone());
        }
        m.push(")", open_origin);
        for ex in exs {
            let Some(fields) = &ex.fields else { continue };
            let mut icond = String::new();
            if !fields.is_list {
                let comp = ex.comps.as_ref().map_or("in", |c| c.item.as_str());
                for val in &ex.values {
                    if val.is_list {
                        return Err((
                            "Expected values array to contain a list of strings".into(),
                            ex.ctx.clone(),
                        ));
                    }
                    if icond.is_empty() {
                        icond = format!("({} {} (", fields.item, comp);
                    } else {
                        icond.push_str(", ");
                    }
                    icond.push_str(&quote_item(&val.item));
                }
                if !icond.is_empty() {
                    icond.push_str("))");
                }
            } else {
                icond.push('(');
                for values in &ex.values {
                    if fields.items.len() != values.items.len() {
                        return Err((
                            "Fields and values lists must have equal length".into(),
                            ex.ctx.clone(),
                        ));
                    }
                    if icond != "(" {
                        icond.push_str(" or ");
                    }
                    icond.push('(');
                    for (k, field) in fields.items.iter().enumerate() {
                        if k > 0 {
                            icond.push_str(" and ");
                        }
                        let comp = ex
                            .comps
                            .as_ref()
                            .and_then(|c| c.items.get(k))
                            .map_or("=", |c| c.item.as_str());
                        let v = &values.items[k];
                        let istr = if v.is_list {
                            format!(
                                "({})",
                                v.items
                                    .iter()
                                    .map(|x| quote_item(&x.item))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        } else if is_operator_for_list(comp) {
                            paren_item(&v.item)
                        } else {
                            quote_item(&v.item)
                        };
                        icond.push_str(&format!(" {} {} {}", field.item, comp, istr));
                    }
                    icond.push(')');
                }
                icond.push(')');
                if icond == "()" {
                    icond.clear();
                }
            }
            if !icond.is_empty() {
                let pos = ex
                    .ctx
                    .innermost()
                    .map(|l| (l.file.clone(), l.pos))
                    .unwrap_or_default();
                m.push(
                    &format!(" and not {icond}"),
                    Origin::Point {
                        file: pos.0,
                        pos: pos.1,
                    },
                );
            }
        }
        *cond = m;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mt(s: &str) -> MappedText {
        let mut m = MappedText::default();
        m.push(
            s,
            Origin::Text {
                t: 0,
                voff: 0,
                fixed: false,
            },
        );
        m
    }

    fn sub(cond: &str, lists: &[(&str, &[&str])]) -> String {
        let mut m = mt(cond);
        for (n, items) in lists {
            let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            resolve_list(&mut m, n, &items);
        }
        m.text
    }

    #[test]
    fn list_substitution_like_falco() {
        let sh: &[&str] = &["ash", "bash"];
        assert_eq!(
            sub("proc.name in (shell_binaries)", &[("shell_binaries", sh)]),
            "proc.name in ( ash, bash )"
        );
        assert_eq!(
            sub("proc.name=cat_binaries", &[("cat_binaries", &["cat"])]),
            "proc.name= cat "
        );
        assert_eq!(
            sub(
                "proc.name in (ls, cat_binaries, ps)",
                &[("cat_binaries", &["cat", "dog"])]
            ),
            "proc.name in (ls, cat, dog , ps)"
        );
        assert_eq!(
            sub("fd.name in (file_my_list)", &[("my_list", &["x"])]),
            "fd.name in (file_my_list)"
        );
        assert_eq!(
            sub("proc.name in (empty)", &[("empty", &[])]),
            "proc.name in (  )"
        );
        assert_eq!(
            sub("proc.name in (a, empty)", &[("empty", &[])]),
            "proc.name in (a  )"
        );
        assert_eq!(
            sub("proc.name in ('lst')", &[("lst", &["x"])]),
            "proc.name in ('lst')"
        );
        assert_eq!(
            sub("x in (l)", &[("l", &["a b", "\"c d\""])]),
            "x in ( \"a b\", \"c d\" )"
        );
        assert_eq!(sub("l", &[("l", &["x"])]), "x ");
    }

    #[test]
    fn mapped_text_tracks_origins() {
        let mut m = mt("abc lst xyz");
        resolve_list(&mut m, "lst", &["1".into(), "2".into()]);
        assert_eq!(m.text, "abc 1, 2 xyz");
        // "xyz" still maps to its original offset 8.
        let o = m.origin_at(m.text.find("xyz").unwrap()).unwrap();
        assert!(matches!(o, Origin::Text { voff: 8, .. }), "{o:?}");
        // Substituted text maps to the list name (offset 4).
        let o = m.origin_at(m.text.find('2').unwrap()).unwrap();
        assert!(
            matches!(
                o,
                Origin::Text {
                    voff: 4,
                    fixed: true,
                    ..
                }
            ),
            "{o:?}"
        );
    }

    #[test]
    fn field_names_for_exceptions() {
        assert!(field_defined("proc.name"));
        assert!(field_defined("proc.aname[2]"));
        assert!(field_defined("evt.arg.flags"));
        assert!(field_defined("tolower(proc.name)"));
        assert!(!field_defined("not.exist"));
        assert!(!field_defined("proc.nobody"));
    }
}
