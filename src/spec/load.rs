//! Loading a fleet: read every spec file of a revision, parse, check structure, resolve
//! profiles, merge layers into effective hosts and run the semantic rules. Every problem is
//! collected; nothing stops at the first error.

use super::check::Checker;
use super::diagnostic::{Diag, Severity};
use super::merge;
use super::model::{
    API_VERSION, FleetDocument, HostDocument, HostSettings, Metadata, ProfileDocument,
};
use super::selector::{valid_label_key, valid_label_value};
use super::source::{
    self, EntryKind, FleetTree, MAX_SPEC_FILE_BYTES, RepoInfo, SourceError, Sources,
};
use super::yaml::{self, Node, Span, Value, YamlError};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// Node budget per file (aliases expanded): generous for real fleets, fatal for YAML bombs.
const NODE_BUDGET_BASE: usize = 200_000;

/// What kind a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// `kind: Fleet`.
    Fleet,
    /// `kind: Profile`.
    Profile,
    /// `kind: Host`.
    Host,
}

/// Where a document sits, to name the layer a span belongs to.
#[derive(Debug, Clone)]
pub struct DocInfo {
    /// Its kind.
    pub kind: Kind,
    /// `metadata.name`.
    pub name: String,
    /// The span of the whole document.
    pub span: Span,
}

/// The `Fleet` document.
#[derive(Debug, Clone)]
pub struct FleetEntry {
    /// The typed document.
    pub doc: FleetDocument,
    /// Its YAML tree.
    pub node: Node,
}

/// A `Profile` document.
#[derive(Debug, Clone)]
pub struct ProfileEntry {
    /// The typed document.
    pub doc: ProfileDocument,
    /// Its YAML tree.
    pub node: Node,
    /// Span of `metadata.name`.
    pub name_span: Span,
}

/// An effective host: the fleet defaults, its profiles and its own settings merged.
#[derive(Debug, Clone)]
pub struct Host {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Span of `metadata.name`.
    pub name_span: Span,
    /// Profiles applied, includes expanded, in order (each once).
    pub profiles: Vec<String>,
    /// `spec.dependsOn`.
    pub depends_on: Vec<String>,
    /// Spans of the `spec.dependsOn` items.
    pub depends_on_spans: Vec<Span>,
    /// The effective settings.
    pub settings: HostSettings,
    /// The effective settings as a tree with provenance (for `explain` and diagnostics).
    pub tree: Node,
}

/// The result of loading a fleet repo.
#[derive(Debug)]
pub struct LoadedFleet {
    /// Every file read; spans index into it.
    pub sources: Sources,
    /// The revision read.
    pub repo: RepoInfo,
    /// Documents by span, to name layers.
    pub docs: Vec<DocInfo>,
    /// The Fleet document, when there is exactly one valid one.
    pub fleet: Option<FleetEntry>,
    /// Profiles by name.
    pub profiles: BTreeMap<String, ProfileEntry>,
    /// Effective hosts, sorted by name.
    pub hosts: Vec<Host>,
    /// Every problem found, sorted by file and position.
    pub diagnostics: Vec<Diag>,
    /// Number of spec documents read.
    pub document_count: usize,
    /// cloud-init files (paths relative to the fleet root) and their text, as read.
    pub data_files: BTreeMap<String, Arc<str>>,
}

impl LoadedFleet {
    /// True when there is at least one error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }

    /// Number of errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let e = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        (e, self.diagnostics.len() - e)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts
            .binary_search_by(|h| h.name.as_str().cmp(name))
            .ok()
            .and_then(|i| self.hosts.get(i))
    }

    /// Describes the layer a span belongs to: `profile compute`, `host r1-n01`,
    /// `fleet defaults`.
    pub fn layer_of(&self, span: Span) -> String {
        self.docs
            .iter()
            .find(|d| {
                d.span.file == span.file && d.span.start <= span.start && span.end <= d.span.end
            })
            .map_or_else(
                || "unknown layer".to_string(),
                |d| match d.kind {
                    Kind::Fleet => "fleet defaults".to_string(),
                    Kind::Profile => format!("profile {}", d.name),
                    Kind::Host => format!("host {}", d.name),
                },
            )
    }
}

/// Options for [`load`].
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The fleet root directory.
    pub fleet_dir: std::path::PathBuf,
    /// A Git revision to read instead of the work tree.
    pub revision: Option<String>,
}

