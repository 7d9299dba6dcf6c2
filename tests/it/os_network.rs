//! Network writes (issue 8 items 5 and 6): the files and commands each backend's writer
//! renders at plan time for a bond, a VLAN on the bond and an ethernet with MTU and
//! addresses; the plan recording the backend the OS provider chose; and the executor over a
//! copy of a sysroot fixture: files, modes, the command log, idempotency, and the lock-out
//! protection (a change to the SSH session's interface is confirmed over a new connection,
//! and rolled back when none succeeds).

use crate::plan_support::*;
use bmfleet::engine::{NullReporter, Provider, RefreshOptions, refresh};
use bmfleet::os::network::{COMMAND_LOG, SSH_CONNECTION_FILE, apply};
use bmfleet::os::provider::{OsProvider, local_transports};
use bmfleet::os::transport::{FAIL_FRESH_CONNECTION, Transport};
use bmfleet::plan::network::{NetworkBackend, NetworkWrite, render};
use bmfleet::plan::op::Op;
use bmfleet::plan::{Plan, PlanOptions, Step, plan};
use bmfleet::spec::Host;
use bmfleet::spec::model::NetworkSpec;
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn spec() -> Host {
    host(
        "g1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [
                {"name": "bond0", "type": "bond", "state": "up", "mtu": 9000,
                 "link-aggregation": {"mode": "802.3ad", "port": ["enp1s0", "enp2s0"],
                     "options": {"miimon": 100, "xmit_hash_policy": "layer3+4", "lacp_rate": "fast"}}},
                {"name": "bond0.100", "type": "vlan", "state": "up", "mtu": 9000,
                 "vlan": {"base-iface": "bond0", "id": 100},
                 "ipv4": {"enabled": true, "address": [{"ip": "192.0.2.10", "prefix-length": 24}]},
                 "ipv6": {"address": [{"ip": "2001:db8:100::10", "prefix-length": 64}]}},
                {"name": "enp1s0", "type": "ethernet", "state": "up", "mtu": 9000},
                {"name": "enp2s0", "type": "ethernet", "state": "up", "mtu": 9000},
                {"name": "enp3s0", "type": "ethernet", "mtu": 1500,
                 "ipv4": {"enabled": true, "address": [{"ip": "198.51.100.7", "prefix-length": 24}]}}
            ]}
        })),
    )
}

fn net() -> NetworkSpec {
    spec().settings.network.clone().unwrap()
}

fn w(backend: NetworkBackend, iface: &str) -> NetworkWrite {
    render(backend, &net(), iface, false, 120).unwrap()
}

fn paths(w: &NetworkWrite) -> Vec<&str> {
    w.files.iter().map(|f| f.path.as_str()).collect()
}

fn content<'a>(w: &'a NetworkWrite, path: &str) -> &'a str {
    &w.files.iter().find(|f| f.path == path).unwrap().content
}

fn cmds(c: &[Vec<String>]) -> Vec<String> {
    c.iter().map(|c| c.join(" ")).collect()
}

const HEAD: &str = "Written by bmfleet for interface";

