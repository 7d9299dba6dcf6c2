//! The OS probe: one POSIX-sh script ([`PROBE_SCRIPT`], the file `src/os/probe.sh`) runs on
//! the host in one round trip and prints one JSON document; [`Probe::parse`] turns it into
//! typed state.
//!
//! The script reads files and sysfs and never starts Python tools (`cloud-init status` costs
//! seconds of interpreter start-up on a slow host; `ip -j` and `cat` tens of milliseconds). Its
//! header documents the raw document: file contents are JSON strings capped in size, missing
//! pieces are `null` with an entry in `errors`. This module parses numbers, iproute2 JSON
//! ([`super::iproute`]), the kernel command line, GRUB defaults files and os-release, and adds
//! an issue to [`Probe::errors`] for every piece it cannot read instead of failing the whole
//! probe. Only an output that is too large, not JSON, or of another probe version is an error.
//!
//! Sources: kernel `Documentation/ABI/testing/sysfs-bus-pci` (SR-IOV),
//! `Documentation/admin-guide/mm/hugetlbpage.rst` (hugepages),
//! `Documentation/admin-guide/kernel-parameters.rst` and `lib/cmdline.c` (command line),
//! os-release(5), sysctl.d(5), GNU GRUB manual "Simple configuration" (`/etc/default/grub`),
//! cloud-init docs (`reference/datasources/nocloud.rst`).

use super::iproute::{self, IfAddress, KernelRoute, Link, VfInfo};
use super::resolv::{ResolvConf, Resolver};
use super::transport::{Transport, TransportError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The probe script (`src/os/probe.sh`), sent on the remote shell's stdin (`sh -s`).
pub const PROBE_SCRIPT: &str = include_str!("probe.sh");

/// The output version this parser reads (`probe_version` in the document).
pub const PROBE_VERSION: u32 = 1;

/// The largest probe output [`Probe::parse`] accepts, in bytes (4 MiB). The script caps what
/// it reads (iproute2 output at 1 MiB each, files at 64 KiB) so that a real host stays far
/// below it.
pub const MAX_PROBE_OUTPUT: usize = 4 * 1024 * 1024;

/// What to read besides the fixed set: the sysctl and sysfs keys a spec names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeRequest {
    /// sysctl keys in sysctl.d(5) syntax (`net.ipv4.ip_forward`), read from `/proc/sys`.
    pub sysctl: Vec<String>,
    /// Absolute sysfs paths (`/sys/kernel/mm/transparent_hugepage/enabled`).
    pub sysfs: Vec<String>,
}

impl ProbeRequest {
    /// The script's arguments: `sysctl:KEY` and `sysfs:PATH`. The script refuses keys that
    /// contain `..` and sysfs paths outside `/sys/` (each is reported in [`Probe::errors`]).
    pub fn args(&self) -> Vec<String> {
        self.sysctl
            .iter()
            .map(|k| format!("sysctl:{k}"))
            .chain(self.sysfs.iter().map(|p| format!("sysfs:{p}")))
            .collect()
    }
}

/// Something the probe could not read, or read only in part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeIssue {
    /// What it concerns: a path on the host (without the sysroot prefix), a command
    /// (`ip -j -d link`) or an argument (`sysctl:../x`).
    pub path: String,
    /// Why: `missing`, `unreadable`, `truncated at 65536 bytes`, `command not found`,
    /// `refused key`, or a parse failure.
    pub reason: String,
}

impl std::fmt::Display for ProbeIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why a probe output could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Running the script failed (connection, timeout, exit status, output bound).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The output is larger than [`MAX_PROBE_OUTPUT`].
    #[error("probe output of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Output size in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The output is not the probe's JSON document.
    #[error("probe output is not the probe's JSON document: {0}")]
    Json(#[source] serde_json::Error),
    /// The output comes from another version of the script.
    #[error("probe output has version {found}; this bmfleet reads version {expected}")]
    Version {
        /// `probe_version` in the output.
        found: u32,
        /// [`PROBE_VERSION`].
        expected: u32,
    },
    /// A parse error, with the host it came from.
    #[error("{host}: {source}")]
    OnHost {
        /// The host (transport destination).
        host: String,
        /// What failed.
        #[source]
        source: Box<ProbeError>,
    },
}

/// Everything one probe read from a host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Probe {
    /// Whether the script ran against a sysroot directory (the `local` transport).
    pub sysroot: bool,
    /// The user id the probe ran as (`id -u`; 0 through `sudo`); `None` in sysroot mode or
    /// when `id` is missing. bmfleet writes `/etc`, `/proc/sys` and `/sys` as root.
    pub uid: Option<u32>,
    /// Links by name from `ip -j -d link`; `None` when `ip` is missing or its output could
    /// not be read (see [`Probe::errors`]): the host's network is then not observed.
    pub links: Option<BTreeMap<String, Link>>,
    /// Addresses by interface name from `ip -j addr`, without IPv6 link-local addresses;
    /// `None` like `links`.
    pub addrs: Option<BTreeMap<String, Vec<IfAddress>>>,
    /// Routes of every table, IPv4 then IPv6, from `ip -j -4 route show table all` and
    /// `ip -j -6 route show table all` (kernel-added ones included, see
    /// [`KernelRoute::kernel_added`]); `None` when neither could be read. In sysroot mode a
    /// missing `ip-route.json` / `ip-route6.json` is no routes.
    pub routes: Option<Vec<KernelRoute>>,
    /// The resolver configuration files (`/etc/resolv.conf`, systemd-resolved's).
    pub resolver: Resolver,
    /// SR-IOV physical functions by interface name (every netdev whose device has
    /// `sriov_totalvfs`).
    pub sriov: BTreeMap<String, PfState>,
    /// PCI addresses bound to `vfio-pci` (`/sys/bus/pci/drivers/vfio-pci`); `None` when the
    /// driver is not loaded.
    pub vfio_pci: Option<Vec<String>>,
    /// Hugepage pools by page size in kB (2048, 1048576); empty when the kernel reports none.
    pub hugepages: BTreeMap<u64, HugepageSize>,
    /// The default hugepage size in kB (`Hugepagesize` in `/proc/meminfo`).
    pub default_hugepage_kb: Option<u64>,
    /// The running kernel's command line (`/proc/cmdline`), split as the kernel splits it
    /// ([`split_cmdline`]); empty when unreadable.
    pub cmdline: Vec<String>,
    /// Boot arguments configured for the next boot.
    pub configured_args: ConfiguredArgs,
    /// Requested sysctl keys -> value (one trailing newline removed); `None` when missing.
    pub sysctl: BTreeMap<String, Option<String>>,
    /// Requested sysfs paths -> value (one trailing newline removed); `None` when missing.
    pub sysfs: BTreeMap<String, Option<String>>,
    /// `os-release` (`/etc/os-release`, else `/usr/lib/os-release`); `None` when absent.
    pub os_release: Option<OsRelease>,
    /// Which network stacks are installed and active.
    pub net_stack: NetStack,
    /// cloud-init's state on the host.
    pub cloud_init: CloudInit,
    /// What could not be read, from the script and from parsing.
    pub errors: Vec<ProbeIssue>,
}

