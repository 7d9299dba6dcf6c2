//! Typed, vendor-tolerant views of the Redfish resources bmfleet reads.
//!
//! Sources: the DMTF Redfish schemas (CSDL/JSON Schema bundle DSP8010; resource names and
//! properties as published in DSP0268 "Redfish Resource and Schema Guide") and the protocol
//! rules of DSP0266 (§9 "Data model": `@odata.id`, `@odata.type`, `@odata.etag`, `Members`,
//! annotations such as `@Redfish.Settings`). Quirks handled are named where they occur.
//!
//! Design rules, applied to every type here:
//! - every property is optional (`Option` or an empty `Vec`) unless the schema requires it and
//!   every captured vendor payload has it — in practice that is only `@odata.id` on links;
//! - unknown properties are ignored (no `deny_unknown_fields`), so newer schema versions parse;
//! - integers may arrive as strings and odd shapes degrade to `None` ([`lenient`]);
//! - `Oem` sections stay raw [`serde_json::Value`]: they belong to the vendor, and the client
//!   reads the few OEM values it needs (NVIDIA `Mode`, Dell jobs) explicitly.
//!
//! [`parse_resource`] picks the type from `@odata.type`; [`parse_as`] parses a payload as a
//! given [`ResourceKind`] (for bodies without `@odata.type`, such as error bodies).

pub mod lenient;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use lenient::{
    message_args, one_or_many, opt_bool, opt_f64, opt_i64, opt_string, skip_bad, string_list,
};

/// A navigation link: an object whose `@odata.id` is the absolute path of another resource
/// (DSP0266 §9.3 "Resource identifier property"). Some vendors send `{}` or `null` where the
/// link is absent, hence the `Option`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Link {
    /// Absolute path of the linked resource, e.g. `/redfish/v1/Systems/1/Bios`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
}

impl Link {
    /// The linked path, if any, with surrounding whitespace removed and empty strings ignored.
    pub fn path(&self) -> Option<&str> {
        self.odata_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// The `Status` complex type (Resource schema): `State` (e.g. `Enabled`), `Health` (`OK`,
/// `Warning`, `Critical`) and `HealthRollup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Status {
    /// Resource state, e.g. `Enabled`, `Absent`.
    #[serde(default)]
    pub state: Option<String>,
    /// Health of the resource itself.
    #[serde(default)]
    pub health: Option<String>,
    /// Health of the resource and its subordinates.
    #[serde(default)]
    pub health_rollup: Option<String>,
}

/// A Redfish Message (Message schema; DSP0266 §9.6 "Error responses"), used in
/// `@Message.ExtendedInfo`, `Task.Messages` and `@Redfish.Settings.Messages`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    /// Registry-qualified id, e.g. `Base.1.12.PropertyValueNotInList` or `IDRAC.2.8.LC068`.
    #[serde(default, deserialize_with = "opt_string")]
    pub message_id: Option<String>,
    /// Human-readable message.
    #[serde(default, deserialize_with = "opt_string")]
    pub message: Option<String>,
    /// Substitution arguments; iDRAC's `"[]"` string quirk is accepted.
    #[serde(default, deserialize_with = "message_args")]
    pub message_args: Vec<String>,
    /// `Severity` (deprecated in Message v1.1 but what most BMCs send).
    #[serde(default, deserialize_with = "opt_string")]
    pub severity: Option<String>,
    /// `MessageSeverity` (Message v1.1+).
    #[serde(default, deserialize_with = "opt_string")]
    pub message_severity: Option<String>,
    /// Suggested fix.
    #[serde(default, deserialize_with = "opt_string")]
    pub resolution: Option<String>,
    /// JSON pointers of the properties the message is about.
    #[serde(default, deserialize_with = "string_list")]
    pub related_properties: Vec<String>,
}

impl Message {
    /// `MessageSeverity`, else the legacy `Severity`.
    pub fn severity(&self) -> Option<&str> {
        self.message_severity
            .as_deref()
            .or(self.severity.as_deref())
    }
}

/// The body of a Redfish error response (DSP0266 §9.6 "Error responses"):
/// `{"error": {"code", "message", "@Message.ExtendedInfo": [...]}}`.
///
/// `@Message.ExtendedInfo` is accepted as an array (conformant) or as a single object
/// (non-conformant services; sushy `error_single_ext_info.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RedfishErrorBody {
    /// The `error` object.
    pub error: ErrorObject,
}

/// The `error` object inside a [`RedfishErrorBody`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorObject {
    /// A MessageId naming the overall error, e.g. `Base.1.12.GeneralError`.
    #[serde(default, deserialize_with = "opt_string")]
    pub code: Option<String>,
    /// Human-readable summary.
    #[serde(default, deserialize_with = "opt_string")]
    pub message: Option<String>,
    /// Detailed messages (array, or a single object on non-conformant services).
    #[serde(
        rename = "@Message.ExtendedInfo",
        default,
        deserialize_with = "one_or_many"
    )]
    pub extended_info: Vec<Message>,
}

/// An action entry of an `Actions` object (DSP0266 §9.5 "Actions"): its `target` URI and
/// the allowed parameter values, given either as `<Param>@Redfish.AllowableValues` or, on
/// OpenBMC-based services (NVIDIA BlueField), as a `Parameters` array.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Action {
    /// Absolute path to POST the action to.
    #[serde(default)]
    pub target: Option<String>,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// Link to the ActionInfo resource describing the parameters.
    #[serde(rename = "@Redfish.ActionInfo", default)]
    pub action_info: Option<String>,
    /// Inline parameter descriptions (OpenBMC style).
    #[serde(rename = "Parameters", default, deserialize_with = "skip_bad")]
    pub parameters: Vec<ActionParameter>,
    /// Every other member, including `<Param>@Redfish.AllowableValues`.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One entry of an inline `Parameters` array of an [`Action`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActionParameter {
    /// Parameter name, e.g. `Mode`.
    #[serde(default)]
    pub name: Option<String>,
    /// Allowed values, e.g. `["NicMode", "DpuMode"]`.
    #[serde(default, deserialize_with = "string_list")]
    pub allowable_values: Vec<String>,
    /// Data type, e.g. `String`.
    #[serde(default)]
    pub data_type: Option<String>,
    /// Whether the parameter is required.
    #[serde(default, deserialize_with = "opt_bool")]
    pub required: Option<bool>,
}

