//! `get_kubernetes_resources`: one object (GET) or a streamed list of objects of any kind,
//! shaped by the objects pipeline (lean YAML, secrets masked, events, Helm inventories, root
//! cause first). Errors of the API (RBAC, unknown kind, not found, timeout) are errors, never
//! "no resources"; an empty list says where it looked; a cut list says so.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use serde_json::{Value, json};

use super::objects::fields::Fields;
use super::objects::{Batch, Tally, is_flux_group, yaml};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster};
use crate::kube::discovery::{Resource, close_matches};
use crate::kube::list::ListOptions;

/// Objects returned when the caller gives no `limit`.
pub const DEFAULT_LIMIT: u64 = 100;
/// Names read to suggest close matches for a name that is not found (one metadata-only LIST).
const NAMES_SCANNED: usize = 500;
/// Close names suggested for a name that is not found.
const SIMILAR_NAMES: usize = 5;

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_resources",
    title: "Get Kubernetes resources",
    description: "Gets Kubernetes objects of any kind as YAML: one by name, or a list (all \
        namespaces unless namespace is given; at most limit objects, default 100, 0 for all). \
        For Flux objects the root cause comes first: a failing object starts with a comment \
        line naming its Ready/Stalled reasons and the state of its source and dependencies, \
        then its status (every condition message verbatim) before its spec; a list starts \
        with a summary (counts by state, one line per failing object). Flux objects also get \
        their recent events (one line each, without ReconciliationSucceeded) and a HelmRelease \
        its inventory from Helm storage (objects and images). Output is lean: no empty \
        fields, no managedFields, no creation time on Flux objects, status.history keeps its \
        latest entry, inventories are summarised, binaryData reads as its size, \
        observedGeneration shows only when it lags, \
        Flux ownership labels read as one line (# managed by Kustomization ns/name). Use \
        fields for just some paths, e.g. [\"status.conditions\", \"spec.interval\"] \
        (status.history, status.inventory and events come in full). Secret values read \
        <masked: N bytes> unless the server runs with --mask-secrets=false (then base64, as \
        the API returns them).",
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
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "API version, e.g. helm.toolkit.fluxcd.io/v2 or v1; a group alone \
                    (kustomize.toolkit.fluxcd.io) or nothing picks the preferred version, and a \
                    version the cluster does not serve falls back to the one it serves. See \
                    get_kubernetes_api_versions."
            },
            "kind": {
                "type": "string",
                "description": "Kind, case-insensitive; plural and short names work too \
                    (HelmRelease, helmreleases, hr)."
            },
            "name": {
                "type": "string",
                "description": "Object name; without a namespace it is looked up in every namespace."
            },
            "namespace": {
                "type": "string",
                "description": "Namespace; empty for all namespaces."
            },
            "selector": {
                "type": "string",
                "description": "Label selector, e.g. app=podinfo,tier!=db (app=podinfo tier=web \
                    is read the same way)."
            },
            "limit": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULT_LIMIT,
                "description": "At most this many objects (default 100); 0 returns all of them."
            },
            "fields": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Only these paths of each object (plus apiVersion, kind, name, \
                    namespace), e.g. status.conditions, spec.interval, metadata.labels, \
                    status.conditions[?(@.type==\"Ready\")], status.conditions[*].message, \
                    status.history, status.inventory, events."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["kind"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?;
    let api_version = args.opt_str("apiVersion")?;
    let name = args.opt_str("name")?.map(str::trim);
    let namespace = args.opt_str("namespace")?.map(str::trim);
    let selector = args.opt_str("selector")?.map(label_selector);
    let limit = args.opt_u64("limit")?.unwrap_or(DEFAULT_LIMIT);
    let fields =
        Fields::parse(&args.opt_str_list("fields")?).map_err(ToolError::InvalidArgument)?;
    let cluster = ctx.cluster(args)?;
    let (resource, version_note) = resolve(&cluster, api_version, kind)?;
    let mut batch = Batch::new(&cluster, ctx.settings.mask_secrets, fields.as_ref());
    if let Some(note) = version_note {
        batch.note(note);
    }
    let query = Query {
        resource: &resource,
        name,
        namespace: namespace.filter(|_| resource.namespaced),
        selector: selector.as_deref(),
        limit,
    };
    match (query.name, query.selector) {
        (Some(name), None) if query.namespace.is_some() || !resource.namespaced => {
            get_one(&cluster, &query, name, batch)
        }
        _ => {
            let info = cluster
                .list(&resource, &query.list_options(), |obj| {
                    batch.add(obj);
                    ControlFlow::Continue(())
                })
                .map_err(|e| cluster.error(e))?;
            if batch.is_empty() {
                return match query.name {
                    Some(name) => Err(not_found(&cluster, &query, name)),
                    None => Ok(format!("{}\n", query.nothing_found(cluster.context()))),
                };
            }
            batch.finish();
            let mut out = String::from("---\n");
            out.push_str(&yaml::comment(&query.summary(
                cluster.context(),
                &batch,
                &info,
            )));
            for note in batch.notes() {
                out.push_str(&yaml::comment(&format!("note: {note}")));
            }
            batch.render_into(&mut out);
            Ok(out)
        }
    }
}

/// The resource for `kind`. An apiVersion whose group serves the kind in another version
/// only (an agent asking for Flux's latest `helm.toolkit.fluxcd.io/v2` on a cluster that still
/// serves `v2beta1`, or for a retired `v1beta1`) falls back to the group's version for it,
/// with a note saying so: the objects are the same, converted by the API server.
fn resolve(
    cluster: &Cluster,
    api_version: Option<&str>,
    kind: &str,
) -> Result<(Resource, Option<String>), ToolError> {
    let e = match cluster.resolve(api_version, kind) {
        Ok(r) if api_version.is_none() => return Ok(prefer_flux(cluster, kind, r)),
        Ok(r) => return Ok((r, None)),
        Err(e) => e,
    };
    let asked = api_version.map(str::trim);
    if let (crate::kube::Error::UnknownKind { .. }, Some(asked)) = (&e, asked)
        && let Some((group, _)) = asked.split_once('/')
        && let Ok(r) = cluster.resolve(Some(group), kind)
    {
        let note = format!(
            "{asked} is not served by this cluster; showing {}",
            r.api_version()
        );
        return Ok((r, Some(note)));
    }
    Err(cluster.error(e))
}

/// A kind name that several API groups serve, asked for without apiVersion: this server is
/// about Flux, so a Flux group's kind is taken over kubectl's group order (on k3s,
/// `helm.cattle.io` sorts before `source.toolkit.fluxcd.io` and would win `HelmChart`), and
/// the answer names the others so the agent can ask for them.
fn prefer_flux(cluster: &Cluster, kind: &str, resolved: Resource) -> (Resource, Option<String>) {
    let Ok(discovery) = cluster.discovery() else {
        return (resolved, None);
    };
    let all = discovery.matches(kind);
    let flux = all
        .iter()
        .find(|r| is_flux_group(&r.group))
        .cloned()
        .filter(|_| all.len() > 1);
    let Some(chosen) = flux else {
        return (resolved, None);
    };
    let others: Vec<String> = all
        .iter()
        .filter(|r| r.group != chosen.group)
        .map(Resource::api_version)
        .collect();
    let note = format!(
        "{} is also served as {}; pass apiVersion to get those",
        chosen.kind,
        others.join(", ")
    );
    (chosen, Some(note))
}

/// What the caller asked for.
struct Query<'a> {
    resource: &'a Resource,
    name: Option<&'a str>,
    /// `None`: all namespaces (or a cluster-scoped kind).
    namespace: Option<&'a str>,
    selector: Option<&'a str>,
    limit: u64,
}

impl Query<'_> {
    fn list_options(&self) -> ListOptions {
        ListOptions {
            namespace: self.namespace.map(str::to_string),
            label_selector: self.selector.map(str::to_string),
            field_selector: self.name.map(|n| format!("metadata.name={n}")),
            limit: usize::try_from(self.limit).ok().filter(|&l| l > 0),
            ..ListOptions::default()
        }
    }

    /// `in namespace apps`, `in any namespace`, `in the cluster`.
    fn place(&self) -> String {
        match (self.resource.namespaced, self.namespace) {
            (true, Some(ns)) => format!("in namespace {ns}"),
            (true, None) => "in any namespace".to_string(),
            (false, _) => "in the cluster".to_string(),
        }
    }

    fn nothing_found(&self, context: &str) -> String {
        let matching = match self.selector {
            Some(s) => format!(" matching selector {s}"),
            None => String::new(),
        };
        format!(
            "no {} ({}){matching} {} of context {context}",
            self.resource.kind,
            self.resource.api_version(),
            self.place()
        )
    }

    /// The first lines of a list answer: what was listed where, the Flux health counts, the
    /// failing objects, and whether the list was cut.
    fn summary(&self, context: &str, batch: &Batch, info: &crate::kube::list::ListInfo) -> String {
        let n = batch.len();
        let mut lines = vec![format!(
            "{n} {} ({}) {} of context {context}{}",
            self.resource.kind,
            self.resource.api_version(),
            self.place(),
            self.selector
                .map(|s| format!(", selector {s}"))
                .unwrap_or_default()
        )];
        let t: Tally = batch.tally();
        let flux = t.ready + t.failing + t.progressing + t.suspended + t.no_status;
        if flux > 0 {
            let mut counts = format!("{} ready, {} failing", t.ready, t.failing);
            for (n, what) in [
                (t.progressing, "progressing"),
                (t.suspended, "suspended"),
                (t.no_status, "without status"),
            ] {
                if n > 0 {
                    counts.push_str(&format!(", {n} {what}"));
                }
            }
            lines[0].push_str(": ");
            lines[0].push_str(&counts);
        }
        if info.more {
            let shown = match info.remaining_item_count {
                Some(r) => format!("showing {n} of at least {}", n as u64 + r),
                None => format!("showing the first {n}; more exist"),
            };
            lines.push(format!(
                "{shown}; narrow with namespace, selector or limit (limit 0 returns all)"
            ));
        }
        if !t.failures.is_empty() {
            lines.push("failing:".to_string());
            lines.extend(t.failures.iter().map(|f| format!("- {f}")));
        }
        if !t.unreconciled.is_empty() {
            lines.push("not reconciled yet:".to_string());
            lines.extend(t.unreconciled.iter().map(|f| format!("- {f}")));
        }
        lines.join("\n")
    }
}

