//! The resolver configuration as the host's C library uses it: `/etc/resolv.conf`
//! (resolv.conf(5)), or, when that file names only systemd-resolved's stub listener,
//! the uplink servers systemd-resolved itself uses (`/run/systemd/resolve/resolv.conf`,
//! systemd-resolved.service(8)).
//!
//! Where the configuration comes from differs by stack (systemd-resolved with
//! systemd-networkd, netplan or NetworkManager; NetworkManager writing `/etc/resolv.conf`
//! itself; ifupdown with a static file or resolvconf), but every stack ends in one of those
//! two files, so bmfleet reads the files rather than asking each stack.

use serde::Serialize;

/// The addresses of systemd-resolved's stub listeners (`127.0.0.53`, and `127.0.0.54`, the
/// proxy-only listener of systemd 251+).
pub const RESOLVED_STUBS: &[&str] = &["127.0.0.53", "127.0.0.54"];

/// `/etc/resolv.conf` on the host.
pub const ETC_RESOLV_CONF: &str = "/etc/resolv.conf";
/// The file systemd-resolved writes with the uplink servers it uses.
pub const RESOLVED_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// What a resolv.conf(5) file says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResolvConf {
    /// `nameserver` addresses in file order (the C library uses the first three,
    /// `MAXNS`), as written (an IPv6 link-local may carry `%iface`).
    pub servers: Vec<String>,
    /// The search list of the last `search` or `domain` line (resolv.conf(5): "the last
    /// instance wins"); empty when there is none.
    pub search: Vec<String>,
}

impl ResolvConf {
    /// Parses resolv.conf(5) text: keyword lines, `#` and `;` comments, other keywords
    /// (`options`, `sortlist`) ignored.
    pub fn parse(text: &str) -> ResolvConf {
        let mut out = ResolvConf::default();
        for line in text.lines() {
            let line = line.trim_start();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next() {
                        out.servers.push(addr.to_string());
                    }
                }
                Some("search") | Some("domain") => {
                    out.search = words.map(str::to_string).collect();
                }
                _ => {}
            }
        }
        out
    }

    /// Whether the file names systemd-resolved's stub and nothing else.
    pub fn only_stub(&self) -> bool {
        !self.servers.is_empty()
            && self
                .servers
                .iter()
                .all(|s| RESOLVED_STUBS.contains(&s.as_str()))
    }
}

/// The resolver state of a host: which file was used and what it says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Resolver {
    /// `/etc/resolv.conf` as read; `None` when it does not exist.
    pub etc: Option<ResolvConf>,
    /// The target of `/etc/resolv.conf` when it is a symlink (`../run/systemd/resolve/
    /// stub-resolv.conf`, `/run/resolvconf/resolv.conf`).
    pub etc_link: Option<String>,
    /// systemd-resolved's `/run/systemd/resolve/resolv.conf`; `None` when absent.
    pub resolved: Option<ResolvConf>,
}

impl Resolver {
    /// Whether name resolution goes through systemd-resolved (`/etc/resolv.conf` names only
    /// its stub).
    pub fn uses_resolved(&self) -> bool {
        self.etc.as_ref().is_some_and(ResolvConf::only_stub)
    }

    /// The configuration in effect: systemd-resolved's uplink file when `/etc/resolv.conf`
    /// names only the stub, else `/etc/resolv.conf`.
    ///
    /// # Errors
    /// When `/etc/resolv.conf` points at the stub but systemd-resolved's file could not be
    /// read.
    pub fn effective(&self) -> Result<ResolvConf, String> {
        if self.uses_resolved() {
            return self.resolved.clone().ok_or_else(|| {
                format!(
                    "{ETC_RESOLV_CONF} names only systemd-resolved's stub, and {RESOLVED_RESOLV_CONF} could not be read"
                )
            });
        }
        Ok(self.etc.clone().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_search_wins_and_comments_are_skipped() {
        let r = ResolvConf::parse(
            "# Generated\nnameserver 10.0.0.53\n; x\nsearch a.example b.example\nnameserver fe80::1%eth0\noptions edns0\ndomain c.example\n",
        );
        assert_eq!(r.servers, ["10.0.0.53", "fe80::1%eth0"]);
        assert_eq!(r.search, ["c.example"]);
        assert!(!r.only_stub());
        assert!(ResolvConf::parse("nameserver 127.0.0.53\noptions edns0 trust-ad\n").only_stub());
    }
}
