//! The provider boundary: how live state comes in and how one step goes out.
//!
//! A [`Provider`] owns some resource kinds (Redfish: power, boot, BIOS, DPU mode, DPU BIOS;
//! the OS provider over SSH: network, SR-IOV, hugepages, kernel args, tunables, cloud-init).
//! The engine asks every provider to read each host ([`Provider::read`]) and merges what they
//! return into one [`ObservedHost`] keyed by resource [`Address`]; the planner sees only that.
//! [`Provider::apply`] carries out one step of a saved plan exactly as its op says.

use crate::plan::address::Address;
use crate::plan::model::Step;
use crate::plan::observed::{Observation, ReadError};
use crate::plan::resource::{Resource, ResourceKind};
use crate::spec::Host;
use futures::future::BoxFuture;
use std::collections::BTreeMap;

/// What one provider read of one host.
#[derive(Debug, Clone, Default)]
pub struct ProviderRead {
    /// Observed resources (or why each could not be read), by address. A provider may add
    /// resources the spec does not set when the planner needs them (Redfish always reports
    /// `power`, whose state and reset types decide the host's reset).
    pub resources: BTreeMap<Address, Result<Observation, ReadError>>,
    /// Resources deliberately not read, with the reason for the plan.
    pub not_observed: BTreeMap<Address, String>,
    /// Endpoints contacted (`bmc`, `dpu`, `ssh`): whether each read succeeded and how many
    /// requests it took, for progress events.
    pub endpoints: Vec<EndpointRead>,
}

/// One endpoint read of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRead {
    /// Which endpoint of the host.
    pub role: super::event::BmcRole,
    /// True when it was read.
    pub ok: bool,
    /// Requests sent (retries included).
    pub requests: u64,
}

/// What applying one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepOutcome {
    /// Requests sent (retries included).
    pub requests: u64,
    /// What the peer said, for the record (`HTTP 202, task /redfish/v1/TaskService/Tasks/7`).
    pub detail: String,
}

/// The [`ReadError`] code a provider gives a reset that was accepted but did not finish
/// within its step's `timeout_s`: the executor may then send the step's fallback reset
/// type (graceful, then forced).
pub const RESET_TIMEOUT_CODE: &str = "bmfleet::engine::reset_timeout";

/// Why a step failed. `outcome_unknown` is set when the write may have taken effect (a
/// timeout or a 5xx on a PATCH/POST): the executor re-reads before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    /// What failed, with host and endpoint.
    pub error: ReadError,
    /// True when the write may have been applied although it failed.
    pub outcome_unknown: bool,
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ApplyError {}

/// A source of live state and the writer of the steps on the kinds it owns.
///
/// Implementations are cheap to share (`Arc<dyn Provider>`), bound every remote call in time
/// and size, and never print.
pub trait Provider: Send + Sync {
    /// A short name for errors and logs (`redfish`, `os`).
    fn name(&self) -> &'static str;

    /// The resource kinds this provider reads and writes.
    fn kinds(&self) -> &'static [ResourceKind];

    /// Reads `host`'s resources of this provider's kinds. `resources` are the ones the spec
    /// sets (their desired values let the provider normalize what it observes to the spec's
    /// spelling). Never fails as a whole: a peer that cannot be read is a [`ReadError`] on
    /// each resource it serves.
    fn read<'a>(&'a self, host: &'a Host, resources: &'a [Resource])
    -> BoxFuture<'a, ProviderRead>;

    /// Carries out one step of a saved plan on `host`, exactly as its op says, with the
    /// step's precondition as the write's condition where the peer supports one (HTTP
    /// `If-Match`).
    ///
    /// # Guarantees
    /// Writes only what the op names, to the resource at the step's address.
    ///
    /// # Idempotency
    /// Writing the same values again is harmless; a reset is not idempotent (the executor
    /// journals it and re-reads before retrying anything).
    ///
    /// # Caveats
    /// A 2xx answer is not proof that the value took effect: the executor re-reads.
    ///
    /// # Errors
    /// [`ApplyError`] naming host, endpoint and what to do.
    fn apply<'a>(
        &'a self,
        host: &'a Host,
        step: &'a Step,
    ) -> BoxFuture<'a, Result<StepOutcome, ApplyError>>;

    /// Whether this provider can carry `step` out at all (checked for the whole plan before
    /// any host is touched, so that a plan is never half-applied for want of a writer).
    ///
    /// # Errors
    /// Why not, in words (`cloud-init delivery virtualMedia is not carried out by this
    /// build`). The default accepts every step of the provider's kinds.
    fn supports(&self, step: &Step) -> Result<(), String> {
        let _ = step;
        Ok(())
    }
}

/// The resources of `resources` that `provider` owns (by kind), in order.
pub fn owned_by(provider: &dyn Provider, resources: &[Resource]) -> Vec<Resource> {
    resources
        .iter()
        .filter(|r| provider.kinds().contains(&r.kind))
        .cloned()
        .collect()
}
