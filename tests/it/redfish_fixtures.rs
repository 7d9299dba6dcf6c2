//! Parses every Redfish fixture under `tests/fixtures/redfish/` (real captures from Dell
//! iDRAC9, Lenovo XCC, NVIDIA BlueField-3, plus DMTF mockups and OpenStack sushy samples; see
//! PROVENANCE.md there) with `bmfleet::redfish::model`, and checks real values.
//!
//! The test fails if the directory is missing or holds fewer than 70 JSON files, so it can
//! never pass by parsing nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bmfleet::redfish::model::{
    self, AttributeRegistry, Bios, Collection, ComputerSystem, DellJob, EthernetInterface, Job,
    Manager, NetworkAdapter, NetworkDeviceFunction, NvidiaComputerSystem, NvidiaManager,
    RedfishErrorBody, Resource, ResourceKind, Task, VirtualMedia,
};
use bmfleet::redfish::{DpuMode, ErrorDetails};
use serde_json::{Value, json};

const MIN_FIXTURES: usize = 70;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redfish")
}

fn collect_json(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read fixture dir {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_json(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// All fixtures as (relative path, parsed JSON), sorted.
fn all_fixtures() -> Vec<(String, Value)> {
    let dir = fixtures_dir();
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing; it is part of the repository (see tests/fixtures/redfish/PROVENANCE.md)",
        dir.display()
    );
    let mut files = Vec::new();
    collect_json(&dir, &mut files);
    files.sort();
    assert!(
        files.len() >= MIN_FIXTURES,
        "expected at least {MIN_FIXTURES} JSON fixtures under {}, found {}",
        dir.display(),
        files.len()
    );
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: invalid JSON: {e}"));
            (rel, value)
        })
        .collect()
}

fn load(rel: &str) -> Value {
    let p = fixtures_dir().join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{rel}: {e}")))
        .unwrap()
}

