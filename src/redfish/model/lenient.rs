//! Tolerant deserializers for vendor quirks in Redfish payloads.
//!
//! Redfish (DSP0266 §9 "Data model", DMTF CSDL schemas) fixes the JSON type of every property,
//! but real BMCs deviate: iDRAC sends `"MessageArgs": "[]"` (a string), some OpenBMC and AMI
//! builds send counts as strings, and `@Message.ExtendedInfo` arrives as a single object on
//! non-conformant services (sushy `error_single_ext_info.json`). These helpers accept the
//! deviations instead of failing the whole resource; a value that cannot be understood becomes
//! `None` rather than an error, because one odd property must not hide the rest of a resource.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// An integer that may arrive as a JSON number, a numeric string (`"16"`), or `null`.
/// Non-numeric strings and fractional numbers become `None`.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(value_to_i64(&Value::deserialize(d)?))
}

/// A floating-point number that may arrive as a JSON number, a numeric string, or `null`.
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A boolean that may arrive as `true`/`false`, the strings `"true"`/`"false"` (any case), or
/// `null`. Anything else becomes `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    })
}

/// A string that may arrive as a number or boolean (rendered with `to_string`) or `null`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A list of strings; `null` becomes empty, a lone string becomes a one-element list, and
/// non-string elements are rendered with `to_string`.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().filter_map(value_to_string).collect(),
        Value::String(s) => vec![s],
        _ => Vec::new(),
    })
}

/// `MessageArgs` of a Redfish Message (DSP0266 §9.6 "Error responses"): normally an array of
/// strings; iDRAC sends the string `"[]"` (sushy-oem-idrac `error_pending_job.json`), so a
/// string holding a JSON array is parsed, and any other string is taken as one argument.
pub fn message_args<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().filter_map(value_to_string).collect(),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Array(items)) => items.iter().filter_map(value_to_string).collect(),
            _ if s.trim().is_empty() => Vec::new(),
            _ => vec![s],
        },
        Value::Null => Vec::new(),
        other => value_to_string(&other).into_iter().collect(),
    })
}

/// A list that may arrive as a JSON array, a single object (non-conformant
/// `@Message.ExtendedInfo`), or `null` (empty). Elements that do not deserialize into `T`
/// are skipped rather than failing the whole document.
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        Value::Null => Vec::new(),
        single => serde_json::from_value(single).ok().into_iter().collect(),
    })
}

/// A list whose elements that fail to deserialize are skipped; `null` becomes empty.
pub fn skip_bad<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// Converts a JSON value into an integer when it is an integral number or a numeric string.
pub fn value_to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "message_args")]
        args: Vec<String>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    #[test]
    fn numbers_as_strings_and_idrac_message_args() {
        let t: T = serde_json::from_str(r#"{"n":"16","args":"[]","b":"True"}"#).unwrap();
        assert_eq!(t.n, Some(16));
        assert!(t.args.is_empty());
        assert_eq!(t.b, Some(true));
        let t: T = serde_json::from_str(r#"{"n":4.0,"args":["a",1],"b":null}"#).unwrap();
        assert_eq!(t.n, Some(4));
        assert_eq!(t.args, vec!["a".to_string(), "1".to_string()]);
        assert_eq!(t.b, None);
        let t: T = serde_json::from_str(r#"{"n":"n/a","args":"x"}"#).unwrap();
        assert_eq!(t.n, None);
        assert_eq!(t.args, vec!["x".to_string()]);
    }
}
