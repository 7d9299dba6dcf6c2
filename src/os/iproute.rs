//! Typed links and addresses from iproute2's JSON (`ip -j -d link`, `ip -j addr`; iproute2 6.1,
//! `ip/ipaddress.c`, `ip/iplink_bond.c`, `ip/iplink_bond_slave.c`, `ip/iplink_vlan.c`).
//!
//! Field names on the Rust side follow nmstate where nmstate has one (`link-aggregation`,
//! `mode`, `port`, `base-iface`, `mac-address`, `spoof-check`, `trust`) and keep iproute2's
//! keys elsewhere (`operstate`, `permaddr`, `master`, `link`). Facts this module lives with
//! (measured on a Debian 12 guest):
//!
//! - a bond port's `address` is the bond's MAC; its own MAC is `permaddr` (printed only when it
//!   differs from `address`) and `linkinfo.info_slave_data.perm_hwaddr`: [`Link::own_mac`];
//! - a VLAN names its base in `link` and its id and protocol in `linkinfo.info_data`;
//! - iproute2 JSON has no VF count (read `sriov_numvfs`); `vfinfo_list` lists VFs on the PF;
//! - bonds and VLANs get an automatic `fe80::` address, which [`parse_addrs`] drops.
//!
//! Parsing is per entry: an entry that does not have the expected shape is skipped and named
//! in the returned issues; the rest is kept.

use crate::spec::model::{BondMode, InterfaceType};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

use super::probe::ProbeIssue;

/// One network link from `ip -j -d link`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Link {
    /// Kernel interface index (`ifindex`).
    pub ifindex: u32,
    /// Interface name (`ifname`).
    pub name: String,
    /// nmstate's interface type: `bond` or `vlan` from `linkinfo.info_kind`, `ethernet` for an
    /// `ether` link without a kind (a NIC or VF); `None` for anything else (loopback, ifb,
    /// veth, bridges).
    #[serde(rename = "type")]
    pub iface_type: Option<InterfaceType>,
    /// iproute2 `linkinfo.info_kind` as printed (`bond`, `vlan`, `veth`), if any.
    pub info_kind: Option<String>,
    /// iproute2 `flags` (`UP`, `LOWER_UP`, `MASTER`, `SLAVE`, ...).
    pub flags: Vec<String>,
    /// MTU in bytes.
    pub mtu: Option<u32>,
    /// RFC 2863 operational state as iproute2 prints it (`UP`, `DOWN`, `LOWERLAYERDOWN`,
    /// `UNKNOWN`).
    pub operstate: Option<String>,
    /// `address`: the current MAC (for a bond port, the bond's MAC).
    pub address: Option<String>,
    /// `permaddr`: the permanent MAC, printed by iproute2 only when it differs from `address`.
    pub permaddr: Option<String>,
    /// `master`: the bond (or bridge) this link is a port of.
    pub master: Option<String>,
    /// `link`: the lower link (a VLAN's base interface).
    pub link: Option<String>,
    /// `parentdev`: the device behind the link (a PCI address such as `0000:01:00.0`).
    pub parentdev: Option<String>,
    /// Bond settings and ports, when this link is a bond.
    pub link_aggregation: Option<LinkAggregation>,
    /// Port state, when this link is a bond port.
    pub bond_port: Option<BondPort>,
    /// VLAN settings, when this link is a VLAN.
    pub vlan: Option<Vlan>,
    /// `vfinfo_list`: the VFs of an SR-IOV PF as the PF's driver reports them (empty
    /// otherwise). Their count is not the VF count: read `sriov_numvfs`.
    pub vfs: Vec<VfInfo>,
}

impl Link {
    /// Whether the link is administratively up (`UP` in `flags`).
    pub fn admin_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// The NIC's own MAC: `permaddr`, else a bond port's `perm_hwaddr`, else `address`.
    /// Match NICs by this, never by `address` alone (a bond port's `address` is the bond's).
    pub fn own_mac(&self) -> Option<&str> {
        self.permaddr
            .as_deref()
            .or_else(|| {
                self.bond_port
                    .as_ref()
                    .and_then(|p| p.perm_hwaddr.as_deref())
            })
            .or(self.address.as_deref())
    }
}

