//! client. OWNER: issue 3 (REST client). Stub.
