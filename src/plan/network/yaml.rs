//! A small block-style YAML emitter for the documents bmfleet writes (netplan, nmstate):
//! maps in insertion order, strings always double-quoted with JSON's escapes (a subset of
//! YAML's double-quoted escapes), so no value can change the document's structure.

use serde_json::Value;

/// `v` as a YAML document (block style, two-space indent, ends with a newline).
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.iter().all(is_inline) => seq(&mut out, a, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// Written on the key's line: scalars, empty collections, lists of scalars.
fn is_inline(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.iter().all(is_scalar),
        _ => true,
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(s),
        Value::Array(a) => format!("[{}]", a.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Object(_) => "{}".into(),
    }
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A key written plain when YAML reads it back as that same string.
fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "true" | "false" | "on" | "off" | "null"
        );
    if plain { k.to_string() } else { quote(k) }
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, indent: usize) {
    for (k, v) in m {
        out.push_str(&" ".repeat(indent));
        item(out, &key(k), v, indent);
    }
}

/// `key: value` (the indentation already written), nesting below for block values.
fn item(out: &mut String, k: &str, v: &Value, indent: usize) {
    out.push_str(k);
    out.push(':');
    if is_inline(v) {
        out.push(' ');
        out.push_str(&inline(v));
        out.push('\n');
        return;
    }
    out.push('\n');
    match v {
        Value::Object(m) => map(out, m, indent + 2),
        Value::Array(a) => seq(out, a, indent + 2),
        _ => {}
    }
}

fn seq(out: &mut String, a: &[Value], indent: usize) {
    for v in a {
        out.push_str(&" ".repeat(indent));
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (n, (k, v)) in m.iter().enumerate() {
                    if n > 0 {
                        out.push_str(&" ".repeat(indent + 2));
                    }
                    item(out, &key(k), v, indent + 2);
                }
            }
            Value::Array(inner) if !inner.iter().all(is_scalar) => {
                out.push('\n');
                seq(out, inner, indent + 2);
            }
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_yaml_with_quoted_strings() {
        let doc = json!({
            "interfaces": [
                {"name": "bond0", "mtu": 9000, "link-aggregation": {"port": ["a", "b"], "options": {}}},
                {"name": "x\"\ny", "ipv4": {"address": [{"ip": "192.0.2.1", "prefix-length": 24}]}}
            ],
            "yes": true
        });
        let want = [
            "interfaces:",
            "  - name: \"bond0\"",
            "    mtu: 9000",
            "    link-aggregation:",
            "      port: [\"a\", \"b\"]",
            "      options: {}",
            "  - name: \"x\\\"\\ny\"",
            "    ipv4:",
            "      address:",
            "        - ip: \"192.0.2.1\"",
            "          prefix-length: 24",
            "\"yes\": true",
            "",
        ];
        assert_eq!(to_yaml(&doc), want.join("\n"));
    }
}
