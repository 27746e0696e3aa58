//! Unit tests of the request loop (retries, backoff, paging, error mapping) against a scripted
//! plain-HTTP responder on 127.0.0.1. TLS, RBAC and real wire-format cases run against the
//! test API server in `tests/it/kube_client.rs`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::kube::config::{AuthConfig, Impersonation};

/// What the responder does with one request.
enum Reply {
    Send {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Close the connection without answering.
    Drop,
    /// Announce the full body but send only the first `n` bytes, then close.
    Truncate { body: String, n: usize },
    /// Never answer (until the client gives up).
    Hang,
}

fn json_reply(status: u16, body: Value) -> Reply {
    Reply::Send {
        status,
        headers: vec![("Content-Type", "application/json".into())],
        body: body.to_string(),
    }
}

fn status_reply(code: u16, reason: &str, message: &str) -> Reply {
    json_reply(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// A request as the responder saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Responder {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Responder {
    /// Serves each request with `handler(request, index of the request)`.
    fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let count = Arc::new(AtomicUsize::new(0));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, log, count) = (handler.clone(), log.clone(), count.clone());
                std::thread::spawn(move || serve(stream, &*handler, &log, &count));
            }
        });
        Responder { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("log").clone()
    }
}

fn serve(
    stream: TcpStream,
    handler: &(dyn Fn(&Seen, usize) -> Reply + Send + Sync),
    log: &Mutex<Vec<Seen>>,
    count: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut body = vec![0; length];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let seen = Seen {
            method,
            target,
            headers,
        };
        log.lock().expect("log").push(seen.clone());
        let index = count.fetch_add(1, Ordering::SeqCst);
        match handler(&seen, index) {
            Reply::Send {
                status,
                headers,
                body,
            } => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                if out.write_all(head.as_bytes()).is_err()
                    || out.write_all(body.as_bytes()).is_err()
                {
                    return;
                }
            }
            Reply::Drop => return,
            Reply::Truncate { body, n } => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = out.write_all(head.as_bytes());
                let _ = out.write_all(&body.as_bytes()[..n]);
                return;
            }
            Reply::Hang => {
                std::thread::sleep(Duration::from_secs(5));
                return;
            }
        }
    }
}

fn connection(server: &str) -> Connection {
    Connection {
        context: "test-ctx".into(),
        cluster: "test-cluster".into(),
        user: "test-user".into(),
        server: server.into(),
        namespace: "default".into(),
        tls: TlsSettings::default(),
        proxy_url: None,
        auth: AuthConfig {
            token: Some(Secret::new("tok-abcdef-123456")),
            ..AuthConfig::default()
        },
        impersonate: Impersonation::default(),
    }
}

fn client_with(server: &str, timeout: Duration) -> Client {
    let options = ClientOptions {
        timeout,
        env: NetworkEnv::default(),
    };
    Client::new(&connection(server), options).expect("client")
}

fn client(server: &str) -> Client {
    client_with(server, Duration::from_secs(10))
}

fn pods() -> Resource {
    Resource::new("v1", "Pod", "pods", true)
}

fn pod(name: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "default"}})
}

