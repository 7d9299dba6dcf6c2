//! The dependency graph, tested through stable text dumps.

use crate::plan_support::*;
use bmfleet::plan::graph::{self, ChangeFacts, ChangeIndex, HostResources};
use bmfleet::plan::{PlanOptions, flatten, plan, static_graph};
use bmfleet::spec::Host;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

fn hr(h: &Host) -> HostResources {
    HostResources {
        name: h.name.clone(),
        depends_on: h.depends_on.clone(),
        resources: flatten(h, &BTreeMap::new()),
    }
}

fn position(order: &[&bmfleet::plan::graph::GraphNode], address: &str) -> usize {
    order
        .iter()
        .position(|n| n.address == address)
        .unwrap_or_else(|| panic!("{address} not in the order"))
}

#[test]
fn static_graph_of_a_compute_host() {
    let f = fleet();
    let h = f.host("r1-c01").unwrap();
    let g = static_graph(&[h], &f.data_files).check().unwrap();
    let expected = "\
host/r1-c01/bios
host/r1-c01/boot
  after host/r1-c01/cloud-init [cloud-init-before-boot-override]
host/r1-c01/cloud-init
host/r1-c01/dns
host/r1-c01/network/ens1f0
host/r1-c01/network/ens1f0/sr-iov
  after host/r1-c01/network/ens1f0 [link-before-sr-iov]
  after host/r1-c01/reboot [reboot-before-vf-count]
host/r1-c01/network/ens1f1
host/r1-c01/network/ens1f1/sr-iov
  after host/r1-c01/network/ens1f1 [link-before-sr-iov]
  after host/r1-c01/reboot [reboot-before-vf-count]
host/r1-c01/os/hugepages
host/r1-c01/os/kernel-args
host/r1-c01/os/sysctl
  after host/r1-c01/reboot [reboot-before-runtime-os]
host/r1-c01/os/sysfs
  after host/r1-c01/reboot [reboot-before-runtime-os]
host/r1-c01/os/tunables
  after host/r1-c01/reboot [reboot-before-runtime-os]
host/r1-c01/os/vfio
  after host/r1-c01/network/ens1f0/sr-iov [sr-iov-before-vfio]
host/r1-c01/power
  after host/r1-c01/dns [power-last]
  after host/r1-c01/network/ens1f1/sr-iov [power-last]
  after host/r1-c01/os/sysctl [power-last]
  after host/r1-c01/os/sysfs [power-last]
  after host/r1-c01/os/tunables [power-last]
  after host/r1-c01/os/vfio [power-last]
host/r1-c01/reboot
  after host/r1-c01/bios [bios-before-reboot]
  after host/r1-c01/boot [boot-before-reboot]
  after host/r1-c01/os/hugepages [boot-params-before-reboot]
  after host/r1-c01/os/kernel-args [boot-params-before-reboot]
";
    assert_eq!(g.to_text(), expected);
    let steps: Vec<&str> = g.trace.iter().map(|t| t.step).collect();
    assert_eq!(
        steps,
        [
            "resources",
            "reboot",
            "rules",
            "host-cycles",
            "depends-on",
            "transitive-reduction"
        ]
    );
    // The reduction dropped edges but kept the order: cloud-init still precedes the reboot.
    let order = g.topological_order();
    assert!(position(&order, "host/r1-c01/cloud-init") < position(&order, "host/r1-c01/reboot"));
    assert_eq!(order.last().unwrap().address, "host/r1-c01/power");
}

#[test]
fn storage_host_orders_ports_bond_vlans_and_waits_for_its_dependency() {
    let f = fleet();
    let hosts = [f.host("r1-s01").unwrap(), f.host("r1-s02").unwrap()];
    let g = static_graph(&hosts, &f.data_files).check().unwrap();
    let text = g.to_text();
    for line in [
        "host/r1-s02/network/bond0\n  after host/r1-s02/network/ens2f0 [port-before-bond]\n  after host/r1-s02/network/ens2f1 [port-before-bond]\n",
        "host/r1-s02/network/bond0.100\n  after host/r1-s02/network/bond0 [base-before-vlan]\n",
        "host/r1-s01\n  after host/r1-s01/power [host-complete]\n",
        "host/r1-s02/bios\n  after host/r1-s01 [depends-on]\n",
    ] {
        assert!(text.contains(line), "missing:\n{line}\nin:\n{text}");
    }
    let order = g.topological_order();
    assert!(position(&order, "host/r1-s01/power") < position(&order, "host/r1-s02/bios"));
    assert!(
        position(&order, "host/r1-s02/network/ens2f0")
            < position(&order, "host/r1-s02/network/bond0")
    );
    assert!(
        position(&order, "host/r1-s02/network/bond0")
            < position(&order, "host/r1-s02/network/bond0.200")
    );
}

