//! `make bench`, kube section: what connection reuse saves (sequential GETs over one client vs
//! a new client, hence a new TLS handshake, per GET) and what listing 10 000 objects costs in
//! time and peak memory against the raw JSON served. Memory is measured in child processes (this
//! binary re-executed with `--kube-list-child`), each reading its own `VmHWM` from /proc.

use std::io::Read;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flux_operator_mcp::kube::client::{Client, ClientOptions};
use flux_operator_mcp::kube::config::{
    AuthConfig, ClientCert, Connection, Impersonation, TlsSettings,
};
use flux_operator_mcp::kube::discovery::Resource;
use flux_operator_mcp::kube::list::ListOptions;
use flux_operator_mcp::kube::{NetworkEnv, Secret, SecretBytes};
use serde_json::{Value, json};

use crate::apiserver::{ApiServer, Options, Synthetic};
use crate::{median, ms};

const CHILD_FLAG: &str = "--kube-list-child";
const OBJECTS: usize = 10_000;
const PAGE: usize = 500;
const GETS: usize = 200;
const RUNS: usize = 3;
const NAMESPACE: &str = "bench";

fn kustomizations() -> Resource {
    Resource::new(
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "kustomizations",
        true,
    )
}

pub fn run() {
    let server = ApiServer::start(Options {
        synthetic: vec![Synthetic::new(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            NAMESPACE,
            OBJECTS,
        )],
        ..Options::default()
    });
    connection_reuse(&server);
    big_list(&server);
}

/// Run as the list child when re-executed with [`CHILD_FLAG`]; returns false otherwise.
pub fn child_main() -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) != Some(CHILD_FLAG) {
        return false;
    }
    let (Some(spec), Some(mode)) = (args.get(2), args.get(3)) else {
        eprintln!("usage: {CHILD_FLAG} SPEC.json stream|download|buffered");
        std::process::exit(2);
    };
    match list_child(Path::new(spec), mode) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("kube list child: {e}");
            std::process::exit(1);
        }
    }
    true
}

// ---- connection reuse ------------------------------------------------------------------------

fn connection(server: &ApiServer) -> Connection {
    Connection {
        context: "bench".into(),
        cluster: "bench".into(),
        user: "bench".into(),
        server: server.url(),
        namespace: "default".into(),
        tls: TlsSettings {
            ca_pem: Some(server.ca_pem().as_bytes().to_vec()),
            ..TlsSettings::default()
        },
        proxy_url: None,
        auth: AuthConfig {
            client_cert: Some(ClientCert {
                cert_pem: server.client_cert_pem().as_bytes().to_vec(),
                key_pem: SecretBytes::new(server.client_key_pem().as_bytes().to_vec()),
            }),
            ..AuthConfig::default()
        },
        impersonate: Impersonation::default(),
    }
}

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(60),
        env: NetworkEnv::default(),
    }
}

fn connection_reuse(server: &ApiServer) {
    let conn = connection(server);
    let ks = kustomizations();
    let get = |c: &Client| {
        if let Err(e) = c.get(&ks, "flux-system", "flux-system") {
            panic!("bench GET: {e}");
        }
    };
    let client = Client::new(&conn, options()).unwrap_or_else(|e| panic!("client: {e}"));
    get(&client); // the one handshake
    let mut pooled = Vec::with_capacity(GETS);
    for _ in 0..GETS {
        let t = Instant::now();
        get(&client);
        pooled.push(t.elapsed());
    }
    let mut fresh = Vec::with_capacity(GETS);
    for _ in 0..GETS {
        let t = Instant::now();
        let c = Client::new(&conn, options()).unwrap_or_else(|e| panic!("client: {e}"));
        get(&c);
        fresh.push(t.elapsed());
    }
    let (p_total, f_total) = (
        pooled.iter().sum::<Duration>(),
        fresh.iter().sum::<Duration>(),
    );
    let (p_med, f_med) = (median(&mut pooled), median(&mut fresh));
    println!(
        "kube: connection reuse, {GETS} sequential GETs of one Kustomization (mTLS, EC P-256 client key)"
    );
    println!(
        "  {:<34} {:>10} {:>10} {:>10} {:>10}",
        "", "median", "p90", "max", "total"
    );
    for (label, v, total) in [
        ("one client, pooled connection", &pooled, p_total),
        ("new client per GET (handshake)", &fresh, f_total),
    ] {
        println!(
            "  {:<34} {:>7.3} ms {:>7.3} ms {:>7.2} ms {:>7.1} ms",
            label,
            ms(v[v.len() / 2]),
            ms(v[v.len() * 9 / 10]),
            ms(v[v.len() - 1]),
            ms(total)
        );
    }
    println!(
        "  reuse saves {:.1}x per GET (median)",
        f_med.as_secs_f64() / p_med.as_secs_f64().max(1e-9)
    );
}

