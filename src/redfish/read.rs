//! Reading the live state of one ComputerSystem: power, boot override, BIOS (current and
//! pending), DPU mode, virtual media and SR-IOV capabilities of network adapters.
//!
//! Sources: DMTF ComputerSystem, Bios, Settings (DSP0266 §9.9 "Settings resource"),
//! VirtualMedia, Chassis, NetworkAdapter and NetworkDeviceFunction schemas; NVIDIA BlueField
//! BMC firmware (`NvidiaComputerSystem` OEM resource, `NicMode` BIOS attribute).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::client::{BiosMeta, NvidiaMeta, RedfishClient, lock};
use super::error::RedfishError;
use super::model::{
    Bios, Chassis, Collection, ComputerSystem, Manager, Message, NetworkAdapter,
    NetworkDeviceFunction, NvidiaComputerSystem, ServiceRoot, VirtualMedia, Vlan,
    pending_attributes,
};

/// What [`RedfishClient::read_system`] reads besides power and boot state. Each flag costs
/// requests (see the figures on [`RedfishClient::read_system`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadWant {
    /// BIOS attributes, pending values, apply times, ETags.
    pub bios: bool,
    /// DPU mode of an NVIDIA BlueField (`Oem.Nvidia.Mode`, else, or when that is empty or
    /// not a known mode, the `NicMode` BIOS attribute).
    pub dpu_mode: bool,
    /// Virtual media devices.
    pub virtual_media: bool,
    /// Network adapters and their device functions (SR-IOV).
    pub network_adapters: bool,
}

/// Boot override state of a system (ComputerSystem `Boot`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootState {
    /// `BootSourceOverrideEnabled`: `Disabled`, `Once`, `Continuous`.
    pub override_enabled: Option<String>,
    /// `BootSourceOverrideTarget`, e.g. `None`, `Pxe`, `Hdd`, `UefiHttp`.
    pub override_target: Option<String>,
    /// `BootSourceOverrideMode`: `UEFI` or `Legacy`.
    pub override_mode: Option<String>,
    /// `BootSourceOverrideEnabled@Redfish.AllowableValues` (empty when not advertised).
    pub allowed_enabled: Vec<String>,
    /// `BootSourceOverrideTarget@Redfish.AllowableValues`.
    pub allowed_targets: Vec<String>,
    /// `BootSourceOverrideMode@Redfish.AllowableValues`.
    pub allowed_modes: Vec<String>,
}

/// BIOS state: current attributes and what is pending in the settings object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BiosState {
    /// `@odata.id` of the Bios resource.
    pub path: String,
    /// ETag of the Bios resource.
    pub etag: Option<String>,
    /// `AttributeRegistry` name.
    pub attribute_registry: Option<String>,
    /// Current attribute values.
    pub attributes: BTreeMap<String, Value>,
    /// `@Redfish.Settings.SettingsObject` path (where writes go), if any.
    pub settings_path: Option<String>,
    /// ETag of the settings object.
    pub settings_etag: Option<String>,
    /// Pending values: settings-object attributes that differ from the current ones. Empty
    /// when nothing is pending, and also when the settings object could not be read (then
    /// `pending_unknown` says why).
    pub pending: BTreeMap<String, Value>,
    /// Why the pending values are unknown, when the settings object named by
    /// `@Redfish.Settings` answered 403 or 404, e.g. `HTTP 403 on
    /// /redfish/v1/Systems/1/Bios/Settings`. The current values are still valid; `pending`
    /// is empty and `settings_etag` is `None` then (a later BIOS PATCH is unconditional).
    /// `None` when the settings object was read, or there is none.
    pub pending_unknown: Option<String>,
    /// `@Redfish.Settings.SupportedApplyTimes`, e.g. `["OnReset", "AtMaintenanceWindowStart"]`.
    pub supported_apply_times: Vec<String>,
    /// `@Redfish.SettingsApplyTime.ApplyTime` of the settings object, if present.
    pub apply_time: Option<String>,
    /// `@Redfish.Settings.Messages`: results of the last apply (e.g. `SettingsFailed`).
    pub messages: Vec<Message>,
}

