//! Refresh: read the live state of many hosts concurrently through the providers.
//!
//! Concurrency: at most `parallelism` hosts are read at once (a bounded stream, so memory
//! stays flat for 100,000 hosts); a host's providers are read at the same time (Redfish reads
//! the BMC and the DPU BMC concurrently). One unreachable peer is an error for its host only.
//!
//! Resources whose kind no provider owns are reported as not observed, with the reason (the
//! OS layer over SSH is not built yet), never as matching the spec.

use super::event::{Event, Reporter};
use super::provider::Provider;
use crate::plan::observed::{ObservedHost, ReadError};
use crate::plan::resource::{DataFiles, ResourceKind, flatten};
use crate::spec::Host;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why OS-side resources are not compared when no provider of a run owns them (a caller that
/// wires only Redfish; the CLI always wires the OS provider, which gives its own reason).
pub const OS_NOT_READ: &str = "the OS was not read in this run";

/// Options of a refresh.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// Hosts read at once (`--parallelism`, the Fleet's `concurrency.parallelism`).
    pub parallelism: usize,
    /// The whole read ends this long after it starts (`--deadline`, tokio time): a host not
    /// read by then (not started, or still waiting on a slow peer) is an error for that host
    /// ([`DEADLINE_CODE`]); what was read is kept. `None`: no deadline.
    pub deadline: Option<Duration>,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        Self {
            parallelism: 256,
            deadline: None,
        }
    }
}

/// The [`crate::plan::ReadError`] code of a host that was not read within the run's deadline.
pub const DEADLINE_CODE: &str = "bmfleet::engine::deadline";

/// `host` with every resource it has an error: not read within `after`.
fn past_deadline(host: &Host, files: &DataFiles, after: Duration) -> ObservedHost {
    let mut observed = ObservedHost::new(host.name.clone());
    let error = ReadError {
        endpoint: host.name.clone(),
        message: format!(
            "not read within the run's deadline ({} s)",
            after.as_secs_f64()
        ),
        code: DEADLINE_CODE.into(),
        help: "raise --deadline, or plan the slow hosts apart (--host, --exclude)".into(),
    };
    for r in flatten(host, files) {
        observed.resources.insert(r.address, Err(error.clone()));
    }
    observed
}

/// What a refresh returns.
#[derive(Debug, Clone, Default)]
pub struct RefreshResult {
    /// Observed state per host name.
    pub observed: BTreeMap<String, ObservedHost>,
    /// Requests sent in all (retries included).
    pub requests: u64,
}

async fn refresh_host(
    host: &Host,
    files: &DataFiles,
    providers: &[Arc<dyn Provider>],
    reporter: &dyn Reporter,
    total: &AtomicU64,
) -> ObservedHost {
    let resources = flatten(host, files);
    let mut observed = ObservedHost::new(host.name.clone());
    let owned: Vec<Vec<_>> = providers
        .iter()
        .map(|p| super::provider::owned_by(p.as_ref(), &resources))
        .collect();
    let reads = futures::future::join_all(
        providers
            .iter()
            .zip(&owned)
            .map(|(p, own)| p.read(host, own)),
    )
    .await;
    for read in reads {
        for e in &read.endpoints {
            total.fetch_add(e.requests, Ordering::Relaxed);
            reporter.event(&Event::BmcRead {
                host: host.name.clone(),
                role: e.role,
                ok: e.ok,
                requests: e.requests,
            });
        }
        observed.resources.extend(read.resources);
        observed.not_observed.extend(read.not_observed);
    }
    for r in &resources {
        if !providers.iter().any(|p| p.kinds().contains(&r.kind)) {
            let reason = if r.kind.in_os() {
                OS_NOT_READ.to_string()
            } else {
                format!("no provider reads {} resources", r.kind)
            };
            observed.not_observed.insert(r.address.clone(), reason);
        }
    }
    reporter.event(&Event::HostRefreshed {
        host: host.name.clone(),
        ok: observed.first_error().is_none(),
    });
    observed
}

/// Reads the live state of `hosts` through `providers`. Never fails as a whole: a peer
/// that cannot be read is a [`crate::plan::ReadError`] on its host's resources.
pub async fn refresh(
    hosts: &[&Host],
    files: &DataFiles,
    providers: &[Arc<dyn Provider>],
    opts: &RefreshOptions,
    reporter: Arc<dyn Reporter>,
) -> RefreshResult {
    let bmcs = hosts.len() + hosts.iter().filter(|h| h.settings.dpu.is_some()).count();
    reporter.event(&Event::RefreshStarted {
        hosts: hosts.len(),
        bmcs,
    });
    let total = AtomicU64::new(0);
    let parallelism = opts.parallelism.max(1);
    let deadline = opts.deadline.map(|d| tokio::time::Instant::now() + d);
    let observed: BTreeMap<String, ObservedHost> = futures::stream::iter(hosts.iter().copied())
        .map(|h| {
            let reporter = reporter.clone();
            let total = &total;
            async move {
                let read = refresh_host(h, files, providers, reporter.as_ref(), total);
                let o = match (deadline, opts.deadline) {
                    (Some(at), Some(after)) => match tokio::time::timeout_at(at, read).await {
                        Ok(o) => o,
                        Err(_) => {
                            reporter.event(&Event::HostRefreshed {
                                host: h.name.clone(),
                                ok: false,
                            });
                            past_deadline(h, files, after)
                        }
                    },
                    _ => read.await,
                };
                (o.name.clone(), o)
            }
        })
        .buffer_unordered(parallelism)
        .collect()
        .await;
    let failed = observed
        .values()
        .filter(|h| h.first_error().is_some())
        .count();
    let requests = total.load(Ordering::Relaxed);
    reporter.event(&Event::RefreshFinished {
        hosts: hosts.len(),
        failed,
        requests,
    });
    RefreshResult { observed, requests }
}

/// True for the kinds some provider of `providers` owns.
pub fn observable(providers: &[Arc<dyn Provider>], kind: ResourceKind) -> bool {
    providers.iter().any(|p| p.kinds().contains(&kind))
}
