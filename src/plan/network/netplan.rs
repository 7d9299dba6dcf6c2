//! The netplan writer (Ubuntu, and hosts with netplan configurations): one file per
//! interface, `/etc/netplan/90-bmfleet-<iface>.yaml` (mode 0600: netplan warns about
//! configurations others can read), then `netplan apply`. netplan merges every file of
//! `/etc/netplan` in lexical order, later files overriding earlier ones, so `90-` wins over
//! the installer's `00-`/`50-cloud-init` files for the keys it sets (netplan
//! `doc/netplan-yaml.md`). A bond's ports must be defined too: the bond's step also writes
//! each port's file.

use super::{
    NetworkBackend, NetworkWrite, PlannedFile, addresses, bond_options, check_name, cmd, kind_of,
    mac, only_up, port_interface, ports, vlan_of, yaml,
};
use crate::spec::model::{Interface, InterfaceType, NetworkSpec};
use serde_json::{Map, Value, json};

/// The file of interface `iface`.
pub fn path(iface: &str) -> String {
    format!("/etc/netplan/90-bmfleet-{iface}.yaml")
}

/// netplan's name of a kernel bonding option (netplan `doc/netplan-yaml.md`, "Properties
/// for device type bonds").
fn parameter(kernel: &str) -> Option<&'static str> {
    Some(match kernel {
        "miimon" => "mii-monitor-interval",
        "updelay" => "up-delay",
        "downdelay" => "down-delay",
        "xmit_hash_policy" => "transmit-hash-policy",
        "lacp_rate" => "lacp-rate",
        "ad_select" => "ad-select",
        "arp_interval" => "arp-interval",
        "arp_ip_target" => "arp-ip-targets",
        "arp_validate" => "arp-validate",
        "arp_all_targets" => "arp-all-targets",
        "primary" => "primary",
        "primary_reselect" => "primary-reselect-policy",
        "fail_over_mac" => "fail-over-mac-policy",
        "min_links" => "min-links",
        "resend_igmp" => "resend-igmp",
        "num_grat_arp" => "gratuitous-arp",
        "lp_interval" => "learn-packet-interval",
        _ => return None,
    })
}

/// A value as YAML: a number when it is one, else a string.
fn scalar(text: &str) -> Value {
    match text.parse::<u64>() {
        Ok(n) => Value::from(n),
        Err(_) => Value::String(text.to_string()),
    }
}

/// The netplan definition of `i` (the mapping under its name).
fn definition(i: &Interface) -> Result<Map<String, Value>, String> {
    let mut d = Map::new();
    match kind_of(i) {
        InterfaceType::Bond => {
            d.insert("interfaces".into(), json!(ports(i)));
            let mut params = Map::new();
            if let Some(m) = i.link_aggregation.as_ref().and_then(|l| l.mode) {
                params.insert("mode".into(), json!(m.as_str()));
            }
            for (k, v) in bond_options(i)? {
                let name = parameter(&k).ok_or_else(|| {
                    format!("{}: bond option {k} has no netplan equivalent", i.name)
                })?;
                let value = if k == "arp_ip_target" {
                    json!(v.split(',').collect::<Vec<_>>())
                } else {
                    scalar(&v)
                };
                params.insert(name.into(), value);
            }
            if !params.is_empty() {
                d.insert("parameters".into(), Value::Object(params));
            }
        }
        InterfaceType::Vlan => {
            let (base, id) = vlan_of(i)?;
            d.insert("id".into(), json!(id));
            d.insert("link".into(), json!(base));
        }
        InterfaceType::Ethernet => {}
    }
    if let Some(mtu) = i.mtu {
        d.insert("mtu".into(), json!(mtu));
    }
    if let Some(m) = mac(i)? {
        d.insert("macaddress".into(), json!(m.to_ascii_lowercase()));
    }
    let v4 = i.ipv4.as_ref();
    let v6 = i.ipv6.as_ref();
    let mut addrs = addresses(v4.filter(|c| c.enabled != Some(false)), false)?;
    addrs.extend(addresses(v6.filter(|c| c.enabled != Some(false)), true)?);
    if !addrs.is_empty() {
        d.insert("addresses".into(), json!(addrs));
    }
    if let Some(c) = v4 {
        if c.enabled == Some(false) {
            d.insert("dhcp4".into(), json!(false));
        } else if let Some(dhcp) = c.dhcp {
            d.insert("dhcp4".into(), json!(dhcp));
        }
    }
    if let Some(c) = v6 {
        if c.enabled == Some(false) {
            d.insert("dhcp6".into(), json!(false));
            d.insert("accept-ra".into(), json!(false));
            d.insert("link-local".into(), json!([]));
        } else {
            if let Some(dhcp) = c.dhcp {
                d.insert("dhcp6".into(), json!(dhcp));
            }
            if let Some(ra) = c.autoconf {
                d.insert("accept-ra".into(), json!(ra));
            }
        }
    }
    Ok(d)
}

/// `routes:` (netplan `doc/netplan-yaml.md`, "Routing": `to`, `via`, `metric`, `table`)
/// added to a definition.
fn with_routes(
    net: &NetworkSpec,
    i: &Interface,
    mut d: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let routes: Vec<Value> = super::routes::routes_of(net, &i.name)?
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            m.insert("to".into(), json!(r.destination));
            if let Some(g) = r.gateway {
                m.insert("via".into(), json!(g.to_string()));
            }
            if let Some(x) = r.metric {
                m.insert("metric".into(), json!(x));
            }
            if let Some(t) = r.table {
                m.insert("table".into(), json!(t));
            }
            Value::Object(m)
        })
        .collect();
    if !routes.is_empty() {
        d.insert("routes".into(), Value::Array(routes));
    }
    Ok(d)
}

/// The file of `i`, with the spec's routes that go out of it.
fn file(net: &NetworkSpec, i: &Interface) -> Result<PlannedFile, String> {
    only_up(NetworkBackend::Netplan, i)?;
    let section = match kind_of(i) {
        InterfaceType::Ethernet => "ethernets",
        InterfaceType::Bond => "bonds",
        InterfaceType::Vlan => "vlans",
    };
    let doc = json!({
        "network": {
            "version": 2,
            section: { i.name.clone(): Value::Object(with_routes(net, i, definition(i)?)?) }
        }
    });
    let content = format!("# {}\n{}", super::header(&i.name), yaml::to_yaml(&doc));
    Ok(PlannedFile::new(path(&i.name), "0600", content))
}

/// The write of `i` through netplan: its file, and for a bond its ports' files.
///
/// # Errors
/// A bond option netplan has no key for, a state other than `up`, a value that is not
/// plain.
pub fn render(net: &NetworkSpec, i: &Interface) -> Result<NetworkWrite, String> {
    let mut files = vec![file(net, i)?];
    let mut touches = vec![i.name.clone()];
    if kind_of(i) == InterfaceType::Bond {
        for p in ports(i) {
            check_name(&p)?;
            files.push(file(net, &port_interface(net, &p))?);
            touches.push(p);
        }
    }
    Ok(NetworkWrite {
        backend: NetworkBackend::Netplan,
        files,
        activate: vec![cmd(&["netplan", "apply"])],
        commit: Vec::new(),
        revert: vec![cmd(&["netplan", "apply"])],
        rollback_timeout_s: 0,
        touches,
    })
}
