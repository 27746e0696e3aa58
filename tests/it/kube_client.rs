//! The REST client (`kube::client`) against the test API server over real HTTPS: TLS and
//! credentials, Status errors, retries and faults, paging, discovery, logs, metrics,
//! impersonation, and the mutating verbs (only with the `mutations` feature).

use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use flux_operator_mcp::kube::client::{Client, ClientOptions, LogOptions, PodSelection};
use flux_operator_mcp::kube::config::{
    AuthConfig, ClientCert, Connection, Impersonation, TlsSettings,
};
use flux_operator_mcp::kube::discovery::Resource;
use flux_operator_mcp::kube::list::ListOptions;
use flux_operator_mcp::kube::{Error, NetworkEnv, Secret, SecretBytes};

use crate::apiserver::{
    ADMIN_USER, ApiServer, Auth, Deny, Fault, FaultKind, KeyType, Options, Synthetic, TOKEN_USER,
};

/// How the client authenticates in a test.
enum As {
    Cert,
    RsaPkcs1,
    Token,
}

fn connection(server: &ApiServer, who: As) -> Connection {
    let cert = |cert: &str, key: &str| ClientCert {
        cert_pem: cert.as_bytes().to_vec(),
        key_pem: SecretBytes::new(key.as_bytes().to_vec()),
    };
    let auth = match who {
        As::Cert => AuthConfig {
            client_cert: Some(cert(server.client_cert_pem(), server.client_key_pem())),
            ..AuthConfig::default()
        },
        As::RsaPkcs1 => AuthConfig {
            client_cert: Some(cert(
                server.client_cert_rsa_pem(),
                server.client_key_rsa_pkcs1_pem(),
            )),
            ..AuthConfig::default()
        },
        As::Token => AuthConfig {
            token: Some(Secret::new(server.token())),
            ..AuthConfig::default()
        },
    };
    Connection {
        context: "flux-test".into(),
        cluster: "flux-test".into(),
        user: "flux-test".into(),
        server: server.url(),
        namespace: "default".into(),
        tls: TlsSettings {
            ca_pem: Some(server.ca_pem().as_bytes().to_vec()),
            insecure_skip_verify: false,
            server_name: server.tls_server_name().map(str::to_string),
            ca_source: Some("certificate-authority-data"),
        },
        proxy_url: None,
        auth,
        impersonate: Impersonation::default(),
    }
}

fn options(timeout: Duration) -> ClientOptions {
    // Hermetic: no proxy or CA bundle from the developer's environment.
    ClientOptions {
        timeout,
        env: NetworkEnv::default(),
    }
}

fn client_for(conn: &Connection) -> Client {
    match Client::new(conn, options(Duration::from_secs(20))) {
        Ok(c) => c,
        Err(e) => panic!("client: {e}"),
    }
}

fn client(server: &ApiServer, who: As) -> Client {
    client_for(&connection(server, who))
}

fn kustomizations() -> Resource {
    Resource::new(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "kustomizations",
        true,
    )
}

fn name_of(v: &serde_json::Value) -> String {
    v["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn get_flux_system(c: &Client) -> Result<serde_json::Value, Error> {
    c.get(&kustomizations(), "flux-system", "flux-system")
}

// ---- TLS and credentials ---------------------------------------------------------------------

#[test]
fn mtls_with_an_ec_key() {
    let server = ApiServer::start(Options::default());
    let got = get_flux_system(&client(&server, As::Cert)).expect("get");
    assert_eq!(name_of(&got), "flux-system");
    assert_eq!(server.requests()[0].user.as_deref(), Some(ADMIN_USER));
}

#[test]
fn mtls_with_an_rsa_pkcs1_key_and_an_rsa_server() {
    let server = ApiServer::start(Options {
        key_type: KeyType::Rsa,
        ..Options::default()
    });
    get_flux_system(&client(&server, As::RsaPkcs1)).expect("get");
    get_flux_system(&client(&server, As::Cert)).expect("get with the RSA PKCS#8 default key");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.user.as_deref() == Some(ADMIN_USER))
    );
}

