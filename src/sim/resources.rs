//! Redfish resources of one simulated BMC, generated on demand from [`HostState`].
//!
//! Shapes follow the DMTF schemas (`ServiceRoot.v1_15_0`, `ComputerSystem.v1_16_0`,
//! `Bios.v1_2_0`, `Settings.v1_3_3`, `Manager.v1_12_0`, `SessionService.v1_1_8`,
//! `Session.v1_3_0`, `TaskService.v1_2_0`, `Task.v1_7_4`) and the vendor captures in
//! `shared/fixtures/redfish/` (iDRAC9, XCC, BlueField-3). Every `@odata.id` carries the
//! `/h/{host}/{bmc|dpu}` prefix.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::errors::Flavor;
use super::model::{DpuGeneration, DpuMode};
use super::state::{BmcKind, HostState};

/// One addressable resource of a BMC tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Res {
    /// `/redfish` (the version object).
    Version,
    Root,
    Systems,
    System,
    SystemReset,
    Bios,
    BiosSettings,
    /// BF3 only: `Systems/Bluefield/Oem/Nvidia`.
    NvidiaOem,
    /// BF3 only: `Systems/Bluefield/Oem/Nvidia/Actions/Mode.Set`.
    NvidiaModeSet,
    Managers,
    Manager,
    SessionService,
    Sessions,
    Session(u32),
    TaskService,
    Tasks,
    Task(u32),
}

impl Res {
    /// The `Allow` header value for this resource (DSP0266 "HTTP methods").
    pub fn allow(self, kind: BmcKind) -> &'static str {
        match self {
            Res::SystemReset | Res::NvidiaModeSet => "POST",
            Res::System if kind == BmcKind::Bmc => "GET, HEAD, PATCH",
            Res::BiosSettings => "GET, HEAD, PATCH",
            Res::Sessions => "GET, HEAD, POST",
            Res::Session(_) => "GET, HEAD, DELETE",
            _ => "GET, HEAD",
        }
    }
}

/// What a request is rendered against.
pub(crate) struct View<'a> {
    /// `/h/{host}/{bmc|dpu}/redfish/v1`.
    pub prefix: &'a str,
    pub kind: BmcKind,
    pub flavor: Flavor,
    pub now: Instant,
    pub weak_etags: bool,
}

impl View<'_> {
    fn link(&self, path: &str) -> Value {
        json!({ "@odata.id": format!("{}/{path}", self.prefix) })
    }

    fn id(&self, path: &str) -> String {
        if path.is_empty() {
            self.prefix.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// Whether the service root advertises `$expand` (and so accepts it).
    pub fn supports_expand(&self) -> bool {
        matches!(self.flavor, Flavor::Lenovo | Flavor::Generic)
    }

    /// Path segment of the BIOS settings object: `Pending` on XCC, `Settings` elsewhere.
    pub fn settings_segment(&self) -> &'static str {
        if self.flavor == Flavor::Lenovo {
            "Pending"
        } else {
            "Settings"
        }
    }

    /// Whether `@odata.etag` appears in bodies (iDRAC and bmcweb send only the header).
    fn etag_in_body(&self) -> bool {
        matches!(self.flavor, Flavor::Lenovo | Flavor::Generic)
    }
}

fn system_id(state: &HostState, kind: BmcKind) -> Option<&str> {
    match kind {
        BmcKind::Bmc => Some(state.config.system_id.as_str()),
        BmcKind::Dpu => state.config.dpu.as_ref().map(|d| d.system_id.as_str()),
    }
}

fn manager_id(state: &HostState, kind: BmcKind) -> &'static str {
    match kind {
        BmcKind::Bmc => state.config.vendor.manager_id(),
        BmcKind::Dpu => "Bluefield_BMC",
    }
}

fn is_bf3(state: &HostState) -> bool {
    state
        .config
        .dpu
        .as_ref()
        .is_some_and(|d| d.generation == DpuGeneration::Bf3)
}

