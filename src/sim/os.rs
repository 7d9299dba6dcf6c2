//! The simulator's OS facet: one sysroot directory per host, seeded from the host's effective
//! spec, that the OS probe (`src/os/probe.sh`) reads through
//! [`crate::os::transport::Transport::Local`] exactly as it reads a real host.
//!
//! The layout is the one of `tests/fixtures/sysroot/` (see its README): `proc/`, `sys/`,
//! `etc/`, `run/`, `var/`, `usr/`, plus `ip-link.json` and `ip-addr.json` holding what
//! `ip -j -d link` and `ip -j addr` print. What is written, from the spec:
//!
//! - `network.interfaces`: links in `ip-link.json` (type, state, MTU, MAC: the spec's or a
//!   stable generated `52:54:00:..`, bond mode, ports and options, VLAN base and id) and their
//!   static addresses in `ip-addr.json` (plus the `fe80::` link-local every link has); a bond
//!   port's `address` is the bond's MAC and its own is `permaddr`, as on a real host;
//! - `ethernet.sr-iov`: a PF device under `sys/devices` (`sriov_totalvfs` from
//!   `hardware.nics.<if>.maxVfs`, else the larger of 64 and the request, at most 256;
//!   `sriov_numvfs` = `total-vfs`, at most `sriov_totalvfs`), `virtfnN` links to VF devices
//!   with a netdev `<pf>v<N>` or, for the VFs `os.vfio.vfs` names, bound to vfio-pci; the VF
//!   settings (`vfs`: MAC, VLAN, QoS, trust, spoof check, rates) in the PF's `vfinfo_list`;
//! - `os.hugepages`: per size and NUMA node (`hardware.numaNodes` nodes, default 2; pages
//!   without a `node` are spread over the nodes as the kernel does, remainder to the lowest),
//!   all free; the default size in `/proc/meminfo` (`Hugepagesize`, 2 MiB when unset);
//! - `os.kernelArgs`: appended to a Debian-style `/proc/cmdline` and written to
//!   `etc/default/grub.d/60-bmfleet.cfg`;
//! - `os.sysctl` and `os.sysfs`: one file per key (values as the spec writes them; a real
//!   kernel shows some sysfs choice files as `a [b] c`, which this does not imitate);
//! - `cloudInit`: the NoCloud seed (`var/lib/cloud/seed/nocloud/{user-data,meta-data,
//!   network-config}`, the document text as the spec gives it, inline or from the fleet's data
//!   files), the instance's `user-data.txt`, an instance id (`iid-bmfleet-<host>`) and a derived
//!   `meta-data` when the spec has none;
//! - a Debian 12 `os-release`, systemd-networkd installed and active, cloud-init installed.
//!
//! Then, deterministically from [`Seeding::seed`], a [`Seeding::drift_rate`] fraction of hosts
//! get one drift on something their spec manages ([`OsDriftKind`]); a host whose spec manages
//! none of these stays as specified. The random draws are keyed by the seed and the host name,
//! so a host drifts the same way whichever other hosts are written with it.

use super::from_spec::Seeding;
use crate::spec::Host;
use crate::spec::model::{BondMode, DnsConfig, InterfaceState, InterfaceType, Route, Scalar};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The kernel command line every simulated host starts with (Debian 12 cloud image).
pub const BASE_CMDLINE: &str = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-amd64 root=UUID=5e2b1c1e-0d6a-4b53-9b53-3f0c2a1d7e11 ro quiet";

/// The NoCloud seed directory, as the probe names it.
pub const NOCLOUD_SEED: &str = "var/lib/cloud/seed/nocloud";

/// The most VFs a simulated PF offers (`sriov_totalvfs`).
pub const MAX_TOTAL_VFS: u32 = 256;

/// The instance id a simulated host's cloud-init reports: `iid-bmfleet-<host>`.
pub fn instance_id(host: &str) -> String {
    format!("iid-bmfleet-{host}")
}

/// One drift applied to a host's sysroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsDrift {
    /// The host (spec name).
    pub host: String,
    /// What was changed.
    pub kind: OsDriftKind,
}

/// The drifts the OS facet applies (one per drifted host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OsDriftKind {
    /// A PF's VFs are gone: `sriov_numvfs` is 0 (a reboot without the persistence unit).
    VfsMissing {
        /// The PF interface.
        interface: String,
        /// The VF count the spec asks for.
        wanted: u32,
    },
    /// One NUMA node has fewer pages of a size than the spec asks (fragmentation).
    HugepagesShort {
        /// Page size in kB.
        size_kb: u64,
        /// The NUMA node.
        node: u32,
        /// Pages the spec puts on that node.
        wanted: u64,
        /// Pages there are.
        actual: u64,
    },
    /// A kernel argument of the spec is neither on the running command line nor configured.
    KernelArgMissing {
        /// The argument.
        arg: String,
    },
    /// An interface runs at MTU 1500 instead of the spec's.
    Mtu {
        /// The interface.
        interface: String,
        /// The spec's MTU.
        wanted: u32,
        /// The MTU it has (1500).
        actual: u32,
    },
    /// A bond lost one of its ports (the port is a stand-alone link).
    BondPortMissing {
        /// The bond.
        bond: String,
        /// The port no longer in it.
        port: String,
    },
    /// A sysctl has another value than the spec's.
    Sysctl {
        /// The key (`vm.swappiness`).
        key: String,
        /// The spec's value.
        wanted: String,
        /// The value written.
        actual: String,
    },
    /// cloud-init's user-data (seed and instance copy) is an earlier revision.
    StaleUserData,
}

impl std::fmt::Display for OsDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.host)?;
        match &self.kind {
            OsDriftKind::VfsMissing { interface, wanted } => {
                write!(f, "{interface} has 0 VFs instead of {wanted}")
            }
            OsDriftKind::HugepagesShort {
                size_kb,
                node,
                wanted,
                actual,
            } => write!(
                f,
                "{actual} of {wanted} {size_kb} kB hugepages on NUMA node {node}"
            ),
            OsDriftKind::KernelArgMissing { arg } => write!(f, "kernel argument {arg} missing"),
            OsDriftKind::Mtu {
                interface,
                wanted,
                actual,
            } => write!(f, "{interface} MTU {actual} instead of {wanted}"),
            OsDriftKind::BondPortMissing { bond, port } => {
                write!(f, "{bond} lost its port {port}")
            }
            OsDriftKind::Sysctl {
                key,
                wanted,
                actual,
            } => write!(f, "sysctl {key} = {actual} instead of {wanted}"),
            OsDriftKind::StaleUserData => write!(f, "cloud-init user-data is an earlier revision"),
        }
    }
}

/// Why sysroots could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SysrootError {
    /// A name from the spec cannot be used in a path (host or interface name with `/`, `..`,
    /// NUL; a sysfs key outside `/sys/`).
    #[error("{host}: cannot write a sysroot: {reason}")]
    Invalid {
        /// The host.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing a file, directory or symlink failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path written.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What [`write_sysroots`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysroots {
    /// Each host's sysroot directory (`<root>/<host>`), by host name.
    pub roots: BTreeMap<String, PathBuf>,
    /// The drift applied, at most one per host, in host order.
    pub drift: Vec<OsDrift>,
}

