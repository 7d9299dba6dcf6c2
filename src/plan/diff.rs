//! Spec-to-spec diffs: two revisions' flattened resources compared with no live state
//! (`bmfleet diff --base REF`). Same [`Change`] type as the live plan, so the same renderers
//! apply; `pending` is always `null`.

use super::address::Address;
use super::model::{Action, Change};
use super::resource::{Disruption, Resource, Setting};
use super::value::{SENSITIVE, display, same_value};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Changes from `old` to `new` (each any host's resources, in any order), sorted by address
/// and setting; no-ops are left out.
///
/// - a resource or setting only in `new`: `create`;
/// - only in `old`: `delete`;
/// - in both with different values: `update` (values compared as [`same_value`] does: `10`
///   and `"10"` in YAML are one value to every writer).
///
/// A delete disrupts nothing (bmfleet stops managing the setting and leaves the live value
/// alone); sensitive values are masked.
pub fn diff_specs(old: &[Resource], new: &[Resource]) -> Vec<Change> {
    let index = |rs: &[Resource]| -> BTreeMap<Address, Resource> {
        rs.iter().map(|r| (r.address.clone(), r.clone())).collect()
    };
    let old = index(old);
    let new = index(new);
    let addresses: BTreeSet<&Address> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for addr in addresses {
        let o = old.get(addr);
        let n = new.get(addr);
        let Some(any) = n.or(o) else { continue };
        let keys: BTreeSet<&String> = o
            .into_iter()
            .chain(n)
            .flat_map(|r| r.settings.keys())
            .collect();
        for key in keys {
            let before = o.and_then(|r| r.settings.get(key));
            let after = n.and_then(|r| r.settings.get(key));
            if let Some(c) = diff_setting(any, key, before, after) {
                out.push(c);
            }
        }
    }
    out
}

fn diff_setting(
    r: &Resource,
    key: &str,
    before: Option<&Setting>,
    after: Option<&Setting>,
) -> Option<Change> {
    let sensitive = before.is_some_and(|s| s.sensitive) || after.is_some_and(|s| s.sensitive);
    let shown = |s: Option<&Setting>| {
        s.map(|s| {
            if sensitive {
                Value::String(SENSITIVE.into())
            } else {
                s.value.clone()
            }
        })
    };
    let (action, disruption, reason) = match (before, after) {
        (None, None) => return None,
        (Some(b), Some(a)) if same_value(&b.value, &a.value) => return None,
        (None, Some(a)) => (
            Action::Create,
            a.disruption,
            "added to the spec".to_string(),
        ),
        (Some(_), None) => (
            Action::Delete,
            Disruption::None,
            "removed from the spec; bmfleet stops managing it (the live value is left as is)"
                .to_string(),
        ),
        (Some(b), Some(a)) => (
            Action::Update,
            a.disruption.max(b.disruption),
            if sensitive {
                "changed in the spec".to_string()
            } else {
                format!(
                    "changed in the spec from {} to {}",
                    display(Some(&b.value)),
                    display(Some(&a.value))
                )
            },
        ),
    };
    Some(Change {
        address: r.address.clone(),
        kind: r.kind,
        setting: key.to_string(),
        action,
        before: shown(before),
        pending: None,
        after: shown(after),
        sensitive,
        disruption,
        reason,
        group: None,
    })
}
