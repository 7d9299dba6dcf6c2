//! The OS provider: reading and applying operating-system state over SSH (kernel arguments,
//! hugepages, sysctl and sysfs tunables, vfio bindings, nmstate network state, cloud-init
//! NoCloud seeds).
//!
//! Reading is wired in: [`provider::OsProvider`] implements the engine's provider boundary
//! (one probe per host per run) and [`observe`] turns a probe into the planner's
//! observations. Applying OS steps is not implemented yet.
//!
//! - [`provider`]: the [`crate::engine::Provider`] for the OS kinds;
//! - [`observe`]: a [`probe::Probe`] to observations, with nmstate's comparison rule;
//! - [`transport`]: runs a script on a host through the system OpenSSH client (host-key
//!   checking on, one multiplexed connection per host) or locally against a sysroot directory;
//! - [`probe`]: the POSIX-sh probe (`src/os/probe.sh`) that reads a host's OS state in one
//!   round trip, and the typed [`probe::Probe`] parsed from its JSON;
//! - [`iproute`]: typed links (bonds, VLANs, VFs), addresses and routes from iproute2's JSON;
//! - [`resolv`]: the resolver configuration (resolv.conf(5), systemd-resolved).

pub mod iproute;
pub mod network;
pub mod observe;
pub mod probe;
pub mod provider;
pub mod resolv;
pub mod transport;
pub mod write;
