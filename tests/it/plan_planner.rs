//! Planner behaviour on hand-built observed states.

use crate::plan_support::*;
use bmfleet::plan::model::Action;
use bmfleet::plan::resource::{Disruption, ResourceKind};
use bmfleet::plan::{Plan, PlanOptions, SelectError, plan, select_hosts};
use bmfleet::spec::Host;
use bmfleet::spec::model::{DpuMode, IntOrPercent};
use serde_json::json;
use std::collections::BTreeMap;

fn plan_fleet(edit: impl FnOnce(&mut BTreeMap<String, bmfleet::plan::ObservedHost>)) -> Plan {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut observed = converged_all(&hosts);
    edit(&mut observed);
    plan(&hosts, &observed, &options(&f))
}

fn set_bios(
    o: &mut BTreeMap<String, bmfleet::plan::ObservedHost>,
    host: &str,
    attr: &str,
    current: serde_json::Value,
    pending: Option<serde_json::Value>,
) {
    let mut bios = bios_mut(o.get_mut(host).unwrap());
    bios.current.insert(attr.into(), current);
    match pending {
        Some(p) => {
            bios.pending.insert(attr.into(), p);
        }
        None => {
            bios.pending.remove(attr);
        }
    }
}

#[test]
fn converged_fleet_has_no_changes_but_lists_os_resources_as_unobserved() {
    let p = plan_fleet(|_| {});
    assert!(!p.has_changes());
    assert!(!p.has_errors());
    assert_eq!(p.summary.hosts, 14);
    assert_eq!(p.summary.settings, 0);
    assert_eq!(p.summary.reboots, 0);
    let c01 = p.host("r1-c01").unwrap();
    assert!(c01.changes.is_empty());
    // power, boot mode, 4 BIOS attributes compared and equal.
    assert_eq!(c01.unchanged, 6);
    let unobserved: Vec<String> = c01
        .unobserved
        .iter()
        .map(|u| u.address.to_string())
        .collect();
    assert!(unobserved.iter().any(|u| u == "host/r1-c01/os/kernel-args"));
    assert!(
        unobserved
            .iter()
            .any(|u| u == "host/r1-c01/network/ens1f0/sr-iov")
    );
    assert!(unobserved.iter().any(|u| u == "host/r1-c01/cloud-init"));
    assert!(
        c01.unobserved
            .iter()
            .all(|u| u.reason == "OS state is read over SSH, not available yet")
    );
    assert_eq!(
        p.summary.unobserved,
        p.hosts.iter().map(|h| h.unobserved.len()).sum::<usize>()
    );
    assert!(p.summary.unobserved > 14);
}

#[test]
fn pending_value_equal_to_desired_is_pending_not_a_new_change() {
    let p = plan_fleet(|o| {
        set_bios(
            o,
            "r1-c01",
            "SriovGlobalEnable",
            json!("Disabled"),
            Some(json!("Enabled")),
        )
    });
    let h = p.host("r1-c01").unwrap();
    assert_eq!(h.changes.len(), 1);
    let c = &h.changes[0];
    assert_eq!(c.action, Action::Pending);
    assert_eq!(c.before, Some(json!("Disabled")));
    assert_eq!(c.pending, Some(json!("Enabled")));
    assert_eq!(c.after, Some(json!("Enabled")));
    assert!(
        c.reason.contains("applies on the next reset"),
        "{}",
        c.reason
    );
    assert_eq!(h.settings_changed(), 0);
    assert_eq!(p.summary.settings, 0);
    assert_eq!(p.summary.pending, 1);
    // Nothing to write, but the staged value needs the reset: the only step is the reboot.
    let steps: Vec<String> = h.steps.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(steps, ["host/r1-c01/reboot"]);
    assert_eq!(p.summary.reboots, 1);
}