/// Loads, merges and validates the fleet at `opts.fleet_dir`.
///
/// # Errors
/// [`SourceError`] only when the fleet cannot be opened at all (missing directory, bad
/// `--ref`); every problem inside the specs is a [`Diag`] in the result.
pub fn load(opts: &LoadOptions) -> Result<LoadedFleet, SourceError> {
    let (tree, repo) = source::open(&opts.fleet_dir, opts.revision.as_deref())?;
    load_tree(&tree, repo)
}

struct RawDoc {
    kind: Kind,
    node: Node,
    had_errors: bool,
}

/// Loads from an opened tree (see [`load`]).
///
/// # Errors
/// [`SourceError`] when the tree cannot be listed.
pub fn load_tree(tree: &FleetTree, repo: RepoInfo) -> Result<LoadedFleet, SourceError> {
    let mut sources = Sources::default();
    let mut diags = Vec::new();
    let mut raw_docs = Vec::new();
    let mut yaml_errors: Vec<(String, Diag)> = Vec::new();
    let schema = super::schema::fleet_schema();
    let empty = serde_json::Map::new();
    let defs = schema
        .get("$defs")
        .and_then(serde_json::Value::as_object)
        .unwrap_or(&empty);
    let checker = Checker::new(defs);

    for entry in tree.list()? {
        let is_yaml = entry.path.ends_with(".yaml") || entry.path.ends_with(".yml");
        match &entry.kind {
            EntryKind::SymlinkOutside(target) => {
                let id = sources.add(entry.path.clone(), Arc::from(""));
                diags.push(
                    Diag::error(
                        "symlink_escape",
                        format!(
                            "{} is a symlink to {target}, outside the fleet root",
                            entry.path
                        ),
                        Some(Span { file: id, start: 0, end: 0 }),
                    )
                    .help("copy the file into the fleet repo; bmfleet reads nothing outside the fleet root"),
                );
                continue;
            }
            EntryKind::SymlinkInside => continue,
            EntryKind::File(_) if !is_yaml => continue,
            EntryKind::File(size) if *size > MAX_SPEC_FILE_BYTES => {
                let id = sources.add(entry.path.clone(), Arc::from(""));
                diags.push(
                    Diag::error(
                        "file_too_large",
                        format!(
                            "{} is {} MiB; spec files may be at most {} MiB",
                            entry.path,
                            size / (1024 * 1024),
                            MAX_SPEC_FILE_BYTES / (1024 * 1024)
                        ),
                        Some(Span {
                            file: id,
                            start: 0,
                            end: 0,
                        }),
                    )
                    .help("split the hosts over several files (one per rack, say)"),
                );
                continue;
            }
            EntryKind::File(_) => {}
        }
        let bytes = match tree.read(&entry.path, MAX_SPEC_FILE_BYTES) {
            Ok(b) => b,
            Err(message) => {
                let id = sources.add(entry.path.clone(), Arc::from(""));
                diags.push(Diag::error(
                    "unreadable_file",
                    format!("cannot read {}: {message}", entry.path),
                    Some(Span {
                        file: id,
                        start: 0,
                        end: 0,
                    }),
                ));
                continue;
            }
        };
        if let Some(pos) = bytes.iter().take(8192).position(|b| *b == 0) {
            let id = sources.add(entry.path.clone(), Arc::from(""));
            diags.push(
                Diag::error(
                    "binary_file",
                    format!("{} is a binary file (NUL byte at offset {pos})", entry.path),
                    Some(Span {
                        file: id,
                        start: 0,
                        end: 0,
                    }),
                )
                .help("spec files are UTF-8 YAML text; rename or remove this file"),
            );
            continue;
        }
        let text: Arc<str> = match String::from_utf8(bytes) {
            Ok(t) => Arc::from(t),
            Err(e) => {
                let at = e.utf8_error().valid_up_to() as u32;
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let id = sources.add(entry.path.clone(), Arc::from(lossy));
                diags.push(
                    Diag::error(
                        "not_utf8",
                        format!("{} is not valid UTF-8 (byte offset {at})", entry.path),
                        Some(Span {
                            file: id,
                            start: at,
                            end: at + 1,
                        }),
                    )
                    .label("invalid UTF-8 here")
                    .help("save the file as UTF-8"),
                );
                continue;
            }
        };
        let head = text.trim_start_matches('\u{feff}');
        if head.starts_with("#cloud-config") || head.starts_with("#!") {
            continue; // cloud-init user-data kept beside the specs
        }
        let id = sources.add(entry.path.clone(), text.clone());
        let budget = NODE_BUDGET_BASE.max(text.len() / 2);
        match yaml::parse(&text, id, budget) {
            Ok(docs) => {
                for d in docs {
                    if let Some(raw) = classify(d.root, &checker, &mut diags, &sources) {
                        raw_docs.push(raw);
                    }
                }
            }
            Err(e) => yaml_errors.push((entry.path.clone(), yaml_diag(e))),
        }
    }

    let mut fleet = LoadedFleet {
        sources,
        repo,
        docs: Vec::new(),
        fleet: None,
        profiles: BTreeMap::new(),
        hosts: Vec::new(),
        diagnostics: Vec::new(),
        document_count: raw_docs.len(),
        data_files: BTreeMap::new(),
    };
    let mut host_docs: Vec<(HostDocument, Node)> = Vec::new();
    let mut fleet_docs: Vec<(FleetDocument, Node)> = Vec::new();
    for raw in raw_docs {
        // The tree is moved into its typed entry below, not cloned.
        let RawDoc {
            kind,
            node,
            had_errors,
        } = raw;
        let doc_span = node.span;
        let json = node.to_json();
        let name = node
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Node::as_str)
            .unwrap_or_default()
            .to_string();
        fleet.docs.push(DocInfo {
            kind,
            name,
            span: doc_span,
        });
        let typed_err = match kind {
            Kind::Fleet => serde_json::from_value::<FleetDocument>(json)
                .map(|d| fleet_docs.push((d, node)))
                .err(),
            Kind::Profile => serde_json::from_value::<ProfileDocument>(json)
                .map(|d| {
                    let name_span = name_span(&node);
                    let name = d.metadata.name.clone();
                    if let Some(first) = fleet.profiles.get(&name) {
                        diags.push(
                            Diag::error(
                                "duplicate_profile",
                                format!("profile `{name}` is defined twice"),
                                Some(name_span),
                            )
                            .label("second definition")
                            .related(first.name_span, "first defined here")
                            .help("rename one of the profiles or merge them"),
                        );
                    } else {
                        fleet.profiles.insert(
                            name,
                            ProfileEntry {
                                doc: d,
                                node,
                                name_span,
                            },
                        );
                    }
                })
                .err(),
            Kind::Host => serde_json::from_value::<HostDocument>(json)
                .map(|d| host_docs.push((d, node)))
                .err(),
        };
        if let Some(e) = typed_err.filter(|_| !had_errors) {
            diags.push(Diag::error(
                "invalid_document",
                format!("document does not match the {kind:?} schema: {e}"),
                Some(doc_span),
            ));
        }
    }
    for (_, d) in yaml_errors {
        diags.push(d);
    }

    match fleet_docs.len() {
        0 => diags.push(
            Diag::error(
                "fleet_missing",
                "no `kind: Fleet` document found in the fleet repo",
                None,
            )
            .help("add a fleet.yaml with `apiVersion: bmfleet.dev/v1alpha1`, `kind: Fleet` and `metadata.name`"),
        ),
        _ => {
            let mut iter = fleet_docs.into_iter();
            if let Some((doc, node)) = iter.next() {
                for (_, other) in iter {
                    diags.push(
                        Diag::error(
                            "fleet_duplicate",
                            "a fleet repo holds exactly one `kind: Fleet` document",
                            Some(name_span(&other)),
                        )
                        .label("second Fleet")
                        .related(name_span(&node), "first Fleet")
                        .help("merge the two Fleet documents into one"),
                    );
                }
                fleet.fleet = Some(FleetEntry { doc, node });
            }
        }
    }

    for p in fleet.profiles.values() {
        check_metadata(&p.doc.metadata, &p.node, "profile", &mut diags);
    }
    build_hosts(&mut fleet, host_docs, &mut diags);
    super::validate::validate(&mut fleet, tree, &mut diags);
    let secrets: Vec<Span> = diags.iter().filter_map(|d| d.secret).collect();
    for secret in &secrets {
        fleet.sources.mask(*secret);
    }
    if !secrets.is_empty() {
        // `show` and `explain` render the effective settings: mask the values there too.
        for host in &mut fleet.hosts {
            if mask_secret_values(&mut host.tree, &secrets)
                && let Ok(settings) = serde_json::from_value::<HostSettings>(host.tree.to_json())
            {
                host.settings = settings;
            }
        }
    }
    fleet.diagnostics = finish(diags, &fleet.sources);
    Ok(fleet)
}

