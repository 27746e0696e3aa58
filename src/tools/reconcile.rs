//! Asking Flux to reconcile now and waiting for the answer, shared by `reconcile_flux_resource`
//! and `resume_flux_reconciliation`: which kinds are Flux's and which of them reconcile, how
//! each is suspended, the object's source, the request (a JSON merge patch of the
//! `reconcile.fluxcd.io/requestedAt` annotation, plus `forceAt` where a forced run exists), the
//! wait (polls `status.lastHandledReconcileAt` at an interval that starts small and grows, so
//! the answer comes within one interval of the controller's), and the report: Ready status,
//! reason and message verbatim, revisions before and after, the events since the request.
//! Compiled only into the `mutations` build.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use serde_norway::{Mapping, Value as Yaml};

use super::objects::{diagnosis, is_flux_group, yaml};
use super::writes::{self, object_name};
use super::{Args, Cluster, ToolError};
use crate::kube::client::{PatchOptions, PatchType};
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;
use crate::kube::time::rfc3339_nanos_utc;

pub const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
pub const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";

/// The first wait between two polls: a controller answers a request within a few hundred
/// milliseconds when it is idle.
pub const FIRST_POLL: Duration = Duration::from_millis(100);
/// The interval grows by half each poll up to this, for controllers that take a while (a
/// HelmRelease install, a big Kustomization).
pub const MAX_POLL: Duration = Duration::from_secs(2);
/// Kept at the end of the call's `--timeout` for the reads that report a timed-out wait.
const REPORT_RESERVE: Duration = Duration::from_secs(2);

/// The input schema of a tool that acts on one Flux object (reconcile, suspend, resume): the
/// object's `kind`, `name`, `namespace`, `apiVersion` and `context`, plus the tool's own
/// properties (`extra`, a JSON object).
pub fn flux_object_schema(extra: Value) -> Value {
    let mut properties = json!({
        "kind": {
            "type": "string",
            "description": "Flux kind, e.g. Kustomization, HelmRelease, GitRepository (short \
                names such as ks, hr work)."
        },
        "name": {"type": "string", "description": "Object name."},
        "namespace": {
            "type": "string",
            "description": "Namespace; default: the context's namespace."
        },
        "apiVersion": {
            "type": "string",
            "description": "API version or group; default: the Flux group that serves the \
                kind, at its preferred version."
        },
    });
    if let (Some(all), Value::Object(extra)) = (properties.as_object_mut(), extra) {
        all.extend(extra);
        all.insert(
            super::cluster::CONTEXT_ARG.to_string(),
            super::cluster::context_property(),
        );
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": ["kind", "name"],
        "additionalProperties": false
    })
}

/// The schema of the `wait` argument.
pub fn wait_property() -> Value {
    json!({
        "type": "boolean",
        "default": true,
        "description": "Wait for the controller to handle the request and report the outcome \
            (default true); false returns once the request is made."
    })
}

/// The schema of the `timeout` argument.
pub fn timeout_property() -> Value {
    json!({
        "type": "string",
        "description": "How long to wait, as a Go duration (30s, 2m); at most the server's \
            --timeout, which is also the default."
    })
}

/// When waiting must stop: the `timeout` argument, within the call's own deadline (the
/// server's `--timeout`) minus a reserve for the reads that report what was seen. The text
/// says what bounded it, for a timed-out answer.
pub fn wait_deadline(
    args: &Args,
    cluster: &Cluster,
    started: Instant,
) -> Result<(Instant, String), ToolError> {
    let call_end = cluster
        .deadline()
        .unwrap_or(started + Duration::from_secs(60));
    let budget = call_end.saturating_duration_since(started);
    let reserve = REPORT_RESERVE.min(budget / 10);
    let latest = call_end - reserve;
    match args.opt_str("timeout")? {
        Some(text) => {
            let asked = crate::text::parse_duration(text)
                .map_err(|e| ToolError::InvalidArgument(format!("timeout {text:?}: {e}")))?;
            let by_arg = started + asked;
            if by_arg <= latest {
                Ok((by_arg, format!("the timeout argument ({text})")))
            } else {
                Ok((latest, "the server's --timeout".to_string()))
            }
        }
        None => Ok((latest, "the server's --timeout".to_string())),
    }
}

// ---- kinds ------------------------------------------------------------------------------------

