//! The engine: the async side. It reads live state through the providers ([`crate::redfish`]
//! now, `os` over SSH later) and will apply saved plans step by step. It emits
//! [`event::Event`]s to a [`event::Reporter`] and never prints.

pub mod event;
pub mod provider;
pub mod refresh;
pub mod targets;

pub use event::{Event, NullReporter, RecordingReporter, Reporter};
pub use provider::{ApplyError, EndpointRead, Provider, ProviderRead, StepOutcome};
pub use refresh::{RefreshOptions, RefreshResult, refresh};
pub use targets::{CredentialSource, HostTarget, targets_for};
