//! Flattening an effective host into addressable resources, each a map of settings
//! (key -> desired JSON value) with the disruption that changing it costs.
//!
//! | address                               | kind          | settings (examples)                               | disruption |
//! |---------------------------------------|---------------|---------------------------------------------------|------------|
//! | `host/<h>/power`                      | `power`       | `PowerState`                                      | reboot (host goes down or up) |
//! | `host/<h>/boot`                       | `boot`        | `BootSourceOverrideMode` / `...Target` / `...Enabled` | mode: reboot; override: none (next boot) |
//! | `host/<h>/bios`                       | `bios`        | one per attribute (`SriovGlobalEnable`)           | reboot (applies on reset) |
//! | `host/<h>/dpu/mode`                   | `dpu-mode`    | `mode`                                            | reboot (DPU reset, then host power cycle) |
//! | `host/<h>/dpu/bios`                   | `dpu-bios`    | one per attribute                                 | reboot |
//! | `host/<h>/reboot`                     | `reboot`      | (synthetic: the one coalesced reset of the host)  | reboot |
//! | `host/<h>/network/<iface>`            | `ethernet` / `bond` / `vlan` | `mtu`, `link-aggregation.mode`, `vlan.id`, `ipv4.address` | link-flap (`description`: none) |
//! | `host/<h>/network/<iface>/sr-iov`     | `sr-iov`      | `total-vfs`, `vfs[3].trust`                       | link-flap (`drivers-autoprobe`: none) |
//! | `host/<h>/routes`, `host/<h>/dns`     | `routes`, `dns` | `config`, `server`, `search`                    | link-flap / none |
//! | `host/<h>/os/kernel-args`             | `kernel-args` | `args`                                            | reboot |
//! | `host/<h>/os/hugepages`               | `hugepages`   | `defaultSize`, `pages.1G.node0`, `pages.2M`       | reboot (default size, pools of 1G and more); none (smaller pools, set at runtime) |
//! | `host/<h>/os/sysctl`                  | `sysctl`      | one per key                                       | none |
//! | `host/<h>/os/tunables`                | `tunables`    | `transparentHugepages`, `cpuGovernor`, `ksm`      | none |
//! | `host/<h>/os/sysfs`                   | `sysfs`       | one per path                                      | none |
//! | `host/<h>/os/vfio`                    | `vfio`        | `devices`, `vfs.<pf>`                             | link-flap |
//! | `host/<h>/cloud-init`                 | `cloud-init`  | `user-data` (`{sha256, bytes}`), `user-data.source`, `delivery` | reprovision (content); none (source, delivery) |
//!
//! cloud-init documents are represented by their SHA-256 digest and size only: their content
//! never enters a resource or a plan. (`bmfleet diff` shows a changed document as a unified
//! text diff with its secrets masked, see [`crate::plan::text_diff`].)
//!
//! Flattening is pure and needs no live state, so two revisions of a fleet can be compared
//! with [`crate::plan::diff::diff_specs`] (`bmfleet diff --base REF`).

use super::address::Address;
use super::value::is_sensitive_name;
use crate::spec::Host;
use crate::spec::model::{
    BiosSpec, CloudInitDelivery, CloudInitSource, Interface, InterfaceType, IpConfig,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Data files of a fleet (cloud-init documents), by path relative to the fleet root, as
/// [`crate::spec::LoadedFleet::data_files`] holds them.
pub type DataFiles = BTreeMap<String, Arc<str>>;

/// What changing a setting costs the host, ordered from cheapest to most disruptive.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Disruption {
    /// Applied live, nothing goes down (sysctl, a one-time boot override).
    #[default]
    None,
    /// Network links go down briefly (bond, VLAN, MTU, IP, VF count, vfio binding).
    LinkFlap,
    /// The host resets or changes power state (BIOS, boot mode, DPU mode, kernel args,
    /// hugepages, power on/off).
    Reboot,
    /// The host boots a new cloud-init instance (cloud-init data changed).
    Reprovision,
}

impl Disruption {
    /// The kebab-case name (`link-flap`).
    pub fn as_str(self) -> &'static str {
        match self {
            Disruption::None => "none",
            Disruption::LinkFlap => "link-flap",
            Disruption::Reboot => "reboot",
            Disruption::Reprovision => "reprovision",
        }
    }

    /// True for `reboot` and `reprovision` (both go through a reset).
    pub fn resets(self) -> bool {
        self >= Disruption::Reboot
    }
}

