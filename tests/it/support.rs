//! Helpers shared by the integration tests: the binary under test with a cleared environment,
//! a tool-call client for it against the test API server, and an expected/got diff that is
//! readable when a golden comparison fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Identity, Options};

/// The binary cargo built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flux-operator-mcp"))
}

/// The repository's `testdata/` folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A command for the binary with a hermetic environment: no KUBECONFIG, no HOME/.kube, no
/// proxies, no in-cluster variables; only PATH survives.
pub fn command() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", "/nonexistent-home-for-tests");
    cmd
}

/// Assert two texts are equal; on failure print a line diff instead of two walls of text.
#[track_caller]
pub fn assert_text_eq(expected: &str, got: &str) {
    if expected == got {
        return;
    }
    let mut report = String::new();
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    for i in 0..e.len().max(g.len()) {
        match (e.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                report.push_str(&format!(
                    "line {}:\n  expected: {:?}\n  got:      {:?}\n",
                    i + 1,
                    a,
                    b
                ));
            }
        }
    }
    panic!("texts differ\n{report}");
}

/// Compare `got` with the golden file `testdata/golden/<name>`; `UPDATE_GOLDEN=1` rewrites it.
#[track_caller]
pub fn golden(name: &str, got: &str) {
    let path = testdata().join("golden").join(name);
    let update = update_golden(std::env::var_os("UPDATE_GOLDEN").as_deref());
    golden_at(&path, got, update);
}

/// Whether `UPDATE_GOLDEN` (its value, if set) asks for golden files to be rewritten: only
/// `1` does, so `UPDATE_GOLDEN=0` or an empty value left in a shell compares as usual.
pub fn update_golden(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| v == "1")
}

/// Compare `got` with the file at `path`, or rewrite the file when `update`.
#[track_caller]
pub fn golden_at(path: &Path, got: &str, update: bool) {
    if update {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create golden dir");
        }
        std::fs::write(path, got).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_text_eq(&expected, got);
}

/// A running `flux-operator-mcp serve` spoken to over pipes. Stdout lines arrive on a channel
/// read by a thread, so every wait has a deadline; the process is killed if a test panics.
pub struct Mcp {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// The id of the next `tools/call` request.
    next_id: i64,
}

/// How long any single expected answer may take before the test fails.
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

impl Mcp {
    /// `serve` plus `args`, hermetic environment.
    pub fn serve(args: &[&str]) -> Mcp {
        Mcp::spawn(command().arg("serve").args(args))
    }

