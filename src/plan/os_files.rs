//! What the OS steps write, rendered at plan time from the host's effective spec, so the plan
//! shows each file exactly as it will be on the host and the executor only copies it.
//!
//! Pure functions, no I/O. Every file bmfleet owns on a host starts with [`HEADER`] and holds
//! the whole of what the spec says for its resource (not only the changed keys), so writing
//! it again is harmless and a host converges whatever it held before.
//!
//! | resource      | runtime write                                 | persistent file |
//! |---------------|-----------------------------------------------|-----------------|
//! | `sysctl`      | `/proc/sys/<key with . as />`                 | [`SYSCTL_FILE`] (sysctl.d(5), applied at boot by systemd-sysctl) |
//! | `sysfs`       | the path                                      | [`SYSFS_FILE`] (tmpfiles.d(5) `w` lines, applied at boot by systemd-tmpfiles-setup) |
//! | `tunables`    | THP `enabled`, every CPU's `scaling_governor`, KSM `run` | [`TUNABLES_FILE`] (tmpfiles.d) |
//! | `hugepages`   | `nr_hugepages` per size and NUMA node (below 1G) | [`HUGEPAGES_TMPFILES`]; gigantic pages and the default size as kernel args in [`HUGEPAGES_GRUB_FILE`] |
//! | `kernel-args` | none (next boot)                              | [`KERNEL_ARGS_FILE`] (`/etc/default/grub.d`, sourced by `update-grub`) or grubby |
//! | `sr-iov`      | `sriov_numvfs` 0 then N, `ip link set PF vf I ...` | a oneshot systemd unit per PF ([`sriov_unit_path`]) |
//!
//! Sources: sysctl.d(5), tmpfiles.d(5) (`w` type, `%` specifiers), the kernel's
//! `Documentation/admin-guide/mm/hugetlbpage.rst` (`hugepagesz=`, `hugepages=` with the node
//! format `hugepages=0:8,1:8` since Linux 5.x), `Documentation/ABI/testing/sysfs-bus-pci`
//! (`sriov_numvfs`), ip-link(8) (`vf NUM mac/vlan/qos/spoofchk/trust/min_tx_rate/max_tx_rate`),
//! GRUB's `grub-mkconfig` (`/etc/default/grub.d/*.cfg` sourced after `/etc/default/grub`).

use super::op::{FileWrite, HugepageTarget};
use crate::spec::Host;
use crate::spec::model::Scalar;
use serde_json::Value;
use std::collections::BTreeMap;

/// The first line of every file bmfleet writes on a host.
pub const HEADER: &str = "# Written by bmfleet from the fleet spec; edit the spec, not this file.";
/// sysctl.d file of the spec's `os.sysctl`.
pub const SYSCTL_FILE: &str = "/etc/sysctl.d/90-bmfleet.conf";
/// tmpfiles.d file of the spec's `os.sysfs`.
pub const SYSFS_FILE: &str = "/etc/tmpfiles.d/bmfleet-sysfs.conf";
/// tmpfiles.d file of the spec's `os.tunables`.
pub const TUNABLES_FILE: &str = "/etc/tmpfiles.d/bmfleet-tunables.conf";
/// tmpfiles.d file of the spec's runtime hugepage pools.
pub const HUGEPAGES_TMPFILES: &str = "/etc/tmpfiles.d/bmfleet-hugepages.conf";
/// grub.d file of the hugepage kernel arguments.
pub const HUGEPAGES_GRUB_FILE: &str = "/etc/default/grub.d/91-bmfleet-hugepages.cfg";
/// grub.d file of the spec's `os.kernelArgs`.
pub const KERNEL_ARGS_FILE: &str = "/etc/default/grub.d/90-bmfleet.cfg";

/// `/sys/kernel/mm/transparent_hugepage/enabled`.
pub const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
/// Every CPU's cpufreq governor (a glob).
pub const CPU_GOVERNORS: &str = "/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor";
/// `/sys/kernel/mm/ksm/run`.
pub const KSM_RUN: &str = "/sys/kernel/mm/ksm/run";

/// Smallest gigantic page size in kB (1G): allocated at boot, not at runtime, because a
/// running kernel rarely finds 1 GiB of contiguous free memory.
pub const GIGANTIC_KB: u64 = 1024 * 1024;

