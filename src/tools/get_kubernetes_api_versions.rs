//! `get_kubernetes_api_versions`: every kind the cluster serves with its preferred apiVersion,
//! from API discovery (built-in kinds too, not only CRDs as upstream lists), Flux kinds first.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::cluster::context_property;
use super::objects::is_flux_group;
use super::{Args, Ctx, Tool, ToolError};
use crate::kube::discovery::{DiscoveryFailure, KindInfo};

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_api_versions",
    title: "List Kubernetes API versions",
    description: "Lists every kind the cluster serves with its preferred apiVersion and scope \
        (namespaced or cluster), Flux kinds first, then the built-in and other custom kinds. \
        Call it instead of guessing the apiVersion for get_kubernetes_resources.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::Read,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {"context": context_property()},
        "required": [],
        "additionalProperties": false
    })
}

/// Discovery older than this is fetched again: the point of the call is what the cluster
/// serves now (a CRD installed a minute ago), while a burst of calls shares one fetch.
const FRESH_FOR: Duration = Duration::from_secs(30);

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let cluster = ctx.cluster(args)?;
    let mut discovery = cluster.discovery().map_err(|e| cluster.error(e))?;
    if discovery.fetched().elapsed() > FRESH_FOR {
        discovery = cluster.refresh_discovery().map_err(|e| cluster.error(e))?;
    }
    // Kinds discovery lists without get or list (TokenReview, SelfSubjectAccessReview, ...)
    // can only be created: get_kubernetes_resources cannot read them, so they are counted,
    // not listed.
    let readable: Vec<(String, String)> = discovery
        .resources()
        .filter(|r| r.supports("get") || r.supports("list"))
        .map(|r| (r.group.clone(), r.kind.clone()))
        .collect();
    let is_readable = |k: &KindInfo| readable.iter().any(|(g, n)| *g == k.group && *n == k.kind);
    Ok(render(discovery.kinds(), is_readable, discovery.failures()))
}

fn render(
    kinds: Vec<KindInfo>,
    readable: impl Fn(&KindInfo) -> bool,
    failures: &[DiscoveryFailure],
) -> String {
    let (kinds, write_only): (Vec<KindInfo>, Vec<KindInfo>) = kinds.into_iter().partition(readable);
    let (flux, other): (Vec<&KindInfo>, Vec<&KindInfo>) =
        kinds.iter().partition(|k| is_flux_group(&k.group));
    let mut out = String::new();
    if flux.is_empty() {
        out.push_str("Flux kinds: none (no *.fluxcd.io or fluxcd.controlplane.io API group is served; is Flux installed?)\n");
    } else {
        let _ = writeln!(out, "Flux kinds ({}):", flux.len());
        table(&mut out, &flux);
    }
    let _ = writeln!(out, "\nOther kinds ({}):", other.len());
    table(&mut out, &other);
    if !write_only.is_empty() {
        let names: Vec<&str> = write_only.iter().take(5).map(|k| k.kind.as_str()).collect();
        let more = if write_only.len() > names.len() {
            ", ..."
        } else {
            ""
        };
        let count = match write_only.len() {
            1 => "1 kind".to_string(),
            n => format!("{n} kinds"),
        };
        let _ = writeln!(
            out,
            "\nNot listed: {count} that can only be created, not read ({}{more}).",
            names.join(", ")
        );
    }
    if !failures.is_empty() {
        out.push_str(
            "\nDiscovery failed for these group versions; their kinds are missing above:\n",
        );
        for f in failures {
            let _ = writeln!(out, "- {}: {}", f.group_version, f.error);
        }
    }
    out
}

/// Aligned `KIND  APIVERSION  SCOPE` lines.
fn table(out: &mut String, kinds: &[&KindInfo]) {
    let rows: Vec<(&str, String, &str)> = kinds
        .iter()
        .map(|k| {
            let scope = if k.namespaced {
                "namespaced"
            } else {
                "cluster"
            };
            (k.kind.as_str(), k.api_version(), scope)
        })
        .collect();
    let kind_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(4);
    let version_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(10);
    let _ = writeln!(
        out,
        "{:kind_w$}  {:version_w$}  SCOPE",
        "KIND", "APIVERSION"
    );
    for (kind, version, scope) in rows {
        let _ = writeln!(out, "{kind:kind_w$}  {version:version_w$}  {scope}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(group: &str, version: &str, kind: &str, namespaced: bool) -> KindInfo {
        KindInfo {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespaced,
        }
    }

    #[test]
    fn flux_kinds_come_first_and_create_only_kinds_are_counted() {
        let kinds = vec![
            kind("", "v1", "Namespace", false),
            kind("", "v1", "Pod", true),
            kind("authentication.k8s.io", "v1", "TokenReview", false),
            kind("fluxcd.controlplane.io", "v1", "FluxInstance", true),
            kind("kustomize.toolkit.fluxcd.io", "v1", "Kustomization", true),
        ];
        let failures = [DiscoveryFailure {
            group_version: "metrics.k8s.io/v1beta1".into(),
            error: "503 service unavailable".into(),
        }];
        let out = render(kinds, |k| k.kind != "TokenReview", &failures);
        assert_eq!(
            out,
            "Flux kinds (2):\n\
             KIND           APIVERSION                      SCOPE\n\
             FluxInstance   fluxcd.controlplane.io/v1       namespaced\n\
             Kustomization  kustomize.toolkit.fluxcd.io/v1  namespaced\n\
             \n\
             Other kinds (2):\n\
             KIND       APIVERSION  SCOPE\n\
             Namespace  v1          cluster\n\
             Pod        v1          namespaced\n\
             \n\
             Not listed: 1 kind that can only be created, not read (TokenReview).\n\
             \n\
             Discovery failed for these group versions; their kinds are missing above:\n\
             - metrics.k8s.io/v1beta1: 503 service unavailable\n"
        );
    }

    #[test]
    fn a_cluster_without_flux_says_so() {
        let out = render(vec![kind("apps", "v1", "Deployment", true)], |_| true, &[]);
        assert!(out.starts_with("Flux kinds: none"), "{out}");
        assert!(out.contains("Deployment  apps/v1"), "{out}");
    }
}