#[test]
fn mtls_over_tls_1_2() {
    let server = ApiServer::start(Options {
        tls12_only: true,
        ..Options::default()
    });
    get_flux_system(&client(&server, As::Cert)).expect("TLS 1.2 works");
}

#[test]
fn bearer_token() {
    let server = ApiServer::start(Options {
        auth: Auth::Token,
        ..Options::default()
    });
    get_flux_system(&client(&server, As::Token)).expect("get");
    let req = &server.requests()[0];
    assert_eq!(req.user.as_deref(), Some(TOKEN_USER));
    assert_eq!(req.header("authorization"), Some("Bearer <redacted>"));
}

#[test]
fn ipv6_server() {
    let server = ApiServer::start(Options {
        ipv6: true,
        ..Options::default()
    });
    assert!(server.url().starts_with("https://[::1]:"));
    get_flux_system(&client(&server, As::Cert)).expect("get over [::1]");
}

#[test]
fn tls_server_name_is_used_for_verification() {
    let server = ApiServer::start(Options {
        dns_only_san: true,
        ..Options::default()
    });
    get_flux_system(&client(&server, As::Cert)).expect("works with tls-server-name");

    let mut conn = connection(&server, As::Cert);
    conn.tls.server_name = None;
    let err = get_flux_system(&client_for(&conn)).expect_err("IP not in the certificate");
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("set tls-server-name"), "{err}");
}

#[test]
fn a_server_certificate_from_another_ca_is_refused() {
    let server = ApiServer::start(Options {
        wrong_ca: true,
        ..Options::default()
    });
    let err = get_flux_system(&client(&server, As::Cert)).expect_err("untrusted");
    assert_eq!(
        err.to_string(),
        format!(
            "TLS handshake with {} failed: the server's certificate is not signed by the \
             certificate authority in certificate-authority-data (a recreated cluster has a new \
             CA: fetch a fresh kubeconfig)",
            server.url()
        )
    );
    assert!(!err.is_transient(), "a wrong CA does not fix itself");
}

#[test]
fn without_a_ca_the_error_says_none_is_set() {
    let server = ApiServer::start(Options::default());
    let mut conn = connection(&server, As::Cert);
    conn.tls.ca_pem = None;
    conn.tls.ca_source = None;
    let err = get_flux_system(&client_for(&conn)).expect_err("untrusted");
    let text = err.to_string();
    assert!(
        text.contains("system trust store, and the cluster sets no certificate-authority-data"),
        "{text}"
    );
}

#[test]
fn insecure_skip_tls_verify_accepts_an_untrusted_certificate() {
    let server = ApiServer::start(Options {
        wrong_ca: true,
        ..Options::default()
    });
    let mut conn = connection(&server, As::Token);
    conn.tls.ca_pem = None;
    conn.tls.insecure_skip_verify = true;
    get_flux_system(&client_for(&conn)).expect("insecure");
}

#[test]
fn a_client_key_that_does_not_match_fails_at_client_creation() {
    let server = ApiServer::start(Options::default());
    let mut conn = connection(&server, As::Cert);
    let other = server.issue_client_cert("someone", &[], KeyType::EcP256);
    if let Some(c) = conn.auth.client_cert.as_mut() {
        c.key_pem = SecretBytes::new(other.key_pem.as_bytes().to_vec());
    }
    let err = Client::new(&conn, options(Duration::from_secs(5))).expect_err("mismatch");
    assert_eq!(
        err.to_string(),
        r#"context "flux-test": invalid client-key: does not match client-certificate"#
    );
    assert!(!err.to_string().contains("PRIVATE KEY"));
    assert!(server.requests().is_empty());
}

#[test]
fn impersonation_headers_are_sent() {
    let server = ApiServer::start(Options::default());
    let mut conn = connection(&server, As::Cert);
    conn.impersonate = Impersonation {
        user: Some("jane".into()),
        groups: vec!["devs".into(), "sre".into()],
        uid: Some("1234".into()),
        ..Impersonation::default()
    };
    get_flux_system(&client_for(&conn)).expect("admin may impersonate");
    let req = &server.requests()[0];
    assert_eq!(req.header("impersonate-user"), Some("jane"));
    assert_eq!(
        req.header_values("impersonate-group").collect::<Vec<_>>(),
        ["devs", "sre"]
    );
    assert_eq!(req.header("impersonate-uid"), Some("1234"));
    assert_eq!(req.header("accept"), Some("application/json"));
    let ua = req.header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("flux-operator-mcp/"), "{ua}");
}

