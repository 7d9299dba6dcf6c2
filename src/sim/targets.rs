//! Wiring a simulated fleet into a run: the simulator hands the caller endpoint overrides
//! and its credential; the engine never imports the simulator.

use super::BmcKind;
use super::from_spec::{SIM_PASSWORD, SIM_USERNAME};
use crate::engine::targets::{
    Credential, CredentialSource, EndpointOverrides, HostTarget, targets_for,
};
use crate::secret::Secret;
use crate::spec::Host;
use std::path::Path;

/// The simulator's account (every simulated BMC accepts it).
pub fn credential() -> Credential {
    Credential {
        username: SIM_USERNAME.into(),
        password: Secret::new(SIM_PASSWORD),
    }
}

/// The URL of `host`'s BMC (or DPU BMC) on a simulator listening at `base`
/// (`http://127.0.0.1:8000`): `{base}/h/{host}/bmc`.
pub fn endpoint(base: &str, host: &str, kind: BmcKind) -> String {
    format!("{}/h/{host}/{}", base.trim_end_matches('/'), kind.segment())
}

/// Endpoint overrides pointing every host of `hosts` at the simulator at `base` (a running
/// `bmfleet sim`, for `--sim-url`).
pub fn overrides_for_url(base: &str, hosts: &[&Host]) -> EndpointOverrides {
    hosts
        .iter()
        .map(|h| {
            let dpu = h
                .settings
                .dpu
                .as_ref()
                .map(|_| endpoint(base, &h.name, BmcKind::Dpu));
            (h.name.clone(), (endpoint(base, &h.name, BmcKind::Bmc), dpu))
        })
        .collect()
}

/// Endpoint overrides for an in-process simulator (`SimHandle::endpoint` knows which hosts
/// it makes unreachable).
pub fn overrides(sim: &super::SimHandle, hosts: &[&Host]) -> EndpointOverrides {
    hosts
        .iter()
        .map(|h| {
            let dpu = h
                .settings
                .dpu
                .as_ref()
                .map(|_| sim.endpoint(&h.name, BmcKind::Dpu));
            (h.name.clone(), (sim.endpoint(&h.name, BmcKind::Bmc), dpu))
        })
        .collect()
}

/// Read targets that point every host at an in-process simulator, logged in with the
/// simulator's account (`bmfleet plan --simulate`, tests, benchmarks).
pub fn simulated_targets(
    sim: &super::SimHandle,
    hosts: &[&Host],
    fleet_dir: &Path,
) -> Vec<HostTarget> {
    let creds = CredentialSource::Fixed(credential());
    targets_for(hosts, &creds, fleet_dir, Some(&overrides(sim, hosts)))
}