/// An SR-IOV physical function (kernel `Documentation/ABI/testing/sysfs-bus-pci`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PfState {
    /// PCI address (`0000:01:00.0`), from the `device` link.
    pub pci: Option<String>,
    /// Bound driver (`igb`, `ice`, `mlx5_core`): the basename of `device/driver`.
    pub driver: Option<String>,
    /// `sriov_totalvfs`: the most VFs the device supports.
    pub total_vfs: Option<u32>,
    /// `sriov_numvfs`: VFs enabled now (nmstate's `total-vfs` is the desired value of this).
    pub num_vfs: Option<u32>,
    /// `sriov_drivers_autoprobe`.
    pub drivers_autoprobe: Option<bool>,
    /// VFs by index (`device/virtfnN`), with what the PF's driver reports for each.
    pub vfs: BTreeMap<u32, VfState>,
}

/// One VF of a PF.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VfState {
    /// PCI address (`0000:01:10.0`), from the `virtfnN` link.
    pub pci: Option<String>,
    /// Bound driver (`igbvf`, `iavf`, `vfio-pci`); `None` when unbound.
    pub driver: Option<String>,
    /// The VF's netdev names (none when bound to vfio-pci). udev renames them after the
    /// `sriov_numvfs` write, so they are final only after `udevadm settle`.
    pub netdevs: Vec<String>,
    /// MAC, VLAN, trust and spoof checking as the PF's `vfinfo_list` reports them; `None`
    /// when iproute2 did not list this VF.
    pub info: Option<VfInfo>,
}

/// One hugepage size (`/sys/kernel/mm/hugepages/hugepages-<size>kB/`); counts are pages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HugepageSize {
    /// `nr_hugepages`: the persistent pool size.
    pub total: Option<u64>,
    /// `free_hugepages`.
    pub free: Option<u64>,
    /// `resv_hugepages`: reserved but not yet faulted in.
    pub reserved: Option<u64>,
    /// `surplus_hugepages`: pages above `nr_hugepages` from overcommit.
    pub surplus: Option<u64>,
    /// `nr_overcommit_hugepages`.
    pub overcommit: Option<u64>,
    /// Per NUMA node (`/sys/devices/system/node/nodeN/hugepages/...`).
    pub per_node: BTreeMap<u32, NodePages>,
}

impl HugepageSize {
    /// How many pages node `node` lacks to hold `wanted`: 0 when it has enough, `None` when
    /// the node or its count is unknown. A runtime allocation can fall short from memory
    /// fragmentation; this is how the shortfall is seen.
    pub fn shortfall(&self, node: u32, wanted: u64) -> Option<u64> {
        let have = self.per_node.get(&node)?.total?;
        Some(wanted.saturating_sub(have))
    }
}

/// Hugepages of one size on one NUMA node (pages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodePages {
    /// `nr_hugepages`.
    pub total: Option<u64>,
    /// `free_hugepages`.
    pub free: Option<u64>,
    /// `surplus_hugepages`.
    pub surplus: Option<u64>,
}

/// Boot arguments configured for the next boot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ConfiguredArgs {
    /// What `/etc/default/grub` and `/etc/default/grub.d/*.cfg` set; `None` when there is no
    /// `/etc/default/grub`.
    pub grub: Option<GrubDefaults>,
    /// `args` of `grubby --info=DEFAULT` (BLS hosts, RHEL family); `None` without grubby or
    /// in sysroot mode.
    pub grubby: Option<Vec<String>>,
}

impl ConfiguredArgs {
    /// The arguments the default boot entry gets: grubby's when present (it reads the boot
    /// entries themselves), else `GRUB_CMDLINE_LINUX` followed by `GRUB_CMDLINE_LINUX_DEFAULT`
    /// (the order `update-grub` writes them).
    pub fn effective(&self) -> Option<Vec<String>> {
        if let Some(args) = &self.grubby {
            return Some(args.clone());
        }
        let grub = self.grub.as_ref()?;
        let mut args = grub.cmdline_linux.clone().unwrap_or_default();
        args.extend(grub.cmdline_linux_default.clone().unwrap_or_default());
        Some(args)
    }
}

/// `GRUB_CMDLINE_LINUX` and `GRUB_CMDLINE_LINUX_DEFAULT` after sourcing `/etc/default/grub`
/// and then `/etc/default/grub.d/*.cfg` in order, as `update-grub` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct GrubDefaults {
    /// `GRUB_CMDLINE_LINUX` (every entry, recovery too), split into arguments; `None` when no
    /// file sets it.
    pub cmdline_linux: Option<Vec<String>>,
    /// `GRUB_CMDLINE_LINUX_DEFAULT` (the default entry only); `None` when no file sets it.
    pub cmdline_linux_default: Option<Vec<String>>,
    /// The files read, in order (host paths).
    pub files: Vec<String>,
}

/// The os-release(5) fields bmfleet uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `rhel`).
    pub id: Option<String>,
    /// `ID_LIKE`, split on spaces (`rhel centos fedora`).
    pub id_like: Vec<String>,
    /// `VERSION_ID` (`12`, `24.04`, `9.4`).
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// Evidence of which network stack manages the host's interfaces. "Active" comes from
/// `/run/systemd/units/invocation:UNIT` (present while systemd runs the unit), or from
/// `systemctl is-active` on hosts without that directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetStack {
    /// Whether `/run/systemd/units` exists (systemd is the init system).
    pub units_dir: bool,
    /// NetworkManager (`NetworkManager.service`).
    pub network_manager: StackState,
    /// systemd-networkd (`systemd-networkd.service`).
    pub systemd_networkd: StackState,
    /// ifupdown (`networking.service`, `/sbin/ifup`).
    pub ifupdown: StackState,
    /// Whether `/etc/network/interfaces` exists.
    pub ifupdown_interfaces_file: bool,
    /// Whether `/etc/network/interfaces` has a `source /etc/network/interfaces.d/*` line
    /// (Debian's default), so files bmfleet writes to `interfaces.d/` are read by ifupdown.
    pub ifupdown_sources_interfaces_d: bool,
    /// Whether netplan is installed.
    pub netplan_installed: bool,
    /// netplan configuration files (`/etc/netplan/*.yaml`).
    pub netplan_configs: Vec<String>,
    /// Whether `nmstatectl` is installed.
    pub nmstate_installed: bool,
    /// systemd-networkd's `ADMIN_STATE` per ifindex (`configured`, `unmanaged`, ...), from
    /// `/run/systemd/netif/links/<ifindex>`.
    pub networkd_links: BTreeMap<u32, String>,
    /// Interfaces ifupdown brought up (`/run/network/ifstate.<iface>`).
    pub ifupdown_up: Vec<String>,
}

/// Whether a network stack is installed and its service active.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StackState {
    /// Its program exists.
    pub installed: bool,
    /// `active`, `inactive` (or another `systemctl is-active` word); `None` when unknown.
    pub active: Option<String>,
}

impl StackState {
    /// Whether the service is active.
    pub fn is_active(&self) -> bool {
        self.active.as_deref() == Some("active")
    }
}

