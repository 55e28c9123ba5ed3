//! Stage 1c: items across files → lists, macros and rules after redefinition, `append`,
//! `override` and standalone `enabled` (Falco `rule_loader_collector.cpp`).
//!
//! Every definition gets a position index (`m_cur_index` in Falco): a redefinition keeps
//! the first definition's index (so rules stay in their first position) and moves its
//! *visibility* to the new index; appends and replaces move the visibility too. A macro
//! sees the macros whose index is below its visibility.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::diag::{codes, Context, ItemType};
use crate::priority::Priority;
use crate::reader::{
    parse_semver, CheckOnlyRule, ExEntry, ExceptionInfo, Item, ListItem, MacroItem,
    PluginVersionsItem, RuleItem, RuleUpdate, Text,
};

/// A list after collection.
#[derive(Debug, Clone)]
pub struct ListInfo {
    pub name: String,
    pub items: Vec<Text>,
    pub ctx: Context,
    pub index: u32,
    pub visibility: u32,
}

/// A macro after collection: its condition is the definition plus appended parts, joined
/// with single spaces.
#[derive(Debug, Clone)]
pub struct MacroInfo {
    pub name: String,
    pub cond: Vec<Text>,
    pub cond_ctx: Context,
    pub ctx: Context,
    pub index: u32,
    pub visibility: u32,
}

/// A rule after collection.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub name: String,
    pub cond: Vec<Text>,
    pub cond_ctx: Context,
    pub output: Vec<Text>,
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
    pub unknown_source: bool,
    pub ctx: Context,
    pub index: u32,
    pub visibility: u32,
}