/// Maps the path after `/h/{host}/{kind}/` to a resource. Trailing slashes are ignored.
pub(crate) fn parse(view: &View<'_>, state: &HostState, rest: &str) -> Option<Res> {
    let rest = rest.trim_end_matches('/');
    let mut segs = rest.split('/');
    if segs.next() != Some("redfish") {
        return None;
    }
    let Some(version) = segs.next() else {
        return Some(Res::Version);
    };
    if version != "v1" {
        return None;
    }
    let segs: Vec<&str> = segs.collect();
    let sid = system_id(state, view.kind)?;
    let mid = manager_id(state, view.kind);
    let bf3 = view.kind == BmcKind::Dpu && is_bf3(state);
    let res = match segs.as_slice() {
        [] => Res::Root,
        ["Systems"] => Res::Systems,
        ["Systems", s] if *s == sid => Res::System,
        ["Systems", s, "Actions", "ComputerSystem.Reset"] if *s == sid => Res::SystemReset,
        ["Systems", s, "Bios"] if *s == sid => Res::Bios,
        ["Systems", s, "Bios", set] if *s == sid && *set == view.settings_segment() => {
            Res::BiosSettings
        }
        ["Systems", s, "Oem", "Nvidia"] if *s == sid && bf3 => Res::NvidiaOem,
        ["Systems", s, "Oem", "Nvidia", "Actions", "Mode.Set"] if *s == sid && bf3 => {
            Res::NvidiaModeSet
        }
        ["Managers"] => Res::Managers,
        ["Managers", m] if *m == mid => Res::Manager,
        ["SessionService"] => Res::SessionService,
        ["SessionService", "Sessions"] => Res::Sessions,
        ["SessionService", "Sessions", id] => Res::Session(id.parse().ok()?),
        ["TaskService"] => Res::TaskService,
        ["TaskService", "Tasks"] => Res::Tasks,
        ["TaskService", "Tasks", id] => Res::Task(id.parse().ok()?),
        _ => return None,
    };
    Some(res)
}

/// Maps an `@odata.id` of this tree back to a resource (for `$expand`).
fn parse_link(view: &View<'_>, state: &HostState, odata_id: &str) -> Option<Res> {
    let rel = odata_id.strip_prefix(view.prefix)?;
    if !(rel.is_empty() || rel.starts_with('/')) {
        return None;
    }
    parse(view, state, &format!("redfish/v1{rel}"))
}

