//! A simulated Flux controller, opt-in per server (`Options::controller`): after a write that
//! requests a reconcile (`reconcile.fluxcd.io/requestedAt`, `forceAt`, `resetAt`), changes the
//! spec (generation) or creates a Flux object, it waits the configured delay, then does what
//! the real controllers do to the object: adds their finalizer, records `lastHandledReconcileAt`
//! (and `lastHandledForceAt`, `lastHandledResetAt`), `observedGeneration`, the revision it
//! attempted, sets the Ready condition to the configured outcome, and records an Event. A
//! deleted object carrying the controller's finalizer is finalized (the finalizer removed) after
//! the same delay. Suspended objects (`spec.suspend: true`) and the Flux Operator's
//! `fluxcd.controlplane.io/reconcile: disabled` are left alone, as the real controllers do; an
//! object whose outcome is [`Outcome::Stall`] is never handled (a stuck controller).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::managed_fields::controller_of;
use super::resources::ResourceType;
use super::store::Key;
use super::{FLUX_KINDS, Shared, State, clock, writes};

const REQUESTED_AT: &str = "reconcile.fluxcd.io/requestedAt";
const FORCE_AT: &str = "reconcile.fluxcd.io/forceAt";
const RESET_AT: &str = "reconcile.fluxcd.io/resetAt";
const OPERATOR_RECONCILE: &str = "fluxcd.controlplane.io/reconcile";

/// What the controller makes of a reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Keep the object's own Ready condition (Ready=True `ReconciliationSucceeded` when it has
    /// none). The default.
    Keep,
    /// Ready=True with this reason and message.
    Ready { reason: String, message: String },
    /// Ready=False with this reason and message (a Warning event).
    Fail { reason: String, message: String },
    /// Never handle the object: requests stay unanswered and finalizers stay (a controller that
    /// is down or stuck).
    Stall,
}

impl Outcome {
    pub fn fail(reason: &str, message: &str) -> Outcome {
        Outcome::Fail {
            reason: reason.into(),
            message: message.into(),
        }
    }

