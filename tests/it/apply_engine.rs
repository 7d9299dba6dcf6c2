//! `engine::execute` against an in-memory provider on tokio's paused clock: bounded waits and
//! the fallback reset type without sleeping, the failure budget, and batch order.

use crate::plan_support::{bios_mut, converged_all, fleet};
use bmfleet::engine::provider::{ApplyError, ProviderRead, StepOutcome};
use bmfleet::engine::{
    ExecuteOptions, FailStage, HostOutcome, NullReporter, Provider, StepStatus, execute,
};
use bmfleet::plan::op::{Op, OpValue};
use bmfleet::plan::resource::{Resource, ResourceKind};
use bmfleet::plan::{ObservedHost, PlanOptions, ReadError, plan};
use bmfleet::spec::Host;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A provider over observed states in memory. BIOS stages take effect at once; a reset
/// leaves `PowerState` at `power_after_reset`. Hosts in `failing` fail every write.
struct Fake {
    observed: Mutex<BTreeMap<String, ObservedHost>>,
    log: Mutex<Vec<String>>,
    power_after_reset: &'static str,
    failing: BTreeSet<String>,
}

impl Fake {
    fn new(observed: BTreeMap<String, ObservedHost>, power_after_reset: &'static str) -> Self {
        Self {
            observed: Mutex::new(observed),
            log: Mutex::new(Vec::new()),
            power_after_reset,
            failing: BTreeSet::new(),
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn write(&self, host: &str, step: &bmfleet::plan::model::Step) -> Result<String, ApplyError> {
        let mut observed = self.observed.lock().unwrap();
        let o = observed.get_mut(host).unwrap();
        match &step.op {
            Op::BiosStage { attributes, .. } => {
                self.log.lock().unwrap().push(format!("{host} bios-stage"));
                let Some(Ok(bios)) = o.resources.get_mut(&step.address) else {
                    panic!("no bios for {host}")
                };
                for (k, v) in attributes {
                    if let OpValue::Plain(v) = v {
                        bios.values.entry(k.clone()).or_default().current = Some(v.clone());
                    }
                }
                bios.fingerprint.sha256 = "applied".into();
                Ok("staged".into())
            }
            Op::Reset { sequence, .. } => {
                for rs in sequence {
                    self.log
                        .lock()
                        .unwrap()
                        .push(format!("{host} {}", rs.reset_type));
                }
                let power = bmfleet::plan::Address::new(host, ResourceKind::Power, None);
                if let Some(Ok(p)) = o.resources.get_mut(&power) {
                    p.values.entry("PowerState".into()).or_default().current =
                        Some(Value::String(self.power_after_reset.into()));
                }
                Ok("accepted".into())
            }
            other => panic!("unexpected op {other:?}"),
        }
    }
}

impl Provider for Fake {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn kinds(&self) -> &'static [ResourceKind] {
        bmfleet::redfish::provider::KINDS
    }

    fn read<'a>(&'a self, host: &'a Host, _: &'a [Resource]) -> BoxFuture<'a, ProviderRead> {
        let o = self.observed.lock().unwrap().get(&host.name).cloned();
        Box::pin(async move {
            ProviderRead {
                resources: o.map(|o| o.resources).unwrap_or_default(),
                ..ProviderRead::default()
            }
        })
    }

    fn apply<'a>(
        &'a self,
        host: &'a Host,
        step: &'a bmfleet::plan::model::Step,
    ) -> BoxFuture<'a, Result<StepOutcome, ApplyError>> {
        Box::pin(async move {
            if self.failing.contains(&host.name) {
                self.log
                    .lock()
                    .unwrap()
                    .push(format!("{} failed", host.name));
                return Err(ApplyError {
                    error: ReadError {
                        endpoint: format!("https://{}-bmc.example.net", host.name),
                        message: "HTTP 500 InternalError".into(),
                        code: "bmfleet::redfish::http_status".into(),
                        help: "retry later".into(),
                    },
                    outcome_unknown: false,
                });
            }
            self.write(&host.name, step).map(|detail| StepOutcome {
                requests: 1,
                detail,
            })
        })
    }
}

