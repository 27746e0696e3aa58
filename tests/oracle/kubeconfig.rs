//! kubectl as an oracle for kubeconfig semantics. OWNER: issue 3 (kubeconfig). Stub.
fn main() {}
