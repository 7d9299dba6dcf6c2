//! OS steps carried out (issue 8, item 5): plans made over sysroots seeded from the example
//! fleet with drift put in by hand, applied through the local transport, then planned again.
//! The sysroot records the commands a real host would run (`run/bmfleet/commands.log`) and
//! behaves like a kernel where the tests need it (EBUSY on a non-zero `sriov_numvfs` write,
//! a hugepage pool capped by `.kernel-max/...`).

use bmfleet::engine::{
    ExecuteOptions, HostOutcome, NullReporter, Provider, RefreshOptions, execute, refresh,
};
use bmfleet::os::provider::{OsProvider, local_transports};
use bmfleet::os::transport::Transport;
use bmfleet::plan::model::Step;
use bmfleet::plan::op::{HugepageTarget, Op};
use bmfleet::plan::{Plan, PlanOptions, plan};
use bmfleet::redfish::ClientOptions;
use bmfleet::redfish::provider::RedfishProvider;
use bmfleet::sim::from_spec::{Seeding, from_spec};
use bmfleet::sim::{SimHandle, SimServer, Timing};
use bmfleet::spec::{Host, LoadedFleet};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

const FLEET: &str = "examples/fleet";

fn hosts_of<'a>(fleet: &'a LoadedFleet, names: &[&str]) -> Vec<&'a Host> {
    fleet
        .hosts
        .iter()
        .filter(|h| names.contains(&h.name.as_str()))
        .collect()
}

async fn start_sim(hosts: &[&Host]) -> SimHandle {
    let (mut config, _) = from_spec(
        hosts,
        Seeding {
            seed: 3,
            drift_rate: 0.0,
            factory_rate: 0.0,
        },
    );
    config.timing = Timing::uniform(20);
    SimServer::start(config).await.unwrap()
}

fn providers(
    sim: &SimHandle,
    fleet: &LoadedFleet,
    hosts: &[&Host],
    roots: &BTreeMap<String, PathBuf>,
) -> Vec<Arc<dyn Provider>> {
    let targets = bmfleet::sim::targets::simulated_targets(sim, hosts, Path::new(FLEET));
    let client = ClientOptions {
        timeout: Duration::from_secs(10),
        retries: 1,
        backoff_base: Duration::from_millis(20),
        ..ClientOptions::default()
    };
    vec![
        Arc::new(RedfishProvider::new(targets, client).with_task_poll(Duration::from_millis(10))),
        Arc::new(
            OsProvider::new(local_transports(roots))
                .with_data_files(Arc::new(fleet.data_files.clone()))
                .with_poll(Duration::from_millis(10)),
        ),
    ]
}

async fn plan_now(fleet: &LoadedFleet, hosts: &[&Host], providers: &[Arc<dyn Provider>]) -> Plan {
    let result = refresh(
        hosts,
        &fleet.data_files,
        providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    )
    .await;
    plan(hosts, &result.observed, &PlanOptions::for_fleet(fleet))
}

/// Carries `plan` out on `hosts` (4 at once, fast polls).
async fn apply_now(
    plan: &Plan,
    hosts: &[&Host],
    fleet: &LoadedFleet,
    providers: &[Arc<dyn Provider>],
) -> bmfleet::engine::ApplyReport {
    execute(
        plan,
        hosts,
        &fleet.data_files,
        providers,
        &ExecuteOptions {
            parallelism: 4,
            poll_interval: Duration::from_millis(10),
            ..ExecuteOptions::default()
        },
        Arc::new(NullReporter),
    )
    .await
    .unwrap()
}

/// Sysroots of `hosts` under `dir`, seeded from their specs without drift.
fn seed(fleet: &LoadedFleet, hosts: &[&Host], dir: &Path) -> bmfleet::sim::os::Sysroots {
    let no_drift = Seeding {
        seed: 3,
        drift_rate: 0.0,
        factory_rate: 0.0,
    };
    bmfleet::sim::os::write_sysroots(hosts, &fleet.data_files, dir, no_drift).unwrap()
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    assert!(p.exists(), "{} is not in the seeded sysroot", p.display());
    fs::write(&p, text).unwrap();
}

