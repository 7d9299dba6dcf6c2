//! Reading a saved plan (`bmfleet plan --out FILE`): bounded in size, checked for its format
//! version. `show-plan` and `apply` both read plans through here.

use crate::plan::Plan;
use std::path::Path;

/// The largest plan file read, in bytes (256 MiB: a 100,000-host plan is well under it).
pub const MAX_PLAN_BYTES: u64 = 256 * 1024 * 1024;

/// Reads the plan saved at `path`.
///
/// # Errors
/// When the file cannot be read, is not a regular file under [`MAX_PLAN_BYTES`], is not
/// JSON, or is not a plan of format 2.x; each message names the file.
pub fn read_plan(path: &Path) -> miette::Result<Plan> {
    let meta = std::fs::metadata(path).map_err(|e| {
        miette::miette!(
            code = "bmfleet::cli::read_plan",
            "cannot read the plan {}: {e}",
            path.display()
        )
    })?;
    if !meta.is_file() || meta.len() > MAX_PLAN_BYTES {
        return Err(miette::miette!(
            code = "bmfleet::cli::read_plan",
            help = "give the file written by `bmfleet plan --out FILE`",
            "{} is not a regular file under 256 MiB",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        miette::miette!(
            code = "bmfleet::cli::read_plan",
            "cannot read the plan {}: {e}",
            path.display()
        )
    })?;
    Plan::from_json(&text).map_err(|e| {
        miette::miette!(
            code = "bmfleet::cli::read_plan",
            help = "give the file written by `bmfleet plan --out FILE`",
            "{}: {e}",
            path.display()
        )
    })
}
