use super::Scalar;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Operating-system settings, read and applied over SSH.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OsSpec {
    /// How to reach the OS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshSpec>,
    /// Kernel command-line arguments bmfleet ensures are present (`intel_iommu=on`,
    /// `iommu=pt`). Hugepage arguments are derived from `hugepages` and must not contradict it.
    /// Changing them needs a reboot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_args: Option<Vec<String>>,
    /// Hugepages reserved at boot (kernel `Documentation/admin-guide/mm/hugetlbpage.rst`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<HugepagesSpec>,
    /// sysctl keys (`net.core.somaxconn`) -> values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, Scalar>,
    /// Tunables the field sets through sysfs, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunables: Option<Tunables>,
    /// Other sysfs attributes: absolute path under `/sys/` -> value written to it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysfs: BTreeMap<String, Scalar>,
    /// PCI devices and SR-IOV VFs bound to `vfio-pci` (for DPDK / VM passthrough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vfio: Option<VfioSpec>,
}

/// SSH access to the host OS.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SshSpec {
    /// Host name or IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// TCP port (default 22).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Login user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Private key file on the operator's machine (never in the repo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_file: Option<String>,
    /// A jump host, `user@host:port` as in `ssh -J`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jump_host: Option<String>,
    /// Run bmfleet's commands through `sudo -n` (for a non-root `user`; sudo must not ask
    /// for a password). Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sudo: Option<bool>,
}

/// Hugepage reservation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HugepagesSpec {
    /// `default_hugepagesz`: `2M` or `1G`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_size: Option<String>,
    /// Pages to reserve per size, optionally per NUMA node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<HugepagePages>,
}

/// A count of hugepages of one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HugepagePages {
    /// Page size: `2M` or `1G` (x86_64).
    pub size: String,
    /// Number of pages (pages, not bytes).
    pub count: u64,
    /// NUMA node; without it the kernel spreads the pages over all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
}

/// Named sysfs tunables.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tunables {
    /// `/sys/kernel/mm/transparent_hugepage/enabled`: `always`, `madvise` or `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent_hugepages: Option<ThpMode>,
    /// `/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_governor: Option<CpuGovernor>,
    /// `/sys/kernel/mm/ksm/run`: `true` runs KSM, `false` stops it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ksm: Option<bool>,
}

/// Transparent hugepage mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThpMode {
    /// Always use THP.
    Always,
    /// Only for `madvise(MADV_HUGEPAGE)` regions.
    Madvise,
    /// Never (the usual choice with explicit hugepages and DPDK).
    Never,
}

/// cpufreq scaling governor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CpuGovernor {
    /// Highest frequency.
    Performance,
    /// Lowest frequency.
    Powersave,
    /// Load-driven.
    Schedutil,
    /// Load-driven (legacy).
    Ondemand,
}

/// Devices bound to `vfio-pci`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfioSpec {
    /// Whole PCI devices by address (`0000:3b:00.0`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// VFs of an SR-IOV physical function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vfs: Vec<VfioVfs>,
}

/// A range of VFs of one PF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfioVfs {
    /// The PF's interface name (an `ethernet` interface with `sr-iov`).
    pub pf: String,
    /// VF ids: `0-7`, `3`, or `0-3,8` (each below the PF's `total-vfs`).
    pub ids: String,
}
