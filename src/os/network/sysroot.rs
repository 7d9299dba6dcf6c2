//! The local transport's stand-in for the kernel after a network step: what `networkctl
//! reconfigure` (or the other backends' activation) would change in `ip -j -d link`, written
//! into the sysroot's `ip-link.json`, so a fake root converges like a host does. Only what the
//! simulator's drift touches is emulated: an interface's `mtu`, and a bond's ports
//! (`link-aggregation.port`: each port gets `master` and `info_slave_kind: bond`). Other
//! changes (addresses, VLANs, new interfaces) are recorded as commands but not emulated, so
//! their verification fails in a sysroot, as it should for a fake.

use serde_json::Value;
use std::path::Path;

/// The most bytes of `ip-link.json` read (the probe's cap for `ip` output).
const MAX_IP_LINK: u64 = 1024 * 1024;

/// Applies `desired` (nmstate `{"interfaces": [...]}`) to `<sysroot>/ip-link.json`. Does
/// nothing when the file is missing, too large or not a JSON array.
pub fn emulate_links(sysroot: &Path, desired: &Value) {
    let path = sysroot.join("ip-link.json");
    let Ok(meta) = std::fs::metadata(&path) else {
        return;
    };
    if !meta.is_file() || meta.len() > MAX_IP_LINK {
        return;
    }
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let Ok(Value::Array(mut links)) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let ifaces = desired
        .get("interfaces")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for iface in &ifaces {
        let Some(name) = iface.get("name").and_then(Value::as_str) else {
            continue;
        };
        if let Some(mtu) = iface.get("mtu").and_then(Value::as_u64)
            && let Some(link) = links
                .iter_mut()
                .find(|l| l.get("ifname").and_then(Value::as_str) == Some(name))
        {
            link["mtu"] = Value::from(mtu);
        }
        let ports = iface
            .pointer("/link-aggregation/port")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for port in ports.iter().filter_map(Value::as_str) {
            if let Some(link) = links
                .iter_mut()
                .find(|l| l.get("ifname").and_then(Value::as_str) == Some(port))
            {
                link["master"] = Value::from(name);
                if !link.get("linkinfo").is_some_and(Value::is_object) {
                    link["linkinfo"] = serde_json::json!({});
                }
                link["linkinfo"]["info_slave_kind"] = Value::from("bond");
            }
        }
    }
    if let Ok(text) = serde_json::to_string_pretty(&Value::Array(links)) {
        let tmp = sysroot.join("ip-link.json.bmfleet-new");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}
