//! The fault matrix: every API fault the test API server can stage, times every tool that
//! reaches a cluster (taken from `tools/list`, arguments from `every_tool.rs`). Each case must
//! end in an `isError` result whose text names the fault, within `--timeout` plus a small
//! bound, sending only the verbs the tool may send; and the same server must then answer a
//! healthy call. Each pair runs twice in one `serve` process: cold (nothing cached, no pooled
//! connection) and warm (discovery cached and a connection pooled by the healthy call before;
//! for the two connection-level faults, staged by rewriting the kubeconfig, the rewrite drops
//! the client, so both runs start cold).
//!
//! `FAULTS_ONLY=Slow` runs one fault; `FAULTS_SHOW=1` prints every faulted answer and its time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::apiserver::{ApiServer, Fault as Injected, FaultKind, Identity, Options};
use crate::every_tool::{self, Listed};
use crate::support::{Mcp, command, scratch_dir};

/// `--timeout` of every `serve` here but the oversize cases'.
const TIMEOUT: Duration = Duration::from_secs(4);
/// `--timeout` for `Oversize`: a debug build on a loaded machine needs up to tens of seconds
/// to read 64 MiB (or parse a 16 MiB list item) before it can tell the body is too big; the
/// fault is the size, not the time.
const OVERSIZE_TIMEOUT: Duration = Duration::from_secs(60);
/// What a faulted call may take beyond `--timeout`: answering, process scheduling on a loaded
/// machine. A call that waited twice (two calls each with a whole budget) exceeds it.
const SLACK: Duration = Duration::from_millis(3500);
/// Bigger than any single body the client accepts (its cap is 64 MiB per object).
const OVERSIZE: u64 = 65 << 20;

/// The faults, each as a user meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Nothing listens on the server's port.
    Refused,
    /// The kubeconfig trusts another cluster's CA.
    WrongCa,
    Unauthorized,
    Forbidden,
    NotFound,
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    Internal,
    Unavailable,
    /// Every answer comes after `--timeout` plus eight seconds.
    Slow,
    Truncated,
    Reset,
    /// An SSH banner instead of HTTP.
    NotHttp,
    /// 200 with an HTML login page.
    NotJson,
    /// 200 with a valid JSON body beyond the client's cap.
    Oversize,
}

const FAULTS: &[Fault] = &[
    Fault::Refused,
    Fault::WrongCa,
    Fault::Unauthorized,
    Fault::Forbidden,
    Fault::NotFound,
    Fault::TooManyRequests,
    Fault::Internal,
    Fault::Unavailable,
    Fault::Slow,
    Fault::Truncated,
    Fault::Reset,
    Fault::NotHttp,
    Fault::NotJson,
    Fault::Oversize,
];

impl Fault {
    /// Words of which the error text must hold at least one (compared ignoring case).
    fn words(self) -> &'static [&'static str] {
        match self {
            Fault::Refused => &["connection refused"],
            Fault::WrongCa => &["not signed by the certificate authority"],
            Fault::Unauthorized => &["unauthorized"],
            Fault::Forbidden => &["forbidden"],
            Fault::NotFound => &["not found", "could not find"],
            Fault::TooManyRequests => &["toomanyrequests", "too many requests"],
            Fault::Internal => &["internalerror", "internal error"],
            // The last is the API server's own 503 message, which the metrics tool quotes.
            Fault::Unavailable => &[
                "serviceunavailable",
                "service unavailable",
                "unable to handle the request",
            ],
            Fault::Slow => &["timeout"],
            Fault::Truncated => &["ended early", "closed the connection"],
            Fault::Reset => &["connection reset"],
            Fault::NotHttp => &["invalid http response"],
            Fault::NotJson => &["invalid json"],
            Fault::Oversize => &["larger than"],
        }
    }

    /// The `--timeout` its `serve` runs with.
    fn timeout(self) -> Duration {
        match self {
            Fault::Oversize => OVERSIZE_TIMEOUT,
            _ => TIMEOUT,
        }
    }

    /// The test API server's fault for the HTTP-level cases.
    fn injected(self) -> Option<FaultKind> {
        Some(match self {
            Fault::Refused | Fault::WrongCa => return None,
            Fault::Unauthorized => FaultKind::Status(401),
            Fault::Forbidden => FaultKind::Status(403),
            Fault::NotFound => FaultKind::Status(404),
            Fault::TooManyRequests => FaultKind::TooManyRequests {
                retry_after_secs: 1,
            },
            Fault::Internal => FaultKind::Status(500),
            Fault::Unavailable => FaultKind::ServiceUnavailable { retry_after: None },
            Fault::Slow => FaultKind::Delay(TIMEOUT + Duration::from_secs(8)),
            Fault::Truncated => FaultKind::TruncatedBody,
            Fault::Reset => FaultKind::ConnectionReset,
            Fault::NotHttp => FaultKind::NotHttp,
            Fault::NotJson => FaultKind::NotJson,
            Fault::Oversize => FaultKind::Oversize { bytes: OVERSIZE },
        })
    }
}

