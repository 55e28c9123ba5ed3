//! Diagnostics: Falco's load result codes, positions, caret snippets, text and JSON forms.
//!
//! Codes, their short descriptions and the item type words are Falco's
//! (`falco_load_result.cpp`, `rule_loader.cpp`). A [`Diagnostic`] carries a chain of
//! [`Location`]s from the outermost (the rules content of a file) to the innermost (the
//! exact spot, e.g. the token inside a condition where parsing stopped), like Falco's
//! `rule_loader::context`. Unlike Falco, every location has a real file position: for
//! condition errors the parser's byte offset is mapped back through list substitution,
//! appends and YAML scalar folding to the file.
//!
//! Positions are stored 0-based (Falco's YAML marks are 0-based) and printed 1-based in
//! the text form (`file:line:col`, like compilers); the JSON form keeps Falco's 0-based
//! `line`/`column` and adds the byte `offset`.

use std::fmt::Write as _;

use crate::yaml::{LineIndex, Pos};

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// Falco's error and warning codes.
pub mod codes {
    pub const LOAD_ERR_FILE_READ: &str = "LOAD_ERR_FILE_READ";
    pub const LOAD_ERR_YAML_PARSE: &str = "LOAD_ERR_YAML_PARSE";
    pub const LOAD_ERR_YAML_VALIDATE: &str = "LOAD_ERR_YAML_VALIDATE";
    pub const LOAD_ERR_COMPILE_CONDITION: &str = "LOAD_ERR_COMPILE_CONDITION";
    pub const LOAD_ERR_COMPILE_OUTPUT: &str = "LOAD_ERR_COMPILE_OUTPUT";
    pub const LOAD_ERR_VALIDATE: &str = "LOAD_ERR_VALIDATE";
    pub const LOAD_ERR_EXTENSION: &str = "LOAD_ERR_EXTENSION";

    pub const LOAD_UNKNOWN_SOURCE: &str = "LOAD_UNKNOWN_SOURCE";
    pub const LOAD_UNSAFE_NA_CHECK: &str = "LOAD_UNSAFE_NA_CHECK";
    pub const LOAD_NO_EVTTYPE: &str = "LOAD_NO_EVTTYPE";
    pub const LOAD_UNKNOWN_FILTER: &str = "LOAD_UNKNOWN_FILTER";
    pub const LOAD_UNUSED_MACRO: &str = "LOAD_UNUSED_MACRO";
    pub const LOAD_UNUSED_LIST: &str = "LOAD_UNUSED_LIST";
    pub const LOAD_UNKNOWN_ITEM: &str = "LOAD_UNKNOWN_ITEM";
    pub const LOAD_DEPRECATED_ITEM: &str = "LOAD_DEPRECATED_ITEM";
    pub const LOAD_WARNING_EXTENSION: &str = "LOAD_WARNING_EXTENSION";
    pub const LOAD_APPEND_NO_VALUES: &str = "LOAD_APPEND_NO_VALUES";
    pub const LOAD_EXCEPTION_NAME_NOT_UNIQUE: &str = "LOAD_EXCEPTION_NAME_NOT_UNIQUE";
    pub const LOAD_INVALID_MACRO_NAME: &str = "LOAD_INVALID_MACRO_NAME";
    pub const LOAD_INVALID_LIST_NAME: &str = "LOAD_INVALID_LIST_NAME";
    pub const LOAD_COMPILE_CONDITION: &str = "LOAD_COMPILE_CONDITION";
    pub const LOAD_UNKNOWN_KEY: &str = "LOAD_UNKNOWN_KEY";
}

