//! Merging layers into an effective host: fleet defaults <- profiles in order <- the host.
//!
//! Rules (the same as `kubectl`'s strategic merge for the parts that matter here):
//! - mappings merge deep;
//! - `network.interfaces` merge by `name` (an NNCP-style list keyed by interface name);
//! - other lists, and the one-of objects `boot.override` and `cloudInit.userData` /
//!   `metaData` / `networkConfig`, replace as a whole;
//! - an explicit `null` removes the inherited value (RFC 7386 JSON merge patch).
//!
//! Every replaced value keeps the spans of the values it overrode ([`Node::overrode`]), so
//! `bmfleet explain` can name the file:line that set a value and the chain it overrode.

use super::yaml::{Node, Value};
use std::collections::HashMap;

/// Keys whose values replace as a whole instead of merging.
pub const ATOMIC_KEYS: &[&str] = &["override", "userData", "metaData", "networkConfig"];

/// Merges `overlay` on top of `base` (both mappings; anything else replaces).
pub fn merge(base: &mut Node, overlay: &Node) {
    merge_at(base, overlay, None);
}

fn merge_at(base: &mut Node, overlay: &Node, parent_key: Option<&str>) {
    let (Value::Map(base_entries), Value::Map(over_entries)) = (&mut base.value, &overlay.value)
    else {
        replace(base, overlay);
        return;
    };
    // Large mappings (thousands of BIOS attributes or sysctls) look keys up in an index, so
    // a merge stays linear; removals are applied at the end so that indexes stay valid.
    // (Keys are unique within the overlay, so a removed entry is never looked up again.)
    let mut index: Option<HashMap<String, usize>> =
        (over_entries.len() * (base_entries.len() + over_entries.len()) > INDEX_FROM).then(|| {
            base_entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.key.clone(), i))
                .collect()
        });
    let mut removed: Vec<usize> = Vec::new();
    for entry in over_entries {
        let pos = match &index {
            Some(index) => index.get(&entry.key).copied(),
            None => base_entries.iter().position(|e| e.key == entry.key),
        };
        match (pos, &entry.value.value) {
            (Some(i), Value::Null) => removed.push(i),
            (None, Value::Null) => {}
            (None, _) => {
                if let Some(index) = &mut index {
                    index.insert(entry.key.clone(), base_entries.len());
                }
                base_entries.push(entry.clone());
            }
            (Some(i), _) => {
                let Some(target) = base_entries.get_mut(i) else {
                    continue;
                };
                target.key_span = entry.key_span;
                let key = entry.key.as_str();
                if ATOMIC_KEYS.contains(&key) {
                    replace(&mut target.value, &entry.value);
                } else if key == "interfaces" && parent_key == Some("network") {
                    merge_by_name(&mut target.value, &entry.value);
                } else if matches!(
                    (&target.value.value, &entry.value.value),
                    (Value::Map(_), Value::Map(_))
                ) {
                    merge_at(&mut target.value, &entry.value, Some(key));
                } else {
                    replace(&mut target.value, &entry.value);
                }
            }
        }
    }
    if !removed.is_empty() {
        removed.sort_unstable();
        let mut i = 0;
        base_entries.retain(|_| {
            i += 1;
            removed.binary_search(&(i - 1)).is_err()
        });
    }
}

/// `overlay keys x (base + overlay keys)` above which merges index the base by key / name.
const INDEX_FROM: usize = 1024;

fn replace(base: &mut Node, overlay: &Node) {
    let mut history = std::mem::take(&mut base.overrode);
    history.push(base.span);
    let mut new = overlay.clone();
    history.append(&mut new.overrode);
    new.overrode = history;
    *base = new;
}

fn merge_by_name(base: &mut Node, overlay: &Node) {
    let (Value::Seq(base_items), Value::Seq(over_items)) = (&mut base.value, &overlay.value) else {
        replace(base, overlay);
        return;
    };
    let name_of = |n: &Node| n.get("name").and_then(Node::as_str).map(str::to_string);
    // As in `merge_at`: hosts with thousands of interfaces look names up in an index.
    let mut index: Option<HashMap<String, usize>> =
        (over_items.len() * (base_items.len() + over_items.len()) > INDEX_FROM).then(|| {
            let mut index = HashMap::new();
            for (i, b) in base_items.iter().enumerate() {
                if let Some(n) = name_of(b) {
                    index.entry(n).or_insert(i);
                }
            }
            index
        });
    for item in over_items {
        let name = item.get("name").and_then(Node::as_str);
        let existing = match (&index, name) {
            (_, None) => None,
            (Some(index), Some(n)) => index.get(n).copied(),
            (None, Some(n)) => base_items
                .iter()
                .position(|b| b.get("name").and_then(Node::as_str) == Some(n)),
        };
        match existing.and_then(|i| base_items.get_mut(i)) {
            Some(target) => merge_at(target, item, None),
            None => {
                if let (Some(index), Some(n)) = (&mut index, name) {
                    index.entry(n.to_string()).or_insert(base_items.len());
                }
                base_items.push(item.clone());
            }
        }
    }
}

