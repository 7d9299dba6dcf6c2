//! From a [`Probe`] of one host to the planner's observations, one per OS resource the spec
//! sets, in the spec's (nmstate's, cloud-init's, the kernel's) spelling and with nmstate's
//! comparison rule: only the properties the spec sets are reported, so defaults and
//! properties the spec leaves alone are never drift.
//!
//! Normalisations (each one makes two spellings of the same state equal, never two states):
//! - lists that are sets on the host (bond ports, addresses) take the spec's order when they
//!   hold the same members;
//! - MAC addresses compare case-insensitively (nmstate prints upper case, iproute2 lower);
//! - sysctl and sysfs values compare by their whitespace-separated fields (`/proc/sys` prints
//!   `net.ipv4.tcp_rmem` with tabs) and integers equal their decimal strings;
//! - kernel arguments: the spec lists arguments that must be present, so the observation is
//!   the spec's arguments found on `/proc/cmdline`, plus any argument that gives one of their
//!   keys another value (`hugepages=32` against `hugepages=64`); the boot loader's configured
//!   arguments are the staged (`pending`) value, in effect after the next reboot;
//! - cloud-init documents compare by SHA-256; the seed's digest differing from the one the
//!   running instance consumed is the staged value (cloud-init acts on it only at the first
//!   boot of a new instance-id).
//!
//! Properties the probe cannot read are reported in [`Observation::unknown`] with the reason
//! (the planner lists them as not observed), never guessed.

