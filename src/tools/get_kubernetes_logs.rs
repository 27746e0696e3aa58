//! `get_kubernetes_logs`: the tail of a container's log, for a pod, for a workload
//! (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, the latest Job of a CronJob) whose
//! pods are picked like `kubectl logs deploy/NAME` does, or for a Flux object (its
//! controller's log lines about it), so the agent needs one call, not three. Both generations
//! of upstream's parameters are accepted (`pod_name`/`pod_namespace`/`container_name` and
//! `kind`/`name`/`namespace`/`container`); `since` and `grep` narrow the lines, a grep keeping
//! each matching entry whole (a panic with its stack).

use std::cmp::Reverse;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::cluster::{self, Cluster, context_property};
use super::grep::{self, Grep};
use super::objects::{diagnosis, is_flux_group};
use super::pods::{
    ContainerState, LIST_AT_MOST, NAMES_LISTED, container_status, count, not_found, plural, text,
};
use super::{Args, Ctx, Tool, ToolError, flux};
use crate::kube::Error;
use crate::kube::client::LogOptions;
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_logs",
    title: "Get container logs",
    description: "Gets the last lines of a container's log. name is a pod, or with kind a \
        Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob (its latest Job), whose \
        pods are picked as kubectl logs does (up to 3, running and newest first), or a Flux \
        object such as a HelmRelease or Kustomization: its controller's log lines about that \
        object. A plain name that is no pod but a Deployment, StatefulSet, DaemonSet or Job \
        works too, and so does KIND/NAME (deploy/podinfo). since (Go duration) and grep \
        (case-insensitive substring or regular expression; a matching entry keeps its \
        continuation lines, such as a panic's stack) narrow the lines. namespace defaults to \
        the context's. The older pod_name, pod_namespace and container_name are accepted too. \
        Capped at 256 KiB.",
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
            "kind": {
                "type": "string",
                "description": "Pod (default), Deployment, StatefulSet, DaemonSet, ReplicaSet, \
                    Job, CronJob, or a Flux kind (HelmRelease, Kustomization, GitRepository, \
                    ...) for its controller's lines about the object."
            },
            "name": {
                "type": "string",
                "description": "The pod, workload or Flux object; KIND/NAME works too."
            },
            "namespace": {
                "type": "string",
                "description": "Its namespace; default: the context's namespace."
            },
            "container": {
                "type": "string",
                "description": "The container; optional when the pod has one container or a \
                    kubectl.kubernetes.io/default-container annotation."
            },
            "pod_name": {
                "type": "string",
                "description": "Older form of name (a pod, or KIND/NAME such as deployment/NAME)."
            },
            "pod_namespace": {
                "type": "string",
                "description": "Older form of namespace."
            },
            "container_name": {
                "type": "string",
                "description": "Older form of container."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_LINES,
                "description": "How many of the last log lines to return per pod; with grep or \
                    a Flux kind, how many matching entries."
            },
            "since": {
                "type": "string",
                "description": "Only lines newer than this Go duration, e.g. 10m, 1h."
            },
            "grep": {
                "type": "string",
                "description": "Keep only entries matching this case-insensitive substring or \
                    regular expression (RE2 syntax subset), each with its continuation lines."
            },
            "previous": {
                "type": "boolean",
                "default": false,
                "description": "The log of the previous, terminated instance of the container \
                    (after a crash or restart)."
            },
            "context": context_property()
        },
        "required": [],
        "additionalProperties": false
    })
}

const DEFAULT_LINES: u64 = 100;
/// The most log text one call returns (upstream's cap, shared by the pods of a workload).
const MAX_BYTES: u64 = 256 << 10;
/// How many pods of a workload get their logs shown.
const MAX_PODS: usize = 3;
/// The annotation kubectl reads to pick a pod's container when none is named.
const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

fn pods() -> Resource {
    Resource::new("v1", "Pod", "pods", true)
}

