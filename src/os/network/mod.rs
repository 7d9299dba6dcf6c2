//! Network writes: an [`crate::plan::op::Op::NetworkApply`] carried out through the backend
//! that manages the interfaces on the host (chosen at plan time and recorded in the op).

use crate::engine::provider::{ApplyError, StepOutcome};
use crate::os::transport::Transport;
use crate::plan::model::Step;
use crate::plan::observed::ReadError;

/// Carries out a `network-apply` step on the host behind `transport`.
///
/// # Errors
/// Not implemented yet: always [`ApplyError`] `bmfleet::os::apply_unsupported`.
pub async fn apply(transport: &Transport, step: &Step) -> Result<StepOutcome, ApplyError> {
    Err(ApplyError {
        error: ReadError {
            endpoint: transport.host_label(),
            message: format!("{}: network writes are not implemented yet", step.address),
            code: "bmfleet::os::apply_unsupported".into(),
            help: "leave network out of this plan for now".into(),
        },
        outcome_unknown: false,
    })
}
