//! Fuzz target `exec_credential`: arbitrary bytes as an exec credential plugin's stdout (the
//! ExecCredential JSON: token, client certificate and key, expiry), for both plugin API
//! versions client-go accepts.
//!
//! Properties beyond "no panic": the problem reported for unusable output never quotes the
//! token or the key the output carried (the output is the credential), and a usable answer
//! carries a token or a certificate.
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
                for secret in &secrets {
                    assert!(
                        !problem.contains(secret.as_str()),
                        "the problem quotes the credential: {problem}"
                    );
                }
            }
        }
    }
});