impl Action {
    /// Allowed values of parameter `param`: `<param>@Redfish.AllowableValues`, else the
    /// matching inline `Parameters` entry; empty when the service does not say.
    pub fn allowable_values(&self, param: &str) -> Vec<String> {
        if let Some(Value::Array(values)) =
            self.other.get(&format!("{param}@Redfish.AllowableValues"))
        {
            return values
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
        self.parameters
            .iter()
            .find(|p| p.name.as_deref() == Some(param))
            .map(|p| p.allowable_values.clone())
            .unwrap_or_default()
    }
}

/// The `Actions` object of a resource: `#Schema.ActionName` keys and an `Oem` object holding
/// vendor actions with the same shape.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Actions(pub Map<String, Value>);

impl Actions {
    /// The action named `name` (e.g. `#ComputerSystem.Reset`), looked up at the top level and
    /// then inside `Oem`. `None` when absent or malformed.
    pub fn get(&self, name: &str) -> Option<Action> {
        let raw = self
            .0
            .get(name)
            .or_else(|| self.0.get("Oem").and_then(|o| o.get(name)))?;
        serde_json::from_value(raw.clone()).ok()
    }
}

/// `ProtocolFeaturesSupported.ExpandQuery` of the service root (ServiceRoot v1.3+;
/// DSP0266 §7.3 "Query parameters", `$expand`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExpandQuery {
    /// `$expand=*` supported (expand every hyperlink).
    #[serde(default, deserialize_with = "opt_bool")]
    pub expand_all: Option<bool>,
    /// `$levels` supported.
    #[serde(default, deserialize_with = "opt_bool")]
    pub levels: Option<bool>,
    /// `$expand=~` supported (expand links under `Links`).
    #[serde(default, deserialize_with = "opt_bool")]
    pub links: Option<bool>,
    /// Highest `$levels` value supported.
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_levels: Option<i64>,
    /// `$expand=.` supported (expand subordinate resources, not `Links`).
    #[serde(default, deserialize_with = "opt_bool")]
    pub no_links: Option<bool>,
}

/// `ProtocolFeaturesSupported` of the service root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProtocolFeaturesSupported {
    /// `$expand` support.
    #[serde(default)]
    pub expand_query: Option<ExpandQuery>,
    /// `$select` support.
    #[serde(default, deserialize_with = "opt_bool")]
    pub select_query: Option<bool>,
    /// `$filter` support.
    #[serde(default, deserialize_with = "opt_bool")]
    pub filter_query: Option<bool>,
    /// `only` query support.
    #[serde(default, deserialize_with = "opt_bool")]
    pub only_member_query: Option<bool>,
}

/// `Links` of the service root; `Sessions` is the session collection (DSP0266 §13.3.4
/// "Session login").
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRootLinks {
    /// The session collection to POST logins to.
    #[serde(default)]
    pub sessions: Option<Link>,
}

/// The service root `/redfish/v1/` (ServiceRoot schema; DSP0266 §10.1 "Service root").
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRoot {
    /// `@odata.id`, normally `/redfish/v1` (or with the endpoint's path prefix).
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `RedfishVersion`, e.g. `1.15.0`.
    #[serde(default)]
    pub redfish_version: Option<String>,
    /// Service `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `Vendor`, e.g. `Dell`, `Lenovo`, `Nvidia` (ServiceRoot v1.5+).
    #[serde(default)]
    pub vendor: Option<String>,
    /// `Product`, e.g. `Integrated Dell Remote Access Controller`.
    #[serde(default)]
    pub product: Option<String>,
    /// Systems collection.
    #[serde(default)]
    pub systems: Option<Link>,
    /// Managers collection.
    #[serde(default)]
    pub managers: Option<Link>,
    /// Chassis collection.
    #[serde(default)]
    pub chassis: Option<Link>,
    /// SessionService.
    #[serde(default)]
    pub session_service: Option<Link>,
    /// TaskService.
    #[serde(default)]
    pub task_service: Option<Link>,
    /// JobService.
    #[serde(default)]
    pub job_service: Option<Link>,
    /// Registries collection.
    #[serde(default)]
    pub registries: Option<Link>,
    /// `Links` (holds `Sessions`).
    #[serde(default)]
    pub links: Option<ServiceRootLinks>,
    /// Query features the service supports.
    #[serde(default)]
    pub protocol_features_supported: Option<ProtocolFeaturesSupported>,
    /// Vendor extensions.
    #[serde(default)]
    pub oem: Option<Value>,
}

impl ServiceRoot {
    /// The `ExpandQuery` block, when the service advertises one.
    pub fn expand_query(&self) -> Option<&ExpandQuery> {
        self.protocol_features_supported
            .as_ref()?
            .expand_query
            .as_ref()
    }
}

/// Any resource collection (`*Collection` schemas; DSP0266 §9.7 "Resource collections").
///
/// `Members` are kept as raw values: plain `{"@odata.id"}` links normally, whole resources
/// when the collection was read with `$expand`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Collection {
    /// `@odata.id` of the collection.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `@odata.type`, e.g. `#ComputerSystemCollection.ComputerSystemCollection`.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// `Name`.
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    /// Members (links, or expanded resources).
    #[serde(rename = "Members", default, deserialize_with = "skip_bad")]
    pub members: Vec<Value>,
    /// `Members@odata.count` (the total, which may exceed `members.len()` when paged).
    #[serde(rename = "Members@odata.count", default, deserialize_with = "opt_i64")]
    pub count: Option<i64>,
    /// `Members@odata.nextLink` for paged collections.
    #[serde(rename = "Members@odata.nextLink", default)]
    pub next_link: Option<String>,
}

impl Collection {
    /// The `@odata.id` of every member, in order; members without one are skipped.
    pub fn member_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter_map(|m| m.get("@odata.id").and_then(Value::as_str))
            .map(String::from)
            .collect()
    }
}

/// `Boot` of a ComputerSystem (ComputerSystem schema, `Boot` complex type).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Boot {
    /// `Disabled`, `Once` or `Continuous`.
    #[serde(default)]
    pub boot_source_override_enabled: Option<String>,
    /// e.g. `None`, `Pxe`, `Hdd`, `Cd`, `UefiHttp`, `BiosSetup`.
    #[serde(default)]
    pub boot_source_override_target: Option<String>,
    /// `UEFI` or `Legacy`.
    #[serde(default)]
    pub boot_source_override_mode: Option<String>,
    /// Allowed `BootSourceOverrideEnabled` values.
    #[serde(
        rename = "BootSourceOverrideEnabled@Redfish.AllowableValues",
        default,
        deserialize_with = "string_list"
    )]
    pub boot_source_override_enabled_allowable: Vec<String>,
    /// Allowed `BootSourceOverrideTarget` values.
    #[serde(
        rename = "BootSourceOverrideTarget@Redfish.AllowableValues",
        default,
        deserialize_with = "string_list"
    )]
    pub boot_source_override_target_allowable: Vec<String>,
    /// Allowed `BootSourceOverrideMode` values.
    #[serde(
        rename = "BootSourceOverrideMode@Redfish.AllowableValues",
        default,
        deserialize_with = "string_list"
    )]
    pub boot_source_override_mode_allowable: Vec<String>,
    /// UEFI device path used when the target is `UefiTarget`.
    #[serde(default, deserialize_with = "opt_string")]
    pub uefi_target_boot_source_override: Option<String>,
    /// `BootNext` (a `BootOptionReference`).
    #[serde(default, deserialize_with = "opt_string")]
    pub boot_next: Option<String>,
    /// Persistent boot order (`BootOptionReference`s such as `Boot0003`).
    #[serde(default, deserialize_with = "string_list")]
    pub boot_order: Vec<String>,
    /// URI used when the target is `UefiHttp`.
    #[serde(default, deserialize_with = "opt_string")]
    pub http_boot_uri: Option<String>,
}

