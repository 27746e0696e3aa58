//! Root cause first: the health of a Flux object read from its conditions (kstatus as Flux
//! controllers write it: `Ready`, `Stalled`, `spec.suspend`), the objects it depends on
//! (its source, chart, `dependsOn`, image repository, input providers, provider), and the
//! comment lines that go above its document so the first thing the agent reads says what is
//! wrong and where: the headline names the root cause when it is another object, the lines
//! below it the chain that leads there, each upstream's message verbatim and whole.

use std::time::SystemTime;

use serde_json::Value;

use crate::kube::time::{age, parse_system_time};

/// Where a Flux object stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Ready,
    /// `Ready=False` or `Stalled=True`.
    Failing,
    /// `Ready=Unknown`: a reconciliation is under way.
    Progressing,
    /// `spec.suspend: true`, or the Flux Operator's `fluxcd.controlplane.io/reconcile: disabled`.
    Suspended,
    /// No `Ready` condition (not reconciled yet, or a kind without status such as a v1beta3
    /// Provider).
    NoStatus,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Ready => "ready",
            State::Failing => "failing",
            State::Progressing => "progressing",
            State::Suspended => "suspended",
            State::NoStatus => "no status",
        }
    }
}

/// One condition, as far as a diagnosis needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    /// The reason, or `status <status>` when the controller gave none.
    pub fn label(&self) -> String {
        if self.reason.is_empty() {
            format!("status {}", self.status)
        } else {
            self.reason.clone()
        }
    }

    /// `Reason: message` (message verbatim), or whichever of the two exists.
    pub fn text(&self) -> String {
        match (self.reason.is_empty(), self.message.is_empty()) {
            (false, false) => format!("{}: {}", self.reason, self.message),
            (false, true) => self.reason.clone(),
            (true, false) => self.message.clone(),
            (true, true) => format!("status {}", self.status),
        }
    }
}

/// The health of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: State,
    pub ready: Option<Condition>,
    pub stalled: Option<Condition>,
    /// True when the object has no condition at all: no controller has reconciled it.
    pub unreconciled: bool,
}

impl Health {
    /// The most telling condition: Ready when it is not True, else Stalled when True.
    pub fn problem_condition(&self) -> Option<&Condition> {
        match (&self.ready, &self.stalled) {
            (Some(r), _) if r.status != "True" => Some(r),
            (_, Some(s)) => Some(s),
            _ => None,
        }
    }

    /// The most telling reason and message, verbatim (see [`Health::problem_condition`]).
    pub fn problem(&self) -> Option<String> {
        self.problem_condition().map(Condition::text)
    }
}

/// The first condition of type `kind` in `status.conditions`, its fields as strings (empty
/// when missing or not strings).
pub(crate) fn condition(obj: &Value, kind: &str) -> Option<Condition> {
    let c = obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"].as_str() == Some(kind))?;
    let text = |k: &str| c[k].as_str().unwrap_or("").to_string();
    Some(Condition {
        status: text("status"),
        reason: text("reason"),
        message: text("message"),
    })
}

/// Reads an object's health from its conditions.
pub fn health(obj: &Value) -> Health {
    let ready = condition(obj, "Ready");
    let stalled = condition(obj, "Stalled").filter(|s| s.status == "True");
    let suspended = obj["spec"]["suspend"].as_bool() == Some(true)
        || obj["metadata"]["annotations"]["fluxcd.controlplane.io/reconcile"].as_str()
            == Some("disabled");
    let state = if suspended {
        State::Suspended
    } else if stalled.is_some() {
        State::Failing
    } else {
        match ready.as_ref().map(|r| r.status.as_str()) {
            Some("True") => State::Ready,
            Some("False") => State::Failing,
            Some(_) => State::Progressing,
            None => State::NoStatus,
        }
    };
    let unreconciled = obj["status"]["conditions"]
        .as_array()
        .is_none_or(|c| c.is_empty());
    Health {
        state,
        ready,
        stalled,
        unreconciled,
    }
}