/// Writes one sysroot per host under `root` (`<root>/<host name>`, created; existing files are
/// overwritten, others left) seeded from each host's effective spec, with drift on a
/// `seeding.drift_rate` fraction of hosts ([`Seeding::factory_rate`] is not used here).
/// `files` are the fleet's data files (`LoadedFleet::data_files`), where cloud-init documents
/// given as `file:` are found; a document whose file is missing is not written.
///
/// # Errors
///
/// [`SysrootError::Invalid`] for a host or interface name that is not a plain path component
/// or a sysfs key outside `/sys/`; [`SysrootError::Io`] when writing fails.
pub fn write_sysroots(
    hosts: &[&Host],
    files: &BTreeMap<String, Arc<str>>,
    root: &Path,
    seeding: Seeding,
) -> Result<Sysroots, SysrootError> {
    let mut out = Sysroots::default();
    let rate = fraction(seeding.drift_rate);
    for host in hosts {
        let mut model = HostOs::from_spec(host, files)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seeding.seed ^ 0x05_d1f7 ^ name_hash(&host.name));
        if rng.random_bool(rate)
            && let Some(kind) = model.drift(&mut rng)
        {
            out.drift.push(OsDrift {
                host: host.name.clone(),
                kind,
            });
        }
        let dir = root.join(&host.name);
        model.write(&dir)?;
        out.roots.insert(host.name.clone(), dir);
    }
    Ok(out)
}

/// A probability from user input: NaN counts as 0, others are clamped to 0.0..=1.0.
fn fraction(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

fn name_hash(name: &str) -> u64 {
    let d = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_le_bytes(b)
}

/// A stable locally administered MAC from `host` and `iface`.
fn mac_for(host: &str, iface: &str) -> String {
    let d = Sha256::digest(format!("{host}/{iface}").as_bytes());
    format!("52:54:00:{:02x}:{:02x}:{:02x}", d[0], d[1], d[2])
}

fn plain_component(what: &str, host: &str, name: &str) -> Result<(), SysrootError> {
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(SysrootError::Invalid {
            host: host.to_string(),
            reason: format!("{what} {name:?} is not a plain file name"),
        })
    }
}