/// A deterministic RFC 4122-shaped UUID derived from `seed` (SHA-256, version 4 bits set).
fn uuid(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A serial number derived from `seed`: 7 upper-case alphanumerics (Dell service-tag shaped).
fn serial(seed: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXYZ";
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(7)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// Renders `res` (without `@odata.etag`), or `None` when it does not exist (unknown session or
/// task id, or a path that does not apply to this BMC).
pub(crate) fn render(view: &View<'_>, state: &HostState, res: Res) -> Option<Value> {
    let v = match res {
        Res::Version => json!({ "v1": format!("{}/", view.prefix) }),
        Res::Root => service_root(view, state),
        Res::Systems => collection(
            view,
            "Systems",
            "#ComputerSystemCollection.ComputerSystemCollection",
            "Computer System Collection",
            &[format!("Systems/{}", system_id(state, view.kind)?)],
        ),
        Res::System => match view.kind {
            BmcKind::Bmc => host_system(view, state),
            BmcKind::Dpu => dpu_system(view, state)?,
        },
        Res::Bios => bios(view, state)?,
        Res::BiosSettings => bios_settings(view, state)?,
        Res::NvidiaOem => nvidia_oem(view, state)?,
        Res::Managers => collection(
            view,
            "Managers",
            "#ManagerCollection.ManagerCollection",
            "Manager Collection",
            &[format!("Managers/{}", manager_id(state, view.kind))],
        ),
        Res::Manager => manager(view, state)?,
        Res::SessionService => json!({
            "@odata.id": view.id("SessionService"),
            "@odata.type": "#SessionService.v1_1_8.SessionService",
            "Id": "SessionService",
            "Name": "Session Service",
            "Description": "Session Service",
            "ServiceEnabled": true,
            "SessionTimeout": 1800,
            "Status": { "State": "Enabled", "Health": "OK" },
            "Sessions": view.link("SessionService/Sessions"),
        }),
        Res::Sessions => {
            let members: Vec<String> = state
                .runtime(view.kind)
                .sessions
                .iter()
                .map(|s| format!("SessionService/Sessions/{}", s.id))
                .collect();
            collection(
                view,
                "SessionService/Sessions",
                "#SessionCollection.SessionCollection",
                "Session Collection",
                &members,
            )
        }
        Res::Session(id) => {
            let s = state
                .runtime(view.kind)
                .sessions
                .iter()
                .find(|s| s.id == id)?;
            session(view, s.id, &s.user)
        }
        Res::TaskService => json!({
            "@odata.id": view.id("TaskService"),
            "@odata.type": "#TaskService.v1_2_0.TaskService",
            "Id": "TaskService",
            "Name": "Task Service",
            "ServiceEnabled": true,
            "CompletedTaskOverWritePolicy": "Oldest",
            "Status": { "State": "Enabled", "Health": "OK" },
            "Tasks": view.link("TaskService/Tasks"),
        }),
        Res::Tasks => {
            let members: Vec<String> = state
                .runtime(view.kind)
                .tasks
                .iter()
                .map(|t| format!("TaskService/Tasks/{}", t.id))
                .collect();
            collection(
                view,
                "TaskService/Tasks",
                "#TaskCollection.TaskCollection",
                "Task Collection",
                &members,
            )
        }
        Res::Task(id) => task(view, state, id)?,
        Res::SystemReset | Res::NvidiaModeSet => return None,
    };
    Some(v)
}

fn collection(view: &View<'_>, path: &str, ty: &str, name: &str, members: &[String]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| view.link(m)).collect();
    json!({
        "@odata.id": view.id(path),
        "@odata.type": ty,
        "Name": name,
        "Members": members,
        "Members@odata.count": members.len(),
    })
}

pub(crate) fn session(view: &View<'_>, id: u32, user: &str) -> Value {
    json!({
        "@odata.id": view.id(&format!("SessionService/Sessions/{id}")),
        "@odata.type": "#Session.v1_3_0.Session",
        "Id": id.to_string(),
        "Name": "User Session",
        "Description": "User Session",
        "UserName": user,
        "SessionType": "Redfish",
    })
}

fn service_root(view: &View<'_>, state: &HostState) -> Value {
    let (vendor, product, version) = match view.flavor {
        Flavor::Dell => ("Dell", "Integrated Dell Remote Access Controller", "1.17.0"),
        Flavor::Lenovo => ("Lenovo", "Lenovo XClarity Controller", "1.15.0"),
        Flavor::Generic => ("bmfleet", "bmfleet simulated BMC", "1.17.0"),
        Flavor::BlueField => ("NVIDIA", "BlueField BMC", "1.17.0"),
    };
    let mut features = json!({
        "ExcerptQuery": false,
        "FilterQuery": false,
        "OnlyMemberQuery": false,
        "SelectQuery": false,
    });
    if view.supports_expand()
        && let Some(obj) = features.as_object_mut()
    {
        obj.insert(
            "ExpandQuery".to_owned(),
            json!({
                "ExpandAll": true,
                "Levels": true,
                "Links": true,
                "MaxLevels": 1,
                "NoLinks": true,
            }),
        );
    }
    json!({
        "@odata.id": view.id(""),
        "@odata.type": "#ServiceRoot.v1_15_0.ServiceRoot",
        "Id": "RootService",
        "Name": "Root Service",
        "RedfishVersion": version,
        "UUID": uuid(&format!("{}/{}/service", state.config.name, view.kind.segment())),
        "Vendor": vendor,
        "Product": product,
        "ProtocolFeaturesSupported": features,
        "Systems": view.link("Systems"),
        "Managers": view.link("Managers"),
        "SessionService": view.link("SessionService"),
        "TaskService": view.link("TaskService"),
        "Links": { "Sessions": view.link("SessionService/Sessions") },
    })
}

/// `ResetType@Redfish.AllowableValues` of the host system, per vendor (from the fixtures;
/// XCC lists no `PowerCycle`).
pub(crate) fn reset_types(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Dell => &[
            "On",
            "ForceOff",
            "ForceRestart",
            "GracefulRestart",
            "GracefulShutdown",
            "PushPowerButton",
            "Nmi",
            "PowerCycle",
        ],
        Flavor::Lenovo => &[
            "On",
            "Nmi",
            "GracefulShutdown",
            "GracefulRestart",
            "ForceOn",
            "ForceOff",
            "ForceRestart",
        ],
        Flavor::Generic => &[
            "On",
            "ForceOff",
            "GracefulShutdown",
            "GracefulRestart",
            "ForceRestart",
            "Nmi",
            "ForceOn",
            "PushPowerButton",
            "PowerCycle",
        ],
        Flavor::BlueField => &["GracefulRestart", "ForceRestart"],
    }
}

/// `BootSourceOverrideTarget@Redfish.AllowableValues`, per vendor (from the fixtures).
pub(crate) fn boot_targets(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Dell => &[
            "None",
            "Pxe",
            "Floppy",
            "Cd",
            "Hdd",
            "BiosSetup",
            "Utilities",
            "UefiTarget",
            "SDCard",
            "UefiHttp",
        ],
        Flavor::Lenovo => &[
            "None",
            "Pxe",
            "Cd",
            "Usb",
            "Hdd",
            "BiosSetup",
            "Diags",
            "UefiTarget",
        ],
        Flavor::Generic | Flavor::BlueField => &[
            "None",
            "Pxe",
            "Cd",
            "Usb",
            "Hdd",
            "BiosSetup",
            "UefiTarget",
            "UefiHttp",
        ],
    }
}

