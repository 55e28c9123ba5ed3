//! OWNER: compile/eval helper. STUB: evaluation of compiled filters.
