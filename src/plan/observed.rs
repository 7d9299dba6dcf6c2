//! Observed (live) state of a host, as the engine reads it from the host's BMC and its DPU's
//! BMC over Redfish. The planner only reads these types; the engine fills them.
//!
//! Values keep Redfish's own spelling (`PowerState: "On"`, `BootSourceOverrideMode: "UEFI"`)
//! and Redfish's types (BIOS attributes are JSON strings, integers or booleans). Nothing here
//! holds a secret: BMC credentials never enter observed state, and saved plans only keep
//! fingerprints of it.

use crate::spec::model::DpuMode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything read for one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedHost {
    /// The host's name (`metadata.name` in the spec).
    pub name: String,
    /// The host's ComputerSystem, or why it could not be read. An error makes the planner
    /// report the host as an error and plan the other hosts.
    pub bmc: Result<ObservedSystem, ReadError>,
    /// The DPU's system, when the spec declares a DPU and it was read; `None` when no DPU was
    /// read (its resources are then reported as not refreshed).
    pub dpu: Option<Result<ObservedDpu, ReadError>>,
}

/// A Redfish `ComputerSystem` and its `Bios` resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedSystem {
    /// Redfish `PowerState`: `On`, `Off`, `PoweringOn`, `PoweringOff`, `Paused`; `None` when
    /// the BMC did not report it.
    pub power_state: Option<String>,
    /// `Boot` properties.
    pub boot: ObservedBoot,
    /// The `Bios` resource; `None` when the system has none (or it was not read).
    pub bios: Option<ObservedBios>,
    /// The ComputerSystem's ETag (HTTP `ETag` header or `@odata.etag`), if any.
    pub etag: Option<String>,
}

/// `ComputerSystem.Boot`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedBoot {
    /// `BootSourceOverrideMode`: `UEFI` or `Legacy`.
    pub mode: Option<String>,
    /// `BootSourceOverrideTarget`: `None`, `Pxe`, `Hdd`, `Cd`, `UefiHttp`, ...
    pub override_target: Option<String>,
    /// `BootSourceOverrideEnabled`: `Disabled`, `Once` or `Continuous`.
    pub override_enabled: Option<String>,
}

/// A Redfish `Bios` resource: current attributes and the values staged for the next reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedBios {
    /// `Bios.Attributes`: the values in effect now.
    pub current: BTreeMap<String, serde_json::Value>,
    /// Attributes of the `@Redfish.Settings` object (`Bios/Settings`): staged, applied on the
    /// next reset. Some BMCs (HPE, Lenovo) list every writable attribute here, not only
    /// changed ones; the planner treats a staged value equal to the current one as nothing
    /// staged.
    pub pending: BTreeMap<String, serde_json::Value>,
    /// ETag of the `Bios` resource, if any.
    pub etag: Option<String>,
    /// ETag of the settings object, if any (PATCHes to it carry `If-Match` with this value).
    pub settings_etag: Option<String>,
    /// `@Redfish.SettingsApplyTime.ApplyTime@Redfish.AllowableValues` (`OnReset`,
    /// `Immediate`, ...); empty when the BMC does not say.
    pub supported_apply_times: Vec<String>,
}

/// A BlueField-class DPU read through its own BMC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedDpu {
    /// The operating mode in effect (`Oem.Nvidia.Mode`), `None` if not reported.
    pub mode: Option<DpuMode>,
    /// A mode change staged for the next DPU reset, if any.
    pub pending_mode: Option<DpuMode>,
    /// The DPU system's `Bios` resource.
    pub bios: Option<ObservedBios>,
    /// ETag of the DPU's ComputerSystem, if any.
    pub etag: Option<String>,
}

/// Why a BMC (or DPU BMC) could not be read. Rendered with the endpoint and the help text,
/// so that an operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReadError {
    /// The URL (or host:port) that failed, e.g. `https://10.10.1.11/redfish/v1/Systems/1`.
    pub endpoint: String,
    /// What went wrong, for humans (`connection refused`, `HTTP 401 Unauthorized`).
    pub message: String,
    /// A stable code (`bmfleet::redfish::unauthorized`).
    pub code: String,
    /// What to do about it.
    pub help: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} [{}]", self.endpoint, self.message, self.code)
    }
}

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_host_round_trips_through_json() {
        let mut bios = ObservedBios::default();
        bios.current
            .insert("SriovGlobalEnable".into(), serde_json::json!("Disabled"));
        bios.pending
            .insert("SriovGlobalEnable".into(), serde_json::json!("Enabled"));
        let host = ObservedHost {
            name: "r1-c01".into(),
            bmc: Ok(ObservedSystem {
                power_state: Some("On".into()),
                bios: Some(bios),
                etag: Some("W/\"1\"".into()),
                ..ObservedSystem::default()
            }),
            dpu: Some(Err(ReadError {
                endpoint: "https://10.11.1.31".into(),
                message: "connection refused".into(),
                code: "bmfleet::redfish::connect".into(),
                help: "check the DPU BMC address".into(),
            })),
        };
        let text = serde_json::to_string(&host).unwrap();
        let back: ObservedHost = serde_json::from_str(&text).unwrap();
        assert_eq!(back, host);
    }
}
