//! Semantic rules over effective hosts and the fleet as a whole. Each rule has a stable code
//! (`bmfleet::spec::<code>`) and points at the value's own span, in whichever file set it.
//!
//! | code | rule |
//! |------|------|
//! | `missing_field` | an effective host lacks `bmc.endpoint` or `bmc.credentialsRef` |
//! | `bmc_endpoint` | endpoint not an `https://` URL (`http://` only to loopback), or with a user or password in it (masked in the report) |
//! | `duplicate_bmc_endpoint` | two BMCs (host or DPU) share an endpoint |
//! | `duplicate_ssh_address` | two hosts share `os.ssh` host:port |
//! | `credentials_ref_undeclared` | `credentialsRef` not in the Fleet's `spec.credentials` |
//! | `tls_conflict` / `tls_ca_file` / `tls_insecure` | TLS settings |
//! | `mtu_range` | MTU outside 68-9216 |
//! | `vlan_id_range` | VLAN id outside 1-4094 (also a VF's `vlan-id`) |
//! | `vlan_base_missing` | `vlan.base-iface` not defined in `interfaces` |
//! | `vlan_mtu_above_base` | a VLAN's MTU above its base interface's |
//! | `bond_no_ports` / `bond_port_conflict` / `bond_option` | bonds |
//! | `bond_port_unknown` (warning) | a bond port that names no interface or NIC of the host |
//! | `interface_type_mismatch` | `link-aggregation` / `vlan` / `sr-iov` on the wrong type |
//! | `interface_name` / `mac_address` | an interface name Linux refuses (or that would not be a plain word in a file or unit name); a VF MAC that is not six hex pairs |
//! | `total_vfs_range` | `total-vfs` negative, above 256 or above the NIC's `maxVfs` |
//! | `vf_id_range` | a VF id at or above `total-vfs` |
//! | `hugepage_size` / `hugepage_memory` / `hugepage_numa_node` | hugepages |
//! | `kernel_args_conflict` | `kernelArgs` contradict `hugepages` or each other |
//! | `vfio_*`, `invalid_pci_address` | vfio-pci bindings |
//! | `sysfs_path` / `sysctl_key` | OS tunables |
//! | `cloud_init_*` | cloud-init sources and `#cloud-config` YAML |
//! | `plaintext_secret` | a password or token written into the repo |
//! | `depends_on_missing` / `depends_on_cycle` | host dependencies |
//! | `label_selector` | rollout stage selectors |

use super::diagnostic::Diag;
use super::load::{Host, LoadedFleet};
use super::merge::{lookup, parse_path};
use super::model::{BmcSpec, CloudInitSource, HostSettings, Interface, InterfaceType, Scalar};
use super::selector::{Selector, valid_label_key};
use super::source::{FleetTree, MAX_DATA_FILE_BYTES};
use super::yaml::{self, Node, Span, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Largest MTU accepted (jumbo frames on common switches), bytes.
pub const MTU_MAX: i64 = 9216;
/// Smallest MTU accepted (the IPv4 minimum, RFC 791), bytes.
pub const MTU_MIN: i64 = 68;
/// Most VFs a PF may ask for (PCIe SR-IOV practical ceiling).
pub const TOTAL_VFS_MAX: i64 = 256;

struct Ctx<'a> {
    host: &'a Host,
    out: Vec<Diag>,
}

impl Ctx<'_> {
    fn span(&self, path: &str) -> Span {
        parse_path(path)
            .ok()
            .and_then(|segs| lookup(&self.host.tree, &segs))
            .map_or(self.host.name_span, |n| n.span)
    }

    fn node(&self, path: &str) -> Option<&Node> {
        parse_path(path)
            .ok()
            .and_then(|segs| lookup(&self.host.tree, &segs))
    }

    fn push(&mut self, mut d: Diag) {
        d.hosts = vec![self.host.name.clone()];
        self.out.push(d);
    }
}

/// Runs every semantic rule, appending to `diags`. Reads cloud-init files through `tree`
/// and records them in `fleet.data_files`.
pub fn validate(fleet: &mut LoadedFleet, tree: &FleetTree, diags: &mut Vec<Diag>) {
    let credentials: Vec<String> = fleet
        .fleet
        .as_ref()
        .map(|f| f.doc.spec.credentials.keys().cloned().collect())
        .unwrap_or_default();
    let mut data = DataFiles::default();
    for host in &fleet.hosts {
        let mut cx = Ctx {
            host,
            out: Vec::new(),
        };
        check_bmc(
            &mut cx,
            "bmc",
            host.settings.bmc.as_ref(),
            &credentials,
            tree,
            true,
        );
        if let Some(dpu) = &host.settings.dpu
            && (dpu.bmc.is_some() || dpu.mode.is_some() || dpu.bios.is_some())
        {
            check_bmc(
                &mut cx,
                "dpu.bmc",
                dpu.bmc.as_ref(),
                &credentials,
                tree,
                true,
            );
        }
        check_bios(&mut cx, "bios", host.settings.bios.as_ref());
        if let Some(dpu) = &host.settings.dpu {
            check_bios(&mut cx, "dpu.bios", dpu.bios.as_ref());
        }
        check_network(&mut cx, &host.settings);
        check_os(&mut cx, &host.settings);
        check_cloud_init(&mut cx, &host.settings, tree, &mut data, &mut fleet.sources);
        diags.append(&mut cx.out);
    }
    fleet.data_files = data.texts;
    check_fleet_wide(fleet, diags);
}