/// A one-connection-at-a-time HTTP CONNECT proxy on 127.0.0.1 that records its CONNECT lines.
fn connect_proxy() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let target = line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                log.lock().expect("log").push(line.trim_end().to_string());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                        break;
                    }
                }
                let Ok(upstream) = TcpStream::connect(&target) else {
                    return;
                };
                let mut down = client;
                let _ = down.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                let (mut up_r, mut up_w) = (upstream.try_clone().expect("clone"), upstream);
                let mut down_w = down.try_clone().expect("clone");
                std::thread::spawn(move || std::io::copy(&mut up_r, &mut down_w));
                let _ = std::io::copy(&mut reader, &mut up_w);
            });
        }
    });
    (url, seen)
}

#[test]
fn proxy_url_tunnels_through_http_connect() {
    let server = ApiServer::start(Options::default());
    let (proxy, seen) = connect_proxy();
    let mut conn = connection(&server, As::Cert);
    conn.proxy_url = Some(proxy);
    get_flux_system(&client_for(&conn)).expect("through the proxy");
    let lines = seen.lock().expect("log").clone();
    assert_eq!(lines, [format!("CONNECT {} HTTP/1.1", server.addr())]);
}

// ---- Status errors ---------------------------------------------------------------------------

#[test]
fn a_403_quotes_the_servers_message() {
    let server = ApiServer::start(Options {
        deny: vec![Deny::new("list", "", "secrets").in_namespace("default")],
        ..Options::default()
    });
    let secrets = Resource::new("v1", "Secret", "secrets", true);
    let err = client(&server, As::Token)
        .list_all(
            &secrets,
            &ListOptions {
                namespace: Some("default".into()),
                ..ListOptions::default()
            },
        )
        .expect_err("denied");
    assert!(err.is_forbidden());
    assert_eq!(err.reason(), Some("Forbidden"));
    assert_eq!(
        err.to_string(),
        format!(
            "error from server (Forbidden): secrets is forbidden: User \"{TOKEN_USER}\" cannot \
             list resource \"secrets\" in API group \"\" in the namespace \"default\""
        )
    );
}

#[test]
fn a_404_names_the_object() {
    let server = ApiServer::start(Options::default());
    let err = client(&server, As::Cert)
        .get(&kustomizations(), "flux-system", "nope")
        .expect_err("missing");
    assert!(err.is_not_found());
    assert_eq!(
        err.to_string(),
        r#"error from server (NotFound): kustomizations.kustomize.toolkit.fluxcd.io "nope" not found"#
    );
}

#[test]
fn a_401_after_one_refresh_is_reported_without_the_token() {
    let server = ApiServer::start(Options {
        auth: Auth::Token,
        ..Options::default()
    });
    let c = client(&server, As::Token);
    get_flux_system(&c).expect("valid at first");
    server.revoke_token(server.token());
    server.clear_requests();
    let err = get_flux_system(&c).expect_err("revoked");
    assert!(err.is_unauthorized(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "error from server (Unauthorized): Unauthorized"
    );
    // Sent twice: once, then again after invalidating cached credentials.
    assert_eq!(server.requests().len(), 2);
    assert!(!format!("{err} {err:?}").contains(server.token()));
}

// ---- retries and faults ----------------------------------------------------------------------

#[test]
fn too_many_requests_is_retried_after_retry_after() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new(
        "/kustomizations",
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
    ));
    let started = Instant::now();
    get_flux_system(&client(&server, As::Cert)).expect("retried");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    let codes: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(codes, [429, 200]);
}

