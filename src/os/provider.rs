//! [`OsProvider`]: the OS half of a host through the provider boundary. One probe per host
//! per run (one SSH connection, one round trip) reads everything the spec's OS resources
//! need; [`super::observe`] turns it into observations.

use super::observe::{observe, sysctl_keys, sysfs_keys};
use super::probe::{ProbeRequest, run_probe};
use super::transport::{SshTarget, Transport};
use crate::engine::event::BmcRole;
use crate::engine::provider::{ApplyError, EndpointRead, Provider, ProviderRead, StepOutcome};
use crate::plan::model::Step;
use crate::plan::observed::ReadError;
use crate::plan::op::Op;
use crate::plan::resource::{DataFiles, Resource, ResourceKind};
use crate::spec::Host;
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often `await-os` tries a host that does not answer yet.
pub const AWAIT_OS_POLL: Duration = Duration::from_secs(10);

/// The resource kinds the OS provider owns, reads over SSH and writes: [`ResourceKind::OS`].
pub const OS_KINDS: &[ResourceKind] = &ResourceKind::OS;

/// How to reach hosts over SSH.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// Private directory for the multiplexing sockets (created 0700; at most
    /// [`super::transport::MAX_CONTROL_DIR_LEN`] bytes so socket paths fit).
    pub control_dir: PathBuf,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one probe, connection included.
    pub command_timeout: Duration,
    /// An ssh_config file to use instead of the user's (`ssh -F`), for tests and CI.
    pub config_file: Option<PathBuf>,
}

/// The SSH transports of `hosts`, from each host's `os.ssh` (`host`, `port`, `user`,
/// `identityFile`, `jumpHost`). Hosts whose spec sets no `os.ssh.host` get none (their OS
/// resources are listed as not observed). `sudo: true` runs the probe through `sudo -n`.
pub fn ssh_transports(hosts: &[&Host], opts: &SshOptions) -> BTreeMap<String, Transport> {
    hosts
        .iter()
        .filter_map(|h| {
            let ssh = h.settings.os.as_ref()?.ssh.as_ref()?;
            let dest = ssh.host.as_ref()?;
            let mut t = SshTarget::new(dest.clone(), opts.control_dir.clone());
            t.port = ssh.port;
            t.user = ssh.user.clone();
            t.identity_file = ssh.identity_file.as_ref().map(PathBuf::from);
            t.jump_host = ssh.jump_host.clone();
            t.sudo = ssh.sudo.unwrap_or(false);
            t.config_file = opts.config_file.clone();
            t.connect_timeout = opts.connect_timeout;
            t.command_timeout = opts.command_timeout;
            Some((h.name.clone(), Transport::Ssh(t)))
        })
        .collect()
}

/// Local transports over per-host sysroot directories (the simulator's OS facet, tests).
pub fn local_transports(sysroots: &BTreeMap<String, PathBuf>) -> BTreeMap<String, Transport> {
    sysroots
        .iter()
        .map(|(h, p)| (h.clone(), Transport::Local { sysroot: p.clone() }))
        .collect()
}

/// Reads hosts' OS state through a [`Transport`] per host.
#[derive(Debug, Clone, Default)]
pub struct OsProvider {
    transports: BTreeMap<String, Transport>,
    skip: Option<String>,
    files: Arc<DataFiles>,
    poll: Duration,
}

impl OsProvider {
    /// A provider over these transports, by host name.
    pub fn new(transports: BTreeMap<String, Transport>) -> Self {
        Self {
            transports,
            skip: None,
            files: Arc::default(),
            poll: AWAIT_OS_POLL,
        }
    }

    /// The fleet's data files, where `cloud-init` steps find the documents their plan
    /// references (checked against the plan's SHA-256).
    pub fn with_data_files(mut self, files: Arc<DataFiles>) -> Self {
        self.files = files;
        self
    }

