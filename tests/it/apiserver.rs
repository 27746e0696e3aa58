//! Tests of the test API server itself (tests/apiserver/): TLS and authentication, discovery,
//! lists with paging and selectors, Status bodies, Tables, logs, metrics, writes, faults, and the
//! cluster data it serves. The other suites trust it, so it is held to a real API server's wire
//! format here. A small raw HTTPS client keeps every byte (and every fault) observable.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{Value, json};

use crate::apiserver::{
    ADMIN_USER, ApiServer, Auth, Controller, DNS_ONLY_NAME, Deny, Fault, FaultKind, Identity,
    KeyType, Options, Outcome, Synthetic, TOKEN_USER, Target,
};

/// Credentials the raw client presents.
enum Creds<'a> {
    None,
    Cert(&'a str, &'a str),
    Token(&'a str),
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One keep-alive HTTPS connection.
struct Conn {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
    token: Option<String>,
}

fn tls_config(ca_pem: &str, cert: Option<(&str, &str)>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    match cert {
        Some((c, k)) => {
            let chain = CertificateDer::pem_slice_iter(c.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            let key = PrivateKeyDer::from_pem_slice(k.as_bytes()).map_err(|e| e.to_string())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

fn connect_as(server: &ApiServer, creds: Creds, name: Option<&str>) -> io::Result<Conn> {
    let (cert, token) = match creds {
        Creds::None => (None, None),
        Creds::Cert(c, k) => (Some((c, k)), None),
        Creds::Token(t) => (None, Some(t.to_string())),
    };
    let config = tls_config(server.ca_pem(), cert).map_err(io::Error::other)?;
    let server_name = match name {
        Some(n) => ServerName::try_from(n.to_string()).map_err(io::Error::other)?,
        None => ServerName::IpAddress(server.addr().ip().into()),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(config), server_name).map_err(io::Error::other)?;
    let sock = TcpStream::connect(server.addr())?;
    sock.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut stream = rustls::StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(Conn {
        stream: BufReader::new(stream),
        token,
    })
}

fn connect(server: &ApiServer, creds: Creds) -> Conn {
    connect_as(server, creds, None).expect("connect to the test API server")
}

fn admin(server: &ApiServer) -> Conn {
    connect(
        server,
        Creds::Cert(server.client_cert_pem(), server.client_key_pem()),
    )
}

impl Conn {
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Resp> {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: kubernetes\r\nUser-Agent: apiserver-selftest\r\n"
        );
        if let Some(t) = &self.token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let w = self.stream.get_mut();
        w.write_all(req.as_bytes())?;
        w.write_all(body)?;
        w.flush()?;
        self.read_response()
    }

    fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, &[], b"").expect("GET")
    }

    fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send("GET", path, headers, b"").expect("GET")
    }

    fn read_line(&mut self) -> io::Result<String> {
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read_response(&mut self) -> io::Result<Resp> {
        let status_line = self.read_line()?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if resp
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let size = usize::from_str_radix(self.read_line()?.trim(), 16)
                    .map_err(io::Error::other)?;
                if size == 0 {
                    self.read_line()?;
                    break;
                }
                let start = resp.body.len();
                resp.body.resize(start + size, 0);
                self.stream.read_exact(&mut resp.body[start..])?;
                self.read_line()?;
            }
        } else {
            let len: usize = resp
                .header("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            resp.body.resize(len, 0);
            self.stream.read_exact(&mut resp.body)?;
        }
        Ok(resp)
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

fn status_of(resp: &Resp) -> (u16, String, String) {
    let v = resp.json();
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["apiVersion"], "v1", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"], resp.status, "{v}");
    (
        resp.status,
        v["reason"].as_str().unwrap_or_default().to_string(),
        v["message"].as_str().unwrap_or_default().to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// TLS and authentication
// ---------------------------------------------------------------------------------------------

#[test]
fn client_certificate_and_token_both_authenticate() {
    let server = ApiServer::start(Options::default());
    assert!(server.url().starts_with("https://127.0.0.1:"));
    assert_eq!(admin(&server).get("/api/v1/namespaces").status, 200);
    assert_eq!(
        connect(&server, Creds::Token(server.token()))
            .get("/api/v1/namespaces")
            .status,
        200
    );
    let users: Vec<Option<String>> = server.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(
        users,
        [Some(ADMIN_USER.to_string()), Some(TOKEN_USER.to_string())]
    );
}

#[test]
fn unauthenticated_requests_get_the_401_status() {
    let server = ApiServer::start(Options::default());
    let resp = connect(&server, Creds::None).get("/api/v1/namespaces");
    assert_eq!(resp.status, 401);
    assert_eq!(
        resp.text(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
    );
    assert_eq!(
        connect(&server, Creds::Token("not-a-token"))
            .get("/apis")
            .status,
        401
    );
    // /version is public, like on a real cluster.
    let version = connect(&server, Creds::None).get("/version");
    assert_eq!(version.status, 200);
    assert_eq!(version.json()["major"], "1");
}

#[test]
fn auth_modes_refuse_the_other_method() {
    let token_only = ApiServer::start(Options {
        auth: Auth::Token,
        ..Options::default()
    });
    assert_eq!(admin(&token_only).get("/api").status, 401);
    assert_eq!(
        connect(&token_only, Creds::Token(token_only.token()))
            .get("/api")
            .status,
        200
    );
    let cert_only = ApiServer::start(Options {
        auth: Auth::ClientCert,
        ..Options::default()
    });
    assert_eq!(
        connect(&cert_only, Creds::Token(cert_only.token()))
            .get("/api")
            .status,
        401
    );
    assert_eq!(admin(&cert_only).get("/api").status, 200);
}

#[test]
fn tokens_can_be_added_and_revoked() {
    let server = ApiServer::start(Options::default());
    let token = server.add_token("jane", &["devs"]);
    let mut conn = connect(&server, Creds::Token(&token));
    assert_eq!(conn.get("/api").status, 200);
    server.revoke_token(&token);
    assert_eq!(conn.get("/api").status, 401);
    assert_eq!(server.requests()[0].user.as_deref(), Some("jane"));
}

#[test]
fn basic_auth_when_configured() {
    let server = ApiServer::start(Options {
        basic_auth: Some(("admin".into(), "s3cret".into())),
        ..Options::default()
    });
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:s3cret")
    );
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:wrong")
    );
    let mut conn = connect(&server, Creds::None);
    assert_eq!(
        conn.get_with("/api", &[("Authorization", &good)]).status,
        200
    );
    assert_eq!(
        conn.get_with("/api", &[("Authorization", &bad)]).status,
        401
    );
}

#[test]
fn request_log_never_holds_the_credential() {
    let server = ApiServer::start(Options::default());
    connect(&server, Creds::Token(server.token())).get("/api");
    let reqs = server.requests();
    assert!(reqs[0].has_authorization());
    assert_eq!(reqs[0].header("authorization"), Some("Bearer <redacted>"));
    assert!(!format!("{reqs:?}").contains(server.token()));
    server.clear_requests();
    assert!(server.requests().is_empty());
}

#[test]
fn rsa_and_p384_keys() {
    for key_type in [KeyType::Rsa, KeyType::EcP384] {
        let server = ApiServer::start(Options {
            key_type,
            ..Options::default()
        });
        assert_eq!(admin(&server).get("/api").status, 200, "{key_type:?}");
    }
    // The RSA client certificate with its PKCS#1 key, as kind writes it.
    let server = ApiServer::start(Options::default());
    assert!(
        server
            .client_key_rsa_pkcs1_pem()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert!(
        server
            .client_key_rsa_pkcs8_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    let mut conn = connect(
        &server,
        Creds::Cert(
            server.client_cert_rsa_pem(),
            server.client_key_rsa_pkcs1_pem(),
        ),
    );
    assert_eq!(conn.get("/api").status, 200);
    assert_eq!(server.requests()[0].user.as_deref(), Some(ADMIN_USER));
}

#[test]
fn tls12_only_server_still_serves() {
    let server = ApiServer::start(Options {
        tls12_only: true,
        ..Options::default()
    });
    let conn = admin(&server);
    assert_eq!(
        conn.stream.get_ref().conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn wrong_ca_fails_the_handshake() {
    let server = ApiServer::start(Options {
        wrong_ca: true,
        ..Options::default()
    });
    let err = connect_as(
        &server,
        Creds::Cert(server.client_cert_pem(), server.client_key_pem()),
        None,
    )
    .err()
    .expect("handshake must fail");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}

#[test]
fn dns_only_san_needs_the_server_name() {
    let server = ApiServer::start(Options {
        dns_only_san: true,
        ..Options::default()
    });
    assert_eq!(server.tls_server_name(), Some(DNS_ONLY_NAME));
    let creds = || Creds::Cert(server.client_cert_pem(), server.client_key_pem());
    assert!(connect_as(&server, creds(), None).is_err());
    let mut conn =
        connect_as(&server, creds(), Some(DNS_ONLY_NAME)).expect("tls-server-name works");
    assert_eq!(conn.get("/api").status, 200);
    assert!(
        server
            .kubeconfig(Identity::ClientCert)
            .contains(&format!("tls-server-name: {DNS_ONLY_NAME}"))
    );
}

#[test]
fn ipv6_listener() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine; the IPv6 listener is not exercised");
        return;
    }
    let server = ApiServer::start(Options {
        ipv6: true,
        ..Options::default()
    });
    assert!(
        server.url().starts_with("https://[::1]:"),
        "{}",
        server.url()
    );
    assert_eq!(admin(&server).get("/api").status, 200);
}

#[test]
fn issued_certificates_carry_user_and_groups() {
    let server = ApiServer::start(Options {
        deny: vec![Deny::new("list", "", "secrets").for_user("viewer")],
        ..Options::default()
    });
    let creds = server.issue_client_cert("viewer", &["team-a", "readers"], KeyType::EcP256);
    let mut conn = connect(&server, Creds::Cert(&creds.cert_pem, &creds.key_pem));
    assert_eq!(
        conn.get("/api/v1/namespaces/flux-system/secrets").status,
        403
    );
    assert_eq!(
        conn.get("/api/v1/namespaces/flux-system/configmaps").status,
        200
    );
    // The admin is not that user.
    assert_eq!(
        admin(&server)
            .get("/api/v1/namespaces/flux-system/secrets")
            .status,
        200
    );
}

#[test]
fn impersonation_runs_the_request_as_the_target() {
    let server = ApiServer::start(Options {
        deny: vec![
            Deny::new("list", "", "secrets").for_user("system:serviceaccount:apps:reader"),
            Deny::new("impersonate", "", "users").for_user(TOKEN_USER),
        ],
        ..Options::default()
    });
    let mut conn = admin(&server);
    let as_reader = [
        ("Impersonate-User", "system:serviceaccount:apps:reader"),
        ("Impersonate-Group", "g1"),
        ("Impersonate-Group", "g2"),
    ];
    let resp = conn.get_with("/api/v1/namespaces/apps/secrets", &as_reader);
    let (_, reason, message) = status_of(&resp);
    assert_eq!(reason, "Forbidden");
    assert_eq!(
        message,
        r#"secrets is forbidden: User "system:serviceaccount:apps:reader" cannot list resource "secrets" in API group "" in the namespace "apps""#
    );
    let reqs = server.requests();
    assert_eq!(reqs[0].user.as_deref(), Some(ADMIN_USER));
    assert_eq!(
        reqs[0]
            .header_values("impersonate-group")
            .collect::<Vec<_>>(),
        ["g1", "g2"]
    );
    // The token user may not impersonate users at all.
    let resp = connect(&server, Creds::Token(server.token()))
        .get_with("/api/v1/namespaces", &[("Impersonate-User", "jane")]);
    let (code, _, message) = status_of(&resp);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            r#"users "jane" is forbidden: User "{TOKEN_USER}" cannot impersonate resource "users" in API group "" at the cluster scope"#
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn discovery_lists_every_flux_group_with_preferred_versions() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let api = conn.get("/api").json();
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    let groups = conn.get("/apis").json();
    assert_eq!(groups["kind"], "APIGroupList");
    let find = |name: &str| {
        groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("group {name} missing"))
    };
    for (group, preferred, all) in [
        ("source.toolkit.fluxcd.io", "v1", vec!["v1", "v1beta2"]),
        ("kustomize.toolkit.fluxcd.io", "v1", vec!["v1"]),
        ("helm.toolkit.fluxcd.io", "v2", vec!["v2"]),
        (
            "notification.toolkit.fluxcd.io",
            "v1",
            vec!["v1", "v1beta3"],
        ),
        ("image.toolkit.fluxcd.io", "v1", vec!["v1", "v1beta2"]),
        ("fluxcd.controlplane.io", "v1", vec!["v1"]),
        ("source.extensions.fluxcd.io", "v1beta1", vec!["v1beta1"]),
        ("apps", "v1", vec!["v1"]),
        ("batch", "v1", vec!["v1"]),
        ("apiextensions.k8s.io", "v1", vec!["v1"]),
        ("metrics.k8s.io", "v1beta1", vec!["v1beta1"]),
    ] {
        let g = find(group);
        assert_eq!(g["preferredVersion"]["version"], preferred, "{group}");
        assert_eq!(
            g["preferredVersion"]["groupVersion"],
            format!("{group}/{preferred}")
        );
        let versions: Vec<&str> = g["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(versions, all, "{group}");
    }
    let group = conn.get("/apis/source.toolkit.fluxcd.io").json();
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(conn.get("/apis/no.such.group").status, 404);
}

#[test]
fn resource_lists_carry_names_scope_verbs_and_short_names() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let list = conn.get("/apis/source.toolkit.fluxcd.io/v1").json();
    assert_eq!(list["kind"], "APIResourceList");
    assert_eq!(list["groupVersion"], "source.toolkit.fluxcd.io/v1");
    let resources = list["resources"].as_array().unwrap();
    let git = resources
        .iter()
        .find(|r| r["name"] == "gitrepositories")
        .unwrap();
    assert_eq!(git["singularName"], "gitrepository");
    assert_eq!(git["kind"], "GitRepository");
    assert_eq!(git["namespaced"], true);
    assert_eq!(git["shortNames"], json!(["gitrepo"]));
    assert!(git["verbs"].as_array().unwrap().contains(&json!("list")));
    assert!(
        resources
            .iter()
            .any(|r| r["name"] == "gitrepositories/status")
    );
    let plurals: Vec<&str> = resources
        .iter()
        .filter_map(|r| r["name"].as_str())
        .filter(|n| !n.contains('/'))
        .collect();
    assert_eq!(
        plurals,
        [
            "buckets",
            "externalartifacts",
            "gitrepositories",
            "helmcharts",
            "helmrepositories",
            "ocirepositories"
        ]
    );
    // v1beta2 is served too, without ExternalArtifact (it never had that version).
    let beta = conn.get("/apis/source.toolkit.fluxcd.io/v1beta2").json();
    assert!(
        !beta["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "ExternalArtifact")
    );
    // Alert and Provider exist only in v1beta3: the preferred v1 does not list them.
    let v1 = conn.get("/apis/notification.toolkit.fluxcd.io/v1").json();
    let kinds: Vec<&str> = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert!(kinds.iter().all(|k| *k == "Receiver"), "{kinds:?}");
    let core = conn.get("/api/v1").json();
    let pods_log = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/log")
        .unwrap();
    assert_eq!(pods_log["verbs"], json!(["get"]));
    let short = |plural: &str, group_version: &str, conn: &mut Conn| -> Value {
        let l = conn.get(&format!("/apis/{group_version}")).json();
        l["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == plural)
            .unwrap()["shortNames"]
            .clone()
    };
    assert_eq!(
        short(
            "kustomizations",
            "kustomize.toolkit.fluxcd.io/v1",
            &mut conn
        ),
        json!(["ks"])
    );
    assert_eq!(
        short("helmreleases", "helm.toolkit.fluxcd.io/v2", &mut conn),
        json!(["hr"])
    );
    assert_eq!(
        short("ocirepositories", "source.toolkit.fluxcd.io/v1", &mut conn),
        json!(["ocirepo"])
    );
    assert_eq!(
        short("helmcharts", "source.toolkit.fluxcd.io/v1", &mut conn),
        json!(["hc"])
    );
    assert_eq!(
        short("resourcesets", "fluxcd.controlplane.io/v1", &mut conn),
        json!(["rset"])
    );
}

#[test]
fn aggregated_discovery_when_asked() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let resp = conn.get_with("/apis", &[("Accept", accept)]);
    assert_eq!(
        resp.header("content-type"),
        Some("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    );
    let doc = resp.json();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    let source = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "source.toolkit.fluxcd.io")
        .unwrap();
    assert_eq!(source["versions"][0]["version"], "v1");
    let git = source["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "gitrepositories")
        .unwrap();
    assert_eq!(git["scope"], "Namespaced");
    assert_eq!(git["responseKind"]["kind"], "GitRepository");
    assert_eq!(git["subresources"][0]["subresource"], "status");
    let core = conn.get_with("/api", &[("Accept", accept)]).json();
    assert_eq!(core["items"][0]["versions"][0]["version"], "v1");
    // Without the aggregated media type: the legacy document.
    assert_eq!(
        conn.get_with("/apis", &[("Accept", "application/json")])
            .json()["kind"],
        "APIGroupList"
    );
}

#[test]
fn no_metrics_removes_the_metrics_api() {
    let server = ApiServer::start(Options {
        no_metrics: true,
        ..Options::default()
    });
    let mut conn = admin(&server);
    let groups = conn.get("/apis").json();
    assert!(
        !groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "metrics.k8s.io")
    );
    let resp = conn.get("/apis/metrics.k8s.io/v1beta1/namespaces/flux-system/pods");
    let (code, reason, message) = status_of(&resp);
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (
            404,
            "NotFound",
            "the server could not find the requested resource"
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Get and list
// ---------------------------------------------------------------------------------------------

#[test]
fn lists_have_real_list_kinds_and_typed_items_lack_kind() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let list = conn
        .get("/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories")
        .json();
    assert_eq!(list["kind"], "GitRepositoryList");
    assert_eq!(list["apiVersion"], "source.toolkit.fluxcd.io/v1");
    assert!(
        list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(list["metadata"].get("continue").is_none());
    for item in list["items"].as_array().unwrap() {
        // Custom resources keep kind and apiVersion in lists; typed ones do not.
        assert_eq!(item["kind"], "GitRepository");
        assert_eq!(item["apiVersion"], "source.toolkit.fluxcd.io/v1");
        assert!(
            item["metadata"]["managedFields"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(
        names(&list),
        ["flux-system/flux-system", "flux-system/infra-private"]
    );
    let pods = conn.get("/api/v1/namespaces/flux-system/pods").json();
    assert_eq!(pods["kind"], "PodList");
    assert_eq!(pods["apiVersion"], "v1");
    assert!(
        pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("kind").is_none() && p.get("apiVersion").is_none())
    );
    let pod_name = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let pod = conn
        .get(&format!("/api/v1/namespaces/flux-system/pods/{pod_name}"))
        .json();
    assert_eq!(
        (pod["kind"].as_str(), pod["apiVersion"].as_str()),
        (Some("Pod"), Some("v1"))
    );
}

#[test]
fn all_namespaces_and_cluster_scoped_paths() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let all = conn
        .get("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations")
        .json();
    let n = names(&all);
    assert!(
        n.contains(&"apps/podinfo".to_string()) && n.contains(&"flux-system/apps".to_string()),
        "{n:?}"
    );
    let mut sorted = n.clone();
    sorted.sort();
    assert_eq!(n, sorted, "lists come back in key order");
    let ns = conn.get("/api/v1/namespaces/flux-system").json();
    assert_eq!(ns["kind"], "Namespace");
    let crd = conn.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gitrepositories.source.toolkit.fluxcd.io").json();
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "GitRepository");
    // A cluster-scoped type under a namespace, or a namespaced object without one, is no path.
    assert_eq!(conn.get("/api/v1/namespaces/flux-system/nodes").status, 404);
    assert_eq!(
        conn.get("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations/apps")
            .status,
        404
    );
}

#[test]
fn a_non_preferred_version_serves_the_same_object() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let beta = conn.get("/apis/source.toolkit.fluxcd.io/v1beta2/namespaces/flux-system/gitrepositories/flux-system").json();
    assert_eq!(beta["apiVersion"], "source.toolkit.fluxcd.io/v1beta2");
    let v1 = conn
        .get("/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system")
        .json();
    assert_eq!(beta["spec"], v1["spec"]);
    assert_eq!(beta["metadata"]["uid"], v1["metadata"]["uid"]);
}

#[test]
fn not_found_status_messages() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let resp =
        conn.get("/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/x");
    assert_eq!(
        resp.text(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"gitrepositories.source.toolkit.fluxcd.io \"x\" not found","reason":"NotFound","details":{"name":"x","group":"source.toolkit.fluxcd.io","kind":"gitrepositories"},"code":404}"#
    );
    let resp = conn.get("/api/v1/namespaces/apps/pods/nope");
    let (_, reason, message) = status_of(&resp);
    assert_eq!(
        (reason.as_str(), message.as_str()),
        ("NotFound", r#"pods "nope" not found"#)
    );
    assert_eq!(
        resp.json()["details"],
        json!({"name": "nope", "kind": "pods"})
    );
    let (_, _, message) = status_of(&conn.get("/apis/source.toolkit.fluxcd.io/v1/nosuchthings"));
    assert_eq!(message, "the server could not find the requested resource");
}

#[test]
fn forbidden_status_messages() {
    let server = ApiServer::start(Options {
        deny: vec![
            Deny::new("list", "", "secrets").in_namespace("flux-system"),
            Deny::new("get", "", "pods/log"),
            Deny::new("list", "kustomize.toolkit.fluxcd.io", "kustomizations"),
        ],
        ..Options::default()
    });
    let mut conn = admin(&server);
    let resp = conn.get("/api/v1/namespaces/flux-system/secrets");
    assert_eq!(
        resp.text(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"kubernetes-admin\" cannot list resource \"secrets\" in API group \"\" in the namespace \"flux-system\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#
    );
    // Other namespaces are allowed.
    assert_eq!(conn.get("/api/v1/namespaces/apps/secrets").status, 200);
    let (_, _, message) =
        status_of(&conn.get("/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations"));
    assert_eq!(
        message,
        r#"kustomizations.kustomize.toolkit.fluxcd.io is forbidden: User "kubernetes-admin" cannot list resource "kustomizations" in API group "kustomize.toolkit.fluxcd.io" at the cluster scope"#
    );
    let (_, _, message) = status_of(&conn.get("/api/v1/namespaces/apps/pods/redis-master-0/log"));
    assert_eq!(
        message,
        r#"pods "redis-master-0" is forbidden: User "kubernetes-admin" cannot get resource "pods/log" in API group "" in the namespace "apps""#
    );
}

#[test]
fn unsupported_methods_get_405() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    for (method, path) in [
        (
            "POST",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
        ),
        (
            "DELETE",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations",
        ),
        ("PUT", "/api/v1/namespaces/apps/pods/redis-master-0/log"),
    ] {
        let resp = conn.send(method, path, &[], b"{}").unwrap();
        let (code, reason, _) = status_of(&resp);
        assert_eq!(
            (code, reason.as_str()),
            (405, "MethodNotAllowed"),
            "{method} {path}"
        );
    }
}

#[test]
fn paging_returns_every_item_once_with_continue_tokens() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let full = names(&conn.get("/api/v1/events").json());
    assert!(full.len() > 10);
    let mut paged = Vec::new();
    let mut token = String::new();
    let mut remaining_seen = Vec::new();
    loop {
        let path = format!("/api/v1/events?limit=3&continue={token}");
        let page = conn.get(&path).json();
        assert!(page["items"].as_array().unwrap().len() <= 3);
        paged.extend(names(&page));
        match page["metadata"]["continue"].as_str() {
            Some(t) => {
                remaining_seen.push(page["metadata"]["remainingItemCount"].as_u64().unwrap());
                token = t.to_string();
            }
            None => {
                assert!(page["metadata"].get("remainingItemCount").is_none());
                break;
            }
        }
    }
    assert_eq!(paged, full);
    assert_eq!(remaining_seen[0] as usize, full.len() - 3);
    assert!(remaining_seen.windows(2).all(|w| w[1] == w[0] - 3));
}

#[test]
fn paging_with_a_selector_omits_remaining_count() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let page = conn
        .get("/api/v1/events?limit=1&fieldSelector=type%3DWarning")
        .json();
    assert_eq!(page["items"][0]["type"], "Warning");
    assert!(page["metadata"]["continue"].is_string());
    assert!(page["metadata"].get("remainingItemCount").is_none());
}

#[test]
fn bad_continue_and_limit_are_400() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let (code, reason, message) = status_of(&conn.get("/api/v1/pods?limit=2&continue=garbage!"));
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert!(
        message.starts_with("continue key is not valid"),
        "{message}"
    );
    assert_eq!(conn.get("/api/v1/pods?limit=many").status, 400);
}

#[test]
fn paging_within_a_namespace_and_after_writes() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let full = names(&conn.get("/api/v1/namespaces/flux-system/events").json());
    assert!(full.len() > 4);
    let first = conn
        .get("/api/v1/namespaces/flux-system/events?limit=2")
        .json();
    assert_eq!(names(&first), full[..2]);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    // A write moves the store's resourceVersion on; the older token still goes on.
    let created = conn
        .send(
            "POST",
            "/api/v1/namespaces/apps/configmaps",
            &[("Content-Type", "application/json")],
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"paging-probe"}}"#,
        )
        .unwrap();
    assert_eq!(created.status, 201);
    let second = conn
        .get(&format!(
            "/api/v1/namespaces/flux-system/events?limit=2&continue={token}"
        ))
        .json();
    assert_eq!(names(&second), full[2..4]);
}

#[test]
fn a_token_from_a_version_never_served_is_410_expired() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"v":"meta.k8s.io/v1","rv":999999999,"start":"apps/\u0000"}"#);
    let resp = conn.get(&format!("/api/v1/pods?limit=2&continue={forged}"));
    let (code, reason, message) = status_of(&resp);
    assert_eq!((code, reason.as_str()), (410, "Expired"));
    assert!(
        message.starts_with("The provided continue parameter is too old"),
        "{message}"
    );
    // The Status offers a token that goes on from the same place in the current objects.
    let retry = resp.json()["metadata"]["continue"]
        .as_str()
        .expect("a replacement token")
        .to_string();
    let page = conn
        .get(&format!("/api/v1/pods?limit=100&continue={retry}"))
        .json();
    let all = names(&conn.get("/api/v1/pods").json());
    let from_apps: Vec<String> = all.into_iter().filter(|n| n.as_str() > "apps/").collect();
    assert!(!from_apps.is_empty());
    assert_eq!(names(&page), from_apps);
}

