//! The certificates `snapshot serve-api` serves HTTPS with, made at start: a self-signed CA
//! and a server certificate it signs for `127.0.0.1`, `::1` and `localhost`, both ECDSA P-256
//! with SHA-256, valid for 30 days. Keys come from ring (already linked for rustls: no new
//! crate, no new code in the binary beyond this file), the X.509 encoding is the few DER
//! structures RFC 5280 needs, written here. Neither key is ever written to disk; the
//! kubeconfig holds the CA certificate only.

use std::fmt;
use std::time::{Duration, SystemTime};

use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

/// How long the certificates are valid: far beyond any session, short enough not to matter
/// if one leaked.
const VALIDITY: Duration = Duration::from_secs(30 * 86_400);

/// Why the certificates could not be made (the system random source failing, in practice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiError(pub String);

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot make the TLS certificates: {}", self.0)
    }
}

impl std::error::Error for PkiError {}

/// A CA certificate, and a server certificate with its key (PKCS#8), all DER.
pub struct Certificates {
    pub ca_der: Vec<u8>,
    pub server_der: Vec<u8>,
    pub server_key_pkcs8: Vec<u8>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates").finish_non_exhaustive()
    }
}

impl Certificates {
    /// The CA certificate as PEM (what a kubeconfig's `certificate-authority-data` holds,
    /// base64 of it).
    pub fn ca_pem(&self) -> String {
        pem("CERTIFICATE", &self.ca_der)
    }
}

/// A new CA and a server certificate for the loopback names, valid from an hour ago (clock
/// skew) for [`VALIDITY`].
pub fn generate() -> Result<Certificates, PkiError> {
    let rng = SystemRandom::new();
    let key = |what: &str| -> Result<(Vec<u8>, EcdsaKeyPair), PkiError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| PkiError(format!("no {what} key: the random source failed")))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|_| PkiError(format!("the new {what} key does not load")))?;
        Ok((pkcs8.as_ref().to_vec(), pair))
    };
    let (_, ca_key) = key("CA")?;
    let (server_pkcs8, server_key) = key("server")?;
    let now = SystemTime::now();
    let not_before = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
    let not_after = now + VALIDITY;
    let ca_name = name("flux-operator-mcp snapshot CA");
    let ca_id = key_id(ca_key.public_key().as_ref());
    let ca_tbs = tbs(&TbsFields {
        serial: serial(&rng)?,
        issuer: &ca_name,
        subject: &ca_name,
        not_before,
        not_after,
        public_key: ca_key.public_key().as_ref(),
        extensions: &[
            extension(OID_BASIC_CONSTRAINTS, true, &seq(&[&boolean(true)])),
            // keyCertSign (5) and cRLSign (6): two unused bits in the last byte.
            extension(OID_KEY_USAGE, true, &bit_string(&[0x06], 1)),
            extension(OID_SUBJECT_KEY_ID, false, &octet_string(&ca_id)),
        ],
    });
    let ca_der = sign(&ca_tbs, &ca_key, &rng)?;
    let server_id = key_id(server_key.public_key().as_ref());
    let san = seq(&[
        &tlv(0x87, &[127, 0, 0, 1]),
        &tlv(0x87, &std::net::Ipv6Addr::LOCALHOST.octets()),
        &tlv(0x82, b"localhost"),
    ]);
    let server_tbs = tbs(&TbsFields {
        serial: serial(&rng)?,
        issuer: &ca_name,
        subject: &name("flux-operator-mcp snapshot serve-api"),
        not_before,
        not_after,
        public_key: server_key.public_key().as_ref(),
        extensions: &[
            extension(OID_BASIC_CONSTRAINTS, true, &seq(&[])),
            // digitalSignature (0): seven unused bits.
            extension(OID_KEY_USAGE, true, &bit_string(&[0x80], 7)),
            extension(OID_EXT_KEY_USAGE, false, &seq(&[&oid(OID_SERVER_AUTH)])),
            extension(OID_SUBJECT_ALT_NAME, false, &san),
            extension(OID_SUBJECT_KEY_ID, false, &octet_string(&server_id)),
            extension(OID_AUTHORITY_KEY_ID, false, &seq(&[&tlv(0x80, &ca_id)])),
        ],
    });
    let server_der = sign(&server_tbs, &ca_key, &rng)?;
    Ok(Certificates {
        ca_der,
        server_der,
        server_key_pkcs8: server_pkcs8,
    })
}

/// A bearer token for the kubeconfig: 32 random bytes, hex.
pub fn token() -> Result<String, PkiError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError("no token: the random source failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `-----BEGIN label-----`, base64 in 64-column lines.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

// ---- DER (X.690), the parts a certificate needs ----------------------------------------------

const OID_ECDSA_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const OID_COMMON_NAME: &[u64] = &[2, 5, 4, 3];
const OID_ORGANIZATION: &[u64] = &[2, 5, 4, 10];
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
const OID_AUTHORITY_KEY_ID: &[u64] = &[2, 5, 29, 35];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];

/// Tag, definite length, value.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(value);
    out
}