/// The kind of a resource (and of a graph node).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    /// `host/<h>/power`.
    Power,
    /// `host/<h>/boot`.
    Boot,
    /// `host/<h>/bios`.
    Bios,
    /// `host/<h>/dpu/mode`.
    DpuMode,
    /// `host/<h>/dpu/bios`.
    DpuBios,
    /// `host/<h>/reboot`: the synthetic, coalesced reset of a host.
    Reboot,
    /// `host/<h>/network/<iface>` of type ethernet.
    Ethernet,
    /// `host/<h>/network/<iface>` of type bond.
    Bond,
    /// `host/<h>/network/<iface>` of type vlan.
    Vlan,
    /// `host/<h>/network/<iface>/sr-iov`.
    SrIov,
    /// `host/<h>/routes`.
    Routes,
    /// `host/<h>/dns`.
    Dns,
    /// `host/<h>/os/kernel-args`.
    KernelArgs,
    /// `host/<h>/os/hugepages`.
    Hugepages,
    /// `host/<h>/os/sysctl`.
    Sysctl,
    /// `host/<h>/os/tunables`.
    Tunables,
    /// `host/<h>/os/sysfs`.
    Sysfs,
    /// `host/<h>/os/vfio`.
    Vfio,
    /// `host/<h>/cloud-init`.
    CloudInit,
    /// `host/<h>`: a graph-only node that completes when every resource of the host has
    /// (the target of `dependsOn`).
    Host,
}

impl ResourceKind {
    /// Every kind, in declaration order.
    pub const ALL: [ResourceKind; 20] = [
        ResourceKind::Power,
        ResourceKind::Boot,
        ResourceKind::Bios,
        ResourceKind::DpuMode,
        ResourceKind::DpuBios,
        ResourceKind::Reboot,
        ResourceKind::Ethernet,
        ResourceKind::Bond,
        ResourceKind::Vlan,
        ResourceKind::SrIov,
        ResourceKind::Routes,
        ResourceKind::Dns,
        ResourceKind::KernelArgs,
        ResourceKind::Hugepages,
        ResourceKind::Sysctl,
        ResourceKind::Tunables,
        ResourceKind::Sysfs,
        ResourceKind::Vfio,
        ResourceKind::CloudInit,
        ResourceKind::Host,
    ];

