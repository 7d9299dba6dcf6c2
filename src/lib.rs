//! # bmfleet
//!
//! Plan and apply desired state for bare-metal server fleets, the way Terraform does for
//! cloud resources. The desired state is a Git repository of YAML specs (see [`spec`]); the
//! live state is read from each host's BMC and DPU over Redfish ([`redfish`]) and from the OS
//! over SSH ([`os`], planned: OS resources are listed as not refreshed until it lands).
//!
//! ## Architecture (arrows point one way)
//!
//! ```text
//! spec  (load from Git or the work tree, merge profiles, validate; sync)
//!   -> plan   (dependency graph, diff, Plan; pure, synchronous, deterministic)
//!   -> engine (async: refresh live state through the providers `redfish` and `os`)
//!   -> render (text, markdown, JSON, progress)
//! ```
//!
//! `sim` is a seeded Redfish fleet simulator used by tests, benchmarks and the demo; `cli` is a
//! thin layer that parses arguments, resolves settings, calls the library and renders.
//! Library code never prints: the engine emits events and the renderer turns them into output.

#![warn(missing_docs)]
// Nothing a user or a remote system influences may panic: library code returns errors.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
pub mod engine;
pub mod ops;
pub mod os;
pub mod plan;
pub mod redfish;
pub mod render;
pub mod secret;
#[cfg(feature = "sim")]
pub mod sim;
pub mod spec;
