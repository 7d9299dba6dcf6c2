//! The integration tests: one binary (as ripgrep and cargo do), one module per area.
//!
//! `cargo test --test it MODULE::` runs one area; `BMFLEET_BLESS=1 cargo test --test it golden`
//! regenerates the golden files under `tests/golden/` (review the diff before committing).

mod plan_support;
mod sim_common;

mod apply;
mod apply_engine;
mod apply_journal;
mod architecture;
mod cli_help;
mod diff_access;
mod diff_detail;
mod diff_secrets;
mod diff_summary;
mod engine_refresh;
mod golden;
mod os_apply;
mod os_network;
mod os_provider;
mod os_routes_dns;
mod os_sshd;
mod peer_sushy;
mod plan_cli_graph;
mod plan_engine_sim;
mod plan_graph;
mod plan_planner;
mod plan_render;
mod plan_schema;
mod plan_show_saved;
mod redfish_client;
mod redfish_fixtures;
mod schema;
mod sim_drift;
mod sim_http;
mod sim_scale;
mod spec_git;
mod spec_robustness;
