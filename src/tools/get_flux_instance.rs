//! `get_flux_instance`: the state of Flux in a cluster, live state first. The controllers are
//! read from their Deployments and pods, and every object of each Flux kind is counted from
//! live lists by its Ready condition; the FluxReport (which the Flux Operator writes every few
//! minutes, so it can be stale) adds what only it knows (distribution, platform, sync), each
//! such fact marked as the report's, with the report's age, and every fact it states that
//! live state contradicts is flagged ("the FluxReport, 41m old, says ...; live: ..."). Then
//! the FluxInstance (lean, its inventory counted by kind; `full` gives both objects whole),
//! or, without the Flux Operator, the controllers found as Deployments. Then the pod metrics
//! of the Flux namespace when metrics-server answers.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::time::SystemTime;

use serde_json::{Value, json};

use super::flux::{self, Installation};
use super::objects::{Batch, Tally, diagnosis, is_flux_group, lean, yaml};
use super::pods::{container_status, pod_table, pod_totals};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster};
use crate::kube;
use crate::kube::client::PodSelection;
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;
use crate::kube::time::{age, parse_system_time};

/// Pods whose metrics are shown.
const METRICS_PODS: usize = 100;
/// Objects counted per kind (ten pages); past it the count says "at least".
const COUNT_MAX: usize = 5_000;
/// Failing objects named per kind (the others are counted; get_kubernetes_resources lists
/// them all).
const FAILING_NAMED: usize = 3;
/// The argument that asks for both objects whole, inventory entry by entry.
const FULL_ARG: &str = "full";

