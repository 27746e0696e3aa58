//! The test server's certificates: a CA, a server certificate and client certificates generated per
//! run with rcgen, the rustls server configuration, and reading a client certificate's subject into a
//! Kubernetes identity (CN = user, O = groups, as the API server's x509 authenticator does).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

/// The key algorithm of a generated certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeyType {
    /// ECDSA P-256 with SHA-256: what kind, k3d and most managed clusters use. The default.
    #[default]
    EcP256,
    /// ECDSA P-384 with SHA-384.
    EcP384,
    /// RSA 2048 with SHA-256, from the committed OpenSSL fixtures in `testdata/certs/`
    /// (rcgen with ring cannot generate RSA keys).
    Rsa,
}

/// The DNS name the server certificate carries when `Options::dns_only_san` is set.
pub const DNS_ONLY_NAME: &str = "apiserver.flux-test.internal";

// The committed fixtures (see testdata/certs/README.md). PKCS#8, except the PKCS#1 copy of the
// client key, which is what kind and kubeadm write into kubeconfigs.
const RSA_CA_KEY: &str = include_str!("../../testdata/certs/rsa-ca.key");
const RSA_SERVER_KEY: &str = include_str!("../../testdata/certs/rsa-server.key");
const RSA_CLIENT_KEY: &str = include_str!("../../testdata/certs/rsa-client.key");
const RSA_CLIENT_KEY_PKCS1: &str = include_str!("../../testdata/certs/rsa-client.pkcs1.key");

/// Why the certificates or the TLS configuration could not be built.
#[derive(Debug)]
pub enum PkiError {
    Rcgen(&'static str, rcgen::Error),
    Rustls(&'static str, String),
    TooManyGroups(usize),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::Rcgen(what, e) => write!(f, "cannot generate the {what}: {e}"),
            PkiError::Rustls(what, e) => write!(f, "cannot build the {what}: {e}"),
            PkiError::TooManyGroups(n) => write!(
                f,
                "a test client certificate holds at most 2 groups (O=), {n} were asked for"
            ),
        }
    }
}

/// A client certificate and its private key, both PEM.
#[derive(Clone)]
pub struct ClientCredentials {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientCredentials { .. }")
    }
}

/// Everything TLS of one server run.
pub struct Pki {
    /// The CA handed to clients (in kubeconfigs, `ca_pem()`).
    pub ca_pem: String,
    /// The rustls configuration of the listener.
    pub server_config: Arc<rustls::ServerConfig>,
    /// The CA that signs client certificates; always the real one.
    issuer: Issuer<'static, KeyPair>,
    serial: std::sync::atomic::AtomicU64,
}

/// What the server certificate looks like.
pub struct ServerCertSpec {
    pub key: KeyType,
    pub ipv6: bool,
    pub dns_only_san: bool,
    /// Sign the server certificate with a CA other than the one handed to clients.
    pub wrong_ca: bool,
    /// Offer only TLS 1.2.
    pub tls12_only: bool,
}

fn key_pair(key: KeyType, rsa_fixture: &'static str) -> Result<KeyPair, PkiError> {
    let made = match key {
        KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa => KeyPair::from_pem(rsa_fixture),
    };
    made.map_err(|e| PkiError::Rcgen("key pair", e))
}

fn ca(key: KeyType, common_name: &str) -> Result<(Issuer<'static, KeyPair>, String), PkiError> {
    let key = key_pair(key, RSA_CA_KEY)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    validity(&mut params);
    let cert = params
        .self_signed(&key)
        .map_err(|e| PkiError::Rcgen("CA certificate", e))?;
    Ok((Issuer::new(params, key), cert.pem()))
}

/// Fixed validity around any plausible test date: Go's x509 (kubectl) and webpki both check it.
fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 1, 1);
}