#[test]
fn pending_value_different_from_desired_is_drift_and_replaced() {
    let p = plan_fleet(|o| {
        // Current wrong, a different wrong value staged.
        set_bios(
            o,
            "r1-c01",
            "SysProfile",
            json!("Custom"),
            Some(json!("PerfPerWattOptimizedDapc")),
        );
        // Current right, but something else staged that would undo it on the next reset.
        set_bios(
            o,
            "r1-c02",
            "LogicalProc",
            json!("Disabled"),
            Some(json!("Enabled")),
        );
    });
    let c = &p.host("r1-c01").unwrap().changes[0];
    assert_eq!(c.action, Action::Replace);
    assert_eq!(c.pending, Some(json!("PerfPerWattOptimizedDapc")));
    assert_eq!(c.after, Some(json!("PerfOptimized")));
    assert!(c.reason.starts_with("drift:"), "{}", c.reason);
    assert!(
        c.reason.contains("staged value is replaced"),
        "{}",
        c.reason
    );
    assert_eq!(c.disruption, Disruption::Reboot);
    assert!(p.host("r1-c01").unwrap().reboots());

    let h2 = p.host("r1-c02").unwrap();
    let c2 = &h2.changes[0];
    assert_eq!(c2.action, Action::Replace);
    assert!(
        c2.reason.contains("would replace the desired"),
        "{}",
        c2.reason
    );
    // Overwriting the staged value needs no reset: the value in effect is already right.
    assert_eq!(c2.disruption, Disruption::None);
    assert!(!h2.reboots());
    let steps: Vec<String> = h2.steps.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(steps, ["host/r1-c02/bios"]);
}

#[test]
fn staged_value_equal_to_current_counts_as_nothing_staged() {
    // HPE and Lenovo list every writable attribute in the settings object.
    let p = plan_fleet(|o| {
        set_bios(
            o,
            "r1-c01",
            "LogicalProc",
            json!("Enabled"),
            Some(json!("Enabled")),
        )
    });
    let c = &p.host("r1-c01").unwrap().changes[0];
    assert_eq!(c.action, Action::Update);
    assert_eq!(c.pending, None);
    assert_eq!(c.before, Some(json!("Enabled")));
}

#[test]
fn the_planner_compares_observed_values_exactly_as_the_provider_reports_them() {
    // Vendor typing quirks (iDRAC's "3200" for 3200) are normalized by the provider
    // (redfish::provider's unit tests); the planner itself never guesses.
    let h = host(
        "n1",
        &[],
        &[],
        settings(
            json!({"bios": {"attributes": {"NumLock": true, "MemFrequency": 3200, "Mode": "4"}}}),
        ),
    );
    let mut o = converged(&h);
    let mut bios = bios_mut(&mut o);
    bios.current.insert("MemFrequency".into(), json!("3200"));
    bios.current.insert("Mode".into(), json!(4));
    bios.current.insert("NumLock".into(), json!("Enabled"));
    drop(bios);
    let p = plan(
        &[&h],
        &BTreeMap::from([("n1".to_string(), o)]),
        &PlanOptions::default(),
    );
    let changed: Vec<&str> = p.hosts[0]
        .changes
        .iter()
        .map(|c| c.setting.as_str())
        .collect();
    assert_eq!(changed, ["MemFrequency", "Mode", "NumLock"]);
    assert_eq!(p.hosts[0].unchanged, 0);
}

#[test]
fn only_bios_attributes_the_spec_sets_are_compared() {
    let p = plan_fleet(|o| {
        let mut bios = bios_mut(o.get_mut("r1-c01").unwrap());
        bios.current.insert("BootSeqRetry".into(), json!("Enabled"));
        bios.current.insert("AcPwrRcvry".into(), json!("Last"));
        bios.pending.insert("AcPwrRcvry".into(), json!("On"));
    });
    let h = p.host("r1-c01").unwrap();
    assert!(h.changes.is_empty(), "{:?}", h.changes);
    assert!(!p.has_changes());
}

