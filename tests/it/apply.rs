//! `apply` (issue 9): a saved plan carried out against the in-process simulator, then planned
//! again; stale hosts refused; plans from another commit refused before any write.

use bmfleet::engine::{
    ExecuteOptions, FailStage, HostOutcome, NullReporter, Provider, RecordingReporter,
    RefreshOptions, StepStatus, execute, refresh,
};
use bmfleet::plan::op::Op;
use bmfleet::plan::{Plan, PlanOptions, plan};
use bmfleet::redfish::ClientOptions;
use bmfleet::redfish::provider::RedfishProvider;
use bmfleet::sim::from_spec::{Seeding, from_spec};
use bmfleet::sim::{BmcKind, SimHandle, SimServer, Timing};
use bmfleet::spec::{Host, LoadedFleet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const FLEET: &str = "examples/fleet";

/// Fast client options for the loopback simulator.
fn client() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(10),
        retries: 1,
        backoff_base: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

fn exec_opts() -> ExecuteOptions {
    ExecuteOptions {
        parallelism: 8,
        poll_interval: Duration::from_millis(20),
    }
}

async fn start_sim(fleet: &LoadedFleet, drift_rate: f64) -> SimHandle {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let (mut config, _drift) = from_spec(
        &hosts,
        Seeding {
            seed: 11,
            drift_rate,
            factory_rate: 0.2,
        },
    );
    config.timing = Timing::uniform(60);
    SimServer::start(config).await.unwrap()
}

fn providers(sim: &SimHandle, fleet: &LoadedFleet) -> Vec<Arc<dyn Provider>> {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let targets = bmfleet::sim::targets::simulated_targets(sim, &hosts, Path::new(FLEET));
    vec![Arc::new(
        RedfishProvider::new(targets, client()).with_task_poll(Duration::from_millis(10)),
    )]
}

async fn plan_now(fleet: &LoadedFleet, providers: &[Arc<dyn Provider>]) -> Plan {
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let result = refresh(
        &hosts,
        &fleet.data_files,
        providers,
        &RefreshOptions::default(),
        Arc::new(NullReporter),
    )
    .await;
    plan(&hosts, &result.observed, &PlanOptions::for_fleet(fleet))
}

fn resets(sim: &SimHandle, host: &str) -> u64 {
    sim.with_host(host, |s| s.reset_count(BmcKind::Bmc))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_fleet_applied_plans_to_no_changes_with_one_reset_per_rebooted_host() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.8).await;
    let providers = providers(&sim, &fleet);
    let before = plan_now(&fleet, &providers).await;
    assert!(!before.has_errors());
    assert!(before.has_changes());
    let rebooted: Vec<&str> = before
        .hosts
        .iter()
        .filter(|h| h.steps.iter().any(|s| matches!(s.op, Op::Reset { .. })))
        .map(|h| h.name.as_str())
        .collect();
    assert!(!rebooted.is_empty(), "the drift needs at least one reboot");
    // Save and read back, as `plan --out` and `apply PLANFILE` do.
    let saved = bmfleet::render::plan_json::render(&before);
    let loaded = Plan::from_json(&saved).unwrap();

    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let reporter = Arc::new(RecordingReporter::default());
    let report = execute(
        &loaded,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        reporter.clone(),
    )
    .await
    .unwrap();
    for h in &report.hosts {
        assert!(
            matches!(
                h.outcome,
                HostOutcome::Succeeded | HostOutcome::Skipped { .. }
            ),
            "{h:#?}"
        );
    }
    assert_eq!(
        report.succeeded(),
        before.hosts.iter().filter(|h| h.has_changes()).count()
    );
    for ph in &before.hosts {
        let r = report.host(&ph.name).unwrap();
        let needs_reset = rebooted.contains(&ph.name.as_str());
        let powers = ph.steps.iter().any(|s| matches!(s.op, Op::Power { .. }));
        assert_eq!(r.resets, u32::from(needs_reset), "{}", ph.name);
        // The simulator counts every power operation it started (power-on included).
        let want = u64::from(needs_reset || powers);
        assert_eq!(resets(&sim, &ph.name), want, "{}: {:#?}", ph.name, ph.steps);
        assert!(
            r.steps
                .iter()
                .all(|s| matches!(s.status, StepStatus::Applied(_)))
        );
    }
    let after = plan_now(&fleet, &providers).await;
    let left: Vec<_> = after.hosts.iter().flat_map(|h| &h.changes).collect();
    assert!(left.is_empty(), "{left:#?}");
    assert!(!after.has_changes());
    let events = reporter.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, bmfleet::engine::Event::ApplyFinished { failed: 0, .. }))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_changed_after_the_plan_is_refused_and_the_others_are_applied() {
    let fleet = bmfleet::spec::load::load_dir(Path::new(FLEET)).unwrap();
    let sim = start_sim(&fleet, 0.8).await;
    let providers = providers(&sim, &fleet);
    let mut p = plan_now(&fleet, &providers).await;
    // Let every failure through so that the other hosts go on.
    p.rollout.max_failures = usize::MAX;
    let victim = p
        .hosts
        .iter()
        .find(|h| h.steps.iter().any(|s| matches!(s.op, Op::BiosStage { .. })))
        .map(|h| h.name.clone())
        .unwrap();
    let bios = p
        .host(&victim)
        .unwrap()
        .changes
        .iter()
        .find(|c| c.kind == bmfleet::plan::resource::ResourceKind::Bios)
        .unwrap()
        .clone();
    // Someone changes the BMC between plan and apply: another value for an attribute the
    // plan changes.
    let before_resets = resets(&sim, &victim);
    sim.with_host(&victim, |s| {
        s.config
            .bios
            .insert(bios.setting.clone(), serde_json::json!("SomethingElse"));
    })
    .unwrap();
    let hosts: Vec<&Host> = fleet.hosts.iter().collect();
    let report = execute(
        &p,
        &hosts,
        &fleet.data_files,
        &providers,
        &exec_opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    let r = report.host(&victim).unwrap();
    let HostOutcome::Failed {
        stage,
        step,
        message,
        ..
    } = &r.outcome
    else {
        panic!("{r:#?}")
    };
    assert_eq!(*stage, FailStage::Stale);
    assert_eq!(step.as_deref(), Some(bios.address.to_string().as_str()));
    assert!(message.contains(&victim), "{message}");
    assert!(message.contains(&bios.address.to_string()), "{message}");
    assert!(
        message.contains(&format!("{}: planned against", bios.setting))
            && message.contains("\"SomethingElse\""),
        "{message}"
    );
    assert!(r.steps.iter().all(|s| s.status == StepStatus::Skipped));
    assert_eq!(resets(&sim, &victim), before_resets, "nothing was reset");
    let others = p
        .hosts
        .iter()
        .filter(|h| h.has_changes() && h.name != victim)
        .count();
    assert!(others > 0);
    assert_eq!(report.succeeded(), others);
    assert_eq!(report.failed(), 1);
    sim.shutdown().await;
}
