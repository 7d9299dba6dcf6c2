//! The planner: effective hosts + observed state -> [`Plan`]. Pure, synchronous and
//! deterministic (no clock, no I/O, sorted output).
//!
//! For every setting the spec sets, three values are compared: desired (spec), pending
//! (staged for the next reset) and current, as the providers observed them (already
//! normalized: the planner compares with plain equality and knows no vendor). Settings the
//! spec does not set are ignored. Resources that were not observed are listed as such, not
//! as changes.
//!
//! Each resource with writes becomes one [`Step`] whose typed [`Op`] is built by the rules in
//! [`super::rules`] (one function per resource kind: adding a kind means adding its rule and
//! its provider, nothing else), with the observed fingerprint as its precondition.

use super::graph::{self, ChangeFacts, ChangeIndex, HostResources};
use super::model::{
    Action, Change, ChangeGroup, FORMAT_VERSION, Plan, PlanError, PlanHost, SpecSource, Step,
    Summary, Unobserved, UnobservedSetting,
};
use super::observed::{ObservedHost, ReadError};
use super::op::Op;
use super::resource::{Disruption, Resource, ResourceKind, Setting, flatten};
use super::rollout::{RolloutHost, plan_rollout};
use super::rules;
use super::select::PlanOptions;
use super::value::{SENSITIVE, canonical_json, display};
use crate::spec::Host;
use crate::spec::model::PowerState;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why a resource is not compared when no provider said why.
pub const NOT_OBSERVED: &str = "no provider read this resource";

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

    // Order the changes with the dependency graph, one connected part of it at a time: the
    // graph only links hosts through `dependsOn`, so the hosts a `dependsOn` chain connects
    // (most often a host alone) are ordered on their own. Each part's maps stay small, and
    // the whole pass is linear in hosts; a global graph of 100,000 hosts was superlinear
    // (ordered maps of millions of addresses) and held every part's nodes at once. The order
    // within a part is the order the global graph gives: a priority topological order
    // restricted to one weakly connected part does not depend on the others. Hosts are
    // evaluated part by part too, so a host's flattened resources are freed once its part is
    // ordered instead of living until the whole fleet is evaluated.
    let mut errors: Vec<PlanError> = Vec::new();
    let mut planned: Vec<Option<PlanHost>> = hosts.iter().map(|_| None).collect();
    for part in dependency_parts(&hosts) {
        let mut evals: Vec<HostEval> = part
            .iter()
            .map(|&i| evaluate_host(hosts[i], observed.get(&hosts[i].name), opts))
            .collect();
        let mut changes = ChangeIndex::default();
        let mut graph_hosts: Vec<HostResources> = Vec::with_capacity(part.len());
        for (&i, e) in part.iter().zip(evals.iter_mut()) {
            changes.resources.append(&mut e.facts);
            if e.reboot.is_some() {
                changes.reboots.insert(e.host.name.clone());
            }
            graph_hosts.push(HostResources {
                name: hosts[i].name.clone(),
                depends_on: hosts[i].depends_on.clone(),
                // Moved, not cloned: only the graph needs them from here on.
                resources: std::mem::take(&mut e.resources),
            });
        }
        let g = graph::build(&graph_hosts, &changes);
        errors.extend(g.cycles().iter().map(|cycle| cycle_error(cycle)));
        for node in g.topological_order() {
            // `part` is sorted, as `hosts` is: find the node's host by name.
            let Ok(at) = part.binary_search_by(|&i| hosts[i].name.as_str().cmp(&node.host)) else {
                continue;
            };
            let e = &mut evals[at];
            if node.kind == ResourceKind::Reboot {
                if let Some(step) = e.reboot.take() {
                    // Steps in the OS that follow the reset need the OS back first, and so
                    // does the re-read that verifies OS steps made before it (kernel args,
                    // boot-time hugepages, a cloud-init seed: the reset applies them).
                    let os_before = e.host.steps.iter().any(|s| s.kind.in_os());
                    e.host.steps.push(step);
                    if os_before || e.write_steps.keys().any(|a| a.kind.in_os()) {
                        e.host.steps.push(rules::await_os(&e.host.name));
                    }
                }
            } else if let Some(step) = e.write_steps.remove(&node.address) {
                e.host.steps.push(step);
            }
        }
        for (&i, mut e) in part.iter().zip(evals) {
            e.host.disruption = e
                .host
                .steps
                .iter()
                .map(|s| s.disruption)
                .max()
                .unwrap_or_default();
            planned[i] = Some(e.host);
        }
    }
    // Every index is in exactly one part, so every slot is filled.
    let mut plan_hosts: Vec<PlanHost> = planned.into_iter().flatten().collect();

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

