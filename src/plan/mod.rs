//! The pure planner: effective hosts + observed state -> a [`Plan`].
//!
//! Pure and synchronous: no async runtime, no network, no clock, no randomness, no printing;
//! output is deterministic (sorted hosts, `BTreeMap`s). Depends on [`crate::spec`] only; the
//! engine fills [`observed`] types and renderers read [`model`] types.
//!
//! ```text
//! spec::Host --flatten--> [Resource] --compare with ObservedHost--> [Change]
//!                              \--graph (RULES + dependsOn)--> ordered Steps per host
//!                                                   \--rollout policy--> Batches
//! ```
//!
//! Modules: [`address`] (typed resource addresses), [`resource`] (settings, disruption
//! classes), [`observed`] (live state, keyed by address), [`op`] (what a step does),
//! [`graph`] (ordering rules, transformers, cycle detection), [`planner`] (the comparison),
//! [`diff`] (spec-to-spec), [`rollout`] (batches), [`model`] (the serializable plan),
//! [`network`] (network files and commands rendered per backend), [`select`] (host filters), [`hostlist`] (`r1-c[01-04]`), [`value`] (comparison and
//! digests).

pub mod access;
pub mod address;
pub mod diff;
pub mod graph;
pub mod hostlist;
pub mod model;
pub mod network;
pub mod observed;
pub mod op;
pub mod os_files;
pub mod planner;
pub mod resource;
pub mod rollout;
pub mod rules;
pub mod select;
pub mod spec_diff;
pub mod text_diff;
pub mod value;

pub use address::Address;
pub use diff::diff_specs;
pub use graph::{ChangeIndex, GraphError, HostResources, PlanGraph, RULES, Rule};
pub use model::{
    Action, Batch, Change, ChangeGroup, FORMAT_VERSION, Fingerprint, Plan, PlanError, PlanFilters,
    PlanHost, Rollout, SpecSource, Step, Summary, Unobserved,
};
pub use observed::{Capabilities, Observation, ObservedHost, ObservedValue, ReadError};
pub use op::{ContentRef, Controller, Op, OpValue, ResetStep, SecretRef};
pub use planner::plan;
pub use resource::{DataFiles, Disruption, Resource, ResourceKind, Setting, flatten};
pub use select::{PlanOptions, SelectError, select_hosts};

/// The static dependency graph of `hosts` (what `bmfleet graph` shows): every resource the
/// spec sets, every rule that could apply.
pub fn static_graph(hosts: &[&crate::spec::Host], files: &DataFiles) -> PlanGraph {
    let hr: Vec<HostResources> = hosts
        .iter()
        .map(|h| HostResources {
            name: h.name.clone(),
            depends_on: h.depends_on.clone(),
            resources: flatten(h, files),
        })
        .collect();
    graph::build(&hr, &ChangeIndex::everything(&hr))
}
