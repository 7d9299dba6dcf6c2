//! Structural validation: walks a YAML [`Node`] tree against the generated JSON Schema and
//! reports *every* unknown key, wrong type, invalid enum value and out-of-range integer with
//! the span of the offending key or value and a "did you mean" hint.
//!
//! It understands the subset of JSON Schema 2020-12 that schemars generates for our types
//! (`$ref`, `type`, `properties`, `additionalProperties`, `required`, `items`, `anyOf`,
//! `oneOf` of `const`s, `enum`, `minimum`, `maximum`, integer `format`s, `pattern`). A test
//! checks that the generated schema uses nothing else.

use super::diagnostic::Diag;
use super::yaml::{Node, Value};
use serde_json::{Map, Value as Json};

/// Schema walker over the `$defs` of [`super::schema::fleet_schema`].
pub struct Checker<'a> {
    defs: &'a Map<String, Json>,
}

/// Keywords the checker understands; anything else in the generated schema is a bug.
pub const KNOWN_KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "properties",
    "additionalProperties",
    "required",
    "items",
    "anyOf",
    "oneOf",
    "const",
    "enum",
    "minimum",
    "maximum",
    "format",
    "pattern",
    "description",
    "default",
    "title",
];

impl<'a> Checker<'a> {
    /// A checker resolving `$ref`s against `defs`.
    pub fn new(defs: &'a Map<String, Json>) -> Self {
        Self { defs }
    }

