//! Stage 1b: YAML documents → raw items (Falco `rule_loader_reader.cpp`).
//!
//! Every item and every value keeps its position. Dispatch is by key presence in Falco's
//! order (`required_engine_version`, `required_plugin_versions`, `list`, `macro`, `rule`),
//! values are decoded with Falco's checks and messages (`Item has no mapping for key 'X'`,
//! `Mapping for key 'X' is empty`, `Value is not a scalar value` ...).
//!
//! Unlike Falco, reading does not stop at the first error: an item with an error is
//! skipped (its first error is reported; for a full rule definition every missing
//! required key is reported) and reading goes on with the next item and document.

use std::collections::BTreeSet;

use crate::diag::{codes, Context, Diagnostic, ItemType, Severity, Sources};
use crate::priority::Priority;
use crate::yaml::{Document, Node, Pos, Span, Value};

/// A scalar value with where it came from (for mapping condition offsets back to the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    pub file: String,
    /// Span of the YAML scalar (its value is `text`, possibly trimmed).
    pub span: Span,
}

/// `required_engine_version`.
#[derive(Debug, Clone)]
pub struct EngineVersionItem {
    pub version: (u64, u64, u64),
    pub ctx: Context,
}

/// One `{name, version}` of `required_plugin_versions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginReq {
    pub name: String,
    pub version: String,
}

/// One entry of `required_plugin_versions`: the plugin and its alternatives.
#[derive(Debug, Clone)]
pub struct PluginVersionsItem {
    pub alternatives: Vec<PluginReq>,
    pub ctx: Context,
}

#[derive(Debug, Clone)]
pub struct ListItem {
    pub name: String,
    pub items: Vec<Text>,
    pub ctx: Context,
}

#[derive(Debug, Clone)]
pub struct MacroItem {
    pub name: String,
    pub cond: Text,
    pub cond_ctx: Context,
    pub ctx: Context,
}

/// An exception's `fields`, `comps` or one of its `values`: a scalar or a (nested) list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExEntry {
    pub is_list: bool,
    pub item: String,
    pub items: Vec<ExEntry>,
}

impl ExEntry {
    pub fn scalar(s: &str) -> ExEntry {
        ExEntry {
            is_list: false,
            item: s.to_string(),
            items: Vec::new(),
        }
    }
}

/// One exception of a rule.
#[derive(Debug, Clone)]
pub struct ExceptionInfo {
    pub name: String,
    pub fields: Option<ExEntry>,
    pub comps: Option<ExEntry>,
    pub values: Vec<ExEntry>,
    pub ctx: Context,
}

/// A full rule definition.
#[derive(Debug, Clone)]
pub struct RuleItem {
    pub name: String,
    pub cond: Text,
    pub cond_ctx: Context,
    pub output: Text,
    pub output_ctx: Context,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub enabled: bool,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub capture: bool,
    pub capture_duration: u64,
    pub tags: BTreeSet<String>,
    pub exceptions: Vec<ExceptionInfo>,
    pub ctx: Context,
}

/// `append: true` or `override:` on a rule: the keys present.
#[derive(Debug, Clone, Default)]
pub struct RuleUpdate {
    pub name: String,
    pub cond: Option<Text>,
    pub cond_ctx: Option<Context>,
    pub output: Option<Text>,
    pub desc: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub exceptions: Option<Vec<ExceptionInfo>>,
    pub priority: Option<Priority>,
    pub enabled: Option<bool>,
    pub warn_evttypes: Option<bool>,
    pub skip_if_unknown_filter: Option<bool>,
    pub capture: Option<bool>,
    pub capture_duration: Option<u64>,
    pub ctx: Context,
}

impl RuleUpdate {
    pub fn has_any_value(&self) -> bool {
        self.cond.is_some()
            || self.output.is_some()
            || self.desc.is_some()
            || self.tags.is_some()
            || self.exceptions.is_some()
            || self.priority.is_some()
            || self.enabled.is_some()
            || self.warn_evttypes.is_some()
            || self.skip_if_unknown_filter.is_some()
            || self.capture.is_some()
            || self.capture_duration.is_some()
    }
}

/// A rule item that could not be read (e.g. a missing `priority`) but whose condition is
/// still checked, so that one run shows every problem.
#[derive(Debug, Clone)]
pub struct CheckOnlyRule {
    pub name: String,
    pub cond: Text,
    pub cond_ctx: Context,
    pub ctx: Context,
}

/// What one YAML item means.
#[derive(Debug, Clone)]
pub enum Item {
    EngineVersion(EngineVersionItem),
    PluginVersions(PluginVersionsItem),
    List {
        item: ListItem,
        append: bool,
    },
    Macro {
        item: MacroItem,
        append: bool,
    },
    Rule(Box<RuleItem>),
    RuleAppend(Box<RuleUpdate>),
    RuleReplace(Box<RuleUpdate>),
    /// Standalone `enabled:` (deprecated).
    RuleEnable {
        name: String,
        enabled: bool,
        ctx: Context,
    },
    CheckOnlyRule(Box<CheckOnlyRule>),
    /// An item that failed to read: remembered to avoid cascades ("no such macro").
    Failed {
        kind: ItemType,
        name: String,
    },
}

/// A reading error: code, message, context, hint.
#[derive(Debug, Clone)]
pub struct Fail {
    pub code: &'static str,
    pub msg: String,
    pub ctx: Context,
    pub hint: Option<String>,
}