fn check_bmc(
    cx: &mut Ctx<'_>,
    path: &str,
    bmc: Option<&BmcSpec>,
    credentials: &[String],
    tree: &FleetTree,
    required: bool,
) {
    let Some(bmc) = bmc else {
        if required {
            let d = Diag::error(
                "missing_field",
                format!("host `{}` has no `{path}` section", cx.host.name),
                Some(cx.host.name_span),
            )
            .label("this host")
            .help(format!(
                "set `{path}.endpoint` and `{path}.credentialsRef` on the host, a profile or the fleet defaults"
            ));
            cx.push(d);
        }
        return;
    };
    // A missing value is reported at the host's name: the merged `bmc` map keeps the span of
    // the first layer that wrote it (often the fleet defaults), which is not where it is
    // missing.
    match &bmc.endpoint {
        None => {
            let d = Diag::error(
                "missing_field",
                format!("host `{}` has no `{path}.endpoint`", cx.host.name),
                Some(cx.host.name_span),
            )
            .label("no endpoint in the effective spec")
            .help("set the Redfish base URL, e.g. `endpoint: https://10.0.0.12`");
            cx.push(d);
        }
        Some(ep) => {
            if let Some(problem) = endpoint_problem(ep) {
                let span = cx.span(&format!("{path}.endpoint"));
                let (shown, secret) = match url::Url::parse(ep) {
                    Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
                        let _ = u.set_password(None);
                        let _ = u.set_username("");
                        (u.to_string(), true)
                    }
                    _ => (ep.clone(), false),
                };
                let mut d = Diag::error(
                    "bmc_endpoint",
                    format!("`{shown}` is not a usable Redfish endpoint: {problem}"),
                    Some(span),
                )
                .label(problem)
                .help(if secret {
                    "remove the user and password from the URL and name the credential with `credentialsRef` (its values come from the environment); rotate that password, it is in Git now"
                } else {
                    "use the BMC's base URL over HTTPS, e.g. `https://10.0.0.12`; plain http is accepted only on loopback (simulators)"
                });
                if secret {
                    d = d.secret(span);
                }
                cx.push(d);
            }
        }
    }
    match &bmc.credentials_ref {
        None => {
            let d = Diag::error(
                "missing_field",
                format!("host `{}` has no `{path}.credentialsRef`", cx.host.name),
                Some(cx.host.name_span),
            )
            .label("no credentialsRef in the effective spec")
            .help("reference a credential declared in the Fleet's `spec.credentials`");
            cx.push(d);
        }
        Some(name) if !credentials.contains(name) => {
            let mut d = Diag::error(
                "credentials_ref_undeclared",
                format!("credentialsRef `{name}` is not declared in the Fleet's spec.credentials"),
                Some(cx.span(&format!("{path}.credentialsRef"))),
            )
            .label("not declared");
            d = match super::check::did_you_mean(name, credentials.iter().map(String::as_str)) {
                Some(best) => d.help(format!("did you mean `{best}`?")),
                None => d.help(format!(
                    "declare it under the Fleet's `spec.credentials: {{{name}: {{}}}}`"
                )),
            };
            cx.push(d);
        }
        Some(_) => {}
    }
    if let Some(tls) = &bmc.tls {
        let insecure = tls.insecure_skip_verify == Some(true);
        if insecure && tls.ca_file.is_some() {
            let d = Diag::error(
                "tls_conflict",
                "`caFile` and `insecureSkipVerify: true` contradict each other",
                Some(cx.span(&format!("{path}.tls.insecureSkipVerify"))),
            )
            .label("verification disabled here")
            .related(
                cx.span(&format!("{path}.tls.caFile")),
                "but a CA is given here",
            )
            .help("keep `caFile` and drop `insecureSkipVerify`");
            cx.push(d);
        } else if insecure {
            let d = Diag::warning(
                "tls_insecure",
                format!("TLS certificate verification is disabled for `{path}`"),
                Some(cx.span(&format!("{path}.tls.insecureSkipVerify"))),
            )
            .label("insecure")
            .help("prefer `tls.caFile` with the BMC's CA");
            cx.push(d);
        }
        if let Some(ca) = &tls.ca_file
            && !ca.starts_with('/')
            && let Err(reason) = tree.read(ca, MAX_DATA_FILE_BYTES)
        {
            // A missing file keeps the short message; a device, FIFO or oversized file says
            // why it cannot be used.
            let (message, label) =
                if reason.starts_with("cannot open") || reason.contains("does not exist") {
                    (
                        format!("caFile `{ca}` does not exist in the fleet repo"),
                        "no such file",
                    )
                } else {
                    (
                        format!("caFile `{ca}` cannot be used: {reason}"),
                        "unusable file",
                    )
                };
            let d = Diag::error(
                    "tls_ca_file",
                    message,
                    Some(cx.span(&format!("{path}.tls.caFile"))),
                )
                .label(label)
                .help("give a path relative to the fleet root, or an absolute path on the operator's machine");
            cx.push(d);
        }
    }
}

/// Why an endpoint is unusable, or `None` when it is fine.
pub fn endpoint_problem(ep: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(ep) else {
        return Some("not a URL");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Some(
            "credentials in the URL (user:password@): they would reach logs, plans and reviews",
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Some("a base URL has no query or fragment");
    }
    match url.scheme() {
        "https" => None,
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(a)) => a.is_loopback(),
                Some(url::Host::Ipv6(a)) => a.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            if loopback {
                None
            } else {
                Some("plain http to a non-loopback address")
            }
        }
        _ => Some("the scheme must be https"),
    }
}

fn check_bios(cx: &mut Ctx<'_>, path: &str, bios: Option<&super::model::BiosSpec>) {
    let Some(bios) = bios else { return };
    for name in bios.attributes.keys() {
        let lower = name.to_ascii_lowercase();
        if lower.contains("password") || lower.contains("passwd") {
            let entry = cx
                .node(&format!("{path}.attributes"))
                .and_then(|n| n.entry(name));
            let span = entry.map_or(cx.host.name_span, |e| e.key_span);
            let value_span = entry.map(|e| e.value.span);
            let mut d = Diag::error(
                "plaintext_secret",
                format!("BIOS password attribute `{name}` is set in the repo"),
                Some(span),
            )
            .label("a secret in Git")
            .help("BIOS passwords are Redfish `Password` attributes; set them out of band, never in the fleet repo");
            if let Some(v) = value_span {
                d = d.secret(v);
            }
            cx.push(d);
        }
    }
}

/// `aa:bb:cc:dd:ee:ff` (either case).
fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn iface_path(i: &Interface) -> String {
    format!("network.interfaces[{}]", i.name)
}

