//! The nmstate writer (RHEL family): the interface's nmstate document, written to
//! `/var/lib/bmfleet/nmstate/<iface>.yml` and applied with `nmstatectl apply --no-commit
//! --timeout T` (a NetworkManager checkpoint that rolls itself back after T seconds), then
//! `nmstatectl commit` (nmstate `rust/src/cli/apply.rs`).

use super::{NetworkWrite, PlannedFile, cmd, kind_of, ports, yaml};
use crate::spec::model::{Interface, InterfaceType, NetworkSpec};
use serde_json::{Value, json};

/// Where the document is kept on the host (root-only: it may name addresses).
pub fn path(iface: &str) -> String {
    format!("/var/lib/bmfleet/nmstate/{iface}.yml")
}

/// The nmstate document of `i`: the interface as the spec declares it, without
/// `ethernet.sr-iov` (written by the `sriov` step).
pub fn document(i: &Interface) -> Value {
    let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
    if let Some(eth) = v.get_mut("ethernet").and_then(Value::as_object_mut) {
        eth.remove("sr-iov");
        if eth.is_empty()
            && let Some(obj) = v.as_object_mut()
        {
            obj.remove("ethernet");
        }
    }
    json!({ "interfaces": [v] })
}

/// The write of `i` through nmstate.
///
/// # Errors
/// Never for a spec that validated; the signature matches the other writers.
pub fn render(_net: &NetworkSpec, i: &Interface, timeout_s: u64) -> Result<NetworkWrite, String> {
    let p = path(&i.name);
    let content = format!(
        "# {}\n{}",
        super::header(&i.name),
        yaml::to_yaml(&document(i))
    );
    let mut touches = vec![i.name.clone()];
    if kind_of(i) == InterfaceType::Bond {
        touches.extend(ports(i));
    }
    Ok(NetworkWrite {
        backend: super::NetworkBackend::Nmstate,
        files: vec![PlannedFile::new(p.clone(), "0600", content)],
        activate: vec![cmd(&[
            "nmstatectl",
            "apply",
            "--no-commit",
            "--timeout",
            &timeout_s.to_string(),
            &p,
        ])],
        commit: vec![cmd(&["nmstatectl", "commit"])],
        revert: vec![cmd(&["nmstatectl", "rollback"])],
        rollback_timeout_s: timeout_s,
        touches,
    })
}