/// What a secret value is replaced with in effective settings (its length is not kept).
pub const SECRET_MASK: &str = "********";

/// Replaces every string value that lies inside one of `secrets` with [`SECRET_MASK`];
/// true when something was replaced.
fn mask_secret_values(node: &mut Node, secrets: &[Span]) -> bool {
    match &mut node.value {
        Value::Str(s) => {
            let span = node.span;
            let inside = secrets
                .iter()
                .any(|x| x.file == span.file && x.start <= span.start && span.end <= x.end);
            if inside && s != SECRET_MASK {
                *s = SECRET_MASK.to_string();
            }
            inside
        }
        Value::Seq(items) => items
            .iter_mut()
            .fold(false, |any, i| mask_secret_values(i, secrets) | any),
        Value::Map(entries) => entries.iter_mut().fold(false, |any, e| {
            mask_secret_values(&mut e.value, secrets) | any
        }),
        _ => false,
    }
}

fn name_span(node: &Node) -> Span {
    node.get("metadata")
        .and_then(|m| m.get("name"))
        .map_or(node.span, |n| n.span)
}

fn classify(
    mut root: Node,
    checker: &Checker<'_>,
    diags: &mut Vec<Diag>,
    _sources: &Sources,
) -> Option<RawDoc> {
    match &root.value {
        Value::Null => return None,
        Value::Map(_) => {}
        _ => {
            diags.push(
                Diag::error(
                    "invalid_document",
                    format!(
                        "a spec document must be a mapping, found {}",
                        super::check::with_article(root.type_name())
                    ),
                    Some(root.span),
                )
                .help("start the document with `apiVersion: bmfleet.dev/v1alpha1` and `kind:`"),
            );
            return None;
        }
    }
    let api = root.entry("apiVersion");
    let kind_node = root.entry("kind");
    if api.is_none() && kind_node.is_none() {
        // Not a bmfleet document (e.g. a network-config file kept beside the specs).
        return None;
    }
    match api {
        None => diags.push(
            Diag::error(
                "api_version",
                "the document has no `apiVersion`",
                Some(root.span),
            )
            .help(format!("add `apiVersion: {API_VERSION}`")),
        ),
        Some(e) if e.value.as_str() != Some(API_VERSION) => diags.push(
            Diag::error(
                "api_version",
                format!(
                    "unsupported apiVersion `{}`",
                    e.value.as_str().unwrap_or(e.value.type_name())
                ),
                Some(e.value.span),
            )
            .label("not supported")
            .help(format!("this release reads `{API_VERSION}`")),
        ),
        Some(_) => {}
    }
    let kind = match kind_node {
        None => {
            diags.push(
                Diag::error(
                    "unknown_kind",
                    "the document has no `kind`",
                    Some(root.span),
                )
                .help("add `kind: Fleet`, `kind: Profile` or `kind: Host`"),
            );
            return None;
        }
        Some(e) => match e.value.as_str() {
            Some("Fleet") => Kind::Fleet,
            Some("Profile") => Kind::Profile,
            Some("Host") => Kind::Host,
            other => {
                let got = other.unwrap_or("(not a string)");
                let mut d = Diag::error(
                    "unknown_kind",
                    format!("unknown kind `{got}`"),
                    Some(e.value.span),
                )
                .label("expected Fleet, Profile or Host");
                d = match super::check::did_you_mean(got, ["Fleet", "Profile", "Host"].into_iter())
                {
                    Some(best) => d.help(format!("did you mean `{best}`?")),
                    None => d.help("use `Fleet`, `Profile` or `Host`"),
                };
                diags.push(d);
                return None;
            }
        },
    };
    let def = match kind {
        Kind::Fleet => "FleetDocument",
        Kind::Profile => "ProfileDocument",
        Kind::Host => "HostDocument",
    };
    let api_ok = api.is_some_and(|a| a.value.as_str() == Some(API_VERSION));
    let api_missing = api.is_none();
    let before = diags.len();
    if let Some(schema) = checker.def(def) {
        checker.check(schema, &mut root, "", diags);
    }
    if api_missing {
        // Already reported as `api_version` above; the schema's `required` says it again.
        let span = Some(root.span);
        let mut i = before;
        while i < diags.len() {
            if diags[i].code == "missing_field"
                && diags[i].span == span
                && diags[i].message.ends_with("required key `apiVersion`")
            {
                diags.remove(i);
            } else {
                i += 1;
            }
        }
    }
    if !api_ok {
        return None;
    }
    // Offending entries were pruned: the rest still goes through the semantic rules.
    Some(RawDoc {
        kind,
        node: root,
        had_errors: diags.len() > before,
    })
}