/// Up to [`LIST_AT_MOST`] objects, and whether there are more.
fn list_some(
    cluster: &Cluster,
    resource: &Resource,
    options: ListOptions,
) -> Result<(Vec<Value>, bool), Error> {
    let mut items = Vec::new();
    let options = ListOptions {
        limit: Some(LIST_AT_MOST),
        ..options
    };
    let info = cluster.list(resource, &options, |item| {
        items.push(item);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok((items, info.more))
}

/// The workload kinds `pod_name` may name, with the prefixes kubectl accepts for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

impl Workload {
    const ALL: [Workload; 6] = [
        Workload::Deployment,
        Workload::StatefulSet,
        Workload::DaemonSet,
        Workload::ReplicaSet,
        Workload::Job,
        Workload::CronJob,
    ];
    /// Tried, in this order, for a plain name that is not a pod.
    const BY_NAME: [Workload; 4] = [
        Workload::Deployment,
        Workload::StatefulSet,
        Workload::DaemonSet,
        Workload::Job,
    ];

    /// kubectl's resource forms: kind, plural and short name, any case.
    fn from_prefix(prefix: &str) -> Option<Workload> {
        let p = prefix.to_ascii_lowercase();
        Workload::ALL.into_iter().find(|w| {
            let r = w.resource();
            p == r.singular || p == r.plural || w.short() == Some(p.as_str())
        })
    }

    fn short(self) -> Option<&'static str> {
        match self {
            Workload::Deployment => Some("deploy"),
            Workload::StatefulSet => Some("sts"),
            Workload::DaemonSet => Some("ds"),
            Workload::ReplicaSet => Some("rs"),
            Workload::Job => None,
            Workload::CronJob => Some("cj"),
        }
    }

    fn resource(self) -> Resource {
        match self {
            Workload::Deployment => Resource::new("apps/v1", "Deployment", "deployments", true),
            Workload::StatefulSet => Resource::new("apps/v1", "StatefulSet", "statefulsets", true),
            Workload::DaemonSet => Resource::new("apps/v1", "DaemonSet", "daemonsets", true),
            Workload::ReplicaSet => Resource::new("apps/v1", "ReplicaSet", "replicasets", true),
            Workload::Job => Resource::new("batch/v1", "Job", "jobs", true),
            Workload::CronJob => Resource::new("batch/v1", "CronJob", "cronjobs", true),
        }
    }
}

/// What `name` (or `pod_name`) asks for.
enum Target<'a> {
    Pod(&'a str),
    Workload(Workload, &'a str),
    /// A Flux object: its controller's log lines about it.
    Flux(Resource, &'a str),
}

/// `arg` is the argument's name (`name` or `pod_name`), for messages.
fn parse_target<'a>(arg: &str, pod_name: &'a str) -> Result<Target<'a>, ToolError> {
    let Some((prefix, name)) = pod_name.split_once('/') else {
        return Ok(Target::Pod(pod_name));
    };
    let name = name.trim();
    if name.is_empty() || name.contains('/') {
        return Err(ToolError::InvalidArgument(format!(
            "{arg} {pod_name:?} is not a pod name or KIND/NAME"
        )));
    }
    if is_pod_kind(prefix) {
        return Ok(Target::Pod(name));
    }
    match Workload::from_prefix(prefix) {
        Some(w) => Ok(Target::Workload(w, name)),
        None => Err(ToolError::InvalidArgument(format!(
            "{arg} {pod_name:?}: {prefix:?} is not a workload kind; use a pod name or \
             deployment/NAME, statefulset/NAME, daemonset/NAME, replicaset/NAME, job/NAME or \
             cronjob/NAME, or pass a Flux kind as kind"
        ))),
    }
}

fn is_pod_kind(kind: &str) -> bool {
    ["pod", "pods", "po"].contains(&kind.to_ascii_lowercase().as_str())
}

/// The target of a call with an explicit `kind`: a pod, a workload, or a Flux kind found
/// through discovery. A `KIND/NAME` name must agree with it.
fn kind_target<'a>(cluster: &Cluster, kind: &str, name: &'a str) -> Result<Target<'a>, ToolError> {
    let name = match name.split_once('/') {
        None => name,
        Some((prefix, rest)) => {
            let same = prefix.eq_ignore_ascii_case(kind)
                || (is_pod_kind(prefix) && is_pod_kind(kind))
                || Workload::from_prefix(prefix)
                    .is_some_and(|w| Some(w) == Workload::from_prefix(kind));
            if !same {
                return Err(ToolError::InvalidArgument(format!(
                    "kind {kind:?} and name {name:?} name different kinds: pass the name alone"
                )));
            }
            rest.trim()
        }
    };
    if is_pod_kind(kind) {
        return Ok(Target::Pod(name));
    }
    if let Some(w) = Workload::from_prefix(kind) {
        return Ok(Target::Workload(w, name));
    }
    let resource = flux::resolve_kind(cluster, None, kind).map_err(|e| cluster.error(e))?;
    if !is_flux_group(&resource.group) {
        return Err(ToolError::InvalidArgument(format!(
            "kind {kind:?} ({}) has no logs of its own: use Pod, Deployment, StatefulSet, \
             DaemonSet, ReplicaSet, Job, CronJob or a Flux kind",
            resource.api_version()
        )));
    }
    Ok(Target::Flux(resource, name))
}

/// What the lines are filtered by, beyond `since` (which the kubelet applies).
#[derive(Default)]
struct Filter {
    grep: Option<Grep>,
    /// A Flux object `(kind, namespace, name)`: its controller's lines about it.
    about: Option<(String, String, String)>,
}

impl Filter {
    fn active(&self) -> bool {
        self.grep.is_some() || self.about.is_some()
    }

    /// Whether a log entry (a line and its continuation lines) is kept: its first line is
    /// about the object, and any of its lines matches the pattern.
    fn keeps(&self, entry: &str) -> bool {
        let first = entry.lines().next().unwrap_or_default();
        if let Some((kind, namespace, name)) = &self.about
            && !flux::log_line_is_about(first, kind, namespace, name)
        {
            return false;
        }
        self.grep
            .as_ref()
            .is_none_or(|g| entry.lines().any(|l| g.is_match(l)))
    }