/// cloud-init's state, read from files (cloud-init docs: `reference/datasources/nocloud.rst`,
/// `explanation/instancedata.rst`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CloudInit {
    /// Whether `cloud-init` is installed.
    pub installed: bool,
    /// The last instance id (`/var/lib/cloud/data/instance-id`); cloud-init acts only on the
    /// first boot of a new one.
    pub instance_id: Option<String>,
    /// Whether `/run/cloud-init/disabled` exists (disabled on this boot, for example by the
    /// generator when no datasource is attached).
    pub disabled: bool,
    /// Whether `/run/cloud-init/status.json` exists (cloud-init ran on this boot).
    pub status_json: bool,
    /// SHA-256 (lower-case hex) of the files present, by host path:
    /// `/var/lib/cloud/instance/user-data.txt` and the NoCloud seed
    /// `/var/lib/cloud/seed/nocloud/{user-data,meta-data,network-config}`.
    pub digests: BTreeMap<String, String>,
}

// The script's raw document (see the header of probe.sh).
#[derive(Deserialize)]
struct Raw {
    // `probe_version` is checked before (see `Probe::parse`).
    #[serde(default)]
    sysroot: bool,
    uid: Option<u32>,
    os_release: Option<String>,
    cmdline: Option<String>,
    ip: Option<RawIp>,
    #[serde(default)]
    resolv: RawResolv,
    #[serde(default)]
    sriov: BTreeMap<String, RawPf>,
    vfio_pci: Option<Vec<String>>,
    hugepages: Option<BTreeMap<String, RawHugeSize>>,
    meminfo_hugepagesize: Option<String>,
    #[serde(default)]
    grub: Vec<RawGrubFile>,
    grubby: Option<String>,
    #[serde(default)]
    sysctl: BTreeMap<String, Option<String>>,
    #[serde(default)]
    sysfs: BTreeMap<String, Option<String>>,
    #[serde(default)]
    net_stack: RawNetStack,
    #[serde(default)]
    cloud_init: RawCloudInit,
    #[serde(default)]
    errors: Vec<ProbeIssue>,
}

