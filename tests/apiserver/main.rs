//! The test API server as a standalone process (`cargo run --example test-apiserver -- --help`),
//! for the kubectl fidelity checks, benchmarks and the Python end-to-end test: prints its URL on
//! one line when ready, then serves until killed.
#[path = "mod.rs"]
#[allow(dead_code)]
mod apiserver;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use apiserver::{
    ApiServer, Controller, Deny, Identity, KeyType, Options, Outcome, Synthetic, Target,
};

const HELP: &str = "\
test-apiserver: a Kubernetes API server for tests (HTTPS on 127.0.0.1, objects from YAML files)

USAGE: test-apiserver [OPTIONS]

OPTIONS:
  --data DIR               objects to serve (default: testdata/cluster of this repository)
  --port N                 port to listen on (default: 0, a free port)
  --kubeconfig-out PATH    write a kubeconfig for this server (CA and credentials inline)
  --identity WHO           who that kubeconfig authenticates as: cert (default), cert-rsa, token
  --synthetic SPEC         add generated objects: apiVersion/Kind=N[@namespace], e.g.
                           kustomize.toolkit.fluxcd.io/v1/Kustomization=1000@bench (repeatable)
  --deny RULE              refuse requests with a 403: verb:group:resource[:namespace],
                           e.g. list::secrets:flux-system (repeatable)
  --no-metrics             serve no metrics.k8s.io (metrics-server absent)
  --metrics-unavailable    metrics.k8s.io registered but not answering (metrics-server down)
  --key-type TYPE          p256 (default), p384 or rsa
  --max-page-size N        serve at most N items per list page when a limit is given
  --ipv6                   listen on [::1]
  --dns-only-san           the server certificate names only apiserver.flux-test.internal
  --controller DELAY       run the simulated Flux controller, answering reconcile requests after
                           DELAY (e.g. 300ms, 2s): Ready condition, lastHandledReconcileAt, events
  --controller-outcome SPEC
                           what the controller makes of one object:
                           Kind/namespace/name=keep|stall|ready:REASON:MESSAGE|fail:REASON:MESSAGE
                           (namespace empty for cluster-scoped kinds; repeatable)
  --latency DELAY          hold every response this long before writing it (e.g. 50ms), like
                           an API server behind a VPN or a cloud load balancer
  -h, --help               print this help

Prints `https://127.0.0.1:PORT` on stdout when ready; runs until killed.
";

fn parse_synthetic(spec: &str) -> Result<Synthetic, String> {
    let (target, rest) = spec
        .split_once('=')
        .ok_or_else(|| format!("--synthetic {spec:?}: expected apiVersion/Kind=N[@namespace]"))?;
    let (count, namespace) = rest.split_once('@').unwrap_or((rest, "default"));
    let count: usize = count
        .parse()
        .map_err(|_| format!("--synthetic {spec:?}: {count:?} is not a count"))?;
    let (api_version, kind) = target
        .rsplit_once('/')
        .ok_or_else(|| format!("--synthetic {spec:?}: expected apiVersion/Kind before '='"))?;
    Ok(Synthetic::new(api_version, kind, namespace, count))
}

fn parse_deny(rule: &str) -> Result<Deny, String> {
    let parts: Vec<&str> = rule.split(':').collect();
    match parts.as_slice() {
        [verb, group, resource] => Ok(Deny::new(verb, group, resource)),
        [verb, group, resource, ns] => Ok(Deny::new(verb, group, resource).in_namespace(ns)),
        _ => Err(format!(
            "--deny {rule:?}: expected verb:group:resource[:namespace]"
        )),
    }
}