fn seq(items: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

fn set(items: &[&[u8]]) -> Vec<u8> {
    tlv(0x31, &items.concat())
}

fn boolean(v: bool) -> Vec<u8> {
    tlv(0x01, &[if v { 0xff } else { 0 }])
}

fn octet_string(v: &[u8]) -> Vec<u8> {
    tlv(0x04, v)
}

fn bit_string(v: &[u8], unused: u8) -> Vec<u8> {
    let mut body = vec![unused];
    body.extend_from_slice(v);
    tlv(0x03, &body)
}

/// A positive INTEGER from big-endian bytes (leading zeros dropped, a zero added when the
/// top bit is set).
fn integer(v: &[u8]) -> Vec<u8> {
    let mut body: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    if body.first().is_none_or(|b| b & 0x80 != 0) {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut body = Vec::new();
    let (first, second) = (
        arcs.first().copied().unwrap_or(0),
        arcs.get(1).copied().unwrap_or(0),
    );
    let mut push = |mut n: u64| {
        let mut group = vec![(n & 0x7f) as u8];
        n >>= 7;
        while n > 0 {
            group.push(0x80 | (n & 0x7f) as u8);
            n >>= 7;
        }
        group.reverse();
        body.extend(group);
    };
    push(first * 40 + second);
    for &arc in arcs.iter().skip(2) {
        push(arc);
    }
    tlv(0x06, &body)
}

fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

/// `CN=<cn>, O=flux-operator-mcp`.
fn name(cn: &str) -> Vec<u8> {
    seq(&[
        &set(&[&seq(&[&oid(OID_ORGANIZATION), &utf8("flux-operator-mcp")])]),
        &set(&[&seq(&[&oid(OID_COMMON_NAME), &utf8(cn)])]),
    ])
}

/// UTCTime (`YYMMDDHHMMSSZ`) until 2049, GeneralizedTime after, as RFC 5280 §4.1.2.5 asks.
fn time(t: SystemTime) -> Vec<u8> {
    let text = crate::kube::time::rfc3339_utc(t);
    let digits: String = text.chars().take(19).filter(char::is_ascii_digit).collect();
    let year: u32 = digits.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2000);
    if year < 2050 {
        tlv(0x17, format!("{}Z", &digits[2..]).as_bytes())
    } else {
        tlv(0x18, format!("{digits}Z").as_bytes())
    }
}

fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[&oid(id), &boolean(true), &octet_string(value)])
    } else {
        seq(&[&oid(id), &octet_string(value)])
    }
}

/// The key identifier RFC 5280 §4.2.1.2 suggests: a hash of the public key (SHA-256, first 20
/// bytes, rather than SHA-1).
fn key_id(public_key: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, public_key).as_ref()[..20].to_vec()
}

fn serial(rng: &SystemRandom) -> Result<Vec<u8>, PkiError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes)
        .map_err(|_| PkiError("no serial number: the random source failed".into()))?;
    bytes[0] &= 0x7f;
    Ok(integer(&bytes))
}

struct TbsFields<'a> {
    serial: Vec<u8>,
    issuer: &'a [u8],
    subject: &'a [u8],
    not_before: SystemTime,
    not_after: SystemTime,
    /// The uncompressed EC point.
    public_key: &'a [u8],
    extensions: &'a [Vec<u8>],
}

fn algorithm() -> Vec<u8> {
    seq(&[&oid(OID_ECDSA_SHA256)])
}

fn tbs(f: &TbsFields) -> Vec<u8> {
    let version = tlv(0xa0, &integer(&[2]));
    let validity = seq(&[&time(f.not_before), &time(f.not_after)]);
    let spki = seq(&[
        &seq(&[&oid(OID_EC_PUBLIC_KEY), &oid(OID_P256)]),
        &bit_string(f.public_key, 0),
    ]);
    let extensions: Vec<&[u8]> = f.extensions.iter().map(Vec::as_slice).collect();
    let extensions = tlv(0xa3, &seq(&extensions));
    seq(&[
        &version,
        &f.serial,
        &algorithm(),
        f.issuer,
        &validity,
        f.subject,
        &spki,
        &extensions,
    ])
}

fn sign(tbs: &[u8], key: &EcdsaKeyPair, rng: &SystemRandom) -> Result<Vec<u8>, PkiError> {
    let signature = key
        .sign(rng, tbs)
        .map_err(|_| PkiError("signing failed".into()))?;
    Ok(seq(&[
        tbs,
        &algorithm(),
        &bit_string(signature.as_ref(), 0),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier as _;

    #[test]
    fn der_pieces_encode_as_x690_says() {
        assert_eq!(
            oid(OID_ECDSA_SHA256),
            [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]
        );
        assert_eq!(oid(OID_COMMON_NAME), [0x06, 0x03, 0x55, 0x04, 0x03]);
        assert_eq!(integer(&[0x00, 0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(&[2]), [0x02, 0x01, 0x02]);
        assert_eq!(tlv(0x04, &[0u8; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0u8; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        // 2026-11-18T11:06:40Z and 2050-12-31T00:00:00Z (`date -u -d @N`).
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(time(t), tlv(0x17, b"261118110640Z"));
        let late = std::time::UNIX_EPOCH + Duration::from_secs(2_556_057_600);
        assert_eq!(time(late), tlv(0x18, b"20501231000000Z"));
    }

    /// rustls accepts the pair: the server certificate verifies against the CA for
    /// 127.0.0.1 (so does kubectl, in `make conformance`).
    #[test]
    fn the_server_certificate_verifies_against_the_ca() {
        use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
        let certs = generate().expect("certificates");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(certs.ca_der.clone()))
            .expect("CA accepted as a root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            provider,
        )
        .build()
        .expect("verifier");
        let leaf = CertificateDer::from(certs.server_der.clone());
        for name in ["127.0.0.1", "::1", "localhost"] {
            let server_name = ServerName::try_from(name).expect("name").to_owned();
            verifier
                .verify_server_cert(&leaf, &[], &server_name, &[], UnixTime::now())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let other = ServerName::try_from("example.com")
            .expect("name")
            .to_owned();
        assert!(
            verifier
                .verify_server_cert(&leaf, &[], &other, &[], UnixTime::now())
                .is_err()
        );
        assert!(certs.ca_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
        // Two runs never share a key.
        let again = generate().expect("certificates");
        assert_ne!(again.server_key_pkcs8, certs.server_key_pkcs8);
    }
}