fn get_one(
    cluster: &Cluster,
    query: &Query,
    name: &str,
    mut batch: Batch,
) -> Result<String, ToolError> {
    let namespace = query.namespace.unwrap_or("");
    match cluster.get(query.resource, namespace, name) {
        Ok(obj) => batch.add(obj),
        Err(e) if e.is_not_found() => return Err(not_found(cluster, query, name)),
        Err(e) => return Err(cluster.error(e)),
    }
    batch.finish();
    // The document first (its headline says what is wrong); notes about what could not be
    // added (events, fields that matched nothing) after it.
    let mut out = batch.render();
    for note in batch.notes() {
        out.push_str(&yaml::comment(&format!("note: {note}")));
    }
    Ok(out)
}

/// `HelmRelease apps/podinfoo not found in context dev; similar names in apps: podinfo`.
fn not_found(cluster: &Cluster, query: &Query, name: &str) -> ToolError {
    let kind = &query.resource.kind;
    let context = cluster.context();
    let mut msg = match (query.resource.namespaced, query.namespace) {
        (true, Some(ns)) => format!("{kind} {ns}/{name} not found in context {context}"),
        (true, None) => format!("{kind} {name} not found in any namespace of context {context}"),
        (false, _) => format!("{kind} {name} not found in context {context}"),
    };
    let close = similar_names(cluster, query, name);
    if !close.is_empty() {
        let scope = query
            .namespace
            .map(|ns| format!(" in {ns}"))
            .unwrap_or_default();
        msg.push_str(&format!("; similar names{scope}: {}", close.join(", ")));
    }
    ToolError::Failed(msg)
}