fn read(root: &Path, rel: &str) -> String {
    fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn ops_of<'a>(plan: &'a Plan, host: &str) -> Vec<&'a Op> {
    plan.hosts
        .iter()
        .find(|h| h.name == host)
        .map(|h| h.steps.iter().map(|s| &s.op).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn os_drift_is_applied_through_the_local_transport_and_plans_to_no_changes() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let hosts = hosts_of(&fleet, &["r1-c01", "r1-d01"]);
    let tmp = tempfile::tempdir().unwrap();
    let seeded = seed(&fleet, &hosts, tmp.path());
    let c01 = seeded.roots["r1-c01"].clone();
    let d01 = seeded.roots["r1-d01"].clone();
    // Drift, as an operator's hand would leave it.
    write(&d01, "proc/sys/vm/swappiness", "60\n");
    write(
        &d01,
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always\n",
    );
    write(&c01, "sys/class/net/ens1f0/device/sriov_numvfs", "8\n");
    // VF 3 of ens1f0 unbound from vfio-pci (the spec binds VFs 0-7).
    let vf3 = fs::read_link(c01.join("sys/class/net/ens1f0/device/virtfn3")).unwrap();
    let vf3_pci = vf3.file_name().unwrap().to_string_lossy().to_string();
    fs::remove_file(c01.join("sys/class/net/ens1f0/device/virtfn3/driver")).unwrap();
    fs::remove_file(c01.join("sys/bus/pci/drivers/vfio-pci").join(&vf3_pci)).unwrap();
    let sim = start_sim(&hosts).await;
    let providers = providers(&sim, &fleet, &hosts, &seeded.roots);

    let first = plan_now(&fleet, &hosts, &providers).await;
    let d_ops = ops_of(&first, "r1-d01");
    let c_ops = ops_of(&first, "r1-c01");
    assert!(
        c_ops.iter().any(|o| matches!(o, Op::Vfio { persist: Some(f), .. } if f.path == "/etc/systemd/system/bmfleet-vfio.service")),
        "{c_ops:#?}"
    );
    let c_host = first.hosts.iter().find(|h| h.name == "r1-c01").unwrap();
    assert!(
        c_host
            .changes
            .iter()
            .any(|c| c.setting == "vfs.ens1f0"
                && c.before == Some(serde_json::json!("0,1,2,4,5,6,7"))),
        "{:#?}",
        c_host.changes
    );
    assert!(
        d_ops.iter().any(|o| matches!(o, Op::Sysctl { persist: Some(f), .. } if f.path == "/etc/sysctl.d/90-bmfleet.conf" && f.content.contains("vm.swappiness = 10\n") && f.content.contains("net.core.somaxconn = 4096\n"))),
        "{d_ops:#?}"
    );
    assert!(
        d_ops.iter().any(|o| matches!(o, Op::Tunables { writes, .. } if writes.get("/sys/kernel/mm/transparent_hugepage/enabled").map(String::as_str) == Some("never"))),
        "{d_ops:#?}"
    );
    assert!(
        c_ops.iter().any(|o| matches!(
            o,
            Op::SriovNumVfs {
                num_vfs: Some(16),
                persist: Some(_),
                ..
            }
        )),
        "{c_ops:#?}"
    );

    let all_hosts: Vec<&Host> = hosts.clone();
    let report = apply_now(&first, &all_hosts, &fleet, &providers).await;
    for h in &report.hosts {
        assert!(
            matches!(h.outcome, HostOutcome::Succeeded),
            "{}: {:?}\n{:#?}",
            h.host,
            h.outcome,
            h.steps
        );
    }
    // What was written, exactly as planned.
    assert_eq!(read(&d01, "proc/sys/vm/swappiness"), "10\n");
    assert_eq!(
        read(&d01, "sys/kernel/mm/transparent_hugepage/enabled"),
        "never\n"
    );
    let conf = read(&d01, "etc/sysctl.d/90-bmfleet.conf");
    assert!(conf.starts_with("# Written by bmfleet"), "{conf}");
    assert!(
        read(&d01, "etc/tmpfiles.d/bmfleet-tunables.conf")
            .contains("w /sys/kernel/mm/transparent_hugepage/enabled - - - - never\n")
    );
    assert_eq!(
        read(&c01, "sys/class/net/ens1f0/device/sriov_numvfs"),
        "16\n"
    );
    let unit = read(&c01, "etc/systemd/system/bmfleet-sriov-ens1f0.service");
    assert!(
        unit.contains("echo 0 > /sys/class/net/ens1f0/device/sriov_numvfs && echo 16 >"),
        "{unit}"
    );
    let log = read(&c01, "run/bmfleet/commands.log");
    assert!(
        log.contains("systemctl enable bmfleet-vfio.service"),
        "{log}"
    );
    assert!(
        c01.join("sys/bus/pci/drivers/vfio-pci")
            .join(&vf3_pci)
            .exists()
    );
    assert!(
        log.contains("systemctl enable bmfleet-sriov-ens1f0.service"),
        "{log}"
    );

    // Planned again: converged.
    let second = plan_now(&fleet, &hosts, &providers).await;
    for h in &second.hosts {
        assert!(!h.has_changes(), "{}: {:#?}", h.name, h.steps);
    }
    // And applying the first plan again is refused as stale, before any write.
    let again = apply_now(&first, &all_hosts, &fleet, &providers).await;
    assert_eq!(again.failed(), 2, "{again:#?}");
}