/// Operating mode of an NVIDIA BlueField DPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DpuMode {
    /// DPU mode (the Arm cores own the NIC; `DpuMode`).
    Dpu,
    /// NIC mode (the host owns the NIC; `NicMode`).
    Nic,
}

impl DpuMode {
    /// Parses the Redfish value (`DpuMode`/`NicMode`, case-insensitive; `Dpu`/`Nic` too).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "dpumode" | "dpu" => Some(Self::Dpu),
            "nicmode" | "nic" => Some(Self::Nic),
            _ => None,
        }
    }

    /// The value to write: `DpuMode` or `NicMode`.
    pub fn as_redfish(self) -> &'static str {
        match self {
            Self::Dpu => "DpuMode",
            Self::Nic => "NicMode",
        }
    }
}

/// Where a [`DpuModeState`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpuModeSource {
    /// `Mode` of `/redfish/v1/Systems/<id>/Oem/Nvidia` (BlueField-3 BMC firmware).
    OemNvidia,
    /// The `NicMode` BIOS attribute (BlueField-2).
    BiosNicMode,
}

/// The DPU mode as read, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpuModeState {
    /// Normalized mode; `None` for a value bmfleet does not know (see `raw`).
    pub mode: Option<DpuMode>,
    /// The value as the BMC sent it.
    pub raw: String,
    /// Where it came from.
    pub source: DpuModeSource,
}

/// A NetworkDeviceFunction, reduced to what SR-IOV planning needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFunctionState {
    /// `@odata.id`.
    pub path: String,
    /// `Id`.
    pub id: Option<String>,
    /// ETag.
    pub etag: Option<String>,
    /// `NetDevFuncType`, e.g. `Ethernet`, `Disabled`.
    pub net_dev_func_type: Option<String>,
    /// `MaxVirtualFunctions` (count).
    pub max_virtual_functions: Option<i64>,
    /// `VirtualFunctionsEnabled`.
    pub virtual_functions_enabled: Option<bool>,
    /// `Ethernet.MACAddress`.
    pub mac_address: Option<String>,
    /// `Ethernet.VLAN`.
    pub vlan: Option<Vlan>,
}

/// A NetworkAdapter with the SR-IOV capabilities of its first controller and its functions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkAdapterState {
    /// `@odata.id`.
    pub path: String,
    /// `Id`.
    pub id: Option<String>,
    /// `Manufacturer`.
    pub manufacturer: Option<String>,
    /// `Model`.
    pub model: Option<String>,
    /// `Controllers[0].ControllerCapabilities.VirtualizationOffload.SRIOV.SRIOVVEPACapable`.
    pub sriov_vepa_capable: Option<bool>,
    /// `...VirtualFunction.DeviceMaxCount` (VFs per controller).
    pub vf_device_max_count: Option<i64>,
    /// `...VirtualFunction.MinAssignmentGroupSize` (VFs).
    pub vf_min_assignment_group_size: Option<i64>,
    /// `...VirtualFunction.NetworkPortMaxCount` (VFs per port).
    pub vf_network_port_max_count: Option<i64>,
    /// Device functions, in collection order.
    pub functions: Vec<DeviceFunctionState>,
}

/// The live state of one ComputerSystem, as returned by [`RedfishClient::read_system`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemState {
    /// `Id` of the system, e.g. `System.Embedded.1`.
    pub id: String,
    /// `@odata.id` of the system.
    pub path: String,
    /// ETag of the system resource.
    pub etag: Option<String>,
    /// `PowerState`: `On`, `Off`, `PoweringOn`, `PoweringOff`.
    pub power_state: Option<String>,
    /// Boot override.
    pub boot: BootState,
    /// `ResetType@Redfish.AllowableValues` of `#ComputerSystem.Reset` (empty if not listed).
    pub reset_types: Vec<String>,
    /// BIOS, when asked for.
    pub bios: Option<BiosState>,
    /// DPU mode, when asked for and the system is a BlueField (else `None`): from
    /// `Oem.Nvidia.Mode`, or from the `NicMode` BIOS attribute when that is missing, empty
    /// or unknown (then `source` is [`DpuModeSource::BiosNicMode`]). `mode` is `None` only
    /// when neither gives a known mode.
    pub dpu_mode: Option<DpuModeState>,
    /// Virtual media devices, when asked for.
    pub virtual_media: Option<Vec<VirtualMedia>>,
    /// Network adapters, when asked for.
    pub network_adapters: Option<Vec<NetworkAdapterState>>,
}

