//! `flux-operator-mcp check`: what a user runs when the assistant says it cannot reach the
//! cluster. It shows which kubeconfig, context, server, identity and proxy the tools would use
//! (never a credential), then tries discovery, Flux and metrics-server, and ends with one
//! actionable message: exit 0 when the tools can work, 1 when they cannot.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::Value;

use crate::kube::client::PodSelection;
use crate::kube::config::{self, Connection, Env, Kubeconfig};
use crate::kube::discovery::Discovery;
use crate::kube::{self, NetworkEnv};
use crate::tools::flux::{self, FLUX_NAMESPACE, Installation};
use crate::tools::{Cluster, Clusters, Settings};

pub fn run(settings: &Settings) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let outcome = check(settings, &Env::from_process(), &mut Report(&mut out));
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            let _ = writeln!(out, "\nPROBLEM: {}", problem.what);
            if !problem.hint.is_empty() {
                let _ = writeln!(out, "FIX: {}", problem.hint);
            }
            ExitCode::FAILURE
        }
    };
    let _ = out.flush();
    code
}

/// Why the tools cannot work, and what to do about it.
struct Problem {
    what: String,
    hint: String,
}

impl Problem {
    /// `token_flag`: the credentials are `--kube-token`'s, not the kubeconfig user's.
    fn kube(e: &kube::Error, conn: &Connection, token_flag: bool) -> Problem {
        Problem {
            what: e.to_string(),
            hint: hint(e, conn, token_flag),
        }
    }
}

/// The lines printed as the checks go, so a hanging step shows where it hangs.
struct Report<'a, W: Write>(&'a mut W);

impl<W: Write> Report<'_, W> {
    fn line(&mut self, label: &str, value: &str) {
        let _ = writeln!(self.0, "{:<12} {value}", format!("{label}:"));
        let _ = self.0.flush();
    }
}

/// The steps, through the same [`Clusters`] and [`Cluster`] the tools use, so that what
/// `check` reports is what the tools will meet.
fn check<W: Write>(settings: &Settings, env: &Env, report: &mut Report<W>) -> Result<(), Problem> {
    report.line("version", &format!("flux-operator-mcp {}", crate::VERSION));
    let clusters = Clusters::new(settings, env.clone());
    let kc = clusters.load_kubeconfig().map_err(|e| config_problem(&e))?;
    report.line("kubeconfig", &kubeconfig_source(&kc, settings, env));
    let conn = kc.resolve(None).map_err(|e| config_problem(&e))?;
    report.line("context", &context_source(&kc, &conn, settings));
    report.line("cluster", &conn.cluster);
    report.line("namespace", &conn.namespace);
    if !conn.user.is_empty() {
        report.line("user", &conn.user);
    }
    report.line("auth", &conn.auth.method());
    if let Some(who) = impersonation(&conn) {
        report.line("impersonate", &who);
    }
    report.line("tls", &tls_summary(&conn, clusters.network()));
    let cluster = clusters
        .connect(&conn)
        .map_err(|e| Problem::kube(&e, &conn, settings.kube.token.is_some()))?;
    report.line("server", cluster.server());
    report.line(
        "proxy",
        &cluster
            .proxy()
            .unwrap_or_else(|| "none (direct connection)".to_string()),
    );

    let started = Instant::now();
    let discovery = cluster
        .discovery()
        .map_err(|e| Problem::kube(&e, &conn, settings.kube.token.is_some()))?;
    report.line("discovery", &discovery_summary(&discovery, started));
    // The rule get_flux_instance applies, so the two never disagree.
    let found = flux::detect(&cluster)
        .map_err(|e| Problem::kube(&e, &conn, settings.kube.token.is_some()))?;
    report.line("flux", &flux_summary(&found));
    report.line("metrics", &metrics_summary(&cluster));
    report.line(
        "result",
        "OK: the MCP server can reach this cluster with this identity",
    );
    Ok(())
}

/// `/home/me/.kube/config (KUBECONFIG)`, or the in-cluster service account.
fn kubeconfig_source(kc: &Kubeconfig, settings: &Settings, env: &Env) -> String {
    if kc.in_cluster() {
        return "none: in-cluster service account (KUBERNETES_SERVICE_HOST is set)".to_string();
    }
    let files: Vec<String> = kc.files().iter().map(|p| p.display().to_string()).collect();
    let from = if settings.kube.kubeconfig.is_some() {
        "--kubeconfig"
    } else if env.kubeconfig.as_ref().is_some_and(|k| !k.is_empty()) {
        "KUBECONFIG"
    } else {
        "default location"
    };
    format!("{} ({from})", files.join(", "))
}