pub const TOOL: Tool = Tool {
    name: "get_flux_instance",
    title: "Get the Flux installation",
    description: "Reports how Flux is installed and doing in the cluster; call it first. Live \
        state first: each Flux controller's Deployment and the image its pod runs, and per \
        Flux kind how many objects are ready, failing or suspended (counted from live lists, \
        failing ones named). With the Flux Operator, the FluxReport adds the distribution, \
        platform and sync status, marked as the report's with its age, and anything it says \
        that live state contradicts is flagged; then the FluxInstance with its conditions, \
        history and inventory counted by kind (full: true gives the FluxInstance and \
        FluxReport whole, inventory listed). Without the Flux Operator: the controllers found \
        as Deployments with their versions. Ends with the CPU (millicores) and memory (MiB) \
        of the pods in the Flux namespace when metrics-server is available.",
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
            FULL_ARG: {
                "type": "boolean",
                "default": false,
                "description": "true: also the FluxInstance and FluxReport objects whole, the \
                    inventory entry by entry (default: the facts, and the FluxInstance with its \
                    inventory counted by kind)."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": [],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let full = args.opt_bool(FULL_ARG)?.unwrap_or(false);
    let cluster = ctx.cluster(args)?;
    let found = flux::detect(&cluster).map_err(|e| cluster.error(e))?;
    let metrics_ns = found.namespace();
    if found.instances.is_empty() {
        return without_instance(&cluster, found, &metrics_ns);
    }
    Ok(with_instance(&cluster, found, full))
}

/// The facts: the FluxInstance in a few lines, the report's age and where live state
/// contradicts it, the controllers and the objects (live), what only the report knows. The
/// FluxInstance's spec follows as YAML (its whole document, events included, when it is not
/// ready); `full` gives the FluxInstance and the FluxReport whole.
fn with_instance(cluster: &Cluster, found: Installation, full: bool) -> String {
    let namespace = found.namespace();
    let instance = &found.instances[0];
    let report = found.reports.first();
    let components = component_names(instance, report);
    let sync = report.and_then(|r| sync_target(r, &namespace));
    let live = Live::read(cluster, &namespace, &components, sync.as_ref());
    let now = cluster.now();
    let mut facts = Vec::new();
    let version =
        flux::version(&found.instances, &found.reports).unwrap_or_else(|| "version unknown".into());
    facts.push(format!("Flux {version} in context {}", cluster.context()));
    for inst in &found.instances {
        facts.extend(instance_lines(inst, now));
    }
    let report_facts = report.map(|r| ReportFacts::read(r, now));
    match &report_facts {
        Some(r) => facts.push(r.age_line()),
        None => facts.push(
            "no FluxReport: the Flux Operator has not reported on this instance; every fact \
             below is live"
                .into(),
        ),
    }
    if let Some(r) = &report_facts {
        facts.extend(r.disagreements(&live, instance));
    }
    facts.extend(live.controller_lines(&namespace));
    facts.extend(live.kind_lines());
    if let Some(r) = &report_facts {
        facts.extend(r.platform_lines());
        facts.extend(r.sync_line(&live));
    }
    facts.extend(found.notes.iter().map(|n| format!("note: {n}")));
    facts.extend(live.notes.iter().map(|n| format!("note: {n}")));
    // Masked whatever --mask-secrets says, as upstream does: nothing here needs a value.
    let mut batch = Batch::new(cluster, true, None);
    for obj in found.instances {
        let ready = diagnosis::health(&obj).state == diagnosis::State::Ready;
        // A ready FluxInstance is all said above; one that is not ready shows its
        // conditions (messages verbatim) and events.
        if full {
            batch.add(inventory_listed(obj));
        } else if !ready {
            batch.add(trimmed(obj));
        }
    }
    if full {
        for obj in found.reports {
            batch.add(obj);
        }
    }
    batch.finish();
    facts.extend(batch.notes().iter().map(|n| format!("note: {n}")));
    let mut out = String::from("---\n");
    out.push_str(&yaml::comment(&facts.join("\n")));
    batch.render_budgeted(&mut out, usize::MAX);
    if let Some(line) = &live.metrics_problem {
        out.push_str("---\n");
        out.push_str(&yaml::comment(line));
    }
    out
}

/// No FluxInstance: say so, then what is there (controllers found as Deployments, counts of
/// the Flux objects, a FluxReport if the operator wrote one). No Flux at all is an error that
/// says what to do.
fn without_instance(
    cluster: &Cluster,
    found: Installation,
    metrics_ns: &str,
) -> Result<String, ToolError> {
    let why = if found.operator_served {
        "the Flux Operator API (fluxcd.controlplane.io) is served but there is no FluxInstance"
    } else {
        "the Flux Operator is not installed (the cluster does not serve fluxcd.controlplane.io)"
    };
    if !found.found() {
        return Err(ToolError::Failed(format!(
            "Flux was not found in context {}: {}. Install Flux (flux install, or the Flux \
             Operator with a FluxInstance), or check that this is the right cluster (see \
             get_kubeconfig_contexts).",
            cluster.context(),
            flux::not_found_reason()
        )));
    }
    let mut head = vec![format!(
        "no FluxInstance in context {}: {why}",
        cluster.context()
    )];
    head.extend(controller_facts(&found.controllers));
    let (live, metrics) = Live::read_kinds(cluster, metrics_ns);
    head.extend(live.kind_lines());
    head.extend(found.notes.iter().map(|n| format!("note: {n}")));
    head.extend(live.notes.iter().map(|n| format!("note: {n}")));
    let mut out = String::from("---\n");
    out.push_str(&yaml::comment(&head.join("\n")));
    out.push_str(&yaml::value(&json!({ "controllers": found.controllers })));
    if !found.reports.is_empty() {
        let mut batch = Batch::new(cluster, true, None);
        for obj in found.reports {
            batch.add(obj);
        }
        batch.finish();
        batch.render_budgeted(&mut out, usize::MAX);
    }
    out.push_str(&pod_metrics(metrics, metrics_ns));
    Ok(out)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// `ns/name`, or `name` for a cluster-scoped object.
fn who(obj: &Value) -> String {
    let name = text(&obj["metadata"]["name"]);
    match obj["metadata"]["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
    {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// `ghcr.io/fluxcd/helm-controller:v1.4.2@sha256:…` → `ghcr.io/fluxcd/helm-controller:v1.4.2`:
/// the tag says the version; the digest is for machines.
fn without_digest(image: &str) -> &str {
    image.split('@').next().unwrap_or(image)
}

/// The FluxInstance in a few lines: its state (Ready message verbatim), its latest
/// reconciliation, what it applied, its sync and its inventory counted by kind.
fn instance_lines(inst: &Value, now: SystemTime) -> Vec<String> {
    let h = diagnosis::health(inst);
    let ready = diagnosis::condition(inst, "Ready");
    let at = |v: &Value| v.as_str().and_then(parse_system_time);
    let since = inst["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| at(&c["lastTransitionTime"]))
        .map(|t| format!(" for {}", age(t, now)))
        .unwrap_or_default();
    // A failing one's message is in the document that follows, once.
    let mut state = match (h.state, h.problem_condition(), ready) {
        (diagnosis::State::Ready, _, Some(r)) if !r.message.is_empty() => {
            format!("ready{since} ({})", r.message)
        }
        (diagnosis::State::Ready, _, _) => format!("ready{since}"),
        (state, Some(c), _) => format!(
            "{}{since}: {} (its conditions and events follow)",
            state.label(),
            c.label()
        ),
        (state, None, _) => state.label().to_string(),
    };
    let latest = &inst["status"]["history"][0];
    if let Some(last) = at(&latest["lastReconciled"]) {
        state.push_str(&format!("; last reconciled {} ago", age(last, now)));
        if let Some(d) = latest["lastReconciledDuration"].as_str() {
            state.push_str(&format!(" in {d}"));
        }
        if let Some(s) = latest["lastReconciledStatus"].as_str() {
            state.push_str(&format!(" ({s})"));
        }
        if let Some(n) = latest["totalReconciliations"].as_u64() {
            state.push_str(&format!(", {n} times"));
        }
    }
    let mut lines = vec![format!("FluxInstance {}: {state}", who(inst))];
    let status = &inst["status"];
    let mut applied = Vec::new();
    if let Some(rev) = status["lastAppliedRevision"].as_str() {
        applied.push(format!("applied {}", short_digest(rev)));
    }
    if let Some(rev) = status["lastArtifactRevision"].as_str() {
        applied.push(format!("latest artifact {}", short_digest(rev)));
    }
    if !applied.is_empty() {
        lines.push(format!("FluxInstance {}", applied.join(", ")));
    }
    lines.extend(spec_line(inst));
    if let Some(inv) = inventory_counts(inst) {
        lines.push(format!("FluxInstance inventory: {inv}"));
    }
    lines.push(
        "(full: true gives the FluxInstance, inventory listed, and the FluxReport as YAML)".into(),
    );
    lines
}

/// `v2.7.2@sha256:d9fff27f…` → `v2.7.2@sha256:d9fff27f00e5`: a digest cut to 12 characters.
fn short_digest(revision: &str) -> String {
    match revision.split_once(':') {
        Some((head, hex)) if hex.len() > 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            format!("{head}:{}", &hex[..12])
        }
        _ => revision.to_string(),
    }
}

/// `28 objects: CustomResourceDefinition 14, Deployment 6, ...`, most numerous first.
fn inventory_counts(inst: &Value) -> Option<String> {
    let entries: Vec<lean::InventoryEntry> = inst["status"]["inventory"]["entries"]
        .as_array()?
        .iter()
        .filter_map(|e| lean::InventoryEntry::from_flux_id(e["id"].as_str()?))
        .collect();
    if entries.is_empty() {
        return None;
    }
    let mut kinds: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for e in &entries {
        *kinds.entry(e.kind.as_str()).or_default() += 1;
    }
    let mut kinds: Vec<(&str, usize)> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let listed: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    Some(format!("{} objects: {}", entries.len(), listed.join(", ")))
}

/// The FluxInstance with every inventory entry listed (`Kind namespace/name`), however many.
fn inventory_listed(mut obj: Value) -> Value {
    let entries: Option<Vec<lean::InventoryEntry>> =
        obj["status"]["inventory"]["entries"].as_array().map(|a| {
            a.iter()
                .filter_map(|e| lean::InventoryEntry::from_flux_id(e["id"].as_str()?))
                .collect()
        });
    if let Some(entries) = entries.filter(|e| !e.is_empty()) {
        obj["status"]["inventory"] = lean::summarise(&entries, &[], usize::MAX);
    }
    obj
}

/// A FluxInstance that is not ready as the default answer shows it: what the lines above say
/// is taken out (its inventory, the components it applied, its revisions).
fn trimmed(mut obj: Value) -> Value {
    if let Some(status) = obj["status"].as_object_mut() {
        for key in [
            "inventory",
            "components",
            "lastAppliedRevision",
            "lastArtifactRevision",
        ] {
            status.remove(key);
        }
    }
    obj
}

/// The FluxInstance's spec and reconcile annotations in one line: components, distribution,
/// sync, cluster, patches and any other setting (scalars as written, the rest named).
fn spec_line(inst: &Value) -> Option<String> {
    let spec = inst["spec"].as_object()?;
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    };
    let mut parts = Vec::new();
    for (key, v) in spec {
        match key.as_str() {
            "components" => {
                let n = v.as_array().map_or(0, Vec::len);
                parts.push(format!("components {n}"));
            }
            "distribution" => {
                let mut d = format!("distribution {}", text(&v["version"]));
                if let Some(a) = v["artifact"].as_str() {
                    d.push_str(&format!(" from {a}"));
                }
                if let Some(r) = v["registry"].as_str() {
                    d.push_str(&format!(", registry {r}"));
                }
                parts.push(d);
            }
            "sync" => {
                let mut d = format!("sync {} {}", text(&v["kind"]), text(&v["url"]));
                for (label, k) in [
                    ("ref", "ref"),
                    ("path", "path"),
                    ("every", "interval"),
                    ("pull secret", "pullSecret"),
                    ("provider", "provider"),
                    ("name", "name"),
                ] {
                    if let Some(x) = v[k].as_str() {
                        d.push_str(&format!(" {label} {x}"));
                    }
                }
                parts.push(d);
            }
            "kustomize" => {
                let n = v["patches"].as_array().map_or(0, Vec::len);
                parts.push(format!("kustomize patches {n}"));
            }
            _ => match (scalar(v), v) {
                (Some(x), _) => parts.push(format!("{key} {x}")),
                (None, Value::Object(m)) => {
                    let inner: Vec<String> = m
                        .iter()
                        .map(|(k, x)| match scalar(x) {
                            Some(x) => format!("{k} {x}"),
                            None => format!("{k} (set)"),
                        })
                        .collect();
                    parts.push(format!("{key}: {}", inner.join(", ")));
                }
                (None, _) => parts.push(format!("{key} (set)")),
            },
        }
    }
    let every: Vec<String> = inst["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let k = k.strip_prefix("fluxcd.controlplane.io/")?;
            Some(format!("{k} {}", v.as_str()?))
        })
        .collect();
    if !every.is_empty() {
        parts.push(every.join(", "));
    }
    Some(format!("FluxInstance spec: {}", parts.join("; ")))
}

/// The controllers Flux is made of here: the FluxInstance's components, else the report's.
fn component_names(instance: &Value, report: Option<&Value>) -> Vec<String> {
    let from_instance: Vec<String> = instance["spec"]["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !from_instance.is_empty() {
        return from_instance;
    }
    report
        .and_then(|r| r["spec"]["components"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .map(str::to_string)
        .collect()
}

/// The object the report's sync names (`kustomization/flux-system`): kind and name, in the
/// Flux namespace.
fn sync_target(report: &Value, namespace: &str) -> Option<(String, String, String)> {
    let id = report["spec"]["sync"]["id"].as_str()?;
    let (kind, name) = id.split_once('/')?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "kustomization" => "Kustomization",
        "helmrelease" => "HelmRelease",
        _ => return None,
    };
    Some((kind.to_string(), namespace.to_string(), name.to_string()))
}

// ---- live state ------------------------------------------------------------------------------

/// A controller as its Deployment and pods show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Controller {
    name: String,
    available: bool,
    /// `ready/wanted`.
    replicas: String,
    /// The images its pods run (the Deployment's when no pod was found), without digests.
    images: Vec<String>,
    /// Why it is not available, a pod's container state, a rollout in progress.
    problems: Vec<String>,
    /// CPU and memory of its pods (metrics-server), e.g. `15.9m CPU, 166MiB`.
    usage: Option<String>,
}

/// The objects of one Flux kind, counted.
#[derive(Debug, Clone, Default)]
struct KindCount {
    kind: String,
    tally: Tally,
    /// More objects exist than were counted.
    partial: bool,
    /// The list failed: why.
    error: Option<String>,
}

/// What the cluster shows now.
#[derive(Debug, Default)]
struct Live {
    /// `None` when the Deployments could not be listed.
    controllers: Option<Vec<Controller>>,
    kinds: Vec<KindCount>,
    /// The Ready state of the report's sync object, when it was met in the counts.
    sync: Option<diagnosis::Health>,
    notes: Vec<String>,
    /// When metrics-server last sampled the pods.
    metrics_at: Option<String>,
    /// Pods of the namespace that belong to no controller, with their usage.
    other_pods: Vec<String>,
    /// Why there are no pod metrics (metrics-server absent or failing).
    metrics_problem: Option<String>,
}

impl Live {
    /// Deployments, pods and pod metrics of `namespace`, and every Flux kind counted (each
    /// bounded by [`COUNT_MAX`]): independent lists, all made at once, so the live state
    /// costs one round trip whatever the number of kinds (see [`KIND_LISTS_AT_ONCE`]).
    fn read(
        cluster: &Cluster,
        namespace: &str,
        components: &[String],
        sync: Option<&(String, String, String)>,
    ) -> Live {
        let kinds = flux_kinds(cluster);
        let mut reads = vec![LiveRead::Deployments, LiveRead::Pods, LiveRead::Metrics];
        reads.extend(kinds.iter().flatten().map(|(v, k)| LiveRead::Kind(v, k)));
        let mut answers = read_all(cluster, namespace, &reads, sync).into_iter();
        let (Some(LiveAnswer::Objects(deployments)), Some(LiveAnswer::Objects(pods))) =
            (answers.next(), answers.next())
        else {
            return Live::default();
        };
        let metrics = match answers.next() {
            Some(LiveAnswer::Objects(m)) => m,
            _ => Ok(Vec::new()),
        };
        let counted = kinds.map(|_| counts(answers));
        let mut live = Live::default();
        match deployments {
            Ok(found) => live.controllers = Some(controllers(found, pods, components)),
            Err(e) => live
                .notes
                .push(format!("the controllers' Deployments cannot be read: {e}")),
        }
        live.take_counts(counted);
        live.add_metrics(metrics, namespace);
        live
    }

    /// Only the counts (a cluster without a FluxInstance), and the pod metrics of
    /// `namespace`, read with them.
    fn read_kinds(cluster: &Cluster, namespace: &str) -> (Live, Result<Vec<Value>, kube::Error>) {
        let kinds = flux_kinds(cluster);
        let mut reads = vec![LiveRead::Metrics];
        reads.extend(kinds.iter().flatten().map(|(v, k)| LiveRead::Kind(v, k)));
        let mut answers = read_all(cluster, namespace, &reads, None).into_iter();
        let metrics = match answers.next() {
            Some(LiveAnswer::Objects(m)) => m,
            _ => Ok(Vec::new()),
        };
        let mut live = Live::default();
        live.take_counts(kinds.map(|_| counts(answers)));
        (live, metrics)
    }

    fn take_counts(
        &mut self,
        counted: Result<(Vec<KindCount>, Option<diagnosis::Health>), String>,
    ) {
        match counted {
            Ok((kinds, sync)) => {
                self.kinds = kinds;
                self.sync = sync;
            }
            Err(e) => self
                .notes
                .push(format!("the Flux objects cannot be counted: {e}")),
        }
    }

    /// The CPU and memory of the namespace's pods, each on its controller's line (a pod
    /// belongs to the Deployment whose name precedes its two hash suffixes), or why there are
    /// none.
    fn add_metrics(&mut self, metrics: Result<Vec<Value>, kube::Error>, namespace: &str) {
        let items = match metrics {
            Ok(items) if items.is_empty() => {
                self.metrics_problem = Some(format!(
                    "pod metrics: metrics-server reports no pods in namespace {namespace}"
                ));
                return;
            }
            Ok(items) => items,
            Err(e @ kube::Error::MetricsUnavailable { .. }) => {
                self.metrics_problem = Some(format!("pod metrics: not available: {e}"));
                return;
            }
            Err(e) => {
                self.metrics_problem = Some(format!("pod metrics: cannot be read: {e}"));
                return;
            }
        };
        let (totals, at) = pod_totals(&items);
        self.metrics_at = Some(at);
        let mut per_controller: std::collections::BTreeMap<String, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for (pod, labels, cpu, mem) in totals {
            let owner = deployment_of(&pod, labels).and_then(|d| {
                self.controllers
                    .as_ref()?
                    .iter()
                    .find(|c| c.name == d)
                    .map(|c| c.name.clone())
            });
            match owner {
                Some(name) => per_controller.entry(name).or_default().push((cpu, mem)),
                None => self.other_pods.push(format!("{pod} {cpu} CPU, {mem}")),
            }
        }
        for c in self.controllers.iter_mut().flatten() {
            if let Some(usage) = per_controller.get(&c.name) {
                let cells: Vec<String> = usage
                    .iter()
                    .map(|(cpu, mem)| format!("{cpu} CPU, {mem}"))
                    .collect();
                c.usage = Some(cells.join(" + "));
            }
        }
    }

    fn controller(&self, name: &str) -> Option<&Controller> {
        self.controllers.as_ref()?.iter().find(|c| c.name == name)
    }

    fn kind(&self, kind: &str) -> Option<&KindCount> {
        self.kinds
            .iter()
            .find(|k| k.kind == kind && k.error.is_none())
    }

    /// `controllers (live: ...): 6 of 7 available`, then one line per controller: version
    /// (the image's tag when every image is `<registry>/<controller>:<tag>` of one registry,
    /// named once), availability, problems, CPU and memory.
    fn controller_lines(&self, namespace: &str) -> Vec<String> {
        let Some(controllers) = &self.controllers else {
            return Vec::new();
        };
        if controllers.is_empty() {
            return vec![format!(
                "controllers (live): no Flux controller Deployment in namespace {namespace}"
            )];
        }
        let available = controllers.iter().filter(|c| c.available).count();
        // `ghcr.io/fluxcd` when most images are `ghcr.io/fluxcd/<controller>:<tag>`.
        let registry_of = |c: &Controller| -> Option<String> {
            let [image] = c.images.as_slice() else {
                return None;
            };
            let (repo, _tag) = image.rsplit_once(':')?;
            let (registry, name) = repo.rsplit_once('/')?;
            (name == c.name).then(|| registry.to_string())
        };
        let mut registries: Vec<String> = controllers.iter().filter_map(registry_of).collect();
        registries.sort();
        let common = registries
            .chunk_by(|a, b| a == b)
            .max_by_key(|g| g.len())
            .filter(|g| g.len() > 1)
            .map(|g| g[0].clone());
        let mut head = format!(
            "controllers (live: Deployments and pods in {namespace}): {available} of {} available",
            controllers.len()
        );
        if let Some(r) = &common {
            head.push_str(&format!("; images {r}/<name>:<version>"));
        }
        if let Some(at) = self.metrics_at.as_ref().filter(|a| !a.is_empty()) {
            head.push_str(&format!("; CPU and memory from metrics-server at {at}"));
        }
        let mut lines = vec![head];
        for c in controllers {
            let image = match (&common, registry_of(c)) {
                (Some(r), Some(mine)) if *r == mine => c.images[0]
                    .rsplit_once(':')
                    .map_or("", |(_, t)| t)
                    .to_string(),
                _ => c.images.join(", "),
            };
            let state = if c.available {
                format!("available {}", c.replicas)
            } else {
                format!("NOT AVAILABLE {}", c.replicas)
            };
            let mut line = format!("- {} {image}: {state}", c.name);
            for p in &c.problems {
                line.push_str("; ");
                line.push_str(p);
            }
            if let Some(u) = &c.usage {
                line.push_str(", ");
                line.push_str(u);
            }
            lines.push(line);
        }
        if !self.other_pods.is_empty() {
            lines.push(format!("other pods: {}", self.other_pods.join("; ")));
        }
        lines
    }

    /// `objects (live: Ready conditions of every object):` and a line per kind with objects
    /// that are not all ready, failing ones named; one line for the kinds whose objects are
    /// all ready.
    fn kind_lines(&self) -> Vec<String> {
        if self.kinds.is_empty() {
            return Vec::new();
        }
        let mut lines =
            vec!["objects (live: the Ready condition of every object, by kind):".into()];
        let mut all_ready = Vec::new();
        let mut no_status = Vec::new();
        let mut empty = Vec::new();
        for k in &self.kinds {
            if let Some(e) = &k.error {
                lines.push(format!("- {}: cannot be listed: {e}", k.kind));
                continue;
            }
            let t = &k.tally;
            let total = t.total();
            let at_least = if k.partial { "at least " } else { "" };
            if total == 0 {
                empty.push(k.kind.as_str());
            } else if t.ready == total {
                all_ready.push(format!("{} {at_least}{total}", k.kind));
            } else if t.no_status == total && t.unreconciled.is_empty() {
                // Alert and Provider in notification.toolkit.fluxcd.io/v1beta3 have no status.
                no_status.push(format!("{} {at_least}{total}", k.kind));
            } else {
                let counts = if t.failing > 0 && t.failing + t.ready == total {
                    format!("{} of {at_least}{total} failing", t.failing)
                } else {
                    format!("{at_least}{total}: {}", t.counts())
                };
                let mut line = format!("- {}: {counts}", k.kind);
                if !t.failures.is_empty() {
                    let named: Vec<&str> = t
                        .failures
                        .iter()
                        .take(FAILING_NAMED)
                        .map(|(who, _)| who.as_str())
                        .collect();
                    line.push_str(&format!(" ({}", named.join(", ")));
                    if t.failing > named.len() {
                        line.push_str(&format!(", {} more", t.failing - named.len()));
                    }
                    line.push(')');
                }
                lines.push(line);
            }
        }
        if !all_ready.is_empty() {
            lines.push(format!("- all ready: {}", all_ready.join(", ")));
        }
        if !no_status.is_empty() {
            lines.push(format!(
                "- without status (their API version has none): {}",
                no_status.join(", ")
            ));
        }
        if !empty.is_empty() {
            lines.push(format!("- none: {}", empty.join(", ")));
        }
        lines.push("(get_kubernetes_resources lists a kind's objects, failing first)".into());
        lines
    }
}

/// The Deployment a pod belongs to: its name without the ReplicaSet's `pod-template-hash`
/// and the pod's own suffix.
fn deployment_of<'a>(pod: &'a str, labels: &Value) -> Option<&'a str> {
    let hash = labels["pod-template-hash"].as_str()?;
    let (rest, _suffix) = pod.rsplit_once('-')?;
    rest.strip_suffix(hash)?.strip_suffix('-')
}

/// Lists of the live state made at once by [`read_all`].
enum LiveRead<'a> {
    /// The Deployments of the namespace.
    Deployments,
    /// The pods of the namespace.
    Pods,
    /// The pod metrics of the namespace.
    Metrics,
    /// One Flux kind counted: `(apiVersion, kind)`.
    Kind(&'a str, &'a str),
}

