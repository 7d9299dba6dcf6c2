//! The pure planner (graph, diff, Plan).
pub mod observed;