/// The plan error for a dependency cycle.
fn cycle_error(cycle: &[super::address::Address]) -> PlanError {
    let mut hosts: Vec<String> = cycle.iter().map(|a| a.host.clone()).collect();
    hosts.sort();
    hosts.dedup();
    PlanError {
        code: "bmfleet::plan::cycle".into(),
        message: format!(
            "dependency cycle: {}",
            cycle
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
        help: "remove one `dependsOn` entry of the cycle; `bmfleet graph --format text` shows every edge".into(),
        hosts,
    }
}

/// The weakly connected parts of the `dependsOn` relation among `hosts` (sorted by name,
/// without duplicates), as sorted lists of indexes into `hosts`, in the order of their first
/// host. A host that depends on no host of the selection and that none depends on is a part
/// of its own. Dependencies on hosts outside the selection link nothing (the graph ignores
/// them too). Union-find with path halving: O(n log n) for the name look-ups, no pass over
/// all hosts per host.
pub(crate) fn dependency_parts(hosts: &[&Host]) -> Vec<Vec<usize>> {
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut parent: Vec<usize> = (0..hosts.len()).collect();
    for (i, h) in hosts.iter().enumerate() {
        for d in &h.depends_on {
            if let Ok(j) = hosts.binary_search_by(|x| x.name.as_str().cmp(d)) {
                let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
                if ri != rj {
                    // The smaller index is the root, so a part's root is its first host.
                    parent[ri.max(rj)] = ri.min(rj);
                }
            }
        }
    }
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut part_of_root: Vec<Option<usize>> = vec![None; hosts.len()];
    for i in 0..hosts.len() {
        let r = root(&mut parent, i);
        match part_of_root[r] {
            Some(p) => parts[p].push(i),
            None => {
                part_of_root[r] = Some(parts.len());
                parts.push(vec![i]);
            }
        }
    }
    parts
}

/// The planner's working state for one host.
struct HostEval {
    host: PlanHost,
    resources: Vec<Resource>,
    facts: BTreeMap<super::address::Address, ChangeFacts>,
    write_steps: BTreeMap<super::address::Address, Step>,
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
    if let Some(e) = observed.first_error() {
        eval.host.error = Some(e.clone());
        return eval;
    }

    let power = observed.of_kind(ResourceKind::Power);
    let power_now: Option<String> = power
        .and_then(|o| o.current("PowerState"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let ctx = rules::Context {
        host,
        power_now: power_now.as_deref(),
        files: &opts.files,
    };
    let mut all_changes: Vec<Change> = Vec::new();
    let mut read_only: Vec<String> = Vec::new();
    for r in &eval.resources {
        let Some(obs) = observed.get(&r.address) else {
            eval.host.unobserved.push(Unobserved {
                address: r.address.clone(),
                kind: r.kind,
                reason: observed
                    .not_observed
                    .get(&r.address)
                    .cloned()
                    .unwrap_or_else(|| NOT_OBSERVED.to_string()),
            });
            continue;
        };
        eval.host.observed += 1;
        if let Some(why) = &obs.pending_unknown {
            eval.host.notes.push(format!(
                "{}: the staged values could not be read ({why}); only the current values were compared",
                r.relative()
            ));
        }
        let mut resource_changes = Vec::new();
        for (key, setting) in &r.settings {
            if let Some(why) = obs.unknown.get(key) {
                eval.host.unobserved_settings.push(UnobservedSetting {
                    address: r.address.clone(),
                    setting: key.clone(),
                    reason: why.clone(),
                });
                continue;
            }
            let (current, pending) = obs
                .values
                .get(key)
                .map(|v| (v.current.as_ref(), v.pending.as_ref()))
                .unwrap_or_default();
            match compare(r, key, setting, current, pending) {
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
            let keys: Vec<&str> = writes.iter().map(|c| c.setting.as_str()).collect();
            let op = match rules::op_for(&ctx, r, &keys, obs) {
                Ok(op) => op,
                Err(message) => {
                    eval.host.error = Some(ReadError {
                        endpoint: r.address.to_string(),
                        message,
                        code: "bmfleet::plan::unwritable".into(),
                        help: "change the spec so this host can be written as it says (see docs/plan.md: \"Network writes\", \"What the OS steps write\"), or leave the setting out".into(),
                    });
                    eval.write_steps.clear();
                    eval.facts.clear();
                    return eval;
                }
            };
            if let Op::CloudInit {
                delivery: Some(d), ..
            } = &op
                && d != "ssh"
            {
                eval.host.notes.push(format!(
                    "{}: cloud-init delivery {d} (an image attached through Redfish VirtualMedia) is not carried out by this build yet: apply refuses this plan before touching any host; deliver by ssh (a NoCloud seed over SSH) or leave this host out (--exclude)",
                    r.relative()
                ));
            }
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
                    op,
                    precondition: Some(obs.fingerprint.clone()),
                },
            );
        }
        if let Some(why) = obs
            .capabilities
            .read_only
            .as_ref()
            .filter(|_| !writes.is_empty())
        {
            read_only.push(format!("{} ({why})", r.relative()));
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
    if !read_only.is_empty() {
        eval.host.error = Some(ReadError {
            endpoint: os_endpoint(host),
            message: format!(
                "{} setting(s) differ but cannot be written from here: {}",
                all_changes.len(),
                read_only.join("; ")
            ),
            code: "bmfleet::os::no_write_access".into(),
            help: "log in as root or set os.ssh.sudo: true (passwordless sudo -n), then plan again"
                .into(),
        });
        eval.write_steps.clear();
        return eval;
    }

    decide_reboot(
        &mut eval,
        host,
        observed,
        power_now.as_deref(),
        &all_changes,
    );
    all_changes.sort_by(|a, b| (&a.address, &a.setting).cmp(&(&b.address, &b.setting)));
    eval.host.changes = all_changes;
    eval
}

/// The host's SSH destination as errors name it (`os.ssh.host`), else its name.
fn os_endpoint(host: &Host) -> String {
    host.settings
        .os
        .as_ref()
        .and_then(|o| o.ssh.as_ref())
        .and_then(|s| s.host.clone())
        .unwrap_or_else(|| host.name.clone())
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
            "apply stages it in the BIOS settings; it takes effect on the next reset"
        }
        (ResourceKind::DpuMode, _) => "applies after a DPU reset, then a host power cycle",
        (ResourceKind::Boot, "BootSourceOverrideMode") => "applies on the next reset",
        (ResourceKind::Boot, _) => "used by the next boot",
        (ResourceKind::Power, _) => "the host goes down or comes up",
        (ResourceKind::Hugepages, k) if !super::os_files::hugepage_key_needs_reboot(k) => {
            "set now through sysfs and checked per NUMA node"
        }
        (ResourceKind::KernelArgs | ResourceKind::Hugepages, _) => "applies on the next reset",
        _ => "applied live",
    }
}

/// Compares one setting. `None` means no-op. Values are compared with plain equality: the
/// providers normalize what they observe.
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
    let staged = pending.filter(|p| current != Some(*p));
    let in_effect = current == Some(desired);
    let w = what(r.kind, key);
    let (action, disruption, reason) = match (in_effect, staged) {
        (true, None) => return None,
        (true, Some(p)) => (
            Action::Replace,
            Disruption::None,
            format!(
                "drift: {w} has {} staged, which would replace the desired {} on the next reset; the staged value is replaced",
                show(p),
                show(desired)
            ),
        ),
        (false, Some(p)) if p == desired => (
            Action::Pending,
            setting.disruption,
            format!("{w} already staged; {}", pending_effect(r.kind)),
        ),
        (false, Some(p)) => (
            Action::Replace,
            setting.disruption,
            format!(
                "drift: {w} has {} staged, spec says {}; the staged value is replaced",
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
                    _ => format!("{w} is not reported; spec says {}", show(desired)),
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
                } else if let Some(text) = args_change(r.kind, c, desired) {
                    format!("{text}; {}", takes_effect(r.kind, key))
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

/// Kernel arguments as the arguments added and removed (`add iommu=pt hugepages=64; remove
/// hugepages=32`), not two whole lists.
fn args_change(kind: ResourceKind, current: &Value, desired: &Value) -> Option<String> {
    if kind != ResourceKind::KernelArgs {
        return None;
    }
    let list = |v: &Value| -> Option<Vec<String>> {
        v.as_array().map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
    };
    let (added, removed) = super::text_diff::args_diff(&list(current)?, &list(desired)?);
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("add {}", added.join(" ")));
    }
    if !removed.is_empty() {
        parts.push(format!("remove {}", removed.join(" ")));
    }
    (!parts.is_empty()).then(|| format!("kernel args: {}", parts.join("; ")))
}

/// A string value without quotes (`Off`), for power-state reasons; a string holding control
/// characters (a hostile or broken BMC: terminal escapes, newlines that forge plan lines) is
/// shown JSON-quoted with them escaped.
fn show_plain(v: &Value) -> String {
    match v.as_str() {
        Some(s) if !s.chars().any(char::is_control) => s.to_string(),
        _ => v.to_string(),
    }
}

fn pending_effect(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Bios | ResourceKind::DpuBios => {
            "staged in the BIOS settings; applies on the next reset"
        }
        ResourceKind::DpuMode => "applies on the next DPU reset, then a host power cycle",
        _ => "applies on the next reset",
    }
}

/// Decides the host's coalesced reboot: one `reboot` step when any change needs a reset,
/// unless a power transition takes its place.
fn decide_reboot(
    eval: &mut HostEval,
    host: &Host,
    observed: &ObservedHost,
    power_now: Option<&str>,
    changes: &[Change],
) {
    let feeders: BTreeSet<String> = changes
        .iter()
        .filter(|c| c.disruption.resets() && c.kind != ResourceKind::Power)
        .map(|c| c.address.relative())
        .collect();
    if feeders.is_empty() {
        return;
    }
    let desired_off = host.settings.power == Some(PowerState::Off);
    let list = feeders.iter().cloned().collect::<Vec<_>>().join(", ");
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
    let dpu_mode = changes.iter().any(|c| c.kind == ResourceKind::DpuMode);
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
        op: rules::reset(observed, dpu_mode, feeders.into_iter().collect()),
        precondition: None,
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
            c.address.relative(),
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
        observed: hosts.iter().map(|h| h.observed).sum(),
        unobserved: hosts.iter().map(|h| h.unobserved.len()).sum(),
        unobserved_settings: hosts.iter().map(|h| h.unobserved_settings.len()).sum(),
    }
}