use super::iproute::{KernelRoute, Link, TABLE_MAIN, parse_prefix};
use super::probe::{Probe, page_size_kb};
use crate::plan::address::Address;
use crate::plan::network::NetworkBackend;
use crate::plan::observed::{Fingerprint, Observation, ObservedValue, ReadError};
use crate::plan::resource::{Resource, ResourceKind};
use crate::plan::value::{same_value, sha256_json};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The sysfs path of the transparent hugepage mode (kernel
/// `Documentation/admin-guide/mm/transhuge.rst`).
pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
/// The sysfs path of CPU 0's cpufreq governor (kernel
/// `Documentation/admin-guide/pm/cpufreq.rst`); the spec sets one governor for every CPU.
pub const CPU_GOVERNOR: &str = "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor";
/// The sysfs path that runs or stops KSM (kernel `Documentation/admin-guide/mm/ksm.rst`).
pub const KSM_RUN: &str = "/sys/kernel/mm/ksm/run";

/// The NoCloud seed directory cloud-init reads (cloud-init `reference/datasources/nocloud.rst`).
pub const NOCLOUD_SEED: &str = "/var/lib/cloud/seed/nocloud";
/// The user-data the running instance consumed.
pub const INSTANCE_USER_DATA: &str = "/var/lib/cloud/instance/user-data.txt";

/// What one host's probe says about `resources` (the OS resources its spec sets): an
/// observation per resource, or a [`ReadError`] for resources that cannot be read on this
/// host (network resources when `ip` is missing). `endpoint` names the host in errors
/// (`ssh://root@r1-c01.example.net:22`).
pub fn observe(
    probe: &Probe,
    resources: &[Resource],
    endpoint: &str,
) -> BTreeMap<Address, Result<Observation, ReadError>> {
    let read_only = probe.uid.filter(|u| *u != 0).map(|u| {
        format!(
            "the OS was read as uid {u}, not root: bmfleet writes /etc, /proc/sys and /sys as root; log in as root or set os.ssh.sudo: true (sudo -n, without a password)"
        )
    });
    let mut ifaces: Vec<&str> = resources
        .iter()
        .filter(|r| is_network(r.kind))
        .filter_map(|r| r.iface.as_deref())
        .collect();
    // Routes name their interfaces too: they are written in those interfaces' files.
    for r in resources.iter().filter(|r| r.kind == ResourceKind::Routes) {
        for route in r
            .settings
            .get("config")
            .and_then(|s| s.value.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(dev) = route.get("next-hop-interface").and_then(Value::as_str)
                && !ifaces.contains(&dev)
            {
                ifaces.push(dev);
            }
        }
    }
    let writer = super::network::choose::backend(probe, &ifaces);
    resources
        .iter()
        .filter_map(|r| {
            let obs = match r.kind {
                ResourceKind::Ethernet | ResourceKind::Bond | ResourceKind::Vlan => {
                    network(probe, r, endpoint, &writer)
                }
                ResourceKind::SrIov => sriov_checked(probe, r, endpoint),
                ResourceKind::Hugepages => Ok(with_writer(hugepages(probe, r), probe)),
                ResourceKind::KernelArgs => Ok(with_writer(kernel_args(probe, r), probe)),
                ResourceKind::Sysctl => Ok(keyed(r, |k| probe.sysctl.get(k))),
                ResourceKind::Sysfs => Ok(keyed(r, |k| probe.sysfs.get(k))),
                ResourceKind::Tunables => Ok(tunables(probe, r)),
                ResourceKind::CloudInit => Ok(cloud_init(probe, r)),
                ResourceKind::Vfio => Ok(vfio(probe, r)),
                ResourceKind::Routes => routes(probe, r, endpoint).map(|o| with_net(o, &writer)),
                ResourceKind::Dns => Ok(with_net(dns(probe, r), &writer)),
                _ => return None,
            };
            let obs = obs.map(|mut o| {
                o.capabilities.read_only.clone_from(&read_only);
                o
            });
            Some((r.address.clone(), obs))
        })
        .collect()
}

/// The reason given for resource kinds the OS provider does not read yet.
pub const NOT_READ_YET: &str = "not read by the OS probe yet";

/// The sysfs paths the probe must read for `resources` besides the fixed set: the spec's
/// `os.sysfs` keys and the tunables' paths.
pub fn sysfs_keys(resources: &[Resource]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in resources {
        match r.kind {
            ResourceKind::Sysfs => out.extend(r.settings.keys().cloned()),
            ResourceKind::Tunables => {
                for k in r.settings.keys() {
                    if let Some(p) = tunable_path(k) {
                        out.push(p.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The sysctl keys the probe must read for `resources`.
pub fn sysctl_keys(resources: &[Resource]) -> Vec<String> {
    resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Sysctl)
        .flat_map(|r| r.settings.keys().cloned())
        .collect()
}

fn tunable_path(key: &str) -> Option<&'static str> {
    match key {
        "transparentHugepages" => Some(THP_ENABLED),
        "cpuGovernor" => Some(CPU_GOVERNOR),
        "ksm" => Some(KSM_RUN),
        _ => None,
    }
}

/// A setting's (current, pending) values, or why it cannot be read.
type Found = Result<(Option<Value>, Option<Value>), String>;

/// Builds an observation from the values found per key; keys mapped to `Err(why)` are
/// unknown.
fn build(values: BTreeMap<String, Found>) -> Observation {
    let mut obs = Observation::default();
    for (k, v) in values {
        match v {
            Ok((current, pending)) => {
                let pending = pending.filter(|p| current.as_ref() != Some(p));
                obs.values.insert(k, ObservedValue { current, pending });
            }
            Err(why) => {
                obs.unknown.insert(k, why);
            }
        }
    }
    let snapshot: BTreeMap<&String, (&Option<Value>, &Option<Value>)> = obs
        .values
        .iter()
        .map(|(k, v)| (k, (&v.current, &v.pending)))
        .collect();
    obs.fingerprint = Fingerprint {
        sha256: sha256_json(&json!(snapshot)),
        ..Fingerprint::default()
    };
    obs
}

/// `observed` in the spec's spelling when it is the same value as `desired`.
fn spelled(observed: Option<Value>, desired: &Value) -> Option<Value> {
    match observed {
        Some(o) if same_value(&o, desired) => Some(desired.clone()),
        Some(Value::String(o)) => match desired {
            Value::String(d) if o.eq_ignore_ascii_case(d) && looks_like_mac(d) => {
                Some(desired.clone())
            }
            _ if fields(&o) == fields(&display(desired)) => Some(desired.clone()),
            _ => Some(Value::String(o)),
        },
        other => other,
    }
}

fn looks_like_mac(s: &str) -> bool {
    s.len() == 17 && s.chars().filter(|c| *c == ':').count() == 5
}

fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn fields(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

/// A list observed on the host as a set: the spec's order when the members are the same.
fn as_set(observed: Vec<String>, desired: &Value) -> Value {
    let mut a = observed.clone();
    a.sort();
    if let Value::Array(d) = desired {
        let mut b: Vec<String> = d.iter().map(display).collect();
        b.sort();
        if a == b {
            return desired.clone();
        }
    }
    Value::Array(a.into_iter().map(Value::String).collect())
}

fn is_network(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Ethernet | ResourceKind::Bond | ResourceKind::Vlan
    )
}

/// A network resource's observation, with the backend chosen for the host in
/// `capabilities.writer` (an error when there is none: nothing could write the resource).
fn network(
    probe: &Probe,
    r: &Resource,
    endpoint: &str,
    writer: &Result<NetworkBackend, String>,
) -> Result<Observation, ReadError> {
    let Some(links) = &probe.links else {
        return Err(ReadError {
            endpoint: endpoint.to_string(),
            message: "`ip -j -d link` gave no usable output (iproute2 missing, too old for JSON, or its output was cut)".into(),
            code: "bmfleet::os::no_iproute2".into(),
            help: "install iproute2 4.14 or later on the host (Debian/Ubuntu: iproute2, RHEL: iproute)".into(),
        });
    };
    let backend = match writer {
        Ok(b) => *b,
        Err(why) => {
            return Err(ReadError {
                endpoint: endpoint.to_string(),
                message: why.clone(),
                code: "bmfleet::os::unknown_network_stack".into(),
                help: "enable the stack that manages the host's interfaces (see docs/plan.md, \"Network writes\"), or leave network out of this host's spec".into(),
            });
        }
    };
    let iface = r.iface.as_deref().unwrap_or_default();
    let link = links.get(iface);
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired = &setting.value;
        let found = match link {
            None => Ok((
                (key == "state").then(|| Value::String("absent".into())),
                None,
            )),
            Some(link) => link_value(probe, link, key, desired).map(|v| (v, None)),
        };
        values.insert(key.clone(), found);
    }
    let mut obs = build(values);
    obs.capabilities.writer = Some(backend.as_str().to_string());
    Ok(obs)
}

fn link_value(
    probe: &Probe,
    link: &Link,
    key: &str,
    desired: &Value,
) -> Result<Option<Value>, String> {
    let la = link.link_aggregation.as_ref();
    let v = match key {
        "type" => link
            .iface_type
            .as_ref()
            .and_then(|t| serde_json::to_value(t).ok()),
        "state" => Some(Value::String(
            if link.admin_up() { "up" } else { "down" }.into(),
        )),
        "mtu" => link.mtu.map(Value::from),
        "mac-address" => spelled(link.own_mac().map(|m| Value::String(m.into())), desired),
        "link-aggregation.mode" => la
            .and_then(|a| a.mode.as_ref())
            .and_then(|m| serde_json::to_value(m).ok()),
        "link-aggregation.port" => la.map(|a| as_set(a.port.clone(), desired)),
        "vlan.base-iface" => link
            .vlan
            .as_ref()
            .and_then(|v| v.base_iface.clone())
            .map(Value::String),
        "vlan.id" => link.vlan.as_ref().and_then(|v| v.id).map(Value::from),
        "ipv4.address" | "ipv6.address" => {
            let v6 = key.starts_with("ipv6");
            let addrs: Vec<String> = probe
                .addrs
                .as_ref()
                .and_then(|a| a.get(&link.name))
                .map(|list| {
                    list.iter()
                        .filter(|a| a.ip.is_ipv6() == v6)
                        .map(|a| format!("{}/{}", a.ip, a.prefix_length))
                        .collect()
                })
                .unwrap_or_default();
            Some(as_set(addrs, desired))
        }
        "ipv4.enabled" | "ipv6.enabled" => {
            let v6 = key.starts_with("ipv6");
            let any = probe
                .addrs
                .as_ref()
                .and_then(|a| a.get(&link.name))
                .is_some_and(|list| list.iter().any(|a| a.ip.is_ipv6() == v6));
            if any {
                Some(Value::Bool(true))
            } else {
                return Err(
                    "no address of this family: enabled-and-waiting cannot be told from disabled"
                        .into(),
                );
            }
        }
        "ipv4.dhcp" | "ipv6.dhcp" | "ipv6.autoconf" => {
            return Err(
                "DHCP and autoconf are configured in the network stack's files, not read yet"
                    .into(),
            );
        }
        "description" => return Err("interface aliases are not read by the OS probe yet".into()),
        k if k.starts_with("ethernet.") => {
            return Err(
                "link speed, duplex and auto-negotiation are not read by the OS probe yet".into(),
            );
        }
        k if k.starts_with("link-aggregation.options.") => {
            let name = &k["link-aggregation.options.".len()..];
            match la.and_then(|a| a.options.get(name)) {
                Some(v) => spelled(Some(v.clone()), desired),
                None => None,
            }
        }
        _ => return Err(NOT_READ_YET.into()),
    };
    Ok(v)
}

fn sriov(probe: &Probe, r: &Resource) -> Observation {
    let iface = r.iface.as_deref().unwrap_or_default();
    let pf = probe.sriov.get(iface);
    let vf_info = |id: u32| {
        pf.and_then(|p| p.vfs.get(&id))
            .and_then(|v| v.info.clone())
            .or_else(|| {
                probe
                    .links
                    .as_ref()
                    .and_then(|l| l.get(iface))
                    .and_then(|l| l.vfs.iter().find(|v| v.id == id).cloned())
            })
    };
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired = &setting.value;
        let found: Result<Option<Value>, String> = match key.as_str() {
            "total-vfs" => Ok(pf.and_then(|p| p.num_vfs).map(Value::from)),
            "drivers-autoprobe" => Ok(pf.and_then(|p| p.drivers_autoprobe).map(Value::Bool)),
            k if k.starts_with("vfs[") => match parse_vf_key(k) {
                Some((id, prop)) => Ok(vf_info(id).and_then(|vf| match prop {
                    "mac-address" => spelled(vf.mac_address.map(Value::String), desired),
                    "spoof-check" => vf.spoof_check.map(Value::Bool),
                    "trust" => vf.trust.map(Value::Bool),
                    "vlan-id" => Some(Value::from(vf.vlan_id.unwrap_or(0))),
                    "qos" => Some(Value::from(vf.qos.unwrap_or(0))),
                    "min-tx-rate" => vf.min_tx_rate.map(Value::from),
                    "max-tx-rate" => vf.max_tx_rate.map(Value::from),
                    _ => None,
                })),
                None => Err(NOT_READ_YET.into()),
            },
            _ => Err(NOT_READ_YET.into()),
        };
        values.insert(key.clone(), found.map(|v| (v, None)));
    }
    build(values)
}

/// The network backend in `capabilities.writer` when one was found (routes and DNS are
/// read without one; a write without one is a plan-time error for the host).
fn with_net(mut obs: Observation, writer: &Result<NetworkBackend, String>) -> Observation {
    obs.capabilities.writer = writer.as_ref().ok().map(|b| b.as_str().to_string());
    obs
}

/// Routes (nmstate `routes.config`): the spec's routes found on the host, in the spec's
/// order and spelling. A spec route is found when a route the kernel did not add itself
/// ([`KernelRoute::kernel_added`]) has its destination (compared as a prefix: `10.0.0.1/8`
/// is `10.0.0.0/8`), table (`table-id` unset or 0 is the main table, 254) and, where the
/// spec sets them, its `next-hop-interface` and `next-hop-address` (`0.0.0.0` and `::` mean
/// no gateway, as in nmstate); its `metric`, where the spec sets one, is the observed route's
/// (one with the spec's metric when there are several). Routes the spec does not list are not
/// compared (nmstate's rule), so an extra route is never drift; a missing route, or one with
/// another metric, is.
fn routes(probe: &Probe, r: &Resource, endpoint: &str) -> Result<Observation, ReadError> {
    let Some(kernel) = &probe.routes else {
        return Err(ReadError {
            endpoint: endpoint.to_string(),
            message: "`ip -j route` gave no usable output (iproute2 missing, too old for JSON, or its output was cut)".into(),
            code: "bmfleet::os::no_iproute2".into(),
            help: "install iproute2 4.14 or later on the host (Debian/Ubuntu: iproute2, RHEL: iproute)".into(),
        });
    };
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let found: Found = if key == "config" {
            let found: Vec<Value> = setting
                .value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|want| observed_route(kernel, want))
                .collect();
            Ok((Some(Value::Array(found)), None))
        } else {
            Err(NOT_READ_YET.into())
        };
        values.insert(key.clone(), found);
    }
    Ok(build(values))
}

/// The host's route matching the spec's route `want` (an nmstate route object), as that
/// object with the observed metric; `None` when there is none.
fn observed_route(kernel: &[KernelRoute], want: &Value) -> Option<Value> {
    let obj = want.as_object()?;
    let dest = obj.get("destination")?.as_str()?;
    let (net, len) = parse_prefix(dest, dest.contains(':'))?;
    let table = match obj.get("table-id").and_then(Value::as_u64) {
        None | Some(0) => TABLE_MAIN,
        Some(t) => u32::try_from(t).ok()?,
    };
    let dev = obj.get("next-hop-interface").and_then(Value::as_str);
    let gateway: Option<Option<IpAddr>> = match obj.get("next-hop-address").and_then(Value::as_str)
    {
        None => None,
        Some(g) => {
            let ip = g.parse::<IpAddr>().ok()?;
            Some((!ip.is_unspecified()).then_some(ip))
        }
    };
    let metric = obj.get("metric").and_then(Value::as_u64);
    let candidates: Vec<&KernelRoute> = kernel
        .iter()
        .filter(|k| {
            !k.kernel_added()
                && k.destination == net
                && k.prefix_length == len
                && k.table == table
                && dev.is_none_or(|d| k.dev.as_deref() == Some(d))
                && gateway.is_none_or(|g| k.gateway == g)
        })
        .collect();
    let k = candidates
        .iter()
        .find(|k| metric.is_none_or(|m| u64::from(k.metric) == m))
        .or(candidates.first())?;
    let mut out = obj.clone();
    if metric.is_some() {
        out.insert("metric".into(), Value::from(k.metric));
    }
    Some(Value::Object(out))
}

/// DNS (nmstate `dns-resolver.config`): `server` and `search` as ordered lists (the order
/// is the order the resolver tries them, so another order is drift), read from the
/// configuration in effect ([`crate::os::resolv::Resolver::effective`]: systemd-resolved's
/// uplink file when `/etc/resolv.conf` names only its stub, else `/etc/resolv.conf`).
/// Addresses compare as addresses (`2001:DB8::1` is `2001:db8::1`) and domains
/// case-insensitively without a trailing dot; the spec's spelling is kept when they are
/// equal. Records the extra observed value `resolver` (`systemd-resolved` or `resolv.conf`)
/// for the writer.
fn dns(probe: &Probe, r: &Resource) -> Observation {
    let effective = probe.resolver.effective();
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired: Vec<String> = setting
            .value
            .as_array()
            .map(|a| a.iter().map(display).collect())
            .unwrap_or_default();
        let found: Found = match (&effective, key.as_str()) {
            (Err(why), _) => Err(why.clone()),
            (Ok(conf), "server") => Ok((Some(ordered(&conf.servers, &desired, same_ip)), None)),
            (Ok(conf), "search") => Ok((Some(ordered(&conf.search, &desired, same_domain)), None)),
            _ => Err(NOT_READ_YET.into()),
        };
        values.insert(key.clone(), found);
    }
    let mut obs = build(values);
    obs.values.insert(
        "resolver".into(),
        ObservedValue {
            current: Some(Value::String(
                if probe.resolver.uses_resolved() {
                    "systemd-resolved"
                } else {
                    "resolv.conf"
                }
                .into(),
            )),
            pending: None,
        },
    );
    obs
}

/// An ordered list observed on the host, each member in the spec's spelling when `same`
/// says it is one of the spec's.
fn ordered(observed: &[String], desired: &[String], same: fn(&str, &str) -> bool) -> Value {
    Value::Array(
        observed
            .iter()
            .map(|o| {
                let spelled = desired.iter().find(|d| same(o, d)).unwrap_or(o);
                Value::String(spelled.clone())
            })
            .collect(),
    )
}

fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn same_domain(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The boot-argument writer for this host: `grubby` where it answered (BLS hosts, RHEL
/// family), `grub.d` where `/etc/default/grub` exists (Debian, Ubuntu), else none.
fn with_writer(mut obs: Observation, probe: &Probe) -> Observation {
    let args = &probe.configured_args;
    obs.capabilities.writer = if args.grubby.is_some() {
        Some("grubby".into())
    } else if args.grub.is_some() {
        Some("grub.d".into())
    } else {
        None
    };
    obs
}

/// SR-IOV, with the device's limits checked when planning: a VF count above
/// `sriov_totalvfs` (or on an interface without SR-IOV) is an error for the host now, not a
/// failed write later. `sriov_totalvfs` is recorded as an extra observed value for the op.
fn sriov_checked(probe: &Probe, r: &Resource, endpoint: &str) -> Result<Observation, ReadError> {
    let iface = r.iface.as_deref().unwrap_or_default();
    let pf = probe.sriov.get(iface);
    let wanted = r.settings.get("total-vfs").and_then(|s| s.value.as_u64());
    let total = pf.and_then(|p| p.total_vfs);
    if let Some(n) = wanted.filter(|n| *n > 0) {
        let problem = match total {
            None => Some(format!(
                "{iface} has no SR-IOV (no device/sriov_totalvfs), so {n} VFs cannot be created"
            )),
            Some(t) if u64::from(t) < n => Some(format!(
                "{iface}: the spec asks for {n} VFs but the device offers at most {t} (sriov_totalvfs)"
            )),
            Some(_) => None,
        };
        if let Some(message) = problem {
            return Err(ReadError {
                endpoint: endpoint.to_string(),
                message,
                code: "bmfleet::os::sriov_totalvfs".into(),
                help: "lower total-vfs in the spec, or raise the device's VF limit (SR-IOV and VF count in the BIOS or NIC firmware, then a reboot)".into(),
            });
        }
    }
    let mut obs = sriov(probe, r);
    if let Some(t) = total {
        obs.values.insert(
            "sriov_totalvfs".into(),
            ObservedValue {
                current: Some(Value::from(t)),
                pending: None,
            },
        );
    }
    Ok(obs)
}

/// vfio: `devices` as the spec's devices that are bound to vfio-pci (all of them: the
/// spec's list), `vfs.<pf>` as the spec's VF ids that are bound (all of them: the spec's
/// spelling, e.g. `0-3`; some: those, as a list such as `0,2`; none: empty). Devices bound
/// that the spec does not name are not compared (nmstate's rule).
fn vfio(probe: &Probe, r: &Resource) -> Observation {
    let bound: Vec<String> = probe.vfio_pci.clone().unwrap_or_default();
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired = &setting.value;
        let found: Result<Option<Value>, String> = if key == "devices" {
            let want: Vec<String> = desired
                .as_array()
                .map(|a| a.iter().map(display).collect())
                .unwrap_or_default();
            let have: Vec<String> = want
                .iter()
                .filter(|d| bound.iter().any(|b| b.eq_ignore_ascii_case(d)))
                .cloned()
                .collect();
            Ok(Some(as_set(have, desired)))
        } else if let Some(pf) = key.strip_prefix("vfs.") {
            let want = desired
                .as_str()
                .and_then(crate::plan::os_files::parse_id_ranges);
            match want {
                None => Err(format!("VF ids {desired} are not understood")),
                Some(ids) => {
                    let state = probe.sriov.get(pf);
                    let have: Vec<u32> = ids
                        .iter()
                        .copied()
                        .filter(|id| {
                            state
                                .and_then(|p| p.vfs.get(id))
                                .and_then(|v| v.driver.as_deref())
                                == Some("vfio-pci")
                        })
                        .collect();
                    Ok(Some(if have == ids {
                        desired.clone()
                    } else {
                        Value::String(
                            have.iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(","),
                        )
                    }))
                }
            }
        } else {
            Err(NOT_READ_YET.to_string())
        };
        values.insert(key.clone(), found.map(|v| (v, None)));
    }
    build(values)
}

/// `vfs[3].trust` -> `(3, "trust")`.
fn parse_vf_key(key: &str) -> Option<(u32, &str)> {
    let rest = key.strip_prefix("vfs[")?;
    let (id, prop) = rest.split_once("].")?;
    Some((id.parse().ok()?, prop))
}

/// A page size in kB as the spec spells sizes (`2M`, `1G`).
fn size_label(kb: u64) -> String {
    if kb.is_multiple_of(1024 * 1024) {
        format!("{}G", kb / (1024 * 1024))
    } else if kb.is_multiple_of(1024) {
        format!("{}M", kb / 1024)
    } else {
        format!("{kb}K")
    }
}

fn hugepages(probe: &Probe, r: &Resource) -> Observation {
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired = &setting.value;
        let found: Result<Option<Value>, String> = if key == "defaultSize" {
            Ok(probe.default_hugepage_kb.map(|kb| {
                let same = desired.as_str().and_then(page_size_kb) == Some(kb);
                if same {
                    desired.clone()
                } else {
                    Value::String(size_label(kb))
                }
            }))
        } else if let Some(rest) = key.strip_prefix("pages.") {
            let (size, node) = match rest.split_once(".node") {
                Some((s, n)) => (s, n.parse::<u32>().ok()),
                None => (rest, None),
            };
            match page_size_kb(size) {
                Some(kb) => Ok(probe.hugepages.get(&kb).and_then(|h| match node {
                    Some(n) => h.per_node.get(&n).and_then(|p| p.total).map(Value::from),
                    None => h.total.map(Value::from),
                })),
                None => Err(format!("page size {size} is not understood")),
            }
        } else {
            Err(NOT_READ_YET.into())
        };
        values.insert(key.clone(), found.map(|v| (v, None)));
    }
    build(values)
}

/// The spec's arguments as found in `args`: each desired argument present verbatim, or the
/// argument that gives its key another value.
fn args_view(args: &[String], desired: &[String]) -> Vec<String> {
    let key = |a: &str| a.split_once('=').map_or(a, |(k, _)| k).to_string();
    let mut out = Vec::new();
    for d in desired {
        if args.iter().any(|a| a == d) {
            out.push(d.clone());
        } else if let Some(other) = args.iter().find(|a| key(a) == key(d)) {
            out.push(other.clone());
        }
    }
    out
}

fn kernel_args(probe: &Probe, r: &Resource) -> Observation {
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let found = if key == "args" {
            let desired: Vec<String> = setting
                .value
                .as_array()
                .map(|a| a.iter().map(display).collect())
                .unwrap_or_default();
            let current = args_view(&probe.cmdline, &desired);
            let pending = probe
                .configured_args
                .effective()
                .map(|c| args_view(&c, &desired));
            let as_value =
                |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
            Ok((Some(as_value(current)), pending.map(as_value)))
        } else {
            Err(NOT_READ_YET.to_string())
        };
        values.insert(key.clone(), found);
    }
    build(values)
}

