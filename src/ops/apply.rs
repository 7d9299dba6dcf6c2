//! `apply_plan`: carry out a saved plan on the fleet it was made from.
//!
//! Load the plan file, check that it was made from the spec commit the fleet is read at now,
//! wire the providers as `plan_fleet` does ([`LiveSource`]), and run
//! [`crate::engine::execute`].

use super::plan_fleet::{LiveSource, OsSource, client_options, redfish_provider};
use crate::engine::{ApplyReport, ExecuteOptions, Provider, Reporter, execute};
use crate::plan::Plan;
use crate::plan::model::SpecSource;
use crate::spec::source::RepoInfo;
use crate::spec::{Host, LoadedFleet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to apply.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// The saved plan (`bmfleet plan --out FILE`).
    pub plan_file: PathBuf,
    /// Apply a plan made from (or to) a work tree with uncommitted changes, or outside Git.
    pub allow_dirty: bool,
    /// Hosts of one batch applied at once (`--parallelism`; default: the Fleet's
    /// `concurrency.parallelism`).
    pub parallelism: Option<usize>,
    /// Where the BMCs and DPU BMCs are reached.
    pub source: LiveSource,
    /// How the hosts' OS is reached for the plan's OS steps (and their re-reads).
    pub os: OsSource,
    /// How often reset tasks and `PowerState` are polled while waiting (a few seconds for
    /// real BMCs; milliseconds against a fast simulator).
    pub poll_interval: Duration,
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    /// The plan that was applied.
    pub plan: Plan,
    /// Every host of the plan and what happened to it.
    pub report: ApplyReport,
}

/// Checks that a plan made from `planned` may be applied to the fleet read at `now`.
///
/// # Errors
/// A different commit is always refused. A plan made from uncommitted changes, a work tree
/// that has uncommitted changes now, or a fleet outside Git (nothing proves which specs the
/// plan came from) are refused unless `allow_dirty`.
pub fn check_source(planned: &SpecSource, now: &RepoInfo, allow_dirty: bool) -> miette::Result<()> {
    let describe = |c: &Option<String>| {
        c.as_deref().map_or_else(
            || "no commit".to_string(),
            |s| format!("commit {}", s.get(..12).unwrap_or(s)),
        )
    };
    if planned.commit != now.commit && (planned.commit.is_some() || now.commit.is_some()) {
        return Err(miette::miette!(
            code = "bmfleet::apply::other_commit",
            help = "make a new plan from the specs as they are now (`bmfleet plan --out FILE`), review it, and apply that",
            "the plan was made from {} but the fleet is now at {}; nothing was applied",
            describe(&planned.commit),
            describe(&now.commit)
        ));
    }
    if allow_dirty {
        return Ok(());
    }
    let help = "commit the changes and make a new plan, or pass --allow-dirty to apply anyway";
    if planned.dirty {
        return Err(miette::miette!(
            code = "bmfleet::apply::dirty",
            help = help,
            "the plan was made from a work tree with uncommitted changes ({}); nothing was applied",
            planned.describe()
        ));
    }
    if now.dirty {
        return Err(miette::miette!(
            code = "bmfleet::apply::dirty",
            help = help,
            "the fleet's work tree has uncommitted changes ({}); nothing was applied",
            now.describe()
        ));
    }
    if now.commit.is_none() {
        return Err(miette::miette!(
            code = "bmfleet::apply::no_commit",
            help = "keep the fleet in Git, or pass --allow-dirty to apply anyway",
            "the fleet is not in a Git repository, so nothing shows the plan was made from these specs; nothing was applied"
        ));
    }
    Ok(())
}

/// Applies the plan saved in `req.plan_file` to `fleet` (already loaded and valid, read at
/// the revision the caller chose).
///
/// # Guarantees
/// Nothing is written unless the plan's spec commit is the fleet's and every step of the
/// plan can be carried out by this build; then as
/// [`crate::engine::execute`]: steps exactly as planned, stale hosts refused before any
/// write, every applied host re-read and verified.
///
/// # Idempotency
/// Re-applying a plan that succeeded refuses its hosts as stale: make a new plan.
///
/// # Caveats
/// No journal or lock yet: an interrupted run is not resumable and two runs against one
/// fleet are not prevented.
///
/// # Errors
/// An unreadable plan file, a plan from another commit or a dirty tree (without
/// `allow_dirty`), a plan with steps that cannot be carried out, or a runtime that does not
/// start. Per-host failures are in the report, not errors.
pub fn apply_plan(
    fleet: &LoadedFleet,
    fleet_dir: &std::path::Path,
    req: &ApplyRequest,
    reporter: Arc<dyn Reporter>,
) -> miette::Result<ApplyOutcome> {
    let plan = super::read_plan(&req.plan_file)?;
    check_source(&plan.source, &fleet.repo, req.allow_dirty)?;
    let hosts: Vec<&Host> = plan
        .hosts
        .iter()
        .filter_map(|ph| fleet.host(&ph.name))
        .collect();
    let concurrency = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.concurrency.clone())
        .unwrap_or_default();
    let opts = ExecuteOptions {
        parallelism: req
            .parallelism
            .unwrap_or(concurrency.parallelism as usize)
            .max(1),
        poll_interval: req.poll_interval,
    };
    let redfish = redfish_provider(fleet, fleet_dir, &hosts, &req.source, client_options(fleet))
        .with_task_poll(req.poll_interval);
    let os = super::plan_fleet::os_provider(&hosts, &req.os)?
        .with_data_files(Arc::new(fleet.data_files.clone()))
        .with_poll(req.poll_interval.max(Duration::from_millis(10)) * 5);
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(redfish), Arc::new(os)];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| miette::miette!("cannot start the async runtime: {e}"))?;
    let report = runtime
        .block_on(execute(
            &plan,
            &hosts,
            &fleet.data_files,
            &providers,
            &opts,
            reporter,
        ))
        .map_err(|e| {
            let help = match e {
                crate::engine::ExecuteError::NotExecutable(_) => {
                    "apply with the OS reachable (without --no-os), or make a plan that leaves the OS out (`bmfleet plan --no-os --out FILE`)"
                }
                _ => "make a new plan from the specs as they are now",
            };
            miette::miette!(code = "bmfleet::apply::refused", help = help, "{e}")
        })?;
    Ok(ApplyOutcome { plan, report })
}
