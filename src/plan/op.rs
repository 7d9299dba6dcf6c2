//! Typed operations: what one plan step does, exactly, so that `apply` carries a saved plan
//! out without deciding anything of its own (the rule of Oxide's reconfigurator: no
//! meaningful choices at execution time).
//!
//! Every choice is made here, at plan time, from the spec and the observed capabilities:
//! which apply time the BIOS settings object is written with, which `ResetType`s reset the
//! host and in which order, how long to wait. The prose a human reads ([`Op::describe`]) is
//! rendered from the op, never stored instead of it.
//!
//! Values that are secret never appear: a sensitive BIOS attribute is carried as a
//! [`SecretRef`] (where the executor finds the value, and its SHA-256), cloud-init documents
//! as [`ContentRef`]s to the spec commit and path with their digest.
//!
//! Names follow the field: Redfish `ResetType` values (`GracefulRestart`, `ForceRestart`,
//! `PowerCycle`, `On`, `ForceOff`) and `SettingsApplyTime` values (DSP0266 §"Settings
//! resource"), nmstate's interface documents, cloud-init's document names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which management controller of a host a Redfish op is sent to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Controller {
    /// The host's BMC (its `ComputerSystem`).
    Bmc,
    /// The DPU's own BMC (the DPU's `ComputerSystem`).
    Dpu,
}

impl Controller {
    /// `BMC` or `DPU`, for prose.
    pub fn label(self) -> &'static str {
        match self {
            Controller::Bmc => "host",
            Controller::Dpu => "DPU",
        }
    }
}

/// A value to write: a plain JSON value, or a reference to a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OpValue {
    /// A secret, by reference.
    Secret(SecretRef),
    /// The value itself (not secret).
    Plain(Value),
}

/// Where the executor finds a secret value, and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretRef {
    /// Where the value is: `spec:<path in the host's effective spec>` (read from the plan's
    /// spec commit), or `env:<VARIABLE>` / `file:<path>` for credentials.
    pub secret: String,
    /// SHA-256 (hex) of the value, so the executor can refuse a value that changed since the
    /// plan was reviewed.
    pub sha256: String,
}

/// A document carried by reference: the executor reads it from the spec commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContentRef {
    /// The document's role (`user-data`, `meta-data`, `network-config`).
    pub name: String,
    /// Path relative to the fleet root, or `inline` when the spec holds the text.
    pub path: String,
    /// SHA-256 (hex) of the content; `None` when the file could not be read when planning.
    pub sha256: Option<String>,
    /// Size in bytes.
    pub bytes: Option<u64>,
}

/// A file an OS step writes, exactly as it will be on the host (the plan shows it; the
/// executor writes these bytes and nothing else: atomically, through a temporary file in the
/// same directory and a rename, skipped when the file already holds them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileWrite {
    /// Absolute path on the host (`/etc/sysctl.d/90-bmfleet.conf`).
    pub path: String,
    /// Permission bits, octal (`0644`).
    pub mode: String,
    /// The whole content (UTF-8 text).
    pub content: String,
}

/// Hugepages of one size to hold at runtime, on one NUMA node or spread by the kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HugepageTarget {
    /// Page size in kB (2048 for 2M).
    pub size_kb: u64,
    /// NUMA node; `None`: the size's global `nr_hugepages` (the kernel spreads the pages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u32>,
    /// Pages wanted (`nr_hugepages`).
    pub pages: u64,
}

/// One reset of a reset sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResetStep {
    /// Which system is reset.
    pub on: Controller,
    /// The Redfish `ResetType` sent first (one the system lists as allowed, when it lists
    /// any).
    pub reset_type: String,
    /// The `ResetType` sent when the first one has not taken the system through a reset
    /// within `timeout_s` (graceful, then forced); `None`: no fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Seconds to wait for the reset (and for `PowerState` to be `On` again) before the
    /// fallback is sent or the step fails.
    pub timeout_s: u64,
}

