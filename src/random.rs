//! Unpredictable identifiers (HTTP session ids) from the operating system's random source,
//! reached through the ring provider rustls already links (getrandom(2) on Linux): no new
//! dependency, and no home-made generator. Names no layer.

use std::fmt::Write;

/// The random source failed (getrandom(2) unavailable): nothing unpredictable can be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the system's random source is unavailable")
    }
}

impl std::error::Error for Unavailable {}

/// `bytes` random bytes as lowercase hex (visible ASCII, safe in a header or a URL).
pub fn hex(bytes: usize) -> Result<String, Unavailable> {
    let mut buf = vec![0u8; bytes];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut buf)
        .map_err(|_| Unavailable)?;
    let mut out = String::with_capacity(bytes * 2);
    for b in buf {
        let _ = write!(out, "{b:02x}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_hex_of_the_asked_length_and_differ() {
        let a = super::hex(16).unwrap();
        let b = super::hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, b);
    }
}
