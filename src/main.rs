//! The binary: parse the command line, run the command, print one error, pick the exit code.

/// The static musl build allocates through mimalloc: musl's malloc gives freed pages back and
/// faults them in again, which made a 1,000-object list call take 1.7x the CPU of the glibc
/// build of the same code (figures in ARCHITECTURE.md, Dependencies).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    flux_operator_mcp::cli::main()
}
