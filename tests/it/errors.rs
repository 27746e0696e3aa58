//! Errors written for the reader who gets them (issue 14, item 5): a tool error tells the agent
//! what it can do or what to ask the user (who owns the server's flags, environment and
//! credentials); `check` tells the human which flag to pass. Each case through the real binary:
//! a literal `~`/`$HOME` in KUBECONFIG, a rejected `--kube-token`, a plain-HTTP port behind an
//! `https://` URL, a proxy setting that points at a TLS port, a hung API server, an exec plugin
//! that fails (its context named once).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

use serde_json::{Value, json};

use crate::apiserver::{Auth, Identity, Options};
use crate::support::{self, Mcp, Session};

/// `serve` with `env` (hermetic otherwise) and `flags`, handshake done.
fn serve_with(env: &[(&str, &str)], flags: &[&str]) -> Mcp {
    let mut cmd = support::command();
    cmd.arg("serve").args(flags);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut mcp = Mcp::spawn(&mut cmd);
    mcp.handshake("2025-06-18");
    mcp
}

/// The error text of a call that must fail.
fn error(mcp: &mut Mcp, tool: &str, args: Value) -> String {
    let (text, is_error) = mcp.call(tool, args);
    assert!(is_error, "{tool} should fail, got: {text}");
    text
}

/// A kubeconfig for one cluster at `server` with a token user, written to `dir`.
fn kubeconfig(dir: &Path, server: &str, extra_cluster: &str, user: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    \
             server: {server}\n    insecure-skip-tls-verify: true\n{extra_cluster}users:\n- name: u\n  \
             user:\n{user}contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n"
        ),
    )
    .expect("write kubeconfig");
    path.display().to_string()
}

#[test]
fn a_literal_home_in_kubeconfig_is_explained_to_agent_and_human() {
    for literal in ["~/.kube/config", "$HOME/.kube/config"] {
        let mut mcp = serve_with(&[("KUBECONFIG", literal)], &[]);
        let err = error(&mut mcp, "get_kubernetes_resources", json!({"kind": "Pod"}));
        assert!(
            err.contains(&format!("{literal:?} is taken literally")),
            "{err}"
        );
        assert!(
            err.contains("ask the user to write the kubeconfig's absolute path"),
            "{err}"
        );
        assert!(
            !err.contains("pass --kubeconfig"),
            "the agent cannot: {err}"
        );
        // The human running `check` is told which flag or variable to set.
        let out = support::command()
            .arg("check")
            .env("KUBECONFIG", literal)
            .output()
            .expect("run check");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{text}");
        assert!(
            text.contains("FIX: write the kubeconfig's absolute path"),
            "{text}"
        );
        assert_eq!(text.matches("is taken literally").count(), 1, "{text}");
    }
    // No kubeconfig at all: the agent is told what to ask, once, with no run-on advice.
    let mut mcp = serve_with(&[("KUBECONFIG", "/nonexistent/kubeconfig")], &[]);
    let err = error(&mut mcp, "get_flux_instance", json!({}));
    assert_eq!(
        err,
        "cannot load the kubeconfig: no kubeconfig found: looked at $KUBECONFIG, \
         /nonexistent/kubeconfig (not found), in-cluster (KUBERNETES_SERVICE_HOST not set); ask \
         the user to set KUBECONFIG in the MCP \
         server's env (the `env` block of its entry in the MCP client's configuration) to the \
         kubeconfig's absolute path, or to add --kubeconfig PATH to its args"
    );
}

#[test]
fn a_rejected_kube_token_is_named_as_the_flags() {
    let options = Options {
        auth: Auth::Token,
        ..Options::default()
    };
    let mut s = Session::start(
        "errors-kube-token",
        options,
        Identity::Token,
        &["--kube-token", "not-the-token"],
    );
    let err = s.err("get_kubernetes_resources", json!({"kind": "Pod"}));
    assert!(
        err.contains("the API server rejected the bearer token given with --kube-token"),
        "{err}"
    );
    assert!(!err.contains("credentials of user"), "{err}");
    // `check` says the same to the human, with the flag.
    let out = support::command()
        .args(["check", "--kube-token", "not-the-token"])
        .env("KUBECONFIG", s.dir.join("kubeconfig"))
        .output()
        .expect("run check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FIX: the API server rejected the token given with --kube-token"),
        "{text}"
    );
}

/// A listener that answers every connection with a plain-HTTP 400 (a plain-HTTP port behind
/// an `https://` URL).
fn plain_http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    port
}

#[test]
fn faults_a_retry_cannot_fix_do_not_say_retry() {
    let dir = support::scratch_dir("errors-not-retry");
    let port = plain_http_server();
    let kc = kubeconfig(
        &dir,
        &format!("https://127.0.0.1:{port}"),
        "",
        "    token: abc\n",
    );
    let mut mcp = serve_with(&[("KUBECONFIG", &kc)], &["--timeout", "10s"]);
    let err = error(&mut mcp, "get_kubernetes_resources", json!({"kind": "Pod"}));
    assert!(err.contains("does not speak TLS"), "{err}");
    assert!(!err.contains("retry the call"), "{err}");

    // A proxy setting that points at a TLS port (the API server's own, here).
    let mut s = Session::start(
        "errors-proxy-tls",
        Options::default(),
        Identity::ClientCert,
        &[],
    );
    let kc_path = s.dir.join("kubeconfig");
    let mut kc: Value =
        serde_norway::from_str(&std::fs::read_to_string(&kc_path).expect("read")).expect("yaml");
    kc["clusters"][0]["cluster"]["proxy-url"] = json!(s.server.url().replace("https", "http"));
    std::fs::write(&kc_path, serde_norway::to_string(&kc).expect("yaml")).expect("write");
    let err = s.err("get_kubernetes_resources", json!({"kind": "Pod"}));
    // The API server either answers the CONNECT with a TLS alert (not HTTP) or closes.
    assert!(
        err.contains("did not answer as an HTTP proxy") || err.contains("may point at a TLS port"),
        "{err}"
    );
    assert!(!err.contains("retry the call"), "{err}");
}

#[test]
fn a_hung_api_server_is_not_told_to_narrow_the_query() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Accepts and never answers; the connections are kept open until the test ends.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = support::scratch_dir("errors-hung");
    let kc = kubeconfig(
        &dir,
        &format!("https://127.0.0.1:{port}"),
        "",
        "    token: abc\n",
    );
    let mut mcp = serve_with(&[("KUBECONFIG", &kc)], &["--timeout", "1s"]);
    let err = error(&mut mcp, "get_flux_instance", json!({}));
    assert!(err.contains("did not answer in time"), "{err}");
    assert!(err.contains("raise --timeout"), "{err}");
    assert!(!err.contains("narrow"), "{err}");
}

#[test]
fn a_failing_exec_plugin_names_its_context_once() {
    let dir = support::scratch_dir("errors-exec");
    let kc = kubeconfig(
        &dir,
        "https://127.0.0.1:1",
        "",
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false\n      \
         interactiveMode: Never\n",
    );
    let mut mcp = serve_with(&[("KUBECONFIG", &kc)], &[]);
    let err = error(&mut mcp, "get_kubernetes_resources", json!({"kind": "Pod"}));
    assert!(
        err.starts_with("context \"c\": exec plugin \"/bin/false\""),
        "{err}"
    );
    assert_eq!(err.matches("context").count(), 1, "{err}");
}