/// `@Redfish.Settings` annotation (Settings schema; DSP0266 §9.9 "Settings resource"): where
/// pending values are written and how they are applied.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Settings {
    /// The settings object (pending values), e.g. `.../Bios/Settings` (Dell, DMTF) or
    /// `.../Bios/Pending` (Lenovo).
    #[serde(default)]
    pub settings_object: Option<Link>,
    /// Apply times the service accepts in `@Redfish.SettingsApplyTime`, e.g. `OnReset`.
    #[serde(default, deserialize_with = "string_list")]
    pub supported_apply_times: Vec<String>,
    /// When the settings were last applied.
    #[serde(default, deserialize_with = "opt_string")]
    pub time: Option<String>,
    /// ETag of the settings object when last applied.
    #[serde(rename = "ETag", default, deserialize_with = "opt_string")]
    pub etag: Option<String>,
    /// Results of the last apply (e.g. `Base.1.0.SettingsFailed`).
    #[serde(default, deserialize_with = "skip_bad")]
    pub messages: Vec<Message>,
}

/// `@Redfish.SettingsApplyTime` annotation (Settings schema, `PreferredApplyTime`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PreferredApplyTime {
    /// `Immediate`, `OnReset`, `AtMaintenanceWindowStart` or `InMaintenanceWindowOnReset`.
    #[serde(default)]
    pub apply_time: Option<String>,
    /// Allowed `ApplyTime` values.
    #[serde(
        rename = "ApplyTime@Redfish.AllowableValues",
        default,
        deserialize_with = "string_list"
    )]
    pub apply_time_allowable: Vec<String>,
    /// Maintenance window start (ISO 8601).
    #[serde(default)]
    pub maintenance_window_start_time: Option<String>,
    /// Maintenance window length in seconds.
    #[serde(default, deserialize_with = "opt_i64")]
    pub maintenance_window_duration_in_seconds: Option<i64>,
}

/// `ProcessorSummary` of a ComputerSystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessorSummary {
    /// Number of processors (sockets).
    #[serde(default, deserialize_with = "opt_i64")]
    pub count: Option<i64>,
    /// Processor model.
    #[serde(default)]
    pub model: Option<String>,
}

/// `MemorySummary` of a ComputerSystem.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MemorySummary {
    /// Installed memory in GiB.
    #[serde(rename = "TotalSystemMemoryGiB", default, deserialize_with = "opt_f64")]
    pub total_system_memory_gib: Option<f64>,
}

/// `Links` of a ComputerSystem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComputerSystemLinks {
    /// Chassis containing the system.
    #[serde(default, deserialize_with = "skip_bad")]
    pub chassis: Vec<Link>,
    /// Managers (BMCs) of the system.
    #[serde(default, deserialize_with = "skip_bad")]
    pub managed_by: Vec<Link>,
}

/// A ComputerSystem (ComputerSystem schema; e.g. `/redfish/v1/Systems/System.Embedded.1`).
/// Also used for ComputerSystem settings objects (Lenovo `Systems/1/Pending`, BlueField
/// `Systems/Bluefield/Settings`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComputerSystem {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `@odata.etag` (Lenovo, OpenBMC put it in the body as well as the header).
    #[serde(rename = "@odata.etag", default, deserialize_with = "opt_string")]
    pub odata_etag: Option<String>,
    /// `Id`, e.g. `System.Embedded.1`, `1`, `Bluefield`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `SystemType`, e.g. `Physical`, `DPU`.
    #[serde(default)]
    pub system_type: Option<String>,
    /// `Manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `SerialNumber`.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// `SKU` (Dell service tag).
    #[serde(rename = "SKU", default)]
    pub sku: Option<String>,
    /// `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `HostName`.
    #[serde(default)]
    pub host_name: Option<String>,
    /// `BiosVersion`.
    #[serde(default)]
    pub bios_version: Option<String>,
    /// `PowerState`: `On`, `Off`, `PoweringOn`, `PoweringOff`, `Paused`.
    #[serde(default)]
    pub power_state: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// `Boot`.
    #[serde(default)]
    pub boot: Option<Boot>,
    /// `Bios`: a link, or the whole Bios resource when read with `$expand`.
    #[serde(default)]
    pub bios: Option<Value>,
    /// `@Redfish.Settings` of the system itself.
    #[serde(rename = "@Redfish.Settings", default)]
    pub redfish_settings: Option<Settings>,
    /// `Actions` (holds `#ComputerSystem.Reset`).
    #[serde(default)]
    pub actions: Option<Actions>,
    /// `Links`.
    #[serde(default)]
    pub links: Option<ComputerSystemLinks>,
    /// EthernetInterfaces collection.
    #[serde(default)]
    pub ethernet_interfaces: Option<Link>,
    /// NetworkInterfaces collection.
    #[serde(default)]
    pub network_interfaces: Option<Link>,
    /// VirtualMedia collection (ComputerSystem v1.13+; older services keep it on the Manager).
    #[serde(default)]
    pub virtual_media: Option<Link>,
    /// `ProcessorSummary`.
    #[serde(default)]
    pub processor_summary: Option<ProcessorSummary>,
    /// `MemorySummary`.
    #[serde(default)]
    pub memory_summary: Option<MemorySummary>,
    /// Vendor extensions (NVIDIA links `Oem.Nvidia` to `.../Oem/Nvidia`).
    #[serde(default)]
    pub oem: Option<Value>,
}

impl ComputerSystem {
    /// The Bios link path, whether `Bios` is a link or an inline (expanded) resource.
    pub fn bios_path(&self) -> Option<&str> {
        self.bios.as_ref()?.get("@odata.id")?.as_str()
    }

    /// The Bios resource when it came inline (read with `$expand`): present only if the
    /// `Bios` object carries `Attributes`.
    pub fn inline_bios(&self) -> Option<Bios> {
        let bios = self.bios.as_ref()?;
        bios.get("Attributes")?;
        serde_json::from_value(bios.clone()).ok()
    }

    /// The `#ComputerSystem.Reset` action, if advertised.
    pub fn reset_action(&self) -> Option<Action> {
        self.actions.as_ref()?.get("#ComputerSystem.Reset")
    }

    /// `Oem.Nvidia` of a BlueField DPU system: a link to `.../Oem/Nvidia`, sometimes with the
    /// properties inline.
    pub fn oem_nvidia(&self) -> Option<&Value> {
        self.oem.as_ref()?.get("Nvidia")
    }
}

/// A Bios resource (Bios schema), for both the current values (`.../Bios`) and the settings
/// object holding pending values (`.../Bios/Settings`, Lenovo `.../Bios/Pending`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bios {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `@odata.etag`.
    #[serde(rename = "@odata.etag", default, deserialize_with = "opt_string")]
    pub odata_etag: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// The attribute registry naming and typing the attributes, e.g.
    /// `BiosAttributeRegistry.v1_0_3`.
    #[serde(default)]
    pub attribute_registry: Option<String>,
    /// Attribute name -> value (string, integer, boolean, or null).
    #[serde(default, deserialize_with = "attributes")]
    pub attributes: BTreeMap<String, Value>,
    /// `@Redfish.Settings`: where to write pending values.
    #[serde(rename = "@Redfish.Settings", default)]
    pub redfish_settings: Option<Settings>,
    /// `@Redfish.SettingsApplyTime` (present on settings objects that have a preferred apply
    /// time).
    #[serde(rename = "@Redfish.SettingsApplyTime", default)]
    pub settings_apply_time: Option<PreferredApplyTime>,
    /// `ResetBiosToDefaultsPending`.
    #[serde(default, deserialize_with = "opt_bool")]
    pub reset_bios_to_defaults_pending: Option<bool>,
    /// `Actions`.
    #[serde(default)]
    pub actions: Option<Actions>,
    /// Vendor extensions.
    #[serde(default)]
    pub oem: Option<Value>,
}

