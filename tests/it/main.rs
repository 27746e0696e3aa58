//! The one integration-test binary: runs the real `flux-operator-mcp` binary over pipes,
//! against the test API server in `tests/apiserver/`. Each area is a module.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
#[path = "apiserver.rs"]
mod apiserver_selftest;
mod kube_client;
mod support;
