//! The rustls connector for ureq: our own `ClientConfig` (ring, TLS 1.2 and 1.3) with the
//! cluster's CA bundle, the client certificate, a `tls-server-name` override for SNI and
//! verification, and `insecure-skip-tls-verify` that still checks handshake signatures.
//! ureq's built-in TLS cannot override the server name and panics on a mismatched key
//! (shared/deps.md §2, §5), hence this connector; bad settings are errors, never panics.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport, TransportAdapter,
};

use super::config::{ClientCert, TlsSettings};

/// A connection setting that cannot be used, with the kubeconfig field it came from. The client
/// turns it into `Error::Settings`, adding the context name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SettingError {
    pub field: &'static str,
    pub detail: String,
}

impl SettingError {
    pub(crate) fn new(field: &'static str, detail: impl Into<String>) -> SettingError {
        SettingError {
            field,
            detail: detail.into(),
        }
    }
}

/// Where Go's crypto/x509 looks for the system CA bundle on Linux, in its order. Used only when
/// the kubeconfig names no certificate authority (clusters with publicly trusted certificates).
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The rustls configuration for one cluster and identity. `ssl_cert_file` is `$SSL_CERT_FILE`,
/// consulted (like Go) only when `settings` has no CA.
pub(crate) fn client_config(
    settings: &TlsSettings,
    identity: Option<&ClientCert>,
    ssl_cert_file: Option<&str>,
) -> Result<Arc<ClientConfig>, SettingError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| SettingError::new("tls", e.to_string()))?;
    let builder = if settings.insecure_skip_verify {
        // client-go refuses this combination ("specifying a root certificates file with the
        // insecure flag is not allowed"); so do we, rather than silently ignore the CA.
        if settings.ca_pem.is_some() {
            return Err(SettingError::new(
                "insecure-skip-tls-verify",
                "cannot be combined with certificate-authority (kubectl refuses it too); remove one of them",
            ));
        }
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureVerifier(provider)))
    } else {
        builder.with_root_certificates(root_store(settings, ssl_cert_file)?)
    };
    let config = match identity {
        Some(id) => {
            let certs = CertificateDer::pem_slice_iter(&id.cert_pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| {
                    SettingError::new("client-certificate", "not a valid PEM certificate")
                })?;
            if certs.is_empty() {
                return Err(SettingError::new(
                    "client-certificate",
                    "no PEM certificate found",
                ));
            }
            // The key's bytes never reach a message: pem errors may quote input lines.
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.expose()).map_err(|_| {
                SettingError::new(
                    "client-key",
                    "no usable private key found (expected PEM: RSA PKCS#1, EC SEC1 or PKCS#8)",
                )
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| match e {
                    rustls::Error::InconsistentKeys(_) => {
                        SettingError::new("client-key", "does not match client-certificate")
                    }
                    _ => SettingError::new(
                        "client-key",
                        "unsupported key type (RSA, ECDSA P-256/P-384 and Ed25519 are supported)",
                    ),
                })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn root_store(
    settings: &TlsSettings,
    ssl_cert_file: Option<&str>,
) -> Result<RootCertStore, SettingError> {
    let mut roots = RootCertStore::empty();
    let (field, pem) = match &settings.ca_pem {
        Some(pem) => ("certificate-authority", pem.clone()),
        None => match system_bundle(ssl_cert_file) {
            Some(pem) => ("SSL_CERT_FILE", pem),
            // Nothing to trust: every handshake fails with "unknown authority", which the client
            // explains; that beats refusing to build a client for `check` to diagnose.
            None => return Ok(roots),
        },
    };
    let mut found = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|_| SettingError::new(field, "not a valid PEM bundle"))?;
        roots.add(cert).map_err(|e| {
            SettingError::new(field, format!("a certificate cannot be used as a CA: {e}"))
        })?;
        found += 1;
    }
    if found == 0 && settings.ca_pem.is_some() {
        return Err(SettingError::new(field, "no PEM certificate found"));
    }
    Ok(roots)
}

/// `$SSL_CERT_FILE`, else the first system bundle that can be read. Like Go, a bundle that
/// cannot be read is passed over; through `files::read`, so `SSL_CERT_FILE=/dev/zero` or a FIFO
/// is passed over too instead of hanging or filling memory.
fn system_bundle(ssl_cert_file: Option<&str>) -> Option<Vec<u8>> {
    let read = |path: &str| crate::files::read(Path::new(path), crate::files::CERTIFICATE).ok();
    if let Some(path) = ssl_cert_file {
        return read(path);
    }
    SYSTEM_CA_FILES.iter().find_map(|p| read(p))
}

