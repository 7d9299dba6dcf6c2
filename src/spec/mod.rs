//! Fleet specs: the model, loading from Git or the work tree, merging profiles, validation.
//!
//! Data flow: [`source`] lists and reads files (work tree or a Git commit) ->
//! [`yaml`] parses them keeping spans -> [`check`] validates structure against the
//! generated [`schema`] -> [`load`] resolves profiles and [`merge`]s layers into effective
//! hosts -> [`validate`] runs the semantic rules. Every problem is a [`diagnostic::Diag`].

pub mod check;
pub mod diagnostic;
pub mod load;
pub mod merge;
pub mod model;
pub mod schema;
pub mod selector;
pub mod source;
pub mod validate;
pub mod yaml;

pub use diagnostic::{Diag, Severity};
pub use load::{Host, LoadOptions, LoadedFleet, load};
pub use source::{RepoInfo, Sources};
