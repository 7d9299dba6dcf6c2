//! Redfish client: reads (and, for `apply`, writes) the BMC/BIOS/DPU state of one server.
//!
//! Standards: DMTF DSP0266 (Redfish Specification: protocol, sessions, ETags, `$expand`,
//! settings objects, tasks) and the DMTF Redfish schemas (DSP8010 bundle; DSP0268 guide).
//! Vendor quirks handled are named where they are handled (Dell iDRAC, Lenovo XCC, NVIDIA
//! BlueField, AMI, OpenStack sushy's ETag strategy).
//!
//! # Shape
//!
//! - [`BmcTarget`] + [`ClientOptions`] -> [`RedfishClient::new`]: one client per BMC, one
//!   Redfish session per client (created on the first authenticated request, renewed once
//!   on a 401, deleted by [`RedfishClient::logout`]); HTTP basic auth when the BMC has no
//!   SessionService.
//! - [`RedfishClient::read_system`] with a [`ReadWant`] -> [`SystemState`]: power, boot
//!   override, BIOS current + pending, DPU mode, virtual media, SR-IOV.
//! - Writes: [`RedfishClient::patch`], [`RedfishClient::post_action`],
//!   [`RedfishClient::patch_bios_settings`], [`RedfishClient::set_boot_override`],
//!   [`RedfishClient::reset`], [`RedfishClient::poll_task`], [`RedfishClient::set_dpu_mode`].
//! - [`model`]: vendor-tolerant serde types and [`model::parse_resource`].
//! - [`RedfishError`]: one diagnostic per failure class, code `bmfleet::redfish::*`
//!   (401 is `unauthorized`, 403 `forbidden`; a write that may have been applied is
//!   `write_outcome_unknown`).
//!
//! # Request economy
//!
//! A BIOS read of a host whose `system_id` is known, with session auth and logout, costs
//! **5 requests** on every vendor (session POST at the DSP0266 well-known path, system GET,
//! Bios GET, settings object GET, session DELETE); the service root is read only when
//! needed (no `system_id`, collection reads, or a session service elsewhere), and once it
//! is known `$expand` brings Bios inline where the BMC supports it. [`RedfishClient::request_count`] counts every attempt. At most
//! [`ClientOptions::per_bmc_in_flight`] requests (default 2) are in flight per BMC, and a
//! shared [`ClientOptions::global_limiter`] caps the whole run.
//!
//! # Retries
//!
//! Connection failures before anything was sent (refused, DNS, connect timeout) are retried
//! for every method. Reads (GET, DELETE) are also retried on timeouts, 5xx, 503 and 429.
//! Writes (PATCH, POST of actions, the session login) are never retried once they may have
//! reached the BMC: only 503/429 carrying `Retry-After` are, and a write that timed out or
//! got a 5xx ends in [`RedfishError::WriteOutcomeUnknown`] so that the caller re-reads and
//! decides. Delays: `Retry-After` seconds (capped at [`ClientOptions::retry_after_max`],
//! default 30 s) or the exponential backoff with jitter. Other 4xx are never retried, TLS
//! failures neither.
//!
//! # Conditional writes
//!
//! Every PATCH carries `If-Match` with the ETag last read, in the form this BMC accepts
//! (learned on the first conditional PATCH, see [`IfMatchForm`]); a 412 on every form is a
//! [`RedfishError::Precondition`], never a fallback to a write without `If-Match`.
//!
//! # Secrets
//!
//! The password and the session token are [`crate::secret::Secret`]s: never in `Debug`,
//! errors or logs. Endpoints with `user:password@` are rejected; redirects are not followed
//! (they could carry `X-Auth-Token` elsewhere).

#![deny(missing_docs)]
// Nothing a BMC sends may panic the client; tests are exempt.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod client;
pub mod error;
pub mod model;
pub mod provider;
mod read;
mod tls;
mod write;

pub use client::{BmcTarget, ClientOptions, RedfishClient};
pub use error::{ErrorDetails, ExtendedMessage, RedfishError};
pub use read::{
    BiosState, BootState, DeviceFunctionState, DpuMode, DpuModeSource, DpuModeState,
    NetworkAdapterState, ReadWant, SystemState,
};
pub use tls::TlsOptions;
pub use write::{
    ApplyTime, BootOverrideEnabled, IfMatchForm, ResetType, TaskProgress, TaskRef, TaskState,
    WriteOutcome, if_match_candidates,
};