#[test]
fn networkd_renders_netdevs_networks_ports_and_the_vlan_on_its_base() {
    let b = w(NetworkBackend::SystemdNetworkd, "bond0");
    assert_eq!(
        paths(&b),
        [
            "/etc/systemd/network/10-bmfleet-bond0.netdev",
            "/etc/systemd/network/10-bmfleet-bond0.network",
            "/etc/systemd/network/10-bmfleet-enp1s0.network",
            "/etc/systemd/network/10-bmfleet-enp2s0.network",
        ]
    );
    assert!(b.files.iter().all(|f| f.mode == "0644"));
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    assert_eq!(
        body(content(&b, "/etc/systemd/network/10-bmfleet-bond0.netdev")),
        "[NetDev]\nName=bond0\nKind=bond\n\n[Bond]\nMode=802.3ad\nLACPTransmitRate=fast\nMIIMonitorSec=100ms\nTransmitHashPolicy=layer3+4\n"
    );
    assert_eq!(
        body(content(&b, "/etc/systemd/network/10-bmfleet-bond0.network")),
        "[Match]\nName=bond0\n\n[Link]\nMTUBytes=9000\n\n[Network]\nVLAN=bond0.100\n"
    );
    assert_eq!(
        body(content(
            &b,
            "/etc/systemd/network/10-bmfleet-enp1s0.network"
        )),
        "[Match]\nName=enp1s0\n\n[Link]\nMTUBytes=9000\n\n[Network]\nBond=bond0\n"
    );
    assert!(
        content(&b, "/etc/systemd/network/10-bmfleet-bond0.netdev")
            .starts_with(&format!("# {HEAD} bond0"))
    );
    assert_eq!(
        cmds(&b.activate),
        [
            "networkctl reload",
            "networkctl reconfigure bond0 enp1s0 enp2s0"
        ]
    );
    assert_eq!(b.touches, ["bond0", "enp1s0", "enp2s0"]);
    assert_eq!(b.rollback_timeout_s, 120);

    let v = w(NetworkBackend::SystemdNetworkd, "bond0.100");
    assert_eq!(
        paths(&v),
        [
            "/etc/systemd/network/10-bmfleet-bond0.100.netdev",
            "/etc/systemd/network/10-bmfleet-bond0.100.network",
            "/etc/systemd/network/10-bmfleet-bond0.network",
        ]
    );
    assert_eq!(
        body(content(
            &v,
            "/etc/systemd/network/10-bmfleet-bond0.100.netdev"
        )),
        "[NetDev]\nName=bond0.100\nKind=vlan\n\n[VLAN]\nId=100\n"
    );
    assert_eq!(
        body(content(
            &v,
            "/etc/systemd/network/10-bmfleet-bond0.100.network"
        )),
        "[Match]\nName=bond0.100\n\n[Link]\nMTUBytes=9000\n\n[Network]\nAddress=192.0.2.10/24\nAddress=2001:db8:100::10/64\n"
    );
    // The shared base file is the same bytes whichever step writes it.
    assert_eq!(
        content(&v, "/etc/systemd/network/10-bmfleet-bond0.network"),
        content(&b, "/etc/systemd/network/10-bmfleet-bond0.network")
    );

    let e = w(NetworkBackend::SystemdNetworkd, "enp3s0");
    assert_eq!(
        body(content(
            &e,
            "/etc/systemd/network/10-bmfleet-enp3s0.network"
        )),
        "[Match]\nName=enp3s0\n\n[Link]\nMTUBytes=1500\n\n[Network]\nAddress=198.51.100.7/24\n"
    );
    // A bond that does not exist yet is created by the reload, not reconfigured by name,
    // and deleted by a rollback.
    let new = render(NetworkBackend::SystemdNetworkd, &net(), "bond0", true, 120).unwrap();
    assert_eq!(
        cmds(&new.activate),
        ["networkctl reload", "networkctl reconfigure enp1s0 enp2s0"]
    );
    assert_eq!(cmds(&new.revert)[0], "ip link delete bond0");
}

#[test]
fn netplan_renders_one_yaml_per_interface_with_the_ports_defined() {
    let b = w(NetworkBackend::Netplan, "bond0");
    assert_eq!(
        paths(&b),
        [
            "/etc/netplan/90-bmfleet-bond0.yaml",
            "/etc/netplan/90-bmfleet-enp1s0.yaml",
            "/etc/netplan/90-bmfleet-enp2s0.yaml",
        ]
    );
    assert!(b.files.iter().all(|f| f.mode == "0600"));
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    assert_eq!(
        body(content(&b, "/etc/netplan/90-bmfleet-bond0.yaml")),
        "network:\n  version: 2\n  bonds:\n    bond0:\n      interfaces: [\"enp1s0\", \"enp2s0\"]\n      parameters:\n        mode: \"802.3ad\"\n        lacp-rate: \"fast\"\n        mii-monitor-interval: 100\n        transmit-hash-policy: \"layer3+4\"\n      mtu: 9000\n"
    );
    assert_eq!(
        body(content(&b, "/etc/netplan/90-bmfleet-enp1s0.yaml")),
        "network:\n  version: 2\n  ethernets:\n    enp1s0:\n      mtu: 9000\n"
    );
    let v = w(NetworkBackend::Netplan, "bond0.100");
    assert_eq!(
        body(content(&v, "/etc/netplan/90-bmfleet-bond0.100.yaml")),
        "network:\n  version: 2\n  vlans:\n    bond0.100:\n      id: 100\n      link: \"bond0\"\n      mtu: 9000\n      addresses: [\"192.0.2.10/24\", \"2001:db8:100::10/64\"]\n"
    );
    assert_eq!(cmds(&v.activate), ["netplan apply"]);
    let e = w(NetworkBackend::Netplan, "enp3s0");
    assert!(
        content(&e, "/etc/netplan/90-bmfleet-enp3s0.yaml")
            .ends_with("    enp3s0:\n      mtu: 1500\n      addresses: [\"198.51.100.7/24\"]\n")
    );
}