    /// The kebab-case name (`dpu-mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Power => "power",
            ResourceKind::Boot => "boot",
            ResourceKind::Bios => "bios",
            ResourceKind::DpuMode => "dpu-mode",
            ResourceKind::DpuBios => "dpu-bios",
            ResourceKind::Reboot => "reboot",
            ResourceKind::Ethernet => "ethernet",
            ResourceKind::Bond => "bond",
            ResourceKind::Vlan => "vlan",
            ResourceKind::SrIov => "sr-iov",
            ResourceKind::Routes => "routes",
            ResourceKind::Dns => "dns",
            ResourceKind::KernelArgs => "kernel-args",
            ResourceKind::Hugepages => "hugepages",
            ResourceKind::Sysctl => "sysctl",
            ResourceKind::Tunables => "tunables",
            ResourceKind::Sysfs => "sysfs",
            ResourceKind::Vfio => "vfio",
            ResourceKind::CloudInit => "cloud-init",
            ResourceKind::Host => "host",
        }
    }

    /// The address of the resource of this kind on `host`; `iface` names the interface for
    /// the network kinds (ignored otherwise).
    pub fn address(self, host: &str, iface: &str) -> Address {
        Address::new(host, self, Some(iface))
    }

    /// The address below `host/<h>/` for kinds without an interface name.
    pub(crate) fn relative_path(self) -> &'static str {
        match self {
            ResourceKind::DpuMode => "dpu/mode",
            ResourceKind::DpuBios => "dpu/bios",
            ResourceKind::KernelArgs => "os/kernel-args",
            ResourceKind::Hugepages => "os/hugepages",
            ResourceKind::Sysctl => "os/sysctl",
            ResourceKind::Tunables => "os/tunables",
            ResourceKind::Sysfs => "os/sysfs",
            ResourceKind::Vfio => "os/vfio",
            other => other.as_str(),
        }
    }

    /// The kinds that live in the host's OS (network, kernel, tunables, cloud-init): read
    /// and written over SSH by the OS provider, so their steps need the OS up.
    pub const OS: [ResourceKind; 13] = [
        ResourceKind::Ethernet,
        ResourceKind::Bond,
        ResourceKind::Vlan,
        ResourceKind::SrIov,
        ResourceKind::Routes,
        ResourceKind::Dns,
        ResourceKind::KernelArgs,
        ResourceKind::Hugepages,
        ResourceKind::Sysctl,
        ResourceKind::Tunables,
        ResourceKind::Sysfs,
        ResourceKind::Vfio,
        ResourceKind::CloudInit,
    ];

    /// True for the kinds of [`ResourceKind::OS`].
    pub fn in_os(self) -> bool {
        Self::OS.contains(&self)
    }

    /// Where the kind sorts among the steps of one host when the graph leaves a choice:
    /// firmware first, then boot-time OS settings, the boot override, power, the reset, links,
    /// runtime settings. (The graph puts power before every step that runs over SSH, so when
    /// power changes the boot-time OS settings wait for it.)
    pub fn step_rank(self) -> u8 {
        match self {
            ResourceKind::Bios => 10,
            ResourceKind::DpuBios => 11,
            ResourceKind::DpuMode => 12,
            ResourceKind::KernelArgs => 20,
            ResourceKind::Hugepages => 21,
            ResourceKind::CloudInit => 30,
            ResourceKind::Boot => 31,
            ResourceKind::Reboot => 40,
            ResourceKind::Ethernet => 50,
            ResourceKind::SrIov => 51,
            ResourceKind::Bond => 52,
            ResourceKind::Vlan => 53,
            ResourceKind::Routes => 54,
            ResourceKind::Dns => 55,
            ResourceKind::Vfio => 60,
            ResourceKind::Sysctl => 70,
            ResourceKind::Tunables => 71,
            ResourceKind::Sysfs => 72,
            ResourceKind::Power => 35,
            ResourceKind::Host => 100,
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One desired setting of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// The desired value, as JSON in the target's own spelling (`"Enabled"`, `9000`).
    pub value: Value,
    /// What changing it costs.
    pub disruption: Disruption,
    /// True when the value must never be shown or stored (a password-like BIOS attribute).
    pub sensitive: bool,
}

/// How a resource refers to others, for the ordering rules of [`crate::plan::graph`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Relations {
    /// A bond's ports (`link-aggregation.port`).
    pub ports: Vec<String>,
    /// A VLAN's base interface (`vlan.base-iface`).
    pub base_iface: Option<String>,
    /// vfio bindings: the PFs whose VFs are bound (`os.vfio.vfs[].pf`).
    pub vf_pfs: Vec<String>,
    /// cloud-init: delivered by Redfish VirtualMedia (then a boot override is needed).
    pub virtual_media: bool,
}

/// An addressable part of a host with its desired settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// `host/<h>/bios`, `host/<h>/network/bond0`, ...
    pub address: Address,
    /// The host's name.
    pub host: String,
    /// The kind.
    pub kind: ResourceKind,
    /// The interface name for network kinds.
    pub iface: Option<String>,
    /// Setting key -> desired setting, sorted by key.
    pub settings: BTreeMap<String, Setting>,
    /// References to other resources of the host.
    pub relations: Relations,
}

impl Resource {
    fn new(host: &str, kind: ResourceKind, iface: Option<&str>) -> Self {
        Self {
            address: Address::new(host, kind, iface),
            host: host.to_string(),
            kind,
            iface: iface.map(str::to_string),
            settings: BTreeMap::new(),
            relations: Relations::default(),
        }
    }

    /// The address without its `host/<h>/` prefix (`bios`, `network/bond0/sr-iov`).
    pub fn relative(&self) -> String {
        self.address.relative()
    }

    /// The most disruptive class among its settings.
    pub fn max_disruption(&self) -> Disruption {
        self.settings
            .values()
            .map(|s| s.disruption)
            .max()
            .unwrap_or_default()
    }

    fn put(&mut self, key: impl Into<String>, value: Value, disruption: Disruption) {
        let key = key.into();
        let sensitive = is_sensitive_name(&key);
        self.settings.insert(
            key,
            Setting {
                value,
                disruption,
                sensitive,
            },
        );
    }