    /// `grep "x"`, `lines about HelmRelease apps/y`: what the filter keeps, for notes.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((kind, namespace, name)) = &self.about {
            parts.push(format!("about {kind} {namespace}/{name}"));
        }
        if let Some(g) = &self.grep {
            parts.push(format!("matching {:?}", g.pattern()));
        }
        parts.join(" and ")
    }
}

/// The options every pod's log is read with.
struct Wanted<'a> {
    container: Option<&'a str>,
    lines: u64,
    previous: bool,
    /// Seconds for `sinceSeconds`, and the duration as given.
    since: Option<(u64, &'a str)>,
    filter: Filter,
    /// `--mask-secrets`: credential-shaped text in the lines (a bearer token, a `password=`
    /// pair, a private key) is masked as soon as it is read, before `grep` sees it.
    mask: bool,
}

/// The value of an argument that has an older name too, with the name it came under; both
/// given and different is an error.
fn either<'a>(
    args: &Args<'a>,
    current: &'static str,
    older: &'static str,
) -> Result<Option<(&'a str, &'static str)>, ToolError> {
    let (new, old) = (
        args.opt_str(current)?.map(str::trim),
        args.opt_str(older)?.map(str::trim),
    );
    match (new, old) {
        (Some(a), Some(b)) if a != b => Err(ToolError::InvalidArgument(format!(
            "{current} {a:?} and {older} {b:?} disagree: {older} is the older name of \
             {current}, pass one of them"
        ))),
        (Some(a), _) => Ok(Some((a, current))),
        (None, Some(b)) => Ok(Some((b, older))),
        (None, None) => Ok(None),
    }
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let (name, name_arg) = either(args, "name", "pod_name")?.ok_or_else(|| {
        ToolError::InvalidArgument(
            "name is required (pod_name in the older form): a pod, a workload with kind, or a \
             Flux object with kind"
                .to_string(),
        )
    })?;
    let namespace = either(args, "namespace", "pod_namespace")?.map(|(ns, _)| ns);
    let kind = args.opt_str("kind")?.map(str::trim);
    let since = match args.opt_duration("since")? {
        // The API counts whole seconds and wants at least one.
        Some(d) => Some((
            d.as_secs_f64().ceil() as u64,
            args.opt_str("since")?.map(str::trim).unwrap_or_default(),
        )),
        None => None,
    };
    let grep = args
        .opt_str("grep")?
        .map(Grep::new)
        .transpose()
        .map_err(|e| ToolError::InvalidArgument(e.to_string()))?;
    let mut wanted = Wanted {
        container: either(args, "container", "container_name")?.map(|(c, _)| c),
        // 0 is "the default" to several clients; the API would answer no lines at all.
        lines: match args.opt_u64("limit")? {
            None | Some(0) => DEFAULT_LINES,
            Some(n) => n,
        },
        previous: args.opt_bool("previous")?.unwrap_or(false),
        since,
        filter: Filter { grep, about: None },
        mask: ctx.settings.mask_secrets,
    };
    // A malformed KIND/NAME is refused before any cluster is reached.
    let parsed = match kind {
        None => Some(parse_target(name_arg, name)?),
        Some(_) => None,
    };
    let cluster = ctx.cluster(args)?;
    let namespace = namespace.unwrap_or_else(|| cluster.default_namespace());
    let target = match (parsed, kind) {
        (Some(t), _) => t,
        (None, kind) => kind_target(&cluster, kind.unwrap_or("Pod"), name)?,
    };
    match target {
        Target::Pod(name) => match cluster.get(&pods(), namespace, name) {
            Ok(pod) => {
                let mut out = String::new();
                pod_section(&cluster, &pod, &wanted, MAX_BYTES, &mut out)?;
                Ok(out)
            }
            Err(e) if e.is_not_found() => {
                let Some((kind, object)) = workload_named(&cluster, namespace, name) else {
                    let mut message = not_found(&cluster, &pods(), namespace, name);
                    message.push_str(
                        "; no Deployment, StatefulSet, DaemonSet or Job has that name either",
                    );
                    return Err(ToolError::Failed(message));
                };
                let note = format!(
                    "No pod is named {name}; {} {name} is used instead.\n",
                    kind.resource().kind
                );
                workload_logs(&cluster, namespace, kind, &object, &wanted).map(|s| note + &s)
            }
            Err(e) => Err(cluster.error(e)),
        },
        Target::Workload(kind, name) => {
            let object = match cluster.get(&kind.resource(), namespace, name) {
                Ok(o) => o,
                Err(e) if e.is_not_found() => {
                    return Err(ToolError::Failed(not_found(
                        &cluster,
                        &kind.resource(),
                        namespace,
                        name,
                    )));
                }
                Err(e) => return Err(cluster.error(e)),
            };
            workload_logs(&cluster, namespace, kind, &object, &wanted)
        }
        Target::Flux(resource, name) => {
            flux_object_logs(&cluster, &resource, namespace, name, &mut wanted)
        }
    }
}