#[test]
fn an_unreachable_host_is_an_error_for_that_host_only() {
    let p = plan_fleet(|o| {
        fail_bmc(
            o.get_mut("r2-d01").unwrap(),
            unreachable("https://10.10.2.31/redfish/v1"),
        );
        set_bios(o, "r2-c01", "SriovGlobalEnable", json!("Disabled"), None);
    });
    let bad = p.host("r2-d01").unwrap();
    let e = bad.error.as_ref().unwrap();
    assert_eq!(e.endpoint, "https://10.10.2.31/redfish/v1");
    assert!(bad.changes.is_empty() && bad.steps.is_empty());
    assert_eq!(p.summary.errors, 1);
    assert!(p.has_errors());
    // The others are planned.
    assert_eq!(p.host("r2-c01").unwrap().changes.len(), 1);
    assert_eq!(p.summary.hosts_to_change, 1);
    assert!(p.has_changes());
}

#[test]
fn a_dpu_read_error_or_missing_observation_is_a_host_error() {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut observed = converged_all(&hosts);
    fail_dpu(
        observed.get_mut("r1-d01").unwrap(),
        unreachable("https://10.11.1.31"),
    );
    observed.remove("r1-c03");
    let p = plan(&hosts, &observed, &options(&f));
    assert_eq!(
        p.host("r1-d01").unwrap().error.as_ref().unwrap().endpoint,
        "https://10.11.1.31"
    );
    let missing = p.host("r1-c03").unwrap().error.as_ref().unwrap();
    assert_eq!(missing.code, "bmfleet::plan::not_refreshed");
    assert_eq!(missing.endpoint, "https://r1-c03-bmc.example.net");
    assert_eq!(p.summary.errors, 2);
}

#[test]
fn bios_and_dpu_mode_changes_share_one_reboot_ordered_after_both() {
    let p = plan_fleet(|o| {
        set_bios(o, "r1-d01", "ProcVirtualization", json!("Disabled"), None);
        let mut dpu = dpu_mut(o.get_mut("r1-d01").unwrap());
        dpu.mode = Some(DpuMode::Nic);
    });
    let h = p.host("r1-d01").unwrap();
    let steps: Vec<String> = h.steps.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(
        steps,
        [
            "host/r1-d01/bios",
            "host/r1-d01/dpu/mode",
            "host/r1-d01/reboot"
        ]
    );
    let reboots = h
        .steps
        .iter()
        .filter(|s| s.kind == ResourceKind::Reboot)
        .count();
    assert_eq!(reboots, 1);
    let reboot = h.steps.last().unwrap();
    assert!(
        reboot
            .description()
            .starts_with("DPU GracefulRestart, ForceRestart after 300 s, then host PowerCycle"),
        "{}",
        reboot.description()
    );
    assert!(reboot.description().contains("bios") && reboot.description().contains("dpu/mode"));
    assert_eq!(h.disruption, Disruption::Reboot);
    assert_eq!(p.summary.reboots, 1);
}

#[test]
fn power_drift_reason_and_power_on_replaces_the_reboot() {
    let p = plan_fleet(|o| {
        sys_mut(o.get_mut("r1-c01").unwrap()).power_state = Some("Off".into());
        set_bios(o, "r1-c01", "LogicalProc", json!("Enabled"), None);
        sys_mut(o.get_mut("r1-c02").unwrap()).power_state = Some("Off".into());
    });
    let h = p.host("r1-c01").unwrap();
    let power = h
        .changes
        .iter()
        .find(|c| c.setting == "PowerState")
        .unwrap();
    assert_eq!(power.reason, "drift: PowerState is Off, spec says On");
    assert_eq!(power.disruption, Disruption::Reboot);
    let steps: Vec<String> = h.steps.iter().map(|s| s.address.to_string()).collect();
    assert_eq!(steps, ["host/r1-c01/bios", "host/r1-c01/power"]);
    assert!(
        h.notes[0].contains("powering it on applies bios"),
        "{:?}",
        h.notes
    );
    assert_eq!(
        h.steps[1].description(),
        "power on with ResetType On (also applies staged settings)"
    );
    // Power alone is a reboot-class change too.
    assert!(p.host("r1-c02").unwrap().reboots());
    // (A host already `PoweringOn` is not asked to power on again: the Redfish provider
    // reports the transition as its end state; see its unit tests.)
    assert_eq!(p.summary.reboots, 2);
}