    pub fn spawn(cmd: &mut Command) -> Mcp {
        use std::io::{BufRead, Read};
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn flux-operator-mcp");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Mcp {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr: Some(stderr),
            next_id: 1,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Write raw bytes to the server's stdin.
    pub fn write(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(bytes).expect("write to server stdin");
        stdin.flush().expect("flush server stdin");
    }

    /// Send one message as a line.
    pub fn send(&mut self, message: &serde_json::Value) {
        let mut line = serde_json::to_vec(message).expect("serialise");
        line.push(b'\n');
        self.write(&line);
    }

    /// The next stdout line, parsed; panics after [`DEADLINE`].
    #[track_caller]
    pub fn recv(&self) -> serde_json::Value {
        self.recv_within(DEADLINE)
    }

    /// The next stdout line, parsed; panics after `deadline`.
    #[track_caller]
    pub fn recv_within(&self, deadline: std::time::Duration) -> serde_json::Value {
        match self.lines.recv_timeout(deadline) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}")),
            Err(e) => panic!("no message from the server: {e}"),
        }
    }

    /// Send a request and return its response, checking the id is echoed.
    #[track_caller]
    pub fn request(
        &mut self,
        id: serde_json::Value,
        method: &str,
        params: serde_json::Value,
    ) -> serde_json::Value {
        self.send(
            &serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        );
        let response = self.recv();
        assert_eq!(response["id"], id, "response to {method}: {response}");
        response
    }

    /// `initialize` + `notifications/initialized`, returning the initialize result.
    pub fn handshake(&mut self, version: &str) -> serde_json::Value {
        let r = self.request(
            serde_json::json!(0),
            "initialize",
            serde_json::json!({
                "protocolVersion": version,
                "capabilities": {},
                "clientInfo": {"name": "it", "version": "1"},
            }),
        );
        self.send(&serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        r["result"].clone()
    }

    /// Call a tool; returns the text of its result and whether it is an error result.
    #[track_caller]
    pub fn call(&mut self, tool: &str, args: Value) -> (String, bool) {
        self.call_within(tool, args, DEADLINE)
    }

    /// [`Mcp::call`] for a call that may take longer than [`DEADLINE`].
    #[track_caller]
    pub fn call_within(
        &mut self,
        tool: &str,
        args: Value,
        deadline: std::time::Duration,
    ) -> (String, bool) {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": tool, "arguments": args}}));
        let r = self.recv_within(deadline);
        assert_eq!(r["id"], json!(id), "response to tools/call {tool}: {r}");
        let result = &r["result"];
        assert!(result.is_object(), "tools/call {tool}: {r}");
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text content: {r}"))
            .to_string();
        (text, result["isError"] == json!(true))
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Wait for stdout to close (the process is exiting), then reap it. Returns the exit
    /// status, every stdout line still unread, and stderr.
    #[track_caller]
    pub fn finish(mut self) -> (std::process::ExitStatus, Vec<String>, String) {
        self.close_stdin();
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(DEADLINE) {
                Ok(line) => rest.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("the server did not close stdout: {e}"),
            }
        }
        let status = self.child.wait().expect("wait for the server");
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, rest, stderr)
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One `serve` process talking to one test API server through `<dir>/kubeconfig` (named by
/// `KUBECONFIG`, as an MCP client's server config does), in a scratch dir of its own.
pub struct Session {
    pub server: ApiServer,
    pub mcp: Mcp,
    pub dir: PathBuf,
}

impl Session {
    /// Start the server with `options`, write a kubeconfig for `identity` into
    /// `scratch_dir(dir)`, spawn `serve` with `flags` and complete the handshake.
    pub fn start(dir: &str, options: Options, identity: Identity, flags: &[&str]) -> Session {
        let dir = scratch_dir(dir);
        let server = ApiServer::start(options);
        let kubeconfig = dir.join("kubeconfig");
        server
            .write_kubeconfig(&kubeconfig, identity)
            .expect("write kubeconfig");
        let mut mcp = Mcp::spawn(
            command()
                .arg("serve")
                .args(flags)
                .env("KUBECONFIG", &kubeconfig),
        );
        mcp.handshake("2025-06-18");
        Session { server, mcp, dir }
    }

    /// The text of a tool result and whether it is an error.
    #[track_caller]
    pub fn call(&mut self, tool: &str, args: Value) -> (String, bool) {
        self.mcp.call(tool, args)
    }

    /// The text of a call that must succeed.
    #[track_caller]
    pub fn ok(&mut self, tool: &str, args: Value) -> String {
        let (text, is_error) = self.call(tool, args.clone());
        assert!(!is_error, "{tool} {args} failed: {text}");
        text
    }

    /// The text of a call that must fail.
    #[track_caller]
    pub fn err(&mut self, tool: &str, args: Value) -> String {
        let (text, is_error) = self.call(tool, args.clone());
        assert!(is_error, "{tool} {args} should fail, got: {text}");
        text
    }
}

/// A fresh, empty directory for one test (under the target dir, removed first if it exists).
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Copy the folder `from` into `to` (created if missing), recursively. `fs::copy` keeps each
/// file's permissions, so a copied credential plugin stays executable.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// `testdata/cluster` without the Flux Operator (its objects, CRDs and Deployment removed), as
/// `flux install` leaves a cluster, written to `<dir>/cluster`; without the controllers too
/// unless `keep_controllers`: no Flux at all.
pub fn cluster_without_operator(dir: &Path, keep_controllers: bool) -> PathBuf {
    let data = dir.join("cluster");
    std::fs::create_dir_all(&data).expect("data dir");
    let source = testdata().join("cluster");
    for entry in std::fs::read_dir(&source).expect("read testdata/cluster") {
        let path = entry.expect("entry").path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !file.ends_with(".yaml") || file == "flux-operator.yaml" {
            continue;
        }
        if !keep_controllers
            && !matches!(
                file,
                "00-namespaces.yaml" | "00-crds.yaml" | "configmaps.yaml"
            )
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read data file");
        let kept: Vec<&str> = text
            .split("\n---\n")
            .filter(|doc| {
                !doc.contains("group: fluxcd.controlplane.io")
                    && !doc.contains("app.kubernetes.io/name: flux-operator")
            })
            .collect();
        std::fs::write(data.join(file), kept.join("\n---\n")).expect("write data file");
    }
    data
}

/// xorshift64*: a small deterministic generator, so a randomised test feeds the same input on
/// every run and a failure names a reproducible case.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// JSON pointers (RFC 6901) to every value below the root of `v`, parents before children.
pub fn json_pointers(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        let children: Vec<(String, &serde_json::Value)> = match v {
            serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            _ => return,
        };
        for (key, child) in children {
            let pointer = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
            out.push(pointer.clone());
            walk(child, &pointer, out);
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out
}

#[test]
fn only_update_golden_1_rewrites_golden_files() {
    use std::ffi::OsStr;
    for (value, update) in [
        (None, false),
        (Some(""), false),
        (Some("0"), false),
        (Some("false"), false),
        (Some("yes"), false),
        (Some(" 1"), false),
        (Some("1"), true),
    ] {
        assert_eq!(update_golden(value.map(OsStr::new)), update, "{value:?}");
    }
    let dir = scratch_dir("support-golden");
    let path = dir.join("nested").join("answer.txt");
    golden_at(&path, "first\n", true);
    assert_eq!(std::fs::read_to_string(&path).expect("written"), "first\n");
    golden_at(&path, "first\n", false);
    // A difference without `update` fails and leaves the file as it was.
    let differs = std::panic::catch_unwind(|| golden_at(&path, "second\n", false));
    assert!(differs.is_err(), "a difference must fail");
    assert_eq!(std::fs::read_to_string(&path).expect("kept"), "first\n");
    golden_at(&path, "second\n", true);
    assert_eq!(
        std::fs::read_to_string(&path).expect("rewritten"),
        "second\n"
    );
}
