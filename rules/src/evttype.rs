//! Event types: Falco's event names (syscalls and meta events) as compact indices.
//! OWNER: compile/eval helper. STUB.

/// An index into the table of Falco event type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType(pub u16);

impl EventType {
    /// `open`, `openat`, `execve` ... ; `None` for a name Falco does not know.
    pub fn from_name(name: &str) -> Option<EventType> {
        let _ = name;
        None
    }

    pub fn name(self) -> &'static str {
        "unknown"
    }
}
