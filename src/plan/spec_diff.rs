//! The effective per-host change between two revisions of the specs (`bmfleet diff`), for
//! pull-request review with no access to live systems: hosts added and removed, each changed
//! setting with before/after and its disruption class, identical changes grouped once with
//! their hosts, and for each group the `file:line` in the head revision that caused it.
//!
//! Changes of trust and reach (endpoints, TLS, credential references, SSH, timeouts, rollout)
//! are listed apart, first, in [`SpecDiff::access`] (see [`super::access`]).
//!
//! Pure and deterministic, like the planner: both revisions are already loaded and merged.

use super::access::{AccessChange, access_changes};
use super::address::Address;
use super::diff_specs;
use super::hostlist;
use super::model::{Action, Change, FORMAT_VERSION, SpecSource};
use super::resource::{DataFiles, Disruption, ResourceKind, flatten};
use super::value::same_value;
use crate::spec::LoadedFleet;
use crate::spec::load::Host;
use crate::spec::merge::{lookup, parse_path};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a change comes from: `profiles/compute.yaml:23` in `profile compute`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Cause {
    /// `file:line` relative to the fleet root, in the revision that has the value (the head
    /// for creates and updates, the base for deletes).
    pub location: String,
    /// The layer: `fleet defaults`, `profile compute`, `host r1-c01`, or `cloud-init file`.
    pub layer: String,
}

/// Whether a host is new, gone or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    /// Only in the head revision.
    Added,
    /// Only in the base revision.
    Removed,
    /// In both, with changed settings.
    Changed,
}

/// A readable form of a change to a list or a document, beside its structured before and
/// after values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeDetail {
    /// Kernel arguments added and removed, each in command-line order (both empty when only
    /// the order changed).
    Args {
        /// In the head, not in the base (`iommu=pt`).
        added: Vec<String>,
        /// In the base, not in the head (`quiet`).
        removed: Vec<String>,
    },
    /// A cloud-init document's unified text diff (`@@` hunks, lines marked ` `, `-`, `+`),
    /// with secrets masked (see [`super::text_diff`]).
    Text {
        /// The diff's lines.
        unified: Vec<String>,
    },
}

/// One changed setting of a host, with its cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffChange {
    /// The change (`pending` is always `null` in a spec diff).
    #[serde(flatten)]
    pub change: Change,
    /// What in the specs caused it.
    pub cause: Option<Cause>,
    /// Kernel arguments added and removed, or a cloud-init document's text diff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ChangeDetail>,
}

/// A host in the diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffHost {
    /// Host name.
    pub name: String,
    /// Added, removed or changed.
    pub status: HostStatus,
    /// Profiles applied (head revision; base for a removed host).
    pub profiles: Vec<String>,
    /// The largest disruption of its changes (`none` for a removed host: bmfleet stops
    /// managing it and changes nothing on it).
    pub disruption: Disruption,
    /// Where the host is defined (`hosts/rack1.yaml:12`).
    pub location: Option<String>,
    /// Its changes (empty for a removed host).
    pub changes: Vec<DiffChange>,
}

/// The same change on two or more hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiffGroup {
    /// Resource relative to the host (`bios`, `os/hugepages`, `network/bond0`).
    pub resource: String,
    /// Setting key.
    pub setting: String,
    /// Create, update or delete.
    pub action: Action,
    /// Base value.
    pub before: Option<Value>,
    /// Head value.
    pub after: Option<Value>,
    /// Values are secret (shown masked).
    pub sensitive: bool,
    /// Disruption per host.
    pub disruption: Disruption,
    /// The hosts, sorted.
    pub hosts: Vec<String>,
    /// The hosts folded into the pdsh/ClusterShell form (`r1-c[01-04],r2-c01`).
    pub host_ranges: String,
    /// What caused it (usually one profile line).
    pub causes: Vec<Cause>,
    /// Kernel arguments added and removed, or a cloud-init document's text diff (the same
    /// on every host of the group: their before and after values are the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<ChangeDetail>,
}

/// Counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffSummary {
    /// Hosts in the base revision.
    pub hosts_base: usize,
    /// Hosts in the head revision.
    pub hosts_head: usize,
    /// Hosts only in the head.
    pub hosts_added: usize,
    /// Hosts only in the base.
    pub hosts_removed: usize,
    /// Hosts in both whose effective spec changed.
    pub hosts_changed: usize,
    /// Changed settings on hosts in both revisions.
    pub settings: usize,
    /// Hosts (added or changed) whose changes reboot them, reprovisions included.
    ///
    /// Each disruption count is the number of hosts whose changes reach that class or a
    /// more disruptive one, as `--fail-on` counts them ([`SpecDiff::hosts_at_least`]): a
    /// reprovision also reboots the host and flaps its links, a reboot also flaps its links.
    pub reboots: usize,
    /// Hosts (added or changed) whose changes reprovision them.
    pub reprovisions: usize,
    /// Hosts (added or changed) whose changes flap links, reboots and reprovisions included.
    pub link_flaps: usize,
    /// Changes of trust or reach ([`SpecDiff::access`] entries), what `--fail-on access`
    /// gates.
    #[serde(default)]
    pub access_changes: usize,
    /// Hosts named by those changes (a changed endpoint, TLS or SSH setting, or a credential
    /// they use); fleet-wide `concurrency` and `rollout` changes name none.
    #[serde(default)]
    pub access_hosts: usize,
}

/// The effective diff between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SpecDiff {
    /// `"1.0"`.
    pub format_version: String,
    /// The base revision.
    pub base: SpecSource,
    /// The head revision.
    pub head: SpecSource,
    /// Counts.
    pub summary: DiffSummary,
    /// Changes to where bmfleet connects and what it trusts (endpoints, `systemId`, TLS,
    /// credential references and the variables they are read from, SSH, timeouts, rollout),
    /// sorted by topic; shown before everything else.
    #[serde(default)]
    pub access: Vec<AccessChange>,
    /// Identical changes across hosts.
    pub groups: Vec<DiffGroup>,
    /// Added, removed and changed hosts, sorted by name.
    pub hosts: Vec<DiffHost>,
}

impl SpecDiff {
    /// True when anything differs, access settings included (exit status 2 with
    /// `--detailed-exitcode`).
    pub fn has_changes(&self) -> bool {
        !self.hosts.is_empty() || !self.access.is_empty()
    }

    /// The hosts named by access changes, sorted, each once.
    pub fn access_hosts(&self) -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> = self
            .access
            .iter()
            .flat_map(|a| a.hosts.iter().map(String::as_str))
            .collect();
        set.into_iter().collect()
    }

    /// The hosts with this status, in name order.
    pub fn hosts_with(&self, status: HostStatus) -> Vec<&DiffHost> {
        self.hosts.iter().filter(|h| h.status == status).collect()
    }

    /// Hosts (added or changed) whose changes reach `class` or more, for `--fail-on`: a
    /// reprovision reboots too, so `--fail-on reboot` catches it.
    pub fn hosts_at_least(&self, class: Disruption) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| h.status != HostStatus::Removed && h.disruption >= class)
            .map(|h| h.name.as_str())
            .collect()
    }
}