/// Name-indexed vector in definition order (Falco `indexed_vector`).
#[derive(Debug, Clone)]
pub struct Indexed<T> {
    items: Vec<T>,
    by_name: HashMap<String, usize>,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<T> Indexed<T> {
    pub fn get(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).map(|&i| &self.items[i])
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut T> {
        self.by_name.get(name).map(|&i| &mut self.items[i])
    }
    pub fn position(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    fn insert(&mut self, name: &str, v: T) {
        self.by_name.insert(name.to_string(), self.items.len());
        self.items.push(v);
    }
}

/// A collector error (always `LOAD_ERR_VALIDATE`).
#[derive(Debug, Clone)]
pub struct CollectError {
    pub code: &'static str,
    pub msg: String,
    pub ctx: Context,
}

/// A collector warning.
#[derive(Debug, Clone)]
pub struct CollectWarning {
    pub code: &'static str,
    pub msg: String,
    pub ctx: Context,
}

/// What the collector needs to know about the engine.
pub struct CollectConfig<'a> {
    /// Known event sources (`syscall`).
    pub sources: &'a [String],
    /// Falco engine version the rules are checked against.
    pub engine_version: (u64, u64, u64),
    /// Whether a field name (as written in exception `fields`) is defined.
    pub field_defined: &'a dyn Fn(&str) -> bool,
}

/// Every list, macro and rule collected so far, across files.
#[derive(Debug, Default, Clone)]
pub struct Collector {
    pub lists: Indexed<ListInfo>,
    pub macros: Indexed<MacroInfo>,
    pub rules: Indexed<RuleInfo>,
    pub check_only: Vec<CheckOnlyRule>,
    pub required_engine_version: Option<(u64, u64, u64)>,
    pub required_plugin_versions: Vec<PluginVersionsItem>,
    /// Items that failed to read, to avoid cascades.
    pub failed: HashSet<(String, String)>,
    cur_index: u32,
}

fn verr<T>(msg: impl Into<String>, ctx: &Context) -> Result<T, CollectError> {
    Err(CollectError {
        code: codes::LOAD_ERR_VALIDATE,
        msg: msg.into(),
        ctx: ctx.clone(),
    })
}

const MODIFIERS: [&str; 3] = ["oneof", "anyof", "allof"];
const MODIFIABLE_OPS: [&str; 12] = [
    "==",
    "=",
    "!=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];
/// `<strop> oneof|anyof|allof` (Falco >= 0.44).
pub fn is_modifier_op(op: &str) -> bool {
    let mut it = op.split(' ');
    match (it.next(), it.next(), it.next()) {
        (Some(o), Some(m), None) => MODIFIABLE_OPS.contains(&o) && MODIFIERS.contains(&m),
        _ => false,
    }
}

/// Falco `is_operator_defined` (plus modifier operators).
pub fn is_operator_defined(op: &str) -> bool {
    crate::ast::Op::from_name(op).is_some() || is_modifier_op(op)
}

/// Operators whose right-hand side is a list (Falco `supported_operators(true)`), and
/// modifier operators.
pub fn is_operator_for_list(op: &str) -> bool {
    matches!(op, "in" | "intersects" | "pmatch") || is_modifier_op(op)
}

fn validate_exception(
    cfg: &CollectConfig<'_>,
    known_source: bool,
    ex: &mut ExceptionInfo,
) -> Result<(), CollectError> {
    let Some(fields) = &ex.fields else {
        return Ok(());
    };
    if fields.is_list {
        if ex.comps.is_none() {
            ex.comps = Some(ExEntry {
                is_list: true,
                item: String::new(),
                items: fields.items.iter().map(|_| ExEntry::scalar("=")).collect(),
            });
        }
        let comps = ex.comps.as_ref().map(|c| c.items.len()).unwrap_or(0);
        if fields.items.len() != comps || !ex.comps.as_ref().is_some_and(|c| c.is_list) {
            return verr("Fields and comps lists must have equal length", &ex.ctx);
        }
        for c in ex.comps.iter().flat_map(|c| c.items.iter()) {
            if !is_operator_defined(&c.item) {
                return verr(
                    format!("'{}' is not a supported comparison operator", c.item),
                    &ex.ctx,
                );
            }
        }
        if known_source {
            for f in &fields.items {
                if !(cfg.field_defined)(&f.item) {
                    return verr(
                        format!("'{}' is not a supported filter field", f.item),
                        &ex.ctx,
                    );
                }
            }
        }
    } else {
        if ex.comps.is_none() {
            ex.comps = Some(ExEntry::scalar("in"));
        }
        let comps = ex
            .comps
            .as_ref()
            .map(|c| (c.is_list, c.item.clone()))
            .unwrap_or_default();
        if comps.0 {
            return verr("Fields and comps must both be strings", &ex.ctx);
        }
        let c = comps.1;
        if c != "in" && c != "pmatch" && c != "intersects" && !is_modifier_op(&c) {
            return verr(
                "When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. 'startswith oneof')",
                &ex.ctx,
            );
        }
        if known_source && !(cfg.field_defined)(&fields.item) {
            return verr(
                format!("'{}' is not a supported filter field", fields.item),
                &ex.ctx,
            );
        }
    }
    Ok(())
}

impl Collector {
    fn next_index(&mut self) -> u32 {
        let i = self.cur_index;
        self.cur_index = self.cur_index.saturating_add(1);
        i
    }

    fn is_failed(&self, kind: &str, name: &str) -> bool {
        self.failed.contains(&(kind.to_string(), name.to_string()))
    }

    /// Adds one item. Errors are Falco's `LOAD_ERR_VALIDATE`; `Ok(warnings)` otherwise.
    /// `Err(None)` means "skip silently" (a cascade of an earlier error).
    pub fn add(
        &mut self,
        cfg: &CollectConfig<'_>,
        item: Item,
    ) -> Result<Vec<CollectWarning>, Option<CollectError>> {
        let mut warnings = Vec::new();
        match item {
            Item::EngineVersion(v) => {
                let e = cfg.engine_version;
                let r = v.version;
                let compatible = e.0 == r.0 && (r.1, r.2) <= (e.1, e.2);
                if !compatible {
                    return Err(Some(CollectError {
                        code: codes::LOAD_ERR_VALIDATE,
                        msg: format!(
                            "Rules require engine version {}.{}.{}, but engine version is {}.{}.{}",
                            r.0, r.1, r.2, e.0, e.1, e.2
                        ),
                        ctx: v.ctx,
                    }));
                }
                if self.required_engine_version.is_none_or(|cur| cur < r) {
                    self.required_engine_version = Some(r);
                }
            }
            Item::PluginVersions(p) => {
                let mut names = HashSet::new();
                for req in &p.alternatives {
                    if parse_semver(&req.version).is_none() {
                        return Err(Some(CollectError {
                            code: codes::LOAD_ERR_VALIDATE,
                            msg: format!(
                                "Invalid required version '{}' for plugin '{}'",
                                req.version, req.name
                            ),
                            ctx: p.ctx.clone(),
                        }));
                    }
                    if !names.insert(req.name.clone()) {
                        return Err(Some(CollectError {
                            code: codes::LOAD_ERR_VALIDATE,
                            msg: format!(
                                "Defined multiple alternative version requirements for plugin '{}'",
                                req.name
                            ),
                            ctx: p.ctx.clone(),
                        }));
                    }
                }
                self.required_plugin_versions.push(p);
            }
            Item::List { item, append } => {
                if append {
                    self.append_list(item)?;
                } else {
                    self.define_list(item);
                }
            }
            Item::Macro { item, append } => {
                if append {
                    self.append_macro(item)?;
                } else {
                    self.define_macro(item);
                }
            }
            Item::Rule(r) => self.define_rule(cfg, *r, &mut warnings).map_err(Some)?,
            Item::RuleAppend(u) => self.append_rule(cfg, *u)?,
            Item::RuleReplace(u) => self.replace_rule(*u)?,
            Item::RuleEnable { name, enabled, ctx } => {
                if self.is_failed("rule", &name) {
                    return Err(None);
                }
                match self.rules.get_mut(&name) {
                    Some(r) => r.enabled = enabled,
                    None => {
                        return Err(Some(CollectError {
                            code: codes::LOAD_ERR_VALIDATE,
                            msg: "Rule has 'enabled' key but no rule by that name already exists"
                                .into(),
                            ctx,
                        }))
                    }
                }
            }
            Item::CheckOnlyRule(c) => self.check_only.push(*c),
            Item::Failed { kind, name } => {
                self.failed.insert((kind.as_str().to_string(), name));
            }
        }
        Ok(warnings)
    }

    fn define_list(&mut self, item: ListItem) {
        let id = self.next_index();
        match self.lists.get_mut(&item.name) {
            Some(prev) => {
                let index = prev.index;
                *prev = ListInfo {
                    name: item.name,
                    items: item.items,
                    ctx: item.ctx,
                    index,
                    visibility: id,
                };
            }
            None => {
                let name = item.name.clone();
                self.lists.insert(
                    &name,
                    ListInfo {
                        name: item.name,
                        items: item.items,
                        ctx: item.ctx,
                        index: id,
                        visibility: id,
                    },
                );
            }
        }
    }

    fn append_list(&mut self, item: ListItem) -> Result<(), Option<CollectError>> {
        if self.lists.get(&item.name).is_none() && self.is_failed("list", &item.name) {
            return Err(None);
        }
        let id = self.next_index();
        let Some(prev) = self.lists.get_mut(&item.name) else {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "List uses 'append' or 'override.items: append' but no list by that name already exists"
                    .into(),
                ctx: item.ctx,
            }));
        };
        prev.items.extend(item.items);
        prev.visibility = id;
        Ok(())
    }

    fn define_macro(&mut self, item: MacroItem) {
        let id = self.next_index();
        let info = |index| MacroInfo {
            name: item.name.clone(),
            cond: vec![item.cond.clone()],
            cond_ctx: item.cond_ctx.clone(),
            ctx: item.ctx.clone(),
            index,
            visibility: id,
        };
        match self.macros.get_mut(&item.name) {
            Some(prev) => {
                let index = prev.index;
                *prev = info(index);
            }
            None => {
                let v = info(id);
                self.macros.insert(&item.name, v);
            }
        }
    }

    fn append_macro(&mut self, item: MacroItem) -> Result<(), Option<CollectError>> {
        if self.macros.get(&item.name).is_none() && self.is_failed("macro", &item.name) {
            return Err(None);
        }
        let id = self.next_index();
        let Some(prev) = self.macros.get_mut(&item.name) else {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"
                    .into(),
                ctx: item.ctx,
            }));
        };
        prev.cond.push(item.cond);
        prev.visibility = id;
        Ok(())
    }

    fn define_rule(
        &mut self,
        cfg: &CollectConfig<'_>,
        mut r: RuleItem,
        warnings: &mut Vec<CollectWarning>,
    ) -> Result<(), CollectError> {
        if let Some(prev) = self.rules.get(&r.name) {
            if prev.source != r.source {
                return verr("Rule has been re-defined with a different source", &r.ctx);
            }
        }
        let known = cfg.sources.iter().any(|s| s == &r.source);
        if !known {
            warnings.push(CollectWarning {
                code: codes::LOAD_UNKNOWN_SOURCE,
                msg: format!("Unknown source {}, skipping", r.source),
                ctx: r.ctx.clone(),
            });
        }
        for ex in &mut r.exceptions {
            if ex.fields.is_none() {
                return verr(
                    "Rule exception item must have fields property with a list of fields",
                    &ex.ctx,
                );
            }
            validate_exception(cfg, known, ex)?;
        }
        let id = self.next_index();
        let info = |index| RuleInfo {
            name: r.name.clone(),
            cond: vec![r.cond.clone()],
            cond_ctx: r.cond_ctx.clone(),
            output: vec![r.output.clone()],
            output_ctx: r.output_ctx.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            source: r.source.clone(),
            enabled: r.enabled,
            warn_evttypes: r.warn_evttypes,
            skip_if_unknown_filter: r.skip_if_unknown_filter,
            capture: r.capture,
            capture_duration: r.capture_duration,
            tags: r.tags.clone(),
            exceptions: r.exceptions.clone(),
            unknown_source: !known,
            ctx: r.ctx.clone(),
            index,
            visibility: id,
        };
        match self.rules.get_mut(&r.name) {
            Some(prev) => {
                let index = prev.index;
                *prev = info(index);
            }
            None => {
                let v = info(id);
                self.rules.insert(&r.name, v);
            }
        }
        Ok(())
    }

    fn append_rule(
        &mut self,
        cfg: &CollectConfig<'_>,
        u: RuleUpdate,
    ) -> Result<(), Option<CollectError>> {
        if self.rules.get(&u.name).is_none() && self.is_failed("rule", &u.name) {
            return Err(None);
        }
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(&u.name) else {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists".into(),
                ctx: u.ctx,
            }));
        };
        if !u.has_any_value() {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "Appended rule must have exceptions or condition property".into(),
                ctx: u.ctx,
            }));
        }
        let known = !prev.unknown_source;
        if let Some(c) = u.cond {
            if !c.text.is_empty() {
                prev.cond.push(c);
            }
        }
        if let Some(o) = u.output {
            if !o.text.is_empty() {
                prev.output.push(o);
            }
        }
        if let Some(d) = u.desc {
            if !d.is_empty() {
                prev.desc.push(' ');
                prev.desc.push_str(&d);
            }
        }
        if let Some(t) = u.tags {
            prev.tags.extend(t);
        }
        if let Some(exs) = u.exceptions {
            for mut ex in exs {
                match prev.exceptions.iter_mut().find(|e| e.name == ex.name) {
                    None => {
                        if ex.fields.is_none() {
                            return Err(Some(CollectError {
                                code: codes::LOAD_ERR_VALIDATE,
                                msg:
                                    "Rule exception must have fields property with a list of fields"
                                        .into(),
                                ctx: ex.ctx,
                            }));
                        }
                        if ex.values.is_empty() {
                            return Err(Some(CollectError {
                                code: codes::LOAD_ERR_VALIDATE,
                                msg:
                                    "Rule exception must have values property with a list of values"
                                        .into(),
                                ctx: ex.ctx,
                            }));
                        }
                        validate_exception(cfg, known, &mut ex).map_err(Some)?;
                        prev.exceptions.push(ex);
                    }
                    Some(p) => {
                        if ex.fields.is_some() {
                            return Err(Some(CollectError {
                                code: codes::LOAD_ERR_VALIDATE,
                                msg: "Can not append exception fields to existing exception, only values".into(),
                                ctx: ex.ctx,
                            }));
                        }
                        if ex.comps.is_some() {
                            return Err(Some(CollectError {
                                code: codes::LOAD_ERR_VALIDATE,
                                msg: "Can not append exception comps to existing exception, only values".into(),
                                ctx: ex.ctx,
                            }));
                        }
                        p.values.extend(ex.values);
                    }
                }
            }
        }
        prev.visibility = id;
        Ok(())
    }

    fn replace_rule(&mut self, u: RuleUpdate) -> Result<(), Option<CollectError>> {
        if self.rules.get(&u.name).is_none() && self.is_failed("rule", &u.name) {
            return Err(None);
        }
        let id = self.next_index();
        let Some(prev) = self.rules.get_mut(&u.name) else {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"
                    .into(),
                ctx: u.ctx,
            }));
        };
        if !u.has_any_value() {
            return Err(Some(CollectError {
                code: codes::LOAD_ERR_VALIDATE,
                msg: "The rule must have at least one field that can be replaced".into(),
                ctx: u.ctx,
            }));
        }
        if let Some(c) = u.cond {
            prev.cond = vec![c];
            if let Some(cc) = u.cond_ctx {
                prev.cond_ctx = cc;
            }
        }
        if let Some(o) = u.output {
            prev.output = vec![o];
        }
        if let Some(d) = u.desc {
            prev.desc = d;
        }
        if let Some(t) = u.tags {
            prev.tags = t;
        }
        if let Some(e) = u.exceptions {
            prev.exceptions = e;
        }
        if let Some(p) = u.priority {
            prev.priority = p;
        }
        if let Some(e) = u.enabled {
            prev.enabled = e;
        }
        if let Some(w) = u.warn_evttypes {
            prev.warn_evttypes = w;
        }
        if let Some(s) = u.skip_if_unknown_filter {
            prev.skip_if_unknown_filter = s;
        }
        if let Some(c) = u.capture {
            prev.capture = c;
        }
        if let Some(c) = u.capture_duration {
            prev.capture_duration = c;
        }
        prev.visibility = id;
        Ok(())
    }
}