    fn resolve(&self, mut schema: &'a Json) -> &'a Json {
        for _ in 0..16 {
            match schema
                .get("$ref")
                .and_then(Json::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .and_then(|name| self.defs.get(name))
            {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    /// The schema of definition `name` (e.g. `HostDocument`).
    pub fn def(&self, name: &str) -> Option<&'a Json> {
        self.defs.get(name)
    }

    /// Checks `node` against `schema`, appending one diagnostic per problem, and removes the
    /// offending entries and items from `node` so that later rules can still run on the rest
    /// (every problem is reported in one run). `path` is the dotted path of `node`.
    pub fn check(&self, schema: &'a Json, node: &mut Node, path: &str, out: &mut Vec<Diag>) {
        self.check_node(schema, node, path, out);
    }

    /// [`Self::check`]; returns `false` when `node` lost a required key to pruning, so that
    /// its parent drops it too (problems at the node's own span are dropped by the parent
    /// already).
    fn check_node(
        &self,
        schema: &'a Json,
        node: &mut Node,
        path: &str,
        out: &mut Vec<Diag>,
    ) -> bool {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            return self.check_branches(branches, node, path, out);
        }
        if let Some(types) = schema.get("type")
            && !type_matches(types, &node.value)
        {
            out.push(type_error(&type_names(types), node, path));
            return true;
        }
        if let Some(c) = schema.get("const") {
            if node.to_json() != *c {
                out.push(enum_error(std::slice::from_ref(c), node, path));
            }
            return true;
        }
        if let Some(options) = schema.get("enum").and_then(Json::as_array) {
            if !options.contains(&node.to_json()) {
                out.push(enum_error(options, node, path));
            }
            return true;
        }
        let node_span = node.span;
        match &mut node.value {
            Value::Map(entries) => {
                let props = schema.get("properties").and_then(Json::as_object);
                let additional = schema.get("additionalProperties");
                // `required` is about the keys written, before invalid entries are pruned
                // below (a key with a bad value is reported once, not also as missing).
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Json::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                    .collect();
                let missing: Vec<&str> = required
                    .iter()
                    .copied()
                    .filter(|key| !entries.iter().any(|e| e.key == *key))
                    .collect();
                entries.retain_mut(|entry| {
                    let child_path = join(path, &entry.key);
                    let before = out.len();
                    let mut keep = true;
                    if let Some(sub) = props.and_then(|p| p.get(&entry.key)) {
                        keep = self.check_node(sub, &mut entry.value, &child_path, out);
                    } else {
                        match additional {
                            Some(Json::Bool(false)) => {
                                out.push(unknown_key(entry, props, path));
                            }
                            Some(sub @ Json::Object(_)) => {
                                keep = self.check_node(sub, &mut entry.value, &child_path, out);
                            }
                            _ => {}
                        }
                    }
                    // Keep entries whose problems were deeper down (pruned there); drop the
                    // ones that are themselves wrong.
                    let own = [Some(entry.value.span), Some(entry.key_span)];
                    keep && !out[before..].iter().any(|d| own.contains(&d.span))
                });
                let lost_required = required
                    .iter()
                    .any(|key| !missing.contains(key) && !entries.iter().any(|e| e.key == *key));
                for key in missing {
                    out.push(
                        Diag::error(
                            "missing_field",
                            format!("{} is missing the required key `{key}`", display_path(path)),
                            Some(node_span),
                        )
                        .label(format!("`{key}` missing here"))
                        .help(format!("add `{key}:` to this mapping")),
                    );
                }
                return !lost_required;
            }
            Value::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    let mut i = 0;
                    items.retain_mut(|item| {
                        let child = format!("{path}[{}]", item_label(item, i));
                        i += 1;
                        let before = out.len();
                        let keep = self.check_node(item_schema, item, &child, out);
                        keep && !out[before..].iter().any(|d| d.span == Some(item.span))
                    });
                }
            }
            Value::Int(i) => {
                let i = *i;
                check_int_range(schema, i, node, path, out);
            }
            Value::Str(s) => {
                if let Some(p) = schema.get("pattern").and_then(Json::as_str)
                    && let Ok(re) = regex::Regex::new(p)
                    && !re.is_match(s)
                {
                    out.push(
                        Diag::error(
                            "invalid_value",
                            format!("`{s}` is not a valid value for {}", display_path(path)),
                            Some(node.span),
                        )
                        .label(format!("does not match {p}"))
                        .help(pattern_help(p)),
                    );
                }
            }
            _ => {}
        }
        true
    }

    fn check_branches(
        &self,
        branches: &'a [Json],
        node: &mut Node,
        path: &str,
        out: &mut Vec<Diag>,
    ) -> bool {
        let resolved: Vec<&Json> = branches.iter().map(|b| self.resolve(b)).collect();
        let accepts_null = resolved.iter().any(|b| {
            b.get("type")
                .is_some_and(|t| type_matches(t, &Value::Null) && !t.is_array())
        });
        if matches!(node.value, Value::Null) && accepts_null {
            return true;
        }
        let non_null: Vec<&Json> = resolved
            .into_iter()
            .filter(|b| b.get("type").and_then(Json::as_str) != Some("null"))
            .collect();
        // An enum spelled as oneOf of consts (schemars does this for documented variants).
        if !non_null.is_empty() && non_null.iter().all(|b| b.get("const").is_some()) {
            let options: Vec<Json> = non_null
                .iter()
                .filter_map(|b| b.get("const").cloned())
                .collect();
            if !options.contains(&node.to_json()) {
                out.push(enum_error(&options, node, path));
            }
            return true;
        }
        if non_null.len() == 1 {
            return self.check_node(non_null[0], node, path, out);
        }
        let typed: Vec<&Json> = non_null
            .iter()
            .copied()
            .filter(|b| {
                let b = self.resolve(b);
                match b.get("type") {
                    Some(t) => type_matches(t, &node.value),
                    None => true,
                }
            })
            .collect();
        if typed.is_empty() {
            let names: Vec<String> = non_null
                .iter()
                .filter_map(|b| self.resolve(b).get("type"))
                .flat_map(type_names)
                .collect();
            out.push(type_error(&names, node, path));
            return true;
        }
        let mut first_errors = None;
        for branch in &typed {
            let mut errs = Vec::new();
            let mut scratch = node.clone();
            let keep = self.check_node(branch, &mut scratch, path, &mut errs);
            if errs.is_empty() && keep {
                return true;
            }
            first_errors.get_or_insert((errs, scratch, keep));
        }
        match first_errors {
            Some((errs, pruned, keep)) => {
                out.extend(errs);
                *node = pruned;
                keep
            }
            None => true,
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{path}`")
    }
}

/// `name` of a sequence item when it has one (interfaces), else its index.
pub fn item_label(item: &Node, index: usize) -> String {
    item.get("name")
        .and_then(Node::as_str)
        .map_or_else(|| index.to_string(), str::to_string)
}

fn type_matches(types: &Json, value: &Value) -> bool {
    match types {
        Json::String(t) => one_type_matches(t, value),
        Json::Array(ts) => ts
            .iter()
            .filter_map(Json::as_str)
            .any(|t| one_type_matches(t, value)),
        _ => true,
    }
}

fn one_type_matches(t: &str, value: &Value) -> bool {
    matches!(
        (t, value),
        ("null", Value::Null)
            | ("boolean", Value::Bool(_))
            | ("integer", Value::Int(_))
            | ("number", Value::Int(_) | Value::Float(_))
            | ("string", Value::Str(_))
            | ("array", Value::Seq(_))
            | ("object", Value::Map(_))
    )
}

fn type_names(types: &Json) -> Vec<String> {
    let yaml = |t: &str| match t {
        "object" => "mapping".to_string(),
        "array" => "sequence".to_string(),
        other => other.to_string(),
    };
    match types {
        Json::String(t) => vec![yaml(t)],
        Json::Array(ts) => ts
            .iter()
            .filter_map(Json::as_str)
            .filter(|t| *t != "null")
            .map(yaml)
            .collect(),
        _ => Vec::new(),
    }
}

/// `an integer`, `a mapping`: the type names start with a vowel sound exactly when they
/// start with a vowel letter.
pub(crate) fn with_article(words: &str) -> String {
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {words}")
}

fn type_error(expected: &[String], node: &Node, path: &str) -> Diag {
    let mut expected: Vec<String> = expected.to_vec();
    expected.dedup();
    let want = match expected.len() {
        0 => "another type".to_string(),
        1 => with_article(&expected[0]),
        _ => {
            let (last, rest) = expected.split_last().unwrap_or((&expected[0], &[]));
            format!("{} or {last}", with_article(&rest.join(", ")))
        }
    };
    let found = node.type_name();
    let help = match (&node.value, expected.iter().any(|e| e == "string")) {
        (Value::Int(_) | Value::Float(_) | Value::Bool(_), true) => {
            "quote the value to make it a string".to_string()
        }
        (Value::Str(s), false) if s.parse::<i64>().is_ok() => {
            "remove the quotes: this field takes a number".to_string()
        }
        (Value::Map(_), _) if expected.iter().any(|e| e == "sequence") => {
            "write a list with `- item` lines".to_string()
        }
        _ => format!("write {want} here"),
    };
    Diag::error(
        "invalid_type",
        format!(
            "{} must be {want}, found {}",
            display_path(path),
            with_article(found)
        ),
        Some(node.span),
    )
    .label(format!("this is {}", with_article(found)))
    .help(help)
}

fn scalar_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn enum_error(options: &[Json], node: &Node, path: &str) -> Diag {
    let names: Vec<String> = options.iter().map(scalar_text).collect();
    let got = match &node.value {
        Value::Str(s) => s.clone(),
        _ => scalar_text(&node.to_json()),
    };
    let mut d = Diag::error(
        "invalid_value",
        format!("`{got}` is not a valid value for {}", display_path(path)),
        Some(node.span),
    )
    .label(format!("expected one of: {}", names.join(", ")));
    if let Some(best) = did_you_mean(&got, names.iter().map(String::as_str)) {
        d = d.help(format!("did you mean `{best}`?"));
    } else {
        d = d.help(format!("use one of: {}", names.join(", ")));
    }
    d
}

fn unknown_key(entry: &super::yaml::Entry, props: Option<&Map<String, Json>>, path: &str) -> Diag {
    let key = &entry.key;
    let lower = key.to_ascii_lowercase();
    if ["password", "passwd", "secret", "token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return Diag::error(
            "plaintext_secret",
            format!("`{key}` looks like a secret written into the spec"),
            Some(entry.key_span),
        )
        .label("secrets never belong in Git")
        .secret(entry.value.span)
        .help("declare a credential name under the Fleet's `spec.credentials` and reference it with `credentialsRef`; the value is read at run time from the environment or a credentials file outside the repo");
    }
    let where_ = if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{path}`")
    };
    let mut d = Diag::error(
        "unknown_key",
        format!("unknown key `{key}` in {where_}"),
        Some(entry.key_span),
    )
    .label("unknown key");
    let names: Vec<&str> = props
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if key == "<<" {
        d = d.help(
            "YAML merge keys (`<<`) are not supported; share settings with a Profile instead",
        );
    } else if let Some(best) = did_you_mean(key, names.iter().copied()) {
        d = d.help(format!("did you mean `{best}`?"));
    } else if !names.is_empty() {
        d = d.help(format!("expected one of: {}", names.join(", ")));
    }
    d
}

/// The closest candidate to `got`, offered only when it is a likely typo of it:
///
/// - names are compared ignoring case and the separators `-`, `_` and `.` (`linkAggregation`
///   is `link-aggregation`, `R1_C01` is `r1-c01`); equal that way is a match;
/// - otherwise the edit distance (optimal string alignment: a swapped pair of letters is one
///   edit) must be at most a quarter of the longer name, and at least 1 (`mut` -> `mtu`,
///   `lnik-aggregation` -> `link-aggregation`);
/// - the numbers in both must be the same (`r1-c1` may mean `r1-c01`, but `r7-s09` is not a
///   typo of `r7-c04`, nor `ens1f0` of `ens1f1`): a different number names another thing.
pub fn did_you_mean<'c>(got: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '-' | '_' | '.'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    if got.len() > 256 {
        // Not a typo of anything, and an edit distance on a 2 MiB key takes seconds.
        return None;
    }
    let got_norm = norm(got);
    let got_numbers = numbers(got);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let c_norm = norm(c);
        if c_norm == got_norm {
            return Some(c);
        }
        if c.len() > 256 || numbers(c) != got_numbers {
            continue;
        }
        let d = strsim::osa_distance(&got_norm, &c_norm);
        let longer = got_norm.chars().count().max(c_norm.chars().count());
        let limit = (longer / 4).max(1);
        // A distance as long as the longer word means nothing is shared (`8` vs `pf`).
        if d <= limit && d < longer && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The numbers in a name, as values (`r1c01` has 1 and 1), to tell `r7-s09` from `r7-c04`.
fn numbers(s: &str) -> Vec<u128> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .map(|run| {
            let digits = run.trim_start_matches('0');
            // Longer than u128: compare a saturated value (such names are no typo of a short one).
            digits.parse::<u128>().unwrap_or(u128::MAX)
        })
        .collect()
}

