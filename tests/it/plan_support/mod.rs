//! Helpers shared by the `plan_*` integration tests: the example fleet, synthetic hosts, and
//! observed states built from a host's spec.
#![allow(dead_code)]

use bmfleet::plan::resource::{ResourceKind, flatten};
use bmfleet::plan::{Address, Observation, ObservedHost, ObservedValue, PlanOptions, ReadError};
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
/// value (nothing staged), so a plan against it has no BMC changes. Power is always
/// reported (as the Redfish provider does); OS resources are not observed.
pub fn converged(host: &Host) -> ObservedHost {
    let mut o = ObservedHost::new(host.name.clone());
    {
        let mut sys = sys_mut(&mut o);
        sys.etag = Some(format!("\"sys-{}\"", host.name));
    }
    let resources = flatten(host, &BTreeMap::new());
    for r in &resources {
        let get = |k: &str| r.settings.get(k).map(|s| s.value.clone());
        let as_string = |v: Option<Value>| v.and_then(|v| v.as_str().map(str::to_string));
        match r.kind {
            ResourceKind::Power => sys_mut(&mut o).power_state = as_string(get("PowerState")),
            ResourceKind::Boot => {
                let mut sys = sys_mut(&mut o);
                sys.boot.mode = as_string(get("BootSourceOverrideMode"));
                sys.boot.override_target = as_string(get("BootSourceOverrideTarget"));
                sys.boot.override_enabled = as_string(get("BootSourceOverrideEnabled"));
            }
            ResourceKind::Bios | ResourceKind::DpuBios => {
                let mut bios = edit_bios(&mut o, r.kind);
                for (k, s) in &r.settings {
                    bios.current.insert(k.clone(), s.value.clone());
                }
                if r.kind == ResourceKind::Bios {
                    bios.etag = Some("\"bios-1\"".into());
                    bios.supported_apply_times = vec!["OnReset".into()];
                }
            }
            ResourceKind::DpuMode => {
                dpu_mut(&mut o).mode =
                    get("mode").and_then(|v| serde_json::from_value::<DpuMode>(v).ok());
            }
            _ => {
                o.not_observed.insert(
                    r.address.clone(),
                    "OS state is read over SSH, not available yet".into(),
                );
            }
        }
    }
    if host.settings.dpu.is_some() {
        drop(dpu_mut(&mut o));
    }
    o
}

/// Converged observed states for every host.
pub fn converged_all(hosts: &[&Host]) -> BTreeMap<String, ObservedHost> {
    hosts
        .iter()
        .map(|h| (h.name.clone(), converged(h)))
        .collect()
}

fn addr(o: &ObservedHost, kind: ResourceKind) -> Address {
    Address::new(&o.name, kind, None)
}

fn values_of(o: &ObservedHost, kind: ResourceKind) -> Observation {
    o.of_kind(kind).cloned().unwrap_or_default()
}

/// Editable BIOS values of an observed host; written back when dropped.
pub struct BiosEdit<'a> {
    o: &'a mut ObservedHost,
    kind: ResourceKind,
    /// Current attributes.
    pub current: BTreeMap<String, Value>,
    /// Staged attributes.
    pub pending: BTreeMap<String, Value>,
    /// ETag.
    pub etag: Option<String>,
    /// ETag of the settings object.
    pub settings_etag: Option<String>,
    /// Apply times.
    pub supported_apply_times: Vec<String>,
}

impl Drop for BiosEdit<'_> {
    fn drop(&mut self) {
        let mut obs = values_of(self.o, self.kind);
        obs.values.clear();
        let keys: std::collections::BTreeSet<String> = self
            .current
            .keys()
            .chain(self.pending.keys())
            .cloned()
            .collect();
        for k in keys {
            let current = self.current.get(&k).cloned();
            let pending = self
                .pending
                .get(&k)
                .cloned()
                .filter(|p| current.as_ref() != Some(p));
            obs.values.insert(k, ObservedValue { current, pending });
        }
        obs.fingerprint.etag = self.etag.clone();
        obs.fingerprint.settings_etag = self.settings_etag.clone();
        obs.fingerprint.sha256 = format!("{:?}{:?}", self.current, self.pending)
            .len()
            .to_string();
        obs.capabilities.apply_times = self.supported_apply_times.clone();
        let a = addr(self.o, self.kind);
        self.o.resources.insert(a, Ok(obs));
    }
}