enum LiveAnswer {
    Objects(Result<Vec<Value>, kube::Error>),
    Kind(KindCount, Option<diagnosis::Health>),
}

/// Lists of one `get_flux_instance` call made at once: about 20 (three for the namespace, one
/// per Flux kind the cluster serves), so that they go out in one round trip.
const KIND_LISTS_AT_ONCE: usize = 24;

/// Makes `reads` at once (at most [`KIND_LISTS_AT_ONCE`]); answers in their order.
fn read_all(
    cluster: &Cluster,
    namespace: &str,
    reads: &[LiveRead],
    sync: Option<&(String, String, String)>,
) -> Vec<LiveAnswer> {
    let in_ns = ListOptions {
        namespace: Some(namespace.to_string()),
        ..ListOptions::default()
    };
    cluster::each_at_most(KIND_LISTS_AT_ONCE, reads, |read| match read {
        LiveRead::Deployments => {
            let deployments = Resource::new("apps/v1", "Deployment", "deployments", true);
            LiveAnswer::Objects(cluster.list_all(&deployments, &in_ns))
        }
        LiveRead::Pods => {
            let pods = Resource::new("v1", "Pod", "pods", true);
            LiveAnswer::Objects(cluster.list_all(&pods, &in_ns))
        }
        LiveRead::Metrics => {
            let selection = PodSelection::Matching {
                label_selector: None,
                limit: Some(METRICS_PODS),
            };
            LiveAnswer::Objects(cluster.pod_metrics(Some(namespace), &selection))
        }
        LiveRead::Kind(api_version, kind) => {
            let (count, health) = count_kind(cluster, api_version, kind, sync);
            LiveAnswer::Kind(count, health)
        }
    })
}

