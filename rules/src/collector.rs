//! OWNER: loader helper. STUB.