// ---- the big list ----------------------------------------------------------------------------

/// What one child run reports.
struct ChildReport {
    items: usize,
    elapsed: Duration,
    bytes: u64,
    largest_page: u64,
    rss_before_kb: u64,
    hwm_kb: u64,
}

fn big_list(server: &ApiServer) {
    let spec =
        std::env::temp_dir().join(format!("flux-mcp-bench-kube-{}.json", std::process::id()));
    let written = std::fs::write(
        &spec,
        json!({"server": server.url(), "ca": server.ca_pem(), "token": server.token()}).to_string(),
    );
    if let Err(e) = written {
        println!(
            "kube: list benchmark skipped: cannot write {}: {e}",
            spec.display()
        );
        return;
    }
    let best = |mode: &str| -> Option<ChildReport> {
        let mut runs: Vec<ChildReport> = (0..RUNS).filter_map(|_| child(&spec, mode)).collect();
        runs.sort_by_key(|r| r.elapsed);
        // The median run by time; memory is the same from run to run.
        (!runs.is_empty()).then(|| runs.swap_remove(runs.len() / 2))
    };
    let download = best("download");
    let stream = best("stream");
    let buffered = best("buffered");
    let _ = std::fs::remove_file(&spec);
    let (Some(download), Some(stream), Some(buffered)) = (download, stream, buffered) else {
        println!("kube: list benchmark failed (see the child errors above)");
        return;
    };
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "kube: listing {} Kustomizations ({} pages of {PAGE}; {:.1} MB of JSON served, largest page {:.2} MB; median of {RUNS} runs)",
        stream.items,
        OBJECTS.div_ceil(PAGE),
        mb(download.bytes),
        mb(download.largest_page)
    );
    println!(
        "  {:<38} {:>9} {:>10} {:>12}",
        "", "time", "peak RSS", "RSS growth"
    );
    for (label, r) in [
        ("download the bytes only (baseline)", &download),
        ("client.list, streaming items", &stream),
        ("naive: read page, parse to Value", &buffered),
    ] {
        println!(
            "  {:<38} {:>6.0} ms {:>7.1} MB {:>+9.1} MB",
            label,
            ms(r.elapsed),
            r.hwm_kb as f64 / 1024.0,
            r.hwm_kb.saturating_sub(r.rss_before_kb) as f64 / 1024.0
        );
    }
    let growth = stream.hwm_kb.saturating_sub(stream.rss_before_kb) * 1024;
    let memory_ratio = growth as f64 / download.largest_page.max(1) as f64;
    let time_ratio = stream.elapsed.as_secs_f64() / download.elapsed.as_secs_f64().max(1e-9);
    println!(
        "  goal: streaming RSS growth < 3x the largest page: {:.2}x {}",
        memory_ratio,
        verdict(memory_ratio < 3.0)
    );
    println!(
        "  goal: streaming time < 1.5x the download: {:.2}x {}",
        time_ratio,
        verdict(time_ratio < 1.5)
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "(met)" } else { "(MISSED)" }
}

fn child(spec: &Path, mode: &str) -> Option<ChildReport> {
    let exe = std::env::current_exe().ok()?;
    let out = match Command::new(exe)
        .arg(CHILD_FLAG)
        .arg(spec)
        .arg(mode)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            println!("kube: cannot run the list child: {e}");
            return None;
        }
    };
    if !out.status.success() {
        println!(
            "kube: list child ({mode}) failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    Some(ChildReport {
        items: n("items") as usize,
        elapsed: Duration::from_micros(n("micros")),
        bytes: n("bytes"),
        largest_page: n("largest_page"),
        rss_before_kb: n("rss_before_kb"),
        hwm_kb: n("hwm_kb"),
    })
}