#[test]
fn max_page_size_caps_what_limit_asks() {
    let server = ApiServer::start(Options {
        max_page_size: Some(2),
        ..Options::default()
    });
    let mut conn = admin(&server);
    let page = conn.get("/api/v1/pods?limit=100").json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["metadata"]["continue"].is_string());
    // Without a limit the server does not page, as a real API server does not.
    assert!(
        conn.get("/api/v1/pods").json()["metadata"]
            .get("continue")
            .is_none()
    );
}

#[test]
fn label_selectors_filter_lists() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let q = |s: &str| {
        s.replace(' ', "%20")
            .replace('=', "%3D")
            .replace(',', "%2C")
            .replace('!', "%21")
    };
    let list = |conn: &mut Conn, sel: &str| {
        names(
            &conn
                .get(&format!(
                    "/api/v1/namespaces/apps/pods?labelSelector={}",
                    q(sel)
                ))
                .json(),
        )
    };
    assert_eq!(list(&mut conn, "app.kubernetes.io/name=podinfo").len(), 2);
    assert_eq!(
        list(&mut conn, "app.kubernetes.io/name==redis"),
        ["apps/redis-master-0"]
    );
    assert_eq!(
        list(&mut conn, "app.kubernetes.io/name in (podinfo,redis)").len(),
        3
    );
    assert_eq!(
        list(&mut conn, "app.kubernetes.io/name notin (podinfo,redis)").len(),
        5
    );
    assert_eq!(list(&mut conn, "app.kubernetes.io/name!=podinfo").len(), 6);
    assert_eq!(
        list(&mut conn, "statefulset.kubernetes.io/pod-name"),
        ["apps/redis-master-0"]
    );
    assert_eq!(
        list(&mut conn, "!statefulset.kubernetes.io/pod-name").len(),
        7
    );
    let (code, _, message) = status_of(&conn.get("/api/v1/pods?labelSelector=a%20in%20b"));
    assert_eq!(code, 400);
    assert_eq!(
        message,
        "unable to parse requirement: found 'b', expected: '('"
    );
}

