//! Helpers shared by the `plan_*` integration tests: the example fleet, synthetic hosts, and
//! observed states built from a host's spec.
#![allow(dead_code)]

use bmfleet::plan::resource::{ResourceKind, flatten};
use bmfleet::plan::{
    ObservedBios, ObservedDpu, ObservedHost, ObservedSystem, PlanOptions, ReadError,
};
use bmfleet::spec::model::{DpuMode, HostSettings};
use bmfleet::spec::yaml::{Node, Span, Value as YamlValue};
use bmfleet::spec::{Host, LoadedFleet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The example fleet (14 hosts), loaded from the work tree.
pub fn fleet() -> LoadedFleet {
    let f = bmfleet::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
    assert!(!f.has_errors(), "{:?}", f.diagnostics);
    f
}

/// A host built in code (for settings the example fleet does not have).
pub fn host(
    name: &str,
    labels: &[(&str, &str)],
    depends_on: &[&str],
    settings: HostSettings,
) -> Host {
    Host {
        name: name.to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        name_span: Span::default(),
        profiles: Vec::new(),
        depends_on: depends_on.iter().map(|s| s.to_string()).collect(),
        depends_on_spans: Vec::new(),
        settings,
        tree: Node::new(YamlValue::Null, Span::default()),
    }
}

/// Settings from a YAML/JSON snippet of a host spec.
pub fn settings(json: Value) -> HostSettings {
    serde_json::from_value(json).unwrap()
}

/// An observed state in which every BMC-side setting of the host already has its desired
/// value (nothing staged), so a plan against it has no BMC changes.
pub fn converged(host: &Host) -> ObservedHost {
    let mut system = ObservedSystem {
        etag: Some(format!("\"sys-{}\"", host.name)),
        ..ObservedSystem::default()
    };
    let mut dpu: Option<ObservedDpu> = None;
    for r in flatten(host, &BTreeMap::new()) {
        let get = |k: &str| r.settings.get(k).map(|s| s.value.clone());
        let as_string = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
        match r.kind {
            ResourceKind::Power => system.power_state = as_string(get("PowerState")),
            ResourceKind::Boot => {
                system.boot.mode = as_string(get("BootSourceOverrideMode"));
                system.boot.override_target = as_string(get("BootSourceOverrideTarget"));
                system.boot.override_enabled = as_string(get("BootSourceOverrideEnabled"));
            }
            ResourceKind::Bios => {
                let bios = system.bios.get_or_insert_with(ObservedBios::default);
                for (k, s) in &r.settings {
                    bios.current.insert(k.clone(), s.value.clone());
                }
                bios.etag = Some("\"bios-1\"".into());
                bios.supported_apply_times = vec!["OnReset".into()];
            }
            ResourceKind::DpuMode => {
                let d = dpu.get_or_insert_with(ObservedDpu::default);
                d.mode = get("mode").and_then(|v| serde_json::from_value::<DpuMode>(v).ok());
            }
            ResourceKind::DpuBios => {
                let d = dpu.get_or_insert_with(ObservedDpu::default);
                let bios = d.bios.get_or_insert_with(ObservedBios::default);
                for (k, s) in &r.settings {
                    bios.current.insert(k.clone(), s.value.clone());
                }
            }
            _ => {}
        }
    }
    if host.settings.dpu.is_some() {
        dpu.get_or_insert_with(ObservedDpu::default);
    }
    ObservedHost {
        name: host.name.clone(),
        bmc: Ok(system),
        dpu: dpu.map(Ok),
    }
}

/// Converged observed states for every host.
pub fn converged_all(hosts: &[&Host]) -> BTreeMap<String, ObservedHost> {
    hosts
        .iter()
        .map(|h| (h.name.clone(), converged(h)))
        .collect()
}

/// The host's BIOS (current values), for tests to edit.
pub fn bios_mut(o: &mut ObservedHost) -> &mut ObservedBios {
    o.bmc
        .as_mut()
        .unwrap()
        .bios
        .get_or_insert_with(ObservedBios::default)
}

/// The DPU of an observed host, for tests to edit.
pub fn dpu_mut(o: &mut ObservedHost) -> &mut ObservedDpu {
    o.dpu
        .get_or_insert_with(|| Ok(ObservedDpu::default()))
        .as_mut()
        .unwrap()
}

/// A connection error for `endpoint`.
pub fn unreachable(endpoint: &str) -> ReadError {
    ReadError {
        endpoint: endpoint.to_string(),
        message: "connection refused".into(),
        code: "bmfleet::redfish::connect".into(),
        help: "check that the BMC is powered and reachable from here".into(),
    }
}

/// Plan options for the example fleet (its rollout policy, revision and cloud-init files).
pub fn options(f: &LoadedFleet) -> PlanOptions {
    PlanOptions::for_fleet(f)
}
