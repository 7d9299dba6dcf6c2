use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// cloud-init data for a host and how it reaches it (cloud-init docs,
/// `reference/datasources/nocloud.rst` and `configdrive.rst`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudInitSpec {
    /// `user-data`: a `#cloud-config` YAML document or a `#!` script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<CloudInitSource>,
    /// `meta-data` (YAML; should hold `instance-id`; bmfleet derives one if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<CloudInitSource>,
    /// `network-config` (network config format v1 or v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_config: Option<CloudInitSource>,
    /// `virtualMedia`: a config-drive image attached over Redfish VirtualMedia;
    /// `ssh`: a NoCloud seed written over SSH.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<CloudInitDelivery>,
}

/// A cloud-init document: inline text or a file relative to the fleet root (exactly one).
/// Replaced as a whole when merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CloudInitSource {
    /// Path relative to the fleet root (`cloud-init/compute/user-data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The document itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
}

/// How cloud-init data is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CloudInitDelivery {
    /// Config-drive ISO inserted through Redfish VirtualMedia, then a one-time boot.
    VirtualMedia,
    /// NoCloud seed (`/var/lib/cloud/seed/nocloud`) written over SSH.
    Ssh,
}