#[test]
fn field_selectors_on_events_and_metadata() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let events = conn
        .get("/api/v1/namespaces/flux-system/events?fieldSelector=involvedObject.kind%3DKustomization%2CinvolvedObject.name%3Dflux-system%2Creason!%3DReconciliationSucceeded")
        .json();
    let items = events["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for e in items {
        assert_eq!(e["involvedObject"]["name"], "flux-system");
        assert_ne!(e["reason"], "ReconciliationSucceeded");
    }
    let by_name = conn
        .get("/apis/helm.toolkit.fluxcd.io/v2/helmreleases?fieldSelector=metadata.name%3Dredis")
        .json();
    assert_eq!(names(&by_name), ["apps/redis"]);
    let by_ns = conn
        .get(
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases?fieldSelector=metadata.namespace!%3Dapps",
        )
        .json();
    assert!(names(&by_ns).iter().all(|n| !n.starts_with("apps/")));
    let (code, _, message) = status_of(
        &conn.get("/apis/helm.toolkit.fluxcd.io/v2/helmreleases?fieldSelector=spec.suspend%3Dtrue"),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message,
        r#""spec.suspend" is not a known field selector: only "metadata.name", "metadata.namespace""#
    );
    let (_, _, message) = status_of(&conn.get("/api/v1/events?fieldSelector=spec.x%3Dy"));
    assert_eq!(message, "field label not supported: spec.x");
    // An event's uid selector matches the object it is about.
    let ks = conn
        .get("/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/tenants")
        .json();
    let uid = ks["metadata"]["uid"].as_str().unwrap();
    let events = conn
        .get(&format!(
            "/api/v1/namespaces/flux-system/events?fieldSelector=involvedObject.uid%3D{uid}"
        ))
        .json();
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    assert_eq!(events["items"][0]["reason"], "ArtifactFailed");
}

#[test]
fn tables_for_kubectl_get() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let resp = conn.get_with(
        "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations?limit=500",
        &[("Accept", accept)],
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json;as=Table;v=v1;g=meta.k8s.io")
    );
    let table = resp.json();
    assert_eq!(table["kind"], "Table");
    let cols: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Age", "Ready", "Status"]);
    let tenants = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cells"][0] == "tenants")
        .unwrap();
    assert_eq!(tenants["cells"][2], "False");
    assert!(
        tenants["cells"][3]
            .as_str()
            .unwrap()
            .starts_with("kustomization path not found")
    );
    assert_eq!(tenants["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(tenants["object"]["metadata"]["namespace"], "flux-system");
    let pods = conn
        .get_with(
            "/api/v1/namespaces/apps/pods?includeObject=None",
            &[("Accept", accept)],
        )
        .json();
    let redis = pods["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cells"][0] == "redis-master-0")
        .unwrap();
    assert_eq!(redis["cells"][1], "0/1");
    assert_eq!(redis["cells"][2], "CrashLoopBackOff");
    assert!(redis.get("object").is_none());
    let one = conn
        .get_with(
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis",
            &[("Accept", accept)],
        )
        .json();
    assert_eq!(one["rows"].as_array().unwrap().len(), 1);
}

#[test]
fn partial_object_metadata_lists() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let list = conn
        .get_with(
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
            &[(
                "Accept",
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            )],
        )
        .json();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("spec").is_none() && i["kind"] == "PartialObjectMetadata")
    );
}

#[test]
fn protobuf_only_is_not_acceptable() {
    let server = ApiServer::start(Options::default());
    let resp = admin(&server).get_with(
        "/api/v1/pods",
        &[("Accept", "application/vnd.kubernetes.protobuf")],
    );
    assert_eq!(resp.status, 406);
}

// ---------------------------------------------------------------------------------------------
// Logs and metrics
// ---------------------------------------------------------------------------------------------