/// `BootSourceOverrideEnabled` values, per vendor (XCC has no `Continuous`).
pub(crate) fn boot_enabled_values(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Lenovo => &["Once", "Disabled"],
        _ => &["Once", "Continuous", "Disabled"],
    }
}

/// `@Redfish.Settings.SupportedApplyTimes` of the BIOS, per vendor.
pub(crate) fn bios_apply_times(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::Dell => &[
            "OnReset",
            "AtMaintenanceWindowStart",
            "InMaintenanceWindowOnReset",
        ],
        Flavor::Lenovo | Flavor::BlueField => &["OnReset"],
        Flavor::Generic => &["OnReset", "Immediate"],
    }
}

fn host_system(view: &View<'_>, state: &HostState) -> Value {
    let c = &state.config;
    let sid = c.system_id.as_str();
    let (manufacturer, model, ty) = match view.flavor {
        Flavor::Dell => (
            "Dell Inc.",
            "PowerEdge R750",
            "#ComputerSystem.v1_16_0.ComputerSystem",
        ),
        Flavor::Lenovo => (
            "Lenovo",
            "ThinkSystem SR670 V2",
            "#ComputerSystem.v1_17_0.ComputerSystem",
        ),
        _ => (
            "Contoso",
            "3500RX",
            "#ComputerSystem.v1_16_0.ComputerSystem",
        ),
    };
    let mut boot = Map::new();
    boot.insert(
        "BootSourceOverrideEnabled".into(),
        json!(c.boot_override.enabled),
    );
    if view.flavor != Flavor::Dell {
        boot.insert(
            "BootSourceOverrideEnabled@Redfish.AllowableValues".into(),
            json!(boot_enabled_values(view.flavor)),
        );
    }
    boot.insert("BootSourceOverrideMode".into(), json!(c.boot_mode));
    boot.insert(
        "BootSourceOverrideTarget".into(),
        json!(c.boot_override.target),
    );
    boot.insert(
        "BootSourceOverrideTarget@Redfish.AllowableValues".into(),
        json!(boot_targets(view.flavor)),
    );
    boot.insert("UefiTargetBootSourceOverride".into(), Value::Null);
    let manager = view.link(&format!("Managers/{}", manager_id(state, BmcKind::Bmc)));
    let mut v = json!({
        "@odata.id": view.id(&format!("Systems/{sid}")),
        "@odata.type": ty,
        "Id": sid,
        "Name": "System",
        "SystemType": "Physical",
        "HostName": c.name,
        "Manufacturer": manufacturer,
        "Model": model,
        "SerialNumber": serial(&c.name),
        "UUID": uuid(&format!("{}/system", c.name)),
        "PowerState": state.power_state_at(view.now).as_str(),
        "Status": { "State": "Enabled", "Health": "OK", "HealthRollup": "OK" },
        "Boot": Value::Object(boot),
        "Bios": view.link(&format!("Systems/{sid}/Bios")),
        "Links": {
            "ManagedBy": [manager],
            "ManagedBy@odata.count": 1,
        },
        "Actions": {
            "#ComputerSystem.Reset": {
                "target": view.id(&format!("Systems/{sid}/Actions/ComputerSystem.Reset")),
                "ResetType@Redfish.AllowableValues": reset_types(view.flavor),
            }
        },
    });
    if view.flavor == Flavor::Dell
        && let Some(obj) = v.as_object_mut()
    {
        obj.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/$metadata#ComputerSystem.ComputerSystem",
                view.prefix
            )),
        );
    }
    v
}

