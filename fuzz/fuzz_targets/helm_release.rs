//! Fuzz target `helm_release`: Helm storage decoding, the `data.release` value of a Helm
//! Secret (base64 of Helm's base64 of gzip of the release JSON) down to the manifest's
//! objects and images.
//!
//! The first byte picks the layer the rest is fed to, so that the fuzzer reaches each parser
//! without having to invent the layers above it: 0, the API value as is; 1, the release JSON
//! (wrapped in both base64 layers here); 2, the release JSON gzipped and wrapped; 3, gzip
//! bytes (wrapped); 4, the gzip reader alone.
//!
//! Properties beyond "no panic": decoding is bounded (`MAX_DECODED`), and what the plain and
//! the gzipped forms of one release decode to is the same.
#![no_main]
use base64::Engine as _;
use flux_operator_mcp::tools::objects::helm::{self, MAX_DECODED};
use libfuzzer_sys::fuzz_target;

fn wrap(payload: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    b64.encode(b64.encode(payload))
}

/// A gzip member around a raw deflate stream (RFC 1952: header, data, CRC-32, size).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend(miniz_oxide::deflate::compress_to_vec(data, 1));
    out.extend(helm::crc32(data).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out
}

/// Kinds a cluster would call cluster-scoped; everything else is namespaced or unknown.
fn namespaced(_api_version: &str, kind: &str) -> Option<bool> {
    match kind {
        "Namespace" | "ClusterRole" | "CustomResourceDefinition" => Some(false),
        "Unknown" => None,
        _ => Some(true),
    }
}

fuzz_target!(|data: &[u8]| {
    let [layer, rest @ ..] = data else {
        return;
    };
    match layer % 5 {
        0 => {
            let _ = helm::decode_release(&String::from_utf8_lossy(rest), namespaced);
        }
        1 => {
            let plain = helm::decode_release(&wrap(rest), namespaced);
            let gzipped = helm::decode_release(&wrap(&gzip(rest)), namespaced);
            // Only JSON that starts like gzip differs: the plain form is taken for gzip then.
            if !rest.starts_with(&[0x1f, 0x8b]) {
                assert_eq!(
                    plain.as_ref().ok(),
                    gzipped.as_ref().ok(),
                    "plain and gzipped storage decode differently"
                );
            }
        }
        2 => {
            let _ = helm::decode_release(&wrap(&gzip(rest)), namespaced);
        }
        3 => {
            let _ = helm::decode_release(&wrap(rest), namespaced);
        }
        _ => {
            if let Ok(out) = helm::gunzip(rest, 1 << 20) {
                assert!(out.len() <= 1 << 20, "gunzip went past its limit");
            }
            let _ = MAX_DECODED;
        }
    }
});
