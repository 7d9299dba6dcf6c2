//! Batching hosts for `apply` under the fleet's rollout policy.
//!
//! - Stages come first, in order (a host belongs to the first stage whose selector matches;
//!   hosts in no stage come last).
//! - Within a stage, with `partitionBy`, one partition (label value) at a time, in sorted
//!   order; hosts without the label form the partition `""`.
//! - Within a partition, at most `maxUnavailable` *disruptive* hosts (link flap or worse) per
//!   batch; a percentage is resolved against the hosts in scope in that partition (or in the
//!   whole scope without `partitionBy`). Hosts whose changes disrupt nothing do not count
//!   and join the partition's first open batch.
//! - A host never shares a batch with a host it `dependsOn`; dependencies sort first. When
//!   stages or partitions put a dependency in a later batch, the rollout carries a warning.

use super::model::{Batch, Rollout};
use crate::spec::model::{IntOrPercent, RolloutPolicy};
use crate::spec::selector::Selector;
use std::collections::{BTreeMap, BTreeSet};

/// What the batching needs to know about a host in scope.
#[derive(Debug, Clone)]
pub struct RolloutHost<'a> {
    /// The host's name.
    pub name: &'a str,
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
    /// `spec.dependsOn`.
    pub depends_on: &'a [String],
    /// True when the host has steps to apply.
    pub changes: bool,
    /// True when those steps disrupt the host (link flap, reboot, reprovision).
    pub disruptive: bool,
}