/// The log lines of a Flux object: those its controller's pods write about it (see
/// [`flux::log_line_is_about`]), read from the controller's Deployment like any workload.
fn flux_object_logs(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
    wanted: &mut Wanted,
) -> Result<String, ToolError> {
    let ns = if resource.namespaced { namespace } else { "" };
    let controller = diagnosis::controller(&resource.group, &resource.kind);
    // The object and its controller's Deployment are independent: one round trip for both.
    let (object, deployment) = cluster::both(
        || cluster.get(resource, ns, name),
        || flux::controller_deployment(cluster, controller),
    );
    match object {
        Ok(_) => {}
        Err(e) if e.is_not_found() && resource.namespaced => {
            return Err(ToolError::Failed(not_found(cluster, resource, ns, name)));
        }
        Err(e) => return Err(cluster.error(e)),
    }
    let deployment = deployment.map_err(|e| cluster.error(e))?.ok_or_else(|| {
        ToolError::Failed(format!(
            "context {}: no Deployment of {controller}, which reconciles {} objects, in \
                 namespace {} or labelled {},app.kubernetes.io/component={controller}",
            cluster.context(),
            resource.kind,
            flux::FLUX_NAMESPACE,
            flux::PART_OF_FLUX
        ))
    })?;
    wanted.filter.about = Some((resource.kind.clone(), ns.to_string(), name.to_string()));
    let who = if ns.is_empty() {
        format!("{} {name}", resource.kind)
    } else {
        format!("{} {ns}/{name}", resource.kind)
    };
    let controller_ns = text(&deployment, "/metadata/namespace").to_string();
    let mut out = format!(
        "{controller}'s log lines about {who} (the lines naming it, each with its \
         continuation lines):\n"
    );
    out.push_str(&workload_logs(
        cluster,
        &controller_ns,
        Workload::Deployment,
        &deployment,
        wanted,
    )?);
    Ok(out)
}

/// The first workload named `name` (a plain `pod_name` that is no pod). Refusals and other
/// errors count as "not this kind": the answer is then the pod-not-found message.
/// The kinds are asked at once (one round trip, not one per kind); the first in
/// [`Workload::BY_NAME`] order that has the name wins, as when they were asked in turn.
fn workload_named(cluster: &Cluster, namespace: &str, name: &str) -> Option<(Workload, Value)> {
    let found = cluster::each(&Workload::BY_NAME, |kind| {
        cluster.get(&kind.resource(), namespace, name).ok()
    });
    Workload::BY_NAME
        .into_iter()
        .zip(found)
        .find_map(|(kind, object)| object.map(|o| (kind, o)))
}

/// The logs of a workload's pods: up to [`MAX_PODS`] of those its selector matches, running
/// ones first, newest first (kubectl picks one pod the same way; we show a few, since the
/// failing replica is not always the newest).
fn workload_logs(
    cluster: &Cluster,
    namespace: &str,
    kind: Workload,
    object: &Value,
    wanted: &Wanted,
) -> Result<String, ToolError> {
    let name = text(object, "/metadata/name");
    let label = format!("{}/{name}", kind.resource().singular);
    let mut out = String::new();
    let job;
    let owner = if kind == Workload::CronJob {
        job = latest_job(cluster, namespace, object)?;
        let _ = writeln!(
            out,
            "{label}: latest Job {} (created {}{}).",
            text(&job, "/metadata/name"),
            text(&job, "/metadata/creationTimestamp"),
            job_outcome(&job)
        );
        &job
    } else {
        object
    };
    let owner_label = if kind == Workload::CronJob {
        format!("job/{}", text(owner, "/metadata/name"))
    } else {
        label
    };
    let selector = owner
        .pointer("/spec/selector")
        .and_then(label_selector)
        .ok_or_else(|| {
            ToolError::Failed(format!(
                "context {}: {owner_label} has no pod selector, so its pods cannot be found",
                cluster.context()
            ))
        })?;
    let options = ListOptions {
        namespace: Some(namespace.to_string()),
        label_selector: Some(selector.clone()),
        ..ListOptions::default()
    };
    let (mut pods, more) = list_some(cluster, &pods(), options).map_err(|e| cluster.error(e))?;
    if pods.is_empty() {
        return Err(ToolError::Failed(format!(
            "context {}: {owner_label} in namespace {namespace} has no pods (selector \
             {selector}){}",
            cluster.context(),
            replicas_note(owner)
        )));
    }
    pods.sort_by(|a, b| pod_order(a).cmp(&pod_order(b)));
    let shown = pods.len().min(MAX_PODS);
    let names = |ps: &[Value]| -> Vec<String> {
        ps.iter()
            .map(|p| text(p, "/metadata/name").to_string())
            .collect()
    };
    let _ = write!(
        out,
        "{owner_label} in namespace {namespace} selects {} (selector {selector}); ",
        count(pods.len(), more, "pod")
    );
    if pods.len() == 1 && !more {
        out.push_str("showing its logs.\n");
    } else if shown == pods.len() {
        let _ = writeln!(out, "showing logs of all, running and newest first.");
    } else {
        let rest = names(&pods[shown..]);
        let listed: Vec<&str> = rest.iter().take(NAMES_LISTED).map(String::as_str).collect();
        let more = if rest.len() > listed.len() {
            ", ..."
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "showing logs of {shown}, running and newest first; not shown: {}{more}.",
            listed.join(", ")
        );
    }
    let budget = MAX_BYTES / shown as u64;
    let mut failures = Vec::new();
    // The pods' logs are read at once and written in the pods' order.
    let sections = cluster::each(&pods[..shown], |pod| {
        let mut section = String::new();
        pod_section(cluster, pod, wanted, budget, &mut section).map(|()| section)
    });
    for (pod, section) in pods[..shown].iter().zip(sections) {
        match section {
            Ok(text) => out.push_str(&text),
            Err(e) => {
                // A wrong container name is wrong for every pod of the template: stop at once.
                if matches!(e, ToolError::InvalidArgument(_)) {
                    return Err(e);
                }
                let _ = writeln!(
                    out,
                    "==> pod {namespace}/{} <==",
                    text(pod, "/metadata/name")
                );
                let _ = writeln!(out, "(no logs: {e})");
                failures.push(e);
            }
        }
    }
    if failures.len() == shown {
        // Nothing to show at all: the agent gets the reason as an error, not an empty log.
        return Err(failures.remove(0));
    }
    Ok(out)
}