/// Falco's short text for a code (`error_str` / `warning_str`; also what Falco's JSON puts
/// in `codedesc`).
pub fn code_str(code: &str) -> &'static str {
    use codes::*;
    match code {
        LOAD_ERR_FILE_READ => "File read error",
        LOAD_ERR_YAML_PARSE => "YAML parse error",
        LOAD_ERR_YAML_VALIDATE => "Error validating internal structure of YAML file",
        LOAD_ERR_COMPILE_CONDITION => "Error compiling condition",
        LOAD_ERR_COMPILE_OUTPUT => "Error compiling output",
        LOAD_ERR_VALIDATE => "Error validating rule/macro/list/exception objects",
        LOAD_ERR_EXTENSION => "Error in extension item",
        LOAD_UNKNOWN_SOURCE => "Unknown event source",
        LOAD_UNSAFE_NA_CHECK => "Unsafe <NA> comparison in condition",
        LOAD_NO_EVTTYPE => "Condition has no event-type restriction",
        LOAD_UNKNOWN_FILTER => "Unknown field or event-type in condition or output",
        LOAD_UNUSED_MACRO => "Unused macro",
        LOAD_UNUSED_LIST => "Unused list",
        LOAD_UNKNOWN_ITEM => "Unknown rules file item",
        LOAD_DEPRECATED_ITEM => "Used deprecated item",
        LOAD_WARNING_EXTENSION => "Warning in extension item",
        LOAD_APPEND_NO_VALUES => "Overriding/appending with no values",
        LOAD_EXCEPTION_NAME_NOT_UNIQUE => "Multiple exceptions defined with the same name",
        LOAD_INVALID_MACRO_NAME => "Invalid macro name",
        LOAD_INVALID_LIST_NAME => "Invalid list name",
        LOAD_COMPILE_CONDITION => "Warning in rule condition",
        LOAD_UNKNOWN_KEY => "Unknown key in item definition",
        _ => "Unknown code",
    }
}

/// Falco's `rule_loader::context::item_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    ValueFor,
    Exceptions,
    Exception,
    ExceptionValues,
    ExceptionValue,
    RulesContent,
    RulesContentItem,
    RequiredEngineVersion,
    RequiredPluginVersions,
    RequiredPluginVersionsEntry,
    RequiredPluginVersionsAlternative,
    List,
    ListItem,
    Macro,
    MacroCondition,
    Rule,
    RuleCondition,
    ConditionExpression,
    RuleOutput,
    RuleOutputExpression,
    RulePriority,
    Overrides,
    ExtensionItem,
}

impl ItemType {
    /// Falco's words (`item_type_strings`).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::ValueFor => "value for",
            ItemType::Exceptions => "exceptions",
            ItemType::Exception => "exception",
            ItemType::ExceptionValues => "exception values",
            ItemType::ExceptionValue => "exception value",
            ItemType::RulesContent => "rules content",
            ItemType::RulesContentItem => "rules content item",
            ItemType::RequiredEngineVersion => "required_engine_version",
            ItemType::RequiredPluginVersions => "required plugin versions",
            ItemType::RequiredPluginVersionsEntry => "required plugin versions entry",
            ItemType::RequiredPluginVersionsAlternative => "required plugin versions alternative",
            ItemType::List => "list",
            ItemType::ListItem => "list item",
            ItemType::Macro => "macro",
            ItemType::MacroCondition => "macro condition",
            ItemType::Rule => "rule",
            ItemType::RuleCondition => "rule condition",
            ItemType::ConditionExpression => "condition expression",
            ItemType::RuleOutput => "rule output",
            ItemType::RuleOutputExpression => "rule output expression",
            ItemType::RulePriority => "rule priority",
            ItemType::Overrides => "overrides",
            ItemType::ExtensionItem => "extension item",
        }
    }
}

/// One step of a diagnostic's context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub item_type: ItemType,
    /// `""` when the item has no name (yet).
    pub item_name: String,
    /// The file (display name as given to the loader).
    pub file: String,
    pub pos: Pos,
}

/// A chain of locations (outermost first), like Falco's `rule_loader::context`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    pub locs: Vec<Location>,
}

impl Context {
    /// The root context of a file: "rules content" at 0:0.
    pub fn file(name: &str) -> Context {
        Context {
            locs: vec![Location {
                item_type: ItemType::RulesContent,
                item_name: String::new(),
                file: name.to_string(),
                pos: Pos::default(),
            }],
        }
    }

