//! A small, deterministic YAML emitter for JSON values (block style, keys in the value's
//! order, strings quoted only when YAML would read them as something else).

use serde_json::Value;

/// Renders `value` as a YAML document (no leading `---`), ending with a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => emit_map(m, 0, &mut out),
        Value::Array(a) if !a.is_empty() => emit_seq(a, 0, &mut out),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn emit_map(m: &serde_json::Map<String, Value>, level: usize, out: &mut String) {
    for (k, v) in m {
        indent(level, out);
        out.push_str(&key(k));
        out.push(':');
        emit_child(v, level, out);
    }
}

fn emit_seq(a: &[Value], level: usize, out: &mut String) {
    for v in a {
        indent(level, out);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest indented under it.
                let mut first = true;
                for (k, val) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(level + 2, out);
                    }
                    out.push_str(&key(k));
                    out.push(':');
                    emit_child(val, level + 2, out);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_seq(inner, level + 2, out);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn emit_child(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            emit_map(m, level + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            emit_seq(a, level, out);
        }
        Value::String(s) if s.contains('\n') => {
            out.push_str(" |");
            if !s.ends_with('\n') {
                out.push('-');
            }
            out.push('\n');
            for line in s.trim_end_matches('\n').split('\n') {
                if !line.is_empty() {
                    indent(level + 2, out);
                    out.push_str(line);
                }
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn key(k: &str) -> String {
    if needs_quotes(k) {
        quote(k)
    } else {
        k.to_string()
    }
}

/// The YAML text of a scalar (`{}`/`[]` for empty collections).
pub fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            if needs_quotes(s) {
                quote(s)
            } else {
                s.clone()
            }
        }
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if !matches!(
        crate::spec::yaml::resolve_plain(s),
        crate::spec::yaml::Value::Str(_)
    ) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@` ".contains(first) {
        return true;
    }
    (first.is_ascii_digit() && s.contains(':'))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(' ')
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control())
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_our_parser() {
        let v = json!({
            "power": "On",
            "n": 12,
            "s": "12",
            "t": true,
            "list": ["a", "b: c", ""],
            "items": [{"name": "bond0", "mtu": 9000, "ports": ["x", "y"]}],
            "text": "#cloud-config\nusers: []\n",
            "empty": {}
        });
        let y = to_yaml(&v);
        let back = crate::spec::yaml::parse(&y, 0, 1000)
            .unwrap()
            .remove(0)
            .root
            .to_json();
        assert_eq!(back, v, "{y}");
    }
}
