//! The systemd-networkd writer (Debian, and hosts whose network networkd manages):
//! `/etc/systemd/network/10-bmfleet-<iface>.netdev` for bonds and VLANs and
//! `10-bmfleet-<iface>.network` for every interface (mode 0644), then `networkctl reload`
//! and `networkctl reconfigure` of the interfaces that existed when the host was read
//! (systemd.network(5), systemd.netdev(5), networkctl(1) of systemd 252).
//!
//! networkd applies the **first** `.network` file, in lexical order of the file names across
//! `/etc`, `/run` and `/lib`, that matches an interface; that is why these files start with
//! `10-bmfleet-` (before `10-netplan-*`, `20-*`, `50-*`, `99-default.link`), not `90-`: a file
//! sorted after another one that matches the same interface would be ignored. A bond's
//! ports carry `Bond=` and a VLAN's base carries `VLAN=` in their own `.network` files, so the
//! bond's step writes its ports' files and a VLAN's step writes its base's.
//!
//! Caveat (networkctl(1)): `networkctl reload` creates new netdevs but never changes or
//! removes an existing one, so a changed bond mode of an existing bond shows as drift after
//! the apply until the bond is recreated.

use super::{
    NetworkBackend, NetworkWrite, PlannedFile, addresses, bond_of, bond_options, cmd, find,
    kind_of, mac, only_up, port_interface, ports, vlan_of, vlans_on,
};
use crate::spec::model::{Interface, InterfaceType, NetworkSpec};
use std::fmt::Write as _;

/// The `.network` file of `iface`.
pub fn network_path(iface: &str) -> String {
    format!("/etc/systemd/network/10-bmfleet-{iface}.network")
}

/// The `.netdev` file of `iface` (bonds and VLANs).
pub fn netdev_path(iface: &str) -> String {
    format!("/etc/systemd/network/10-bmfleet-{iface}.netdev")
}

/// networkd's `[Bond]` key of a kernel bonding option, and whether its value is in
/// milliseconds (written with `ms`) (systemd.netdev(5), "[Bond] Section Options").
fn bond_key(kernel: &str) -> Option<(&'static str, bool)> {
    Some(match kernel {
        "miimon" => ("MIIMonitorSec", true),
        "updelay" => ("UpDelaySec", true),
        "downdelay" => ("DownDelaySec", true),
        "arp_interval" => ("ARPIntervalSec", true),
        "lp_interval" => ("LearnPacketIntervalSec", false),
        "xmit_hash_policy" => ("TransmitHashPolicy", false),
        "lacp_rate" => ("LACPTransmitRate", false),
        "ad_select" => ("AdSelect", false),
        "ad_actor_sys_prio" => ("AdActorSystemPriority", false),
        "ad_user_port_key" => ("AdUserPortKey", false),
        "ad_actor_system" => ("AdActorSystem", false),
        "fail_over_mac" => ("FailOverMACPolicy", false),
        "arp_validate" => ("ARPValidate", false),
        "arp_all_targets" => ("ARPAllTargets", false),
        "arp_ip_target" => ("ARPIPTargets", false),
        "primary_reselect" => ("PrimaryReselectPolicy", false),
        "resend_igmp" => ("ResendIGMP", false),
        "packets_per_slave" => ("PacketsPerSlave", false),
        "num_grat_arp" | "num_unsol_na" => ("GratuitousARP", false),
        "all_slaves_active" => ("AllSlavesActive", false),
        "tlb_dynamic_lb" => ("DynamicTransmitLoadBalancing", false),
        "min_links" => ("MinLinks", false),
        _ => return None,
    })
}

fn netdev(i: &Interface) -> Result<Option<PlannedFile>, String> {
    let mut s = format!("# {}\n[NetDev]\nName={}\n", super::header(&i.name), i.name);
    match kind_of(i) {
        InterfaceType::Ethernet => return Ok(None),
        InterfaceType::Bond => {
            s.push_str("Kind=bond\n\n[Bond]\n");
            if let Some(m) = i.link_aggregation.as_ref().and_then(|l| l.mode) {
                let _ = writeln!(s, "Mode={}", m.as_str());
            }
            for (k, v) in bond_options(i)? {
                if k == "primary" {
                    continue; // PrimarySlave= in the port's .network file
                }
                let (key, ms) = bond_key(&k).ok_or_else(|| {
                    format!(
                        "{}: bond option {k} has no systemd-networkd equivalent",
                        i.name
                    )
                })?;
                let v = if k == "arp_ip_target" {
                    v.replace(',', " ")
                } else {
                    v
                };
                let _ = writeln!(s, "{key}={v}{}", if ms { "ms" } else { "" });
            }
        }
        InterfaceType::Vlan => {
            let (_, id) = vlan_of(i)?;
            let _ = write!(s, "Kind=vlan\n\n[VLAN]\nId={id}\n");
        }
    }
    Ok(Some(PlannedFile::new(netdev_path(&i.name), "0644", s)))
}

