//! The engine: the async side. It reads live state through the providers ([`crate::redfish`]
//! and `os` over SSH) and applies saved plans step by step ([`execute`]). It emits
//! [`event::Event`]s to a [`event::Reporter`] and never prints.

pub mod event;
pub mod execute;
pub mod provider;
pub mod refresh;
pub mod targets;

pub use event::{Event, NullReporter, RecordingReporter, Reporter};
pub use execute::{
    ApplyReport, ExecuteError, ExecuteOptions, FailStage, HostOutcome, HostReport, Resume,
    StepReport, StepStatus, execute, execute_resumed,
};
pub use provider::{ApplyError, EndpointRead, Provider, ProviderRead, StepOutcome};
pub use refresh::{RefreshOptions, RefreshResult, refresh};
pub use targets::{CredentialSource, HostTarget, targets_for};