/// The resource of a Flux `kind` (apiVersion optional: a Flux group serving the kind is
/// preferred to any other, so `HelmChart` on k3s is Flux's); any other kind is refused.
pub fn resolve_flux(
    cluster: &Cluster,
    api_version: Option<&str>,
    kind: &str,
    tool: &str,
) -> Result<Resource, ToolError> {
    let found = match api_version {
        Some(av) => cluster.resolve(Some(av), kind),
        None => {
            let flux = cluster.discovery().ok().and_then(|d| {
                d.matches(kind)
                    .into_iter()
                    .find(|r| is_flux_group(&r.group))
            });
            match flux {
                Some(r) => Ok(r),
                None => cluster.resolve(None, kind),
            }
        }
    };
    let resource = found.map_err(|e| cluster.error(e))?;
    if !is_flux_group(&resource.group) {
        return Err(ToolError::InvalidArgument(format!(
            "{} ({}) is not a Flux kind: {tool} works on Flux objects (sources, \
             Kustomization, HelmRelease, ResourceSet, FluxInstance, image automation, ...)",
            resource.kind,
            resource.api_version()
        )));
    }
    Ok(resource)
}

/// Why a Flux kind cannot be reconciled on request, if it cannot.
pub fn not_reconcilable(resource: &Resource) -> Option<String> {
    match (resource.group.as_str(), resource.kind.as_str()) {
        ("notification.toolkit.fluxcd.io", "Alert" | "Provider") => Some(format!(
            "{} is static configuration of notification-controller: it has no reconcile to \
             request (changes apply at once)",
            resource.kind
        )),
        (_, "ExternalArtifact") => Some(
            "an ExternalArtifact is produced by another controller (an ArtifactGenerator, or \
             a third-party one): reconcile its producer instead"
                .to_string(),
        ),
        _ => None,
    }
}

/// How a kind is suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suspension {
    /// The toolkit controllers' `spec.suspend: true`.
    Spec,
    /// An annotation `<key>: disabled` (the Flux Operator's `fluxcd.controlplane.io/reconcile`,
    /// source-watcher's `source.extensions.fluxcd.io/reconcile`).
    Annotation(&'static str),
}

pub fn suspension(resource: &Resource) -> Suspension {
    let group = resource.group.as_str();
    if group == "fluxcd.controlplane.io" || group.ends_with(".fluxcd.controlplane.io") {
        Suspension::Annotation("fluxcd.controlplane.io/reconcile")
    } else if group == "source.extensions.fluxcd.io" {
        Suspension::Annotation("source.extensions.fluxcd.io/reconcile")
    } else {
        Suspension::Spec
    }
}

/// `spec.suspend: true`, or `annotation: disabled`, as it reads in an answer; `None` when the
/// object is not suspended.
pub fn suspended(live: &Value, how: Suspension) -> Option<String> {
    match how {
        Suspension::Spec => (live.pointer("/spec/suspend") == Some(&json!(true)))
            .then(|| "spec.suspend: true".to_string()),
        Suspension::Annotation(key) => {
            let value = live
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str);
            (value == Some("disabled")).then(|| format!("{key}: disabled"))
        }
    }
}

/// Whether a reconcile of the kind also takes `forceAt` (a HelmRelease upgrade even without
/// changes, a ResourceSetInputProvider's forced poll), as `flux reconcile --force` and the
/// upstream server do.
fn forced(resource: &Resource) -> bool {
    matches!(
        resource.kind.as_str(),
        "HelmRelease" | "ResourceSetInputProvider"
    )
}

/// One object to reconcile.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: Resource,
    pub namespace: String,
    pub name: String,
}

impl Target {
    pub fn label(&self) -> String {
        object_name(&self.resource.kind, &self.namespace, &self.name)
    }
}