impl Pki {
    pub fn new(spec: &ServerCertSpec) -> Result<Pki, PkiError> {
        let (issuer, ca_pem) = ca(spec.key, "flux-test-ca")?;
        let server_key = key_pair(spec.key, RSA_SERVER_KEY)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "kube-apiserver");
        params.distinguished_name = dn;
        // Names a kubeadm API server certificate carries, so `tls-server-name: kubernetes` works too.
        let mut names = vec![
            SanType::DnsName(
                "kubernetes"
                    .try_into()
                    .map_err(|e| PkiError::Rcgen("SAN", e))?,
            ),
            SanType::DnsName(
                "kubernetes.default.svc"
                    .try_into()
                    .map_err(|e| PkiError::Rcgen("SAN", e))?,
            ),
            SanType::DnsName(
                "localhost"
                    .try_into()
                    .map_err(|e| PkiError::Rcgen("SAN", e))?,
            ),
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        if spec.ipv6 {
            names.push(SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        }
        if spec.dns_only_san {
            names = vec![SanType::DnsName(
                DNS_ONLY_NAME
                    .try_into()
                    .map_err(|e| PkiError::Rcgen("SAN", e))?,
            )];
        }
        params.subject_alt_names = names;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        validity(&mut params);
        params.serial_number = Some(SerialNumber::from_slice(&[0x01, 0x00]));
        let server_cert = if spec.wrong_ca {
            // Same algorithm, different key and name: what a client sees when its kubeconfig holds
            // the CA of another cluster.
            let (impostor, _) = ca(spec.key, "some-other-cluster-ca")?;
            params.signed_by(&server_key, &impostor)
        } else {
            params.signed_by(&server_key, &issuer)
        }
        .map_err(|e| PkiError::Rcgen("server certificate", e))?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| PkiError::Rustls("CA certificate", e.to_string()))?;
        roots
            .add(ca_der)
            .map_err(|e| PkiError::Rustls("client CA store", e.to_string()))?;
        // Like the API server's --client-ca-file: a certificate is asked for and verified when
        // given, but a client may come without one and authenticate with a token instead.
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(|e| PkiError::Rustls("client certificate verifier", e.to_string()))?;
        let versions: &[&rustls::SupportedProtocolVersion] = if spec.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            rustls::ALL_VERSIONS
        };
        let key_der = PrivateKeyDer::try_from(server_key.serialize_der())
            .map_err(|e| PkiError::Rustls("server key", e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .map_err(|e| PkiError::Rustls("TLS versions", e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.der().clone()], key_der)
            .map_err(|e| PkiError::Rustls("server TLS configuration", e.to_string()))?;
        // Go clients offer h2 first; answering http/1.1 keeps them on HTTP/1.1 like a proxy would.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Pki {
            ca_pem,
            server_config: Arc::new(config),
            issuer,
            serial: std::sync::atomic::AtomicU64::new(0x1000),
        })
    }

    /// A client certificate for `user` in `groups`, signed by the CA clients trust.
    /// With `KeyType::Rsa` the key is the committed fixture, handed out as PKCS#8.
    pub fn client_cert(
        &self,
        user: &str,
        groups: &[&str],
        key: KeyType,
    ) -> Result<ClientCredentials, PkiError> {
        // rcgen keeps one value per attribute type; a second O goes in as a custom attribute
        // with the same OID, so the certificate still carries two O= entries.
        if groups.len() > 2 {
            return Err(PkiError::TooManyGroups(groups.len()));
        }
        let key_pair = key_pair(key, RSA_CLIENT_KEY)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        if let Some(first) = groups.first() {
            dn.push(DnType::OrganizationName, *first);
        }
        if let Some(second) = groups.get(1) {
            dn.push(DnType::CustomDnType(vec![2, 5, 4, 10]), *second);
        }
        dn.push(DnType::CommonName, user);
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        validity(&mut params);
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from_slice(&serial.to_be_bytes()));
        let cert = params
            .signed_by(&key_pair, &self.issuer)
            .map_err(|e| PkiError::Rcgen("client certificate", e))?;
        Ok(ClientCredentials {
            cert_pem: cert.pem(),
            key_pem: key_pair.serialize_pem(),
        })
    }
}

/// The PKCS#1 (`BEGIN RSA PRIVATE KEY`) form of the RSA client fixture key.
pub fn rsa_client_key_pkcs1_pem() -> &'static str {
    RSA_CLIENT_KEY_PKCS1
}

/// The identity a verified client certificate carries: the subject's CN is the user and each O
/// a group, exactly what the API server's x509 request authenticator reads.
pub fn subject_identity(der: &[u8]) -> Option<(String, Vec<String>)> {
    let cert = Der::new(der).read(0x30)?;
    let mut tbs = Der::new(cert).read(0x30).map(Der::new)?;
    // version is `[0] EXPLICIT` and optional.
    if tbs.peek() == Some(0xa0) {
        tbs.read(0xa0)?;
    }
    tbs.read(0x02)?; // serialNumber
    tbs.read(0x30)?; // signature algorithm
    tbs.read(0x30)?; // issuer
    tbs.read(0x30)?; // validity
    let mut subject = Der::new(tbs.read(0x30)?);
    let (mut user, mut groups) = (None, Vec::new());
    while !subject.is_empty() {
        let mut rdn = Der::new(subject.read(0x31)?);
        while !rdn.is_empty() {
            let mut attribute = Der::new(rdn.read(0x30)?);
            let oid = attribute.read(0x06)?;
            let (_, value) = attribute.read_any()?;
            let value = String::from_utf8(value.to_vec()).ok()?;
            match oid {
                [0x55, 0x04, 0x03] => user = Some(value),
                [0x55, 0x04, 0x0a] => groups.push(value),
                _ => {}
            }
        }
    }
    Some((user?, groups))
}

/// Just enough of a DER reader to walk to a certificate's subject.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Der(bytes)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next element's tag and contents.
    fn read_any(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        self.0 = &rest[len..];
        Some((tag, &rest[..len]))
    }

    /// The next element's contents if it has tag `tag`.
    fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.read_any()? {
            (t, contents) if t == tag => Some(contents),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subject_of_a_generated_client_certificate() {
        use super::*;
        let pki = Pki::new(&ServerCertSpec {
            key: KeyType::EcP256,
            ipv6: false,
            dns_only_san: false,
            wrong_ca: false,
            tls12_only: false,
        })
        .unwrap();
        let creds = pki
            .client_cert("jane", &["system:masters", "devs"], KeyType::EcP256)
            .unwrap();
        let der = CertificateDer::from_pem_slice(creds.cert_pem.as_bytes()).unwrap();
        let (user, groups) = subject_identity(&der).unwrap();
        assert_eq!(user, "jane");
        assert_eq!(groups, vec!["system:masters", "devs"]);
    }
}