#[test]
fn service_unavailable_is_retried_then_reported() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new(
        "/kustomizations",
        FaultKind::ServiceUnavailable { retry_after: None },
    ));
    get_flux_system(&client(&server, As::Cert)).expect("second try works");

    server.clear_requests();
    server.inject(
        Fault::new(
            "/kustomizations",
            FaultKind::ServiceUnavailable { retry_after: None },
        )
        .always(),
    );
    let err = get_flux_system(&client(&server, As::Cert)).expect_err("always 503");
    assert_eq!(err.status_code(), Some(503));
    assert!(err.is_transient());
    assert_eq!(server.requests().len(), 3, "bounded retries");
}

#[test]
fn an_internal_error_is_not_retried() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new("/kustomizations", FaultKind::Status(500)));
    let err = get_flux_system(&client(&server, As::Cert)).expect_err("500");
    assert_eq!(err.status_code(), Some(500));
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_reset_connection_is_retried_for_a_get() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new("/kustomizations", FaultKind::ConnectionReset));
    get_flux_system(&client(&server, As::Cert)).expect("retried after the reset");
    let codes: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(codes, [0, 200]);
}

#[test]
fn resets_and_truncated_bodies_that_persist_are_errors() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new("/kustomizations", FaultKind::ConnectionReset).always());
    let err = get_flux_system(&client(&server, As::Cert)).expect_err("reset");
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert!(err.to_string().starts_with(
        "GET /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/flux-system: connection interrupted"
    ), "{err}");

    server.clear_faults();
    server.inject(Fault::new("/kustomizations", FaultKind::TruncatedBody).always());
    let err = get_flux_system(&client(&server, As::Cert)).expect_err("truncated");
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");

    server.clear_faults();
    server.inject(Fault::new("/kustomizations", FaultKind::TruncatedBody));
    get_flux_system(&client(&server, As::Cert)).expect("a single truncation is retried");
}

#[test]
fn a_slow_server_times_out_within_the_budget() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new(
        "/kustomizations",
        FaultKind::Delay(Duration::from_secs(3)),
    ));
    let c = Client::new(
        &connection(&server, As::Cert),
        options(Duration::from_millis(500)),
    )
    .expect("client");
    let started = Instant::now();
    let err = get_flux_system(&c).expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("no answer within the 500ms timeout"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// An exec plugin that hangs (a browser login nobody completes) ends with the call's
/// `--timeout`, not the plugin's own 30 s, and the error says which limit it hit.
#[test]
fn a_hanging_exec_plugin_ends_with_the_call_timeout() {
    use flux_operator_mcp::kube::config::ExecConfig;
    let server = ApiServer::start(Options::default());
    let plugin = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/kubeconfig/plugin/fake-credential-plugin.sh");
    let mut conn = connection(&server, As::Cert);
    conn.auth = AuthConfig {
        exec: Some(ExecConfig {
            api_version: "client.authentication.k8s.io/v1".into(),
            command: plugin.display().to_string(),
            env: vec![("FAKE_MODE".into(), Secret::new("sleep"))],
            ..ExecConfig::default()
        }),
        ..AuthConfig::default()
    };
    // The plugin may hand out a client certificate, so building the client already runs it.
    let started = Instant::now();
    let err = Client::new(&conn, options(Duration::from_millis(800)))
        .and_then(|c| get_flux_system(&c))
        .expect_err("no credential in time");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(
        text.contains("--timeout") && text.contains("killed"),
        "{text}"
    );
    assert!(
        server.requests().is_empty(),
        "nothing was sent without a credential"
    );
}

// ---- lists -----------------------------------------------------------------------------------

fn big_server(count: usize) -> ApiServer {
    ApiServer::start(Options {
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "bulk",
            count,
        )],
        ..Options::default()
    })
}

fn in_bulk() -> ListOptions {
    ListOptions {
        namespace: Some("bulk".into()),
        ..ListOptions::default()
    }
}