#[test]
fn pod_logs_with_options() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let pods = conn
        .get("/api/v1/namespaces/apps/pods?labelSelector=app.kubernetes.io%2Fname%3Dfrontend")
        .json();
    let frontend = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let base = format!("/api/v1/namespaces/apps/pods/{frontend}/log");
    let (code, reason, message) = status_of(&conn.get(&base));
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        message,
        format!(
            "a container name must be specified for pod {frontend}, choose one of: [frontend nginx] or one of the init containers: [migrate]"
        )
    );
    let (_, _, message) = status_of(&conn.get(&format!("{base}?container=sidecar")));
    assert_eq!(
        message,
        format!("container sidecar is not valid for pod {frontend}")
    );
    let all = conn.get(&format!("{base}?container=nginx"));
    assert_eq!(all.status, 200);
    assert_eq!(all.header("content-type"), Some("text/plain"));
    let all = all.text();
    assert!(
        all.lines().count() >= 5 && all.lines().all(|l| l.contains("kube-probe")),
        "{all}"
    );
    let tail = conn
        .get(&format!("{base}?container=nginx&tailLines=2"))
        .text();
    let last_two: Vec<&str> = all
        .lines()
        .rev()
        .take(2)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(tail.lines().collect::<Vec<_>>(), last_two);
    let limited = conn
        .get(&format!("{base}?container=nginx&limitBytes=10"))
        .text();
    assert_eq!(limited, all[..10]);
    let stamped = conn
        .get(&format!(
            "{base}?container=nginx&tailLines=1&timestamps=true"
        ))
        .text();
    let (ts, rest) = stamped.split_once(' ').unwrap();
    assert!(ts.starts_with("2026-") && ts.ends_with('Z'), "{stamped}");
    assert_eq!(rest, format!("{}\n", last_two[1]));
    let init = conn.get(&format!("{base}?container=migrate")).text();
    assert!(init.contains("migrations"));
}

#[test]
fn previous_container_logs() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    // A single-container pod needs no container parameter.
    let current = conn
        .get("/api/v1/namespaces/apps/pods/redis-master-0/log")
        .text();
    let previous = conn
        .get("/api/v1/namespaces/apps/pods/redis-master-0/log?previous=true")
        .text();
    assert!(previous.contains("FATAL CONFIG FILE ERROR"));
    assert_ne!(current, previous);
    let (code, _, message) = status_of(
        &conn.get("/api/v1/namespaces/apps/pods/podinfo-28pwq49wq-vztw5/log?previous=true"),
    );
    assert_eq!(code, 400);
    assert_eq!(
        message,
        r#"previous terminated container "podinfo" in pod "podinfo-28pwq49wq-vztw5" not found"#
    );
    let (code, _, message) = status_of(&conn.get("/api/v1/namespaces/apps/pods/ghost/log"));
    assert_eq!((code, message.as_str()), (404, r#"pods "ghost" not found"#));
}

#[test]
fn controller_logs_hold_the_failures() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let pods = conn
        .get("/api/v1/namespaces/flux-system/pods?labelSelector=app%3Dhelm-controller")
        .json();
    let pod = pods["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = conn
        .get(&format!("/api/v1/namespaces/flux-system/pods/{pod}/log"))
        .text();
    let errors: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("controller logs are JSON lines"))
        .filter(|l| l["level"] == "error")
        .collect();
    assert!(errors.iter().any(|e| {
        e["HelmRelease"]["name"] == "redis"
            && e["error"]
                .as_str()
                .unwrap()
                .contains("context deadline exceeded")
    }));
}