/// The unit that sets `pf`'s VFs on every boot.
pub fn sriov_unit_path(pf: &str) -> String {
    format!("/etc/systemd/system/bmfleet-sriov-{pf}.service")
}

/// A spec value as a kernel file takes it: `true`/`false` as `1`/`0`, numbers and strings
/// as written.
pub fn kernel_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn scalar_text(s: &Scalar) -> String {
    kernel_text(&s.to_json())
}

/// A tmpfiles.d argument: `%` specifiers and backslash escapes written literally.
fn tmpfiles_arg(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "%%")
}

fn file(path: &str, mode: &str, what: &str, lines: &[String]) -> FileWrite {
    let mut content = format!("{HEADER}\n# {what}\n");
    for l in lines {
        content.push_str(l);
        content.push('\n');
    }
    FileWrite {
        path: path.to_string(),
        mode: mode.to_string(),
        content,
    }
}

/// The sysctl.d file of `host`'s `os.sysctl`; `None` when it sets none.
pub fn sysctl_file(host: &Host) -> Option<FileWrite> {
    let os = host.settings.os.as_ref()?;
    if os.sysctl.is_empty() {
        return None;
    }
    let lines: Vec<String> = os
        .sysctl
        .iter()
        .map(|(k, v)| format!("{k} = {}", scalar_text(v)))
        .collect();
    Some(file(SYSCTL_FILE, "0644", "os.sysctl", &lines))
}

/// `/proc/sys` path of a sysctl key (`net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`;
/// a key written with `/` is taken as is, sysctl.d(5)).
pub fn sysctl_path(key: &str) -> String {
    if key.contains('/') {
        format!("/proc/sys/{}", key.trim_start_matches('/'))
    } else {
        format!("/proc/sys/{}", key.replace('.', "/"))
    }
}

/// The tmpfiles.d file of `host`'s `os.sysfs`; `None` when it sets none.
pub fn sysfs_file(host: &Host) -> Option<FileWrite> {
    let os = host.settings.os.as_ref()?;
    if os.sysfs.is_empty() {
        return None;
    }
    let lines: Vec<String> = os
        .sysfs
        .iter()
        .map(|(p, v)| format!("w {p} - - - - {}", tmpfiles_arg(&scalar_text(v))))
        .collect();
    Some(file(SYSFS_FILE, "0644", "os.sysfs", &lines))
}

/// The sysfs path (a glob for `cpuGovernor`) and the text written for tunable `key` set to
/// `value`; `None` for a name that is not a tunable.
pub fn tunable_write(key: &str, value: &Value) -> Option<(String, String)> {
    let path = match key {
        "transparentHugepages" => THP_ENABLED,
        "cpuGovernor" => CPU_GOVERNORS,
        "ksm" => KSM_RUN,
        _ => return None,
    };
    Some((path.to_string(), kernel_text(value)))
}

/// The tmpfiles.d file of `host`'s `os.tunables`; `None` when it sets none.
pub fn tunables_file(host: &Host) -> Option<FileWrite> {
    let t = host.settings.os.as_ref()?.tunables.as_ref()?;
    let v = serde_json::to_value(t).ok()?;
    let lines: Vec<String> = v
        .as_object()?
        .iter()
        .filter_map(|(k, v)| tunable_write(k, v))
        .map(|(p, text)| format!("w {p} - - - - {}", tmpfiles_arg(&text)))
        .collect();
    (!lines.is_empty()).then(|| file(TUNABLES_FILE, "0644", "os.tunables", &lines))
}

/// A page size as the spec writes it (`2M`, `1G`, `2048k`) in kB.
pub fn page_size_kb(size: &str) -> Option<u64> {
    let s = size.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "k" | "kb" => 1,
        "m" | "mb" => 1024,
        "g" | "gb" => 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// How a host's hugepages are written: runtime pools, boot arguments, and the files that
/// persist both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HugepageWrites {
    /// Pools set now (changed keys below 1G, when the default size does not change).
    pub runtime: Vec<HugepageTarget>,
    /// Kernel arguments for the gigantic pages and the default size (empty when none).
    pub boot_args: Vec<String>,
    /// tmpfiles.d lines for every runtime-sized pool of the spec.
    pub tmpfiles: Option<FileWrite>,
}

