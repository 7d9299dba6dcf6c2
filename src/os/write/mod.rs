//! OS writes: one step of a saved plan carried out on a host through its [`Transport`].
//!
//! A step is one script, one round trip: `src/os/write.sh` (the functions) followed by the
//! calls the op needs, each argument single-quoted ([`shell_quote`]) and each file's content
//! a base64 here-document, so nothing from a spec or a plan is ever parsed as shell code. The
//! op says everything (paths, contents, values, commands); this module only spells it as
//! calls. What each op does:
//!
//! | op | calls |
//! |----|-------|
//! | `sysctl` | write each changed key to `/proc/sys`, then the sysctl.d file |
//! | `sysfs`, `tunables` | write each changed path (every CPU for the governor), then the tmpfiles.d file |
//! | `sriov-num-vfs` | `sriov_numvfs` 0 then N (refused above `sriov_totalvfs`), wait for the VFs, `ip link set PF vf I ...` per VF, the boot unit, `systemctl enable` |
//! | `hugepages` | each runtime pool, read back per NUMA node (a shortfall fails the step, the pools stay as allocated), the tmpfiles.d file; boot arguments through grub.d (+ `update-grub`) or grubby |
//! | `kernel-args` | grub.d: the file of the spec's arguments, removed arguments deleted from the other GRUB files, `update-grub`; grubby: `grubby --update-kernel=ALL --args --remove-args` |
//! | `cloud-init` (`ssh` delivery) | the NoCloud seed (`/var/lib/cloud/seed/nocloud/{user-data,meta-data,network-config}`, mode 0600) with a new instance id |
//!
//! Every step is verified afterwards by the executor, which re-reads the host (one probe).

use crate::engine::provider::{ApplyError, StepOutcome};
use crate::os::transport::{Transport, TransportError, shell_quote};
use crate::plan::model::Step;
use crate::plan::observed::ReadError;
use crate::plan::op::{ContentRef, FileWrite, Op};
use crate::plan::os_files;
use crate::plan::resource::DataFiles;
use crate::plan::value::sha256_hex;
use crate::spec::Host;
use base64::Engine as _;

/// The writer's functions (`src/os/write.sh`).
pub const WRITE_SCRIPT: &str = include_str!("../write.sh");

/// The NoCloud seed directory bmfleet writes (cloud-init `reference/datasources/nocloud`).
pub const NOCLOUD_SEED: &str = "/var/lib/cloud/seed/nocloud";

/// The calls of one step, appended to [`WRITE_SCRIPT`].
#[derive(Debug, Default)]
struct Calls(String);

impl Calls {
    fn call(&mut self, function: &str, args: &[&str]) {
        self.0.push_str(function);
        for a in args {
            self.0.push(' ');
            self.0.push_str(&shell_quote(a));
        }
        self.0.push('\n');
    }

    fn put(&mut self, f: &FileWrite) {
        self.put_bytes(&f.path, &f.mode, f.content.as_bytes());
    }

    fn put_bytes(&mut self, path: &str, mode: &str, content: &[u8]) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(content);
        self.0.push_str(&format!(
            "put {} {} <<'BMFLEET_END'\n",
            shell_quote(path),
            shell_quote(mode)
        ));
        for chunk in b64.as_bytes().chunks(76) {
            self.0.push_str(&String::from_utf8_lossy(chunk));
            self.0.push('\n');
        }
        self.0.push_str("BMFLEET_END\n");
    }
}

fn refused(transport: &Transport, step: &Step, message: String, help: &str) -> ApplyError {
    ApplyError {
        error: ReadError {
            endpoint: transport.host_label(),
            message: format!("{}: {message}", step.address),
            code: "bmfleet::os::apply".into(),
            help: help.into(),
        },
        outcome_unknown: false,
    }
}

