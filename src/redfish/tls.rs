//! TLS configuration of the Redfish client: rustls 0.23 with the `ring` provider, built per
//! target and handed to reqwest with `ClientBuilder::tls_backend_preconfigured`.
//!
//! Trust policy (DSP0266 §13.2 "Transport layer": Redfish services shall use TLS; BMCs
//! commonly ship self-signed or private-CA certificates):
//! - default: the operating system's trust store (via `rustls-native-certs`, loaded once per
//!   process); server name and chain are verified;
//! - `ca_file`: only the CA certificates in that PEM file are trusted (not the OS store), so a
//!   private BMC CA cannot be mixed up with public ones. The file must be a regular file of at
//!   most [`MAX_CA_FILE_BYTES`] (`/dev/zero`, `/dev/urandom` or a FIFO is a clear per-host
//!   error at once, not an endless read or a hang); it is read outside the async workers
//!   (`block_in_place`) and parsed once per run per file;
//! - `insecure_skip_verify`: the certificate is not verified for that one host (signatures of
//!   the handshake still are); a `tracing::warn!` says so.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

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

/// Largest `tls.caFile` read, in bytes (1 MiB; a bundle of a few hundred CAs is ~200 KiB).
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Runs blocking file I/O: through `block_in_place` on a multi-threaded tokio runtime, so the
/// worker's other tasks move to another thread; directly elsewhere (no runtime, or a
/// current-thread runtime, where `block_in_place` is not allowed).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A file's size and modification time when read (the CA cache's validity check).
type Stamp = (u64, Option<SystemTime>);

/// Reads `path` if it is a regular file of at most [`MAX_CA_FILE_BYTES`]: its metadata is
/// checked before it is opened (opening a FIFO would block), the opened handle is checked
/// again, and at most one byte more than the limit is read.
///
/// # Errors
/// A reason naming the file: missing, not a regular file, too large, unreadable.
fn read_regular_file(path: &Path) -> Result<(Vec<u8>, Stamp), String> {
    let shown = path.display();
    let check = |meta: &std::fs::Metadata| -> Result<(), String> {
        if !meta.is_file() {
            return Err(format!(
                "tls.caFile {shown} is not a regular file (a device, FIFO, socket or directory)"
            ));
        }
        if meta.len() > MAX_CA_FILE_BYTES {
            return Err(format!(
                "tls.caFile {shown} is {} bytes, more than the limit of {MAX_CA_FILE_BYTES} bytes",
                meta.len()
            ));
        }
        Ok(())
    };
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read tls.caFile {shown}: {e}"))?;
    check(&meta)?;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read tls.caFile {shown}: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read tls.caFile {shown}: {e}"))?;
    check(&meta)?;
    let mut bytes = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read tls.caFile {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(format!(
            "tls.caFile {shown} grew past the limit of {MAX_CA_FILE_BYTES} bytes while read"
        ));
    }
    Ok((bytes, (meta.len(), meta.modified().ok())))
}

/// CA stores already parsed, by path, with the size and modification time they were read at
/// (many hosts share one CA file; each would otherwise read and parse it again).
type CaCache = HashMap<PathBuf, (Stamp, Arc<RootCertStore>)>;

fn ca_cache() -> &'static Mutex<CaCache> {
    static CACHE: OnceLock<Mutex<CaCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn load_ca_file(host: &str, path: &Path) -> Result<Arc<RootCertStore>, RedfishError> {
    let config_err = |reason: String| RedfishError::Config {
        host: host.to_string(),
        reason,
        help: format!(
            "tls.caFile of {host} must name a regular PEM file of at most {} KiB holding at least one CA certificate",
            MAX_CA_FILE_BYTES / 1024
        ),
    };
    let cached = |stamp: &Stamp| {
        let cache = ca_cache().lock().ok()?;
        let (at, store) = cache.get(path)?;
        (at == stamp && stamp.1.is_some()).then(|| store.clone())
    };
    // A cheap stat first: an unchanged file parsed before is not read again.
    if let Ok(meta) = blocking(|| std::fs::metadata(path))
        && meta.is_file()
        && let Some(store) = cached(&(meta.len(), meta.modified().ok()))
    {
        return Ok(store);
    }
    let (bytes, stamp) = blocking(|| read_regular_file(path)).map_err(config_err)?;
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
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
    let store = Arc::new(store);
    if let Ok(mut cache) = ca_cache().lock() {
        cache.insert(path.to_path_buf(), (stamp, store.clone()));
    }
    Ok(store)
}

/// Builds the rustls client configuration for one host.
///
/// ALPN offers only `http/1.1`: BMC HTTP/2 stacks are rare and some are broken, and one
/// connection per in-flight request (at most `per_bmc_in_flight`) is cheap.
///
/// # Errors
/// [`RedfishError::Config`] when `ca_file` is missing, not a regular file, larger than
/// [`MAX_CA_FILE_BYTES`], or holds no usable certificate, or when the protocol versions
/// cannot be set up.
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
            Some(path) => load_ca_file(host, path)?,
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
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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

    fn ca_err(path: &Path) -> String {
        client_config(
            "h1",
            &TlsOptions {
                ca_file: Some(path.to_path_buf()),
                insecure_skip_verify: false,
            },
        )
        .unwrap_err()
        .to_string()
    }

    /// Runs `f` on a thread and fails if it does not return within 10 s (a hang).
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("hung: no answer within 10 s")
    }

    #[test]
    fn devices_fifos_and_huge_files_are_refused_at_once() {
        for dev in ["/dev/zero", "/dev/urandom"] {
            if Path::new(dev).exists() {
                let e = within_10s(move || ca_err(Path::new(dev)));
                assert!(e.contains("not a regular file"), "{dev}: {e}");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ca.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if made {
            let e = within_10s(move || ca_err(&fifo));
            assert!(e.contains("not a regular file"), "{e}");
        }
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'-'; (MAX_CA_FILE_BYTES + 1) as usize]).unwrap();
        let e = ca_err(&big);
        assert!(e.contains("more than the limit"), "{e}");
        let e = ca_err(dir.path());
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_ca_file_is_read_off_the_async_workers_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let ca = rcgen::generate_simple_self_signed(vec!["bmc.example".into()]).unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).unwrap();
        let opts = TlsOptions {
            ca_file: Some(path.clone()),
            insecure_skip_verify: false,
        };
        // On a multi-threaded runtime's worker (block_in_place) and on a current-thread one.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let o = opts.clone();
        assert!(rt.block_on(async move {
            tokio::spawn(async move { client_config("h", &o).is_ok() })
                .await
                .unwrap()
        }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let o = opts.clone();
        assert!(rt.block_on(async move { client_config("h", &o).is_ok() }));
        let cached = ca_cache()
            .lock()
            .unwrap()
            .get(&path)
            .map(|(_, s)| s.clone())
            .unwrap();
        assert!(Arc::ptr_eq(&cached, &load_ca_file("h", &path).unwrap()));
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
