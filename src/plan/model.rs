//! The plan: what would change on which host, in which order, at what cost. Serializable to
//! versioned JSON (`format_version`), which `bmfleet plan -o` saves and `apply` reads back.
//!
//! Vocabulary is Terraform's: an [`Action`] is `create`, `update`, `delete`, `replace` or
//! `no-op`, plus `pending` for a desired value already staged on the BMC. Sensitive values are
//! replaced by `"(sensitive value)"` before they enter a [`Change`] (which is for humans), and
//! enter a [`Step`]'s [`Op`] only as references, so a plan never holds a secret.
//!
//! Format 2.0 (this version): every [`Step`] carries a typed [`Op`] and a precondition; the
//! step's prose is rendered from the op. A reader accepts any `2.x`.

use super::address::Address;
pub use super::observed::Fingerprint;
use super::observed::ReadError;
use super::op::Op;
use super::resource::{Disruption, ResourceKind};
use crate::spec::RepoInfo;
use crate::spec::model::IntOrPercent;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The plan format version written to `format_version` (semver major.minor: a reader accepts
/// any `2.x`; see [`Plan::check_format`]).
pub const FORMAT_VERSION: &str = "2.0";

/// A plan for a set of hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// `"2.0"` ([`FORMAT_VERSION`]).
    pub format_version: String,
    /// The spec revision the plan was made from.
    pub source: SpecSource,
    /// The host filters and overrides the plan was made with.
    pub options: PlanFilters,
    /// Counts.
    pub summary: Summary,
    /// Identical changes on two or more hosts, rendered once.
    pub groups: Vec<ChangeGroup>,
    /// Every host in scope, sorted by name.
    pub hosts: Vec<PlanHost>,
    /// The order hosts are disrupted in during `apply`.
    pub rollout: Rollout,
    /// Problems that concern more than one host (dependency cycles).
    pub errors: Vec<PlanError>,
}

impl Plan {
    /// True when applying the plan would change something (`plan --detailed-exitcode` exits
    /// 2): a host has at least one step.
    pub fn has_changes(&self) -> bool {
        self.hosts.iter().any(PlanHost::has_changes)
    }

    /// True when a host could not be planned or the plan has errors (exit status 1).
    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.hosts.iter().any(|h| h.error.is_some())
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&PlanHost> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Reads a saved plan (`bmfleet plan --out`), checking its format version first.
    ///
    /// # Errors
    /// A message when the text is not JSON, its `format_version` is not `2.x`, or it does not
    /// have the shape of a plan (the serde error names the field and position).
    pub fn from_json(text: &str) -> Result<Plan, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not a JSON document: {e}"))?;
        let version = value
            .get("format_version")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        Self::check_format(version)?;
        serde_json::from_value(value).map_err(|e| format!("not a bmfleet plan: {e}"))
    }

    /// Accepts `2.x`, the major version this build reads.
    ///
    /// # Errors
    /// A message naming the version found and the one expected.
    pub fn check_format(version: &str) -> Result<(), String> {
        let major = FORMAT_VERSION.split('.').next().unwrap_or_default();
        if version.split('.').next() == Some(major) && !version.is_empty() {
            Ok(())
        } else if version.is_empty() {
            Err(format!(
                "no format_version: this is not a plan saved by `bmfleet plan --out` (expected {major}.x)"
            ))
        } else {
            Err(format!(
                "plan format {version} is not readable by this bmfleet (it reads {major}.x); make the plan again with this version"
            ))
        }
    }
}

/// The spec revision a plan was made from (from [`RepoInfo`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SpecSource {
    /// What was asked for: `work tree` or the `--ref` text.
    pub revision: String,
    /// Full commit SHA, when the fleet is in a Git repository.
    pub commit: Option<String>,
    /// True when the work tree had uncommitted changes under the fleet root.
    pub dirty: bool,
}

impl From<&RepoInfo> for SpecSource {
    fn from(r: &RepoInfo) -> Self {
        Self {
            revision: r.revision.clone(),
            commit: r.commit.clone(),
            dirty: r.dirty,
        }
    }
}