#[test]
fn networkmanager_renders_private_keyfiles_with_ports_and_stable_uuids() {
    let b = w(NetworkBackend::NetworkManager, "bond0");
    assert_eq!(
        paths(&b),
        [
            "/etc/NetworkManager/system-connections/bmfleet-bond0.nmconnection",
            "/etc/NetworkManager/system-connections/bmfleet-enp1s0.nmconnection",
            "/etc/NetworkManager/system-connections/bmfleet-enp2s0.nmconnection",
        ]
    );
    assert!(b.files.iter().all(|f| f.mode == "0600"));
    let bond = content(
        &b,
        "/etc/NetworkManager/system-connections/bmfleet-bond0.nmconnection",
    );
    let uuid = bmfleet::plan::network::networkmanager::uuid("bond0");
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "5");
    assert_eq!(
        bond.split_once('\n').unwrap().1,
        format!(
            "[connection]\nid=bmfleet-bond0\nuuid={uuid}\ntype=bond\ninterface-name=bond0\nautoconnect=true\nautoconnect-slaves=1\n\n[ethernet]\nmtu=9000\n\n[bond]\nmode=802.3ad\nlacp_rate=fast\nmiimon=100\nxmit_hash_policy=layer3+4\n\n[ipv4]\nmethod=disabled\n\n[ipv6]\nmethod=disabled\n"
        )
    );
    let port = content(
        &b,
        "/etc/NetworkManager/system-connections/bmfleet-enp1s0.nmconnection",
    );
    assert!(port.contains("type=ethernet\ninterface-name=enp1s0\nautoconnect=true\nmaster=bond0\nslave-type=bond\n\n[ethernet]\nmtu=9000\n"), "{port}");
    assert!(!port.contains("[ipv4]"), "{port}");
    assert_eq!(
        cmds(&b.activate),
        [
            "nmcli connection reload",
            "nmcli connection up id bmfleet-bond0"
        ]
    );
    let v = w(NetworkBackend::NetworkManager, "bond0.100");
    let vlan = content(
        &v,
        "/etc/NetworkManager/system-connections/bmfleet-bond0.100.nmconnection",
    );
    assert!(
        vlan.ends_with("[ethernet]\nmtu=9000\n\n[vlan]\nid=100\nparent=bond0\n\n[ipv4]\naddress1=192.0.2.10/24\nmethod=manual\n\n[ipv6]\naddress1=2001:db8:100::10/64\nmethod=manual\n"),
        "{vlan}"
    );
}

#[test]
fn ifupdown_renders_stanzas_in_interfaces_d() {
    let body = |s: &str| s.split_once('\n').unwrap().1.to_string();
    let b = w(NetworkBackend::Ifupdown, "bond0");
    assert_eq!(paths(&b), ["/etc/network/interfaces.d/bmfleet-bond0"]);
    assert_eq!(b.files[0].mode, "0644");
    assert_eq!(
        body(&b.files[0].content),
        "auto bond0\niface bond0 inet manual\n    mtu 9000\n    bond-slaves enp1s0 enp2s0\n    bond-mode 802.3ad\n    bond-lacp-rate fast\n    bond-miimon 100\n    bond-xmit-hash-policy layer3+4\n"
    );
    let v = w(NetworkBackend::Ifupdown, "bond0.100");
    assert_eq!(
        body(&v.files[0].content),
        "auto bond0.100\niface bond0.100 inet static\n    address 192.0.2.10/24\n    mtu 9000\n    vlan-raw-device bond0\n\niface bond0.100 inet6 static\n    address 2001:db8:100::10/64\n"
    );
    assert_eq!(
        cmds(&v.activate),
        ["ifdown --force bond0.100", "ifup bond0.100"]
    );
    let e = w(NetworkBackend::Ifupdown, "enp3s0");
    assert_eq!(
        body(&e.files[0].content),
        "auto enp3s0\niface enp3s0 inet static\n    address 198.51.100.7/24\n    mtu 1500\n"
    );
}