fn context_source(kc: &Kubeconfig, conn: &Connection, settings: &Settings) -> String {
    let from = if kc.in_cluster() {
        "in-cluster"
    } else if settings
        .kube
        .context
        .as_deref()
        .is_some_and(|c| !c.is_empty())
    {
        "--kube-context"
    } else {
        "current-context"
    };
    format!("{} ({from})", conn.context)
}

/// `jane (groups: a, b; uid: 42; extra: scopes=view)`, or `None` without impersonation.
fn impersonation(conn: &Connection) -> Option<String> {
    let imp = &conn.impersonate;
    let user = imp.user.as_ref()?;
    let mut parts = Vec::new();
    if !imp.groups.is_empty() {
        parts.push(format!("groups: {}", imp.groups.join(", ")));
    }
    if let Some(uid) = &imp.uid {
        parts.push(format!("uid: {uid}"));
    }
    if !imp.extra.is_empty() {
        let extra: Vec<String> = imp
            .extra
            .iter()
            .map(|(k, v)| format!("{k}={}", v.join(",")))
            .collect();
        parts.push(format!("extra: {}", extra.join(" ")));
    }
    Some(if parts.is_empty() {
        user.clone()
    } else {
        format!("{user} ({})", parts.join("; "))
    })
}

fn tls_summary(conn: &Connection, network: &NetworkEnv) -> String {
    if !conn.server.starts_with("https://") {
        return "none: plain http (credentials are not sent)".to_string();
    }
    let mut s = if conn.tls.insecure_skip_verify {
        "insecure-skip-tls-verify: the server's certificate is NOT verified".to_string()
    } else if conn.tls.ca_pem.is_some() {
        "server verified with the kubeconfig's certificate authority".to_string()
    } else if let Some(file) = &network.ssl_cert_file {
        format!("server verified with SSL_CERT_FILE {file}")
    } else {
        "server verified with the system's CA roots".to_string()
    };
    if let Some(name) = &conn.tls.server_name {
        let _ = write!(s, "; tls-server-name {name}");
    }
    s
}

fn discovery_summary(d: &Discovery, started: Instant) -> String {
    let kinds = d.kinds();
    let mut groups: Vec<&str> = kinds.iter().map(|k| k.group.as_str()).collect();
    groups.dedup();
    let mut s = format!(
        "ok in {} ms: {} API groups, {} kinds",
        started.elapsed().as_millis(),
        groups.len(),
        kinds.len()
    );
    if !d.failures().is_empty() {
        let failed: Vec<&str> = d
            .failures()
            .iter()
            .map(|f| f.group_version.as_str())
            .collect();
        let _ = write!(s, "; unavailable: {}", failed.join(", "));
    }
    s
}

/// What [`flux::detect`] found, on one line: with a FluxInstance, the Flux version with the
/// operator's and the instance's state; else the controllers found as Deployments with their
/// image tags; else a FluxReport alone; else where Flux was looked for. Notes (a refused
/// FluxReport, a failed Deployment list) follow.
fn flux_summary(found: &Installation) -> String {
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let version = flux::version(&found.instances, &found.reports)
        .unwrap_or_else(|| "version unknown".to_string());
    let mut operator = Vec::new();
    if let Some(report) = found.reports.first() {
        operator.push(format!(
            "Flux Operator {}",
            text(report, "/spec/operator/version")
        ));
        let status = text(report, "/spec/distribution/status");
        if !status.is_empty() {
            operator.push(format!("distribution {status}"));
        }
    }
    let mut line = if let Some(instance) = found.instances.first() {
        let ready = instance
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| text(c, "/type") == "Ready"));
        let state = match ready {
            Some(c) if text(c, "/status") == "True" => "Ready".to_string(),
            Some(c) => format!("not Ready: {}", text(c, "/message")),
            None => "no Ready condition yet".to_string(),
        };
        operator.push(format!(
            "FluxInstance {}/{} {state}",
            text(instance, "/metadata/namespace"),
            text(instance, "/metadata/name")
        ));
        format!("{version} ({})", operator.join("; "))
    } else if !found.controllers.is_empty() {
        let controllers: Vec<String> = found
            .controllers
            .iter()
            .map(|c| {
                let mut name = text(c, "/name");
                let namespace = text(c, "/namespace");
                if namespace != FLUX_NAMESPACE {
                    name = format!("{namespace}/{name}");
                }
                match c
                    .pointer("/images/0")
                    .and_then(Value::as_str)
                    .and_then(image_tag)
                {
                    Some(tag) => format!("{name} {tag}"),
                    None => name,
                }
            })
            .collect();
        let how = if found.operator_served {
            "installed without a FluxInstance (the Flux Operator API is served)"
        } else {
            "installed without the Flux Operator"
        };
        format!("{how}: {}", controllers.join(", "))
    } else if !found.reports.is_empty() {
        operator.push("no FluxInstance".to_string());
        format!("{version} ({})", operator.join("; "))
    } else {
        format!(
            "not found: {} (get_flux_instance will say so; the docs search works)",
            flux::not_found_reason()
        )
    };
    for note in &found.notes {
        let _ = write!(line, "; note: {note}");
    }
    line
}

