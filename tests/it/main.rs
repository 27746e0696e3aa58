//! The one integration-test binary: runs the real `flux-operator-mcp` binary over pipes,
//! against the test API server in `tests/apiserver/`. Each area is a module.

#[path = "../apiserver/mod.rs"]
#[allow(dead_code)]
mod apiserver;
mod support;

// Areas, one module each.
#[path = "apiserver.rs"]
mod apiserver_selftest;
mod canary;
mod cancel;
mod check;
mod cli;
mod docs;
mod errors;
mod every_tool;
mod faults;
mod hardening;
mod http;
mod http_client;
mod http_load;
mod kube_client;
mod kubeconfig;
mod protocol;
mod read_tools;
mod resources;
mod round_trips;
mod sessions;
mod snapshot;
mod stdio_limits;
mod tidy;
mod tools;
mod verbatim;
mod verbs;
mod writes;
