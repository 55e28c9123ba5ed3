//! tiercel supervisor library: seccomp user notification handling, events, decisions,
//! outputs, the listenerPath server and the seccomp profile generator.

pub mod event;
pub mod profile;
pub mod engines;