fn dpu_system(view: &View<'_>, state: &HostState) -> Option<Value> {
    let dpu = state.config.dpu.as_ref()?;
    let sid = dpu.system_id.as_str();
    let model = match dpu.generation {
        DpuGeneration::Bf3 => "BlueField-3 SmartNIC Main Card",
        DpuGeneration::Bf2 => "BlueField-2 SmartNIC Main Card",
    };
    let mut nvidia = Map::new();
    if dpu.generation == DpuGeneration::Bf3 {
        nvidia.insert(
            "@odata.id".into(),
            json!(view.id(&format!("Systems/{sid}/Oem/Nvidia"))),
        );
    }
    nvidia.insert("Mode".into(), json!(dpu.mode.as_str()));
    Some(json!({
        "@odata.id": view.id(&format!("Systems/{sid}")),
        "@odata.type": "#ComputerSystem.v1_22_0.ComputerSystem",
        "Id": sid,
        "Name": "Bluefield",
        "Description": "This ComputerSystem resource represents the SoC that is part of the DPU",
        "SystemType": "Physical",
        "Manufacturer": "https://www.mellanox.com",
        "Model": model,
        "SerialNumber": format!("MT{}", serial(&format!("{}/dpu", state.config.name))),
        "PowerState": state.dpu_power_state_at(view.now).as_str(),
        "Status": { "State": "Enabled", "Health": "OK" },
        "Bios": view.link(&format!("Systems/{sid}/Bios")),
        "Links": { "ManagedBy": [view.link("Managers/Bluefield_BMC")] },
        "Actions": {
            "#ComputerSystem.Reset": {
                "target": view.id(&format!("Systems/{sid}/Actions/ComputerSystem.Reset")),
                "ResetType@Redfish.AllowableValues": reset_types(Flavor::BlueField),
            }
        },
        "Oem": { "Nvidia": Value::Object(nvidia) },
    }))
}