#[test]
fn depends_on_cycle_is_reported_with_its_path() {
    let s = || settings(json!({"power": "On"}));
    let a = host("a", &[], &["b"], s());
    let b = host("b", &[], &["a"], s());
    let c = host("c", &[], &["a"], s());
    let hosts = [hr(&a), hr(&b), hr(&c)];
    let g = graph::build(&hosts, &ChangeIndex::everything(&hosts));
    let err = g.clone().check().unwrap_err();
    assert_eq!(err.cycles, vec![vec!["host/a", "host/b", "host/a"]]);
    assert_eq!(
        err.to_string(),
        "dependency cycle: host/a -> host/b -> host/a"
    );
    // The cycle's edges are left out; c still waits for a.
    assert!(
        g.to_text()
            .contains("host/c/power\n  after host/a [depends-on]\n")
    );

    // The planner reports it as a plan error naming both hosts, and still plans.
    let observed = converged_all(&[&a, &b, &c]);
    let p = plan(&[&a, &b, &c], &observed, &PlanOptions::default());
    assert_eq!(p.errors.len(), 1);
    assert_eq!(
        p.errors[0].message,
        "dependency cycle: host/a -> host/b -> host/a"
    );
    assert_eq!(p.errors[0].hosts, ["a", "b"]);
    assert!(p.has_errors());
    assert_eq!(p.summary.errors, 1);
}

#[test]
fn longer_cycles_report_the_whole_path() {
    let s = || settings(json!({"power": "On"}));
    let a = host("a", &[], &["c"], s());
    let b = host("b", &[], &["a"], s());
    let c = host("c", &[], &["b"], s());
    let hosts = [hr(&a), hr(&b), hr(&c)];
    let err = graph::build(&hosts, &ChangeIndex::everything(&hosts))
        .check()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "dependency cycle: host/a -> host/b -> host/c -> host/a"
    );
}

#[test]
fn bios_and_dpu_mode_feed_one_reboot_and_vf_counts_wait_for_it() {
    let h = host(
        "d1",
        &[],
        &[],
        settings(json!({
            "power": "On",
            "bios": {"attributes": {"SriovGlobalEnable": "Enabled"}},
            "dpu": {"mode": "dpu"},
            "network": {"interfaces": [
                {"name": "p0", "type": "ethernet", "ethernet": {"sr-iov": {"total-vfs": 8}}}
            ]}
        })),
    );
    let hosts = [hr(&h)];
    let changed = |keys: &[&str], reset: bool| ChangeFacts {
        needs_reset: reset,
        keys: keys.iter().map(|k| k.to_string()).collect(),
    };
    let mut idx = ChangeIndex::default();
    idx.reboots.insert("d1".into());
    idx.resources
        .insert(a("host/d1/bios"), changed(&["SriovGlobalEnable"], true));
    idx.resources
        .insert(a("host/d1/dpu/mode"), changed(&["mode"], true));
    idx.resources.insert(
        a("host/d1/network/p0/sr-iov"),
        changed(&["total-vfs"], false),
    );
    let g = graph::build(&hosts, &idx).check().unwrap();
    let text = g.to_text();
    assert!(
        text.contains("host/d1/reboot\n  after host/d1/bios [bios-before-reboot]\n  after host/d1/dpu/mode [dpu-before-reboot]\n"),
        "{text}"
    );
    // The NIC is configured after the mode change is live; the VF count comes after the
    // PF link (the direct reboot -> sr-iov edge is implied, so the dump leaves it out).
    assert!(
        text.contains(
            "host/d1/network/p0\n  after host/d1/reboot [reboot-before-network-after-dpu-mode]\n"
        ),
        "{text}"
    );
    let reboots = g
        .nodes()
        .filter(|n| n.kind == bmfleet::plan::ResourceKind::Reboot)
        .count();
    assert_eq!(reboots, 1);
    let order = g.topological_order();
    let at = |a: &str| position(&order, a);
    assert!(at("host/d1/bios") < at("host/d1/reboot"));
    assert!(at("host/d1/dpu/mode") < at("host/d1/reboot"));
    assert!(at("host/d1/reboot") < at("host/d1/network/p0/sr-iov"));

    // When neither SriovGlobalEnable nor the DPU mode changes, VF counts do not wait.
    let mut idx = ChangeIndex::default();
    idx.reboots.insert("d1".into());
    idx.resources
        .insert(a("host/d1/bios"), changed(&["Other"], true));
    idx.resources.insert(
        a("host/d1/network/p0/sr-iov"),
        changed(&["total-vfs"], false),
    );
    let g = graph::build(&hosts, &idx);
    assert!(
        g.dependencies(&a("host/d1/network/p0/sr-iov"))
            .iter()
            .all(|(dep, _)| dep != "host/d1/reboot")
    );
}