/// True when the hugepage setting `key` (`defaultSize`, `pages.1G.node0`) is applied by a
/// reboot rather than at runtime.
pub fn hugepage_key_needs_reboot(key: &str) -> bool {
    match key.strip_prefix("pages.") {
        Some(rest) => {
            let size = rest.split_once(".node").map_or(rest, |(s, _)| s);
            page_size_kb(size).is_none_or(|kb| kb >= GIGANTIC_KB)
        }
        None => true,
    }
}

/// The hugepage writes for `host`, where `changed` are the setting keys that differ from
/// the host (`pages.2M.node1`). Boot arguments hold every boot-time part of the spec (the
/// default size and all gigantic pools) whenever one of them changed.
pub fn hugepage_writes(host: &Host, changed: &[&str]) -> HugepageWrites {
    let mut out = HugepageWrites::default();
    let Some(hp) = host.settings.os.as_ref().and_then(|o| o.hugepages.as_ref()) else {
        return out;
    };
    let key_of = |size: &str, node: Option<u32>| match node {
        Some(n) => format!("pages.{size}.node{n}"),
        None => format!("pages.{size}"),
    };
    let mut tmpfiles = Vec::new();
    // Gigantic sizes: size in kB -> (label, global count, per-node counts).
    type Pools = (String, Option<u64>, BTreeMap<u32, u64>);
    let mut boot: BTreeMap<u64, Pools> = BTreeMap::new();
    for p in &hp.pages {
        let Some(kb) = page_size_kb(&p.size) else {
            continue;
        };
        if kb >= GIGANTIC_KB {
            let e = boot
                .entry(kb)
                .or_insert_with(|| (p.size.clone(), None, BTreeMap::new()));
            match p.node {
                Some(n) => {
                    e.2.insert(n, p.count);
                }
                None => e.1 = Some(p.count),
            }
            continue;
        }
        let path = match p.node {
            Some(n) => {
                format!("/sys/devices/system/node/node{n}/hugepages/hugepages-{kb}kB/nr_hugepages")
            }
            None => format!("/sys/kernel/mm/hugepages/hugepages-{kb}kB/nr_hugepages"),
        };
        tmpfiles.push(format!("w {path} - - - - {}", p.count));
        if changed.contains(&key_of(&p.size, p.node).as_str()) {
            out.runtime.push(HugepageTarget {
                size_kb: kb,
                node: p.node,
                pages: p.count,
            });
        }
    }
    if !tmpfiles.is_empty() {
        out.tmpfiles = Some(file(
            HUGEPAGES_TMPFILES,
            "0644",
            "os.hugepages (pools below 1G)",
            &tmpfiles,
        ));
    }
    if changed.iter().any(|k| hugepage_key_needs_reboot(k)) {
        if let Some(d) = &hp.default_size {
            out.boot_args.push(format!("default_hugepagesz={d}"));
        }
        for (label, global, nodes) in boot.values() {
            out.boot_args.push(format!("hugepagesz={label}"));
            if nodes.is_empty() {
                out.boot_args
                    .push(format!("hugepages={}", global.unwrap_or_default()));
            } else {
                let per: Vec<String> = nodes.iter().map(|(n, c)| format!("{n}:{c}")).collect();
                out.boot_args.push(format!("hugepages={}", per.join(",")));
            }
        }
    }
    out
}