/// Running pods first, then the newest, then by name.
fn pod_order(p: &Value) -> (bool, Reverse<&str>, &str) {
    (
        text(p, "/status/phase") != "Running",
        Reverse(text(p, "/metadata/creationTimestamp")),
        text(p, "/metadata/name"),
    )
}

/// The newest Job a CronJob created (by owner reference, as `kubectl logs cronjob/x` would
/// need to find it).
fn latest_job(cluster: &Cluster, namespace: &str, cronjob: &Value) -> Result<Value, ToolError> {
    let name = text(cronjob, "/metadata/name");
    let uid = text(cronjob, "/metadata/uid");
    let jobs = cluster
        .list_all(
            &Workload::Job.resource(),
            &ListOptions {
                namespace: Some(namespace.to_string()),
                ..ListOptions::default()
            },
        )
        .map_err(|e| cluster.error(e))?;
    let owned = |job: &&Value| {
        job.pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|refs| {
                refs.iter().any(|r| {
                    text(r, "/kind") == "CronJob"
                        && text(r, "/name") == name
                        && (uid.is_empty() || text(r, "/uid") == uid)
                })
            })
    };
    jobs.iter()
        .filter(owned)
        .max_by_key(|j| {
            (
                text(j, "/metadata/creationTimestamp"),
                text(j, "/metadata/name"),
            )
        })
        .cloned()
        .ok_or_else(|| {
            let last = text(cronjob, "/status/lastScheduleTime");
            let when = if last.is_empty() {
                "it has never been scheduled".to_string()
            } else {
                format!("last scheduled {last}; its Jobs may have been cleaned up")
            };
            ToolError::Failed(format!(
                "context {}: cronjob/{name} in namespace {namespace} has no Jobs ({when})",
                cluster.context()
            ))
        })
}

/// `, failed: BackoffLimitExceeded` / `, complete` / `, running`, from a Job's conditions.
fn job_outcome(job: &Value) -> String {
    let conditions = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let holds = |t: &str| {
        conditions
            .iter()
            .find(|c| text(c, "/type") == t && text(c, "/status") == "True")
    };
    if let Some(c) = holds("Failed") {
        let reason = text(c, "/reason");
        return if reason.is_empty() {
            ", failed".to_string()
        } else {
            format!(", failed: {reason}")
        };
    }
    if holds("Complete").is_some() {
        return ", complete".to_string();
    }
    ", running".to_string()
}

/// `; spec.replicas is 0` when a scaled-down workload explains why it has no pods.
fn replicas_note(object: &Value) -> String {
    match object.pointer("/spec/replicas").and_then(Value::as_u64) {
        Some(0) => "; spec.replicas is 0".to_string(),
        _ => String::new(),
    }
}

