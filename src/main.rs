//! The `bmfleet` binary: everything lives in the library; see [`bmfleet::cli`].

// mimalloc: the refresh of thousands of BMCs is allocation-heavy (HTTP and JSON per request);
// glibc malloc's arena contention cost ~15% of wall time in `benches/plan_fleet.rs`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    bmfleet::cli::main()
}
