use super::{Ctx, GlobalArgs};
use crate::sim::from_spec::{SIM_PASSWORD, SIM_USERNAME, Seeding, from_spec};
use crate::sim::{BmcKind, Latency};
use clap::Args;
use std::io::Write;
use std::process::ExitCode;

/// `bmfleet sim` options.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// TCP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Seed of the drift and of every injected fault.
    #[arg(long, default_value_t = 29)]
    pub seed: u64,
    /// Fraction of hosts (0.0-1.0) that drift from the spec.
    #[arg(long, default_value_t = 0.4, value_parser = super::parse_fraction)]
    pub drift_rate: f64,
    /// Fraction of hosts (0.0-1.0) whose BIOS is still at factory values.
    #[arg(long, default_value_t = 0.2, value_parser = super::parse_fraction)]
    pub factory_rate: f64,
    /// Fixed latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction (0.0-1.0) of requests answered with an injected 500/503.
    #[arg(long, default_value_t = 0.0, value_parser = super::parse_fraction)]
    pub error_rate: f64,
    /// Random extra latency per request, exponential with this mean in milliseconds (capped
    /// at 10x the mean): a long tail like real BMCs.
    #[arg(long, default_value_t = 0)]
    pub jitter_ms: u64,
    /// Sessions each simulated BMC allows at once; one more gets 503 (iDRAC's RAC0218).
    #[arg(long, default_value_t = 8)]
    pub session_limit: usize,
    /// Hosts whose BMCs never answer (clients time out); repeatable.
    #[arg(long, value_name = "HOST")]
    pub hang: Vec<String>,
    /// Hosts whose BMCs refuse connections; repeatable.
    #[arg(long, value_name = "HOST")]
    pub unreachable: Vec<String>,
    /// Also write each host's OS as a fake root in DIR/<host> (seeded from the spec, with the
    /// same seed's OS drift), for `plan --sim-url URL --sysroots DIR` and `apply ... --sysroots
    /// DIR`; the directories stay after the simulator stops.
    #[arg(long, value_name = "DIR")]
    pub sysroots: Option<std::path::PathBuf>,
}

pub fn run(
    g: &GlobalArgs,
    _ctx: &Ctx,
    args: &SimArgs,
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let fleet = super::load(g)?;
    let hosts: Vec<&crate::spec::Host> = fleet.hosts.iter().collect();
    let (mut config, drift) = from_spec(
        &hosts,
        Seeding {
            seed: args.seed,
            drift_rate: args.drift_rate,
            factory_rate: args.factory_rate,
        },
    );
    let os_drift = match &args.sysroots {
        None => Vec::new(),
        Some(dir) => {
            let seeding = Seeding {
                seed: args.seed,
                drift_rate: args.drift_rate,
                factory_rate: args.factory_rate,
            };
            crate::sim::os::write_sysroots(&hosts, &fleet.data_files, dir, seeding)
                .map_err(|e| {
                    miette::miette!(
                        code = "bmfleet::sim::sysroots",
                        help = "give a directory you can write to",
                        "cannot write the simulated OS sysroots: {e}"
                    )
                })?
                .drift
        }
    };
    config.faults.seed = args.seed;
    config.faults.latency = Latency::fixed(args.latency_ms);
    config.faults.error_rate = args.error_rate;
    if args.jitter_ms > 0 {
        config.faults.latency.jitter = crate::sim::Jitter::Exponential {
            mean_ms: args.jitter_ms,
            max_ms: args.jitter_ms.saturating_mul(10),
        };
    }
    config.faults.session_limit = args.session_limit.max(1);
    for (hosts, failure) in [
        (&args.hang, crate::sim::HostFailure::Timeout),
        (&args.unreachable, crate::sim::HostFailure::Unreachable),
    ] {
        if !hosts.is_empty() {
            config.faults.overrides.push(crate::sim::HostFaults {
                hosts: hosts.clone(),
                failure: Some(failure),
                ..crate::sim::HostFaults::default()
            });
        }
    }
    let runtime = super::runtime()?;
    let mut lines = String::new();
    runtime
        .block_on(crate::sim::serve_forever(config, args.port, |handle| {
            lines.push_str(&format!(
                "Simulating {} hosts of {} on {} (user {SIM_USERNAME}, password {SIM_PASSWORD})\n",
                handle.host_count(),
                fleet.repo.describe(),
                handle.base_url()
            ));
            for h in &fleet.hosts {
                lines.push_str(&format!(
                    "  {:<12} bmc {}",
                    h.name,
                    handle.endpoint(&h.name, BmcKind::Bmc)
                ));
                if h.settings.dpu.is_some() {
                    lines.push_str(&format!("  dpu {}", handle.endpoint(&h.name, BmcKind::Dpu)));
                }
                lines.push('\n');
            }
            lines.push_str(&format!("Drift (seed {}):\n", args.seed));
            for d in &drift {
                use crate::sim::DriftKind;
                let what = match &d.kind {
                    DriftKind::PowerOff => "powered off".to_string(),
                    DriftKind::BootOverridePxeOnce => "one-time PXE boot override set".to_string(),
                    DriftKind::BiosFlipped {
                        attribute,
                        from,
                        to,
                    } => {
                        format!("BIOS {attribute} changed by hand: {from} -> {to}")
                    }
                    DriftKind::BiosStaged { attribute, value } => {
                        format!(
                            "BIOS {attribute} = {value} staged, not yet applied (needs a reset)"
                        )
                    }
                    DriftKind::DpuNicMode => "DPU switched to NIC mode".to_string(),
                    DriftKind::FactoryBios { attributes } => {
                        format!("BIOS at factory values: {}", attributes.join(", "))
                    }
                };
                lines.push_str(&format!("  {:<12} {what}\n", d.host));
            }
            if let Some(dir) = &args.sysroots {
                lines.push_str(&format!(
                    "OS sysroots in {} (plan and apply with --sysroots {}):\n",
                    dir.display(),
                    dir.display()
                ));
                for d in &os_drift {
                    lines.push_str(&format!("  {d}\n"));
                }
            }
            lines.push_str("Press Ctrl-C to stop.\n");
            let _ = out.write_all(lines.as_bytes());
            let _ = out.flush();
        }))
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(ExitCode::SUCCESS)
}