fn step(host: &str, kind: bmfleet::plan::resource::ResourceKind, op: Op) -> Step {
    Step {
        address: bmfleet::plan::address::Address::new(host, kind, None),
        kind,
        disruption: bmfleet::plan::resource::Disruption::None,
        op,
        precondition: None,
    }
}

#[tokio::test]
async fn a_hugepage_shortfall_fails_the_step_and_names_the_node() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let hosts = hosts_of(&fleet, &["r1-c01"]);
    let tmp = tempfile::tempdir().unwrap();
    let seeded = seed(&fleet, &hosts, tmp.path());
    let root = seeded.roots["r1-c01"].clone();
    let pool = "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages";
    fs::create_dir_all(root.join(".kernel-max").join(pool).parent().unwrap()).unwrap();
    fs::write(root.join(".kernel-max").join(pool), "100\n").unwrap();
    let transport = Transport::Local {
        sysroot: root.clone(),
    };
    let s = step(
        "r1-c01",
        bmfleet::plan::resource::ResourceKind::Hugepages,
        Op::Hugepages {
            settings: BTreeMap::new(),
            runtime: vec![
                HugepageTarget {
                    size_kb: 2048,
                    node: Some(0),
                    pages: 512,
                },
                HugepageTarget {
                    size_kb: 2048,
                    node: Some(1),
                    pages: 512,
                },
            ],
            boot_args: vec![],
            writer: None,
            persist: vec![],
        },
    );
    let err = bmfleet::os::write::apply_step(&transport, hosts[0], &fleet.data_files, &s)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("100 of 512 pages of 2048 kB on node 1"),
        "{msg}"
    );
    assert!(!msg.contains("on node 0"), "{msg}");
    assert!(err.outcome_unknown);
    assert_eq!(
        read(
            &root,
            "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
        ),
        "512\n"
    );
}

