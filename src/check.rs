//! `flux-operator-mcp check`: which kubeconfig, context, server and auth method are in use,
//! whether discovery works and Flux is installed. OWNER: issue 3. Stub.

use std::process::ExitCode;

use crate::tools::Settings;

pub fn run(_settings: &Settings) -> ExitCode {
    eprintln!("flux-operator-mcp: check is not implemented yet");
    ExitCode::from(1)
}