/// The counts of the kinds among `answers`, and the health of the sync object when met.
#[allow(clippy::type_complexity)]
fn counts(
    answers: impl Iterator<Item = LiveAnswer>,
) -> (Vec<KindCount>, Option<diagnosis::Health>) {
    let mut sync_health = None;
    let mut counts = Vec::new();
    for answer in answers {
        if let LiveAnswer::Kind(count, health) = answer {
            sync_health = sync_health.or(health);
            counts.push(count);
        }
    }
    (counts, sync_health)
}

/// The Deployments of the Flux controllers among `found` (the FluxInstance's components, the
/// operator, anything labelled part of Flux) with the images their pods run (`pods`: the
/// namespace's, or why they could not be read).
fn controllers(
    found: Vec<Value>,
    pods: Result<Vec<Value>, kube::Error>,
    components: &[String],
) -> Vec<Controller> {
    let wanted = |d: &Value| {
        let name = text(&d["metadata"]["name"]);
        components.iter().any(|c| c == name)
            || name == "flux-operator"
            || d["metadata"]["labels"]["app.kubernetes.io/part-of"] == "flux"
    };
    let found: Vec<Value> = found.into_iter().filter(wanted).collect();
    // A failure of the pods' list only costs the running images.
    let (pod_list, pods_error) = match pods {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let mut out: Vec<Controller> = found
        .iter()
        .map(|d| controller(d, &pod_list, pods_error.as_ref()))
        .collect();
    // The order the FluxInstance lists its components in, the rest after.
    out.sort_by_key(|c| {
        components
            .iter()
            .position(|n| *n == c.name)
            .unwrap_or(usize::MAX)
    });
    out
}

/// One Deployment as a controller, with its pods (those its selector matches).
fn controller(d: &Value, pods: &[Value], pods_error: Option<&kube::Error>) -> Controller {
    let summary = flux::controller(d);
    let selector = d["spec"]["selector"]["matchLabels"].as_object();
    let mine: Vec<&Value> = pods
        .iter()
        .filter(|p| {
            selector.is_some_and(|sel| {
                !sel.is_empty() && sel.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v)
            })
        })
        .collect();
    let spec_images: Vec<String> = summary["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|i| without_digest(i).to_string())
        .collect();
    let mut running: BTreeSet<String> = BTreeSet::new();
    let mut problems = Vec::new();
    if let Some(why) = summary["available"].as_str() {
        problems.push(format!("Available: {why}"));
    }
    for p in &mine {
        for cs in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(image) = cs["image"].as_str() {
                running.insert(without_digest(image).to_string());
            }
            if let Some(state) = container_status(p, text(&cs["name"])).and_then(|s| s.summary()) {
                problems.push(format!("pod {}: {state}", text(&p["metadata"]["name"])));
            }
        }
    }
    let images = if running.is_empty() {
        if let Some(e) = pods_error {
            problems.push(format!("pods not read: {e}"));
        }
        spec_images.clone()
    } else {
        // A pod that runs another image than the Deployment asks for: a rollout under way,
        // or one that is stuck.
        let wanted: BTreeSet<String> = spec_images.iter().cloned().collect();
        if !running.is_subset(&wanted) || running.len() > wanted.len() {
            problems.push(format!(
                "the Deployment asks for {}",
                spec_images.join(", ")
            ));
        }
        running.into_iter().collect()
    };
    Controller {
        name: text(&summary["name"]).to_string(),
        available: summary["ready"] == json!(true),
        replicas: text(&summary["replicas"]).to_string(),
        images,
        problems,
        usage: None,
    }
}