/// One step of a path into a merged tree: `network.interfaces[bond0].mtu` is
/// `Key(network)`, `Key(interfaces)`, `Item(bond0)`, `Key(mtu)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A list item, by `name` or by 0-based index.
    Item(String),
}

/// Parses `network.interfaces[bond0].mtu` or `bios.attributes.SriovGlobalEnable`.
///
/// # Errors
/// A message when brackets are unbalanced or a segment is empty.
pub fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let mut rest = path.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = after.find(']') else {
                return Err(format!("unclosed `[` in `{path}`"));
            };
            let item = after[..end].trim().trim_matches(['"', '\'']);
            if item.is_empty() {
                return Err(format!("empty `[]` in `{path}`"));
            }
            segs.push(Seg::Item(item.to_string()));
            rest = &after[end + 1..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let key = &rest[..end];
        if key.is_empty() {
            return Err(format!("empty segment in `{path}`"));
        }
        segs.push(Seg::Key(key.to_string()));
        rest = &rest[end..];
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    if segs.is_empty() {
        return Err("the path is empty".into());
    }
    Ok(segs)
}

/// Follows `path` from `root`.
pub fn lookup<'a>(root: &'a Node, path: &[Seg]) -> Option<&'a Node> {
    let mut node = root;
    for seg in path {
        node = match (seg, &node.value) {
            (Seg::Key(k), Value::Map(_)) => node.get(k)?,
            (Seg::Item(name), Value::Seq(items)) => items
                .iter()
                .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
                .or_else(|| name.parse::<usize>().ok().and_then(|i| items.get(i)))?,
            (Seg::Item(k), Value::Map(_)) => node.get(k)?,
            _ => return None,
        };
    }
    Some(node)
}

/// The item of `node` that a bracketed segment `[name]` names, as [`lookup`] finds it: a
/// mapping's key, a list item's `name`, or a list index. Compares without allocating, so a
/// caller may try many long names.
fn item<'a>(node: &'a Node, name: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(_) => node.get(name),
        Value::Seq(items) => items
            .iter()
            .find(|i| i.get("name").and_then(Node::as_str) == Some(name))
            .or_else(|| name.parse::<usize>().ok().and_then(|i| items.get(i))),
        _ => None,
    }
}

