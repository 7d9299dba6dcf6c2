//! The OS provider: reading and applying operating-system state over SSH (kernel arguments,
//! hugepages, sysctl and sysfs tunables, vfio bindings, nmstate network state, cloud-init
//! NoCloud seeds).
//!
//! Not implemented in this release: the planner lists every OS-side resource of a host as
//! *not refreshed* (`Unobserved`) instead of guessing, and `bmfleet diff` covers OS settings
//! from the specs alone. The provider plugs into the same plan through
//! [`crate::plan::observed`] when it lands.
//!
//! Building blocks present so far (not yet wired into the planner, engine or CLI):
//!
//! - [`transport`]: runs a script on a host through the system OpenSSH client (host-key
//!   checking on, one multiplexed connection per host) or locally against a sysroot directory;
//! - [`probe`]: the POSIX-sh probe (`src/os/probe.sh`) that reads a host's OS state in one
//!   round trip, and the typed [`probe::Probe`] parsed from its JSON;
//! - [`iproute`]: typed links (bonds, VLANs, VFs) and addresses from iproute2's JSON.

pub mod iproute;
pub mod probe;
pub mod transport;
