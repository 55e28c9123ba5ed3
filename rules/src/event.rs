//! The boundary between the rules engine and whatever produces events.
//!
//! A compiled program never looks fields up by name: each field reference in a rule was
//! resolved at compile time to a [`Field`] (a closed enum from the registry) plus a
//! [`FieldArg`]. An event source (the supervisor's seccomp events, or the JSON events
//! of `tiercel rules eval`) implements [`Event`] and answers `extract` for those pairs.
//! Returning `None` means "this field has no value for this event" — Falco's missing
//! value, which makes every comparison on it false.

use std::borrow::Cow;
use std::net::IpAddr;

pub use crate::evttype::EventType;
pub use crate::fields::{Field, FieldArg};

/// A field value extracted from an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// CHARBUF / FSPATH / FSRELPATH strings.
    Str(Cow<'a, str>),
    /// BYTEBUF.
    Bytes(Cow<'a, [u8]>),
    /// Unsigned integers (UINT8..UINT64, PORT, FD numbers are I64).
    U64(u64),
    /// Signed integers (INT8..INT64, ERRNO, FD).
    I64(i64),
    Bool(bool),
    /// IPV4ADDR / IPV6ADDR / IPADDR.
    Ip(IpAddr),
    /// ABSTIME / RELTIME, nanoseconds.
    Time(u64),
    Double(f64),
    /// A list-valued field (`fd.types`, results of `join()`/`getopt()`).
    List(Vec<Value<'a>>),
}

impl<'a> Value<'a> {
    pub fn str(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(s.into())
    }
}

/// An event as seen by the rules engine.
pub trait Event {
    /// The event type (`openat`, `execve` ...), an index into [`crate::evttype`].
    fn event_type(&self) -> EventType;
    /// The value of `field[arg]` for this event, or `None` when it has none.
    fn extract(&self, field: Field, arg: &FieldArg) -> Option<Value<'_>>;
}