#[derive(Deserialize)]
struct RawIp {
    link: Option<String>,
    addr: Option<String>,
    #[serde(default)]
    route: Option<String>,
    #[serde(default)]
    route6: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawResolv {
    etc: Option<String>,
    etc_link: Option<String>,
    resolved: Option<String>,
}

#[derive(Deserialize)]
struct RawPf {
    pci: Option<String>,
    driver: Option<String>,
    sriov_totalvfs: Option<String>,
    sriov_numvfs: Option<String>,
    sriov_drivers_autoprobe: Option<String>,
    #[serde(default)]
    vfs: BTreeMap<String, RawVf>,
}

#[derive(Deserialize)]
struct RawVf {
    pci: Option<String>,
    driver: Option<String>,
    #[serde(default)]
    net: Vec<String>,
}

#[derive(Deserialize)]
struct RawHugeSize {
    nr_hugepages: Option<String>,
    free_hugepages: Option<String>,
    resv_hugepages: Option<String>,
    surplus_hugepages: Option<String>,
    nr_overcommit_hugepages: Option<String>,
    #[serde(default)]
    nodes: BTreeMap<String, RawNodePages>,
}

#[derive(Deserialize)]
struct RawNodePages {
    nr_hugepages: Option<String>,
    free_hugepages: Option<String>,
    surplus_hugepages: Option<String>,
}

#[derive(Deserialize)]
struct RawGrubFile {
    path: String,
    text: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawStack {
    #[serde(default)]
    installed: bool,
    active: Option<String>,
    #[serde(default)]
    interfaces_file: bool,
    #[serde(default)]
    interfaces_d_sourced: bool,
    #[serde(default)]
    configs: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawNetStack {
    #[serde(default)]
    units_dir: bool,
    #[serde(default, rename = "NetworkManager")]
    network_manager: RawStack,
    #[serde(default, rename = "systemd-networkd")]
    systemd_networkd: RawStack,
    #[serde(default)]
    ifupdown: RawStack,
    #[serde(default)]
    netplan: RawStack,
    #[serde(default)]
    nmstate: RawStack,
    #[serde(default)]
    networkd_links: BTreeMap<String, Option<String>>,
    #[serde(default)]
    ifupdown_up: Vec<String>,
}

#[derive(Deserialize, Default)]
struct RawCloudInit {
    #[serde(default)]
    installed: bool,
    instance_id: Option<String>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    status_json: bool,
    #[serde(default)]
    digests: BTreeMap<String, String>,
}

/// Parses a decimal count from a sysfs/procfs value; records an issue for anything else.
fn num<T: std::str::FromStr>(
    value: Option<&str>,
    path: &str,
    issues: &mut Vec<ProbeIssue>,
) -> Option<T> {
    let v = value?;
    match v.trim().parse::<T>() {
        Ok(n) => Some(n),
        Err(_) => {
            issues.push(ProbeIssue {
                path: path.to_string(),
                reason: format!("not a number: {}", v.escape_debug()),
            });
            None
        }
    }
}

impl Probe {
    /// Parses the script's output.
    ///
    /// Bytes that are not UTF-8 (a file's content is passed through as is) become U+FFFD.
    /// Pieces that cannot be read (iproute2 output that is not JSON, a count that is not a
    /// number) are left empty and named in [`Probe::errors`].
    ///
    /// # Errors
    ///
    /// [`ProbeError::TooLarge`] above [`MAX_PROBE_OUTPUT`] bytes, [`ProbeError::Json`] when
    /// the output is not the probe's JSON document, [`ProbeError::Version`] for another
    /// `probe_version`.
    pub fn parse(output: &[u8]) -> Result<Probe, ProbeError> {
        if output.len() > MAX_PROBE_OUTPUT {
            return Err(ProbeError::TooLarge {
                len: output.len(),
                limit: MAX_PROBE_OUTPUT,
            });
        }
        let text = String::from_utf8_lossy(output);
        // Read the version first so that a document of another version says so.
        #[derive(Deserialize)]
        struct Version {
            probe_version: u32,
        }
        let version: Version = serde_json::from_str(&text).map_err(ProbeError::Json)?;
        if version.probe_version != PROBE_VERSION {
            return Err(ProbeError::Version {
                found: version.probe_version,
                expected: PROBE_VERSION,
            });
        }
        let raw: Raw = serde_json::from_str(&text).map_err(ProbeError::Json)?;
        Ok(Probe::from_raw(raw))
    }

    fn from_raw(raw: Raw) -> Probe {
        let mut errors = raw.errors;

        let (links, addrs, routes) = match raw.ip {
            Some(ip) => {
                let v4 = ip
                    .route
                    .and_then(|t| iproute::parse_routes(&t, false, &mut errors));
                let v6 = ip
                    .route6
                    .and_then(|t| iproute::parse_routes(&t, true, &mut errors));
                let routes = match (v4, v6) {
                    (None, None) if !raw.sysroot => None,
                    (a, b) => Some(a.into_iter().chain(b).flatten().collect()),
                };
                (
                    ip.link.and_then(|t| iproute::parse_links(&t, &mut errors)),
                    ip.addr.and_then(|t| iproute::parse_addrs(&t, &mut errors)),
                    routes,
                )
            }
            None => (None, None, None),
        };
        let resolver = Resolver {
            etc: raw.resolv.etc.as_deref().map(ResolvConf::parse),
            etc_link: raw.resolv.etc_link,
            resolved: raw.resolv.resolved.as_deref().map(ResolvConf::parse),
        };

        let mut sriov = BTreeMap::new();
        for (name, pf) in raw.sriov {
            let at = |file: &str| format!("/sys/class/net/{name}/device/{file}");
            let vfinfo: &[VfInfo] = links
                .as_ref()
                .and_then(|l| l.get(&name))
                .map(|l| l.vfs.as_slice())
                .unwrap_or_default();
            let mut vfs = BTreeMap::new();
            for (index, vf) in pf.vfs {
                let Some(id) =
                    num::<u32>(Some(&index), &at(&format!("virtfn{index}")), &mut errors)
                else {
                    continue;
                };
                vfs.insert(
                    id,
                    VfState {
                        pci: vf.pci,
                        driver: vf.driver,
                        netdevs: vf.net,
                        info: vfinfo.iter().find(|v| v.id == id).cloned(),
                    },
                );
            }
            let state = PfState {
                pci: pf.pci,
                driver: pf.driver,
                total_vfs: num(
                    pf.sriov_totalvfs.as_deref(),
                    &at("sriov_totalvfs"),
                    &mut errors,
                ),
                num_vfs: num(pf.sriov_numvfs.as_deref(), &at("sriov_numvfs"), &mut errors),
                drivers_autoprobe: num::<u8>(
                    pf.sriov_drivers_autoprobe.as_deref(),
                    &at("sriov_drivers_autoprobe"),
                    &mut errors,
                )
                .map(|v| v != 0),
                vfs,
            };
            sriov.insert(name, state);
        }

        let mut hugepages = BTreeMap::new();
        for (size, h) in raw.hugepages.unwrap_or_default() {
            let dir = format!("/sys/kernel/mm/hugepages/hugepages-{size}kB");
            let Some(kb) = num::<u64>(Some(&size), &dir, &mut errors) else {
                continue;
            };
            let at = |f: &str| format!("{dir}/{f}");
            let mut per_node = BTreeMap::new();
            for (node, n) in h.nodes {
                let ndir =
                    format!("/sys/devices/system/node/node{node}/hugepages/hugepages-{size}kB");
                let Some(id) = num::<u32>(Some(&node), &ndir, &mut errors) else {
                    continue;
                };
                let nat = |f: &str| format!("{ndir}/{f}");
                per_node.insert(
                    id,
                    NodePages {
                        total: num(n.nr_hugepages.as_deref(), &nat("nr_hugepages"), &mut errors),
                        free: num(
                            n.free_hugepages.as_deref(),
                            &nat("free_hugepages"),
                            &mut errors,
                        ),
                        surplus: num(
                            n.surplus_hugepages.as_deref(),
                            &nat("surplus_hugepages"),
                            &mut errors,
                        ),
                    },
                );
            }
            hugepages.insert(
                kb,
                HugepageSize {
                    total: num(h.nr_hugepages.as_deref(), &at("nr_hugepages"), &mut errors),
                    free: num(
                        h.free_hugepages.as_deref(),
                        &at("free_hugepages"),
                        &mut errors,
                    ),
                    reserved: num(
                        h.resv_hugepages.as_deref(),
                        &at("resv_hugepages"),
                        &mut errors,
                    ),
                    surplus: num(
                        h.surplus_hugepages.as_deref(),
                        &at("surplus_hugepages"),
                        &mut errors,
                    ),
                    overcommit: num(
                        h.nr_overcommit_hugepages.as_deref(),
                        &at("nr_overcommit_hugepages"),
                        &mut errors,
                    ),
                    per_node,
                },
            );
        }
        let default_hugepage_kb = num(
            raw.meminfo_hugepagesize.as_deref(),
            "/proc/meminfo",
            &mut errors,
        );

        let cmdline = raw
            .cmdline
            .as_deref()
            .map(split_cmdline)
            .unwrap_or_default();

        let grub = (!raw.grub.is_empty()).then(|| parse_grub(&raw.grub, &mut errors));
        let grubby = raw.grubby.as_deref().and_then(|t| {
            let args = parse_grubby(t);
            if args.is_none() {
                errors.push(ProbeIssue {
                    path: "grubby --info=DEFAULT".into(),
                    reason: "no args= line".into(),
                });
            }
            args
        });

        let os_release = raw.os_release.as_deref().map(parse_os_release);

        let ns = raw.net_stack;
        let stack = |s: &RawStack| StackState {
            installed: s.installed,
            active: s.active.clone(),
        };
        let mut networkd_links = BTreeMap::new();
        for (index, text) in ns.networkd_links {
            let path = format!("/run/systemd/netif/links/{index}");
            let Some(id) = num::<u32>(Some(&index), &path, &mut errors) else {
                continue;
            };
            let state = text.as_deref().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("ADMIN_STATE="))
                    .map(str::to_string)
            });
            if let Some(state) = state {
                networkd_links.insert(id, state);
            }
        }
        let net_stack = NetStack {
            units_dir: ns.units_dir,
            network_manager: stack(&ns.network_manager),
            systemd_networkd: stack(&ns.systemd_networkd),
            ifupdown: stack(&ns.ifupdown),
            ifupdown_interfaces_file: ns.ifupdown.interfaces_file,
            ifupdown_sources_interfaces_d: ns.ifupdown.interfaces_d_sourced,
            netplan_installed: ns.netplan.installed,
            netplan_configs: ns.netplan.configs,
            nmstate_installed: ns.nmstate.installed,
            networkd_links,
            ifupdown_up: ns.ifupdown_up,
        };

        let ci = raw.cloud_init;
        let cloud_init = CloudInit {
            installed: ci.installed,
            instance_id: ci.instance_id.map(|s| s.trim().to_string()),
            disabled: ci.disabled,
            status_json: ci.status_json,
            digests: ci.digests,
        };

        Probe {
            sysroot: raw.sysroot,
            uid: raw.uid,
            links,
            addrs,
            routes,
            resolver,
            sriov,
            vfio_pci: raw.vfio_pci,
            hugepages,
            default_hugepage_kb,
            cmdline,
            configured_args: ConfiguredArgs { grub, grubby },
            sysctl: raw.sysctl,
            sysfs: raw.sysfs,
            os_release,
            net_stack,
            cloud_init,
            errors,
        }
    }

    /// The link whose own MAC ([`Link::own_mac`]: `permaddr` first) is `mac`, compared
    /// case-insensitively; `None` when no link has it or links were not read.
    pub fn link_by_mac(&self, mac: &str) -> Option<&Link> {
        self.links
            .as_ref()?
            .values()
            .find(|l| l.own_mac().is_some_and(|m| m.eq_ignore_ascii_case(mac)))
    }
}

/// Runs the probe through `transport` and parses its output.
///
/// # Errors
///
/// [`ProbeError::Transport`] when the script could not run or failed;
/// [`ProbeError::OnHost`] wrapping a parse error, naming the host.
pub async fn run_probe(transport: &Transport, request: &ProbeRequest) -> Result<Probe, ProbeError> {
    let out = transport.run_script(PROBE_SCRIPT, &request.args()).await?;
    Probe::parse(&out.stdout).map_err(|e| ProbeError::OnHost {
        host: transport.host_label(),
        source: Box::new(e),
    })
}