#[tokio::test]
async fn sriov_counts_go_through_zero_and_a_count_above_totalvfs_is_refused() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let hosts = hosts_of(&fleet, &["r1-c01"]);
    let tmp = tempfile::tempdir().unwrap();
    let seeded = seed(&fleet, &hosts, tmp.path());
    let root = seeded.roots["r1-c01"].clone();
    let transport = Transport::Local {
        sysroot: root.clone(),
    };
    let sriov = |n: u64| {
        let mut s = step(
            "r1-c01",
            bmfleet::plan::resource::ResourceKind::SrIov,
            Op::SriovNumVfs {
                pf: "ens1f0".into(),
                num_vfs: Some(n),
                vfs: serde_json::json!([{"id": 1, "mac-address": "02:00:00:00:01:01", "trust": true}]),
                total_vfs: None,
                persist: None,
            },
        );
        s.address.iface = Some("ens1f0".into());
        s
    };
    // 16 -> 12: 0 first (the kernel answers EBUSY to 16 -> 12 directly).
    let out = bmfleet::os::write::apply_step(&transport, hosts[0], &fleet.data_files, &sriov(12))
        .await
        .unwrap();
    assert!(out.detail.contains("sriov_numvfs 0; set"), "{}", out.detail);
    assert_eq!(
        read(&root, "sys/class/net/ens1f0/device/sriov_numvfs"),
        "12\n"
    );
    let log = read(&root, "run/bmfleet/commands.log");
    assert!(
        log.contains("ip link set dev ens1f0 vf 1 mac 02:00:00:00:01:01 trust on"),
        "{log}"
    );
    // Again: nothing to do.
    let out = bmfleet::os::write::apply_step(&transport, hosts[0], &fleet.data_files, &sriov(12))
        .await
        .unwrap();
    assert!(out.detail.contains("unchanged"), "{}", out.detail);
    // Above sriov_totalvfs: refused, nothing changed.
    let total: u64 = read(&root, "sys/class/net/ens1f0/device/sriov_totalvfs")
        .trim()
        .parse()
        .unwrap();
    let err =
        bmfleet::os::write::apply_step(&transport, hosts[0], &fleet.data_files, &sriov(total + 1))
            .await
            .unwrap_err();
    assert!(!err.outcome_unknown, "{err}");
    assert!(err.to_string().contains("sriov_totalvfs"), "{err}");
    assert_eq!(
        read(&root, "sys/class/net/ens1f0/device/sriov_numvfs"),
        "12\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_args_boot_hugepages_and_cloud_init_apply_on_the_reboot() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let hosts = hosts_of(&fleet, &["r1-d01"]);
    let tmp = tempfile::tempdir().unwrap();
    let seeded = seed(&fleet, &hosts, tmp.path());
    let d01 = seeded.roots["r1-d01"].clone();
    // Drift: iommu=pt gone from the GRUB file and the running kernel, half the 1G pages
    // missing, other user-data in the seed and in the instance.
    let grub = read(&d01, "etc/default/grub.d/60-bmfleet.cfg").replace(" iommu=pt", "");
    write(&d01, "etc/default/grub.d/60-bmfleet.cfg", &grub);
    let cmdline = read(&d01, "proc/cmdline").replace(" iommu=pt", "");
    write(&d01, "proc/cmdline", &cmdline);
    write(
        &d01,
        "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages",
        "32\n",
    );
    write(
        &d01,
        "var/lib/cloud/seed/nocloud/user-data",
        "#cloud-config\n{}\n",
    );
    write(
        &d01,
        "var/lib/cloud/instance/user-data.txt",
        "#cloud-config\n{}\n",
    );
    let sim = start_sim(&hosts).await;
    let providers = providers(&sim, &fleet, &hosts, &seeded.roots);
    let first = plan_now(&fleet, &hosts, &providers).await;
    let ops = ops_of(&first, "r1-d01");
    assert!(
        ops.iter().any(|o| matches!(o, Op::KernelArgs { writer: Some(w), file: Some(f), add, .. } if w == "grub.d" && f.path == "/etc/default/grub.d/90-bmfleet.cfg" && add == &["iommu=pt".to_string()])),
        "{ops:#?}"
    );
    assert!(
        ops.iter().any(|o| matches!(o, Op::Hugepages { boot_args, .. } if boot_args.join(" ") == "default_hugepagesz=1G hugepagesz=1G hugepages=64")),
        "{ops:#?}"
    );
    assert!(
        ops.iter().any(|o| matches!(o, Op::CloudInit { instance_id: Some(id), .. } if id.starts_with("iid-bmfleet-r1-d01-"))),
        "{ops:#?}"
    );
    assert!(
        ops.iter().any(|o| matches!(o, Op::Reset { .. })),
        "{ops:#?}"
    );
    assert!(
        ops.iter().any(|o| matches!(o, Op::AwaitOs { .. })),
        "{ops:#?}"
    );
    let report = apply_now(&first, &hosts, &fleet, &providers).await;
    let h = &report.hosts[0];
    assert!(
        matches!(h.outcome, HostOutcome::Succeeded),
        "{:?}\n{:#?}",
        h.outcome,
        h.steps
    );
    assert_eq!(h.resets, 1);
    assert!(read(&d01, "proc/cmdline").contains(" iommu=pt"));
    let log = read(&d01, "run/bmfleet/commands.log");
    assert!(log.contains("update-grub"), "{log}");
    let meta = read(&d01, "var/lib/cloud/seed/nocloud/meta-data");
    assert!(
        meta.starts_with("instance-id: iid-bmfleet-r1-d01-"),
        "{meta}"
    );
    let second = plan_now(&fleet, &hosts, &providers).await;
    assert!(
        !second.hosts[0].has_changes(),
        "{:#?}",
        second.hosts[0].steps
    );
}

#[tokio::test]
async fn a_kernel_path_outside_proc_sys_and_sys_is_refused_by_the_writer() {
    // A saved plan is a file: one edited by hand must not turn a sysctl into a write
    // elsewhere. (Validation refuses such keys in specs too: golden validate-sysctl_key.)
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let hosts = hosts_of(&fleet, &["r1-c01"]);
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("etc")).unwrap();
    let transport = Transport::Local {
        sysroot: tmp.path().to_path_buf(),
    };
    for key in ["net/../../../etc/passwd", "vm.swappiness/../../../../etc/x"] {
        let s = step(
            "r1-c01",
            bmfleet::plan::resource::ResourceKind::Sysctl,
            Op::Sysctl {
                values: [(key.to_string(), serde_json::json!(1))].into(),
                persist: None,
            },
        );
        let err = bmfleet::os::write::apply_step(&transport, hosts[0], &fleet.data_files, &s)
            .await
            .unwrap_err();
        assert!(!err.outcome_unknown, "{err}");
        assert!(err.to_string().contains("must not hold .."), "{err}");
    }
    assert!(!tmp.path().join("etc/passwd").exists());
}

#[test]
fn cloud_init_by_virtual_media_is_refused_before_any_host_is_touched() {
    use bmfleet::engine::Provider as _;
    let os = OsProvider::new(BTreeMap::new());
    let ci = |delivery: &str| {
        step(
            "r2-c03",
            bmfleet::plan::resource::ResourceKind::CloudInit,
            Op::CloudInit {
                documents: vec![],
                delivery: Some(delivery.into()),
                instance_id: None,
            },
        )
    };
    let why = os.supports(&ci("virtualMedia")).unwrap_err();
    assert!(why.contains("not carried out by this build"), "{why}");
    assert!(os.supports(&ci("ssh")).is_ok());
}