#[test]
fn pod_metrics() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let list = conn
        .get("/apis/metrics.k8s.io/v1beta1/namespaces/flux-system/pods")
        .json();
    assert_eq!(list["kind"], "PodMetricsList");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    for m in items {
        assert!(m.get("kind").is_none());
        let usage = &m["containers"][0]["usage"];
        assert!(usage["cpu"].as_str().unwrap().ends_with('n'));
        assert!(usage["memory"].as_str().unwrap().ends_with("Ki"));
    }
    let selected = conn.get("/apis/metrics.k8s.io/v1beta1/namespaces/flux-system/pods?labelSelector=app%3Dsource-controller").json();
    assert_eq!(selected["items"].as_array().unwrap().len(), 1);
    let name = selected["items"][0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let one = conn
        .get(&format!(
            "/apis/metrics.k8s.io/v1beta1/namespaces/flux-system/pods/{name}"
        ))
        .json();
    assert_eq!(one["kind"], "PodMetrics");
    assert_eq!(conn.get("/apis/metrics.k8s.io/v1beta1/pods").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

const KS_APPS: &str =
    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";
const KS_TENANTS: &str =
    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/tenants";
const FRONTEND: &str = "/apis/apps/v1/namespaces/apps/deployments/frontend";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

impl Conn {
    fn patch(&mut self, path: &str, content_type: &str, body: &str) -> Resp {
        self.send(
            "PATCH",
            path,
            &[("Content-Type", content_type)],
            body.as_bytes(),
        )
        .expect("PATCH")
    }

    fn write(&mut self, method: &str, path: &str, body: &Value) -> Resp {
        self.send(
            method,
            path,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .expect(method)
    }
}

fn rv(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no resourceVersion in {v}"))
}

/// The managedFields entry of `manager` (and operation) in an object.
fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

/// The list resourceVersion: it moves with every stored change anywhere.
fn store_rv(conn: &mut Conn) -> u64 {
    rv(&conn.get("/api/v1/namespaces").json())
}

#[test]
fn merge_patch_is_applied_and_recorded() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let before = conn.get(KS_APPS).json();
    let patch = r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"2026-11-21T06:00:00Z"}}}"#;
    let resp = conn.patch(KS_APPS, MERGE, patch);
    assert_eq!(resp.status, 200);
    let after = resp.json();
    assert_eq!(
        after["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"],
        "2026-11-21T06:00:00Z"
    );
    assert_eq!(
        after["metadata"]["generation"], before["metadata"]["generation"],
        "metadata changes keep the generation"
    );
    assert!(rv(&after) > rv(&before));
    // Without fieldManager the manager is the User-Agent's product name.
    let mine = entry(&after, "apiserver-selftest", "Update").expect("an Update entry");
    assert_eq!(
        mine["fieldsV1"],
        json!({"f:metadata": {"f:annotations": {".": {}, "f:reconcile.fluxcd.io/requestedAt": {}}}})
    );
    assert_eq!(mine["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
    let stored = server
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "apps",
        )
        .unwrap();
    assert_eq!(stored, after);
    // The same patch again changes nothing: same resourceVersion, nothing stored.
    let again = conn.patch(KS_APPS, MERGE, patch).json();
    assert_eq!(again, after);
    let suspend = conn
        .patch(KS_APPS, MERGE, r#"{"spec":{"suspend":true}}"#)
        .json();
    assert_eq!(suspend["metadata"]["generation"], 2);
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(writes.len(), 3);
    assert_eq!(writes[0].body.as_deref(), Some(patch));
}

#[test]
fn json_patch_operations_and_their_failures() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path =
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system";
    let before = conn.get(path).json();
    let ops = r#"[
        {"op":"test","path":"/spec/interval","value":"1m0s"},
        {"op":"replace","path":"/spec/interval","value":"5m0s"},
        {"op":"copy","from":"/spec/ref","path":"/spec/refCopy"},
        {"op":"move","from":"/spec/refCopy","path":"/spec/refMoved"},
        {"op":"add","path":"/metadata/labels/team","value":"platform"}
    ]"#;
    let resp = conn.patch(path, JSON_PATCH, ops);
    assert_eq!(resp.status, 200, "{}", resp.text());
    let after = resp.json();
    assert_eq!(after["spec"]["interval"], "5m0s");
    assert_eq!(after["spec"]["refMoved"], before["spec"]["ref"]);
    assert!(after["spec"].get("refCopy").is_none());
    assert_eq!(after["metadata"]["labels"]["team"], "platform");
    // A failing operation fails the whole patch, with the API server's uninformative 422.
    let failed = conn.patch(
        path,
        JSON_PATCH,
        r#"[{"op":"replace","path":"/spec/interval","value":"9m"},{"op":"test","path":"/spec/interval","value":"1m0s"}]"#,
    );
    assert_eq!(
        failed.text(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server rejected our request due to an error in our request","reason":"Invalid","details":{},"code":422}"#
    );
    let removed_missing = conn.patch(path, JSON_PATCH, r#"[{"op":"remove","path":"/spec/nope"}]"#);
    assert_eq!(status_of(&removed_missing).0, 422);
    assert_eq!(
        conn.get(path).json(),
        after,
        "nothing of a failed patch is kept"
    );
    // Not a list of operations: 400.
    let (code, reason, message) = status_of(&conn.patch(path, JSON_PATCH, r#"{"op":"add"}"#));
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        message,
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
    let (code, reason, message) = status_of(&conn.patch(path, "text/plain", "x"));
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
    assert_eq!(
        message,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    let (code, _, message) = status_of(&conn.patch(
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/none",
        MERGE,
        "{}",
    ));
    assert_eq!(code, 404);
    assert_eq!(
        message,
        r#"gitrepositories.source.toolkit.fluxcd.io "none" not found"#
    );
}

#[test]
fn strategic_merge_patch_merges_lists_by_key_and_refuses_custom_resources() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let before = conn.get(FRONTEND).json();
    let patch = json!({"spec": {"template": {
        "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-21T06:00:00Z"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.29.4", "env": [{"name": "MODE", "value": "proxy"}]}]}
    }}});
    let resp = conn.patch(FRONTEND, STRATEGIC, &patch.to_string());
    assert_eq!(resp.status, 200, "{}", resp.text());
    let after = resp.json();
    let containers = after["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    assert_eq!(containers.len(), 2, "merged by name, not replaced");
    assert_eq!(
        containers[0],
        before["spec"]["template"]["spec"]["containers"][0]
    );
    assert_eq!(containers[1]["image"], "nginx:1.29.4");
    assert_eq!(containers[1]["ports"][0]["containerPort"], 8080);
    assert_eq!(
        containers[1]["env"],
        json!([{"name": "MODE", "value": "proxy"}])
    );
    assert_eq!(
        after["metadata"]["generation"].as_i64(),
        before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    // `$patch: delete` removes an item by its key; lists without a strategy are replaced.
    let deleted = conn
        .patch(
            FRONTEND,
            STRATEGIC,
            r#"{"spec":{"template":{"spec":{"initContainers":[{"name":"migrate","$patch":"delete"}]}}}}"#,
        )
        .json();
    assert_eq!(
        deleted["spec"]["template"]["spec"]["initContainers"],
        json!([])
    );
    // An item without its merge key is refused.
    let (code, _, message) = status_of(&conn.patch(
        FRONTEND,
        STRATEGIC,
        r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
    ));
    assert_eq!(code, 500);
    assert_eq!(
        message,
        "map: map[image:x] does not contain declared merge key: name"
    );
    // Custom resources have no patch merge keys: 415 with what they accept.
    let (code, reason, message) =
        status_of(&conn.patch(KS_APPS, STRATEGIC, r#"{"spec":{"suspend":true}}"#));
    assert_eq!((code, reason.as_str()), (415, "UnsupportedMediaType"));
    assert_eq!(
        message,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[test]
fn server_side_apply_creates_then_owns_exactly_what_it_sends() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path = "/api/v1/namespaces/apps/configmaps/applied?fieldManager=flux-operator-mcp";
    let body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: apps\n  labels:\n    team: a\ndata:\n  a: \"1\"\n  b: \"2\"\n";
    let created = conn.patch(path, APPLY, body);
    assert_eq!(created.status, 201, "{}", created.text());
    let created = created.json();
    let mine = entry(&created, "flux-operator-mcp", "Apply").expect("an Apply entry");
    assert_eq!(
        mine["fieldsV1"],
        json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:team": {}}}})
    );
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(created["metadata"]["creationTimestamp"].is_string());
    // The same configuration again: nothing changes, not even the resourceVersion.
    let again = conn.patch(path, APPLY, body);
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), created);
    // Dropping a field from the configuration removes it (nobody else owns it).
    let dropped = conn
        .patch(
            path,
            APPLY,
            "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"b\":\"2\"}}",
        )
        .json();
    assert_eq!(dropped["data"], json!({"b": "2"}));
    assert!(dropped["metadata"].get("labels").is_none());
    assert!(rv(&dropped) > rv(&created));
    // fieldManager is required: the API server's 422 naming PatchOptions.
    let no_manager = conn.patch("/api/v1/namespaces/apps/configmaps/applied", APPLY, body);
    let (code, reason, message) = status_of(&no_manager);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
    );
    assert_eq!(
        no_manager.json()["details"]["causes"][0],
        json!({"reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"})
    );
    // force only goes with apply.
    let (code, _, message) = status_of(&conn.patch(
        "/api/v1/namespaces/apps/configmaps/applied?force=true",
        MERGE,
        "{}",
    ));
    assert_eq!(code, 422);
    assert_eq!(
        message,
        r#"PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch"#
    );
}

#[test]
fn apply_conflicts_name_the_manager_and_field_and_force_takes_ownership() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let cm = |data: &str| {
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"shared\"}},\"data\":{data}}}"
        )
    };
    let at = |manager: &str, force: bool| {
        format!(
            "/api/v1/namespaces/apps/configmaps/shared?fieldManager={manager}{}",
            if force { "&force=true" } else { "" }
        )
    };
    assert_eq!(
        conn.patch(
            &at("alice", false),
            APPLY,
            &cm(r#"{"key":"a","other":"o"}"#)
        )
        .status,
        201
    );
    let resp = conn.patch(&at("bob", false), APPLY, &cm(r#"{"key":"b"}"#));
    assert_eq!(
        resp.text(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Apply failed with 1 conflict: conflict with \"alice\": .data.key","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"alice\"","field":".data.key"}]},"code":409}"#
    );
    let two = conn.patch(&at("bob", false), APPLY, &cm(r#"{"key":"b","other":"p"}"#));
    assert_eq!(
        status_of(&two).2,
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .data.key\n- .data.other"
    );
    // The same value is shared ownership, not a conflict.
    let shared = conn.patch(&at("bob", false), APPLY, &cm(r#"{"other":"o"}"#));
    assert_eq!(shared.status, 200);
    let shared = shared.json();
    assert!(entry(&shared, "alice", "Apply").is_some());
    assert!(entry(&shared, "bob", "Apply").is_some());
    // Forced: bob takes the field; alice no longer owns it.
    let forced = conn
        .patch(&at("bob", true), APPLY, &cm(r#"{"key":"b","other":"o"}"#))
        .json();
    assert_eq!(forced["data"]["key"], "b");
    assert_eq!(
        entry(&forced, "alice", "Apply").unwrap()["fieldsV1"],
        json!({"f:data": {"f:other": {}}})
    );
    // alice dropping `other` leaves it: bob owns it too.
    let kept = conn.patch(&at("alice", false), APPLY, &cm("{}")).json();
    assert_eq!(kept["data"], json!({"key": "b", "other": "o"}));
    assert!(entry(&kept, "alice", "Apply").is_none());
}

#[test]
fn apply_conflicts_with_the_managers_loaded_objects_carry() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    // Flux applied the Kustomization: its spec belongs to kustomize-controller (an applier).
    let ks = conn.get(KS_APPS).json();
    let flux =
        entry(&ks, "kustomize-controller", "Apply").expect("kustomize-controller applied it");
    assert_eq!(flux["fieldsV1"]["f:spec"]["f:interval"], json!({}));
    assert!(
        ks["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["manager"] == "kustomize-controller" && e["subresource"] == "status")
    );
    let (code, _, message) = status_of(&conn.patch(
        &format!("{KS_APPS}?fieldManager=flux-operator-mcp"),
        APPLY,
        r#"{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"apps","namespace":"flux-system"},"spec":{"interval":"1m"}}"#,
    ));
    assert_eq!(code, 409);
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kustomize-controller\": .spec.interval"
    );
    // kubectl client-side applied this ConfigMap: an updater, named with its apiVersion.
    let (code, _, message) = status_of(&conn.patch(
        "/api/v1/namespaces/flux-system/configmaps/cluster-settings?fieldManager=kubectl",
        APPLY,
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cluster-settings"},"data":{"CLUSTER_NAME":"prod-eu2"}}"#,
    ));
    assert_eq!(code, 409);
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.CLUSTER_NAME"
    );
    // The finalizer is the controller's (an Update through the main resource).
    let hr = conn
        .get("/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo")
        .json();
    let controller = hr["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "helm-controller" && e.get("subresource").is_none())
        .expect("helm-controller owns the finalizer");
    assert_eq!(
        controller["fieldsV1"],
        json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"finalizers.fluxcd.io\"": {}}}})
    );
}

#[test]
fn updates_take_fields_from_appliers_without_conflict() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let patched = conn
        .patch(
            &format!("{KS_APPS}?fieldManager=kubectl-patch"),
            MERGE,
            r#"{"spec":{"interval":"2m"}}"#,
        )
        .json();
    assert_eq!(patched["spec"]["interval"], "2m");
    assert_eq!(
        entry(&patched, "kubectl-patch", "Update").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:interval": {}}})
    );
    let flux = entry(&patched, "kustomize-controller", "Apply").unwrap();
    assert!(flux["fieldsV1"]["f:spec"].get("f:interval").is_none());
    assert!(flux["fieldsV1"]["f:spec"].get("f:path").is_some());
    // Now kustomize-controller re-applying its interval conflicts with the patcher.
    let (code, _, message) = status_of(&conn.patch(
        &format!("{KS_APPS}?fieldManager=kustomize-controller"),
        APPLY,
        r#"{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"apps"},"spec":{"interval":"10m0s"}}"#,
    ));
    assert_eq!(code, 409);
    assert_eq!(
        message,
        "Apply failed with 1 conflict: conflict with \"kubectl-patch\" using kustomize.toolkit.fluxcd.io/v1: .spec.interval"
    );
}

#[test]
fn managed_fields_sent_with_an_update_replace_the_stored_ones() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path = "/api/v1/namespaces/flux-system/configmaps/cluster-settings";
    let live = conn.get(path).json();
    assert!(entry(&live, "kubectl-client-side-apply", "Update").is_some());
    // What kubectl sends to move client-side applied fields to its server-side apply manager:
    // the rewritten entries, with the resourceVersion as a precondition.
    let mut moved = live["metadata"]["managedFields"].clone();
    moved[0]["manager"] = json!("kubectl");
    moved[0]["operation"] = json!("Apply");
    let ops = json!([
        {"op": "replace", "path": "/metadata/managedFields", "value": moved},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]},
    ]);
    let migrated = conn.patch(path, JSON_PATCH, &ops.to_string());
    assert_eq!(migrated.status, 200, "{}", migrated.text());
    let migrated = migrated.json();
    assert!(entry(&migrated, "kubectl-client-side-apply", "Update").is_none());
    assert_eq!(
        entry(&migrated, "kubectl", "Apply").unwrap()["fieldsV1"],
        live["metadata"]["managedFields"][0]["fieldsV1"]
    );
    assert_eq!(migrated["data"], live["data"]);
    // The same patch again: the resourceVersion precondition no longer holds.
    assert_eq!(
        status_of(&conn.patch(path, JSON_PATCH, &ops.to_string())).0,
        409
    );
    // `[{}]` clears them.
    let cleared = conn
        .patch(path, MERGE, r#"{"metadata":{"managedFields":[{}]}}"#)
        .json();
    assert!(
        cleared["metadata"].get("managedFields").is_none(),
        "{cleared}"
    );
}

#[test]
fn create_and_update_answer_201_and_200_with_conflicts_on_stale_versions() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let git = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
        "metadata": {"name": "new", "namespace": "apps"},
        "spec": {"interval": "1m", "url": "https://example.com/repo"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let coll = "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories";
    let one = format!("{coll}/new");
    let created = conn.write("POST", coll, &git);
    assert_eq!(created.status, 201);
    let created = created.json();
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(
        created.get("status").is_none(),
        "status goes through /status"
    );
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(entry(&created, "apiserver-selftest", "Update").is_some());
    let (code, reason, message) = status_of(&conn.write("POST", coll, &git));
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        message,
        r#"gitrepositories.source.toolkit.fluxcd.io "new" already exists"#
    );
    // Deleted and created again: a new uid.
    conn.send("DELETE", &one, &[], b"").unwrap();
    let recreated = conn.write("POST", coll, &git).json();
    assert_ne!(recreated["metadata"]["uid"], created["metadata"]["uid"]);
    // PUT: 200, generation only on spec changes, resourceVersion on every change.
    let mut labelled = recreated.clone();
    labelled["metadata"]["labels"] = json!({"a": "b"});
    let put = conn.write("PUT", &one, &labelled);
    assert_eq!(put.status, 200);
    let put = put.json();
    assert_eq!(put["metadata"]["generation"], 1);
    assert!(rv(&put) > rv(&recreated));
    let unchanged = conn.write("PUT", &one, &put).json();
    assert_eq!(rv(&unchanged), rv(&put), "a no-op update stores nothing");
    let mut respec = put.clone();
    respec["spec"]["interval"] = json!("2m");
    let respec = conn.write("PUT", &one, &respec).json();
    assert_eq!(respec["metadata"]["generation"], 2);
    // The old resourceVersion is stale now.
    let (code, reason, message) = status_of(&conn.write("PUT", &one, &put));
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        r#"Operation cannot be fulfilled on gitrepositories.source.toolkit.fluxcd.io "new": the object has been modified; please apply your changes to the latest version and try again"#
    );
    // Without a resourceVersion an update is unconditional.
    let mut blind = respec.clone();
    blind["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    blind["spec"]["interval"] = json!("3m");
    assert_eq!(conn.write("PUT", &one, &blind).status, 200);
    let mut missing = git.clone();
    missing["metadata"]["name"] = json!("missing");
    assert_eq!(
        status_of(&conn.write("PUT", &format!("{coll}/missing"), &missing)).2,
        r#"gitrepositories.source.toolkit.fluxcd.io "missing" not found"#
    );
    // Names are validated; a resourceVersion on create is refused.
    let mut bad = git.clone();
    bad["metadata"]["name"] = json!("Bad_Name");
    let (code, _, message) = status_of(&conn.write("POST", coll, &bad));
    assert_eq!(code, 422);
    assert!(
        message.starts_with(r#"GitRepository.source.toolkit.fluxcd.io "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#),
        "{message}"
    );
    let mut with_rv = git.clone();
    with_rv["metadata"]["name"] = json!("other");
    with_rv["metadata"]["resourceVersion"] = json!("5");
    assert_eq!(
        status_of(&conn.write("POST", coll, &with_rv)).2,
        "resourceVersion should not be set on objects to be created"
    );
    assert_eq!(
        status_of(&conn.write(
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            &json!({"metadata": {"name": "x"}})
        ))
        .2,
        r#"namespaces "nowhere" not found"#
    );
}

#[test]
fn status_subresource_writes_only_the_status() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let before = conn.get(KS_APPS).json();
    let both = r#"{"spec":{"interval":"7m"},"status":{"lastHandledReconcileAt":"now"}}"#;
    let via_status = conn
        .patch(
            &format!("{KS_APPS}/status?fieldManager=kustomize-controller"),
            MERGE,
            both,
        )
        .json();
    assert_eq!(via_status["status"]["lastHandledReconcileAt"], "now");
    assert_eq!(
        via_status["spec"], before["spec"],
        "the status endpoint ignores the spec"
    );
    assert_eq!(
        via_status["metadata"]["generation"],
        before["metadata"]["generation"]
    );
    let status_entry = via_status["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "status")
        .unwrap();
    assert!(
        status_entry["fieldsV1"]["f:status"]
            .get("f:lastHandledReconcileAt")
            .is_some()
    );
    let via_main = conn
        .patch(
            KS_APPS,
            MERGE,
            r#"{"spec":{"interval":"7m"},"status":{"lastHandledReconcileAt":"later"}}"#,
        )
        .json();
    assert_eq!(via_main["spec"]["interval"], "7m");
    assert_eq!(
        via_main["status"]["lastHandledReconcileAt"], "now",
        "the main resource ignores status changes"
    );
    assert_eq!(
        via_main["metadata"]["generation"].as_i64(),
        before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    // Subresources other than status take no writes.
    assert_eq!(
        status_of(&conn.patch(
            "/api/v1/namespaces/apps/pods/redis-master-0/log",
            MERGE,
            "{}"
        ))
        .0,
        405
    );
}

#[test]
fn delete_with_finalizers_waits_until_the_last_one_is_removed() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let before = conn.get(KS_TENANTS).json();
    assert_eq!(
        before["metadata"]["finalizers"],
        json!(["finalizers.fluxcd.io"])
    );
    let resp = conn
        .send(
            "DELETE",
            KS_TENANTS,
            &[("Content-Type", "application/json")],
            br#"{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}"#,
        )
        .unwrap();
    assert_eq!(resp.status, 200);
    let deleting = resp.json();
    assert_eq!(deleting["kind"], "Kustomization");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(deleting["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        deleting["metadata"]["generation"].as_i64(),
        before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    assert_eq!(
        conn.get(KS_TENANTS).json(),
        deleting,
        "kept while finalizers remain"
    );
    // Deleting again changes nothing.
    assert_eq!(
        conn.send("DELETE", KS_TENANTS, &[], b"").unwrap().json(),
        deleting
    );
    // No new finalizers on an object being deleted.
    let (code, _, message) = status_of(&conn.patch(
        KS_TENANTS,
        MERGE,
        r#"{"metadata":{"finalizers":["finalizers.fluxcd.io","other"]}}"#,
    ));
    assert_eq!(code, 422);
    assert_eq!(
        message,
        r#"Kustomization.kustomize.toolkit.fluxcd.io "tenants" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"other"}"#
    );
    // Removing the last finalizer completes the deletion.
    let done = conn.patch(
        KS_TENANTS,
        JSON_PATCH,
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    );
    assert_eq!(done.status, 200);
    assert!(done.json()["metadata"].get("finalizers").is_none());
    let (code, _, message) = status_of(&conn.get(KS_TENANTS));
    assert_eq!(code, 404);
    assert_eq!(
        message,
        r#"kustomizations.kustomize.toolkit.fluxcd.io "tenants" not found"#
    );
    let (code, _, message) = status_of(&conn.send("DELETE", KS_TENANTS, &[], b"").unwrap());
    assert_eq!(code, 404);
    assert_eq!(
        message,
        r#"kustomizations.kustomize.toolkit.fluxcd.io "tenants" not found"#
    );
}

#[test]
fn delete_without_finalizers_answers_a_success_status() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path = "/api/v1/namespaces/flux-system/configmaps/cluster-settings";
    let live = conn.get(path).json();
    // Preconditions that do not hold: 409.
    let (code, _, message) = status_of(
        &conn
            .send("DELETE", path, &[], br#"{"preconditions":{"uid":"0000"}}"#)
            .unwrap(),
    );
    assert_eq!(code, 409);
    assert_eq!(
        message,
        format!(
            r#"Operation cannot be fulfilled on configmaps "cluster-settings": Precondition failed: UID in precondition: 0000, UID in object meta: {}"#,
            live["metadata"]["uid"].as_str().unwrap()
        )
    );
    let (code, _, message) = status_of(
        &conn
            .send(
                "DELETE",
                &format!("{path}?propagationPolicy=Sideways"),
                &[],
                b"",
            )
            .unwrap(),
    );
    assert_eq!(code, 422);
    assert_eq!(
        message,
        r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil""#
    );
    let body = format!(
        r#"{{"preconditions":{{"uid":"{}","resourceVersion":"{}"}},"propagationPolicy":"Foreground"}}"#,
        live["metadata"]["uid"].as_str().unwrap(),
        live["metadata"]["resourceVersion"].as_str().unwrap()
    );
    let resp = conn.send("DELETE", path, &[], body.as_bytes()).unwrap();
    assert_eq!(
        resp.text(),
        format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Success","details":{{"name":"cluster-settings","kind":"configmaps","uid":"{}"}}}}"#,
            live["metadata"]["uid"].as_str().unwrap()
        )
    );
    assert_eq!(conn.get(path).status, 404);
}

#[test]
fn deleting_an_owner_collects_or_orphans_its_dependents() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let coll = "/api/v1/namespaces/apps/configmaps";
    let mk = |conn: &mut Conn, name: &str, owners: Vec<&Value>| -> Value {
        let refs: Vec<Value> = owners
            .iter()
            .map(|o| json!({"apiVersion": "v1", "kind": "ConfigMap", "name": o["metadata"]["name"], "uid": o["metadata"]["uid"]}))
            .collect();
        let mut body = json!({"metadata": {"name": name}});
        if !refs.is_empty() {
            body["metadata"]["ownerReferences"] = json!(refs);
        }
        conn.write("POST", coll, &body).json()
    };
    let owner = mk(&mut conn, "owner", vec![]);
    let other = mk(&mut conn, "other-owner", vec![]);
    let child = mk(&mut conn, "child", vec![&owner]);
    mk(&mut conn, "grandchild", vec![&child]);
    mk(&mut conn, "shared-child", vec![&owner, &other]);
    conn.send("DELETE", &format!("{coll}/owner"), &[], b"")
        .unwrap();
    assert_eq!(conn.get(&format!("{coll}/child")).status, 404);
    assert_eq!(conn.get(&format!("{coll}/grandchild")).status, 404);
    assert_eq!(
        conn.get(&format!("{coll}/shared-child")).status,
        200,
        "another owner keeps it"
    );
    // Orphan: the dependent stays, without the reference.
    conn.send(
        "DELETE",
        &format!("{coll}/other-owner?propagationPolicy=Orphan"),
        &[],
        b"",
    )
    .unwrap();
    let orphan = conn.get(&format!("{coll}/shared-child")).json();
    assert_eq!(
        orphan["metadata"]["ownerReferences"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn a_deleted_namespace_takes_its_content_with_it() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    assert_eq!(
        conn.write(
            "POST",
            "/api/v1/namespaces",
            &json!({"metadata": {"name": "scratch"}})
        )
        .status,
        201
    );
    let coll = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/scratch/kustomizations";
    let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "held", "finalizers": ["finalizers.fluxcd.io"]}, "spec": {"interval": "1m"}});
    assert_eq!(conn.write("POST", coll, &ks).status, 201);
    assert_eq!(
        conn.write(
            "POST",
            "/api/v1/namespaces/scratch/configmaps",
            &json!({"metadata": {"name": "c"}})
        )
        .status,
        201
    );
    let ns = conn
        .send("DELETE", "/api/v1/namespaces/scratch", &[], b"")
        .unwrap()
        .json();
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert_eq!(
        conn.get("/api/v1/namespaces/scratch/configmaps/c").status,
        404
    );
    // Nothing new in a terminating namespace.
    let (code, _, message) = status_of(&conn.write(
        "POST",
        "/api/v1/namespaces/scratch/configmaps",
        &json!({"metadata": {"name": "late"}}),
    ));
    assert_eq!(code, 403);
    assert_eq!(
        message,
        r#"configmaps "late" is forbidden: unable to create new content in namespace scratch because it is being terminated"#
    );
    // The namespace goes with the last object.
    conn.patch(
        &format!("{coll}/held"),
        MERGE,
        r#"{"metadata":{"finalizers":null}}"#,
    );
    assert_eq!(conn.get("/api/v1/namespaces/scratch").status, 404);
}