    fn put_opt<T: Serialize>(&mut self, key: &str, value: Option<&T>, disruption: Disruption) {
        if let Some(v) = value
            && let Ok(json) = serde_json::to_value(v)
        {
            self.put(key, json, disruption);
        }
    }
}

/// Flattens an effective host into its resources, sorted by address. Resources the spec does
/// not set are absent; the synthetic `reboot` and `host` nodes are added by the graph, not
/// here. cloud-init files are looked up in `files` (a missing file gives a digest of
/// `null`, which validation reports separately).
pub fn flatten(host: &Host, files: &DataFiles) -> Vec<Resource> {
    let s = &host.settings;
    let name = host.name.as_str();
    let mut out = Vec::new();

    if let Some(power) = &s.power {
        let mut r = Resource::new(name, ResourceKind::Power, None);
        r.put_opt("PowerState", Some(power), Disruption::Reboot);
        out.push(r);
    }
    if let Some(boot) = &s.boot {
        let mut r = Resource::new(name, ResourceKind::Boot, None);
        r.put_opt(
            "BootSourceOverrideMode",
            boot.mode.as_ref(),
            Disruption::Reboot,
        );
        if let Some(o) = &boot.override_ {
            r.put_opt(
                "BootSourceOverrideTarget",
                Some(&o.target),
                Disruption::None,
            );
            r.put_opt(
                "BootSourceOverrideEnabled",
                Some(&o.enabled),
                Disruption::None,
            );
        }
        push_nonempty(&mut out, r);
    }
    if let Some(bios) = &s.bios {
        out.push(bios_resource(name, ResourceKind::Bios, bios));
    }
    if let Some(dpu) = &s.dpu {
        if let Some(mode) = &dpu.mode {
            let mut r = Resource::new(name, ResourceKind::DpuMode, None);
            r.put_opt("mode", Some(mode), Disruption::Reboot);
            out.push(r);
        }
        if let Some(bios) = &dpu.bios {
            out.push(bios_resource(name, ResourceKind::DpuBios, bios));
        }
    }
    if let Some(net) = &s.network {
        for iface in &net.interfaces {
            flatten_interface(name, iface, &mut out);
        }
        if let Some(routes) = &net.routes {
            let mut r = Resource::new(name, ResourceKind::Routes, None);
            r.put_opt("config", Some(&routes.config), Disruption::LinkFlap);
            out.push(r);
        }
        if let Some(dns) = &net.dns_resolver {
            let mut r = Resource::new(name, ResourceKind::Dns, None);
            r.put_opt("server", Some(&dns.config.server), Disruption::None);
            r.put_opt("search", Some(&dns.config.search), Disruption::None);
            out.push(r);
        }
    }
    if let Some(os) = &s.os {
        if let Some(args) = &os.kernel_args {
            let mut r = Resource::new(name, ResourceKind::KernelArgs, None);
            r.put_opt("args", Some(args), Disruption::Reboot);
            out.push(r);
        }
        if let Some(hp) = &os.hugepages {
            let mut r = Resource::new(name, ResourceKind::Hugepages, None);
            r.put_opt("defaultSize", hp.default_size.as_ref(), Disruption::Reboot);
            for p in &hp.pages {
                let key = match p.node {
                    Some(n) => format!("pages.{}.node{n}", p.size),
                    None => format!("pages.{}", p.size),
                };
                // Pools below 1G are set at runtime (and checked per NUMA node); gigantic
                // pools are reserved at boot.
                let d = if super::os_files::hugepage_key_needs_reboot(&key) {
                    Disruption::Reboot
                } else {
                    Disruption::None
                };
                r.put(key, json!(p.count), d);
            }
            push_nonempty(&mut out, r);
        }
        if !os.sysctl.is_empty() {
            let mut r = Resource::new(name, ResourceKind::Sysctl, None);
            for (k, v) in &os.sysctl {
                r.put(k.clone(), v.to_json(), Disruption::None);
            }
            out.push(r);
        }
        if let Some(t) = &os.tunables {
            let mut r = Resource::new(name, ResourceKind::Tunables, None);
            r.put_opt(
                "transparentHugepages",
                t.transparent_hugepages.as_ref(),
                Disruption::None,
            );
            r.put_opt("cpuGovernor", t.cpu_governor.as_ref(), Disruption::None);
            r.put_opt("ksm", t.ksm.as_ref(), Disruption::None);
            push_nonempty(&mut out, r);
        }
        if !os.sysfs.is_empty() {
            let mut r = Resource::new(name, ResourceKind::Sysfs, None);
            for (k, v) in &os.sysfs {
                r.put(k.clone(), v.to_json(), Disruption::None);
            }
            out.push(r);
        }
        if let Some(vfio) = &os.vfio {
            let mut r = Resource::new(name, ResourceKind::Vfio, None);
            if !vfio.devices.is_empty() {
                r.put_opt("devices", Some(&vfio.devices), Disruption::LinkFlap);
            }
            for v in &vfio.vfs {
                r.put(
                    format!("vfs.{}", v.pf),
                    Value::String(v.ids.clone()),
                    Disruption::LinkFlap,
                );
                if !r.relations.vf_pfs.contains(&v.pf) {
                    r.relations.vf_pfs.push(v.pf.clone());
                }
            }
            push_nonempty(&mut out, r);
        }
    }
    if let Some(ci) = &s.cloud_init {
        let mut r = Resource::new(name, ResourceKind::CloudInit, None);
        for (key, src) in [
            ("user-data", &ci.user_data),
            ("meta-data", &ci.meta_data),
            ("network-config", &ci.network_config),
        ] {
            if let Some(src) = src {
                let (source, digest) = document_digest(src, files);
                r.put(key, digest, Disruption::Reprovision);
                r.put(
                    format!("{key}.source"),
                    Value::String(source),
                    Disruption::None,
                );
            }
        }
        r.put_opt("delivery", ci.delivery.as_ref(), Disruption::None);
        r.relations.virtual_media = ci.delivery == Some(CloudInitDelivery::VirtualMedia);
        push_nonempty(&mut out, r);
    }

    out.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

fn push_nonempty(out: &mut Vec<Resource>, r: Resource) {
    if !r.settings.is_empty() {
        out.push(r);
    }
}

fn bios_resource(host: &str, kind: ResourceKind, bios: &BiosSpec) -> Resource {
    let mut r = Resource::new(host, kind, None);
    for (k, v) in &bios.attributes {
        r.put(k.clone(), v.to_json(), Disruption::Reboot);
    }
    r
}

/// `(source description, {"sha256", "bytes"})` of a cloud-init document. The content itself
/// is dropped here.
fn document_digest(src: &CloudInitSource, files: &DataFiles) -> (String, Value) {
    let (source, text): (String, Option<&str>) = match (&src.inline, &src.file) {
        (Some(text), _) => ("inline".to_string(), Some(text.as_str())),
        (None, Some(path)) => (path.clone(), files.get(path).map(|t| &**t)),
        (None, None) => ("none".to_string(), None),
    };
    let digest = match text {
        Some(t) => json!({ "sha256": super::value::sha256_hex(t.as_bytes()), "bytes": t.len() }),
        None => json!({ "sha256": null, "bytes": null }),
    };
    (source, digest)
}

fn interface_kind(iface: &Interface) -> ResourceKind {
    match iface.iface_type {
        Some(InterfaceType::Bond) => ResourceKind::Bond,
        Some(InterfaceType::Vlan) => ResourceKind::Vlan,
        Some(InterfaceType::Ethernet) => ResourceKind::Ethernet,
        None if iface.link_aggregation.is_some() => ResourceKind::Bond,
        None if iface.vlan.is_some() => ResourceKind::Vlan,
        None => ResourceKind::Ethernet,
    }
}

fn flatten_interface(host: &str, iface: &Interface, out: &mut Vec<Resource>) {
    let kind = interface_kind(iface);
    let name = iface.name.as_str();
    let flap = Disruption::LinkFlap;
    let mut r = Resource::new(host, kind, Some(name));
    r.put_opt("type", iface.iface_type.as_ref(), flap);
    r.put_opt("state", iface.state.as_ref(), flap);
    r.put_opt("description", iface.description.as_ref(), Disruption::None);
    r.put_opt("mtu", iface.mtu.as_ref(), flap);
    r.put_opt("mac-address", iface.mac_address.as_ref(), flap);
    if let Some(eth) = &iface.ethernet {
        r.put_opt("ethernet.speed", eth.speed.as_ref(), flap);
        r.put_opt("ethernet.duplex", eth.duplex.as_ref(), flap);
        r.put_opt(
            "ethernet.auto-negotiation",
            eth.auto_negotiation.as_ref(),
            flap,
        );
    }
    if let Some(bond) = &iface.link_aggregation {
        r.put_opt("link-aggregation.mode", bond.mode.as_ref(), flap);
        r.put_opt("link-aggregation.port", bond.port.as_ref(), flap);
        for (k, v) in &bond.options {
            r.put(format!("link-aggregation.options.{k}"), v.to_json(), flap);
        }
        r.relations.ports = bond.port.clone().unwrap_or_default();
    }
    if let Some(vlan) = &iface.vlan {
        r.put_opt("vlan.base-iface", vlan.base_iface.as_ref(), flap);
        r.put_opt("vlan.id", vlan.id.as_ref(), flap);
        r.relations.base_iface = vlan.base_iface.clone();
    }
    ip_settings(&mut r, "ipv4", iface.ipv4.as_ref());
    ip_settings(&mut r, "ipv6", iface.ipv6.as_ref());
    out.push(r);

    if let Some(sriov) = iface.ethernet.as_ref().and_then(|e| e.sr_iov.as_ref()) {
        let mut r = Resource::new(host, ResourceKind::SrIov, Some(name));
        r.put_opt("total-vfs", sriov.total_vfs.as_ref(), flap);
        r.put_opt(
            "drivers-autoprobe",
            sriov.drivers_autoprobe.as_ref(),
            Disruption::None,
        );
        for vf in &sriov.vfs {
            let prefix = format!("vfs[{}]", vf.id);
            r.put_opt(
                &format!("{prefix}.mac-address"),
                vf.mac_address.as_ref(),
                flap,
            );
            r.put_opt(
                &format!("{prefix}.spoof-check"),
                vf.spoof_check.as_ref(),
                flap,
            );
            r.put_opt(&format!("{prefix}.trust"), vf.trust.as_ref(), flap);
            r.put_opt(&format!("{prefix}.vlan-id"), vf.vlan_id.as_ref(), flap);
            r.put_opt(&format!("{prefix}.qos"), vf.qos.as_ref(), flap);
            r.put_opt(
                &format!("{prefix}.min-tx-rate"),
                vf.min_tx_rate.as_ref(),
                flap,
            );
            r.put_opt(
                &format!("{prefix}.max-tx-rate"),
                vf.max_tx_rate.as_ref(),
                flap,
            );
        }
        push_nonempty(out, r);
    }
}

fn ip_settings(r: &mut Resource, family: &str, ip: Option<&IpConfig>) {
    let Some(ip) = ip else { return };
    let flap = Disruption::LinkFlap;
    r.put_opt(&format!("{family}.enabled"), ip.enabled.as_ref(), flap);
    r.put_opt(&format!("{family}.dhcp"), ip.dhcp.as_ref(), flap);
    r.put_opt(&format!("{family}.autoconf"), ip.autoconf.as_ref(), flap);
    if !ip.address.is_empty() {
        let addrs: Vec<Value> = ip
            .address
            .iter()
            .map(|a| Value::String(format!("{}/{}", a.ip, a.prefix_length)))
            .collect();
        r.put(format!("{family}.address"), Value::Array(addrs), flap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = |k: ResourceKind, i: &str| k.address("a", i).to_string();
        assert_eq!(a(ResourceKind::Bios, ""), "host/a/bios");
        assert_eq!(a(ResourceKind::DpuMode, ""), "host/a/dpu/mode");
        assert_eq!(
            a(ResourceKind::SrIov, "ens1f0"),
            "host/a/network/ens1f0/sr-iov"
        );
        assert_eq!(
            a(ResourceKind::Vlan, "bond0.100"),
            "host/a/network/bond0.100"
        );
        assert_eq!(a(ResourceKind::Vfio, ""), "host/a/os/vfio");
        assert_eq!(a(ResourceKind::Host, ""), "host/a");
    }

    #[test]
    fn disruption_order() {
        assert!(Disruption::None < Disruption::LinkFlap);
        assert!(Disruption::LinkFlap < Disruption::Reboot);
        assert!(Disruption::Reboot < Disruption::Reprovision);
        assert!(Disruption::Reprovision.resets() && !Disruption::LinkFlap.resets());
    }
}