/// A bond (nmstate `link-aggregation`; kernel `Documentation/networking/bonding.rst`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LinkAggregation {
    /// Bonding mode (`info_data.mode`); `None` when absent or not a known mode (then an issue
    /// names it).
    pub mode: Option<BondMode>,
    /// Names of the ports (links whose `master` is this bond and that report bond port data),
    /// sorted by name (nmstate's `port`).
    pub port: Vec<String>,
    /// `miimon`: MII link monitoring interval in milliseconds.
    pub miimon: Option<u32>,
    /// `xmit_hash_policy` (`layer2`, `layer3+4`, ...).
    pub xmit_hash_policy: Option<String>,
    /// `lacp_rate` (`slow`, `fast`): iproute2's `ad_lacp_rate`.
    pub lacp_rate: Option<String>,
    /// Every option of `info_data` under its kernel (sysfs, nmstate) name: iproute2's
    /// `ad_lacp_rate` and `ad_lacp_active` become `lacp_rate` and `lacp_active`; the runtime
    /// `ad_info` block is left out.
    pub options: BTreeMap<String, Value>,
}

/// A bond port's state (`linkinfo.info_slave_data`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BondPort {
    /// `state`: `ACTIVE` or `BACKUP`.
    pub state: Option<String>,
    /// `mii_status`: `UP` or `DOWN`.
    pub mii_status: Option<String>,
    /// `perm_hwaddr`: the port's permanent MAC.
    pub perm_hwaddr: Option<String>,
    /// `ad_aggregator_id` (802.3ad only).
    pub ad_aggregator_id: Option<u32>,
}

/// A VLAN (nmstate `vlan`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Vlan {
    /// The base interface (iproute2 `link`).
    pub base_iface: Option<String>,
    /// VLAN id, 1 to 4094 (`info_data.id`).
    pub id: Option<u16>,
    /// `802.1Q` or `802.1ad` (`info_data.protocol`).
    pub protocol: Option<String>,
}

/// One VF as its PF reports it (`vfinfo_list[]`); names as in nmstate's `sr-iov.vfs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VfInfo {
    /// VF index (`vf`).
    pub id: u32,
    /// `address`: the VF's administrative MAC (`00:00:00:00:00:00` when unset).
    pub mac_address: Option<String>,
    /// VLAN id tagged by the PF (`vlan_list[0].vlan`, or `vlan`); `None` for no VLAN.
    pub vlan_id: Option<u16>,
    /// VLAN QoS priority (`qos`); `None` for 0.
    pub qos: Option<u32>,
    /// VLAN protocol when not 802.1Q (`protocol`).
    pub vlan_protocol: Option<String>,
    /// `spoofchk`.
    pub spoof_check: Option<bool>,
    /// `trust`.
    pub trust: Option<bool>,
    /// `link_state`: `auto`, `enable` or `disable`.
    pub link_state: Option<String>,
    /// `rate.min_tx` in Mb/s.
    pub min_tx_rate: Option<u64>,
    /// `rate.max_tx` in Mb/s.
    pub max_tx_rate: Option<u64>,
}

/// One address from `ip -j addr` (`addr_info[]`), in nmstate's `ipv4.address` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct IfAddress {
    /// The address (`local`).
    pub ip: IpAddr,
    /// Prefix length in bits (`prefixlen`).
    pub prefix_length: u8,
    /// `scope`: `global`, `host`, `link`.
    pub scope: Option<String>,
    /// Whether the address was configured by DHCP or SLAAC (`dynamic`).
    pub dynamic: bool,
}

#[derive(Deserialize)]
struct RawLink {
    ifindex: u32,
    ifname: String,
    #[serde(default)]
    flags: Vec<String>,
    mtu: Option<u32>,
    operstate: Option<String>,
    link_type: Option<String>,
    address: Option<String>,
    permaddr: Option<String>,
    master: Option<String>,
    link: Option<String>,
    parentdev: Option<String>,
    linkinfo: Option<RawLinkInfo>,
    #[serde(default)]
    vfinfo_list: Vec<Value>,
}