    pub fn ready(reason: &str, message: &str) -> Outcome {
        Outcome::Ready {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// One object, by kind, namespace (`""` for cluster-scoped) and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Target {
    pub fn new(kind: &str, namespace: &str, name: &str) -> Target {
        Target {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// How the simulated controller behaves.
#[derive(Clone, Debug)]
pub struct Controller {
    /// Time between the write and the controller's answer. Default 200 ms.
    pub delay: Duration,
    /// The outcome of objects without an override. Default [`Outcome::Keep`].
    pub outcome: Outcome,
    /// Per-object outcomes (more can be set while running with `ApiServer::set_outcome`).
    pub overrides: Vec<(Target, Outcome)>,
}

impl Default for Controller {
    fn default() -> Self {
        Controller {
            delay: Duration::from_millis(200),
            outcome: Outcome::Keep,
            overrides: Vec::new(),
        }
    }
}

impl Controller {
    pub fn with_delay(delay: Duration) -> Controller {
        Controller {
            delay,
            ..Controller::default()
        }
    }

    pub fn outcome_for(mut self, target: Target, outcome: Outcome) -> Controller {
        self.overrides.push((target, outcome));
        self
    }
}

/// Work the controller has scheduled.
#[derive(Clone, Debug)]
pub struct Pending {
    due: Instant,
    t: usize,
    key: Key,
    uid: String,
    finalize: bool,
}

/// The kinds a Flux controller reconciles (alerts and providers are static configuration;
/// external artifacts are produced by others), the Flux Operator's included.
fn reconciled(ty: &ResourceType) -> bool {
    (ty.group.ends_with(".fluxcd.io") || ty.group == "fluxcd.controlplane.io")
        && FLUX_KINDS.contains(&ty.kind.as_str())
        && !matches!(ty.kind.as_str(), "Alert" | "Provider" | "ExternalArtifact")
}

fn annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj.pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// Suspended, or reconciliation disabled by the Flux Operator's annotation.
fn held(obj: &Value) -> bool {
    obj.pointer("/spec/suspend") == Some(&json!(true))
        || annotation(obj, OPERATOR_RECONCILE) == Some("disabled")
}

/// The finalizer the object's controller adds.
fn finalizer_of(ty: &ResourceType) -> &'static str {
    if ty.group == "fluxcd.controlplane.io" {
        "fluxcd.controlplane.io/finalizer"
    } else {
        "finalizers.fluxcd.io"
    }
}

/// The finalizers a Flux controller removes when it has cleaned up (objects made by older
/// operator releases carry the toolkit's).
const FLUX_FINALIZERS: &[&str] = &["finalizers.fluxcd.io", "fluxcd.controlplane.io/finalizer"];

fn has_finalizer(obj: &Value, f: &str) -> bool {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|x| x == f))
}

fn has_flux_finalizer(obj: &Value) -> bool {
    FLUX_FINALIZERS.iter().any(|f| has_finalizer(obj, f))
}

/// After a stored write: schedule what the controller would do about it.
pub fn observe(
    shared: &Shared,
    state: &mut State,
    t: usize,
    key: &Key,
    before: Option<&Value>,
    after: Option<&Value>,
) {
    let Some(options) = &shared.options.controller else {
        return;
    };
    let ty = &state.store.registry.types[t];
    if !reconciled(ty) {
        return;
    }
    let Some(after) = after else {
        state.pending.retain(|p| !(p.t == t && p.key == *key));
        return;
    };
    let uid = after["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let due = Instant::now() + options.delay;
    if after.pointer("/metadata/deletionTimestamp").is_some() {
        if has_flux_finalizer(after)
            && !state
                .pending
                .iter()
                .any(|p| p.t == t && p.key == *key && p.finalize)
        {
            state.pending.retain(|p| !(p.t == t && p.key == *key));
            state.pending.push(Pending {
                due,
                t,
                key: key.clone(),
                uid,
                finalize: true,
            });
        }
        return;
    }
    let changed = |k: &str| {
        annotation(after, k).is_some()
            && before.and_then(|b| annotation(b, k)) != annotation(after, k)
    };
    let generation = |o: &Value| o.pointer("/metadata/generation").cloned();
    let wanted = before.is_none()
        || changed(REQUESTED_AT)
        || changed(FORCE_AT)
        || changed(RESET_AT)
        || before.map(generation) != Some(generation(after))
        || before.is_some_and(|b| {
            annotation(b, OPERATOR_RECONCILE) == Some("disabled")
                && annotation(after, OPERATOR_RECONCILE) != Some("disabled")
        });
    if wanted && !held(after) {
        state.pending.retain(|p| !(p.t == t && p.key == *key));
        state.pending.push(Pending {
            due,
            t,
            key: key.clone(),
            uid,
            finalize: false,
        });
        shared.changed.notify_all();
    }
}

/// The controller thread: waits for the next due item, handles it, until the server stops.
pub fn run(shared: Arc<Shared>) {
    let mut state = shared.lock();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let now = Instant::now();
        if let Some(i) = state.pending.iter().position(|p| p.due <= now) {
            let p = state.pending.remove(i);
            handle(&shared, &mut state, p);
            continue;
        }
        let wait = state
            .pending
            .iter()
            .map(|p| p.due.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(3600));
        state = match shared.changed.wait_timeout(state, wait) {
            Ok((s, _)) => s,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

fn outcome(shared: &Shared, state: &State, ty: &ResourceType, key: &Key) -> Outcome {
    let target = Target::new(&ty.kind, key.namespace(), key.name());
    state
        .outcomes
        .iter()
        .rev()
        .find(|(t, _)| *t == target)
        .map(|(_, o)| o.clone())
        .or_else(|| {
            shared.options.controller.as_ref().and_then(|c| {
                c.overrides
                    .iter()
                    .find(|(t, _)| *t == target)
                    .map(|(_, o)| o.clone())
            })
        })
        .or_else(|| {
            shared
                .options
                .controller
                .as_ref()
                .map(|c| c.outcome.clone())
        })
        .unwrap_or(Outcome::Keep)
}

fn handle(shared: &Shared, state: &mut State, p: Pending) {
    let Some(obj) = state
        .store
        .get(p.t, p.key.namespace(), p.key.name())
        .cloned()
    else {
        return;
    };
    if obj["metadata"]["uid"].as_str() != Some(p.uid.as_str()) {
        return;
    }
    let ty = state.store.registry.types[p.t].clone();
    if outcome(shared, state, &ty, &p.key) == Outcome::Stall {
        return;
    }
    let manager = controller_of(&ty);
    if p.finalize {
        let mut new = obj.clone();
        if let Some(list) = new["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| !FLUX_FINALIZERS.iter().any(|x| f == x));
        }
        writes::update_internal(shared, state, p.t, &p.key, new, manager, "");
        return;
    }
    if held(&obj) {
        return;
    }
    reconcile(shared, state, &ty, p.t, &p.key, obj);
}

/// The revision the object would attempt: its source's artifact revision when it has a source
/// with one, else what it attempted last.
fn revision(state: &State, obj: &Value) -> Option<String> {
    let source = obj
        .pointer("/spec/sourceRef")
        .or_else(|| obj.pointer("/spec/chartRef"))
        .or_else(|| obj.pointer("/spec/chart/spec/sourceRef"));
    if let Some(s) = source
        && let Some(kind) = s["kind"].as_str()
        && let Some(name) = s["name"].as_str()
    {
        let ns = s["namespace"]
            .as_str()
            .or_else(|| obj.pointer("/metadata/namespace").and_then(Value::as_str))
            .unwrap_or_default();
        let found = (0..state.store.registry.types.len())
            .filter(|t| {
                let ty = &state.store.registry.types[*t];
                ty.kind == kind && ty.group.ends_with(".fluxcd.io")
            })
            .find_map(|t| state.store.get(t, ns, name))
            .and_then(|src| src.pointer("/status/artifact/revision"))
            .and_then(Value::as_str);
        if let Some(r) = found {
            return Some(r.to_string());
        }
    }
    obj.pointer("/status/lastAttemptedRevision")
        .or_else(|| obj.pointer("/status/artifact/revision"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn reconcile(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    t: usize,
    key: &Key,
    obj: Value,
) {
    let manager = controller_of(ty);
    let now = clock::format_rfc3339(clock::now_unix());
    let mut obj = obj;
    if !has_flux_finalizer(&obj) {
        let mut new = obj.clone();
        match new["metadata"]["finalizers"].as_array_mut() {
            Some(list) => list.push(json!(finalizer_of(ty))),
            None => new["metadata"]["finalizers"] = json!([finalizer_of(ty)]),
        }
        if let Some(stored) = writes::update_internal(shared, state, t, key, new, manager, "") {
            obj = stored;
        }
    }
    let generation = obj["metadata"]["generation"].clone();
    let rev = revision(state, &obj);
    let mut new = obj.clone();
    if !new["status"].is_object() {
        new["status"] = json!({});
    }
    let status = &mut new["status"];
    for (annotation_key, field) in [
        (REQUESTED_AT, "lastHandledReconcileAt"),
        (FORCE_AT, "lastHandledForceAt"),
        (RESET_AT, "lastHandledResetAt"),
    ] {
        if let Some(v) = annotation(&obj, annotation_key) {
            status[field] = json!(v);
        }
    }
    if !generation.is_null() {
        status["observedGeneration"] = generation.clone();
    }
    let previous = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned();
    let (ready, reason, message) = match outcome(shared, state, ty, key) {
        Outcome::Ready { reason, message } => ("True".to_string(), reason, message),
        Outcome::Fail { reason, message } => ("False".to_string(), reason, message),
        Outcome::Keep | Outcome::Stall => match &previous {
            Some(c) => (
                c["status"].as_str().unwrap_or("Unknown").to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            ),
            None => (
                "True".into(),
                "ReconciliationSucceeded".into(),
                match &rev {
                    Some(r) => format!("Applied revision: {r}"),
                    None => "Reconciliation finished".into(),
                },
            ),
        },
    };
    let transition = match &previous {
        Some(c) if c["status"] == ready.as_str() => c["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let condition = json!({
        "lastTransitionTime": transition,
        "message": message,
        "observedGeneration": generation,
        "reason": reason,
        "status": ready,
        "type": "Ready",
    });
    let conditions = status["conditions"].as_array_mut();
    match conditions {
        Some(list) => match list.iter_mut().find(|c| c["type"] == "Ready") {
            Some(c) => *c = condition,
            None => list.insert(0, condition),
        },
        None => status["conditions"] = json!([condition]),
    }
    if let Some(r) = &rev
        && matches!(ty.kind.as_str(), "Kustomization" | "HelmRelease")
    {
        status["lastAttemptedRevision"] = json!(r);
        if ready == "True" && ty.kind == "Kustomization" {
            status["lastAppliedRevision"] = json!(r);
        }
    }
    let stored = writes::update_internal(shared, state, t, key, new, manager, "status")
        .or_else(|| state.store.get(t, key.namespace(), key.name()).cloned());
    if let Some(stored) = stored {
        record_event(
            shared,
            state,
            ty,
            &stored,
            &ready,
            &reason,
            &message,
            rev.as_deref(),
            &now,
        );
    }
}

/// An Event about `obj` as the controller's event recorder writes one; the same event again
/// bumps `count` and `lastTimestamp` of the one it wrote before (client-go's event correlator
/// remembers the events of its own process, not those already in the cluster).
#[allow(clippy::too_many_arguments)]
fn record_event(
    shared: &Shared,
    state: &mut State,
    ty: &ResourceType,
    obj: &Value,
    ready: &str,
    reason: &str,
    message: &str,
    revision: Option<&str>,
    now: &str,
) {
    let Some(et) = state.store.registry.by_kind("", "Event") else {
        return;
    };
    let ns = obj["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let uid = obj["metadata"]["uid"].clone();
    let kind_type = if ready == "False" {
        "Warning"
    } else {
        "Normal"
    };
    let component = controller_of(ty);
    let same = state
        .events
        .iter()
        .filter_map(|k| state.store.get(et, k.namespace(), k.name()).map(|e| (k, e)))
        .find(|(k, e)| {
            k.namespace() == ns
                && e["involvedObject"]["uid"] == uid
                && e["reason"] == reason
                && e["message"] == message
                && e["type"] == kind_type
        })
        .map(|(k, e)| (k.clone(), e.clone()));
    if let Some((key, existing)) = same {
        let mut new = existing.clone();
        new["count"] = json!(existing["count"].as_i64().unwrap_or(1) + 1);
        new["lastTimestamp"] = json!(now);
        new["involvedObject"]["resourceVersion"] = obj["metadata"]["resourceVersion"].clone();
        writes::update_internal(shared, state, et, &key, new, component, "");
        return;
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let suffix = super::resources::fnv1a(
        format!("{name}/{now}/{}", state.store.resource_version()).as_bytes(),
    );
    let mut event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{suffix:016x}"), "namespace": ns},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": ty.kind,
            "name": name,
            "namespace": ns,
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "uid": uid,
        },
        "reason": reason,
        "message": message,
        "type": kind_type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": "",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    if let Some(r) = revision {
        event["metadata"]["annotations"] = json!({ format!("{}/revision", ty.group): r });
    }
    let stored = writes::create_internal(shared, state, et, event, component);
    let key = Key::new(&ns, stored["metadata"]["name"].as_str().unwrap_or_default());
    state.events.push(key);
}