fn parse<T: serde::de::DeserializeOwned>(rel: &str) -> T {
    serde_json::from_value(load(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The kind the file name announces (our naming convention in the fixture dir).
fn kind_from_file_name(rel: &str) -> ResourceKind {
    let name = rel.rsplit('/').next().unwrap();
    let stem = name.trim_end_matches(".json");
    let prefix = stem.split('-').next().unwrap();
    match prefix {
        "ComputerSystem" | "ComputerSystemPending" | "ComputerSystemSettings" => {
            ResourceKind::ComputerSystem
        }
        "ComputerSystemOemNvidia" => ResourceKind::NvidiaComputerSystem,
        "ManagerOemNvidia" => ResourceKind::NvidiaManager,
        "Bios" | "BiosSettings" | "BiosPending" => ResourceKind::Bios,
        "BiosAttributeRegistry" => ResourceKind::AttributeRegistry,
        "Manager" => ResourceKind::Manager,
        "EthernetInterface" => ResourceKind::EthernetInterface,
        "VirtualMedia" => ResourceKind::VirtualMedia,
        "NetworkAdapter" => ResourceKind::NetworkAdapter,
        "NetworkDeviceFunction" | "NetworkDeviceFunctionSettings" => {
            ResourceKind::NetworkDeviceFunction
        }
        "Task" => ResourceKind::Task,
        "TaskCollection" => ResourceKind::Collection,
        "Job" => ResourceKind::Job,
        "Error" => ResourceKind::Error,
        other => panic!("{rel}: no kind for file prefix {other}"),
    }
}

#[test]
fn every_fixture_parses_into_its_typed_model() {
    let fixtures = all_fixtures();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (rel, value) in &fixtures {
        let expected = kind_from_file_name(rel);
        let resource = match value.get("@odata.type") {
            Some(_) => model::parse_resource(value)
                .unwrap_or_else(|e| panic!("{rel}: parse_resource failed: {e}")),
            // No @odata.type: error bodies are recognised by parse_resource; bare OEM
            // resources need the kind from the file name.
            None if expected == ResourceKind::Error => model::parse_resource(value)
                .unwrap_or_else(|e| panic!("{rel}: parse_resource failed: {e}")),
            None => model::parse_as(expected, value)
                .unwrap_or_else(|e| panic!("{rel}: parse_as({expected:?}) failed: {e}")),
        };
        assert_eq!(
            resource.kind(),
            expected,
            "{rel}: @odata.type and file name disagree"
        );
        // Every typed resource keeps its identity: @odata.id where the payload has one.
        if let Some(id) = value.get("@odata.id").and_then(Value::as_str) {
            let kept = match &resource {
                Resource::ComputerSystem(s) => s.odata_id.as_deref(),
                Resource::Bios(b) => b.odata_id.as_deref(),
                Resource::AttributeRegistry(r) => r.odata_id.as_deref(),
                Resource::Manager(m) => m.odata_id.as_deref(),
                Resource::EthernetInterface(e) => e.odata_id.as_deref(),
                Resource::VirtualMedia(v) => v.odata_id.as_deref(),
                Resource::NetworkAdapter(n) => n.odata_id.as_deref(),
                Resource::NetworkDeviceFunction(n) => n.odata_id.as_deref(),
                Resource::Task(t) => t.odata_id.as_deref(),
                Resource::Job(j) => j.odata_id.as_deref(),
                Resource::NvidiaComputerSystem(n) => n.odata_id.as_deref(),
                Resource::Collection(c) => c.odata_id.as_deref(),
                other => panic!("{rel}: unexpected {:?} with @odata.id", other.kind()),
            };
            assert_eq!(kept, Some(id), "{rel}: @odata.id lost");
        }
        *kinds.entry(format!("{expected:?}")).or_default() += 1;
    }
    assert_eq!(fixtures.len(), kinds.values().sum::<usize>());
    // The corpus covers every kind the client reads.
    for k in [
        "ComputerSystem",
        "Bios",
        "AttributeRegistry",
        "Manager",
        "EthernetInterface",
        "VirtualMedia",
        "NetworkAdapter",
        "NetworkDeviceFunction",
        "Task",
        "Job",
        "Error",
        "NvidiaComputerSystem",
        "NvidiaManager",
        "Collection",
    ] {
        assert!(
            kinds.get(k).copied().unwrap_or(0) >= 1,
            "no fixture of kind {k}: {kinds:?}"
        );
    }
    assert_eq!(kinds["Error"], 8, "{kinds:?}");
    assert_eq!(kinds["ComputerSystem"], 7, "{kinds:?}");
}

#[test]
fn computer_systems() {
    let dell: ComputerSystem = parse("dell-idrac/ComputerSystem-System.Embedded.1.json");
    assert_eq!(dell.power_state.as_deref(), Some("On"));
    assert_eq!(dell.id.as_deref(), Some("System.Embedded.1"));
    assert_eq!(dell.model.as_deref(), Some("PowerEdge R750"));
    let boot = dell.boot.as_ref().unwrap();
    assert_eq!(
        boot.boot_source_override_enabled.as_deref(),
        Some("Disabled")
    );
    assert_eq!(boot.boot_source_override_target.as_deref(), Some("None"));
    assert_eq!(boot.boot_source_override_mode.as_deref(), Some("UEFI"));
    assert!(
        boot.boot_source_override_target_allowable
            .contains(&"UefiHttp".to_string())
    );
    assert_eq!(
        boot.uefi_target_boot_source_override, None,
        "null stays None"
    );
    assert_eq!(
        dell.bios_path(),
        Some("/redfish/v1/Systems/System.Embedded.1/Bios")
    );
    assert!(dell.inline_bios().is_none(), "a link is not an inline Bios");
    let reset = dell.reset_action().unwrap();
    assert_eq!(
        reset.target.as_deref(),
        Some("/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset")
    );
    assert!(
        reset
            .allowable_values("ResetType")
            .contains(&"GracefulRestart".to_string())
    );

    let lenovo: ComputerSystem = parse("lenovo-xcc/ComputerSystem-1.json");
    assert_eq!(
        lenovo.odata_etag.as_deref(),
        Some("\"387fcecc167782f0b7edb1\"")
    );
    assert_eq!(
        lenovo
            .boot
            .as_ref()
            .unwrap()
            .boot_source_override_enabled_allowable,
        vec!["Once", "Disabled"]
    );
    // Lenovo's system settings object is named Pending.
    let settings = lenovo.redfish_settings.as_ref().unwrap();
    assert_eq!(
        settings.settings_object.as_ref().unwrap().path(),
        Some("/redfish/v1/Systems/1/Pending")
    );
    // Lenovo keeps its vendor actions under Actions.Oem; the standard one is top-level.
    let actions = lenovo.actions.as_ref().unwrap();
    assert!(actions.get("#LenovoComputerSystem.SystemReset").is_some());
    assert_eq!(
        lenovo
            .reset_action()
            .unwrap()
            .allowable_values("ResetType")
            .len(),
        7
    );
    let pending: ComputerSystem = parse("lenovo-xcc/ComputerSystemPending-1.json");
    assert_eq!(
        pending.boot.unwrap().boot_order,
        vec!["Boot0003", "Boot0002"]
    );

    let bf: ComputerSystem = parse("nvidia-bluefield3/ComputerSystem-Bluefield.json");
    assert_eq!(
        bf.oem_nvidia()
            .and_then(|o| o.get("@odata.id"))
            .and_then(Value::as_str),
        Some("/redfish/v1/Systems/Bluefield/Oem/Nvidia")
    );
    assert_eq!(
        bf.reset_action().unwrap().action_info.as_deref(),
        Some("/redfish/v1/Systems/Bluefield/ResetActionInfo")
    );
    let smartnic: ComputerSystem = parse("dmtf-mockups/ComputerSystem-SmartNIC-Card1-SoC.json");
    assert_eq!(smartnic.system_type.as_deref(), Some("DPU"));
}

#[test]
fn bluefield_oem_nvidia_mode() {
    let nv: NvidiaComputerSystem =
        parse("nvidia-bluefield3/ComputerSystemOemNvidia-Bluefield.json");
    assert_eq!(nv.mode.as_deref(), Some("DpuMode"));
    assert_eq!(
        DpuMode::parse(nv.mode.as_deref().unwrap()),
        Some(DpuMode::Dpu)
    );
    assert_eq!(nv.base_mac.as_deref(), Some("5c257308f352"));
    let set = nv.mode_set_action().unwrap();
    assert_eq!(
        set.target.as_deref(),
        Some("/redfish/v1/Systems/Bluefield/Oem/Nvidia/Actions/Mode.Set")
    );
    assert_eq!(set.allowable_values("Mode"), vec!["NicMode", "DpuMode"]);
    // BlueField-2 style: the NicMode BIOS attribute.
    let bios: Bios = parse("nvidia-bluefield3/Bios-Bluefield.json");
    assert_eq!(bios.attributes["NicMode"], json!("DpuMode"));
    // Derived (PROVENANCE.md): a BMC reporting an empty Mode. It parses, but is no mode;
    // the client falls back to NicMode (tests/it/redfish_client.rs, bluefield_fixtures).
    let empty: NvidiaComputerSystem =
        parse("nvidia-bluefield3/ComputerSystemOemNvidia-Bluefield-derived-empty-Mode.json");
    assert_eq!(empty.mode.as_deref(), Some(""));
    assert_eq!(DpuMode::parse(""), None);
    assert_eq!(DpuMode::parse("  "), None);
    assert_eq!(
        empty
            .mode_set_action()
            .unwrap()
            .allowable_values("Mode")
            .len(),
        2
    );
    let mgr: NvidiaManager = serde_json::from_value(load(
        "nvidia-bluefield3/ManagerOemNvidia-Bluefield_BMC.json",
    ))
    .unwrap();
    assert_eq!(mgr.bmc_rshim.unwrap().enabled, Some(true));
}

#[test]
fn bios_pending_values_by_vendor() {
    // DMTF: the settings object lists values, four of which differ from current.
    let cur: Bios = parse("dmtf-mockups/Bios-437XR1138R2.json");
    let set: Bios = parse("dmtf-mockups/BiosSettings-437XR1138R2.json");
    let pending = model::pending_attributes(&cur.attributes, &set.attributes);
    assert_eq!(
        pending,
        BTreeMap::from([
            ("AdminPhone".to_string(), json!("(404) 555-1212")),
            ("EmbeddedSata".to_string(), json!("Ahci")),
            ("NicBoot2".to_string(), json!("NetworkBoot")),
            ("ProcTurboMode".to_string(), json!("Disabled")),
        ])
    );
    let rs = cur.redfish_settings.as_ref().unwrap();
    assert_eq!(rs.etag.as_deref(), Some("9234ac83b9700123cc32"));
    assert_eq!(
        rs.messages[0].message_id.as_deref(),
        Some("Base.1.0.SettingsFailed")
    );
    assert_eq!(
        rs.messages[0].related_properties,
        vec!["/Attributes/ProcTurboMode"]
    );
    assert_eq!(cur.reset_bios_to_defaults_pending, Some(true));

    // Dell: settings object empty -> nothing pending; apply times listed.
    let cur: Bios = parse("dell-idrac/Bios-System.Embedded.1.json");
    let set: Bios = parse("dell-idrac/BiosSettings-System.Embedded.1.json");
    assert_eq!(cur.attributes.len(), 455);
    assert_eq!(cur.attributes["SriovGlobalEnable"], json!("Enabled"));
    assert!(set.attributes.is_empty());
    assert!(model::pending_attributes(&cur.attributes, &set.attributes).is_empty());
    let rs = cur.redfish_settings.unwrap();
    assert_eq!(
        rs.settings_object.unwrap().path(),
        Some("/redfish/v1/Systems/System.Embedded.1/Bios/Settings")
    );
    assert_eq!(
        rs.supported_apply_times,
        vec![
            "OnReset",
            "AtMaintenanceWindowStart",
            "InMaintenanceWindowOnReset"
        ]
    );

    // Lenovo: the Pending object repeats every attribute; comparing finds nothing pending.
    let cur: Bios = parse("lenovo-xcc/Bios-1.json");
    let set: Bios = parse("lenovo-xcc/BiosPending-1.json");
    assert_eq!(set.attributes.len(), 348);
    assert_eq!(cur.attributes.len(), 348);
    assert!(model::pending_attributes(&cur.attributes, &set.attributes).is_empty());
    assert_eq!(
        set.odata_etag.as_deref(),
        Some("\"8bcc5687155e22f05defb6\"")
    );
    assert_eq!(
        cur.redfish_settings
            .unwrap()
            .settings_object
            .unwrap()
            .path(),
        Some("/redfish/v1/Systems/1/Bios/Pending")
    );

    // BlueField: empty settings object.
    let cur: Bios = parse("nvidia-bluefield3/Bios-Bluefield.json");
    let set: Bios = parse("nvidia-bluefield3/BiosSettings-Bluefield.json");
    assert!(model::pending_attributes(&cur.attributes, &set.attributes).is_empty());

    // sushy sample: the settings object carries its apply time.
    let set: Bios = parse("openstack-sushy/BiosSettings-with-SettingsApplyTime.json");
    let at = set.settings_apply_time.unwrap();
    assert_eq!(at.apply_time.as_deref(), Some("OnReset"));
    assert_eq!(at.apply_time_allowable.len(), 4);
    assert_eq!(at.maintenance_window_duration_in_seconds, Some(600));
    assert_eq!(set.attributes["ProcCoreDisable"], json!(0));

    // AMI/ZT: body ETag, 373 attributes with booleans and strings.
    let zt: Bios = parse("openstack-sushy/Bios-ZT-Systems-AMI.json");
    assert_eq!(zt.odata_etag.as_deref(), Some("\"1676250921\""));
    assert_eq!(zt.attributes.len(), 373);
    assert_eq!(zt.attributes["ACPI002"], json!(false));
}

#[test]
fn attribute_registries() {
    let bf: AttributeRegistry = parse("nvidia-bluefield3/BiosAttributeRegistry-Bluefield.json");
    let ce = bf.attribute("CeThreshold").unwrap();
    assert_eq!(ce.attr_type.as_deref(), Some("Integer"));
    assert_eq!(
        (ce.lower_bound, ce.upper_bound),
        (Some(0), Some(4_294_967_295))
    );
    assert_eq!(ce.scalar_increment, Some(1));
    assert_eq!(ce.read_only, Some(false));
    let smmu = bf.attribute("EnableSMMU").unwrap();
    assert_eq!(smmu.attr_type.as_deref(), Some("Boolean"));
    assert_eq!(smmu.current_value, Some(json!(true)));
    let spcr = bf.attribute("SPCR_UART").unwrap();
    assert_eq!(spcr.max_length, Some(40));

    let zt: AttributeRegistry = parse("openstack-sushy/BiosAttributeRegistry-ZT-Systems-AMI.json");
    let tcg = zt.attribute("TCG003").unwrap();
    assert_eq!(tcg.attr_type.as_deref(), Some("Enumeration"));
    assert_eq!(tcg.reset_required, Some(true));
    let values: Vec<_> = tcg
        .values
        .iter()
        .filter_map(|v| v.value_name.as_deref())
        .collect();
    assert_eq!(values, vec!["Disable", "Enable"]);
    assert_eq!(tcg.default_value, Some(json!("Enable")));
}

#[test]
fn network_adapters_and_device_functions_sriov() {
    let brcm: NetworkAdapter = parse("dell-idrac/NetworkAdapter-NIC.Integrated.1-Broadcom.json");
    let caps = brcm.controllers[0].controller_capabilities.clone().unwrap();
    let vo = caps.virtualization_offload.unwrap();
    let vf = vo.virtual_function.unwrap();
    assert_eq!(
        (
            vf.device_max_count,
            vf.min_assignment_group_size,
            vf.network_port_max_count
        ),
        (Some(128), Some(8), Some(64))
    );
    assert_eq!(vo.sriov.unwrap().sriov_vepa_capable, Some(true));
    assert_eq!(
        brcm.controllers[0]
            .links
            .as_ref()
            .unwrap()
            .network_device_functions
            .len(),
        2
    );

    let tower: NetworkAdapter = parse("dmtf-mockups/NetworkAdapter-Tower-NIC1.json");
    let vo = tower.controllers[0]
        .controller_capabilities
        .clone()
        .unwrap()
        .virtualization_offload
        .unwrap();
    assert_eq!(vo.virtual_function.unwrap().device_max_count, Some(256));
    assert_eq!(vo.sriov.unwrap().sriov_enabled, Some(true));

    let bf3: NetworkAdapter =
        parse("dell-idrac/NetworkAdapter-NIC.Slot.2-BlueField3-multi-dpu.json");
    let vo = bf3.controllers[0]
        .controller_capabilities
        .clone()
        .unwrap()
        .virtualization_offload
        .unwrap();
    assert_eq!(
        vo.sriov.unwrap().sriov_vepa_capable,
        None,
        "null VEPA stays None"
    );
    assert_eq!(
        vo.virtual_function.unwrap().min_assignment_group_size,
        Some(16)
    );

    // Lenovo reports unknown counts as -1.
    let bf2: NetworkAdapter = parse("lenovo-xcc/NetworkAdapter-slot-15-BlueField2.json");
    let caps = bf2.controllers[0].controller_capabilities.clone().unwrap();
    assert_eq!(caps.network_port_count, Some(-1));
    assert_eq!(
        bf2.model.as_deref(),
        Some("BlueField-2 DPU 100GbE Dual-Port")
    );

    let f: NetworkDeviceFunction =
        parse("dell-idrac/NetworkDeviceFunction-NIC.Slot.5-1-BlueField2.json");
    assert_eq!(f.max_virtual_functions, Some(127));
    assert_eq!(f.virtual_functions_enabled, None);
    assert_eq!(f.net_dev_func_type.as_deref(), Some("Disabled"));
    let f: NetworkDeviceFunction =
        parse("dell-idrac/NetworkDeviceFunction-NIC.Integrated.1-1-1-Broadcom.json");
    assert_eq!(f.max_virtual_functions, Some(64));
    assert_eq!(
        f.ethernet.unwrap().mac_address.as_deref(),
        Some("E4:3D:1A:13:27:F0")
    );
    let f: NetworkDeviceFunction = parse("dmtf-mockups/NetworkDeviceFunction-Tower-NIC1-1.json");
    assert_eq!(f.max_virtual_functions, Some(16));
    assert_eq!(f.virtual_functions_enabled, Some(false));
    let f: NetworkDeviceFunction =
        parse("openstack-sushy/NetworkDeviceFunction-NIC.Integrated.1-2-1.json");
    let vlan = f.ethernet.unwrap().vlan.unwrap();
    assert_eq!((vlan.vlan_enable, vlan.vlan_id), (Some(true), Some(1)));
    assert_eq!(f.redfish_settings.unwrap().supported_apply_times.len(), 3);
    let f: NetworkDeviceFunction =
        parse("nvidia-bluefield3/NetworkDeviceFunction-Card1-eth0f0.json");
    assert_eq!(
        f.links.unwrap().offload_system.unwrap().path(),
        Some("/redfish/v1/Systems/Bluefield")
    );
}

#[test]
fn ethernet_interfaces_virtual_media_managers() {
    let vlan: EthernetInterface = parse("dmtf-mockups/EthernetInterface-System-VLAN1.json");
    let v = vlan.vlan.unwrap();
    assert_eq!((v.vlan_enable, v.vlan_id), (Some(true), Some(1000)));
    assert_eq!(vlan.ethernet_interface_type.as_deref(), Some("Virtual"));
    let bf: EthernetInterface = parse("nvidia-bluefield3/EthernetInterface-Manager-vlan4040.json");
    let v = bf.vlan.unwrap();
    assert_eq!((v.vlan_id, v.tagged), (Some(4040), Some(true)));
    assert_eq!(
        bf.ipv4_addresses[0].address.as_deref(),
        Some("192.168.240.1")
    );
    let idrac: EthernetInterface = parse("dell-idrac/EthernetInterface-Manager-NIC.1.json");
    assert_eq!(idrac.vlan.unwrap().vlan_enable, Some(false));
    assert_eq!(idrac.speed_mbps, Some(1000));
    assert_eq!(
        idrac.ipv4_addresses[0].address_origin.as_deref(),
        Some("DHCP")
    );

    let cd: VirtualMedia = parse("dmtf-mockups/VirtualMedia-System-CD1.json");
    assert_eq!(cd.inserted, Some(true));
    assert_eq!(
        cd.image.as_deref(),
        Some("redfish.dmtf.org/freeImages/freeOS.1.1.iso")
    );
    let dell: VirtualMedia = parse("dell-idrac/VirtualMedia-Manager-CD.json");
    assert_eq!(dell.inserted, Some(false));
    assert_eq!(dell.media_types, vec!["CD", "DVD"]);
    assert_eq!(dell.image, None);
    assert_eq!(
        dell.actions
            .unwrap()
            .get("#VirtualMedia.InsertMedia")
            .unwrap()
            .target
            .as_deref(),
        Some(
            "/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia"
        )
    );

    let m: Manager = parse("dell-idrac/Manager-iDRAC.Embedded.1.json");
    assert_eq!(m.firmware_version.as_deref(), Some("6.00.30.00"));
    assert!(m.actions.unwrap().get("#Manager.Reset").is_some());
    let m: Manager = parse("nvidia-bluefield3/Manager-Bluefield_BMC.json");
    assert_eq!(m.model.as_deref(), Some("OpenBmc"));
    assert_eq!(m.status.unwrap().health_rollup.as_deref(), Some("OK"));
}

#[test]
fn tasks_and_jobs() {
    let t: Task = parse("dmtf-mockups/Task-545.json");
    assert_eq!(t.task_state.as_deref(), Some("Completed"));
    assert_eq!(
        t.start_time.as_deref(),
        Some("2012-03-07T14:44+06:00"),
        "odd dates kept"
    );
    assert_eq!(
        t.messages[0].message_id.as_deref(),
        Some("Base.1.0.PropertyNotWritable")
    );
    let t: Task = parse("dmtf-mockups/Task-687-Cancelled.json");
    assert_eq!(t.task_state.as_deref(), Some("Cancelled"));
    assert_eq!(t.task_status.as_deref(), Some("Warning"));
    let t: Task = parse("openstack-sushy/Task-546-Pending.json");
    assert_eq!(
        (t.task_state.as_deref(), t.percent_complete),
        (Some("Pending"), Some(55))
    );
    assert_eq!(t.task_monitor.as_deref(), Some("/taskmon/546"));
    let t: Task = parse("dell-idrac-sushy-oem/Task-JID_257309938313.json");
    let job: DellJob = t.dell_job().unwrap();
    assert_eq!(job.job_state.as_deref(), Some("Scheduled"));
    assert_eq!(job.job_type.as_deref(), Some("RAIDConfiguration"));
    assert_eq!(job.end_time.as_deref(), Some("TIME_NA"));
    assert_eq!(
        t.messages[0].message_id.as_deref(),
        Some("IDRAC.2.5.JCP001")
    );

    let j: Job = parse("dell-idrac/Job-JID_102241909559.json");
    assert_eq!(
        (j.job_state.as_deref(), j.percent_complete),
        (Some("Completed"), Some(100))
    );
    assert_eq!(j.messages[0].message_id.as_deref(), Some("IDRAC.2.7.PR19"));
    let j: Job = parse("lenovo-xcc/Job-Restart.json");
    assert_eq!(
        (j.job_state.as_deref(), j.percent_complete),
        (Some("Suspended"), None)
    );

    let c: Collection = parse("nvidia-bluefield3/TaskCollection.json");
    assert_eq!(c.member_ids(), vec!["/redfish/v1/TaskService/Tasks/0"]);
    assert_eq!(c.count, Some(1));
}

#[test]
fn error_bodies_extended_info_array_or_object() {
    let ids = |rel: &str| -> Vec<String> {
        let body: RedfishErrorBody = parse(rel);
        body.error
            .extended_info
            .iter()
            .filter_map(|m| m.message_id.clone())
            .collect()
    };
    // Conformant array with three messages.
    assert_eq!(
        ids("openstack-sushy/Error-GeneralError-two-messages.json"),
        vec![
            "Base.1.0.PropertyValueNotInList",
            "Base.1.0.PropertyNotWriteable",
            "Base.1.0.MalformedJSON"
        ]
    );
    // Non-conformant: a single object instead of an array.
    assert_eq!(
        ids("openstack-sushy/Error-ExtendedInfo-as-object.json"),
        vec!["Base.1.5.GeneralError"]
    );
    // iDRAC: MessageArgs is the string "[]".
    let lc068: RedfishErrorBody = parse("dell-idrac-sushy-oem/Error-LC068-pending-job.json");
    assert_eq!(lc068.error.code.as_deref(), Some("IDRAC.2.8.LC068"));
    assert!(lc068.error.extended_info[0].message_args.is_empty());
    assert_eq!(
        ids("dell-idrac-sushy-oem/Error-RAC0679-running-job.json"),
        vec!["IDRAC.2.8.RAC0679"]
    );
    assert_eq!(
        ids("dell-idrac/Error-SYS403-ResourceNotFound.json"),
        vec!["IDRAC.2.7.SYS403", "Base.1.12.ResourceMissingAtURI"]
    );
    let bf: RedfishErrorBody = parse("nvidia-bluefield3/Error-ResourceNotFound-Manager-oob0.json");
    let m = &bf.error.extended_info[0];
    assert_eq!(m.severity(), Some("Critical"));
    assert_eq!(m.message_args, vec!["EthernetInterface", "oob0"]);
    // bmcweb repeats its only message at the top level; the summary prints it once.
    for rel in [
        "nvidia-bluefield3/Error-ResourceNotFound-Manager-oob0.json",
        "nvidia-bluefield3/Error-InsufficientPrivilege-derived-403.json",
    ] {
        let raw = std::fs::read(fixtures_dir().join(rel)).unwrap();
        let d = ErrorDetails::from_body(&raw);
        let text = d.to_string();
        let message = d.extended_info[0].message.clone().unwrap();
        assert_eq!(text.matches(&message).count(), 1, "{rel}: {text}");
        assert_eq!(d.message_ids().len(), 2, "ids are still all reported");
    }
    assert_eq!(
        ids("nvidia-bluefield3/Error-InsufficientPrivilege-derived-403.json"),
        vec!["Base.1.18.1.InsufficientPrivilege"]
    );
    assert_eq!(
        ids("openstack-sushy/Error-ActionParameterMissing-VirtualMedia.json"),
        vec![
            "Base.1.12.ActionParameterMissing",
            "Base.1.12.ActionParameterMissing"
        ]
    );

    // The client's error summary yields the MessageIds for both shapes.
    let all: BTreeSet<String> = [
        "openstack-sushy/Error-GeneralError-two-messages.json",
        "openstack-sushy/Error-ExtendedInfo-as-object.json",
    ]
    .iter()
    .flat_map(|rel| {
        let raw = std::fs::read(fixtures_dir().join(rel)).unwrap();
        ErrorDetails::from_body(&raw)
            .message_ids()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    })
    .collect();
    for id in [
        "Base.1.0.GeneralError",
        "Base.1.0.PropertyValueNotInList",
        "Base.1.5.GeneralError",
    ] {
        assert!(all.contains(id), "{id} missing from {all:?}");
    }
    let d = ErrorDetails::from_body(
        &std::fs::read(fixtures_dir().join("openstack-sushy/Error-ExtendedInfo-as-object.json"))
            .unwrap(),
    );
    assert!(
        d.to_string()
            .contains("[Base.1.5.GeneralError] A general error has occurred"),
        "{d}"
    );
}
