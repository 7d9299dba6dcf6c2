//! The `bmfleet` binary: everything lives in the library; see [`bmfleet::cli`].
fn main() -> std::process::ExitCode {
    bmfleet::cli::main()
}
