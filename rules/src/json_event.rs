//! OWNER: compile/eval helper. STUB: an Event read from a JSON object keyed by field names as written (for `tiercel rules eval`).