fn check_int_range(schema: &Json, i: i64, node: &Node, path: &str, out: &mut Vec<Diag>) {
    let (fmt_min, fmt_max): (i64, i64) = match schema.get("format").and_then(Json::as_str) {
        Some("uint8") => (0, u8::MAX as i64),
        Some("uint16") => (0, u16::MAX as i64),
        Some("uint32") => (0, u32::MAX as i64),
        Some("uint64" | "uint") => (0, i64::MAX),
        Some("int32") => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    };
    let min = schema
        .get("minimum")
        .and_then(Json::as_i64)
        .unwrap_or(fmt_min)
        .max(fmt_min);
    let max = schema
        .get("maximum")
        .and_then(Json::as_i64)
        .unwrap_or(fmt_max)
        .min(fmt_max);
    if i < min || i > max {
        let range = if max == i64::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        out.push(
            Diag::error(
                "out_of_range",
                format!("{i} is out of range for {}", display_path(path)),
                Some(node.span),
            )
            .label(format!("must be {range}"))
            .help(format!("use a value {range}")),
        );
    }
}

fn pattern_help(pattern: &str) -> String {
    match pattern {
        r"^[0-9]{1,3}%$" => "write a count (`2`) or a percentage in quotes (`\"25%\"`)".into(),
        other => format!("the value must match {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_host(text: &str) -> (Vec<Diag>, Node) {
        let schema = crate::spec::schema::fleet_schema();
        let defs = schema["$defs"].as_object().unwrap();
        let checker = Checker::new(defs);
        let mut node = crate::spec::yaml::parse(text, 0, 10_000)
            .unwrap()
            .remove(0)
            .root;
        let mut out = Vec::new();
        checker.check(
            checker.def("HostDocument").unwrap(),
            &mut node,
            "",
            &mut out,
        );
        (out, node)
    }

    #[test]
    fn a_bad_required_value_is_not_also_reported_missing() {
        let (diags, node) = check_host(
            "apiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {labels: {a: b}}\nspec:\n  network:\n    interfaces:\n      - name: e\n        ipv4: {address: [{ip: 10.0.0.1, prefix-length: 300}]}\n",
        );
        let codes: Vec<(&str, &str)> = diags.iter().map(|d| (d.code, d.message.as_str())).collect();
        assert_eq!(
            codes,
            vec![
                (
                    "missing_field",
                    "`metadata` is missing the required key `name`"
                ),
                (
                    "out_of_range",
                    "300 is out of range for `spec.network.interfaces[e].ipv4.address[0].prefix-length`"
                ),
            ]
        );
        // The address lost its required `prefix-length`, so the item is pruned as a whole
        // (the rest of the host still deserializes and reaches the semantic rules).
        let ipv4 = crate::spec::merge::lookup(
            &node,
            &crate::spec::merge::parse_path("spec.network.interfaces[e].ipv4").unwrap(),
        )
        .unwrap();
        assert_eq!(ipv4.to_json(), serde_json::json!({"address": []}));
    }

    #[test]
    fn type_errors_use_the_right_article() {
        let (diags, _) = check_host(
            "apiVersion: bmfleet.dev/v1alpha1\nkind: Host\nmetadata: {name: n}\nspec:\n  hardware: {numaNodes: two}\n  os: {kernelArgs: 7}\n",
        );
        let messages: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "`spec.hardware.numaNodes` must be an integer, found a string",
                "`spec.os.kernelArgs` must be a sequence, found an integer",
            ]
        );
        assert_eq!(diags[1].label, "this is an integer");
    }

    #[test]
    fn did_you_mean_handles_case_and_separators() {
        let c = ["link-aggregation", "base-iface", "mtu"];
        assert_eq!(
            did_you_mean("linkAggregation", c.iter().copied()),
            Some("link-aggregation")
        );
        assert_eq!(
            did_you_mean("lnik-aggregation", c.iter().copied()),
            Some("link-aggregation")
        );
        assert_eq!(did_you_mean("mut", c.iter().copied()), Some("mtu"));
        assert_eq!(did_you_mean("zzzzzzzz", c.iter().copied()), None);
        assert_eq!(did_you_mean("8", ["pf", "ids"].into_iter()), None);
        assert_eq!(did_you_mean(&"mtu".repeat(1000), c.iter().copied()), None);
        assert_eq!(did_you_mean("id", ["pf", "ids"].into_iter()), Some("ids"));
    }

    #[test]
    fn did_you_mean_offers_only_close_matches() {
        // The friction log: a host that does not exist is not a typo of one that differs in
        // a letter and a number.
        let hosts = ["R7_C04", "r7-c05", "r7-s01"];
        assert_eq!(did_you_mean("r7-s09", hosts.iter().copied()), None);
        assert_eq!(did_you_mean("ens1f0", ["ens1f1"].into_iter()), None);
        assert_eq!(did_you_mean("abcd", ["wxyz"].into_iter()), None);
        assert_eq!(
            did_you_mean("compute", ["storage", "dpu"].into_iter()),
            None
        );
        // Suggestions that must stay: case, separators, a leading zero, one typo or swap.
        assert_eq!(
            did_you_mean("r7_c04", hosts.iter().copied()),
            Some("R7_C04")
        );
        assert_eq!(
            did_you_mean("R7-C05", hosts.iter().copied()),
            Some("r7-c05")
        );
        assert_eq!(did_you_mean("r7-c5", hosts.iter().copied()), Some("r7-c05"));
        assert_eq!(did_you_mean("r7-s1", hosts.iter().copied()), Some("r7-s01"));
        assert_eq!(
            did_you_mean("comptue", ["storage", "compute"].into_iter()),
            Some("compute")
        );
        assert_eq!(
            did_you_mean(
                "SriovGlobalEnabel",
                ["SriovGlobalEnable", "ProcVirtualization"].into_iter()
            ),
            Some("SriovGlobalEnable")
        );
        assert_eq!(
            did_you_mean("base_iface", ["base-iface", "mtu"].into_iter()),
            Some("base-iface")
        );
        assert_eq!(
            did_you_mean("credentialRef", ["credentialsRef", "endpoint"].into_iter()),
            Some("credentialsRef")
        );
        assert_eq!(did_you_mean("bond1", ["bond0", "ens1f0"].into_iter()), None);
        assert_eq!(
            did_you_mean("bond0.10", ["bond0.100", "bond0.200"].into_iter()),
            None
        );
        assert_eq!(
            did_you_mean("bnod0.100", ["bond0.100", "bond0.200"].into_iter()),
            Some("bond0.100")
        );
    }
}