#[test]
fn identical_changes_are_grouped_across_hosts() {
    let p = plan_fleet(|o| {
        for name in [
            "r1-c01", "r1-c02", "r1-c03", "r1-c04", "r1-d01", "r2-c01", "r2-c02", "r2-c03",
            "r2-c04", "r2-d01",
        ] {
            set_bios(o, name, "SriovGlobalEnable", json!("Disabled"), None);
        }
        // Same setting, other value: not in the group.
        set_bios(o, "r1-s01", "SysProfile", json!("Custom"), None);
        set_bios(o, "r1-c01", "SysProfile", json!("Custom"), None);
        set_bios(
            o,
            "r1-c02",
            "SysProfile",
            json!("PerfPerWattOptimizedOs"),
            None,
        );
    });
    assert_eq!(p.groups[0].hosts.len(), 10);
    assert_eq!(p.groups[0].setting, "SriovGlobalEnable");
    assert_eq!(p.groups[0].resource, "bios");
    assert_eq!(p.groups[0].after, Some(json!("Enabled")));
    assert_eq!(
        bmfleet::plan::hostlist::compress(&p.groups[0].hosts),
        "r[1-2]-c[01-04],r[1-2]-d01"
    );
    // r1-s01 and r1-c01 share "Custom" -> "PerfOptimized"; r1-c02 is alone.
    assert_eq!(p.groups.len(), 2);
    assert_eq!(p.groups[1].hosts, ["r1-c01", "r1-s01"]);
    let c02 = p.host("r1-c02").unwrap();
    let sys = c02
        .changes
        .iter()
        .find(|c| c.setting == "SysProfile")
        .unwrap();
    assert_eq!(sys.group, None);
    let sriov = c02
        .changes
        .iter()
        .find(|c| c.setting == "SriovGlobalEnable")
        .unwrap();
    assert_eq!(sriov.group, Some(0));
}

