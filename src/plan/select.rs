//! Which hosts a plan covers: `-l SELECTOR`, `--host HOSTLIST`, `--exclude HOSTLIST` (names,
//! pdsh/ClusterShell ranges such as `r1-c[01-04]`, globs such as `r2-*`), and
//! the fleet-wide inputs the planner needs ([`PlanOptions`]).

use std::collections::HashSet;

use super::hostlist::{self, HostlistError};
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
    /// `--host`: only these hosts (host lists such as `r1-c[01-04],r2-c01`, items may be globs
    /// with `*` and `?`); empty means all.
    pub hosts: Vec<String>,
    /// `--exclude`: never these hosts (host lists or globs, e.g. `r2-c[01-02]`, `r2-*`).
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

/// A `--host` or `--exclude` argument that selects nothing or does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum SelectError {
    /// A plain name (no brackets, no `*` or `?`) that names no host.
    #[error("no host named `{name}` in the fleet (given to {flag})")]
    #[diagnostic(code(bmfleet::plan::unknown_host), help("{}", self.help()))]
    UnknownHost {
        /// The name as given.
        name: String,
        /// `--host` or `--exclude`.
        flag: &'static str,
        /// The closest host name, if any is close.
        suggestion: Option<String>,
    },
    /// A host range (`r1-c[01-04]`, without `*` or `?`) none of whose names is a host.
    #[error("no host in the fleet matches `{range}` (given to {flag})")]
    #[diagnostic(code(bmfleet::plan::unknown_host), help("{}", self.help()))]
    NoMatch {
        /// The range item as given (one item of a comma-separated list).
        range: String,
        /// `--host` or `--exclude`.
        flag: &'static str,
        /// The range's first name and the host name closest to it, if any is close.
        suggestion: Option<(String, String)>,
    },
    /// An argument that is not a host list (`r1-c[04-01]`, `r1-c[01-`).
    #[error("{flag}: {error}")]
    #[diagnostic(code(bmfleet::plan::invalid_host_range), help("{}", self.help()))]
    Invalid {
        /// `--host` or `--exclude`.
        flag: &'static str,
        /// Where and why it does not read.
        error: HostlistError,
    },
}