#[test]
fn cloud_init_by_virtual_media_precedes_the_boot_override_and_the_reboot() {
    let h = host(
        "v1",
        &[],
        &[],
        settings(json!({
            "boot": {"override": {"target": "Cd"}},
            "cloudInit": {"delivery": "virtualMedia", "userData": {"inline": "#cloud-config\n"}}
        })),
    );
    let hosts = [hr(&h)];
    let g = graph::build(&hosts, &ChangeIndex::everything(&hosts))
        .check()
        .unwrap();
    assert_eq!(
        g.to_text(),
        "host/v1/boot\n  after host/v1/cloud-init [cloud-init-before-boot-override]\nhost/v1/cloud-init\nhost/v1/reboot\n  after host/v1/boot [boot-before-reboot]\n"
    );
    let order: Vec<String> = g
        .topological_order()
        .iter()
        .map(|n| n.address.to_string())
        .collect();
    assert_eq!(
        order,
        ["host/v1/cloud-init", "host/v1/boot", "host/v1/reboot"]
    );
}

#[test]
fn vfio_waits_for_the_vfs_of_its_pf_only() {
    let h = host(
        "x1",
        &[],
        &[],
        settings(json!({
            "network": {"interfaces": [
                {"name": "p0", "ethernet": {"sr-iov": {"total-vfs": 8}}},
                {"name": "p1", "ethernet": {"sr-iov": {"total-vfs": 8}}}
            ]},
            "os": {"vfio": {"vfs": [{"pf": "p1", "ids": "0-3"}]}}
        })),
    );
    let hosts = [hr(&h)];
    let g = graph::build(&hosts, &ChangeIndex::everything(&hosts));
    let deps: BTreeSet<String> = g
        .dependencies(&a("host/x1/os/vfio"))
        .into_iter()
        .map(|(d, _)| d.to_string())
        .collect();
    assert_eq!(
        deps,
        BTreeSet::from(["host/x1/network/p1/sr-iov".to_string()])
    );
}

#[test]
fn dot_output_has_a_cluster_per_host_and_labelled_edges() {
    let f = fleet();
    let hosts = [f.host("r1-s01").unwrap(), f.host("r1-s02").unwrap()];
    let g = static_graph(&hosts, &f.data_files);
    let dot = bmfleet::render::graph::dot(&g);
    assert!(dot.starts_with("// bmfleet dependency graph"));
    assert!(dot.contains("subgraph \"cluster_r1-s01\" {"));
    assert!(dot.contains("subgraph \"cluster_r1-s02\" {"));
    assert!(dot.contains(
        "\"host/r1-s02/network/ens2f0\" -> \"host/r1-s02/network/bond0\" [label=\"port-before-bond\"];"
    ));
    assert!(dot.contains("\"host/r1-s01/reboot\" [label=\"reboot\", shape=octagon];"));
    assert!(dot.trim_end().ends_with('}'));
    let text = bmfleet::render::graph::text(&g);
    assert!(text.ends_with(&format!(
        "{} nodes, {} edges (an edge `after X [rule]` means X happens first).\n",
        g.node_count(),
        g.edge_count()
    )));
}

#[test]
fn rules_table_lists_every_required_ordering() {
    let names: BTreeSet<&str> = bmfleet::plan::RULES.iter().map(|r| r.name).collect();
    for required in [
        "bios-before-reboot",
        "dpu-before-reboot",
        "boot-params-before-reboot",
        "reboot-before-vf-count",
        "port-before-bond",
        "base-before-vlan",
        "sr-iov-before-vfio",
        "cloud-init-before-boot-override",
        "boot-before-reboot",
        "power-last",
    ] {
        assert!(names.contains(required), "{required}");
    }
}
