//! Which network backend writes a host's interfaces, chosen once per host at read time from
//! the probe ([`NetStack`]) and recorded in each network observation's
//! `capabilities.writer`, so the planner renders the write and `apply` decides nothing.

use crate::os::probe::{NetStack, Probe};
use crate::plan::network::NetworkBackend;

/// The backend for a host whose spec declares the interfaces `ifaces`, in this order:
///
/// 1. `nmstate`: `nmstatectl` is installed and NetworkManager active (RHEL family);
/// 2. `netplan`: netplan is installed and `/etc/netplan/*.yaml` exists (Ubuntu);
/// 3. `networkmanager`: NetworkManager is active (keyfiles through `nmcli`);
/// 4. `ifupdown`: ifupdown brought up one of `ifaces` (`/run/network/ifstate.<iface>`)
///    while systemd-networkd manages none of them, and ifupdown is usable (below);
/// 5. `systemd-networkd`: its service is active (Debian cloud images, the lab guests);
/// 6. `ifupdown`: installed, `networking.service` active, and `/etc/network/interfaces`
///    sources `interfaces.d/*`.
///
/// Debian has no nmstate package: nothing here depends on it.
///
/// # Errors
/// Why no backend can be used (none found; ifupdown without `source
/// /etc/network/interfaces.d/*`; netplan configurations without netplan), for the host's
/// read error.
pub fn backend(probe: &Probe, ifaces: &[&str]) -> Result<NetworkBackend, String> {
    let st = &probe.net_stack;
    let nm = st.network_manager.is_active();
    if st.nmstate_installed && nm {
        return Ok(NetworkBackend::Nmstate);
    }
    if st.netplan_installed && !st.netplan_configs.is_empty() {
        return Ok(NetworkBackend::Netplan);
    }
    if nm {
        return Ok(NetworkBackend::NetworkManager);
    }
    let networkd = st.systemd_networkd.is_active();
    let ifupdown_ok =
        st.ifupdown.installed && st.ifupdown.is_active() && st.ifupdown_sources_interfaces_d;
    let by_networkd = ifaces.iter().any(|i| managed_by_networkd(probe, st, i));
    let by_ifupdown = ifaces.iter().any(|i| st.ifupdown_up.iter().any(|u| u == i));
    if ifupdown_ok && by_ifupdown && !by_networkd {
        return Ok(NetworkBackend::Ifupdown);
    }
    if networkd {
        return Ok(NetworkBackend::SystemdNetworkd);
    }
    if ifupdown_ok {
        return Ok(NetworkBackend::Ifupdown);
    }
    if st.ifupdown.installed && st.ifupdown.is_active() && st.ifupdown_interfaces_file {
        return Err("ifupdown is the only network stack found, and /etc/network/interfaces does not `source /etc/network/interfaces.d/*`, where bmfleet writes its stanzas".into());
    }
    if !st.netplan_configs.is_empty() {
        return Err(
            "netplan configurations exist (/etc/netplan) but netplan is not installed".into(),
        );
    }
    Err("no network stack found (NetworkManager, systemd-networkd, ifupdown, netplan or nmstate): nothing bmfleet could write network state through".into())
}

/// Whether systemd-networkd manages `iface` (its `ADMIN_STATE` is neither `unmanaged` nor
/// missing).
fn managed_by_networkd(probe: &Probe, st: &NetStack, iface: &str) -> bool {
    probe
        .links
        .as_ref()
        .and_then(|l| l.get(iface))
        .and_then(|l| st.networkd_links.get(&l.ifindex))
        .is_some_and(|s| !s.is_empty() && s != "unmanaged")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::probe::StackState;

    fn active() -> StackState {
        StackState {
            installed: true,
            active: Some("active".into()),
        }
    }

    #[test]
    fn backends_in_order_of_preference() {
        let mut p = Probe::default();
        assert!(backend(&p, &["eth0"]).is_err());
        p.net_stack.ifupdown = active();
        p.net_stack.ifupdown_interfaces_file = true;
        let e = backend(&p, &["eth0"]).unwrap_err();
        assert!(e.contains("source /etc/network/interfaces.d/*"), "{e}");
        p.net_stack.ifupdown_sources_interfaces_d = true;
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::Ifupdown));
        p.net_stack.systemd_networkd = active();
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::SystemdNetworkd));
        p.net_stack.ifupdown_up = vec!["eth0".into()];
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::Ifupdown));
        p.net_stack.network_manager = active();
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::NetworkManager));
        p.net_stack.netplan_installed = true;
        p.net_stack.netplan_configs = vec!["/etc/netplan/50-cloud-init.yaml".into()];
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::Netplan));
        p.net_stack.nmstate_installed = true;
        assert_eq!(backend(&p, &["eth0"]), Ok(NetworkBackend::Nmstate));
    }
}