#[derive(Deserialize)]
struct RawLinkInfo {
    info_kind: Option<String>,
    info_data: Option<Map<String, Value>>,
    info_slave_kind: Option<String>,
    info_slave_data: Option<Map<String, Value>>,
}

const IP_LINK: &str = "ip -j -d link";
const IP_ADDR: &str = "ip -j addr";

fn issue(path: &str, reason: impl Into<String>) -> ProbeIssue {
    ProbeIssue {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn str_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_string)
}

fn u64_of(map: &Map<String, Value>, key: &str) -> Option<u64> {
    map.get(key).and_then(Value::as_u64)
}

fn u32_of(map: &Map<String, Value>, key: &str) -> Option<u32> {
    u64_of(map, key).and_then(|v| u32::try_from(v).ok())
}

/// Parses the text `ip -j -d link` printed into links keyed by name, with bond ports filled in.
///
/// Returns `None` and an issue when the text is not a JSON array; entries that are not links
/// are skipped with an issue naming their position.
pub fn parse_links(text: &str, issues: &mut Vec<ProbeIssue>) -> Option<BTreeMap<String, Link>> {
    let entries: Vec<Value> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            issues.push(issue(IP_LINK, format!("output is not a JSON array: {e}")));
            return None;
        }
    };
    let mut links = BTreeMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let raw: RawLink = match serde_json::from_value(entry) {
            Ok(raw) => raw,
            Err(e) => {
                issues.push(issue(IP_LINK, format!("entry {i} is not a link: {e}")));
                continue;
            }
        };
        let link = convert_link(raw, issues);
        links.insert(link.name.clone(), link);
    }
    // Bond ports: links whose `master` is a bond and that carry bond port data.
    let ports: Vec<(String, String)> = links
        .values()
        .filter(|l| l.bond_port.is_some())
        .filter_map(|l| l.master.clone().map(|m| (m, l.name.clone())))
        .collect();
    for (master, port) in ports {
        if let Some(bond) = links
            .get_mut(&master)
            .and_then(|b| b.link_aggregation.as_mut())
        {
            bond.port.push(port);
        }
    }
    for link in links.values_mut() {
        if let Some(bond) = link.link_aggregation.as_mut() {
            bond.port.sort();
        }
    }
    Some(links)
}

fn convert_link(raw: RawLink, issues: &mut Vec<ProbeIssue>) -> Link {
    let info = raw.linkinfo;
    let info_kind = info.as_ref().and_then(|i| i.info_kind.clone());
    let iface_type = match info_kind.as_deref() {
        Some("bond") => Some(InterfaceType::Bond),
        Some("vlan") => Some(InterfaceType::Vlan),
        Some(_) => None,
        None if raw.link_type.as_deref() == Some("ether") => Some(InterfaceType::Ethernet),
        None => None,
    };
    let empty = Map::new();
    let data = info.as_ref().and_then(|i| i.info_data.as_ref());
    let link_aggregation = (info_kind.as_deref() == Some("bond"))
        .then(|| bond_of(&raw.ifname, data.unwrap_or(&empty), issues));
    let vlan = (info_kind.as_deref() == Some("vlan")).then(|| {
        let data = data.unwrap_or(&empty);
        Vlan {
            base_iface: raw.link.clone(),
            id: u64_of(data, "id").and_then(|v| u16::try_from(v).ok()),
            protocol: str_of(data, "protocol"),
        }
    });
    let bond_port = info
        .as_ref()
        .filter(|i| i.info_slave_kind.as_deref() == Some("bond"))
        .map(|i| {
            let d = i.info_slave_data.as_ref().unwrap_or(&empty);
            BondPort {
                state: str_of(d, "state"),
                mii_status: str_of(d, "mii_status"),
                perm_hwaddr: str_of(d, "perm_hwaddr"),
                ad_aggregator_id: u32_of(d, "ad_aggregator_id"),
            }
        });
    let mut vfs = Vec::new();
    for (i, vf) in raw.vfinfo_list.iter().enumerate() {
        match vf.as_object().and_then(vf_of) {
            Some(vf) => vfs.push(vf),
            None => issues.push(issue(
                IP_LINK,
                format!("{}: vfinfo_list entry {i} has no VF index", raw.ifname),
            )),
        }
    }
    Link {
        ifindex: raw.ifindex,
        name: raw.ifname,
        iface_type,
        info_kind,
        flags: raw.flags,
        mtu: raw.mtu,
        operstate: raw.operstate,
        address: raw.address,
        permaddr: raw.permaddr,
        master: raw.master,
        link: raw.link,
        parentdev: raw.parentdev,
        link_aggregation,
        bond_port,
        vlan,
        vfs,
    }
}