/// `ghcr.io/fluxcd/source-controller:v1.7.2@sha256:...` → `v1.7.2`.
fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next()?;
    let last = without_digest.rsplit('/').next()?;
    last.split_once(':').map(|(_, tag)| tag)
}

/// metrics-server is optional: its absence is reported, not a failure.
fn metrics_summary(cluster: &Cluster) -> String {
    let probe = PodSelection::Matching {
        label_selector: None,
        limit: Some(1),
    };
    match cluster.pod_metrics(Some(cluster.default_namespace()), &probe) {
        Ok(_) => "metrics-server answers (get_kubernetes_metrics works)".to_string(),
        Err(e @ kube::Error::MetricsUnavailable { .. }) => {
            format!("not available, get_kubernetes_metrics will fail: {e}")
        }
        Err(e) => format!("cannot read pod metrics: {e}"),
    }
}

fn config_problem(e: &config::Error) -> Problem {
    let hint = match e {
        _ if e.unexpanded().is_some() => {
            "write the kubeconfig's absolute path (/home/you/.kube/config, not ~/.kube/config or \
             $HOME/.kube/config) in KUBECONFIG or --kubeconfig: the MCP client starts the server \
             without a shell, so nothing expands `~` or `$HOME` there"
        }
        config::Error::NotFound { .. } | config::Error::Missing { .. } => {
            "point --kubeconfig or KUBECONFIG at your kubeconfig file (the MCP client starts the \
             server with its own environment: set KUBECONFIG in its server config)"
        }
        config::Error::NoCurrentContext { .. } | config::Error::ContextNotFound { .. } => {
            "pass --kube-context with one of the contexts listed, or set current-context \
             (kubectl config use-context NAME)"
        }
        _ => "fix the file and field named above (kubectl config view shows what kubectl reads)",
    };
    Problem {
        what: format!("kubeconfig: {e}"),
        hint: hint.to_string(),
    }
}