fn check_network(cx: &mut Ctx<'_>, s: &HostSettings) {
    let Some(net) = &s.network else { return };
    let by_name: HashMap<&str, &Interface> = net
        .interfaces
        .iter()
        .map(|i| (i.name.as_str(), i))
        .collect();
    let mut port_owner: HashMap<&str, &str> = HashMap::new();
    for iface in &net.interfaces {
        let p = iface_path(iface);
        // Linux interface names (`dev_valid_name`): 1-15 bytes, no `/`, `:` or whitespace, not
        // `.` or `..`; bmfleet also keeps to the characters real names use, because the name
        // ends up in file names, unit names and shell words on the host.
        let name = iface.name.as_str();
        let name_ok = (1..=15).contains(&name.len())
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            let d = Diag::error(
                "interface_name",
                format!("`{}` is not a Linux interface name", name.escape_debug()),
                Some(cx.span(&format!("{p}.name"))),
            )
            .label("1 to 15 letters, digits, `-`, `_` or `.`")
            .help("use the name `ip link` shows (`ens1f0`, `bond0`, `bond0.100`)");
            cx.push(d);
        }
        let vfs = iface
            .ethernet
            .as_ref()
            .and_then(|e| e.sr_iov.as_ref())
            .map(|s| s.vfs.as_slice())
            .unwrap_or_default();
        for (i, vf) in vfs.iter().enumerate() {
            if let Some(mac) = &vf.mac_address
                && !is_mac(mac)
            {
                let d = Diag::error(
                    "mac_address",
                    format!(
                        "`{}` is not a MAC address (VF {} of `{}`)",
                        mac.escape_debug(),
                        vf.id,
                        name.escape_debug()
                    ),
                    Some(cx.span(&format!("{p}.ethernet.sr-iov.vfs[{i}].mac-address"))),
                )
                .label("six hex pairs separated by `:`")
                .help("write it as 02:00:00:00:01:01");
                cx.push(d);
            }
        }
        if let Some(mtu) = iface.mtu
            && !(MTU_MIN..=MTU_MAX).contains(&mtu)
        {
            let d = Diag::error(
                "mtu_range",
                format!(
                    "MTU {mtu} of `{}` is outside {MTU_MIN}-{MTU_MAX}",
                    iface.name
                ),
                Some(cx.span(&format!("{p}.mtu"))),
            )
            .label(format!("must be {MTU_MIN} to {MTU_MAX}"))
            .help("use 1500 for standard frames or 9000 for jumbo frames");
            cx.push(d);
        }
        let ty = iface.iface_type;
        if iface.link_aggregation.is_some() && ty != Some(InterfaceType::Bond) {
            let d = Diag::error(
                "interface_type_mismatch",
                format!(
                    "`{}` has `link-aggregation` but is not `type: bond`",
                    iface.name
                ),
                Some(cx.span(&format!("{p}.link-aggregation"))),
            )
            .label("bond settings on a non-bond interface")
            .help("set `type: bond` on this interface");
            cx.push(d);
        }
        if iface.vlan.is_some() && ty != Some(InterfaceType::Vlan) {
            let d = Diag::error(
                "interface_type_mismatch",
                format!(
                    "`{}` has a `vlan` section but is not `type: vlan`",
                    iface.name
                ),
                Some(cx.span(&format!("{p}.vlan"))),
            )
            .label("VLAN settings on a non-VLAN interface")
            .help("set `type: vlan` on this interface");
            cx.push(d);
        }
        if ty == Some(InterfaceType::Bond) {
            check_bond(cx, iface, &mut port_owner);
        }
        if ty == Some(InterfaceType::Vlan) {
            check_vlan(cx, iface, &by_name);
        }
        if let Some(sriov) = iface.ethernet.as_ref().and_then(|e| e.sr_iov.as_ref()) {
            if ty.is_some_and(|t| t != InterfaceType::Ethernet) {
                let d = Diag::error(
                    "interface_type_mismatch",
                    format!(
                        "`{}` has `ethernet.sr-iov` but is not `type: ethernet`",
                        iface.name
                    ),
                    Some(cx.span(&format!("{p}.ethernet.sr-iov"))),
                )
                .label("SR-IOV is a property of a physical function")
                .help("move `sr-iov` to the PF's ethernet interface");
                cx.push(d);
            }
            let device_max = s
                .hardware
                .as_ref()
                .and_then(|h| h.nics.get(&iface.name))
                .and_then(|n| n.max_vfs)
                .map(i64::from);
            if let Some(total) = sriov.total_vfs {
                let limit = device_max.unwrap_or(TOTAL_VFS_MAX).min(TOTAL_VFS_MAX);
                if total < 0 || total > limit {
                    let why = match device_max {
                        Some(m) if total > m => format!(
                            "the device allows at most {m} VFs (hardware.nics.{}.maxVfs)",
                            iface.name
                        ),
                        _ => format!("must be 0 to {TOTAL_VFS_MAX}"),
                    };
                    let mut d = Diag::error(
                        "total_vfs_range",
                        format!(
                            "total-vfs {total} on `{}` is out of range: {why}",
                            iface.name
                        ),
                        Some(cx.span(&format!("{p}.ethernet.sr-iov.total-vfs"))),
                    )
                    .label(why.clone())
                    .help(format!("use a VF count from 0 to {limit}"));
                    if device_max.is_some_and(|m| total > m) {
                        d = d.related(
                            cx.span(&format!("hardware.nics.{}.maxVfs", iface.name)),
                            "device maximum declared here",
                        );
                    }
                    cx.push(d);
                }
            }
            let total = sriov.total_vfs.unwrap_or(0);
            for (i, vf) in sriov.vfs.iter().enumerate() {
                let vp = format!("{p}.ethernet.sr-iov.vfs[{i}]");
                if i64::from(vf.id) >= total {
                    let d = Diag::error(
                        "vf_id_range",
                        format!(
                            "VF id {} on `{}` is not below total-vfs {total}",
                            vf.id, iface.name
                        ),
                        Some(cx.span(&format!("{vp}.id"))),
                    )
                    .label(format!("VF ids run from 0 to {}", total - 1))
                    .help("raise total-vfs or use a lower VF id (nmstate does not check this)");
                    cx.push(d);
                }
                if let Some(vlan) = vf.vlan_id
                    && !(1..=4094).contains(&vlan)
                {
                    let d = Diag::error(
                        "vlan_id_range",
                        format!("VF vlan-id {vlan} is outside 1-4094"),
                        Some(cx.span(&format!("{vp}.vlan-id"))),
                    )
                    .label("must be 1 to 4094")
                    .help("802.1Q VLAN ids run from 1 to 4094 (0 and 4095 are reserved)");
                    cx.push(d);
                }
            }
        }
    }
}

/// A bond port must name an interface of the host (`network.interfaces`) or a NIC it
/// declares (`hardware.nics`); otherwise nmstate cannot enslave it (a warning: the port may
/// be an interface bmfleet does not manage).
fn check_bond_port_known(cx: &mut Ctx<'_>, bond: &Interface, port: &str, span: Span) {
    let settings = &cx.host.settings;
    let interfaces = settings.network.iter().flat_map(|n| &n.interfaces);
    let nics = settings.hardware.iter().flat_map(|h| h.nics.keys());
    let known = interfaces.clone().any(|i| i.name == port) || nics.clone().any(|n| n == port);
    if known {
        return;
    }
    let mut d = Diag::warning(
        "bond_port_unknown",
        format!(
            "`{port}`, a port of bond `{}`, is not an interface of the host",
            bond.name
        ),
        Some(span),
    )
    .label("no interface with this name");
    // Candidates in document order, so ties resolve the same every run.
    let names: Vec<&str> = interfaces
        .map(|i| i.name.as_str())
        .chain(nics.map(String::as_str))
        .filter(|n| *n != bond.name)
        .collect();
    d = match super::check::did_you_mean(port, names.into_iter()) {
        Some(best) => d.help(format!("did you mean `{best}`?")),
        None => d.help(format!(
            "add an interface named `{port}` to network.interfaces (type: ethernet)"
        )),
    };
    cx.push(d);
}

fn check_bond<'a>(cx: &mut Ctx<'_>, iface: &'a Interface, owner: &mut HashMap<&'a str, &'a str>) {
    let p = iface_path(iface);
    let Some(la) = &iface.link_aggregation else {
        let d = Diag::error(
            "bond_no_ports",
            format!("bond `{}` has no `link-aggregation` section", iface.name),
            Some(cx.span(&p)),
        )
        .label("a bond without ports")
        .help("add `link-aggregation: {mode: 802.3ad, port: [ens1f0, ens1f1]}`");
        cx.push(d);
        return;
    };
    let ports = la.port.as_deref().unwrap_or_default();
    if ports.is_empty() {
        let span = if la.port.is_some() {
            cx.span(&format!("{p}.link-aggregation.port"))
        } else {
            cx.span(&format!("{p}.link-aggregation"))
        };
        let d = Diag::error(
            "bond_no_ports",
            format!("bond `{}` has no ports", iface.name),
            Some(span),
        )
        .label(if la.port.is_some() {
            "empty port list"
        } else {
            "no `port` list"
        })
        .help("list the member interfaces under `link-aggregation.port`");
        cx.push(d);
    }
    for (i, port) in ports.iter().enumerate() {
        let span = cx.span(&format!("{p}.link-aggregation.port[{i}]"));
        check_bond_port_known(cx, iface, port, span);
        if let Some(first) = owner.get(port.as_str()) {
            let first_bond = (*first).to_string();
            let idx = cx
                .host
                .settings
                .network
                .as_ref()
                .and_then(|n| n.interfaces.iter().find(|b| b.name == first_bond))
                .and_then(|b| b.link_aggregation.as_ref())
                .and_then(|l| l.port.as_ref())
                .and_then(|ps| ps.iter().position(|x| x == port))
                .unwrap_or(0);
            let first_span = cx.span(&format!(
                "network.interfaces[{first_bond}].link-aggregation.port[{idx}]"
            ));
            let d = Diag::error(
                "bond_port_conflict",
                format!(
                    "`{port}` is a port of both `{first_bond}` and `{}`",
                    iface.name
                ),
                Some(span),
            )
            .label(format!("also a port of {first_bond}"))
            .related(first_span, format!("port of {first_bond} here"))
            .help("an interface can belong to one bond only");
            cx.push(d);
        } else {
            owner.insert(port.as_str(), iface.name.as_str());
        }
    }
    if let Some(mode) = la.mode {
        for opt in ["lacp_rate", "ad_select"] {
            if la.options.contains_key(opt) && mode != super::model::BondMode::Lacp {
                let span = cx
                    .node(&format!("{p}.link-aggregation.options"))
                    .and_then(|n| n.entry(opt))
                    .map_or(cx.host.name_span, |e| e.key_span);
                let d = Diag::error(
                    "bond_option",
                    format!(
                        "`{opt}` is only valid with mode 802.3ad, not {}",
                        mode.as_str()
                    ),
                    Some(span),
                )
                .label("802.3ad-only option")
                .help("drop the option or use `mode: 802.3ad` (kernel bonding.rst)");
                cx.push(d);
            }
        }
    }
}

