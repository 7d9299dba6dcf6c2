//! Secret values (BMC passwords, session tokens, cloud-init secrets) that must never reach
//! logs, plans, golden files or Git.

use std::fmt;

/// A secret string. `Debug` and `Display` print `(sensitive value)`, as Terraform does;
/// [`Secret::expose`] is the only way to read it, so every use is greppable.
///
/// Serialization is deliberately not implemented: a secret cannot end up in a plan file or
/// JSON output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Returns the secret in clear text. Call it only where the value is sent to its peer
    /// (an HTTP header, an SSH login), never for output.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive value)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(sensitive value)")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "(sensitive value) (sensitive value)");
        assert_eq!(s.expose(), "hunter2");
    }
}