#[test]
fn a_big_list_is_paged_with_continue_and_filled_in() {
    let server = big_server(1234);
    let mut names = Vec::new();
    let info = client(&server, As::Cert)
        .list(&kustomizations(), &in_bulk(), |item| {
            assert_eq!(item["kind"], "Kustomization");
            names.push(name_of(&item));
            ControlFlow::Continue(())
        })
        .expect("list");
    assert_eq!(info.items, 1234);
    assert!(!info.more);
    assert!(!info.resource_version.is_empty());
    names.dedup();
    assert_eq!(names.len(), 1234, "no duplicates across pages");
    let pages = server.requests();
    assert_eq!(pages.len(), 3, "500 + 500 + 234");
    assert_eq!(pages[0].param("limit"), Some("500"));
    assert!(pages[0].param("continue").is_none());
    assert!(pages[1].param("continue").is_some());
}

#[test]
fn a_server_that_returns_short_pages_is_followed() {
    let server = ApiServer::start(Options {
        max_page_size: Some(7),
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "bulk",
            20,
        )],
        ..Options::default()
    });
    let all = client(&server, As::Cert)
        .list_all(&kustomizations(), &in_bulk())
        .expect("list");
    assert_eq!(all.len(), 20);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn limit_stops_with_a_token_that_resumes() {
    let server = big_server(30);
    let c = client(&server, As::Cert);
    let mut first = Vec::new();
    let info = c
        .list(
            &kustomizations(),
            &ListOptions {
                limit: Some(10),
                ..in_bulk()
            },
            |item| {
                first.push(name_of(&item));
                ControlFlow::Continue(())
            },
        )
        .expect("list");
    assert_eq!(first.len(), 10);
    assert!(info.more);
    assert_eq!(info.remaining_item_count, Some(20));
    let rest = c
        .list_all(
            &kustomizations(),
            &ListOptions {
                continue_token: info.continue_token.clone(),
                ..in_bulk()
            },
        )
        .expect("resume");
    assert_eq!(rest.len(), 20);
    assert!(!rest.iter().any(|r| first.contains(&name_of(r))));
}

#[test]
fn a_callback_break_stops_the_list_early() {
    let server = big_server(1200);
    let mut seen = 0;
    let info = client(&server, As::Cert)
        .list(&kustomizations(), &in_bulk(), |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("list");
    assert_eq!(info.items, 3);
    assert!(info.more);
    // The second page was asked for while the first was parsed (its answer is dropped); no
    // page after it.
    assert_eq!(server.requests().len(), 2, "no further pages fetched");
}

#[test]
fn selectors_are_sent_and_applied() {
    let server = ApiServer::start(Options::default());
    let pods = Resource::new("v1", "Pod", "pods", true);
    let got = client(&server, As::Cert)
        .list_all(
            &pods,
            &ListOptions {
                namespace: Some("flux-system".into()),
                label_selector: Some("app in (source-controller,helm-controller)".into()),
                ..ListOptions::default()
            },
        )
        .expect("list");
    let mut names: Vec<String> = got.iter().map(name_of).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "helm-controller-c9k8vj9px-ws4pj",
            "source-controller-mmfblsxvr-sdkmb"
        ]
    );
    assert_eq!(got[0]["apiVersion"], "v1");
    assert_eq!(got[0]["kind"], "Pod");
    let named = client(&server, As::Cert)
        .list_all(
            &pods,
            &ListOptions {
                field_selector: Some("metadata.name=helm-controller-c9k8vj9px-ws4pj".into()),
                ..ListOptions::default()
            },
        )
        .expect("list");
    assert_eq!(named.len(), 1);
    let req = server.requests().pop().expect("a request");
    assert_eq!(req.path, "/api/v1/pods");
    assert_eq!(
        req.param("fieldSelector"),
        Some("metadata.name=helm-controller-c9k8vj9px-ws4pj")
    );
}

// ---- discovery -------------------------------------------------------------------------------