fn check_vlan(cx: &mut Ctx<'_>, iface: &Interface, by_name: &HashMap<&str, &Interface>) {
    let p = iface_path(iface);
    let Some(vlan) = &iface.vlan else {
        let d = Diag::error(
            "missing_field",
            format!("VLAN `{}` has no `vlan` section", iface.name),
            Some(cx.span(&p)),
        )
        .label("type vlan without vlan settings")
        .help("add `vlan: {base-iface: bond0, id: 100}`");
        cx.push(d);
        return;
    };
    match vlan.id {
        None => {
            let d = Diag::error(
                "missing_field",
                format!("VLAN `{}` has no `vlan.id`", iface.name),
                Some(cx.span(&format!("{p}.vlan"))),
            )
            .label("no id")
            .help("add `id:` with a VLAN id from 1 to 4094");
            cx.push(d);
        }
        Some(id) if !(1..=4094).contains(&id) => {
            let d = Diag::error(
                "vlan_id_range",
                format!("VLAN id {id} of `{}` is outside 1-4094", iface.name),
                Some(cx.span(&format!("{p}.vlan.id"))),
            )
            .label("must be 1 to 4094")
            .help("802.1Q VLAN ids run from 1 to 4094 (0 and 4095 are reserved)");
            cx.push(d);
        }
        Some(_) => {}
    }
    let Some(base) = &vlan.base_iface else {
        let d = Diag::error(
            "missing_field",
            format!("VLAN `{}` has no `vlan.base-iface`", iface.name),
            Some(cx.span(&format!("{p}.vlan"))),
        )
        .label("no base interface")
        .help("name the interface the VLAN sits on: `base-iface: bond0`");
        cx.push(d);
        return;
    };
    let Some(base_iface) = by_name.get(base.as_str()) else {
        let mut d = Diag::error(
            "vlan_base_missing",
            format!(
                "VLAN `{}` sits on `{base}`, which is not defined",
                iface.name
            ),
            Some(cx.span(&format!("{p}.vlan.base-iface"))),
        )
        .label("no interface with this name");
        // Candidates in document order (not the map's), so ties resolve the same every run.
        let names = cx
            .host
            .settings
            .network
            .iter()
            .flat_map(|n| &n.interfaces)
            .map(|i| i.name.as_str())
            .filter(|n| *n != iface.name);
        d = match super::check::did_you_mean(base, names) {
            Some(best) => d.help(format!("did you mean `{best}`?")),
            None => d.help(format!(
                "add an interface named `{base}` to network.interfaces"
            )),
        };
        cx.push(d);
        return;
    };
    let base_mtu = base_iface.mtu.unwrap_or(1500);
    if let Some(mtu) = iface.mtu
        && mtu > base_mtu
    {
        let mut d = Diag::error(
            "vlan_mtu_above_base",
            format!(
                "VLAN `{}` has MTU {mtu}, above its base `{base}` ({base_mtu})",
                iface.name
            ),
            Some(cx.span(&format!("{p}.mtu"))),
        )
        .label(format!("above {base_mtu}"))
        .help(format!(
            "raise the MTU of `{base}` or lower this one to {base_mtu} or less"
        ));
        if base_iface.mtu.is_some() {
            d = d.related(
                cx.span(&format!("network.interfaces[{base}].mtu")),
                "base MTU set here",
            );
        }
        cx.push(d);
    }
}

/// Parses a memory size such as `512Gi`, `512GiB`, `768G`, `1Ti`, `4096Mi` into MiB
/// (decimal suffixes are read as binary, as the field does for RAM).
pub fn parse_memory_mib(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s.get(..digits_end)?.parse().ok()?;
    let unit = s.get(digits_end..)?.trim().trim_end_matches(['B', 'b']);
    let unit = unit.trim_end_matches('i');
    let mult = match unit {
        "M" | "m" => 1,
        "G" | "g" => 1024,
        "T" | "t" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Size of a hugepage in MiB: `2M` -> 2, `1G` -> 1024; other sizes are invalid on x86_64.
pub fn hugepage_mib(size: &str) -> Option<u64> {
    match size {
        "2M" => Some(2),
        "1G" => Some(1024),
        _ => None,
    }
}

fn hugepage_size_error(size: &str, span: Span) -> Diag {
    let mut d = Diag::error(
        "hugepage_size",
        format!("hugepage size `{size}` is not supported"),
        Some(span),
    )
    .label("expected 2M or 1G");
    let norm = size.to_ascii_uppercase().replace(['I', 'B'], "");
    d = match norm.as_str() {
        "2M" | "2048K" => d.help("did you mean `2M`?"),
        "1G" | "1024M" => d.help("did you mean `1G`?"),
        _ => d.help("x86_64 hugepages are `2M` or `1G`"),
    };
    d
}

fn check_os(cx: &mut Ctx<'_>, s: &HostSettings) {
    let Some(os) = &s.os else { return };
    let memory = s
        .hardware
        .as_ref()
        .and_then(|h| h.memory.as_deref().map(|m| (m, parse_memory_mib(m))));
    if let Some((text, None)) = memory {
        let d = Diag::error(
            "invalid_value",
            format!("memory size `{text}` is not understood"),
            Some(cx.span("hardware.memory")),
        )
        .label("expected a number and a unit")
        .help("write sizes like `512Gi`, `768G` or `1Ti`");
        cx.push(d);
    }
    let numa = s.hardware.as_ref().and_then(|h| h.numa_nodes);
    if let Some(hp) = &os.hugepages {
        if let Some(ds) = &hp.default_size
            && hugepage_mib(ds).is_none()
        {
            let d = hugepage_size_error(ds, cx.span("os.hugepages.defaultSize"));
            cx.push(d);
        }
        let mut total_mib: u64 = 0;
        for (i, pages) in hp.pages.iter().enumerate() {
            let pp = format!("os.hugepages.pages[{i}]");
            match hugepage_mib(&pages.size) {
                None => {
                    let d = hugepage_size_error(&pages.size, cx.span(&format!("{pp}.size")));
                    cx.push(d);
                }
                Some(mib) => total_mib = total_mib.saturating_add(mib.saturating_mul(pages.count)),
            }
            if let (Some(node), Some(n)) = (pages.node, numa)
                && node >= n
            {
                let d = Diag::error(
                    "hugepage_numa_node",
                    format!("NUMA node {node} does not exist: the host declares {n} node(s)"),
                    Some(cx.span(&format!("{pp}.node"))),
                )
                .label(format!("nodes are 0 to {}", n.saturating_sub(1)))
                .related(
                    cx.span("hardware.numaNodes"),
                    "NUMA node count declared here",
                )
                .help("use a node below hardware.numaNodes");
                cx.push(d);
            }
        }
        if let Some((_, Some(mem))) = memory
            && total_mib > mem
        {
            let d = Diag::error(
                "hugepage_memory",
                format!(
                    "hugepages reserve {} GiB but the host has {} GiB of memory",
                    total_mib / 1024,
                    mem / 1024
                ),
                Some(cx.span("os.hugepages.pages")),
            )
            .label(format!("{} MiB of hugepages", total_mib))
            .related(cx.span("hardware.memory"), "memory declared here")
            .help("lower the page counts; leave memory for the kernel and the OS");
            cx.push(d);
        }
        // (An invalid defaultSize is reported as hugepage_size above, not again here.)
        if let Some(ds) = &hp.default_size
            && hugepage_mib(ds).is_some()
            && !hp.pages.is_empty()
            && !hp.pages.iter().any(|p| &p.size == ds)
        {
            let d = Diag::warning(
                "hugepage_default_unused",
                format!("default size {ds} has no pages reserved"),
                Some(cx.span("os.hugepages.defaultSize")),
            )
            .label("no `pages` entry of this size")
            .help(format!(
                "add a `pages` entry with `size: {ds}` or change defaultSize"
            ));
            cx.push(d);
        }
    }
    if let Some(args) = &os.kernel_args {
        check_kernel_args(cx, args, os.hugepages.as_ref());
    }
    if let Some(vfio) = &os.vfio {
        check_vfio(cx, s, vfio, os.kernel_args.as_deref().unwrap_or_default());
    }
    for key in os.sysfs.keys() {
        if !key.starts_with("/sys/") || key.contains("/../") || key.ends_with("/..") {
            let span = cx
                .node("os.sysfs")
                .and_then(|n| n.entry(key))
                .map_or(cx.host.name_span, |e| e.key_span);
            let d = Diag::error(
                "sysfs_path",
                format!("`{key}` is not a path under /sys"),
                Some(span),
            )
            .label("expected an absolute /sys/... path")
            .help("sysfs keys are absolute paths such as /sys/kernel/mm/ksm/run");
            cx.push(d);
        }
    }
    for key in os.sysctl.keys() {
        let ok = !key.is_empty()
            && key.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'/' | b'*')
            })
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..");
        if !ok {
            let span = cx
                .node("os.sysctl")
                .and_then(|n| n.entry(key))
                .map_or(cx.host.name_span, |e| e.key_span);
            let d = Diag::error(
                "sysctl_key",
                format!("`{key}` is not a sysctl key"),
                Some(span),
            )
            .label("expected dotted names like net.core.somaxconn")
            .help("use the names `sysctl -a` prints");
            cx.push(d);
        }
    }
}