/// A BIOS settings object: the same Bios schema as the current values (DSP0266 §9.9), read
/// from `@Redfish.Settings.SettingsObject`. Dell lists only changed attributes in it,
/// HPE/Lenovo every writable one; use [`pending_attributes`] to compare.
pub type BiosSettings = Bios;

fn attributes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map.into_iter().collect(),
        _ => BTreeMap::new(),
    })
}

/// The pending BIOS changes: attributes of the settings object whose value differs from the
/// current value (or that the current values lack).
///
/// Needed because the settings object's content differs by vendor: Dell iDRAC lists only the
/// changed attributes, Lenovo XCC and HPE iLO list every writable attribute (DSP0266 §9.9
/// leaves this open). Integers that a vendor renders as strings on one side compare equal to
/// the number on the other.
pub fn pending_attributes(
    current: &BTreeMap<String, Value>,
    settings: &BTreeMap<String, Value>,
) -> BTreeMap<String, Value> {
    settings
        .iter()
        .filter(|(name, value)| match current.get(*name) {
            Some(cur) => !values_equal(cur, value),
            None => true,
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn values_equal(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (lenient::value_to_i64(a), lenient::value_to_i64(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// One allowed value of an enumeration attribute in an [`AttributeRegistry`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeValue {
    /// The value to write, e.g. `Enabled`.
    #[serde(default, deserialize_with = "opt_string")]
    pub value_name: Option<String>,
    /// Display text.
    #[serde(default, deserialize_with = "opt_string")]
    pub value_display_name: Option<String>,
}

/// One attribute of an [`AttributeRegistry`] (AttributeRegistry schema, `Attributes`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryAttribute {
    /// Attribute name as used in `Bios.Attributes`.
    #[serde(default)]
    pub attribute_name: Option<String>,
    /// `Enumeration`, `String`, `Integer`, `Boolean` or `Password`.
    #[serde(rename = "Type", default)]
    pub attr_type: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Help text.
    #[serde(default)]
    pub help_text: Option<String>,
    /// The attribute cannot be written.
    #[serde(default, deserialize_with = "opt_bool")]
    pub read_only: Option<bool>,
    /// The attribute can be written but not read back.
    #[serde(default, deserialize_with = "opt_bool")]
    pub write_only: Option<bool>,
    /// A change needs a system reset to take effect.
    #[serde(default, deserialize_with = "opt_bool")]
    pub reset_required: Option<bool>,
    /// The attribute is not shown in setup.
    #[serde(default, deserialize_with = "opt_bool")]
    pub hidden: Option<bool>,
    /// The value cannot be changed at all.
    #[serde(default, deserialize_with = "opt_bool")]
    pub immutable: Option<bool>,
    /// Lowest allowed value of an `Integer` attribute.
    #[serde(default, deserialize_with = "opt_i64")]
    pub lower_bound: Option<i64>,
    /// Highest allowed value of an `Integer` attribute.
    #[serde(default, deserialize_with = "opt_i64")]
    pub upper_bound: Option<i64>,
    /// Step of an `Integer` attribute.
    #[serde(default, deserialize_with = "opt_i64")]
    pub scalar_increment: Option<i64>,
    /// Shortest allowed `String` value, in characters.
    #[serde(default, deserialize_with = "opt_i64")]
    pub min_length: Option<i64>,
    /// Longest allowed `String` value, in characters.
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_length: Option<i64>,
    /// Regular expression a `String` value must match.
    #[serde(default)]
    pub value_expression: Option<String>,
    /// Allowed values of an `Enumeration` attribute.
    #[serde(rename = "Value", default, deserialize_with = "skip_bad")]
    pub values: Vec<AttributeValue>,
    /// Default value.
    #[serde(default)]
    pub default_value: Option<Value>,
    /// Current value (some registries, e.g. BlueField, carry it).
    #[serde(default)]
    pub current_value: Option<Value>,
}

/// `RegistryEntries` of an [`AttributeRegistry`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryEntries {
    /// The attributes.
    #[serde(default, deserialize_with = "skip_bad")]
    pub attributes: Vec<RegistryAttribute>,
    /// Dependencies between attributes (kept raw).
    #[serde(default)]
    pub dependencies: Option<Value>,
}

/// A BIOS attribute registry (AttributeRegistry schema): the type, bounds and allowed values
/// of every BIOS attribute.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeRegistry {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `RegistryVersion`.
    #[serde(default)]
    pub registry_version: Option<String>,
    /// `OwningEntity`, e.g. `AMI`, `NVIDIA BlueField`.
    #[serde(default)]
    pub owning_entity: Option<String>,
    /// `Language`.
    #[serde(default)]
    pub language: Option<String>,
    /// The entries.
    #[serde(default)]
    pub registry_entries: Option<RegistryEntries>,
}

impl AttributeRegistry {
    /// The registry entry for attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&RegistryAttribute> {
        self.registry_entries
            .as_ref()?
            .attributes
            .iter()
            .find(|a| a.attribute_name.as_deref() == Some(name))
    }
}

/// A Manager (Manager schema), i.e. the BMC itself.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Manager {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`, e.g. `iDRAC.Embedded.1`, `1`, `Bluefield_BMC`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `ManagerType`, normally `BMC`.
    #[serde(default)]
    pub manager_type: Option<String>,
    /// `FirmwareVersion`.
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `UUID`.
    #[serde(rename = "UUID", default)]
    pub uuid: Option<String>,
    /// `PowerState`.
    #[serde(default)]
    pub power_state: Option<String>,
    /// `DateTime` (ISO 8601).
    #[serde(default)]
    pub date_time: Option<String>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// EthernetInterfaces collection of the BMC.
    #[serde(default)]
    pub ethernet_interfaces: Option<Link>,
    /// VirtualMedia collection (older services keep it here rather than on the system).
    #[serde(default)]
    pub virtual_media: Option<Link>,
    /// NetworkProtocol resource.
    #[serde(default)]
    pub network_protocol: Option<Link>,
    /// `Actions` (holds `#Manager.Reset`).
    #[serde(default)]
    pub actions: Option<Actions>,
    /// Vendor extensions.
    #[serde(default)]
    pub oem: Option<Value>,
}

/// `VLAN` of an EthernetInterface or NetworkDeviceFunction (VLanNetworkInterface schema).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vlan {
    /// VLAN tagging is enabled.
    #[serde(rename = "VLANEnable", default, deserialize_with = "opt_bool")]
    pub vlan_enable: Option<bool>,
    /// VLAN id, 0..=4094.
    #[serde(rename = "VLANId", default, deserialize_with = "opt_i64")]
    pub vlan_id: Option<i64>,
    /// Frames are tagged.
    #[serde(default, deserialize_with = "opt_bool")]
    pub tagged: Option<bool>,
}

/// An IPv4 address entry of an EthernetInterface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv4Address {
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
    /// Subnet mask.
    #[serde(default)]
    pub subnet_mask: Option<String>,
    /// Gateway.
    #[serde(default)]
    pub gateway: Option<String>,
    /// `Static`, `DHCP`, `BOOTP`, `IPv4LinkLocal`.
    #[serde(default)]
    pub address_origin: Option<String>,
}

