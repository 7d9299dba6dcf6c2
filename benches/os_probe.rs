//! Benchmark: the OS probe (`src/os/probe.sh`) over 1,000 simulated hosts through the `local`
//! transport, and over 200 hosts' worth of SSH sessions to a real sshd on 127.0.0.1 (plain
//! `fn main`, prints figures; recorded in BENCHMARKS.md, never asserted in tests).
//!
//! Local: generates a fleet modelled on `examples/fleet` (its fleet.yaml, profiles and
//! cloud-init files; racks of 80 compute, 16 storage and 4 DPU hosts), loads it, writes one
//! sysroot per host with `bmfleet::sim::os::write_sysroots` (default seeding, so some hosts
//! drift), and probes every sysroot through `Transport::Local` with bounded parallelism.
//!
//! SSH (only when `BMFLEET_SSHD_CONFIG` and `BMFLEET_SSHD_HOST` are set, as `.ci/test` does;
//! otherwise skipped with a note): each of 200 "hosts" gets its own control directory, so its
//! first probe opens a new multiplexed connection (connect, key exchange, authentication,
//! probe: the per-host cost of a run), and a second probe over that master shows the cost
//! of every further script. The probe reads this machine's real /proc and /sys.
//!
//! Prints hosts/s, p50/p99 per host and peak RSS (`VmHWM`). `BMFLEET_BENCH_QUICK=1` runs 100
//! local and 20 SSH hosts (CI's check mode); `BMFLEET_BENCH_HOSTS=N` and
//! `BMFLEET_BENCH_SSH_HOSTS=N` set the counts; `BMFLEET_BENCH_PARALLELISM` (default 8) bounds
//! concurrent probes.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use bmfleet::os::probe::{ProbeRequest, run_probe};
use bmfleet::os::transport::{SshTarget, Transport};
use bmfleet::sim::from_spec::Seeding;
use bmfleet::sim::os::write_sysroots;
use futures::StreamExt;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The example fleet's fleet.yaml, profiles and cloud-init files, with `hosts` generated
/// hosts (80 compute, 16 storage with VLAN addresses, 4 DPU hosts per rack of 100).
fn write_fleet(dir: &Path, hosts: usize) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fleet");
    std::fs::copy(example.join("fleet.yaml"), dir.join("fleet.yaml")).unwrap();
    copy_tree(&example.join("profiles"), &dir.join("profiles"));
    copy_tree(&example.join("cloud-init"), &dir.join("cloud-init"));
    let mut text = String::new();
    for i in 0..hosts {
        let (rack, slot) = (i / 100, i % 100);
        let (role, profile) = match slot {
            0..80 => ("c", "compute"),
            80..96 => ("s", "storage"),
            _ => ("d", "dpu-host"),
        };
        let _ = write!(
            text,
            "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata:\n  name: r{rack:03}-{role}{slot:02}\n  labels: {{rack: r{rack:03}, canary: \"{}\"}}\nspec:\n  profiles: [{profile}]\n  bmc:\n    endpoint: https://10.10.{}.{}\n",
            i == 0,
            i / 250,
            i % 250 + 1
        );
        if role == "d" {
            let _ = write!(
                text,
                "  dpu:\n    bmc:\n      endpoint: https://10.11.{}.{}\n",
                i / 250,
                i % 250 + 1
            );
        }
        if role == "s" {
            let _ = write!(
                text,
                "  network:\n    interfaces:\n      - name: bond0.100\n        ipv4:\n          enabled: true\n          address: [{{ip: 10.30.{}.{}, prefix-length: 16}}]\n",
                i / 250,
                i % 250 + 1
            );
        }
    }
    std::fs::create_dir_all(dir.join("hosts")).unwrap();
    std::fs::write(dir.join("hosts/generated.yaml"), text).unwrap();
}

struct Stats {
    wall: Duration,
    per_host: Vec<Duration>,
    failed: usize,
}

impl Stats {
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.per_host.clone();
        v.sort();
        if v.is_empty() {
            return 0.0;
        }
        let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
        v[i].as_secs_f64() * 1000.0
    }

    fn print(&self, label: &str) {
        let n = self.per_host.len();
        println!(
            "  {label}: {n} hosts in {:.3} s = {:.1} hosts/s; per host p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {} failed",
            self.wall.as_secs_f64(),
            n as f64 / self.wall.as_secs_f64(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(1.0),
            self.failed
        );
    }
}

/// Probes every transport with at most `parallelism` at once.
/// A probe failed when it could not run or parse, or when a sysroot probe names issues (a
/// simulated host has everything its spec names).
async fn probe_all(jobs: Vec<(Transport, ProbeRequest)>, parallelism: usize) -> Stats {
    let t0 = Instant::now();
    let results: Vec<(Duration, bool)> = futures::stream::iter(jobs)
        .map(|(t, request)| async move {
            let start = Instant::now();
            let r = run_probe(&t, &request).await;
            if let Ok(p) = &r
                && p.sysroot
                && let Some(e) = p.errors.first()
            {
                eprintln!("{}: probe issue: {e}", t.host_label());
            }
            if let Err(e) = &r {
                eprintln!("probe failed: {e}");
            }
            let ok = r.is_ok_and(|p| p.errors.is_empty() || !p.sysroot);
            (start.elapsed(), ok)
        })
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    Stats {
        wall: t0.elapsed(),
        failed: results.iter().filter(|(_, ok)| !ok).count(),
        per_host: results.into_iter().map(|(d, _)| d).collect(),
    }
}

