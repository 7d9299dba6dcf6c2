//! TLS configuration of the Redfish client: rustls 0.23 with the `ring` provider, built per
//! target and handed to reqwest with `ClientBuilder::tls_backend_preconfigured`.
//!
//! Trust policy (DSP0266 §13.2 "Transport layer": Redfish services shall use TLS; BMCs
//! commonly ship self-signed or private-CA certificates):
//! - default: the operating system's trust store (via `rustls-native-certs`, loaded once per
//!   process); server name and chain are verified;
//! - `ca_file`: only the CA certificates in that PEM file are trusted (not the OS store), so a
//!   private BMC CA cannot be mixed up with public ones;
//! - `insecure_skip_verify`: the certificate is not verified for that one host (signatures of
//!   the handshake still are); a `tracing::warn!` says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::RedfishError;

/// TLS options of one BMC target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the CA certificate(s) to trust for this host, instead of the OS store.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification for this host (lab use; logged with `tracing::warn!`).
    pub insecure_skip_verify: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The OS trust store, loaded once per process (reading and parsing ~150 certificates per
/// BMC would cost more than the handshake). Certificates that fail to parse are skipped, as
/// browsers do.
fn native_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            for err in &loaded.errors {
                tracing::debug!(error = %err, "skipping part of the OS trust store");
            }
            let mut store = RootCertStore::empty();
            let (added, ignored) = store.add_parsable_certificates(loaded.certs);
            tracing::debug!(added, ignored, "loaded OS trust store for BMC TLS");
            Arc::new(store)
        })
        .clone()
}

fn load_ca_file(host: &str, path: &Path) -> Result<RootCertStore, RedfishError> {
    let config_err = |reason: String| RedfishError::Config {
        host: host.to_string(),
        reason,
        help: format!(
            "tls.caFile of {host} must name a readable PEM file holding at least one CA certificate"
        ),
    };
    let iter = CertificateDer::pem_file_iter(path)
        .map_err(|e| config_err(format!("cannot read tls.caFile {}: {e}", path.display())))?;
    let mut store = RootCertStore::empty();
    for cert in iter {
        let cert =
            cert.map_err(|e| config_err(format!("bad PEM in tls.caFile {}: {e}", path.display())))?;
        store.add(cert).map_err(|e| {
            config_err(format!(
                "unusable CA certificate in {}: {e}",
                path.display()
            ))
        })?;
    }
    if store.is_empty() {
        return Err(config_err(format!(
            "tls.caFile {} holds no CERTIFICATE block",
            path.display()
        )));
    }
    Ok(store)
}

/// Builds the rustls client configuration for one host.
///
/// ALPN offers only `http/1.1`: BMC HTTP/2 stacks are rare and some are broken, and one
/// connection per in-flight request (at most `per_bmc_in_flight`) is cheap.
///
/// # Errors
/// [`RedfishError::Config`] when `ca_file` cannot be read or holds no usable certificate, or
/// when the protocol versions cannot be set up.
pub fn client_config(host: &str, tls: &TlsOptions) -> Result<ClientConfig, RedfishError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| RedfishError::Config {
            host: host.to_string(),
            reason: format!("TLS setup failed: {e}"),
            help: "this is a bug in bmfleet's TLS setup; please report it".into(),
        })?;
    let mut config = if tls.insecure_skip_verify {
        tracing::warn!(
            host,
            "TLS certificate verification is DISABLED for this host (tls.insecureSkipVerify)"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    } else {
        let roots = match &tls.ca_file {
            Some(path) => Arc::new(load_ca_file(host, path)?),
            None => native_roots(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Accepts any server certificate but still checks handshake signatures, so the session key
/// is at least bound to the key the server presented. Used only with
/// `insecure_skip_verify: true`.
#[derive(Debug)]
struct NoVerification {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn missing_or_empty_ca_file_is_a_config_error() {
        let err = client_config(
            "h1",
            &TlsOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                insecure_skip_verify: false,
            },
        )
        .unwrap_err();
        assert_eq!(err.code_str(), "bmfleet::redfish::config");
        assert!(err.to_string().contains("h1"));
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a pem\n").unwrap();
        let err = client_config(
            "h1",
            &TlsOptions {
                ca_file: Some(empty),
                insecure_skip_verify: false,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
    }

    #[test]
    fn insecure_and_default_build() {
        assert!(
            client_config(
                "h",
                &TlsOptions {
                    ca_file: None,
                    insecure_skip_verify: true
                }
            )
            .is_ok()
        );
        assert!(client_config("h", &TlsOptions::default()).is_ok());
    }
}
