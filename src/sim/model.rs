//! The simulated fleet's configuration: hosts, their DPUs, fault injection and timing.
//!
//! These types are deliberately independent of [`crate::spec`]: the spec describes *desired*
//! state, this describes what a simulated BMC *currently* reports. An adapter from specs to
//! [`SimFleetConfig`] lives elsewhere.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// BMC vendor whose behaviour a simulated host imitates.
///
/// The vendor decides resource ids, ETag style, whether `$expand` is advertised, the pending
/// settings object's URI and contents, and `If-Match` rules:
///
/// | | `Dell` (iDRAC9) | `Lenovo` (XCC) | `Generic` (DMTF mockup) |
/// |---|---|---|---|
/// | Manager id | `iDRAC.Embedded.1` | `1` | `BMC` |
/// | BIOS settings object | `Bios/Settings`, changed attributes only | `Bios/Pending`, every writable attribute | `Bios/Settings`, changed attributes only |
/// | ETag | `ETag` header only (iDRAC bodies carry no `@odata.etag`) | header and `@odata.etag`, 22 hex digits | header and `@odata.etag`, 16 hex digits |
/// | `ProtocolFeaturesSupported.ExpandQuery` | absent (`$expand` gets 501, DSP0266 "Query parameters") | advertised, `MaxLevels` 1 | advertised, `MaxLevels` 1 |
/// | PATCH without `If-Match` | accepted | 428 `PreconditionRequired` | accepted |
/// | POST action with `If-Match` | 412 `PreconditionFailed` | accepted | accepted |
///
/// Sources: the iDRAC9, XCC and DMTF payloads in `shared/fixtures/redfish/` (see its
/// `PROVENANCE.md`) and ironic's `redfish/bios.py` note that the pending area holds only changed
/// attributes on Dell but every writable attribute on Lenovo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Vendor {
    /// Dell iDRAC9 (PowerEdge).
    Dell,
    /// Lenovo XClarity Controller (ThinkSystem).
    Lenovo,
    /// A vendor-neutral service shaped like the DMTF `public-rackmount1` mockup (DSP2043).
    Generic,
}

impl Vendor {
    /// The usual `ComputerSystem` id of this vendor: `System.Embedded.1` (Dell), `1` (Lenovo),
    /// `437XR1138R2` (the DMTF mockup's id, Generic).
    pub fn default_system_id(self) -> &'static str {
        match self {
            Vendor::Dell => "System.Embedded.1",
            Vendor::Lenovo => "1",
            Vendor::Generic => "437XR1138R2",
        }
    }

    /// The `Manager` id of this vendor's BMC: `iDRAC.Embedded.1`, `1` or `BMC`.
    pub fn manager_id(self) -> &'static str {
        match self {
            Vendor::Dell => "iDRAC.Embedded.1",
            Vendor::Lenovo => "1",
            Vendor::Generic => "BMC",
        }
    }

    /// Factory credentials `(user, password)`: `root`/`calvin` (iDRAC), `USERID`/`PASSW0RD`
    /// (XCC), `admin`/`password` (Generic). Simulated values, never real secrets.
    pub fn default_credentials(self) -> (&'static str, &'static str) {
        match self {
            Vendor::Dell => ("root", "calvin"),
            Vendor::Lenovo => ("USERID", "PASSW0RD"),
            Vendor::Generic => ("admin", "password"),
        }
    }

    /// A small but realistic set of BIOS attributes with this vendor's names and values (taken
    /// from the attribute names in the iDRAC9, XCC and DMTF fixtures).
    pub fn default_bios(self) -> BTreeMap<String, Value> {
        let pairs: Vec<(&str, Value)> = match self {
            Vendor::Dell => vec![
                ("AcPwrRcvryUserDelay", json!(120)),
                ("BootMode", json!("Uefi")),
                ("LogicalProc", json!("Enabled")),
                ("MemTest", json!("Disabled")),
                ("ProcCStates", json!("Disabled")),
                ("ProcTurboMode", json!("Enabled")),
                ("ProcVirtualization", json!("Enabled")),
                ("SriovGlobalEnable", json!("Enabled")),
                ("SysProfile", json!("PerfOptimized")),
            ],
            Vendor::Lenovo => vec![
                ("BootModes_SystemBootMode", json!("UEFIMode")),
                ("DevicesandIOPorts_SRIOV", json!("Enabled")),
                ("Memory_MemorySpeed", json!("MaximumPerformance")),
                (
                    "OperatingModes_ChooseOperatingMode",
                    json!("Efficiency_FavorPerformance"),
                ),
                ("Processors_CStates", json!("Autonomous")),
                ("Processors_HyperThreading", json!("Enabled")),
                ("Processors_IntelVirtualizationTechnology", json!("Enabled")),
                ("Processors_TurboMode", json!("Enabled")),
                ("SystemRecovery_POSTWatchdogTimerValue", json!(5)),
            ],
            Vendor::Generic => vec![
                ("AdminPhone", json!("")),
                ("BootMode", json!("Uefi")),
                ("EmbeddedSata", json!("Raid")),
                ("PowerProfile", json!("MaxPerf")),
                ("ProcCoreDisable", json!(0)),
                ("ProcHyperthreading", json!("Enabled")),
                ("ProcTurboMode", json!("Enabled")),
                ("UsbControl", json!("UsbEnabled")),
            ],
        };
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Vendor::Dell => "Dell",
            Vendor::Lenovo => "Lenovo",
            Vendor::Generic => "Generic",
        })
    }
}