#[test]
fn dry_run_answers_as_if_done_and_stores_nothing() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let ks_before = conn.get(KS_APPS).json();
    let tenants_before = conn.get(KS_TENANTS).json();
    let cm_before = conn
        .get("/api/v1/namespaces/flux-system/configmaps/cluster-settings")
        .json();
    let rv_before = store_rv(&mut conn);
    let created = conn.write(
        "POST",
        "/api/v1/namespaces/apps/configmaps?dryRun=All",
        &json!({"metadata": {"name": "dry"}}),
    );
    assert_eq!(created.status, 201);
    let created = created.json();
    assert!(created["metadata"]["uid"].is_string());
    assert!(created["metadata"].get("resourceVersion").is_none());
    let patched = conn
        .patch(
            &format!("{KS_APPS}?dryRun=All"),
            MERGE,
            r#"{"spec":{"suspend":true}}"#,
        )
        .json();
    assert_eq!(patched["spec"]["suspend"], true);
    assert_eq!(
        patched["metadata"]["generation"].as_i64(),
        ks_before["metadata"]["generation"].as_i64().map(|g| g + 1)
    );
    assert_eq!(rv(&patched), rv(&ks_before));
    let applied = conn.patch(
        &format!("{KS_APPS}?dryRun=All&fieldManager=x&force=true"),
        APPLY,
        r#"{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"apps"},"spec":{"interval":"1m"}}"#,
    );
    assert_eq!(applied.status, 200);
    assert!(entry(&applied.json(), "x", "Apply").is_some());
    let mut put = cm_before.clone();
    put["data"] = json!({});
    assert_eq!(
        conn.write(
            "PUT",
            "/api/v1/namespaces/flux-system/configmaps/cluster-settings?dryRun=All",
            &put
        )
        .status,
        200
    );
    let deleting = conn
        .send("DELETE", KS_TENANTS, &[], br#"{"dryRun":["All"]}"#)
        .unwrap()
        .json();
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());
    let gone = conn
        .send(
            "DELETE",
            "/api/v1/namespaces/flux-system/configmaps/cluster-settings?dryRun=All",
            &[],
            b"",
        )
        .unwrap()
        .json();
    assert_eq!(gone["status"], "Success");
    // Nothing was stored: same objects, same resourceVersions, same managedFields.
    assert_eq!(conn.get(KS_APPS).json(), ks_before);
    assert_eq!(conn.get(KS_TENANTS).json(), tenants_before);
    assert_eq!(
        conn.get("/api/v1/namespaces/flux-system/configmaps/cluster-settings")
            .json(),
        cm_before
    );
    assert_eq!(
        conn.get("/api/v1/namespaces/apps/configmaps/dry").status,
        404
    );
    assert_eq!(store_rv(&mut conn), rv_before);
    // Only All is a dry run.
    let (code, _, message) = status_of(&conn.patch(&format!("{KS_APPS}?dryRun=Yes"), MERGE, "{}"));
    assert_eq!(code, 422);
    assert_eq!(
        message,
        r#"PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All""#
    );
    assert_eq!(
        status_of(
            &conn
                .send("DELETE", &format!("{KS_APPS}?dryRun=Yes"), &[], b"")
                .unwrap()
        )
        .2,
        r#"DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All""#
    );
    assert_eq!(store_rv(&mut conn), rv_before);
}

