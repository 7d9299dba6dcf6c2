//! Orchestration shared by the commands (cargo's `ops`): each function runs one user-level
//! operation from already-parsed inputs and returns a typed outcome; `cli` parses and
//! renders. `load_valid` reads and checks the specs; `plan_fleet` serves `bmfleet plan` and will serve `bmfleet apply` (which plans
//! when it is given no plan file).

pub mod fleet;
pub mod plan_fleet;

pub use fleet::{FleetError, load_valid};
pub use plan_fleet::{LiveSource, PlanOutcome, PlanRequest, plan_fleet};
