//! Spec load benchmark: load + merge + validate a generated 10,000-host fleet through
//! `bmfleet::spec::load::load_dir`, and measure peak memory.
//!
//! `cargo bench --bench spec_load` prints the figures and PASS/FAIL against the targets
//! (under 1 s, under 300 MB); it never fails on timings. `BMFLEET_BENCH_QUICK=1` generates
//! 1,000 hosts instead (CI's check mode). Peak RSS is read from `VmHWM` in a fresh child
//! process of this binary (`spec_load --child DIR`), so the generator and earlier runs do
//! not count. `spec_load --generate DIR [HOSTS]` writes the fleet and exits (for profiling
//! `spec_load --child DIR` under perf or valgrind).
//!
//! The fleet: one Fleet (credentials, rollout stages, defaults), the four profiles of
//! `examples/fleet` (compute includes linux-tuned), and racks of 100 hosts per file (80
//! compute, 16 storage, 4 DPU hosts) with labels, BMC endpoints, SSH addresses and per-host
//! overrides (VF counts, BIOS attributes, storage VLAN addresses, DPU BMCs, dependencies).

use bmfleet::spec::load::load_dir;

// The allocator of the `bmfleet` binary (src/main.rs), so the figures are the CLI's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TARGET_SECONDS: f64 = 1.0;
const TARGET_MB: f64 = 300.0;
const HOSTS_PER_FILE: usize = 100;
const RUNS: usize = 3;

const FLEET: &str = r#"apiVersion: bmfleet.dev/v1alpha1
kind: Fleet
metadata:
  name: bench
  labels:
    site: dc1
spec:
  credentials:
    bmc-default:
      description: Local BMC admin account on every host BMC
      usernameEnv: BMC_USERNAME
      passwordEnv: BMC_PASSWORD
    dpu-bmc:
      description: BlueField BMC account
      usernameEnv: DPU_BMC_USERNAME
      passwordEnv: DPU_BMC_PASSWORD
  rollout:
    maxUnavailable: "10%"
    partitionBy: rack
    maxFailures: 5
    stages:
      - name: canary
        selector: canary=true
      - name: first-row
        selector: row in (row0)
  concurrency:
    parallelism: 256
    perBmc: 2
  defaults:
    power: On
    boot:
      mode: UEFI
    bmc:
      credentialsRef: bmc-default
      systemId: System.Embedded.1
    os:
      ssh:
        user: ops
        identityFile: ~/.ssh/fleet_ed25519
      sysctl:
        net.core.somaxconn: 4096
        vm.swappiness: 10
    network:
      dns-resolver:
        config:
          server: [10.0.0.53, 10.0.1.53]
          search: [dc1.example.net]
"#;

const LINUX_TUNED: &str = r#"apiVersion: bmfleet.dev/v1alpha1
kind: Profile
metadata:
  name: linux-tuned
spec:
  os:
    tunables:
      transparentHugepages: never
      cpuGovernor: performance
      ksm: false
    sysfs:
      /sys/kernel/mm/transparent_hugepage/defrag: never
"#;

const COMPUTE: &str = r#"apiVersion: bmfleet.dev/v1alpha1
kind: Profile
metadata:
  name: compute
spec:
  profiles: [linux-tuned]
  bios:
    attributes:
      SriovGlobalEnable: Enabled
      ProcVirtualization: Enabled
      LogicalProc: Disabled
      SysProfile: PerfOptimized
  hardware:
    memory: 512Gi
    numaNodes: 2
    nics:
      ens1f0: {model: Intel E810-XXVDA2, maxVfs: 128, pciAddress: "0000:3b:00.0"}
      ens1f1: {model: Intel E810-XXVDA2, maxVfs: 128, pciAddress: "0000:3b:00.1"}
  os:
    kernelArgs: [intel_iommu=on, iommu=pt, isolcpus=4-31, nohz_full=4-31]
    hugepages:
      defaultSize: 1G
      pages:
        - {size: 1G, count: 32, node: 0}
        - {size: 1G, count: 32, node: 1}
        - {size: 2M, count: 1024}
    vfio:
      vfs:
        - {pf: ens1f0, ids: 0-7}
  network:
    interfaces:
      - name: ens1f0
        type: ethernet
        state: up
        mtu: 9000
        ethernet:
          sr-iov:
            total-vfs: 16
      - name: ens1f1
        type: ethernet
        state: up
        mtu: 9000
        ethernet:
          sr-iov:
            total-vfs: 16
  cloudInit:
    delivery: virtualMedia
    userData:
      file: cloud-init/compute/user-data
"#;

const STORAGE: &str = r#"apiVersion: bmfleet.dev/v1alpha1
kind: Profile
metadata:
  name: storage
