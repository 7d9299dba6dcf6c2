//! Label selectors in kubectl syntax (Kubernetes `apimachinery/pkg/labels/selector.go`):
//! `rack=r1`, `rack==r1`, `rack!=r1`, `role in (compute,storage)`, `role notin (dpu)`,
//! `canary` (key exists), `!canary` (key absent); requirements joined by `,` are ANDed.

use std::collections::BTreeMap;
use std::fmt;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value`.
    Eq(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEq(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    NotExists(String),
}

/// A parsed selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

/// A selector syntax error: what is wrong and the byte offset in the selector text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the selector where the problem starts.
    pub offset: usize,
}

impl fmt::Display for SelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

impl std::error::Error for SelectorError {}

/// Checks a label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of `[A-Za-z0-9._-]` starting and ending with an alphanumeric.
pub fn valid_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty()
            || p.len() > 253
            || !p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }))
    {
        return false;
    }
    !name.is_empty() && valid_label_value(name)
}

/// Checks a label value: empty, or at most 63 characters of `[A-Za-z0-9._-]` starting and
/// ending with an alphanumeric.
pub fn valid_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let bytes = value.as_bytes();
    value.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Selector {
    /// Parses a selector.
    ///
    /// # Errors
    /// [`SelectorError`] with the offending offset for bad syntax or invalid keys/values.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        let mut offset = 0usize;
        for part in split_top(text) {
            let raw = part;
            let lead = raw.len() - raw.trim_start().len();
            let p = raw.trim();
            let at = offset + lead;
            offset += raw.len() + 1;
            if p.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err(SelectorError {
                    message: "empty requirement".into(),
                    offset: at,
                });
            }
            reqs.push(parse_requirement(p, at)?);
        }
        Ok(Self { requirements: reqs })
    }

    /// True when `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Eq(k, v) => labels.get(k) == Some(v),
            Requirement::NotEq(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::NotIn(k, vs) => !labels.get(k).is_some_and(|l| vs.contains(l)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn key_checked(key: &str, at: usize) -> Result<String, SelectorError> {
    if valid_label_key(key) {
        Ok(key.to_string())
    } else if key.is_empty() {
        Err(SelectorError {
            message: "a label key is missing".into(),
            offset: at,
        })
    } else {
        Err(SelectorError {
            message: format!("`{key}` is not a valid label key"),
            offset: at,
        })
    }
}

fn value_checked(value: &str, at: usize) -> Result<String, SelectorError> {
    if valid_label_value(value) {
        Ok(value.to_string())
    } else {
        Err(SelectorError {
            message: format!("`{value}` is not a valid label value"),
            offset: at,
        })
    }
}

fn parse_requirement(p: &str, at: usize) -> Result<Requirement, SelectorError> {
    if let Some(key) = p.strip_prefix('!') {
        return Ok(Requirement::NotExists(key_checked(key.trim(), at + 1)?));
    }
    if let Some((k, v)) = p.split_once("!=") {
        return Ok(Requirement::NotEq(
            key_checked(k.trim(), at)?,
            value_checked(v.trim(), at + k.len() + 2)?,
        ));
    }
    if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
        let vpos = at + p.find(v).unwrap_or(0);
        return Ok(Requirement::Eq(
            key_checked(k.trim(), at)?,
            value_checked(v.trim(), vpos)?,
        ));
    }
    let words: Vec<&str> = p.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words.as_slice() {
        let rest = rest.trim();
        let (op, list) = if let Some(l) = rest.strip_prefix("notin") {
            ("notin", l)
        } else if let Some(l) = rest.strip_prefix("in") {
            ("in", l)
        } else {
            return Err(SelectorError {
                message: format!("expected `=`, `!=`, `in` or `notin` after `{key}`"),
                offset: at + key.len() + 1,
            });
        };
        let list = list.trim();
        let lpos = at + p.find(list).unwrap_or(0);
        let Some(inner) = list.strip_prefix('(').and_then(|l| l.strip_suffix(')')) else {
            return Err(SelectorError {
                message: format!("`{op}` needs a parenthesised list: `{key} {op} (a,b)`"),
                offset: lpos,
            });
        };
        let values = inner
            .split(',')
            .map(|v| value_checked(v.trim(), lpos))
            .collect::<Result<Vec<_>, _>>()?;
        if values.iter().all(String::is_empty) {
            return Err(SelectorError {
                message: format!("`{op}` needs at least one value"),
                offset: lpos,
            });
        }
        let key = key_checked(key, at)?;
        return Ok(if op == "in" {
            Requirement::In(key, values)
        } else {
            Requirement::NotIn(key, values)
        });
    }
    Ok(Requirement::Exists(key_checked(p, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn kubectl_syntax() {
        let l = labels(&[("rack", "r1"), ("role", "compute")]);
        for (sel, want) in [
            ("rack=r1", true),
            ("rack==r2", false),
            ("rack!=r2", true),
            ("role in (compute, storage)", true),
            ("role notin (compute)", false),
            ("rack=r1,role=compute", true),
            ("canary", false),
            ("!canary", true),
            ("", true),
        ] {
            assert_eq!(Selector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
    }

    #[test]
    fn errors_have_offsets() {
        let e = Selector::parse("rack=r1,role in compute").unwrap_err();
        assert_eq!(e.offset, 16);
        assert!(Selector::parse("rack=r 1").is_err());
        assert!(Selector::parse("rack=r1,,x").is_err());
        assert!(Selector::parse("-bad=1").is_err());
        let e = Selector::parse("role=storage,=x").unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.offset),
            ("a label key is missing", 13)
        );
    }
}
