//! Resource addresses as a small typed value: `host/r1-c01/bios`,
//! `host/r1-c01/network/bond0`, `host/r1-c01/network/ens1f0/sr-iov`.
//!
//! An [`Address`] is (host, [`ResourceKind`], interface). It prints and serializes as the
//! familiar string and parses back from it ([`Address::parse`]), but code compares kinds and
//! hosts as fields, never by matching string suffixes.

use super::resource::ResourceKind;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cmp::Ordering;
use std::fmt;

/// The address of one resource of one host.
///
/// Ordering is the ordering of the printed form (`host/a/bios` < `host/a/boot` <
/// `host/a/network/eno1`), so sorted output is stable across versions.
#[derive(Debug, Clone)]
pub struct Address {
    /// The host's name (`metadata.name`).
    pub host: String,
    /// The resource kind.
    pub kind: ResourceKind,
    /// The interface name, for `ethernet`, `bond`, `vlan` and `sr-iov`; `None` otherwise.
    pub iface: Option<String>,
}

/// Why an address text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource address `{text}`: {why}")]
pub struct AddressError {
    /// The text given.
    pub text: String,
    /// What is wrong.
    pub why: &'static str,
}

impl Address {
    /// The address of `kind` on `host` (`iface` for the network kinds, else `None`).
    pub fn new(host: &str, kind: ResourceKind, iface: Option<&str>) -> Self {
        let iface = match kind {
            ResourceKind::Ethernet
            | ResourceKind::Bond
            | ResourceKind::Vlan
            | ResourceKind::SrIov => iface.map(str::to_string),
            _ => None,
        };
        Self {
            host: host.to_string(),
            kind,
            iface,
        }
    }

    /// The path below `host/<h>/` as its pieces (joined, they give [`Address::relative`]).
    fn pieces(&self) -> [&str; 3] {
        let iface = self.iface.as_deref().unwrap_or_default();
        match self.kind {
            ResourceKind::Host => ["", "", ""],
            ResourceKind::Ethernet | ResourceKind::Bond | ResourceKind::Vlan => {
                ["network/", iface, ""]
            }
            ResourceKind::SrIov => ["network/", iface, "/sr-iov"],
            other => [other.relative_path(), "", ""],
        }
    }

    /// The address without its `host/<h>/` prefix (`bios`, `network/ens1f0/sr-iov`); the
    /// whole address (`host/<h>`) for the host node.
    pub fn relative(&self) -> String {
        if self.kind == ResourceKind::Host {
            return format!("host/{}", self.host);
        }
        self.pieces().concat()
    }

    /// Parses the printed form.
    ///
    /// # Errors
    /// [`AddressError`] when the text does not start with `host/<name>` or names no kind.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let err = |why| AddressError {
            text: text.to_string(),
            why,
        };
        let rest = text
            .strip_prefix("host/")
            .ok_or(err("it must start with `host/`"))?;
        let (host, rel) = match rest.split_once('/') {
            Some((h, r)) => (h, Some(r)),
            None => (rest, None),
        };
        if host.is_empty() {
            return Err(err("the host name is empty"));
        }
        let Some(rel) = rel else {
            return Ok(Self::new(host, ResourceKind::Host, None));
        };
        if let Some(net) = rel.strip_prefix("network/") {
            let (iface, sriov) = match net.strip_suffix("/sr-iov") {
                Some(i) => (i, true),
                None => (net, false),
            };
            if iface.is_empty() || iface.contains('/') {
                return Err(err("the interface name is empty or has a `/`"));
            }
            // The interface kind (ethernet, bond, vlan) is not in the text: it comes from the
            // spec. Parsed addresses say `ethernet`; compare network addresses by text.
            let kind = if sriov {
                ResourceKind::SrIov
            } else {
                ResourceKind::Ethernet
            };
            return Ok(Self::new(host, kind, Some(iface)));
        }
        ResourceKind::ALL
            .into_iter()
            .find(|k| {
                !matches!(
                    k,
                    ResourceKind::Host
                        | ResourceKind::Ethernet
                        | ResourceKind::Bond
                        | ResourceKind::Vlan
                        | ResourceKind::SrIov
                ) && k.relative_path() == rel
            })
            .map(|k| Self::new(host, k, None))
            .ok_or(err("no resource kind has this path"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ResourceKind::Host {
            return write!(f, "host/{}", self.host);
        }
        let [a, b, c] = self.pieces();
        write!(f, "host/{}/{a}{b}{c}", self.host)
    }
}

impl Address {
    /// The kind as far as the address tells: `ethernet`, `bond` and `vlan` share the path
    /// `network/<iface>`, so they are one address.
    fn path_kind(&self) -> ResourceKind {
        match self.kind {
            ResourceKind::Bond | ResourceKind::Vlan => ResourceKind::Ethernet,
            k => k,
        }
    }
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host
            && self.path_kind() == other.path_kind()
            && self.iface == other.iface
    }
}

impl Eq for Address {}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.host.hash(state);
        self.path_kind().hash(state);
        self.iface.hash(state);
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        Address::parse(other).is_ok_and(|a| a == *self)
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> Ordering {
        // Compare as the printed text does: the host name, then `/` (absent for the host
        // node itself), then the path pieces.
        let slash = |a: &Address| (a.kind != ResourceKind::Host).then_some(b'/');
        let a = self.host.bytes().chain(slash(self));
        let b = other.host.bytes().chain(slash(other));
        a.cmp(b).then_with(|| {
            let pa = if self.kind == ResourceKind::Host {
                [""; 3]
            } else {
                self.pieces()
            };
            let pb = if other.kind == ResourceKind::Host {
                [""; 3]
            } else {
                other.pieces()
            };
            let ta = pa.iter().flat_map(|p| p.bytes());
            let tb = pb.iter().flat_map(|p| p.bytes());
            ta.cmp(tb)
        })
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Address::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Address {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Address".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A resource address: `host/<name>` followed by the resource path (`bios`, `boot`, `power`, `dpu/mode`, `network/<iface>`, `network/<iface>/sr-iov`, `os/kernel-args`, ...).",
            "type": "string",
            "pattern": "^host/[^/]+(/.+)?$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_parses_and_sorts_like_the_text() {
        let cases = [
            "host/a",
            "host/a/bios",
            "host/a/boot",
            "host/a/dpu/mode",
            "host/a/network/bond0",
            "host/a/network/ens1f0/sr-iov",
            "host/a/os/kernel-args",
            "host/a/power",
            "host/a-1/bios",
            "host/ab/bios",
        ];
        let parsed: Vec<Address> = cases.iter().map(|c| Address::parse(c).unwrap()).collect();
        for (c, a) in cases.iter().zip(&parsed) {
            assert_eq!(a.to_string(), *c);
        }
        let mut by_text = cases.to_vec();
        by_text.sort();
        let mut by_addr = parsed.clone();
        by_addr.sort();
        let printed: Vec<String> = by_addr.iter().map(ToString::to_string).collect();
        assert_eq!(printed, by_text);
        assert_eq!(parsed[1].kind, ResourceKind::Bios);
        assert_eq!(parsed[5].iface.as_deref(), Some("ens1f0"));
        assert_eq!(parsed[5].relative(), "network/ens1f0/sr-iov");
    }

    #[test]
    fn bad_addresses_are_errors() {
        for bad in [
            "",
            "bios",
            "host/",
            "host/a/nothing",
            "host/a/network/",
            "host//bios",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }
}
