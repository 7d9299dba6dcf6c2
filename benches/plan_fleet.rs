//! Benchmark: `plan` of 1,000 and 10,000 simulated hosts with 50 ms injected latency per
//! request (plain `fn main`, prints figures; targets are checked by eye and recorded in
//! BENCHMARKS.md, never asserted in tests).
//!
//! For each size it generates a fleet spec (one Fleet, a compute profile with BIOS
//! attributes, every 4th host with a BlueField DPU), loads it, seeds the simulator from it with
//! drift, refreshes every BMC through the real Redfish client over loopback HTTP, and runs the
//! planner. It prints wall time per phase, Redfish requests per host, peak RSS, and the bound
//! `chain depth x latency x hosts / parallelism`.
//!
//! `BMFLEET_BENCH_QUICK=1` runs 200 hosts only (CI's check mode); `BMFLEET_BENCH_HOSTS=N`
//! runs N hosts.
//! `BMFLEET_BENCH_PARALLELISM` (default 1024) and `BMFLEET_BENCH_LATENCY_MS` (default 50).

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bmfleet::engine::{NullReporter, RefreshOptions, refresh};
use bmfleet::sim::from_spec::{Seeding, from_spec};
use bmfleet::sim::{Latency, SimServer};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn write_fleet(dir: &Path, hosts: usize) {
    let fleet = "apiVersion: bmfleet.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n  credentials:\n    bmc: {}\n  defaults:\n    power: On\n    boot: {mode: UEFI}\n    bmc: {credentialsRef: bmc, systemId: System.Embedded.1}\n---\napiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {name: compute}\nspec:\n  bios:\n    attributes: {SriovGlobalEnable: Enabled, ProcVirtualization: Enabled, LogicalProc: Disabled, SysProfile: PerfOptimized}\n---\napiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {name: dpu}\nspec:\n  dpu:\n    mode: dpu\n    bmc: {credentialsRef: bmc, systemId: Bluefield}\n";
    std::fs::write(dir.join("fleet.yaml"), fleet).unwrap();
    let mut text = String::new();
    for i in 0..hosts {
        let rack = i / 40 + 1;
        let (a, b) = (i / 250, i % 250 + 1);
        let dpu = i % 4 == 0;
        let profiles = if dpu { "[compute, dpu]" } else { "[compute]" };
        let _ = write!(
            text,
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata:\n  name: r{rack}-n{i:05}\n  labels: {{rack: r{rack}}}\nspec:\n  profiles: {profiles}\n  bmc: {{endpoint: https://10.{}.{a}.{b}}}\n",
            100 + a / 250
        );
        if dpu {
            let _ = write!(
                text,
                "  dpu:\n    bmc: {{endpoint: https://10.{}.{a}.{b}}}\n",
                200 + a / 250
            );
        }
    }
    std::fs::write(dir.join("hosts.yaml"), text).unwrap();
}

async fn run(hosts_n: usize, parallelism: usize, latency_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    write_fleet(dir.path(), hosts_n);
    let t0 = Instant::now();
    let fleet = bmfleet::spec::load::load_dir(dir.path()).unwrap();
    assert!(!fleet.has_errors(), "{:?}", fleet.diagnostics.first());
    let load = t0.elapsed();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let (mut config, _) = from_spec(&hosts, Seeding::default());
    config.faults.latency = Latency::fixed(latency_ms);
    config.faults.session_limit = 64;
    let sim = SimServer::start(config).await.unwrap();
    let targets = bmfleet::sim::targets::simulated_targets(&sim, &hosts, dir.path());
    let bmcs = targets.len() + targets.iter().filter(|t| t.dpu.is_some()).count();
    let opts = RefreshOptions { parallelism };
    let t1 = Instant::now();
    let providers: Vec<Arc<dyn bmfleet::engine::Provider>> = vec![Arc::new(
        bmfleet::redfish::provider::RedfishProvider::new(targets, Default::default()),
    )];
    let result = refresh(
        &hosts,
        &fleet.data_files,
        &providers,
        &opts,
        Arc::new(NullReporter),
    )
    .await;
    let refresh_time = t1.elapsed();
    let failed = result
        .observed
        .values()
        .filter(|h| h.first_error().is_some())
        .count();
    let t2 = Instant::now();
    let planned = bmfleet_bench_plan(&fleet, &result.observed);
    let plan_time = t2.elapsed();
    sim.shutdown().await;
    let total = t0.elapsed();
    let depth = 5.0; // sequential requests per BMC: login, system, Bios, settings object, logout
    let bound = depth * latency_ms as f64 / 1000.0 * hosts_n as f64 / parallelism as f64;
    println!(
        "hosts: {hosts_n} ({bmcs} BMCs), parallelism {parallelism}, latency {latency_ms} ms/request"
    );
    println!("  load+merge+validate: {:>8.3} s", load.as_secs_f64());
    println!(
        "  refresh (Redfish):   {:>8.3} s   ({failed} hosts failed)",
        refresh_time.as_secs_f64()
    );
    println!(
        "  plan:                {:>8.3} s   ({planned})",
        plan_time.as_secs_f64()
    );
    println!("  total wall time:     {:>8.3} s", total.as_secs_f64());
    println!(
        "  requests: {} in all, {:.2} per host, {:.2} per BMC",
        result.requests,
        result.requests as f64 / hosts_n as f64,
        result.requests as f64 / bmcs as f64
    );
    println!(
        "  bound (depth {depth} x {latency_ms} ms x {hosts_n} / {parallelism}): {bound:.3} s; refresh / bound = {:.2}",
        refresh_time.as_secs_f64() / bound
    );
    println!("  peak RSS so far: {:.0} MiB", peak_rss_mib());
}

fn bmfleet_bench_plan(
    fleet: &bmfleet::spec::LoadedFleet,
    observed: &std::collections::BTreeMap<String, bmfleet::plan::observed::ObservedHost>,
) -> String {
    let opts = bmfleet::plan::PlanOptions::for_fleet(fleet);
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let plan = bmfleet::plan::plan(&hosts, observed, &opts);
    let text = bmfleet::render::plan_text::summary_line(&plan);
    format!("{} hosts observed; {text}", observed.len())
}

fn main() {
    let quick = std::env::var_os("BMFLEET_BENCH_QUICK").is_some();
    let parallelism = std::env::var("BMFLEET_BENCH_PARALLELISM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let latency = std::env::var("BMFLEET_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let custom: Option<usize> = std::env::var("BMFLEET_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok());
    let sizes: Vec<usize> = match (custom, quick) {
        (Some(n), _) => vec![n],
        (None, true) => vec![200],
        (None, false) => vec![1_000, 10_000],
    };
    for n in sizes {
        rt.block_on(run(n, parallelism, latency));
    }
}