/// One (fault, tool) pair's world: a test API server, the kubeconfig `serve` reads (rewritten
/// to break or heal the connection-level faults) and the server process.
struct Pair<'a> {
    fault: Fault,
    server: ApiServer,
    kubeconfig: std::path::PathBuf,
    good: String,
    /// The CA of another cluster, for `WrongCa`.
    other_ca: &'a str,
    mcp: Mcp,
}

/// The kubeconfig text, written under a new inode so the server sees the change at once.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).expect("write kubeconfig");
    std::fs::rename(&tmp, path).expect("rename kubeconfig");
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl Pair<'_> {
    fn break_it(&self) {
        match self.fault {
            Fault::Refused => {
                let url = format!("https://127.0.0.1:{}", closed_port());
                replace_file(
                    &self.kubeconfig,
                    &self.good.replace(&self.server.url(), &url),
                );
            }
            Fault::WrongCa => {
                use base64::Engine as _;
                let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
                let text = self
                    .good
                    .replace(&b64(self.server.ca_pem()), &b64(self.other_ca));
                assert_ne!(text, self.good, "the CA is in the kubeconfig");
                replace_file(&self.kubeconfig, &text);
            }
            other => {
                let kind = other.injected().expect("an HTTP fault");
                self.server.inject(Injected::new("/", kind).always());
            }
        }
    }

    fn heal(&self) {
        self.server.clear_faults();
        replace_file(&self.kubeconfig, &self.good);
    }
}

/// What went wrong in one case, for the report.
struct Failure {
    case: String,
    why: String,
}

/// What the cases of one pair came to.
#[derive(Default)]
struct Tally {
    tried: usize,
    /// Warm cases a tool answered from what it had cached, sending no request at all.
    cached: usize,
    failures: Vec<Failure>,
}