#[test]
fn discovery_resolves_what_users_type() {
    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let cases = [
        (
            None,
            "ks",
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
        ),
        (
            None,
            "HelmRelease",
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
        ),
        (None, "hr", "helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        (
            None,
            "gitrepo",
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
        ),
        (
            None,
            "gitrepositories",
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
        ),
        (
            Some("source.toolkit.fluxcd.io/v1beta2"),
            "GitRepository",
            "source.toolkit.fluxcd.io/v1beta2",
            "GitRepository",
        ),
        (
            Some("source.toolkit.fluxcd.io"),
            "gitrepository",
            "source.toolkit.fluxcd.io/v1",
            "GitRepository",
        ),
        (
            None,
            "kustomizations.kustomize.toolkit.fluxcd.io",
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
        ),
        (Some("v1"), "pods", "v1", "Pod"),
        (None, "deploy", "apps/v1", "Deployment"),
        (
            None,
            "crd",
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
        ),
    ];
    for (api_version, kind, want_av, want_kind) in cases {
        let r = match c.resolve(api_version, kind) {
            Ok(r) => r,
            Err(e) => panic!("{api_version:?} {kind}: {e}"),
        };
        assert_eq!(
            (r.api_version().as_str(), r.kind.as_str()),
            (want_av, want_kind),
            "{kind}"
        );
    }
    let ns = c.resolve(None, "Namespace").expect("namespace");
    assert!(!ns.namespaced);
    // One discovery for all of it (aggregated: /api and /apis only).
    let discovery_requests = server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api"))
        .count();
    assert!(
        discovery_requests <= 2,
        "{discovery_requests} discovery requests"
    );
}

#[test]
fn unknown_kinds_get_close_matches() {
    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let err = c.resolve(None, "HelmRelase").expect_err("typo");
    assert_eq!(
        err.to_string(),
        r#"the server has no kind "HelmRelase"; did you mean HelmRelease (helm.toolkit.fluxcd.io/v2)?"#
    );
    let err = c
        .resolve(Some("helm.toolkit.fluxcd.io/v2beta1"), "HelmRelease")
        .expect_err("old version");
    assert!(
        err.to_string()
            .ends_with("did you mean HelmRelease (helm.toolkit.fluxcd.io/v2)?"),
        "{err}"
    );
}

#[test]
fn every_kind_is_listed_with_its_preferred_version() {
    let server = ApiServer::start(Options::default());
    let kinds = client(&server, As::Cert)
        .discovery()
        .expect("discovery")
        .kinds();
    let has = |av: &str, kind: &str| {
        kinds
            .iter()
            .any(|k| k.api_version() == av && k.kind == kind)
    };
    assert!(has("v1", "Pod"));
    assert!(has("apps/v1", "Deployment"));
    assert!(has("kustomize.toolkit.fluxcd.io/v1", "Kustomization"));
    assert!(has("source.toolkit.fluxcd.io/v1", "GitRepository"));
    assert!(!has("source.toolkit.fluxcd.io/v1beta2", "GitRepository"));
    assert!(has("fluxcd.controlplane.io/v1", "FluxInstance"));
}

// ---- logs and metrics ------------------------------------------------------------------------

#[test]
fn logs_honour_their_options() {
    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let all = c
        .logs("apps", "redis-master-0", &LogOptions::default())
        .expect("logs");
    assert!(all.text.contains("FATAL CONFIG FILE ERROR"), "{}", all.text);
    assert!(!all.truncated);

    let tail = c
        .logs(
            "apps",
            "redis-master-0",
            &LogOptions {
                tail_lines: Some(2),
                ..LogOptions::default()
            },
        )
        .expect("tail");
    assert_eq!(tail.text.lines().count(), 2, "{}", tail.text);

    let capped = c
        .logs(
            "apps",
            "redis-master-0",
            &LogOptions {
                limit_bytes: Some(20),
                ..LogOptions::default()
            },
        )
        .expect("limit");
    assert_eq!(capped.text.len(), 20);
    assert!(capped.truncated);

    let previous = c
        .logs(
            "apps",
            "redis-master-0",
            &LogOptions {
                previous: true,
                ..LogOptions::default()
            },
        )
        .expect("previous");
    assert_ne!(previous.text, all.text);

    let err = c
        .logs("apps", "frontend-t9gs75xc2-2lb5r", &LogOptions::default())
        .expect_err("several containers");
    assert_eq!(err.status_code(), Some(400));
    assert!(
        err.to_string()
            .contains("a container name must be specified"),
        "{err}"
    );
    let nginx = c
        .logs(
            "apps",
            "frontend-t9gs75xc2-2lb5r",
            &LogOptions {
                container: Some("nginx".into()),
                ..LogOptions::default()
            },
        )
        .expect("one container");
    assert!(!nginx.text.is_empty());
    let log_request = server.requests().pop().expect("request");
    assert_eq!(log_request.param("container"), Some("nginx"));
}