/// The name to verify and send as SNI: `tls-server-name` when set, else the URL's host. IP
/// hosts become IP names, for which rustls sends no SNI (RFC 6066 §3) and checks IP SANs.
pub(crate) fn server_name(
    override_name: Option<&str>,
) -> Result<Option<ServerName<'static>>, SettingError> {
    override_name
        .filter(|n| !n.is_empty())
        .map(|n| {
            ServerName::try_from(n.to_string()).map_err(|_| {
                SettingError::new("tls-server-name", format!("{n:?} is not a DNS name or IP"))
            })
        })
        .transpose()
}

/// An agent whose connections go through an optional CONNECT proxy (from `config`), TCP, then
/// our TLS.
pub(crate) fn agent(
    config: ureq::config::Config,
    tls: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
) -> ureq::Agent {
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(KubeTls {
                config: tls,
                server_name,
            });
    ureq::Agent::with_parts(config, connector, DefaultResolver::default())
}

/// The TLS step of the connector chain.
struct KubeTls {
    config: Arc<ClientConfig>,
    server_name: Option<ServerName<'static>>,
}

impl fmt::Debug for KubeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for KubeTls {
    type Out = Either<In, KubeTlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let name = match &self.server_name {
            Some(n) => n.clone(),
            None => {
                let host = details
                    .uri
                    .host()
                    .unwrap_or_default()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                ServerName::try_from(host.to_string())
                    .map_err(|_| ureq::Error::Tls("the server URL's host is not a valid name"))?
            }
        };
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let boxed: Box<dyn Transport> = Box::new(transport);
        let mut sock = TransportAdapter::new(boxed, details.current_time.clone());
        sock.set_timeout(details.timeout);
        // Handshake here, inside the connect timeout, so that certificate problems surface as
        // connect errors carrying the rustls error rather than as a broken first request.
        conn.complete_io(&mut sock).map_err(handshake_error)?;
        if conn.is_handshaking() {
            // complete_io returns early only when the socket stopped taking data.
            return Err(ureq::Error::Tls(
                "the server closed the connection during the TLS handshake",
            ));
        }
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(KubeTlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// rustls reports handshake failures as `io::Error(InvalidData, rustls::Error)`: unwrap them so
/// the client can explain "unknown authority" or "not valid for name".
fn handshake_error(e: std::io::Error) -> ureq::Error {
    let inner = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .cloned();
    match inner {
        Some(tls) => ureq::Error::Rustls(tls),
        None => ureq::Error::from(e),
    }
}

pub(crate) struct KubeTlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for KubeTlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KubeTlsTransport")
    }
}

impl Transport for KubeTlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let out = &self.buffers.output()[..amount];
        self.stream.write_all(out)?;
        self.stream.flush()?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let n = self.stream.read(input)?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// `insecure-skip-tls-verify`: any chain and name are accepted, but the handshake signatures
