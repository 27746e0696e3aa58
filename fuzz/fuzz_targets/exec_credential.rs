//! Fuzz target `exec_credential`: arbitrary bytes as an exec credential plugin's stdout (the
//! ExecCredential JSON: token, client certificate and key, expiry), for both plugin API
//! versions client-go accepts.
//!
//! Properties beyond "no panic": the problem reported for unusable output never quotes the
//! token or the key the output carried (the output is the credential; a value that is part of
//! the problem's own wording is no quote), and a usable answer carries a token or a
//! certificate.
#![no_main]
use flux_operator_mcp::kube::auth::parse_exec_output_summary;
use flux_operator_mcp::kube::config::EXEC_API_VERSIONS;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|stdout: &[u8]| {
    let secrets: Vec<String> = match serde_json::from_slice::<Value>(stdout) {
        Ok(v) => ["token", "clientKeyData"]
            .iter()
            .filter_map(|k| v["status"][k].as_str())
            .filter(|s| s.len() >= 8)
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    };
    for api_version in EXEC_API_VERSIONS {
        match parse_exec_output_summary(stdout, api_version) {
            Ok(summary) => assert!(
                summary.token || summary.client_cert,
                "a credential with neither a token nor a certificate"
            ),
            Err(problem) => {
                assert!(!problem.is_empty(), "an empty problem");
                for secret in secrets.iter().filter(|s| !fixed_wording(s)) {
                    assert!(
                        !problem.contains(secret.as_str()),
                        "the problem quotes the credential: {problem}"
                    );
                }
            }
        }
    }
});

/// Whether `secret` occurs in the problem's own wording (the configured apiVersion, the
/// sentences of kube::auth and kube::config): finding it there quotes nothing of the output.
fn fixed_wording(secret: &str) -> bool {
    const FIXED: &[&str] = &[
        "client.authentication.k8s.io/v1beta1",
        "its output is not an ExecCredential JSON object (syntax error at line column)",
        "unexpected end error, read error, type error",
        "its output has no `kind: ExecCredential`",
        "it is configured for client.authentication.k8s.io/v1 but returned apiVersion",
        "(not shown: it holds the credential)",
        "it returned no status field",
        "it returned a client certificate or key without the other",
        "it returned neither a token nor a client certificate and key",
        "its expirationTimestamp is not RFC 3339",
        "the client certificate is not valid PEM",
        "the client certificate holds no PEM certificate",
        "the client key holds no private key (PKCS#1, PKCS#8 or SEC1 PEM; encrypted keys are \
         not supported)",
        "the client key does not belong to the client certificate",
        "the client certificate cannot be parsed",
        "unsupported client key type (supported: RSA, ECDSA P-256 and P-384, Ed25519)",
    ];
    FIXED.iter().any(|text| text.contains(secret))
}