/// Every host whose spec sets BIOS attributes gets its first attribute drifted.
fn drifted(hosts: &[&Host]) -> BTreeMap<String, ObservedHost> {
    let mut observed = converged_all(hosts);
    for h in hosts {
        if let Some((k, _)) = h
            .settings
            .bios
            .as_ref()
            .and_then(|b| b.attributes.iter().next())
        {
            let o = observed.get_mut(&h.name).unwrap();
            bios_mut(o).current.insert(k.clone(), json!("Drifted"));
        }
    }
    observed
}

fn opts() -> ExecuteOptions {
    ExecuteOptions {
        parallelism: 1,
        poll_interval: Duration::from_secs(5),
        stop: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_reset_that_never_comes_back_gets_its_fallback_once_then_fails_the_host() {
    let f = fleet();
    let host = f
        .hosts
        .iter()
        .find(|h| {
            h.settings
                .bios
                .as_ref()
                .is_some_and(|b| !b.attributes.is_empty())
        })
        .unwrap();
    let hosts = vec![host];
    let observed = drifted(&hosts);
    let p = plan(&hosts, &observed, &PlanOptions::for_fleet(&f));
    let reset = p.host(&host.name).unwrap().steps.last().unwrap().clone();
    let Op::Reset { sequence, .. } = &reset.op else {
        panic!("{reset:?}")
    };
    assert_eq!(sequence[0].reset_type, "GracefulRestart");
    assert_eq!(sequence[0].fallback.as_deref(), Some("ForceRestart"));
    let timeout = sequence[0].timeout_s;
    let fake = Arc::new(Fake::new(observed, "Off"));
    let providers: Vec<Arc<dyn Provider>> = vec![fake.clone()];
    let start = tokio::time::Instant::now();
    let report = execute(
        &p,
        &hosts,
        &f.data_files,
        &providers,
        &opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    let waited = start.elapsed();
    let name = &host.name;
    assert_eq!(
        fake.log(),
        [
            format!("{name} bios-stage"),
            format!("{name} GracefulRestart"),
            format!("{name} ForceRestart"),
        ]
    );
    let r = report.host(name).unwrap();
    assert_eq!(r.resets, 2, "the reset and its fallback");
    let HostOutcome::Failed {
        stage,
        step,
        message,
        ..
    } = &r.outcome
    else {
        panic!("{r:#?}")
    };
    assert_eq!(*stage, FailStage::Step);
    assert_eq!(step.as_deref(), Some(reset.address.to_string().as_str()));
    assert!(
        message.contains(&format!(
            "PowerState did not become On within {timeout} s after ForceRestart (last seen: \"Off\")"
        )),
        "{message}"
    );
    // Both waits ran to their bound on the paused clock, and no further.
    assert!(waited >= Duration::from_secs(2 * timeout), "{waited:?}");
    assert!(waited < Duration::from_secs(2 * timeout + 60), "{waited:?}");
    assert!(matches!(r.steps[0].status, StepStatus::Applied(_)));
    assert!(matches!(r.steps[1].status, StepStatus::Failed(_)));
}

#[tokio::test(start_paused = true)]
async fn batches_run_in_order_and_the_failure_budget_stops_new_hosts() {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let observed = drifted(&hosts);
    let mut p = plan(&hosts, &observed, &PlanOptions::for_fleet(&f));
    assert!(p.rollout.batches.len() >= 3, "{:#?}", p.rollout.batches);
    let batch_of: BTreeMap<String, usize> = p
        .rollout
        .batches
        .iter()
        .flat_map(|b| b.hosts.iter().map(move |h| (h.clone(), b.number)))
        .collect();

    // Everything succeeds: every host with steps, in batch order.
    let fake = Arc::new(Fake::new(observed.clone(), "On"));
    let providers: Vec<Arc<dyn Provider>> = vec![fake.clone()];
    let report = execute(
        &p,
        &hosts,
        &f.data_files,
        &providers,
        &opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    assert_eq!(report.failed(), 0, "{report:#?}");
    let order: Vec<usize> = fake
        .log()
        .iter()
        .map(|l| batch_of[l.split(' ').next().unwrap()])
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    assert_eq!(
        order.iter().collect::<BTreeSet<_>>().len(),
        p.rollout.batches.len()
    );

    // The first host of the first batch fails and the budget is 0: nothing else starts.
    p.rollout.max_failures = 0;
    let first = p.rollout.batches[0].hosts[0].clone();
    let mut fake = Fake::new(observed, "On");
    fake.failing.insert(first.clone());
    let fake = Arc::new(fake);
    let providers: Vec<Arc<dyn Provider>> = vec![fake.clone()];
    let report = execute(
        &p,
        &hosts,
        &f.data_files,
        &providers,
        &opts(),
        Arc::new(NullReporter),
    )
    .await
    .unwrap();
    assert_eq!(fake.log(), [format!("{first} failed")]);
    let r = report.host(&first).unwrap();
    let HostOutcome::Failed {
        stage, endpoint, ..
    } = &r.outcome
    else {
        panic!("{r:#?}")
    };
    assert_eq!(*stage, FailStage::Step);
    assert_eq!(endpoint, &format!("https://{first}-bmc.example.net"));
    assert!(r.steps[1..].iter().all(|s| s.status == StepStatus::Skipped));
    let with_steps = p.hosts.iter().filter(|h| h.has_changes()).count();
    assert_eq!(report.failed(), 1);
    assert_eq!(report.not_started(), with_steps - 1);
    for h in report.hosts.iter().filter(|h| h.host != first) {
        assert!(
            matches!(
                h.outcome,
                HostOutcome::NotStarted { .. } | HostOutcome::Skipped { .. }
            ),
            "{h:#?}"
        );
    }
}

/// Sets the stop flag when the first host starts, as a Ctrl-C would.
struct StopOnFirstHost(Arc<std::sync::atomic::AtomicBool>);

impl bmfleet::engine::Reporter for StopOnFirstHost {
    fn event(&self, e: &bmfleet::engine::Event) {
        if matches!(e, bmfleet::engine::Event::HostStarted { .. }) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_lets_the_host_in_flight_finish_and_starts_no_other() {
    let f = fleet();
    let hosts: Vec<&Host> = f.hosts.iter().collect();
    let observed = drifted(&hosts);
    let p = plan(&hosts, &observed, &PlanOptions::for_fleet(&f));
    let with_steps = p.hosts.iter().filter(|h| h.has_changes()).count();
    assert!(with_steps >= 2);
    let fake = Arc::new(Fake::new(observed, "On"));
    let providers: Vec<Arc<dyn Provider>> = vec![fake.clone()];
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let report = execute(
        &p,
        &hosts,
        &f.data_files,
        &providers,
        &ExecuteOptions {
            stop: Some(stop.clone()),
            ..opts()
        },
        Arc::new(StopOnFirstHost(stop)),
    )
    .await
    .unwrap();
    // The host that had started finished every step, reset included, and was verified.
    assert_eq!(report.succeeded(), 1, "{report:#?}");
    assert_eq!(report.not_started(), with_steps - 1, "{report:#?}");
    let first = p.rollout.batches[0].hosts[0].clone();
    assert!(
        fake.log()
            .iter()
            .all(|l| l.starts_with(&format!("{first} "))),
        "{:?}",
        fake.log()
    );
    assert!(report.hosts.iter().any(|h| matches!(&h.outcome, HostOutcome::NotStarted { reason } if reason.contains("interrupted"))));
}