/// The source an object reconciles from: `spec.sourceRef` (Kustomization, image automation),
/// `spec.chartRef` or `spec.chart.spec.sourceRef` (HelmRelease).
pub fn source_of(
    cluster: &Cluster,
    live: &Value,
    namespace: &str,
) -> Option<Result<Target, String>> {
    let reference = live
        .pointer("/spec/sourceRef")
        .or_else(|| live.pointer("/spec/chartRef"))
        .or_else(|| live.pointer("/spec/chart/spec/sourceRef"))?;
    let kind = reference["kind"].as_str().unwrap_or_default();
    let name = reference["name"].as_str().unwrap_or_default();
    if kind.is_empty() || name.is_empty() {
        return Some(Err("its source reference has no kind or name".into()));
    }
    let ns = reference["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or(namespace);
    let api_version = reference["apiVersion"]
        .as_str()
        .filter(|v| !v.is_empty())
        .map(|av| av.split_once('/').map_or(av, |(g, _)| g));
    let resource = match resolve_flux(cluster, api_version, kind, "with_source") {
        Ok(r) => r,
        Err(e) => return Some(Err(format!("its source {kind} {ns}/{name}: {e}"))),
    };
    Some(Ok(Target {
        resource,
        namespace: ns.to_string(),
        name: name.to_string(),
    }))
}

// ---- request and wait -------------------------------------------------------------------------

/// The value a request sets: a fresh RFC 3339 timestamp with nanoseconds, as `flux reconcile`
/// writes it, so that it differs from any earlier request.
pub fn new_token() -> String {
    rfc3339_nanos_utc(SystemTime::now())
}

/// The merge patch that requests a reconcile of `resource` with `token`.
pub fn request_patch(resource: &Resource, token: &str) -> Value {
    let mut annotations = serde_json::Map::new();
    annotations.insert(REQUESTED_AT.into(), json!(token));
    if forced(resource) {
        annotations.insert(FORCE_AT.into(), json!(token));
    }
    json!({"metadata": {"annotations": annotations}})
}

/// Sends a merge patch (the request, or resume plus request) as our patch field manager;
/// returns the object as stored.
pub fn send(cluster: &Cluster, target: &Target, patch: &Value) -> Result<Value, ToolError> {
    cluster
        .patch(
            &target.resource,
            &target.namespace,
            &target.name,
            PatchType::Merge,
            patch,
            &PatchOptions::default(),
        )
        .map_err(|e| writes::write_error(cluster, e, &target.label(), "patch", &[]))
}

/// What came of a request.
#[derive(Debug)]
pub struct Report {
    pub target: Target,
    pub token: String,
    /// The object before the request.
    pub before: Value,
    /// The object as last seen (after the controller handled it, or when waiting stopped);
    /// `None` when it disappeared.
    pub after: Option<Value>,
    pub outcome: Outcome,
    /// Events about the object that are new (or repeated) since the request.
    pub events: Vec<Value>,
    /// What could not be read for the report (events refused, ...).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The controller recorded the request as handled, this long after it was made.
    Handled(Duration),
    /// Not waited for (`wait: false`).
    Requested,
    /// Still not handled when waiting stopped; the text says what bounded the wait.
    TimedOut { waited: Duration, bound: String },
    /// The object went away while waiting.
    Deleted(Duration),
}

/// The events of an object seen so far: name → count, so that later ones (or repeats of an
/// old one) can be told apart.
pub struct Seen {
    counts: HashMap<String, i64>,
}

fn event_resource() -> Resource {
    Resource::new("v1", "Event", "events", true)
}

fn event_options(target: &Target) -> ListOptions {
    ListOptions {
        namespace: Some(target.namespace.clone()),
        field_selector: Some(format!(
            "involvedObject.kind={},involvedObject.name={}",
            target.resource.kind, target.name
        )),
        ..ListOptions::default()
    }
}

/// The object's events before the request (`None` with a note when they cannot be read).
pub fn events_before(cluster: &Cluster, target: &Target) -> Result<Seen, String> {
    let events = cluster
        .list_all(&event_resource(), &event_options(target))
        .map_err(|e| format!("events cannot be read: {e}"))?;
    let counts = events
        .iter()
        .filter_map(|e| Some((e["metadata"]["name"].as_str()?.to_string(), count(e))))
        .collect();
    Ok(Seen { counts })
}

fn count(event: &Value) -> i64 {
    event["count"]
        .as_i64()
        .or_else(|| event["series"]["count"].as_i64())
        .unwrap_or(1)
}

/// The events that are new since `seen`, or were repeated (their count went up), about the
/// object with `uid`, oldest first.
fn events_since(
    cluster: &Cluster,
    target: &Target,
    seen: &Seen,
    uid: Option<&str>,
) -> Result<Vec<Value>, String> {
    let events = cluster
        .list_all(&event_resource(), &event_options(target))
        .map_err(|e| format!("events cannot be read: {e}"))?;
    let mut fresh: Vec<(String, Value)> = events
        .into_iter()
        .filter(|e| uid.is_none_or(|u| e["involvedObject"]["uid"].as_str().is_none_or(|x| x == u)))
        .filter(|e| {
            let name = e["metadata"]["name"].as_str().unwrap_or_default();
            seen.counts
                .get(name)
                .is_none_or(|before| count(e) > *before)
        })
        .map(|e| {
            let time = ["lastTimestamp", "eventTime", "firstTimestamp"]
                .iter()
                .find_map(|k| e[*k].as_str().filter(|t| !t.is_empty()))
                .unwrap_or_default()
                .to_string();
            (time, e)
        })
        .collect();
    fresh.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(fresh
        .into_iter()
        .map(|(time, e)| {
            let mut line = json!({
                "time": time,
                "type": e["type"],
                "reason": e["reason"],
                "message": e["message"],
            });
            if count(&e) > 1 {
                line["count"] = json!(count(&e));
            }
            line
        })
        .collect())
}

fn handled(obj: &Value, token: &str) -> bool {
    obj.pointer("/status/lastHandledReconcileAt")
        .and_then(Value::as_str)
        == Some(token)
}

/// Polls the object until its controller records `token` as handled, it disappears, or
/// `deadline` passes. The first poll comes [`FIRST_POLL`] after the request and each wait is
/// half as long again as the one before, up to [`MAX_POLL`], never past the deadline: the
/// answer comes at most one interval after the controller's, without hammering the API
/// server during a long reconcile.
fn wait(
    cluster: &Cluster,
    target: &Target,
    token: &str,
    requested: Instant,
    deadline: Instant,
    bound: &str,
) -> Result<(Outcome, Option<Value>), ToolError> {
    let mut interval = FIRST_POLL;
    let mut last = None;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok((
                Outcome::TimedOut {
                    waited: requested.elapsed(),
                    bound: bound.to_string(),
                },
                last,
            ));
        }
        if cluster.pause(interval.min(deadline - now)) {
            // Nobody reads the answer of a cancelled call: end the wait at once.
            return Err(ToolError::Failed(format!(
                "{}: the call was cancelled while waiting for the controller",
                target.label()
            )));
        }
        interval = (interval * 3 / 2).min(MAX_POLL);
        match writes::find_live(cluster, &target.resource, &target.namespace, &target.name) {
            Ok(Some(obj)) => {
                if handled(&obj, token) {
                    return Ok((Outcome::Handled(requested.elapsed()), Some(obj)));
                }
                last = Some(obj);
            }
            Ok(None) => return Ok((Outcome::Deleted(requested.elapsed()), None)),
            // A timeout of this read means the call's deadline came: report what was seen.
            Err(crate::kube::Error::Timeout { .. }) => {
                return Ok((
                    Outcome::TimedOut {
                        waited: requested.elapsed(),
                        bound: bound.to_string(),
                    },
                    last,
                ));
            }
            Err(e) => return Err(cluster.error_about(&target.label(), e)),
        }
    }
}