spec:
  bios:
    attributes:
      ProcVirtualization: Disabled
      SysProfile: PerfOptimized
      MemOpMode: OptimizerMode
  hardware:
    memory: 256Gi
    numaNodes: 2
  os:
    kernelArgs: [intel_iommu=on]
    hugepages:
      defaultSize: 2M
      pages:
        - {size: 2M, count: 4096}
  network:
    interfaces:
      - {name: ens2f0, type: ethernet, state: up, mtu: 9000}
      - {name: ens2f1, type: ethernet, state: up, mtu: 9000}
      - name: bond0
        type: bond
        state: up
        mtu: 9000
        link-aggregation:
          mode: 802.3ad
          port: [ens2f0, ens2f1]
          options:
            miimon: 100
            lacp_rate: fast
            xmit_hash_policy: layer3+4
      - {name: bond0.100, type: vlan, state: up, mtu: 9000, vlan: {base-iface: bond0, id: 100}}
      - {name: bond0.200, type: vlan, state: up, mtu: 9000, vlan: {base-iface: bond0, id: 200}}
  cloudInit:
    delivery: virtualMedia
    userData:
      file: cloud-init/storage/user-data
"#;

const DPU: &str = r#"apiVersion: bmfleet.dev/v1alpha1
kind: Profile
metadata:
  name: dpu-host
spec:
  profiles: [linux-tuned]
  bios:
    attributes:
      SriovGlobalEnable: Enabled
      ProcVirtualization: Enabled
  hardware:
    memory: 384Gi
    numaNodes: 2
  dpu:
    mode: dpu
    bmc:
      credentialsRef: dpu-bmc
      systemId: Bluefield
    bios:
      attributes:
        HostPrivilegeLevel: Restricted
  os:
    kernelArgs: [intel_iommu=on, iommu=pt]
    hugepages:
      defaultSize: 1G
      pages:
        - {size: 1G, count: 64}
  cloudInit:
    delivery: ssh
    userData:
      file: cloud-init/dpu/user-data
"#;

const USER_DATA: &str = "#cloud-config
package_update: true
packages: [chrony, lvm2]
users:
  - name: ops
    groups: [sudo]
    shell: /bin/bash
    sudo: \"ALL=(ALL) NOPASSWD:ALL\"
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFleetOpsPublicKeyOnlyExample ops@dc1
";

/// `10.<net + i / 62,500>.x.y` for host number `i`: unique per `net` for any `i` below
/// 625,000 when the `net`s used are 10 apart (one /16 holds 62,500 hosts).
fn ip(net: usize, i: usize) -> String {
    format!("10.{}.{}.{}", net + i / 62_500, i / 250 % 250, i % 250 + 1)
}

/// Host `name`'s BMC (`-bmc`), DPU BMC (`-dpu-bmc`) or OS (`""`) address: a documentation
/// name (RFC 2606 `example.net`), unique because host names are, valid at any fleet size,
/// and resolving nowhere, so the generated fleet sends no traffic by accident.
fn dns_name(name: &str, suffix: &str) -> String {
    format!("{name}{suffix}.dc1.example.net")
}