/// are still verified, so the peer must hold the key of the certificate it presents (ureq's own
/// "disable verification" skips that too).
#[derive(Debug)]
struct InsecureVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A one-line explanation of a TLS failure for a user who can act on it (which kubeconfig field
/// to look at), rather than rustls's enum names.
/// `ca_source` names where the trusted CA came from (see [`TlsSettings::ca_source`]), so an
/// untrusted certificate points at the field to fix.
pub(crate) fn explain(e: &rustls::Error, ca_source: Option<&str>) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => match ca_source {
                Some(field) => format!(
                    "the server's certificate is not signed by the certificate authority in \
                     {field} (a recreated cluster has a new CA: fetch a fresh kubeconfig)"
                ),
                None => "the server's certificate is not signed by an authority of the system \
                         trust store, and the cluster sets no certificate-authority-data or \
                         certificate-authority: add the cluster's CA there"
                    .to_string(),
            },
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for this host name \
                 (set tls-server-name to a name it is valid for)"
                    .to_string()
            }
            C::Expired | C::ExpiredContext { .. } => {
                "the server's certificate has expired (or this machine's clock is wrong)"
                    .to_string()
            }
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the clock)".to_string()
            }
            other => format!("the server's certificate was rejected: {other:?}"),
        },
        rustls::Error::AlertReceived(alert) => match alert {
            rustls::AlertDescription::CertificateRequired => {
                "the server requires a client certificate and none was configured".to_string()
            }
            rustls::AlertDescription::BadCertificate
            | rustls::AlertDescription::UnknownCA
            | rustls::AlertDescription::CertificateUnknown => {
                "the server rejected our client certificate".to_string()
            }
            other => format!("the server ended the TLS handshake: {other:?}"),
        },
        other => format!("TLS: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::SecretBytes;

    fn ca_and_leaf() -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let leaf = rcgen::CertificateParams::new(vec!["client".to_string()])
            .expect("params")
            .signed_by(&leaf_key, &issuer)
            .expect("leaf");
        (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
    }

    fn settings(ca: Option<&str>) -> TlsSettings {
        TlsSettings {
            ca_pem: ca.map(|c| c.as_bytes().to_vec()),
            ..TlsSettings::default()
        }
    }

    #[test]
    fn a_matching_certificate_and_key_build() {
        let (ca, cert, key) = ca_and_leaf();
        let id = ClientCert {
            cert_pem: cert.into_bytes(),
            key_pem: SecretBytes::new(key.into_bytes()),
        };
        client_config(&settings(Some(&ca)), Some(&id), None).expect("valid identity");
    }

    #[test]
    fn a_mismatched_key_is_an_error_not_a_panic() {
        let (ca, cert, _) = ca_and_leaf();
        let other = rcgen::KeyPair::generate().expect("key").serialize_pem();
        let id = ClientCert {
            cert_pem: cert.into_bytes(),
            key_pem: SecretBytes::new(other.into_bytes()),
        };
        let err = client_config(&settings(Some(&ca)), Some(&id), None).expect_err("mismatch");
        assert_eq!(err.field, "client-key");
        assert_eq!(err.detail, "does not match client-certificate");
    }

    #[test]
    fn a_garbage_key_never_echoes_its_bytes() {
        let (ca, cert, _) = ca_and_leaf();
        let id = ClientCert {
            cert_pem: cert.into_bytes(),
            key_pem: SecretBytes::new(
                b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"
                    .to_vec(),
            ),
        };
        let err = client_config(&settings(Some(&ca)), Some(&id), None).expect_err("bad key");
        assert_eq!(err.field, "client-key");
        assert!(!err.detail.contains("c2VjcmV0"), "{}", err.detail);
    }

    #[test]
    fn a_ca_without_certificates_is_an_error() {
        let err = client_config(&settings(Some("not a pem")), None, None).expect_err("no certs");
        assert_eq!(err.field, "certificate-authority");
    }

    #[test]
    fn insecure_with_a_ca_is_refused_like_client_go() {
        let (ca, _, _) = ca_and_leaf();
        let mut s = settings(Some(&ca));
        s.insecure_skip_verify = true;
        let err = client_config(&s, None, None).expect_err("refused");
        assert_eq!(err.field, "insecure-skip-tls-verify");
        s.ca_pem = None;
        client_config(&s, None, None).expect("insecure alone is fine");
    }

    #[test]
    fn ssl_cert_file_is_read_bounded_and_never_blocks() {
        let dir = std::env::temp_dir().join(format!("fomcp-tls-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (ca, _, _) = ca_and_leaf();
        let bundle = dir.join("bundle.pem");
        std::fs::write(&bundle, &ca).expect("write");
        let path = bundle.to_string_lossy().into_owned();
        assert_eq!(system_bundle(Some(&path)), Some(ca.into_bytes()));
        // A device or a FIFO is passed over at once, like an unreadable file.
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let fifo = fifo.to_string_lossy().into_owned();
        std::thread::spawn(move || {
            let _ = tx.send((system_bundle(Some("/dev/zero")), system_bundle(Some(&fifo))));
        });
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("returned without blocking");
        assert_eq!(got, (None, None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn server_name_override_accepts_dns_names_and_ips() {
        assert!(matches!(
            server_name(Some("api.internal")),
            Ok(Some(ServerName::DnsName(_)))
        ));
        assert!(matches!(
            server_name(Some("10.0.0.1")),
            Ok(Some(ServerName::IpAddress(_)))
        ));
        assert!(matches!(server_name(None), Ok(None)));
        assert_eq!(
            server_name(Some("bad name!")).expect_err("invalid").field,
            "tls-server-name"
        );
    }

    #[test]
    fn explanations_point_at_the_kubeconfig_field() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(
            explain(&e, Some("certificate-authority"))
                .contains("authority in certificate-authority ")
        );
        assert!(
            explain(&e, Some("--kube-certificate-authority"))
                .contains("in --kube-certificate-authority")
        );
        assert!(explain(&e, None).contains("sets no certificate-authority-data"));
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert!(explain(&e, None).contains("tls-server-name"));
    }
}
