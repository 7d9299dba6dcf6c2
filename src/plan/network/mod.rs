//! Network writes rendered at plan time: for one interface of a host's spec and the backend
//! the OS provider found managing the host's network ([`NetworkBackend`], recorded in
//! [`crate::plan::observed::Capabilities::writer`]), the exact files a `network-apply` step
//! writes (path, mode, content, SHA-256) and the commands that activate them, commit them
//! and revert them. The executor (`crate::os::network`) carries that out as written and
//! decides nothing of its own.
//!
//! Pure functions of the spec: the file of an interface depends only on the host's
//! `network` section, so two steps that both write a shared file (a bond's port, a VLAN's
//! base under systemd-networkd) write the same bytes.
//!
//! One backend per file: [`nmstate`], [`netplan`], [`networkmanager`], [`networkd`],
//! [`ifupdown`]; [`yaml`] emits the YAML documents of the first two.
//!
//! What the writers do not write (the plan says so instead of guessing): `ethernet.sr-iov`
//! (its own `sriov` step), link speed, duplex and auto-negotiation, interface descriptions (routes and DNS: [`routes`]);
//! `state: down` and `state: absent` only through nmstate. Values are checked before they
//! enter a file (interface names as the kernel takes them, addresses, MACs, bond options as
//! plain tokens), so no spec value can add lines or sections to a file.

pub mod ifupdown;
pub mod netplan;
pub mod networkd;
pub mod networkmanager;
pub mod nmstate;
pub mod routes;
pub mod yaml;

use crate::spec::model::{Interface, InterfaceState, InterfaceType, IpConfig, NetworkSpec, Scalar};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seconds a network change on the interface carrying the SSH session stays in effect
/// without a new SSH connection confirming it before it is rolled back (nmstate's checkpoint
/// timeout, the other backends' timed revert). nmstate's own default is 60 s; bonds using
/// LACP can take 30 s and more to negotiate.
pub const ROLLBACK_TIMEOUT_S: u64 = 120;

/// The stack bmfleet writes a host's network through, chosen by the OS provider at read
/// time from what is installed and active (see `docs/plan.md`, "Network writes").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum NetworkBackend {
    /// `nmstatectl apply` of the nmstate document, with NetworkManager's checkpoint
    /// (RHEL family).
    #[serde(rename = "nmstate")]
    Nmstate,
    /// A netplan YAML file per interface, then `netplan apply` (Ubuntu).
    #[serde(rename = "netplan")]
    Netplan,
    /// A NetworkManager keyfile per interface, then `nmcli connection reload` and `up`.
    #[serde(rename = "networkmanager")]
    NetworkManager,
    /// systemd-networkd `.netdev` / `.network` files, then `networkctl reload` and
    /// `reconfigure`.
    #[serde(rename = "systemd-networkd")]
    SystemdNetworkd,
    /// An `/etc/network/interfaces.d/` stanza file per interface, then `ifdown` / `ifup`
    /// (Debian).
    #[serde(rename = "ifupdown")]
    Ifupdown,
}

impl NetworkBackend {
    /// Every backend, in the order of preference documented in `docs/plan.md`.
    pub const ALL: [NetworkBackend; 5] = [
        NetworkBackend::Nmstate,
        NetworkBackend::Netplan,
        NetworkBackend::NetworkManager,
        NetworkBackend::SystemdNetworkd,
        NetworkBackend::Ifupdown,
    ];

    /// The name recorded in `Capabilities.writer` and shown in plans (`systemd-networkd`).
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkBackend::Nmstate => "nmstate",
            NetworkBackend::Netplan => "netplan",
            NetworkBackend::NetworkManager => "networkmanager",
            NetworkBackend::SystemdNetworkd => "systemd-networkd",
            NetworkBackend::Ifupdown => "ifupdown",
        }
    }

    /// The backend named `name` (as [`Self::as_str`] spells it).
    pub fn parse(name: &str) -> Option<NetworkBackend> {
        Self::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// Whether the backend rolls itself back (nmstate's checkpoint): no timed revert is
    /// armed, the `commit` commands confirm the change.
    pub fn self_reverting(self) -> bool {
        self == NetworkBackend::Nmstate
    }
}

/// One file a step writes, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlannedFile {
    /// Absolute path on the host (under `$BMFLEET_SYSROOT` in local mode).
    pub path: String,
    /// Permission bits, four octal digits (`0600`, `0644`); the owner is the user the
    /// script runs as (root).
    pub mode: String,
    /// The whole content (UTF-8, ends with a newline).
    pub content: String,
    /// SHA-256 (lower-case hex) of `content`, checked on the host after writing.
    pub sha256: String,
}

impl PlannedFile {
    fn new(path: String, mode: &str, content: String) -> PlannedFile {
        PlannedFile {
            sha256: super::value::sha256_hex(content.as_bytes()),
            path,
            mode: mode.to_string(),
            content,
        }
    }
}