/// An EthernetInterface (EthernetInterface schema), of a system or of the BMC.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EthernetInterface {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// Current MAC address.
    #[serde(rename = "MACAddress", default)]
    pub mac_address: Option<String>,
    /// Burned-in MAC address.
    #[serde(rename = "PermanentMACAddress", default)]
    pub permanent_mac_address: Option<String>,
    /// The interface is enabled.
    #[serde(default, deserialize_with = "opt_bool")]
    pub interface_enabled: Option<bool>,
    /// `LinkUp`, `LinkDown`, `NoLink`.
    #[serde(default)]
    pub link_status: Option<String>,
    /// Speed in Mbit/s.
    #[serde(default, deserialize_with = "opt_i64")]
    pub speed_mbps: Option<i64>,
    /// MTU in bytes.
    #[serde(rename = "MTUSize", default, deserialize_with = "opt_i64")]
    pub mtu_size: Option<i64>,
    /// Host name.
    #[serde(default)]
    pub host_name: Option<String>,
    /// `Physical` or `Virtual` (a VLAN sub-interface is `Virtual`).
    #[serde(default)]
    pub ethernet_interface_type: Option<String>,
    /// Single-VLAN configuration.
    #[serde(rename = "VLAN", default)]
    pub vlan: Option<Vlan>,
    /// Collection of VLANs (multi-VLAN interfaces).
    #[serde(rename = "VLANs", default)]
    pub vlans: Option<Link>,
    /// IPv4 addresses.
    #[serde(rename = "IPv4Addresses", default, deserialize_with = "skip_bad")]
    pub ipv4_addresses: Vec<Ipv4Address>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
}

/// A VirtualMedia device (VirtualMedia schema).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualMedia {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`, e.g. `CD`, `CD1`, `EXT1`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// URI of the inserted image.
    #[serde(default, deserialize_with = "opt_string")]
    pub image: Option<String>,
    /// Image file name.
    #[serde(default, deserialize_with = "opt_string")]
    pub image_name: Option<String>,
    /// Media is inserted.
    #[serde(default, deserialize_with = "opt_bool")]
    pub inserted: Option<bool>,
    /// Media types supported, e.g. `CD`, `DVD`, `USBStick`.
    #[serde(default, deserialize_with = "string_list")]
    pub media_types: Vec<String>,
    /// `NotConnected`, `URI`, `Applet`, `Oem`.
    #[serde(default)]
    pub connected_via: Option<String>,
    /// The media is write-protected.
    #[serde(default, deserialize_with = "opt_bool")]
    pub write_protected: Option<bool>,
    /// `Stream` or `Upload`.
    #[serde(default)]
    pub transfer_method: Option<String>,
    /// `HTTP`, `HTTPS`, `NFS`, `CIFS`, ...
    #[serde(default)]
    pub transfer_protocol_type: Option<String>,
    /// `Actions` (InsertMedia, EjectMedia).
    #[serde(default)]
    pub actions: Option<Actions>,
}

/// `VirtualizationOffload.VirtualFunction` of a NetworkAdapter controller (NetworkAdapter
/// schema): SR-IOV virtual-function limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualFunctionCapabilities {
    /// Most VFs the controller supports in total.
    #[serde(default, deserialize_with = "opt_i64")]
    pub device_max_count: Option<i64>,
    /// VFs are assigned in groups of this size.
    #[serde(default, deserialize_with = "opt_i64")]
    pub min_assignment_group_size: Option<i64>,
    /// Most VFs per port.
    #[serde(default, deserialize_with = "opt_i64")]
    pub network_port_max_count: Option<i64>,
}

/// `VirtualizationOffload.SRIOV` of a NetworkAdapter controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SriovCapabilities {
    /// Virtual Ethernet Port Aggregator support.
    #[serde(rename = "SRIOVVEPACapable", default, deserialize_with = "opt_bool")]
    pub sriov_vepa_capable: Option<bool>,
    /// SR-IOV is enabled (NetworkAdapter v1.10+).
    #[serde(rename = "SRIOVEnabled", default, deserialize_with = "opt_bool")]
    pub sriov_enabled: Option<bool>,
}

/// `ControllerCapabilities.VirtualizationOffload`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VirtualizationOffload {
    /// SR-IOV block.
    #[serde(rename = "SRIOV", default)]
    pub sriov: Option<SriovCapabilities>,
    /// Virtual-function limits.
    #[serde(default)]
    pub virtual_function: Option<VirtualFunctionCapabilities>,
}

/// `ControllerCapabilities.NPAR` (NIC partitioning).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Npar {
    /// NPAR is supported.
    #[serde(default, deserialize_with = "opt_bool")]
    pub npar_capable: Option<bool>,
    /// NPAR is enabled.
    #[serde(default, deserialize_with = "opt_bool")]
    pub npar_enabled: Option<bool>,
}

/// `Controllers[].ControllerCapabilities` of a NetworkAdapter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControllerCapabilities {
    /// Number of ports (Lenovo XCC sends `-1` when unknown).
    #[serde(default, deserialize_with = "opt_i64")]
    pub network_port_count: Option<i64>,
    /// Number of device functions.
    #[serde(default, deserialize_with = "opt_i64")]
    pub network_device_function_count: Option<i64>,
    /// SR-IOV / virtual-function capabilities.
    #[serde(default)]
    pub virtualization_offload: Option<VirtualizationOffload>,
    /// NIC partitioning.
    #[serde(rename = "NPAR", default)]
    pub npar: Option<Npar>,
}

/// `Controllers[].Links` of a NetworkAdapter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ControllerLinks {
    /// Device functions of this controller.
    #[serde(default, deserialize_with = "skip_bad")]
    pub network_device_functions: Vec<Link>,
    /// Ports (NetworkAdapter v1.7+).
    #[serde(default, deserialize_with = "skip_bad")]
    pub ports: Vec<Link>,
    /// Deprecated NetworkPorts.
    #[serde(default, deserialize_with = "skip_bad")]
    pub network_ports: Vec<Link>,
    /// PCIe devices.
    #[serde(rename = "PCIeDevices", default, deserialize_with = "skip_bad")]
    pub pcie_devices: Vec<Link>,
}

/// One entry of `NetworkAdapter.Controllers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkController {
    /// Firmware package version.
    #[serde(default, deserialize_with = "opt_string")]
    pub firmware_package_version: Option<String>,
    /// Capabilities.
    #[serde(default)]
    pub controller_capabilities: Option<ControllerCapabilities>,
    /// Links.
    #[serde(default)]
    pub links: Option<ControllerLinks>,
}

/// A NetworkAdapter (NetworkAdapter schema), e.g. `/redfish/v1/Chassis/1/NetworkAdapters/slot-15`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAdapter {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `Model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `SerialNumber`.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// `PartNumber`.
    #[serde(default)]
    pub part_number: Option<String>,
    /// Controllers (usually one).
    #[serde(default, deserialize_with = "skip_bad")]
    pub controllers: Vec<NetworkController>,
    /// NetworkDeviceFunctions collection.
    #[serde(default)]
    pub network_device_functions: Option<Link>,
    /// Ports collection.
    #[serde(default)]
    pub ports: Option<Link>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Vendor extensions.
    #[serde(default)]
    pub oem: Option<Value>,
}