/// `300ms`, `2s`, `1.5s`, `0`, for `flag`.
fn parse_delay(flag: &str, v: &str) -> Result<Duration, String> {
    let bad = || format!("{flag}: {v:?} is not a delay like 300ms or 2s");
    if v == "0" {
        return Ok(Duration::ZERO);
    }
    if let Some(ms) = v.strip_suffix("ms") {
        return ms
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| bad());
    }
    let s = v.strip_suffix('s').ok_or_else(bad)?;
    let secs: f64 = s.parse().map_err(|_| bad())?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn parse_outcome(spec: &str) -> Result<(Target, Outcome), String> {
    let bad = || {
        format!(
            "--controller-outcome {spec:?}: expected Kind/namespace/name=keep|stall|ready:REASON:MESSAGE|fail:REASON:MESSAGE"
        )
    };
    let (target, outcome) = spec.split_once('=').ok_or_else(bad)?;
    let parts: Vec<&str> = target.split('/').collect();
    let [kind, namespace, name] = parts.as_slice() else {
        return Err(bad());
    };
    let outcome = match outcome.splitn(3, ':').collect::<Vec<_>>().as_slice() {
        ["keep"] => Outcome::Keep,
        ["stall"] => Outcome::Stall,
        ["ready", reason, message] => Outcome::ready(reason, message),
        ["fail", reason, message] => Outcome::fail(reason, message),
        _ => return Err(bad()),
    };
    Ok((Target::new(kind, namespace, name), outcome))
}

fn run() -> Result<(), String> {
    use lexopt::prelude::*;
    let mut options = Options::default();
    let mut kubeconfig_out: Option<PathBuf> = None;
    let mut identity = Identity::ClientCert;
    let mut parser = lexopt::Parser::from_env();
    let value = |p: &mut lexopt::Parser, flag: &str| -> Result<String, String> {
        p.value()
            .map_err(|e| format!("{flag}: {e}"))?
            .into_string()
            .map_err(|v| format!("{flag}: {v:?} is not UTF-8"))
    };
    while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
        match arg {
            Long("data") => options.data_dir = PathBuf::from(value(&mut parser, "--data")?),
            Long("port") => {
                let v = value(&mut parser, "--port")?;
                options.port = v
                    .parse()
                    .map_err(|_| format!("--port: {v:?} is not a port"))?;
            }
            Long("kubeconfig-out") => {
                kubeconfig_out = Some(PathBuf::from(value(&mut parser, "--kubeconfig-out")?));
            }
            Long("identity") => {
                identity = match value(&mut parser, "--identity")?.as_str() {
                    "cert" => Identity::ClientCert,
                    "cert-rsa" => Identity::ClientCertRsa,
                    "token" => Identity::Token,
                    other => {
                        return Err(format!(
                            "--identity: {other:?} is not cert, cert-rsa or token"
                        ));
                    }
                }
            }
            Long("synthetic") => options
                .synthetic
                .push(parse_synthetic(&value(&mut parser, "--synthetic")?)?),
            Long("deny") => options
                .deny
                .push(parse_deny(&value(&mut parser, "--deny")?)?),
            Long("no-metrics") => options.no_metrics = true,
            Long("metrics-unavailable") => options.metrics_unavailable = true,
            Long("key-type") => {
                options.key_type = match value(&mut parser, "--key-type")?.as_str() {
                    "p256" => KeyType::EcP256,
                    "p384" => KeyType::EcP384,
                    "rsa" => KeyType::Rsa,
                    other => return Err(format!("--key-type: {other:?} is not p256, p384 or rsa")),
                }
            }
            Long("max-page-size") => {
                let v = value(&mut parser, "--max-page-size")?;
                options.max_page_size = Some(
                    v.parse()
                        .map_err(|_| format!("--max-page-size: {v:?} is not a count"))?,
                );
            }
            Long("controller") => {
                let delay = parse_delay("--controller", &value(&mut parser, "--controller")?)?;
                options
                    .controller
                    .get_or_insert_with(Controller::default)
                    .delay = delay;
            }
            Long("controller-outcome") => {
                let (target, outcome) =
                    parse_outcome(&value(&mut parser, "--controller-outcome")?)?;
                options
                    .controller
                    .get_or_insert_with(Controller::default)
                    .overrides
                    .push((target, outcome));
            }
            Long("latency") => {
                options.latency = parse_delay("--latency", &value(&mut parser, "--latency")?)?;
            }
            Long("ipv6") => options.ipv6 = true,
            Long("dns-only-san") => options.dns_only_san = true,
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(());
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    let server = ApiServer::try_start(options).map_err(|e| e.to_string())?;
    if let Some(path) = kubeconfig_out {
        server
            .write_kubeconfig(&path, identity)
            .map_err(|e| format!("--kubeconfig-out {}: {e}", path.display()))?;
    }
    println!("{}", server.url());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("test-apiserver: {e}");
            ExitCode::from(2)
        }
    }
}
