//! The field registry: Falco's field names, types, argument rules, and whether a
//! syscall-entry (seccomp) source can serve each one.
//! OWNER: compile/eval helper. STUB: the enum grows to the full registry.

/// A field, resolved at compile time. Event sources match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    EvtType,
    FdName,
    ProcName,
    ProcCmdline,
}

/// Falco's field types (`ppm_param_type`), reduced to what matters for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// CHARBUF / FSPATH / FSRELPATH
    String,
    ByteBuf,
    Uint64,
    Int64,
    Bool,
    IpAddr,
    IpNet,
    Port,
    AbsTime,
    RelTime,
    Double,
}

/// Static description of one field.
#[derive(Debug)]
pub struct FieldInfo {
    pub field: Field,
    pub name: &'static str,
    pub ftype: FieldType,
    pub desc: &'static str,
}

/// Looks a field name up (without its argument).
pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    let _ = name;
    None
}