fn check_kernel_args(cx: &mut Ctx<'_>, args: &[String], hp: Option<&super::model::HugepagesSpec>) {
    let mut seen: HashMap<&str, (usize, &str)> = HashMap::new();
    let default_size = hp.and_then(|h| h.default_size.as_deref());
    let size_counts = hugepage_reservations(args, default_size);
    for (i, arg) in args.iter().enumerate() {
        let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        if key != "hugepagesz" && key != "hugepages" {
            if let Some((j, prev)) = seen.get(key) {
                if *prev != value {
                    let d = Diag::error(
                        "kernel_args_conflict",
                        format!("kernel argument `{key}` is given twice with different values"),
                        Some(cx.span(&format!("os.kernelArgs[{i}]"))),
                    )
                    .label(format!("`{arg}`"))
                    .related(
                        cx.span(&format!("os.kernelArgs[{j}]")),
                        format!("`{key}={prev}` here"),
                    )
                    .help("the kernel uses the last one; keep only the value you mean");
                    cx.push(d);
                }
            } else {
                seen.insert(key, (i, value));
            }
        }
    }
    let Some(hp) = hp else {
        if let Some((_, _, i)) = size_counts.first() {
            let d = Diag::warning(
                "kernel_args_hugepages",
                "hugepages are set through kernelArgs instead of os.hugepages",
                Some(cx.span(&format!("os.kernelArgs[{i}]"))),
            )
            .label("hand-written hugepage argument")
            .help(
                "declare `os.hugepages`; bmfleet derives the kernel arguments and validates memory",
            );
            cx.push(d);
        }
        return;
    };
    if let (Some((i, v)), Some(ds)) = (seen.get("default_hugepagesz"), &hp.default_size)
        && v != ds
    {
        let d = Diag::error(
            "kernel_args_conflict",
            format!("kernelArgs say default_hugepagesz={v} but os.hugepages.defaultSize is {ds}"),
            Some(cx.span(&format!("os.kernelArgs[{i}]"))),
        )
        .label("contradicts os.hugepages")
        .related(cx.span("os.hugepages.defaultSize"), "defaultSize set here")
        .help(
            "remove the hugepage arguments from kernelArgs; bmfleet derives them from os.hugepages",
        );
        cx.push(d);
    }
    for (size, n, i) in size_counts {
        let declared: u64 = hp
            .pages
            .iter()
            .filter(|p| p.size == size && p.node.is_none())
            .map(|p| p.count)
            .sum();
        if declared != n {
            let d = Diag::error(
                "kernel_args_conflict",
                format!("kernelArgs reserve {n} pages of {size} but os.hugepages declares {declared}"),
                Some(cx.span(&format!("os.kernelArgs[{i}]"))),
            )
            .label("contradicts os.hugepages")
            .related(cx.span("os.hugepages.pages"), "pages declared here")
            .help("remove the hugepage arguments from kernelArgs; bmfleet derives them from os.hugepages");
            cx.push(d);
        }
    }
}

/// The architecture's default huge page size when nothing selects one (x86-64: 2M).
pub const HUGEPAGE_DEFAULT_SIZE: &str = "2M";

/// The huge pages a kernel command line reserves, as `(size, count, index of the
/// hugepages= argument)`, read as the kernel reads it (`Documentation/admin-guide/mm/
/// hugetlbpage.rst`): `hugepages=N` applies to the size selected by the most recent
/// `hugepagesz=` or `default_hugepagesz=` before it; with neither before it, to the default
/// size, which the first `default_hugepagesz=` on the line sets wherever it appears (else
/// `fallback_default`, the size `os.hugepages.defaultSize` declares, else
/// [`HUGEPAGE_DEFAULT_SIZE`]). Counts that are not a plain number (the per-node `0:32,1:32`
/// form) are left out.
pub fn hugepage_reservations(
    args: &[String],
    fallback_default: Option<&str>,
) -> Vec<(String, u64, usize)> {
    let split = |arg: &'_ str| -> (String, String) {
        let (k, v) = arg.split_once('=').unwrap_or((arg, ""));
        (k.to_string(), v.to_string())
    };
    let default = args
        .iter()
        .map(|a| split(a))
        .find(|(k, _)| k == "default_hugepagesz")
        .map(|(_, v)| v)
        .or_else(|| fallback_default.map(str::to_string))
        .unwrap_or_else(|| HUGEPAGE_DEFAULT_SIZE.to_string());
    let mut current: Option<String> = None;
    let mut out = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let (key, value) = split(arg);
        match key.as_str() {
            "hugepagesz" => current = Some(value),
            // `default_hugepagesz=1G hugepages=4` reserves 4 pages of the default size.
            "default_hugepagesz" => current = Some(default.clone()),
            "hugepages" => {
                if let Ok(n) = value.parse::<u64>() {
                    let size = current.clone().unwrap_or_else(|| default.clone());
                    out.push((size, n, i));
                }
            }
            _ => {}
        }
    }
    out
}

/// True for a PCI address `DDDD:BB:DD.F` (domain, bus, device, function, in hex).
pub fn is_pci_address(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
        && b[11] <= b'7'
}

/// Parses VF id lists like `0-7`, `3`, `0-3,8`.
pub fn parse_id_list(s: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                if b < a || b - a > 4096 {
                    return None;
                }
                ids.extend(a..=b);
            }
            None => ids.push(part.parse().ok()?),
        }
    }
    Some(ids)
}