async fn local(hosts_n: usize, parallelism: usize) {
    let dir = tempfile::tempdir().unwrap();
    let fleet_dir = dir.path().join("fleet");
    std::fs::create_dir_all(&fleet_dir).unwrap();
    write_fleet(&fleet_dir, hosts_n);
    let fleet = bmfleet::spec::load::load_dir(&fleet_dir).unwrap();
    let errors: Vec<_> = fleet
        .diagnostics
        .iter()
        .filter(|d| d.severity == bmfleet::spec::diagnostic::Severity::Error)
        .map(|d| &d.message)
        .collect();
    assert!(
        errors.is_empty(),
        "the generated fleet is invalid: {errors:?}"
    );
    let hosts: Vec<&bmfleet::spec::Host> = fleet.hosts.iter().collect();
    let t0 = Instant::now();
    let roots = write_sysroots(
        &hosts,
        &fleet.data_files,
        &dir.path().join("sysroots"),
        Seeding::default(),
    )
    .unwrap();
    let write_time = t0.elapsed();
    // What a provider asks for: the sysctl and sysfs keys each host's spec names.
    let jobs: Vec<(Transport, ProbeRequest)> = hosts
        .iter()
        .map(|h| {
            let os = h.settings.os.as_ref();
            let request = ProbeRequest {
                sysctl: os
                    .map(|o| o.sysctl.keys().cloned().collect())
                    .unwrap_or_default(),
                sysfs: os
                    .map(|o| o.sysfs.keys().cloned().collect())
                    .unwrap_or_default(),
            };
            let sysroot = roots.roots[&h.name].clone();
            (Transport::Local { sysroot }, request)
        })
        .collect();
    println!(
        "local transport: {hosts_n} simulated hosts, parallelism {parallelism}, {} with drift",
        roots.drift.len()
    );
    println!(
        "  write_sysroots: {:.3} s ({:.2} ms per host)",
        write_time.as_secs_f64(),
        write_time.as_secs_f64() * 1000.0 / hosts_n as f64
    );
    let stats = probe_all(jobs, parallelism).await;
    stats.print("probe (local)");
    println!("  peak RSS so far: {:.0} MiB", peak_rss_mib());
}

async fn ssh(config: PathBuf, host: String, hosts_n: usize, parallelism: usize) {
    let request = ProbeRequest {
        sysctl: vec!["kernel.hostname".into(), "vm.swappiness".into()],
        sysfs: vec![],
    };
    let dirs: Vec<tempfile::TempDir> = (0..hosts_n)
        .map(|_| {
            tempfile::Builder::new()
                .prefix("bmb")
                .tempdir_in("/tmp")
                .unwrap()
        })
        .collect();
    let jobs: Vec<(Transport, ProbeRequest)> = dirs
        .iter()
        .map(|d| {
            let mut t = SshTarget::new(host.clone(), d.path().join("c"));
            t.config_file = Some(config.clone());
            (Transport::Ssh(t), request.clone())
        })
        .collect();
    println!(
        "ssh transport: {hosts_n} hosts (each its own connection) to sshd on 127.0.0.1 (same machine), parallelism {parallelism}"
    );
    let first = probe_all(jobs.clone(), parallelism).await;
    first.print("first probe (new connection + probe)");
    let second = probe_all(jobs, parallelism).await;
    second.print("second probe (multiplexed master)");
    println!("  peak RSS so far: {:.0} MiB", peak_rss_mib());
    // Stop the masters (ControlPersist would keep them for a minute).
    for d in &dirs {
        let _ = std::process::Command::new("ssh")
            .arg("-F")
            .arg(&config)
            .arg("-o")
            .arg(format!("ControlPath={}/c/%C", d.path().display()))
            .args(["-O", "exit", &host])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

fn main() {
    let quick = std::env::var_os("BMFLEET_BENCH_QUICK").is_some();
    let parallelism = env_usize("BMFLEET_BENCH_PARALLELISM").unwrap_or(8);
    let local_n = env_usize("BMFLEET_BENCH_HOSTS").unwrap_or(if quick { 100 } else { 1_000 });
    let ssh_n = env_usize("BMFLEET_BENCH_SSH_HOSTS").unwrap_or(if quick { 20 } else { 200 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(local(local_n, parallelism));
    let config = std::env::var_os("BMFLEET_SSHD_CONFIG").map(PathBuf::from);
    let host = std::env::var("BMFLEET_SSHD_HOST").ok();
    match (config, host) {
        (Some(config), Some(host)) if config.is_file() => {
            rt.block_on(ssh(config, host, ssh_n, parallelism));
        }
        _ => println!(
            "ssh transport: SKIPPED (BMFLEET_SSHD_CONFIG/BMFLEET_SSHD_HOST unset: run under \
             .ci/test's sshd peer, e.g. the block in .ci/test, to measure it)"
        ),
    }
}
