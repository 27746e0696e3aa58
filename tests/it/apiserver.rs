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
    ADMIN_USER, ApiServer, Auth, DNS_ONLY_NAME, Deny, Fault, FaultKind, Identity, KeyType, Options,
    Synthetic, TOKEN_USER,
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
    let resp = conn
        .send(
            "PUT",
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
            &[],
            b"{}",
        )
        .unwrap();
    let (code, reason, _) = status_of(&resp);
    assert_eq!((code, reason.as_str()), (405, "MethodNotAllowed"));
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

#[test]
fn merge_patch_is_applied_and_recorded() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";
    let before = conn.get(path).json();
    let patch = br#"{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"2026-11-21T06:00:00Z"}}}"#;
    let resp = conn
        .send(
            "PATCH",
            path,
            &[("Content-Type", "application/merge-patch+json")],
            patch,
        )
        .unwrap();
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
    let rv = |v: &Value| {
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(rv(&after) > rv(&before));
    let stored = server
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "apps",
        )
        .unwrap();
    assert_eq!(
        stored["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"],
        "2026-11-21T06:00:00Z"
    );
    let suspend = conn
        .send(
            "PATCH",
            path,
            &[("Content-Type", "application/merge-patch+json")],
            br#"{"spec":{"suspend":true}}"#,
        )
        .unwrap()
        .json();
    assert_eq!(suspend["metadata"]["generation"], 2);
    let writes: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        writes[0].body.as_deref(),
        Some(std::str::from_utf8(patch).unwrap())
    );
}

#[test]
fn json_patch_and_unsupported_patch_types() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path =
        "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system";
    let ops = br#"[{"op":"replace","path":"/spec/interval","value":"5m0s"}]"#;
    let resp = conn
        .send(
            "PATCH",
            path,
            &[("Content-Type", "application/json-patch+json")],
            ops,
        )
        .unwrap();
    assert_eq!(resp.json()["spec"]["interval"], "5m0s");
    let resp = conn
        .send("PATCH", path, &[("Content-Type", "text/plain")], b"x")
        .unwrap();
    assert_eq!(status_of(&resp).1, "UnsupportedMediaType");
    let resp = conn
        .send(
            "PATCH",
            "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/none",
            &[("Content-Type", "application/merge-patch+json")],
            b"{}",
        )
        .unwrap();
    assert_eq!(resp.status, 404);
}

#[test]
fn server_side_apply_creates_then_updates() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let path = "/api/v1/namespaces/apps/configmaps/applied?fieldManager=flux-operator-mcp";
    let body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: apps\ndata:\n  a: \"1\"\n";
    let created = conn
        .send(
            "PATCH",
            path,
            &[("Content-Type", "application/apply-patch+yaml")],
            body,
        )
        .unwrap();
    assert_eq!(created.status, 201);
    let updated = conn
        .send(
            "PATCH",
            path,
            &[("Content-Type", "application/apply-patch+yaml")],
            b"{\"data\":{\"b\":\"2\"}}",
        )
        .unwrap();
    assert_eq!(updated.status, 200);
    assert_eq!(updated.json()["data"], json!({"a": "1", "b": "2"}));
    let no_manager = conn
        .send(
            "PATCH",
            "/api/v1/namespaces/apps/configmaps/applied",
            &[("Content-Type", "application/apply-patch+yaml")],
            body,
        )
        .unwrap();
    assert_eq!(no_manager.status, 400);
}

#[test]
fn create_delete_and_dry_run() {
    let server = ApiServer::start(Options::default());
    let mut conn = admin(&server);
    let cm =
        br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new-one"},"data":{"k":"v"}}"#;
    let json_ct = [("Content-Type", "application/json")];
    let dry = conn
        .send(
            "POST",
            "/api/v1/namespaces/apps/configmaps?dryRun=All",
            &json_ct,
            cm,
        )
        .unwrap();
    assert_eq!(dry.status, 201);
    assert!(
        server
            .object("v1", "ConfigMap", "apps", "new-one")
            .is_none()
    );
    let created = conn
        .send("POST", "/api/v1/namespaces/apps/configmaps", &json_ct, cm)
        .unwrap();
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["metadata"]["namespace"], "apps");
    assert_eq!(
        status_of(
            &conn
                .send("POST", "/api/v1/namespaces/apps/configmaps", &json_ct, cm)
                .unwrap()
        )
        .1,
        "AlreadyExists"
    );
    assert_eq!(
        status_of(
            &conn
                .send(
                    "POST",
                    "/api/v1/namespaces/nowhere/configmaps",
                    &json_ct,
                    cm
                )
                .unwrap()
        )
        .2,
        r#"namespaces "nowhere" not found"#
    );
    let deleted = conn
        .send(
            "DELETE",
            "/api/v1/namespaces/apps/configmaps/new-one",
            &[],
            b"",
        )
        .unwrap()
        .json();
    assert_eq!(deleted["status"], "Success");
    assert_eq!(deleted["details"]["name"], "new-one");
    assert_eq!(
        conn.get("/api/v1/namespaces/apps/configmaps/new-one")
            .status,
        404
    );
    assert_eq!(
        conn.send(
            "DELETE",
            "/api/v1/namespaces/apps/configmaps/new-one",
            &[],
            b""
        )
        .unwrap()
        .status,
        404
    );
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
        309
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
    assert!(
        report["spec"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ready"] == true)
    );
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