/// The text of a scalar as a sysctl/sysfs file holds it (`true` as `1`).
fn scalar_text(v: &Scalar) -> String {
    match v {
        Scalar::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

/// `0-7,9` -> {0..=7, 9}; parts that are not numbers or ranges are ignored (the spec validator
/// reports them).
fn parse_ids(ids: &str) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for part in ids.split(',').map(str::trim) {
        if let Some((a, b)) = part.split_once('-') {
            if let (Ok(a), Ok(b)) = (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                out.extend(a..=b.min(a.saturating_add(MAX_TOTAL_VFS)));
            }
        } else if let Ok(n) = part.parse::<u32>() {
            out.insert(n);
        }
    }
    out
}

#[derive(Debug, Clone)]
struct Sriov {
    pci: String,
    driver: &'static str,
    vf_driver: &'static str,
    total: u32,
    num: u32,
    wanted: u32,
    vfio: BTreeSet<u32>,
    /// VF id -> vfinfo_list entry fields from the spec.
    vf_settings: BTreeMap<u32, serde_json::Map<String, Value>>,
    /// PCI bus of the first VF.
    vf_bus: u32,
}

#[derive(Debug, Clone)]
struct LinkOs {
    name: String,
    up: bool,
    mtu: u32,
    spec_mtu: Option<u32>,
    mac: String,
    pci: Option<String>,
    master: Option<String>,
    bond: Option<(Option<BondMode>, serde_json::Map<String, Value>)>,
    vlan: Option<(Option<String>, Option<i64>)>,
    addrs: Vec<(String, u8)>,
    sriov: Option<Sriov>,
}

#[derive(Debug, Clone)]
struct HostOs {
    host: String,
    links: Vec<LinkOs>,
    kernel_args: Vec<String>,
    default_hugepage_kb: u64,
    /// size kB -> node -> pages.
    hugepages: BTreeMap<u64, BTreeMap<u32, u64>>,
    numa_nodes: u32,
    sysctl: BTreeMap<String, String>,
    sysfs: BTreeMap<String, String>,
    /// `user-data`, `meta-data`, `network-config` -> text.
    cloud: BTreeMap<&'static str, String>,
    /// `network.routes.config`.
    routes: Vec<Route>,
    /// `network.dns-resolver.config`.
    dns: Option<DnsConfig>,
}

const KB_2M: u64 = 2048;
const KB_1G: u64 = 1024 * 1024;

fn nic_drivers(model: Option<&str>) -> (&'static str, &'static str) {
    let m = model.unwrap_or_default();
    if m.contains("E810") {
        ("ice", "iavf")
    } else if m.contains("ConnectX") {
        ("mlx5_core", "mlx5_core")
    } else {
        ("igb", "igbvf")
    }
}

impl HostOs {
    fn from_spec(host: &Host, files: &BTreeMap<String, Arc<str>>) -> Result<HostOs, SysrootError> {
        let name = host.name.as_str();
        plain_component("host name", name, name)?;
        let s = &host.settings;
        let hw = s.hardware.as_ref();
        let numa_nodes = hw.and_then(|h| h.numa_nodes).unwrap_or(2).clamp(1, 64);
        let os = s.os.as_ref();

        let vfio: BTreeMap<&str, BTreeSet<u32>> = os
            .and_then(|o| o.vfio.as_ref())
            .map(|v| {
                v.vfs
                    .iter()
                    .map(|x| (x.pf.as_str(), parse_ids(&x.ids)))
                    .collect()
            })
            .unwrap_or_default();

        let mut links: Vec<LinkOs> = Vec::new();
        let mut sriov_index = 0u32;
        let interfaces = s
            .network
            .as_ref()
            .map(|n| n.interfaces.as_slice())
            .unwrap_or_default();
        for (i, iface) in interfaces.iter().enumerate() {
            if iface.state == Some(InterfaceState::Absent) {
                continue;
            }
            plain_component("interface name", name, &iface.name)?;
            let kind = match iface.iface_type {
                Some(t) => t,
                None if iface.link_aggregation.is_some() => InterfaceType::Bond,
                None if iface.vlan.is_some() => InterfaceType::Vlan,
                None => InterfaceType::Ethernet,
            };
            let spec_mtu = iface.mtu.and_then(|m| u32::try_from(m).ok());
            let nic = hw.and_then(|h| h.nics.get(&iface.name));
            let pci = (kind == InterfaceType::Ethernet).then(|| {
                nic.and_then(|n| n.pci_address.clone())
                    .unwrap_or_else(|| format!("0000:{:02x}:00.0", 0x10 + i % 0x60))
            });
            let mut addrs = Vec::new();
            for ip in [&iface.ipv4, &iface.ipv6].into_iter().flatten() {
                for a in &ip.address {
                    addrs.push((a.ip.clone(), a.prefix_length));
                }
            }
            let sriov = iface
                .ethernet
                .as_ref()
                .and_then(|e| e.sr_iov.as_ref())
                .and_then(|sr| {
                    let wanted = u32::try_from(sr.total_vfs?).ok()?;
                    let total = nic
                        .and_then(|n| n.max_vfs)
                        .unwrap_or(wanted.max(64))
                        .min(MAX_TOTAL_VFS);
                    let (driver, vf_driver) = nic_drivers(nic.and_then(|n| n.model.as_deref()));
                    let mut vf_settings = BTreeMap::new();
                    for vf in &sr.vfs {
                        let mut m = serde_json::Map::new();
                        if let Some(mac) = &vf.mac_address {
                            m.insert("address".into(), mac.to_lowercase().into());
                        }
                        let mut vlan = serde_json::Map::new();
                        if let Some(id) = vf.vlan_id {
                            vlan.insert("vlan".into(), id.into());
                        }
                        if let Some(q) = vf.qos {
                            vlan.insert("qos".into(), q.into());
                        }
                        m.insert("vlan_list".into(), json!([vlan]));
                        if let Some(b) = vf.spoof_check {
                            m.insert("spoofchk".into(), b.into());
                        }
                        if let Some(b) = vf.trust {
                            m.insert("trust".into(), b.into());
                        }
                        m.insert(
                            "rate".into(),
                            json!({"min_tx": vf.min_tx_rate.unwrap_or(0), "max_tx": vf.max_tx_rate.unwrap_or(0)}),
                        );
                        vf_settings.insert(vf.id, m);
                    }
                    let bus = 0x80 + sriov_index * 2;
                    sriov_index += 1;
                    Some(Sriov {
                        pci: pci.clone().unwrap_or_default(),
                        driver,
                        vf_driver,
                        total,
                        num: wanted.min(total),
                        wanted,
                        vfio: vfio.get(iface.name.as_str()).cloned().unwrap_or_default(),
                        vf_settings,
                        vf_bus: bus,
                    })
                });
            links.push(LinkOs {
                name: iface.name.clone(),
                up: iface.state != Some(InterfaceState::Down),
                mtu: spec_mtu.unwrap_or(1500),
                spec_mtu,
                mac: iface
                    .mac_address
                    .as_deref()
                    .map(str::to_lowercase)
                    .unwrap_or_else(|| mac_for(name, &iface.name)),
                pci,
                master: None,
                bond: iface.link_aggregation.as_ref().map(|b| {
                    let opts = b
                        .options
                        .iter()
                        .map(|(k, v)| {
                            let key = match k.as_str() {
                                "lacp_rate" => "ad_lacp_rate",
                                "lacp_active" => "ad_lacp_active",
                                other => other,
                            };
                            (key.to_string(), v.to_json())
                        })
                        .collect();
                    (b.mode, opts)
                }),
                vlan: iface.vlan.as_ref().map(|v| (v.base_iface.clone(), v.id)),
                addrs,
                sriov,
            });
        }
        // Bond ports: declared ones get `master`; undeclared ones are added as Ethernet links.
        for iface in interfaces {
            let Some(ports) = iface
                .link_aggregation
                .as_ref()
                .and_then(|b| b.port.as_ref())
            else {
                continue;
            };
            if iface.state == Some(InterfaceState::Absent) {
                continue;
            }
            let bond_mtu = links
                .iter()
                .find(|l| l.name == iface.name)
                .map_or(1500, |l| l.mtu);
            for port in ports {
                plain_component("interface name", name, port)?;
                if let Some(l) = links.iter_mut().find(|l| &l.name == port) {
                    l.master = Some(iface.name.clone());
                } else {
                    let n = links.len();
                    links.push(LinkOs {
                        name: port.clone(),
                        up: true,
                        mtu: bond_mtu,
                        spec_mtu: None,
                        mac: mac_for(name, port),
                        pci: Some(format!("0000:{:02x}:00.0", 0x10 + n % 0x60)),
                        master: Some(iface.name.clone()),
                        bond: None,
                        vlan: None,
                        addrs: Vec::new(),
                        sriov: None,
                    });
                }
            }
        }

        let mut hugepages: BTreeMap<u64, BTreeMap<u32, u64>> = BTreeMap::new();
        hugepages.insert(KB_2M, BTreeMap::new());
        hugepages.insert(KB_1G, BTreeMap::new());
        let mut default_hugepage_kb = KB_2M;
        if let Some(h) = os.and_then(|o| o.hugepages.as_ref()) {
            if let Some(kb) = h
                .default_size
                .as_deref()
                .and_then(crate::os::probe::page_size_kb)
            {
                default_hugepage_kb = kb;
                hugepages.entry(kb).or_default();
            }
            for p in &h.pages {
                let Some(kb) = crate::os::probe::page_size_kb(&p.size) else {
                    continue;
                };
                let per_node = hugepages.entry(kb).or_default();
                match p.node {
                    Some(node) => *per_node.entry(node).or_default() += p.count,
                    None => {
                        let n = u64::from(numa_nodes);
                        for node in 0..numa_nodes {
                            let share = p.count / n + u64::from(u64::from(node) < p.count % n);
                            *per_node.entry(node).or_default() += share;
                        }
                    }
                }
            }
        }

        let mut sysctl = BTreeMap::new();
        let mut sysfs = BTreeMap::new();
        if let Some(o) = os {
            for (k, v) in &o.sysctl {
                sysctl.insert(k.clone(), scalar_text(v));
            }
            for (k, v) in &o.sysfs {
                sysfs.insert(k.clone(), scalar_text(v));
            }
            // Tunables, in the files and forms the kernel shows them.
            if let Some(t) = &o.tunables {
                if let Some(thp) = &t.transparent_hugepages {
                    let chosen = serde_json::to_value(thp)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let line: Vec<String> = ["always", "madvise", "never"]
                        .iter()
                        .map(|m| {
                            if *m == chosen {
                                format!("[{m}]")
                            } else {
                                (*m).to_string()
                            }
                        })
                        .collect();
                    sysfs.insert(crate::os::observe::THP_ENABLED.into(), line.join(" "));
                }
                if let Some(g) = &t.cpu_governor
                    && let Some(text) = serde_json::to_value(g)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                {
                    sysfs.insert(crate::os::observe::CPU_GOVERNOR.into(), text);
                }
                if let Some(k) = t.ksm {
                    sysfs.insert(
                        crate::os::observe::KSM_RUN.into(),
                        if k { "1" } else { "0" }.into(),
                    );
                }
            }
        }

        let mut cloud = BTreeMap::new();
        if let Some(ci) = &s.cloud_init {
            for (key, src) in [
                ("user-data", &ci.user_data),
                ("meta-data", &ci.meta_data),
                ("network-config", &ci.network_config),
            ] {
                let Some(src) = src else { continue };
                // As `plan::resource::document_digest` finds it: inline first, then the file.
                let text = match (&src.inline, &src.file) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(path)) => files.get(path).map(|t| t.to_string()),
                    (None, None) => None,
                };
                if let Some(t) = text {
                    cloud.insert(key, t);
                }
            }
            cloud.entry("meta-data").or_insert_with(|| {
                format!(
                    "instance-id: {}\nlocal-hostname: {name}\n",
                    instance_id(name)
                )
            });
        }

        Ok(HostOs {
            host: name.to_string(),
            links,
            kernel_args: os.and_then(|o| o.kernel_args.clone()).unwrap_or_default(),
            default_hugepage_kb,
            hugepages,
            numa_nodes,
            sysctl,
            sysfs,
            cloud,
            routes: s
                .network
                .as_ref()
                .and_then(|n| n.routes.as_ref())
                .map(|r| r.config.clone())
                .unwrap_or_default(),
            dns: s
                .network
                .as_ref()
                .and_then(|n| n.dns_resolver.as_ref())
                .map(|d| d.config.clone()),
        })
    }

    /// Applies one drift the spec manages, chosen with `rng`; `None` when there is none.
    fn drift(&mut self, rng: &mut ChaCha8Rng) -> Option<OsDriftKind> {
        let vf_pfs: Vec<usize> = (0..self.links.len())
            .filter(|&i| self.links[i].sriov.as_ref().is_some_and(|s| s.num > 0))
            .collect();
        let page_slots: Vec<(u64, u32)> = self
            .hugepages
            .iter()
            .flat_map(|(kb, nodes)| {
                nodes
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(move |(node, _)| (*kb, *node))
            })
            .collect();
        let mtus: Vec<usize> = (0..self.links.len())
            .filter(|&i| self.links[i].spec_mtu.is_some_and(|m| m != 1500))
            .collect();
        let ports: Vec<usize> = (0..self.links.len())
            .filter(|&i| self.links[i].master.is_some())
            .collect();
        let sysctls: Vec<String> = self.sysctl.keys().cloned().collect();
        let mut kinds = Vec::new();
        for (k, present) in [
            (0u8, !vf_pfs.is_empty()),
            (1, !page_slots.is_empty()),
            (2, !self.kernel_args.is_empty()),
            (3, !mtus.is_empty()),
            (4, !ports.is_empty()),
            (5, !sysctls.is_empty()),
            (6, self.cloud.contains_key("user-data")),
        ] {
            if present {
                kinds.push(k);
            }
        }
        if kinds.is_empty() {
            return None;
        }
        let pick = |rng: &mut ChaCha8Rng, n: usize| rng.random_range(0..n);
        match kinds[pick(rng, kinds.len())] {
            0 => {
                let link = &mut self.links[vf_pfs[pick(rng, vf_pfs.len())]];
                let sr = link.sriov.as_mut()?;
                sr.num = 0;
                Some(OsDriftKind::VfsMissing {
                    interface: link.name.clone(),
                    wanted: sr.wanted,
                })
            }
            1 => {
                let (kb, node) = page_slots[pick(rng, page_slots.len())];
                let pages = self.hugepages.get_mut(&kb)?.get_mut(&node)?;
                let wanted = *pages;
                let short = 1 + pick(rng, usize::try_from(wanted.div_ceil(2)).unwrap_or(1)) as u64;
                *pages = wanted - short.min(wanted);
                Some(OsDriftKind::HugepagesShort {
                    size_kb: kb,
                    node,
                    wanted,
                    actual: *pages,
                })
            }
            2 => {
                let arg = self.kernel_args.remove(pick(rng, self.kernel_args.len()));
                self.kernel_args.retain(|a| a != &arg);
                Some(OsDriftKind::KernelArgMissing { arg })
            }
            3 => {
                let link = &mut self.links[mtus[pick(rng, mtus.len())]];
                let wanted = link.mtu;
                link.mtu = 1500;
                Some(OsDriftKind::Mtu {
                    interface: link.name.clone(),
                    wanted,
                    actual: 1500,
                })
            }
            4 => {
                let link = &mut self.links[ports[pick(rng, ports.len())]];
                let bond = link.master.take()?;
                Some(OsDriftKind::BondPortMissing {
                    bond,
                    port: link.name.clone(),
                })
            }
            5 => {
                let key = sysctls[pick(rng, sysctls.len())].clone();
                let value = self.sysctl.get_mut(&key)?;
                let wanted = value.clone();
                let actual = match wanted.trim().parse::<i64>() {
                    Ok(n) => n.wrapping_add(1).to_string(),
                    Err(_) => format!("{wanted}-changed"),
                };
                value.clone_from(&actual);
                Some(OsDriftKind::Sysctl {
                    key,
                    wanted,
                    actual,
                })
            }
            _ => {
                let text = self.cloud.get_mut("user-data")?;
                text.push_str("\n# an earlier revision of this user-data\n");
                Some(OsDriftKind::StaleUserData)
            }
        }
    }

    fn write(&self, dir: &Path) -> Result<(), SysrootError> {
        let w = Writer { root: dir };
        w.file(
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )?;
        let mut cmdline = String::from(BASE_CMDLINE);
        for a in &self.kernel_args {
            cmdline.push(' ');
            cmdline.push_str(a);
        }
        cmdline.push('\n');
        w.file("proc/cmdline", &cmdline)?;
        w.file(
            "etc/default/grub",
            "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n",
        )?;
        if self.kernel_args.is_empty() {
            w.remove("etc/default/grub.d/60-bmfleet.cfg")?;
        } else {
            w.file(
                "etc/default/grub.d/60-bmfleet.cfg",
                &format!(
                    "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT {}\"\n",
                    self.kernel_args.join(" ")
                ),
            )?;
        }
        self.write_hugepages(&w)?;
        self.write_links(&w)?;
        self.write_routes(&w)?;
        self.write_resolver(&w)?;
        for (key, value) in &self.sysctl {
            if key.is_empty() || key.contains("..") || key.starts_with('/') {
                return Err(self.invalid(format!("sysctl key {key:?}")));
            }
            // sysctl.d(5): when the first separator is a dot, dots and slashes swap.
            let path: String = if key.split('/').next().is_some_and(|s| s.contains('.')) {
                key.chars()
                    .map(|c| match c {
                        '.' => '/',
                        '/' => '.',
                        c => c,
                    })
                    .collect()
            } else {
                key.clone()
            };
            w.file(&format!("proc/sys/{path}"), &format!("{value}\n"))?;
        }
        for (key, value) in &self.sysfs {
            let rel = key.strip_prefix('/').unwrap_or_default();
            let ok = key.starts_with("/sys/")
                && Path::new(rel)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)));
            if !ok {
                return Err(self.invalid(format!("sysfs key {key:?} is not a path under /sys/")));
            }
            w.file(rel, &format!("{value}\n"))?;
        }
        // Network stack and cloud-init.
        w.file("usr/lib/systemd/systemd-networkd", "")?;
        w.file("run/systemd/units/invocation:systemd-networkd.service", "")?;
        w.file("usr/bin/cloud-init", "")?;
        // GRUB's tools, as on a Debian host (the writer records `update-grub`).
        w.file("usr/sbin/update-grub", "")?;
        w.file(
            "var/lib/cloud/data/instance-id",
            &format!("{}\n", instance_id(&self.host)),
        )?;
        w.file(
            "run/cloud-init/status.json",
            "{\"v1\": {\"datasource\": \"DataSourceNoCloud\", \"errors\": []}}\n",
        )?;
        for key in ["user-data", "meta-data", "network-config"] {
            let path = format!("{NOCLOUD_SEED}/{key}");
            match self.cloud.get(key) {
                Some(text) => w.file(&path, text)?,
                None => w.remove(&path)?,
            }
        }
        match self.cloud.get("user-data") {
            Some(text) => w.file("var/lib/cloud/instance/user-data.txt", text)?,
            None => w.remove("var/lib/cloud/instance/user-data.txt")?,
        }
        Ok(())
    }

    fn invalid(&self, reason: String) -> SysrootError {
        SysrootError::Invalid {
            host: self.host.clone(),
            reason,
        }
    }

    fn write_hugepages(&self, w: &Writer<'_>) -> Result<(), SysrootError> {
        let mut meminfo =
            String::from("MemTotal:       527988736 kB\nMemFree:        400000000 kB\n");
        for (kb, nodes) in &self.hugepages {
            let total: u64 = nodes.values().sum();
            let dir = format!("sys/kernel/mm/hugepages/hugepages-{kb}kB");
            for (f, v) in [
                ("nr_hugepages", total),
                ("free_hugepages", total),
                ("resv_hugepages", 0),
                ("surplus_hugepages", 0),
                ("nr_overcommit_hugepages", 0),
            ] {
                w.file(&format!("{dir}/{f}"), &format!("{v}\n"))?;
            }
            for node in 0..self.numa_nodes {
                let n = nodes.get(&node).copied().unwrap_or(0);
                let ndir = format!("sys/devices/system/node/node{node}/hugepages/hugepages-{kb}kB");
                for (f, v) in [
                    ("nr_hugepages", n),
                    ("free_hugepages", n),
                    ("surplus_hugepages", 0),
                ] {
                    w.file(&format!("{ndir}/{f}"), &format!("{v}\n"))?;
                }
            }
            if *kb == self.default_hugepage_kb {
                meminfo.push_str(&format!(
                    "HugePages_Total: {total:>6}\nHugePages_Free:  {total:>6}\nHugePages_Rsvd:       0\nHugePages_Surp:       0\n"
                ));
            }
        }
        meminfo.push_str(&format!(
            "Hugepagesize:   {:>8} kB\n",
            self.default_hugepage_kb
        ));
        w.file("proc/meminfo", &meminfo)
    }

    fn write_links(&self, w: &Writer<'_>) -> Result<(), SysrootError> {
        let mut link_json = vec![json!({
            "ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
            "operstate": "UNKNOWN", "link_type": "loopback", "address": "00:00:00:00:00:00"
        })];
        let mut addr_json = vec![json!({
            "ifindex": 1, "ifname": "lo", "addr_info": [
                {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host"},
                {"family": "inet6", "local": "::1", "prefixlen": 128, "scope": "host"}
            ]
        })];
        let by_name: BTreeMap<&str, &LinkOs> =
            self.links.iter().map(|l| (l.name.as_str(), l)).collect();
        // The MAC a link shows: a bond port and a VLAN show their master's / base's.
        let shown_mac = |l: &LinkOs| -> String {
            let mut cur = l;
            for _ in 0..4 {
                let next = cur
                    .master
                    .as_deref()
                    .or(cur.vlan.as_ref().and_then(|v| v.0.as_deref()))
                    .and_then(|n| by_name.get(n));
                match next {
                    Some(n) => cur = n,
                    None => break,
                }
            }
            cur.mac.clone()
        };
        let mut bonding_masters = Vec::new();
        for (i, l) in self.links.iter().enumerate() {
            let ifindex = i + 2;
            let mut flags = vec!["BROADCAST", "MULTICAST"];
            if l.master.is_some() {
                flags.push("SLAVE");
            }
            if l.bond.is_some() {
                flags.push("MASTER");
            }
            if l.up {
                flags.extend(["UP", "LOWER_UP"]);
            }
            let address = shown_mac(l);
            let mut j = json!({
                "ifindex": ifindex, "ifname": l.name, "flags": flags, "mtu": l.mtu,
                "operstate": if l.up { "UP" } else { "DOWN" }, "link_type": "ether",
                "address": address, "broadcast": "ff:ff:ff:ff:ff:ff",
            });
            let Some(obj) = j.as_object_mut() else {
                continue;
            };
            if address != l.mac {
                obj.insert("permaddr".into(), l.mac.clone().into());
            }
            if let Some(m) = &l.master {
                obj.insert("master".into(), m.clone().into());
                obj.insert(
                    "linkinfo".into(),
                    json!({"info_slave_kind": "bond", "info_slave_data": {
                        "state": "ACTIVE", "mii_status": "UP", "perm_hwaddr": l.mac,
                        "ad_aggregator_id": 1}}),
                );
            }
            if let Some((mode, opts)) = &l.bond {
                bonding_masters.push(l.name.clone());
                let mut data = serde_json::Map::new();
                if let Some(mode) = mode {
                    data.insert("mode".into(), mode.as_str().into());
                }
                data.extend(opts.clone());
                obj.insert(
                    "linkinfo".into(),
                    json!({"info_kind": "bond", "info_data": data}),
                );
            }
            if let Some((base, id)) = &l.vlan {
                if let Some(base) = base {
                    obj.insert("link".into(), base.clone().into());
                }
                let mut data = serde_json::Map::new();
                data.insert("protocol".into(), "802.1Q".into());
                if let Some(id) = id {
                    data.insert("id".into(), (*id).into());
                }
                obj.insert(
                    "linkinfo".into(),
                    json!({"info_kind": "vlan", "info_data": data}),
                );
            }
            if let Some(pci) = &l.pci {
                obj.insert("parentbus".into(), "pci".into());
                obj.insert("parentdev".into(), pci.clone().into());
                self.write_pci(w, l, pci)?;
            } else {
                w.dir(&format!("sys/class/net/{}", l.name))?;
            }
            if let Some(sr) = &l.sriov {
                let vfs: Vec<Value> = (0..sr.num)
                    .map(|id| {
                        let mut vf = serde_json::Map::new();
                        vf.insert("vf".into(), id.into());
                        vf.insert("link_type".into(), "ether".into());
                        vf.insert("address".into(), "00:00:00:00:00:00".into());
                        vf.insert("vlan_list".into(), json!([{}]));
                        vf.insert("rate".into(), json!({"max_tx": 0, "min_tx": 0}));
                        vf.insert("spoofchk".into(), true.into());
                        vf.insert("link_state".into(), "auto".into());
                        vf.insert("trust".into(), false.into());
                        if let Some(set) = sr.vf_settings.get(&id) {
                            vf.extend(set.clone());
                        }
                        Value::Object(vf)
                    })
                    .collect();
                obj.insert("vfinfo_list".into(), vfs.into());
            }
            link_json.push(j);
            let mut infos: Vec<Value> = l
                .addrs
                .iter()
                .map(|(ip, prefix)| {
                    let family = if ip.contains(':') { "inet6" } else { "inet" };
                    json!({"family": family, "local": ip, "prefixlen": prefix, "scope": "global"})
                })
                .collect();
            if l.up {
                // The automatic link-local address (the probe's address parser drops it).
                infos.push(
                    json!({"family": "inet6", "local": format!("fe80::5054:ff:fe00:{ifindex:x}"),
                    "prefixlen": 64, "scope": "link"}),
                );
            }
            addr_json.push(json!({"ifindex": ifindex, "ifname": l.name, "addr_info": infos}));
        }
        if bonding_masters.is_empty() {
            w.remove("sys/class/net/bonding_masters")?;
        } else {
            w.file(
                "sys/class/net/bonding_masters",
                &format!("{}\n", bonding_masters.join(" ")),
            )?;
        }
        w.file("ip-link.json", &Value::Array(link_json).to_string())?;
        w.file("ip-addr.json", &Value::Array(addr_json).to_string())
    }

    /// `ip-route.json` and `ip-route6.json` as `ip -j -4/-6 route show table all` print
    /// them on a Debian 12 host: the connected prefix of every IPv4 address (`proto kernel
    /// scope link`) and its `local` table entry, `fe80::/64` on every link that is up, and
    /// the spec's routes (`proto static`; IPv6 routes without a metric get the kernel's 1024;
    /// a route without `next-hop-interface` goes out of the first link).
    fn write_routes(&self, w: &Writer<'_>) -> Result<(), SysrootError> {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for l in &self.links {
            for (ip, prefix) in &l.addrs {
                if ip.contains(':') {
                    continue;
                }
                let net = crate::os::iproute::parse_prefix(&format!("{ip}/{prefix}"), false)
                    .map_or_else(|| ip.clone(), |(n, _)| n.to_string());
                v4.push(json!({"dst": format!("{net}/{prefix}"), "dev": l.name,
                    "protocol": "kernel", "scope": "link", "prefsrc": ip, "flags": []}));
                v4.push(
                    json!({"type": "local", "dst": ip, "table": "local", "dev": l.name,
                    "protocol": "kernel", "scope": "host", "prefsrc": ip, "flags": []}),
                );
            }
            if l.up {
                v6.push(
                    json!({"dst": "fe80::/64", "dev": l.name, "protocol": "kernel",
                    "metric": 256, "pref": "medium", "flags": []}),
                );
            }
        }
        v4.push(
            json!({"type": "local", "dst": "127.0.0.1", "table": "local", "dev": "lo",
            "protocol": "kernel", "scope": "host", "prefsrc": "127.0.0.1", "flags": []}),
        );
        v6.push(
            json!({"type": "local", "dst": "::1", "table": "local", "dev": "lo",
            "protocol": "kernel", "metric": 0, "pref": "medium", "flags": []}),
        );
        let first = self.links.first().map_or("lo", |l| l.name.as_str());
        for r in &self.routes {
            let is_v6 = r.destination.contains(':');
            let dst = match r.destination.as_str() {
                "0.0.0.0/0" | "::/0" => "default".to_string(),
                d => d
                    .strip_suffix(if is_v6 { "/128" } else { "/32" })
                    .unwrap_or(d)
                    .to_string(),
            };
            let mut j = serde_json::Map::new();
            j.insert("dst".into(), dst.into());
            if let Some(g) = r
                .next_hop_address
                .as_ref()
                .filter(|g| !matches!(g.as_str(), "0.0.0.0" | "::"))
            {
                j.insert("gateway".into(), g.clone().into());
            }
            j.insert(
                "dev".into(),
                r.next_hop_interface.as_deref().unwrap_or(first).into(),
            );
            if let Some(t) = r.table_id.filter(|t| *t != 0 && *t != 254) {
                j.insert("table".into(), t.to_string().into());
            }
            j.insert("protocol".into(), "static".into());
            match (r.metric, is_v6) {
                (Some(m), _) if m != 0 || is_v6 => {
                    j.insert("metric".into(), m.into());
                }
                (None, true) => {
                    j.insert("metric".into(), 1024.into());
                }
                _ => {}
            }
            j.insert("flags".into(), json!([]));
            if is_v6 {
                j.insert("pref".into(), "medium".into());
                v6.push(Value::Object(j));
            } else {
                v4.push(Value::Object(j));
            }
        }
        w.file("ip-route.json", &Value::Array(v4).to_string())?;
        w.file("ip-route6.json", &Value::Array(v6).to_string())
    }

    /// systemd-resolved's files, as on a Debian 12 host running it: `/etc/resolv.conf`
    /// naming only the stub `127.0.0.53` (a regular file here: a sysroot cannot hold the
    /// host's absolute symlink) and `/run/systemd/resolve/resolv.conf` with the spec's
    /// servers and search list.
    fn write_resolver(&self, w: &Writer<'_>) -> Result<(), SysrootError> {
        let search = self
            .dns
            .as_ref()
            .filter(|d| !d.search.is_empty())
            .map(|d| format!("search {}\n", d.search.join(" ")))
            .unwrap_or_default();
        w.file(
            "etc/resolv.conf",
            &format!("# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\nnameserver 127.0.0.53\noptions edns0 trust-ad\n{search}"),
        )?;
        let mut uplink = String::from(
            "# This is /run/systemd/resolve/resolv.conf managed by man:systemd-resolved(8).\n",
        );
        for server in self.dns.iter().flat_map(|d| d.server.iter()) {
            if server.contains('\n') {
                return Err(self.invalid(format!("DNS server {server:?}")));
            }
            uplink.push_str(&format!("nameserver {server}\n"));
        }
        if search.contains('\n') && search.matches('\n').count() > 1 {
            return Err(self.invalid("DNS search domain with a newline".into()));
        }
        uplink.push_str(&search);
        w.file("run/systemd/resolve/resolv.conf", &uplink)?;
        w.file("usr/lib/systemd/systemd-resolved", "")?;
        w.file("run/systemd/units/invocation:systemd-resolved.service", "")
    }

    /// The PF's device directory, its `sys/class/net` entry and, for SR-IOV, its VFs.
    fn write_pci(&self, w: &Writer<'_>, l: &LinkOs, pci: &str) -> Result<(), SysrootError> {
        plain_component("PCI address", &self.host, pci)?;
        let dev = format!("sys/devices/pci0000:00/{pci}");
        let driver = l.sriov.as_ref().map_or("igb", |s| s.driver);
        w.dir(&format!("sys/bus/pci/drivers/{driver}"))?;
        w.symlink(
            &format!("{dev}/driver"),
            &format!("sys/bus/pci/drivers/{driver}"),
        )?;
        w.symlink(&format!("sys/class/net/{}/device", l.name), &dev)?;
        let Some(sr) = &l.sriov else {
            return Ok(());
        };
        w.file(&format!("{dev}/sriov_totalvfs"), &format!("{}\n", sr.total))?;
        w.file(&format!("{dev}/sriov_numvfs"), &format!("{}\n", sr.num))?;
        w.file(&format!("{dev}/sriov_drivers_autoprobe"), "1\n")?;
        let domain = sr.pci.split(':').next().unwrap_or("0000");
        for id in 0..sr.num {
            let bus = sr.vf_bus + id / 256;
            let vf_pci = format!("{domain}:{bus:02x}:{:02x}.{}", (id % 256) / 8, id % 8);
            let vf_dev = format!("sys/devices/pci0000:00/{vf_pci}");
            w.symlink(&format!("{dev}/virtfn{id}"), &vf_dev)?;
            if sr.vfio.contains(&id) {
                w.dir("sys/bus/pci/drivers/vfio-pci")?;
                w.file(&format!("sys/bus/pci/drivers/vfio-pci/{vf_pci}"), "")?;
                w.symlink(&format!("{vf_dev}/driver"), "sys/bus/pci/drivers/vfio-pci")?;
            } else {
                w.dir(&format!("sys/bus/pci/drivers/{}", sr.vf_driver))?;
                w.symlink(
                    &format!("{vf_dev}/driver"),
                    &format!("sys/bus/pci/drivers/{}", sr.vf_driver),
                )?;
                w.dir(&format!("{vf_dev}/net/{}v{id}", l.name))?;
            }
        }
        Ok(())
    }
}