/// A `LabelSelector` (`matchLabels` and `matchExpressions`) as the query string the API takes;
/// `None` when it selects nothing or everything.
fn label_selector(selector: &Value) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            parts.push(format!("{k}={}", v.as_str().unwrap_or_default()));
        }
    }
    for e in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = text(e, "/key");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let part = match text(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return None,
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The container to read: the one named, else the only one, else the pod's default-container
/// annotation (kubectl's rule); otherwise an error that lists them.
fn pick_container<'a>(pod: &'a Value, wanted: Option<&'a str>) -> Result<&'a str, ToolError> {
    let names = |field: &str| -> Vec<&'a str> {
        pod.pointer(field)
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(|c| text(c, "/name")).collect())
            .unwrap_or_default()
    };
    // `kubectl logs -c` reads ephemeral (debug) containers too.
    let (containers, init, ephemeral) = (
        names("/spec/containers"),
        names("/spec/initContainers"),
        names("/spec/ephemeralContainers"),
    );
    let known = |c: &str| {
        [&containers, &init, &ephemeral]
            .iter()
            .any(|l| l.contains(&c))
    };
    let pod_name = format!(
        "{}/{}",
        text(pod, "/metadata/namespace"),
        text(pod, "/metadata/name")
    );
    let listing = || {
        let mut s = format!("containers: {}", containers.join(", "));
        if !init.is_empty() {
            let _ = write!(s, "; init containers: {}", init.join(", "));
        }
        if !ephemeral.is_empty() {
            let _ = write!(s, "; ephemeral containers: {}", ephemeral.join(", "));
        }
        s
    };
    if let Some(c) = wanted {
        if known(c) {
            return Ok(c);
        }
        return Err(ToolError::InvalidArgument(format!(
            "container {c:?} not found in pod {pod_name}; {}",
            listing()
        )));
    }
    if let [only] = containers.as_slice() {
        return Ok(only);
    }
    // The annotation key holds a `/`, so it is looked up by key, not by JSON pointer.
    let annotated = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DEFAULT_CONTAINER))
        .and_then(Value::as_str)
        .filter(|c| known(c));
    match annotated {
        Some(c) => Ok(c),
        None => Err(ToolError::InvalidArgument(format!(
            "pod {pod_name} has {} containers and no {DEFAULT_CONTAINER} annotation: pass \
             container_name; {}",
            containers.len(),
            listing()
        ))),
    }
}