fn yaml_diag(e: YamlError) -> Diag {
    match e {
        YamlError::Syntax { message, span } => Diag::error(
            "yaml_syntax",
            format!("YAML syntax error: {message}"),
            Some(span),
        )
        .label("here")
        .help("check the indentation and quoting around this point"),
        YamlError::ComplexKey { span } => Diag::error(
            "yaml_syntax",
            "mapping keys must be plain scalars",
            Some(span),
        )
        .label("complex key"),
        YamlError::DuplicateKey { key, span, first } => Diag::error(
            "duplicate_key",
            format!("key `{key}` appears twice in the same mapping"),
            Some(span),
        )
        .label("second occurrence")
        .related(first, "first occurrence")
        .help("YAML keeps only one of them; delete or merge the duplicate"),
        YamlError::UnknownAnchor { span } => Diag::error(
            "yaml_syntax",
            "alias to an anchor that is not defined before it",
            Some(span),
        )
        .label("unknown anchor"),
        YamlError::AliasBudget { span, budget } => Diag::error(
            "yaml_alias_bomb",
            format!("expanding aliases would create more than {budget} nodes"),
            Some(span),
        )
        .label("this alias crosses the limit")
        .help("this looks like a YAML bomb (billion laughs); share settings with Profiles instead of anchors"),
        YamlError::TooDeep { span } => Diag::error(
            "yaml_too_deep",
            format!("nesting deeper than {} levels", yaml::MAX_DEPTH),
            Some(span),
        )
        .label("too deep")
        .help("fleet specs are never this deep; check for runaway brackets"),
    }
}