fn network(net: &NetworkSpec, i: &Interface) -> Result<PlannedFile, String> {
    only_up(NetworkBackend::SystemdNetworkd, i)?;
    let mut s = format!("# {}\n[Match]\nName={}\n", super::header(&i.name), i.name);
    let mut link = String::new();
    if let Some(mtu) = i.mtu {
        let _ = writeln!(link, "MTUBytes={mtu}");
    }
    if let Some(m) = mac(i)? {
        let _ = writeln!(link, "MACAddress={}", m.to_ascii_lowercase());
    }
    if !link.is_empty() {
        let _ = write!(s, "\n[Link]\n{link}");
    }
    s.push_str("\n[Network]\n");
    if let Some(bond) = bond_of(net, &i.name) {
        let _ = writeln!(s, "Bond={}", bond.name);
        let primary = super::bond_options(bond)?
            .into_iter()
            .any(|(k, v)| k == "primary" && v == i.name);
        if primary {
            s.push_str("PrimarySlave=true\n");
        }
    }
    for v in vlans_on(net, &i.name) {
        super::check_name(&v.name)?;
        let _ = writeln!(s, "VLAN={}", v.name);
    }
    let v4 = i.ipv4.as_ref();
    let v6 = i.ipv6.as_ref();
    let dhcp4 = v4.filter(|c| c.enabled != Some(false)).and_then(|c| c.dhcp);
    let dhcp6 = v6.filter(|c| c.enabled != Some(false)).and_then(|c| c.dhcp);
    let dhcp = match (dhcp4, dhcp6) {
        (Some(true), Some(true)) => Some("yes"),
        (Some(true), _) => Some("ipv4"),
        (_, Some(true)) => Some("ipv6"),
        (Some(false), _) | (_, Some(false)) => Some("no"),
        _ => None,
    };
    if let Some(d) = dhcp {
        let _ = writeln!(s, "DHCP={d}");
    }
    if let Some(c) = v6 {
        if c.enabled == Some(false) {
            s.push_str("LinkLocalAddressing=no\nIPv6AcceptRA=no\n");
        } else if let Some(ra) = c.autoconf {
            let _ = writeln!(s, "IPv6AcceptRA={}", if ra { "yes" } else { "no" });
        }
    }
    for a in addresses(v4.filter(|c| c.enabled != Some(false)), false)?
        .into_iter()
        .chain(addresses(v6.filter(|c| c.enabled != Some(false)), true)?)
    {
        let _ = writeln!(s, "Address={a}");
    }
    for r in super::routes::routes_of(net, &i.name)? {
        let _ = write!(s, "\n[Route]\nDestination={}\n", r.destination);
        if let Some(g) = r.gateway {
            let _ = writeln!(s, "Gateway={g}");
        }
        if let Some(m) = r.metric {
            let _ = writeln!(s, "Metric={m}");
        }
        if let Some(t) = r.table {
            let _ = writeln!(s, "Table={t}");
        }
    }
    Ok(PlannedFile::new(network_path(&i.name), "0644", s))
}

/// The files of one interface: its `.netdev` (bonds, VLANs) and `.network`.
fn files_of(net: &NetworkSpec, i: &Interface, out: &mut Vec<PlannedFile>) -> Result<(), String> {
    if let Some(f) = netdev(i)? {
        out.push(f);
    }
    out.push(network(net, i)?);
    Ok(())
}

/// The write of `i` through systemd-networkd: its files, a bond's ports' `.network` files,
/// a VLAN's base's `.network` file.
///
/// # Errors
/// A bond option networkd has no key for, a state other than `up`, a value that is not
/// plain, a port or base missing from the spec.
pub fn render(net: &NetworkSpec, i: &Interface, new_iface: bool) -> Result<NetworkWrite, String> {
    let mut files = Vec::new();
    files_of(net, i, &mut files)?;
    let mut touches = vec![i.name.clone()];
    let others: Vec<String> = match kind_of(i) {
        InterfaceType::Bond => ports(i),
        InterfaceType::Vlan => vec![vlan_of(i)?.0],
        InterfaceType::Ethernet => Vec::new(),
    };
    let is_bond = kind_of(i) == InterfaceType::Bond;
    for o in others {
        super::check_name(&o)?;
        // An undeclared port gets a file holding its membership; an undeclared VLAN base is
        // refused: its file would replace the configuration that manages it now.
        let other = match find(net, &o) {
            Some(x) => x.clone(),
            None if is_bond => port_interface(net, &o),
            None => {
                return Err(format!(
                    "the VLAN's base {o} is not in network.interfaces: networkd attaches a VLAN in its base's .network file"
                ));
            }
        };
        files.push(network(net, &other)?);
        touches.push(o);
    }
    let mut reconfigure = vec!["networkctl".to_string(), "reconfigure".to_string()];
    reconfigure.extend(
        touches
            .iter()
            .filter(|t| !(new_iface && **t == i.name))
            .cloned(),
    );
    let mut activate = vec![cmd(&["networkctl", "reload"])];
    if reconfigure.len() > 2 {
        activate.push(reconfigure.clone());
    }
    let mut revert = Vec::new();
    if new_iface && kind_of(i) != InterfaceType::Ethernet {
        revert.push(cmd(&["ip", "link", "delete", &i.name]));
    }
    revert.extend(activate.iter().cloned());
    Ok(NetworkWrite {
        backend: NetworkBackend::SystemdNetworkd,
        files,
        activate,
        commit: Vec::new(),
        revert,
        rollback_timeout_s: 0,
        touches,
    })
}
