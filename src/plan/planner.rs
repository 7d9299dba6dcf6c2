//! The planner: effective hosts + observed state -> [`Plan`]. Pure, synchronous and
//! deterministic (no clock, no I/O, sorted output).
//!
//! For every setting the spec sets, three values are compared: desired (spec), pending
//! (staged in `@Redfish.Settings`, applied on the next reset) and current. Settings the spec
//! does not set are ignored. Resources whose state is not read yet (the OS side) are listed
//! as unobserved, not as changes.

use super::graph::{self, ChangeFacts, ChangeIndex, HostResources};
use super::model::{
    Action, Change, ChangeGroup, FORMAT_VERSION, Fingerprint, Plan, PlanError, PlanHost,
    SpecSource, Step, Summary, Unobserved,
};
use super::observed::{ObservedBios, ObservedHost, ReadError};
use super::resource::{Disruption, Resource, ResourceKind, Setting, flatten, relative_address};
use super::rollout::{RolloutHost, plan_rollout};
use super::select::PlanOptions;
use super::value::{SENSITIVE, canonical_json, display, same_value, sha256_json};
use crate::spec::Host;
use crate::spec::model::PowerState;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Why OS-side resources are not compared yet.
pub const OS_NOT_REFRESHED: &str = "OS state is read over SSH, not available yet";

/// Plans `hosts` against their `observed` state (keyed by host name).
///
/// `hosts` is the selection to plan (see [`crate::plan::select_hosts`]); the filters in
/// `opts` are recorded in the plan, not applied again. A host missing from `observed`, or
/// whose BMC (or DPU BMC) could not be read, is planned as an error; the others are planned
/// normally.
pub fn plan(
    hosts: &[&Host],
    observed: &BTreeMap<String, ObservedHost>,
    opts: &PlanOptions,
) -> Plan {
    let mut hosts: Vec<&Host> = hosts.to_vec();
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    hosts.dedup_by(|a, b| a.name == b.name);

    let mut evals: Vec<HostEval> = hosts
        .iter()
        .map(|h| evaluate_host(h, observed.get(&h.name), opts))
        .collect();

    // Order the changes with the dependency graph.
    let mut changes = ChangeIndex::default();
    for e in &evals {
        for (addr, facts) in &e.facts {
            changes.resources.insert(addr.clone(), facts.clone());
        }
        if e.reboot.is_some() {
            changes.reboots.insert(e.host.name.clone());
        }
    }
    let graph_hosts: Vec<HostResources> = hosts
        .iter()
        .zip(&evals)
        .map(|(h, e)| HostResources {
            name: h.name.clone(),
            depends_on: h.depends_on.clone(),
            resources: e.resources.clone(),
        })
        .collect();
    let g = graph::build(&graph_hosts, &changes);
    let mut errors: Vec<PlanError> = g
        .cycles()
        .iter()
        .map(|cycle| {
            let mut hosts: Vec<String> = cycle
                .iter()
                .map(|a| super::resource::host_of(a).to_string())
                .collect();
            hosts.sort();
            hosts.dedup();
            PlanError {
                code: "bmfleet::plan::cycle".into(),
                message: format!("dependency cycle: {}", cycle.join(" -> ")),
                help: "remove one `dependsOn` entry of the cycle; `bmfleet graph --format text` shows every edge".into(),
                hosts,
            }
        })
        .collect();
    let by_name: BTreeMap<String, usize> = evals
        .iter()
        .enumerate()
        .map(|(i, e)| (e.host.name.clone(), i))
        .collect();
    for node in g.topological_order() {
        let Some(&i) = by_name.get(&node.host) else {
            continue;
        };
        let e = &mut evals[i];
        if node.kind == ResourceKind::Reboot {
            if let Some(step) = e.reboot.take() {
                e.host.steps.push(step);
            }
        } else if let Some(step) = e.write_steps.remove(&node.address) {
            e.host.steps.push(step);
        }
    }

    let mut plan_hosts: Vec<PlanHost> = evals
        .into_iter()
        .map(|mut e| {
            e.host.disruption = e
                .host
                .steps
                .iter()
                .map(|s| s.disruption)
                .max()
                .unwrap_or_default();
            e.host
        })
        .collect();

    let groups = group_changes(&mut plan_hosts);
    let rollout_hosts: Vec<RolloutHost<'_>> = hosts
        .iter()
        .zip(&plan_hosts)
        .map(|(h, p)| RolloutHost {
            name: &h.name,
            labels: &h.labels,
            depends_on: &h.depends_on,
            changes: p.has_changes(),
            disruptive: p.disruption > Disruption::None,
        })
        .collect();
    let rollout = plan_rollout(&rollout_hosts, &opts.rollout, opts.max_unavailable.as_ref());

    errors.sort_by(|a, b| a.message.cmp(&b.message));
    let summary = summarize(&plan_hosts, errors.len());
    Plan {
        format_version: FORMAT_VERSION.to_string(),
        source: opts
            .source
            .as_ref()
            .map(SpecSource::from)
            .unwrap_or_default(),
        options: opts.filters(),
        summary,
        groups,
        hosts: plan_hosts,
        rollout,
        errors,
    }
}