fn bond_of(name: &str, data: &Map<String, Value>, issues: &mut Vec<ProbeIssue>) -> LinkAggregation {
    let mode = match data.get("mode") {
        None => None,
        Some(v) => match serde_json::from_value::<BondMode>(v.clone()) {
            Ok(mode) => Some(mode),
            Err(_) => {
                issues.push(issue(IP_LINK, format!("{name}: unknown bond mode {v}")));
                None
            }
        },
    };
    let options = data
        .iter()
        .filter(|(k, _)| k.as_str() != "ad_info")
        .map(|(k, v)| {
            let key = match k.as_str() {
                "ad_lacp_rate" => "lacp_rate",
                "ad_lacp_active" => "lacp_active",
                other => other,
            };
            (key.to_string(), v.clone())
        })
        .collect();
    LinkAggregation {
        mode,
        port: Vec::new(),
        miimon: u32_of(data, "miimon"),
        xmit_hash_policy: str_of(data, "xmit_hash_policy"),
        lacp_rate: str_of(data, "ad_lacp_rate"),
        options,
    }
}

fn vf_of(vf: &Map<String, Value>) -> Option<VfInfo> {
    let id = u32_of(vf, "vf")?;
    // iproute2 prints `vlan_list` (one entry per VLAN; an empty object for none) when the
    // kernel reports IFLA_VF_VLAN_LIST, else `vlan` and `qos` at the top.
    let vlan_src = vf
        .get("vlan_list")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
        .and_then(Value::as_object)
        .unwrap_or(vf);
    let rate = vf.get("rate").and_then(Value::as_object);
    Some(VfInfo {
        id,
        mac_address: str_of(vf, "address"),
        vlan_id: u64_of(vlan_src, "vlan")
            .and_then(|v| u16::try_from(v).ok())
            .filter(|v| *v != 0),
        qos: u32_of(vlan_src, "qos").filter(|v| *v != 0),
        vlan_protocol: str_of(vlan_src, "protocol"),
        spoof_check: vf.get("spoofchk").and_then(Value::as_bool),
        trust: vf.get("trust").and_then(Value::as_bool),
        link_state: str_of(vf, "link_state"),
        min_tx_rate: rate.and_then(|r| u64_of(r, "min_tx")),
        max_tx_rate: rate.and_then(|r| u64_of(r, "max_tx")),
    })
}

#[derive(Deserialize)]
struct RawAddrLink {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<Value>,
}

#[derive(Deserialize)]
struct RawAddr {
    local: Option<String>,
    prefixlen: Option<u8>,
    scope: Option<String>,
    #[serde(default)]
    dynamic: bool,
}