// ---------------------------------------------------------------------------------------------
// The simulated controller
// ---------------------------------------------------------------------------------------------

const WAIT: Duration = Duration::from_secs(20);

fn handled_at(value: &'static str) -> impl Fn(Option<&Value>) -> bool {
    move |o: Option<&Value>| o.is_some_and(|o| o["status"]["lastHandledReconcileAt"] == value)
}

fn events_for(conn: &mut Conn, ns: &str, name: &str) -> Vec<Value> {
    conn.get(&format!(
        "/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{name}"
    ))
    .json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"]["component"] != "" && e["count"].is_number())
        .cloned()
        .collect()
}

#[test]
fn the_controller_answers_a_reconcile_request_after_its_delay() {
    let delay = Duration::from_millis(300);
    let server = ApiServer::start(Options {
        controller: Some(Controller::with_delay(delay)),
        ..Options::default()
    });
    let mut conn = admin(&server);
    let before = conn.get(KS_APPS).json();
    let names = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| {
                e["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    let old_events = names(&events_for(&mut conn, "flux-system", "apps"));
    let asked = Instant::now();
    conn.patch(
        KS_APPS,
        MERGE,
        r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"2026-11-21T06:00:00Z"}}}"#,
    );
    assert!(server.wait_for(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "apps",
        WAIT,
        handled_at("2026-11-21T06:00:00Z")
    ));
    assert!(asked.elapsed() >= delay, "answered before its delay");
    let after = conn.get(KS_APPS).json();
    let ready = |o: &Value| {
        o["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap()
    };
    // Keep: the object's own readiness, observed at its generation.
    assert_eq!(ready(&after)["status"], ready(&before)["status"]);
    assert_eq!(ready(&after)["message"], ready(&before)["message"]);
    assert_eq!(
        after["status"]["observedGeneration"],
        after["metadata"]["generation"]
    );
    assert_eq!(
        after["status"]["lastAttemptedRevision"],
        conn.get(
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system"
        )
        .json()["status"]["artifact"]["revision"]
    );
    assert!(
        after["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["manager"] == "kustomize-controller"
                && e["subresource"] == "status"
                && e["fieldsV1"]["f:status"]
                    .get("f:lastHandledReconcileAt")
                    .is_some())
    );
    let new_events: Vec<Value> = events_for(&mut conn, "flux-system", "apps")
        .into_iter()
        .filter(|e| {
            !old_events.contains(
                &e["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(new_events.len(), 1, "{new_events:?}");
    let event = &new_events[0];
    assert_eq!(event["reportingComponent"], "kustomize-controller");
    assert_eq!(event["involvedObject"]["kind"], "Kustomization");
    assert_eq!(event["involvedObject"]["uid"], after["metadata"]["uid"]);
    assert_eq!(event["type"], "Normal");
    assert_eq!(event["reason"], ready(&after)["reason"]);
    assert_eq!(event["count"], 1);
    assert!(event["firstTimestamp"].is_string() && event["lastTimestamp"].is_string());
    // The same outcome again is counted on the same event.
    conn.patch(
        KS_APPS,
        MERGE,
        r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"second"}}}"#,
    );
    assert!(server.wait_for(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "apps",
        WAIT,
        handled_at("second")
    ));
    let events = events_for(&mut conn, "flux-system", "apps");
    assert_eq!(names(&events).len(), old_events.len() + 1);
    let counted = events
        .iter()
        .find(|e| e["metadata"]["name"] == event["metadata"]["name"])
        .unwrap();
    assert_eq!(counted["count"], 2);
}

#[test]
fn controller_outcomes_fail_with_the_given_message_and_force_is_handled() {
    let message = "install retries exhausted: context deadline exceeded\n\tline two";
    let server = ApiServer::start(Options {
        controller: Some(
            Controller::with_delay(Duration::from_millis(50)).outcome_for(
                Target::new("HelmRelease", "apps", "podinfo"),
                Outcome::fail("InstallFailed", message),
            ),
        ),
        ..Options::default()
    });
    let mut conn = admin(&server);
    let path = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo";
    conn.patch(
        path,
        MERGE,
        r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"t1","reconcile.fluxcd.io/forceAt":"t1"}}}"#,
    );
    assert!(server.wait_for(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        "apps",
        "podinfo",
        WAIT,
        handled_at("t1")
    ));
    let hr = conn.get(path).json();
    assert_eq!(hr["status"]["lastHandledForceAt"], "t1");
    let ready = hr["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InstallFailed");
    assert_eq!(ready["message"], message);
    let events = events_for(&mut conn, "apps", "podinfo");
    let warning = events
        .iter()
        .find(|e| e["reportingComponent"] == "helm-controller" && e["type"] == "Warning")
        .expect("a Warning event");
    assert_eq!(warning["message"], message, "byte for byte");
    assert_eq!(warning["reason"], "InstallFailed");
    // Outcomes can change while running.
    server.set_outcome(
        Target::new("HelmRelease", "apps", "podinfo"),
        Outcome::ready("UpgradeSucceeded", "Helm upgrade succeeded"),
    );
    conn.patch(
        path,
        MERGE,
        r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"t2"}}}"#,
    );
    assert!(server.wait_for(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        "apps",
        "podinfo",
        WAIT,
        |o| o.is_some_and(|o| o["status"]["lastHandledReconcileAt"] == "t2"
            && o["status"]["conditions"][0]["status"] == "True")
    ));
}

#[test]
fn the_controller_leaves_suspended_disabled_and_stalled_objects_alone() {
    let server = ApiServer::start(Options {
        controller: Some(
            Controller::with_delay(Duration::from_millis(50)).outcome_for(
                Target::new("GitRepository", "flux-system", "infra-private"),
                Outcome::Stall,
            ),
        ),
        ..Options::default()
    });
    let mut conn = admin(&server);
    let request = r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"asked"}}}"#;
    conn.patch(
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo",
        MERGE,
        r#"{"spec":{"suspend":true}}"#,
    );
    conn.patch(
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo",
        MERGE,
        request,
    );
    let rset = "/apis/fluxcd.controlplane.io/v1/namespaces/flux-system/resourcesets/preview-envs";
    conn.patch(
        rset,
        MERGE,
        r#"{"metadata":{"annotations":{"fluxcd.controlplane.io/reconcile":"disabled","reconcile.fluxcd.io/requestedAt":"asked"}}}"#,
    );
    conn.patch(
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/infra-private",
        MERGE,
        request,
    );
    // Work is handled in the order it falls due: once this later request is answered, the
    // earlier ones would have been too.
    conn.patch(
        KS_APPS,
        MERGE,
        r#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"sentinel"}}}"#,
    );
    assert!(server.wait_for(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "apps",
        WAIT,
        handled_at("sentinel")
    ));
    for (path, what) in [
        (
            "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo",
            "suspended",
        ),
        (rset, "reconcile: disabled"),
        (
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/infra-private",
            "stalled",
        ),
    ] {
        assert_ne!(
            conn.get(path).json()["status"]["lastHandledReconcileAt"],
            "asked",
            "a {what} object was reconciled"
        );
    }
    // Resuming is a spec change the controller answers (and the request still stands).
    conn.patch(
        "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo",
        MERGE,
        r#"{"spec":{"suspend":null}}"#,
    );
    assert!(server.wait_for(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        "apps",
        "podinfo",
        WAIT,
        handled_at("asked")
    ));
}

#[test]
fn the_controller_finalizes_deleted_objects_unless_stalled() {
    let server = ApiServer::start(Options {
        controller: Some(
            Controller::with_delay(Duration::from_millis(50)).outcome_for(
                Target::new("Kustomization", "flux-system", "apps"),
                Outcome::Stall,
            ),
        ),
        ..Options::default()
    });
    let mut conn = admin(&server);
    conn.send("DELETE", KS_APPS, &[], b"").unwrap();
    conn.send("DELETE", KS_TENANTS, &[], b"").unwrap();
    assert!(server.wait_for(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "tenants",
        WAIT,
        |o| o.is_none()
    ));
    let stuck = conn.get(KS_APPS).json();
    assert!(stuck["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(
        stuck["metadata"]["finalizers"],
        json!(["finalizers.fluxcd.io"])
    );
    // A created object gets the controller's finalizer and a status.
    let coll = "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/ocirepositories";
    conn.write(
        "POST",
        coll,
        &json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "OCIRepository",
            "metadata": {"name": "fresh"}, "spec": {"interval": "1m", "url": "oci://example.com/x"}}),
    );
    assert!(server.wait_for(
        "source.toolkit.fluxcd.io/v1",
        "OCIRepository",
        "apps",
        "fresh",
        WAIT,
        |o| o.is_some_and(|o| o["status"]["observedGeneration"] == 1
            && o["metadata"]["finalizers"] == json!(["finalizers.fluxcd.io"]))
    ));
}

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[test]
fn injected_status_faults_then_recovery() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    server.inject(Fault::new("/gitrepositories", FaultKind::Status(500)).times(2));
    for _ in 0..2 {
        let (code, reason, message) =
            status_of(&conn.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories"));
        assert_eq!(
            (code, reason.as_str(), message.as_str()),
            (
                500,
                "InternalError",
                "Internal error occurred: injected fault"
            )
        );
    }
    assert_eq!(
        conn.get("/apis/source.toolkit.fluxcd.io/v1/gitrepositories")
            .status,
        200
    );
    server.inject(Fault::new(
        "/api/v1/pods",
        FaultKind::TooManyRequests {
            retry_after_secs: 3,
        },
    ));
    let resp = conn.get("/api/v1/pods");
    assert_eq!(resp.status, 429);
    assert_eq!(resp.header("retry-after"), Some("3"));
    assert_eq!(resp.json()["details"]["retryAfterSeconds"], 3);
    server.inject(
        Fault::new(
            "/apis/metrics.k8s.io",
            FaultKind::ServiceUnavailable {
                retry_after: Some(1),
            },
        )
        .always(),
    );
    for _ in 0..3 {
        let resp = conn.get("/apis/metrics.k8s.io/v1beta1/pods");
        assert_eq!((resp.status, resp.header("retry-after")), (503, Some("1")));
    }
    server.clear_faults();
    assert_eq!(conn.get("/apis/metrics.k8s.io/v1beta1/pods").status, 200);
}

