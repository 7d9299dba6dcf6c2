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
//! runs N hosts (1,000 hosts a spec file, documentation-name endpoints unique at any size).
//! `BMFLEET_BENCH_PLAN_ONLY=1` times the pure planning step alone, against observed state
//! made up from the spec (no simulator, no HTTP).
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

/// Hosts per generated spec file: 1,000 hosts are about 0.2 MB, far under the loader's
/// per-file limit (`MAX_SPEC_FILE_BYTES`, 8 MiB), which a single file of 100,000 hosts
/// (about 20 MB) would exceed.
const HOSTS_PER_FILE: usize = 1_000;

/// Host number `i`'s name: unique for any `i` below 10^6 (`r0042-n004123`, 40 hosts a rack).
fn host_name(i: usize) -> String {
    format!("r{:04}-n{i:06}", i / 40 + 1)
}

/// Host number `i`'s BMC (`role` `bmc`) or DPU BMC (`dpu-bmc`) endpoint: a documentation
/// name (RFC 2606 `example.net`), unique for any `i` below 10^6 and valid, that resolves
/// nowhere (the bench points every host at the in-process simulator by name).
fn endpoint(i: usize, role: &str) -> String {
    format!("https://n{i:06}-{role}.example.net")
}

/// Writes the fleet under `dir`: `fleet.yaml` (Fleet and profiles) and `hosts/part-NNN.yaml`
/// files of [`HOSTS_PER_FILE`] hosts. Returns (spec files, largest file in bytes).
fn write_fleet(dir: &Path, hosts: usize) -> (usize, usize) {
    let fleet = "apiVersion: bmfleet.dev/v1alpha1\nkind: Fleet\nmetadata: {name: bench}\nspec:\n  credentials:\n    bmc: {}\n  defaults:\n    power: On\n    boot: {mode: UEFI}\n    bmc: {credentialsRef: bmc, systemId: System.Embedded.1}\n---\napiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {name: compute}\nspec:\n  bios:\n    attributes: {SriovGlobalEnable: Enabled, ProcVirtualization: Enabled, LogicalProc: Disabled, SysProfile: PerfOptimized}\n---\napiVersion: bmfleet.dev/v1alpha1\nkind: Profile\nmetadata: {name: dpu}\nspec:\n  dpu:\n    mode: dpu\n    bmc: {credentialsRef: bmc, systemId: Bluefield}\n";
    std::fs::write(dir.join("fleet.yaml"), fleet).unwrap();
    std::fs::create_dir_all(dir.join("hosts")).unwrap();
    let mut files = 1;
    let mut largest = fleet.len();
    for (part, start) in (0..hosts).step_by(HOSTS_PER_FILE).enumerate() {
        let mut text = String::new();
        for i in start..(start + HOSTS_PER_FILE).min(hosts) {
            let rack = i / 40 + 1;
            let dpu = i % 4 == 0;
            let profiles = if dpu { "[compute, dpu]" } else { "[compute]" };
            let _ = write!(
                text,
                "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata:\n  name: {}\n  labels: {{rack: r{rack:04}}}\nspec:\n  profiles: {profiles}\n  bmc: {{endpoint: {}}}\n",
                host_name(i),
                endpoint(i, "bmc")
            );
            if dpu {
                let _ = write!(
                    text,
                    "  dpu:\n    bmc: {{endpoint: {}}}\n",
                    endpoint(i, "dpu-bmc")
                );
            }
        }
        largest = largest.max(text.len());
        files += 1;
        std::fs::write(dir.join(format!("hosts/part-{part:04}.yaml")), text).unwrap();
    }
    assert!(
        largest as u64 <= bmfleet::spec::source::MAX_SPEC_FILE_BYTES,
        "a generated file ({largest} bytes) exceeds the spec-file size limit"
    );
    (files, largest)
}