/// Checks a name is a DNS-1123 label: lower-case alphanumerics and `-`, 1 to 63 characters,
/// starting and ending with an alphanumeric (Kubernetes `IsDNS1123Label`).
pub fn is_dns1123_label(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn check_metadata(meta: &Metadata, node: &Node, what: &str, diags: &mut Vec<Diag>) {
    let md = node.get("metadata");
    if !is_dns1123_label(&meta.name) {
        let suggestion: String = meta
            .name
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .trim_matches('-')
            .to_string();
        diags.push(
            Diag::error(
                "invalid_name",
                format!("{what} name `{}` is not a DNS-1123 label", meta.name),
                Some(name_span(node)),
            )
            .label("lower-case letters, digits and `-`, at most 63 characters")
            .help(if is_dns1123_label(&suggestion) {
                format!("did you mean `{suggestion}`?")
            } else {
                "use lower-case letters, digits and `-`, starting and ending with a letter or digit"
                    .into()
            }),
        );
    }
    let labels = md.and_then(|m| m.get("labels"));
    if let Some(Value::Map(entries)) = labels.map(|l| &l.value) {
        for e in entries {
            if !valid_label_key(&e.key) {
                diags.push(
                    Diag::error(
                        "invalid_label",
                        format!("`{}` is not a valid label key", e.key),
                        Some(e.key_span),
                    )
                    .label("invalid key")
                    .help("label keys are an optional DNS prefix and `/`, then up to 63 of [A-Za-z0-9._-], starting and ending alphanumeric"),
                );
            }
            if let Some(v) = e.value.as_str()
                && !valid_label_value(v)
            {
                diags.push(
                        Diag::error(
                            "invalid_label",
                            format!("`{v}` is not a valid label value"),
                            Some(e.value.span),
                        )
                        .label("invalid value")
                        .help("label values are up to 63 of [A-Za-z0-9._-], starting and ending alphanumeric"),
                    );
            }
        }
    }
}

/// The layer of a document to merge: its `spec` (or `spec.defaults`) without the keys that
/// are not settings.
fn settings_layer(doc: &Node, path: &[&str], drop: &[&str]) -> Option<Node> {
    let mut node = doc;
    for p in path {
        node = node.get(p)?;
    }
    let mut node = node.clone();
    if let Value::Map(entries) = &mut node.value {
        entries.retain(|e| !drop.contains(&e.key.as_str()));
    }
    Some(node)
}

/// Deepest chain of profile includes (a host's profile including a profile including ...).
/// Real fleets use two or three levels; the bound keeps a hostile or generated chain from
/// costing time and stack (a chain of 20,000 overflowed the stack when expansion recursed).
pub const MAX_PROFILE_DEPTH: usize = 32;

/// One profile being expanded: its name (`None` for the host's own list), its includes and
/// the next one to visit.
struct Frame {
    name: Option<String>,
    includes: Vec<(String, Span)>,
    next: usize,
}

/// `a -> b -> ... -> y -> z`, at most 4 names on each side of the `...`.
fn chain_text(names: &[&str]) -> String {
    if names.len() <= 9 {
        return names.join(" -> ");
    }
    let head = names.get(..4).unwrap_or_default().join(" -> ");
    let tail = names
        .get(names.len() - 4..)
        .unwrap_or_default()
        .join(" -> ");
    format!("{head} -> ... ({} more) -> {tail}", names.len() - 8)
}

/// Expands the profiles of a host (includes first, each profile once), reporting missing
/// profiles, include cycles and chains deeper than [`MAX_PROFILE_DEPTH`] at the include
/// that causes them. Iterative (no recursion) and linear in the profiles visited.
fn expand_profiles(
    fleet: &LoadedFleet,
    names: &[(String, Span)],
    out: &mut Vec<String>,
    diags: &mut Vec<Diag>,
) {
    let mut done: std::collections::HashSet<String> = out.iter().cloned().collect();
    // Profiles on the current chain -> their frame index.
    let mut on_chain: HashMap<String, usize> = HashMap::new();
    let mut frames = vec![Frame {
        name: None,
        includes: names.to_vec(),
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        let Some((name, span)) = top.includes.get(top.next).cloned() else {
            if let Some(Frame {
                name: Some(name), ..
            }) = frames.pop()
            {
                on_chain.remove(&name);
                if done.insert(name.clone()) {
                    out.push(name);
                }
            }
            continue;
        };
        top.next += 1;
        if done.contains(&name) {
            continue;
        }
        let chain = |from: usize| -> Vec<&str> {
            frames
                .get(from..)
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.name.as_deref())
                .chain(std::iter::once(name.as_str()))
                .collect()
        };
        if let Some(&pos) = on_chain.get(&name) {
            diags.push(
                Diag::error(
                    "profile_cycle",
                    format!("profile include cycle: {}", chain_text(&chain(pos))),
                    Some(span),
                )
                .label("this include closes the cycle")
                .help("remove one of the includes in the cycle"),
            );
            continue;
        }
        let Some(profile) = fleet.profiles.get(&name) else {
            let mut d = Diag::error(
                "missing_profile",
                format!("profile `{name}` is not defined"),
                Some(span),
            )
            .label("no Profile with this name");
            d = match super::check::did_you_mean(&name, fleet.profiles.keys().map(String::as_str)) {
                Some(best) => d.help(format!("did you mean `{best}`?")),
                None => d.help(format!(
                    "define a `kind: Profile` named `{name}`, or remove it from the list"
                )),
            };
            diags.push(d);
            continue;
        };
        // `frames` holds the host's list plus one frame per profile on the chain.
        if frames.len() > MAX_PROFILE_DEPTH {
            diags.push(
                Diag::error(
                    "profile_depth",
                    format!(
                        "profile includes nest deeper than {MAX_PROFILE_DEPTH} levels: {}",
                        chain_text(&chain(1))
                    ),
                    Some(span),
                )
                .label(format!("include number {} of the chain", frames.len()))
                .help("flatten the chain: let a profile include the profiles it needs directly"),
            );
            continue;
        }
        on_chain.insert(name.clone(), frames.len());
        frames.push(Frame {
            name: Some(name),
            includes: list_with_spans(profile.node.get("spec").and_then(|s| s.get("profiles"))),
            next: 0,
        });
    }
}

fn list_with_spans(node: Option<&Node>) -> Vec<(String, Span)> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(|s| (s.to_string(), i.span)))
            .collect(),
        _ => Vec::new(),
    }
}