/// The spec path (for `explain`-style lookups) of a flattened setting.
fn spec_path(kind: ResourceKind, iface: Option<&str>, setting: &str) -> String {
    let iface = iface.unwrap_or_default();
    match kind {
        ResourceKind::Power => "power".into(),
        ResourceKind::Boot => match setting {
            "BootSourceOverrideMode" => "boot.mode".into(),
            "BootSourceOverrideTarget" => "boot.override.target".into(),
            _ => "boot.override.enabled".into(),
        },
        ResourceKind::Bios => format!("bios.attributes[{setting}]"),
        ResourceKind::DpuMode => "dpu.mode".into(),
        ResourceKind::DpuBios => format!("dpu.bios.attributes[{setting}]"),
        ResourceKind::Routes => "network.routes.config".into(),
        ResourceKind::Dns => format!("network.dns-resolver.config.{setting}"),
        ResourceKind::KernelArgs => "os.kernelArgs".into(),
        ResourceKind::Hugepages if setting == "defaultSize" => "os.hugepages.defaultSize".into(),
        ResourceKind::Hugepages => "os.hugepages.pages".into(),
        ResourceKind::Sysctl => format!("os.sysctl[{setting}]"),
        ResourceKind::Tunables => format!("os.tunables.{setting}"),
        ResourceKind::Sysfs => format!("os.sysfs[{setting}]"),
        ResourceKind::Vfio => format!("os.vfio.{setting}"),
        ResourceKind::CloudInit => {
            let key = setting.split('.').next().unwrap_or(setting);
            match key {
                "user-data" => "cloudInit.userData".into(),
                "meta-data" => "cloudInit.metaData".into(),
                "network-config" => "cloudInit.networkConfig".into(),
                _ => "cloudInit.delivery".into(),
            }
        }
        ResourceKind::SrIov => format!("network.interfaces[{iface}].ethernet.sr-iov.{setting}"),
        ResourceKind::Ethernet | ResourceKind::Bond | ResourceKind::Vlan => {
            format!("network.interfaces[{iface}].{setting}")
        }
        ResourceKind::Reboot | ResourceKind::Host => String::new(),
    }
}

/// The cause of a change in `fleet` for `host`: the deepest node on the setting's spec path
/// that exists.
fn cause_in(fleet: &LoadedFleet, host: &Host, path: &str) -> Option<Cause> {
    let segs = parse_path(path).ok()?;
    (1..=segs.len()).rev().find_map(|n| {
        lookup(&host.tree, &segs[..n]).map(|node| {
            let (line, _) = fleet.sources.line_col(node.span);
            Cause {
                location: format!("{}:{line}", fleet.sources.path(node.span)),
                layer: fleet.layer_of(node.span),
            }
        })
    })
}

fn iface_of(address: &Address) -> Option<&str> {
    address.iface.as_deref()
}

fn change_cause(
    c: &Change,
    base: &LoadedFleet,
    head: &LoadedFleet,
    base_host: Option<&Host>,
    head_host: Option<&Host>,
) -> Option<Cause> {
    let mut path = spec_path(c.kind, iface_of(&c.address), &c.setting);
    if path.is_empty() {
        return None;
    }
    // `pages.1G.node0`: point at the list item with that size and node.
    if c.kind == ResourceKind::Hugepages
        && let Some(rest) = c.setting.strip_prefix("pages.")
    {
        let (size, node) = match rest.split_once(".node") {
            Some((size, n)) => (size, n.parse::<u32>().ok()),
            None => (rest, None),
        };
        let host = if c.action == Action::Delete {
            base_host
        } else {
            head_host
        };
        let index = host
            .and_then(|h| h.settings.os.as_ref())
            .and_then(|o| o.hugepages.as_ref())
            .and_then(|hp| {
                hp.pages
                    .iter()
                    .position(|p| p.size == size && p.node == node)
            });
        if let Some(i) = index {
            path = format!("os.hugepages.pages[{i}].count");
        }
    }
    // A cloud-init document whose file changed but not its reference: the file is the cause.
    if c.kind == ResourceKind::CloudInit
        && !c.setting.ends_with(".source")
        && let Some(Value::String(file)) = head_host.and_then(|h| {
            let key = format!("{}.file", path);
            let segs = parse_path(&key).ok()?;
            lookup(&h.tree, &segs).map(|n| n.to_json())
        })
    {
        return Some(Cause {
            location: format!("{file}:1"),
            layer: "cloud-init file".into(),
        });
    }
    match (c.action, head_host, base_host) {
        (Action::Delete, _, Some(b)) => cause_in(base, b, &path),
        (_, Some(h), _) => cause_in(head, h, &path),
        _ => None,
    }
}

