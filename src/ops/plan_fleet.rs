//! `plan_fleet`: select hosts, refresh their live state through the providers, plan, save.

use crate::engine::targets::{Credential, CredentialSource, EndpointOverrides, targets_for};
use crate::engine::{Provider, RefreshOptions, Reporter, refresh};
use crate::os::provider::{OsProvider, SshOptions, local_transports, ssh_transports};
use crate::plan::{Plan, PlanOptions, select_hosts};
use crate::redfish::ClientOptions;
use crate::redfish::provider::RedfishProvider;
use crate::spec::selector::Selector;
use crate::spec::{Host, LoadedFleet};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where live state is read from.
#[derive(Debug, Clone)]
pub enum LiveSource {
    /// The real BMCs named in the specs, with credentials from the environment.
    Redfish,
    /// Every host's BMC (and DPU BMC) at the URLs given here, logged in with one credential:
    /// how the caller points a run at a simulator (`--simulate`, `--sim-url`) without `ops`
    /// or the engine knowing about it. Hosts missing from `overrides` keep their spec
    /// endpoints.
    Redirected {
        /// Host name -> (BMC URL, DPU BMC URL).
        overrides: EndpointOverrides,
        /// The account every redirected BMC accepts.
        credential: Credential,
    },
}

/// Where the hosts' OS state is read from.
#[derive(Debug, Clone)]
pub enum OsSource {
    /// Not read in this run: OS resources are listed as not observed with this reason
    /// (`not read in this run (--no-os)`).
    Skip(String),
    /// Over SSH, from each host's `os.ssh`, with the system OpenSSH client.
    Ssh(SshOptions),
    /// Per-host sysroot directories read locally (the simulator's OS facet, tests).
    Sysroots(BTreeMap<String, PathBuf>),
}

/// What to plan.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// `-l` selector text (kubectl syntax).
    pub selector: Option<String>,
    /// `--host` names, globs or ranges.
    pub hosts: Vec<String>,
    /// `--exclude` names, globs or ranges.
    pub exclude: Vec<String>,
    /// `--parallelism` (default: the Fleet's `concurrency.parallelism`).
    pub parallelism: Option<usize>,
    /// Where live BMC and DPU state comes from.
    pub source: LiveSource,
    /// Where live OS state comes from.
    pub os: OsSource,
    /// Save the plan here (JSON, format 2.0).
    pub out: Option<PathBuf>,
    /// Bound on reading live state (`--deadline`): hosts not read by then are errors, the
    /// others are planned. `None`: no bound.
    pub deadline: Option<std::time::Duration>,
}

/// What planning produced.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    /// The plan.
    pub plan: Plan,
    /// Requests sent to peers.
    pub requests: u64,
}

/// Selects the hosts of `fleet` (already loaded and valid), reads their live state, plans
/// and saves the plan when asked.
///
/// # Errors
/// A bad selector, a `--host` that names no host, an empty selection, a simulator that does
/// not start, or a plan file that cannot be written; each names what to do.
pub fn plan_fleet(
    fleet: &LoadedFleet,
    fleet_dir: &std::path::Path,
    req: &PlanRequest,
    reporter: Arc<dyn Reporter>,
) -> miette::Result<PlanOutcome> {
    let mut opts = PlanOptions::for_fleet(fleet);
    if let Some(text) = &req.selector {
        opts.selector = Some(Selector::parse(text).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::selector",
                help = "kubectl syntax: key=value, key!=value, key in (a,b), key notin (a), key, !key; joined by commas",
                "invalid --selector `{text}`: {e}"
            )
        })?);
    }
    opts.hosts = req.hosts.clone();
    opts.exclude = req.exclude.clone();
    let selected = select_hosts(&fleet.hosts, &opts)?;
    let filtered = req.selector.is_some() || !req.hosts.is_empty() || !req.exclude.is_empty();
    if filtered && selected.is_empty() && !fleet.hosts.is_empty() {
        return Err(miette::miette!(
            code = "bmfleet::cli::empty_selection",
            help = "check the labels with `bmfleet show HOST`; globs such as `r2-*` match names",
            "no host matches the --selector/--host/--exclude filters (the fleet has {} hosts)",
            fleet.hosts.len()
        ));
    }
    let concurrency = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.concurrency.clone())
        .unwrap_or_default();
    let refresh_opts = RefreshOptions {
        parallelism: req
            .parallelism
            .unwrap_or(concurrency.parallelism as usize)
            .max(1),
        deadline: req.deadline,
    };
    let client = client_options(fleet);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let result = runtime.block_on(read_live(
        fleet,
        fleet_dir,
        &selected,
        req,
        &refresh_opts,
        client,
        reporter,
    ))?;
    let plan = crate::plan::plan(&selected, &result.observed, &opts);
    if let Some(path) = &req.out {
        std::fs::write(path, crate::render::plan_json::render(&plan)).map_err(|e| {
            miette::miette!(
                code = "bmfleet::cli::write_plan",
                "cannot write the plan to {}: {e}",
                path.display()
            )
        })?;
    }
    Ok(PlanOutcome {
        plan,
        requests: result.requests,
    })
}