/// The context used for the "in which item" part of a macro/list/rule diagnostic.
pub fn item_kind_word(t: ItemType) -> &'static str {
    t.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Diagnostic, Sources};
    use crate::reader::Reader;
    use crate::yaml::load_all;

    fn collect(files: &[&str]) -> (Collector, Vec<String>) {
        let mut c = Collector::default();
        let mut errs = Vec::new();
        let sources_v = vec!["syscall".to_string()];
        let fd = |f: &str| f.contains('.');
        let cfg = CollectConfig {
            sources: &sources_v,
            engine_version: (0, 63, 0),
            field_defined: &fd,
        };
        for (i, src) in files.iter().enumerate() {
            let name = format!("f{i}.yaml");
            let mut sources = Sources::default();
            sources.add(&name, src);
            let docs = load_all(src).unwrap();
            let mut items = Vec::new();
            let mut diags: Vec<Diagnostic> = Vec::new();
            Reader {
                file: &name,
                sources: &sources,
                diags: &mut diags,
                items: &mut items,
            }
            .read(&docs);
            errs.extend(
                diags
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| d.message.clone()),
            );
            for it in items {
                match c.add(&cfg, it) {
                    Ok(w) => errs.extend(w.into_iter().map(|w| w.msg)),
                    Err(Some(e)) => errs.push(e.msg),
                    Err(None) => {}
                }
            }
        }
        (c, errs)
    }

    const RULE: &str =
        "- rule: r\n  desc: d\n  condition: evt.type=open\n  output: o\n  priority: INFO\n";

    #[test]
    fn redefinition_keeps_position() {
        let (c, e) = collect(&[&format!(
            "{RULE}- rule: s\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n- rule: r\n  desc: d2\n  condition: x\n  output: o\n  priority: ERROR\n"
        )]);
        assert!(e.is_empty(), "{e:?}");
        let names: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["r", "s"]);
        assert_eq!(c.rules.get("r").unwrap().desc, "d2");
        assert_eq!(c.rules.get("r").unwrap().visibility, 2);
    }

    #[test]
    fn append_before_definition() {
        let (_, e) =
            collect(&["- macro: m\n  condition: or x\n  override:\n    condition: append\n"]);
        assert_eq!(
            e,
            ["Macro uses 'append' or 'override.condition: append' but no macro by that name already exists"]
        );
        let (_, e) = collect(&["- list: l\n  items: [a]\n  append: true\n"]);
        assert_eq!(e[0], "List uses 'append' or 'override.items: append' but no list by that name already exists");
        let (_, e) =
            collect(&["- rule: r\n  condition: and x\n  override:\n    condition: append\n"]);
        assert_eq!(e, ["Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"]);
        let (_, e) =
            collect(&["- rule: r\n  priority: INFO\n  override:\n    priority: replace\n"]);
        assert_eq!(
            e,
            ["An 'override.<key>: replace' to a rule was requested but no rule by that name already exists"]
        );
        // override: replace before the definition simply defines lists and macros.
        let (c, e) = collect(&[
            "- list: l\n  items: [a]\n  override:\n    items: replace\n- list: l\n  items: [b]\n",
        ]);
        assert!(e.is_empty());
        assert_eq!(c.lists.get("l").unwrap().items[0].text, "b");
    }

    #[test]
    fn appends_and_overrides() {
        let (c, e) = collect(&[
            RULE,
            "- rule: r\n  condition: and proc.name = cat\n  output: extra\n  desc: more\n  tags: [t]\n  override:\n    condition: append\n    output: append\n    desc: append\n    tags: append\n",
            "- rule: r\n  priority: WARNING\n  enabled: false\n  override:\n    priority: replace\n    enabled: replace\n",
        ]);
        assert!(e.is_empty(), "{e:?}");
        let r = c.rules.get("r").unwrap();
        let cond: Vec<&str> = r.cond.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(cond.join(" "), "evt.type=open and proc.name = cat");
        assert_eq!(r.desc, "d more");
        assert_eq!(r.priority, Priority::Warning);
        assert!(!r.enabled);
        assert!(r.tags.contains("t"));
        let (_, e) = collect(&[RULE, "- rule: r\n  append: true\n"]);
        assert_eq!(
            e,
            ["Appended rule must have exceptions or condition property"]
        );
        let (_, e) = collect(&[RULE, "- rule: x\n  enabled: true\n"]);
        assert_eq!(
            e,
            ["Rule has 'enabled' key but no rule by that name already exists"]
        );
    }

    #[test]
    fn sources_and_versions() {
        let (_, e) = collect(&[&format!("{RULE}- rule: r\n  desc: d\n  condition: c\n  output: o\n  priority: INFO\n  source: k8s_audit\n")]);
        assert_eq!(e, ["Rule has been re-defined with a different source"]);
        let (_, e) = collect(&["- required_engine_version: 9999999\n"]);
        assert_eq!(
            e,
            ["Rules require engine version 0.9999999.0, but engine version is 0.63.0"]
        );
        let (c, e) =
            collect(&["- required_engine_version: 0.57.0\n- required_engine_version: 26\n"]);
        assert!(e.is_empty());
        assert_eq!(c.required_engine_version, Some((0, 57, 0)));
    }

    #[test]
    fn exceptions_validation() {
        let ex = |body: &str| format!("{RULE}  exceptions:\n    - name: ex1\n{body}");
        let (_, e) = collect(&[&ex("      fields: [not_exist]\n")]);
        assert_eq!(e, ["'not_exist' is not a supported filter field"]);
        let (_, e) = collect(&[&ex(
            "      fields: [proc.name, fd.filename]\n      comps: [=, no-comp]\n",
        )]);
        assert_eq!(e, ["'no-comp' is not a supported comparison operator"]);
        let (_, e) = collect(&[&ex(
            "      fields: [proc.name, fd.filename]\n      comps: [=]\n",
        )]);
        assert_eq!(e, ["Fields and comps lists must have equal length"]);
        let (_, e) = collect(&[&ex(
            "      fields: proc.name\n      comps: frobulate oneof\n",
        )]);
        assert!(e[0].starts_with(
            "When fields is a single value, comps must be one of (in, pmatch, intersects)"
        ));
        let (_, e) = collect(&[&ex(
            "      fields: [proc.name]\n      comps: [startswith oneof]\n",
        )]);
        assert!(e.is_empty(), "{e:?}");
        let (_, e) = collect(&[
            &ex("      fields: [proc.name]\n      values: [[a]]\n"),
            "- rule: r\n  exceptions:\n    - name: ex2\n      values: [[b]]\n  override:\n    exceptions: append\n",
        ]);
        assert_eq!(
            e,
            ["Rule exception must have fields property with a list of fields"]
        );
    }
}
