//! Progress for engine events: an indicatif bar on a terminal, or NDJSON lines (one event
//! per line) for machines. Both implement [`crate::engine::Reporter`].

use crate::engine::{Event, Reporter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;

/// A progress bar on stderr while live state is read.
pub struct BarReporter {
    bar: ProgressBar,
}

impl BarReporter {
    /// A hidden bar until the first event says how many hosts there are.
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} {bar:30} {pos}/{len} hosts ({per_sec}, {elapsed}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix("reading live state");
        Self { bar }
    }
}

impl Default for BarReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for BarReporter {
    fn event(&self, event: &Event) {
        match event {
            Event::RefreshStarted { hosts, .. } => {
                self.bar.set_length(*hosts as u64);
                self.bar
                    .enable_steady_tick(std::time::Duration::from_millis(120));
            }
            Event::HostRefreshed { ok, host } => {
                if !ok {
                    self.bar.set_message(format!("({host} failed)"));
                }
                self.bar.inc(1);
            }
            Event::RefreshFinished { .. } | Event::ApplyFinished { .. } => {
                self.bar.finish_and_clear();
            }
            Event::ApplyStarted { hosts, .. } => {
                self.bar.set_length(*hosts as u64);
                self.bar.set_position(0);
                self.bar.set_prefix("applying");
                self.bar
                    .enable_steady_tick(std::time::Duration::from_millis(120));
            }
            Event::StepStarted {
                host, description, ..
            } => self.bar.set_message(format!("{host}: {description}")),
            Event::HostApplied { ok, host } => {
                if !ok {
                    self.bar.println(format!("{host} failed"));
                }
                self.bar.inc(1);
            }
            Event::BmcRead { .. }
            | Event::BatchStarted { .. }
            | Event::HostStarted { .. }
            | Event::StepFinished { .. } => {}
        }
    }
}

/// Writes every event as one JSON line to a writer (stderr in the CLI).
pub struct NdjsonReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> NdjsonReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

impl<W: Write + Send> Reporter for NdjsonReporter<W> {
    fn event(&self, event: &Event) {
        if let (Ok(mut out), Ok(line)) = (self.out.lock(), serde_json::to_string(event)) {
            let _ = writeln!(out, "{line}");
        }
    }
}