/// How a `network-apply` step writes and activates the state of one interface: chosen and
/// rendered at plan time, carried out by the executor as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NetworkWrite {
    /// The stack written through.
    pub backend: NetworkBackend,
    /// The files written (each atomically: temporary file, mode, rename), in order. A file
    /// whose content and mode are already those is left untouched.
    pub files: Vec<PlannedFile>,
    /// Commands (argv, program first) run in order after the files are written.
    pub activate: Vec<Vec<String>>,
    /// Commands that confirm the change once a new SSH connection succeeded (nmstate:
    /// `nmstatectl commit`); empty for backends without a checkpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commit: Vec<Vec<String>>,
    /// Commands run after the previous files are restored, when the change is rolled back
    /// (no new SSH connection, or an activation command failed).
    pub revert: Vec<Vec<String>>,
    /// Seconds the change may stay unconfirmed before it is rolled back, when it touches the
    /// interface the SSH session runs over.
    pub rollback_timeout_s: u64,
    /// Interfaces whose configuration the step writes or reloads. The rollback is armed when
    /// the SSH session's interface is one of them or is stacked on one (a VLAN on a bond on
    /// a port).
    pub touches: Vec<String>,
}

/// The interface's type as declared, or as its sections imply.
pub fn kind_of(i: &Interface) -> InterfaceType {
    match i.iface_type {
        Some(t) => t,
        None if i.link_aggregation.is_some() => InterfaceType::Bond,
        None if i.vlan.is_some() => InterfaceType::Vlan,
        None => InterfaceType::Ethernet,
    }
}

/// The interface named `name` in `net`.
pub fn find<'a>(net: &'a NetworkSpec, name: &str) -> Option<&'a Interface> {
    net.interfaces.iter().find(|i| i.name == name)
}

/// A bond's ports, as the spec lists them.
pub fn ports(i: &Interface) -> Vec<String> {
    i.link_aggregation
        .as_ref()
        .and_then(|l| l.port.clone())
        .unwrap_or_default()
}

/// A bond's port as the spec declares it, or a bare ethernet interface of that name when the
/// spec lists it only as a port (validation asks for it to be declared; the files of an
/// undeclared port hold only its membership).
pub fn port_interface(net: &NetworkSpec, name: &str) -> Interface {
    find(net, name).cloned().unwrap_or_else(|| Interface {
        name: name.to_string(),
        iface_type: Some(InterfaceType::Ethernet),
        ..Interface::default()
    })
}

/// The bond that lists `name` as a port.
pub fn bond_of<'a>(net: &'a NetworkSpec, name: &str) -> Option<&'a Interface> {
    net.interfaces
        .iter()
        .find(|i| kind_of(i) == InterfaceType::Bond && ports(i).iter().any(|p| p == name))
}

/// The VLANs whose base is `name`, in spec order.
pub fn vlans_on<'a>(net: &'a NetworkSpec, name: &str) -> Vec<&'a Interface> {
    net.interfaces
        .iter()
        .filter(|i| {
            i.vlan
                .as_ref()
                .and_then(|v| v.base_iface.as_deref())
                .is_some_and(|b| b == name)
        })
        .collect()
}

/// The VLAN's base interface and id.
pub fn vlan_of(i: &Interface) -> Result<(String, i64), String> {
    let v = i
        .vlan
        .as_ref()
        .ok_or_else(|| format!("VLAN {} has no `vlan` section", i.name))?;
    let base = v
        .base_iface
        .clone()
        .ok_or_else(|| format!("VLAN {} names no `vlan.base-iface`", i.name))?;
    let id =
        v.id.ok_or_else(|| format!("VLAN {} names no `vlan.id`", i.name))?;
    check_name(&base)?;
    Ok((base, id))
}

/// Checks an interface name as the kernel takes it (1 to 15 bytes, not `.` or `..`) and as
/// every file format here can hold it: letters, digits, `_`, `.`, `-`.
///
/// # Errors
/// The reason, naming the value.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "interface name {name:?} is not 1-15 letters, digits, `_`, `.` or `-`"
        ))
    }
}

/// Checks a plain value bound for a file (bond option values, `xmit_hash_policy`): letters,
/// digits and `_.,:+/-` only, at most 256 bytes.
fn check_token(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= 256
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.,:+/-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {value:?} is not a plain value (letters, digits, `_.,:+/-`)"
        ))
    }
}

/// `ip/prefix` of a static address, checked to be made of address characters only.
fn cidr(ip: &str, prefix: u8, v6: bool) -> Result<String, String> {
    let ok = !ip.is_empty()
        && ip.len() <= 45
        && ip.bytes().all(|b| {
            if v6 {
                b.is_ascii_hexdigit() || b == b':' || b == b'.'
            } else {
                b.is_ascii_digit() || b == b'.'
            }
        })
        && prefix <= if v6 { 128 } else { 32 };
    if ok {
        Ok(format!("{ip}/{prefix}"))
    } else {
        Err(format!(
            "address {ip}/{prefix} is not a valid IPv{} address",
            if v6 { 6 } else { 4 }
        ))
    }
}

