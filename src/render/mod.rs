//! Rendering: diagnostics, plans (text, markdown, JSON) and progress. Renderers return
//! strings or implement reporter traits; they never decide anything.
pub mod diagnostics;
pub mod graph;
pub mod yaml;
