//! Routes (nmstate `routes.config`) and DNS (`dns-resolver.config`) written through the host's
//! network backend, as `network-apply` steps of their own.
//!
//! **Routes** belong to their `next-hop-interface` in every backend but nmstate, so they are
//! rendered into that interface's own file (networkd `[Route]` sections, systemd.network(5);
//! netplan `routes:`; NetworkManager keyfile `routeN=` in `[ipv4]` / `[ipv6]`,
//! nm-settings-keyfile(5); ifupdown `up ip route replace` lines, interfaces(5) and
//! ip-route(8)). The interface's step and the routes' step render the same bytes for that file.
//! A route without `next-hop-interface`, or whose interface is not in `network.interfaces`,
//! cannot be written that way: a plan-time error for the host. nmstate gets the `routes`
//! document itself.
//!
//! **DNS** is host-wide: nmstate gets the `dns-resolver` document; NetworkManager a
//! `[global-dns]` drop-in (`/etc/NetworkManager/conf.d/90-bmfleet-dns.conf`,
//! NetworkManager.conf(5)) that overrides the connections' DNS; hosts whose
//! `/etc/resolv.conf` is systemd-resolved's stub (networkd, netplan, ifupdown with resolved) a
//! resolved drop-in (`/etc/systemd/resolved.conf.d/90-bmfleet-dns.conf`, `DNS=` and `Domains=`,
//! resolved.conf(5)). Other hosts (`/etc/resolv.conf` written by ifupdown's resolvconf or by
//! hand) are a plan-time error: bmfleet does not overwrite a file another tool owns.

use super::{
    NetworkBackend, NetworkWrite, PlannedFile, ROLLBACK_TIMEOUT_S, check_name, cmd, find, yaml,
};
use crate::spec::model::{DnsConfig, NetworkSpec, Route};
use serde_json::json;
// `core::net`: address parsing only (pure data, no sockets; `std::net` re-exports it).
use core::net::IpAddr;

/// A route checked for writing: every value parsed, so no spec text reaches a file as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRoute {
    /// `network/prefix` (host bits as the spec wrote them), or `default`-free CIDR.
    pub destination: String,
    /// Whether the route is IPv6.
    pub v6: bool,
    /// The gateway; `None` for none (also for nmstate's `0.0.0.0` and `::`).
    pub gateway: Option<IpAddr>,
    /// The outgoing interface.
    pub interface: Option<String>,
    /// The metric.
    pub metric: Option<u32>,
    /// The table (`None` for main: unset, 0 or 254).
    pub table: Option<u32>,
}

/// Checks one spec route.
///
/// # Errors
/// A destination that is not `address/prefix`, a gateway that is not an address of the same
/// family, an interface name that is not plain.
pub fn check_route(r: &Route) -> Result<CheckedRoute, String> {
    let bad = || {
        format!(
            "route destination {:?} is not address/prefix",
            r.destination
        )
    };
    let (addr, len) = r.destination.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let v6 = addr.is_ipv6();
    if len > if v6 { 128 } else { 32 } {
        return Err(bad());
    }
    let gateway = match &r.next_hop_address {
        None => None,
        Some(g) => {
            let ip: IpAddr = g
                .parse()
                .map_err(|_| format!("route next-hop-address {g:?} is not an address"))?;
            if ip.is_ipv6() != v6 {
                return Err(format!(
                    "route to {}: next-hop-address {g} is of another family",
                    r.destination
                ));
            }
            (!ip.is_unspecified()).then_some(ip)
        }
    };
    if let Some(i) = &r.next_hop_interface {
        check_name(i)?;
    }
    Ok(CheckedRoute {
        destination: format!("{addr}/{len}"),
        v6,
        gateway,
        interface: r.next_hop_interface.clone(),
        metric: r.metric,
        table: r.table_id.filter(|t| *t != 0 && *t != 254),
    })
}

/// The checked routes of `net` whose `next-hop-interface` is `iface`, in spec order.
///
/// # Errors
/// A route that does not check.
pub fn routes_of(net: &NetworkSpec, iface: &str) -> Result<Vec<CheckedRoute>, String> {
    let mut out = Vec::new();
    for r in net.routes.iter().flat_map(|r| r.config.iter()) {
        if r.next_hop_interface.as_deref() == Some(iface) {
            out.push(check_route(r)?);
        }
    }
    Ok(out)
}

/// The interfaces the spec's routes go out of, in first-use order; every route must name
/// one that is in `network.interfaces` (for the backends that write per interface).
fn route_interfaces(net: &NetworkSpec, backend: NetworkBackend) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for r in net.routes.iter().flat_map(|r| r.config.iter()) {
        check_route(r)?;
        let Some(i) = &r.next_hop_interface else {
            return Err(format!(
                "route to {} names no next-hop-interface: the {} writer puts a route in its interface's file",
                r.destination,
                backend.as_str()
            ));
        };
        if find(net, i).is_none() {
            return Err(format!(
                "route to {} goes out of {i}, which is not in network.interfaces: the {} writer puts a route in its interface's file",
                r.destination,
                backend.as_str()
            ));
        }
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    Ok(out)
}