/// The text of a host's cloud-init document `key` (`user-data`, `meta-data`,
/// `network-config`): inline, or the file as read in `fleet`; empty when there is none.
fn cloud_init_text<'f>(fleet: &'f LoadedFleet, host: Option<&'f Host>, key: &str) -> &'f str {
    let Some(ci) = host.and_then(|h| h.settings.cloud_init.as_ref()) else {
        return "";
    };
    let src = match key {
        "user-data" => ci.user_data.as_ref(),
        "meta-data" => ci.meta_data.as_ref(),
        "network-config" => ci.network_config.as_ref(),
        _ => None,
    };
    match src {
        Some(s) => match (&s.inline, &s.file) {
            (Some(text), _) => text.as_str(),
            (None, Some(path)) => fleet.data_files.get(path).map_or("", |t| &**t),
            (None, None) => "",
        },
        None => "",
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The readable form of a kernel-args or cloud-init document change (`None` for other
/// settings and for sensitive values).
fn change_detail(
    c: &Change,
    base: &LoadedFleet,
    head: &LoadedFleet,
    base_host: Option<&Host>,
    head_host: Option<&Host>,
) -> Option<ChangeDetail> {
    if c.sensitive {
        return None;
    }
    match c.kind {
        ResourceKind::KernelArgs if c.setting == "args" => {
            let (added, removed) = super::text_diff::args_diff(
                &string_list(c.before.as_ref()),
                &string_list(c.after.as_ref()),
            );
            Some(ChangeDetail::Args { added, removed })
        }
        ResourceKind::CloudInit
            if matches!(
                c.setting.as_str(),
                "user-data" | "meta-data" | "network-config"
            ) =>
        {
            let old = cloud_init_text(base, base_host, &c.setting);
            let new = cloud_init_text(head, head_host, &c.setting);
            let unified = super::text_diff::unified_masked(old, new);
            (!unified.is_empty()).then_some(ChangeDetail::Text { unified })
        }
        _ => None,
    }
}

fn host_location(fleet: &LoadedFleet, host: &Host) -> String {
    let (line, _) = fleet.sources.line_col(host.name_span);
    format!("{}:{line}", fleet.sources.path(host.name_span))
}

/// Computes the effective diff from `base` to `head`. `base_files` / `head_files` are the
/// cloud-init documents of each revision (their `data_files`).
pub fn spec_diff(base: &LoadedFleet, head: &LoadedFleet) -> SpecDiff {
    let base_hosts: BTreeMap<&str, &Host> =
        base.hosts.iter().map(|h| (h.name.as_str(), h)).collect();
    let head_hosts: BTreeMap<&str, &Host> =
        head.hosts.iter().map(|h| (h.name.as_str(), h)).collect();
    let base_files: &DataFiles = &base.data_files;
    let head_files: &DataFiles = &head.data_files;
    let mut names: Vec<&str> = base_hosts
        .keys()
        .chain(head_hosts.keys())
        .copied()
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut hosts = Vec::new();
    let mut summary = DiffSummary {
        hosts_base: base.hosts.len(),
        hosts_head: head.hosts.len(),
        ..DiffSummary::default()
    };
    for name in names {
        let b = base_hosts.get(name).copied();
        let h = head_hosts.get(name).copied();
        let old = b.map(|x| flatten(x, base_files)).unwrap_or_default();
        let new = h.map(|x| flatten(x, head_files)).unwrap_or_default();
        let (status, changes) = match (b, h) {
            (Some(_), None) => (HostStatus::Removed, Vec::new()),
            (None, Some(_)) => (HostStatus::Added, diff_specs(&[], &new)),
            _ => {
                let changes = diff_specs(&old, &new);
                if changes.is_empty() {
                    continue;
                }
                (HostStatus::Changed, changes)
            }
        };
        let disruption = changes
            .iter()
            .map(|c| c.disruption)
            .max()
            .unwrap_or(Disruption::None);
        let changes: Vec<DiffChange> = changes
            .into_iter()
            .map(|c| {
                let cause = change_cause(&c, base, head, b, h);
                let detail = change_detail(&c, base, head, b, h);
                DiffChange {
                    change: c,
                    cause,
                    detail,
                }
            })
            .collect();
        match status {
            HostStatus::Added => summary.hosts_added += 1,
            HostStatus::Removed => summary.hosts_removed += 1,
            HostStatus::Changed => {
                summary.hosts_changed += 1;
                summary.settings += changes.len();
            }
        }
        // A host counts in every class its changes reach, as `--fail-on` does.
        if status != HostStatus::Removed {
            summary.reprovisions += usize::from(disruption >= Disruption::Reprovision);
            summary.reboots += usize::from(disruption >= Disruption::Reboot);
            summary.link_flaps += usize::from(disruption >= Disruption::LinkFlap);
        }
        let (fleet, host) = match (h, b) {
            (Some(h), _) => (head, h),
            (None, Some(b)) => (base, b),
            (None, None) => continue,
        };
        hosts.push(DiffHost {
            name: name.to_string(),
            status,
            profiles: host.profiles.clone(),
            disruption: if status == HostStatus::Removed {
                Disruption::None
            } else {
                disruption
            },
            location: Some(host_location(fleet, host)),
            changes,
        });
    }
    let groups = group(&mut hosts);
    let mut diff = SpecDiff {
        format_version: FORMAT_VERSION.to_string(),
        base: SpecSource::from(&base.repo),
        head: SpecSource::from(&head.repo),
        summary,
        access: access_changes(base, head),
        groups,
        hosts,
    };
    diff.summary.access_changes = diff.access.len();
    diff.summary.access_hosts = diff.access_hosts().len();
    diff
}

/// Resource, setting, action, before, after of a group, and its members.
type GroupKey = (
    String,
    String,
    Action,
    Option<Value>,
    Option<Value>,
    Vec<usize>,
);

/// Groups identical changes of changed hosts (two or more hosts), marking each change with
/// its group index.
fn group(hosts: &mut [DiffHost]) -> Vec<DiffGroup> {
    let mut index: Vec<GroupKey> = Vec::new();
    let mut members: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
    for (hi, h) in hosts.iter().enumerate() {
        if h.status != HostStatus::Changed {
            continue;
        }
        for (ci, dc) in h.changes.iter().enumerate() {
            let c = &dc.change;
            if c.sensitive {
                continue;
            }
            let rel = c.address.relative();
            let pos = index.iter().position(|(r, s, a, b, af, _)| {
                *r == rel
                    && *s == c.setting
                    && *a == c.action
                    && opt_same(b.as_ref(), c.before.as_ref())
                    && opt_same(af.as_ref(), c.after.as_ref())
            });
            let gi = match pos {
                Some(p) => p,
                None => {
                    index.push((
                        rel,
                        c.setting.clone(),
                        c.action,
                        c.before.clone(),
                        c.after.clone(),
                        Vec::new(),
                    ));
                    index.len() - 1
                }
            };
            members.entry(gi).or_default().push((hi, ci));
        }
    }
    let mut groups = Vec::new();
    for (gi, list) in members {
        if list.len() < 2 {
            continue;
        }
        let Some((resource, setting, action, before, after, _)) = index.get(gi).cloned() else {
            continue;
        };
        let mut names = Vec::new();
        let mut causes = Vec::new();
        let mut disruption = Disruption::None;
        let mut detail = None;
        for &(hi, ci) in &list {
            if let Some(h) = hosts.get_mut(hi) {
                names.push(h.name.clone());
                if let Some(dc) = h.changes.get_mut(ci) {
                    dc.change.group = Some(groups.len());
                    if detail.is_none() {
                        detail = dc.detail.clone();
                    }
                    disruption = disruption.max(dc.change.disruption);
                    if let Some(c) = &dc.cause
                        && !causes.contains(c)
                    {
                        causes.push(c.clone());
                    }
                }
            }
        }
        causes.sort();
        names.sort();
        groups.push(DiffGroup {
            resource,
            setting,
            action,
            before,
            after,
            sensitive: false,
            disruption,
            host_ranges: hostlist::compress(&names),
            hosts: names,
            causes,
            detail,
        });
    }
    groups
}

fn opt_same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_value(a, b),
        (None, None) => true,
        _ => false,
    }
}