/// `VmRSS` / `VmHWM` of this process, in kB.
fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn list_child(spec: &Path, mode: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let field = |k: &str| spec[k].as_str().unwrap_or_default().to_string();
    let (server, ca, token) = (field("server"), field("ca"), field("token"));
    let result = match mode {
        "stream" => stream_child(&server, &ca, &token)?,
        "download" | "buffered" => raw_child(&server, &ca, &token, mode == "buffered")?,
        other => return Err(format!("unknown mode {other:?}")),
    };
    Ok(json!({
        "items": result.items,
        "micros": result.elapsed.as_micros() as u64,
        "bytes": result.bytes,
        "largest_page": result.largest_page,
        "rss_before_kb": result.rss_before_kb,
        "hwm_kb": proc_status_kb("VmHWM:"),
    })
    .to_string())
}

fn stream_child(server: &str, ca: &str, token: &str) -> Result<ChildReport, String> {
    let conn = Connection {
        context: "bench".into(),
        cluster: "bench".into(),
        user: "bench".into(),
        server: server.into(),
        namespace: "default".into(),
        tls: TlsSettings {
            ca_pem: Some(ca.as_bytes().to_vec()),
            ..TlsSettings::default()
        },
        proxy_url: None,
        auth: AuthConfig {
            token: Some(Secret::new(token)),
            ..AuthConfig::default()
        },
        impersonate: Impersonation::default(),
    };
    let client = Client::new(&conn, options()).map_err(|e| e.to_string())?;
    // Warm up: connection, TLS session and allocator, so the baseline is the steady state.
    client
        .get(&kustomizations(), NAMESPACE, "kustomization-00000")
        .map_err(|e| e.to_string())?;
    let rss_before_kb = proc_status_kb("VmRSS:");
    let started = Instant::now();
    let mut names = 0usize;
    let options = ListOptions {
        namespace: Some(NAMESPACE.into()),
        page_size: Some(PAGE),
        ..ListOptions::default()
    };
    let info = client
        .list(&kustomizations(), &options, |item| {
            // Touch each object the way a tool would.
            names += item["metadata"]["name"].as_str().map_or(0, str::len);
            ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    if names == 0 {
        return Err("no names read".into());
    }
    Ok(ChildReport {
        items: info.items,
        elapsed,
        bytes: 0,
        largest_page: 0,
        rss_before_kb,
        hwm_kb: 0,
    })
}

/// Pages fetched with a bare ureq agent over the same TLS stack: `parse = false` only reads the
/// bytes (the floor any client pays); `parse = true` reads each page whole and parses it into a
/// `Value`, the two-copies approach the streaming list avoids.
fn raw_child(server: &str, ca: &str, token: &str, parse: bool) -> Result<ChildReport, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
    let certs: Vec<_> = parse_pem(ca.as_bytes())
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = TlsConfig::builder()
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .root_certs(RootCerts::new_with_certs(&certs))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(None)
        .http_status_as_error(true)
        .build()
        .new_agent();
    let base = format!(
        "{server}/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{NAMESPACE}/kustomizations"
    );
    let fetch = |url: &str| -> Result<Vec<u8>, String> {
        let resp = agent
            .get(url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json")
            .call()
            .map_err(|e| e.to_string())?;
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .read_to_end(&mut body)
            .map_err(|e| e.to_string())?;
        Ok(body)
    };
    fetch(&format!("{base}/kustomization-00000"))?;
    let rss_before_kb = proc_status_kb("VmRSS:");
    let started = Instant::now();
    let (mut bytes, mut largest, mut items) = (0u64, 0u64, 0usize);
    let mut token_param: Option<String> = None;
    loop {
        let url = match &token_param {
            None => format!("{base}?limit={PAGE}"),
            Some(t) => format!("{base}?limit={PAGE}&continue={}", encode(t)),
        };
        let page = fetch(&url)?;
        bytes += page.len() as u64;
        largest = largest.max(page.len() as u64);
        if parse {
            let v: Value = serde_json::from_slice(&page).map_err(|e| e.to_string())?;
            items += v["items"].as_array().map_or(0, Vec::len);
        }
        token_param = continue_token(&page);
        if token_param.is_none() {
            break;
        }
    }
    Ok(ChildReport {
        items,
        elapsed: started.elapsed(),
        bytes,
        largest_page: largest,
        rss_before_kb,
        hwm_kb: 0,
    })
}

/// The `continue` token from a page's metadata without parsing the page: the API server writes
/// `metadata` before `items`, so it is in the first bytes.
fn continue_token(page: &[u8]) -> Option<String> {
    let head = &page[..page.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let start = text.find("\"continue\":\"")? + "\"continue\":\"".len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_string()).filter(|t| !t.is_empty())
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