/// What to do about a cluster error, by when it happened.
fn hint(e: &kube::Error, conn: &Connection, token_flag: bool) -> String {
    use kube::Error as E;
    let cluster = &conn.cluster;
    match e {
        E::Config(_) => "fix the kubeconfig file and field named above".to_string(),
        E::Auth(_) => {
            "the credentials could not be obtained: run the exec plugin or read the token \
             file by hand to see why (an expired cloud login is the usual cause), then retry"
                .to_string()
        }
        E::Settings { field, .. } => {
            format!("fix {field} of context {} in the kubeconfig", conn.context)
        }
        E::Tls { .. } if e.is_not_tls() => format!(
            "the server at {} does not speak TLS: the URL may name a plain-HTTP port; check the \
             server of cluster {cluster} (retrying will not help)",
            conn.server
        ),
        E::Tls { .. } => match conn.tls.ca_source {
            Some(field) => format!(
                "get the cluster's current CA into {field} of cluster {cluster} (a recreated \
                 cluster has a new one: fetch a fresh kubeconfig); if the certificate is valid \
                 for another host name, set tls-server-name"
            ),
            None => format!(
                "add the cluster's CA as certificate-authority-data of cluster {cluster} (or point \
                 SSL_CERT_FILE at a bundle that holds it)"
            ),
        },
        E::Connect { .. } => "the API server cannot be reached: check the server URL, VPN, \
             firewall and DNS, and the proxy settings (HTTPS_PROXY, NO_PROXY, proxy-url)"
            .to_string(),
        E::Timeout { .. } => "no answer in time: the server may be unreachable (VPN, firewall) \
             or overloaded; check connectivity, or raise --timeout"
            .to_string(),
        E::Interrupted { .. } if e.is_not_http() => match &conn.proxy_url {
            Some(proxy) => format!(
                "the proxy {proxy} did not answer as an HTTP proxy: proxy-url may point at a TLS \
                 port or at something other than a proxy; fix it (retrying will not help)"
            ),
            None => "the server did not answer in HTTP (nor did a proxy from HTTPS_PROXY, if \
                 one is set): check the server URL and the proxy variables (retrying will not \
                 help)"
                .to_string(),
        },
        E::Interrupted { .. } => "the connection broke: retry; a proxy or load balancer may be \
             cutting connections"
            .to_string(),
        _ if e.is_unauthorized() && token_flag => "the API server rejected the token given \
             with --kube-token (it replaces the kubeconfig user's credentials): pass a valid \
             one, or leave the flag out"
            .to_string(),
        _ if e.is_unauthorized() => format!(
            "the API server rejected the credentials of user {:?}: they are expired or revoked; \
             log in again or get a fresh token or kubeconfig",
            conn.user
        ),
        _ if e.is_forbidden() => "RBAC refused this identity: grant it read access (get, list) to \
             the Flux APIs, events, pods, pods/log and deployments, e.g. with the view \
             ClusterRole plus a role for the *.fluxcd.io groups"
            .to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        assert_eq!(
            image_tag("ghcr.io/fluxcd/source-controller:v1.7.2@sha256:abc"),
            Some("v1.7.2")
        );
        assert_eq!(image_tag("localhost:5000/flux/kc:v1"), Some("v1"));
        assert_eq!(image_tag("localhost:5000/flux/kc"), None);
    }

    #[test]
    fn the_flux_line_follows_what_detection_found() {
        use serde_json::json;
        let report = json!({"metadata": {"namespace": "flux-system"}, "spec": {
            "operator": {"version": "v0.33.0"},
            "distribution": {"version": "v2.7.2", "status": "Installed"}}});
        let instance = json!({"metadata": {"namespace": "flux-system", "name": "flux"},
            "status": {"conditions": [{"type": "Ready", "status": "False",
                "message": "pull failed"}]}});
        let controller = |ns: &str, image: &str| json!({"name": "source-controller", "namespace": ns, "images": [image]});
        let found = Installation {
            operator_served: true,
            instances: vec![instance],
            reports: vec![report.clone()],
            ..Installation::default()
        };
        assert_eq!(
            flux_summary(&found),
            "v2.7.2 (Flux Operator v0.33.0; distribution Installed; FluxInstance \
             flux-system/flux not Ready: pull failed)"
        );
        let found = Installation {
            operator_served: true,
            controllers: vec![
                controller(
                    "flux-system",
                    "ghcr.io/fluxcd/source-controller:v1.7.2@sha256:ab",
                ),
                controller("gitops", "localhost:5000/kc"),
            ],
            notes: vec!["some Deployments could not be listed: boom".into()],
            ..Installation::default()
        };
        assert_eq!(
            flux_summary(&found),
            "installed without a FluxInstance (the Flux Operator API is served): \
             source-controller v1.7.2, gitops/source-controller; note: some Deployments could \
             not be listed: boom"
        );
        let found = Installation {
            operator_served: true,
            reports: vec![report],
            ..Installation::default()
        };
        assert_eq!(
            flux_summary(&found),
            "v2.7.2 (Flux Operator v0.33.0; distribution Installed; no FluxInstance)"
        );
    }

    #[test]
    fn impersonation_is_summarised() {
        let mut conn = Connection {
            context: "c".into(),
            cluster: "c".into(),
            user: "u".into(),
            server: "https://x".into(),
            namespace: "default".into(),
            tls: Default::default(),
            proxy_url: None,
            auth: Default::default(),
            impersonate: Default::default(),
        };
        assert_eq!(impersonation(&conn), None);
        conn.impersonate.user = Some("jane".into());
        assert_eq!(impersonation(&conn).as_deref(), Some("jane"));
        conn.impersonate.groups = vec!["a".into(), "b".into()];
        conn.impersonate.extra = vec![("scopes".into(), vec!["view".into(), "audit".into()])];
        assert_eq!(
            impersonation(&conn).as_deref(),
            Some("jane (groups: a, b; extra: scopes=view,audit)")
        );
    }
}
