//! Orchestration shared by the commands (cargo's `ops`): each function runs one user-level
//! operation from already-parsed inputs and returns a typed outcome; `cli` parses and
//! renders. `load_valid` reads and checks the specs; `plan_fleet` serves `bmfleet plan`;
//! `read_plan` reads a saved plan; `apply_plan` serves `bmfleet apply` (journal, audit
//! and resume in `journal`, the fleet lock in `lock`, the state directory in `state`).

pub mod apply;
pub mod fleet;
pub mod journal;
pub mod lock;
pub mod plan_file;
pub mod plan_fleet;
pub mod state;

pub use apply::{ApplyOutcome, ApplyRequest, PlanInput, Run, apply_plan, check_source};
pub use fleet::{FleetError, load_valid};
pub use plan_file::read_plan;
pub use plan_fleet::{LiveSource, OsSource, PlanOutcome, PlanRequest, plan_fleet};
pub use state::StateDirs;