/// Writes the fleet under `dir`; returns (hosts, files, bytes).
fn generate(dir: &Path, hosts: usize) -> (usize, usize, u64) {
    let write = |rel: &str, text: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("fleet.yaml", FLEET);
    write("profiles/linux-tuned.yaml", LINUX_TUNED);
    write("profiles/compute.yaml", COMPUTE);
    write("profiles/storage.yaml", STORAGE);
    write("profiles/dpu.yaml", DPU);
    for role in ["compute", "storage", "dpu"] {
        write(&format!("cloud-init/{role}/user-data"), USER_DATA);
    }
    let racks = hosts.div_ceil(HOSTS_PER_FILE);
    let mut n = 0;
    for rack in 0..racks {
        let mut text = format!("# Rack r{rack:03}: 80 compute, 16 storage, 4 DPU hosts.\n");
        for slot in 0..HOSTS_PER_FILE.min(hosts - n) {
            let i = n;
            n += 1;
            let (role, name) = match slot {
                0..80 => ("compute", format!("r{rack:03}-c{slot:02}")),
                80..96 => ("storage", format!("r{rack:03}-s{:02}", slot - 80)),
                _ => ("dpu", format!("r{rack:03}-d{:02}", slot - 96)),
            };
            let profile = if role == "dpu" { "dpu-host" } else { role };
            let _ = write!(
                text,
                "---\napiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata:\n  name: {name}\n  labels:\n    rack: r{rack:03}\n    row: row{}\n    role: {role}\n",
                rack / 10
            );
            if slot == 0 && rack < 2 {
                text.push_str("    canary: \"true\"\n");
            }
            let _ = write!(
                text,
                "spec:\n  profiles: [{profile}]\n  bmc:\n    endpoint: https://{}\n  os:\n    ssh:\n      host: {}\n",
                dns_name(&name, "-bmc"),
                dns_name(&name, "")
            );
            match role {
                "compute" if slot % 10 == 3 => text.push_str(
                    "  network:\n    interfaces:\n      - name: ens1f0\n        ethernet:\n          sr-iov:\n            total-vfs: 32\n",
                ),
                "compute" if slot % 25 == 7 => {
                    text.push_str("  bios:\n    attributes:\n      LogicalProc: Enabled\n");
                }
                "storage" => {
                    let _ = write!(
                        text,
                        "  network:\n    interfaces:\n      - name: bond0.100\n        ipv4:\n          enabled: true\n          address: [{{ip: {}, prefix-length: 16}}]\n      - name: bond0.200\n        ipv4:\n          enabled: true\n          address: [{{ip: {}, prefix-length: 16}}]\n",
                        ip(30, i),
                        ip(40, i)
                    );
                    if slot % 2 == 1 {
                        let _ = writeln!(text, "  dependsOn: [r{rack:03}-s{:02}]", slot - 81);
                    }
                }
                "dpu" => {
                    let _ = write!(text, "  dpu:\n    bmc:\n      endpoint: https://{}\n", dns_name(&name, "-dpu-bmc"));
                }
                _ => {}
            }
        }
        write(&format!("hosts/rack-r{rack:03}.yaml"), &text);
    }
    let mut files = 0;
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("read_dir").flatten() {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    (n, files, bytes)
}

/// Peak resident set size of this process so far, in kB (`VmHWM`).
fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `--child DIR`: one load in a fresh process, then print the peak RSS.
fn child(dir: &Path) {
    let before = vm_hwm_kb().unwrap_or(0);
    let fleet = load_dir(dir).expect("load");
    let after = vm_hwm_kb().unwrap_or(0);
    println!(
        "hosts={} before_kb={before} peak_kb={after}",
        fleet.hosts.len()
    );
    drop(fleet);
}

/// Parse-only split: read every YAML file and parse it (no schema check, merge or rules).
fn parse_only(dir: &Path) -> Duration {
    let start = Instant::now();
    let mut stack = vec![dir.to_path_buf()];
    let mut id = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("read_dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&path).expect("read");
                let docs = bmfleet::spec::yaml::parse(&text, id, usize::MAX).expect("parse");
                std::hint::black_box(docs);
                id += 1;
            }
        }
    }
    start.elapsed()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[pos + 1]));
        return;
    }
    if let Some(pos) = args.iter().position(|a| a == "--generate") {
        // For profiling: `spec_load --generate DIR [HOSTS]`, then `spec_load --child DIR`
        // under perf / valgrind.
        let n = args
            .get(pos + 2)
            .and_then(|h| h.parse().ok())
            .unwrap_or(10_000);
        let (hosts, files, bytes) = generate(Path::new(&args[pos + 1]), n);
        println!("generated {hosts} hosts in {files} files ({bytes} bytes)");
        return;
    }
    let quick = std::env::var_os("BMFLEET_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0");
    let hosts: usize = std::env::var("BMFLEET_BENCH_HOSTS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 10_000 });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let (hosts, files, bytes) = generate(dir, hosts);

    let mut times = Vec::new();
    let mut summary = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        let fleet = load_dir(dir).expect("load");
        times.push(start.elapsed());
        if summary.is_none() {
            let (errors, warnings) = fleet.counts();
            if errors > 0 {
                let first = &fleet.diagnostics[0];
                panic!(
                    "the generated fleet is invalid ({errors} errors), first: {} {} at {}",
                    first.code,
                    first.message,
                    first
                        .span
                        .map(|s| fleet.sources.location(s))
                        .unwrap_or_default()
                );
            }
            summary = Some((fleet.hosts.len(), fleet.document_count, warnings));
        }
        drop(fleet);
    }
    let (loaded, documents, warnings) = summary.expect("at least one run");
    assert_eq!(loaded, hosts, "every generated host loads");
    times.sort();
    let best = times[0];
    let median = times[times.len() / 2];
    let parse = parse_only(dir);

    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .arg("--child")
        .arg(dir)
        .output()
        .expect("spawn child");
    let line = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
    };
    let peak_mb = field("peak_kb=").map(|kb| kb / 1024.0);
    let base_mb = field("before_kb=").map(|kb| kb / 1024.0);

    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!("spec_load{}", if quick { " (quick mode)" } else { "" });
    println!("  hosts            {hosts}");
    println!("  documents        {documents} ({warnings} warnings)");
    println!(
        "  files            {files} ({} spec files of {HOSTS_PER_FILE} hosts)",
        hosts.div_ceil(HOSTS_PER_FILE)
    );
    println!("  bytes            {bytes} ({:.1} MB)", bytes as f64 / 1e6);
    println!(
        "  wall time        best {:.0} ms, median {:.0} ms of {RUNS} (read+parse alone {:.0} ms)",
        ms(best),
        ms(median),
        ms(parse)
    );
    match peak_mb {
        Some(mb) => println!(
            "  peak RSS         {mb:.0} MB (child process; {:.0} MB before loading)",
            base_mb.unwrap_or(0.0)
        ),
        None => println!("  peak RSS         unknown (no /proc/self/status)"),
    }
    println!(
        "  target time      < {TARGET_SECONDS} s: {} (best {:.3} s)",
        verdict(best.as_secs_f64() < TARGET_SECONDS),
        best.as_secs_f64()
    );
    if let Some(mb) = peak_mb {
        println!(
            "  target memory    < {TARGET_MB} MB: {} ({mb:.0} MB)",
            verdict(mb < TARGET_MB)
        );
    }
}
