//! Comparing, fingerprinting and displaying setting values (JSON, as Redfish carries them).

use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a sensitive value is shown as, everywhere (Terraform's wording).
pub const SENSITIVE: &str = "(sensitive value)";

/// True when `a` and `b` are the same setting value.
///
/// Strict JSON equality, with one tolerance Redfish needs: an integer and a string holding
/// the same integer (`4` and `"4"`) are equal, because BMCs disagree about how integer BIOS
/// attributes are typed. Booleans are *not* equal to `"Enabled"`/`"Disabled"`, and `4` is
/// not equal to `"4.0"` or `" 4"`.
pub fn same_value(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (as_integer(a), as_integer(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The value as an integer when it is a JSON integer (or a float with no fraction), or a
/// string that is exactly the decimal form of an integer (`"4"`, `"-1"`; not `"04"`, `"+4"`).
fn as_integer(v: &Value) -> Option<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i128)
            }),
        Value::String(s) => {
            let parsed: i128 = s.parse().ok()?;
            (parsed.to_string() == *s).then_some(parsed)
        }
        _ => None,
    }
}

/// JSON text with object keys sorted at every level, so that equal values hash equally
/// regardless of the order a BMC sent them in.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    if let Some(child) = map.get(*k) {
                        write(child, out);
                    }
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Lower-case hex SHA-256 of `bytes` (64 characters).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Lower-case hex SHA-256 of the canonical JSON of `v`.
pub fn sha256_json(v: &Value) -> String {
    sha256_hex(canonical_json(v).as_bytes())
}

/// A value for humans, in Terraform's style: strings quoted, numbers and booleans bare,
/// lists and maps as compact JSON; `null` for an absent value.
pub fn display(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(v) => v.to_string(),
    }
}

/// Like [`display`], but a cloud-init digest (`{"sha256": ..., "bytes": n}`) is shortened to
/// `sha256:0123456789ab (n bytes)` (`sha256:0123456789ab` for one observed on a host, whose
/// size is not read), and a digest of an unread document shows as `(not read)`.
pub fn display_setting(v: Option<&Value>) -> String {
    // A digest read from a host (its size is not read): `sha256:0123456789ab`.
    if let Some(Value::Object(map)) = v
        && map.len() == 1
        && let Some(Value::String(h)) = map.get("sha256")
    {
        return format!("sha256:{}", h.get(..12).unwrap_or(h));
    }
    if let Some(Value::Object(map)) = v
        && map.len() == 2
        && map.contains_key("bytes")
    {
        match (map.get("sha256"), map.get("bytes")) {
            (Some(Value::String(h)), Some(Value::Number(n))) => {
                return format!("sha256:{} ({n} bytes)", h.get(..12).unwrap_or(h));
            }
            (Some(Value::Null), _) => return "(not read)".to_string(),
            _ => {}
        }
    }
    display(v)
}

/// True when a setting name looks like it holds a secret (`AdminPassword`, `SetupPasswd`,
/// `ApiToken`, `SharedSecret`): its values are never rendered and never stored in plans.
pub fn is_sensitive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "passphrase"]
        .iter()
        .any(|k| lower.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_and_their_strings_are_the_same_value() {
        assert!(same_value(&json!(4), &json!("4")));
        assert!(same_value(&json!("4"), &json!(4)));
        assert!(same_value(&json!(-1), &json!("-1")));
        assert!(same_value(&json!(4), &json!(4.0)));
    }

    #[test]
    fn other_forms_stay_strict() {
        assert!(!same_value(&json!(4), &json!("04")));
        assert!(!same_value(&json!(4), &json!("+4")));
        assert!(!same_value(&json!(4), &json!(" 4")));
        assert!(!same_value(&json!(4), &json!("4.0")));
        assert!(!same_value(&json!(true), &json!("Enabled")));
        assert!(!same_value(&json!(true), &json!(1)));
        assert!(!same_value(&json!("4"), &json!("4 ")));
        assert!(!same_value(&json!(5), &json!("4")));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":1,"p":2}],"x":2}}"#).unwrap();
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":2,"y":[1,{"p":2,"q":1}]},"b":1}"#
        );
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":2,"y":[1,{"p":2,"q":1}]},"b":1}"#).unwrap();
        assert_eq!(sha256_json(&a), sha256_json(&b));
    }

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn digests_display_short() {
        let v = json!({"sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "bytes": 0});
        assert_eq!(display_setting(Some(&v)), "sha256:e3b0c44298fc (0 bytes)");
        assert_eq!(
            display_setting(Some(&json!({"sha256": null, "bytes": null}))),
            "(not read)"
        );
        assert_eq!(display_setting(Some(&json!("On"))), "\"On\"");
        assert_eq!(display_setting(None), "null");
    }

    #[test]
    fn sensitive_names() {
        assert!(is_sensitive_name("AdminPassword"));
        assert!(is_sensitive_name("SetupPasswd"));
        assert!(!is_sensitive_name("SriovGlobalEnable"));
    }
}
