//! The NetworkManager writer (hosts whose network NetworkManager manages, without nmstate):
//! one keyfile per interface, `/etc/NetworkManager/system-connections/bmfleet-<iface>.nmconnection`
//! (mode 0600: NetworkManager ignores keyfiles others can read), then `nmcli connection
//! reload` and `nmcli connection up` (nm-settings-keyfile(5), nmcli(1)). A bond's ports get
//! keyfiles of their own (`master=`, `slave-type=bond`, spelled as NetworkManager 1.40+ and
//! older read them), written by the bond's step.
//!
//! The connection's UUID is derived from the interface name (a name-based UUID from
//! SHA-256), so the same interface always gets the same connection.

use super::{
    NetworkBackend, NetworkWrite, PlannedFile, addresses, bond_of, bond_options, check_name, cmd,
    kind_of, mac, only_up, port_interface, ports, vlan_of,
};
use crate::spec::model::{Interface, InterfaceType, IpConfig, NetworkSpec};
use std::fmt::Write as _;

/// The keyfile of `iface`.
pub fn path(iface: &str) -> String {
    format!("/etc/NetworkManager/system-connections/bmfleet-{iface}.nmconnection")
}

/// The connection's id (`bmfleet-<iface>`).
pub fn connection_id(iface: &str) -> String {
    format!("bmfleet-{iface}")
}

/// A stable UUID for the interface's connection: the first 128 bits of SHA-256 of
/// `bmfleet:<iface>`, with the RFC 9562 version (5, name-based) and variant bits set.
pub fn uuid(iface: &str) -> String {
    let hex: Vec<char> = crate::plan::value::sha256_hex(format!("bmfleet:{iface}").as_bytes())
        .chars()
        .take(32)
        .collect();
    let mut h = hex;
    h[12] = '5';
    h[16] = match h[16] {
        '0' | '4' | '8' | 'c' => '8',
        '1' | '5' | '9' | 'd' => '9',
        '2' | '6' | 'a' | 'e' => 'a',
        _ => 'b',
    };
    let s: String = h.into_iter().collect();
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// The `[ipv4]` or `[ipv6]` section.
fn ip_section(
    s: &mut String,
    c: Option<&IpConfig>,
    v6: bool,
    routes: &[super::routes::CheckedRoute],
) -> Result<(), String> {
    let _ = writeln!(s, "\n[{}]", if v6 { "ipv6" } else { "ipv4" });
    let addrs = addresses(c.filter(|c| c.enabled != Some(false)), v6)?;
    let method = match c {
        None => "disabled",
        Some(c) if c.enabled == Some(false) => "disabled",
        Some(c) if v6 && c.autoconf == Some(true) => "auto",
        Some(c) if c.dhcp == Some(true) => {
            if v6 {
                "dhcp"
            } else {
                "auto"
            }
        }
        Some(_) if !addrs.is_empty() => "manual",
        Some(_) => "disabled",
    };
    for (n, a) in addrs.iter().enumerate() {
        let _ = writeln!(s, "address{}={a}", n + 1);
    }
    let _ = writeln!(s, "method={method}");
    // nm-settings-keyfile(5): routeN=DEST[,GATEWAY[,METRIC]], routeN_options=table=T; a
    // gateway of 0.0.0.0 / :: is none.
    for (n, r) in routes.iter().filter(|r| r.v6 == v6).enumerate() {
        let gw = r.gateway.map_or_else(
            || if v6 { "::" } else { "0.0.0.0" }.to_string(),
            |g| g.to_string(),
        );
        let _ = write!(s, "route{}={},{gw}", n + 1, r.destination);
        if let Some(m) = r.metric {
            let _ = write!(s, ",{m}");
        }
        s.push('\n');
        if let Some(t) = r.table {
            let _ = writeln!(s, "route{}_options=table={t}", n + 1);
        }
    }
    Ok(())
}

fn keyfile(net: &NetworkSpec, i: &Interface) -> Result<PlannedFile, String> {
    only_up(NetworkBackend::NetworkManager, i)?;
    let kind = kind_of(i);
    let mut s = format!(
        "# {}\n[connection]\nid={}\nuuid={}\ntype={}\ninterface-name={}\nautoconnect=true\n",
        super::header(&i.name),
        connection_id(&i.name),
        uuid(&i.name),
        match kind {
            InterfaceType::Ethernet => "ethernet",
            InterfaceType::Bond => "bond",
            InterfaceType::Vlan => "vlan",
        },
        i.name
    );
    let bond = bond_of(net, &i.name);
    if let Some(b) = bond {
        let _ = write!(s, "master={}\nslave-type=bond\n", b.name);
    }
    if kind == InterfaceType::Bond {
        s.push_str("autoconnect-slaves=1\n");
    }
    let mut eth = String::new();
    if let Some(mtu) = i.mtu {
        let _ = writeln!(eth, "mtu={mtu}");
    }
    if let Some(m) = mac(i)? {
        let _ = writeln!(eth, "cloned-mac-address={}", m.to_ascii_uppercase());
    }
    if !eth.is_empty() || kind == InterfaceType::Ethernet {
        let _ = write!(s, "\n[ethernet]\n{eth}");
    }
    match kind {
        InterfaceType::Bond => {
            s.push_str("\n[bond]\n");
            if let Some(m) = i.link_aggregation.as_ref().and_then(|l| l.mode) {
                let _ = writeln!(s, "mode={}", m.as_str());
            }
            for (k, v) in bond_options(i)? {
                let _ = writeln!(s, "{k}={v}");
            }
        }
        InterfaceType::Vlan => {
            let (base, id) = vlan_of(i)?;
            let _ = write!(s, "\n[vlan]\nid={id}\nparent={base}\n");
        }
        InterfaceType::Ethernet => {}
    }
    if bond.is_none() {
        let routes = super::routes::routes_of(net, &i.name)?;
        ip_section(&mut s, i.ipv4.as_ref(), false, &routes)?;
        ip_section(&mut s, i.ipv6.as_ref(), true, &routes)?;
    }
    Ok(PlannedFile::new(path(&i.name), "0600", s))
}

/// The write of `i` through NetworkManager keyfiles: its keyfile, and for a bond its ports'.
///
/// # Errors
/// A state other than `up`, a value that is not plain, a port missing from the spec.
pub fn render(net: &NetworkSpec, i: &Interface, new_iface: bool) -> Result<NetworkWrite, String> {
    let mut files = vec![keyfile(net, i)?];
    let mut touches = vec![i.name.clone()];
    if kind_of(i) == InterfaceType::Bond {
        for p in ports(i) {
            check_name(&p)?;
            files.push(keyfile(net, &port_interface(net, &p))?);
            touches.push(p);
        }
    }
    let mut activate = vec![cmd(&["nmcli", "connection", "reload"])];
    activate.push(cmd(&[
        "nmcli",
        "connection",
        "up",
        "id",
        &connection_id(&i.name),
    ]));
    let mut revert = vec![cmd(&["nmcli", "connection", "reload"])];
    for t in &touches {
        if new_iface && *t == i.name {
            continue;
        }
        revert.push(cmd(&["nmcli", "device", "connect", t]));
    }
    Ok(NetworkWrite {
        backend: NetworkBackend::NetworkManager,
        files,
        activate,
        commit: Vec::new(),
        revert,
        rollback_timeout_s: 0,
        touches,
    })
}
