//! A seeded Redfish fleet simulator: thousands of simulated BMCs (and BlueField DPU BMCs) on
//! one loopback HTTP server, for tests, benchmarks and `bmfleet plan --simulate`.
//!
//! It imitates what real BMCs do to a client, not just the happy path: settings staged as
//! pending until a reset, asynchronous resets with tasks, ETags and `If-Match` rules that differ
//! per vendor, session limits, `$expand` only where advertised, and injected latency, errors,
//! hangs and unreachable hosts. Everything random is seeded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bmfleet::sim::SimError> {
//! use bmfleet::sim::{BmcKind, SimFleetConfig, SimServer};
//! let sim = SimServer::start(SimFleetConfig::generated(10)).await?;
//! let root = format!("{}/redfish/v1", sim.endpoint("r1-n01", BmcKind::Bmc));
//! // GET root (no auth), POST {root}/SessionService/Sessions, ...
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # URL layout
//!
//! One server, one router with path parameters (not a router per host); each host's resources
//! are generated on demand from its compact state.
//!
//! | Path | Resource |
//! |---|---|
//! | `/h/{host}/bmc/redfish/v1` | host BMC service root (unauthenticated) |
//! | `.../Systems`, `.../Systems/{system_id}` | `ComputerSystem` (GET, PATCH `Boot`) |
//! | `.../Systems/{id}/Actions/ComputerSystem.Reset` | POST `{"ResetType": ...}` |
//! | `.../Systems/{id}/Bios` | current attributes, `@Redfish.Settings` |
//! | `.../Systems/{id}/Bios/Settings` (XCC: `Bios/Pending`) | pending attributes (GET, PATCH) |
//! | `.../Managers`, `.../Managers/{manager_id}` | the BMC itself |
//! | `.../SessionService`, `.../SessionService/Sessions[/{n}]` | login (POST), logout (DELETE) |
//! | `.../TaskService`, `.../TaskService/Tasks[/{n}]` | reset tasks |
//! | `/h/{host}/dpu/redfish/v1/...` | DPU BMC: same services, `Systems/Bluefield`, its `Bios`, `Bios/Settings`, `Managers/Bluefield_BMC`; BF3 also `Systems/Bluefield/Oem/Nvidia` and `.../Oem/Nvidia/Actions/Mode.Set` |
//!
//! Every `@odata.id` and `Location` carries the `/h/{host}/{bmc|dpu}` prefix, so a client that
//! resolves links against the origin works unchanged. Clients should follow links (notably
//! `Bios` -> `@Redfish.Settings.SettingsObject`, which differs per vendor) rather than build
//! paths. `/h/{host}/dpu/...` answers 404 for hosts without a DPU; unknown paths answer 404
//! and wrong methods 405 (with `Allow`), both with DSP0266 error bodies.
//!
//! # Behaviours
//!
//! - **Authentication** (DSP0266 "Security details"): everything except `GET /redfish`,
//!   `GET /redfish/v1` and the login POST needs `X-Auth-Token` from a session or HTTP basic
//!   credentials ([`SimHostConfig::username`]/`password`; the DPU BMC uses the same). Bad login
//!   credentials: 401. Each BMC allows [`Faults::session_limit`] sessions; one more gets 503
//!   (iDRAC: `IDRAC.2.8.RAC0218` "The maximum number of user sessions is reached.", others:
//!   `SessionLimitExceeded`). DELETE of the session frees the slot.
//! - **Pending BIOS**: a PATCH of the settings object validates every attribute against the
//!   current ones (unknown name: 400 `PropertyUnknown`, wrong JSON type: 400
//!   `PropertyValueTypeError`; nothing staged on error) and stages them. `/Bios` does not change
//!   until a reset *completes*: `ForceRestart`, `GracefulRestart`, `PowerCycle`, or power-on
//!   from off. iDRAC lists only changed attributes, XCC every writable one. On iDRAC the PATCH
//!   must carry `@Redfish.SettingsApplyTime` for a configuration job to be created; without it
//!   the values stay pending across resets ([`HostState::bios_job_scheduled`]). The Generic
//!   vendor also accepts `ApplyTime: Immediate`, which stages and restarts at once (202 + task).
//! - **Resets** are asynchronous: 202 with `Location: .../TaskService/Tasks/{n}` and the task as
//!   body. The task is `New` for the first tenth of the duration, then `Running`, then
//!   `Completed`. `PowerState` goes `PoweringOff` (first quarter), `Off` (second),
//!   `PoweringOn` (rest), `On`. Durations come from [`Timing`]. A reset that changes nothing
//!   (`On` while on, `ForceOff` while off, `Nmi`) answers 204 without a task; a reset while
//!   another runs answers 409 `ResourceInUse`. A completed boot also consumes a `Once` boot
//!   override. State is advanced lazily from `tokio::time::Instant`, so no task runs per host
//!   and `tokio::time::pause()` can be used.
//! - **DPU mode** (NVIDIA BlueField BMC "Modes of Operation Configuration"): BF3 takes
//!   `POST .../Oem/Nvidia/Actions/Mode.Set {"Mode": "NicMode"}`, BF2 a PATCH of DPU
//!   `Bios/Settings {"Attributes": {"NicMode": "NicMode"}}` (on BF3 that attribute is read
//!   only). Either way the change takes effect only after a DPU reset (`ComputerSystem.Reset` on
//!   `Systems/Bluefield`) *and then* a host power cycle (`PowerCycle`, or off then on). Until
//!   then `Oem.Nvidia.Mode` and the `NicMode` attribute keep the old value; the pending request
//!   is visible only through [`HostState::dpu_pending_mode`], since real BMCs do not show it.
//! - **ETags** (DSP0266 "ETags"): every GET answers an `ETag` header hashed from the resource,
//!   so it changes whenever the resource does; XCC and Generic also put `@odata.etag` in the
//!   body (iDRAC and bmcweb do not). `If-None-Match` gives 304. On PATCH a stale `If-Match`
//!   gets 412 `PreconditionFailed`; XCC answers 428 `PreconditionRequired` to a PATCH without
//!   `If-Match`; iDRAC answers 412 to any action POST that carries `If-Match`, so a client must
//!   not send it there. [`Faults::weak_etags`] sends `W/"..."`.
//! - **`$expand`**: `$expand=.`, `*` or `~`, optionally with `($levels=1)`, on any resource of
//!   a service whose root advertises `ProtocolFeaturesSupported.ExpandQuery` (XCC, Generic);
//!   e.g. on the `ComputerSystem` it inlines `Bios`. Where it is not advertised (iDRAC, DPU)
//!   it answers 501 `QueryNotSupported`, as DSP0266 requires for unsupported `$` parameters.
//! - **Faults** ([`Faults`]): per-request latency (fixed base + uniform or truncated exponential
//!   jitter), an error rate (500 `InternalError` or 503 with `Retry-After`, nothing changed),
//!   hosts that hang ([`HostFailure::Timeout`], bounded by [`Faults::hang_ms`]) and
//!   unreachable hosts ([`HostFailure::Unreachable`]), all overridable per host. Random draws
//!   are keyed by `(seed, host, request number)`.
//! - **Drift** ([`apply_drift`]): seeded perturbation of host configurations before start.
//! - **OS facet** ([`os`]): a sysroot per host, seeded from the spec with drift, that the OS
//!   probe reads through the `local` transport.