/// A path that resolves under `tree`, for a path that does not: without a leading `spec.`,
/// or with the rest of the path as one bracketed key (`os.sysctl.vm.swappiness` ->
/// `os.sysctl[vm.swappiness]`). `None` when neither resolves.
///
/// Linear in the length of `path`: the dotted prefix is walked down the tree once, and at
/// each node reached the rest of the path is compared with its keys (an earlier version
/// re-joined and re-parsed the path for every split, quadratic: minutes for a 128 KiB path).
pub fn suggest_path(tree: &Node, path: &str) -> Option<String> {
    let found = |p: &str| parse_path(p).ok().and_then(|s| lookup(tree, &s)).is_some();
    let trimmed = path.strip_prefix("spec.").unwrap_or(path);
    if trimmed != path && found(trimmed) {
        return Some(trimmed.to_string());
    }
    let mut node = tree;
    let mut offset = 0;
    for (i, part) in trimmed.split('.').enumerate() {
        if i > 0 {
            let rest = trimmed.get(offset..).unwrap_or_default();
            if item(node, rest).is_some() {
                let prefix = trimmed.get(..offset.saturating_sub(1)).unwrap_or_default();
                return Some(format!("{prefix}[{rest}]"));
            }
        }
        // Down one dotted part (which may hold brackets of its own: `interfaces[bond0]`).
        let segs = parse_path(part).ok()?;
        node = lookup(node, &segs)?;
        offset += part.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::yaml::parse;

    fn doc(text: &str, file: u32) -> Node {
        parse(text, file, 10_000).unwrap().remove(0).root
    }

    #[test]
    fn maps_merge_deep_lists_replace_interfaces_merge_by_name() {
        let mut base = doc(
            "bios: {attributes: {A: x, B: y}}\nos: {kernelArgs: [a, b]}\nnetwork:\n  interfaces:\n  - {name: bond0, mtu: 1500, type: bond}\n  - {name: eth0}\n",
            0,
        );
        let over = doc(
            "bios: {attributes: {B: z}}\nos: {kernelArgs: [c]}\nnetwork:\n  interfaces:\n  - {name: bond0, mtu: 9000}\n  - {name: bond0.100}\n",
            1,
        );
        merge(&mut base, &over);
        let p = |s: &str| lookup(&base, &parse_path(s).unwrap()).unwrap().to_json();
        assert_eq!(p("bios.attributes.A"), "x");
        assert_eq!(p("bios.attributes.B"), "z");
        assert_eq!(p("os.kernelArgs"), serde_json::json!(["c"]));
        assert_eq!(p("network.interfaces[bond0].mtu"), 9000);
        assert_eq!(p("network.interfaces[bond0].type"), "bond");
        assert_eq!(p("network.interfaces[2].name"), "bond0.100");
        let mtu = lookup(&base, &parse_path("network.interfaces[bond0].mtu").unwrap()).unwrap();
        assert_eq!(mtu.span.file, 1);
        assert_eq!(mtu.overrode.len(), 1);
        assert_eq!(mtu.overrode[0].file, 0);
    }

    #[test]
    fn null_removes_and_atomic_keys_replace() {
        let mut base = doc("dpu: {mode: dpu}\ncloudInit: {userData: {file: a}}\n", 0);
        let over = doc("dpu: null\ncloudInit: {userData: {inline: b}}\n", 1);
        merge(&mut base, &over);
        assert!(base.get("dpu").is_none());
        let ud = base.get("cloudInit").unwrap().get("userData").unwrap();
        assert!(ud.get("file").is_none());
        assert_eq!(ud.get("inline").unwrap().as_str(), Some("b"));
    }

    #[test]
    fn large_maps_merge_like_small_ones() {
        let base: String = (0..200).map(|i| format!("k{i}: base{i}\n")).collect();
        let over: String = (0..200)
            .step_by(2)
            .map(|i| {
                if i % 4 == 0 {
                    format!("k{i}: null\n")
                } else {
                    format!("k{i}: over{i}\n")
                }
            })
            .chain((200..210).map(|i| format!("k{i}: new{i}\n")))
            .collect();
        let mut big = doc(&base, 0);
        merge(&mut big, &doc(&over, 1));
        let Value::Map(entries) = &big.value else {
            panic!()
        };
        let mut want = Vec::new();
        for i in 0..200 {
            match (i % 2, i % 4) {
                (0, 0) => {}
                (0, _) => want.push((format!("k{i}"), format!("over{i}"))),
                _ => want.push((format!("k{i}"), format!("base{i}"))),
            }
        }
        want.extend((200..210).map(|i| (format!("k{i}"), format!("new{i}"))));
        let got: Vec<(String, String)> = entries
            .iter()
            .map(|e| (e.key.clone(), e.value.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(got, want);
        let k2 = big.get("k2").unwrap();
        assert_eq!((k2.span.file, k2.overrode.len()), (1, 1));
    }

    #[test]
    fn suggestions_bracket_keys_with_dots_and_drop_spec() {
        let tree = doc(
            "os: {sysctl: {vm.swappiness: 10}}\nnetwork:\n  interfaces:\n  - {name: bond0, x: {a.b: 1}}\n",
            0,
        );
        let s = |p: &str| suggest_path(&tree, p);
        assert_eq!(
            s("os.sysctl.vm.swappiness").as_deref(),
            Some("os.sysctl[vm.swappiness]")
        );
        assert_eq!(
            s("spec.os.sysctl[vm.swappiness]").as_deref(),
            Some("os.sysctl[vm.swappiness]")
        );
        assert_eq!(
            s("network.interfaces[bond0].x.a.b").as_deref(),
            Some("network.interfaces[bond0].x[a.b]")
        );
        assert_eq!(s("os.sysctl.vm.nothing"), None);
        assert_eq!(s("nothing.at.all"), None);
    }

    #[test]
    fn suggestions_are_linear_in_the_path_length() {
        // 1,000,000 parts: the quadratic version joined and parsed the path once per split
        // (about 10^12 steps); this one walks it once.
        let tree = doc("os: {sysctl: {vm.swappiness: 10}}\n", 0);
        let long = "os.".repeat(1_000_000);
        let start = std::time::Instant::now();
        assert_eq!(suggest_path(&tree, &long), None);
        let deep = format!("os.sysctl.{}", "x.".repeat(1_000_000));
        assert_eq!(suggest_path(&tree, &deep), None);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("network.interfaces[bond0].mtu").unwrap(),
            vec![
                Seg::Key("network".into()),
                Seg::Key("interfaces".into()),
                Seg::Item("bond0".into()),
                Seg::Key("mtu".into())
            ]
        );
        assert!(parse_path("a[b").is_err());
        assert!(parse_path("").is_err());
    }
}
