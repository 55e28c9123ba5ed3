//! tiercel-rules: the Falco rules language.
//!
//! Pipeline, one module (and one set of types) per stage:
//!
//! 1. [`yaml`] / [`reader`]: YAML documents with positions → raw items (`list`, `macro`,
//!    `rule`, versions) with every key's position.
//! 2. [`collector`]: items across files → lists, macros and rules after redefinition,
//!    `append` and `override`, exceptions attached.
//! 3. [`parser`]: condition strings (lists substituted textually) → [`ast`] ([`text`]:
//!    quoted-string escaping, shared by both).
//! 4. [`loader`]: macro expansion on the AST, exceptions, visibility across files,
//!    diagnostics ([`diag`]); then [`compile`]: field names → typed extractors
//!    ([`fields`]), type/operator checks → [`compile::Filter`].
//! 5. [`program`] / [`eval`]: rules indexed by event type ([`evttype`]), evaluated
//!    against an [`event::Event`]; [`output`] renders Falco's text and JSON alerts.
//!    [`prefilter`]: whether any rule can match when only some fields are known (what a
//!    seccomp filter may leave in the kernel). [`fireable`]: which rules can never fire
//!    with an event source (event types it never decodes, fields it never serves).
//!    [`time`]: civil dates for time renderings. [`safe_text`]: container-controlled text
//!    made safe for line-oriented outputs.
//!
//! Pure: no I/O except reading rule files, no unsafe, no threads.

#![forbid(unsafe_code)]

pub mod ast;
pub mod collector;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod event;
pub mod evttype;
pub mod fields;
pub mod fireable;
pub mod json_event;
pub mod loader;
pub mod output;
pub mod parser;
pub mod prefilter;
pub mod priority;
pub mod program;
pub mod reader;
pub mod safe_text;
pub mod selection;
pub mod text;
pub mod time;
pub mod yaml;
