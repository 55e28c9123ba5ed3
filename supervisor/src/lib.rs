//! tiercel supervisor library: seccomp user notification handling, events, decisions,
//! outputs, the listenerPath server and the seccomp profile generator.

// The only `unsafe` of the workspace is in `sys` (each block with `// SAFETY:`).
#![deny(unsafe_code)]

pub mod event;
// notify helper: seccomp notification loop, listenerPath server, decisions, outputs.
pub mod config;
pub mod container_meta;
pub mod decide;
pub mod devices;
pub mod emulate;
pub mod engines;
pub mod keeper;
pub mod load;
pub mod logging;
pub mod mem;
pub mod metrics;
pub mod perform;
pub mod profile;
pub mod rate_limit;
pub mod response;
pub mod runtime_id;
pub mod schema;
pub mod server;
pub mod session;
pub mod settings;
pub mod sinks;
pub mod supervise;
#[allow(unsafe_code)]
pub mod sys;
pub mod tune;
pub mod web;