/// What one step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Op {
    /// Stage BIOS attributes in the system's settings object (Redfish `@Redfish.Settings`);
    /// they take effect on the next reset.
    BiosStage {
        /// The host's BMC or the DPU's.
        on: Controller,
        /// Attribute name -> value, sorted.
        attributes: BTreeMap<String, OpValue>,
        /// The `@Redfish.SettingsApplyTime` `ApplyTime` to send (`OnReset`); `None` when
        /// the BMC advertises none (its default is then on reset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        apply_time: Option<String>,
    },
    /// Write `ComputerSystem.Boot` properties.
    BootOverride {
        /// `BootSourceOverrideMode` (`UEFI`, `Legacy`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<String>,
        /// `BootSourceOverrideTarget` (`Pxe`, `Hdd`, `Cd`, `UefiHttp`, `None`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// `BootSourceOverrideEnabled` (`Once`, `Continuous`, `Disabled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enabled: Option<String>,
    },
    /// Change the host's power state.
    Power {
        /// The desired `PowerState` (`On`, `Off`).
        state: String,
        /// The `ResetType` that gets there (`On`; `GracefulShutdown` or `ForceOff`).
        reset_type: String,
        /// The `ResetType` sent if `reset_type` has not reached `state` within `timeout_s`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
        /// Seconds to wait for `PowerState` to reach `state`.
        timeout_s: u64,
    },
    /// Set a BlueField DPU's operating mode (applies on the DPU reset and host power cycle
    /// of the following [`Op::Reset`]).
    DpuMode {
        /// `dpu` or `nic`.
        mode: String,
    },
    /// The host's one coalesced reset: the listed resets, in order.
    Reset {
        /// The resets (a DPU mode change: DPU reset, then host power cycle).
        sequence: Vec<ResetStep>,
        /// The resources whose staged changes this reset applies (relative addresses).
        applies: Vec<String>,
    },
    /// Wait until the host's OS answers again after a reset.
    AwaitOs {
        /// Seconds to wait before the host fails.
        timeout_s: u64,
    },
    /// Apply an nmstate-shaped network document for the touched interfaces; the OS provider
    /// writes it through the backend that manages the interfaces on that host.
    NetworkApply {
        /// `{"interfaces": [...], "routes": {...}, "dns-resolver": {...}}` (nmstate names).
        desired: Value,
        /// The backend, the exact files and the commands that write `desired` on this host
        /// (rendered at plan time by `plan::network`); absent in plans made before network
        /// writes were rendered, which cannot be applied.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        write: Option<super::network::NetworkWrite>,
    },
    /// Set a PF's VF count (`sriov_numvfs`: written 0, then N) and its VF settings.
    SriovNumVfs {
        /// The physical function's interface name.
        pf: String,
        /// The VF count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        num_vfs: Option<u64>,
        /// Per-VF settings (nmstate `sr-iov.vfs`), when the spec sets any.
        #[serde(default, skip_serializing_if = "Value::is_null")]
        vfs: Value,
        /// `sriov_totalvfs` read when planning: the executor refuses a count above it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        total_vfs: Option<u64>,
        /// The systemd unit that sets the VF count and VF settings again on every boot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persist: Option<FileWrite>,
    },
    /// Reserve hugepages.
    Hugepages {
        /// Setting key (`defaultSize`, `pages.1G.node0`, `pages.2M`) -> value.
        settings: BTreeMap<String, Value>,
        /// Pools set now through sysfs (`nr_hugepages`) and checked page by page: sizes below
        /// 1G when the default size does not change.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        runtime: Vec<HugepageTarget>,
        /// Kernel arguments that reserve the rest at boot (`default_hugepagesz=1G
        /// hugepagesz=1G hugepages=0:8,1:8`), applied by the coalesced reboot; empty when
        /// everything is runtime.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        boot_args: Vec<String>,
        /// How boot arguments are written: `grub.d` or `grubby`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        writer: Option<String>,
        /// Files that make the change persistent: the tmpfiles.d(5) lines for the runtime
        /// pools, the `/etc/default/grub.d` file for the boot arguments (`grub.d` writer).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        persist: Vec<FileWrite>,
    },
    /// Change the kernel command line (applies on the coalesced reboot).
    KernelArgs {
        /// Arguments to add.
        add: Vec<String>,
        /// Arguments to remove.
        remove: Vec<String>,
        /// How: `grubby` (`--update-kernel=ALL --args --remove-args`), or `grub.d` (the
        /// spec's arguments in `file`, removed arguments deleted from the
        /// `GRUB_CMDLINE_LINUX*` assignments of `/etc/default/grub` and its other
        /// `grub.d/*.cfg` files, then `update-grub` or `grub-mkconfig`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        writer: Option<String>,
        /// The `grub.d` file holding the spec's arguments (`grub.d` writer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<FileWrite>,
    },
    /// Set sysctl keys persistently (`/etc/sysctl.d`) and at runtime.
    Sysctl {
        /// Key -> value.
        values: BTreeMap<String, Value>,
        /// The sysctl.d(5) file holding every sysctl of the spec (applied at boot by
        /// systemd-sysctl).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persist: Option<FileWrite>,
    },
    /// Set sysfs paths now and on every boot (tmpfiles.d(5) `w` lines).
    Sysfs {
        /// Path -> value.
        values: BTreeMap<String, Value>,
        /// The tmpfiles.d(5) file holding every sysfs path of the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persist: Option<FileWrite>,
    },
    /// Set OS tunables (transparent hugepages, CPU governor, KSM) through sysfs, now and on
    /// every boot.
    Tunables {
        /// Tunable -> value.
        values: BTreeMap<String, Value>,
        /// sysfs path (a glob for per-CPU files) -> the text written.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        writes: BTreeMap<String, String>,
        /// The tmpfiles.d(5) file holding every tunable of the spec.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persist: Option<FileWrite>,
    },
    /// Bind devices or VFs to vfio-pci.
    Vfio {
        /// Setting key (`devices`, `vfs.<pf>`) -> value.
        settings: BTreeMap<String, Value>,
        /// The unit that binds them again on every boot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        persist: Option<FileWrite>,
    },
    /// Deliver new cloud-init data (acts on the first boot of a new instance-id).
    CloudInit {
        /// The documents, by reference to the spec commit.
        documents: Vec<ContentRef>,
        /// How they are delivered (`ssh-seed`, `virtual-media`, ...), as the spec says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
        /// The instance id of the new seed's `meta-data` when bmfleet writes it (the spec
        /// has no `meta-data`): `iid-bmfleet-<host>-<first 12 hex of the documents'
        /// SHA-256>`, new whenever a document changes, so cloud-init runs on the next boot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_id: Option<String>,
    },
}

