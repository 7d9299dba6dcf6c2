//! Rendering: diagnostics, plans (text, markdown, JSON) and progress. Renderers return
//! strings or implement reporter traits; they never decide anything.
pub mod apply_text;
pub mod diagnostics;
pub mod diff_markdown;
pub mod diff_text;
pub mod graph;
pub mod plan_json;
pub mod plan_markdown;
pub mod plan_text;
pub mod progress;
pub mod yaml;