    /// A child context.
    pub fn child(&self, item_type: ItemType, item_name: &str, pos: Pos) -> Context {
        let mut locs = self.locs.clone();
        let file = locs.last().map(|l| l.file.clone()).unwrap_or_default();
        locs.push(Location {
            item_type,
            item_name: item_name.to_string(),
            file,
            pos,
        });
        Context { locs }
    }

    /// A child context in another file (a macro referenced from a rule of another file).
    pub fn child_in(&self, file: &str, item_type: ItemType, item_name: &str, pos: Pos) -> Context {
        let mut c = self.child(item_type, item_name, pos);
        if let Some(l) = c.locs.last_mut() {
            l.file = file.to_string();
        }
        c
    }

    pub fn innermost(&self) -> Option<&Location> {
        self.locs.last()
    }

    /// The innermost named item (`rule 'x'`, `macro 'y'` ...), for summaries.
    pub fn item(&self) -> Option<&Location> {
        self.locs.iter().rev().find(|l| {
            matches!(
                l.item_type,
                ItemType::Rule
                    | ItemType::Macro
                    | ItemType::List
                    | ItemType::Exception
                    | ItemType::RequiredEngineVersion
                    | ItemType::RequiredPluginVersionsEntry
                    | ItemType::RulesContentItem
            )
        })
    }
}