/// Requests a reconcile of `target` (whose live object is `before`) with `patch` (made from
/// [`request_patch`] with `token`, perhaps plus a resume), then waits for it until `deadline`
/// when one is given, and gathers the report.
pub fn run(
    cluster: &Cluster,
    target: Target,
    before: Value,
    patch: &Value,
    token: String,
    deadline: Option<(Instant, String)>,
) -> Result<Report, ToolError> {
    let mut notes = Vec::new();
    let seen = match events_before(cluster, &target) {
        Ok(s) => Some(s),
        Err(note) => {
            notes.push(note);
            None
        }
    };
    let requested = Instant::now();
    let stored = send(cluster, &target, patch)?;
    let (outcome, after) = match deadline {
        None => (Outcome::Requested, Some(stored)),
        Some((deadline, bound)) => {
            let (outcome, last) = match wait(cluster, &target, &token, requested, deadline, &bound)
            {
                Ok(waited) => waited,
                Err(e) => {
                    super::record_write(target.label(), "reconcile requested; the wait failed");
                    return Err(e);
                }
            };
            let after = match outcome {
                Outcome::Deleted(_) => None,
                _ => last.or(Some(stored)),
            };
            (outcome, after)
        }
    };
    let uid = before["metadata"]["uid"].as_str();
    let events = match &seen {
        Some(seen) if outcome != Outcome::Requested => {
            match events_since(cluster, &target, seen, uid) {
                Ok(e) => e,
                Err(note) => {
                    notes.push(note);
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    let report = Report {
        target,
        token,
        before,
        after,
        outcome,
        events,
        notes,
    };
    super::record_write(report.target.label(), report.summary());
    Ok(report)
}

// ---- the answer -------------------------------------------------------------------------------

/// `1.25s`, `340ms`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

/// The revision fields a report compares before and after.
const REVISIONS: &[(&str, &str)] = &[
    ("lastAppliedRevision", "/status/lastAppliedRevision"),
    ("lastAttemptedRevision", "/status/lastAttemptedRevision"),
    ("artifact.revision", "/status/artifact/revision"),
    (
        "lastAppliedOriginalRevision",
        "/status/lastAppliedOriginalRevision",
    ),
];

fn ready(obj: &Value) -> Option<diagnosis::Condition> {
    diagnosis::condition(obj, "Ready")
}

impl Report {
    /// One line for the call log: what happened, without any message text.
    pub fn summary(&self) -> String {
        let ready = self
            .after
            .as_ref()
            .and_then(ready)
            .map(|c| format!(", Ready={} {}", c.status, c.reason))
            .unwrap_or_default();
        match &self.outcome {
            Outcome::Handled(d) => format!("reconciled in {}{ready}", seconds(*d)),
            Outcome::Requested => "reconcile requested, not waited for".into(),
            Outcome::TimedOut { waited, .. } => {
                format!("not handled within {}{ready}", seconds(*waited))
            }
            Outcome::Deleted(_) => "deleted while waiting".into(),
        }
    }

    /// The headline: what happened, with the controller named when it did not answer.
    fn headline(&self) -> String {
        let label = self.target.label();
        let group = &self.target.resource.group;
        let controller = diagnosis::controller(group, &self.target.resource.kind);
        match &self.outcome {
            Outcome::Handled(d) => {
                let state = self
                    .after
                    .as_ref()
                    .and_then(ready)
                    .map(|c| format!(": Ready={} ({})", c.status, c.reason))
                    .unwrap_or_else(|| ": no Ready condition".into());
                format!(
                    "{label} reconciled {} after the request{state}",
                    seconds(*d)
                )
            }
            Outcome::Requested => format!(
                "{label}: reconcile requested; not waited for (status.lastHandledReconcileAt \
                 becomes the requestedAt value below once {controller} has handled it)"
            ),
            Outcome::TimedOut { waited, bound } => format!(
                "{label}: not handled yet after {} (waiting stopped at {bound}); the request \
                 stands and {controller} will handle it when it can. If it never does, is \
                 {controller} running and watching this namespace? (get_flux_instance)",
                seconds(*waited)
            ),
            Outcome::Deleted(d) => format!(
                "{label} was deleted {} after the request, before its controller reported on it",
                seconds(*d)
            ),
        }
    }

    /// The report as one YAML document (after `---`), the headline as a comment.
    pub fn render(&self) -> String {
        let mut out = String::from("---\n");
        out.push_str(&yaml::comment(&self.headline()));
        for note in &self.notes {
            out.push_str(&yaml::comment(&format!("note: {note}")));
        }
        let mut doc = Mapping::new();
        let mut put = |k: &str, v: Yaml| {
            doc.insert(Yaml::String(k.into()), v);
        };
        put("object", Yaml::String(self.target.label()));
        put("requestedAt", Yaml::String(self.token.clone()));
        let result = match &self.outcome {
            Outcome::Handled(_) => "reconciled",
            Outcome::Requested => "requested",
            Outcome::TimedOut { .. } => "not handled yet",
            Outcome::Deleted(_) => "deleted",
        };
        put("result", Yaml::String(result.into()));
        if let Some(after) = &self.after {
            if let Outcome::TimedOut { .. } = self.outcome {
                let last = after
                    .pointer("/status/lastHandledReconcileAt")
                    .and_then(Value::as_str)
                    .unwrap_or("(none)");
                put("lastHandledReconcileAt", Yaml::String(last.to_string()));
            }
            if let Some(c) = ready(after) {
                let mut m = Mapping::new();
                m.insert("status".into(), Yaml::String(c.status.clone()));
                m.insert("reason".into(), Yaml::String(c.reason.clone()));
                m.insert("message".into(), Yaml::String(c.message.clone()));
                put("ready", Yaml::Mapping(m));
            }
            let mut revisions = Mapping::new();
            for (label, pointer) in REVISIONS {
                let text = |o: &Value| {
                    o.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                let (was, now) = (text(&self.before), text(after));
                if was.is_none() && now.is_none() {
                    continue;
                }
                let shown = match (&was, &now) {
                    (Some(a), Some(b)) if a == b => Yaml::String(format!("{b} (unchanged)")),
                    _ => {
                        let mut m = Mapping::new();
                        m.insert("before".into(), was.map_or(Yaml::Null, Yaml::String));
                        m.insert("after".into(), now.map_or(Yaml::Null, Yaml::String));
                        Yaml::Mapping(m)
                    }
                };
                revisions.insert(Yaml::String((*label).into()), shown);
            }
            if !revisions.is_empty() {
                put("revisions", Yaml::Mapping(revisions));
            }
        }
        let events_value = Value::Array(self.events.clone());
        let rendered = serde_norway::to_string(&Yaml::Mapping(doc)).unwrap_or_default();
        out.push_str(&rendered);
        if self.events.is_empty() {
            if !matches!(self.outcome, Outcome::Requested) && self.notes.is_empty() {
                out.push_str("events: []  # no event since the request\n");
            }
        } else {
            out.push_str(&yaml::root_entry(
                "events",
                events_value.as_array().map_or(&[][..], Vec::as_slice),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(api_version: &str, kind: &str) -> Resource {
        Resource::new(
            api_version,
            kind,
            &format!("{}s", kind.to_lowercase()),
            true,
        )
    }

    #[test]
    fn helm_releases_and_input_providers_are_forced_too() {
        let hr = resource("helm.toolkit.fluxcd.io/v2", "HelmRelease");
        let patch = request_patch(&hr, "t1");
        assert_eq!(
            patch,
            json!({"metadata": {"annotations": {REQUESTED_AT: "t1", FORCE_AT: "t1"}}})
        );
        let rsip = resource("fluxcd.controlplane.io/v1", "ResourceSetInputProvider");
        assert!(
            request_patch(&rsip, "t")
                .pointer("/metadata/annotations/reconcile.fluxcd.io~1forceAt")
                .is_some()
        );
        let ks = resource("kustomize.toolkit.fluxcd.io/v1", "Kustomization");
        assert_eq!(
            request_patch(&ks, "t2"),
            json!({"metadata": {"annotations": {REQUESTED_AT: "t2"}}})
        );
    }

    #[test]
    fn suspension_is_spec_or_annotation_by_group() {
        let ks = resource("kustomize.toolkit.fluxcd.io/v1", "Kustomization");
        assert_eq!(suspension(&ks), Suspension::Spec);
        let rset = resource("fluxcd.controlplane.io/v1", "ResourceSet");
        assert_eq!(
            suspension(&rset),
            Suspension::Annotation("fluxcd.controlplane.io/reconcile")
        );
        let generator = resource("source.extensions.fluxcd.io/v1beta1", "ArtifactGenerator");
        assert_eq!(
            suspension(&generator),
            Suspension::Annotation("source.extensions.fluxcd.io/reconcile")
        );
        let live = json!({"spec": {"suspend": true}});
        assert_eq!(
            suspended(&live, Suspension::Spec).as_deref(),
            Some("spec.suspend: true")
        );
        assert_eq!(
            suspended(&json!({"spec": {"suspend": false}}), Suspension::Spec),
            None
        );
        let paused =
            json!({"metadata": {"annotations": {"fluxcd.controlplane.io/reconcile": "disabled"}}});
        assert!(suspended(&paused, suspension(&rset)).is_some());
        assert_eq!(suspended(&paused, Suspension::Spec), None);
    }

    #[test]
    fn alerts_providers_and_external_artifacts_do_not_reconcile() {
        for (av, kind) in [
            ("notification.toolkit.fluxcd.io/v1beta3", "Alert"),
            ("notification.toolkit.fluxcd.io/v1beta3", "Provider"),
            ("source.toolkit.fluxcd.io/v1", "ExternalArtifact"),
        ] {
            assert!(not_reconcilable(&resource(av, kind)).is_some(), "{kind}");
        }
        for (av, kind) in [
            ("notification.toolkit.fluxcd.io/v1", "Receiver"),
            ("fluxcd.controlplane.io/v1", "FluxReport"),
            ("image.toolkit.fluxcd.io/v1", "ImagePolicy"),
        ] {
            assert_eq!(not_reconcilable(&resource(av, kind)), None, "{kind}");
        }
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(seconds(Duration::from_millis(340)), "340ms");
        assert_eq!(seconds(Duration::from_millis(1250)), "1.25s");
    }

    fn report(outcome: Outcome, events: Vec<Value>) -> Report {
        let before = json!({"kind": "Kustomization", "status": {
            "lastAppliedRevision": "main@sha1:aaa", "lastAttemptedRevision": "main@sha1:aaa",
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "old"}]}});
        let after = json!({"kind": "Kustomization", "status": {
            "lastHandledReconcileAt": "t0",
            "lastAppliedRevision": "main@sha1:aaa", "lastAttemptedRevision": "main@sha1:bbb",
            "conditions": [{"type": "Ready", "status": "False", "reason": "HealthCheckFailed",
                            "message": "timeout waiting for: [Deployment/apps/web status: 'InProgress']\nsecond line"}]}});
        Report {
            target: Target {
                resource: resource("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
                namespace: "flux-system".into(),
                name: "apps".into(),
            },
            token: "2026-11-21T05:46:00.123456789Z".into(),
            before,
            after: Some(after),
            outcome,
            events,
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_handled_request_reports_status_revisions_and_events_verbatim() {
        let events = vec![json!({"time": "2026-11-21T05:46:01Z", "type": "Warning",
            "reason": "HealthCheckFailed", "message": "timeout waiting for: [Deployment/apps/web status: 'InProgress']"})];
        let text = report(Outcome::Handled(Duration::from_millis(420)), events).render();
        let expected = "\
---
# Kustomization/flux-system/apps reconciled 420ms after the request: Ready=False (HealthCheckFailed)
object: Kustomization/flux-system/apps
requestedAt: 2026-11-21T05:46:00.123456789Z
result: reconciled
ready:
  status: 'False'
  reason: HealthCheckFailed
  message: |-
    timeout waiting for: [Deployment/apps/web status: 'InProgress']
    second line
revisions:
  lastAppliedRevision: main@sha1:aaa (unchanged)
  lastAttemptedRevision:
    before: main@sha1:aaa
    after: main@sha1:bbb
events:
- time: 2026-11-21T05:46:01Z
  type: Warning
  reason: HealthCheckFailed
  message: \"timeout waiting for: [Deployment/apps/web status: 'InProgress']\"
";
        assert_eq!(text, expected);
        // The event message reads in the answer as sent: quoted, never escaped.
        assert!(
            text.contains("timeout waiting for: [Deployment/apps/web status: 'InProgress']\"\n")
        );
        // The message survives YAML byte for byte.
        let back: Value = serde_norway::from_str(&text["---\n".len()..]).expect("yaml");
        assert_eq!(
            back["ready"]["message"],
            "timeout waiting for: [Deployment/apps/web status: 'InProgress']\nsecond line"
        );
    }

    #[test]
    fn a_timeout_says_the_request_stands() {
        let r = report(
            Outcome::TimedOut {
                waited: Duration::from_secs(30),
                bound: "the timeout argument (30s)".into(),
            },
            Vec::new(),
        );
        let text = r.render();
        assert!(text.starts_with("---\n# Kustomization/flux-system/apps: not handled yet after 30.00s (waiting stopped at the timeout argument (30s)); the request stands and kustomize-controller will handle it when it can."), "{text}");
        assert!(
            text.contains("result: not handled yet\nlastHandledReconcileAt: t0\n"),
            "{text}"
        );
        assert!(
            text.ends_with("events: []  # no event since the request\n"),
            "{text}"
        );
        assert_eq!(
            r.summary(),
            "not handled within 30.00s, Ready=False HealthCheckFailed"
        );
    }
}