impl RedfishClient {
    /// Reads the state of the system named by `system_id` (or the only system).
    ///
    /// Always read: session login (once per client), the ComputerSystem: `PowerState`,
    /// `Boot` and its allowable values, reset types, ETag. The service root is read only when
    /// it is needed (no `system_id`, collection reads, or a session service outside the
    /// well-known DSP0266 path) and then cached.
    ///
    /// Request economy, with `system_id` known and session auth, for `ReadWant { bios: true,
    /// .. }`, logout included: session `POST` (at `/redfish/v1/SessionService/Sessions`),
    /// system `GET`, `Bios` `GET`, settings object `GET`, session `DELETE`: **5 requests on
    /// every vendor**. When the root is already cached and advertises
    /// `ProtocolFeaturesSupported.ExpandQuery` (`ExpandAll` or `NoLinks`), the system `GET`
    /// carries `?$expand=.($levels=1)` and brings `Bios` inline instead. Without `system_id`,
    /// add the root and the Systems collection. `dpu_mode` adds 1 on a
    /// BlueField-3 (`Oem/Nvidia`; +1 `Bios` GET when its `Mode` is empty or unknown and
    /// `bios` is not read), 0 on a BlueField-2 when `bios` is read too; `virtual_media`
    /// adds 1 collection `GET` (+1 per member without `$expand`, +1 for the Manager when the
    /// system has no `VirtualMedia` link); `network_adapters` adds per chassis 1 + 1
    /// collection (+1 per adapter without `$expand`) and per adapter 1 collection (+1 per
    /// function without `$expand`). A retry counts as a request.
    ///
    /// # Errors
    /// [`RedfishError::AmbiguousSystem`] when there is no `system_id` and several systems;
    /// [`RedfishError::NotFound`] for an unknown `system_id` (listing the members) or a
    /// missing `Bios` link when BIOS was asked for; [`RedfishError::Unauthorized`],
    /// [`RedfishError::Forbidden`] (except on the BIOS settings object, whose 403 or 404
    /// only sets [`BiosState::pending_unknown`]),
    /// [`RedfishError::SessionLimit`], [`RedfishError::Parse`], [`RedfishError::HttpStatus`]
    /// and transport errors ([`RedfishError::Tls`], [`RedfishError::Timeout`],
    /// [`RedfishError::Connect`]).
    pub async fn read_system(&self, want: ReadWant) -> Result<SystemState, RedfishError> {
        // Lean path: with a known system id and no collection reads, the service root buys
        // nothing. Without it the BIOS read takes login, system, Bios, settings, logout = 5
        // requests on every vendor; with it, root + login + system($expand) + settings +
        // logout = 5 where `$expand` works and 6 where it does not.
        let lean = self.system_id.is_some() && !want.virtual_media && !want.network_adapters;
        let root = match (lean, self.cached_root()) {
            (_, Some(root)) => root,
            (true, None) => Arc::new(ServiceRoot::default()),
            (false, None) => self.service_root().await?,
        };
        let sys_path = self.system_path(&root).await?;
        let expand = if want.bios {
            Self::expand_query(&root)
        } else {
            None
        };
        let (system, sys_etag) = self.get_system(&sys_path, expand).await?;
        {
            let mut known = lock(&self.known);
            known.system_path = Some(sys_path.clone());
            let mut stripped = system.clone();
            stripped.bios = system
                .bios_path()
                .map(|p| serde_json::json!({ "@odata.id": p }));
            known.system = Some(stripped);
        }
        let inline_bios = if expand.is_some() {
            system.inline_bios()
        } else {
            None
        };
        let collection_expand = Self::expand_query(&root);

        let bios_fut = async {
            if want.bios {
                self.read_bios(&system, inline_bios.clone(), true)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let oem_fut = async {
            if want.dpu_mode {
                self.read_nvidia_mode(&system).await
            } else {
                Ok(None)
            }
        };
        let vm_fut = async {
            if want.virtual_media {
                self.read_virtual_media(&system, collection_expand)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let nic_fut = async {
            if want.network_adapters {
                self.read_network_adapters(&system, collection_expand)
                    .await
                    .map(Some)
            } else {
                Ok(None)
            }
        };
        let (bios, oem_mode, virtual_media, network_adapters) =
            futures::try_join!(bios_fut, oem_fut, vm_fut, nic_fut)?;

        // `Oem.Nvidia.Mode` first; when it is missing or unusable (blind tests found a
        // BlueField BMC reporting ""), the `NicMode` BIOS attribute, which carries the same
        // mode (the BlueField-3 capture has `DpuMode` in both). Planning on an unusable mode
        // would plan a mode change: a DPU reset and a host power cycle for nothing.
        let dpu_mode = match oem_mode {
            Some(oem) if oem.mode.is_some() => Some(oem),
            oem if want.dpu_mode => {
                let from_bios = match &bios {
                    Some(b) => nic_mode_state(&b.attributes),
                    None if system.bios_path().is_some() => {
                        match self.read_bios(&system, inline_bios, false).await {
                            Ok(b) => nic_mode_state(&b.attributes),
                            // The OEM answer stands (unusable, and reported as such) when the
                            // BIOS cannot be read either.
                            Err(e) if oem.is_some() => {
                                tracing::warn!(host = %self.label, error = %e,
                                    "cannot read the BIOS for the NicMode fallback");
                                None
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    None => None,
                };
                match (oem, from_bios) {
                    (Some(oem), Some(nic)) if nic.mode.is_some() => {
                        tracing::warn!(host = %self.label, oem_mode = %oem.raw,
                            nic_mode = %nic.raw,
                            "Oem.Nvidia.Mode is not a mode bmfleet knows; using the NicMode BIOS attribute");
                        Some(nic)
                    }
                    (Some(oem), _) => Some(oem),
                    (None, nic) => nic,
                }
            }
            other => other,
        };

        let boot = system.boot.clone().unwrap_or_default();
        Ok(SystemState {
            id: system.id.clone().unwrap_or_default(),
            path: system.odata_id.clone().unwrap_or(sys_path),
            etag: sys_etag,
            power_state: system.power_state.clone(),
            boot: BootState {
                override_enabled: boot.boot_source_override_enabled,
                override_target: boot.boot_source_override_target,
                override_mode: boot.boot_source_override_mode,
                allowed_enabled: boot.boot_source_override_enabled_allowable,
                allowed_targets: boot.boot_source_override_target_allowable,
                allowed_modes: boot.boot_source_override_mode_allowable,
            },
            reset_types: system
                .reset_action()
                .map(|a| a.allowable_values("ResetType"))
                .unwrap_or_default(),
            bios,
            dpu_mode,
            virtual_media,
            network_adapters,
        })
    }

    /// Path of the managed system: `Systems/<system_id>`, or the only member of the Systems
    /// collection (1 extra request). Cached after the first call.
    pub(crate) async fn system_path(&self, root: &ServiceRoot) -> Result<String, RedfishError> {
        if let Some(p) = lock(&self.known).system_path.clone() {
            return Ok(p);
        }
        let systems = root
            .systems
            .as_ref()
            .and_then(|l| l.path())
            .map(String::from)
            .unwrap_or_else(|| self.endpoint_path("redfish/v1/Systems"));
        if let Some(id) = &self.system_id {
            return Ok(format!("{}/{}", systems.trim_end_matches('/'), id));
        }
        let (coll, _) = self.get::<Collection>(&systems).await?;
        let members = coll.member_ids();
        let url = self.link_url(&systems)?.to_string();
        match members.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(RedfishError::NotFound {
                host: self.label.clone(),
                url,
                what: "ComputerSystem".into(),
                details: Box::default(),
                help: format!(
                    "the Systems collection of {} is empty; the BMC may still be booting",
                    self.label
                ),
            }),
            _ => Err(RedfishError::AmbiguousSystem {
                host: self.label.clone(),
                url,
                members,
            }),
        }
    }

    /// GET the system, with `$expand` when given; falls back to a plain GET when the service
    /// rejects the query (400/405/501). A 404 with a `system_id` lists the existing systems.
    async fn get_system(
        &self,
        path: &str,
        expand: Option<&str>,
    ) -> Result<(ComputerSystem, Option<String>), RedfishError> {
        let url = self.link_url(path)?;
        let result = match expand {
            Some(q) => {
                let mut expanded = url.clone();
                expanded.set_query(Some(q));
                match self.get_url(expanded, false).await {
                    Err(e) if matches!(e.status(), Some(400 | 405 | 501)) => {
                        tracing::info!(host = %self.label, "$expand rejected; reading without it");
                        self.get_url(url.clone(), true).await
                    }
                    other => other,
                }
            }
            None => self.get_url(url.clone(), true).await,
        };
        let (value, etag) = match result {
            Ok(ok) => ok,
            Err(RedfishError::NotFound { details, .. }) if self.system_id.is_some() => {
                return Err(self.unknown_system_error(&url, details).await);
            }
            Err(e) => return Err(e),
        };
        let system: ComputerSystem = self.decode(&url, value)?;
        Ok((system, etag))
    }

    async fn unknown_system_error(
        &self,
        url: &Url,
        details: Box<super::error::ErrorDetails>,
    ) -> RedfishError {
        let id = self.system_id.clone().unwrap_or_default();
        let listed = match self.service_root().await {
            Ok(root) => {
                let systems = root
                    .systems
                    .as_ref()
                    .and_then(|l| l.path())
                    .map(String::from)
                    .unwrap_or_else(|| self.endpoint_path("redfish/v1/Systems"));
                match self.get::<Collection>(&systems).await {
                    Ok((c, _)) => c
                        .member_ids()
                        .iter()
                        .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    Err(_) => String::from("(could not list them)"),
                }
            }
            Err(_) => String::from("(could not list them)"),
        };
        RedfishError::NotFound {
            host: self.label.clone(),
            url: url.to_string(),
            what: format!("ComputerSystem '{id}'"),
            details,
            help: format!(
                "set systemId of {} to one of the systems the BMC lists: {listed}",
                self.label
            ),
        }
    }

    /// Reads the Bios (inline or by GET) and, when `with_settings`, its settings object.
    async fn read_bios(
        &self,
        system: &ComputerSystem,
        inline: Option<Bios>,
        with_settings: bool,
    ) -> Result<BiosState, RedfishError> {
        let sys_path = system.odata_id.clone().unwrap_or_default();
        let Some(bios_path) = system.bios_path().map(String::from) else {
            return Err(RedfishError::NotFound {
                host: self.label.clone(),
                url: self
                    .link_url(&sys_path)
                    .map(|u| u.to_string())
                    .unwrap_or(sys_path),
                what: "Bios link of the ComputerSystem".into(),
                details: Box::default(),
                help: format!(
                    "the BMC at {} does not expose BIOS settings over Redfish; update its firmware or drop bios from the spec",
                    self.label
                ),
            });
        };
        let (bios, etag) = match inline {
            Some(b) => {
                let etag = b.odata_etag.clone();
                self.remember_etag(&self.link_url(&bios_path)?, etag.clone());
                (b, etag)
            }
            None => {
                let url = self.link_url(&bios_path)?;
                let (value, etag) = self.get_url(url.clone(), true).await?;
                (self.decode::<Bios>(&url, value)?, etag)
            }
        };
        let settings = bios.redfish_settings.clone().unwrap_or_default();
        let settings_path = settings
            .settings_object
            .as_ref()
            .and_then(|l| l.path())
            .map(String::from);
        let mut state = BiosState {
            path: bios.odata_id.clone().unwrap_or(bios_path.clone()),
            etag,
            attribute_registry: bios.attribute_registry.clone(),
            attributes: bios.attributes.clone(),
            settings_path: settings_path.clone(),
            supported_apply_times: settings.supported_apply_times.clone(),
            messages: settings.messages.clone(),
            ..BiosState::default()
        };
        lock(&self.known).bios = Some(BiosMeta {
            path: bios_path,
            settings_path: settings_path.clone(),
            supported_apply_times: settings.supported_apply_times,
        });
        if with_settings && let Some(sp) = settings_path {
            let url = self.link_url(&sp)?;
            match self.get_url(url.clone(), true).await {
                Ok((value, etag)) => {
                    let pending: Bios = self.decode(&url, value)?;
                    state.pending = pending_attributes(&state.attributes, &pending.attributes);
                    state.apply_time = pending.settings_apply_time.and_then(|a| a.apply_time);
                    state.settings_etag = etag;
                }
                // The current values stay usable; what is pending is unknown. A 404 may mean
                // "nothing pending" (BMCs that create the object only while something is
                // staged) or a broken link; the two cannot be told apart.
                Err(e @ (RedfishError::NotFound { .. } | RedfishError::Forbidden { .. })) => {
                    let status = e.status().unwrap_or(404);
                    tracing::warn!(host = %self.label, url = %url, error = %e,
                        "BIOS settings object unreadable; pending values unknown");
                    state.pending_unknown = Some(format!("HTTP {status} on {sp}"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(state)
    }

    /// `Oem.Nvidia.Mode` of a BlueField-3 system: inline, or by GET of the `Oem/Nvidia`
    /// link. `None` when the system has no `Oem.Nvidia`, or the resource is missing (404) or
    /// has no `Mode`.
    async fn read_nvidia_mode(
        &self,
        system: &ComputerSystem,
    ) -> Result<Option<DpuModeState>, RedfishError> {
        let Some(oem) = system.oem_nvidia() else {
            return Ok(None);
        };
        let from = |raw: &str| DpuModeState {
            mode: DpuMode::parse(raw),
            raw: raw.to_string(),
            source: DpuModeSource::OemNvidia,
        };
        let link = oem
            .get("@odata.id")
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(raw) = oem.get("Mode").and_then(Value::as_str) {
            if let Some(l) = &link {
                lock(&self.known).nvidia = Some(NvidiaMeta {
                    oem_path: l.clone(),
                    mode_set_target: None,
                });
            }
            return Ok(Some(from(raw)));
        }
        let Some(link) = link else {
            return Ok(None);
        };
        match self.get::<NvidiaComputerSystem>(&link).await {
            Ok((nv, _)) => {
                lock(&self.known).nvidia = Some(NvidiaMeta {
                    oem_path: link,
                    mode_set_target: nv.mode_set_action().and_then(|a| a.target),
                });
                Ok(nv.mode.as_deref().map(from))
            }
            Err(RedfishError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn read_virtual_media(
        &self,
        system: &ComputerSystem,
        expand: Option<&'static str>,
    ) -> Result<Vec<VirtualMedia>, RedfishError> {
        let mut coll = system
            .virtual_media
            .as_ref()
            .and_then(|l| l.path())
            .map(String::from);
        if coll.is_none() {
            let manager = system
                .links
                .as_ref()
                .and_then(|l| l.managed_by.first())
                .and_then(|l| l.path())
                .map(String::from);
            if let Some(m) = manager {
                let (mgr, _) = self.get::<Manager>(&m).await?;
                coll = mgr
                    .virtual_media
                    .as_ref()
                    .and_then(|l| l.path())
                    .map(String::from);
            }
        }
        let Some(coll) = coll else {
            return Ok(Vec::new());
        };
        Ok(self
            .collection_members::<VirtualMedia>(&coll, expand)
            .await?
            .into_iter()
            .map(|(_, vm, _)| vm)
            .collect())
    }

    async fn read_network_adapters(
        &self,
        system: &ComputerSystem,
        expand: Option<&'static str>,
    ) -> Result<Vec<NetworkAdapterState>, RedfishError> {
        let chassis: Vec<String> = system
            .links
            .as_ref()
            .map(|l| {
                l.chassis
                    .iter()
                    .filter_map(|c| c.path())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let per_chassis = try_join_all(chassis.iter().map(|c| async move {
            let (ch, _) = self.get::<Chassis>(c).await?;
            let Some(na) = ch
                .network_adapters
                .as_ref()
                .and_then(|l| l.path())
                .map(String::from)
            else {
                return Ok::<_, RedfishError>(Vec::new());
            };
            let adapters = self
                .collection_members::<NetworkAdapter>(&na, expand)
                .await?;
            try_join_all(adapters.into_iter().map(|(path, adapter, _)| async move {
                let functions = match adapter
                    .network_device_functions
                    .as_ref()
                    .and_then(|l| l.path())
                {
                    Some(f) => self
                        .collection_members::<NetworkDeviceFunction>(f, expand)
                        .await?
                        .into_iter()
                        .map(|(path, f, etag)| function_state(path, f, etag))
                        .collect(),
                    None => Vec::new(),
                };
                Ok::<_, RedfishError>(adapter_state(path, &adapter, functions))
            }))
            .await
        }))
        .await?;
        Ok(per_chassis.into_iter().flatten().collect())
    }

    /// Members of a collection as `(path, T, etag)`, in collection order: with `$expand`
    /// when supported (members inline, 1 request), otherwise 1 GET per member (concurrent,
    /// bounded by the per-BMC limit). Follows `Members@odata.nextLink` pages.
    pub(crate) async fn collection_members<T: DeserializeOwned>(
        &self,
        path: &str,
        expand: Option<&str>,
    ) -> Result<Vec<(String, T, Option<String>)>, RedfishError> {
        let mut raw_members: Vec<Value> = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0;
        while let Some(page) = next.take() {
            pages += 1;
            let url = self.link_url(&page)?;
            let value = match expand {
                Some(q) if pages == 1 => {
                    let mut expanded = url.clone();
                    expanded.set_query(Some(q));
                    match self.get_url(expanded, false).await {
                        Err(e) if matches!(e.status(), Some(400 | 405 | 501)) => {
                            self.get_url(url.clone(), true).await?.0
                        }
                        other => other?.0,
                    }
                }
                _ => self.get_url(url.clone(), true).await?.0,
            };
            let coll: Collection = self.decode(&url, value)?;
            raw_members.extend(coll.members);
            // Guard against a BMC whose nextLink loops.
            if pages < 64 {
                next = coll.next_link.filter(|n| !n.trim().is_empty());
            }
        }
        try_join_all(raw_members.into_iter().map(|m| async move {
            let path = m
                .get("@odata.id")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_default();
            let inline = m
                .as_object()
                .is_some_and(|o| o.keys().any(|k| k != "@odata.id"));
            if inline {
                let url = self.link_url(&path)?;
                let etag = m
                    .get("@odata.etag")
                    .and_then(Value::as_str)
                    .map(String::from);
                self.remember_etag(&url, etag.clone());
                let typed: T = self.decode(&url, m)?;
                Ok((path, typed, etag))
            } else {
                let url = self.link_url(&path)?;
                let (value, etag) = self.get_url(url.clone(), true).await?;
                let typed: T = self.decode(&url, value)?;
                Ok((path, typed, etag))
            }
        }))
        .await
    }
}

/// The DPU mode from the `NicMode` BIOS attribute, if it is a string.
fn nic_mode_state(attributes: &BTreeMap<String, Value>) -> Option<DpuModeState> {
    let raw = attributes.get("NicMode")?.as_str()?.to_string();
    Some(DpuModeState {
        mode: DpuMode::parse(&raw),
        raw,
        source: DpuModeSource::BiosNicMode,
    })
}

fn function_state(
    path: String,
    f: NetworkDeviceFunction,
    etag: Option<String>,
) -> DeviceFunctionState {
    let eth = f.ethernet.unwrap_or_default();
    DeviceFunctionState {
        path,
        id: f.id,
        etag,
        net_dev_func_type: f.net_dev_func_type,
        max_virtual_functions: f.max_virtual_functions,
        virtual_functions_enabled: f.virtual_functions_enabled,
        mac_address: eth.mac_address,
        vlan: eth.vlan,
    }
}

fn adapter_state(
    path: String,
    a: &NetworkAdapter,
    functions: Vec<DeviceFunctionState>,
) -> NetworkAdapterState {
    let offload = a
        .controllers
        .first()
        .and_then(|c| c.controller_capabilities.as_ref())
        .and_then(|c| c.virtualization_offload.clone())
        .unwrap_or_default();
    let vf = offload.virtual_function.unwrap_or_default();
    NetworkAdapterState {
        path,
        id: a.id.clone(),
        manufacturer: a.manufacturer.clone(),
        model: a.model.clone(),
        sriov_vepa_capable: offload.sriov.and_then(|s| s.sriov_vepa_capable),
        vf_device_max_count: vf.device_max_count,
        vf_min_assignment_group_size: vf.min_assignment_group_size,
        vf_network_port_max_count: vf.network_port_max_count,
        functions,
    }
}
