//! Turning effective hosts into Redfish targets: endpoints, credentials (resolved at run
//! time, never from the repo) and TLS trust.

use crate::plan::observed::ReadError;
use crate::redfish::{BmcTarget, TlsOptions};
use crate::secret::Secret;
use crate::spec::Host;
use crate::spec::model::{BmcSpec, CredentialSpec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to read for one host.
#[derive(Debug, Clone)]
pub struct HostTarget {
    /// Host name.
    pub name: String,
    /// The host BMC, or why it cannot be contacted (no credentials, bad URL).
    pub bmc: Result<BmcTarget, ReadError>,
    /// The DPU BMC, when the spec has a DPU.
    pub dpu: Option<Result<BmcTarget, ReadError>>,
    /// Read BIOS attributes (the spec sets some).
    pub bios: bool,
    /// Read the DPU's BIOS attributes.
    pub dpu_bios: bool,
}

/// A resolved credential.
#[derive(Debug, Clone)]
pub struct Credential {
    /// BMC user name.
    pub username: String,
    /// BMC password.
    pub password: Secret,
}

/// Where credentials come from.
pub enum CredentialSource<'a> {
    /// Environment variables named by the Fleet's `spec.credentials` (`usernameEnv`,
    /// `passwordEnv`), else `BMFLEET_CRED_<NAME>_USERNAME` / `_PASSWORD`.
    Env {
        /// The declared credentials.
        declared: &'a BTreeMap<String, CredentialSpec>,
        /// Environment lookup (`std::env::var` in the CLI, a map in tests).
        lookup: &'a dyn Fn(&str) -> Option<String>,
    },
    /// One fixed credential for every BMC (the simulator's).
    Fixed(Credential),
}

/// The default environment variable for a credential field: `BMFLEET_CRED_<NAME>_<FIELD>`
/// (defined with the spec model, which `bmfleet diff` also reads).
pub use crate::spec::model::default_env_var;

impl CredentialSource<'_> {
    /// Resolves credential `name`.
    ///
    /// # Errors
    /// A message naming the missing environment variable.
    pub fn resolve(&self, name: &str) -> Result<Credential, String> {
        match self {
            CredentialSource::Fixed(c) => Ok(c.clone()),
            CredentialSource::Env { declared, lookup } => {
                let spec = declared.get(name).cloned().unwrap_or_default();
                let user_var = spec.username_var(name);
                let pass_var = spec.password_var(name);
                let username = lookup(&user_var).ok_or_else(|| {
                    format!("credential `{name}`: environment variable {user_var} is not set")
                })?;
                let password = lookup(&pass_var).ok_or_else(|| {
                    format!("credential `{name}`: environment variable {pass_var} is not set")
                })?;
                Ok(Credential {
                    username,
                    password: Secret::new(password),
                })
            }
        }
    }
}

fn target(
    label: String,
    bmc: &BmcSpec,
    endpoint_override: Option<&str>,
    creds: &CredentialSource<'_>,
    fleet_dir: &Path,
) -> Result<BmcTarget, ReadError> {
    let endpoint_text = endpoint_override
        .map(str::to_string)
        .or_else(|| bmc.endpoint.clone())
        .unwrap_or_default();
    let err = |message: String, code: &str, help: &str| ReadError {
        endpoint: endpoint_text.clone(),
        message,
        code: code.to_string(),
        help: help.to_string(),
    };
    let endpoint = url::Url::parse(&endpoint_text).map_err(|e| {
        err(
            format!("{label}: invalid endpoint: {e}"),
            "bmfleet::engine::endpoint",
            "fix bmc.endpoint in the spec (run `bmfleet validate`)",
        )
    })?;
    let cred_name = bmc.credentials_ref.clone().unwrap_or_default();
    let cred = creds.resolve(&cred_name).map_err(|m| {
        err(
            format!("{label}: {m}"),
            "bmfleet::engine::credentials",
            "export the BMC username and password variables named in the Fleet's spec.credentials",
        )
    })?;
    let tls = bmc
        .tls
        .as_ref()
        .map_or_else(TlsOptions::default, |t| TlsOptions {
            ca_file: t.ca_file.as_ref().map(|c| {
                let p = PathBuf::from(c);
                if p.is_absolute() {
                    p
                } else {
                    fleet_dir.join(p)
                }
            }),
            insecure_skip_verify: t.insecure_skip_verify == Some(true),
        });
    Ok(BmcTarget {
        label,
        endpoint,
        system_id: bmc.system_id.clone(),
        username: cred.username,
        password: cred.password,
        tls,
    })
}

/// Endpoint overrides per host (the simulator's URLs in `--simulate` mode): host name ->
/// (BMC URL, DPU URL).
pub type EndpointOverrides = BTreeMap<String, (String, Option<String>)>;

/// Builds the read targets of `hosts`.
pub fn targets_for(
    hosts: &[&Host],
    creds: &CredentialSource<'_>,
    fleet_dir: &Path,
    overrides: Option<&EndpointOverrides>,
) -> Vec<HostTarget> {
    hosts
        .iter()
        .map(|h| {
            let s = &h.settings;
            let over = overrides.and_then(|o| o.get(&h.name));
            let bmc_spec = s.bmc.clone().unwrap_or_default();
            let bmc = target(
                format!("{}/bmc", h.name),
                &bmc_spec,
                over.map(|o| o.0.as_str()),
                creds,
                fleet_dir,
            );
            let dpu = s.dpu.as_ref().map(|d| {
                let spec = d.bmc.clone().unwrap_or_default();
                target(
                    format!("{}/dpu", h.name),
                    &spec,
                    over.and_then(|o| o.1.as_deref()),
                    creds,
                    fleet_dir,
                )
            });
            HostTarget {
                name: h.name.clone(),
                bmc,
                dpu,
                bios: s.bios.as_ref().is_some_and(|b| !b.attributes.is_empty()),
                dpu_bios: s
                    .dpu
                    .as_ref()
                    .and_then(|d| d.bios.as_ref())
                    .is_some_and(|b| !b.attributes.is_empty()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_credentials_name_the_missing_variable() {
        let mut declared = BTreeMap::new();
        declared.insert(
            "bmc-default".to_string(),
            CredentialSpec {
                username_env: Some("U".into()),
                password_env: None,
                description: None,
            },
        );
        let lookup = |k: &str| (k == "U").then(|| "root".to_string());
        let src = CredentialSource::Env {
            declared: &declared,
            lookup: &lookup,
        };
        let e = src.resolve("bmc-default").unwrap_err();
        assert!(e.contains("BMFLEET_CRED_BMC_DEFAULT_PASSWORD"), "{e}");
        let lookup2 = |k: &str| Some(format!("v-{k}"));
        let src2 = CredentialSource::Env {
            declared: &declared,
            lookup: &lookup2,
        };
        let c = src2.resolve("bmc-default").unwrap();
        assert_eq!(c.username, "v-U");
        assert!(!format!("{c:?}").contains("v-BMFLEET"));
    }
}