/// One error or warning of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Falco's code, e.g. `LOAD_ERR_COMPILE_CONDITION`.
    pub code: &'static str,
    /// Falco's message text.
    pub message: String,
    /// Where, outermost first.
    pub context: Context,
    /// Falco-style snippet of the innermost location: the source line and a caret line,
    /// each ending with `\n`.
    pub snippet: String,
    /// Our explanation of a likely cause, when we have one (not part of Falco's text).
    pub hint: Option<String>,
    /// The file whose loading raised this diagnostic (Falco reports per loaded file).
    pub origin: String,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` of the innermost location (1-based).
    pub fn position_string(&self) -> String {
        match self.context.innermost() {
            Some(l) => format!("{}:{}:{}", l.file, l.pos.line + 1, l.pos.col + 1),
            None => self.origin.clone(),
        }
    }

    /// The verbose text of this diagnostic (see [`render_text`]).
    pub fn render(&self) -> String {
        let mut s = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(s, "{}: {}: {}", self.position_string(), sev, self.message);
        for (i, l) in self.context.locs.iter().enumerate() {
            s.push_str(if i == 0 { "In " } else { "    " });
            s.push_str(l.item_type.as_str());
            if !l.item_name.is_empty() {
                let _ = write!(s, " '{}'", l.item_name);
            }
            if l.item_type == ItemType::RulesContent && l.pos == Pos::default() {
                let _ = writeln!(s, ": ({})", l.file);
            } else {
                let _ = writeln!(s, ": ({}:{}:{})", l.file, l.pos.line + 1, l.pos.col + 1);
            }
        }
        s.push_str("------\n");
        s.push_str(&self.snippet);
        s.push_str("------\n");
        let _ = writeln!(
            s,
            "{} ({}): {}",
            self.code,
            code_str(self.code),
            self.message
        );
        if let Some(h) = &self.hint {
            let _ = writeln!(s, "hint: {h}");
        }
        s
    }

    /// Falco's JSON object for one error/warning (`code`, `codedesc`, `message`,
    /// `context.locations[]`, `context.snippet`), plus `hint` when we have one.
    pub fn to_json(&self) -> serde_json::Value {
        let locs: Vec<serde_json::Value> = self
            .context
            .locs
            .iter()
            .map(|l| {
                serde_json::json!({
                    "item_type": l.item_type.as_str(),
                    "item_name": l.item_name,
                    "position": {
                        "name": l.file,
                        "line": l.pos.line,
                        "column": l.pos.col,
                        "offset": l.pos.offset,
                    }
                })
            })
            .collect();
        let mut v = serde_json::json!({
            "code": self.code,
            "codedesc": code_str(self.code),
            "message": self.message,
            "context": { "locations": locs, "snippet": self.snippet },
        });
        if let (Some(h), Some(o)) = (&self.hint, v.as_object_mut()) {
            o.insert("hint".into(), serde_json::Value::String(h.clone()));
        }
        v
    }
}

/// Falco's snippet (`rule_loader::context::snippet`): the line holding `pos`, cut to
/// `width/2` characters on each side with `...`, and a caret line under the column.
pub fn snippet(src: &str, idx: &LineIndex, pos: Pos, width: usize) -> String {
    if src.is_empty() {
        return "<No context available>\n".into();
    }
    let mut pos = idx.pos(src, pos.offset);
    // A mark past the end of the content (or on a line break): step back like Falco.
    let line_text = idx.line_text(src, pos.line as usize);
    if line_text.is_empty() && pos.line > 0 && pos.offset >= src.len() {
        let prev = idx.line_text(src, pos.line as usize - 1);
        pos = Pos {
            offset: 0,
            line: pos.line - 1,
            col: prev.chars().count().saturating_sub(1) as u32,
        };
    }
    let line: Vec<char> = idx.line_text(src, pos.line as usize).chars().collect();
    if line.is_empty() {
        return "<No context available>\n".into();
    }
    let col = (pos.col as usize).min(line.len().saturating_sub(1));
    let half = width / 2;
    let from = col.saturating_sub(half);
    let to = (col + half).min(line.len().saturating_sub(1));
    let mut text: String = line[from..=to].iter().collect();
    if from > 0 {
        text.replace_range(
            ..text.char_indices().nth(3).map_or(text.len(), |x| x.0),
            "...",
        );
    }
    if to + 1 < line.len() {
        let n = text.chars().count();
        if n >= 3 {
            let cut = text.char_indices().nth(n - 3).map_or(0, |x| x.0);
            text.truncate(cut);
            text.push_str("...");
        }
    }
    // Tabs would shift the caret: render them as one space each.
    let text = text.replace('\t', " ");
    format!("{text}\n{}^\n", " ".repeat(col - from))
}

/// Summary of one loaded file's diagnostics: Falco's `name: Ok|Ok, with warnings|Invalid`.
pub fn file_status(name: &str, diags: &[&Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    if errors > 0 {
        format!("{name}: Invalid")
    } else if warnings > 0 {
        format!("{name}: Ok, with warnings")
    } else {
        format!("{name}: Ok")
    }
}

/// The verbose text form of all diagnostics, grouped per loaded file in load order, like
/// Falco's `as_verbose_string` (each diagnostic starts with `file:line:col: error|warning:`).
pub fn render_text(files: &[String], diags: &[Diagnostic]) -> String {
    let mut s = String::new();
    for f in files {
        let mine: Vec<&Diagnostic> = diags.iter().filter(|d| &d.origin == f).collect();
        s.push_str(&file_status(f, &mine));
        s.push('\n');
        let errors: Vec<&&Diagnostic> = mine.iter().filter(|d| d.is_error()).collect();
        let warnings: Vec<&&Diagnostic> = mine.iter().filter(|d| !d.is_error()).collect();
        if !errors.is_empty() {
            let _ = writeln!(s, "{} Errors:", errors.len());
            for d in errors {
                s.push_str(&d.render());
            }
        }
        if !warnings.is_empty() {
            if !mine.iter().all(|d| !d.is_error()) {
                s.push('\n');
            }
            let _ = writeln!(s, "{} Warnings:", warnings.len());
            for d in warnings {
                s.push_str(&d.render());
            }
        }
    }
    s
}

/// Falco's JSON validation output: `{"falco_load_results": [{name, successful, errors, warnings}]}`.
pub fn render_json(files: &[String], diags: &[Diagnostic]) -> serde_json::Value {
    let results: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let mine: Vec<&Diagnostic> = diags.iter().filter(|d| &d.origin == f).collect();
            let errors: Vec<serde_json::Value> = mine
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_json())
                .collect();
            let warnings: Vec<serde_json::Value> = mine
                .iter()
                .filter(|d| !d.is_error())
                .map(|d| d.to_json())
                .collect();
            serde_json::json!({
                "name": f,
                "successful": errors.is_empty(),
                "errors": errors,
                "warnings": warnings,
            })
        })
        .collect();
    serde_json::json!({ "falco_load_results": results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_caret_and_cut() {
        let src = "- rule: x\n  condition: a and b\n";
        let idx = LineIndex::new(src);
        let p = idx.pos(src, src.find("b\n").unwrap());
        assert_eq!(
            snippet(src, &idx, p, 160),
            "  condition: a and b\n                   ^\n"
        );
        let long = format!("x: {}\n", "y".repeat(300));
        let idx = LineIndex::new(&long);
        let p = idx.pos(&long, 200);
        let s = snippet(&long, &idx, p, 20);
        let first = s.lines().next().unwrap();
        assert!(first.starts_with("...") && first.ends_with("..."));
        assert_eq!(s.lines().nth(1).unwrap(), format!("{}^", " ".repeat(10)));
        // Past the end: no panic, points at the last line.
        let p = idx.pos(&long, long.len() + 10);
        assert!(snippet(&long, &idx, p, 160).contains('^'));
        assert_eq!(
            snippet("", &LineIndex::new(""), Pos::default(), 160),
            "<No context available>\n"
        );
    }

    #[test]
    fn render_forms() {
        let ctx = Context::file("r.yaml").child(
            ItemType::Rule,
            "r",
            Pos {
                offset: 2,
                line: 0,
                col: 2,
            },
        );
        let d = Diagnostic {
            severity: Severity::Error,
            code: codes::LOAD_ERR_VALIDATE,
            message: "Undefined macro 'bar' used in filter.".into(),
            context: ctx,
            snippet: "- rule: r\n  ^\n".into(),
            hint: None,
            origin: "r.yaml".into(),
        };
        let t = render_text(&["r.yaml".into()], std::slice::from_ref(&d));
        assert_eq!(
            t,
            "r.yaml: Invalid\n1 Errors:\nr.yaml:1:3: error: Undefined macro 'bar' used in filter.\n\
             In rules content: (r.yaml)\n    rule 'r': (r.yaml:1:3)\n------\n- rule: r\n  ^\n------\n\
             LOAD_ERR_VALIDATE (Error validating rule/macro/list/exception objects): Undefined macro 'bar' used in filter.\n"
        );
        let j = render_json(&["r.yaml".into()], &[d]);
        let e = &j["falco_load_results"][0]["errors"][0];
        assert_eq!(e["code"], "LOAD_ERR_VALIDATE");
        assert_eq!(e["context"]["locations"][1]["item_name"], "r");
        assert_eq!(e["context"]["locations"][1]["position"]["column"], 2);
        assert_eq!(j["falco_load_results"][0]["successful"], false);
    }
}

/// The text of every loaded file, to compute snippets for any location.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<(String, String, LineIndex)>,
}

impl Sources {
    pub fn add(&mut self, name: &str, text: &str) {
        if let Some(f) = self.files.iter_mut().find(|f| f.0 == name) {
            f.1 = text.to_string();
            f.2 = LineIndex::new(text);
        } else {
            self.files
                .push((name.to_string(), text.to_string(), LineIndex::new(text)));
        }
    }

    /// `(text, index)` of a file.
    pub fn get(&self, name: &str) -> Option<(&str, &LineIndex)> {
        self.files
            .iter()
            .find(|f| f.0 == name)
            .map(|f| (f.1.as_str(), &f.2))
    }

    /// Builds a diagnostic, computing the snippet of its innermost location.
    pub fn diagnostic(
        &self,
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
        context: Context,
        origin: &str,
    ) -> Diagnostic {
        let snippet = match context.innermost() {
            Some(l) => match self.get(&l.file) {
                Some((text, idx)) => snippet(text, idx, l.pos, SNIPPET_WIDTH),
                None => format!("<No context for file + {}>\n", l.file),
            },
            None => "<No context available>\n".into(),
        };
        Diagnostic {
            severity,
            code,
            message: message.into(),
            context,
            snippet,
            hint: None,
            origin: origin.to_string(),
        }
    }
}

/// Falco's default snippet width.
pub const SNIPPET_WIDTH: usize = 160;
