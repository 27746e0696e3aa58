//! Kubeconfig cases of `testdata/kubeconfig/` loaded with our loader and compared with what
//! kubectl reported for them (`expected.yaml`, written by the kubectl oracle), plus what kubectl
//! cannot show offline: the namespace a context resolves to under `-n`, and the credentials each
//! case yields at request time. Runs without kubectl.

mod cases;

use std::path::{Path, PathBuf};

use cases::{Case, Observed};
use flux_operator_mcp::kube::auth::Authenticator;
use flux_operator_mcp::kube::config::{self, Connection, Kubeconfig};

/// A $HOME for the loader that holds nothing (so ~/.kube/config never applies).
fn empty_home() -> PathBuf {
    std::env::temp_dir().join("fomcp-it-kubeconfig-empty-home")
}

fn all_cases() -> Vec<Case> {
    Case::all(&cases::root()).unwrap_or_else(|e| panic!("{e}"))
}

fn load(case: &Case) -> Kubeconfig {
    config::load(&case.overrides(), &case.env(&empty_home()))
        .unwrap_or_else(|e| panic!("{}: {e}", case.name))
}

fn resolve(case: &Case, kc: &Kubeconfig, context: &str) -> Connection {
    kc.resolve(Some(context))
        .unwrap_or_else(|e| panic!("{} {context}: {e}", case.name))
}

/// A case with its kubeconfig loaded once, for the tests that resolve its contexts.
struct Loaded {
    case: Case,
    kc: Kubeconfig,
}

impl Loaded {
    fn resolve(&self, context: &str) -> Connection {
        resolve(&self.case, &self.kc, context)
    }
}

/// The named cases, read (all cases are, once) and loaded.
fn cases<const N: usize>(names: [&str; N]) -> [Loaded; N] {
    let mut all = all_cases();
    names.map(|name| {
        let i = all
            .iter()
            .position(|c| c.name == name)
            .unwrap_or_else(|| panic!("no kubeconfig case {name:?}"));
        let case = all.swap_remove(i);
        let kc = load(&case);
        Loaded { case, kc }
    })
}

