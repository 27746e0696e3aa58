//! The binary: parse the command line, run the command, print one error, pick the exit code.

fn main() -> std::process::ExitCode {
    flux_operator_mcp::cli::main()
}