/// Whether `ip` is an IPv6 link-local unicast address (`fe80::/10`), which the kernel adds by
/// itself (to bonds and VLANs too) and a compare with the spec ignores.
pub fn is_ipv6_link_local(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

/// Parses the text `ip -j addr` printed into addresses per interface name, leaving out IPv6
/// link-local (`fe80::/10`) addresses. Interfaces without other addresses map to an empty
/// list.
///
/// Returns `None` and an issue when the text is not a JSON array; entries and addresses that
/// cannot be read are skipped with an issue.
pub fn parse_addrs(
    text: &str,
    issues: &mut Vec<ProbeIssue>,
) -> Option<BTreeMap<String, Vec<IfAddress>>> {
    let entries: Vec<Value> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            issues.push(issue(IP_ADDR, format!("output is not a JSON array: {e}")));
            return None;
        }
    };
    let mut out = BTreeMap::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let raw: RawAddrLink = match serde_json::from_value(entry) {
            Ok(raw) => raw,
            Err(e) => {
                issues.push(issue(IP_ADDR, format!("entry {i} is not a link: {e}")));
                continue;
            }
        };
        let mut addrs = Vec::new();
        for a in raw.addr_info {
            // iproute2 prints an empty object for an address a filter dropped.
            if a.as_object().is_some_and(Map::is_empty) {
                continue;
            }
            let parsed = serde_json::from_value::<RawAddr>(a).ok().and_then(|a| {
                let ip = a.local?.parse::<IpAddr>().ok()?;
                Some(IfAddress {
                    ip,
                    prefix_length: a.prefixlen?,
                    scope: a.scope,
                    dynamic: a.dynamic,
                })
            });
            match parsed {
                Some(addr) if is_ipv6_link_local(&addr.ip) => {}
                Some(addr) => addrs.push(addr),
                None => issues.push(issue(
                    IP_ADDR,
                    format!(
                        "{}: an address entry has no valid local/prefixlen",
                        raw.ifname
                    ),
                )),
            }
        }
        out.insert(raw.ifname, addrs);
    }
    Some(out)
}

/// The kernel's main routing table (`ip route` without `table`; nmstate `table-id` 0 or
/// unset), ip-route(8) and `/etc/iproute2/rt_tables`.
pub const TABLE_MAIN: u32 = 254;
/// The kernel's local table (addresses of the host, broadcast): never compared.
pub const TABLE_LOCAL: u32 = 255;

/// One route from `ip -j -4 route show table all` or `ip -j -6 route show table all`
/// (iproute2 6.1 `ip/iproute.c`), in nmstate's `routes.config` terms.
///
/// Shapes read: `dst` is `default` for `0.0.0.0/0` and `::/0` and has no `/len` for a host
/// route; `table` is absent for the main table and a name (`local`, `main`, `default`) or a
/// number (as a string) otherwise; `metric` is absent when 0; `type` is absent for unicast
/// routes of the main table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct KernelRoute {
    /// Destination network address (host bits cleared).
    pub destination: IpAddr,
    /// Destination prefix length in bits.
    pub prefix_length: u8,
    /// The gateway (`gateway`; nmstate `next-hop-address`), if any.
    pub gateway: Option<IpAddr>,
    /// Outgoing interface (`dev`; nmstate `next-hop-interface`).
    pub dev: Option<String>,
    /// Route metric (`metric`, 0 when absent; IPv6 routes always print one).
    pub metric: u32,
    /// Routing table id (254 main, 255 local, 253 default).
    pub table: u32,
    /// `protocol` (`kernel`, `boot`, `static`, `dhcp`, `ra`), if printed.
    pub protocol: Option<String>,
    /// `type` (`unicast` when absent, `local`, `broadcast`, `multicast`, `unreachable`).
    pub route_type: String,
}

impl KernelRoute {
    /// Whether the kernel (not a configuration) made this route, so a compare with the spec
    /// ignores it as nmstate does: the local table, types other than unicast, `proto kernel`
    /// (the connected prefix of an address), and IPv6 link-local (`fe80::/64`) and multicast.
    pub fn kernel_added(&self) -> bool {
        self.table == TABLE_LOCAL
            || self.route_type != "unicast"
            || self.protocol.as_deref() == Some("kernel")
            || (self.destination.is_ipv6() && is_ipv6_link_local(&self.destination))
            || self.destination.is_multicast()
    }
}

const IP_ROUTE: &str = "ip -j route";

/// A table name or number as iproute2 prints it (`/etc/iproute2/rt_tables`).
fn table_id(v: Option<&Value>) -> Option<u32> {
    match v {
        None => Some(TABLE_MAIN),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(s)) => match s.as_str() {
            "main" => Some(TABLE_MAIN),
            "local" => Some(TABLE_LOCAL),
            "default" => Some(253),
            other => other.parse().ok(),
        },
        Some(_) => None,
    }
}