/// The controller that reconciles a Flux kind, for messages.
pub fn controller(group: &str, kind: &str) -> &'static str {
    match (group, kind) {
        ("source.toolkit.fluxcd.io", _) => "source-controller",
        ("kustomize.toolkit.fluxcd.io", _) => "kustomize-controller",
        ("helm.toolkit.fluxcd.io", _) => "helm-controller",
        ("notification.toolkit.fluxcd.io", _) => "notification-controller",
        ("image.toolkit.fluxcd.io", "ImageUpdateAutomation") => "image-automation-controller",
        ("image.toolkit.fluxcd.io", _) => "image-reflector-controller",
        ("fluxcd.controlplane.io", _) => "flux-operator",
        ("source.extensions.fluxcd.io", _) => "source-watcher",
        _ => "its controller",
    }
}

/// The first line of a Flux object that no controller has reconciled yet (not a single
/// condition): its controller is down, or does not watch that namespace (`--watch-all-
/// namespaces=false`) or shard (`--watch-label-selector`). `None` for every other object, and
/// for notification-controller's Alert and Provider, whose current API (v1beta3) has no status.
pub fn unreconciled_line(
    group: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    h: &Health,
) -> Option<String> {
    let no_status_api =
        group == "notification.toolkit.fluxcd.io" && matches!(kind, "Alert" | "Provider");
    if h.state != State::NoStatus || !h.unreconciled || no_status_api {
        return None;
    }
    let who = if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    };
    Some(format!(
        "NOT RECONCILED {who}: no status yet; is {} running and watching this namespace? \
         (get_flux_instance)",
        controller(group, kind)
    ))
}

/// An object another one needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// `source`, `dependency`, `image repository`, `provider`.
    pub role: &'static str,
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// False for a `dependsOn` entry that asks only for existence (ResourceSet `ready: false`).
    pub must_be_ready: bool,
    /// What this object would depend on, as far as the referrer says: followed when the object
    /// itself is missing (a HelmRelease's HelmChart names no source when it does not exist,
    /// but the HelmRelease's chart template does).
    pub then: Vec<Upstream>,
}

impl Upstream {
    pub fn label(&self) -> String {
        format!("{} {}", self.role, self.object())
    }

