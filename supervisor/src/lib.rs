//! tiercel supervisor library: seccomp user notification handling, events, decisions,
//! outputs, the listenerPath server and the seccomp profile generator.

pub mod event;
// notify helper: seccomp notification loop, listenerPath server, decisions, outputs.
pub mod config;
pub mod decide;
pub mod engines;
pub mod keeper;
pub mod mem;
pub mod profile;
pub mod rate_limit;
pub mod server;
pub mod session;
pub mod sinks;
pub mod supervise;
pub mod sys;
