//! The fleet-spec data model: the Rust types behind `schemas/fleet.schema.json`.
//!
//! A fleet repo holds multi-document YAML files. Every document has
//! `apiVersion: bmfleet.dev/v1alpha1`, a `kind` and `metadata`, and one of three shapes:
//!
//! | kind      | how many     | `spec` type      |
//! |-----------|--------------|------------------|
//! | `Fleet`   | exactly one  | [`FleetSpec`]    |
//! | `Profile` | any          | [`ProfileSpec`]  |
//! | `Host`    | any          | [`HostSpec`]     |
//!
//! Every field of a host's settings ([`HostSettings`]) is optional, because a profile or the
//! fleet defaults may set only part of a host. Fields that an *effective* host must have (for
//! example `bmc.endpoint`) are checked after merging, by the validator.
//!
//! Field names follow the field's standards: Redfish property values (`On`, `UEFI`, `Pxe`),
//! nmstate's schema for `network` (`link-aggregation`, `base-iface`, `sr-iov`, `total-vfs`),
//! cloud-init's names (`user-data`, `network-config`, NoCloud / config-drive).

mod cloud_init;
mod fleet;
mod host;
mod network;
mod os;

pub use cloud_init::*;
pub use fleet::*;
pub use host::*;
pub use network::*;
pub use os::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "bmfleet.dev/v1alpha1";

/// `metadata` of every document (Kubernetes style).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Name of the object. For a `Host`, a DNS-1123 label (lower-case letters, digits and
    /// `-`, at most 63 characters, starting and ending with an alphanumeric); it must be
    /// unique among documents of the same kind.
    pub name: String,
    /// Labels (Kubernetes syntax: `rack: r1`), used by label selectors (`-l rack=r1`) and
    /// by `rollout.partitionBy`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations; bmfleet ignores them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A scalar value as YAML allows it in free-form maps (BIOS attributes, sysctl, bond
/// options): a boolean, an integer or a string. Redfish BIOS attributes are typed as
/// `Enumeration`/`String` (string), `Integer` (integer) or `Boolean` (DMTF
/// `AttributeRegistry.v1_x` `AttributeType`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(untagged)]
pub enum Scalar {
    /// `true` / `false`.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// Any string (quote numbers that must stay strings).
    Str(String),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

impl Scalar {
    /// The value as JSON, as Redfish carries it.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Scalar::Bool(b) => serde_json::Value::Bool(*b),
            Scalar::Int(i) => serde_json::Value::from(*i),
            Scalar::Str(s) => serde_json::Value::String(s.clone()),
        }
    }
}
