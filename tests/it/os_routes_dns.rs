//! Routes (nmstate `routes.config`) and DNS (`dns-resolver.config`) read by the OS probe and
//! compared with nmstate's semantics: iproute2 route JSON as a Debian 12 host prints it
//! (`proto kernel`, `scope link`, defaults via a gateway, the `local` table), the resolver
//! configuration behind systemd-resolved's stub, and the plan's changes.

use crate::plan_support::*;
use bmfleet::engine::{NullReporter, Provider, RefreshOptions, refresh};
use bmfleet::os::iproute::{TABLE_MAIN, parse_routes};
use bmfleet::os::provider::{OsProvider, local_transports};
use bmfleet::plan::model::Change;
use bmfleet::plan::resource::ResourceKind;
use bmfleet::plan::{Plan, PlanOptions, plan};
use bmfleet::spec::Host;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

fn fixture(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroot")
        .join(case)
}

fn plan_os(h: &Host, case: &str) -> Plan {
    let roots = BTreeMap::from([(h.name.clone(), fixture(case))]);
    let providers: Vec<Arc<dyn Provider>> =
        vec![Arc::new(OsProvider::new(local_transports(&roots)))];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(refresh(
        &[h],
        &Default::default(),
        &providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    ));
    plan(&[h], &result.observed, &PlanOptions::default())
}

/// The bond-vlan fixture's interfaces (all matching), plus `routes` and `dns`.
fn spec(routes: Value, dns: Value) -> Host {
    let mut network = json!({"interfaces": [
        {"name": "bond0", "type": "bond"},
        {"name": "bond0.100", "type": "vlan", "vlan": {"base-iface": "bond0", "id": 100},
         "ipv4": {"address": [{"ip": "192.0.2.10", "prefix-length": 24}]}}
    ]});
    if !routes.is_null() {
        network["routes"] = json!({ "config": routes });
    }
    if !dns.is_null() {
        network["dns-resolver"] = json!({ "config": dns });
    }
    host("g1", &[], &[], settings(json!({ "network": network })))
}

fn changes_of(p: &Plan, kind: ResourceKind) -> Vec<&Change> {
    p.hosts[0]
        .changes
        .iter()
        .filter(|c| c.kind == kind)
        .collect()
}

fn matching_routes() -> Value {
    json!([
        {"destination": "198.51.100.0/24", "next-hop-address": "192.0.2.1",
         "next-hop-interface": "bond0.100", "metric": 100},
        {"destination": "203.0.113.0/24", "next-hop-address": "192.0.2.254",
         "next-hop-interface": "bond0.100", "table-id": 100},
        {"destination": "2001:db8:200::/48", "next-hop-address": "2001:db8:100::1",
         "next-hop-interface": "bond0.100"},
        {"destination": "0.0.0.0/0", "next-hop-address": "10.0.0.1", "metric": 1024}
    ])
}

#[test]
fn ip_route_json_of_a_debian_12_host_parses_and_kernel_routes_are_told_apart() {
    let read = |f: &str| std::fs::read_to_string(fixture("bond-vlan").join(f)).unwrap();
    let mut issues = Vec::new();
    let v4 = parse_routes(&read("ip-route.json"), false, &mut issues).unwrap();
    let v6 = parse_routes(&read("ip-route6.json"), true, &mut issues).unwrap();
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(v4.len(), 10);
    let default = &v4[0];
    assert_eq!(default.destination, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(default.prefix_length, 0);
    assert_eq!(default.gateway, Some("10.0.0.1".parse().unwrap()));
    assert_eq!((default.metric, default.table), (1024, TABLE_MAIN));
    assert!(!default.kernel_added());
    // `proto kernel scope link`: the connected prefix.
    assert!(v4[1].kernel_added());
    // A host route (`dst` without a length) is a /32.
    assert_eq!(v4[2].prefix_length, 32);
    assert!(!v4[2].kernel_added());
    // A numbered table, printed as a string.
    assert_eq!(v4[5].table, 100);
    // `table local` entries (local, broadcast) are never compared.
    assert!(v4[6..].iter().all(|r| r.kernel_added()));
    // IPv6: the RA default via a link-local gateway is a route; fe80::/64, the local table
    // and multicast are the kernel's.
    let v6_default = v6
        .iter()
        .find(|r| r.prefix_length == 0)
        .expect("an IPv6 default");
    assert_eq!(v6_default.gateway, Some("fe80::1".parse().unwrap()));
    assert!(!v6_default.kernel_added());
    assert_eq!(v6.iter().filter(|r| !r.kernel_added()).count(), 2);
    // Garbage is an issue, not a panic.
    assert!(
        parse_routes("[{\"dst\": 5}, 3]", false, &mut issues)
            .unwrap()
            .is_empty()
    );
    assert_eq!(issues.len(), 2);
    assert!(parse_routes("not json", false, &mut issues).is_none());
}

#[test]
fn routes_and_dns_that_match_are_observed_with_no_changes() {
    let h = spec(
        matching_routes(),
        json!({"server": ["10.0.0.53", "10.0.1.53"], "search": ["LAB.example.net."]}),
    );
    let p = plan_os(&h, "bond-vlan");
    let host = &p.hosts[0];
    assert!(host.error.is_none(), "{:?}", host.error);
    assert!(host.changes.is_empty(), "{:#?}", host.changes);
    assert!(host.unobserved.is_empty(), "{:?}", host.unobserved);
}

#[test]
fn a_missing_route_or_another_metric_is_a_change_and_extra_routes_are_not() {
    // The host has more routes than the spec lists (the DHCP host route, the IPv6 default):
    // nmstate's rule, not drift. A route it lacks, and one with another metric, are.
    // Every route names an interface of the spec, so that systemd-networkd can write them.
    let mut routes = json!(matching_routes().as_array().unwrap()[..3].to_vec());
    routes[0]["metric"] = json!(50);
    routes.as_array_mut().unwrap().push(
        json!({"destination": "10.9.0.0/16", "next-hop-address": "192.0.2.1",
               "next-hop-interface": "bond0.100"}),
    );
    // `proto kernel` routes never stand in for a spec route.
    routes
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "192.0.2.0/24", "next-hop-interface": "bond0.100"}));
    let p = plan_os(&h_routes(routes.clone()), "bond-vlan");
    assert!(p.hosts[0].error.is_none(), "{:?}", p.hosts[0].error);
    let c = changes_of(&p, ResourceKind::Routes);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].setting, "config");
    assert_eq!(c[0].after.as_ref(), Some(&routes));
    let before = c[0].before.clone().unwrap();
    let before = before.as_array().unwrap();
    assert_eq!(before.len(), 3, "{before:#?}");
    assert_eq!(before[0]["metric"], json!(100));
    assert!(
        !before
            .iter()
            .any(|r| r["destination"] == "10.9.0.0/16" || r["destination"] == "192.0.2.0/24")
    );
}