#[test]
fn pod_metrics_by_name_and_selector() {
    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let one = c
        .pod_metrics(
            Some("flux-system"),
            &PodSelection::Named("source-controller-mmfblsxvr-sdkmb".into()),
        )
        .expect("one pod");
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["kind"], "PodMetrics");
    assert!(one[0]["containers"].is_array());
    let some = c
        .pod_metrics(
            Some("flux-system"),
            &PodSelection::Matching {
                label_selector: None,
                limit: Some(2),
            },
        )
        .expect("list");
    assert_eq!(some.len(), 2);
    assert_eq!(some[0]["apiVersion"], "metrics.k8s.io/v1beta1");
}

#[test]
fn metrics_server_missing_is_a_distinct_error() {
    // The default data holds PodMetrics, which a server without metrics refuses to load.
    let data = data_without_metrics();
    let server = ApiServer::start(Options {
        no_metrics: true,
        data_dir: data.clone(),
        ..Options::default()
    });
    let _ = std::fs::remove_dir_all(&data);
    let c = client(&server, As::Cert);
    let selection = PodSelection::Matching {
        label_selector: None,
        limit: None,
    };
    let err = c
        .pod_metrics(Some("flux-system"), &selection)
        .expect_err("absent");
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    // Once discovery is known, the absent group is answered without asking.
    c.discovery().expect("discovery");
    server.clear_requests();
    let err = c.pod_metrics(None, &selection).expect_err("absent");
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(server.requests().is_empty());
}