/// The calls that carry out `step`'s op, or why it cannot be carried out (nothing written).
fn calls_for(
    transport: &Transport,
    host: &Host,
    files: &DataFiles,
    step: &Step,
) -> Result<Calls, ApplyError> {
    let mut c = Calls::default();
    match &step.op {
        Op::Sysctl { values, persist } => {
            for (k, v) in values {
                c.call(
                    "kwrite",
                    &[&os_files::sysctl_path(k), &os_files::kernel_text(v)],
                );
            }
            if let Some(f) = persist {
                c.put(f);
            }
        }
        Op::Sysfs { values, persist } => {
            for (p, v) in values {
                c.call("kwrite", &[p, &os_files::kernel_text(v)]);
            }
            if let Some(f) = persist {
                c.put(f);
            }
        }
        Op::Tunables {
            writes, persist, ..
        } => {
            for (p, v) in writes {
                c.call("kwrite_all", &[p, v]);
            }
            if let Some(f) = persist {
                c.put(f);
            }
        }
        Op::SriovNumVfs {
            pf,
            num_vfs,
            vfs,
            persist,
            ..
        } => {
            if let Some(n) = num_vfs {
                c.call("sriov_numvfs", &[pf, &n.to_string()]);
            }
            for vf in vfs.as_array().into_iter().flatten() {
                if let Some(args) = os_files::vf_ip_args(pf, vf) {
                    let mut all: Vec<&str> = vec!["ip"];
                    all.extend(args.iter().map(String::as_str));
                    c.call("run", &all);
                }
            }
            if let Some(f) = persist {
                c.put(f);
                let unit = f.path.rsplit('/').next().unwrap_or_default();
                c.call("unit_enable", &[unit]);
            }
        }
        Op::Hugepages {
            runtime,
            boot_args,
            writer,
            persist,
            ..
        } => {
            for t in runtime {
                let node = t.node.map_or_else(|| "-".to_string(), |n| n.to_string());
                c.call(
                    "hugepages",
                    &[&t.size_kb.to_string(), &node, &t.pages.to_string()],
                );
            }
            for f in persist {
                c.put(f);
            }
            if !runtime.is_empty() {
                c.call("hugepages_done", &[]);
            }
            if !boot_args.is_empty() {
                match writer.as_deref() {
                    Some("grub.d") => c.call("grub_update", &[]),
                    Some("grubby") => {
                        let args = boot_args.join(" ");
                        c.call(
                            "run",
                            &["grubby", "--update-kernel=ALL", &format!("--args={args}")],
                        );
                    }
                    _ => {
                        return Err(refused(
                            transport,
                            step,
                            "the plan names no way to write boot arguments (grubby or /etc/default/grub)".into(),
                            "install GRUB's /etc/default/grub or grubby on the host, then make a new plan",
                        ));
                    }
                }
            }
        }
        Op::KernelArgs {
            add,
            remove,
            writer,
            file,
        } => match (writer.as_deref(), file) {
            (Some("grub.d"), Some(f)) => {
                c.put(f);
                for a in remove {
                    c.call("grub_remove", &[a]);
                }
                c.call("grub_update", &[]);
            }
            (Some("grubby"), _) => {
                let mut all = vec!["grubby".to_string(), "--update-kernel=ALL".to_string()];
                if !add.is_empty() {
                    all.push(format!("--args={}", add.join(" ")));
                }
                if !remove.is_empty() {
                    all.push(format!("--remove-args={}", remove.join(" ")));
                }
                let mut args: Vec<&str> = vec![];
                args.extend(all.iter().map(String::as_str));
                c.call("run", &args);
            }
            _ => {
                return Err(refused(
                    transport,
                    step,
                    "the plan names no way to write kernel arguments (grubby or /etc/default/grub)"
                        .into(),
                    "install GRUB's /etc/default/grub or grubby on the host, then make a new plan",
                ));
            }
        },
        Op::Vfio { settings, persist } => {
            for (key, v) in settings {
                if key == "devices" {
                    for d in v.as_array().into_iter().flatten() {
                        c.call("vfio_bind", &[&os_files::kernel_text(d)]);
                    }
                } else if let Some(pf) = key.strip_prefix("vfs.") {
                    let ids = v
                        .as_str()
                        .and_then(os_files::parse_id_ranges)
                        .ok_or_else(|| {
                            refused(
                                transport,
                                step,
                                format!("VF ids {v} are not understood"),
                                "write VF ids as 0-3,8 in the spec",
                            )
                        })?;
                    for id in ids {
                        c.call("vfio_bind_vf", &[pf, &id.to_string()]);
                    }
                }
            }
            if let Some(f) = persist {
                c.put(f);
                c.call("unit_enable", &["bmfleet-vfio.service"]);
            }
        }
        Op::CloudInit {
            documents,
            delivery,
            instance_id,
        } => {
            if delivery.as_deref() != Some("ssh") {
                return Err(refused(
                    transport,
                    step,
                    format!(
                        "cloud-init delivery {} is not carried out by this build (only `ssh`: a NoCloud seed written over SSH)",
                        delivery.as_deref().unwrap_or("(none)")
                    ),
                    "set cloudInit.delivery: ssh, or deliver the data another way",
                ));
            }
            for d in documents {
                let text = document_text(host, files, d).map_err(|why| {
                    refused(
                        transport,
                        step,
                        why,
                        "make a new plan from the specs as they are now",
                    )
                })?;
                c.put_bytes(
                    &format!("{NOCLOUD_SEED}/{}", d.name),
                    "0600",
                    text.as_bytes(),
                );
            }
            if let Some(id) = instance_id {
                let meta = format!("instance-id: {id}\nlocal-hostname: {}\n", host.name);
                c.put_bytes(
                    &format!("{NOCLOUD_SEED}/meta-data"),
                    "0600",
                    meta.as_bytes(),
                );
            }
        }
        other => {
            return Err(refused(
                transport,
                step,
                format!(
                    "the OS provider does not carry out `{}` steps",
                    other.describe()
                ),
                "leave it out of this plan",
            ));
        }
    }
    Ok(c)
}