fn edit_bios(o: &mut ObservedHost, kind: ResourceKind) -> BiosEdit<'_> {
    let obs = values_of(o, kind);
    let current = obs
        .values
        .iter()
        .filter_map(|(k, v)| v.current.clone().map(|c| (k.clone(), c)))
        .collect();
    let pending = obs
        .values
        .iter()
        .filter_map(|(k, v)| v.pending.clone().map(|c| (k.clone(), c)))
        .collect();
    BiosEdit {
        kind,
        current,
        pending,
        etag: obs.fingerprint.etag.clone(),
        settings_etag: obs.fingerprint.settings_etag.clone(),
        supported_apply_times: obs.capabilities.apply_times.clone(),
        o,
    }
}

/// The host's BIOS (current and staged values), for tests to edit.
pub fn bios_mut(o: &mut ObservedHost) -> BiosEdit<'_> {
    edit_bios(o, ResourceKind::Bios)
}

/// The DPU's BIOS, for tests to edit.
pub fn dpu_bios_mut(o: &mut ObservedHost) -> BiosEdit<'_> {
    edit_bios(o, ResourceKind::DpuBios)
}

/// Boot properties of [`SysEdit`].
#[derive(Default)]
pub struct BootEdit {
    /// `BootSourceOverrideMode`.
    pub mode: Option<String>,
    /// `BootSourceOverrideTarget`.
    pub override_target: Option<String>,
    /// `BootSourceOverrideEnabled`.
    pub override_enabled: Option<String>,
}

/// Editable power and boot state; written back when dropped.
pub struct SysEdit<'a> {
    o: &'a mut ObservedHost,
    /// `PowerState` as the provider reports it (normalized).
    pub power_state: Option<String>,
    /// Boot.
    pub boot: BootEdit,
    /// The system's ETag.
    pub etag: Option<String>,
    /// Allowed reset types.
    pub reset_types: Vec<String>,
}

impl Drop for SysEdit<'_> {
    fn drop(&mut self) {
        let mut power = values_of(self.o, ResourceKind::Power);
        power.values.insert(
            "PowerState".into(),
            ObservedValue {
                current: self.power_state.clone().map(Value::String),
                pending: None,
            },
        );
        power.fingerprint.etag = self.etag.clone();
        power.capabilities.reset_types = self.reset_types.clone();
        let mut boot = values_of(self.o, ResourceKind::Boot);
        for (k, v) in [
            ("BootSourceOverrideMode", &self.boot.mode),
            ("BootSourceOverrideTarget", &self.boot.override_target),
            ("BootSourceOverrideEnabled", &self.boot.override_enabled),
        ] {
            boot.values.insert(
                k.into(),
                ObservedValue {
                    current: v.clone().map(Value::String),
                    pending: None,
                },
            );
        }
        boot.fingerprint.etag = self.etag.clone();
        let (pa, ba) = (
            addr(self.o, ResourceKind::Power),
            addr(self.o, ResourceKind::Boot),
        );
        self.o.resources.insert(pa, Ok(power));
        self.o.resources.insert(ba, Ok(boot));
    }
}

/// The host's power and boot state, for tests to edit.
pub fn sys_mut(o: &mut ObservedHost) -> SysEdit<'_> {
    let power = values_of(o, ResourceKind::Power);
    let boot = values_of(o, ResourceKind::Boot);
    let s =
        |obs: &Observation, k: &str| obs.current(k).and_then(|v| v.as_str()).map(str::to_string);
    SysEdit {
        power_state: s(&power, "PowerState"),
        boot: BootEdit {
            mode: s(&boot, "BootSourceOverrideMode"),
            override_target: s(&boot, "BootSourceOverrideTarget"),
            override_enabled: s(&boot, "BootSourceOverrideEnabled"),
        },
        etag: power.fingerprint.etag.clone(),
        reset_types: power.capabilities.reset_types.clone(),
        o,
    }
}