fn check_vfio(cx: &mut Ctx<'_>, s: &HostSettings, vfio: &super::model::VfioSpec, args: &[String]) {
    for (i, dev) in vfio.devices.iter().enumerate() {
        if !is_pci_address(dev) {
            let d = Diag::error(
                "invalid_pci_address",
                format!("`{dev}` is not a PCI address"),
                Some(cx.span(&format!("os.vfio.devices[{i}]"))),
            )
            .label("expected DDDD:BB:DD.F")
            .help("write the full address as `lspci -D` prints it, e.g. 0000:3b:00.0");
            cx.push(d);
        }
    }
    for (i, vfs) in vfio.vfs.iter().enumerate() {
        let vp = format!("os.vfio.vfs[{i}]");
        let total = s
            .network
            .as_ref()
            .and_then(|n| n.interfaces.iter().find(|x| x.name == vfs.pf))
            .and_then(|x| x.ethernet.as_ref())
            .and_then(|e| e.sr_iov.as_ref())
            .and_then(|r| r.total_vfs);
        let Some(total) = total else {
            let d = Diag::error(
                "vfio_pf_missing",
                format!("`{}` is not an SR-IOV interface of this host", vfs.pf),
                Some(cx.span(&format!("{vp}.pf"))),
            )
            .label("no ethernet interface with sr-iov total-vfs by this name")
            .help("set `ethernet.sr-iov.total-vfs` on the PF in network.interfaces");
            cx.push(d);
            continue;
        };
        match parse_id_list(&vfs.ids) {
            None => {
                let d = Diag::error(
                    "invalid_value",
                    format!("`{}` is not a VF id list", vfs.ids),
                    Some(cx.span(&format!("{vp}.ids"))),
                )
                .label("expected e.g. 0-7 or 0-3,8")
                .help("write ids and ranges separated by commas");
                cx.push(d);
            }
            Some(ids) => {
                if let Some(bad) = ids.iter().find(|id| i64::from(**id) >= total) {
                    let d = Diag::error(
                        "vf_id_range",
                        format!("VF {bad} of `{}` is not below total-vfs {total}", vfs.pf),
                        Some(cx.span(&format!("{vp}.ids"))),
                    )
                    .label(format!("VF ids run from 0 to {}", total - 1))
                    .help("raise total-vfs on the PF or bind fewer VFs");
                    cx.push(d);
                }
            }
        }
    }
    let iommu = args.iter().any(|a| {
        a == "intel_iommu=on"
            || a == "amd_iommu=on"
            || a == "iommu=pt"
            || a.starts_with("intel_iommu=on")
    });
    if !iommu && (!vfio.devices.is_empty() || !vfio.vfs.is_empty()) {
        let d = Diag::warning(
            "vfio_without_iommu",
            "devices are bound to vfio-pci but kernelArgs do not enable the IOMMU",
            Some(cx.span("os.vfio")),
        )
        .label("vfio-pci needs an IOMMU")
        .help("add `intel_iommu=on` and `iommu=pt` (Intel) or `iommu=pt` (AMD) to os.kernelArgs");
        cx.push(d);
    }
}

#[derive(Default)]
struct DataFiles {
    /// path -> (file id in sources, diagnostics found once for the file)
    loaded: HashMap<String, Result<(u32, Vec<Diag>), String>>,
    texts: BTreeMap<String, Arc<str>>,
}

