//! Command-line flags (lexopt), help text and version; turns argv into a `Command`.
//! OWNER: issue 2 (MCP core). Stub.

use std::process::ExitCode;

pub fn main() -> ExitCode {
    eprintln!("flux-operator-mcp: not implemented yet");
    ExitCode::from(1)
}