/// Every Flux kind the cluster serves (FluxInstance and FluxReport aside), as `(apiVersion,
/// kind)`: each is counted by state from a live list (see [`count_kind`]).
fn flux_kinds(cluster: &Cluster) -> Result<Vec<(String, String)>, String> {
    let discovery = cluster.discovery().map_err(|e| e.to_string())?;
    Ok(discovery
        .kinds()
        .into_iter()
        .filter(|k| is_flux_group(&k.group))
        .filter(|k| !matches!(k.kind.as_str(), "FluxInstance" | "FluxReport"))
        .map(|k| (k.api_version(), k.kind))
        .collect())
}

/// One kind counted, streaming (nothing kept but the counts and a few names).
fn count_kind(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    sync: Option<&(String, String, String)>,
) -> (KindCount, Option<diagnosis::Health>) {
    let mut count = KindCount {
        kind: kind.to_string(),
        ..KindCount::default()
    };
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let resource = match cluster.resolve(Some(api_version), kind) {
        Ok(r) => r,
        Err(e) => {
            count.error = Some(e.to_string());
            return (count, None);
        }
    };
    let options = ListOptions {
        limit: Some(COUNT_MAX),
        ..ListOptions::default()
    };
    let mut sync_health = None;
    let result = cluster.list(&resource, &options, |obj| {
        let h = diagnosis::health(&obj);
        let ns = text(&obj["metadata"]["namespace"]);
        let name = text(&obj["metadata"]["name"]);
        let unreconciled = diagnosis::unreconciled_line(group, kind, ns, name, &h).is_some();
        if let Some((k, sns, sname)) = sync
            && k == kind
            && sns == ns
            && sname == name
        {
            sync_health = Some(h.clone());
        }
        count.tally.add(&who(&obj), &h, unreconciled);
        ControlFlow::Continue(())
    });
    match result {
        Ok(info) => count.partial = info.more,
        Err(e) => count.error = Some(e.to_string()),
    }
    (count, sync_health)
}