type R<T> = Result<T, Fail>;

fn fail<T>(msg: impl Into<String>, ctx: &Context) -> R<T> {
    Err(Fail {
        code: codes::LOAD_ERR_YAML_VALIDATE,
        msg: msg.into(),
        ctx: ctx.clone(),
        hint: None,
    })
}

/// Falco's invalid-name regexes.
const RGX_IDENTIFIER: &str = "([a-zA-Z]+[a-zA-Z0-9_]*)";
const RGX_BARESTR: &str = "([^()\"'[:space:]=,]+)";

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_barestr(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            !matches!(c, '(' | ')' | '"' | '\'' | '=' | ',')
                && !c.is_ascii_whitespace()
                && c != '\x0b'
        })
}

/// yaml-cpp's `convert<bool>`.
pub fn parse_yaml_bool(s: &str) -> Option<bool> {
    const T: [&str; 4] = ["y", "yes", "true", "on"];
    const F: [&str; 4] = ["n", "no", "false", "off"];
    // yaml-cpp accepts the lowercase, UPPERCASE and Capitalized forms only.
    let ok_case = |w: &str| {
        s == w
            || s == w.to_ascii_uppercase()
            || (s.len() == w.len() && s[..1] == w[..1].to_ascii_uppercase() && s[1..] == w[1..])
    };
    if T.iter().any(|w| ok_case(w)) {
        Some(true)
    } else if F.iter().any(|w| ok_case(w)) {
        Some(false)
    } else {
        None
    }
}

/// Falco's `sinsp_version`: `x.y.z` (anything after the third number is ignored).
pub fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
    let mut it = s.splitn(3, '.');
    let num = |p: &str| -> Option<u64> {
        let d: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        if d.is_empty() {
            None
        } else {
            d.parse().ok()
        }
    };
    let a = it.next()?;
    let b = it.next()?;
    let c = it.next()?;
    if !a.chars().all(|c| c.is_ascii_digit()) || !b.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((num(a)?, num(b)?, num(c)?))
}

/// Reads the items of one file's documents.
pub struct Reader<'a> {
    pub file: &'a str,
    pub sources: &'a Sources,
    pub diags: &'a mut Vec<Diagnostic>,
    pub items: &'a mut Vec<Item>,
}

/// Keys each item kind knows (others get `Unknown key` warnings).
const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
];