/// The text of a cloud-init document as the plan references it, checked against the plan's
/// digest.
fn document_text(host: &Host, files: &DataFiles, d: &ContentRef) -> Result<String, String> {
    let ci = host.settings.cloud_init.as_ref();
    let src = ci.and_then(|c| match d.name.as_str() {
        "user-data" => c.user_data.as_ref(),
        "meta-data" => c.meta_data.as_ref(),
        "network-config" => c.network_config.as_ref(),
        _ => None,
    });
    let text: Option<String> = match (d.path.as_str(), src) {
        ("inline", Some(s)) => s.inline.clone(),
        (path, _) => files.get(path).map(|t| t.to_string()),
    };
    let Some(text) = text else {
        return Err(format!(
            "cloud-init {} ({}) is not in the fleet read now",
            d.name, d.path
        ));
    };
    let sha = sha256_hex(text.as_bytes());
    match &d.sha256 {
        Some(want) if *want == sha => Ok(text),
        Some(want) => Err(format!(
            "cloud-init {} ({}) changed since the plan (SHA-256 {} there, {} now)",
            d.name,
            d.path,
            want.get(..12).unwrap_or(want),
            sha.get(..12).unwrap_or(&sha)
        )),
        None => Err(format!(
            "cloud-init {} ({}) could not be read when planning",
            d.name, d.path
        )),
    }
}

/// The script that carries out `step` (the writer's functions, then the step's calls).
///
/// # Errors
/// [`ApplyError`] (nothing written) when the op cannot be carried out as saved: an op this
/// provider does not write, no boot-argument writer recorded, a cloud-init delivery other
/// than `ssh`, a cloud-init document missing or changed since the plan.
pub fn script_for(
    transport: &Transport,
    host: &Host,
    files: &DataFiles,
    step: &Step,
) -> Result<String, ApplyError> {
    let calls = calls_for(transport, host, files, step)?;
    Ok(format!(
        "{WRITE_SCRIPT}\n# step {}\n{}",
        step.address, calls.0
    ))
}

/// Carries out `step` on the host behind `transport`, exactly as its op says.
///
/// # Guarantees
/// Writes only the files, kernel files and commands the op names; files are replaced
/// atomically and left alone when they already hold the op's content.
///
/// # Idempotency
/// Yes: every write sets a value or a whole file; `sriov_numvfs` is left alone when it
/// already holds the count.
///
/// # Caveats
/// Boot arguments and gigantic hugepages take effect on the plan's coalesced reboot; the
/// executor verifies by re-reading the host afterwards. A hugepage shortfall fails the step
/// with the pools left as the kernel allocated them.
///
/// # Errors
/// [`ApplyError`] naming host, step, command and stderr; `outcome_unknown` unless the
/// script said it changed nothing (exit 3) or never ran.
pub async fn apply_step(
    transport: &Transport,
    host: &Host,
    files: &DataFiles,
    step: &Step,
) -> Result<StepOutcome, ApplyError> {
    if let Op::NetworkApply { .. } = step.op {
        return super::network::apply(transport, step).await;
    }
    let script = script_for(transport, host, files, step)?;
    match transport.run_script(&script, &[]).await {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let done: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            Ok(StepOutcome {
                requests: 1,
                detail: crate::os::transport::escape_stderr(done.join("; ").as_bytes(), 2048),
            })
        }
        Err(e) => {
            let nothing_changed = matches!(&e, TransportError::Failed { status, .. } if status.ends_with("exit status: 3"))
                || matches!(
                    e,
                    TransportError::Invalid { .. }
                        | TransportError::ControlDir { .. }
                        | TransportError::Spawn { .. }
                );
            Err(ApplyError {
                error: ReadError {
                    endpoint: transport.host_label(),
                    message: format!("{} ({}): {e}", step.address, step.op.describe()),
                    code: "bmfleet::os::apply".into(),
                    help: if nothing_changed {
                        "nothing was changed on the host; fix the cause and apply a new plan".into()
                    } else {
                        "the host may be partly changed: make a new plan to see where it stands"
                            .into()
                    },
                },
                outcome_unknown: !nothing_changed,
            })
        }
    }
}