/// Parses a prefix as iproute2 prints it or the spec writes it (`default`, `10.0.0.0/8`,
/// `192.0.2.1`, `2001:db8::/32`) into the network address (host bits cleared) and length.
/// `default` needs the family (`v6`).
pub fn parse_prefix(text: &str, v6: bool) -> Option<(IpAddr, u8)> {
    if text == "default" {
        let any = if v6 {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        };
        return Some((any, 0));
    }
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a.parse::<IpAddr>().ok()?, Some(l.parse::<u8>().ok()?)),
        None => (text.parse::<IpAddr>().ok()?, None),
    };
    Some(match addr {
        IpAddr::V4(a) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return None;
            }
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            (IpAddr::V4((u32::from(a) & mask).into()), len)
        }
        IpAddr::V6(a) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return None;
            }
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            (IpAddr::V6((u128::from(a) & mask).into()), len)
        }
    })
}

/// Parses the text `ip -j -4 route show table all` (`v6` false) or `ip -j -6 route show
/// table all` (`v6` true) printed, keeping every route (see [`KernelRoute::kernel_added`]
/// for those a compare ignores). Multipath routes (`nexthops`, no `dev`) are kept without a
/// gateway or interface.
///
/// Returns `None` and an issue when the text is not a JSON array; entries that cannot be
/// read are skipped with an issue naming their position.
pub fn parse_routes(
    text: &str,
    v6: bool,
    issues: &mut Vec<ProbeIssue>,
) -> Option<Vec<KernelRoute>> {
    let entries: Vec<Value> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            issues.push(issue(IP_ROUTE, format!("output is not a JSON array: {e}")));
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, entry) in entries.into_iter().enumerate() {
        let route = entry.as_object().and_then(|m| {
            let (destination, prefix_length) = parse_prefix(m.get("dst")?.as_str()?, v6)?;
            let gateway = match m.get("gateway") {
                None => None,
                Some(g) => Some(g.as_str()?.parse::<IpAddr>().ok()?),
            };
            Some(KernelRoute {
                destination,
                prefix_length,
                gateway,
                dev: str_of(m, "dev"),
                metric: u32_of(m, "metric").unwrap_or(0),
                table: table_id(m.get("table"))?,
                protocol: str_of(m, "protocol"),
                route_type: str_of(m, "type").unwrap_or_else(|| "unicast".into()),
            })
        });
        match route {
            Some(r) => out.push(r),
            None => issues.push(issue(
                IP_ROUTE,
                format!("entry {i} is not a route with a readable dst, gateway and table"),
            )),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vf_vlan_from_vlan_list_or_top_level() {
        let mut issues = Vec::new();
        let text = r#"[{"ifindex":3,"ifname":"pf0","flags":["UP"],"link_type":"ether",
            "vfinfo_list":[{"vf":0,"address":"02:00:00:00:00:01","vlan_list":[{"vlan":200,"qos":3}],"spoofchk":false,"trust":true},
                           {"vf":1,"vlan":7},
                           {"vf":2,"vlan_list":[{}]},
                           {"address":"no index"}]}]"#;
        let links = parse_links(text, &mut issues).unwrap();
        let vfs = &links["pf0"].vfs;
        assert_eq!(vfs.len(), 3);
        assert_eq!(
            (vfs[0].vlan_id, vfs[0].qos, vfs[0].trust),
            (Some(200), Some(3), Some(true))
        );
        assert_eq!(vfs[1].vlan_id, Some(7));
        assert_eq!(vfs[2].vlan_id, None);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(links["pf0"].iface_type, Some(InterfaceType::Ethernet));
    }

    #[test]
    fn bad_entries_are_skipped_and_named() {
        let mut issues = Vec::new();
        let links = parse_links(r#"[{"ifname":"x"},{"ifindex":2,"ifname":"ok","linkinfo":{"info_kind":"bond","info_data":{"mode":"bogus"}}}]"#, &mut issues).unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links["ok"].link_aggregation.as_ref().unwrap().mode, None);
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert!(issues[0].reason.contains("entry 0"));
        assert!(issues[1].reason.contains("unknown bond mode"));
        assert!(parse_links("{", &mut issues).is_none());
    }

    #[test]
    fn link_local_is_recognised() {
        assert!(is_ipv6_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_ipv6_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_ipv6_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_ipv6_link_local(&"169.254.0.1".parse().unwrap()));
    }
}