/// `ComputerSystem.PowerState` (DMTF `Resource.PowerState`).
///
/// A configuration uses only `On` or `Off`; the transitional values are what the simulator
/// reports while a reset is in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
    /// Transitioning to on.
    PoweringOn,
    /// Transitioning to off.
    PoweringOff,
}

impl PowerState {
    /// The Redfish string: `"On"`, `"Off"`, `"PoweringOn"` or `"PoweringOff"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "On",
            PowerState::Off => "Off",
            PowerState::PoweringOn => "PoweringOn",
            PowerState::PoweringOff => "PoweringOff",
        }
    }
}

/// `ComputerSystem.Boot` one-time/continuous boot override (DMTF `ComputerSystem` schema,
/// `BootSourceOverrideEnabled` and `BootSourceOverrideTarget`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootOverride {
    /// `"Disabled"`, `"Once"` or `"Continuous"` (Lenovo XCC allows only `Disabled`/`Once`).
    pub enabled: String,
    /// `"None"`, `"Pxe"`, `"Hdd"`, `"Cd"`, `"UefiHttp"`, ... (per-vendor allowable values).
    pub target: String,
}

impl Default for BootOverride {
    /// No override: `Disabled` / `None`.
    fn default() -> Self {
        Self {
            enabled: "Disabled".to_owned(),
            target: "None".to_owned(),
        }
    }
}

/// Operating mode of an NVIDIA BlueField DPU (`Oem.Nvidia.Mode` on BF3, BIOS attribute
/// `NicMode` on BF2), as in NVIDIA's BlueField BMC "Modes of Operation Configuration".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DpuMode {
    /// DPU (embedded function) mode: the Arm cores own the NIC.
    DpuMode,
    /// NIC mode: the DPU behaves as a plain ConnectX NIC.
    NicMode,
}

impl DpuMode {
    /// The Redfish string, `"DpuMode"` or `"NicMode"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DpuMode::DpuMode => "DpuMode",
            DpuMode::NicMode => "NicMode",
        }
    }

    /// Parses `"DpuMode"` / `"NicMode"`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "DpuMode" => Some(DpuMode::DpuMode),
            "NicMode" => Some(DpuMode::NicMode),
            _ => None,
        }
    }
}

/// BlueField generation. It decides how the mode is changed: BF3 through the
/// `Oem/Nvidia/Actions/Mode.Set` action, BF2 through the DPU BIOS attribute `NicMode` (NVIDIA
/// libredfish `src/nvidia_dpu.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DpuGeneration {
    /// BlueField-2.
    Bf2,
    /// BlueField-3.
    Bf3,
}

/// A BlueField DPU in a host, served under `/h/{host}/dpu/redfish/v1`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimDpuConfig {
    /// The DPU's `ComputerSystem` id, normally `"Bluefield"`.
    pub system_id: String,
    /// Current operating mode. It is also what the DPU BIOS attribute `NicMode` reports.
    pub mode: DpuMode,
    /// BF2 or BF3.
    pub generation: DpuGeneration,
    /// Current DPU BIOS attributes (the `NicMode` entry, if any, is always rendered from
    /// [`SimDpuConfig::mode`]).
    pub bios: BTreeMap<String, Value>,
}

