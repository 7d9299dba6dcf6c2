use super::{HostSettings, Metadata};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `kind: Fleet`: the one document that holds defaults for all hosts, the credential names
/// hosts may reference, the rollout policy and concurrency limits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetDocument {
    /// Always `bmfleet.dev/v1alpha1`.
    pub api_version: String,
    /// Always `Fleet`.
    pub kind: FleetKind,
    /// The fleet's name and labels.
    pub metadata: Metadata,
    /// The fleet-wide settings.
    #[serde(default)]
    pub spec: FleetSpec,
}

/// The `kind` value of a [`FleetDocument`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FleetKind {
    /// `kind: Fleet`.
    Fleet,
}

/// `spec` of the `Fleet` document.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FleetSpec {
    /// Settings every host starts from, before its profiles and its own spec
    /// (effective host = defaults <- profiles in order <- host).
    #[serde(default)]
    pub defaults: HostSettings,
    /// Credential names that `bmc.credentialsRef` may use. Only the names live in Git; the
    /// values are resolved at run time from environment variables or a credentials file
    /// outside the repo. A password in the spec is an error.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, CredentialSpec>,
    /// How many hosts may be disrupted at once during `apply`.
    #[serde(default)]
    pub rollout: RolloutPolicy,
    /// Concurrency limits for reading and changing live state.
    #[serde(default)]
    pub concurrency: Concurrency,
}

/// A named credential. At run time bmfleet reads the username and password from the
/// environment variables named here (default `BMFLEET_CRED_<NAME>_USERNAME` and
/// `BMFLEET_CRED_<NAME>_PASSWORD`, with `<NAME>` upper-cased and `-` turned into `_`), or
/// from the credentials file given by `--credentials` / `BMFLEET_CREDENTIALS`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialSpec {
    /// What the credential is for (shown by `bmfleet show`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Environment variable holding the username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_env: Option<String>,
    /// Environment variable holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

impl CredentialSpec {
    /// The environment variable the username of credential `name` is read from:
    /// `usernameEnv`, else `BMFLEET_CRED_<NAME>_USERNAME` ([`default_env_var`]).
    pub fn username_var(&self, name: &str) -> String {
        self.username_env
            .clone()
            .unwrap_or_else(|| default_env_var(name, "USERNAME"))
    }

    /// The environment variable the password of credential `name` is read from:
    /// `passwordEnv`, else `BMFLEET_CRED_<NAME>_PASSWORD` ([`default_env_var`]).
    pub fn password_var(&self, name: &str) -> String {
        self.password_env
            .clone()
            .unwrap_or_else(|| default_env_var(name, "PASSWORD"))
    }
}

/// The default environment variable for field `field` (`USERNAME`, `PASSWORD`) of credential
/// `name`: `BMFLEET_CRED_<NAME>_<FIELD>`, with `<NAME>` upper-cased and every character other
/// than an ASCII letter or digit turned into `_`.
pub fn default_env_var(name: &str, field: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("BMFLEET_CRED_{upper}_{field}")
}

/// A count of hosts, or a percentage of the hosts in scope (`"25%"`, rounded down, at
/// least 1), as in Kubernetes' `maxUnavailable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrPercent {
    /// A number of hosts.
    Count(u32),
    /// A percentage such as `"25%"` (0 to 100).
    Percent(#[schemars(regex(pattern = r"^[0-9]{1,3}%$"))] String),
}

impl IntOrPercent {
    /// Resolves the value against `total` hosts. A percentage rounds down but never below 1
    /// when `total > 0`. Returns `None` for a malformed or out-of-range percentage.
    pub fn resolve(&self, total: usize) -> Option<usize> {
        match self {
            IntOrPercent::Count(n) => Some(*n as usize),
            IntOrPercent::Percent(p) => {
                let pct: usize = p.strip_suffix('%')?.parse().ok()?;
                if pct > 100 {
                    return None;
                }
                let n = total * pct / 100;
                Some(if total > 0 { n.max(1) } else { 0 })
            }
        }
    }
}

impl Default for IntOrPercent {
    fn default() -> Self {
        IntOrPercent::Count(1)
    }
}

/// Rollout policy for disruptive changes (reboots, link flaps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutPolicy {
    /// Most hosts disrupted at once (count or percent), per partition when `partitionBy` is
    /// set. Default 1.
    #[serde(default)]
    pub max_unavailable: IntOrPercent,
    /// A label key (for example `rack`): `maxUnavailable` applies within each group of hosts
    /// sharing that label's value, and only one group is disrupted at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// Failed hosts tolerated before `apply` stops starting new hosts (count or percent of the
    /// hosts in scope). Default 0: stop at the first failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<IntOrPercent>,
    /// Ordered stages (canaries first): each stage's hosts, chosen by a label selector, are
    /// finished before the next stage starts. Hosts in no stage come last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<RolloutStage>,
}

/// One rollout stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutStage {
    /// Stage name, shown in plans.
    pub name: String,
    /// A label selector in kubectl syntax (`rack=r1,canary in (true)`).
    pub selector: String,
}

/// Concurrency limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concurrency {
    /// Global number of hosts whose state is read or changed at once (`--parallelism`
    /// overrides it), 1 to 100,000. Default 256.
    #[serde(default = "default_parallelism")]
    #[schemars(range(min = 1, max = 100_000))]
    pub parallelism: u32,
    /// Requests in flight to one BMC at once, 1 to 16. Real BMCs are slow and allow few
    /// sessions. Default 2.
    #[serde(default = "default_per_bmc")]
    #[schemars(range(min = 1, max = 16))]
    pub per_bmc: u32,
    /// Per-request timeout towards a BMC, in seconds, 1 to 600. Default 30.
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 600))]
    pub request_timeout_seconds: u32,
}

fn default_parallelism() -> u32 {
    256
}
fn default_per_bmc() -> u32 {
    2
}
fn default_timeout() -> u32 {
    30
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            parallelism: default_parallelism(),
            per_bmc: default_per_bmc(),
            request_timeout_seconds: default_timeout(),
        }
    }
}