impl Op {
    /// The files this op writes on the host, exactly as written (network files are in
    /// `NetworkApply`'s `write`, with their activation commands).
    pub fn files(&self) -> Vec<&FileWrite> {
        match self {
            Op::Sysctl { persist, .. }
            | Op::Sysfs { persist, .. }
            | Op::Tunables { persist, .. }
            | Op::SriovNumVfs { persist, .. }
            | Op::Vfio { persist, .. } => persist.iter().collect(),
            Op::Hugepages { persist, .. } => persist.iter().collect(),
            Op::KernelArgs { file, .. } => file.iter().collect(),
            _ => Vec::new(),
        }
    }

    /// One line for humans, rendered from the op (`stage 2 BIOS attributes on the host
    /// (apply time OnReset)`).
    pub fn describe(&self) -> String {
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("{n} {one}")
            } else {
                format!("{n} {many}")
            }
        };
        match self {
            Op::BiosStage {
                on,
                attributes,
                apply_time,
            } => {
                let what = plural(attributes.len(), "BIOS attribute", "BIOS attributes");
                let when = apply_time
                    .as_deref()
                    .map_or_else(String::new, |t| format!(" (apply time {t})"));
                format!("stage {what} on the {}{when}", on.label())
            }
            Op::BootOverride {
                mode,
                target,
                enabled,
            } => {
                let mut parts = Vec::new();
                if let Some(m) = mode {
                    parts.push(format!("mode {m}"));
                }
                if let Some(t) = target {
                    parts.push(format!("override target {t}"));
                }
                if let Some(e) = enabled {
                    parts.push(format!("override {e}"));
                }
                format!("set boot {}", parts.join(", "))
            }
            Op::Power {
                state,
                reset_type,
                fallback,
                timeout_s,
            } => {
                let fb = fallback
                    .as_deref()
                    .map_or_else(String::new, |f| format!(", {f} after {timeout_s} s"));
                match state.as_str() {
                    "On" => format!(
                        "power on with ResetType {reset_type}{fb} (also applies staged settings)"
                    ),
                    "Off" => format!("power off with ResetType {reset_type}{fb}"),
                    other => format!("set PowerState {other} with ResetType {reset_type}{fb}"),
                }
            }
            Op::DpuMode { mode } => format!("set DPU mode {mode}"),
            Op::Reset { sequence, applies } => {
                let steps: Vec<String> = sequence
                    .iter()
                    .map(|s| {
                        let fb = s
                            .fallback
                            .as_deref()
                            .map_or_else(String::new, |f| format!(", {f} after {} s", s.timeout_s));
                        format!("{} {}{fb}", s.on.label(), s.reset_type)
                    })
                    .collect();
                format!("{}: applies {}", steps.join(", then "), applies.join(", "))
            }
            Op::AwaitOs { timeout_s } => format!("wait up to {timeout_s} s for the OS to answer"),
            Op::NetworkApply { desired, write } => {
                let n = desired
                    .get("interfaces")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let how = write.as_ref().map_or_else(String::new, |w| {
                    format!(
                        " through {} ({}, then {})",
                        w.backend.as_str(),
                        plural(w.files.len(), "file", "files"),
                        w.activate
                            .iter()
                            .map(|c| c.join(" "))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                });
                format!(
                    "apply the network state of {}{how}",
                    plural(n, "interface", "interfaces")
                )
            }
            Op::SriovNumVfs { pf, num_vfs, .. } => match num_vfs {
                Some(n) => format!("set {pf} sriov_numvfs to {n} (0 first, then {n})"),
                None => format!("set the VFs of {pf}"),
            },
            Op::Hugepages {
                settings,
                runtime,
                boot_args,
                ..
            } => {
                let keys = settings.keys().cloned().collect::<Vec<_>>().join(", ");
                let how = match (runtime.is_empty(), boot_args.is_empty()) {
                    (false, true) => " now, checked per NUMA node",
                    (true, false) => " at boot (kernel args, applies on the next reset)",
                    (false, false) => " now and at boot (kernel args)",
                    (true, true) => "",
                };
                format!("reserve hugepages ({keys}){how}")
            }
            Op::KernelArgs { add, remove, .. } => {
                let mut parts = Vec::new();
                if !add.is_empty() {
                    parts.push(format!("add {}", add.join(" ")));
                }
                if !remove.is_empty() {
                    parts.push(format!("remove {}", remove.join(" ")));
                }
                format!("kernel args: {}", parts.join("; "))
            }
            Op::Sysctl { values, .. } => {
                format!("set {}", plural(values.len(), "sysctl", "sysctls"))
            }
            Op::Sysfs { values, .. } => {
                format!("set {}", plural(values.len(), "sysfs path", "sysfs paths"))
            }
            Op::Tunables { values, .. } => {
                format!("set {}", plural(values.len(), "tunable", "tunables"))
            }
            Op::Vfio { settings, .. } => format!(
                "bind to vfio-pci ({})",
                settings.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Op::CloudInit {
                documents,
                delivery,
                ..
            } => {
                let names: Vec<&str> = documents.iter().map(|d| d.name.as_str()).collect();
                let how = delivery
                    .as_deref()
                    .map_or_else(String::new, |d| format!(" by {d}"));
                format!(
                    "deliver cloud-init {}{how} with a new instance-id",
                    names.join(", ")
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ops_round_trip_and_describe_themselves() {
        let op = Op::BiosStage {
            on: Controller::Bmc,
            attributes: [
                ("LogicalProc".to_string(), OpValue::Plain(json!("Enabled"))),
                (
                    "AdminPassword".to_string(),
                    OpValue::Secret(SecretRef {
                        secret: "spec:bios.attributes.AdminPassword".into(),
                        sha256: "00".repeat(32),
                    }),
                ),
            ]
            .into_iter()
            .collect(),
            apply_time: Some("OnReset".into()),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.contains(r#""type":"bios-stage""#), "{text}");
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
        assert_eq!(
            op.describe(),
            "stage 2 BIOS attributes on the host (apply time OnReset)"
        );
        let reset = Op::Reset {
            sequence: vec![
                ResetStep {
                    on: Controller::Dpu,
                    reset_type: "GracefulRestart".into(),
                    fallback: Some("ForceRestart".into()),
                    timeout_s: 300,
                },
                ResetStep {
                    on: Controller::Bmc,
                    reset_type: "PowerCycle".into(),
                    fallback: None,
                    timeout_s: 600,
                },
            ],
            applies: vec!["dpu/mode".into()],
        };
        assert_eq!(
            reset.describe(),
            "DPU GracefulRestart, ForceRestart after 300 s, then host PowerCycle: applies dpu/mode"
        );
    }
}
