//! `load_valid`: read a fleet at a revision and refuse it when its specs have errors, the
//! first step of every command that acts on live state (`plan`, `graph`, and `apply` next).

use crate::spec::source::SourceError;
use crate::spec::{LoadOptions, LoadedFleet};

/// Why a fleet cannot be planned or applied.
#[derive(Debug)]
pub enum FleetError {
    /// The fleet directory or revision could not be read (see [`SourceError`]: a missing
    /// directory, a bad Git ref, a commit without the fleet).
    Source(SourceError),
    /// The specs were read but have errors; the fleet is returned whole so that the caller
    /// can render every diagnostic with its file:line:column (`bmfleet validate` does the
    /// same).
    Invalid(Box<LoadedFleet>),
}

/// Loads the fleet named by `opts` (work tree or Git revision) and checks it has no
/// error-severity diagnostics. Warnings do not stop it.
///
/// # Errors
/// [`FleetError::Source`] when the specs cannot be read, [`FleetError::Invalid`] when they
/// have errors.
pub fn load_valid(opts: &LoadOptions) -> Result<LoadedFleet, FleetError> {
    let fleet = crate::spec::load(opts).map_err(FleetError::Source)?;
    if fleet.has_errors() {
        return Err(FleetError::Invalid(Box::new(fleet)));
    }
    Ok(fleet)
}