/// Quotes `s` for the inside of a double-quoted shell string (`\`, `"`, `$`, `` ` ``).
fn dquote_inner(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A grub.d file appending `args` to `GRUB_CMDLINE_LINUX_DEFAULT` (`what` names the spec
/// field in the file's comment).
pub fn grub_d_file(path: &str, what: &str, args: &[String]) -> FileWrite {
    let quoted: Vec<String> = args.iter().map(|a| dquote_inner(a)).collect();
    let line = format!(
        "GRUB_CMDLINE_LINUX_DEFAULT=\"${{GRUB_CMDLINE_LINUX_DEFAULT}} {}\"",
        quoted.join(" ")
    );
    file(path, "0644", what, &[line])
}

/// The `ip link set dev PF vf ID ...` arguments (after `ip`) for one VF of nmstate's
/// `sr-iov.vfs` (`{"id": 0, "mac-address": "...", "vlan-id": 100, "trust": true}`); `None`
/// when the VF sets nothing `ip` writes.
pub fn vf_ip_args(pf: &str, vf: &Value) -> Option<Vec<String>> {
    let id = vf.get("id")?.as_u64()?;
    let mut args: Vec<String> = vec![
        "link".into(),
        "set".into(),
        "dev".into(),
        pf.into(),
        "vf".into(),
        id.to_string(),
    ];
    let n = args.len();
    let onoff = |b: bool| if b { "on" } else { "off" }.to_string();
    if let Some(mac) = vf.get("mac-address").and_then(Value::as_str) {
        args.extend(["mac".into(), mac.to_string()]);
    }
    if let Some(vlan) = vf.get("vlan-id").and_then(Value::as_u64) {
        args.extend(["vlan".into(), vlan.to_string()]);
        if let Some(q) = vf.get("qos").and_then(Value::as_u64) {
            args.extend(["qos".into(), q.to_string()]);
        }
    }
    if let Some(b) = vf.get("spoof-check").and_then(Value::as_bool) {
        args.extend(["spoofchk".into(), onoff(b)]);
    }
    if let Some(b) = vf.get("trust").and_then(Value::as_bool) {
        args.extend(["trust".into(), onoff(b)]);
    }
    if let Some(r) = vf.get("min-tx-rate").and_then(Value::as_u64) {
        args.extend(["min_tx_rate".into(), r.to_string()]);
    }
    if let Some(r) = vf.get("max-tx-rate").and_then(Value::as_u64) {
        args.extend(["max_tx_rate".into(), r.to_string()]);
    }
    (args.len() > n).then_some(args)
}

/// The oneshot unit that sets `pf`'s VF count (0, then `num_vfs`) and VF settings on every
/// boot, before the network is configured (`network-pre.target`).
pub fn sriov_unit(pf: &str, num_vfs: u64, vfs: &Value) -> FileWrite {
    let dev = format!("/sys/class/net/{pf}/device/sriov_numvfs");
    let mut lines = vec![
        "[Unit]".to_string(),
        format!("Description=bmfleet: SR-IOV VFs of {pf}"),
        format!("After=sys-subsystem-net-devices-{pf}.device"),
        format!("BindsTo=sys-subsystem-net-devices-{pf}.device"),
        "Before=network-pre.target".to_string(),
        "Wants=network-pre.target".to_string(),
        String::new(),
        "[Service]".to_string(),
        "Type=oneshot".to_string(),
        "RemainAfterExit=yes".to_string(),
        format!("ExecStart=/bin/sh -c 'echo 0 > {dev} && echo {num_vfs} > {dev}'"),
    ];
    for vf in vfs.as_array().into_iter().flatten() {
        if let Some(args) = vf_ip_args(pf, vf) {
            lines.push(format!("ExecStart=ip {}", args.join(" ")));
        }
    }
    lines.extend([
        String::new(),
        "[Install]".to_string(),
        format!("WantedBy=sys-subsystem-net-devices-{pf}.device"),
    ]);
    file(
        &sriov_unit_path(pf),
        "0644",
        &format!("network.interfaces[{pf}].ethernet.sr-iov"),
        &lines,
    )
}

/// The unit that binds the spec's devices and VFs to vfio-pci on every boot.
pub const VFIO_UNIT: &str = "/etc/systemd/system/bmfleet-vfio.service";

/// VF ids as the spec writes them (`0-3,8`, `3`) in ascending order without duplicates;
/// `None` for anything else (or more than 4096 ids).
pub fn parse_id_ranges(s: &str) -> Option<Vec<u32>> {
    let mut ids = std::collections::BTreeSet::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let n = part.parse::<u32>().ok()?;
                (n, n)
            }
        };
        if a > b || b - a > 4096 {
            return None;
        }
        ids.extend(a..=b);
        if ids.len() > 4096 {
            return None;
        }
    }
    (!ids.is_empty()).then(|| ids.into_iter().collect())
}