mod drift;
mod errors;
pub mod from_spec;
mod model;
pub mod os;
mod resources;
mod server;
mod state;
pub mod targets;

use std::future::Future;

pub use drift::{DriftKind, DriftRecord, apply_drift};
pub use errors::SimError;
pub use model::{
    BootOverride, DpuGeneration, DpuMode, Faults, HostFailure, HostFaults, Jitter, Latency,
    PowerState, SimDpuConfig, SimFleetConfig, SimHostConfig, Timing, Vendor,
};
pub use server::{SimHandle, SimServer};
pub use state::{BmcKind, HostState, PendingDpuMode};

/// Serves `config` on `127.0.0.1:port` (0 = any free port) until Ctrl-C, then shuts down
/// gracefully. `on_ready` is called once with the running handle (to print the base URL or
/// endpoints; library code does not print). This is the entry point for a `bmfleet sim`
/// command.
///
/// Errors: as [`SimServer::start`].
pub async fn serve_forever(
    config: SimFleetConfig,
    port: u16,
    on_ready: impl FnOnce(&SimHandle),
) -> Result<(), SimError> {
    serve_until(
        config,
        port,
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                // No signal handling available: serve until the process is killed.
                std::future::pending::<()>().await;
            }
        },
        on_ready,
    )
    .await
}

/// Serves `config` on `127.0.0.1:port` until `stop` completes, then shuts down gracefully.
/// `on_ready` is called once with the running handle.
///
/// Errors: as [`SimServer::start`].
pub async fn serve_until(
    config: SimFleetConfig,
    port: u16,
    stop: impl Future<Output = ()>,
    on_ready: impl FnOnce(&SimHandle),
) -> Result<(), SimError> {
    let handle = SimServer::start_on(config, port).await?;
    on_ready(&handle);
    stop.await;
    handle.shutdown().await;
    Ok(())
}