#[test]
fn rollout_batches_respect_stages_partitions_max_unavailable_and_depends_on() {
    let p = plan_fleet(|o| {
        for h in o.values_mut() {
            let mut bios = bios_mut(h);
            bios.current
                .insert("ProcVirtualization".into(), json!("Bogus"));
        }
    });
    let r = &p.rollout;
    assert_eq!(r.max_unavailable, IntOrPercent::Percent("25%".into()));
    assert_eq!(r.partition_by.as_deref(), Some("rack"));
    assert_eq!(r.max_failures, 1);
    // The canary stage comes first and holds only the canary.
    assert_eq!(r.batches[0].stage.as_deref(), Some("canary"));
    assert_eq!(r.batches[0].hosts, ["r1-c01"]);
    // 25% of the 7 hosts of a rack rounds down to 1: one disrupted host per batch.
    assert!(r.batches.iter().all(|b| b.disruptive <= 1));
    assert_eq!(r.batches.len(), 14);
    // Racks are not mixed and r1 (sorted first) finishes before r2 starts.
    let racks: Vec<&str> = r
        .batches
        .iter()
        .map(|b| b.partition.as_deref().unwrap())
        .collect();
    assert_eq!(racks, [vec!["r1"; 7], vec!["r2"; 7]].concat());
    // r1-s02 dependsOn r1-s01.
    let batch_of = |n: &str| {
        r.batches
            .iter()
            .find(|b| b.hosts.iter().any(|h| h == n))
            .unwrap()
            .number
    };
    assert!(batch_of("r1-s01") < batch_of("r1-s02"));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn max_unavailable_override_and_dependents_never_share_a_batch() {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut observed = converged_all(&hosts);
    for h in observed.values_mut() {
        bios_mut(h)
            .current
            .insert("ProcVirtualization".into(), json!("Bogus"));
    }
    let opts = PlanOptions {
        max_unavailable: Some(IntOrPercent::Percent("50%".into())),
        ..options(&f)
    };
    let p = plan(&hosts, &observed, &opts);
    let r = &p.rollout;
    assert_eq!(p.options.max_unavailable, opts.max_unavailable);
    // 50% of 7 = 3 per batch within a rack.
    assert!(r.batches.iter().all(|b| b.disruptive <= 3));
    assert!(r.batches.iter().any(|b| b.disruptive == 3));
    for b in &r.batches {
        assert!(
            !(b.hosts.contains(&"r1-s01".to_string()) && b.hosts.contains(&"r1-s02".to_string()))
        );
    }
    let total: usize = r.batches.iter().map(|b| b.hosts.len()).sum();
    assert_eq!(total, 14);
}

#[test]
fn hosts_without_disruption_do_not_count_against_max_unavailable() {
    let quiet = |n: &str| {
        host(
            n,
            &[],
            &[],
            settings(json!({"boot": {"override": {"target": "Pxe"}}})),
        )
    };
    let loud = host(
        "c",
        &[],
        &[],
        settings(json!({"bios": {"attributes": {"A": "x"}}})),
    );
    let (a, b) = (quiet("a"), quiet("b"));
    let hosts = [&a, &b, &loud];
    let observed = converged_all(&hosts)
        .into_iter()
        .map(|(k, mut o)| {
            sys_mut(&mut o).boot.override_target = Some("None".into());
            if o.of_kind(ResourceKind::Bios).is_some() {
                bios_mut(&mut o).current.insert("A".into(), json!("y"));
            }
            (k, o)
        })
        .collect();
    let p = plan(&hosts, &observed, &PlanOptions::default());
    assert_eq!(p.host("a").unwrap().disruption, Disruption::None);
    assert_eq!(p.host("c").unwrap().disruption, Disruption::Reboot);
    // Default maxUnavailable 1: one batch holds the disruptive host and both quiet ones.
    assert_eq!(p.rollout.batches.len(), 1);
    assert_eq!(p.rollout.batches[0].hosts, ["a", "b", "c"]);
    assert_eq!(p.rollout.batches[0].disruptive, 1);
}

#[test]
fn steps_carry_the_observed_fingerprint_as_their_precondition() {
    let p = plan_fleet(|o| {
        set_bios(o, "r1-c01", "LogicalProc", json!("Enabled"), None);
        bios_mut(o.get_mut("r1-c01").unwrap()).settings_etag = Some("\"settings-7\"".into());
    });
    let h = p.host("r1-c01").unwrap();
    let step = h
        .steps
        .iter()
        .find(|s| s.address == "host/r1-c01/bios")
        .unwrap();
    let pre = step.precondition.as_ref().unwrap();
    assert_eq!(pre.etag.as_deref(), Some("\"bios-1\""));
    assert_eq!(pre.settings_etag.as_deref(), Some("\"settings-7\""));
    assert!(!pre.sha256.is_empty());
    // The op says exactly what is written, with the apply time chosen at plan time.
    match &step.op {
        bmfleet::plan::Op::BiosStage {
            attributes,
            apply_time,
            ..
        } => {
            assert!(attributes.contains_key("LogicalProc"));
            assert_eq!(apply_time.as_deref(), Some("OnReset"));
        }
        other => panic!("not a BIOS op: {other:?}"),
    }
    // The reset writes nothing: no precondition.
    assert!(
        h.steps
            .iter()
            .filter(|s| s.kind == ResourceKind::Reboot)
            .all(|s| s.precondition.is_none())
    );
}

#[test]
fn plans_are_deterministic_whatever_the_input_order() {
    let f = fleet();
    let mut hosts: Vec<&Host> = f.hosts.iter().collect();
    let mut observed = converged_all(&hosts);
    for h in observed.values_mut() {
        bios_mut(h)
            .current
            .insert("SriovGlobalEnable".into(), json!("Disabled"));
    }
    let a = plan(&hosts, &observed, &options(&f));
    hosts.reverse();
    let b = plan(&hosts, &observed, &options(&f));
    assert_eq!(
        bmfleet::render::plan_json::render(&a),
        bmfleet::render::plan_json::render(&b)
    );
    let names: Vec<&str> = a.hosts.iter().map(|h| h.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn host_selection_by_selector_glob_and_exclude() {
    let f = fleet();
    let opts = PlanOptions {
        selector: Some(bmfleet::spec::selector::Selector::parse("role=compute").unwrap()),
        exclude: vec!["r2-*".into(), "r1-c02".into()],
        ..options(&f)
    };
    let names: Vec<&str> = select_hosts(&f.hosts, &opts)
        .unwrap()
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(names, ["r1-c01", "r1-c03", "r1-c04"]);
    assert_eq!(opts.filters().selector.as_deref(), Some("role=compute"));

    let opts = PlanOptions {
        hosts: vec!["r1-c0*".into(), "r2-s01".into()],
        ..options(&f)
    };
    assert_eq!(select_hosts(&f.hosts, &opts).unwrap().len(), 5);

    let opts = PlanOptions {
        hosts: vec!["r1-c1".into()],
        ..options(&f)
    };
    let e = select_hosts(&f.hosts, &opts).unwrap_err();
    assert!(
        matches!(&e, SelectError::UnknownHost { name, suggestion: Some(_), .. } if name == "r1-c1"),
        "{e:?}"
    );

    // pdsh/ClusterShell ranges, as printed in plans, select the same hosts.
    let opts = PlanOptions {
        hosts: vec!["r1-c[01-04],r2-s01".into()],
        exclude: vec!["r1-c[02-03]".into()],
        ..options(&f)
    };
    let names: Vec<&str> = select_hosts(&f.hosts, &opts)
        .unwrap()
        .iter()
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(names, ["r1-c01", "r1-c04", "r2-s01"]);
}

#[test]
fn spec_diff_between_two_revisions() {
    use bmfleet::plan::{diff_specs, flatten};
    let files = BTreeMap::new();
    let old = host(
        "n1",
        &[],
        &[],
        settings(json!({
            "bios": {"attributes": {"A": "x", "Gone": 1}},
            "os": {"sysctl": {"vm.swappiness": 10}}
        })),
    );
    let new = host(
        "n1",
        &[],
        &[],
        settings(json!({
            "bios": {"attributes": {"A": "y", "New": true}},
            "os": {"sysctl": {"vm.swappiness": "10"}, "kernelArgs": ["iommu=pt"]}
        })),
    );
    let changes = diff_specs(&flatten(&old, &files), &flatten(&new, &files));
    let summary: Vec<(String, &str, Action, Disruption)> = changes
        .iter()
        .map(|c| {
            (
                c.address.to_string(),
                c.setting.as_str(),
                c.action,
                c.disruption,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "host/n1/bios".to_string(),
                "A",
                Action::Update,
                Disruption::Reboot
            ),
            (
                "host/n1/bios".to_string(),
                "Gone",
                Action::Delete,
                Disruption::None
            ),
            (
                "host/n1/bios".to_string(),
                "New",
                Action::Create,
                Disruption::Reboot
            ),
            (
                "host/n1/os/kernel-args".to_string(),
                "args",
                Action::Create,
                Disruption::Reboot
            ),
        ]
    );
}

/// The planner orders each `dependsOn`-connected part of the fleet on its own, so that
/// planning is linear in hosts; every host's steps must still come out in the order that one
/// global graph of all hosts gives (rebuilt here from the plan's changes), and a host with a
/// dependency (`r1-s02` on `r1-s01`) is ordered with it.
#[test]
fn steps_ordered_per_dependency_part_follow_the_global_graph_order() {
    use bmfleet::plan::graph::{ChangeIndex, HostResources, build};
    use bmfleet::plan::resource::flatten;
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let opts = options(&f);
    let mut observed = converged_all(&hosts);
    // Drift every BIOS attribute of every host, and power half of the hosts off.
    for (i, h) in hosts.iter().enumerate() {
        for r in flatten(h, &opts.files) {
            if r.kind == ResourceKind::Bios {
                for k in r.settings.keys() {
                    set_bios(&mut observed, &h.name, k, json!("Drifted"), None);
                }
            }
        }
        if i % 2 == 0
            && let Some(o) = observed.get_mut(&h.name)
        {
            let addr = bmfleet::plan::Address::new(&h.name, ResourceKind::Power, None);
            if let Some(Ok(p)) = o.resources.get_mut(&addr) {
                p.values.insert(
                    "PowerState".into(),
                    bmfleet::plan::ObservedValue {
                        current: Some(json!("Off")),
                        pending: None,
                    },
                );
            }
        }
    }
    let p = plan(&hosts, &observed, &opts);
    assert!(p.errors.is_empty(), "{:?}", p.errors);

    let mut idx = ChangeIndex::default();
    for h in &p.hosts {
        for c in &h.changes {
            let facts = idx.resources.entry(c.address.clone()).or_default();
            facts.needs_reset |= c.disruption.resets();
            facts.keys.insert(c.setting.clone());
        }
        if h.steps.iter().any(|s| s.kind == ResourceKind::Reboot) {
            idx.reboots.insert(h.name.clone());
        }
    }
    let all: Vec<HostResources> = hosts
        .iter()
        .map(|h| HostResources {
            name: h.name.clone(),
            depends_on: h.depends_on.clone(),
            resources: flatten(h, &opts.files),
        })
        .collect();
    let g = build(&all, &idx);
    let order: Vec<&bmfleet::plan::Address> =
        g.topological_order().iter().map(|n| &n.address).collect();
    let mut checked = 0;
    for h in &p.hosts {
        let steps: Vec<&bmfleet::plan::Address> = h
            .steps
            .iter()
            .map(|s| &s.address)
            .filter(|a| g.node(a).is_some())
            .collect();
        let expected: Vec<&bmfleet::plan::Address> = order
            .iter()
            .copied()
            .filter(|a| steps.contains(a))
            .collect();
        assert_eq!(steps, expected, "steps of {}", h.name);
        checked += steps.len();
    }
    assert!(checked >= 2 * p.hosts.len(), "{checked} steps checked");
    assert!(p.host("r1-s02").is_some_and(|h| h.steps.len() > 1));
}

#[test]
fn control_characters_from_a_bmc_never_reach_the_plan_raw() {
    // A BMC that reports PowerState with a clear-screen escape and a forged plan line.
    let hostile = "Off\u{1b}[2J\n  ~ bios: forged";
    let p = plan_fleet(|o| {
        sys_mut(o.get_mut("r1-c01").unwrap()).power_state = Some(hostile.into());
    });
    let h = p.host("r1-c01").unwrap();
    let power = h
        .changes
        .iter()
        .find(|c| c.setting == "PowerState")
        .unwrap();
    assert!(
        !power.reason.chars().any(char::is_control),
        "{:?}",
        power.reason
    );
    assert!(power.reason.contains("\\u001b"), "{}", power.reason);
    let text = bmfleet::render::plan_text::render(&p, false);
    assert!(!text.contains('\u{1b}'));
    assert!(!text.contains("\n  ~ bios: forged"));
}