impl SelectError {
    fn help(&self) -> String {
        match self {
            Self::UnknownHost {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`?"),
            Self::NoMatch {
                suggestion: Some((first, host)),
                ..
            } => {
                let padding = first.replace('0', "") == host.replace('0', "");
                format!(
                    "its first name `{first}` is close to the host `{host}`{}",
                    if padding {
                        " (numbers keep their zero padding: `c[01-04]`, not `c[1-4]`)"
                    } else {
                        ""
                    }
                )
            }
            Self::UnknownHost { .. } | Self::NoMatch { .. } => {
                "use a glob such as `r2-*` or a range such as `r2-c[01-04]` to match several hosts"
                    .to_string()
            }
            Self::Invalid { .. } => {
                "host ranges read as in pdsh and ClusterShell: `r1-c[01-04,07]`, `r[1-2]-c[01-02]`, items joined by `,`; globs use `*` and `?`"
                    .to_string()
            }
        }
    }
}

/// The hosts one flag's arguments name: exact names (plain names and expanded ranges) and
/// globs.
struct Matcher {
    names: HashSet<String>,
    globs: Vec<String>,
}

impl Matcher {
    /// Reads `patterns` given to `flag`; `fleet` is the fleet and `hosts` its names.
    fn new(
        patterns: &[String],
        flag: &'static str,
        fleet: &[Host],
        hosts: &HashSet<&str>,
    ) -> Result<Self, SelectError> {
        let mut m = Matcher {
            names: HashSet::new(),
            globs: Vec::new(),
        };
        let closest = |name: &str| {
            crate::spec::check::did_you_mean(name, fleet.iter().map(|h| h.name.as_str()))
                .map(str::to_string)
        };
        for pattern in patterns {
            let items = hostlist::expand_items(pattern)
                .map_err(|error| SelectError::Invalid { flag, error })?;
            for item in items {
                if is_glob(item.text) {
                    // Globs that match nothing are fine (`--exclude 'r9-*'` in a script).
                    m.globs.extend(item.names);
                } else if !item.names.iter().any(|n| hosts.contains(n.as_str())) {
                    return Err(match item.names.as_slice() {
                        [one] if one == item.text => SelectError::UnknownHost {
                            name: one.clone(),
                            flag,
                            suggestion: closest(one),
                        },
                        names => SelectError::NoMatch {
                            range: item.text.to_string(),
                            flag,
                            suggestion: names
                                .first()
                                .and_then(|first| Some((first.clone(), closest(first)?))),
                        },
                    });
                } else {
                    // A range may name hosts that do not exist (an empty slot of a rack), as
                    // long as some do.
                    m.names.extend(item.names);
                }
            }
        }
        Ok(m)
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty() && self.globs.is_empty()
    }

    fn matches(&self, name: &str) -> bool {
        self.names.contains(name) || self.globs.iter().any(|g| glob_match(g, name))
    }
}

/// The hosts of `fleet` that the options select, sorted by name.
///
/// `--host` and `--exclude` arguments are host lists in the pdsh/ClusterShell form
/// ([`hostlist::expand_items`]: `r1-c[01-04,07],r2-c01`, `r[1-2]-c[01-02]`) whose items may
/// also be globs (`r2-*`, `*-c0?`, `r[1-2]-*`). A plain name must name a host; a range must
/// name at least one (the others are ignored); globs may match nothing.
///
/// # Errors
/// [`SelectError::UnknownHost`] when a plain name names no host (with the closest name, if
/// any), [`SelectError::NoMatch`] when no name of a range is a host, and
/// [`SelectError::Invalid`] when an argument is not a host list (it names the column).
pub fn select_hosts<'a>(
    hosts: &'a [Host],
    opts: &PlanOptions,
) -> Result<Vec<&'a Host>, SelectError> {
    let names: HashSet<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let include = Matcher::new(&opts.hosts, "--host", hosts, &names)?;
    let exclude = Matcher::new(&opts.exclude, "--exclude", hosts, &names)?;
    let mut out: Vec<&Host> = hosts
        .iter()
        .filter(|h| opts.selector.as_ref().is_none_or(|s| s.matches(&h.labels)))
        .filter(|h| include.is_empty() || include.matches(&h.name))
        .filter(|h| !exclude.matches(&h.name))
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

    fn fleet(names: &[&str]) -> Vec<Host> {
        names
            .iter()
            .map(|n| Host {
                name: n.to_string(),
                labels: Default::default(),
                name_span: Default::default(),
                profiles: Vec::new(),
                depends_on: Vec::new(),
                depends_on_spans: Vec::new(),
                settings: Default::default(),
                tree: crate::spec::yaml::Node::new(
                    crate::spec::yaml::Value::Null,
                    Default::default(),
                ),
            })
            .collect()
    }

    const FLEET: &[&str] = &[
        "r1-c01", "r1-c02", "r1-c03", "r1-c04", "r1-c07", "r2-c01", "r2-c02", "r2-s01",
    ];

    fn select(hosts: &[&str], exclude: &[&str]) -> Result<Vec<String>, SelectError> {
        let fleet = fleet(FLEET);
        let opts = PlanOptions {
            hosts: hosts.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            ..PlanOptions::default()
        };
        Ok(select_hosts(&fleet, &opts)?
            .iter()
            .map(|h| h.name.clone())
            .collect())
    }

    #[test]
    fn host_and_exclude_take_pdsh_ranges() {
        assert_eq!(
            select(&["r1-c[01-03,07]"], &[]).unwrap(),
            ["r1-c01", "r1-c02", "r1-c03", "r1-c07"]
        );
        assert_eq!(
            select(&["r[1-2]-c[01-02]"], &["r1-c02"]).unwrap(),
            ["r1-c01", "r2-c01", "r2-c02"]
        );
        assert_eq!(
            select(&["r1-c01,r2-*"], &["r2-s01"]).unwrap(),
            ["r1-c01", "r2-c01", "r2-c02"]
        );
        assert_eq!(
            select(&[], &["r1-c[01-04,07]", "r2-c0?"]).unwrap(),
            ["r2-s01"]
        );
        // Names of a range that are not hosts (empty slots) are ignored when some are.
        assert_eq!(select(&["r1-c[04-06]"], &[]).unwrap(), ["r1-c04"]);
        // A range with a glob follows glob rules.
        assert_eq!(select(&["r[1-2]-s*"], &[]).unwrap(), ["r2-s01"]);
        assert_eq!(select(&["r[3-4]-*", "r2-s01"], &[]).unwrap(), ["r2-s01"]);
    }

    #[test]
    fn unknown_names_and_empty_ranges_are_errors() {
        let e = select(&["r1-c1"], &[]).unwrap_err();
        assert!(
            matches!(&e, SelectError::UnknownHost { name, flag: "--host", suggestion: Some(_) } if name == "r1-c1"),
            "{e:?}"
        );
        // Each name of a comma list must exist.
        let e = select(&["r1-c01,r1-c05"], &[]).unwrap_err();
        assert!(
            matches!(&e, SelectError::UnknownHost { name, .. } if name == "r1-c05"),
            "{e:?}"
        );
        let e = select(&[], &["r1-c[1-4]"]).unwrap_err();
        assert_eq!(
            e,
            SelectError::NoMatch {
                range: "r1-c[1-4]".into(),
                flag: "--exclude",
                suggestion: Some(("r1-c1".into(), "r1-c01".into())),
            }
        );
        assert_eq!(
            e.to_string(),
            "no host in the fleet matches `r1-c[1-4]` (given to --exclude)"
        );
        assert!(
            format!("{:?}", miette::Diagnostic::help(&e).map(|h| h.to_string()))
                .contains("zero padding")
        );
        let e = select(&["r1-x[01-02]"], &[]).unwrap_err();
        let help = miette::Diagnostic::help(&e).map(|h| h.to_string());
        assert_eq!(
            help.as_deref(),
            Some("its first name `r1-x01` is close to the host `r1-c01`")
        );
        let e = select(&["zz[1-2]"], &[]).unwrap_err();
        assert!(
            matches!(
                &e,
                SelectError::NoMatch {
                    suggestion: None,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = select(&["r1-c[04-01]"], &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--host: invalid host range `r1-c[04-01]`: range `04-01` runs backwards (column 6)"
        );
        assert!(matches!(
            select(&[], &["r1-c[01-"]).unwrap_err(),
            SelectError::Invalid {
                flag: "--exclude",
                ..
            }
        ));
    }

    #[test]
    fn selector_round_trips_as_text() {
        let text = "rack=r1,role in (compute,storage),!canary,zone";
        let s = Selector::parse(text).unwrap();
        assert_eq!(selector_text(&s), text);
    }
}