/// metrics-server installed but down: discovery reports the stale group version (as kubectl
/// does: "unable to retrieve the complete list of server APIs") and drops its kinds; metrics
/// calls are a `MetricsUnavailable` error at once, without a request to the dead backend.
#[test]
fn a_stale_metrics_api_is_a_discovery_failure_and_metrics_are_unavailable() {
    let server = ApiServer::start(Options {
        metrics_unavailable: true,
        ..Options::default()
    });
    let c = client(&server, As::Cert);
    let d = c.discovery().expect("discovery works without metrics");
    assert_eq!(
        d.failures()
            .iter()
            .map(|f| f.group_version.as_str())
            .collect::<Vec<_>>(),
        ["metrics.k8s.io/v1beta1"]
    );
    assert!(
        d.failures()[0].error.contains("stale"),
        "{:?}",
        d.failures()
    );
    assert!(d.resources().all(|r| r.group != "metrics.k8s.io"));
    assert!(c.resolve(None, "Kustomization").is_ok());
    server.clear_requests();
    let selection = PodSelection::Matching {
        label_selector: None,
        limit: None,
    };
    let err = c
        .pod_metrics(Some("flux-system"), &selection)
        .expect_err("down");
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("not answering"), "{err}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

/// A copy of `testdata/cluster` without its metrics objects, in a fresh temporary folder.
fn data_without_metrics() -> std::path::PathBuf {
    let from = crate::apiserver::default_data_dir();
    let to = std::env::temp_dir().join(format!(
        "flux-mcp-no-metrics-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&to).expect("temp dir");
    for entry in std::fs::read_dir(&from).expect("testdata/cluster") {
        let path = entry.expect("entry").path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "metrics.yaml") {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
    to
}

// ---- credentials never leak ------------------------------------------------------------------

#[test]
fn no_error_carries_a_credential() {
    let server = ApiServer::start(Options {
        deny: vec![Deny::new("get", "*", "*")],
        ..Options::default()
    });
    let token = server.token().to_string();
    let key = server.client_key_pem().to_string();
    let key_body: String = key.lines().nth(1).unwrap_or_default().to_string();
    let mut errors: Vec<Error> = Vec::new();
    let c = client(&server, As::Token);
    errors.extend(get_flux_system(&c).err());
    server.inject(Fault::new("/", FaultKind::ConnectionReset).always());
    errors.extend(get_flux_system(&c).err());
    server.clear_faults();
    server.inject(Fault::new("/", FaultKind::Status(500)).always());
    errors.extend(get_flux_system(&client(&server, As::Cert)).err());
    server.clear_faults();
    server.revoke_token(&token);
    errors.extend(get_flux_system(&c).err());
    let mut bad = connection(&server, As::Cert);
    bad.auth.token = Some(Secret::new(token.clone()));
    if let Some(cert) = bad.auth.client_cert.as_mut() {
        cert.cert_pem = b"garbage".to_vec();
    }
    errors.extend(Client::new(&bad, options(Duration::from_secs(5))).err());
    assert_eq!(errors.len(), 5, "every case failed: {errors:?}");
    for e in &errors {
        let text = format!("{e} / {e:?}");
        assert!(!text.contains(&token), "token in {text}");
        assert!(!text.contains(&key_body), "key in {text}");
    }
    let debug = format!("{c:?}");
    assert!(!debug.contains(&token), "{debug}");
}

// ---- verbs -----------------------------------------------------------------------------------

#[cfg(feature = "mutations")]
#[test]
fn mutations_patch_apply_and_delete() {
    use flux_operator_mcp::kube::client::{ApplyOptions, DeleteOptions, PatchOptions, PatchType};
    use serde_json::json;

    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let ks = kustomizations();
    let patched = c
        .patch(
            &ks,
            "flux-system",
            "apps",
            PatchType::Merge,
            &json!({"spec": {"suspend": true}}),
            &PatchOptions::default(),
        )
        .expect("patch");
    assert_eq!(patched["spec"]["suspend"], true);
    let stored = server
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "apps",
        )
        .expect("stored");
    assert_eq!(stored["spec"]["suspend"], true);

    let object = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied", "namespace": "default"},
        "data": {"k": "v"}
    });
    let cm = Resource::new("v1", "ConfigMap", "configmaps", true);
    c.apply(&cm, "default", "applied", &object, &ApplyOptions::default())
        .expect("apply");
    assert!(
        server
            .object("v1", "ConfigMap", "default", "applied")
            .is_some()
    );

    c.delete(&cm, "default", "applied", &DeleteOptions::default())
        .expect("delete");
    assert!(
        server
            .object("v1", "ConfigMap", "default", "applied")
            .is_none()
    );

    let methods: Vec<(String, Option<String>)> = server
        .requests()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.header("content-type").map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("PATCH".into(), Some("application/merge-patch+json".into())),
            ("PATCH".into(), Some("application/apply-patch+yaml".into())),
            ("DELETE".into(), Some("application/json".into())),
        ]
    );
    assert_eq!(
        server.requests()[0].param("fieldManager"),
        Some("flux-operator-mcp-patch")
    );
    assert_eq!(
        server.requests()[1].param("fieldManager"),
        Some("flux-operator-mcp")
    );
}

/// The hardened build: the whole client surface, exercised, sends nothing but GET, and the
/// binary holds none of the write content types.
#[cfg(not(feature = "mutations"))]
#[test]
fn without_mutations_only_get_is_ever_sent() {
    let server = ApiServer::start(Options::default());
    let c = client(&server, As::Cert);
    let _ = c.resolve(None, "ks");
    let _ = get_flux_system(&c);
    let _ = c.list_all(&kustomizations(), &ListOptions::default());
    let _ = c.logs("apps", "redis-master-0", &LogOptions::default());
    let _ = c.pod_metrics(
        None,
        &PodSelection::Matching {
            label_selector: None,
            limit: None,
        },
    );
    let requests = server.requests();
    assert!(requests.len() > 4);
    assert!(requests.iter().all(|r| r.method == "GET"), "{requests:?}");
    let binary = std::fs::read(crate::support::bin()).expect("read the binary");
    for needle in [&b"merge-patch+json"[..], b"apply-patch+yaml"] {
        assert!(
            !binary.windows(needle.len()).any(|w| w == needle),
            "the hardened binary contains {}",
            String::from_utf8_lossy(needle)
        );
    }
}
