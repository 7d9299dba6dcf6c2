//! Which interfaces carry the SSH session a step runs over: the interface holding the
//! session's server address (`$SSH_CONNECTION`'s third field) and every interface it is
//! stacked on (a VLAN's base, a bond's ports, recursively), from `ip -j -d link` and
//! `ip -j addr`. A step that touches one of them is applied with automatic rollback.

use crate::os::iproute::{Link, parse_addrs, parse_links};
use std::collections::{BTreeMap, BTreeSet};

/// What the `session` mode of the network script printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The session's server address (`192.0.2.10`), without an IPv6 zone; `None` when the
    /// script runs outside SSH (the local transport).
    pub server_addr: Option<String>,
    /// The interfaces carrying the session, when the address was found on one: that
    /// interface and the ones below it.
    pub carriers: BTreeSet<String>,
    /// Set when the session's interface could not be determined (no `ip`, unparsable
    /// output, an address on no interface): every change is then treated as touching it.
    pub unknown: Option<String>,
}

impl Session {
    /// Whether a step touching `touches` must be applied with rollback.
    pub fn guarded(&self, touches: &[String]) -> bool {
        self.server_addr.is_some()
            && (self.unknown.is_some() || touches.iter().any(|t| self.carriers.contains(t)))
    }
}

/// Parses the `session` output (`ssh ADDR`, `link JSON`, `addr JSON` lines).
pub fn parse(output: &str) -> Session {
    let mut addr = None;
    let mut link_text = None;
    let mut addr_text = None;
    for line in output.lines() {
        if let Some(a) = line.strip_prefix("ssh ") {
            let a = a.trim();
            let a = a.split('%').next().unwrap_or_default();
            if !a.is_empty() {
                addr = Some(a.to_string());
            }
        } else if let Some(j) = line.strip_prefix("link ") {
            link_text = Some(j.to_string());
        } else if let Some(j) = line.strip_prefix("addr ") {
            addr_text = Some(j.to_string());
        }
    }
    let mut s = Session {
        server_addr: addr.clone(),
        ..Session::default()
    };
    let Some(addr) = addr else {
        return s;
    };
    let mut issues = Vec::new();
    let links = link_text.and_then(|t| parse_links(&t, &mut issues));
    let addrs = addr_text.and_then(|t| parse_addrs(&t, &mut issues));
    let (Some(links), Some(addrs)) = (links, addrs) else {
        s.unknown = Some("`ip -j -d link` / `ip -j addr` gave no usable output".into());
        return s;
    };
    let holder = addrs
        .iter()
        .find(|(_, list)| list.iter().any(|a| a.ip.to_string() == addr))
        .map(|(name, _)| name.clone());
    match holder {
        Some(name) => s.carriers = below(&links, &name),
        None => s.unknown = Some(format!("no interface holds the session's address {addr}")),
    }
    s
}

/// `name` and every interface below it: a VLAN's base (`link`), a bond's ports (listed by
/// the bond, or naming it as their `master`).
fn below(links: &BTreeMap<String, Link>, name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        if !out.insert(n.clone()) {
            continue;
        }
        if let Some(l) = links.get(&n) {
            if let Some(base) = &l.link {
                todo.push(base.clone());
            }
            if let Some(la) = &l.link_aggregation {
                todo.extend(la.port.iter().cloned());
            }
        }
        todo.extend(
            links
                .values()
                .filter(|l| l.master.as_deref() == Some(n.as_str()))
                .map(|l| l.name.clone()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINKS: &str = r#"[{"ifindex":3,"ifname":"enp1s0","flags":["UP"],"master":"bond0"},{"ifindex":4,"ifname":"enp2s0","flags":["UP"],"master":"bond0"},{"ifindex":5,"ifname":"bond0","flags":["UP"],"linkinfo":{"info_kind":"bond","info_data":{"mode":"802.3ad"}}},{"ifindex":6,"link":"bond0","ifname":"bond0.100","flags":["UP"],"linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":100}}},{"ifindex":2,"ifname":"enp0s2","flags":["UP"]}]"#;
    const ADDRS: &str = r#"[{"ifindex":6,"ifname":"bond0.100","addr_info":[{"family":"inet","local":"192.0.2.10","prefixlen":24}]},{"ifindex":2,"ifname":"enp0s2","addr_info":[{"family":"inet","local":"10.0.0.12","prefixlen":24}]}]"#;

    #[test]
    fn a_session_over_a_vlan_on_a_bond_is_carried_by_the_vlan_the_bond_and_its_ports() {
        let s = parse(&format!("ssh 192.0.2.10\nlink {LINKS}\naddr {ADDRS}\n"));
        assert_eq!(
            s.carriers.iter().map(String::as_str).collect::<Vec<_>>(),
            ["bond0", "bond0.100", "enp1s0", "enp2s0"]
        );
        assert!(s.guarded(&["enp2s0".into()]));
        assert!(!s.guarded(&["enp0s2".into()]));
        let mgmt = parse(&format!("ssh 10.0.0.12\nlink {LINKS}\naddr {ADDRS}\n"));
        assert!(mgmt.guarded(&["enp0s2".into()]));
        assert!(!mgmt.guarded(&["bond0".into()]));
    }

    #[test]
    fn no_ssh_is_never_guarded_and_an_unknown_carrier_always_is() {
        let local = parse("ssh \n");
        assert!(!local.guarded(&["bond0".into()]));
        let blind = parse("ssh 192.0.2.99\nlink []\naddr []\n");
        assert!(blind.unknown.is_some());
        assert!(blind.guarded(&["anything".into()]));
        let no_ip = parse("ssh 192.0.2.10\n");
        assert!(no_ip.guarded(&["x".into()]));
    }
}