    /// `Kind namespace/name`, or `Kind name` for a cluster-scoped object.
    pub fn object(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

const SOURCE_GROUP: &str = "source.toolkit.fluxcd.io";

/// The objects `obj` depends on, in the order worth checking: its source first, then its
/// `dependsOn` entries. Empty for kinds that depend on nothing.
pub fn upstreams(obj: &Value) -> Vec<Upstream> {
    let api_version = obj["apiVersion"].as_str().unwrap_or("");
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    let kind = obj["kind"].as_str().unwrap_or("");
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let spec = &obj["spec"];
    let mut out = Vec::new();
    let mut add = |role, r: &Value, default_group: &str, default_kind: &str| {
        if let Some(u) = reference(role, r, default_group, default_kind, ns) {
            out.push(u);
        }
    };
    match (group, kind) {
        ("kustomize.toolkit.fluxcd.io", "Kustomization") => {
            add("source", &spec["sourceRef"], SOURCE_GROUP, "");
        }
        ("helm.toolkit.fluxcd.io", "HelmRelease") => {
            if spec["chartRef"].is_object() {
                add("source", &spec["chartRef"], SOURCE_GROUP, "");
            } else if spec["chart"].is_object() {
                // helm-controller makes a HelmChart `<namespace>-<name>` next to the chart's
                // source and records it as `status.helmChart` (`namespace/name`).
                let name = obj["metadata"]["name"].as_str().unwrap_or("");
                let source_ns = spec["chart"]["spec"]["sourceRef"]["namespace"]
                    .as_str()
                    .unwrap_or(ns);
                let (chart_ns, chart_name) = obj["status"]["helmChart"]
                    .as_str()
                    .and_then(|s| s.split_once('/'))
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or_else(|| (source_ns.to_string(), format!("{ns}-{name}")));
                // The chart's source, as the HelmChart would name it: followed when the
                // HelmChart itself is missing.
                let then = reference(
                    "source",
                    &spec["chart"]["spec"]["sourceRef"],
                    SOURCE_GROUP,
                    "",
                    &chart_ns,
                )
                .into_iter()
                .collect();
                out.push(Upstream {
                    role: "source",
                    group: SOURCE_GROUP.into(),
                    kind: "HelmChart".into(),
                    namespace: chart_ns,
                    name: chart_name,
                    must_be_ready: true,
                    then,
                });
            }
        }
        (SOURCE_GROUP, "HelmChart") => add("source", &spec["sourceRef"], SOURCE_GROUP, ""),
        (SOURCE_GROUP, "GitRepository") => {
            for i in spec["include"].as_array().into_iter().flatten() {
                add("include", &i["repository"], SOURCE_GROUP, "GitRepository");
            }
        }
        ("fluxcd.controlplane.io", "ResourceSet") => {
            // Input providers named directly; those picked by a selector are not followed.
            for i in spec["inputsFrom"].as_array().into_iter().flatten() {
                add("input provider", i, group, "ResourceSetInputProvider");
            }
        }
        ("image.toolkit.fluxcd.io", "ImagePolicy") => add(
            "image repository",
            &spec["imageRepositoryRef"],
            group,
            "ImageRepository",
        ),
        ("image.toolkit.fluxcd.io", "ImageUpdateAutomation") => {
            add("source", &spec["sourceRef"], SOURCE_GROUP, "GitRepository");
        }
        ("notification.toolkit.fluxcd.io", "Alert") => {
            add("provider", &spec["providerRef"], group, "Provider");
        }
        ("source.extensions.fluxcd.io", "ArtifactGenerator") => {
            for s in spec["sources"].as_array().into_iter().flatten() {
                add("source", s, SOURCE_GROUP, "");
            }
        }
        _ => {}
    }
    // Kustomization and HelmRelease `dependsOn` name objects of their own kind; the Flux
    // Operator's (ResourceSet) name any kind with its apiVersion.
    for d in spec["dependsOn"].as_array().into_iter().flatten() {
        if let Some(mut u) = reference("dependency", d, group, kind, ns) {
            u.must_be_ready = d["ready"].as_bool() != Some(false);
            out.push(u);
        }
    }
    out
}

/// A `{apiVersion?, kind?, name, namespace?}` reference; the namespace defaults to the
/// referring object's, as every Flux controller does.
fn reference(
    role: &'static str,
    r: &Value,
    default_group: &str,
    default_kind: &str,
    ns: &str,
) -> Option<Upstream> {
    let name = r["name"].as_str().filter(|n| !n.is_empty())?;
    let kind = r["kind"]
        .as_str()
        .filter(|k| !k.is_empty())
        .unwrap_or(default_kind);
    if kind.is_empty() {
        return None;
    }
    let group = r["apiVersion"]
        .as_str()
        .map(|av| av.split_once('/').map_or("", |(g, _)| g))
        .unwrap_or(default_group);
    Some(Upstream {
        role,
        group: group.to_string(),
        kind: kind.to_string(),
        namespace: r["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(ns)
            .to_string(),
        name: name.to_string(),
        must_be_ready: true,
        then: Vec::new(),
    })
}

/// What was found about an upstream object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Seen(Health),
    NotFound,
    /// The lookup failed (RBAC, timeout): the error as the server worded it.
    Unreadable(String),
    /// Not looked up: the per-call lookup budget was spent.
    NotChecked,
}

impl Finding {
    /// Whether this finding is a likely cause of the dependent's failure.
    pub fn is_problem(&self, must_be_ready: bool) -> bool {
        match self {
            Finding::Seen(h) => must_be_ready && h.state != State::Ready,
            Finding::NotFound | Finding::Unreadable(_) => true,
            Finding::NotChecked => false,
        }
    }
}

/// What was found about an upstream object, in a few words: `not found`, `not ready:
/// GitOperationFailed`, `cannot be read`, ... (no message): the root cause named in a
/// headline or a summary line.
pub fn finding_label(u: &Upstream, finding: &Finding) -> String {
    match finding {
        Finding::Seen(h) => {
            let reason = h.problem_condition().map(Condition::label);
            match (h.state, reason) {
                (State::Ready, _) => "ready".to_string(),
                (State::Suspended, _) => "suspended".to_string(),
                (State::NoStatus, _) if !u.must_be_ready => "exists".to_string(),
                (State::NoStatus, _) => "no Ready condition yet".to_string(),
                (State::Progressing, Some(r)) => format!("progressing: {r}"),
                (_, Some(r)) => format!("not ready: {r}"),
                _ => "not ready".to_string(),
            }
        }
        Finding::NotFound => "not found".to_string(),
        Finding::Unreadable(_) => "cannot be read".to_string(),
        Finding::NotChecked => "not checked (lookup budget for this call spent)".to_string(),
    }
}

/// The line about one upstream object, e.g. `source GitRepository flux-system/apps: not
/// ready: GitOperationFailed: <message>`, the message verbatim and whole; when `listed` (the
/// upstream object's own document is in this same answer, message and all) the reason only.
pub fn upstream_line(u: &Upstream, finding: &Finding, listed: bool) -> String {
    let what = match finding {
        Finding::Seen(h) => {
            let problem = h.problem_condition().map(|c| {
                if listed {
                    format!("{} (its document is in this answer)", c.label())
                } else {
                    c.text()
                }
            });
            match h.state {
                State::Ready => "ready".to_string(),
                State::Suspended => match problem {
                    Some(p) => format!("suspended; last status: {p}"),
                    None => "suspended".to_string(),
                },
                State::NoStatus if !u.must_be_ready => "exists".to_string(),
                State::NoStatus => "no Ready condition yet".to_string(),
                state => match problem {
                    Some(p) if state == State::Progressing => format!("progressing: {p}"),
                    Some(p) => format!("not ready: {p}"),
                    None => "not ready".to_string(),
                },
            }
        }
        Finding::Unreadable(e) => format!("cannot be read: {e}"),
        other => finding_label(u, other),
    };
    format!("{}: {what}", u.label())
}

/// The first line of a failing or suspended object's document (without `# `): kind,
/// namespace/name and the reasons of its Ready and Stalled conditions, then, when the chain of
/// sources and dependencies leads to another object that is failing or missing, that root
/// cause (`root_cause`: `HelmRepository flux-system/charts: not found`); nothing for a healthy
/// object, so healthy objects stay short. The object's own messages are not repeated here: a
/// failing object's document puts `status` before `spec`, so each condition, message
/// verbatim, follows within a few lines.
pub fn headline(
    kind: &str,
    namespace: &str,
    name: &str,
    h: &Health,
    root_cause: Option<&str>,
) -> Option<String> {
    let who = if namespace.is_empty() {
        format!("{kind} {name}")
    } else {
        format!("{kind} {namespace}/{name}")
    };
    let mut line = match h.state {
        State::Failing => match (&h.ready, &h.stalled) {
            (Some(r), stalled) if r.status != "True" => {
                let mut line = format!("NOT READY {who}: {}", r.label());
                if let Some(s) = stalled.as_ref().filter(|s| s.label() != r.label()) {
                    line.push_str(&format!("; stalled: {}", s.label()));
                }
                line
            }
            (_, Some(s)) => format!("STALLED {who}: {}", s.label()),
            // Failing means Ready is not True or Stalled is True: not reached.
            _ => format!("NOT READY {who}"),
        },
        State::Suspended => {
            let mut line = format!("SUSPENDED {who}: reconciliation is suspended");
            if let Some(c) = h.problem_condition() {
                line.push_str(&format!("; last status: {}", c.label()));
            }
            line
        }
        _ => return None,
    };
    if let Some(root) = root_cause {
        line.push_str("; root cause: ");
        line.push_str(root);
    }
    Some(line)
}

/// The one line a long list gives a Flux object that is not failing: `namespace/name: state,
/// revision, age` (`apps/podinfo: ready, 6.9.2@sha256:c72153523d3a, age 34d`), digests cut to
/// 12 characters as `git log --oneline` does; the revision or age when the object has one.
pub fn brief(obj: &Value, h: &Health, unreconciled: bool, now: SystemTime) -> String {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or("");
    let who = match meta["namespace"].as_str().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    let reason = h.problem_condition().map(Condition::label);
    let mut parts = vec![match (h.state, reason) {
        _ if unreconciled => "not reconciled yet".to_string(),
        (State::Progressing, Some(r)) => format!("progressing: {r}"),
        (State::Suspended, _) => "suspended".to_string(),
        (state, _) => state.label().to_string(),
    }];
    if let Some(r) = revision(obj) {
        parts.push(r);
    }
    if let Some(created) = meta["creationTimestamp"]
        .as_str()
        .and_then(parse_system_time)
    {
        parts.push(format!("age {}", age(created, now)));
    }
    format!("{who}: {}", parts.join(", "))
}

/// What a Flux object last applied or fetched: the applied revision (Kustomization,
/// ResourceSet, FluxInstance), the latest release's chart version (HelmRelease), the stored
/// artifact's revision (sources), the latest image (ImagePolicy), the tag count
/// (ImageRepository); digests shortened to 12 characters.
pub fn revision(obj: &Value) -> Option<String> {
    let status = &obj["status"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let found = text(&status["lastAppliedRevision"])
        .or_else(|| {
            let latest = &status["history"][0];
            text(&latest["chartVersion"]).map(|v| match text(&latest["chartName"]) {
                Some(chart) => format!("{chart}@{v}"),
                None => v,
            })
        })
        .or_else(|| text(&status["artifact"]["revision"]))
        .or_else(|| text(&status["latestImage"]))
        .or_else(|| {
            let r = &status["latestRef"];
            Some(format!("{}:{}", text(&r["name"])?, text(&r["tag"])?))
        })
        .or_else(|| {
            let n = status["lastScanResult"]["tagCount"].as_u64()?;
            Some(format!("{n} tags"))
        })?;
    Some(short_digests(&found))
}

/// `main@sha1:0ef7a9f2d357271ed49d…` → `main@sha1:0ef7a9f2d357`: each `sha1:`, `sha256:`,
/// `sha384:`, `sha512:` or `blake3:` digest cut to 12 hex characters.
fn short_digests(revision: &str) -> String {
    const KEEP: usize = 12;
    let mut out = String::with_capacity(revision.len());
    let mut rest = revision;
    while let Some(at) = ["sha1:", "sha256:", "sha384:", "sha512:", "blake3:"]
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
        .min()
    {
        let (start, len) = at;
        out.push_str(&rest[..start + len]);
        rest = &rest[start + len..];
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(&rest[..hex.min(KEEP)]);
        rest = &rest[hex..];
    }
    out.push_str(rest);
    out
}

/// Whether the document of an object in this state leads with its status: its conditions say
/// what is wrong (Ready False, Stalled True), also while it is suspended.
pub fn status_first(h: &Health) -> bool {
    match h.state {
        State::Failing => true,
        State::Suspended => {
            h.stalled.is_some() || h.ready.as_ref().is_some_and(|r| r.status == "False")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_conditions(conds: Value) -> Value {
        json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
               "metadata": {"name": "redis", "namespace": "apps"},
               "spec": {"chart": {"spec": {"sourceRef": {"kind": "HelmRepository",
                        "name": "bitnami", "namespace": "flux-system"}}}},
               "status": {"conditions": conds, "helmChart": "flux-system/apps-redis"}})
    }

    #[test]
    fn only_objects_without_any_condition_are_unreconciled() {
        let line = |group: &str, kind: &str, status: Value| {
            let obj = json!({"status": status});
            unreconciled_line(group, kind, "apps", "x", &health(&obj))
        };
        assert_eq!(
            line("helm.toolkit.fluxcd.io", "HelmRelease", json!(null)).as_deref(),
            Some(
                "NOT RECONCILED HelmRelease apps/x: no status yet; is helm-controller running \
                 and watching this namespace? (get_flux_instance)"
            )
        );
        let reconciling = json!({"conditions": [{"type": "Reconciling", "status": "True"}]});
        assert_eq!(
            line("helm.toolkit.fluxcd.io", "HelmRelease", reconciling),
            None
        );
        assert_eq!(
            line("notification.toolkit.fluxcd.io", "Alert", json!({})),
            None
        );
        let image = line(
            "image.toolkit.fluxcd.io",
            "ImageUpdateAutomation",
            json!({}),
        );
        assert!(image.is_some_and(|l| l.contains("image-automation-controller")));
    }

    #[test]
    fn states_follow_ready_stalled_and_suspend() {
        let s = |c: Value| health(&with_conditions(c)).state;
        assert_eq!(
            s(json!([{"type": "Ready", "status": "True"}])),
            State::Ready
        );
        assert_eq!(
            s(json!([{"type": "Ready", "status": "False"}])),
            State::Failing
        );
        assert_eq!(
            s(json!([{"type": "Ready", "status": "Unknown"}])),
            State::Progressing
        );
        assert_eq!(
            s(json!([{"type": "Ready", "status": "True"}, {"type": "Stalled", "status": "True"}])),
            State::Failing
        );
        assert_eq!(s(json!([])), State::NoStatus);
        let mut o = with_conditions(json!([{"type": "Ready", "status": "False"}]));
        o["spec"]["suspend"] = json!(true);
        assert_eq!(health(&o).state, State::Suspended);
        let rs =
            json!({"metadata": {"annotations": {"fluxcd.controlplane.io/reconcile": "disabled"}}});
        assert_eq!(health(&rs).state, State::Suspended);
    }

    #[test]
    fn the_headline_names_the_reasons_and_leaves_messages_to_the_conditions() {
        let o = with_conditions(json!([
            {"type": "Stalled", "status": "True", "reason": "RetriesExceeded",
             "message": "Failed to install after 4 attempt(s)"},
            {"type": "Ready", "status": "False", "reason": "InstallFailed",
             "message": "Helm install failed for release apps/redis: context deadline exceeded\nsecond line"},
        ]));
        let h = health(&o);
        assert_eq!(
            headline("HelmRelease", "apps", "redis", &h, None).as_deref(),
            Some("NOT READY HelmRelease apps/redis: InstallFailed; stalled: RetriesExceeded")
        );
        assert!(status_first(&h));
        assert_eq!(
            h.problem().as_deref(),
            Some(
                "InstallFailed: Helm install failed for release apps/redis: context deadline exceeded\nsecond line"
            )
        );
        let stalled_only = with_conditions(json!([
            {"type": "Stalled", "status": "True", "reason": "InvalidPath", "message": "m"},
            {"type": "Ready", "status": "True", "reason": "Succeeded"},
        ]));
        assert_eq!(
            headline("HelmRelease", "apps", "redis", &health(&stalled_only), None).as_deref(),
            Some("STALLED HelmRelease apps/redis: InvalidPath")
        );
        let no_reason = with_conditions(json!([{"type": "Ready", "status": "False"}]));
        assert_eq!(
            headline("HelmRelease", "", "redis", &health(&no_reason), None).as_deref(),
            Some("NOT READY HelmRelease redis: status False")
        );
        let ok = with_conditions(json!([{"type": "Ready", "status": "True"}]));
        assert_eq!(
            headline("HelmRelease", "apps", "redis", &health(&ok), None),
            None
        );
        assert!(!status_first(&health(&ok)));
    }

    #[test]
    fn a_suspended_object_leads_with_its_status_only_when_that_was_a_failure() {
        let mut o = with_conditions(json!([{"type": "Ready", "status": "False",
            "reason": "BuildFailed", "message": "kustomize build failed"}]));
        o["spec"]["suspend"] = json!(true);
        let h = health(&o);
        assert_eq!(
            headline("Kustomization", "apps", "frozen", &h, None).as_deref(),
            Some(
                "SUSPENDED Kustomization apps/frozen: reconciliation is suspended; last status: BuildFailed"
            )
        );
        assert!(status_first(&h));
        o["status"]["conditions"][0]["status"] = json!("True");
        let h = health(&o);
        assert_eq!(
            headline("Kustomization", "apps", "frozen", &h, None).as_deref(),
            Some("SUSPENDED Kustomization apps/frozen: reconciliation is suspended")
        );
        assert!(!status_first(&h));
    }

    #[test]
    fn the_headline_names_a_root_cause_in_another_object() {
        let o = with_conditions(json!([{"type": "Ready", "status": "False",
            "reason": "ArtifactFailed", "message": "HelmChart 'flux-system/apps-redis' is not ready"}]));
        assert_eq!(
            headline(
                "HelmRelease",
                "apps",
                "redis",
                &health(&o),
                Some("HelmRepository flux-system/bitnami: not found")
            )
            .as_deref(),
            Some(
                "NOT READY HelmRelease apps/redis: ArtifactFailed; root cause: HelmRepository flux-system/bitnami: not found"
            )
        );
    }

    #[test]
    fn upstreams_of_each_kind() {
        let hr = with_conditions(json!([]));
        assert_eq!(
            upstreams(&hr),
            [Upstream {
                role: "source",
                group: SOURCE_GROUP.into(),
                kind: "HelmChart".into(),
                namespace: "flux-system".into(),
                name: "apps-redis".into(),
                must_be_ready: true,
                then: vec![Upstream {
                    role: "source",
                    group: SOURCE_GROUP.into(),
                    kind: "HelmRepository".into(),
                    namespace: "flux-system".into(),
                    name: "bitnami".into(),
                    must_be_ready: true,
                    then: Vec::new(),
                }],
            }]
        );
        let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": "flux-system"},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                     "dependsOn": [{"name": "infra"}, {"name": "db", "namespace": "data"}]}});
        let labels: Vec<String> = upstreams(&ks).iter().map(Upstream::label).collect();
        assert_eq!(
            labels,
            [
                "source GitRepository flux-system/flux-system",
                "dependency Kustomization flux-system/infra",
                "dependency Kustomization data/db"
            ]
        );
        let chart_ref = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "cm", "namespace": "cert-manager"},
            "spec": {"chartRef": {"kind": "OCIRepository", "name": "cert-manager",
                                  "namespace": "flux-system"}}});
        assert_eq!(
            upstreams(&chart_ref)[0].label(),
            "source OCIRepository flux-system/cert-manager"
        );
        let rset = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
            "metadata": {"name": "t", "namespace": "flux-system"},
            "spec": {"dependsOn": [{"apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition", "name": "x", "ready": false}]}});
        let u = &upstreams(&rset)[0];
        assert_eq!(
            (u.group.as_str(), u.kind.as_str(), u.must_be_ready),
            ("apiextensions.k8s.io", "CustomResourceDefinition", false)
        );
        let inputs = json!({"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
            "metadata": {"name": "t", "namespace": "flux-system"},
            "spec": {"inputsFrom": [{"kind": "ResourceSetInputProvider", "name": "prs"},
                                    {"kind": "ResourceSetInputProvider", "selector": {}}]}});
        let labels: Vec<String> = upstreams(&inputs).iter().map(Upstream::label).collect();
        assert_eq!(
            labels,
            ["input provider ResourceSetInputProvider flux-system/prs"]
        );
        let git = json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": "app", "namespace": "ns"},
            "spec": {"include": [{"repository": {"name": "shared"}, "toPath": "x"}]}});
        assert_eq!(
            upstreams(&git)[0].label(),
            "include GitRepository ns/shared"
        );
        let policy = json!({"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
            "metadata": {"name": "p", "namespace": "ns"}, "spec": {"imageRepositoryRef": {"name": "r"}}});
        assert_eq!(
            upstreams(&policy)[0].label(),
            "image repository ImageRepository ns/r"
        );
        assert!(upstreams(&json!({"kind": "ConfigMap", "apiVersion": "v1"})).is_empty());
    }

    #[test]
    fn upstream_lines_say_what_was_found() {
        let u = Upstream {
            role: "source",
            group: SOURCE_GROUP.into(),
            kind: "GitRepository".into(),
            namespace: "flux-system".into(),
            name: "apps".into(),
            must_be_ready: true,
            then: Vec::new(),
        };
        let failing = health(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "GitOperationFailed", "message": "authentication required"}]}}),
        );
        assert_eq!(
            upstream_line(&u, &Finding::Seen(failing.clone()), false),
            "source GitRepository flux-system/apps: not ready: GitOperationFailed: authentication required"
        );
        // Whole, however long and however many lines.
        let message = format!("{}\nlookup github.com: no such host", "y".repeat(150));
        let long = health(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "GitOperationFailed", "message": message}]}}),
        );
        assert_eq!(
            upstream_line(&u, &Finding::Seen(long.clone()), false),
            format!(
                "source GitRepository flux-system/apps: not ready: GitOperationFailed: {message}"
            )
        );
        assert_eq!(
            upstream_line(&u, &Finding::Seen(long.clone()), true),
            "source GitRepository flux-system/apps: not ready: GitOperationFailed (its document is in this answer)"
        );
        assert_eq!(
            finding_label(&u, &Finding::Seen(long)),
            "not ready: GitOperationFailed"
        );
        assert!(Finding::Seen(failing).is_problem(true));
        assert_eq!(
            upstream_line(&u, &Finding::NotFound, false),
            "source GitRepository flux-system/apps: not found"
        );
        assert_eq!(
            upstream_line(&u, &Finding::Unreadable("forbidden".into()), false),
            "source GitRepository flux-system/apps: cannot be read: forbidden"
        );
        assert!(!Finding::NotChecked.is_problem(true));
    }

    #[test]
    fn a_brief_line_names_state_revision_and_age() {
        let now = parse_system_time("2026-11-21T05:30:00Z").unwrap();
        let ks = json!({"metadata": {"name": "apps", "namespace": "flux-system",
                "creationTimestamp": "2026-10-18T05:30:00Z"},
            "status": {"lastAppliedRevision": "main@sha1:0ef7a9f2d357271ed49d2d66d35968a21215ae31",
                "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}]}});
        assert_eq!(
            brief(&ks, &health(&ks), false, now),
            "flux-system/apps: ready, main@sha1:0ef7a9f2d357, age 34d"
        );
        let hr = json!({"metadata": {"name": "podinfo", "namespace": "apps"},
            "status": {"history": [{"chartName": "podinfo", "chartVersion": "6.9.2"}],
                "conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing"}]}});
        assert_eq!(
            brief(&hr, &health(&hr), false, now),
            "apps/podinfo: progressing: Progressing, podinfo@6.9.2"
        );
        let fresh = json!({"metadata": {"name": "x"}});
        assert_eq!(
            brief(&fresh, &health(&fresh), true, now),
            "x: not reconciled yet"
        );
        assert_eq!(
            short_digests(
                "6.9.2@sha256:c72153523d3a86c27872eb0ab9d44e53345a7d7cbfff3739aa36141d660d75ce"
            ),
            "6.9.2@sha256:c72153523d3a"
        );
        assert_eq!(short_digests("v1 and sha1:abc"), "v1 and sha1:abc");
        let policy = json!({"status": {"latestRef": {"name": "ghcr.io/acme/api", "tag": "1.4.2"}}});
        assert_eq!(revision(&policy).as_deref(), Some("ghcr.io/acme/api:1.4.2"));
    }
}