/// Splits a kernel command line into arguments the way the kernel does (`lib/cmdline.c`
/// `next_arg`): on unquoted whitespace, where a double quote toggles quoting. Arguments keep
/// their text as written, quotes included (`dyndbg="file x.c +p"`), so they compare equal to
/// what GRUB configuration and specs contain.
pub fn split_cmdline(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_quote = false;
    for c in line.chars() {
        if c.is_whitespace() && !in_quote {
            if !cur.is_empty() {
                args.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if c == '"' {
            in_quote = !in_quote;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        args.push(cur);
    }
    args
}

/// A page size as specs write it (`2M`, `1G`, `2048k`, plain kB) in kB.
pub fn page_size_kb(size: &str) -> Option<u64> {
    let s = size.trim();
    let (digits, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1),
        (i, 'm' | 'M') => (&s[..i], 1024),
        (i, 'g' | 'G') => (&s[..i], 1024 * 1024),
        _ => (s, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

/// os-release(5): `KEY=value` lines, values optionally in shell quotes.
fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = unquote_os_release(value);
        match key {
            "ID" => out.id = Some(value),
            "ID_LIKE" => out.id_like = value.split_whitespace().map(str::to_string).collect(),
            "VERSION_ID" => out.version_id = Some(value),
            "PRETTY_NAME" => out.pretty_name = Some(value),
            _ => {}
        }
    }
    out
}

fn unquote_os_release(v: &str) -> String {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `grubby --info=DEFAULT` prints `args="..."`.
fn parse_grubby(text: &str) -> Option<Vec<String>> {
    let line = text.lines().find_map(|l| l.trim().strip_prefix("args="))?;
    let inner = line
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(line);
    Some(split_cmdline(inner))
}

const GRUB_LINUX: &str = "GRUB_CMDLINE_LINUX";
const GRUB_DEFAULT: &str = "GRUB_CMDLINE_LINUX_DEFAULT";

/// Evaluates the two GRUB variables over the files in order, as `update-grub` sources them.
/// This reads the assignments of a defaults file (quotes, escapes, `$VAR` / `${VAR}` of the
/// two variables), not arbitrary shell: a command substitution or another variable in one of
/// the two values is reported as an issue and expands to nothing.
fn parse_grub(files: &[RawGrubFile], issues: &mut Vec<ProbeIssue>) -> GrubDefaults {
    let mut vars: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut out = GrubDefaults::default();
    for file in files {
        out.files.push(file.path.clone());
        let Some(text) = &file.text else { continue };
        let mut parser = ShellAssignments {
            s: text.as_bytes(),
            i: 0,
        };
        while let Some(stmt) = parser.next_statement() {
            let (name, value) = match stmt {
                Ok(Some(a)) => a,
                Ok(None) => continue,
                Err(reason) => {
                    issues.push(ProbeIssue {
                        path: file.path.clone(),
                        reason,
                    });
                    break;
                }
            };
            let key = match name.as_str() {
                GRUB_LINUX => GRUB_LINUX,
                GRUB_DEFAULT => GRUB_DEFAULT,
                _ => continue,
            };
            let mut expanded = String::new();
            for part in value {
                match part {
                    Word::Lit(s) => expanded.push_str(&s),
                    Word::Var(v) => match v.as_str() {
                        GRUB_LINUX | GRUB_DEFAULT => {
                            expanded.push_str(vars.get(v.as_str()).map_or("", String::as_str));
                        }
                        _ => issues.push(ProbeIssue {
                            path: file.path.clone(),
                            reason: format!("{key} uses ${v}, which bmfleet does not expand"),
                        }),
                    },
                    Word::Command => issues.push(ProbeIssue {
                        path: file.path.clone(),
                        reason: format!("{key} uses a command substitution bmfleet does not run"),
                    }),
                }
            }
            vars.insert(key, expanded);
        }
    }
    out.cmdline_linux = vars.get(GRUB_LINUX).map(|v| split_cmdline(v));
    out.cmdline_linux_default = vars.get(GRUB_DEFAULT).map(|v| split_cmdline(v));
    out
}

/// One statement of a defaults file: `Some((name, value))` for an assignment.
type Statement = Option<(String, Vec<Word>)>;

enum Word {
    Lit(String),
    Var(String),
    Command,
}

/// A reader of `NAME=value` statements in a shell file (enough for GRUB defaults files).
struct ShellAssignments<'a> {
    s: &'a [u8],
    i: usize,
}

impl ShellAssignments<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'\n' {
                break;
            }
        }
    }

    /// `None` at the end; `Ok(None)` for a statement that is not an assignment.
    fn next_statement(&mut self) -> Option<Result<Statement, String>> {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || c == b';' {
                self.i += 1;
            } else {
                break;
            }
        }
        let c = self.peek()?;
        if c == b'#' {
            self.skip_line();
            return Some(Ok(None));
        }
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' {
                self.i += 1;
            } else {
                break;
            }
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if name == "export" && self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            return Some(Ok(None));
        }
        if name.is_empty() || self.peek() != Some(b'=') {
            self.skip_line();
            return Some(Ok(None));
        }
        self.i += 1;
        Some(self.word().map(|w| Some((name, w))))
    }

    /// Skips a command substitution up to `close` (no nesting).
    fn command(&mut self, close: u8) -> Word {
        while self.peek().is_some_and(|c| c != close) {
            self.i += 1;
        }
        self.i += 1;
        Word::Command
    }

    fn var(&mut self) -> Word {
        // After `$`.
        if self.peek() == Some(b'(') {
            return self.command(b')');
        }
        if self.peek() == Some(b'{') {
            self.i += 1;
            let start = self.i;
            while self.peek().is_some_and(|c| c != b'}') {
                self.i += 1;
            }
            let name = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            self.i += 1;
            return Word::Var(name);
        }
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        if start == self.i {
            return Word::Lit("$".into());
        }
        Word::Var(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn word(&mut self) -> Result<Vec<Word>, String> {
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let flush = |lit: &mut Vec<u8>, parts: &mut Vec<Word>| {
            if !lit.is_empty() {
                parts.push(Word::Lit(String::from_utf8_lossy(lit).into_owned()));
                lit.clear();
            }
        };
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\n' | b';' => break,
                b'\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'\n') => self.i += 1,
                        Some(n) => {
                            lit.push(n);
                            self.i += 1;
                        }
                        None => {}
                    }
                }
                b'\'' => {
                    self.i += 1;
                    let start = self.i;
                    while self.peek().is_some_and(|c| c != b'\'') {
                        self.i += 1;
                    }
                    if self.peek().is_none() {
                        return Err("unterminated single quote".into());
                    }
                    lit.extend_from_slice(&self.s[start..self.i]);
                    self.i += 1;
                }
                b'"' => {
                    self.i += 1;
                    loop {
                        match self.peek() {
                            None => return Err("unterminated double quote".into()),
                            Some(b'"') => {
                                self.i += 1;
                                break;
                            }
                            Some(b'\\') => {
                                self.i += 1;
                                match self.peek() {
                                    Some(b'\n') => self.i += 1,
                                    Some(n @ (b'$' | b'`' | b'"' | b'\\')) => {
                                        lit.push(n);
                                        self.i += 1;
                                    }
                                    _ => lit.push(b'\\'),
                                }
                            }
                            Some(b'$') => {
                                self.i += 1;
                                flush(&mut lit, &mut parts);
                                parts.push(self.var());
                            }
                            Some(b'`') => {
                                self.i += 1;
                                flush(&mut lit, &mut parts);
                                parts.push(self.command(b'`'));
                            }
                            Some(n) => {
                                lit.push(n);
                                self.i += 1;
                            }
                        }
                    }
                }
                b'$' => {
                    self.i += 1;
                    flush(&mut lit, &mut parts);
                    parts.push(self.var());
                }
                b'`' => {
                    self.i += 1;
                    flush(&mut lit, &mut parts);
                    parts.push(self.command(b'`'));
                }
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        // The rest of the line after the word: a comment or more words; not an assignment.
        while self.peek().is_some_and(|c| c == b' ' || c == b'\t') {
            self.i += 1;
        }
        if self.peek() != Some(b'\n') && self.peek() != Some(b';') {
            self.skip_line();
        }
        Ok(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grub(files: &[(&str, &str)]) -> (GrubDefaults, Vec<ProbeIssue>) {
        let raw: Vec<RawGrubFile> = files
            .iter()
            .map(|(p, t)| RawGrubFile {
                path: p.to_string(),
                text: Some(t.to_string()),
            })
            .collect();
        let mut issues = Vec::new();
        (parse_grub(&raw, &mut issues), issues)
    }

    #[test]
    fn cmdline_splits_like_the_kernel() {
        assert_eq!(
            split_cmdline("  ro  quiet dyndbg=\"file a.c +p\" \"x y\"=1 a\tb\n"),
            [
                "ro",
                "quiet",
                "dyndbg=\"file a.c +p\"",
                "\"x y\"=1",
                "a",
                "b"
            ]
        );
        assert!(split_cmdline("").is_empty());
        // An unterminated quote runs to the end, as in the kernel.
        assert_eq!(split_cmdline("a=\"b c"), ["a=\"b c"]);
    }

    #[test]
    fn grub_files_are_evaluated_in_order() {
        let (g, issues) = grub(&[
            (
                "/etc/default/grub",
                "# comment\nGRUB_DEFAULT=0\nGRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n\
                 GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"console=ttyS0,115200n8 a=\\\"x y\\\"\" # c\n",
            ),
            (
                "/etc/default/grub.d/60-x.cfg",
                "GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} intel_iommu=on\"\n\
                 export GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt\"\n\
                 GRUB_CMDLINE_LINUX=$GRUB_CMDLINE_LINUX' hugepages=2'\n",
            ),
        ]);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            g.cmdline_linux.unwrap(),
            ["console=ttyS0,115200n8", "a=\"x y\"", "hugepages=2"]
        );
        assert_eq!(
            g.cmdline_linux_default.unwrap(),
            ["quiet", "intel_iommu=on", "iommu=pt"]
        );
        assert_eq!(g.files.len(), 2);
    }

    #[test]
    fn grub_oddities_are_reported_not_guessed() {
        let (g, issues) = grub(&[(
            "/etc/default/grub",
            "GRUB_CMDLINE_LINUX=\"$(cat /x) a\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"$OTHER b\"\n\
             GRUB_CMDLINE_LINUX_DEFAULT=\"c\n",
        )]);
        assert!(
            issues.iter().any(|i| i.reason.contains("$OTHER")),
            "{issues:?}"
        );
        assert!(
            issues.iter().any(|i| i.reason.contains("unterminated")),
            "{issues:?}"
        );
        assert_eq!(g.cmdline_linux.unwrap(), ["a"]);
        assert!(
            issues
                .iter()
                .any(|i| i.reason.contains("command substitution")),
            "{issues:?}"
        );
        assert_eq!(g.cmdline_linux_default.unwrap(), ["b"]);
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size_kb("2M"), Some(2048));
        assert_eq!(page_size_kb("1G"), Some(1_048_576));
        assert_eq!(page_size_kb("2048"), Some(2048));
        assert_eq!(page_size_kb("64k"), Some(64));
        assert_eq!(page_size_kb("G"), None);
        assert_eq!(page_size_kb(""), None);
        assert_eq!(page_size_kb("99999999999999999999G"), None);
    }

    #[test]
    fn parse_rejects_oversize_garbage_and_other_versions() {
        let big = vec![b' '; MAX_PROBE_OUTPUT + 1];
        assert!(matches!(
            Probe::parse(&big),
            Err(ProbeError::TooLarge { .. })
        ));
        assert!(matches!(
            Probe::parse(b"not json"),
            Err(ProbeError::Json(_))
        ));
        assert!(matches!(
            Probe::parse(br#"{"probe_version":2}"#),
            Err(ProbeError::Version { found: 2, .. })
        ));
        let minimal = Probe::parse(br#"{"probe_version":1}"#).unwrap();
        assert_eq!(minimal.links, None);
        assert!(minimal.cmdline.is_empty());
    }

    #[test]
    fn os_release_and_grubby() {
        let o = parse_os_release(
            "NAME=\"Red Hat\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID='9.4'\n",
        );
        assert_eq!(o.id.as_deref(), Some("rhel"));
        assert_eq!(o.version_id.as_deref(), Some("9.4"));
        assert_eq!(o.id_like, ["fedora"]);
        let args = parse_grubby(
            "index=0\nkernel=\"/boot/vmlinuz-5.14\"\nargs=\"ro crashkernel=1G-4G:192M rhgb quiet\"\nroot=\"/dev/x\"\n",
        );
        assert_eq!(
            args.unwrap(),
            ["ro", "crashkernel=1G-4G:192M", "rhgb", "quiet"]
        );
        let c = ConfiguredArgs {
            grub: Some(GrubDefaults {
                cmdline_linux: Some(vec!["a".into()]),
                cmdline_linux_default: Some(vec!["b".into()]),
                files: vec![],
            }),
            grubby: None,
        };
        assert_eq!(c.effective().unwrap(), ["a", "b"]);
    }

    /// The probe run through the local transport over `tests/fixtures/sysroot/<case>`.
    mod sysroot {
        use super::super::*;
        use crate::spec::model::{BondMode, InterfaceType};
        use std::path::PathBuf;

        fn root(case: &str) -> PathBuf {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/sysroot")
                .join(case)
        }

        fn local(case: &str) -> Transport {
            Transport::Local {
                sysroot: root(case),
            }
        }

        async fn probe(case: &str, request: &ProbeRequest) -> Probe {
            run_probe(&local(case), request).await.unwrap()
        }

        fn sha256_hex(path: &std::path::Path) -> String {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(std::fs::read(path).unwrap());
            digest.iter().map(|b| format!("{b:02x}")).collect()
        }

        #[tokio::test]
        async fn bond_and_vlan() {
            let p = probe("bond-vlan", &ProbeRequest::default()).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            assert!(p.sysroot);
            let links = p.links.as_ref().unwrap();
            let bond = &links["bond0"];
            assert_eq!(bond.iface_type, Some(InterfaceType::Bond));
            assert_eq!(bond.mtu, Some(9000));
            assert!(bond.admin_up());
            assert_eq!(bond.operstate.as_deref(), Some("UP"));
            let agg = bond.link_aggregation.as_ref().unwrap();
            assert_eq!(agg.mode, Some(BondMode::Lacp));
            assert_eq!(agg.port, ["enp1s0", "enp2s0"]);
            assert_eq!(agg.miimon, Some(100));
            assert_eq!(agg.xmit_hash_policy.as_deref(), Some("layer3+4"));
            assert_eq!(agg.lacp_rate.as_deref(), Some("fast"));
            assert_eq!(agg.options["lacp_rate"], "fast");
            assert!(!agg.options.contains_key("ad_lacp_rate"));
            assert!(!agg.options.contains_key("ad_info"));

            // Ports carry the bond's MAC in `address`; their own is permaddr / perm_hwaddr.
            let (p1, p2) = (&links["enp1s0"], &links["enp2s0"]);
            assert_eq!(p1.address, p2.address);
            assert_eq!(p1.master.as_deref(), Some("bond0"));
            assert_eq!(p1.own_mac(), Some("52:54:00:a1:00:01"));
            assert_eq!(p2.own_mac(), Some("52:54:00:a1:00:02"));
            assert_eq!(p.link_by_mac("52:54:00:A1:00:02").unwrap().name, "enp2s0");
            assert_eq!(
                p1.bond_port.as_ref().unwrap().mii_status.as_deref(),
                Some("UP")
            );

            let vlan = &links["bond0.100"];
            assert_eq!(vlan.iface_type, Some(InterfaceType::Vlan));
            let v = vlan.vlan.as_ref().unwrap();
            assert_eq!(v.id, Some(100));
            assert_eq!(v.base_iface.as_deref(), Some("bond0"));
            assert_eq!(v.protocol.as_deref(), Some("802.1Q"));
            assert_eq!(links["lo"].iface_type, None);
            assert_eq!(links["enp0s2"].iface_type, Some(InterfaceType::Ethernet));

            // fe80:: addresses are dropped; global ones kept.
            let addrs = p.addrs.as_ref().unwrap();
            assert!(addrs["bond0"].is_empty(), "{:?}", addrs["bond0"]);
            let ips: Vec<String> = addrs["bond0.100"]
                .iter()
                .map(|a| format!("{}/{}", a.ip, a.prefix_length))
                .collect();
            assert_eq!(ips, ["192.0.2.10/24", "2001:db8:100::10/64"]);
            assert!(addrs["enp0s2"][0].dynamic);

            // bonding_masters is a file in /sys/class/net, not a PF; the igb ports are.
            assert_eq!(p.sriov.keys().collect::<Vec<_>>(), ["enp1s0", "enp2s0"]);
            assert_eq!(p.sriov["enp1s0"].num_vfs, Some(0));

            let ns = &p.net_stack;
            assert!(ns.units_dir);
            assert!(ns.systemd_networkd.installed && ns.systemd_networkd.is_active());
            assert!(ns.ifupdown.installed && ns.ifupdown.is_active());
            assert!(ns.ifupdown_interfaces_file);
            assert!(ns.ifupdown_sources_interfaces_d);
            assert!(!ns.network_manager.installed && !ns.network_manager.is_active());
            assert!(!ns.netplan_installed && !ns.nmstate_installed);
            assert_eq!(ns.networkd_links[&2], "configured");
            assert_eq!(ns.networkd_links[&3], "unmanaged");

            assert_eq!(p.os_release.as_ref().unwrap().id.as_deref(), Some("debian"));
            assert_eq!(
                p.os_release.as_ref().unwrap().version_id.as_deref(),
                Some("12")
            );
            assert_eq!(p.cmdline.last().map(String::as_str), Some("quiet"));
            let grub = p.configured_args.grub.as_ref().unwrap();
            assert_eq!(
                grub.cmdline_linux.as_ref().unwrap(),
                &["console=ttyS0,115200n8"]
            );
            assert_eq!(
                p.configured_args.effective().unwrap(),
                ["console=ttyS0,115200n8", "quiet"]
            );
            assert_eq!(p.cloud_init, CloudInit::default());
        }

        #[tokio::test]
        async fn sriov_pf_vfs_and_vfio() {
            let p = probe("sriov", &ProbeRequest::default()).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            // VF netdevs have no sriov_totalvfs: only the PF is listed.
            assert_eq!(p.sriov.len(), 1);
            let pf = &p.sriov["enp1s0"];
            assert_eq!(pf.total_vfs, Some(7));
            assert_eq!(pf.num_vfs, Some(4));
            assert_eq!(pf.driver.as_deref(), Some("igb"));
            assert_eq!(pf.pci.as_deref(), Some("0000:01:00.0"));
            assert_eq!(pf.drivers_autoprobe, Some(true));
            assert_eq!(pf.vfs.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3]);
            assert_eq!(pf.vfs[&0].pci.as_deref(), Some("0000:01:10.0"));
            assert_eq!(pf.vfs[&0].driver.as_deref(), Some("igbvf"));
            assert_eq!(pf.vfs[&0].netdevs, ["enp1s0v0"]);
            let info = pf.vfs[&0].info.as_ref().unwrap();
            assert_eq!(info.mac_address.as_deref(), Some("02:00:00:00:01:00"));
            assert_eq!(
                (info.vlan_id, info.trust, info.spoof_check),
                (Some(200), Some(true), Some(false))
            );
            assert_eq!(pf.vfs[&1].info.as_ref().unwrap().vlan_id, None);
            assert_eq!(pf.vfs[&3].driver.as_deref(), Some("vfio-pci"));
            assert!(pf.vfs[&3].netdevs.is_empty());
            assert_eq!(
                p.vfio_pci.as_deref(),
                Some(&["0000:01:10.6".to_string()][..])
            );
            // iproute2 lists the VFs but gives no count; the count is sriov_numvfs.
            assert_eq!(p.links.as_ref().unwrap()["enp1s0"].vfs.len(), 4);
            for arg in ["intel_iommu=on", "iommu=pt"] {
                assert!(
                    p.cmdline.iter().any(|a| a == arg),
                    "{arg} not in {:?}",
                    p.cmdline
                );
            }
            assert_eq!(
                p.configured_args.effective().unwrap(),
                [
                    "console=ttyS0,115200n8",
                    "quiet",
                    "intel_iommu=on",
                    "iommu=pt"
                ]
            );
            let grub = p.configured_args.grub.as_ref().unwrap();
            assert_eq!(
                grub.files,
                ["/etc/default/grub", "/etc/default/grub.d/60-bmfleet.cfg"]
            );
        }

        #[tokio::test]
        async fn sriov_total_below_request() {
            let p = probe("sriov-short", &ProbeRequest::default()).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            let pf = &p.sriov["ens1f0"];
            assert_eq!(pf.total_vfs, Some(2));
            assert_eq!(pf.num_vfs, Some(0));
            assert!(pf.vfs.is_empty());
            let requested = 8;
            assert!(pf.total_vfs.is_some_and(|t| t < requested));
        }

        #[tokio::test]
        async fn hugepage_shortfall_per_node() {
            let p = probe("hugepages-shortfall", &ProbeRequest::default()).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            assert_eq!(p.default_hugepage_kb, Some(2048));
            let gig = &p.hugepages[&page_size_kb("1G").unwrap()];
            assert_eq!(
                (gig.total, gig.free, gig.reserved),
                (Some(6), Some(5), Some(1))
            );
            assert_eq!(gig.per_node[&0].total, Some(4));
            assert_eq!(gig.per_node[&1].total, Some(2));
            // 4 pages asked on each node: node0 has them, node1 is 2 short.
            assert_eq!(gig.shortfall(0, 4), Some(0));
            assert_eq!(gig.shortfall(1, 4), Some(2));
            assert_eq!(gig.shortfall(2, 4), None);
            let two = &p.hugepages[&2048];
            assert_eq!(two.total, Some(64));
            assert_eq!(
                (two.per_node[&0].total, two.per_node[&1].total),
                (Some(32), Some(32))
            );
            assert!(p.cmdline.iter().any(|a| a == "hugepagesz=1G"));

            // The write-only `demote` file is never read.
            let out = local("hugepages-shortfall")
                .run_script(PROBE_SCRIPT, &[])
                .await
                .unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(!text.contains("demote"), "{text}");
        }

        #[tokio::test]
        async fn cloud_init_instance_and_digests() {
            let p = probe("cloud-init", &ProbeRequest::default()).await;
            assert!(p.errors.is_empty(), "{:?}", p.errors);
            let ci = &p.cloud_init;
            assert!(ci.installed);
            assert_eq!(ci.instance_id.as_deref(), Some("iid-bmfleet-r1-c01-0003"));
            assert!(!ci.disabled);
            assert!(ci.status_json);
            let files = [
                "/var/lib/cloud/instance/user-data.txt",
                "/var/lib/cloud/seed/nocloud/user-data",
                "/var/lib/cloud/seed/nocloud/meta-data",
                "/var/lib/cloud/seed/nocloud/network-config",
            ];
            assert_eq!(
                ci.digests
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .len(),
                4
            );
            for f in files {
                let want = sha256_hex(&root("cloud-init").join(&f[1..]));
                assert_eq!(ci.digests.get(f), Some(&want), "{f}");
            }
        }

        #[tokio::test]
        async fn hostile_content_round_trips_and_is_bounded() {
            let request = ProbeRequest {
                sysctl: vec![
                    "kernel.hostname".into(),
                    "../../etc/passwd".into(),
                    "kernel.nope".into(),
                ],
                sysfs: vec!["/sys/../etc/shadow".into(), "/etc/passwd".into()],
            };
            let p = probe("hostile", &request).await;
            let dir = root("hostile");

            // Exact round trip of quotes, backslashes, newlines, CR, tab and escape bytes (a
            // value read drops one trailing newline).
            let raw = std::fs::read_to_string(dir.join("proc/sys/kernel/hostname")).unwrap();
            assert_eq!(
                p.sysctl["kernel.hostname"].as_deref(),
                Some(raw.strip_suffix('\n').unwrap())
            );
            assert_eq!(p.sysctl["kernel.nope"], None);
            let os = p.os_release.as_ref().unwrap();
            assert_eq!(os.id.as_deref(), Some("de\"b\\ian"));
            assert_eq!(
                os.pretty_name.as_deref(),
                Some("tab\there \u{1}\u{1f} esc\u{1b}[31m red \u{fffd} bad, \u{e9} ok")
            );
            assert_eq!(
                p.cmdline,
                [
                    "BOOT_IMAGE=/vmlinuz",
                    "ro",
                    "dyndbg=\"file drivers/net/* +p\"",
                    // The kernel has no backslash escapes: each `"` toggles quoting, so the
                    // third quote opens a quote that runs to the end.
                    "quote=\"a\\\"b\" back\\slash \u{1}ctl end",
                ]
            );
            let grub = p.configured_args.grub.as_ref().unwrap();
            assert_eq!(grub.cmdline_linux.as_ref().unwrap(), &["a=\"x y\"", "b"]);
            assert_eq!(
                grub.cmdline_linux_default.as_ref().unwrap(),
                &["single", "$quoted", "huge"]
            );

            // Interface names with quotes survive; a non-numeric count is an issue, not a crash.
            let weird = &p.sriov["we\"ird"];
            assert_eq!(weird.total_vfs, Some(7));
            assert_eq!(weird.num_vfs, None);

            // Bounds: the instance id is cut at 4 KiB, the grub.d file at 64 KiB.
            assert_eq!(
                p.cloud_init.instance_id.as_deref(),
                Some("i".repeat(4096).as_str())
            );
            let has = |path: &str, reason: &str| {
                p.errors
                    .iter()
                    .any(|e| e.path == path && e.reason.contains(reason))
            };
            assert!(
                has("/var/lib/cloud/data/instance-id", "truncated at 4096 bytes"),
                "{:?}",
                p.errors
            );
            assert!(
                has(
                    "/etc/default/grub.d/50-huge.cfg",
                    "truncated at 65536 bytes"
                ),
                "{:?}",
                p.errors
            );
            assert!(has("sysctl:../../etc/passwd", "refused"), "{:?}", p.errors);
            assert!(has("sysfs:/sys/../etc/shadow", "refused"), "{:?}", p.errors);
            assert!(
                has("sysfs:/etc/passwd", "not under /sys/"),
                "{:?}",
                p.errors
            );
            assert!(has("/proc/sys/kernel/nope", "missing"), "{:?}", p.errors);
            assert!(
                has("/sys/class/net/we\"ird/device/sriov_numvfs", "not a number"),
                "{:?}",
                p.errors
            );
            assert!(p.sysfs.is_empty());
            // iproute2 output that is not JSON spoils only the links.
            assert_eq!(p.links, None);
            assert!(has("ip -j -d link", "not a JSON array"), "{:?}", p.errors);
            assert_eq!(p.addrs, Some(BTreeMap::new()));
        }

        #[tokio::test]
        async fn this_machine() {
            // The real /proc and /sys of the machine running the tests (no bonding, VLAN or
            // SR-IOV drivers here): the probe runs and parses.
            let t = Transport::Local {
                sysroot: PathBuf::new(),
            };
            let request = ProbeRequest {
                sysctl: vec!["kernel.ostype".into()],
                sysfs: vec![],
            };
            let p = run_probe(&t, &request).await.unwrap();
            assert!(!p.sysroot);
            assert!(!p.cmdline.is_empty());
            assert!(
                p.os_release.as_ref().is_some_and(|o| o.id.is_some()),
                "{:?}",
                p.os_release
            );
            assert_eq!(p.sysctl["kernel.ostype"].as_deref(), Some("Linux"));
            assert!(p.configured_args.grubby.is_none() || which("grubby"));
            if which("ip") {
                assert!(
                    p.links.as_ref().is_some_and(|l| l.contains_key("lo")),
                    "{:?}",
                    p.errors
                );
            } else {
                assert!(p.errors.iter().any(|e| e.path == "ip"));
            }
        }

        fn which(cmd: &str) -> bool {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {cmd}")])
                .output()
                .is_ok_and(|o| o.status.success())
        }
    }
}