/// Renders the `routes` step: every file that holds one of the spec's routes, and the
/// backend's activation of those interfaces.
///
/// # Errors
/// Why the backend cannot write the routes as the spec declares them.
pub fn render_routes(backend: NetworkBackend, net: &NetworkSpec) -> Result<NetworkWrite, String> {
    if backend == NetworkBackend::Nmstate {
        for r in net.routes.iter().flat_map(|r| r.config.iter()) {
            check_route(r)?;
        }
        let doc = json!({ "routes": net.routes });
        return Ok(nmstate_doc("routes", &doc, Vec::new()));
    }
    let ifaces = route_interfaces(net, backend)?;
    let mut files = Vec::new();
    let mut activate = Vec::new();
    let mut revert = Vec::new();
    for name in &ifaces {
        let w = super::render(backend, net, name, false, ROLLBACK_TIMEOUT_S)?;
        for f in w.files {
            if !files.iter().any(|x: &PlannedFile| x.path == f.path) {
                files.push(f);
            }
        }
        for c in w.activate {
            if !activate.contains(&c) {
                activate.push(c);
            }
        }
        for c in w.revert {
            if !revert.contains(&c) {
                revert.push(c);
            }
        }
    }
    Ok(NetworkWrite {
        backend,
        files,
        activate,
        commit: Vec::new(),
        revert,
        rollback_timeout_s: ROLLBACK_TIMEOUT_S,
        touches: ifaces,
    })
}

fn nmstate_doc(name: &str, doc: &serde_json::Value, touches: Vec<String>) -> NetworkWrite {
    let p = super::nmstate::path(name);
    let content = format!(
        "# Written by bmfleet for {name} from the host's spec; bmfleet rewrites it.\n{}",
        yaml::to_yaml(doc)
    );
    NetworkWrite {
        backend: NetworkBackend::Nmstate,
        files: vec![PlannedFile::new(p.clone(), "0600", content)],
        activate: vec![cmd(&[
            "nmstatectl",
            "apply",
            "--no-commit",
            "--timeout",
            &ROLLBACK_TIMEOUT_S.to_string(),
            &p,
        ])],
        commit: vec![cmd(&["nmstatectl", "commit"])],
        revert: vec![cmd(&["nmstatectl", "rollback"])],
        rollback_timeout_s: ROLLBACK_TIMEOUT_S,
        touches,
    }
}

/// The NetworkManager global DNS drop-in.
pub const NM_DNS_PATH: &str = "/etc/NetworkManager/conf.d/90-bmfleet-dns.conf";
/// The systemd-resolved drop-in.
pub const RESOLVED_DNS_PATH: &str = "/etc/systemd/resolved.conf.d/90-bmfleet-dns.conf";

/// Checks DNS servers (addresses) and search domains (letters, digits, `-`, `_`, `.`).
fn check_dns(dns: &DnsConfig) -> Result<(Vec<String>, Vec<String>), String> {
    let servers = dns
        .server
        .iter()
        .map(|s| {
            s.parse::<IpAddr>()
                .map(|ip| ip.to_string())
                .map_err(|_| format!("DNS server {s:?} is not an address"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for d in &dns.search {
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return Err(format!("DNS search domain {d:?} is not a domain name"));
        }
    }
    Ok((servers, dns.search.clone()))
}

/// Renders the `dns` step. `resolver` is what the host was read with (`systemd-resolved`
/// when `/etc/resolv.conf` is its stub, `resolv.conf` otherwise).
///
/// # Errors
/// A value that does not check; a host whose resolver configuration bmfleet does not own a
/// way to write (see the module documentation).
pub fn render_dns(
    backend: NetworkBackend,
    dns: &DnsConfig,
    resolver: Option<&str>,
) -> Result<NetworkWrite, String> {
    let (servers, search) = check_dns(dns)?;
    let header =
        "# Written by bmfleet for dns-resolver from the host's spec; bmfleet rewrites it.\n";
    let (path, content, reload) = match backend {
        NetworkBackend::Nmstate => {
            return Ok(nmstate_doc(
                "dns",
                &json!({ "dns-resolver": { "config": dns } }),
                Vec::new(),
            ));
        }
        NetworkBackend::NetworkManager => {
            let mut s = format!("{header}[global-dns]\n");
            if !search.is_empty() {
                s.push_str(&format!("searches={}\n", search.join(",")));
            }
            s.push_str(&format!(
                "\n[global-dns-domain-*]\nservers={}\n",
                servers.join(",")
            ));
            (NM_DNS_PATH, s, cmd(&["nmcli", "general", "reload"]))
        }
        _ if resolver == Some("systemd-resolved") => {
            let mut s = format!("{header}[Resolve]\nDNS={}\n", servers.join(" "));
            if !search.is_empty() {
                s.push_str(&format!("Domains={}\n", search.join(" ")));
            }
            (
                RESOLVED_DNS_PATH,
                s,
                cmd(&["systemctl", "reload-or-restart", "systemd-resolved.service"]),
            )
        }
        _ => {
            return Err(format!(
                "the {} host's /etc/resolv.conf is not systemd-resolved's stub: bmfleet writes DNS through systemd-resolved, NetworkManager or nmstate, not into a resolv.conf another tool owns",
                backend.as_str()
            ));
        }
    };
    Ok(NetworkWrite {
        backend,
        files: vec![PlannedFile::new(path.to_string(), "0644", content)],
        activate: vec![reload.clone()],
        commit: Vec::new(),
        revert: vec![reload],
        rollback_timeout_s: ROLLBACK_TIMEOUT_S,
        touches: Vec::new(),
    })
}