/// The planner's working state for one host.
struct HostEval {
    host: PlanHost,
    resources: Vec<Resource>,
    facts: BTreeMap<String, ChangeFacts>,
    write_steps: BTreeMap<String, Step>,
    reboot: Option<Step>,
}

fn evaluate_host(host: &Host, observed: Option<&ObservedHost>, opts: &PlanOptions) -> HostEval {
    let resources = flatten(host, &opts.files);
    let mut eval = HostEval {
        host: PlanHost {
            name: host.name.clone(),
            labels: host.labels.clone(),
            ..PlanHost::default()
        },
        resources,
        facts: BTreeMap::new(),
        write_steps: BTreeMap::new(),
        reboot: None,
    };

    let Some(observed) = observed else {
        eval.host.error = Some(ReadError {
            endpoint: bmc_endpoint(host),
            message: "no observed state for this host: it was not refreshed".into(),
            code: "bmfleet::plan::not_refreshed".into(),
            help: "run the plan again; if it persists, check that the host is in the selection the engine refreshed".into(),
        });
        return eval;
    };
    let system = match &observed.bmc {
        Ok(s) => s,
        Err(e) => {
            eval.host.error = Some(e.clone());
            return eval;
        }
    };
    let dpu = match &observed.dpu {
        Some(Err(e)) => {
            eval.host.error = Some(e.clone());
            return eval;
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };

    let power_now = system.power_state.as_deref().map(normalize_power);
    let mut all_changes: Vec<Change> = Vec::new();
    for r in &eval.resources {
        let observed_values = match r.kind {
            ResourceKind::Power => {
                let fp = fingerprint(
                    system.etag.clone(),
                    None,
                    &json!({ "PowerState": system.power_state }),
                );
                Some((fp, values_of(r, |_| (power_now.map(|p| json!(p)), None))))
            }
            ResourceKind::Boot => {
                let b = &system.boot;
                let fp = fingerprint(
                    system.etag.clone(),
                    None,
                    &json!({
                        "BootSourceOverrideMode": b.mode,
                        "BootSourceOverrideTarget": b.override_target,
                        "BootSourceOverrideEnabled": b.override_enabled,
                    }),
                );
                Some((
                    fp,
                    values_of(r, |key| {
                        let v = match key {
                            "BootSourceOverrideMode" => &b.mode,
                            "BootSourceOverrideTarget" => &b.override_target,
                            _ => &b.override_enabled,
                        };
                        (v.as_ref().map(|s| json!(s)), None)
                    }),
                ))
            }
            ResourceKind::Bios => system.bios.as_ref().map(|bios| bios_values(r, bios)),
            ResourceKind::DpuMode => dpu.map(|d| {
                let fp = fingerprint(
                    d.etag.clone(),
                    None,
                    &json!({ "mode": d.mode, "pending_mode": d.pending_mode }),
                );
                let to_json = |m: &Option<crate::spec::model::DpuMode>| {
                    m.as_ref().and_then(|m| serde_json::to_value(m).ok())
                };
                (
                    fp,
                    values_of(r, |_| (to_json(&d.mode), to_json(&d.pending_mode))),
                )
            }),
            ResourceKind::DpuBios => dpu
                .and_then(|d| d.bios.as_ref())
                .map(|bios| bios_values(r, bios)),
            _ => None,
        };
        let Some((fp, values)) = observed_values else {
            eval.host.unobserved.push(Unobserved {
                address: r.address.clone(),
                kind: r.kind,
                reason: unobserved_reason(r.kind, dpu.is_some()),
            });
            continue;
        };
        eval.host.fingerprints.insert(r.address.clone(), fp);
        let mut resource_changes = Vec::new();
        for (key, setting) in &r.settings {
            let (current, pending) = values.get(key).cloned().unwrap_or_default();
            match compare(r, key, setting, current.as_ref(), pending.as_ref()) {
                Some(c) => resource_changes.push(c),
                None => eval.host.unchanged += 1,
            }
        }
        if resource_changes.is_empty() {
            continue;
        }
        let writes: Vec<&Change> = resource_changes
            .iter()
            .filter(|c| c.action.writes())
            .collect();
        if !writes.is_empty() {
            eval.write_steps.insert(
                r.address.clone(),
                Step {
                    address: r.address.clone(),
                    kind: r.kind,
                    disruption: writes
                        .iter()
                        .map(|c| c.disruption)
                        .max()
                        .unwrap_or_default(),
                    description: describe_writes(r, &writes, power_now),
                },
            );
        }
        eval.facts.insert(
            r.address.clone(),
            ChangeFacts {
                needs_reset: resource_changes.iter().any(|c| c.disruption.resets()),
                keys: resource_changes.iter().map(|c| c.setting.clone()).collect(),
            },
        );
        all_changes.extend(resource_changes);
    }

    decide_reboot(&mut eval, host, power_now, &all_changes);
    all_changes.sort_by(|a, b| (&a.address, &a.setting).cmp(&(&b.address, &b.setting)));
    eval.host.changes = all_changes;
    eval
}

/// Settings key -> (current, pending) observed values.
type Observed = BTreeMap<String, (Option<Value>, Option<Value>)>;

fn values_of(r: &Resource, f: impl Fn(&str) -> (Option<Value>, Option<Value>)) -> Observed {
    r.settings.keys().map(|k| (k.clone(), f(k))).collect()
}

fn bios_values(r: &Resource, bios: &ObservedBios) -> (Fingerprint, Observed) {
    let fp = fingerprint(
        bios.etag.clone(),
        bios.settings_etag.clone(),
        &json!({ "current": bios.current, "pending": bios.pending }),
    );
    let values = values_of(r, |k| {
        (bios.current.get(k).cloned(), bios.pending.get(k).cloned())
    });
    (fp, values)
}

fn fingerprint(etag: Option<String>, settings_etag: Option<String>, v: &Value) -> Fingerprint {
    Fingerprint {
        etag: etag.filter(|e| !e.is_empty()),
        settings_etag: settings_etag.filter(|e| !e.is_empty()),
        sha256: sha256_json(v),
    }
}

fn unobserved_reason(kind: ResourceKind, dpu_read: bool) -> String {
    match kind {
        ResourceKind::Bios => "the BMC returned no Bios resource".into(),
        ResourceKind::DpuBios if dpu_read => "the DPU's BMC returned no Bios resource".into(),
        ResourceKind::DpuMode | ResourceKind::DpuBios => "the DPU's BMC was not read".into(),
        _ => OS_NOT_REFRESHED.into(),
    }
}

/// `PoweringOn` counts as `On` and `PoweringOff` as `Off`: the transition is under way.
fn normalize_power(s: &str) -> &str {
    match s {
        "PoweringOn" => "On",
        "PoweringOff" => "Off",
        other => other,
    }
}

fn bmc_endpoint(host: &Host) -> String {
    host.settings
        .bmc
        .as_ref()
        .and_then(|b| b.endpoint.clone())
        .unwrap_or_default()
}

/// What a setting is called in reasons.
fn what(kind: ResourceKind, key: &str) -> String {
    match kind {
        ResourceKind::Bios => format!("BIOS attribute {key}"),
        ResourceKind::DpuBios => format!("DPU BIOS attribute {key}"),
        ResourceKind::DpuMode => "DPU mode".to_string(),
        _ => key.to_string(),
    }
}

/// When a change of this kind takes effect.
fn takes_effect(kind: ResourceKind, key: &str) -> &'static str {
    match (kind, key) {
        (ResourceKind::Bios | ResourceKind::DpuBios, _) => {
            "apply stages it in @Redfish.Settings; it takes effect on the next reset"
        }
        (ResourceKind::DpuMode, _) => "applies after a DPU reset, then a host power cycle",
        (ResourceKind::Boot, "BootSourceOverrideMode") => "applies on the next reset",
        (ResourceKind::Boot, _) => "used by the next boot",
        (ResourceKind::Power, _) => "the host goes down or comes up",
        _ => "applied live",
    }
}