fn h_routes(routes: Value) -> Host {
    spec(routes, Value::Null)
}

#[test]
fn dns_servers_in_another_order_are_a_change() {
    let h = spec(
        Value::Null,
        json!({"server": ["10.0.1.53", "10.0.0.53"], "search": ["lab.example.net"]}),
    );
    let p = plan_os(&h, "bond-vlan");
    let c = changes_of(&p, ResourceKind::Dns);
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].setting, "server");
    assert_eq!(c[0].before, Some(json!(["10.0.0.53", "10.0.1.53"])));
    assert_eq!(c[0].after, Some(json!(["10.0.1.53", "10.0.0.53"])));
}

#[test]
fn without_the_stub_etc_resolv_conf_itself_is_read() {
    // A host whose /etc/resolv.conf is the configuration (ifupdown, NetworkManager without
    // systemd-resolved): no fixture has one, so one is made.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/resolv.conf"),
        "# Generated by NetworkManager\nsearch a.example b.example\nnameserver 192.0.2.53\nnameserver 2001:DB8::53\n",
    )
    .unwrap();
    // NetworkManager manages it (it writes resolv.conf itself, without systemd-resolved).
    for marker in [
        "usr/sbin/NetworkManager",
        "run/systemd/units/invocation:NetworkManager.service",
    ] {
        let path = root.join(marker);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }
    std::fs::write(root.join("ip-link.json"), "[]").unwrap();
    std::fs::write(root.join("ip-addr.json"), "[]").unwrap();
    // DNS only: no interface to write, so no network stack is needed to read it.
    let h = host(
        "g1",
        &[],
        &[],
        settings(json!({"network": {"dns-resolver": {"config":
            {"server": ["192.0.2.53", "2001:db8::53"], "search": ["b.example", "a.example"]}}}})),
    );
    let roots = BTreeMap::from([(h.name.clone(), root.to_path_buf())]);
    let providers: Vec<Arc<dyn Provider>> =
        vec![Arc::new(OsProvider::new(local_transports(&roots)))];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(refresh(
        &[&h],
        &Default::default(),
        &providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    ));
    let p = plan(&[&h], &result.observed, &PlanOptions::default());
    assert!(p.hosts[0].error.is_none(), "{:?}", p.hosts[0].error);
    let c = changes_of(&p, ResourceKind::Dns);
    // The servers are the same (an IPv6 address in another case); the search order is not.
    assert_eq!(c.len(), 1, "{c:#?}");
    assert_eq!(c[0].setting, "search");
    assert_eq!(c[0].before, Some(json!(["a.example", "b.example"])));
    // Written as NetworkManager's global DNS.
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains(bmfleet::plan::network::routes::NM_DNS_PATH),
        "{json}"
    );
}

mod writes {
    use super::*;
    use bmfleet::plan::network::NetworkBackend;
    use bmfleet::plan::network::routes::{RESOLVED_DNS_PATH, render_dns, render_routes};
    use bmfleet::spec::model::{DnsConfig, NetworkSpec};