#[test]
fn nmstate_applies_the_document_with_a_checkpoint_and_commits() {
    let b = w(NetworkBackend::Nmstate, "bond0");
    assert_eq!(paths(&b), ["/var/lib/bmfleet/nmstate/bond0.yml"]);
    assert_eq!(b.files[0].mode, "0600");
    assert!(b.files[0].content.contains(
        "interfaces:\n  - name: \"bond0\"\n    type: \"bond\"\n    state: \"up\"\n    mtu: 9000\n    link-aggregation:\n      mode: \"802.3ad\"\n      port: [\"enp1s0\", \"enp2s0\"]\n"
    ), "{}", b.files[0].content);
    assert_eq!(
        cmds(&b.activate),
        ["nmstatectl apply --no-commit --timeout 120 /var/lib/bmfleet/nmstate/bond0.yml"]
    );
    assert_eq!(cmds(&b.commit), ["nmstatectl commit"]);
}

#[test]
fn writers_refuse_what_they_cannot_write() {
    let mut n = net();
    n.interfaces[0]
        .link_aggregation
        .as_mut()
        .unwrap()
        .options
        .insert(
            "no_such_option".into(),
            bmfleet::spec::model::Scalar::Int(1),
        );
    let e = render(NetworkBackend::SystemdNetworkd, &n, "bond0", false, 120).unwrap_err();
    assert!(
        e.contains("no_such_option") && e.contains("systemd-networkd"),
        "{e}"
    );
    // NetworkManager and ifupdown take kernel option names as they are.
    assert!(render(NetworkBackend::NetworkManager, &n, "bond0", false, 120).is_ok());
    let mut n = net();
    n.interfaces[4].mtu = None;
    n.interfaces[4].state = Some(bmfleet::spec::model::InterfaceState::Down);
    let e = render(NetworkBackend::Netplan, &n, "enp3s0", false, 120).unwrap_err();
    assert!(e.contains("state down"), "{e}");
    assert!(render(NetworkBackend::Nmstate, &n, "enp3s0", false, 120).is_ok());
}

// ---- plan and executor over a sysroot ------------------------------------------------

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(case)
}

/// A private copy of a sysroot fixture.
fn copy_of(case: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("g1");
    let status = std::process::Command::new("cp")
        .args([
            "-a",
            fixture(case).to_str().unwrap(),
            copy.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    (root, copy)
}

fn plan_over(h: &Host, root: &Path) -> Plan {
    let roots = BTreeMap::from([(h.name.clone(), root.to_path_buf())]);
    let providers: Vec<Arc<dyn Provider>> =
        vec![Arc::new(OsProvider::new(local_transports(&roots)))];
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

/// The bond-vlan fixture's spec with bond0's MTU changed to 1500: one step, on bond0.
fn drifted() -> Host {
    host(
        "g1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [
                {"name": "bond0", "type": "bond", "state": "up", "mtu": 1500,
                 "link-aggregation": {"mode": "802.3ad", "port": ["enp1s0", "enp2s0"],
                     "options": {"miimon": 100, "xmit_hash_policy": "layer3+4", "lacp_rate": "fast"}}},
                {"name": "bond0.100", "type": "vlan", "state": "up", "mtu": 1500,
                 "vlan": {"base-iface": "bond0", "id": 100},
                 "ipv4": {"address": [{"ip": "192.0.2.10", "prefix-length": 24}]}},
                {"name": "enp1s0", "type": "ethernet", "state": "up"},
                {"name": "enp2s0", "type": "ethernet", "state": "up"}
            ]}
        })),
    )
}

