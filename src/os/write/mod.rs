//! OS writes: one step of a saved plan carried out on a host through its [`Transport`].

use crate::engine::provider::{ApplyError, StepOutcome};
use crate::os::transport::Transport;
use crate::plan::model::Step;
use crate::plan::observed::ReadError;
use crate::plan::op::Op;

/// Carries out `step` on the host behind `transport`, exactly as its op says.
///
/// # Errors
/// [`ApplyError`] naming host, step, command and stderr.
pub async fn apply_step(transport: &Transport, step: &Step) -> Result<StepOutcome, ApplyError> {
    match &step.op {
        Op::NetworkApply { .. } => super::network::apply(transport, step).await,
        _ => Err(ApplyError {
            error: ReadError {
                endpoint: transport.host_label(),
                message: format!(
                    "{}: applying this OS step is not implemented yet",
                    step.address
                ),
                code: "bmfleet::os::apply_unsupported".into(),
                help: "leave it out of this plan for now".into(),
            },
            outcome_unknown: false,
        }),
    }
}
