//! The OS provider through the provider boundary: a probe of a fake root (the sysroot
//! fixtures, shaped like a Debian 12 guest) read through the local transport, turned into
//! observations and planned against a spec, with nmstate's rule that only what the spec sets
//! is compared.

use crate::plan_support::*;
use bmfleet::engine::{NullReporter, Provider, RefreshOptions, refresh};
use bmfleet::os::provider::{OsProvider, local_transports};
use bmfleet::plan::model::Action;
use bmfleet::plan::{Plan, PlanOptions, plan};
use bmfleet::spec::Host;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(case)
}

fn plan_os(h: &Host, case: &str) -> Plan {
    let roots = BTreeMap::from([(h.name.clone(), fixture(case))]);
    plan_with(h, vec![Arc::new(OsProvider::new(local_transports(&roots)))])
}

/// Refreshes `h` through `providers` and plans it.
fn plan_with(h: &Host, providers: Vec<Arc<dyn Provider>>) -> Plan {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(refresh(
        &[h],
        &Default::default(),
        &providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    ));
    plan(&[h], &result.observed, &PlanOptions::default())
}

fn bond_vlan_spec(mtu: u32, ports: Value) -> Host {
    host(
        "g1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [
                {"name": "bond0", "type": "bond", "state": "up", "mtu": mtu,
                 "link-aggregation": {"mode": "802.3ad", "port": ports,
                     "options": {"miimon": 100, "xmit_hash_policy": "layer3+4", "lacp_rate": "fast"}}},
                {"name": "bond0.100", "type": "vlan", "state": "up", "mtu": 9000,
                 "vlan": {"base-iface": "bond0", "id": 100},
                 "ipv4": {"enabled": true, "address": [{"ip": "192.0.2.10", "prefix-length": 24}]},
                 "ipv6": {"address": [{"ip": "2001:db8:100::10", "prefix-length": 64}]}},
                {"name": "enp1s0", "type": "ethernet", "state": "up", "mtu": 9000},
                {"name": "enp2s0", "type": "ethernet", "state": "up", "mac-address": "52:54:00:A1:00:02"}
            ]},
            "os": {"kernelArgs": ["quiet", "console=ttyS0,115200n8"]}
        })),
    )
}

#[test]
fn a_host_that_matches_its_spec_has_no_changes_and_nothing_unobserved() {
    // Ports in another order, a MAC in upper case, addresses beside fe80:: link-locals and
    // a cmdline with more arguments than the spec names: all the same state.
    let h = bond_vlan_spec(9000, json!(["enp2s0", "enp1s0"]));
    let p = plan_os(&h, "bond-vlan");
    let host = &p.hosts[0];
    assert!(host.error.is_none(), "{:?}", host.error);
    assert!(host.changes.is_empty(), "{:#?}", host.changes);
    assert!(host.unobserved.is_empty(), "{:?}", host.unobserved);
    assert!(
        host.unobserved_settings.is_empty(),
        "{:?}",
        host.unobserved_settings
    );
    assert_eq!(p.summary.observed, 5);
}

#[test]
fn drift_on_the_host_is_planned_with_its_disruption() {
    let mut h = bond_vlan_spec(1500, json!(["enp1s0", "enp2s0", "enp3s0"]));
    if let Some(os) = h.settings.os.as_mut() {
        os.kernel_args = Some(vec!["quiet".into(), "iommu=pt".into()]);
    }
    let p = plan_os(&h, "bond-vlan");
    let host = &p.hosts[0];
    let find = |addr: &str, key: &str| {
        host.changes
            .iter()
            .find(|c| c.address == addr && c.setting == key)
            .unwrap_or_else(|| panic!("no change {addr} {key}: {:#?}", host.changes))
    };
    let mtu = find("host/g1/network/bond0", "mtu");
    assert_eq!(
        (mtu.before.clone(), mtu.after.clone()),
        (Some(json!(9000)), Some(json!(1500)))
    );
    let ports = find("host/g1/network/bond0", "link-aggregation.port");
    assert_eq!(ports.before, Some(json!(["enp1s0", "enp2s0"])));
    let args = find("host/g1/os/kernel-args", "args");
    assert_eq!(args.before, Some(json!(["quiet"])));
    assert_eq!(args.action, Action::Update);
    assert!(
        args.reason.starts_with("kernel args: add iommu=pt;"),
        "{}",
        args.reason
    );
    assert_eq!(host.changes.len(), 3, "{:#?}", host.changes);
}