fn check_cloud_init(
    cx: &mut Ctx<'_>,
    s: &HostSettings,
    tree: &FleetTree,
    data: &mut DataFiles,
    sources: &mut super::source::Sources,
) {
    let Some(ci) = &s.cloud_init else { return };
    for (key, src, kind) in [
        ("userData", &ci.user_data, DataKind::UserData),
        ("metaData", &ci.meta_data, DataKind::Yaml),
        ("networkConfig", &ci.network_config, DataKind::Yaml),
    ] {
        let Some(src) = src else { continue };
        let path = format!("cloudInit.{key}");
        match (src, &src.file, &src.inline) {
            (CloudInitSource { .. }, Some(_), Some(_)) | (CloudInitSource { .. }, None, None) => {
                let d = Diag::error(
                    "cloud_init_source",
                    format!("`{path}` needs exactly one of `file` or `inline`"),
                    Some(cx.span(&path)),
                )
                .label("give either a file or inline text")
                .help("`file:` takes a path relative to the fleet root; `inline:` the document itself");
                cx.push(d);
            }
            (_, Some(file), None) => {
                let file_span = cx.span(&format!("{path}.file"));
                let entry = data.loaded.entry(file.clone()).or_insert_with(|| {
                    tree.read(file, MAX_DATA_FILE_BYTES).and_then(|bytes| {
                        let text = String::from_utf8(bytes)
                            .map_err(|_| format!("{file} is not valid UTF-8"))?;
                        let text: Arc<str> = Arc::from(text);
                        let id = sources.add(file.clone(), text.clone());
                        data.texts.insert(file.clone(), text.clone());
                        let mut ds = Vec::new();
                        check_data(&text, id, 0, kind, &mut ds);
                        Ok((id, ds))
                    })
                });
                match entry {
                    Err(message) => {
                        let d = Diag::error(
                            "cloud_init_file_missing",
                            format!("cannot read `{file}`: {message}"),
                            Some(file_span),
                        )
                        .label("this file")
                        .help("paths are relative to the fleet root and must stay inside it");
                        cx.push(d);
                    }
                    Ok((_, ds)) => {
                        for d in ds.clone() {
                            cx.push(d);
                        }
                    }
                }
            }
            (_, None, Some(text)) => {
                let node_span = cx.span(&format!("{path}.inline"));
                let mut ds = Vec::new();
                // Inline text: point problems at the inline value itself.
                check_data(text, node_span.file, u32::MAX, kind, &mut ds);
                for mut d in ds {
                    d.span = Some(node_span);
                    if d.secret.is_some() {
                        // Offsets inside inline text are not file offsets: mask it all.
                        d.secret = Some(node_span);
                    }
                    cx.push(d);
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum DataKind {
    UserData,
    Yaml,
}

/// Checks a cloud-init document. `base == u32::MAX` means inline text whose spans the caller
/// replaces.
fn check_data(text: &str, file: u32, base: u32, kind: DataKind, out: &mut Vec<Diag>) {
    let whole = Span {
        file,
        start: 0,
        end: text.lines().next().map_or(0, |l| l.len() as u32),
    };
    let is_inline = base == u32::MAX;
    let yaml_text = match kind {
        DataKind::UserData => {
            let head = text.trim_start_matches('\u{feff}');
            if head.starts_with("#!") || head.starts_with("Content-Type: multipart") {
                scan_script_secrets(text, file, out);
                return;
            }
            if !head.starts_with("#cloud-config") {
                out.push(
                    Diag::error(
                        "cloud_init_user_data",
                        "user-data must start with `#cloud-config` or `#!`",
                        Some(whole),
                    )
                    .label("first line")
                    .help("cloud-init ignores user-data it cannot recognise; start the file with `#cloud-config`"),
                );
                return;
            }
            text
        }
        DataKind::Yaml => text,
    };
    match yaml::parse(yaml_text, file, 100_000) {
        Err(e) => {
            let (message, span) = match e {
                yaml::YamlError::Syntax { message, span } => (message, span),
                other => (format!("{other:?}"), whole),
            };
            out.push(
                Diag::error(
                    match kind {
                        DataKind::UserData => "cloud_init_user_data",
                        DataKind::Yaml => "cloud_init_yaml",
                    },
                    format!("cloud-init data is not valid YAML: {message}"),
                    Some(if is_inline { whole } else { span }),
                )
                .label("YAML error here")
                .help("cloud-init would reject this document at boot; fix the YAML"),
            );
        }
        Ok(docs) => {
            for d in docs {
                scan_secrets(&d.root, out);
            }
        }
    }
}

const SECRET_KEYS: &[&str] = &[
    "password",
    "plain_text_passwd",
    "secret",
    "token",
    "api_key",
];

fn scan_secrets(node: &Node, out: &mut Vec<Diag>) {
    match &node.value {
        Value::Map(entries) => {
            for e in entries {
                let lower = e.key.to_ascii_lowercase();
                let hashed = e
                    .value
                    .as_str()
                    .is_some_and(|v| v.starts_with('$') || v.starts_with("${"));
                let secret_key =
                    SECRET_KEYS.iter().any(|k| lower.contains(k)) || (lower == "passwd" && !hashed);
                if secret_key && matches!(&e.value.value, Value::Str(s) if !s.is_empty() && !hashed)
                {
                    out.push(
                        Diag::error(
                            "plaintext_secret",
                            format!("cloud-init `{}` holds a plaintext secret", e.key),
                            Some(e.value.span),
                        )
                        .label("plaintext secret in the repo")
                        .secret(e.value.span)
                        .help("use a hashed password (`passwd: $6$...`), SSH keys, or inject the secret at delivery time"),
                    );
                }
                scan_secrets(&e.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| scan_secrets(i, out)),
        _ => {}
    }
}

fn scan_script_secrets(text: &str, file: u32, out: &mut Vec<Diag>) {
    let mut lines = Vec::new();
    let mut offset = 0u32;
    for line in text.split_inclusive('\n') {
        lines.push((offset, line.trim_end()));
        offset += line.len() as u32;
    }
    let mut i = 0;
    while i < lines.len() {
        let (offset, line) = lines[i];
        let lower = line.to_ascii_lowercase();
        if lower.contains("chpasswd") || lower.contains("password=") {
            let indent = (line.len() - line.trim_start().len()) as u32;
            let span = Span {
                file,
                start: offset + indent,
                end: offset + line.len() as u32,
            };
            // The password is on this line (`echo 'root:pw' | chpasswd`), or in the here-doc
            // that follows it (`chpasswd <<EOF`): mask both, they must never be shown.
            let mut secret = span;
            if let Some(delimiter) = heredoc_delimiter(line) {
                while i + 1 < lines.len() && lines[i + 1].1.trim() != delimiter {
                    i += 1;
                    secret.end = lines[i].0 + lines[i].1.len() as u32;
                }
            }
            out.push(
                Diag::error(
                    "plaintext_secret",
                    "the user-data script appears to set a password in clear text",
                    Some(span),
                )
                .label("plaintext secret in the repo")
                .secret(secret)
                .help("inject secrets at delivery time instead of committing them"),
            );
        }
        i += 1;
    }
}

/// The delimiter of a shell here-doc started on `line` (`<<EOF`, `<<-'END'`).
fn heredoc_delimiter(line: &str) -> Option<&str> {
    let rest = line.split_once("<<")?.1;
    let rest = rest.strip_prefix('-').unwrap_or(rest).trim_start();
    let word = rest.split_whitespace().next()?;
    let word = word.trim_matches(['\'', '"']);
    (!word.is_empty() && !word.starts_with('<')).then_some(word)
}

fn check_fleet_wide(fleet: &LoadedFleet, diags: &mut Vec<Diag>) {
    let mut endpoints: HashMap<String, (Span, String)> = HashMap::new();
    let mut ssh: HashMap<String, (Span, String)> = HashMap::new();
    let names: HashMap<&str, &Host> = fleet.hosts.iter().map(|h| (h.name.as_str(), h)).collect();
    for host in &fleet.hosts {
        let cx = Ctx {
            host,
            out: Vec::new(),
        };
        // A BMC is an endpoint plus a ComputerSystem id: one Redfish service may manage
        // several systems (sushy-tools, chassis managers), each with its own systemId.
        let mut eps = Vec::new();
        if let Some(b) = host.settings.bmc.as_ref()
            && let Some(ep) = &b.endpoint
        {
            eps.push((ep.clone(), b.system_id.clone(), cx.span("bmc.endpoint")));
        }
        if let Some(b) = host.settings.dpu.as_ref().and_then(|d| d.bmc.as_ref())
            && let Some(ep) = &b.endpoint
        {
            eps.push((ep.clone(), b.system_id.clone(), cx.span("dpu.bmc.endpoint")));
        }
        for (ep, system, span) in eps {
            let key = format!(
                "{}#{}",
                ep.trim_end_matches('/').to_ascii_lowercase(),
                system.unwrap_or_default()
            );
            if let Some((first, owner)) = endpoints.get(&key) {
                diags.push(
                    Diag::error(
                        "duplicate_bmc_endpoint",
                        format!(
                            "BMC endpoint `{ep}` is used by `{owner}` and `{}`",
                            host.name
                        ),
                        Some(span),
                    )
                    .label("second use")
                    .related(*first, format!("used by {owner} here"))
                    .help("each BMC system belongs to one host; fix the address, or set distinct `systemId`s when one Redfish service manages several systems"),
                );
            } else {
                endpoints.insert(key, (span, host.name.clone()));
            }
        }
        if let Some(s) = host.settings.os.as_ref().and_then(|o| o.ssh.as_ref())
            && let Some(h) = &s.host
        {
            let key = format!("{}:{}", h.to_ascii_lowercase(), s.port.unwrap_or(22));
            let span = cx.span("os.ssh.host");
            if let Some((first, owner)) = ssh.get(&key) {
                diags.push(
                    Diag::error(
                        "duplicate_ssh_address",
                        format!(
                            "SSH address `{key}` is used by `{owner}` and `{}`",
                            host.name
                        ),
                        Some(span),
                    )
                    .label("second use")
                    .related(*first, format!("used by {owner} here"))
                    .help("each host has its own SSH address"),
                );
            } else {
                ssh.insert(key, (span, host.name.clone()));
            }
        }
        let deps = list_spans(host, "dependsOn");
        for (dep, span) in deps {
            if dep == host.name {
                diags.push(
                    Diag::error(
                        "depends_on_cycle",
                        format!("host `{dep}` depends on itself"),
                        Some(span),
                    )
                    .label("self-dependency")
                    .help("remove it from dependsOn"),
                );
            } else if !names.contains_key(dep.as_str()) {
                let mut d = Diag::error(
                    "depends_on_missing",
                    format!(
                        "host `{}` depends on `{dep}`, which is not defined",
                        host.name
                    ),
                    Some(span),
                )
                .label("no host with this name");
                // Sorted candidates (not the map's order) so ties resolve the same every run;
                // never the host itself.
                let candidates = fleet
                    .hosts
                    .iter()
                    .map(|h| h.name.as_str())
                    .filter(|n| *n != host.name);
                d = match super::check::did_you_mean(&dep, candidates) {
                    Some(best) => d.help(format!("did you mean `{best}`?")),
                    None => d.help("list host names defined in the fleet"),
                };
                diags.push(d);
            }
        }
    }
    depends_on_cycles(fleet, diags);
    let Some(f) = &fleet.fleet else { return };
    let spec = f.node.get("spec");
    let rollout = spec.and_then(|s| s.get("rollout"));
    if let Some(pb) = rollout.and_then(|r| r.get("partitionBy"))
        && let Some(key) = pb.as_str()
        && !valid_label_key(key)
    {
        diags.push(
            Diag::error(
                "label_selector",
                format!("partitionBy `{key}` is not a valid label key"),
                Some(pb.span),
            )
            .label("invalid label key")
            .help("use a label key such as `rack`"),
        );
    }
    for which in ["maxUnavailable", "maxFailures"] {
        if let Some(n) = rollout.and_then(|r| r.get(which))
            && let Some(p) = n.as_str().and_then(|s| s.strip_suffix('%'))
            && p.parse::<u32>().map_or(true, |v| v > 100)
        {
            diags.push(
                Diag::error(
                    "invalid_value",
                    format!(
                        "{which} `{}` is not a percentage from 0% to 100%",
                        n.as_str().unwrap_or_default()
                    ),
                    Some(n.span),
                )
                .label("out of range")
                .help("write a count (`2`) or a percentage (`\"25%\"`)"),
            );
        }
    }
    if let Some(Value::Seq(stages)) = rollout.and_then(|r| r.get("stages")).map(|s| &s.value) {
        for stage in stages {
            let Some(sel) = stage.get("selector") else {
                continue;
            };
            let Some(text) = sel.as_str() else { continue };
            match Selector::parse(text) {
                Err(e) => {
                    let quoted = matches!(
                        fleet.sources.snippet(Span {
                            end: sel.span.start + 1,
                            ..sel.span
                        }),
                        "\"" | "'"
                    );
                    let start = sel.span.start + u32::from(quoted) + e.offset as u32;
                    diags.push(
                        Diag::error(
                            "label_selector",
                            format!("invalid label selector `{text}`: {}", e.message),
                            Some(Span {
                                file: sel.span.file,
                                start: start.min(sel.span.end),
                                end: (start + 1).min(sel.span.end.max(start + 1)),
                            }),
                        )
                        .label(e.message.clone())
                        .help("kubectl syntax: `key=value`, `key!=value`, `key in (a,b)`, `key notin (a)`, `key`, `!key`, joined by commas"),
                    );
                }
                Ok(s) => {
                    if !fleet.hosts.iter().any(|h| s.matches(&h.labels)) {
                        diags.push(
                            Diag::warning(
                                "rollout_stage_empty",
                                format!("rollout stage selector `{text}` matches no host"),
                                Some(sel.span),
                            )
                            .label("matches nothing")
                            .help("check the labels of your hosts"),
                        );
                    }
                }
            }
        }
    }
    if let Some(Value::Map(creds)) = spec.and_then(|s| s.get("credentials")).map(|c| &c.value) {
        for c in creds {
            for key in ["usernameEnv", "passwordEnv"] {
                if let Some(v) = c.value.get(key) {
                    let ok = v.as_str().is_some_and(|s| {
                        !s.is_empty()
                            && !s.as_bytes()[0].is_ascii_digit()
                            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    });
                    if !ok {
                        let mut d = Diag::error(
                            "invalid_value",
                            format!("`{key}` must name an environment variable"),
                            Some(v.span),
                        )
                        .label("not a variable name")
                        .help("write the variable's name (e.g. BMC_PASSWORD), never its value");
                        if key == "passwordEnv" {
                            // Likely the password itself: never show it.
                            d = d.secret(v.span);
                        }
                        diags.push(d);
                    }
                }
            }
        }
    }
}

fn list_spans(host: &Host, _key: &str) -> Vec<(String, Span)> {
    // dependsOn lives on the host document, not in the merged settings tree.
    host.depends_on
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let span = host
                .depends_on_spans
                .get(i)
                .copied()
                .unwrap_or(host.name_span);
            (d.clone(), span)
        })
        .collect()
}

fn depends_on_cycles(fleet: &LoadedFleet, diags: &mut Vec<Diag>) {
    let index: HashMap<&str, usize> = fleet
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut state = vec![0u8; fleet.hosts.len()];
    for start in 0..fleet.hosts.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some((node, next)) = stack.last().copied() {
            let deps = &fleet.hosts[node].depends_on;
            if next < deps.len() {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let Some(&dep) = index.get(deps[next].as_str()) else {
                    continue;
                };
                if dep == node {
                    continue;
                }
                match state[dep] {
                    0 => {
                        state[dep] = 1;
                        stack.push((dep, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[pos..]
                            .iter()
                            .map(|(n, _)| fleet.hosts[*n].name.as_str())
                            .collect();
                        cycle.push(fleet.hosts[dep].name.as_str());
                        let host = &fleet.hosts[node];
                        diags.push(
                            Diag::error(
                                "depends_on_cycle",
                                format!("host dependency cycle: {}", cycle.join(" -> ")),
                                Some(host.name_span),
                            )
                            .label("this host closes the cycle")
                            .help("remove one dependsOn entry in the cycle"),
                        );
                    }
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
}

/// A scalar's text for messages.
pub fn scalar_text(s: &Scalar) -> String {
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugepages_follow_the_kernels_size_rule() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sizes = |a: &[&str], fallback: Option<&str>| {
            hugepage_reservations(&args(a), fallback)
                .into_iter()
                .map(|(size, n, _)| (size, n))
                .collect::<Vec<_>>()
        };
        let v = |x: &[(&str, u64)]| {
            x.iter()
                .map(|(s, n)| (s.to_string(), *n))
                .collect::<Vec<_>>()
        };
        // The friction-log case: hugepages=64 after default_hugepagesz=2M is 2M pages, even
        // after a 1G pair and with os.hugepages.defaultSize 1G.
        assert_eq!(
            sizes(
                &[
                    "hugepagesz=1G",
                    "hugepages=4",
                    "default_hugepagesz=2M",
                    "hugepages=64"
                ],
                Some("1G")
            ),
            v(&[("1G", 4), ("2M", 64)])
        );
        assert_eq!(
            sizes(&["default_hugepagesz=2M", "hugepages=64"], Some("1G")),
            v(&[("2M", 64)])
        );
        // First on the line: the default size, which default_hugepagesz sets even after it.
        assert_eq!(
            sizes(&["hugepages=2", "default_hugepagesz=1G"], None),
            v(&[("1G", 2)])
        );
        assert_eq!(sizes(&["hugepages=2"], Some("1G")), v(&[("1G", 2)]));
        assert_eq!(sizes(&["hugepages=2"], None), v(&[("2M", 2)]));
        // The most recent hugepagesz wins.
        assert_eq!(
            sizes(
                &["default_hugepagesz=1G", "hugepagesz=2M", "hugepages=512"],
                None
            ),
            v(&[("2M", 512)])
        );
        assert_eq!(sizes(&["hugepages=0:32,1:32"], None), v(&[]));
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_mib("512Gi"), Some(512 * 1024));
        assert_eq!(parse_memory_mib("512GiB"), Some(512 * 1024));
        assert_eq!(parse_memory_mib("1Ti"), Some(1024 * 1024));
        assert_eq!(parse_memory_mib("768G"), Some(768 * 1024));
        assert_eq!(parse_memory_mib("lots"), None);
    }

    #[test]
    fn pci_and_ids() {
        assert!(is_pci_address("0000:3b:00.0"));
        assert!(!is_pci_address("3b:00.0"));
        assert!(!is_pci_address("0000:3b:00.9"));
        assert_eq!(parse_id_list("0-3,8"), Some(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_id_list("x"), None);
    }

    #[test]
    fn script_secrets_are_masked_with_their_heredoc() {
        let text =
            "#!/bin/sh\necho 'root:pw1' | chpasswd\n  chpasswd <<-'END'\nops:pw2\nEND\necho ok\n";
        let mut out = Vec::new();
        scan_script_secrets(text, 0, &mut out);
        assert_eq!(out.len(), 2);
        let cut = |s: Span| &text[s.start as usize..s.end as usize];
        assert_eq!(cut(out[0].secret.unwrap()), "echo 'root:pw1' | chpasswd");
        assert_eq!(cut(out[1].span.unwrap()), "chpasswd <<-'END'");
        assert_eq!(cut(out[1].secret.unwrap()), "chpasswd <<-'END'\nops:pw2");
        assert_eq!(heredoc_delimiter("cat << EOF > f"), Some("EOF"));
        assert_eq!(heredoc_delimiter("echo a"), None);
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint_problem("https://10.0.0.1"), None);
        assert_eq!(endpoint_problem("http://127.0.0.1:8000/h/x/bmc"), None);
        assert!(endpoint_problem("http://10.0.0.1").is_some());
        assert!(endpoint_problem("ftp://x").is_some());
        assert!(endpoint_problem("not a url").is_some());
    }
}
