//! Observed (live) state of a host, keyed by resource [`Address`]: what the engine's
//! providers (Redfish for the BMC and DPU, the OS over SSH) read. The planner only reads
//! these types and knows nothing of where they came from.
//!
//! Values are JSON in the spelling the spec uses for the setting (`PowerState: "On"`, BIOS
//! attributes as strings, integers or booleans). A provider normalizes what its peer sends
//! (vendor spellings, integers sent as strings, transitional power states, settings objects
//! that repeat every current value) before handing an [`Observation`] over, so the planner
//! compares with plain equality. Nothing here holds a secret: credentials never enter
//! observed state, and saved plans keep only [`Fingerprint`]s of it.

use super::address::Address;
use super::resource::ResourceKind;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Everything read for one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedHost {
    /// The host's name (`metadata.name` in the spec).
    pub name: String,
    /// Each resource a provider read, or why it could not be read. An error on any resource
    /// makes the planner report the host as an error (and plan no step for it).
    pub resources: BTreeMap<Address, Result<Observation, ReadError>>,
    /// Resources that were deliberately not read, with the reason shown in the plan (`OS
    /// state is read over SSH, not available yet`, `the BMC returned no Bios resource`).
    pub not_observed: BTreeMap<Address, String>,
}

impl ObservedHost {
    /// An empty observation of host `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The observation at `address`, when it was read successfully.
    pub fn get(&self, address: &Address) -> Option<&Observation> {
        self.resources.get(address).and_then(|r| r.as_ref().ok())
    }

    /// The observation of the resource of `kind` without an interface (power, bios, ...).
    pub fn of_kind(&self, kind: ResourceKind) -> Option<&Observation> {
        self.get(&Address::new(&self.name, kind, None))
    }

    /// The first read error, in address order.
    pub fn first_error(&self) -> Option<&ReadError> {
        self.resources.values().find_map(|r| r.as_ref().err())
    }
}

/// The observed state of one resource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Setting key -> current and staged value. Keys are the spec's setting keys
    /// (`PowerState`, a BIOS attribute name, `mode`, `mtu`); a key absent here was not
    /// reported by the peer.
    pub values: BTreeMap<String, ObservedValue>,
    /// What identifies this observed state, for the plan's preconditions.
    pub fingerprint: Fingerprint,
    /// Set when the staged values could not be read (`HTTP 403 on .../Bios/Settings`): the
    /// current values are usable, the pending state is unknown.
    pub pending_unknown: Option<String>,
    /// What the peer accepts for writes to this resource.
    pub capabilities: Capabilities,
    /// Setting keys the provider cannot read, with why (`ipv4.dhcp`: `the OS probe does not
    /// read DHCP configuration`). The planner does not compare them and lists them as not
    /// observed, instead of taking the missing value for drift.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
}

impl Observation {
    /// The current value of `key`.
    pub fn current(&self, key: &str) -> Option<&Value> {
        self.values.get(key).and_then(|v| v.current.as_ref())
    }
}

/// The current value of a setting and the value staged for the next reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedValue {
    /// In effect now; `None` when not reported.
    pub current: Option<Value>,
    /// Staged (Redfish `@Redfish.Settings`, a DPU mode change) and different from the
    /// current value; `None` when nothing is staged.
    pub pending: Option<Value>,
}

/// What a peer accepts when writing a resource, so the planner can choose and record the
/// exact write (the executor decides nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Capabilities {
    /// Apply times the settings object accepts (Redfish `SettingsApplyTime`
    /// `ApplyTime@Redfish.AllowableValues`: `OnReset`, `Immediate`, ...); empty when the peer
    /// does not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apply_times: Vec<String>,
    /// Reset types the system accepts (`ResetType@Redfish.AllowableValues` of
    /// `#ComputerSystem.Reset`: `On`, `ForceOff`, `GracefulRestart`, `PowerCycle`, ...);
    /// empty when the peer does not say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reset_types: Vec<String>,
    /// How this resource is written on this host, chosen by the provider from what it read,
    /// so the planner records it in the op: the network backend (`nmstate`, `netplan`,
    /// `networkmanager`, `systemd-networkd`, `ifupdown`) or the boot-argument tool (`grubby`,
    /// `grub.d`); `None` when there is no choice to make or no usable writer was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,
    /// Why this resource cannot be written from here (the OS was read as a user that is not
    /// root and without sudo); `None` when it can. A plan that would write it is an error for
    /// the host, not a failed apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<String>,
}

/// What was observed of a resource when planning, so that `apply` can refuse a stale plan:
/// the step's precondition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Fingerprint {
    /// The resource's ETag, when the peer sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The ETag of the resource's settings object (Redfish `@Redfish.Settings`), when there
    /// is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_etag: Option<String>,
    /// SHA-256 (hex) of the canonical JSON (sorted keys) of the observed values; always
    /// present, because some BMCs send weak, empty or no ETags.
    pub sha256: String,
}

/// Why a resource (or the BMC, DPU BMC or host behind it) could not be read. Rendered with
/// the endpoint and the help text, so that an operator knows what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReadError {
    /// The URL (or host:port) that failed, e.g. `https://r1-c01-bmc.example.net/redfish/v1/Systems/1`.
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
    use serde_json::json;

    #[test]
    fn observed_host_round_trips_through_json() {
        let mut host = ObservedHost::new("r1-c01");
        let mut bios = Observation::default();
        bios.values.insert(
            "SriovGlobalEnable".into(),
            ObservedValue {
                current: Some(json!("Disabled")),
                pending: Some(json!("Enabled")),
            },
        );
        bios.fingerprint.etag = Some("W/\"1\"".into());
        host.resources
            .insert(Address::new("r1-c01", ResourceKind::Bios, None), Ok(bios));
        host.resources.insert(
            Address::new("r1-c01", ResourceKind::DpuMode, None),
            Err(ReadError {
                endpoint: "https://r1-c01-dpu-bmc.example.net".into(),
                message: "connection refused".into(),
                code: "bmfleet::redfish::connect".into(),
                help: "check the DPU BMC address".into(),
            }),
        );
        let text = serde_json::to_string(&host).unwrap();
        let back: ObservedHost = serde_json::from_str(&text).unwrap();
        assert_eq!(back, host);
        assert_eq!(
            host.first_error().unwrap().code,
            "bmfleet::redfish::connect"
        );
        assert!(host.of_kind(ResourceKind::Bios).is_some());
    }
}