impl SimDpuConfig {
    /// A DPU of the given generation in `DpuMode`, with BIOS attributes from the BlueField-3
    /// capture in `shared/fixtures/redfish/nvidia-bluefield3/Bios-Bluefield.json`.
    pub fn new(generation: DpuGeneration) -> Self {
        let bios = [
            ("EnableSMMU", json!(true)),
            ("HostPrivilegeLevel", json!("Restricted")),
            ("L3CachePartitionLevel", json!(0)),
            ("NicMode", json!("DpuMode")),
            ("SPCR_UART", json!("Disabled")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Self {
            system_id: "Bluefield".to_owned(),
            mode: DpuMode::DpuMode,
            generation,
            bios,
        }
    }
}

/// One simulated host: its BMC's current state and, optionally, a DPU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimHostConfig {
    /// Host name; the URL path segment `/h/{name}/...`. Must be non-empty and must not contain
    /// `/`, `?`, `#` or `%`.
    pub name: String,
    /// The host `ComputerSystem` id, e.g. `"System.Embedded.1"`.
    pub system_id: String,
    /// Which BMC the host imitates.
    pub vendor: Vendor,
    /// `On` or `Off` (transitional values are accepted but treated as their end state).
    pub power: PowerState,
    /// `Boot.BootSourceOverrideMode`: `"UEFI"` or `"Legacy"`.
    pub boot_mode: String,
    /// `Boot.BootSourceOverrideEnabled` / `BootSourceOverrideTarget`.
    pub boot_override: BootOverride,
    /// Current BIOS attributes (`/Bios`). Only these names are accepted by a BIOS PATCH.
    pub bios: BTreeMap<String, Value>,
    /// BIOS attributes already staged in the settings object, applied at the next reset (as if
    /// someone had PATCHed without rebooting). Usually empty.
    #[serde(default)]
    pub pending_bios: BTreeMap<String, Value>,
    /// The DPU, if the host has one.
    #[serde(default)]
    pub dpu: Option<SimDpuConfig>,
    /// BMC user name (also used by the DPU BMC).
    pub username: String,
    /// BMC password (simulated; also used by the DPU BMC).
    pub password: String,
}

impl SimHostConfig {
    /// A powered-on host of `vendor` with that vendor's system id, default BIOS attributes and
    /// factory credentials, no boot override, no DPU.
    pub fn new(name: impl Into<String>, vendor: Vendor) -> Self {
        let (user, pass) = vendor.default_credentials();
        Self {
            name: name.into(),
            system_id: vendor.default_system_id().to_owned(),
            vendor,
            power: PowerState::On,
            boot_mode: "UEFI".to_owned(),
            boot_override: BootOverride::default(),
            bios: vendor.default_bios(),
            pending_bios: BTreeMap::new(),
            dpu: None,
            username: user.to_owned(),
            password: pass.to_owned(),
        }
    }

    /// Builder: adds a DPU.
    pub fn with_dpu(mut self, dpu: SimDpuConfig) -> Self {
        self.dpu = Some(dpu);
        self
    }
}

/// Per-request latency: `base_ms` plus a random jitter, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Fixed delay added to every request, in milliseconds.
    pub base_ms: u64,
    /// Random extra delay.
    pub jitter: Jitter,
}

impl Latency {
    /// No delay at all.
    pub const NONE: Latency = Latency {
        base_ms: 0,
        jitter: Jitter::None,
    };

    /// A fixed delay of `ms` milliseconds (the benchmark uses 50).
    pub fn fixed(ms: u64) -> Self {
        Self {
            base_ms: ms,
            jitter: Jitter::None,
        }
    }
}

impl Default for Latency {
    fn default() -> Self {
        Self::NONE
    }
}

/// Random part of a [`Latency`], drawn from the seeded per-request generator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Jitter {
    /// No jitter.
    None,
    /// Uniform in `0..=max_ms` milliseconds.
    Uniform {
        /// Upper bound, in milliseconds.
        max_ms: u64,
    },
    /// Exponential with mean `mean_ms`, truncated at `max_ms` (so a request is never delayed
    /// without bound), in milliseconds.
    Exponential {
        /// Mean, in milliseconds.
        mean_ms: u64,
        /// Cap, in milliseconds.
        max_ms: u64,
    },
}

/// How a host fails as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostFailure {
    /// The BMC accepts the connection but answers only after [`Faults::hang_ms`] (bounded),
    /// with 503: a client with a shorter timeout sees a timeout.
    Timeout,
    /// The BMC cannot be reached: [`SimHandle::endpoint`](super::SimHandle::endpoint) points at
    /// a port that accepts connections and resets them at once, and the host's prefix on the
    /// main port answers 404 for every path.
    Unreachable,
}