async fn run(hosts_n: usize, parallelism: usize, latency_ms: u64) {
    let dir = tempfile::tempdir().unwrap();
    let (files, largest) = write_fleet(dir.path(), hosts_n);
    let t0 = Instant::now();
    let fleet = bmfleet::spec::load::load_dir(dir.path()).unwrap();
    assert!(!fleet.has_errors(), "{:?}", fleet.diagnostics.first());
    let load = t0.elapsed();
    let rss_load = peak_rss_mib();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    assert_eq!(hosts.len(), hosts_n, "every generated host loads");
    let mut endpoints = std::collections::HashSet::new();
    for h in &hosts {
        // Every BMC and DPU BMC endpoint is distinct (the generator must not run out).
        let bmc = h.settings.bmc.as_ref().and_then(|b| b.endpoint.clone());
        let dpu = h
            .settings
            .dpu
            .as_ref()
            .and_then(|d| d.bmc.as_ref())
            .and_then(|b| b.endpoint.clone());
        for e in bmc.into_iter().chain(dpu) {
            assert!(endpoints.insert(e.clone()), "duplicate endpoint {e}");
        }
    }
    let unique_endpoints = endpoints.len();
    drop(endpoints);
    let (mut config, _) = from_spec(&hosts, Seeding::default());
    config.faults.latency = Latency::fixed(latency_ms);
    config.faults.session_limit = 64;
    let sim = SimServer::start(config).await.unwrap();
    let targets = bmfleet::sim::targets::simulated_targets(&sim, &hosts, dir.path());
    let bmcs = targets.len() + targets.iter().filter(|t| t.dpu.is_some()).count();
    let opts = RefreshOptions {
        parallelism,
        deadline: None,
    };
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
    let rss_refresh = peak_rss_mib();
    let failed = result
        .observed
        .values()
        .filter(|h| h.first_error().is_some())
        .count();
    let t2 = Instant::now();
    let planned = bmfleet_bench_plan(&fleet, &result.observed);
    let plan_time = t2.elapsed();
    let rss_plan = peak_rss_mib();
    sim.shutdown().await;
    let total = t0.elapsed();
    let depth = 5.0; // sequential requests per BMC: login, system, Bios, settings object, logout
    let bound = depth * latency_ms as f64 / 1000.0 * hosts_n as f64 / parallelism as f64;
    println!(
        "hosts: {hosts_n} ({bmcs} BMCs), parallelism {parallelism}, latency {latency_ms} ms/request"
    );
    println!(
        "  spec: {files} files, largest {:.2} MB ({} unique BMC endpoints)",
        largest as f64 / 1e6,
        unique_endpoints
    );
    println!("  load+merge+validate: {:>8.3} s", load.as_secs_f64());
    println!(
        "  refresh (Redfish):   {:>8.3} s   ({failed} hosts failed)",
        refresh_time.as_secs_f64()
    );
    println!(
        "  plan (pure planning): {:>7.3} s   ({planned})",
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
    println!(
        "  peak RSS: {rss_load:.0} MiB after load, {rss_refresh:.0} MiB after refresh, {rss_plan:.0} MiB after plan, {:.0} MiB at the end",
        peak_rss_mib()
    );
}

/// Observed state made up from the spec, without the simulator or HTTP (for
/// `BMFLEET_BENCH_PLAN_ONLY`, to time and profile the pure planning step alone at any size):
/// every resource is read and matches the spec, except that every 3rd host has BIOS
/// `LogicalProc` drifted (a reboot), every 10th host is powered off, and every 7th has
/// `SysProfile` staged to another value.
fn synthetic_observed(
    hosts: &[&bmfleet::spec::Host],
    files: &bmfleet::plan::DataFiles,
) -> std::collections::BTreeMap<String, bmfleet::plan::observed::ObservedHost> {
    use bmfleet::plan::observed::{Observation, ObservedHost, ObservedValue};
    use serde_json::json;
    hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut o = ObservedHost::new(h.name.clone());
            for r in bmfleet::plan::flatten(h, files) {
                let mut obs = Observation::default();
                for (k, s) in &r.settings {
                    let mut v = ObservedValue {
                        current: Some(s.value.clone()),
                        pending: None,
                    };
                    match k.as_str() {
                        "LogicalProc" if i % 3 == 0 => v.current = Some(json!("Enabled")),
                        "PowerState" if i % 10 == 1 => v.current = Some(json!("Off")),
                        "SysProfile" if i % 7 == 2 => v.pending = Some(json!("PerfPerWatt")),
                        _ => {}
                    }
                    obs.values.insert(k.clone(), v);
                }
                obs.fingerprint.sha256 = format!("{i:064x}");
                obs.capabilities.apply_times = vec!["OnReset".into(), "Immediate".into()];
                obs.capabilities.reset_types =
                    vec!["On".into(), "ForceOff".into(), "GracefulRestart".into()];
                o.resources.insert(r.address.clone(), Ok(obs));
            }
            (h.name.clone(), o)
        })
        .collect()
}

/// `BMFLEET_BENCH_PLAN_ONLY=1`: load, make up the observed state, plan (best of 3).
fn plan_only(hosts_n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (files, largest) = write_fleet(dir.path(), hosts_n);
    let t0 = Instant::now();
    let fleet = bmfleet::spec::load::load_dir(dir.path()).unwrap();
    assert!(!fleet.has_errors(), "{:?}", fleet.diagnostics.first());
    let load = t0.elapsed();
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let observed = synthetic_observed(&hosts, &fleet.data_files);
    let mut times = Vec::new();
    let mut planned = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        planned = bmfleet_bench_plan(&fleet, &observed);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!("hosts: {hosts_n} (planning only, synthetic observed state)");
    println!(
        "  spec: {files} files, largest {:.2} MB; load {:.3} s",
        largest as f64 / 1e6,
        load.as_secs_f64()
    );
    println!(
        "  plan (pure planning): best {:.3} s, median {:.3} s of 3   ({planned})",
        times[0], times[1]
    );
    println!("  peak RSS: {:.0} MiB", peak_rss_mib());
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
    let plan_only_mode = std::env::var_os("BMFLEET_BENCH_PLAN_ONLY").is_some();
    for n in sizes {
        if plan_only_mode {
            plan_only(n);
            continue;
        }
        rt.block_on(run(n, parallelism, latency));
    }
}