/// Up to [`SIMILAR_NAMES`] names close to `wanted` (typos, prefixes: what
/// [`close_matches`] counts as close), from one metadata-only LIST of the namespace (at most
/// [`NAMES_SCANNED`] names; a failure just means no suggestions). Across namespaces a name is
/// shown as `namespace/name`, once per namespace that has it.
fn similar_names(cluster: &Cluster, query: &Query, wanted: &str) -> Vec<String> {
    let Ok((found, _)) = cluster.names(query.resource, query.namespace, NAMES_SCANNED) else {
        return Vec::new();
    };
    let names: BTreeSet<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    let mut out = Vec::new();
    for close in close_matches(wanted, names, SIMILAR_NAMES) {
        for (ns, _) in found.iter().filter(|(_, n)| n == close) {
            out.push(if query.namespace.is_none() && !ns.is_empty() {
                format!("{ns}/{close}")
            } else {
                close.to_string()
            });
        }
    }
    out.truncate(SIMILAR_NAMES);
    out
}

/// Reads upstream's documented `k1=v1 k2=v2` form as well as the API's comma form: a space
/// between two complete requirements becomes a comma; spaces inside a requirement
/// (`env in (a, b)`, `tier != db`) stay.
fn label_selector(s: &str) -> String {
    let mut tokens: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in s.trim().chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let operator_start = |t: &str| {
        t.starts_with(['=', '!', '(', ',', '<', '>']) && !is_negated_key(t)
            || t == "in"
            || t == "notin"
    };
    let operator_end =
        |t: &str| t.ends_with(['=', '!', ',', '<', '>']) || t == "in" || t == "notin";
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            let prev = &tokens[i - 1];
            out.push(if operator_end(prev) || operator_start(t) {
                ' '
            } else {
                ','
            });
        }
        out.push_str(t);
    }
    out
}