/// The static addresses of one family, as `ip/prefix`.
fn addresses(ip: Option<&IpConfig>, v6: bool) -> Result<Vec<String>, String> {
    ip.map(|c| {
        c.address
            .iter()
            .map(|a| cidr(&a.ip, a.prefix_length, v6))
            .collect()
    })
    .unwrap_or_else(|| Ok(Vec::new()))
}

/// The MAC address, checked (`aa:bb:cc:dd:ee:ff`, either case).
fn mac(i: &Interface) -> Result<Option<String>, String> {
    match &i.mac_address {
        None => Ok(None),
        Some(m) => {
            let ok = m.len() == 17
                && m.split(':').count() == 6
                && m.split(':')
                    .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()));
            if ok {
                Ok(Some(m.clone()))
            } else {
                Err(format!(
                    "mac-address {m:?} is not six hex pairs separated by `:`"
                ))
            }
        }
    }
}

/// A bond option's value as plain text (numbers and booleans as nmstate writes them).
fn option_text(key: &str, v: &Scalar) -> Result<String, String> {
    let text = match v {
        Scalar::Str(s) => s.clone(),
        Scalar::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Scalar::Int(n) => n.to_string(),
    };
    check_token(&format!("bond option {key}"), &text)?;
    Ok(text)
}

/// The bond's options as checked `(kernel name, value)` pairs, sorted by name.
fn bond_options(i: &Interface) -> Result<Vec<(String, String)>, String> {
    let Some(la) = &i.link_aggregation else {
        return Ok(Vec::new());
    };
    la.options
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(format!(
                    "bond option name {k:?} is not a kernel bonding option"
                ));
            }
            Ok((k.clone(), option_text(k, v)?))
        })
        .collect()
}

/// Refuses interface states other than `up` for backends that write files per interface.
fn only_up(backend: NetworkBackend, i: &Interface) -> Result<(), String> {
    match i.state {
        None | Some(InterfaceState::Up) => Ok(()),
        Some(s) => Err(format!(
            "{}: state {} is written through nmstate only; the {} writer writes interfaces that are up",
            i.name,
            match s {
                InterfaceState::Down => "down",
                InterfaceState::Absent => "absent",
                InterfaceState::Up => "up",
            },
            backend.as_str()
        )),
    }
}

/// The first line of every file bmfleet writes (after which the format's own comment
/// character is added by the caller).
fn header(iface: &str) -> String {
    format!("Written by bmfleet for interface {iface} from the host's spec; bmfleet rewrites it.")
}

/// Renders the write of interface `iface` of `net` through `backend`: the files, the
/// commands, and the interfaces they touch. `new_iface` says the interface did not exist
/// when the host was read (it is not reconfigured by name, and a rollback deletes it).
///
/// # Errors
/// Why this backend cannot write this interface as the spec declares it (an unknown bond
/// option, a state other than `up`, a value that is not plain), for the plan to show as the
/// host's error.
pub fn render(
    backend: NetworkBackend,
    net: &NetworkSpec,
    iface: &str,
    new_iface: bool,
    rollback_timeout_s: u64,
) -> Result<NetworkWrite, String> {
    check_name(iface)?;
    let i = find(net, iface).ok_or_else(|| format!("{iface} is not in network.interfaces"))?;
    let mut w = match backend {
        NetworkBackend::Nmstate => nmstate::render(net, i, rollback_timeout_s)?,
        NetworkBackend::Netplan => netplan::render(net, i)?,
        NetworkBackend::NetworkManager => networkmanager::render(net, i, new_iface)?,
        NetworkBackend::SystemdNetworkd => networkd::render(net, i, new_iface)?,
        NetworkBackend::Ifupdown => ifupdown::render(net, i, new_iface)?,
    };
    w.rollback_timeout_s = rollback_timeout_s;
    Ok(w)
}

/// `argv` from string slices.
fn cmd(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_that_could_break_a_file_are_refused() {
        for bad in ["", ".", "..", "a/b", "a b", "a\nb", "sixteen-chars-xx", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["eth0", "bond0.100", "enp1s0f0np0", "br_ex-1"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
        assert!(check_token("x", "layer3+4").is_ok());
        assert!(check_token("x", "fast\n[Network]").is_err());
        assert!(cidr("192.0.2.1", 24, false).is_ok());
        assert!(cidr("192.0.2.1\nDNS=1", 24, false).is_err());
        assert!(cidr("2001:db8::1", 64, true).is_ok());
        assert!(cidr("2001:db8::1", 129, true).is_err());
        for b in NetworkBackend::ALL {
            assert_eq!(NetworkBackend::parse(b.as_str()), Some(b));
        }
    }
}
