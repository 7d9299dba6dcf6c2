//! Host network in nmstate's schema (`nmstate` 2.x, `rust/src/lib/ifaces/*.rs`): the subset
//! bmfleet manages. Names are nmstate's own (`link-aggregation`, `base-iface`, `sr-iov`,
//! `total-vfs`), so an NMState / NNCP `desiredState` pastes in.

use super::Scalar;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// nmstate network state (`interfaces`, `routes`, `dns-resolver`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NetworkSpec {
    /// Interfaces. When merged, entries with the same `name` merge deep; others are added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<Interface>,
    /// Static routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Routes>,
    /// DNS resolver configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_resolver: Option<DnsResolver>,
}

/// One nmstate interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Interface {
    /// Kernel interface name (`ens1f0`, `bond0`, `bond0.100`).
    pub name: String,
    /// `ethernet`, `bond` or `vlan`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub iface_type: Option<InterfaceType>,
    /// `up` (default), `down` or `absent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InterfaceState>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// MTU in bytes (68 to 9216). A VLAN's MTU may not exceed its base interface's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<i64>,
    /// MAC address (`aa:bb:cc:dd:ee:ff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// Ethernet settings, including SR-IOV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethernet: Option<EthernetConfig>,
    /// Bond settings (`type: bond`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_aggregation: Option<BondConfig>,
    /// VLAN settings (`type: vlan`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<VlanConfig>,
    /// IPv4 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4: Option<IpConfig>,
    /// IPv6 configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<IpConfig>,
}

/// nmstate interface types bmfleet manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceType {
    /// A physical (or VF) Ethernet interface.
    Ethernet,
    /// A Linux bond.
    Bond,
    /// An 802.1Q VLAN.
    Vlan,
}

/// nmstate interface state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceState {
    /// Configured and up.
    Up,
    /// Configured and down.
    Down,
    /// Removed.
    Absent,
}

/// nmstate `ethernet` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EthernetConfig {
    /// SR-IOV settings of a physical function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sr_iov: Option<SrIovConfig>,
    /// Link speed in Mb/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<u32>,
    /// `full` or `half`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplex: Option<String>,
    /// Auto-negotiation on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_negotiation: Option<bool>,
}

/// nmstate `ethernet.sr-iov` (kernel `sriov_numvfs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SrIovConfig {
    /// Number of VFs to create (VF count, 0 to 256 and at most the device's `sriov_totalvfs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_vfs: Option<i64>,
    /// `sriov_drivers_autoprobe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drivers_autoprobe: Option<bool>,
    /// Per-VF settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vfs: Vec<VfConfig>,
}

/// Settings of one VF.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VfConfig {
    /// VF index, below `total-vfs`.
    pub id: u32,
    /// MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// MAC spoof checking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoof_check: Option<bool>,
    /// Trusted VF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    /// VLAN id (1 to 4094) tagged by the PF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_id: Option<i64>,
    /// VLAN QoS priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos: Option<u32>,
    /// Minimum TX rate in Mb/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tx_rate: Option<u32>,
    /// Maximum TX rate in Mb/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tx_rate: Option<u32>,
}

/// nmstate `link-aggregation` (bond).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct BondConfig {
    /// Bond mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<BondMode>,
    /// Port interfaces (nmstate 2.x `port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Vec<String>>,
    /// Kernel bonding options (`miimon` in ms, `lacp_rate` fast/slow, `xmit_hash_policy`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Scalar>,
}

/// Linux bonding modes (kernel `Documentation/networking/bonding.rst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BondMode {
    /// Round robin.
    #[serde(rename = "balance-rr")]
    BalanceRr,
    /// One active port.
    #[serde(rename = "active-backup")]
    ActiveBackup,
    /// XOR hash.
    #[serde(rename = "balance-xor")]
    BalanceXor,
    /// Broadcast.
    #[serde(rename = "broadcast")]
    Broadcast,
    /// IEEE 802.3ad LACP.
    #[serde(rename = "802.3ad")]
    Lacp,
    /// Adaptive transmit load balancing.
    #[serde(rename = "balance-tlb")]
    BalanceTlb,
    /// Adaptive load balancing.
    #[serde(rename = "balance-alb")]
    BalanceAlb,
}

impl BondMode {
    /// The nmstate / kernel spelling (`802.3ad`).
    pub fn as_str(self) -> &'static str {
        match self {
            BondMode::BalanceRr => "balance-rr",
            BondMode::ActiveBackup => "active-backup",
            BondMode::BalanceXor => "balance-xor",
            BondMode::Broadcast => "broadcast",
            BondMode::Lacp => "802.3ad",
            BondMode::BalanceTlb => "balance-tlb",
            BondMode::BalanceAlb => "balance-alb",
        }
    }
}

/// nmstate `vlan` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VlanConfig {
    /// The interface the VLAN sits on; it must be defined in `interfaces`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_iface: Option<String>,
    /// VLAN id, 1 to 4094.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// nmstate `ipv4` / `ipv6` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IpConfig {
    /// Whether the address family is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// DHCP (v4) / DHCPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<bool>,
    /// IPv6 SLAAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoconf: Option<bool>,
    /// Static addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<IpAddress>,
}

/// A static address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IpAddress {
    /// The address (`10.1.0.11`, `fd00::11`).
    pub ip: String,
    /// Prefix length in bits.
    pub prefix_length: u8,
}

/// nmstate `routes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Routes {
    /// Configured routes.
    #[serde(default)]
    pub config: Vec<Route>,
}

/// One route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Route {
    /// Destination prefix (`0.0.0.0/0`).
    pub destination: String,
    /// Gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_address: Option<String>,
    /// Outgoing interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_interface: Option<String>,
    /// Route metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// Routing table id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_id: Option<u32>,
}

/// nmstate `dns-resolver`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DnsResolver {
    /// Configured resolver settings.
    #[serde(default)]
    pub config: DnsConfig,
}

/// DNS servers and search domains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DnsConfig {
    /// Name servers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<String>,
    /// Search domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<String>,
}