/// Writes below one sysroot; paths are relative to it.
struct Writer<'a> {
    root: &'a Path,
}

impl Writer<'_> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SysrootError + '_ {
        move |source| SysrootError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn dir(&self, rel: &str) -> Result<(), SysrootError> {
        let p = self.root.join(rel);
        std::fs::create_dir_all(&p).map_err(Self::io(&p))
    }

    fn file(&self, rel: &str, content: &str) -> Result<(), SysrootError> {
        let p = self.root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(Self::io(parent))?;
        }
        std::fs::write(&p, content).map_err(Self::io(&p))
    }

    fn remove(&self, rel: &str) -> Result<(), SysrootError> {
        let p = self.root.join(rel);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Self::io(&p)(e)),
            _ => Ok(()),
        }
    }

    /// A relative symlink at `rel` to `target` (both relative to the root), replacing an
    /// existing link.
    fn symlink(&self, rel: &str, target: &str) -> Result<(), SysrootError> {
        let p = self.root.join(rel);
        let depth = Path::new(rel).components().count().saturating_sub(1);
        let mut t = "../".repeat(depth);
        t.push_str(target);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(Self::io(parent))?;
        }
        if std::fs::symlink_metadata(&p).is_ok() {
            std::fs::remove_file(&p).map_err(Self::io(&p))?;
        }
        std::os::unix::fs::symlink(&t, &p).map_err(Self::io(&p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::probe::{Probe, ProbeRequest, run_probe};
    use crate::os::transport::Transport;
    use crate::spec::LoadedFleet;

    fn example() -> LoadedFleet {
        let fleet = crate::spec::load::load_dir(Path::new("examples/fleet")).unwrap();
        assert!(!fleet.has_errors(), "{:?}", fleet.diagnostics.first());
        fleet
    }

    fn request(host: &Host) -> ProbeRequest {
        let os = host.settings.os.as_ref();
        ProbeRequest {
            sysctl: os
                .map(|o| o.sysctl.keys().cloned().collect())
                .unwrap_or_default(),
            sysfs: os
                .map(|o| o.sysfs.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    async fn probe(root: &Path, host: &Host) -> Probe {
        let t = Transport::Local {
            sysroot: root.to_path_buf(),
        };
        run_probe(&t, &request(host)).await.unwrap()
    }

    fn sha256_hex(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Every value the spec sets, read back through the probe.
    fn assert_matches_spec(host: &Host, fleet: &LoadedFleet, p: &Probe) {
        let h = &host.name;
        assert!(p.errors.is_empty(), "{h}: {:?}", p.errors);
        assert!(p.sysroot);
        let s = &host.settings;
        let links = p.links.as_ref().unwrap();
        let addrs = p.addrs.as_ref().unwrap();
        let vfio =
            s.os.as_ref()
                .and_then(|o| o.vfio.as_ref())
                .map(|v| v.vfs.clone())
                .unwrap_or_default();
        for iface in s.network.iter().flat_map(|n| &n.interfaces) {
            let l = links
                .get(&iface.name)
                .unwrap_or_else(|| panic!("{h}: {} missing", iface.name));
            if let Some(mtu) = iface.mtu {
                assert_eq!(l.mtu, Some(u32::try_from(mtu).unwrap()), "{h} {}", l.name);
            }
            assert!(l.admin_up(), "{h} {}", l.name);
            if let Some(t) = iface.iface_type {
                assert_eq!(l.iface_type, Some(t), "{h} {}", l.name);
            }
            if let Some(bond) = &iface.link_aggregation {
                let la = l.link_aggregation.as_ref().unwrap();
                assert_eq!(la.mode, bond.mode, "{h} {}", l.name);
                let mut ports = bond.port.clone().unwrap_or_default();
                ports.sort();
                assert_eq!(la.port, ports, "{h} {}", l.name);
                for (k, v) in &bond.options {
                    assert_eq!(la.options.get(k), Some(&v.to_json()), "{h} {} {k}", l.name);
                }
                for port in &ports {
                    let pl = &links[port];
                    assert_eq!(pl.master.as_deref(), Some(iface.name.as_str()));
                    assert_eq!(pl.own_mac(), Some(mac_for(h, port).as_str()));
                }
            }
            if let Some(v) = &iface.vlan {
                let lv = l.vlan.as_ref().unwrap();
                assert_eq!(lv.base_iface, v.base_iface, "{h} {}", l.name);
                assert_eq!(lv.id.map(i64::from), v.id, "{h} {}", l.name);
            }
            let mut want: Vec<String> = [&iface.ipv4, &iface.ipv6]
                .into_iter()
                .flatten()
                .flat_map(|c| &c.address)
                .map(|a| format!("{}/{}", a.ip, a.prefix_length))
                .collect();
            let mut got: Vec<String> = addrs[&iface.name]
                .iter()
                .map(|a| format!("{}/{}", a.ip, a.prefix_length))
                .collect();
            want.sort();
            got.sort();
            assert_eq!(got, want, "{h} {}", l.name);
            if let Some(total) = iface
                .ethernet
                .as_ref()
                .and_then(|e| e.sr_iov.as_ref())
                .and_then(|s| s.total_vfs)
            {
                let pf = &p.sriov[&iface.name];
                assert_eq!(pf.num_vfs.map(i64::from), Some(total), "{h} {}", l.name);
                assert!(pf.total_vfs.unwrap() >= pf.num_vfs.unwrap());
                assert_eq!(pf.vfs.len() as i64, total);
                let bound: BTreeSet<u32> = vfio
                    .iter()
                    .filter(|v| v.pf == iface.name)
                    .flat_map(|v| parse_ids(&v.ids))
                    .collect();
                for (id, vf) in &pf.vfs {
                    assert!(vf.info.is_some(), "{h} {} vf {id}", l.name);
                    if bound.contains(id) {
                        assert_eq!(vf.driver.as_deref(), Some("vfio-pci"));
                        assert!(vf.netdevs.is_empty());
                        let pci = vf.pci.as_ref().unwrap();
                        assert!(p.vfio_pci.as_ref().unwrap().contains(pci));
                    } else {
                        assert_eq!(vf.netdevs, vec![format!("{}v{id}", iface.name)]);
                    }
                }
            }
        }
        let os = s.os.as_ref();
        if let Some(hp) = os.and_then(|o| o.hugepages.as_ref()) {
            if let Some(d) = &hp.default_size {
                assert_eq!(p.default_hugepage_kb, crate::os::probe::page_size_kb(d));
            }
            let mut per_size: BTreeMap<u64, u64> = BTreeMap::new();
            for pages in &hp.pages {
                let kb = crate::os::probe::page_size_kb(&pages.size).unwrap();
                *per_size.entry(kb).or_default() += pages.count;
                if let Some(node) = pages.node {
                    assert_eq!(p.hugepages[&kb].shortfall(node, pages.count), Some(0));
                    assert_eq!(p.hugepages[&kb].per_node[&node].total, Some(pages.count));
                }
            }
            for (kb, total) in per_size {
                assert_eq!(p.hugepages[&kb].total, Some(total), "{h} {kb}");
                assert_eq!(p.hugepages[&kb].free, Some(total), "{h} {kb}");
            }
        }
        let configured = p.configured_args.effective().unwrap();
        for arg in os
            .and_then(|o| o.kernel_args.as_ref())
            .into_iter()
            .flatten()
        {
            assert!(p.cmdline.contains(arg), "{h}: {arg} not in {:?}", p.cmdline);
            assert!(configured.contains(arg), "{h}: {arg} not in {configured:?}");
        }
        for (k, v) in os.iter().flat_map(|o| &o.sysctl) {
            assert_eq!(
                p.sysctl[k].as_deref(),
                Some(scalar_text(v).as_str()),
                "{h} {k}"
            );
        }
        for (k, v) in os.iter().flat_map(|o| &o.sysfs) {
            assert_eq!(
                p.sysfs[k].as_deref(),
                Some(scalar_text(v).as_str()),
                "{h} {k}"
            );
        }
        if let Some(ci) = &s.cloud_init {
            assert_eq!(p.cloud_init.instance_id, Some(instance_id(h)));
            let docs = [
                ("user-data", &ci.user_data),
                ("meta-data", &ci.meta_data),
                ("network-config", &ci.network_config),
            ];
            for (key, src) in docs {
                let Some(src) = src else { continue };
                let text = match (&src.inline, &src.file) {
                    (Some(t), _) => t.clone(),
                    (_, Some(f)) => fleet.data_files[f].to_string(),
                    _ => unreachable!(),
                };
                let path = format!("/{NOCLOUD_SEED}/{key}");
                assert_eq!(
                    p.cloud_init.digests.get(&path),
                    Some(&sha256_hex(&text)),
                    "{h} {key}"
                );
            }
        }
    }

    #[tokio::test]
    async fn undrifted_sysroots_probe_back_to_the_spec() {
        let fleet = example();
        let hosts: Vec<&Host> = fleet.hosts.iter().collect();
        let tmp = tempfile::tempdir().unwrap();
        let calm = Seeding {
            seed: 7,
            drift_rate: 0.0,
            factory_rate: 0.0,
        };
        let out = write_sysroots(&hosts, &fleet.data_files, tmp.path(), calm).unwrap();
        assert!(out.drift.is_empty());
        assert_eq!(out.roots.len(), hosts.len());
        // What the example exercises, so that the checks below are not vacuous.
        let s01 = hosts.iter().find(|h| h.name == "r1-s01").unwrap();
        assert!(s01.settings.network.as_ref().unwrap().interfaces.len() >= 4);
        for host in &hosts {
            let p = probe(&out.roots[&host.name], host).await;
            assert_matches_spec(host, &fleet, &p);
        }
        let c01 = hosts.iter().find(|h| h.name == "r1-c01").unwrap();
        let p = probe(&out.roots["r1-c01"], c01).await;
        assert_eq!(p.sriov["ens1f0"].num_vfs, Some(16));
        assert_eq!(p.hugepages[&KB_1G].per_node[&1].total, Some(32));
        assert_eq!(p.sysctl["vm.swappiness"].as_deref(), Some("10"));
        // Rewriting over the same directory gives the same result.
        let again = write_sysroots(&hosts, &fleet.data_files, tmp.path(), calm).unwrap();
        assert_eq!(again, out);
        assert_eq!(probe(&out.roots["r1-c01"], c01).await, p);
    }

    #[tokio::test]
    async fn each_drift_shows_in_the_probe() {
        let fleet = example();
        let hosts: Vec<&Host> = fleet.hosts.iter().collect();
        // Find a (seed, host) for every kind of drift without writing anything.
        let mut found: BTreeMap<u8, (u64, &Host)> = BTreeMap::new();
        for seed in 0..200u64 {
            for host in &hosts {
                let mut m = HostOs::from_spec(host, &fleet.data_files).unwrap();
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x05_d1f7 ^ name_hash(&host.name));
                assert!(rng.random_bool(1.0));
                let tag = match m.drift(&mut rng) {
                    Some(OsDriftKind::VfsMissing { .. }) => 0,
                    Some(OsDriftKind::HugepagesShort { .. }) => 1,
                    Some(OsDriftKind::KernelArgMissing { .. }) => 2,
                    Some(OsDriftKind::Mtu { .. }) => 3,
                    Some(OsDriftKind::BondPortMissing { .. }) => 4,
                    Some(OsDriftKind::Sysctl { .. }) => 5,
                    Some(OsDriftKind::StaleUserData) => 6,
                    None => continue,
                };
                found.entry(tag).or_insert((seed, host));
            }
        }
        assert_eq!(found.len(), 7, "kinds found: {:?}", found.keys());
        let tmp = tempfile::tempdir().unwrap();
        for (tag, (seed, host)) in found {
            let seeding = Seeding {
                seed,
                drift_rate: 1.0,
                factory_rate: 0.0,
            };
            let dir = tmp.path().join(format!("k{tag}"));
            let out = write_sysroots(&[host], &fleet.data_files, &dir, seeding).unwrap();
            assert_eq!(out.drift.len(), 1);
            let d = &out.drift[0];
            assert_eq!(d.host, host.name);
            let words = d.to_string();
            assert!(words.starts_with(&format!("{}: ", host.name)), "{words}");
            let p = probe(&out.roots[&host.name], host).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            let links = p.links.as_ref().unwrap();
            match &d.kind {
                OsDriftKind::VfsMissing { interface, wanted } => {
                    assert!(*wanted > 0);
                    assert_eq!(p.sriov[interface].num_vfs, Some(0), "{words}");
                    assert!(p.sriov[interface].vfs.is_empty());
                    assert!(words.contains("0 VFs instead of"), "{words}");
                }
                OsDriftKind::HugepagesShort {
                    size_kb,
                    node,
                    wanted,
                    actual,
                } => {
                    assert!(actual < wanted);
                    let hp = &p.hugepages[size_kb];
                    assert_eq!(
                        hp.shortfall(*node, *wanted),
                        Some(wanted - actual),
                        "{words}"
                    );
                }
                OsDriftKind::KernelArgMissing { arg } => {
                    assert!(!p.cmdline.contains(arg), "{words}");
                    assert!(!p.configured_args.effective().unwrap().contains(arg));
                    assert!(p.cmdline.len() > BASE_CMDLINE.split(' ').count());
                }
                OsDriftKind::Mtu {
                    interface, wanted, ..
                } => {
                    assert_ne!(*wanted, 1500);
                    assert_eq!(links[interface].mtu, Some(1500), "{words}");
                }
                OsDriftKind::BondPortMissing { bond, port } => {
                    let la = links[bond].link_aggregation.as_ref().unwrap();
                    assert!(!la.port.contains(port), "{words}");
                    assert!(!la.port.is_empty());
                    assert_eq!(links[port].master, None);
                    assert!(links[port].bond_port.is_none());
                }
                OsDriftKind::Sysctl {
                    key,
                    wanted,
                    actual,
                } => {
                    assert_ne!(wanted, actual);
                    assert_eq!(p.sysctl[key].as_deref(), Some(actual.as_str()), "{words}");
                }
                OsDriftKind::StaleUserData => {
                    let src = host
                        .settings
                        .cloud_init
                        .as_ref()
                        .and_then(|c| c.user_data.as_ref())
                        .and_then(|u| u.file.as_ref())
                        .unwrap();
                    let spec = sha256_hex(&fleet.data_files[src]);
                    let seed_path = format!("/{NOCLOUD_SEED}/user-data");
                    let live = &p.cloud_init.digests;
                    assert_ne!(live[&seed_path], spec, "{words}");
                    assert_eq!(
                        live[&seed_path],
                        live["/var/lib/cloud/instance/user-data.txt"]
                    );
                }
            }
        }
    }

    #[test]
    fn drift_rate_and_seed_are_honoured() {
        let fleet = example();
        let hosts: Vec<&Host> = fleet.hosts.iter().collect();
        let tmp = tempfile::tempdir().unwrap();
        let all = Seeding {
            seed: 3,
            drift_rate: 1.0,
            factory_rate: 0.0,
        };
        let a = write_sysroots(&hosts, &fleet.data_files, &tmp.path().join("a"), all).unwrap();
        // Every example host manages something the facet can drift.
        assert_eq!(a.drift.len(), hosts.len());
        let b = write_sysroots(&hosts, &fleet.data_files, &tmp.path().join("b"), all).unwrap();
        assert_eq!(a.drift, b.drift);
        // A host drifts the same way when written alone.
        let one =
            write_sysroots(&hosts[2..3], &fleet.data_files, &tmp.path().join("c"), all).unwrap();
        assert_eq!(one.drift[0], a.drift[2]);
        let nan = Seeding {
            drift_rate: f64::NAN,
            ..all
        };
        let n = write_sysroots(&hosts, &fleet.data_files, &tmp.path().join("d"), nan).unwrap();
        assert!(n.drift.is_empty());
    }

    #[test]
    fn names_that_are_not_paths_are_refused() {
        let fleet = example();
        let mut host = fleet.hosts[0].clone();
        host.name = "../escape".into();
        let tmp = tempfile::tempdir().unwrap();
        let err = write_sysroots(&[&host], &fleet.data_files, tmp.path(), Seeding::default())
            .unwrap_err();
        assert!(matches!(err, SysrootError::Invalid { .. }), "{err}");
        let mut host = fleet.hosts[0].clone();
        let os = host.settings.os.get_or_insert_with(Default::default);
        os.sysfs.insert("/sys/../etc/passwd".into(), Scalar::Int(1));
        let err = write_sysroots(&[&host], &fleet.data_files, tmp.path(), Seeding::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a path under /sys/"), "{err}");
        assert!(!tmp.path().parent().unwrap().join("etc/passwd").exists());
        assert_eq!(parse_ids("0-3, 7,x,9-8"), BTreeSet::from([0, 1, 2, 3, 7]));
    }
}