/// `Ethernet` of a NetworkDeviceFunction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceFunctionEthernet {
    /// Current MAC address.
    #[serde(rename = "MACAddress", default)]
    pub mac_address: Option<String>,
    /// Burned-in MAC address.
    #[serde(rename = "PermanentMACAddress", default)]
    pub permanent_mac_address: Option<String>,
    /// MTU in bytes.
    #[serde(rename = "MTUSize", default, deserialize_with = "opt_i64")]
    pub mtu_size: Option<i64>,
    /// Largest MTU in bytes.
    #[serde(rename = "MTUSizeMaximum", default, deserialize_with = "opt_i64")]
    pub mtu_size_maximum: Option<i64>,
    /// VLAN.
    #[serde(rename = "VLAN", default)]
    pub vlan: Option<Vlan>,
}

/// `Links` of a NetworkDeviceFunction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceFunctionLinks {
    /// Deprecated port link.
    #[serde(default)]
    pub physical_port_assignment: Option<Link>,
    /// Port link.
    #[serde(default)]
    pub physical_network_port_assignment: Option<Link>,
    /// The DPU's own ComputerSystem (SmartNIC/DPU offload, NetworkDeviceFunction v1.7+).
    #[serde(default)]
    pub offload_system: Option<Link>,
    /// The host EthernetInterface backed by this function.
    #[serde(default)]
    pub ethernet_interface: Option<Link>,
}