fn bond_step(p: &Plan) -> Step {
    p.hosts[0]
        .steps
        .iter()
        .find(|s| s.address.iface.as_deref() == Some("bond0"))
        .cloned()
        .unwrap_or_else(|| panic!("no bond0 step: {:#?}", p.hosts[0]))
}

fn run(
    t: &Transport,
    s: &Step,
) -> Result<bmfleet::engine::provider::StepOutcome, bmfleet::engine::provider::ApplyError> {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(apply(t, s))
}

fn log(root: &Path) -> Vec<String> {
    std::fs::read_to_string(root.join(COMMAND_LOG))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn the_plan_records_the_backend_and_the_exact_files() {
    let (_tmp, root) = copy_of("bond-vlan");
    let p = plan_over(&drifted(), &root);
    assert!(p.hosts[0].error.is_none(), "{:?}", p.hosts[0].error);
    let s = bond_step(&p);
    let Op::NetworkApply { write: Some(w), .. } = &s.op else {
        panic!("{:?}", s.op)
    };
    // Debian 12 guest: systemd-networkd active (ifupdown too, managing none of them).
    assert_eq!(w.backend, NetworkBackend::SystemdNetworkd);
    assert_eq!(
        w.files[1].path,
        "/etc/systemd/network/10-bmfleet-bond0.network"
    );
    assert!(w.files[1].content.contains("MTUBytes=1500"));
    assert!(
        s.description()
            .contains("through systemd-networkd (4 files, then networkctl reload"),
        "{}",
        s.description()
    );
    // JSON carries the files; the text plan shows them in the host's details.
    let text = serde_json::to_string(&p).unwrap();
    assert!(text.contains("\"backend\":\"systemd-networkd\""), "{text}");
    assert!(text.contains("10-bmfleet-bond0.netdev"));
    let shown = bmfleet::render::plan_text::render(&p, false);
    assert!(
        shown.contains("/etc/systemd/network/10-bmfleet-bond0.network (0644)"),
        "{shown}"
    );
    assert!(shown.contains("MTUBytes=1500"), "{shown}");
}

#[test]
fn the_executor_writes_the_files_logs_the_commands_and_is_idempotent() {
    let (_tmp, root) = copy_of("bond-vlan");
    let p = plan_over(&drifted(), &root);
    let s = bond_step(&p);
    let Op::NetworkApply { write: Some(w), .. } = &s.op else {
        panic!()
    };
    let t = Transport::Local {
        sysroot: root.clone(),
    };
    let out = run(&t, &s).unwrap();
    assert!(
        out.detail.contains("4 written, 0 unchanged"),
        "{}",
        out.detail
    );
    for f in &w.files {
        let on_disk = root.join(f.path.trim_start_matches('/'));
        assert_eq!(
            std::fs::read_to_string(&on_disk).unwrap(),
            f.content,
            "{}",
            f.path
        );
        assert_eq!(mode_of(&on_disk), 0o644, "{}", f.path);
    }
    // No leftovers of the atomic write, no state kept for an unguarded step.
    let dir = root.join("etc/systemd/network");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(
        !root
            .join("var/lib/bmfleet/network")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
    assert_eq!(
        log(&root),
        [
            "networkctl reload",
            "networkctl reconfigure bond0 enp1s0 enp2s0"
        ]
    );

    // Again: nothing rewritten (same bytes, same mtime), the activation runs again.
    let f0 = root.join(w.files[0].path.trim_start_matches('/'));
    let before = std::fs::metadata(&f0).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = run(&t, &s).unwrap();
    assert!(
        out.detail.contains("0 written, 4 unchanged"),
        "{}",
        out.detail
    );
    assert_eq!(std::fs::metadata(&f0).unwrap().modified().unwrap(), before);
    assert_eq!(log(&root).len(), 4);

    // A file whose mode drifted is rewritten.
    std::fs::set_permissions(&f0, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&t, &s).unwrap();
    assert!(
        out.detail.contains("1 written, 3 unchanged"),
        "{}",
        out.detail
    );
    assert_eq!(mode_of(&f0), 0o644);
}

/// The session runs over bond0.100 (192.0.2.10), which sits on bond0: a bond0 change is
/// guarded.
fn over_the_vlan(root: &Path) {
    let f = root.join(SSH_CONNECTION_FILE);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, "198.51.100.1 50022 192.0.2.10 22\n").unwrap();
}

#[test]
fn a_change_under_the_session_is_confirmed_over_a_new_connection() {
    let (_tmp, root) = copy_of("bond-vlan");
    over_the_vlan(&root);
    let p = plan_over(&drifted(), &root);
    let s = bond_step(&p);
    let t = Transport::Local {
        sysroot: root.clone(),
    };
    let out = run(&t, &s).unwrap();
    assert!(
        out.detail
            .contains("a new connection succeeded and the change was confirmed"),
        "{}",
        out.detail
    );
    let l = log(&root);
    assert_eq!(l.len(), 4, "{l:?}");
    assert!(
        l[0].starts_with("systemd-run --quiet --unit=bmfleet-net-g1-"),
        "{l:?}"
    );
    assert!(
        l[0].contains(
            " --on-active=120s --timer-property=AccuracySec=1s /bin/sh /var/lib/bmfleet/network/g1-"
        ),
        "{l:?}"
    );
    assert!(l[0].ends_with("/revert.sh"), "{l:?}");
    assert_eq!(
        l[1..3],
        [
            "networkctl reload",
            "networkctl reconfigure bond0 enp1s0 enp2s0"
        ]
    );
    assert!(
        l[3].starts_with("systemctl stop bmfleet-net-g1-") && l[3].ends_with(".timer"),
        "{l:?}"
    );
    assert!(
        !root
            .join("var/lib/bmfleet/network")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );
    assert!(
        root.join("etc/systemd/network/10-bmfleet-bond0.network")
            .exists()
    );

    // The management NIC carries the session: a bond0 change is not guarded.
    let (_tmp2, root2) = copy_of("bond-vlan");
    let f = root2.join(SSH_CONNECTION_FILE);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, "198.51.100.1 50022 10.0.0.12 22\n").unwrap();
    std::fs::create_dir_all(root2.join("run/bmfleet")).unwrap();
    std::fs::write(root2.join(FAIL_FRESH_CONNECTION), "").unwrap();
    let t2 = Transport::Local {
        sysroot: root2.clone(),
    };
    run(&t2, &bond_step(&plan_over(&drifted(), &root2))).unwrap();
    assert_eq!(log(&root2).len(), 2, "{:?}", log(&root2));
}