/// Compares one setting. `None` means no-op.
fn compare(
    r: &Resource,
    key: &str,
    setting: &Setting,
    current: Option<&Value>,
    pending: Option<&Value>,
) -> Option<Change> {
    let desired = &setting.value;
    let show = |v: &Value| {
        if setting.sensitive {
            SENSITIVE.to_string()
        } else {
            display(Some(v))
        }
    };
    // A staged value equal to the current one stages nothing (HPE and Lenovo list every
    // writable attribute in the settings object).
    let staged = pending.filter(|p| current.is_none_or(|c| !same_value(p, c)));
    let in_effect = current.is_some_and(|c| same_value(c, desired));
    let w = what(r.kind, key);
    let (action, disruption, reason) = match (in_effect, staged) {
        (true, None) => return None,
        (true, Some(p)) => (
            Action::Replace,
            Disruption::None,
            format!(
                "drift: {w} has {} staged on the BMC, which would replace the desired {} on the next reset; the staged value is replaced",
                show(p),
                show(desired)
            ),
        ),
        (false, Some(p)) if same_value(p, desired) => (
            Action::Pending,
            setting.disruption,
            format!("{w} already staged; {}", pending_effect(r.kind)),
        ),
        (false, Some(p)) => (
            Action::Replace,
            setting.disruption,
            format!(
                "drift: {w} has {} staged on the BMC, spec says {}; the staged value is replaced",
                show(p),
                show(desired)
            ),
        ),
        (false, None) => match current {
            None => (
                Action::Create,
                setting.disruption,
                match r.kind {
                    ResourceKind::Bios | ResourceKind::DpuBios => format!(
                        "{w} is not among the current attributes (the system may not support it); spec says {}",
                        show(desired)
                    ),
                    _ => format!(
                        "{w} is not reported by the BMC; spec says {}",
                        show(desired)
                    ),
                },
            ),
            Some(c) => (
                Action::Update,
                setting.disruption,
                if r.kind == ResourceKind::Power {
                    format!(
                        "drift: {w} is {}, spec says {}",
                        show_plain(c),
                        show_plain(desired)
                    )
                } else {
                    format!(
                        "{w} is {}, spec says {}; {}",
                        show(c),
                        show(desired),
                        takes_effect(r.kind, key)
                    )
                },
            ),
        },
    };
    let redact = |v: Option<&Value>| {
        v.map(|v| {
            if setting.sensitive {
                Value::String(SENSITIVE.into())
            } else {
                v.clone()
            }
        })
    };
    Some(Change {
        address: r.address.clone(),
        kind: r.kind,
        setting: key.to_string(),
        action,
        before: redact(current),
        pending: redact(staged),
        after: redact(Some(desired)),
        sensitive: setting.sensitive,
        disruption,
        reason,
        group: None,
    })
}