fn nvidia_oem(view: &View<'_>, state: &HostState) -> Option<Value> {
    let dpu = state.config.dpu.as_ref()?;
    let sid = dpu.system_id.as_str();
    Some(json!({
        "@odata.id": view.id(&format!("Systems/{sid}/Oem/Nvidia")),
        "@odata.type": "#NvidiaComputerSystem.v1_0_0.NvidiaComputerSystem",
        "Mode": dpu.mode.as_str(),
        "HostRshim": "Disabled",
        "Actions": {
            "#Mode.Set": {
                "target": view.id(&format!("Systems/{sid}/Oem/Nvidia/Actions/Mode.Set")),
                "Parameters": [{
                    "Name": "Mode",
                    "DataType": "String",
                    "Required": true,
                    "AllowableValues": ["NicMode", "DpuMode"],
                }],
            }
        },
    }))
}

/// Current BIOS attributes of this tree (the DPU's `NicMode` always mirrors its mode).
pub(crate) fn current_bios(state: &HostState, kind: BmcKind) -> Option<Map<String, Value>> {
    match kind {
        BmcKind::Bmc => Some(
            state
                .config
                .bios
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        BmcKind::Dpu => {
            let dpu = state.config.dpu.as_ref()?;
            let mut attrs: Map<String, Value> = dpu
                .bios
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            attrs.insert("NicMode".into(), json!(dpu.mode.as_str()));
            Some(attrs)
        }
    }
}

fn registry(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Dell => "BiosAttributeRegistry.v1_0_3",
        Flavor::Lenovo | Flavor::BlueField => "BiosAttributeRegistry.1.0.0",
        Flavor::Generic => "BiosAttributeRegistryP89.v1_0_0",
    }
}

fn bios(view: &View<'_>, state: &HostState) -> Option<Value> {
    let sid = system_id(state, view.kind)?;
    let attrs = current_bios(state, view.kind)?;
    let settings_id = view.id(&format!("Systems/{sid}/Bios/{}", view.settings_segment()));
    let settings = if view.flavor == Flavor::BlueField {
        json!({
            "@odata.type": "#Settings.v1_3_5.Settings",
            "SettingsObject": { "@odata.id": settings_id },
        })
    } else {
        json!({
            "@odata.type": "#Settings.v1_3_3.Settings",
            "SettingsObject": { "@odata.id": settings_id },
            "SupportedApplyTimes": bios_apply_times(view.flavor),
        })
    };
    Some(json!({
        "@odata.id": view.id(&format!("Systems/{sid}/Bios")),
        "@odata.type": "#Bios.v1_2_0.Bios",
        "Id": if view.flavor == Flavor::BlueField { "BIOS" } else { "Bios" },
        "Name": "BIOS Configuration Current Settings",
        "AttributeRegistry": registry(view.flavor),
        "Attributes": Value::Object(attrs),
        "@Redfish.Settings": settings,
    }))
}

/// What the settings object lists: the staged values, or on XCC every writable attribute with
/// the staged values merged in.
pub(crate) fn pending_view(view: &View<'_>, state: &HostState) -> Option<Map<String, Value>> {
    let staged = match view.kind {
        BmcKind::Bmc => &state.config.pending_bios,
        BmcKind::Dpu => &state.dpu_pending_bios,
    };
    let mut attrs = if view.flavor == Flavor::Lenovo {
        current_bios(state, view.kind)?
    } else {
        Map::new()
    };
    for (k, v) in staged {
        attrs.insert(k.clone(), v.clone());
    }
    Some(attrs)
}

fn bios_settings(view: &View<'_>, state: &HostState) -> Option<Value> {
    let sid = system_id(state, view.kind)?;
    let attrs = pending_view(view, state)?;
    let seg = view.settings_segment();
    let (id, name) = match view.flavor {
        Flavor::Lenovo => ("Pending", "Pending"),
        Flavor::BlueField => ("BIOS_Settings", "BIOS Configuration"),
        _ => ("Settings", "BIOS Configuration Pending Settings"),
    };
    Some(json!({
        "@odata.id": view.id(&format!("Systems/{sid}/Bios/{seg}")),
        "@odata.type": "#Bios.v1_2_0.Bios",
        "Id": id,
        "Name": name,
        "Description": "BIOS Configuration Pending Settings. These settings will be applied on next system reboot.",
        "AttributeRegistry": registry(view.flavor),
        "Attributes": Value::Object(attrs),
        "@Redfish.SettingsApplyTime": {
            "@odata.type": "#Settings.v1_3_3.PreferredApplyTime",
            "ApplyTime": "OnReset",
            "ApplyTime@Redfish.AllowableValues": bios_apply_times(view.flavor),
        },
    }))
}