async fn read_live(
    fleet: &LoadedFleet,
    fleet_dir: &std::path::Path,
    selected: &[&Host],
    req: &PlanRequest,
    refresh_opts: &RefreshOptions,
    client: ClientOptions,
    reporter: Arc<dyn Reporter>,
) -> miette::Result<crate::engine::RefreshResult> {
    let files = &fleet.data_files;
    let redfish = redfish_provider(fleet, fleet_dir, selected, &req.source, client);
    let providers = with_os(vec![Arc::new(redfish)], selected, &req.os)?;
    Ok(refresh(selected, files, &providers, refresh_opts, reporter).await)
}

/// The Redfish client options of a run: the Fleet's `concurrency.perBmc` and
/// `requestTimeoutSeconds`, defaults otherwise.
pub(crate) fn client_options(fleet: &LoadedFleet) -> ClientOptions {
    let concurrency = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.concurrency.clone())
        .unwrap_or_default();
    ClientOptions {
        per_bmc_in_flight: concurrency.per_bmc.max(1) as usize,
        timeout: Duration::from_secs(u64::from(concurrency.request_timeout_seconds.max(1))),
        ..ClientOptions::default()
    }
}

/// The Redfish provider for `hosts`, pointed where `source` says: the spec endpoints with
/// credentials from the environment, or redirected endpoints with one credential.
pub(crate) fn redfish_provider(
    fleet: &LoadedFleet,
    fleet_dir: &std::path::Path,
    hosts: &[&Host],
    source: &LiveSource,
    client: ClientOptions,
) -> RedfishProvider {
    let targets = match source {
        LiveSource::Redfish => {
            let env_lookup = |k: &str| std::env::var(k).ok();
            let empty = Default::default();
            let declared = fleet
                .fleet
                .as_ref()
                .map_or(&empty, |f| &f.doc.spec.credentials);
            let creds = CredentialSource::Env {
                declared,
                lookup: &env_lookup,
            };
            targets_for(hosts, &creds, fleet_dir, None)
        }
        LiveSource::Redirected {
            overrides,
            credential,
        } => {
            let creds = CredentialSource::Fixed(credential.clone());
            targets_for(hosts, &creds, fleet_dir, Some(overrides))
        }
    };
    RedfishProvider::new(targets, client)
}

/// `providers` plus the OS provider that `os` asks for.
pub(crate) fn with_os(
    mut providers: Vec<Arc<dyn Provider>>,
    hosts: &[&Host],
    os: &OsSource,
) -> miette::Result<Vec<Arc<dyn Provider>>> {
    os_provider(hosts, os).map(|p| {
        providers.push(Arc::new(p));
        providers
    })
}

/// The OS provider that `os` asks for.
pub(crate) fn os_provider(hosts: &[&Host], os: &OsSource) -> miette::Result<OsProvider> {
    Ok(match os {
        OsSource::Skip(reason) => OsProvider::skipped(reason.clone()),
        OsSource::Ssh(opts) => {
            OsProvider::prepare_control_dir(&opts.control_dir).map_err(|e| {
                miette::miette!(
                    code = "bmfleet::os::control_dir",
                    help = "set TMPDIR to a private directory with a short path",
                    "{e}"
                )
            })?;
            OsProvider::new(ssh_transports(hosts, opts))
        }
        OsSource::Sysroots(roots) => OsProvider::new(local_transports(roots)),
    })
}