/// Runs one pair, cold then warm.
fn run_pair(fault: Fault, tool: &str, read_only: bool, other_ca: &str) -> Tally {
    let dir = scratch_dir(&format!("faults-{fault:?}-{tool}"));
    let server = ApiServer::start(every_tool::options());
    let kubeconfig = dir.join("kubeconfig");
    let good = server.kubeconfig(Identity::ClientCert);
    replace_file(&kubeconfig, &good);
    let timeout = format!("{}s", fault.timeout().as_secs());
    let mut mcp = Mcp::spawn(
        command()
            .args(["serve", "--timeout", &timeout])
            .env("KUBECONFIG", &kubeconfig),
    );
    mcp.handshake("2025-06-18");
    let mut pair = Pair {
        fault,
        server,
        kubeconfig,
        good,
        other_ca,
        mcp,
    };
    let entry = every_tool::entry(tool);
    let mut tally = Tally::default();
    for phase in ["cold", "warm"] {
        tally.tried += 1;
        let case = format!("{fault:?} x {tool} ({phase})");
        let mut failures = Vec::new();
        let mut fail = |why: String| {
            failures.push(Failure {
                case: case.clone(),
                why,
            })
        };
        pair.break_it();
        pair.server.clear_requests();
        let started = Instant::now();
        // Waits past the bound, so that a late answer is reported with its time.
        let (text, is_error) =
            pair.mcp
                .call_within(tool, (entry.ok)(), fault.timeout() + SLACK * 4);
        let took = started.elapsed();
        if std::env::var_os("FAULTS_SHOW").is_some() {
            eprintln!("{case}: {took:?} {is_error} {text}");
        }
        let requests = pair.server.requests();
        // A connection-level fault leaves no request in the log, whatever the tool did.
        let http_fault = fault.injected().is_some();
        if phase == "warm" && http_fault && requests.is_empty() && !is_error {
            // Answered from the discovery cached by the healthy call before: the fault was
            // never met (get_kubernetes_api_versions).
            tally.cached += 1;
        } else {
            if !is_error {
                fail(format!("answered without isError: {text}"));
            }
            let lower = text.to_lowercase();
            if !fault.words().iter().any(|w| lower.contains(w)) {
                fail(format!(
                    "the error names none of {:?}: {text}",
                    fault.words()
                ));
            }
        }
        let bound = fault.timeout() + SLACK;
        if took > bound {
            fail(format!(
                "took {took:?}, beyond --timeout + {SLACK:?}: {text}"
            ));
        }
        for r in requests {
            if !every_tool::allowed(entry, read_only, &r) {
                fail(format!("sent {} {}", r.method, r.path));
            }
        }
        pair.heal();
        let (text, is_error) = pair.mcp.call(tool, (entry.ok)());
        if is_error {
            fail(format!("the healthy call after the fault failed: {text}"));
        }
        tally.failures.extend(failures);
    }
    tally
}

#[test]
fn every_cluster_tool_names_every_fault_in_time_and_recovers() {
    let mut mcp = Mcp::serve(&[]);
    mcp.handshake("2025-06-18");
    let tools: Vec<Listed> = every_tool::listed(&mut mcp)
        .into_iter()
        .filter(|t| t.open_world)
        .collect();
    drop(mcp);
    assert!(tools.len() >= 5, "cluster tools: {}", tools.len());
    for t in &tools {
        every_tool::entry(&t.name);
    }
    // A CA that signed nothing the servers below present.
    let other = ApiServer::start(Options::default());
    let other_ca = other.ca_pem().to_string();
    drop(other);

    let mut queue: Vec<(Fault, &str, bool)> = Vec::new();
    let only = std::env::var("FAULTS_ONLY").unwrap_or_default();
    for fault in FAULTS
        .iter()
        .filter(|f| only.is_empty() || format!("{f:?}") == only)
    {
        for t in &tools {
            queue.push((*fault, t.name.as_str(), t.read_only));
        }
    }
    // Slow pairs first, so they overlap with the fast ones.
    queue.sort_by_key(|(f, _, _)| !matches!(f, Fault::Slow | Fault::TooManyRequests));
    let queue = Mutex::new(queue.into_iter());
    let results = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((fault, tool, read_only)) = next else {
                        break;
                    };
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        run_pair(fault, tool, read_only, &other_ca)
                    }));
                    let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                    match outcome {
                        Ok(tally) => {
                            r.tried += tally.tried;
                            r.cached += tally.cached;
                            r.failures.extend(tally.failures);
                        }
                        Err(panic) => {
                            r.tried += 2;
                            let why = panic
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            for phase in ["cold", "warm"] {
                                r.failures.push(Failure {
                                    case: format!("{fault:?} x {tool} ({phase})"),
                                    why: format!("panicked: {why}"),
                                });
                            }
                        }
                    }
                }
            });
        }
    });
    let tally = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let failed_cases: std::collections::BTreeSet<&str> =
        tally.failures.iter().map(|f| f.case.as_str()).collect();
    println!(
        "fault matrix: {} faults x {} cluster tools x cold/warm = {} cases tried, {} passed \
         ({} of them answered from a cache without meeting the fault)",
        FAULTS.len(),
        tools.len(),
        tally.tried,
        tally.tried - failed_cases.len(),
        tally.cached
    );
    let report: Vec<String> = tally
        .failures
        .iter()
        .map(|f| format!("{}: {}", f.case, f.why))
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}