/// Batches the hosts with changes. `hosts` is every host in scope (hosts without changes
/// count for percentages).
pub fn plan_rollout(
    hosts: &[RolloutHost<'_>],
    policy: &RolloutPolicy,
    max_unavailable: Option<&IntOrPercent>,
) -> Rollout {
    let mut warnings = Vec::new();
    let max_unavailable = max_unavailable
        .cloned()
        .unwrap_or_else(|| policy.max_unavailable.clone());
    let stages: Vec<(String, Option<Selector>)> = policy
        .stages
        .iter()
        .map(|st| match Selector::parse(&st.selector) {
            Ok(sel) => (st.name.clone(), Some(sel)),
            Err(e) => {
                warnings.push(format!(
                    "rollout stage `{}`: selector `{}` does not parse ({e}); the stage is empty",
                    st.name, st.selector
                ));
                (st.name.clone(), None)
            }
        })
        .collect();
    let stage_of = |h: &RolloutHost<'_>| {
        stages
            .iter()
            .position(|(_, sel)| sel.as_ref().is_some_and(|s| s.matches(h.labels)))
            .unwrap_or(stages.len())
    };
    let partition_of = |h: &RolloutHost<'_>| {
        policy
            .partition_by
            .as_ref()
            .map(|key| h.labels.get(key).cloned().unwrap_or_default())
    };

    // Hosts in scope per partition, for percentages.
    let mut scope: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for h in hosts {
        *scope.entry(partition_of(h)).or_default() += 1;
    }
    let limit_for = |partition: &Option<String>, warnings: &mut Vec<String>| {
        let total = scope.get(partition).copied().unwrap_or(0);
        match max_unavailable.resolve(total) {
            Some(0) => {
                push_once(
                    warnings,
                    "maxUnavailable resolves to 0 hosts; using 1 so the rollout can progress"
                        .to_string(),
                );
                1
            }
            Some(n) => n,
            None => {
                push_once(
                    warnings,
                    format!(
                        "maxUnavailable {max_unavailable:?} is not a valid count or percentage; using 1"
                    ),
                );
                1
            }
        }
    };

    // Dependency depth among the hosts with changes, so dependencies sort first.
    let changed: BTreeMap<&str, &RolloutHost<'_>> = hosts
        .iter()
        .filter(|h| h.changes)
        .map(|h| (h.name, h))
        .collect();
    let depth = depths(&changed);

    let mut groups: BTreeMap<(usize, Option<String>), Vec<&RolloutHost<'_>>> = BTreeMap::new();
    for h in changed.values() {
        groups
            .entry((stage_of(h), partition_of(h)))
            .or_default()
            .push(h);
    }

    let mut batches: Vec<Batch> = Vec::new();
    for ((stage, partition), mut members) in groups {
        members.sort_by_key(|h| (depth.get(h.name).copied().unwrap_or(0), h.name));
        let limit = limit_for(&partition, &mut warnings);
        let stage_name = stages.get(stage).map(|(n, _)| n.clone());
        // The open batch, by name: looking a host's dependencies up in it costs
        // O(dependencies x log batch), not O(batch), so a large batch (hosts that disrupt
        // nothing all join it) keeps the batching O(n log n).
        let mut current: BTreeSet<&str> = BTreeSet::new();
        let mut disruptive = 0usize;
        let flush =
            |current: &mut BTreeSet<&str>, disruptive: &mut usize, batches: &mut Vec<Batch>| {
                if current.is_empty() {
                    return;
                }
                // A sorted set: the names come out sorted.
                let names: Vec<String> = current.iter().map(|n| n.to_string()).collect();
                batches.push(Batch {
                    number: batches.len() + 1,
                    stage: stage_name.clone(),
                    partition: partition.clone(),
                    hosts: names,
                    disruptive: *disruptive,
                });
                current.clear();
                *disruptive = 0;
            };
        for h in members {
            let depends_on_current = h.depends_on.iter().any(|d| current.contains(d.as_str()));
            let full = h.disruptive && disruptive >= limit;
            if depends_on_current || full {
                flush(&mut current, &mut disruptive, &mut batches);
            }
            if h.disruptive {
                disruptive += 1;
            }
            current.insert(h.name);
        }
        flush(&mut current, &mut disruptive, &mut batches);
    }

    // Dependencies that the stages or partitions put after their dependents.
    let batch_of: BTreeMap<&str, usize> = batches
        .iter()
        .flat_map(|b| b.hosts.iter().map(move |h| (h.as_str(), b.number)))
        .collect();
    for h in changed.values() {
        for d in h.depends_on {
            if let (Some(&bd), Some(&bh)) = (batch_of.get(d.as_str()), batch_of.get(h.name))
                && bd >= bh
            {
                warnings.push(format!(
                    "{} depends on {d}, but the rollout stages or partitions put {d} in batch {bd} and {} in batch {bh}",
                    h.name, h.name
                ));
            }
        }
    }

    let max_failures = policy
        .max_failures
        .as_ref()
        .and_then(|m| m.resolve(hosts.len()))
        .unwrap_or(0);
    Rollout {
        max_unavailable,
        partition_by: policy.partition_by.clone(),
        max_failures,
        batches,
        warnings,
    }
}

fn push_once(warnings: &mut Vec<String>, w: String) {
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}

/// Longest `dependsOn` chain below each host (0 for hosts that depend on no changed host).
/// Cycles are cut (a host already on the current path counts as depth 0).
fn depths(hosts: &BTreeMap<&str, &RolloutHost<'_>>) -> BTreeMap<String, usize> {
    fn visit(
        name: &str,
        hosts: &BTreeMap<&str, &RolloutHost<'_>>,
        memo: &mut BTreeMap<String, usize>,
        path: &mut BTreeSet<String>,
    ) -> usize {
        if let Some(d) = memo.get(name) {
            return *d;
        }
        if !path.insert(name.to_string()) {
            return 0;
        }
        let mut d = 0;
        if let Some(h) = hosts.get(name) {
            for dep in h.depends_on {
                if hosts.contains_key(dep.as_str()) && !path.contains(dep) {
                    d = d.max(1 + visit(dep, hosts, memo, path));
                }
            }
        }
        path.remove(name);
        memo.insert(name.to_string(), d);
        d
    }
    let mut memo = BTreeMap::new();
    for name in hosts.keys() {
        visit(name, hosts, &mut memo, &mut BTreeSet::new());
    }
    memo
}