/// Fault settings for a named subset of hosts; `None` fields keep the fleet-wide value.
/// When several entries name the same host, later entries win field by field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HostFaults {
    /// Host names this entry applies to.
    pub hosts: Vec<String>,
    /// Latency for these hosts.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// Error rate for these hosts (0.0 to 1.0).
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Session limit per BMC for these hosts.
    #[serde(default)]
    pub session_limit: Option<usize>,
    /// Whole-host failure.
    #[serde(default)]
    pub failure: Option<HostFailure>,
}

/// Fault injection for the whole fleet. All random choices come from a ChaCha8 generator keyed
/// by `(seed, host index, the host's request number)`, so a client that sends the same
/// requests per host sees the same faults, whatever the interleaving across hosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Seed of every random choice (latency jitter, injected errors, session tokens).
    pub seed: u64,
    /// Latency added to every request.
    pub latency: Latency,
    /// Probability (0.0 to 1.0) that a request fails before it is processed, with 500
    /// `InternalError` or 503 `ServiceTemporarilyUnavailable` + `Retry-After` (half each).
    /// A failed request changes nothing.
    pub error_rate: f64,
    /// `Retry-After` of injected 503 responses, in seconds.
    pub retry_after_secs: u32,
    /// Maximum concurrent sessions per BMC (host BMC and DPU BMC each); one more gets 503
    /// (iDRAC `RAC0218`, `Base.SessionLimitExceeded` elsewhere). iDRAC9 allows 8.
    pub session_limit: usize,
    /// How long a [`HostFailure::Timeout`] host holds a request before answering 503, in
    /// milliseconds. Cut short when the server shuts down.
    pub hang_ms: u64,
    /// Send weak ETags (`W/"..."`), as some BMCs do. `If-Match` still compares the opaque
    /// part, as those BMCs do.
    pub weak_etags: bool,
    /// Per-host overrides.
    pub overrides: Vec<HostFaults>,
}

impl Default for Faults {
    /// No latency, no errors, 8 sessions, 120,000 ms hang, strong ETags, seed 0.
    fn default() -> Self {
        Self {
            seed: 0,
            latency: Latency::NONE,
            error_rate: 0.0,
            retry_after_secs: 5,
            session_limit: 8,
            hang_ms: 120_000,
            weak_etags: false,
            overrides: Vec::new(),
        }
    }
}

/// Durations of simulated operations, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// Host restart, power cycle or power-on, from POST to `Completed`. Default 3,000 ms.
    pub reset_ms: u64,
    /// Host `ForceOff` / `GracefulShutdown`. Default 1,000 ms.
    pub power_off_ms: u64,
    /// DPU (Arm cores) reset. Default 3,000 ms.
    pub dpu_reset_ms: u64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            reset_ms: 3_000,
            power_off_ms: 1_000,
            dpu_reset_ms: 3_000,
        }
    }
}

impl Timing {
    /// Every operation takes `ms` milliseconds (handy in tests).
    pub fn uniform(ms: u64) -> Self {
        Self {
            reset_ms: ms,
            power_off_ms: ms,
            dpu_reset_ms: ms,
        }
    }
}

/// Everything needed to start a [`SimServer`](super::SimServer).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimFleetConfig {
    /// The hosts, served in this order (names must be unique).
    pub hosts: Vec<SimHostConfig>,
    /// Fault injection.
    #[serde(default)]
    pub faults: Faults,
    /// Operation durations.
    #[serde(default)]
    pub timing: Timing,
}

impl SimFleetConfig {
    /// A synthetic fleet of `count` hosts named `r{rack}-n{node:02}` (32 nodes per rack, both
    /// from 1), cycling through Dell, Lenovo and Generic; every fourth host has a DPU
    /// (alternating BF3 and BF2). Default faults and timing. Deterministic.
    pub fn generated(count: usize) -> Self {
        let vendors = [Vendor::Dell, Vendor::Lenovo, Vendor::Generic];
        let hosts = (0..count)
            .map(|i| {
                let name = format!("r{}-n{:02}", i / 32 + 1, i % 32 + 1);
                let mut host = SimHostConfig::new(name, vendors[i % vendors.len()]);
                if i % 4 == 0 {
                    let generation = if i % 8 == 0 {
                        DpuGeneration::Bf3
                    } else {
                        DpuGeneration::Bf2
                    };
                    host.dpu = Some(SimDpuConfig::new(generation));
                }
                host
            })
            .collect();
        Self {
            hosts,
            faults: Faults::default(),
            timing: Timing::default(),
        }
    }
}