impl SpecSource {
    /// One line for humans: `commit 1a2b3c4d5e6f (work tree, uncommitted changes)`.
    pub fn describe(&self) -> String {
        match &self.commit {
            Some(sha) => {
                let short = sha.get(..12).unwrap_or(sha);
                let dirty = if self.dirty {
                    ", uncommitted changes"
                } else {
                    ""
                };
                format!("commit {short} ({}{dirty})", self.revision)
            }
            None if self.revision.is_empty() => "unknown revision".to_string(),
            None => format!("{} (not a Git repository)", self.revision),
        }
    }
}

/// Host filters and overrides, as given on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanFilters {
    /// `-l` label selector, in kubectl syntax.
    pub selector: Option<String>,
    /// `--host` names or globs (empty: every host).
    pub hosts: Vec<String>,
    /// `--exclude` names or globs.
    pub exclude: Vec<String>,
    /// `--max-unavailable` overriding the fleet's rollout policy.
    pub max_unavailable: Option<IntOrPercent>,
}

/// What the plan does with one setting.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The target has no value yet (or, between two specs, the setting is new).
    Create,
    /// The value differs and is written.
    Update,
    /// The setting is removed (spec-to-spec diffs only: the live plan compares only what
    /// the spec sets).
    Delete,
    /// A value staged on the BMC differs from the spec; it is overwritten.
    Replace,
    /// Nothing to do.
    NoOp,
    /// The desired value is already staged on the BMC and takes effect on the next reset;
    /// not a new change.
    Pending,
}

impl Action {
    /// Terraform's marker: `+`, `~`, `-`, ` `. A staged value that is overwritten
    /// (`replace`) is an in-place update, `~`, not Terraform's `-/+` (destroy and
    /// recreate); renderers add "(replaces staged value)". `~` for pending too.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update | Action::Pending | Action::Replace => "~",
            Action::Delete => "-",
            Action::NoOp => " ",
        }
    }

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::NoOp => "no-op",
            Action::Pending => "pending",
        }
    }

    /// True for actions that write something (create, update, delete, replace).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Action::Create | Action::Update | Action::Delete | Action::Replace
        )
    }
}

/// One compared setting that is not a no-op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// The resource (`host/r1-c01/bios`).
    pub address: Address,
    /// The resource's kind.
    pub kind: ResourceKind,
    /// The setting key (`SriovGlobalEnable`, `mtu`, `pages.1G.node0`).
    pub setting: String,
    /// What happens.
    pub action: Action,
    /// The current value (`null`: not set or not reported).
    pub before: Option<Value>,
    /// The value staged on the BMC for the next reset, if it differs from the current one.
    pub pending: Option<Value>,
    /// The desired value (`null` for a delete).
    pub after: Option<Value>,
    /// The values are secret: `before`, `pending` and `after` hold `"(sensitive value)"`
    /// where a value exists.
    pub sensitive: bool,
    /// What this change costs.
    pub disruption: Disruption,
    /// Why, for humans (`drift: PowerState is Off, spec says On`).
    pub reason: String,
    /// Index into [`Plan::groups`] when the same change is planned on other hosts too.
    pub group: Option<usize>,
}

/// A resource the plan could not compare because its state is not read yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Unobserved {
    /// The resource.
    pub address: Address,
    /// Its kind.
    pub kind: ResourceKind,
    /// Why (`OS state is read over SSH, not available yet`).
    pub reason: String,
}

/// One ordered step of a host's apply: a resource to write, the coalesced reset, or a wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Step {
    /// The resource (`host/r1-c01/bios`, `host/r1-c01/reboot`).
    pub address: Address,
    /// Its kind.
    pub kind: ResourceKind,
    /// What the step costs.
    pub disruption: Disruption,
    /// What the step does, exactly; its prose is [`Op::describe`].
    pub op: Op,
    /// The observed state the step expects to find (the fingerprint read when planning);
    /// `apply` re-reads the resource and refuses the host when it differs. `None` for steps
    /// that write no resource (the reset, waits).
    pub precondition: Option<Fingerprint>,
}

impl Step {
    /// The step for humans, rendered from its op.
    pub fn description(&self) -> String {
        self.op.describe()
    }
}

