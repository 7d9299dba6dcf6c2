//! The ifupdown writer (Debian without networkd or NetworkManager managing the interface):
//! one stanza file per interface, `/etc/network/interfaces.d/bmfleet-<iface>` (mode 0644),
//! then `ifdown --force` and `ifup` of the interface (interfaces(5); bonds through
//! ifenslave's `bond-*` options, VLANs through the vlan package's `vlan-raw-device`). Usable
//! only when `/etc/network/interfaces` has `source /etc/network/interfaces.d/*` (Debian's
//! default), which the OS provider checks before choosing it. A bond lists its ports with
//! `bond-slaves`; ports declared in the spec get stanzas of their own from their own steps.

use super::{
    NetworkBackend, NetworkWrite, PlannedFile, addresses, bond_options, cmd, kind_of, mac, only_up,
    ports, vlan_of,
};
use crate::spec::model::{Interface, InterfaceType, NetworkSpec};
use std::fmt::Write as _;

/// The stanza file of `iface`.
pub fn path(iface: &str) -> String {
    format!("/etc/network/interfaces.d/bmfleet-{iface}")
}

fn stanza(net: &NetworkSpec, i: &Interface) -> Result<PlannedFile, String> {
    only_up(NetworkBackend::Ifupdown, i)?;
    let name = &i.name;
    let v4 = i.ipv4.as_ref().filter(|c| c.enabled != Some(false));
    let v6 = i.ipv6.as_ref().filter(|c| c.enabled != Some(false));
    let a4 = addresses(v4, false)?;
    let a6 = addresses(v6, true)?;
    let method4 = if v4.and_then(|c| c.dhcp) == Some(true) {
        "dhcp"
    } else if !a4.is_empty() {
        "static"
    } else {
        "manual"
    };
    let mut s = format!(
        "# {}\nauto {name}\niface {name} inet {method4}\n",
        super::header(name)
    );
    for a in &a4 {
        let _ = writeln!(s, "    address {a}");
    }
    if let Some(mtu) = i.mtu {
        let _ = writeln!(s, "    mtu {mtu}");
    }
    if let Some(m) = mac(i)? {
        let _ = writeln!(s, "    hwaddress ether {}", m.to_ascii_lowercase());
    }
    match kind_of(i) {
        InterfaceType::Bond => {
            let p = ports(i);
            for x in &p {
                super::check_name(x)?;
            }
            let _ = writeln!(
                s,
                "    bond-slaves {}",
                if p.is_empty() {
                    "none".to_string()
                } else {
                    p.join(" ")
                }
            );
            if let Some(m) = i.link_aggregation.as_ref().and_then(|l| l.mode) {
                let _ = writeln!(s, "    bond-mode {}", m.as_str());
            }
            for (k, v) in bond_options(i)? {
                let _ = writeln!(
                    s,
                    "    bond-{} {}",
                    k.replace('_', "-"),
                    v.replace(',', " ")
                );
            }
        }
        InterfaceType::Vlan => {
            let (base, _) = vlan_of(i)?;
            let _ = writeln!(s, "    vlan-raw-device {base}");
        }
        InterfaceType::Ethernet => {}
    }
    // interfaces(5) `up` commands, ip-route(8): `replace` so that bringing the interface
    // up again does not fail on a route that is there.
    for r in super::routes::routes_of(net, name)? {
        let mut line = format!("    up ip route replace {}", r.destination);
        if let Some(g) = r.gateway {
            let _ = write!(line, " via {g}");
        }
        let _ = write!(line, " dev {name}");
        if let Some(m) = r.metric {
            let _ = write!(line, " metric {m}");
        }
        if let Some(t) = r.table {
            let _ = write!(line, " table {t}");
        }
        let _ = writeln!(s, "{line}");
    }
    let method6 = match v6 {
        Some(c) if c.autoconf == Some(true) => Some("auto"),
        Some(c) if c.dhcp == Some(true) => Some("dhcp"),
        _ if !a6.is_empty() => Some("static"),
        _ => None,
    };
    if let Some(m) = method6 {
        let _ = write!(s, "\niface {name} inet6 {m}\n");
        for a in &a6 {
            let _ = writeln!(s, "    address {a}");
        }
    }
    Ok(PlannedFile::new(path(name), "0644", s))
}

/// The write of `i` through ifupdown: its stanza file, then `ifdown --force` and `ifup`.
///
/// # Errors
/// A state other than `up`, a value that is not plain.
pub fn render(net: &NetworkSpec, i: &Interface, new_iface: bool) -> Result<NetworkWrite, String> {
    let name = i.name.as_str();
    let activate = vec![cmd(&["ifdown", "--force", name]), cmd(&["ifup", name])];
    let revert = if new_iface && kind_of(i) != InterfaceType::Ethernet {
        vec![cmd(&["ip", "link", "delete", name])]
    } else {
        activate.clone()
    };
    let mut touches = vec![name.to_string()];
    if kind_of(i) == InterfaceType::Bond {
        touches.extend(ports(i));
    }
    Ok(NetworkWrite {
        backend: NetworkBackend::Ifupdown,
        files: vec![stanza(net, i)?],
        activate,
        commit: Vec::new(),
        revert,
        rollback_timeout_s: 0,
        touches,
    })
}
