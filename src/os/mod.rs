//! The OS provider: reading and applying operating-system state over SSH (kernel arguments,
//! hugepages, sysctl and sysfs tunables, vfio bindings, nmstate network state, cloud-init
//! NoCloud seeds).
//!
//! [`provider::OsProvider`] implements the engine's provider boundary: one probe per host per
//! run for reading ([`observe`] turns it into the planner's observations), one script per step
//! for writing ([`write`], and [`network`] for network state with lock-out protection), and
//! `await-os` after a reset.
//!
//! - [`provider`]: the [`crate::engine::Provider`] for the OS kinds;
//! - [`observe`]: a [`probe::Probe`] to observations, with nmstate's comparison rule;
//! - [`transport`]: runs a script on a host through the system OpenSSH client (host-key
//!   checking on, one multiplexed connection per host) or locally against a sysroot directory;
//! - [`probe`]: the POSIX-sh probe (`src/os/probe.sh`) that reads a host's OS state in one
//!   round trip, and the typed [`probe::Probe`] parsed from its JSON;
//! - [`iproute`]: typed links (bonds, VLANs, VFs), addresses and routes from iproute2's JSON;
//! - [`resolv`]: the resolver configuration (resolv.conf(5), systemd-resolved);
//! - [`write`]: sysctl, sysfs, tunables, SR-IOV, hugepages, kernel args, vfio and cloud-init
//!   steps through `src/os/write.sh`;
//! - [`network`]: network steps (interfaces, routes, DNS) through the backend that manages the
//!   host's interfaces.

pub mod iproute;
pub mod network;
pub mod observe;
pub mod probe;
pub mod provider;
pub mod resolv;
pub mod transport;
pub mod write;