fn authorization(conn: &Connection) -> Result<String, String> {
    let auth = Authenticator::new(conn.auth.clone(), &conn.context);
    match auth.authorization() {
        Ok(Some(header)) => Ok(header.expose().to_string()),
        Ok(None) => Ok("<none>".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[test]
fn the_cases_cover_what_the_issue_asks_for() {
    let names: Vec<String> = all_cases().into_iter().map(|c| c.name).collect();
    assert!(names.len() >= 12, "only {} cases: {names:?}", names.len());
    for required in [
        "merge-three-files",
        "relative-paths",
        "exec-plugin",
        "token-file",
        "insecure",
        "tls-server-name",
        "ipv6-server",
        "missing-user",
        "missing-current-context",
        "context-namespace",
        "utf16",
        "multi-document-bom",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "missing case {required}"
        );
    }
}

#[test]
fn every_case_matches_what_kubectl_reported() {
    let mut failures = Vec::new();
    for case in all_cases() {
        let expected = match case.read_expected() {
            Ok(e) => e,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        match case.observe_ours(&empty_home()) {
            Ok(ours) if ours == expected => {}
            Ok(ours) => failures.push(format!(
                "{}:\n  kubectl: {expected:?}\n  ours:    {ours:?}",
                case.name
            )),
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What kubectl's `-n` and `--context` do, applied to kubectl's recorded answers: the flag's
/// namespace, else the context's, else `default`; `--context` over `current-context`.
#[test]
fn every_case_resolves_context_and_namespace_like_kubectl() {
    for case in all_cases() {
        let Ok(expected) = case.read_expected() else {
            continue; // reported by every_case_matches_what_kubectl_reported
        };
        let kc = load(&case);
        assert_eq!(
            kc.current_context(),
            case.spec
                .context
                .as_deref()
                .or(expected.current_context.as_deref()),
            "{}",
            case.name
        );
        // A context whose cluster has no server cannot connect, for kubectl either ("no
        // server found for cluster"); every_case_matches_what_kubectl_reported covers it.
        for context in expected.contexts.iter().filter(|c| c.server.is_some()) {
            let conn = resolve(&case, &kc, &context.name);
            let namespace = case
                .spec
                .namespace
                .clone()
                .or(context.namespace.clone())
                .unwrap_or_else(|| "default".to_string());
            assert_eq!(conn.namespace, namespace, "{} {}", case.name, context.name);
            assert_eq!(conn.context, context.name);
            assert_eq!(conn.cluster, context.cluster);
            assert_eq!(conn.user, context.user);
        }
        check_effective(&case, &kc, &expected);
    }
}

fn check_effective(case: &Case, kc: &Kubeconfig, expected: &Observed) {
    match &expected.effective_context {
        Some(name) => {
            let conn = kc
                .resolve(None)
                .unwrap_or_else(|e| panic!("{}: {e}", case.name));
            assert_eq!(&conn.context, name, "{}", case.name);
        }
        None => {
            let e = kc.resolve(None).expect_err(&case.name).to_string();
            assert!(e.contains("no current-context"), "{}: {e}", case.name);
        }
    }
}

#[test]
fn exec_plugin_case_runs_the_plugin_next_to_it() {
    let [plugin] = cases(["exec-plugin"]);
    let eks = plugin.resolve("eks");
    let exec = eks.auth.exec.as_ref().expect("exec config");
    // The command holds a path separator: it resolves against the kubeconfig's folder.
    assert_eq!(
        Path::new(&exec.command),
        plugin.case.dir.join("../plugin/fake-credential-plugin.sh")
    );
    let info = exec.cluster_info.as_ref().expect("provideClusterInfo");
    assert_eq!(info["config"]["audience"], "fleet");
    assert_eq!(authorization(&eks).as_deref(), Ok("Bearer k8s-aws-v1.fake"));
    let oidc = plugin.resolve("oidc");
    assert_eq!(authorization(&oidc).as_deref(), Ok("Bearer fake-token"));
}

#[test]
fn token_file_cases_read_the_file_next_to_the_kubeconfig() {
    let [token_file, relative] = cases(["token-file", "relative-paths"]);
    let conn = token_file.resolve("robot");
    assert_eq!(
        authorization(&conn).as_deref(),
        Ok("Bearer projected-token-value")
    );
    let conn = relative.resolve("ci");
    assert_eq!(authorization(&conn).as_deref(), Ok("Bearer relative-token"));
}

#[test]
fn certificate_cases_load_their_certificates() {
    let [relative, kind, tunnel] =
        cases(["relative-paths", "kind-embedded-certs", "tls-server-name"]);
    let conn = relative.resolve("certs");
    let read = |p: &str| std::fs::read(relative.case.dir.join(p)).expect("fixture");
    assert_eq!(conn.tls.ca_pem, Some(read("pki/ca.crt")));
    let client = conn.auth.client_cert.as_ref().expect("client cert");
    assert_eq!(client.cert_pem, read("pki/client.crt"));
    assert_eq!(authorization(&conn).as_deref(), Ok("<none>"));

    let kind = kind.resolve("kind-flux");
    assert!(kind.tls.ca_pem.is_some() && kind.auth.client_cert.is_some());
    assert_eq!(kind.auth.method(), "client certificate");

    let tunnel = tunnel.resolve("tunnel");
    assert_eq!(
        tunnel.tls.server_name.as_deref(),
        Some("kubernetes.default.svc")
    );
    assert!(tunnel.tls.ca_pem.is_some());
}

#[test]
fn transport_settings_of_the_cases() {
    let [insecure, proxy] = cases(["insecure", "proxy-url"]);
    for name in ["lab", "lab-yes"] {
        assert!(insecure.resolve(name).tls.insecure_skip_verify, "{name}");
    }
    assert_eq!(
        proxy.resolve("behind-proxy").proxy_url.as_deref(),
        Some("http://proxy.example.internal:3128")
    );
    assert_eq!(proxy.resolve("direct").proxy_url, None);
}

#[test]
fn identities_of_the_cases() {
    let [missing, split, merged, gke] = cases([
        "missing-user",
        "split-kubectx",
        "merge-three-files",
        "legacy-auth-provider",
    ]);
    for name in ["no-user", "ghost-user"] {
        let conn = missing.resolve(name);
        assert_eq!(authorization(&conn).as_deref(), Ok("<none>"), "{name}");
    }
    assert_eq!(
        authorization(&split.resolve("eu-prod")).as_deref(),
        Ok("Bearer eu-admin-token")
    );
    let basic = authorization(&split.resolve("us-prod")).expect("basic");
    assert!(basic.starts_with("Basic "), "{basic}");

    assert_eq!(
        authorization(&merged.resolve("dev")).as_deref(),
        Ok("Bearer dev-token-from-a")
    );

    let conn = gke.resolve("gke_project_europe-west1_fleet");
    let e = authorization(&conn).expect_err("auth-provider");
    assert!(e.contains("gke-gcloud-auth-plugin"), "{e}");
}

/// A value of a shape a kubeconfig field is unlikely to expect, picked by `n`.
fn odd_value(n: u64) -> serde_json::Value {
    use serde_json::json;
    match n % 12 {
        0 => json!(null),
        1 => json!(0),
        2 => json!(-7.5),
        3 => json!(""),
        4 => json!("not base64 !!"),
        5 => json!([]),
        6 => json!({}),
        7 => json!([null, {"name": 3}]),
        8 => json!(true),
        9 => json!("é🦀\u{1b}[2J\n".repeat(4)),
        10 => json!("https://[::1"),
        _ => json!({"name": {"name": []}}),
    }
}

/// Hand-edited kubeconfigs break in every way: the loader either loads them or says what is
/// wrong, and a loaded one resolves each context or says why. Never a panic, never an empty
/// message. Every case's files are broken at 1 to 3 random places, 8 times over.
#[test]
fn kubeconfigs_of_any_shape_load_or_fail_cleanly() {
    use serde_json::Value;
    let mut rng = crate::support::Rng(0x6b75_6265);
    let mut outcomes = (0, 0); // (loaded and resolved everything, refused somewhere)
    for round in 0..8 {
        let root = crate::support::scratch_dir(&format!("kubeconfig-shapes-{round}"));
        crate::support::copy_dir(&cases::root(), &root);
        for case in Case::all(&root).unwrap_or_else(|e| panic!("{e}")) {
            let mut files: Vec<PathBuf> = case
                .spec
                .kubeconfig
                .iter()
                .flatten()
                .filter(|f| !f.is_empty())
                .map(|f| case.dir.join(f))
                .collect();
            files.extend(case.spec.explicit.iter().map(|f| case.dir.join(f)));
            for file in files {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue; // missing on purpose, or UTF-16
                };
                let Ok(mut doc) = serde_norway::from_str::<Value>(&text) else {
                    continue;
                };
                let paths = crate::support::json_pointers(&doc);
                if paths.is_empty() {
                    continue;
                }
                for _ in 0..1 + rng.below(3) {
                    let path = rng.pick(&paths).clone();
                    if let Some(place) = doc.pointer_mut(&path) {
                        *place = odd_value(rng.next());
                    }
                }
                std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
            }
            let loaded = config::load(&case.overrides(), &case.env(&empty_home()));
            let kc = match loaded {
                Ok(kc) => kc,
                Err(e) => {
                    assert!(
                        !e.to_string().trim().is_empty(),
                        "{}: empty error",
                        case.name
                    );
                    outcomes.1 += 1;
                    continue;
                }
            };
            let mut names: Vec<Option<String>> =
                kc.contexts().into_iter().map(|c| Some(c.name)).collect();
            names.push(None);
            let mut refused = false;
            for name in names {
                match kc.resolve(name.as_deref()) {
                    Ok(conn) => {
                        if let Err(e) = authorization(&conn) {
                            assert!(!e.trim().is_empty(), "{} {name:?}: empty error", case.name);
                        }
                    }
                    Err(e) => {
                        assert!(!e.to_string().trim().is_empty(), "{} {name:?}", case.name);
                        refused = true;
                    }
                }
            }
            if refused {
                outcomes.1 += 1;
            } else {
                outcomes.0 += 1;
            }
        }
    }
    // The mutations must reach the loader's checks, and must not break everything.
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}
