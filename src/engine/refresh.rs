//! Refresh: read the live state of many hosts concurrently over Redfish.
//!
//! Concurrency: at most `parallelism` hosts are read at once (a bounded stream, so memory
//! stays flat for 100,000 hosts); a host's BMC and DPU BMC are read at the same time; each BMC
//! gets its own client with one cached session (logged out at the end) and its own in-flight
//! limit (default 2). One unreachable BMC is an error for its host only.
//!
//! Request economy per BMC (see [`RedfishClient::read_system`]): 5 requests with `$expand`,
//! 6 without, for power + boot + BIOS current and pending values.

use super::event::{BmcRole, Event, Reporter};
use super::targets::HostTarget;
use crate::plan::observed::{
    ObservedBios, ObservedBoot, ObservedDpu, ObservedHost, ObservedSystem, ReadError,
};
use crate::redfish::{
    BmcTarget, ClientOptions, ReadWant, RedfishClient, RedfishError, SystemState,
};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Options of a refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Hosts read at once (`--parallelism`, the Fleet's `concurrency.parallelism`).
    pub parallelism: usize,
    /// Per-BMC client options (timeouts, retries, in-flight limit).
    pub client: ClientOptions,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        Self {
            parallelism: 256,
            client: ClientOptions::default(),
        }
    }
}

/// What a refresh returns.
#[derive(Debug, Clone, Default)]
pub struct RefreshResult {
    /// Observed state per host name.
    pub observed: BTreeMap<String, ObservedHost>,
    /// HTTP requests sent in all (retries included).
    pub requests: u64,
}

fn read_error(target: &BmcTarget, e: &RedfishError) -> ReadError {
    use miette::Diagnostic;
    ReadError {
        endpoint: target.endpoint.to_string(),
        message: e.to_string(),
        code: e.code_str().to_string(),
        help: e
            .help()
            .map(|h| h.to_string())
            .unwrap_or_else(|| "check that the BMC is reachable and retry".into()),
    }
}

fn bios_of(state: &SystemState) -> Option<ObservedBios> {
    state.bios.as_ref().map(|b| ObservedBios {
        current: b.attributes.clone(),
        pending: b.pending.clone(),
        etag: b.etag.clone(),
        settings_etag: b.settings_etag.clone(),
        supported_apply_times: b.supported_apply_times.clone(),
    })
}

async fn read_one(
    target: BmcTarget,
    want: ReadWant,
    client_opts: &ClientOptions,
) -> (Result<SystemState, ReadError>, u64) {
    let client = match RedfishClient::new(target.clone(), client_opts.clone()) {
        Ok(c) => c,
        Err(e) => return (Err(read_error(&target, &e)), 0),
    };
    let result = client.read_system(want).await;
    // Explicit logout: session exhaustion is the most common BMC failure.
    let _ = client.logout().await;
    let requests = client.request_count();
    (result.map_err(|e| read_error(&target, &e)), requests)
}

async fn refresh_host(
    target: HostTarget,
    opts: &RefreshOptions,
    reporter: &dyn Reporter,
    total: &AtomicU64,
) -> ObservedHost {
    let name = target.name.clone();
    let bmc_fut = async {
        match target.bmc {
            Err(e) => (Err(e), 0),
            Ok(t) => {
                read_one(
                    t,
                    ReadWant {
                        bios: target.bios,
                        ..ReadWant::default()
                    },
                    &opts.client,
                )
                .await
            }
        }
    };
    let dpu_fut = async {
        match target.dpu {
            None => None,
            Some(Err(e)) => Some((Err(e), 0)),
            Some(Ok(t)) => Some(
                read_one(
                    t,
                    ReadWant {
                        bios: target.dpu_bios,
                        dpu_mode: true,
                        ..ReadWant::default()
                    },
                    &opts.client,
                )
                .await,
            ),
        }
    };
    let ((bmc, bmc_requests), dpu) = futures::join!(bmc_fut, dpu_fut);
    total.fetch_add(bmc_requests, Ordering::Relaxed);
    reporter.event(&Event::BmcRead {
        host: name.clone(),
        role: BmcRole::Bmc,
        ok: bmc.is_ok(),
        requests: bmc_requests,
    });
    let bmc = bmc.map(|s| ObservedSystem {
        power_state: s.power_state.clone(),
        boot: ObservedBoot {
            mode: s.boot.override_mode.clone(),
            override_target: s.boot.override_target.clone(),
            override_enabled: s.boot.override_enabled.clone(),
        },
        bios: bios_of(&s),
        etag: s.etag.clone(),
    });
    let dpu = dpu.map(|(result, requests)| {
        total.fetch_add(requests, Ordering::Relaxed);
        reporter.event(&Event::BmcRead {
            host: name.clone(),
            role: BmcRole::Dpu,
            ok: result.is_ok(),
            requests,
        });
        result.map(|s| {
            let bios = bios_of(&s);
            // BlueField-2 stages a mode change in the NicMode BIOS attribute.
            let pending_mode = bios
                .as_ref()
                .and_then(|b| b.pending.get("NicMode"))
                .and_then(serde_json::Value::as_str)
                .and_then(spec_dpu_mode);
            ObservedDpu {
                mode: s.dpu_mode.as_ref().and_then(|m| spec_dpu_mode(&m.raw)),
                pending_mode,
                bios,
                etag: s.etag.clone(),
            }
        })
    });
    let ok = bmc.is_ok() && dpu.as_ref().is_none_or(Result::is_ok);
    reporter.event(&Event::HostRefreshed {
        host: name.clone(),
        ok,
    });
    ObservedHost { name, bmc, dpu }
}

fn spec_dpu_mode(raw: &str) -> Option<crate::spec::model::DpuMode> {
    match crate::redfish::DpuMode::parse(raw)? {
        crate::redfish::DpuMode::Dpu => Some(crate::spec::model::DpuMode::Dpu),
        crate::redfish::DpuMode::Nic => Some(crate::spec::model::DpuMode::Nic),
    }
}

/// Reads the live state of every target. Never fails as a whole: a BMC that cannot be read
/// is a [`ReadError`] in its host's [`ObservedHost`].
pub async fn refresh(
    targets: Vec<HostTarget>,
    opts: &RefreshOptions,
    reporter: Arc<dyn Reporter>,
) -> RefreshResult {
    let hosts = targets.len();
    let bmcs = targets.len() + targets.iter().filter(|t| t.dpu.is_some()).count();
    reporter.event(&Event::RefreshStarted { hosts, bmcs });
    let total = AtomicU64::new(0);
    let parallelism = opts.parallelism.max(1);
    let observed: BTreeMap<String, ObservedHost> = futures::stream::iter(targets)
        .map(|t| {
            let reporter = reporter.clone();
            let total = &total;
            async move {
                let host = refresh_host(t, opts, reporter.as_ref(), total).await;
                (host.name.clone(), host)
            }
        })
        .buffer_unordered(parallelism)
        .collect()
        .await;
    let failed = observed
        .values()
        .filter(|h| h.bmc.is_err() || h.dpu.as_ref().is_some_and(Result::is_err))
        .count();
    let requests = total.load(Ordering::Relaxed);
    reporter.event(&Event::RefreshFinished {
        hosts,
        failed,
        requests,
    });
    RefreshResult { observed, requests }
}