fn manager(view: &View<'_>, state: &HostState) -> Option<Value> {
    let mid = manager_id(state, view.kind);
    let sid = system_id(state, view.kind)?;
    let (model, firmware) = match view.flavor {
        Flavor::Dell => ("15G Monolithic", "6.00.30.00"),
        Flavor::Lenovo => ("Lenovo XClarity Controller", "TGBT42S 2.83 2023-07-05"),
        Flavor::Generic => ("Joo Janta 200", "1.00"),
        Flavor::BlueField => ("OpenBmc", "BF-24.10-24"),
    };
    Some(json!({
        "@odata.id": view.id(&format!("Managers/{mid}")),
        "@odata.type": "#Manager.v1_12_0.Manager",
        "Id": mid,
        "Name": "Manager",
        "ManagerType": "BMC",
        "Model": model,
        "FirmwareVersion": firmware,
        "UUID": uuid(&format!("{}/{}/manager", state.config.name, view.kind.segment())),
        "PowerState": "On",
        "Status": { "State": "Enabled", "Health": "OK" },
        "Links": {
            "ManagerForServers": [view.link(&format!("Systems/{sid}"))],
            "ManagerForServers@odata.count": 1,
        },
    }))
}

/// A task resource, or `None` for an unknown (or rolled-over) id.
pub(crate) fn task(view: &View<'_>, state: &HostState, id: u32) -> Option<Value> {
    let t = state.runtime(view.kind).tasks.iter().find(|t| t.id == id)?;
    let (task_state, pct) = t.progress(view.now);
    let sid = system_id(state, view.kind)?;
    let messages = if task_state == "Completed" {
        json!([{
            "MessageId": format!("{}.Success", view.flavor.base()),
            "Message": "The request completed successfully.",
            "MessageArgs": [],
            "Severity": "OK",
        }])
    } else {
        json!([])
    };
    Some(json!({
        "@odata.id": view.id(&format!("TaskService/Tasks/{id}")),
        "@odata.type": "#Task.v1_7_4.Task",
        "Id": id.to_string(),
        "Name": format!("Task {id}"),
        "Description": format!("ComputerSystem.Reset ({})", t.reset_type),
        "TaskState": task_state,
        "TaskStatus": "OK",
        "PercentComplete": pct,
        "Payload": {
            "TargetUri": view.id(&format!("Systems/{sid}/Actions/ComputerSystem.Reset")),
            "HttpOperation": "POST",
            "JsonBody": json!({ "ResetType": t.reset_type }).to_string(),
        },
        "Messages": messages,
    }))
}

/// Hashes the rendered resource into its ETag: 16 hex digits (22 on XCC, as in its captures),
/// quoted, `W/`-prefixed when weak ETags are on.
pub(crate) fn etag_of(view: &View<'_>, body: &Value) -> String {
    let digest = Sha256::digest(body.to_string().as_bytes());
    let len = if view.flavor == Flavor::Lenovo { 11 } else { 8 };
    let hex: String = digest
        .iter()
        .take(len)
        .map(|b| format!("{b:02x}"))
        .collect();
    if view.weak_etags {
        format!("W/\"{hex}\"")
    } else {
        format!("\"{hex}\"")
    }
}

