use super::{CloudInitSpec, Metadata, NetworkSpec, OsSpec, Scalar};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `kind: Host`: one server.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostDocument {
    /// Always `bmfleet.dev/v1alpha1`.
    pub api_version: String,
    /// Always `Host`.
    pub kind: HostKind,
    /// `name` (DNS-1123 label) and `labels`.
    pub metadata: Metadata,
    /// Profiles, dependencies and the host's own settings.
    #[serde(default)]
    pub spec: HostSpec,
}

/// The `kind` value of a [`HostDocument`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HostKind {
    /// `kind: Host`.
    Host,
}

/// `kind: Profile`: a partial host spec shared by many hosts. A profile may include other
/// profiles (`spec.profiles`), applied before its own settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileDocument {
    /// Always `bmfleet.dev/v1alpha1`.
    pub api_version: String,
    /// Always `Profile`.
    pub kind: ProfileKind,
    /// The profile's name (what hosts list in `spec.profiles`).
    pub metadata: Metadata,
    /// Included profiles and the settings.
    #[serde(default)]
    pub spec: ProfileSpec,
}

/// The `kind` value of a [`ProfileDocument`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ProfileKind {
    /// `kind: Profile`.
    Profile,
}

/// `spec` of a `Host`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("additionalProperties" = false))]
pub struct HostSpec {
    /// Profiles applied in order, after the fleet defaults and before the host's own settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// Hosts that must be changed (and healthy) before this one, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The host's own settings.
    #[serde(flatten)]
    pub settings: HostSettings,
}

/// `spec` of a `Profile`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("additionalProperties" = false))]
pub struct ProfileSpec {
    /// Profiles this one includes, applied in order before its own settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The profile's settings.
    #[serde(flatten)]
    pub settings: HostSettings,
}

/// The settings of a host: every section is optional so that the fleet defaults, profiles and
/// the host can each set part of it. Merge rule: maps merge deep, `network.interfaces` merge
/// by `name`, other lists replace, and an explicit `null` removes an inherited value
/// (RFC 7386 JSON merge patch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("additionalProperties" = false))]
pub struct HostSettings {
    /// The host's BMC (Redfish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc: Option<BmcSpec>,
    /// Desired `PowerState` of the ComputerSystem: `On` or `Off`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerState>,
    /// Boot mode and boot source override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<BootSpec>,
    /// BIOS attributes (Redfish `Bios.Attributes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios: Option<BiosSpec>,
    /// A BlueField-class DPU and its own BMC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpu: Option<DpuSpec>,
    /// What the hardware is, for validation (memory for hugepages, NIC VF maximums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareSpec>,
    /// Operating-system settings applied over SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsSpec>,
    /// Host network in nmstate's schema (an NMState / NNCP `desiredState` pastes in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    /// cloud-init data and how it is delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInitSpec>,
}

/// A Redfish BMC (the host's, or a DPU's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BmcSpec {
    /// Base URL of the Redfish service: `https://10.0.0.12` (the service root is
    /// `<endpoint>/redfish/v1/`). `http://` is accepted only for loopback addresses
    /// (simulators); real BMCs use HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// `Id` of the ComputerSystem (`System.Embedded.1` on Dell, `1` on Lenovo,
    /// `Bluefield` on a BlueField BMC). When absent the Systems collection must have one member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_id: Option<String>,
    /// Name of a credential declared in the Fleet's `spec.credentials`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<String>,
    /// TLS verification for this BMC. Verified against the system roots by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,
}

/// TLS settings for one BMC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsSpec {
    /// PEM file of the CA that signed the BMC's certificate, relative to the fleet root or
    /// absolute. Only this CA is trusted for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Skip certificate verification for this host only. Insecure: use for lab BMCs with
    /// self-signed certificates, never as a fleet default you forget about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// Redfish `ComputerSystem.PowerState` values a spec may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

/// Boot settings (Redfish `ComputerSystem.Boot`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootSpec {
    /// Firmware boot mode (`BootSourceOverrideMode`): `UEFI` or `Legacy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<BootMode>,
    /// A boot source override (`BootSourceOverrideTarget` + `BootSourceOverrideEnabled`).
    /// Replaced as a whole when merged.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<BootOverride>,
}

/// Redfish `BootSourceOverrideMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BootMode {
    /// UEFI boot.
    #[serde(rename = "UEFI")]
    Uefi,
    /// Legacy BIOS boot.
    Legacy,
}

/// A boot source override.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BootOverride {
    /// `BootSourceOverrideTarget`.
    pub target: BootTarget,
    /// `BootSourceOverrideEnabled`: `Once` (default) or `Continuous`.
    #[serde(default)]
    pub enabled: OverrideEnabled,
}

/// Redfish `BootSourceOverrideTarget` values bmfleet manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BootTarget {
    /// No override.
    None,
    /// Network boot (PXE).
    Pxe,
    /// Local disk.
    Hdd,
    /// Optical / virtual CD.
    Cd,
    /// UEFI HTTP boot.
    UefiHttp,
}

/// Redfish `BootSourceOverrideEnabled`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OverrideEnabled {
    /// For the next boot only.
    #[default]
    Once,
    /// For every boot until changed.
    Continuous,
}

/// BIOS settings (Redfish `Bios` resource).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BiosSpec {
    /// Attribute name (as in the BMC's `AttributeRegistry`, e.g. `SriovGlobalEnable`,
    /// `ProcVirtualization`) -> value (string, integer or boolean). Changes are staged in the
    /// `@Redfish.Settings` object and take effect on the next reset.
    #[serde(default)]
    pub attributes: BTreeMap<String, Scalar>,
}

/// A BlueField-class DPU managed through its own BMC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DpuSpec {
    /// The DPU's BMC (same shape as the host's `bmc`; `systemId` is usually `Bluefield`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bmc: Option<BmcSpec>,
    /// `dpu` (DPU mode: the Arm cores own the NIC) or `nic` (NIC mode). A change costs a DPU
    /// reset and then a host power cycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DpuMode>,
    /// BIOS attributes of the DPU's own system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios: Option<BiosSpec>,
}

/// DPU operating mode (BlueField `Oem.Nvidia.Mode` DpuMode / NicMode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DpuMode {
    /// DPU mode (`DpuMode`, also called embedded CPU function ownership).
    Dpu,
    /// NIC mode (`NicMode`).
    Nic,
}

/// Declared hardware facts used by validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HardwareSpec {
    /// Installed memory, with a binary unit: `512Gi`, `512GiB`, `1Ti`, `768G` (G is read as
    /// GiB). Hugepages may not take more than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// Number of NUMA nodes; per-node hugepage counts must name a node below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<u32>,
    /// NICs by interface name (as in `network.interfaces`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nics: BTreeMap<String, NicHardware>,
}

/// One NIC's declared capabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NicHardware {
    /// Model, for humans (`Intel E810-XXV`, `Mellanox ConnectX-6 Dx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The device's maximum VF count (`sriov_totalvfs`); `total-vfs` may not exceed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vfs: Option<u32>,
    /// PCI address (`0000:3b:00.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<String>,
}