#[test]
fn every_request_carries_credentials_impersonation_accept_and_user_agent() {
    let server = Responder::start(|_, _| json_reply(200, pod("a")));
    let mut conn = connection(&server.url);
    conn.impersonate = Impersonation {
        user: Some("jane".into()),
        groups: vec!["devs".into(), "ops".into()],
        uid: Some("42".into()),
        extra: vec![("acme.com/reason".into(), vec!["incident 42".into()])],
    };
    let options = ClientOptions {
        env: NetworkEnv::default(),
        ..ClientOptions::default()
    };
    let client = Client::new(&conn, options).expect("client");
    client.get(&pods(), "default", "a").expect("get");
    let seen = server.seen();
    let req = &seen[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/api/v1/namespaces/default/pods/a");
    assert_eq!(
        req.header("authorization"),
        Some("Bearer tok-abcdef-123456")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("user-agent"), Some(USER_AGENT));
    assert_eq!(req.header("impersonate-user"), Some("jane"));
    assert_eq!(req.header("impersonate-uid"), Some("42"));
    let groups: Vec<&str> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("impersonate-group"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(groups, ["devs", "ops"]);
    assert_eq!(
        req.header("impersonate-extra-acme.com%2freason"),
        Some("incident 42")
    );
}

#[test]
fn throttling_is_retried_after_the_servers_retry_after() {
    let server = Responder::start(|_, i| match i {
        0 => Reply::Send {
            status: 429,
            headers: vec![("Retry-After", "0".into())],
            body:
                r#"{"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down"}"#
                    .into(),
        },
        _ => json_reply(200, pod("a")),
    });
    let got = client(&server.url)
        .get(&pods(), "default", "a")
        .expect("retried");
    assert_eq!(got["metadata"]["name"], "a");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn unavailability_backs_off_but_never_past_the_budget() {
    let server = Responder::start(|_, _| status_reply(503, "ServiceUnavailable", "etcd is down"));
    let started = Instant::now();
    let err = client_with(&server.url, Duration::from_millis(1000))
        .get(&pods(), "default", "a")
        .expect_err("keeps failing");
    let took = started.elapsed();
    assert_eq!(err.status_code(), Some(503), "{err}");
    assert_eq!(
        err.to_string(),
        "error from server (ServiceUnavailable): etcd is down"
    );
    // 200 ms, then 400 ms; the next 800 ms wait would cross the 1 s budget, so it stops.
    assert_eq!(server.seen().len(), 3);
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

#[test]
fn a_503_without_retry_after_is_retried_only_twice() {
    let server = Responder::start(|_, _| status_reply(503, "ServiceUnavailable", "down"));
    let err = client_with(&server.url, Duration::from_secs(30))
        .get(&pods(), "default", "a")
        .expect_err("keeps failing");
    assert_eq!(err.status_code(), Some(503));
    assert_eq!(server.seen().len(), 1 + UNAVAILABLE_RETRIES as usize);
}

#[test]
fn a_retry_after_beyond_the_budget_is_not_waited_for() {
    let server = Responder::start(|_, _| Reply::Send {
        status: 429,
        headers: vec![("Retry-After", "30".into())],
        body: r#"{"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down"}"#
            .into(),
    });
    let started = Instant::now();
    let err = client_with(&server.url, Duration::from_secs(2))
        .get(&pods(), "default", "a")
        .expect_err("gives up");
    assert_eq!(err.reason(), Some("TooManyRequests"));
    assert_eq!(server.seen().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_401_is_retried_once_with_fresh_credentials_then_reported() {
    let server = Responder::start(|_, i| match i {
        0 => status_reply(401, "Unauthorized", "Unauthorized"),
        _ => json_reply(200, pod("a")),
    });
    client(&server.url)
        .get(&pods(), "default", "a")
        .expect("second try works");
    assert_eq!(server.seen().len(), 2);

    let server = Responder::start(|_, _| status_reply(401, "Unauthorized", "Unauthorized"));
    let err = client(&server.url)
        .get(&pods(), "default", "a")
        .expect_err("401");
    assert!(err.is_unauthorized());
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn a_dropped_connection_is_retried_for_gets() {
    let server = Responder::start(|_, i| match i {
        0 => Reply::Drop,
        _ => json_reply(200, pod("a")),
    });
    client(&server.url)
        .get(&pods(), "default", "a")
        .expect("retried");
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn a_truncated_body_is_retried_then_reported_as_interrupted() {
    let body = pod("a").to_string();
    let server = Responder::start(move |_, _| Reply::Truncate {
        body: body.clone(),
        n: 10,
    });
    let err = client(&server.url)
        .get(&pods(), "default", "a")
        .expect_err("cut");
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("GET /api/v1/namespaces/default/pods/a: connection interrupted"),
        "{err}"
    );
    assert_eq!(server.seen().len(), 1 + RESET_RETRIES as usize);
}

#[test]
fn a_silent_server_times_out_within_the_budget() {
    let server = Responder::start(|_, _| Reply::Hang);
    let started = Instant::now();
    let err = client_with(&server.url, Duration::from_millis(300))
        .get(&pods(), "default", "a")
        .expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "GET /api/v1/namespaces/default/pods/a: no answer within the 300ms timeout"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn an_outer_deadline_shortens_the_budget() {
    let server = Responder::start(|_, _| Reply::Hang);
    let started = Instant::now();
    let err = client(&server.url)
        .with_deadline(Instant::now() + Duration::from_millis(200))
        .get(&pods(), "default", "a")
        .expect_err("timeout");
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn a_non_status_error_body_is_summarised_and_scrubbed() {
    let server = Responder::start(|_, _| Reply::Send {
        status: 502,
        headers: vec![("Content-Type", "text/html".into())],
        body: "<html>\n  <body>Bad gateway; you sent Bearer tok-abcdef-123456</body>\n</html>"
            .into(),
    });
    let err = client(&server.url)
        .get(&pods(), "default", "a")
        .expect_err("502");
    assert_eq!(err.status_code(), Some(502));
    let text = err.to_string();
    assert!(text.starts_with("GET /api/v1/namespaces/default/pods/a: server answered 502: Bad Gateway: <html> <body>Bad gateway"), "{text}");
    assert!(!text.contains("tok-abcdef-123456"), "{text}");
}

fn page(items: &[&str], continue_token: Option<&str>, remaining: Option<u64>) -> Reply {
    let mut meta = json!({"resourceVersion": "7"});
    if let Some(c) = continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    let items = Value::Array(items.iter().map(|n| pod(n)).collect());
    // In the API server's order, metadata before items: the client reads the continue token
    // from the head of a page and asks for the next one while it parses this one.
    Reply::Send {
        status: 200,
        headers: vec![("Content-Type", "application/json".into())],
        body: format!(
            r#"{{"kind":"PodList","apiVersion":"v1","metadata":{meta},"items":{items}}}"#
        ),
    }
}

/// Three pages of two pods, keyed by the `continue` token.
fn paged_server() -> Responder {
    Responder::start(|req, _| {
        if req.target.contains("continue=p2") {
            page(&["c", "d"], Some("p3"), Some(2))
        } else if req.target.contains("continue=p3") {
            page(&["e", "f"], None, None)
        } else {
            page(&["a", "b"], Some("p2"), Some(4))
        }
    })
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| {
            i["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn list_follows_continue_tokens_and_fills_in_kinds() {
    let server = paged_server();
    let mut got = Vec::new();
    let options = ListOptions {
        namespace: Some("default".into()),
        label_selector: Some("app=web".into()),
        field_selector: Some("status.phase!=Failed".into()),
        page_size: Some(2),
        ..ListOptions::default()
    };
    let info = client(&server.url)
        .list(&pods(), &options, |item| {
            got.push(item);
            ControlFlow::Continue(())
        })
        .expect("list");
    assert_eq!(names(&got), ["a", "b", "c", "d", "e", "f"]);
    assert_eq!(got[0]["kind"], "Pod");
    assert_eq!(got[0]["apiVersion"], "v1");
    assert_eq!(info.items, 6);
    assert!(!info.more);
    assert_eq!(info.continue_token, None);
    assert_eq!(info.resource_version, "7");
    let targets: Vec<String> = server.seen().into_iter().map(|s| s.target).collect();
    assert_eq!(
        targets,
        [
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%21%3DFailed&limit=2",
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%21%3DFailed&limit=2&continue=p2",
            "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&fieldSelector=status.phase%21%3DFailed&limit=2&continue=p3",
        ]
    );
}

#[test]
fn list_limit_stops_on_a_page_boundary_with_a_resumable_token() {
    let server = paged_server();
    let options = ListOptions {
        limit: Some(4),
        page_size: Some(2),
        ..ListOptions::default()
    };
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    let info = client(&server.url)
        .list(&pods(), &options, |item| {
            sink.lock().expect("sink").push(item);
            ControlFlow::Continue(())
        })
        .expect("list");
    assert_eq!(names(&got.lock().expect("got")), ["a", "b", "c", "d"]);
    assert!(info.more);
    assert_eq!(info.continue_token.as_deref(), Some("p3"));
    assert_eq!(info.remaining_item_count, Some(2));
    assert_eq!(server.seen().len(), 2);
    assert!(server.seen()[0].target.ends_with("/api/v1/pods?limit=2"));

    // Resume where it stopped.
    let rest = client(&server.url)
        .list_all(
            &pods(),
            &ListOptions {
                continue_token: info.continue_token,
                ..ListOptions::default()
            },
        )
        .expect("rest");
    assert_eq!(names(&rest), ["e", "f"]);
}

#[test]
fn list_limit_smaller_than_a_page_asks_for_just_that_many() {
    let server = paged_server();
    let options = ListOptions {
        limit: Some(1),
        ..ListOptions::default()
    };
    let got = client(&server.url)
        .list_all(&pods(), &options)
        .expect("list");
    // The responder ignores `limit` (as metrics-server does): the client still stops at 1.
    assert_eq!(names(&got), ["a"]);
    assert!(server.seen()[0].target.ends_with("?limit=1"));
}

#[test]
fn zero_limit_and_page_size_mean_no_limit_and_the_default() {
    let server = paged_server();
    let options = ListOptions {
        limit: Some(0),
        page_size: Some(0),
        ..ListOptions::default()
    };
    let got = client(&server.url)
        .list_all(&pods(), &options)
        .expect("list");
    assert_eq!(got.len(), 6);
    assert!(server.seen()[0].target.ends_with("?limit=500"));
}

#[test]
fn a_client_is_shared_between_threads() {
    fn shared<T: Send + Sync + Clone>() {}
    shared::<Client>();
}

#[test]
fn list_stops_when_the_callback_breaks_and_says_more_exist() {
    let server = paged_server();
    let mut got = Vec::new();
    let info = client(&server.url)
        .list(
            &pods(),
            &ListOptions {
                page_size: Some(2),
                ..ListOptions::default()
            },
            |item| {
                got.push(item);
                if got.len() == 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )
        .expect("list");
    assert_eq!(names(&got), ["a", "b", "c"]);
    assert_eq!(info.items, 3);
    assert!(info.more);
    assert_eq!(info.continue_token, None, "a token cannot resume mid-page");
    // The third page was asked for while the second was parsed; its answer is dropped.
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn the_next_page_downloads_while_this_one_is_handed_over() {
    let (asked, second) = std::sync::mpsc::channel();
    let asked = Mutex::new(asked);
    let server = Responder::start(move |req, _| {
        if req.target.contains("continue=p2") {
            let _ = asked.lock().expect("sender").send(());
            page(&["c", "d"], None, None)
        } else {
            page(&["a", "b"], Some("p2"), None)
        }
    });
    let mut got = Vec::new();
    let mut overlapped = false;
    let info = client(&server.url)
        .list(
            &pods(),
            &ListOptions {
                page_size: Some(2),
                ..ListOptions::default()
            },
            |item| {
                if got.is_empty() {
                    // The first item of the first page: the second page is already asked for.
                    overlapped = second.recv_timeout(Duration::from_secs(10)).is_ok();
                }
                got.push(item);
                ControlFlow::Continue(())
            },
        )
        .expect("list");
    assert!(
        overlapped,
        "the second page was not asked for during the first"
    );
    assert_eq!(names(&got), ["a", "b", "c", "d"]);
    assert_eq!(info.items, 4);
    assert!(!info.more);
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn pages_with_items_before_metadata_are_fetched_one_after_another() {
    // Nothing to read ahead: the token comes after the items, so each page is parsed first.
    let server = Responder::start(|req, _| {
        let (items, token) = if req.target.contains("continue=p2") {
            (json!([pod("c")]), json!({}))
        } else {
            (json!([pod("a"), pod("b")]), json!({"continue": "p2"}))
        };
        json_reply(
            200,
            json!({"kind": "PodList", "items": items, "metadata": token}),
        )
    });
    let mut got = Vec::new();
    let info = client(&server.url)
        .list(&pods(), &ListOptions::default(), |item| {
            got.push(item);
            if got.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect("list");
    assert_eq!(names(&got), ["a", "b"]);
    assert!(info.more);
    assert_eq!(info.continue_token.as_deref(), Some("p2"));
    assert_eq!(server.seen().len(), 1, "no page asked for ahead");
}

#[test]
fn a_failing_page_fetched_ahead_fails_after_the_page_before_it() {
    let server = Responder::start(|req, _| {
        if req.target.contains("continue=p2") {
            status_reply(500, "InternalError", "etcd is down")
        } else {
            page(&["a", "b"], Some("p2"), None)
        }
    });
    let mut got = Vec::new();
    let err = client(&server.url)
        .list(&pods(), &ListOptions::default(), |item| {
            got.push(item);
            ControlFlow::Continue(())
        })
        .expect_err("second page fails");
    assert_eq!(names(&got), ["a", "b"]);
    assert_eq!(err.status_code(), Some(500), "{err}");
}

#[test]
fn a_list_page_cut_before_any_item_is_fetched_again() {
    let full = page_text(&["a", "b"]);
    let server = Responder::start(move |_, i| match i {
        0 => Reply::Truncate {
            body: full.clone(),
            n: 30,
        },
        _ => page(&["a", "b"], None, None),
    });
    let got = client(&server.url)
        .list_all(&pods(), &ListOptions::default())
        .expect("retried");
    assert_eq!(names(&got), ["a", "b"]);
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn a_page_read_whole_is_never_half_delivered() {
    // Small pages are read whole before parsing: a cut is seen before any item goes out, so
    // the page is simply fetched again (and then reported, when every attempt is cut).
    let full = page_text(&["a", "b", "c"]);
    let cut = full.find(r#"{"metadata":{"name":"c""#).expect("third item");
    let (err, seen, requests) = list_cut_page(full, cut);
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert_eq!(seen, 0);
    assert_eq!(requests, 1 + RESET_RETRIES as usize);
}

/// A page bigger than `PAGE_BUFFER` (4 KiB under test): streamed from the socket.
fn big_page(count: usize) -> String {
    let names: Vec<String> = (0..count).map(|i| format!("pod-{i:04}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    page_text(&refs)
}

/// The body of a last page holding `items`.
fn page_text(items: &[&str]) -> String {
    match page(items, None, None) {
        Reply::Send { body, .. } => body,
        _ => unreachable!("page is a Send"),
    }
}

/// Lists pods from a server that always cuts its answer at byte `cut` of `body`; returns the
/// error, the items handed over and the requests the server saw.
fn list_cut_page(body: String, cut: usize) -> (Error, usize, usize) {
    let server = Responder::start(move |_, _| Reply::Truncate {
        body: body.clone(),
        n: cut,
    });
    let mut seen = 0;
    let err = client(&server.url)
        .list(&pods(), &ListOptions::default(), |_| {
            seen += 1;
            ControlFlow::Continue(())
        })
        .expect_err("cut");
    (err, seen, server.seen().len())
}

#[test]
fn a_page_bigger_than_the_buffer_is_streamed() {
    let body = big_page(400);
    assert!(body.len() as u64 > PAGE_BUFFER);
    let server = Responder::start(move |_, _| Reply::Send {
        status: 200,
        headers: vec![("Content-Type", "application/json".into())],
        body: body.clone(),
    });
    let got = client(&server.url)
        .list_all(&pods(), &ListOptions::default())
        .expect("list");
    assert_eq!(got.len(), 400);
    assert_eq!(got[399]["metadata"]["name"], "pod-0399");
}

#[test]
fn a_streamed_page_cut_before_its_first_item_is_fetched_again() {
    // The first PAGE_BUFFER bytes arrive whole (a long field before the items), then the
    // connection breaks: nothing went out, so the page is asked for again, then reported.
    let padding = "x".repeat(PAGE_BUFFER as usize + 100);
    let full = format!(
        r#"{{"kind":"PodList","apiVersion":"v1","padding":"{padding}","metadata":{{}},"items":[{}]}}"#,
        pod("a")
    );
    let cut = PAGE_BUFFER as usize + 50;
    let (err, seen, requests) = list_cut_page(full, cut);
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert_eq!(seen, 0);
    assert_eq!(requests, 1 + RESET_RETRIES as usize);
}

#[test]
fn a_streamed_page_cut_after_items_went_out_is_an_error() {
    let full = big_page(400);
    let cut = full
        .find(r#"{"metadata":{"name":"pod-0300""#)
        .expect("item 300");
    let (err, seen, requests) = list_cut_page(full, cut);
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert_eq!(seen, 300, "no item is handed over twice");
    assert_eq!(requests, 1, "not retried once items went out");
}

#[test]
fn logs_send_their_options_and_cap_the_text() {
    let server = Responder::start(|_, _| Reply::Send {
        status: 200,
        headers: vec![("Content-Type", "text/plain".into())],
        body: "line one\nline two\nline three\n".into(),
    });
    let logs = client(&server.url)
        .logs(
            "flux-system",
            "source-controller-abc",
            &LogOptions {
                container: Some("manager".into()),
                tail_lines: Some(100),
                limit_bytes: Some(12),
                previous: true,
                since_seconds: Some(3600),
            },
        )
        .expect("logs");
    assert_eq!(logs.text, "line one\nlin");
    assert!(logs.truncated);
    let seen = server.seen();
    assert_eq!(
        seen[0].target,
        "/api/v1/namespaces/flux-system/pods/source-controller-abc/log?container=manager&tailLines=100&limitBytes=12&previous=true&sinceSeconds=3600"
    );

    let all = client(&server.url)
        .logs("flux-system", "p", &LogOptions::default())
        .expect("logs");
    assert_eq!(all.text, "line one\nline two\nline three\n");
    assert!(!all.truncated);
}

#[test]
fn metrics_absent_is_its_own_error() {
    let server = Responder::start(|_, _| {
        status_reply(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    });
    let err = client(&server.url)
        .pod_metrics(
            Some("flux-system"),
            &PodSelection::Matching {
                label_selector: None,
                limit: Some(10),
            },
        )
        .expect_err("absent");
    assert!(matches!(err, Error::MetricsUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("metrics-server"), "{err}");

    // A named pod that has no metrics is a plain NotFound.
    let server = Responder::start(|_, _| {
        json_reply(
            404,
            json!({"kind": "Status", "code": 404, "reason": "NotFound",
            "message": "podmetrics.metrics.k8s.io \"x\" not found",
            "details": {"name": "x", "group": "metrics.k8s.io", "kind": "pods"}}),
        )
    });
    let err = client(&server.url)
        .pod_metrics(Some("default"), &PodSelection::Named("x".into()))
        .expect_err("missing pod");
    assert!(err.is_not_found(), "{err:?}");
    // Discovery is asked first (and fails here: the responder knows no /api); the pod's
    // metrics are asked anyway.
    assert_eq!(
        server.seen().last().map(|s| s.target.as_str()),
        Some("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/x")
    );
}

#[test]
fn legacy_discovery_is_fetched_and_resolves() {
    let server = Responder::start(|req, _| match req.target.as_str() {
        "/api" => json_reply(200, json!({"kind": "APIVersions", "versions": ["v1"]})),
        "/apis" => json_reply(
            200,
            json!({"kind": "APIGroupList", "groups": [
                {"name": "kustomize.toolkit.fluxcd.io",
                 "versions": [{"groupVersion": "kustomize.toolkit.fluxcd.io/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "kustomize.toolkit.fluxcd.io/v1", "version": "v1"}},
                {"name": "metrics.k8s.io",
                 "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
                 "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}}
            ]}),
        ),
        "/api/v1" => json_reply(
            200,
            json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"], "shortNames": ["po"]},
                {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}
            ]}),
        ),
        "/apis/kustomize.toolkit.fluxcd.io/v1" => json_reply(
            200,
            json!({"kind": "APIResourceList", "resources": [
                {"name": "kustomizations", "singularName": "kustomization", "namespaced": true, "kind": "Kustomization", "verbs": ["get", "list", "patch"], "shortNames": ["ks"]}
            ]}),
        ),
        _ => status_reply(503, "ServiceUnavailable", "metrics-server is not ready"),
    });
    let client = client_with(&server.url, Duration::from_millis(1500));
    let ks = client
        .resolve(Some("kustomize.toolkit.fluxcd.io"), "ks")
        .expect("ks");
    assert_eq!(ks.api_version(), "kustomize.toolkit.fluxcd.io/v1");
    assert_eq!(ks.plural, "kustomizations");
    assert!(ks.namespaced);
    assert!(ks.supports("patch"));
    let d = client.discovery().expect("cached");
    assert_eq!(d.failures().len(), 1);
    assert_eq!(d.failures()[0].group_version, "metrics.k8s.io/v1beta1");
    assert_eq!(client.resolve(None, "po").expect("pod").kind, "Pod");
    // The cache served the second lookup: /api, /apis, and the three group versions (the
    // failing one retried on 503) were the only requests.
    let fetched: Vec<String> = server
        .seen()
        .into_iter()
        .map(|s| s.target)
        .filter(|t| !t.starts_with("/apis/metrics"))
        .collect();
    assert_eq!(fetched.len(), 4, "{fetched:?}");
    assert!(server.seen().iter().all(|s| s.method == "GET"));
    let accept = server
        .seen()
        .into_iter()
        .find(|s| s.target == "/apis")
        .and_then(|s| s.header("accept").map(str::to_string));
    assert!(accept.is_some_and(|a| a.starts_with("application/json;g=apidiscovery.k8s.io;v=v2")));
}

#[test]
fn a_refused_connection_names_the_server() {
    // Bind and drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = client(&url)
        .get(&pods(), "default", "a")
        .expect_err("refused");
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("cannot connect to {url}: connection refused (is the API server running?)")
    );
}

#[cfg(feature = "mutations")]
#[test]
fn mutations_send_the_right_method_content_type_and_query() {
    let server = Responder::start(|_, _| json_reply(200, pod("a")));
    let c = client(&server.url);
    let ks = Resource::new(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "kustomizations",
        true,
    );
    let deploy = Resource::new("apps/v1", "Deployment", "deployments", true);
    let merge = json!({"spec": {"suspend": true}});
    c.patch(
        &ks,
        "flux-system",
        "apps",
        PatchType::Merge,
        &merge,
        &PatchOptions::default(),
    )
    .expect("merge patch");
    c.patch(
        &ks,
        "flux-system",
        "apps",
        PatchType::Json,
        &json!([{"op": "remove", "path": "/metadata/finalizers"}]),
        &PatchOptions {
            dry_run: true,
            subresource: Some(Subresource::Status),
            ..PatchOptions::default()
        },
    )
    .expect("json patch");
    c.patch(
        &deploy,
        "apps",
        "web",
        PatchType::Strategic,
        &json!({"spec": {"replicas": 2}}),
        &PatchOptions {
            field_manager: "someone".into(),
            ..PatchOptions::default()
        },
    )
    .expect("strategic patch");
    c.apply(
        &ks,
        "flux-system",
        "apps",
        &json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1"}),
        &ApplyOptions {
            force: true,
            dry_run: true,
            ..ApplyOptions::default()
        },
    )
    .expect("apply");
    c.delete(
        &ks,
        "flux-system",
        "apps",
        &DeleteOptions {
            propagation: Some(Propagation::Background),
            ..DeleteOptions::default()
        },
    )
    .expect("delete");
    let seen = server.seen();
    let summary: Vec<(String, String, Option<String>)> = seen
        .iter()
        .map(|s| {
            (
                s.method.clone(),
                s.target.clone(),
                s.header("content-type").map(str::to_string),
            )
        })
        .collect();
    let path = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";
    assert_eq!(
        summary,
        [
            (
                "PATCH".into(),
                format!("{path}?fieldManager=flux-operator-mcp-patch"),
                Some("application/merge-patch+json".into())
            ),
            (
                "PATCH".into(),
                format!("{path}/status?fieldManager=flux-operator-mcp-patch&dryRun=All"),
                Some("application/json-patch+json".into())
            ),
            (
                "PATCH".into(),
                "/apis/apps/v1/namespaces/apps/deployments/web?fieldManager=someone".into(),
                Some("application/strategic-merge-patch+json".into())
            ),
            (
                "PATCH".into(),
                format!("{path}?fieldManager=flux-operator-mcp&force=true&dryRun=All"),
                Some("application/apply-patch+yaml".into())
            ),
            (
                "DELETE".into(),
                path.to_string(),
                Some("application/json".into())
            ),
        ]
    );
}

#[cfg(feature = "mutations")]
#[test]
fn delete_options_travel_in_the_body() {
    assert_eq!(
        delete_options_body(&DeleteOptions::default()),
        json!({"kind": "DeleteOptions", "apiVersion": "v1"})
    );
    let all = DeleteOptions {
        propagation: Some(Propagation::Foreground),
        dry_run: true,
        uid: Some("u-1".into()),
        resource_version: Some("42".into()),
    };
    assert_eq!(
        delete_options_body(&all),
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
               "dryRun": ["All"], "preconditions": {"uid": "u-1", "resourceVersion": "42"}})
    );
}

#[cfg(feature = "mutations")]
#[test]
fn a_mutation_is_never_sent_twice_after_a_broken_connection() {
    let server = Responder::start(|_, _| Reply::Drop);
    let ks = Resource::new(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "kustomizations",
        true,
    );
    let err = client(&server.url)
        .patch(
            &ks,
            "flux-system",
            "apps",
            PatchType::Merge,
            &json!({}),
            &PatchOptions::default(),
        )
        .expect_err("dropped");
    assert!(matches!(err, Error::Interrupted { .. }), "{err:?}");
    assert_eq!(server.seen().len(), 1);
}
