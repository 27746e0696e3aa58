//! The one integration-test binary: runs the real `flux-operator-mcp` binary over pipes,
//! against the test API server in `tests/apiserver/`. Each area is a module.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
mod support;

// Areas, one module each.
#[path = "apiserver.rs"]
mod apiserver_selftest;
mod check;
mod cli;
mod docs;
mod errors;
mod hardening;
mod kube_client;
mod kubeconfig;
mod protocol;
mod read_tools;
mod resources;
mod round_trips;
mod sessions;
mod tidy;
mod tools;
mod verbatim;
mod writes;