    /// How often `await-os` tries the host again (default [`AWAIT_OS_POLL`]).
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// `await-os`: tries a no-op script until the host answers or `timeout_s` passes. The
    /// SSH master connection, dead after a reset, is closed first so that the first try
    /// makes a fresh connection.
    async fn await_os(
        &self,
        transport: &Transport,
        timeout_s: u64,
    ) -> Result<StepOutcome, ApplyError> {
        transport.close_master().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_s);
        let mut tries = 0u64;
        loop {
            tries += 1;
            // Through the local transport the writer's `sysroot_boot` stands in for the
            // boot (it does nothing on a real host).
            let script = match transport {
                Transport::Local { .. } => {
                    format!("{}\nsysroot_boot\n", super::write::WRITE_SCRIPT)
                }
                Transport::Ssh(_) => "exit 0\n".to_string(),
            };
            let last = match transport.run_script(&script, &[]).await {
                Ok(_) => {
                    return Ok(StepOutcome {
                        requests: tries,
                        detail: format!("the OS answered after {tries} tries"),
                    });
                }
                Err(e) => e.to_string(),
            };
            if tokio::time::Instant::now() + self.poll > deadline {
                return Err(ApplyError {
                    error: ReadError {
                        endpoint: transport.host_label(),
                        message: format!(
                            "the OS did not answer within {timeout_s} s after the reset ({tries} tries; last: {last})"
                        ),
                        code: "bmfleet::os::await_timeout".into(),
                        help: "look at the host's console (Redfish SerialInterfaces or the BMC's KVM); the reset was done".into(),
                    },
                    outcome_unknown: false,
                });
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// A provider that reads nothing and lists every OS resource as not observed, with
    /// `reason` (`not read in this run (--no-os)`).
    pub fn skipped(reason: impl Into<String>) -> Self {
        Self {
            transports: BTreeMap::new(),
            skip: Some(reason.into()),
            files: Arc::default(),
            poll: AWAIT_OS_POLL,
        }
    }

    /// Creates `dir` as a private (0700) directory for SSH control sockets.
    ///
    /// # Errors
    /// When it cannot be created or is not private.
    pub fn prepare_control_dir(dir: &Path) -> Result<(), super::transport::TransportError> {
        super::transport::prepare_control_dir("ssh", dir)
    }

    async fn read_host(&self, host: &Host, resources: &[Resource]) -> ProviderRead {
        let mut out = ProviderRead::default();
        if let Some(reason) = &self.skip {
            for r in resources {
                out.not_observed.insert(r.address.clone(), reason.clone());
            }
            return out;
        }
        let compared: Vec<Resource> = resources.to_vec();
        if compared.is_empty() {
            return out;
        }
        let Some(transport) = self.transports.get(&host.name) else {
            for r in &compared {
                out.not_observed.insert(
                    r.address.clone(),
                    "the spec sets no os.ssh.host, so the OS is not read".into(),
                );
            }
            return out;
        };
        let endpoint = transport.host_label();
        let request = ProbeRequest {
            sysctl: sysctl_keys(&compared),
            sysfs: sysfs_keys(&compared),
        };
        match run_probe(transport, &request).await {
            Ok(probe) => {
                out.resources = observe(&probe, &compared, &endpoint);
                out.endpoints.push(EndpointRead {
                    role: BmcRole::Os,
                    ok: true,
                    requests: 1,
                });
            }
            Err(e) => {
                let error = ReadError {
                    endpoint: endpoint.clone(),
                    message: e.to_string(),
                    code: "bmfleet::os::probe".into(),
                    help: "check that `ssh HOST true` works from here without a prompt (BatchMode: agent or key, known host key); the host needs a POSIX sh".into(),
                };
                for r in &compared {
                    out.resources.insert(r.address.clone(), Err(error.clone()));
                }
                out.endpoints.push(EndpointRead {
                    role: BmcRole::Os,
                    ok: false,
                    requests: 1,
                });
            }
        }
        out
    }
}

impl Provider for OsProvider {
    fn name(&self) -> &'static str {
        "os"
    }

    fn kinds(&self) -> &'static [ResourceKind] {
        OS_KINDS
    }

    fn read<'a>(
        &'a self,
        host: &'a Host,
        resources: &'a [Resource],
    ) -> BoxFuture<'a, ProviderRead> {
        Box::pin(self.read_host(host, resources))
    }

    fn supports(&self, step: &Step) -> Result<(), String> {
        match &step.op {
            Op::CloudInit {
                delivery: Some(d), ..
            } if d != "ssh" => Err(format!(
                "cloud-init delivery {d} (an image attached through Redfish VirtualMedia) is not carried out by this build yet"
            )),
            _ => Ok(()),
        }
    }

    fn apply<'a>(
        &'a self,
        host: &'a Host,
        step: &'a Step,
    ) -> BoxFuture<'a, Result<StepOutcome, ApplyError>> {
        Box::pin(async move {
            let Some(transport) = self.transports.get(&host.name) else {
                return Err(ApplyError {
                    error: ReadError {
                        endpoint: host.name.clone(),
                        message: format!(
                            "{}: no way to reach the host's OS in this run",
                            step.address
                        ),
                        code: "bmfleet::os::no_transport".into(),
                        help: "set os.ssh.host in the host's spec".into(),
                    },
                    outcome_unknown: false,
                });
            };
            match step.op {
                Op::AwaitOs { timeout_s } => self.await_os(transport, timeout_s).await,
                _ => super::write::apply_step(transport, host, &self.files, step).await,
            }
        })
    }
}