impl Reader<'_> {
    fn warn(&mut self, code: &'static str, msg: impl Into<String>, ctx: &Context) {
        let d = self
            .sources
            .diagnostic(Severity::Warning, code, msg, ctx.clone(), self.file);
        self.diags.push(d);
    }

    fn error(&mut self, f: Fail) {
        let mut d = self
            .sources
            .diagnostic(Severity::Error, f.code, f.msg, f.ctx, self.file);
        d.hint = f.hint;
        self.diags.push(d);
    }

    /// Reads every document (Falco `reader::read`, minus the stop at the first error).
    pub fn read(&mut self, docs: &[Document]) {
        let root = Context::file(self.file);
        for (i, doc) in docs.iter().enumerate() {
            if doc.root.is_null() {
                continue;
            }
            let next_split = docs.get(i + 1).filter(|d| d.implicit_split);
            match &doc.root.value {
                Value::Seq(items) => {
                    let n = items.len();
                    for (j, it) in items.iter().enumerate() {
                        if it.is_null() {
                            continue;
                        }
                        // Keys that yaml-cpp moved to the next document (the seed quirk).
                        let moved = if j + 1 == n { next_split } else { None };
                        if let Err(f) = self.read_item(it, &root, moved) {
                            self.error(f);
                        }
                    }
                }
                _ => {
                    let msg = if doc.root.as_map().is_some() {
                        "Rules content is not yaml array of objects"
                    } else {
                        "Rules content is not yaml"
                    };
                    // Falco's context is the whole file (0:0); we point at the document.
                    let ctx = root.child(ItemType::RulesContentItem, "", doc.root.span.start);
                    let mut f = Fail {
                        code: codes::LOAD_ERR_YAML_VALIDATE,
                        msg: msg.into(),
                        ctx,
                        hint: None,
                    };
                    if doc.implicit_split {
                        f.hint = Some(format!(
                            "line {} starts at column 0 right after the rules list, so yaml-cpp (which \
                             Falco uses) ends the list there and reads the rest as a separate YAML \
                             document; indent it to make it part of the item above",
                            doc.root.span.start.line + 1
                        ));
                    }
                    self.error(f);
                }
            }
        }
    }

    fn read_item(&mut self, item: &Node, parent: &Context, moved: Option<&Document>) -> R<()> {
        let tmp = parent.child(ItemType::RulesContentItem, "", item.span.start);
        if item.as_map().is_none() {
            return fail(
                "Unexpected element type. Each element should be a yaml associative array.",
                &tmp,
            );
        }
        if item.get("required_engine_version").is_some() {
            self.read_engine_version(item, parent)
        } else if let Some(v) = item.get("required_plugin_versions") {
            self.read_plugin_versions(v, parent)
        } else if item.get("list").is_some() {
            self.read_list(item, parent)
        } else if item.get("macro").is_some() {
            self.read_macro(item, parent)
        } else if item.get("rule").is_some() {
            self.read_rule(item, parent, moved)
        } else {
            let ctx = parent.child(ItemType::RulesContentItem, "", item.span.start);
            self.warn(codes::LOAD_UNKNOWN_ITEM, "Unknown top level item", &ctx);
            Ok(())
        }
    }

    fn unknown_keys(&mut self, item: &Node, known: &[&str], ctx: &Context) {
        for (k, _) in item.as_map().unwrap_or(&[]) {
            let name = k.as_scalar().unwrap_or("");
            if !known.contains(&name) {
                let kctx = ctx.child(ItemType::ValueFor, name, k.span.start);
                self.warn(
                    codes::LOAD_UNKNOWN_KEY,
                    format!("Unknown key '{name}'. The key will be ignored."),
                    &kctx,
                );
            }
        }
    }

    fn read_engine_version(&mut self, item: &Node, parent: &Context) -> R<()> {
        let ctx = parent.child(ItemType::RequiredEngineVersion, "", item.span.start);
        let v = decode_str(item, "required_engine_version", &ctx)?;
        let s = v.text.as_str();
        let version = if !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit())
            && s.parse::<u32>().is_ok()
        {
            (0, s.parse::<u64>().unwrap_or(0), 0)
        } else {
            match parse_semver(s) {
                Some(v) => v,
                None => {
                    return fail(
                        format!(
                            "Unable to parse engine version '{s}' as a semver string. Expected \"x.y.z\" semver format."
                        ),
                        &ctx,
                    )
                }
            }
        };
        self.items
            .push(Item::EngineVersion(EngineVersionItem { version, ctx }));
        Ok(())
    }

    fn read_plugin_versions(&mut self, v: &Node, parent: &Context) -> R<()> {
        let ctx = parent.child(ItemType::RequiredPluginVersions, "", v.span.start);
        let Some(seq) = v.as_seq() else {
            return fail("Value of required_plugin_versions must be a sequence", &ctx);
        };
        for plugin in seq {
            let tmp = ctx.child(ItemType::RequiredPluginVersionsEntry, "", plugin.span.start);
            if plugin.as_map().is_none() {
                return fail("Plugin version must be a mapping", &tmp);
            }
            let name = decode_str(plugin, "name", &tmp)?.text;
            let pctx = ctx.child(
                ItemType::RequiredPluginVersionsEntry,
                &name,
                plugin.span.start,
            );
            let version = decode_str(plugin, "version", &pctx)?.text;
            let mut alternatives = vec![PluginReq { name, version }];
            if let Some(alts) = plugin.get("alternatives") {
                let Some(alts) = alts.as_seq() else {
                    return fail(
                        "Value of plugin version alternatives must be a sequence",
                        &pctx,
                    );
                };
                for req in alts {
                    let t = pctx.child(
                        ItemType::RequiredPluginVersionsAlternative,
                        "",
                        req.span.start,
                    );
                    if req.as_map().is_none() {
                        return fail("Plugin version alternative must be a mapping", &t);
                    }
                    let name = decode_str(req, "name", &t)?.text;
                    let t = pctx.child(
                        ItemType::RequiredPluginVersionsAlternative,
                        &name,
                        req.span.start,
                    );
                    let version = decode_str(req, "version", &t)?.text;
                    alternatives.push(PluginReq { name, version });
                }
            }
            self.items.push(Item::PluginVersions(PluginVersionsItem {
                alternatives,
                ctx: pctx,
            }));
        }
        Ok(())
    }

    fn read_list(&mut self, item: &Node, parent: &Context) -> R<()> {
        let tmp = parent.child(ItemType::List, "", item.span.start);
        let name = decode_str(item, "list", &tmp)?.text;
        let ctx = parent.child(ItemType::List, &name, item.span.start);
        let r = (|| -> R<Item> {
            if !is_barestr(&name) {
                self.warn(
                    codes::LOAD_INVALID_LIST_NAME,
                    format!("List has an invalid name. List names should match a regular expression: {RGX_BARESTR}"),
                    &ctx,
                );
            }
            let items = decode_seq(item, "items", &ctx, self.file)?.unwrap_or_default();
            let mut append = decode_opt_bool(item, "append", &ctx)?.unwrap_or(false);
            if append {
                self.warn(codes::LOAD_DEPRECATED_ITEM, WARNING_APPEND, &ctx);
            }
            let (oa, or) = decode_overrides(item, &["items"], &["items"], &ctx)?;
            if append && !(oa.is_empty() && or.is_empty()) {
                return fail(ERROR_OVERRIDE_APPEND, &ctx);
            }
            append |= oa.iter().any(|k| k == "items");
            Ok(Item::List {
                item: ListItem {
                    name: name.clone(),
                    items,
                    ctx: ctx.clone(),
                },
                append,
            })
        })();
        self.finish(r, item, LIST_KEYS, &ctx, ItemType::List, &name)
    }

    fn finish(
        &mut self,
        r: R<Item>,
        item: &Node,
        keys: &[&str],
        ctx: &Context,
        kind: ItemType,
        name: &str,
    ) -> R<()> {
        match r {
            Ok(it) => {
                self.unknown_keys(item, keys, ctx);
                self.items.push(it);
                Ok(())
            }
            Err(f) => {
                self.items.push(Item::Failed {
                    kind,
                    name: name.to_string(),
                });
                Err(f)
            }
        }
    }

    fn read_macro(&mut self, item: &Node, parent: &Context) -> R<()> {
        let tmp = parent.child(ItemType::Macro, "", item.span.start);
        let name = decode_str(item, "macro", &tmp)?.text;
        let ctx = parent.child(ItemType::Macro, &name, item.span.start);
        let r = (|| -> R<Item> {
            if !is_identifier(&name) {
                self.warn(
                    codes::LOAD_INVALID_MACRO_NAME,
                    format!("Macro has an invalid name. Macro names should match a regular expression: {RGX_IDENTIFIER}"),
                    &ctx,
                );
            }
            let cond = match decode_text(item, "condition", &ctx, self.file) {
                Ok(c) => c,
                Err(mut f) => {
                    if item.get("condition").is_none() && item.get("items").is_some() {
                        f.hint = Some(format!(
                            "'items' is the key of a list: to define the list '{name}', write '- list: {name}'"
                        ));
                    }
                    return Err(f);
                }
            };
            let cond_node = item
                .get("condition")
                .map_or(item.span.start, |n| n.span.start);
            let cond_ctx = ctx.child(ItemType::MacroCondition, "", cond_node);
            let mut append = decode_opt_bool(item, "append", &ctx)?.unwrap_or(false);
            if append {
                self.warn(codes::LOAD_DEPRECATED_ITEM, WARNING_APPEND, &ctx);
            }
            let (oa, or) = decode_overrides(item, &["condition"], &["condition"], &ctx)?;
            if append && !(oa.is_empty() && or.is_empty()) {
                return fail(ERROR_OVERRIDE_APPEND, &ctx);
            }
            append |= oa.iter().any(|k| k == "condition");
            Ok(Item::Macro {
                item: MacroItem {
                    name: name.clone(),
                    cond,
                    cond_ctx,
                    ctx: ctx.clone(),
                },
                append,
            })
        })();
        self.finish(r, item, MACRO_KEYS, &ctx, ItemType::Macro, &name)
    }

    fn read_rule(&mut self, item: &Node, parent: &Context, moved: Option<&Document>) -> R<()> {
        let tmp = parent.child(ItemType::Rule, "", item.span.start);
        let name = decode_str(item, "rule", &tmp)?.text;
        let ctx = parent.child(ItemType::Rule, &name, item.span.start);
        let r = self.read_rule_body(item, &name, &ctx, moved);
        match r {
            Ok(Some(it)) => {
                self.unknown_keys(item, RULE_KEYS, &ctx);
                self.items.push(it);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(fails) => {
                self.items.push(Item::Failed {
                    kind: ItemType::Rule,
                    name: name.clone(),
                });
                let only_missing = fails
                    .iter()
                    .all(|f| f.msg.starts_with("Item has no mapping"));
                let mut fails = fails.into_iter();
                let first = fails.next();
                for f in fails {
                    self.error(f);
                }
                // Still check the condition of a full definition missing other keys.
                if only_missing && item.get("append").is_none() && item.get("override").is_none() {
                    if let (Ok(cond), Some(n)) = (
                        decode_text(item, "condition", &ctx, self.file),
                        item.get("condition"),
                    ) {
                        let cond_ctx = ctx.child(ItemType::RuleCondition, "", n.span.start);
                        self.items.push(Item::CheckOnlyRule(Box::new(CheckOnlyRule {
                            name: name.clone(),
                            cond,
                            cond_ctx,
                            ctx: ctx.clone(),
                        })));
                    }
                }
                match first {
                    Some(f) => Err(f),
                    None => Ok(()),
                }
            }
        }
    }

    /// `Ok(None)`: nothing to push (already pushed).
    fn read_rule_body(
        &mut self,
        item: &Node,
        name: &str,
        ctx: &Context,
        moved: Option<&Document>,
    ) -> Result<Option<Item>, Vec<Fail>> {
        let one = |f: Fail| vec![f];
        let has_append_flag = decode_opt_bool(item, "append", ctx)
            .map_err(one)?
            .unwrap_or(false);
        if has_append_flag {
            self.warn(codes::LOAD_DEPRECATED_ITEM, WARNING_APPEND, ctx);
        }
        const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
        const REPLACEABLE: &[&str] = &[
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
            "capture",
            "capture_duration",
        ];
        let (oa, or) = decode_overrides(item, APPENDABLE, REPLACEABLE, ctx).map_err(one)?;
        let has_overrides = !oa.is_empty() || !or.is_empty();
        if has_append_flag && has_overrides {
            return Err(one(fail::<()>(ERROR_OVERRIDE_APPEND, ctx).unwrap_err()));
        }
        let file = self.file;
        if has_overrides {
            let mut expected: BTreeSet<&str> = APPENDABLE
                .iter()
                .chain(REPLACEABLE.iter())
                .copied()
                .filter(|k| item.get(k).is_some())
                .collect();
            let exp = &mut expected;
            let mut out = Vec::new();
            let r = (|| -> R<()> {
                if !oa.is_empty() {
                    let mut v = RuleUpdate {
                        name: name.to_string(),
                        ctx: ctx.clone(),
                        ..Default::default()
                    };
                    if check_expected(exp, ctx, &oa, "append", "condition")? {
                        v.cond = Some(decode_text(item, "condition", ctx, file)?);
                        v.cond_ctx = item
                            .get("condition")
                            .map(|n| ctx.child(ItemType::RuleCondition, "", n.span.start));
                    }
                    if check_expected(exp, ctx, &oa, "append", "exceptions")? {
                        v.exceptions = Some(self.read_exceptions(item, ctx, true)?);
                    }
                    if check_expected(exp, ctx, &oa, "append", "output")? {
                        v.output = Some(decode_text(item, "output", ctx, file)?);
                    }
                    if check_expected(exp, ctx, &oa, "append", "desc")? {
                        v.desc = Some(decode_str(item, "desc", ctx)?.text);
                    }
                    if check_expected(exp, ctx, &oa, "append", "tags")? {
                        v.tags = Some(decode_tags(item, ctx, file)?);
                    }
                    out.push(Item::RuleAppend(Box::new(v)));
                }
                if !or.is_empty() {
                    let mut v = RuleUpdate {
                        name: name.to_string(),
                        ctx: ctx.clone(),
                        ..Default::default()
                    };
                    if check_expected(exp, ctx, &or, "replace", "condition")? {
                        v.cond = Some(decode_text(item, "condition", ctx, file)?);
                        v.cond_ctx = item
                            .get("condition")
                            .map(|n| ctx.child(ItemType::RuleCondition, "", n.span.start));
                    }
                    if check_expected(exp, ctx, &or, "replace", "exceptions")? {
                        v.exceptions = Some(self.read_exceptions(item, ctx, false)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "output")? {
                        v.output = Some(decode_text(item, "output", ctx, file)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "desc")? {
                        v.desc = Some(decode_str(item, "desc", ctx)?.text);
                    }
                    if check_expected(exp, ctx, &or, "replace", "tags")? {
                        v.tags = Some(decode_tags(item, ctx, file)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "priority")? {
                        v.priority = Some(decode_priority(item, ctx)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "enabled")? {
                        v.enabled = Some(decode_bool(item, "enabled", ctx)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "warn_evttypes")? {
                        v.warn_evttypes = Some(decode_bool(item, "warn_evttypes", ctx)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "skip-if-unknown-filter")? {
                        v.skip_if_unknown_filter =
                            Some(decode_bool(item, "skip-if-unknown-filter", ctx)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "capture")? {
                        v.capture = Some(decode_bool(item, "capture", ctx)?);
                    }
                    if check_expected(exp, ctx, &or, "replace", "capture_duration")? {
                        v.capture_duration = Some(decode_u64(item, "capture_duration", ctx)?);
                    }
                    out.push(Item::RuleReplace(Box::new(v)));
                }
                if let Some(key) = exp.iter().next() {
                    let (kpos, _) = item
                        .get_entry(key)
                        .map_or((item.span.start, ()), |(k, _)| (k.span.start, ()));
                    let kctx = ctx.child(ItemType::Overrides, key, kpos);
                    return fail(
                        format!("Unexpected key '{key}': no corresponding entry under 'override' is defined."),
                        &kctx,
                    );
                }
                Ok(())
            })();
            r.map_err(one)?;
            // Push all but the last here; return the last.
            let last = out.pop();
            self.items.extend(out);
            return Ok(last);
        }
        if has_append_flag {
            let mut v = RuleUpdate {
                name: name.to_string(),
                ctx: ctx.clone(),
                ..Default::default()
            };
            if let Some(n) = item.get("condition") {
                v.cond_ctx = Some(ctx.child(ItemType::RuleCondition, "", n.span.start));
                v.cond = Some(decode_text(item, "condition", ctx, file).map_err(one)?);
            }
            if item.get("exceptions").is_some() {
                v.exceptions = Some(self.read_exceptions(item, ctx, true).map_err(one)?);
            }
            return Ok(Some(Item::RuleAppend(Box::new(v))));
        }
        if ["condition", "output", "desc", "priority"]
            .iter()
            .all(|k| item.get(k).is_none())
        {
            let enabled = decode_bool(item, "enabled", ctx).map_err(one)?;
            self.warn(codes::LOAD_DEPRECATED_ITEM, WARNING_ENABLED, ctx);
            return Ok(Some(Item::RuleEnable {
                name: name.to_string(),
                enabled,
                ctx: ctx.clone(),
            }));
        }
        // A full definition: report every missing required key.
        let mut fails = Vec::new();
        let moved_hint = |key: &str| -> Option<String> {
            let d = moved?;
            let (k, _) = d.root.get_entry(key)?;
            Some(format!(
                "'{key}:' on line {} is at column 0, so yaml-cpp (which Falco uses) ends the rules list \
                 there and reads it as a separate YAML document; indent it like the other keys of this rule",
                k.span.start.line + 1
            ))
        };
        let mut req = |key: &str| -> Option<Text> {
            match decode_text(item, key, ctx, file) {
                Ok(t) => Some(t),
                Err(mut f) => {
                    if item.get(key).is_none() {
                        f.hint = moved_hint(key);
                    }
                    fails.push(f);
                    None
                }
            }
        };
        let cond = req("condition");
        let output = req("output");
        let desc = req("desc");
        let prio = req("priority");
        if !fails.is_empty() {
            return Err(fails);
        }
        let (Some(cond), Some(mut output), Some(desc), Some(_)) = (cond, output, desc, prio) else {
            return Err(Vec::new());
        };
        let r = (|| -> R<Item> {
            let cond_ctx = ctx.child(
                ItemType::RuleCondition,
                "",
                item.get("condition")
                    .map_or(item.span.start, |n| n.span.start),
            );
            let output_ctx = ctx.child(
                ItemType::RuleOutput,
                "",
                item.get("output").map_or(item.span.start, |n| n.span.start),
            );
            output.text = output.text.trim().to_string();
            let priority = decode_priority(item, ctx)?;
            let source =
                decode_opt_str(item, "source", ctx)?.map_or("syscall".to_string(), |t| t.text);
            let enabled = decode_opt_bool(item, "enabled", ctx)?.unwrap_or(true);
            let warn_evttypes = decode_opt_bool(item, "warn_evttypes", ctx)?.unwrap_or(true);
            let skip_if_unknown_filter =
                decode_opt_bool(item, "skip-if-unknown-filter", ctx)?.unwrap_or(false);
            let capture = decode_opt_bool(item, "capture", ctx)?.unwrap_or(false);
            let capture_duration = match item.get("capture_duration") {
                Some(_) => decode_u64(item, "capture_duration", ctx)?,
                None => 0,
            };
            let tags = if item.get("tags").is_some() {
                decode_tags(item, ctx, file)?
            } else {
                BTreeSet::new()
            };
            let exceptions = self.read_exceptions(item, ctx, false)?;
            Ok(Item::Rule(Box::new(RuleItem {
                name: name.to_string(),
                cond,
                cond_ctx,
                output,
                output_ctx,
                desc: desc.text,
                priority,
                source,
                enabled,
                warn_evttypes,
                skip_if_unknown_filter,
                capture,
                capture_duration,
                tags,
                exceptions,
                ctx: ctx.clone(),
            })))
        })();
        r.map(Some).map_err(one)
    }

    fn read_exceptions(
        &mut self,
        item: &Node,
        parent: &Context,
        append: bool,
    ) -> R<Vec<ExceptionInfo>> {
        let mut out: Vec<ExceptionInfo> = Vec::new();
        let Some(exs) = item.get("exceptions") else {
            return Ok(out);
        };
        if exs.is_null() {
            return Ok(out);
        }
        let exes_ctx = parent.child(ItemType::Exceptions, "", exs.span.start);
        let Some(seq) = exs.as_seq() else {
            return fail("Rule exceptions must be a sequence", &exes_ctx);
        };
        for ex in seq {
            let tmp = exes_ctx.child(ItemType::Exception, "", ex.span.start);
            if ex.as_map().is_none() {
                return fail("Rule exception must be a mapping", &tmp);
            }
            let name = decode_str(ex, "name", &tmp)?.text;
            let ex_ctx = parent.child(ItemType::Exception, &name, ex.span.start);
            if out.iter().any(|e| e.name == name) {
                self.warn(
                    codes::LOAD_EXCEPTION_NAME_NOT_UNIQUE,
                    format!("Multiple definitions of exception '{name}' in the same rule"),
                    &ex_ctx,
                );
            }
            let fields = decode_ex_entry(ex.get("fields"), "fields", &ex_ctx, append)?;
            let comps = decode_ex_entry(ex.get("comps"), "comps", &ex_ctx, true)?;
            let mut values = Vec::new();
            if let Some(vals) = ex.get("values") {
                let vctx = ex_ctx.child(ItemType::ExceptionValues, "", vals.span.start);
                let Some(vs) = vals.as_seq() else {
                    return fail("Rule exception values must be a sequence", &vctx);
                };
                for v in vs {
                    let c = vctx.child(ItemType::ExceptionValue, "", v.span.start);
                    if let Some(e) = decode_ex_entry(Some(v), "", &c, false)? {
                        values.push(e);
                    }
                }
            } else if append {
                self.warn(
                    codes::LOAD_APPEND_NO_VALUES,
                    "Overriding/appending exception with no values",
                    &ex_ctx,
                );
            }
            out.push(ExceptionInfo {
                name,
                fields,
                comps,
                values,
                ctx: ex_ctx,
            });
        }
        Ok(out)
    }
}

fn check_expected(
    expected: &mut BTreeSet<&str>,
    ctx: &Context,
    ops: &[String],
    kind: &str,
    key: &str,
) -> R<bool> {
    if !ops.iter().any(|k| k == key) {
        return Ok(false);
    }
    if !expected.remove(key) {
        return fail(
            format!("An {kind} override for '{key}' was specified but '{key}' is not defined"),
            ctx,
        );
    }
    Ok(true)
}

const WARNING_APPEND: &str =
    "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED: &str = "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";
const ERROR_OVERRIDE_APPEND: &str = "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";

/// Falco `decode_val` for strings: required, non-null, scalar, non-empty.
fn decode_str(item: &Node, key: &str, ctx: &Context) -> R<Text> {
    decode_text(
        item,
        key,
        ctx,
        ctx.innermost().map_or("", |l| l.file.as_str()),
    )
}

fn decode_text(item: &Node, key: &str, ctx: &Context, file: &str) -> R<Text> {
    let Some(val) = item.get(key) else {
        return fail(format!("Item has no mapping for key '{key}'"), ctx);
    };
    if val.is_null() {
        return fail(format!("Mapping for key '{key}' is empty"), ctx);
    }
    let vctx = ctx.child(ItemType::ValueFor, key, val.span.start);
    let Some(s) = val.as_scalar() else {
        return fail("Value is not a scalar value", &vctx);
    };
    if s.is_empty() {
        return fail("Value must be non-empty", &vctx);
    }
    Ok(Text {
        text: s.to_string(),
        file: file.to_string(),
        span: val.span,
    })
}

fn decode_opt_str(item: &Node, key: &str, ctx: &Context) -> R<Option<Text>> {
    if item.get(key).is_none() {
        return Ok(None);
    }
    decode_str(item, key, ctx).map(Some)
}

fn decode_bool(item: &Node, key: &str, ctx: &Context) -> R<bool> {
    let t = decode_str(item, key, ctx)?;
    match parse_yaml_bool(&t.text) {
        Some(b) => Ok(b),
        None => {
            let val = item.get(key).map_or(Pos::default(), |v| v.span.start);
            fail(
                "Can't decode YAML scalar value",
                &ctx.child(ItemType::ValueFor, key, val),
            )
        }
    }
}

fn decode_opt_bool(item: &Node, key: &str, ctx: &Context) -> R<Option<bool>> {
    if item.get(key).is_none() {
        return Ok(None);
    }
    decode_bool(item, key, ctx).map(Some)
}

fn decode_u64(item: &Node, key: &str, ctx: &Context) -> R<u64> {
    let t = decode_str(item, key, ctx)?;
    match t.text.parse::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => {
            let val = item.get(key).map_or(Pos::default(), |v| v.span.start);
            fail(
                "Can't decode YAML scalar value",
                &ctx.child(ItemType::ValueFor, key, val),
            )
        }
    }
}

fn decode_priority(item: &Node, ctx: &Context) -> R<Priority> {
    let t = decode_str(item, "priority", ctx)?;
    match Priority::parse(&t.text) {
        Some(p) => Ok(p),
        None => {
            let pctx = ctx.child(ItemType::RulePriority, "", t.span.start);
            fail("Invalid priority", &pctx)
        }
    }
}

/// Falco `decode_seq` (for `items` and `tags`). `Ok(None)` when the key is absent.
fn decode_seq(item: &Node, key: &str, ctx: &Context, file: &str) -> R<Option<Vec<Text>>> {
    let Some(val) = item.get(key) else {
        if key == "items" {
            return fail(format!("Item has no mapping for key '{key}'"), ctx);
        }
        return Ok(None);
    };
    let vctx = ctx.child(ItemType::ValueFor, key, val.span.start);
    let Some(seq) = val.as_seq() else {
        return fail("Value is not a sequence", &vctx);
    };
    let mut out = Vec::with_capacity(seq.len());
    for v in seq {
        let ictx = vctx.child(ItemType::ListItem, "", v.span.start);
        let Some(s) = v.as_scalar() else {
            return fail("sequence value is not scalar", &ictx);
        };
        out.push(Text {
            text: s.to_string(),
            file: file.to_string(),
            span: v.span,
        });
    }
    Ok(Some(out))
}

fn decode_tags(item: &Node, ctx: &Context, file: &str) -> R<BTreeSet<String>> {
    Ok(decode_seq(item, "tags", ctx, file)?
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.text)
        .collect())
}

/// Falco `decode_overrides`: `(append keys, replace keys)`.
fn decode_overrides(
    item: &Node,
    appendable: &[&str],
    replaceable: &[&str],
    ctx: &Context,
) -> R<(Vec<String>, Vec<String>)> {
    let mut oa = Vec::new();
    let mut or = Vec::new();
    let Some(val) = item.get("override") else {
        return Ok((oa, or));
    };
    let octx = ctx.child(ItemType::Overrides, "", item.span.start);
    for (k, v) in val.as_map().unwrap_or(&[]) {
        let key = k.as_scalar().unwrap_or("").to_string();
        let op = v.as_scalar().unwrap_or("");
        let can_append = appendable.contains(&key.as_str());
        let can_replace = replaceable.contains(&key.as_str());
        let kctx = octx.child(ItemType::Overrides, &key, k.span.start);
        match op {
            "append" => {
                if !can_append {
                    return fail(
                        format!("Key '{key}' cannot be appended to, use 'replace' instead"),
                        &kctx,
                    );
                }
                oa.push(key);
            }
            "replace" => {
                if !can_replace {
                    return fail(format!("Key '{key}' cannot be replaced"), &kctx);
                }
                or.push(key);
            }
            _ => {
                let opctx = octx.child(ItemType::ValueFor, &key, v.span.start);
                let mut m = format!(
                    "Invalid override operation for key '{key}': '{op}'. Allowed values are: "
                );
                if can_append {
                    m.push_str("append ");
                }
                if can_replace {
                    m.push_str("replace ");
                }
                return fail(m, &opctx);
            }
        }
    }
    Ok((oa, or))
}

/// Falco `decode_exception_info_entry`. `Ok(None)` when optional and absent.
fn decode_ex_entry(
    val: Option<&Node>,
    key: &str,
    ctx: &Context,
    optional: bool,
) -> R<Option<ExEntry>> {
    let Some(val) = val else {
        if optional {
            return Ok(None);
        }
        return fail(format!("Item has no mapping for key '{key}'"), ctx);
    };
    let vctx = ctx.child(ItemType::ValueFor, key, val.span.start);
    match &val.value {
        Value::Scalar(s) => {
            if s.is_empty() {
                return fail("Value must be non-empty", &vctx);
            }
            Ok(Some(ExEntry::scalar(s)))
        }
        Value::Seq(items) => {
            let mut out = ExEntry {
                is_list: true,
                item: String::new(),
                items: Vec::new(),
            };
            for v in items {
                let lctx = vctx.child(ItemType::Exception, "", v.span.start);
                if let Some(e) = decode_ex_entry(Some(v), "", &lctx, false)? {
                    out.items.push(e);
                }
            }
            Ok(Some(out))
        }
        // yaml-cpp: a null or a map is neither scalar nor sequence; the entry stays invalid.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::load_all;

    fn read(src: &str) -> (Vec<Item>, Vec<Diagnostic>) {
        let mut sources = Sources::default();
        sources.add("t.yaml", src);
        let docs = load_all(src).unwrap();
        let mut items = Vec::new();
        let mut diags = Vec::new();
        Reader {
            file: "t.yaml",
            sources: &sources,
            diags: &mut diags,
            items: &mut items,
        }
        .read(&docs);
        (items, diags)
    }

    fn msgs(d: &[Diagnostic]) -> Vec<String> {
        d.iter()
            .map(|d| format!("{} {}", d.code, d.message))
            .collect()
    }

    #[test]
    fn shapes() {
        let (_, d) = read("This is not yaml");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Rules content is not yaml"]
        );
        let (_, d) = read("foo: bar");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Rules content is not yaml array of objects"]
        );
        let (_, d) = read("- foo");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Unexpected element type. Each element should be a yaml associative array."]
        );
        let (_, d) = read("- foo: bar");
        assert_eq!(msgs(&d), ["LOAD_UNKNOWN_ITEM Unknown top level item"]);
    }

    #[test]
    fn list_macro_rule_errors() {
        let (_, d) = read("- list:\n  items: [foo]\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Mapping for key 'list' is empty"]
        );
        let (_, d) = read("- list: bad_list\n  no_items: foo\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Item has no mapping for key 'items'"]
        );
        assert_eq!(d[0].context.locs[1].item_name, "bad_list");
        let (_, d) = read("- macro: bad_macro\n  nope: 1\n- macro: good\n  condition: a\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Item has no mapping for key 'condition'"]
        );
        let (_, d) = read(
            "- rule: no output rule\n  desc: d\n  condition: evt.type=open\n  priority: INFO\n",
        );
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Item has no mapping for key 'output'"]
        );
        let (_, d) = read("- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: loud\n");
        assert_eq!(msgs(&d), ["LOAD_ERR_YAML_VALIDATE Invalid priority"]);
        let (_, d) = read("- required_engine_version: not-a-number\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Unable to parse engine version 'not-a-number' as a semver string. Expected \"x.y.z\" semver format."]
        );
    }

    #[test]
    fn items_keep_text() {
        let (items, d) = read("- list: ports\n  items: [80, 0644, \"a b\"]\n  priority: x\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_UNKNOWN_KEY Unknown key 'priority'. The key will be ignored."]
        );
        let Item::List { item, append } = &items[0] else {
            panic!()
        };
        assert!(!append);
        let t: Vec<&str> = item.items.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(t, ["80", "0644", "a b"]);
    }

    #[test]
    fn overrides() {
        let base = "- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n";
        let (_, d) = read(&format!(
            "{base}- rule: r\n  priority: ERROR\n  override:\n    priority: append\n"
        ));
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Key 'priority' cannot be appended to, use 'replace' instead"]
        );
        let (_, d) = read(&format!(
            "{base}- rule: r\n  desc: x\n  override:\n    desc: replace\n    condition: append\n"
        ));
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE An append override for 'condition' was specified but 'condition' is not defined"]
        );
        let (_, d) = read(&format!(
            "{base}- rule: r\n  desc: x\n  priority: WARNING\n  override:\n    desc: replace\n"
        ));
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Unexpected key 'priority': no corresponding entry under 'override' is defined."]
        );
        let (_, d) = read(&format!("{base}- rule: r\n  condition: and x\n  append: true\n  override:\n    condition: append\n"));
        assert_eq!(d.len(), 2);
        assert!(d[1]
            .message
            .starts_with("Keys 'override' and 'append: true' cannot be used together."));
        let (items, d) = read(&format!("{base}- rule: r\n  enabled: false\n"));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "LOAD_DEPRECATED_ITEM");
        assert!(matches!(items[1], Item::RuleEnable { enabled: false, .. }));
        let (_, d) = read("- list: l\n  items: [a]\n  override:\n    items: prepend\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Invalid override operation for key 'items': 'prepend'. Allowed values are: append replace "]
        );
    }

    #[test]
    fn exceptions_read() {
        let (_, d) = read("- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n  exceptions:\n    - fields: [a.b]\n");
        assert_eq!(
            msgs(&d),
            ["LOAD_ERR_YAML_VALIDATE Item has no mapping for key 'name'"]
        );
        let (items, d) = read(
            "- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=, in]\n      values:\n        - [a, [b, c]]\n",
        );
        assert!(d.is_empty(), "{d:?}");
        let Item::Rule(r) = &items[0] else { panic!() };
        let e = &r.exceptions[0];
        assert_eq!(e.fields.as_ref().unwrap().items.len(), 2);
        assert!(e.values[0].items[1].is_list);
    }

    #[test]
    fn yaml_bools() {
        for t in ["true", "True", "TRUE", "yes", "on", "y", "Y"] {
            assert_eq!(parse_yaml_bool(t), Some(true), "{t}");
        }
        for f in ["false", "no", "off", "n", "OFF"] {
            assert_eq!(parse_yaml_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_yaml_bool("tRuE"), None);
        assert_eq!(parse_yaml_bool("1"), None);
    }
}
