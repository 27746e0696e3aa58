//! A test Kubernetes API server speaking the real wire format over HTTPS on 127.0.0.1.
//! OWNER: issue 3 (test API server). Stub.