/// One host of the plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanHost {
    /// The host's name.
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Why the host could not be planned (its BMC or DPU BMC could not be read).
    pub error: Option<ReadError>,
    /// The most disruptive step.
    pub disruption: Disruption,
    /// Settings that are not no-ops, sorted by address and setting.
    pub changes: Vec<Change>,
    /// Number of compared settings that already match.
    pub unchanged: usize,
    /// Resources whose live state was read and compared with the spec.
    #[serde(default)]
    pub observed: usize,
    /// Resources not compared because their state is not read yet.
    pub unobserved: Vec<Unobserved>,
    /// The apply steps in dependency order (empty: nothing to do).
    pub steps: Vec<Step>,
    /// Notes about how the steps take effect (`the host is off: staged settings apply at
    /// the next power on`).
    pub notes: Vec<String>,
}

impl PlanHost {
    /// True when the host has steps to apply.
    pub fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }

    /// True when a step resets the host (coalesced reboot, power on/off).
    pub fn reboots(&self) -> bool {
        self.steps.iter().any(|s| s.disruption.resets())
    }

    /// True when the host is reprovisioned (new cloud-init data).
    pub fn reprovisions(&self) -> bool {
        self.disruption == Disruption::Reprovision
    }

    /// Number of changes that write something (pending values excluded).
    pub fn settings_changed(&self) -> usize {
        self.changes.iter().filter(|c| c.action.writes()).count()
    }

    /// Number of values staged on the BMC that match the spec.
    pub fn pending(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action == Action::Pending)
            .count()
    }
}

/// Counts over the whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Hosts in scope.
    pub hosts: usize,
    /// Hosts with at least one step.
    pub hosts_to_change: usize,
    /// Settings written (create, update, delete, replace).
    pub settings: usize,
    /// Hosts reset or power-cycled (reprovisioned hosts included).
    pub reboots: usize,
    /// Hosts reprovisioned (new cloud-init data; also counted in `reboots`).
    pub reprovisions: usize,
    /// Hosts whose links flap but that do not reset.
    pub link_flaps: usize,
    /// Settings already staged on the BMC with the desired value.
    pub pending: usize,
    /// Hosts that could not be planned, plus plan-level errors.
    pub errors: usize,
    /// Resources whose live state was read and compared.
    #[serde(default)]
    pub observed: usize,
    /// Resources not compared (state not read yet).
    pub unobserved: usize,
}

/// The same change on several hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangeGroup {
    /// The resource address relative to the host (`bios`, `network/ens1f0/sr-iov`).
    pub resource: String,
    /// The resource kind.
    pub kind: ResourceKind,
    /// The setting key.
    pub setting: String,
    /// The action.
    pub action: Action,
    /// Current value.
    pub before: Option<Value>,
    /// Staged value.
    pub pending: Option<Value>,
    /// Desired value.
    pub after: Option<Value>,
    /// Cost.
    pub disruption: Disruption,
    /// Why.
    pub reason: String,
    /// The hosts, sorted.
    pub hosts: Vec<String>,
}

/// How hosts are batched during `apply`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rollout {
    /// The policy's `maxUnavailable` (after `--max-unavailable`).
    pub max_unavailable: IntOrPercent,
    /// The policy's `partitionBy` label key.
    pub partition_by: Option<String>,
    /// Failed hosts tolerated before `apply` stops starting new hosts (resolved against the
    /// hosts in scope; 0 stops at the first failure).
    pub max_failures: usize,
    /// Batches in order; a batch starts when the previous one finished.
    pub batches: Vec<Batch>,
    /// Problems with the policy (a stage selector that does not parse, a `dependsOn` that
    /// the stages order the wrong way round).
    pub warnings: Vec<String>,
}

/// Hosts changed together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Batch {
    /// 1-based position.
    pub number: usize,
    /// The rollout stage, when the policy has stages (`None`: hosts in no stage).
    pub stage: Option<String>,
    /// The `partitionBy` label value, when partitioned (`""` for hosts without the label).
    pub partition: Option<String>,
    /// Hosts, sorted.
    pub hosts: Vec<String>,
    /// How many of them are disrupted (these count against `maxUnavailable`).
    pub disruptive: usize,
}

/// A problem of the plan as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanError {
    /// Stable code (`bmfleet::plan::cycle`).
    pub code: String,
    /// What is wrong (`dependency cycle: host/a -> host/b -> host/a`).
    pub message: String,
    /// What to do.
    pub help: String,
    /// Hosts concerned.
    pub hosts: Vec<String>,
}