    fn net() -> NetworkSpec {
        serde_json::from_value(json!({
            "interfaces": [{"name": "eth0", "type": "ethernet",
                "ipv4": {"address": [{"ip": "192.0.2.10", "prefix-length": 24}]}}],
            "routes": {"config": [
                {"destination": "0.0.0.0/0", "next-hop-address": "192.0.2.1",
                 "next-hop-interface": "eth0", "metric": 100},
                {"destination": "203.0.113.0/24", "next-hop-address": "192.0.2.254",
                 "next-hop-interface": "eth0", "table-id": 100}
            ]}
        }))
        .unwrap()
    }

    fn content(b: NetworkBackend) -> String {
        let w = render_routes(b, &net()).unwrap();
        assert_eq!(w.backend, b);
        w.files.iter().map(|f| f.content.as_str()).collect()
    }

    #[test]
    fn routes_are_rendered_in_their_interface_file_for_each_backend() {
        let nd = content(NetworkBackend::SystemdNetworkd);
        assert!(
            nd.contains("[Route]\nDestination=0.0.0.0/0\nGateway=192.0.2.1\nMetric=100\n"),
            "{nd}"
        );
        assert!(nd.contains("Destination=203.0.113.0/24\nGateway=192.0.2.254\nTable=100\n"));
        let np = content(NetworkBackend::Netplan);
        assert!(np.contains("routes:"), "{np}");
        assert!(
            np.contains("192.0.2.1") && np.contains("table: 100"),
            "{np}"
        );
        let nm = content(NetworkBackend::NetworkManager);
        assert!(nm.contains("route1=0.0.0.0/0,192.0.2.1,100\n"), "{nm}");
        assert!(nm.contains("route2_options=table=100\n"), "{nm}");
        let ifu = content(NetworkBackend::Ifupdown);
        assert!(
            ifu.contains("up ip route replace 0.0.0.0/0 via 192.0.2.1 dev eth0 metric 100\n"),
            "{ifu}"
        );
        let nms = content(NetworkBackend::Nmstate);
        assert!(nms.contains("next-hop-address: \"192.0.2.1\""), "{nms}");
        // The interface's own step writes the same bytes for the shared file.
        let iface = bmfleet::plan::network::render(
            NetworkBackend::SystemdNetworkd,
            &net(),
            "eth0",
            false,
            120,
        )
        .unwrap();
        assert_eq!(iface.files[0].content, nd);
    }

    #[test]
    fn routes_a_backend_cannot_place_and_values_that_do_not_check_are_refused() {
        let mut n = net();
        if let Some(r) = n.routes.as_mut() {
            r.config[0].next_hop_interface = None;
        }
        let e = render_routes(NetworkBackend::SystemdNetworkd, &n).unwrap_err();
        assert!(e.contains("next-hop-interface"), "{e}");
        assert!(render_routes(NetworkBackend::Nmstate, &n).is_ok());
        if let Some(r) = n.routes.as_mut() {
            r.config[0].destination = "10.0.0.0/8\n[Network]".into();
        }
        assert!(render_routes(NetworkBackend::Nmstate, &n).is_err());
    }

    #[test]
    fn dns_is_written_through_resolved_networkmanager_or_nmstate_and_refused_otherwise() {
        let dns = DnsConfig {
            server: vec!["10.0.0.53".into(), "2001:db8::53".into()],
            search: vec!["dc1.example.net".into()],
        };
        let w = render_dns(
            NetworkBackend::SystemdNetworkd,
            &dns,
            Some("systemd-resolved"),
        )
        .unwrap();
        assert_eq!(w.files[0].path, RESOLVED_DNS_PATH);
        assert!(
            w.files[0]
                .content
                .contains("[Resolve]\nDNS=10.0.0.53 2001:db8::53\nDomains=dc1.example.net\n")
        );
        let w = render_dns(NetworkBackend::NetworkManager, &dns, Some("resolv.conf")).unwrap();
        assert!(
            w.files[0]
                .content
                .contains("servers=10.0.0.53,2001:db8::53\n")
        );
        assert!(w.files[0].content.contains("searches=dc1.example.net\n"));
        let e = render_dns(NetworkBackend::Ifupdown, &dns, Some("resolv.conf")).unwrap_err();
        assert!(e.contains("systemd-resolved"), "{e}");
        let bad = DnsConfig {
            server: vec!["10.0.0.53\nDNS=1.1.1.1".into()],
            search: vec![],
        };
        assert!(
            render_dns(
                NetworkBackend::SystemdNetworkd,
                &bad,
                Some("systemd-resolved")
            )
            .is_err()
        );
    }

    #[test]
    fn a_dns_change_on_a_networkd_host_behind_resolved_plans_the_resolved_drop_in() {
        let h = spec(
            Value::Null,
            json!({"server": ["10.0.1.53", "10.0.0.53"], "search": ["lab.example.net"]}),
        );
        let p = plan_os(&h, "bond-vlan");
        assert!(p.hosts[0].error.is_none(), "{:?}", p.hosts[0].error);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(RESOLVED_DNS_PATH), "{json}");
    }
}
