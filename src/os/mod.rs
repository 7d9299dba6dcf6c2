//! The OS provider: reading and applying operating-system state over SSH (kernel arguments,
//! hugepages, sysctl and sysfs tunables, vfio bindings, nmstate network state, cloud-init
//! NoCloud seeds).
//!
//! Not implemented in this release: the planner lists every OS-side resource of a host as
//! *not refreshed* (`Unobserved`) instead of guessing, and `bmfleet diff` covers OS settings
//! from the specs alone. The provider plugs into the same plan through
//! [`crate::plan::observed`] when it lands.

pub mod iproute;
pub mod probe;
pub mod transport;