#[test]
fn settings_the_probe_cannot_read_are_listed_not_guessed() {
    let h = host(
        "g1",
        &[],
        &[],
        settings(json!({"network": {"interfaces": [
            {"name": "enp0s2", "type": "ethernet", "ipv4": {"dhcp": true},
             "ethernet": {"speed": 1000}}
        ]}})),
    );
    let p = plan_os(&h, "bond-vlan");
    let host = &p.hosts[0];
    assert!(host.changes.is_empty(), "{:#?}", host.changes);
    let keys: Vec<&str> = host
        .unobserved_settings
        .iter()
        .map(|u| u.setting.as_str())
        .collect();
    assert_eq!(keys, ["ethernet.speed", "ipv4.dhcp"]);
    assert_eq!(p.summary.unobserved_settings, 2);
    let text = bmfleet::render::plan_text::summary_line(&p);
    assert_eq!(
        text,
        "No changes in 1 observed resource; 2 settings not observed."
    );
}

#[test]
fn sr_iov_vf_count_and_per_node_hugepage_shortfall_from_the_fixtures() {
    let h = host(
        "g1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [{"name": "enp1s0", "type": "ethernet",
                "ethernet": {"sr-iov": {"total-vfs": 6}}}]}
        })),
    );
    let p = plan_os(&h, "sriov");
    let c = &p.hosts[0].changes;
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].setting, "total-vfs");
    assert_eq!(c[0].before, Some(json!(4)));
    assert_eq!(c[0].after, Some(json!(6)));
    let op = &p.hosts[0].steps[0].op;
    assert!(
        matches!(
            op,
            bmfleet::plan::op::Op::SriovNumVfs {
                num_vfs: Some(6),
                total_vfs: Some(7),
                persist: Some(_),
                ..
            }
        ),
        "{op:#?}"
    );

    // More VFs than the device offers (sriov_totalvfs 2, 8 asked): an error for the host
    // when planning, not a failed write later.
    let h = host(
        "g1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [{"name": "ens1f0", "type": "ethernet",
                "ethernet": {"sr-iov": {"total-vfs": 8}}}]}
        })),
    );
    let p = plan_os(&h, "sriov-short");
    let e = p.hosts[0].error.as_ref().expect("a host error");
    assert_eq!(e.code, "bmfleet::os::sriov_totalvfs");
    assert!(
        e.message.contains("at most 2 (sriov_totalvfs)"),
        "{}",
        e.message
    );
    assert!(p.hosts[0].steps.is_empty());

    // 1G pages: 4 on node 0 as asked, 2 of 4 on node 1 (fragmentation): the shortfall is a
    // change on that node, not hidden in the total.
    let h = host(
        "g1",
        &[],
        &[],
        settings(json!({"os": {"hugepages": {"defaultSize": "2M", "pages": [
            {"size": "1G", "count": 4, "node": 0},
            {"size": "1G", "count": 4, "node": 1},
            {"size": "2M", "count": 64}
        ]}}})),
    );
    let p = plan_os(&h, "hugepages-shortfall");
    let c = &p.hosts[0].changes;
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].setting, "pages.1G.node1");
    assert_eq!(
        (c[0].before.clone(), c[0].after.clone()),
        (Some(json!(2)), Some(json!(4)))
    );
    assert_eq!(p.hosts[0].unchanged, 3);
}