/// A string value without quotes (`Off`), for power-state reasons.
fn show_plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn pending_effect(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Bios | ResourceKind::DpuBios => {
            "staged in @Redfish.Settings; applies on the next reset"
        }
        ResourceKind::DpuMode => "applies on the next DPU reset, then a host power cycle",
        _ => "applies on the next reset",
    }
}

fn describe_writes(r: &Resource, writes: &[&Change], power_now: Option<&str>) -> String {
    let n = writes.len();
    let plural = if n == 1 { "" } else { "s" };
    match r.kind {
        ResourceKind::Power => {
            let to = writes
                .first()
                .and_then(|c| c.after.as_ref())
                .map_or_else(|| "?".to_string(), show_plain);
            match (power_now, to.as_str()) {
                (Some("Off"), "On") => "power on (also applies staged settings)".into(),
                (_, "Off") => "power off".into(),
                _ => format!("set PowerState {to}"),
            }
        }
        ResourceKind::Bios | ResourceKind::DpuBios => {
            let target = if r.kind == ResourceKind::Bios {
                "Bios/Settings"
            } else {
                "DPU Bios/Settings"
            };
            format!("PATCH {target}: {n} attribute{plural}")
        }
        ResourceKind::Boot => format!(
            "PATCH Boot: {}",
            writes
                .iter()
                .map(|c| c.setting.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ResourceKind::DpuMode => {
            let to = writes
                .first()
                .and_then(|c| c.after.as_ref())
                .map_or_else(|| "?".to_string(), show_plain);
            format!("set DPU mode {to}")
        }
        _ => format!("write {n} setting{plural}"),
    }
}

/// Decides the host's coalesced reboot: one `reboot` step when any change needs a reset,
/// unless a power transition takes its place.
fn decide_reboot(eval: &mut HostEval, host: &Host, power_now: Option<&str>, changes: &[Change]) {
    let feeders: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.disruption.resets() && !c.address.ends_with("/power"))
        .map(|c| relative_address(&c.address))
        .collect();
    if feeders.is_empty() {
        return;
    }
    let desired_off = host.settings.power == Some(PowerState::Off);
    let list = feeders.iter().copied().collect::<Vec<_>>().join(", ");
    if desired_off || power_now == Some("Off") {
        let note = if desired_off {
            format!("the spec keeps the host off: {list} take effect when it is next powered on")
        } else if host.settings.power == Some(PowerState::On) {
            format!("the host is off: powering it on applies {list}; no separate reboot")
        } else {
            format!("the host is off: {list} take effect when it is next powered on")
        };
        eval.host.notes.push(note);
        return;
    }
    let dpu_mode = changes.iter().any(|c| c.address.ends_with("/dpu/mode"));
    let how = if dpu_mode {
        "DPU reset, then host power cycle"
    } else {
        "host reset"
    };
    let reprovision = changes
        .iter()
        .any(|c| c.disruption == Disruption::Reprovision);
    eval.reboot = Some(Step {
        address: ResourceKind::Reboot.address(&host.name, ""),
        kind: ResourceKind::Reboot,
        disruption: if reprovision {
            Disruption::Reprovision
        } else {
            Disruption::Reboot
        },
        description: format!("{how}: applies {list}"),
    });
}

/// Groups identical non-sensitive changes found on two or more hosts, sets each change's
/// `group`, and returns the groups: most hosts first, then by resource and setting.
fn group_changes(hosts: &mut [PlanHost]) -> Vec<ChangeGroup> {
    type Key = (
        String,
        String,
        Action,
        String,
        String,
        String,
        Disruption,
        String,
    );
    let key_of = |c: &Change| -> Key {
        let j = |v: &Option<Value>| v.as_ref().map_or_else(String::new, canonical_json);
        (
            relative_address(&c.address).to_string(),
            c.setting.clone(),
            c.action,
            j(&c.before),
            j(&c.pending),
            j(&c.after),
            c.disruption,
            c.reason.clone(),
        )
    };
    let mut found: BTreeMap<Key, (Change, Vec<String>)> = BTreeMap::new();
    for h in hosts.iter() {
        for c in h.changes.iter().filter(|c| !c.sensitive) {
            found
                .entry(key_of(c))
                .or_insert_with(|| (c.clone(), Vec::new()))
                .1
                .push(h.name.clone());
        }
    }
    let mut groups: Vec<(Key, Change, Vec<String>)> = found
        .into_iter()
        .filter(|(_, (_, hs))| hs.len() > 1)
        .map(|(k, (c, hs))| (k, c, hs))
        .collect();
    groups.sort_by(|a, b| b.2.len().cmp(&a.2.len()).then_with(|| a.0.cmp(&b.0)));
    let index: BTreeMap<Key, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, (k, _, _))| (k.clone(), i))
        .collect();
    for h in hosts.iter_mut() {
        for c in &mut h.changes {
            if !c.sensitive {
                c.group = index.get(&key_of(c)).copied();
            }
        }
    }
    groups
        .into_iter()
        .map(|(k, c, mut hs)| {
            hs.sort();
            ChangeGroup {
                resource: k.0,
                kind: c.kind,
                setting: c.setting,
                action: c.action,
                before: c.before,
                pending: c.pending,
                after: c.after,
                disruption: c.disruption,
                reason: c.reason,
                hosts: hs,
            }
        })
        .collect()
}

fn summarize(hosts: &[PlanHost], plan_errors: usize) -> Summary {
    Summary {
        hosts: hosts.len(),
        hosts_to_change: hosts.iter().filter(|h| h.has_changes()).count(),
        settings: hosts.iter().map(PlanHost::settings_changed).sum(),
        reboots: hosts.iter().filter(|h| h.reboots()).count(),
        reprovisions: hosts.iter().filter(|h| h.reprovisions()).count(),
        link_flaps: hosts
            .iter()
            .filter(|h| h.disruption == Disruption::LinkFlap)
            .count(),
        pending: hosts.iter().map(PlanHost::pending).sum(),
        errors: hosts.iter().filter(|h| h.error.is_some()).count() + plan_errors,
        unobserved: hosts.iter().map(|h| h.unobserved.len()).sum(),
    }
}
