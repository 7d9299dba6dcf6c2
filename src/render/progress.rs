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

/// Plain, timestamped progress lines for apply when stderr is not a terminal (CI logs): one
/// line per batch, step start and finish and host outcome, `HH:MM:SSZ` (UTC) first. Refresh
/// events print nothing (thousands of hosts would flood a log). Text from peers is shown with
/// control characters escaped.
pub struct LinesReporter<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> LinesReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

/// The time of day in UTC, `HH:MM:SSZ`.
fn utc_time_of_day() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = secs % 86_400;
    format!("{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// `s` with control characters escaped, at most `max` characters.
fn plain(s: &str, max: usize) -> String {
    let escaped = super::diff_text::escape_controls(s);
    let mut out: String = escaped.chars().take(max).collect();
    if escaped.chars().count() > max {
        out.push('…');
    }
    out
}

impl<W: Write + Send> Reporter for LinesReporter<W> {
    fn event(&self, event: &Event) {
        let line = match event {
            Event::ApplyStarted { hosts, batches } => {
                format!("applying {hosts} host(s) in {batches} batch(es)")
            }
            Event::BatchStarted { number, hosts } => {
                format!("batch {number}: {hosts} host(s)")
            }
            Event::StepStarted {
                host,
                address,
                description,
                ..
            } => format!("{host}: {address}: {}", plain(description, 200)),
            Event::StepFinished {
                host,
                address,
                ok,
                detail,
                ..
            } => format!(
                "{host}: {address}: {} {}",
                if *ok { "done:" } else { "FAILED:" },
                plain(detail, 400)
            ),
            Event::HostApplied { host, ok } => {
                format!(
                    "{host}: {}",
                    if *ok {
                        "applied and verified"
                    } else {
                        "failed"
                    }
                )
            }
            Event::ApplyFinished {
                succeeded,
                failed,
                not_started,
            } => format!(
                "finished: {succeeded} succeeded, {failed} failed, {not_started} not started"
            ),
            _ => return,
        };
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{} {line}", utc_time_of_day());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_timestamped_escaped_and_skip_refresh_events() {
        let r = LinesReporter::new(Vec::new());
        r.event(&Event::HostRefreshed {
            host: "a".into(),
            ok: true,
        });
        r.event(&Event::StepFinished {
            host: "a".into(),
            index: 0,
            address: "host/a/bios".into(),
            ok: false,
            detail: "HTTP 500\u{1b}[2J".into(),
        });
        let text = String::from_utf8(r.out.into_inner().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{text}");
        let (stamp, rest) = lines[0].split_once(' ').unwrap();
        assert!(stamp.len() == 9 && stamp.ends_with('Z'), "{stamp}");
        assert_eq!(rest, "a: host/a/bios: FAILED: HTTP 500\\u{1b}[2J");
    }
}