#[test]
fn a_host_without_iproute2_is_a_plan_time_error_for_that_host() {
    // An empty root: no `ip` output, as on a host without iproute2.
    let empty = tempfile::tempdir().unwrap();
    let h = bond_vlan_spec(9000, json!(["enp1s0", "enp2s0"]));
    let roots = BTreeMap::from([(h.name.clone(), empty.path().to_path_buf())]);
    let providers: Vec<Arc<dyn Provider>> =
        vec![Arc::new(OsProvider::new(local_transports(&roots)))];
    let p = plan_with(&h, providers);
    let e = p.hosts[0].error.as_ref().expect("an error");
    assert_eq!(e.code, "bmfleet::os::no_iproute2");
    assert!(e.help.contains("iproute2"), "{e:?}");
    assert!(p.hosts[0].steps.is_empty());
}

#[test]
fn a_host_with_no_known_network_stack_is_a_plan_time_error_for_its_network() {
    // The bond-vlan root without its systemd-networkd markers.
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("g");
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            fixture("bond-vlan").to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_dir_all(copy.join("run/systemd")).unwrap();
    let _ = std::fs::remove_dir_all(copy.join("usr/lib/systemd"));
    let h = bond_vlan_spec(9000, json!(["enp1s0", "enp2s0"]));
    let roots = BTreeMap::from([(h.name.clone(), copy)]);
    let providers: Vec<Arc<dyn Provider>> =
        vec![Arc::new(OsProvider::new(local_transports(&roots)))];
    let p = plan_with(&h, providers);
    let e = p.hosts[0].error.as_ref().expect("an error");
    assert_eq!(e.code, "bmfleet::os::unknown_network_stack", "{e:?}");
}

#[test]
fn an_ssh_host_that_refuses_the_connection_is_an_error_naming_it() {
    use bmfleet::os::transport::{SshTarget, Transport};
    let dir = tempfile::Builder::new()
        .prefix("bm")
        .tempdir_in("/tmp")
        .unwrap();
    let control = dir.path().join("c");
    OsProvider::prepare_control_dir(&control).unwrap();
    let mut t = SshTarget::new("127.0.0.1", &control);
    t.port = Some(1);
    t.config_file = Some(PathBuf::from("/dev/null"));
    let h = bond_vlan_spec(9000, json!(["enp1s0", "enp2s0"]));
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(OsProvider::new(BTreeMap::from([(
        h.name.clone(),
        Transport::Ssh(t),
    )])))];
    let p = plan_with(&h, providers);
    let e = p.hosts[0].error.as_ref().expect("an error");
    assert_eq!(e.code, "bmfleet::os::probe");
    assert!(e.endpoint.contains("127.0.0.1"), "{e:?}");
    assert!(
        e.message.contains("refused") || e.message.contains("ssh"),
        "{e:?}"
    );
}

#[test]
fn ssh_targets_come_from_the_spec_with_sudo_and_host_key_checking() {
    use bmfleet::os::provider::{SshOptions, ssh_transports};
    use bmfleet::os::transport::Transport;
    let h = host(
        "g1",
        &[],
        &[],
        settings(
            json!({"os": {"ssh": {"host": "g1.example.net", "port": 2222, "user": "ops", "sudo": true}}}),
        ),
    );
    let bare = host("g2", &[], &[], settings(json!({})));
    let opts = SshOptions {
        control_dir: PathBuf::from("/tmp/bm-test"),
        connect_timeout: std::time::Duration::from_secs(3),
        command_timeout: std::time::Duration::from_secs(30),
        config_file: None,
    };
    let t = ssh_transports(&[&h, &bare], &opts);
    assert_eq!(t.len(), 1, "a host without os.ssh.host gets no transport");
    let Transport::Ssh(target) = &t["g1"] else {
        panic!("not ssh")
    };
    assert!(target.sudo);
    let argv: Vec<String> = target
        .argv(&[])
        .unwrap()
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let line = argv.join(" ");
    assert!(line.contains("StrictHostKeyChecking=yes"), "{line}");
    assert!(line.contains("2222") && line.contains("ops"), "{line}");
    assert!(line.contains("sudo -n"), "{line}");
}