/// Appends one pod's section: a `==> pod ns/name, container c ... <==` header, then the log
/// lines verbatim, then notes (empty log, byte cap).
fn pod_section(
    cluster: &Cluster,
    pod: &Value,
    wanted: &Wanted,
    budget: u64,
    out: &mut String,
) -> Result<(), ToolError> {
    let container = pick_container(pod, wanted.container)?;
    let namespace = text(pod, "/metadata/namespace");
    let name = text(pod, "/metadata/name");
    let status = container_status(pod, container);
    let fetched = tail(cluster, namespace, name, container, wanted, budget).map_err(|e| {
        let mut message = cluster.error(e).to_string();
        if wanted.previous && message.contains("previous terminated container") {
            let restarts = status.as_ref().map_or(0, ContainerState::restarts);
            let _ = write!(
                message,
                " (container {container} has restarted {restarts} times, so there is no \
                 previous instance to read: omit previous to get the current log)"
            );
        }
        ToolError::Failed(message)
    })?;
    let lines = fetched.text.lines().count() as u64;
    let _ = write!(out, "==> pod {namespace}/{name}, container {container}");
    if wanted.previous {
        out.push_str(", previous instance");
    }
    if let Some(s) = status.as_ref().and_then(ContainerState::summary) {
        let _ = write!(out, " ({s})");
    }
    if lines >= wanted.lines && !wanted.filter.active() {
        let _ = write!(out, ", last {}", plural(lines as usize, "line"));
    }
    out.push_str(" <==\n");
    if fetched.text.is_empty() && !wanted.filter.active() {
        let which = if wanted.previous {
            "the previous instance of container"
        } else {
            "container"
        };
        let within = wanted
            .since
            .map(|(_, text)| format!(" within the last {text}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "(no log lines for {which} {container} of pod {namespace}/{name}{within})"
        );
    } else {
        out.push_str(&fetched.text);
        if !fetched.text.is_empty() && !fetched.text.ends_with('\n') {
            out.push('\n');
        }
    }
    if let Some(note) = fetched.note {
        let _ = writeln!(out, "({note})");
    }
    Ok(())
}

/// A container's log text and a note about the byte cap, if it applied.
struct Tail {
    text: String,
    note: Option<String>,
}

/// The last `wanted.lines` lines within `budget` bytes, newest kept first.
///
/// The API's `limitBytes` keeps the *start* of the requested tail, which would cut off the
/// newest lines, the ones that matter during an incident. So we read up to
/// [`READ_FACTOR`]× the budget, keep the newest lines that fit, and cut any line longer than
/// [`LINE_MAX`] (a stack dump or a JSON blob on one line would otherwise push every other
/// line out). When even that read is cut short, we ask again for fewer lines (estimated
/// from what fitted), and as a last resort for the newest line alone.
///
/// With a filter (grep, or a Flux object's lines) the matching lines may be few and far
/// apart: up to [`SCAN_LINES`] lines ([`SCAN_BYTES`]) are read and filtered by entry, and
/// the last `wanted.lines` matching entries are kept.
fn tail(
    cluster: &Cluster,
    namespace: &str,
    pod: &str,
    container: &str,
    wanted: &Wanted,
    budget: u64,
) -> Result<Tail, Error> {
    let filtering = wanted.filter.active();
    let read_cap = if filtering {
        SCAN_BYTES
    } else {
        budget.saturating_mul(READ_FACTOR)
    };
    // What the newest lines must fit in: the answer's share, or the whole read for a filter.
    let target = if filtering { read_cap } else { budget };
    let mut lines = if filtering {
        wanted.lines.max(SCAN_LINES)
    } else {
        wanted.lines
    };
    let mut attempt = 0;
    loop {
        let mut logs = cluster.logs(
            namespace,
            pod,
            &LogOptions {
                container: Some(container.to_string()),
                tail_lines: Some(lines),
                limit_bytes: Some(read_cap),
                previous: wanted.previous,
                since_seconds: wanted.since.map(|(s, _)| s),
            },
        )?;
        if wanted.mask
            && let std::borrow::Cow::Owned(masked) = crate::redact::mask(&logs.text)
        {
            logs.text = masked;
        }
        if !logs.truncated || lines == 1 {
            if filtering {
                return Ok(filtered(&logs.text, logs.truncated, budget, wanted));
            }
            return Ok(fit(&logs.text, logs.truncated, budget, wanted.lines));
        }
        // The requested tail is longer than `read_cap` and the server sent its oldest part:
        // ask for as many of the newest lines as would fit the target if they are as long as
        // those that came, and for the newest line alone on the last try.
        attempt += 1;
        let complete = logs.text.matches('\n').count() as u64;
        let estimate = complete.saturating_mul(target) / read_cap * 9 / 10;
        lines = if attempt >= TAIL_ATTEMPTS {
            1
        } else {
            estimate.clamp(1, lines / 2)
        };
    }
}

/// The last `wanted.lines` entries of `text` that the filter keeps (each with its
/// continuation lines), fitted to `budget`, with a note saying how many matched in how much.
fn filtered(text: &str, cut_short: bool, budget: u64, wanted: &Wanted) -> Tail {
    // A read cut inside its last line holds a partial line: leave it out.
    let text = if cut_short {
        text.rfind('\n').map_or("", |i| &text[..=i])
    } else {
        text
    };
    let read = text.lines().count();
    let kept: Vec<&str> = grep::entries(text)
        .into_iter()
        .filter(|e| wanted.filter.keeps(e))
        .collect();
    let take = usize::try_from(wanted.lines).unwrap_or(usize::MAX);
    let shown = &kept[kept.len().saturating_sub(take)..];
    let joined = shown.concat();
    let asked = joined.lines().count() as u64;
    let mut tail = fit(&joined, false, budget, asked);
    let within = wanted
        .since
        .map(|(_, t)| format!(" (since {t})"))
        .unwrap_or_default();
    let summary = if kept.is_empty() {
        format!(
            "no entries {} in the last {}{within}",
            wanted.filter.describe(),
            plural(read, "line")
        )
    } else if shown.len() < kept.len() {
        format!(
            "{} {} in the last {}{within}; the last {} shown",
            entries(kept.len()),
            wanted.filter.describe(),
            plural(read, "line"),
            shown.len()
        )
    } else {
        format!(
            "{} {} in the last {}{within}",
            entries(kept.len()),
            wanted.filter.describe(),
            plural(read, "line")
        )
    };
    tail.note = Some(match tail.note {
        Some(n) => format!("{summary}; {n}"),
        None => summary,
    });
    tail
}

/// Log bytes read per pod, as a multiple of its share of the output cap.
const READ_FACTOR: u64 = 4;
/// `1 entry`, `3 entries`.
fn entries(n: usize) -> String {
    if n == 1 {
        "1 entry".to_string()
    } else {
        format!("{n} entries")
    }
}

/// Lines read per pod to filter (grep, a Flux object's lines).
const SCAN_LINES: u64 = 5_000;
/// Bytes read per pod to filter.
const SCAN_BYTES: u64 = 4 << 20;
/// Requests for one container's tail before settling for its newest line.
const TAIL_ATTEMPTS: u32 = 3;
/// A longer log line is cut here (on a character boundary) and says how long it was.
const LINE_MAX: usize = 16 << 10;

/// The newest lines of `text` that fit in `budget` bytes, each cut to [`LINE_MAX`];
/// `cut_short`: the read stopped inside the last line (it is longer than what was read).
fn fit(text: &str, cut_short: bool, budget: u64, asked: u64) -> Tail {
    let budget = usize::try_from(budget).unwrap_or(usize::MAX);
    let all: Vec<&str> = text.split_inclusive('\n').collect();
    let mut kept: Vec<String> = Vec::new();
    let mut used = 0;
    let mut cut = 0;
    for (i, line) in all.iter().enumerate().rev() {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let partial = cut_short && i + 1 == all.len();
        let shown = if body.len() > LINE_MAX || partial {
            cut += 1;
            let end = crate::text::floor_char_boundary(body, LINE_MAX);
            let size = if partial {
                format!("more than {} bytes", body.len())
            } else {
                format!("{} bytes", body.len())
            };
            format!("{} … [line cut: {size}]\n", &body[..end])
        } else {
            format!("{body}\n")
        };
        if used + shown.len() > budget && !kept.is_empty() {
            break;
        }
        used += shown.len();
        kept.push(shown);
    }
    let dropped = all.len() - kept.len();
    kept.reverse();
    let cap = format!("{} KiB", budget >> 10);
    let mut notes = Vec::new();
    if dropped > 0 || (cut_short && kept.len() as u64 == 1 && asked > 1) {
        notes.push(format!(
            "output capped at {cap}: these are the last {} of the {asked} lines asked for",
            plural(kept.len(), "line")
        ));
    }
    if cut > 0 {
        notes.push(format!(
            "{} longer than {} KiB cut",
            plural(cut, "line"),
            LINE_MAX >> 10
        ));
    }
    Tail {
        text: kept.concat(),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_name_takes_kubectl_workload_forms() {
        let target = |s: &str| match parse_target("pod_name", s) {
            Ok(Target::Pod(n)) => format!("pod {n}"),
            Ok(Target::Workload(w, n)) => format!("{w:?} {n}"),
            Ok(Target::Flux(r, n)) => format!("{} {n}", r.kind),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(target("web-1"), "pod web-1");
        assert_eq!(target("pod/web-1"), "pod web-1");
        assert_eq!(target("po/web-1"), "pod web-1");
        assert_eq!(target("deploy/web"), "Deployment web");
        assert_eq!(target("Deployment/web"), "Deployment web");
        assert_eq!(target("deployments/web"), "Deployment web");
        assert_eq!(target("sts/db"), "StatefulSet db");
        assert_eq!(target("statefulset/db"), "StatefulSet db");
        assert_eq!(target("ds/agent"), "DaemonSet agent");
        assert_eq!(target("daemonset/agent"), "DaemonSet agent");
        assert_eq!(target("rs/web-5d4f8"), "ReplicaSet web-5d4f8");
        assert_eq!(target("job/migrate"), "Job migrate");
        assert_eq!(target("cronjob/backup"), "CronJob backup");
        assert_eq!(target("cj/backup"), "CronJob backup");
        assert!(
            target("svc/web")
                .starts_with("error: pod_name \"svc/web\": \"svc\" is not a workload kind")
        );
        assert!(target("deploy/").starts_with("error: pod_name \"deploy/\" is not"));
        assert!(target("a/b/c").starts_with("error:"));
    }

    #[test]
    fn selectors_become_query_strings() {
        let sel = json!({
            "matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "NotIn", "values": ["a"]},
                {"key": "team", "operator": "Exists"}
            ]
        });
        assert_eq!(
            label_selector(&sel).as_deref(),
            Some("app=web,tier=front,env in (prod,staging),!canary,zone notin (a),team")
        );
        assert_eq!(label_selector(&json!({})), None);
        assert_eq!(
            label_selector(&json!({"matchExpressions": [{"key": "k", "operator": "Gt"}]})),
            None
        );
    }

    fn pod(containers: &[&str], init: &[&str], default: Option<&str>) -> Value {
        let list =
            |names: &[&str]| -> Vec<Value> { names.iter().map(|n| json!({"name": n})).collect() };
        let mut p = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": list(containers), "initContainers": list(init)}
        });
        if let Some(d) = default {
            p["metadata"]["annotations"] = json!({DEFAULT_CONTAINER: d});
        }
        p
    }

    #[test]
    fn the_container_is_named_single_or_annotated() {
        let one = pod(&["app"], &[], None);
        assert_eq!(pick_container(&one, None), Ok("app"));
        let two = pod(&["app", "proxy"], &["init"], Some("app"));
        assert_eq!(pick_container(&two, None), Ok("app"));
        assert_eq!(pick_container(&two, Some("proxy")), Ok("proxy"));
        assert_eq!(pick_container(&two, Some("init")), Ok("init"));
        assert_eq!(
            pick_container(&two, Some("nginx")),
            Err(ToolError::InvalidArgument(
                "container \"nginx\" not found in pod ns/p; containers: app, proxy; init containers: init".into()
            ))
        );
        // An annotation naming a container that does not exist does not count.
        let stale = pod(&["app", "proxy"], &[], Some("gone"));
        assert_eq!(
            pick_container(&stale, None),
            Err(ToolError::InvalidArgument(
                "pod ns/p has 2 containers and no kubectl.kubernetes.io/default-container \
                 annotation: pass container_name; containers: app, proxy"
                    .into()
            ))
        );
    }

    #[test]
    fn running_pods_come_first_then_the_newest() {
        let p = |name: &str, phase: &str, created: &str| json!({"metadata": {"name": name, "creationTimestamp": created}, "status": {"phase": phase}});
        let mut pods = [
            p("old-running", "Running", "2026-01-01T00:00:00Z"),
            p("new-failed", "Failed", "2026-03-01T00:00:00Z"),
            p("new-running", "Running", "2026-02-01T00:00:00Z"),
            p("pending", "Pending", "2026-02-15T00:00:00Z"),
        ];
        pods.sort_by(|a, b| pod_order(a).cmp(&pod_order(b)));
        let names: Vec<&str> = pods.iter().map(|p| text(p, "/metadata/name")).collect();
        assert_eq!(
            names,
            ["new-running", "old-running", "new-failed", "pending"]
        );
    }

    #[test]
    fn job_outcomes() {
        let job = |conditions: Value| json!({"status": {"conditions": conditions}});
        assert_eq!(
            job_outcome(&job(
                json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])
            )),
            ", failed: BackoffLimitExceeded"
        );
        assert_eq!(
            job_outcome(&job(json!([{"type": "Complete", "status": "True"}]))),
            ", complete"
        );
        assert_eq!(job_outcome(&json!({})), ", running");
    }
}