#[test]
fn no_new_connection_rolls_the_previous_files_back_and_fails_the_step() {
    let (_tmp, root) = copy_of("bond-vlan");
    over_the_vlan(&root);
    // A previous bmfleet file for bond0 exists; the ports' files do not.
    let prev = root.join("etc/systemd/network/10-bmfleet-bond0.network");
    std::fs::create_dir_all(prev.parent().unwrap()).unwrap();
    std::fs::write(&prev, "[Match]\nName=bond0\n\n[Link]\nMTUBytes=9000\n").unwrap();
    std::fs::set_permissions(&prev, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = plan_over(&drifted(), &root);
    let s = bond_step(&p);
    std::fs::write(root.join(FAIL_FRESH_CONNECTION), "").unwrap();
    let t = Transport::Local {
        sysroot: root.clone(),
    };
    let err = run(&t, &s).unwrap_err();
    let msg = err.error.message.clone();
    assert_eq!(err.error.code, "bmfleet::os::network_lockout", "{msg}");
    assert!(!err.outcome_unknown, "the revert was confirmed: {msg}");
    assert!(msg.starts_with("host/g1/network/bond0: after `networkctl reload; networkctl reconfigure bond0 enp1s0 enp2s0` no new SSH connection succeeded"), "{msg}");
    assert!(
        msg.contains("simulated: run/bmfleet/fail-fresh-connection exists"),
        "{msg}"
    );
    assert!(msg.contains("rolled back by the timed revert (120 s, systemd-run): restored /etc/systemd/network/10-bmfleet-bond0.netdev, /etc/systemd/network/10-bmfleet-bond0.network"), "{msg}");
    assert!(err.error.help.contains("console"), "{}", err.error.help);
    // The previous file is back byte for byte with its mode; the new ones are gone.
    assert_eq!(
        std::fs::read_to_string(&prev).unwrap(),
        "[Match]\nName=bond0\n\n[Link]\nMTUBytes=9000\n"
    );
    assert_eq!(mode_of(&prev), 0o644);
    for gone in [
        "10-bmfleet-bond0.netdev",
        "10-bmfleet-enp1s0.network",
        "10-bmfleet-enp2s0.network",
    ] {
        assert!(
            !root.join("etc/systemd/network").join(gone).exists(),
            "{gone}"
        );
    }
    // Armed before the activation; the revert commands ran after the files came back.
    let l = log(&root);
    assert_eq!(l.len(), 5, "{l:?}");
    assert!(l[0].starts_with("systemd-run "), "{l:?}");
    assert_eq!(
        l[1..],
        [
            "networkctl reload",
            "networkctl reconfigure bond0 enp1s0 enp2s0",
            "networkctl reload",
            "networkctl reconfigure bond0 enp1s0 enp2s0"
        ]
    );
}

#[test]
fn nmstate_confirms_with_commit_after_a_new_connection() {
    let (_tmp, root) = copy_of("bond-vlan");
    over_the_vlan(&root);
    let mut h = drifted();
    h.settings.network.as_mut().unwrap().interfaces[0].mtu = Some(1500);
    let p = plan_over(&h, &root);
    let mut s = bond_step(&p);
    // The same change rendered for an nmstate host.
    let Op::NetworkApply { write, .. } = &mut s.op else {
        panic!()
    };
    *write = Some(
        render(
            NetworkBackend::Nmstate,
            h.settings.network.as_ref().unwrap(),
            "bond0",
            false,
            60,
        )
        .unwrap(),
    );
    let t = Transport::Local {
        sysroot: root.clone(),
    };
    run(&t, &s).unwrap();
    assert_eq!(
        log(&root),
        [
            "nmstatectl apply --no-commit --timeout 60 /var/lib/bmfleet/nmstate/bond0.yml",
            "nmstatectl commit"
        ]
    );
    let doc = root.join("var/lib/bmfleet/nmstate/bond0.yml");
    assert_eq!(mode_of(&doc), 0o600);
}

#[test]
fn an_op_edited_after_planning_or_without_a_write_is_refused_before_writing() {
    let (_tmp, root) = copy_of("bond-vlan");
    let p = plan_over(&drifted(), &root);
    let mut s = bond_step(&p);
    let t = Transport::Local {
        sysroot: root.clone(),
    };
    if let Op::NetworkApply { write: Some(w), .. } = &mut s.op {
        w.files[0].content.push_str("Address=203.0.113.1/24\n");
    }
    let err = run(&t, &s).unwrap_err();
    assert_eq!(err.error.code, "bmfleet::os::network_plan");
    assert!(!err.outcome_unknown);
    if let Op::NetworkApply { write, .. } = &mut s.op {
        *write = None;
    }
    let err = run(&t, &s).unwrap_err();
    assert_eq!(err.error.code, "bmfleet::os::apply_unsupported");
    assert!(!root.join("etc/systemd/network").exists());
}

#[test]
fn a_setting_the_hosts_backend_cannot_write_is_a_plan_time_error() {
    let (_tmp, root) = copy_of("bond-vlan");
    let mut h = drifted();
    h.settings.network.as_mut().unwrap().interfaces[0]
        .link_aggregation
        .as_mut()
        .unwrap()
        .options
        .insert(
            "no_such_option".into(),
            bmfleet::spec::model::Scalar::Int(1),
        );
    let p = plan_over(&h, &root);
    let e = p.hosts[0].error.as_ref().expect("a host error");
    assert_eq!(e.code, "bmfleet::plan::unwritable", "{e:?}");
    assert!(
        e.message
            .contains("network/bond0: the systemd-networkd writer")
            && e.message.contains("no_such_option"),
        "{e:?}"
    );
    assert!(p.hosts[0].steps.is_empty());
}