#[test]
fn truncated_body_ends_early() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new(
        "/api/v1/namespaces/flux-system/pods",
        FaultKind::TruncatedBody,
    ));
    let mut conn = admin(&server);
    let err = conn
        .send("GET", "/api/v1/namespaces/flux-system/pods", &[], b"")
        .err()
        .expect("the body is cut");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
        ),
        "{err:?}"
    );
    // A new connection gets the whole body.
    let ok = admin(&server).get("/api/v1/namespaces/flux-system/pods");
    assert_eq!(ok.status, 200);
    ok.json();
}

#[test]
fn connection_reset_answers_nothing() {
    let server = ApiServer::start(Options::default());
    server.inject(Fault::new(
        "/apis/helm.toolkit.fluxcd.io",
        FaultKind::ConnectionReset,
    ));
    let mut conn = admin(&server);
    let err = conn
        .send(
            "GET",
            "/apis/helm.toolkit.fluxcd.io/v2/helmreleases",
            &[],
            b"",
        )
        .err()
        .expect("reset");
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
        ),
        "{err:?}"
    );
    let reqs = server.requests();
    assert_eq!(reqs.last().map(|r| r.status), Some(0));
    assert_eq!(
        admin(&server)
            .get("/apis/helm.toolkit.fluxcd.io/v2/helmreleases")
            .status,
        200
    );
}

#[test]
fn delay_holds_the_answer_back() {
    let server = ApiServer::start(Options::default());
    let delay = Duration::from_millis(300);
    server.inject(Fault::new("/api/v1/nodes", FaultKind::Delay(delay)));
    let mut conn = admin(&server);
    let started = Instant::now();
    assert_eq!(conn.get("/api/v1/nodes").status, 200);
    // A lower bound only: the server slept at least this long before answering.
    assert!(started.elapsed() >= delay);
}

#[test]
fn keep_alive_and_chunked_bodies() {
    let server = ApiServer::start(Options {
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "bench",
            300,
        )],
        ..Options::default()
    });
    let mut conn = admin(&server);
    let big = conn.get("/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/bench/kustomizations");
    assert_eq!(big.header("transfer-encoding"), Some("chunked"));
    let list = big.json();
    let n = names(&list);
    assert_eq!(n.len(), 300);
    assert_eq!(n[0], "bench/kustomization-00000");
    assert_eq!(
        server.count("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        // The 300 synthetic ones and the test cluster's 13.
        313
    );
    // Synthetic copies are realistic: the template's spec and status, a unique uid each.
    assert!(list["items"][7]["status"]["conditions"].is_array());
    assert_ne!(
        list["items"][0]["metadata"]["uid"],
        list["items"][1]["metadata"]["uid"]
    );
    // The same connection serves the next request.
    assert_eq!(conn.get("/api").status, 200);
    let small = conn.get("/api/v1/namespaces/flux-system");
    assert!(small.header("content-length").is_some());
}

#[test]
fn bad_data_is_a_clear_start_error() {
    let dir = std::env::temp_dir().join(format!("apiserver-bad-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("objects.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
    )
    .unwrap();
    let err = ApiServer::try_start(Options {
        data_dir: dir.clone(),
        ..Options::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("objects.yaml: document 1"), "{err}");
    assert!(
        err.contains("no resource type for kind \"Widget\""),
        "{err}"
    );
    std::fs::write(dir.join("objects.yaml"), "kind: [unclosed\n").unwrap();
    let err = ApiServer::try_start(Options {
        data_dir: dir.clone(),
        ..Options::default()
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("objects.yaml: document 1:"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn extra_objects_are_served() {
    let server = ApiServer::start(Options {
        extra_objects: vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "apps"}, "data": {"x": "y"}}),
        ],
        ..Options::default()
    });
    let cm = admin(&server)
        .get("/api/v1/namespaces/apps/configmaps/extra")
        .json();
    assert_eq!(cm["data"]["x"], "y");
    assert!(cm["metadata"]["uid"].is_string());
}

#[test]
fn written_kubeconfig_is_complete() {
    let server = ApiServer::start(Options::default());
    for (identity, user_keys) in [
        (
            Identity::ClientCert,
            vec!["client-certificate-data", "client-key-data"],
        ),
        (
            Identity::ClientCertRsa,
            vec!["client-certificate-data", "client-key-data"],
        ),
        (Identity::Token, vec!["token"]),
        (Identity::Anonymous, vec![]),
    ] {
        let doc: Value = serde_norway::from_str(&server.kubeconfig(identity)).unwrap();
        assert_eq!(doc["current-context"], "flux-test");
        assert_eq!(doc["clusters"][0]["cluster"]["server"], server.url());
        let ca = base64::engine::general_purpose::STANDARD
            .decode(
                doc["clusters"][0]["cluster"]["certificate-authority-data"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(ca, server.ca_pem().as_bytes());
        let user = doc["users"][0]["user"].as_object().unwrap();
        let mut keys: Vec<&str> = user.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, user_keys, "{identity:?}");
    }
    let rsa: Value = serde_norway::from_str(&server.kubeconfig(Identity::ClientCertRsa)).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(rsa["users"][0]["user"]["client-key-data"].as_str().unwrap())
        .unwrap();
    assert!(key.starts_with(b"-----BEGIN RSA PRIVATE KEY-----"));
}

// ---------------------------------------------------------------------------------------------
// The cluster data
// ---------------------------------------------------------------------------------------------

#[test]
fn every_flux_kind_has_several_objects_some_failing() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    for (path, kind, static_kind) in [
        (
            "source.toolkit.fluxcd.io/v1/gitrepositories",
            "GitRepository",
            false,
        ),
        (
            "source.toolkit.fluxcd.io/v1/ocirepositories",
            "OCIRepository",
            false,
        ),
        (
            "source.toolkit.fluxcd.io/v1/helmrepositories",
            "HelmRepository",
            false,
        ),
        ("source.toolkit.fluxcd.io/v1/helmcharts", "HelmChart", false),
        ("source.toolkit.fluxcd.io/v1/buckets", "Bucket", false),
        (
            "source.toolkit.fluxcd.io/v1/externalartifacts",
            "ExternalArtifact",
            false,
        ),
        (
            "kustomize.toolkit.fluxcd.io/v1/kustomizations",
            "Kustomization",
            false,
        ),
        (
            "helm.toolkit.fluxcd.io/v2/helmreleases",
            "HelmRelease",
            false,
        ),
        (
            "notification.toolkit.fluxcd.io/v1beta3/alerts",
            "Alert",
            true,
        ),
        (
            "notification.toolkit.fluxcd.io/v1beta3/providers",
            "Provider",
            true,
        ),
        (
            "notification.toolkit.fluxcd.io/v1/receivers",
            "Receiver",
            false,
        ),
        (
            "image.toolkit.fluxcd.io/v1/imagerepositories",
            "ImageRepository",
            false,
        ),
        (
            "image.toolkit.fluxcd.io/v1/imagepolicies",
            "ImagePolicy",
            false,
        ),
        (
            "image.toolkit.fluxcd.io/v1/imageupdateautomations",
            "ImageUpdateAutomation",
            false,
        ),
        (
            "fluxcd.controlplane.io/v1/resourcesets",
            "ResourceSet",
            false,
        ),
        (
            "fluxcd.controlplane.io/v1/resourcesetinputproviders",
            "ResourceSetInputProvider",
            false,
        ),
        (
            "source.extensions.fluxcd.io/v1beta1/artifactgenerators",
            "ArtifactGenerator",
            false,
        ),
    ] {
        let list = conn.get(&format!("/apis/{path}")).json();
        let items = list["items"].as_array().unwrap();
        assert!(items.len() >= 2, "{kind}: {}", items.len());
        if static_kind {
            continue;
        }
        let ready = |want: &str| {
            items.iter().any(|i| {
                i["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == want)
                })
            })
        };
        assert!(ready("True"), "{kind} has no healthy object");
        if kind != "HelmRepository" {
            assert!(ready("False"), "{kind} has no failing object");
        }
    }
    let instance = conn
        .get("/apis/fluxcd.controlplane.io/v1/namespaces/flux-system/fluxinstances/flux")
        .json();
    assert_eq!(instance["spec"]["distribution"]["version"], "2.7.x");
    let report = conn
        .get("/apis/fluxcd.controlplane.io/v1/namespaces/flux-system/fluxreports/flux")
        .json();
    assert_eq!(report["spec"]["components"].as_array().unwrap().len(), 6);
    // The report is stale on purpose (get_flux_instance flags it): it says helm-controller
    // is not ready while its Deployment is available.
    let not_ready: Vec<&Value> = report["spec"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ready"] != true)
        .map(|c| &c["name"])
        .collect();
    assert_eq!(not_ready, [&json!("helm-controller")]);
}

#[test]
fn helm_storage_secrets_decode_like_helms_driver() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let b64 = base64::engine::general_purpose::STANDARD;
    let hrs = conn
        .get("/apis/helm.toolkit.fluxcd.io/v2/helmreleases")
        .json();
    let mut checked = 0;
    for hr in hrs["items"].as_array().unwrap() {
        let Some(latest) = hr["status"]["history"].get(0) else {
            continue;
        };
        let (release, version) = (
            latest["name"].as_str().unwrap(),
            latest["version"].as_u64().unwrap(),
        );
        let storage = hr["status"]["storageNamespace"].as_str().unwrap();
        let secret = conn.get(&format!(
            "/api/v1/namespaces/{storage}/secrets/sh.helm.release.v1.{release}.v{version}"
        ));
        assert_eq!(secret.status, 200, "{release}.v{version}");
        let secret = secret.json();
        assert_eq!(secret["type"], "helm.sh/release.v1");
        assert_eq!(secret["metadata"]["labels"]["owner"], "helm");
        let once = b64
            .decode(secret["data"]["release"].as_str().unwrap())
            .unwrap();
        let gz = b64.decode(&once).unwrap();
        let json_bytes =
            miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8]).expect("gzip body");
        let rel: Value = serde_json::from_slice(&json_bytes).unwrap();
        assert_eq!(rel["name"], release);
        assert_eq!(rel["version"], version);
        assert!(rel["manifest"].as_str().unwrap().contains("image: "));
        checked += 1;
    }
    assert!(checked >= 4);
    // The release name differs from the chart name at least once (helm-controller stores by release).
    let frontend = conn
        .get("/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/webapp-frontend")
        .json();
    assert_eq!(frontend["spec"]["releaseName"], "frontend");
    assert_eq!(frontend["status"]["history"][0]["chartName"], "webapp");
}

#[test]
fn secrets_carry_last_applied_data_for_masking_tests() {
    let server = ApiServer::start(Options::default());
    let secret = admin(&server)
        .get("/api/v1/namespaces/apps/secrets/postgres-credentials")
        .json();
    let applied =
        secret["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap();
    assert!(applied.contains("S3cr3t-Pr0d-Pa55"));
    assert!(secret["data"]["password"].is_string());
}