/// `!key` (the key must not exist) starts a requirement; `!=` continues one.
fn is_negated_key(t: &str) -> bool {
    t.starts_with('!') && !t.starts_with("!=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_in_both_forms() {
        assert_eq!(label_selector("app=podinfo"), "app=podinfo");
        assert_eq!(
            label_selector("app=podinfo tier=web"),
            "app=podinfo,tier=web"
        );
        assert_eq!(label_selector("  a=1   b!=2 c "), "a=1,b!=2,c");
        assert_eq!(label_selector("a=1,b=2"), "a=1,b=2");
        assert_eq!(label_selector("a=1, b=2"), "a=1, b=2");
        assert_eq!(
            label_selector("env in (prod, staging) tier"),
            "env in (prod, staging),tier"
        );
        assert_eq!(label_selector("tier != db app"), "tier != db,app");
        assert_eq!(label_selector("a = 1 !b"), "a = 1,!b");
        assert_eq!(label_selector("env notin (a) x==y"), "env notin (a),x==y");
    }

    #[test]
    fn fields_arrive_in_three_shapes() {
        let parse = |v: Value| {
            let map = json!({ "fields": v })
                .as_object()
                .cloned()
                .unwrap_or_default();
            Args(&map).opt_str_list("fields")
        };
        let want = Ok(vec![
            "status.conditions".to_string(),
            "spec.interval".to_string(),
        ]);
        assert_eq!(parse(json!(["status.conditions", "spec.interval"])), want);
        assert_eq!(parse(json!("status.conditions, spec.interval")), want);
        assert_eq!(
            parse(json!("[\"status.conditions\", \"spec.interval\"]")),
            want
        );
    }

    #[test]
    fn the_schema_requires_kind_only() {
        let schema = (TOOL.input_schema)();
        assert_eq!(schema["required"], json!(["kind"]));
        assert_eq!(schema["properties"]["limit"]["type"], "integer");
        assert_eq!(schema["properties"]["fields"]["items"]["type"], "string");
        assert!(schema["properties"]["context"].is_object());
    }
}