/// Adds `@odata.etag` where the vendor puts it in bodies (resources only, not the `/redfish`
/// version object); returns the ETag.
pub(crate) fn stamp(view: &View<'_>, body: &mut Value) -> String {
    let etag = etag_of(view, body);
    if view.etag_in_body()
        && let Some(obj) = body.as_object_mut()
        && obj.contains_key("@odata.id")
    {
        obj.insert("@odata.etag".into(), Value::String(etag.clone()));
    }
    etag
}

/// Renders `res` with its ETag stamped; `None` if it does not exist.
pub(crate) fn render_stamped(
    view: &View<'_>,
    state: &HostState,
    res: Res,
) -> Option<(Value, String)> {
    let mut body = render(view, state, res)?;
    let etag = stamp(view, &mut body);
    Some((body, etag))
}

/// Which navigation properties `$expand` inlines (DSP0266 "Query parameters": `*` all, `.`
/// all but those under `Links`, `~` only those under `Links`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExpandMode {
    All,
    NoLinks,
    LinksOnly,
}

/// Parses a `$expand` value: `*`, `.` or `~`, optionally `($levels=1)`. Levels above the
/// advertised `MaxLevels` (1) are refused.
pub(crate) fn parse_expand(value: &str) -> Option<ExpandMode> {
    let (head, tail) = match value.find('(') {
        Some(i) => value.split_at(i),
        None => (value, ""),
    };
    let mode = match head {
        "*" => ExpandMode::All,
        "." => ExpandMode::NoLinks,
        "~" => ExpandMode::LinksOnly,
        _ => return None,
    };
    if !tail.is_empty() {
        let inner = tail.strip_prefix('(')?.strip_suffix(')')?;
        let levels = inner.strip_prefix("$levels=")?;
        if levels.trim() != "1" {
            return None;
        }
    }
    Some(mode)
}

/// Inlines, one level deep, every navigation link of `body` that points into this tree and can
/// be rendered. Links to resources the simulator does not have stay links. Annotations
/// (`@...`) and `Actions` are never expanded. Bounded: one pass over the body, no recursion
/// into expanded resources.
pub(crate) fn expand(view: &View<'_>, state: &HostState, body: &mut Value, mode: ExpandMode) {
    let Some(obj) = body.as_object_mut() else {
        return;
    };
    for (key, value) in obj.iter_mut() {
        if key.starts_with('@') || key == "Actions" || key.ends_with("@odata.count") {
            continue;
        }
        let in_links = key == "Links";
        let wanted = match mode {
            ExpandMode::All => true,
            ExpandMode::NoLinks => !in_links,
            ExpandMode::LinksOnly => in_links,
        };
        if wanted {
            expand_value(view, state, value, 0);
        }
    }
}

/// Replaces link objects inside `value` (objects, arrays, nested complex properties up to a
/// small depth) by the rendered resources.
fn expand_value(view: &View<'_>, state: &HostState, value: &mut Value, depth: u8) {
    if depth > 4 {
        return;
    }
    match value {
        Value::Object(obj) => {
            if obj.len() == 1
                && let Some(Value::String(id)) = obj.get("@odata.id")
            {
                if let Some(res) = parse_link(view, state, id)
                    && let Some((inline, _)) = render_stamped(view, state, res)
                {
                    *value = inline;
                }
                return;
            }
            for (key, inner) in obj.iter_mut() {
                if key.starts_with('@') || key.ends_with("@odata.count") {
                    continue;
                }
                expand_value(view, state, inner, depth + 1);
            }
        }
        Value::Array(items) => {
            for item in items {
                expand_value(view, state, item, depth + 1);
            }
        }
        _ => {}
    }
}

/// The JSON type name of a value, for `PropertyValueTypeError`.
pub(crate) fn same_json_type(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::String(_), Value::String(_))
            | (Value::Bool(_), Value::Bool(_))
            | (Value::Number(_), Value::Number(_))
            | (Value::Null, _)
    )
}

/// Whether a DPU mode string is valid.
pub(crate) fn parse_mode(v: &Value) -> Option<DpuMode> {
    v.as_str().and_then(DpuMode::parse)
}