/// The oneshot unit that binds `host`'s `os.vfio` devices and VFs to vfio-pci on every
/// boot (after the SR-IOV units made the VFs), through `driver_override` and
/// `drivers_probe` (kernel `Documentation/ABI/testing/sysfs-bus-pci`); `None` when the
/// spec binds nothing. VF PCI addresses are looked up at boot from `virtfn<N>`.
pub fn vfio_unit(host: &Host) -> Option<FileWrite> {
    let vfio = host.settings.os.as_ref()?.vfio.as_ref()?;
    let bind = "bind() { echo vfio-pci > /sys/bus/pci/devices/$1/driver_override;                 [ -e /sys/bus/pci/devices/$1/driver ] && echo $1 > /sys/bus/pci/devices/$1/driver/unbind;                 echo $1 > /sys/bus/pci/drivers_probe; }";
    let mut calls: Vec<String> = vfio.devices.iter().map(|d| format!("bind {d}")).collect();
    let mut after = Vec::new();
    for v in &vfio.vfs {
        let ids = parse_id_ranges(&v.ids)?;
        after.push(format!("bmfleet-sriov-{}.service", v.pf));
        let list: Vec<String> = ids.iter().map(u32::to_string).collect();
        calls.push(format!(
            "for i in {}; do bind $(basename $(readlink /sys/class/net/{}/device/virtfn$i)); done",
            list.join(" "),
            v.pf
        ));
    }
    if calls.is_empty() {
        return None;
    }
    let mut lines = vec![
        "[Unit]".to_string(),
        "Description=bmfleet: bind devices and VFs to vfio-pci".to_string(),
    ];
    if !after.is_empty() {
        lines.push(format!("After={}", after.join(" ")));
    }
    lines.extend([
        String::new(),
        "[Service]".to_string(),
        "Type=oneshot".to_string(),
        "RemainAfterExit=yes".to_string(),
        "ExecStartPre=-modprobe vfio-pci".to_string(),
        format!("ExecStart=/bin/sh -c '{bind}; {}'", calls.join("; ")),
        String::new(),
        "[Install]".to_string(),
        "WantedBy=multi-user.target".to_string(),
    ]);
    Some(file(VFIO_UNIT, "0644", "os.vfio", &lines))
}

/// The NoCloud instance id bmfleet writes when the spec has no `meta-data`:
/// `iid-bmfleet-<host>-<first 12 hex of SHA-256 over the documents' digests>`.
pub fn instance_id(host: &str, digests: &[&str]) -> String {
    let joined = digests.join("\n");
    let sha = super::value::sha256_hex(joined.as_bytes());
    format!("iid-bmfleet-{host}-{}", sha.get(..12).unwrap_or(&sha))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_and_reboot_keys() {
        assert_eq!(page_size_kb("2M"), Some(2048));
        assert_eq!(page_size_kb("1G"), Some(1_048_576));
        assert_eq!(page_size_kb("64k"), Some(64));
        assert_eq!(page_size_kb("x"), None);
        assert!(!hugepage_key_needs_reboot("pages.2M"));
        assert!(!hugepage_key_needs_reboot("pages.2M.node1"));
        assert!(hugepage_key_needs_reboot("pages.1G.node0"));
        assert!(hugepage_key_needs_reboot("defaultSize"));
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward"),
            "/proc/sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            sysctl_path("net/ipv4/conf/eth0.100/rp_filter"),
            "/proc/sys/net/ipv4/conf/eth0.100/rp_filter"
        );
    }

    #[test]
    fn vf_args_and_unit() {
        let vf =
            json!({"id": 2, "mac-address": "02:00:00:00:00:02", "vlan-id": 100, "trust": true});
        assert_eq!(
            vf_ip_args("enp1s0", &vf).unwrap().join(" "),
            "link set dev enp1s0 vf 2 mac 02:00:00:00:00:02 vlan 100 trust on"
        );
        assert_eq!(vf_ip_args("enp1s0", &json!({"id": 1})), None);
        let unit = sriov_unit("enp1s0", 4, &json!([vf]));
        assert!(
            unit.content
                .contains("echo 0 > /sys/class/net/enp1s0/device/sriov_numvfs && echo 4 >"),
            "{}",
            unit.content
        );
        assert!(
            unit.content
                .contains("ExecStart=ip link set dev enp1s0 vf 2 mac")
        );
        assert_eq!(
            unit.path,
            "/etc/systemd/system/bmfleet-sriov-enp1s0.service"
        );
    }

    #[test]
    fn grub_d_quotes_for_the_shell() {
        let f = grub_d_file(
            KERNEL_ARGS_FILE,
            "os.kernelArgs",
            &["iommu=pt".into(), "dyndbg=\"file a.c +p\"".into()],
        );
        assert!(f.content.ends_with("GRUB_CMDLINE_LINUX_DEFAULT=\"${GRUB_CMDLINE_LINUX_DEFAULT} iommu=pt dyndbg=\\\"file a.c +p\\\"\"\n"), "{}", f.content);
        assert!(tmpfiles_arg("50%").contains("%%"));
    }
}