/// Editable DPU mode; written back when dropped.
pub struct DpuEdit<'a> {
    o: &'a mut ObservedHost,
    /// The mode in effect.
    pub mode: Option<DpuMode>,
    /// A staged mode.
    pub pending_mode: Option<DpuMode>,
}

impl Drop for DpuEdit<'_> {
    fn drop(&mut self) {
        let j = |m: &Option<DpuMode>| m.as_ref().and_then(|m| serde_json::to_value(m).ok());
        let mut obs = values_of(self.o, ResourceKind::DpuMode);
        obs.values.insert(
            "mode".into(),
            ObservedValue {
                current: j(&self.mode),
                pending: j(&self.pending_mode).filter(|p| j(&self.mode).as_ref() != Some(p)),
            },
        );
        let a = addr(self.o, ResourceKind::DpuMode);
        self.o.resources.insert(a, Ok(obs));
    }
}

/// The DPU of an observed host, for tests to edit.
pub fn dpu_mut(o: &mut ObservedHost) -> DpuEdit<'_> {
    let obs = values_of(o, ResourceKind::DpuMode);
    let m = |v: Option<&Value>| v.and_then(|v| serde_json::from_value::<DpuMode>(v.clone()).ok());
    DpuEdit {
        mode: m(obs.current("mode")),
        pending_mode: m(obs.values.get("mode").and_then(|v| v.pending.as_ref())),
        o,
    }
}

/// The host's BMC cannot be read: every BMC resource fails with `e`.
pub fn fail_bmc(o: &mut ObservedHost, e: ReadError) {
    let name = o.name.clone();
    for kind in [ResourceKind::Power, ResourceKind::Boot, ResourceKind::Bios] {
        o.resources
            .insert(Address::new(&name, kind, None), Err(e.clone()));
    }
}

/// The DPU's BMC cannot be read.
pub fn fail_dpu(o: &mut ObservedHost, e: ReadError) {
    let name = o.name.clone();
    for kind in [ResourceKind::DpuMode, ResourceKind::DpuBios] {
        o.resources
            .insert(Address::new(&name, kind, None), Err(e.clone()));
    }
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

/// A parsed address (tests only: panics on a bad one).
pub fn a(text: &str) -> Address {
    Address::parse(text).unwrap()
}

/// Refreshes `hosts` through a Redfish provider over `targets`.
pub async fn refresh_redfish(
    hosts: &[&Host],
    targets: Vec<bmfleet::engine::targets::HostTarget>,
    client: bmfleet::redfish::ClientOptions,
    reporter: std::sync::Arc<dyn bmfleet::engine::Reporter>,
) -> bmfleet::engine::RefreshResult {
    let providers: Vec<std::sync::Arc<dyn bmfleet::engine::Provider>> = vec![std::sync::Arc::new(
        bmfleet::redfish::provider::RedfishProvider::new(targets, client),
    )];
    bmfleet::engine::refresh(
        hosts,
        &BTreeMap::new(),
        &providers,
        &bmfleet::engine::RefreshOptions::default(),
        reporter,
    )
    .await
}

/// The current value of `key` in the resource of `kind` of an observed host.
pub fn current(o: &ObservedHost, kind: ResourceKind, key: &str) -> Option<Value> {
    o.of_kind(kind).and_then(|x| x.current(key)).cloned()
}

/// The staged value of `key` in the resource of `kind`.
pub fn staged(o: &ObservedHost, kind: ResourceKind, key: &str) -> Option<Value> {
    o.of_kind(kind)
        .and_then(|x| x.values.get(key))
        .and_then(|v| v.pending.clone())
}
