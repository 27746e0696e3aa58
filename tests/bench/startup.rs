//! Benchmarks: start-up and protocol latency of the real binary over pipes — spawn to
//! `initialize` answered, `tools/list` round trip, peak RSS — and the static binary's size.
//! Measures the static musl binary when `make static` built it (what users install), else the
//! release binary cargo built for the bench.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

const SPAWNS: usize = 50;
const LIST_ROUNDS: usize = 500;

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;

struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Server {
    fn spawn(bin: &Path) -> Server {
        let mut child = Command::new(bin)
            .arg("serve")
            .env_clear()
            .env("HOME", "/nonexistent-home-for-bench")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Server {
            child,
            stdin,
            stdout,
            line: String::new(),
        }
    }

    /// Send one line, read one line back.
    fn round_trip(&mut self, request: &str) -> &str {
        self.stdin.write_all(request.as_bytes()).expect("write");
        self.stdin.write_all(b"\n").expect("write");
        self.stdin.flush().expect("flush");
        self.line.clear();
        self.stdout.read_line(&mut self.line).expect("read");
        assert!(self.line.contains("\"result\""), "{}", self.line);
        &self.line
    }

    /// Peak resident set (VmHWM) in KiB, from /proc.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn close(mut self) {
        drop(self.stdin);
        let status = self.child.wait().expect("wait");
        assert!(status.success(), "server exit: {status}");
    }
}

fn median_and_p90(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

pub fn run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let static_bin = root.join(crate::STATIC_BIN);
    let bin: PathBuf = crate::shipped_binary();
    println!("startup: measuring {}", bin.display());

    Server::spawn(&bin).close(); // warm the page cache
    let mut init = Vec::with_capacity(SPAWNS);
    for _ in 0..SPAWNS {
        let started = Instant::now();
        let mut server = Server::spawn(&bin);
        server.round_trip(INITIALIZE);
        init.push(started.elapsed().as_secs_f64() * 1000.0);
        server.close();
    }
    let (median, p90) = median_and_p90(init);
    println!(
        "startup: spawn -> initialize answered  median {median:.2} ms, p90 {p90:.2} ms ({SPAWNS} spawns; target <= 3 ms)"
    );

    let mut server = Server::spawn(&bin);
    server.round_trip(INITIALIZE);
    let mut list = Vec::with_capacity(LIST_ROUNDS);
    let mut tools = 0;
    for i in 0..LIST_ROUNDS {
        let request = format!(
            r#"{{"jsonrpc":"2.0","id":{},"method":"tools/list"}}"#,
            i + 1
        );
        let started = Instant::now();
        let reply = server.round_trip(&request);
        list.push(started.elapsed().as_secs_f64() * 1000.0);
        tools = reply.matches("\"inputSchema\"").count();
    }
    let (median, p90) = median_and_p90(list);
    println!(
        "startup: tools/list round trip         median {median:.3} ms, p90 {p90:.3} ms ({LIST_ROUNDS} requests, {tools} tools; target <= 0.5 ms)"
    );
    match server.peak_rss_kib() {
        Some(kib) => println!(
            "startup: peak RSS (VmHWM)             {:.2} MB after {} requests (target <= 5 MB)",
            kib as f64 * 1024.0 / 1e6,
            LIST_ROUNDS + 1
        ),
        None => println!("startup: peak RSS unavailable (no /proc)"),
    }
    server.close();

    match std::fs::metadata(&static_bin) {
        Ok(m) => println!(
            "startup: static binary size            {} bytes ({:.2} MiB; target <= 4 MB)",
            m.len(),
            m.len() as f64 / 1_048_576.0
        ),
        Err(_) => println!("startup: static binary not built (run make static)"),
    }
}