/// A NetworkDeviceFunction (NetworkDeviceFunction schema): a PCIe function of an adapter,
/// with its SR-IOV settings.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDeviceFunction {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `@odata.etag`.
    #[serde(rename = "@odata.etag", default, deserialize_with = "opt_string")]
    pub odata_etag: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Ethernet`, `FibreChannel`, `iSCSI`, `InfiniBand`, `Disabled`.
    #[serde(default)]
    pub net_dev_func_type: Option<String>,
    /// Function types the device supports.
    #[serde(default, deserialize_with = "string_list")]
    pub net_dev_func_capabilities: Vec<String>,
    /// The function is enabled.
    #[serde(default, deserialize_with = "opt_bool")]
    pub device_enabled: Option<bool>,
    /// Most SR-IOV virtual functions this function supports.
    #[serde(default, deserialize_with = "opt_i64")]
    pub max_virtual_functions: Option<i64>,
    /// SR-IOV virtual functions are enabled.
    #[serde(default, deserialize_with = "opt_bool")]
    pub virtual_functions_enabled: Option<bool>,
    /// Ethernet settings.
    #[serde(default)]
    pub ethernet: Option<DeviceFunctionEthernet>,
    /// Links.
    #[serde(default)]
    pub links: Option<DeviceFunctionLinks>,
    /// `@Redfish.Settings` (Dell exposes a settings object for writes).
    #[serde(rename = "@Redfish.Settings", default)]
    pub redfish_settings: Option<Settings>,
    /// `Status`.
    #[serde(default)]
    pub status: Option<Status>,
    /// Vendor extensions.
    #[serde(default)]
    pub oem: Option<Value>,
}

/// A Task (Task schema; DSP0266 §12.2 "Asynchronous operations").
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `New`, `Starting`, `Running`, `Suspended`, `Interrupted`, `Pending`, `Stopping`,
    /// `Completed`, `Killed`, `Exception`, `Service`, `Cancelling`, `Cancelled`.
    #[serde(default)]
    pub task_state: Option<String>,
    /// `OK`, `Warning`, `Critical`.
    #[serde(default)]
    pub task_status: Option<String>,
    /// Progress in percent (0..=100).
    #[serde(default, deserialize_with = "opt_i64")]
    pub percent_complete: Option<i64>,
    /// Task monitor URI.
    #[serde(default)]
    pub task_monitor: Option<String>,
    /// Start time (ISO 8601).
    #[serde(default, deserialize_with = "opt_string")]
    pub start_time: Option<String>,
    /// End time (ISO 8601).
    #[serde(default, deserialize_with = "opt_string")]
    pub end_time: Option<String>,
    /// Messages.
    #[serde(default, deserialize_with = "skip_bad")]
    pub messages: Vec<Message>,
    /// Vendor extensions (iDRAC puts its `DellJob` under `Oem.Dell`).
    #[serde(default)]
    pub oem: Option<Value>,
}

impl Task {
    /// The iDRAC job embedded as `Oem.Dell` (sushy-oem-idrac `task.json`).
    pub fn dell_job(&self) -> Option<DellJob> {
        let dell = self.oem.as_ref()?.get("Dell")?;
        serde_json::from_value(dell.clone()).ok()
    }
}

/// A Job (DMTF Job schema, `JobService/Jobs/*`; iDRAC and XCC expose them).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Job {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `New`, `Starting`, `Running`, `Suspended`, `Interrupted`, `Pending`, `Stopping`,
    /// `Completed`, `Cancelled`, `Exception`, `Service`, `UserIntervention`, `Continue`.
    #[serde(default)]
    pub job_state: Option<String>,
    /// `OK`, `Warning`, `Critical`.
    #[serde(default)]
    pub job_status: Option<String>,
    /// Progress in percent.
    #[serde(default, deserialize_with = "opt_i64")]
    pub percent_complete: Option<i64>,
    /// Start time.
    #[serde(default, deserialize_with = "opt_string")]
    pub start_time: Option<String>,
    /// End time.
    #[serde(default, deserialize_with = "opt_string")]
    pub end_time: Option<String>,
    /// Messages.
    #[serde(default, deserialize_with = "skip_bad")]
    pub messages: Vec<Message>,
}

/// An iDRAC job (Dell OEM `DellJob` schema, `Managers/iDRAC.Embedded.1/Oem/Dell/Jobs/JID_*`,
/// or embedded in a Task as `Oem.Dell`). iDRAC uses placeholders such as `TIME_NOW` and
/// `TIME_NA` for times, kept verbatim.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DellJob {
    /// `Id`, e.g. `JID_257309938313`.
    #[serde(default)]
    pub id: Option<String>,
    /// `Name`.
    #[serde(default)]
    pub name: Option<String>,
    /// `Scheduled`, `Running`, `Completed`, `Failed`, `CompletedWithErrors`, ...
    #[serde(default)]
    pub job_state: Option<String>,
    /// e.g. `BIOSConfiguration`, `RAIDConfiguration`.
    #[serde(default)]
    pub job_type: Option<String>,
    /// Last message.
    #[serde(default, deserialize_with = "opt_string")]
    pub message: Option<String>,
    /// MessageId of the last message, e.g. `IDRAC.2.5.JCP001`.
    #[serde(default, deserialize_with = "opt_string")]
    pub message_id: Option<String>,
    /// Progress in percent.
    #[serde(default, deserialize_with = "opt_i64")]
    pub percent_complete: Option<i64>,
    /// Start time or `TIME_NOW`.
    #[serde(default, deserialize_with = "opt_string")]
    pub start_time: Option<String>,
    /// End time or `TIME_NA`.
    #[serde(default, deserialize_with = "opt_string")]
    pub end_time: Option<String>,
    /// Completion time.
    #[serde(default, deserialize_with = "opt_string")]
    pub completion_time: Option<String>,
    /// Settings URI the job applies.
    #[serde(rename = "TargetSettingsURI", default, deserialize_with = "opt_string")]
    pub target_settings_uri: Option<String>,
}

/// NVIDIA BlueField OEM ComputerSystem extension (`#NvidiaComputerSystem`, at
/// `/redfish/v1/Systems/Bluefield/Oem/Nvidia` on BlueField-3 BMC firmware).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NvidiaComputerSystem {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `DpuMode` or `NicMode`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Host RShim access, `Enabled` or `Disabled`.
    #[serde(default)]
    pub host_rshim: Option<String>,
    /// Base MAC of the DPU.
    #[serde(rename = "BaseMAC", default)]
    pub base_mac: Option<String>,
    /// Base GUID of the DPU.
    #[serde(rename = "BaseGUID", default)]
    pub base_guid: Option<String>,
    /// `Actions` (holds `#Mode.Set` with a `Parameters` list).
    #[serde(default)]
    pub actions: Option<Actions>,
}

impl NvidiaComputerSystem {
    /// The `#Mode.Set` action, if advertised.
    pub fn mode_set_action(&self) -> Option<Action> {
        self.actions.as_ref()?.get("#Mode.Set")
    }
}

/// `BmcRShim` of the NVIDIA BlueField OEM Manager extension.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BmcRShim {
    /// The BMC's RShim is enabled.
    #[serde(rename = "BmcRShimEnabled", default, deserialize_with = "opt_bool")]
    pub enabled: Option<bool>,
}

/// NVIDIA BlueField OEM Manager extension (`/redfish/v1/Managers/Bluefield_BMC/Oem/Nvidia`),
/// which the BMC serves without `@odata.type`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NvidiaManager {
    /// `BmcRShim`.
    #[serde(rename = "BmcRShim", default)]
    pub bmc_rshim: Option<BmcRShim>,
}

/// A Chassis (Chassis schema); bmfleet only follows its `NetworkAdapters` link.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Chassis {
    /// `@odata.id`.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// NetworkAdapters collection.
    #[serde(default)]
    pub network_adapters: Option<Link>,
}

/// A Session (Session schema; DSP0266 §13.3.4 "Session login").
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Session {
    /// `@odata.id`: the URI to DELETE at logout.
    #[serde(rename = "@odata.id", default)]
    pub odata_id: Option<String>,
    /// `Id`.
    #[serde(default)]
    pub id: Option<String>,
    /// `UserName`.
    #[serde(default)]
    pub user_name: Option<String>,
}

/// The kinds of resource [`parse_as`] knows, named after their DMTF schema (or OEM schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// `#ServiceRoot.*`
    ServiceRoot,
    /// Any `#*Collection.*`
    Collection,
    /// `#ComputerSystem.*`
    ComputerSystem,
    /// `#Bios.*` (current values and settings objects)
    Bios,
    /// `#AttributeRegistry.*`
    AttributeRegistry,
    /// `#Manager.*`
    Manager,
    /// `#EthernetInterface.*`
    EthernetInterface,
    /// `#VirtualMedia.*`
    VirtualMedia,
    /// `#NetworkAdapter.*`
    NetworkAdapter,
    /// `#NetworkDeviceFunction.*`
    NetworkDeviceFunction,
    /// `#Task.*`
    Task,
    /// `#Job.*` (DMTF JobService)
    Job,
    /// `#DellJob.*` (iDRAC OEM)
    DellJob,
    /// `#NvidiaComputerSystem.*` (BlueField OEM)
    NvidiaComputerSystem,
    /// NVIDIA OEM Manager extension (served without `@odata.type`)
    NvidiaManager,
    /// `#Chassis.*`
    Chassis,
    /// `#Session.*`
    Session,
    /// A Redfish error body `{"error": ...}` (no `@odata.type`)
    Error,
}

impl ResourceKind {
    /// Maps an `@odata.type` such as `#ComputerSystem.v1_16_0.ComputerSystem` (or the legacy
    /// `/redfish/v1/$metadata#Task.1.0.0.Task` form) to a kind; `None` for schemas bmfleet
    /// does not model.
    pub fn from_odata_type(odata_type: &str) -> Option<Self> {
        let after_hash = odata_type.rsplit_once('#').map_or(odata_type, |(_, t)| t);
        let namespace = after_hash.split('.').next().unwrap_or(after_hash);
        Some(match namespace {
            "ServiceRoot" => Self::ServiceRoot,
            "ComputerSystem" => Self::ComputerSystem,
            "Bios" => Self::Bios,
            "AttributeRegistry" => Self::AttributeRegistry,
            "Manager" => Self::Manager,
            "EthernetInterface" => Self::EthernetInterface,
            "VirtualMedia" => Self::VirtualMedia,
            "NetworkAdapter" => Self::NetworkAdapter,
            "NetworkDeviceFunction" => Self::NetworkDeviceFunction,
            "Task" => Self::Task,
            "Job" => Self::Job,
            "DellJob" => Self::DellJob,
            "NvidiaComputerSystem" => Self::NvidiaComputerSystem,
            "NvidiaManager" => Self::NvidiaManager,
            "Chassis" => Self::Chassis,
            "Session" => Self::Session,
            n if n.ends_with("Collection") => Self::Collection,
            _ => return None,
        })
    }
}

/// A parsed resource, one variant per [`ResourceKind`].
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// Service root.
    ServiceRoot(Box<ServiceRoot>),
    /// A collection.
    Collection(Collection),
    /// A ComputerSystem.
    ComputerSystem(Box<ComputerSystem>),
    /// A Bios resource or settings object.
    Bios(Box<Bios>),
    /// An attribute registry.
    AttributeRegistry(Box<AttributeRegistry>),
    /// A Manager.
    Manager(Box<Manager>),
    /// An EthernetInterface.
    EthernetInterface(Box<EthernetInterface>),
    /// A VirtualMedia device.
    VirtualMedia(Box<VirtualMedia>),
    /// A NetworkAdapter.
    NetworkAdapter(Box<NetworkAdapter>),
    /// A NetworkDeviceFunction.
    NetworkDeviceFunction(Box<NetworkDeviceFunction>),
    /// A Task.
    Task(Box<Task>),
    /// A DMTF Job.
    Job(Box<Job>),
    /// An iDRAC job.
    DellJob(Box<DellJob>),
    /// The BlueField OEM ComputerSystem extension.
    NvidiaComputerSystem(Box<NvidiaComputerSystem>),
    /// The BlueField OEM Manager extension.
    NvidiaManager(NvidiaManager),
    /// A Chassis.
    Chassis(Box<Chassis>),
    /// A Session.
    Session(Session),
    /// A Redfish error body.
    Error(RedfishErrorBody),
}

impl Resource {
    /// The kind of this resource.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::ServiceRoot(_) => ResourceKind::ServiceRoot,
            Self::Collection(_) => ResourceKind::Collection,
            Self::ComputerSystem(_) => ResourceKind::ComputerSystem,
            Self::Bios(_) => ResourceKind::Bios,
            Self::AttributeRegistry(_) => ResourceKind::AttributeRegistry,
            Self::Manager(_) => ResourceKind::Manager,
            Self::EthernetInterface(_) => ResourceKind::EthernetInterface,
            Self::VirtualMedia(_) => ResourceKind::VirtualMedia,
            Self::NetworkAdapter(_) => ResourceKind::NetworkAdapter,
            Self::NetworkDeviceFunction(_) => ResourceKind::NetworkDeviceFunction,
            Self::Task(_) => ResourceKind::Task,
            Self::Job(_) => ResourceKind::Job,
            Self::DellJob(_) => ResourceKind::DellJob,
            Self::NvidiaComputerSystem(_) => ResourceKind::NvidiaComputerSystem,
            Self::NvidiaManager(_) => ResourceKind::NvidiaManager,
            Self::Chassis(_) => ResourceKind::Chassis,
            Self::Session(_) => ResourceKind::Session,
            Self::Error(_) => ResourceKind::Error,
        }
    }
}

/// Why a payload could not be turned into a typed model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum ModelError {
    /// The payload has no `@odata.type` and is not an error body.
    #[error("the payload has no @odata.type and is not a Redfish error body")]
    #[diagnostic(
        code(bmfleet::redfish::parse),
        help("pass the expected kind to redfish::model::parse_as")
    )]
    MissingType,
    /// The `@odata.type` names a schema bmfleet does not model.
    #[error("unsupported resource type {odata_type}")]
    #[diagnostic(
        code(bmfleet::redfish::parse),
        help("this resource type is not modelled by bmfleet; read it as raw JSON")
    )]
    UnsupportedType {
        /// The `@odata.type` found.
        odata_type: String,
    },
    /// The payload does not match the model (a property has an impossible shape).
    #[error("cannot parse the payload as {kind:?}: {reason}")]
    #[diagnostic(
        code(bmfleet::redfish::parse),
        help(
            "the BMC sent a payload that does not follow the DMTF schema; report the vendor quirk"
        )
    )]
    Shape {
        /// The kind tried.
        kind: ResourceKind,
        /// The serde error.
        reason: String,
    },
}

/// Parses a payload, choosing the model from its `@odata.type` (a body with no
/// `@odata.type` but an `error` member is a [`RedfishErrorBody`]).
///
/// # Errors
/// [`ModelError::MissingType`] without `@odata.type` (and no `error`),
/// [`ModelError::UnsupportedType`] for schemas bmfleet does not model,
/// [`ModelError::Shape`] when the payload is not a JSON object or a required member is
/// missing (most odd property shapes are tolerated instead, see [`lenient`]).
pub fn parse_resource(value: &Value) -> Result<Resource, ModelError> {
    match value.get("@odata.type").and_then(Value::as_str) {
        Some(t) => match ResourceKind::from_odata_type(t) {
            Some(kind) => parse_as(kind, value),
            None => Err(ModelError::UnsupportedType {
                odata_type: t.to_string(),
            }),
        },
        None if value.get("error").is_some() => parse_as(ResourceKind::Error, value),
        None => Err(ModelError::MissingType),
    }
}

/// Parses a payload as the given kind, whatever its `@odata.type` says.
///
/// # Errors
/// [`ModelError::Shape`] when the payload cannot be read as that kind (not an object, or a
/// required member such as `error` of an error body is missing).
pub fn parse_as(kind: ResourceKind, value: &Value) -> Result<Resource, ModelError> {
    fn de<T: DeserializeOwned>(kind: ResourceKind, value: &Value) -> Result<T, ModelError> {
        if !value.is_object() {
            return Err(ModelError::Shape {
                kind,
                reason: "expected a JSON object".into(),
            });
        }
        T::deserialize(value).map_err(|e| ModelError::Shape {
            kind,
            reason: e.to_string(),
        })
    }
    Ok(match kind {
        ResourceKind::ServiceRoot => Resource::ServiceRoot(Box::new(de(kind, value)?)),
        ResourceKind::Collection => Resource::Collection(de(kind, value)?),
        ResourceKind::ComputerSystem => Resource::ComputerSystem(Box::new(de(kind, value)?)),
        ResourceKind::Bios => Resource::Bios(Box::new(de(kind, value)?)),
        ResourceKind::AttributeRegistry => Resource::AttributeRegistry(Box::new(de(kind, value)?)),
        ResourceKind::Manager => Resource::Manager(Box::new(de(kind, value)?)),
        ResourceKind::EthernetInterface => Resource::EthernetInterface(Box::new(de(kind, value)?)),
        ResourceKind::VirtualMedia => Resource::VirtualMedia(Box::new(de(kind, value)?)),
        ResourceKind::NetworkAdapter => Resource::NetworkAdapter(Box::new(de(kind, value)?)),
        ResourceKind::NetworkDeviceFunction => {
            Resource::NetworkDeviceFunction(Box::new(de(kind, value)?))
        }
        ResourceKind::Task => Resource::Task(Box::new(de(kind, value)?)),
        ResourceKind::Job => Resource::Job(Box::new(de(kind, value)?)),
        ResourceKind::DellJob => Resource::DellJob(Box::new(de(kind, value)?)),
        ResourceKind::NvidiaComputerSystem => {
            Resource::NvidiaComputerSystem(Box::new(de(kind, value)?))
        }
        ResourceKind::NvidiaManager => Resource::NvidiaManager(de(kind, value)?),
        ResourceKind::Chassis => Resource::Chassis(Box::new(de(kind, value)?)),
        ResourceKind::Session => Resource::Session(de(kind, value)?),
        ResourceKind::Error => Resource::Error(de(kind, value)?),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn odata_type_forms() {
        assert_eq!(
            ResourceKind::from_odata_type("#ComputerSystem.v1_16_0.ComputerSystem"),
            Some(ResourceKind::ComputerSystem)
        );
        assert_eq!(
            ResourceKind::from_odata_type("/redfish/v1/$metadata#Task.1.0.0.Task"),
            Some(ResourceKind::Task)
        );
        assert_eq!(
            ResourceKind::from_odata_type("#TaskCollection.TaskCollection"),
            Some(ResourceKind::Collection)
        );
        assert_eq!(
            ResourceKind::from_odata_type("#Thermal.v1_0_0.Thermal"),
            None
        );
    }

    #[test]
    fn pending_compares_numbers_and_strings() {
        let cur: BTreeMap<String, Value> = [("A".into(), json!(1)), ("B".into(), json!("x"))]
            .into_iter()
            .collect();
        let set: BTreeMap<String, Value> = [
            ("A".into(), json!("1")),
            ("B".into(), json!("y")),
            ("C".into(), json!(true)),
        ]
        .into_iter()
        .collect();
        let p = pending_attributes(&cur, &set);
        assert_eq!(p.keys().collect::<Vec<_>>(), vec!["B", "C"]);
    }

    #[test]
    fn error_body_without_extended_info_and_missing_type() {
        let r = parse_resource(&json!({"error": {"code": "X", "message": "m"}})).unwrap();
        let Resource::Error(body) = r else { panic!() };
        assert_eq!(body.error.code.as_deref(), Some("X"));
        assert!(body.error.extended_info.is_empty());
        assert_eq!(
            parse_resource(&json!({"Id": "1"})),
            Err(ModelError::MissingType)
        );
        assert!(matches!(
            parse_as(ResourceKind::Error, &json!({"Id": "1"})),
            Err(ModelError::Shape { .. })
        ));
    }
}