/// sysctl and sysfs: `read(key)` is `None` when the probe was not asked for the key,
/// `Some(None)` when the key does not exist on the host.
fn keyed<'a>(r: &Resource, read: impl Fn(&str) -> Option<&'a Option<String>>) -> Observation {
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let found = match read(key) {
            Some(v) => Ok((
                spelled(
                    v.as_ref().map(|s| Value::String(s.trim().into())),
                    &setting.value,
                ),
                None,
            )),
            None => Err("the probe did not read this key".to_string()),
        };
        values.insert(key.clone(), found);
    }
    build(values)
}

fn tunables(probe: &Probe, r: &Resource) -> Observation {
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let raw = tunable_path(key).and_then(|p| probe.sysfs.get(p));
        let found = match (key.as_str(), raw) {
            (_, None) => Err("the probe did not read this tunable".to_string()),
            (_, Some(None)) => Ok(None),
            // A kernel shows the choice as `always madvise [never]`; a file holding only the
            // word (a sysroot after a write) is that word.
            ("transparentHugepages", Some(Some(text))) => Ok(bracketed(text)
                .or_else(|| {
                    Some(text.trim().to_string()).filter(|t| !t.is_empty() && !t.contains(' '))
                })
                .map(Value::String)),
            ("ksm", Some(Some(text))) => Ok(match text.trim() {
                "1" => Some(Value::Bool(true)),
                "0" | "2" => Some(Value::Bool(false)),
                other => Some(Value::String(other.into())),
            }),
            (_, Some(Some(text))) => Ok(spelled(
                Some(Value::String(text.trim().into())),
                &setting.value,
            )),
        };
        values.insert(key.clone(), found.map(|v| (v, None)));
    }
    build(values)
}

