//! Which hosts a plan covers: `-l SELECTOR`, `--host NAME|GLOB`, `--exclude NAME|GLOB`, and
//! the fleet-wide inputs the planner needs ([`PlanOptions`]).

use super::model::PlanFilters;
use super::resource::DataFiles;
use crate::spec::model::{IntOrPercent, RolloutPolicy};
use crate::spec::selector::{Requirement, Selector};
use crate::spec::{Host, LoadedFleet, RepoInfo};

/// Everything [`crate::plan::plan`] needs besides the hosts and their observed state.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `-l`: only hosts whose labels match.
    pub selector: Option<Selector>,
    /// `--host`: only these hosts (names or globs with `*` and `?`); empty means all.
    pub hosts: Vec<String>,
    /// `--exclude`: never these hosts (names or globs, e.g. `r2-*`).
    pub exclude: Vec<String>,
    /// `--max-unavailable`: overrides the fleet's `rollout.maxUnavailable`.
    pub max_unavailable: Option<IntOrPercent>,
    /// The fleet's rollout policy.
    pub rollout: RolloutPolicy,
    /// The spec revision (recorded in the plan).
    pub source: Option<RepoInfo>,
    /// cloud-init files (digested, never copied).
    pub files: DataFiles,
}

impl PlanOptions {
    /// Options carrying a loaded fleet's rollout policy, revision and data files, with no
    /// filters.
    pub fn for_fleet(fleet: &LoadedFleet) -> Self {
        Self {
            rollout: fleet
                .fleet
                .as_ref()
                .map(|f| f.doc.spec.rollout.clone())
                .unwrap_or_default(),
            source: Some(fleet.repo.clone()),
            files: fleet.data_files.clone(),
            ..Self::default()
        }
    }

    /// The filters as recorded in a plan.
    pub fn filters(&self) -> PlanFilters {
        PlanFilters {
            selector: self.selector.as_ref().map(selector_text),
            hosts: self.hosts.clone(),
            exclude: self.exclude.clone(),
            max_unavailable: self.max_unavailable.clone(),
        }
    }
}

/// A `--host` or `--exclude` name that matches no host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("no host named `{name}` in the fleet (given to {flag})")]
#[diagnostic(code(bmfleet::plan::unknown_host), help("{}", self.help()))]
pub struct SelectError {
    /// The name as given.
    pub name: String,
    /// `--host` or `--exclude`.
    pub flag: &'static str,
    /// The closest host name, if any is close.
    pub suggestion: Option<String>,
}

impl SelectError {
    fn help(&self) -> String {
        match &self.suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => "use a glob such as `r2-*` to match by pattern".to_string(),
        }
    }
}

/// The hosts of `fleet` that the options select, sorted by name.
///
/// # Errors
/// [`SelectError`] when a plain name (no `*` or `?`) in `--host` or `--exclude` names no
/// host; globs that match nothing are fine.
pub fn select_hosts<'a>(
    hosts: &'a [Host],
    opts: &PlanOptions,
) -> Result<Vec<&'a Host>, SelectError> {
    for (flag, patterns) in [("--host", &opts.hosts), ("--exclude", &opts.exclude)] {
        for p in patterns.iter().filter(|p| !is_glob(p)) {
            if !hosts.iter().any(|h| h.name == *p) {
                return Err(SelectError {
                    name: p.clone(),
                    flag,
                    suggestion: crate::spec::check::did_you_mean(
                        p,
                        hosts.iter().map(|h| h.name.as_str()),
                    )
                    .map(str::to_string),
                });
            }
        }
    }
    let mut out: Vec<&Host> = hosts
        .iter()
        .filter(|h| opts.selector.as_ref().is_none_or(|s| s.matches(&h.labels)))
        .filter(|h| opts.hosts.is_empty() || opts.hosts.iter().any(|p| glob_match(p, &h.name)))
        .filter(|h| !opts.exclude.iter().any(|p| glob_match(p, &h.name)))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn is_glob(p: &str) -> bool {
    p.contains(['*', '?'])
}

/// Shell-style match of a whole name: `*` matches any run of characters (also empty), `?`
/// exactly one; everything else literally.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking to the last `*`.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A selector in kubectl syntax (`rack=r1,role in (compute,storage),!canary`).
pub fn selector_text(s: &Selector) -> String {
    s.requirements
        .iter()
        .map(|r| match r {
            Requirement::Eq(k, v) => format!("{k}={v}"),
            Requirement::NotEq(k, v) => format!("{k}!={v}"),
            Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => k.clone(),
            Requirement::NotExists(k) => format!("!{k}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("r2-*", "r2-c01"));
        assert!(!glob_match("r2-*", "r1-c01"));
        assert!(glob_match("*-c0?", "r1-c04"));
        assert!(!glob_match("*-c0?", "r1-c10"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("r1-c01", "r1-c01"));
    }

    #[test]
    fn selector_round_trips_as_text() {
        let text = "rack=r1,role in (compute,storage),!canary,zone";
        let s = Selector::parse(text).unwrap();
        assert_eq!(selector_text(&s), text);
    }
}