fn build_hosts(
    fleet: &mut LoadedFleet,
    host_docs: Vec<(HostDocument, Node)>,
    diags: &mut Vec<Diag>,
) {
    let defaults = fleet
        .fleet
        .as_ref()
        .and_then(|f| settings_layer(&f.node, &["spec", "defaults"], &[]));
    // Each profile's settings layer, built once (not once per host that uses it).
    let layers: HashMap<&str, Node> = fleet
        .profiles
        .iter()
        .filter_map(|(name, e)| {
            settings_layer(&e.node, &["spec"], &["profiles"]).map(|l| (name.as_str(), l))
        })
        .collect();
    let mut seen: HashMap<String, Span> = HashMap::new();
    let mut hosts = Vec::with_capacity(host_docs.len());
    for (doc, node) in host_docs {
        check_metadata(&doc.metadata, &node, "host", diags);
        let name = doc.metadata.name.clone();
        let span = name_span(&node);
        if let Some(first) = seen.get(&name) {
            diags.push(
                Diag::error(
                    "duplicate_host",
                    format!("host `{name}` is defined twice"),
                    Some(span),
                )
                .label("second definition")
                .related(*first, "first defined here")
                .help("host names must be unique across the fleet repo; rename or remove one"),
            );
            continue;
        }
        seen.insert(name.clone(), span);
        let mut profiles = Vec::new();
        let listed = list_with_spans(node.get("spec").and_then(|s| s.get("profiles")));
        expand_profiles(fleet, &listed, &mut profiles, diags);
        let mut tree = defaults
            .clone()
            .unwrap_or_else(|| Node::new(Value::Map(Vec::new()), span));
        for p in &profiles {
            if let Some(layer) = layers.get(p.as_str()) {
                merge::merge(&mut tree, layer);
            }
        }
        if let Some(layer) = settings_layer(&node, &["spec"], &["profiles", "dependsOn"]) {
            merge::merge(&mut tree, &layer);
        }
        let settings = match serde_json::from_value::<HostSettings>(tree.to_json()) {
            Ok(s) => s,
            Err(e) => {
                diags.push(
                    Diag::error(
                        "invalid_document",
                        format!("the effective spec of host `{name}` is invalid: {e}"),
                        Some(span),
                    )
                    .help("run `bmfleet show` on the host to see the merged spec"),
                );
                continue;
            }
        };
        hosts.push(Host {
            name,
            labels: doc.metadata.labels,
            name_span: span,
            profiles,
            depends_on_spans: {
                let items = list_with_spans(node.get("spec").and_then(|s| s.get("dependsOn")));
                items.into_iter().map(|(_, s)| s).collect()
            },
            depends_on: doc.spec.depends_on,
            settings,
            tree,
        });
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    fleet.hosts = hosts;
}

/// Merges diagnostics that are the same problem at the same place (a value in a shared
/// profile seen through many hosts), then sorts by file, position and code.
fn finish(diags: Vec<Diag>, sources: &Sources) -> Vec<Diag> {
    let mut merged: Vec<Diag> = Vec::new();
    let mut index: HashMap<(&'static str, Option<Span>, String), usize> = HashMap::new();
    for d in diags {
        let key = (d.code, d.span, d.message.clone());
        match index.get(&key) {
            Some(&i) => {
                if let Some(m) = merged.get_mut(i) {
                    for h in d.hosts {
                        if !m.hosts.contains(&h) {
                            m.hosts.push(h);
                        }
                    }
                }
            }
            None => {
                index.insert(key, merged.len());
                merged.push(d);
            }
        }
    }
    for d in &mut merged {
        d.hosts.sort();
    }
    merged.sort_by(|a, b| {
        let pa = a.span.map(|s| (sources.path(s).to_string(), s.start));
        let pb = b.span.map(|s| (sources.path(s).to_string(), s.start));
        pa.cmp(&pb)
            .then(a.code.cmp(b.code))
            .then(a.message.cmp(&b.message))
    });
    merged
}

/// Convenience for tests and benchmarks: loads a fleet directory's work tree.
///
/// # Errors
/// As [`load`].
pub fn load_dir(dir: &Path) -> Result<LoadedFleet, SourceError> {
    load(&LoadOptions {
        fleet_dir: dir.to_path_buf(),
        revision: None,
    })
}