/// The selected word of a sysfs selector such as `always [madvise] never`.
fn bracketed(text: &str) -> Option<String> {
    let start = text.find('[')?;
    let end = text[start..].find(']')? + start;
    Some(text[start + 1..end].to_string())
}

fn cloud_init(probe: &Probe, r: &Resource) -> Observation {
    let digest_of = |path: &str| probe.cloud_init.digests.get(path).cloned();
    let mut values = BTreeMap::new();
    for (key, setting) in &r.settings {
        let desired = &setting.value;
        let as_doc = |sha: Option<String>| {
            sha.map(|sha| {
                if desired.get("sha256").and_then(Value::as_str) == Some(sha.as_str()) {
                    desired.clone()
                } else {
                    json!({ "sha256": sha })
                }
            })
        };
        let found = match key.as_str() {
            "user-data" => {
                let seed = digest_of(&format!("{NOCLOUD_SEED}/user-data"));
                let consumed = digest_of(INSTANCE_USER_DATA);
                match consumed {
                    Some(c) => Ok((as_doc(Some(c)), as_doc(seed))),
                    None => Ok((as_doc(seed), None)),
                }
            }
            "meta-data" | "network-config" => {
                Ok((as_doc(digest_of(&format!("{NOCLOUD_SEED}/{key}"))), None))
            }
            // Where a document came from and how it is delivered are facts of the spec, not
            // state on the host: they never drift there.
            k if k.ends_with(".source") || k == "delivery" => Ok((Some(desired.clone()), None)),
            _ => Err(NOT_READ_YET.to_string()),
        };
        values.insert(key.clone(), found);
    }
    build(values)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn kernel_args_show_the_spec_args_found_and_conflicting_values() {
        let cmdline: Vec<String> = [
            "BOOT_IMAGE=/vmlinuz",
            "root=/dev/sda1",
            "iommu=pt",
            "hugepages=32",
        ]
        .map(String::from)
        .to_vec();
        let desired: Vec<String> = ["iommu=pt", "intel_iommu=on", "hugepages=64"]
            .map(String::from)
            .to_vec();
        assert_eq!(args_view(&cmdline, &desired), ["iommu=pt", "hugepages=32"]);
        assert_eq!(args_view(&desired, &desired), desired);
    }

    #[test]
    fn spellings_of_one_value_are_equal_and_different_values_are_not() {
        assert_eq!(
            spelled(
                Some(json!("4096\t16384\t4194304")),
                &json!("4096 16384 4194304")
            ),
            Some(json!("4096 16384 4194304"))
        );
        assert_eq!(spelled(Some(json!("1")), &json!(1)), Some(json!(1)));
        assert_eq!(
            spelled(
                Some(json!("aa:bb:cc:dd:ee:ff")),
                &json!("AA:BB:CC:DD:EE:FF")
            ),
            Some(json!("AA:BB:CC:DD:EE:FF"))
        );
        assert_eq!(
            spelled(Some(json!("fast")), &json!("slow")),
            Some(json!("fast"))
        );
        assert_eq!(
            as_set(vec!["eth1".into(), "eth0".into()], &json!(["eth0", "eth1"])),
            json!(["eth0", "eth1"])
        );
        assert_eq!(
            as_set(vec!["eth1".into()], &json!(["eth0", "eth1"])),
            json!(["eth1"])
        );
    }

    #[test]
    fn sizes_selectors_and_vf_keys() {
        assert_eq!(size_label(2048), "2M");
        assert_eq!(size_label(1048576), "1G");
        assert_eq!(
            bracketed("always [madvise] never").as_deref(),
            Some("madvise")
        );
        assert_eq!(bracketed("none"), None);
        assert_eq!(parse_vf_key("vfs[12].trust"), Some((12, "trust")));
        assert_eq!(parse_vf_key("vfs[x].trust"), None);
    }
}