// ---- the report --------------------------------------------------------------------------

/// What the FluxReport says, and how old it is.
struct ReportFacts<'a> {
    report: &'a Value,
    /// `41m` and the time, when the report says when it was written.
    age: Option<(String, String)>,
}

impl<'a> ReportFacts<'a> {
    /// The report's age: the newest of its managed fields' times (the operator's last write)
    /// and its conditions' transition times.
    fn read(report: &'a Value, now: SystemTime) -> ReportFacts<'a> {
        let times = report["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| &m["time"])
            .chain(
                report["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|c| &c["lastTransitionTime"]),
            )
            .filter_map(|t| t.as_str())
            .filter_map(|t| Some((parse_system_time(t)?, t)))
            .max_by_key(|(at, _)| *at);
        ReportFacts {
            report,
            age: times.map(|(at, text)| (age(at, now), text.to_string())),
        }
    }

    /// `the FluxReport, 41m old`.
    fn named(&self) -> String {
        match &self.age {
            Some((age, _)) => format!("the FluxReport, {age} old,"),
            None => "the FluxReport (of unknown age)".to_string(),
        }
    }

    fn age_line(&self) -> String {
        let spec = &self.report["spec"];
        let mut line = format!("FluxReport {}: ", who(self.report));
        match &self.age {
            Some((age, at)) => line.push_str(&format!("written {age} ago ({at})")),
            None => line.push_str("its age is unknown (no write time in it)"),
        }
        if !spec.is_object() || spec.as_object().is_some_and(|m| m.is_empty()) {
            line.push_str("; it holds no report yet, every fact below is live");
        } else {
            line.push_str("; facts from it are marked (report), the others are live");
        }
        if self.report["status"].is_null() {
            line.push_str("; it has no status yet");
        }
        line
    }

    /// Distribution and platform, as only the report knows them.
    fn platform_lines(&self) -> Vec<String> {
        let spec = &self.report["spec"];
        let d = &spec["distribution"];
        let mut parts = Vec::new();
        for (label, key) in [
            ("distribution", "status"),
            ("managed by", "managedBy"),
            ("entitlement", "entitlement"),
        ] {
            if let Some(v) = d[key].as_str().filter(|v| !v.is_empty()) {
                parts.push(format!("{label} {v}"));
            }
        }
        if let Some(v) = spec["operator"]["version"].as_str() {
            parts.push(format!("operator {v}"));
        }
        let c = &spec["cluster"];
        if let Some(v) = c["serverVersion"].as_str() {
            parts.push(format!("Kubernetes {v}"));
        }
        if let Some(n) = c["nodes"].as_u64() {
            parts.push(format!("{n} nodes"));
        }
        if let Some(p) = c["platform"].as_str() {
            parts.push(p.to_string());
        }
        if parts.is_empty() {
            return Vec::new();
        }
        vec![format!("(report) {}", parts.join(", "))]
    }

    /// The sync as the report states it, and its object's live state.
    fn sync_line(&self, live: &Live) -> Option<String> {
        let sync = &self.report["spec"]["sync"];
        if !sync.is_object() {
            return None;
        }
        let state = if sync["ready"] == json!(true) {
            "ready"
        } else {
            "NOT READY"
        };
        let mut line = format!(
            "(report) sync {}: {state}: {} (source {}, path {})",
            text(&sync["id"]),
            text(&sync["status"]),
            text(&sync["source"]),
            text(&sync["path"])
        );
        if let Some(h) = &live.sync {
            line.push_str(&format!("; live: {}", h.state.label()));
        }
        Some(line)
    }

    /// Each fact of the report that live state contradicts, as `the FluxReport, 41m old, says
    /// ...; live: ...`: a component's readiness and image, a kind's failing and suspended
    /// counts, the sync's readiness.
    fn disagreements(&self, live: &Live, instance: &Value) -> Vec<String> {
        let says = self.named();
        let mut out = Vec::new();
        let spec = &self.report["spec"];
        for comp in spec["components"].as_array().into_iter().flatten() {
            let name = text(&comp["name"]);
            let Some(c) = live.controller(name) else {
                continue;
            };
            let reported_ready = comp["ready"] == json!(true);
            if reported_ready != c.available {
                let reported = if reported_ready {
                    "ready".to_string()
                } else {
                    format!("NOT READY ({})", text(&comp["status"]))
                };
                let actual = if c.available {
                    format!("its Deployment is available {}", c.replicas)
                } else {
                    format!("its Deployment is NOT AVAILABLE {}", c.replicas)
                };
                out.push(format!("{says} says {name} is {reported}; live: {actual}"));
            }
            let image = without_digest(text(&comp["image"]));
            if !image.is_empty() && !c.images.is_empty() && !c.images.iter().any(|i| i == image) {
                out.push(format!(
                    "{says} says {name} runs {image}; live: its pods run {}",
                    c.images.join(", ")
                ));
            }
        }
        // What the operator last applied, per component, against what runs.
        for comp in instance["status"]["components"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = text(&comp["name"]);
            let applied = format!("{}:{}", text(&comp["repository"]), text(&comp["tag"]));
            if let Some(c) = live.controller(name)
                && !c.images.is_empty()
                && !c.images.contains(&applied)
            {
                out.push(format!(
                    "the FluxInstance last applied {applied}; live: the {name} pods run {}",
                    c.images.join(", ")
                ));
            }
        }
        let mut counts = Vec::new();
        for r in spec["reconcilers"].as_array().into_iter().flatten() {
            let kind = text(&r["kind"]);
            let Some(k) = live.kind(kind) else {
                continue;
            };
            let stats = &r["stats"];
            let (failing, suspended) = (
                stats["failing"].as_u64().unwrap_or(0),
                stats["suspended"].as_u64().unwrap_or(0),
            );
            let (live_failing, live_suspended) = (k.tally.failing as u64, k.tally.suspended as u64);
            if suspended != live_suspended {
                counts.push(format!(
                    "{kind} {failing} failing, {suspended} suspended (live {live_failing}, \
                     {live_suspended})"
                ));
            } else if failing != live_failing {
                counts.push(format!("{kind} {failing} (live {live_failing})"));
            }
        }
        if !counts.is_empty() {
            out.push(format!(
                "{says} counts failing objects: {}",
                counts.join(", ")
            ));
        }
        if let Some(h) = &live.sync {
            let reported = spec["sync"]["ready"] == json!(true);
            let ready = h.state == diagnosis::State::Ready;
            if reported != ready {
                out.push(format!(
                    "{says} says the sync {} is {}; live: {}",
                    text(&spec["sync"]["id"]),
                    if reported { "ready" } else { "not ready" },
                    h.state.label()
                ));
            }
        }
        if !out.is_empty() {
            out.insert(
                0,
                format!(
                    "DISAGREEMENT: live state contradicts the FluxReport ({} facts); trust \
                     the live ones:",
                    out.len()
                ),
            );
            for line in out.iter_mut().skip(1) {
                line.insert_str(0, "- ");
            }
        }
        out
    }
}

/// The lines about the controllers found as Deployments: how many are ready, which versions.
fn controller_facts(controllers: &[Value]) -> Vec<String> {
    if controllers.is_empty() {
        return vec!["no Flux controller Deployment found".into()];
    }
    let versions: BTreeSet<&str> = controllers
        .iter()
        .filter_map(|c| c["version"].as_str())
        .collect();
    let ready = controllers
        .iter()
        .filter(|c| c["ready"] == json!(true))
        .count();
    let mut lines = vec![format!(
        "Flux controllers found as Deployments: {ready} of {} ready",
        controllers.len()
    )];
    if !versions.is_empty() {
        lines.push(format!(
            "Flux version (app.kubernetes.io/version of the controllers): {}",
            versions.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    lines
}

/// The pods' CPU and memory in `namespace`, in `get_kubernetes_metrics`' table (as comment
/// lines: the answer stays a stream of YAML documents), or one line saying why there are none.
fn pod_metrics(metrics: Result<Vec<Value>, kube::Error>, namespace: &str) -> String {
    let text = match metrics {
        Ok(pods) if pods.is_empty() => {
            format!("pod metrics: metrics-server reports no pods in namespace {namespace}")
        }
        Ok(mut pods) => {
            pods.sort_by(|a, b| {
                a["metadata"]["name"]
                    .as_str()
                    .cmp(&b["metadata"]["name"].as_str())
            });
            pod_table(namespace, &pods)
        }
        Err(e @ kube::Error::MetricsUnavailable { .. }) => {
            format!("pod metrics: not available: {e}")
        }
        Err(e) => format!("pod metrics: cannot be read: {e}"),
    };
    format!("---\n{}", yaml::comment(text.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        parse_system_time("2026-11-21T05:30:00Z").unwrap()
    }

    fn live() -> Live {
        let mut tally = Tally::default();
        let failing = diagnosis::health(&json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "reason": "BuildFailed"}]}}));
        let ready = diagnosis::health(&json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"}]}}));
        tally.add("apps/a", &failing, false);
        tally.add("apps/b", &ready, false);
        Live {
            controllers: Some(vec![Controller {
                name: "helm-controller".into(),
                available: true,
                replicas: "1/1".into(),
                images: vec!["ghcr.io/fluxcd/helm-controller:v1.4.2".into()],
                problems: Vec::new(),
                usage: None,
            }]),
            kinds: vec![KindCount {
                kind: "Kustomization".into(),
                tally,
                ..KindCount::default()
            }],
            sync: Some(ready),
            ..Live::default()
        }
    }

    #[test]
    fn live_state_contradicting_the_report_is_flagged_with_its_age() {
        let report = json!({"metadata": {"name": "flux", "namespace": "flux-system",
                "managedFields": [{"manager": "flux-operator", "time": "2026-11-21T04:49:00Z"}]},
            "spec": {
                "components": [{"name": "helm-controller", "ready": false,
                    "status": "Failed: Deployment does not have minimum availability.",
                    "image": "ghcr.io/fluxcd/helm-controller:v1.4.1@sha256:abc"}],
                "reconcilers": [{"kind": "Kustomization", "stats": {"failing": 0, "running": 2}}],
                "sync": {"id": "kustomization/flux-system", "ready": false}},
            "status": {"conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": "2026-11-21T04:00:00Z"}]}});
        let instance = json!({"status": {"components": [{"name": "helm-controller",
            "repository": "ghcr.io/fluxcd/helm-controller", "tag": "v1.4.2"}]}});
        let facts = ReportFacts::read(&report, now());
        assert_eq!(
            facts.age_line(),
            "FluxReport flux-system/flux: written 41m ago (2026-11-21T04:49:00Z); facts from it are marked (report), the others are live"
        );
        assert_eq!(
            facts.disagreements(&live(), &instance),
            [
                "DISAGREEMENT: live state contradicts the FluxReport (4 facts); trust the live ones:",
                "- the FluxReport, 41m old, says helm-controller is NOT READY (Failed: Deployment does not have minimum availability.); live: its Deployment is available 1/1",
                "- the FluxReport, 41m old, says helm-controller runs ghcr.io/fluxcd/helm-controller:v1.4.1; live: its pods run ghcr.io/fluxcd/helm-controller:v1.4.2",
                "- the FluxReport, 41m old, counts failing objects: Kustomization 0 (live 1)",
                "- the FluxReport, 41m old, says the sync kustomization/flux-system is not ready; live: ready",
            ]
        );
        // A report that agrees says nothing more.
        let mut agreeing = report.clone();
        agreeing["spec"]["components"][0]["ready"] = json!(true);
        agreeing["spec"]["components"][0]["image"] = json!("ghcr.io/fluxcd/helm-controller:v1.4.2");
        agreeing["spec"]["reconcilers"][0]["stats"]["failing"] = json!(1);
        agreeing["spec"]["sync"]["ready"] = json!(true);
        assert!(
            ReportFacts::read(&agreeing, now())
                .disagreements(&live(), &instance)
                .is_empty()
        );
    }

    #[test]
    fn kinds_name_their_failing_objects_and_group_the_healthy_ones() {
        let mut l = live();
        let ready = diagnosis::health(&json!({"status": {"conditions": [
            {"type": "Ready", "status": "True"}]}}));
        let mut all_ready = Tally::default();
        all_ready.add("flux-system/x", &ready, false);
        l.kinds.push(KindCount {
            kind: "Alert".into(),
            tally: all_ready,
            partial: true,
            error: None,
        });
        l.kinds.push(KindCount {
            kind: "Bucket".into(),
            error: Some("forbidden".into()),
            ..KindCount::default()
        });
        assert_eq!(
            l.kind_lines(),
            [
                "objects (live: the Ready condition of every object, by kind):",
                "- Kustomization: 1 of 2 failing (apps/a)",
                "- Bucket: cannot be listed: forbidden",
                "- all ready: Alert at least 1",
                "(get_kubernetes_resources lists a kind's objects, failing first)",
            ]
        );
    }

    #[test]
    fn the_instance_lines_say_state_history_revisions_and_inventory() {
        let inst = json!({"metadata": {"name": "flux", "namespace": "flux-system"},
            "spec": {"distribution": {"version": "2.7.x", "artifact": "oci://ghcr.io/x/manifests"}},
            "status": {"conditions": [{"type": "Ready", "status": "False",
                "reason": "ReconciliationFailed", "message": "pull failed:\nno such host",
                "lastTransitionTime": "2026-11-21T05:00:00Z"}],
                "history": [{"lastReconciled": "2026-11-21T05:03:00Z", "lastReconciledDuration": "4.1s",
                    "lastReconciledStatus": "ReconciliationFailed", "totalReconciliations": 3}],
                "lastAppliedRevision": "v2.7.2@sha256:d9fff27f00e51fa0830a4b5fbea45438b32d50351be8596ef2ddb83e7626c678",
                "inventory": {"entries": [
                    {"id": "flux-system_source-controller_apps_Deployment", "v": "v1"},
                    {"id": "flux-system_helm-controller_apps_Deployment", "v": "v1"},
                    {"id": "_buckets.source.toolkit.fluxcd.io_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"}]}}});
        assert_eq!(
            instance_lines(&inst, now()),
            [
                "FluxInstance flux-system/flux: failing for 30m: ReconciliationFailed (its conditions and events follow); last reconciled 27m ago in 4.1s (ReconciliationFailed), 3 times",
                "FluxInstance applied v2.7.2@sha256:d9fff27f00e5",
                "FluxInstance spec: distribution 2.7.x from oci://ghcr.io/x/manifests",
                "FluxInstance inventory: 3 objects: Deployment 2, CustomResourceDefinition 1",
                "(full: true gives the FluxInstance, inventory listed, and the FluxReport as YAML)",
            ]
        );
        let failing = trimmed(inst);
        assert!(
            failing["status"]["history"].is_array() && failing["status"]["inventory"].is_null()
        );
    }
}
