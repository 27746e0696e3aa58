//! `apply_kubernetes_manifest`: server-side apply of a multi-document manifest with our own
//! field manager, in stages as Flux applies (CustomResourceDefinitions, Namespaces and
//! ClusterRoles first, waited for until established or active; then class objects; then
//! Roles; then the rest), never forcing another manager's fields. Objects a Flux controller
//! manages are refused unless `overwrite` (the controller would revert the change). One line
//! per object: `Kind/ns/name created|configured|unchanged`, ` (dry run)` with `dry_run`.
//! Secret values never appear in the answer or the call log.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::manifest::{self, Object};
use super::writes::{self, Change, object_name};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster, record_write};
use crate::kube::SecretBytes;
use crate::kube::client::ApplyOptions;
use crate::kube::discovery::Resource;

pub const TOOL: Tool = Tool {
    name: "apply_kubernetes_manifest",
    title: "Apply a Kubernetes manifest",
    description: "Applies a multi-document YAML manifest with server-side apply (field manager \
        flux-operator-mcp, no force), in stages: CustomResourceDefinitions, Namespaces and \
        ClusterRoles first (waited for), then class objects, then Roles, then the rest. \
        Answers one line per object: Kind/namespace/name created, configured or unchanged; \
        dry_run asks the API server to check everything without persisting. Objects managed \
        by Flux (Kustomization, HelmRelease, ResourceSet, FluxInstance labels) are refused \
        unless overwrite is true, since their controller reverts changes: prefer changing \
        the source in Git. A field owned by another manager is a conflict, reported with the \
        field and the manager. Try diff_kubernetes_manifest first to see what would change.",
    input_schema,
    // Destructive in MCP's sense: besides creating objects it overwrites fields of existing
    // ones, and removes fields an earlier apply by us set that the manifest no longer has.
    // Idempotent: applying the same manifest again changes nothing.
    annotations: super::ToolAnnotations {
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::Write,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "yaml_content": {
                "type": "string",
                "description": "The manifest: one or more YAML documents separated by ---, or JSON."
            },
            "overwrite": {
                "type": "boolean",
                "default": false,
                "description": "Apply objects that a Flux controller manages anyway (it will \
                    revert the change unless its source changes too)."
            },
            "dry_run": {
                "type": "boolean",
                "default": false,
                "description": "Server-side dry run: validated and admitted, nothing persisted."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["yaml_content"],
        "additionalProperties": false
    })
}

/// The stages, in order: what later objects may need comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// CustomResourceDefinitions, Namespaces and ClusterRoles, waited for.
    Definitions,
    /// StorageClass, IngressClass, PriorityClass, ...: what other objects name.
    Classes,
    /// Roles before the RoleBindings that grant them (the API server checks a binding's
    /// permissions against its role).
    Roles,
    Rest,
}

fn stage_of(api_version: &str, kind: &str) -> Stage {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apiextensions.k8s.io", "CustomResourceDefinition")
        | ("", "Namespace")
        | ("rbac.authorization.k8s.io", "ClusterRole") => Stage::Definitions,
        ("rbac.authorization.k8s.io", "Role") => Stage::Roles,
        (_, k) if k.ends_with("Class") => Stage::Classes,
        _ => Stage::Rest,
    }
}

/// One object of the manifest on its way to the cluster.
struct Item {
    object: Object,
    stage: Stage,
    /// `None` until its kind is served: a kind whose CRD is in the same manifest.
    resource: Option<Resource>,
    namespace: String,
    /// The object as it is in the cluster before the apply (`None`: it does not exist).
    before: Option<Value>,
    /// What became of it, once applied or skipped.
    line: Option<Line>,
}

impl Item {
    fn label(&self) -> String {
        object_name(&self.object.kind, &self.namespace, &self.object.name)
    }
}

enum Line {
    Done(&'static str),
    Skipped(String),
    Failed(String),
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let text = args.str("yaml_content")?;
    let overwrite = args.opt_bool("overwrite")?.unwrap_or(false);
    let dry_run = args.opt_bool("dry_run")?.unwrap_or(false);
    let objects = manifest::parse(text).map_err(ToolError::InvalidArgument)?;
    let values: Vec<SecretBytes> = objects
        .iter()
        .flat_map(|o| writes::secret_values(&o.value))
        .collect();
    let cluster = ctx.cluster(args)?;
    let mut items = resolve(&cluster, objects)?;
    let notes = check_owners(&cluster, &mut items, overwrite, &values)?;
    let started = Instant::now();
    let deadline = cluster.deadline().unwrap_or(started + ctx.settings.timeout);
    let suffix = if dry_run { " (dry run)" } else { "" };
    // Namespaces this manifest creates: in a dry run they stay missing, so what goes into them
    // cannot be checked (not an error of the manifest).
    let new_namespaces: BTreeSet<String> = items
        .iter()
        .filter(|i| {
            i.object.kind == "Namespace" && i.object.api_version == "v1" && i.before.is_none()
        })
        .map(|i| i.object.name.clone())
        .collect();
    for stage in [
        Stage::Definitions,
        Stage::Classes,
        Stage::Roles,
        Stage::Rest,
    ] {
        if stage == Stage::Rest || stage == Stage::Classes || stage == Stage::Roles {
            resolve_deferred(&cluster, &mut items, stage, dry_run);
        }
        let indices: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].stage == stage && items[i].line.is_none())
            .collect();
        let results = writes::each(&indices, |&i| {
            apply_one(&cluster, &items[i], dry_run, &values, &new_namespaces)
        });
        for (i, line) in indices.iter().zip(results) {
            items[*i].line = Some(line);
        }
        if stage == Stage::Definitions && !dry_run {
            wait_for_definitions(&cluster, &mut items, deadline);
        }
        let failed = items
            .iter()
            .any(|i| matches!(i.line, Some(Line::Failed(_))));
        if failed {
            for item in items.iter_mut().filter(|i| i.line.is_none()) {
                item.line = Some(Line::Skipped(
                    "not applied: an earlier stage failed".to_string(),
                ));
            }
            break;
        }
    }
    let mut out = String::new();
    let mut failures = 0;
    for item in &items {
        // A Secret value is kept out of the answer and the log even where it is not one (a
        // name that happens to hold it).
        let label = writes::mask_values(&item.label(), &values);
        let line = match &item.line {
            Some(Line::Done(word)) => {
                record_write(&label, format!("{word}{suffix}"));
                format!("{label} {word}{suffix}")
            }
            Some(Line::Skipped(why)) => {
                record_write(&label, format!("skipped{suffix}"));
                format!("{label} {why}")
            }
            Some(Line::Failed(why)) => {
                failures += 1;
                record_write(&label, format!("failed{suffix}"));
                format!("{label} failed: {why}")
            }
            None => format!("{label} not applied"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for note in notes {
        out.push_str(&format!("note: {note}\n"));
    }
    let out = writes::mask_values(&out, &values);
    if failures > 0 {
        let s = if failures == 1 { "" } else { "s" };
        return Err(ToolError::Failed(format!(
            "{failures} object{s} failed to apply{suffix}:\n{out}"
        )));
    }
    Ok(out)
}

/// Each object's resource and namespace. A kind the cluster does not serve is an error
/// before anything is written, unless a CustomResourceDefinition of the same manifest defines
/// it (it is resolved once that is established). Two documents for one object are an error.
fn resolve(cluster: &Cluster, objects: Vec<Object>) -> Result<Vec<Item>, ToolError> {
    let defined: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|o| o.kind == "CustomResourceDefinition")
        .filter_map(|o| {
            let group = o.value.pointer("/spec/group")?.as_str()?;
            let kind = o.value.pointer("/spec/names/kind")?.as_str()?;
            Some((group.to_string(), kind.to_string()))
        })
        .collect();
    let mut items = Vec::with_capacity(objects.len());
    let mut problems = Vec::new();
    for object in objects {
        let stage = stage_of(&object.api_version, &object.kind);
        let group = object
            .api_version
            .split_once('/')
            .map_or("", |(g, _)| g)
            .to_string();
        let resource = match cluster.resolve(Some(&object.api_version), &object.kind) {
            Ok(r) if r.kind == object.kind => Some(r),
            // Discovery also matches plurals and short names; a manifest names kinds exactly.
            Ok(r) => {
                problems.push(format!(
                    "{}: kind {:?} is not a kind (did you mean {}?)",
                    object.place, object.kind, r.kind
                ));
                continue;
            }
            Err(crate::kube::Error::UnknownKind { .. })
                if defined.contains(&(group.clone(), object.kind.clone())) =>
            {
                None
            }
            Err(e) => {
                problems.push(format!("{}: {e}", object.place));
                continue;
            }
        };
        let namespace = namespace_for(cluster, resource.as_ref(), &object);
        items.push(Item {
            object,
            stage: if resource.is_none() && stage < Stage::Rest {
                // A custom kind is never one of the built-in early kinds.
                Stage::Rest
            } else {
                stage
            },
            resource,
            namespace,
            before: None,
            line: None,
        });
    }
    if !problems.is_empty() {
        return Err(ToolError::InvalidArgument(format!(
            "nothing was applied; context {}: {}",
            cluster.context(),
            problems.join("; ")
        )));
    }
    let mut seen: BTreeMap<(String, String, String, String), &str> = BTreeMap::new();
    for item in &items {
        let key = (
            item.object
                .api_version
                .split_once('/')
                .map_or("", |(g, _)| g)
                .to_string(),
            item.object.kind.clone(),
            item.namespace.clone(),
            item.object.name.clone(),
        );
        if let Some(first) = seen.insert(key, &item.object.place) {
            return Err(ToolError::InvalidArgument(format!(
                "{} repeats {} of {first}; nothing was applied",
                item.object.place,
                item.label()
            )));
        }
    }
    Ok(items)
}

/// Where an object goes: nowhere for a cluster-scoped kind, its own namespace, else the
/// context's (as kubectl does). Not yet resolved: its own, else the context's.
fn namespace_for(cluster: &Cluster, resource: Option<&Resource>, object: &Object) -> String {
    match (resource.map(|r| r.namespaced), object.namespace.as_deref()) {
        (Some(false), _) => String::new(),
        (_, Some(ns)) => ns.to_string(),
        _ => cluster.default_namespace().to_string(),
    }
}

/// Resolve the objects of `stage` whose kind a manifest CRD defines, now that it has been
/// applied (and discovery refreshed). In a dry run the CRD does not exist, so they cannot be
/// checked and are skipped with a line saying so.
fn resolve_deferred(cluster: &Cluster, items: &mut [Item], stage: Stage, dry_run: bool) {
    let waiting = items
        .iter()
        .any(|i| i.stage == stage && i.resource.is_none() && i.line.is_none());
    if !waiting {
        return;
    }
    if !dry_run {
        let _ = cluster.refresh_discovery();
    }
    for item in items
        .iter_mut()
        .filter(|i| i.stage == stage && i.resource.is_none() && i.line.is_none())
    {
        if dry_run {
            item.line = Some(Line::Skipped(
                "not checked (dry run): its CustomResourceDefinition is in this manifest and \
                 a dry run does not create it"
                    .into(),
            ));
            continue;
        }
        match cluster.resolve(Some(&item.object.api_version), &item.object.kind) {
            Ok(r) => {
                if !r.namespaced {
                    item.namespace.clear();
                }
                item.resource = Some(r);
            }
            Err(e) => {
                item.line = Some(Line::Failed(format!(
                    "its kind is not served after its CustomResourceDefinition was applied: {e}"
                )))
            }
        }
    }
}

/// The Flux-owner guard for every object that exists: all of them are read first (in
/// parallel), and any refusal stops the apply before anything is written. Returns the notes
/// of objects let through (overwrite, or an owner that leaves them alone).
fn check_owners(
    cluster: &Cluster,
    items: &mut [Item],
    overwrite: bool,
    values: &[SecretBytes],
) -> Result<Vec<String>, ToolError> {
    let lives = writes::each(items, |item| match &item.resource {
        Some(r) => writes::find_live(cluster, r, &item.namespace, &item.object.name),
        None => Ok(None),
    });
    let mut refusals = Vec::new();
    let mut notes = Vec::new();
    for (item, live) in items.iter_mut().zip(lives) {
        let label = item.label();
        match live {
            Ok(None) => {}
            Ok(Some(live)) => {
                match writes::guard(&label, &live, Change::Modify, overwrite) {
                    Ok(Some(note)) => notes.push(note),
                    Ok(None) => {}
                    Err(e) => refusals.push(e.to_string()),
                }
                item.before = Some(live);
            }
            Err(e) => {
                return Err(writes::write_error(cluster, e, &label, "get", values));
            }
        }
    }
    if !refusals.is_empty() {
        let text = format!("nothing was applied:\n{}", refusals.join("\n"));
        return Err(ToolError::Failed(writes::mask_values(&text, values)));
    }
    Ok(notes)
}

/// Server-side apply of one object, as our field manager and without force. Created,
/// configured or unchanged is told by whether it existed when the guard read it and whether
/// the stored object moved (its resourceVersion; in a dry run, which stores nothing, its
/// content).
fn apply_one(
    cluster: &Cluster,
    item: &Item,
    dry_run: bool,
    values: &[SecretBytes],
    new_namespaces: &BTreeSet<String>,
) -> Line {
    let Some(resource) = &item.resource else {
        return Line::Skipped("not applied".into());
    };
    let label = item.label();
    let mut body = item.object.value.clone();
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        if resource.namespaced {
            meta.insert("namespace".into(), json!(item.namespace));
        } else {
            meta.remove("namespace");
        }
    }
    let options = ApplyOptions {
        dry_run,
        ..ApplyOptions::default()
    };
    match cluster.apply(
        resource,
        &item.namespace,
        &item.object.name,
        &body,
        &options,
    ) {
        Ok(after) => Line::Done(match &item.before {
            None => "created",
            Some(b) if unchanged(b, &after, dry_run) => "unchanged",
            Some(_) => "configured",
        }),
        Err(e) if dry_run && e.is_not_found() && new_namespaces.contains(&item.namespace) => {
            Line::Skipped(format!(
                "not checked (dry run): namespace {} does not exist yet ({e})",
                item.namespace
            ))
        }
        Err(e) => Line::Failed(failure(cluster, e, &label, values)),
    }
}

/// The error of one object, without the context and name the line already gives.
fn failure(
    cluster: &Cluster,
    e: crate::kube::Error,
    label: &str,
    values: &[SecretBytes],
) -> String {
    let text = writes::write_error(cluster, e, label, "apply", values).to_string();
    let prefix = format!("context {}: {label}: ", cluster.context());
    text.strip_prefix(&prefix)
        .map_or(text.clone(), str::to_string)
}

/// Whether an apply left the object as it was: the same resourceVersion; in a dry run (whose
/// answer keeps the stored resourceVersion or has none) the same content, apart from what the
/// server sets on every write.
fn unchanged(before: &Value, after: &Value, dry_run: bool) -> bool {
    let rv = |o: &Value| o.pointer("/metadata/resourceVersion").cloned();
    if !dry_run {
        return rv(before).is_some() && rv(before) == rv(after);
    }
    let strip = |o: &Value| {
        let mut o = o.clone();
        if let Some(meta) = o["metadata"].as_object_mut() {
            for k in ["managedFields", "resourceVersion", "generation"] {
                meta.remove(k);
            }
        }
        o
    };
    strip(before) == strip(after)
}

/// Waits (polling, until `deadline`) for the CustomResourceDefinitions and Namespaces just
/// applied to be established or active; one that is not in time is a failed line, which stops
/// the later stages.
fn wait_for_definitions(cluster: &Cluster, items: &mut [Item], deadline: Instant) {
    let mut pending: Vec<(usize, String)> = (0..items.len())
        .filter(|&i| {
            let item = &items[i];
            matches!(item.line, Some(Line::Done(_)))
                && item.stage == Stage::Definitions
                && matches!(
                    item.object.kind.as_str(),
                    "CustomResourceDefinition" | "Namespace"
                )
        })
        .map(|i| (i, String::new()))
        .collect();
    let mut interval = Duration::from_millis(50);
    loop {
        let mut still = Vec::new();
        for (i, _) in pending {
            let item = &items[i];
            let Some(resource) = &item.resource else {
                continue;
            };
            match cluster.get(resource, &item.namespace, &item.object.name) {
                Ok(live) => match readiness(&item.object.kind, &live) {
                    Readiness::Ready => {}
                    Readiness::Waiting(why) => still.push((i, why)),
                    Readiness::Failed(why) => items[i].line = Some(Line::Failed(why)),
                },
                Err(e) => still.push((i, e.to_string())),
            }
        }
        if still.is_empty() {
            return;
        }
        if Instant::now() + interval >= deadline {
            for (i, why) in still {
                items[i].line = Some(Line::Failed(format!(
                    "applied, but not ready before the call's --timeout: {why}"
                )));
            }
            return;
        }
        pending = still;
        if cluster.pause(interval) {
            for (i, _) in pending {
                items[i].line = Some(Line::Failed("applied; the call was cancelled".into()));
            }
            return;
        }
        interval = (interval * 2).min(Duration::from_secs(1));
    }
}

enum Readiness {
    Ready,
    Waiting(String),
    Failed(String),
}

/// A CRD is ready when `Established` is True (a `NamesAccepted=False` is a failure: its names
/// clash with another CRD's); a Namespace when it is not terminating.
fn readiness(kind: &str, live: &Value) -> Readiness {
    let condition = |t: &str| {
        live.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == t))
    };
    match kind {
        "CustomResourceDefinition" => {
            if let Some(c) = condition("NamesAccepted")
                && c["status"] == "False"
            {
                return Readiness::Failed(format!(
                    "its names are not accepted: {}",
                    c["message"].as_str().unwrap_or_default()
                ));
            }
            match condition("Established") {
                Some(c) if c["status"] == "True" => Readiness::Ready,
                Some(c) => Readiness::Waiting(format!(
                    "Established={}: {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["message"].as_str().unwrap_or_default()
                )),
                None => Readiness::Waiting("not established yet".into()),
            }
        }
        _ => match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Terminating") => {
                Readiness::Failed("the namespace is being deleted (Terminating)".into())
            }
            _ => Readiness::Ready,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_put_definitions_first_and_roles_before_the_rest() {
        assert_eq!(
            stage_of("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
            Stage::Definitions
        );
        assert_eq!(stage_of("v1", "Namespace"), Stage::Definitions);
        assert_eq!(
            stage_of("rbac.authorization.k8s.io/v1", "ClusterRole"),
            Stage::Definitions
        );
        assert_eq!(
            stage_of("storage.k8s.io/v1", "StorageClass"),
            Stage::Classes
        );
        assert_eq!(
            stage_of("networking.k8s.io/v1", "IngressClass"),
            Stage::Classes
        );
        assert_eq!(
            stage_of("rbac.authorization.k8s.io/v1", "Role"),
            Stage::Roles
        );
        assert_eq!(
            stage_of("rbac.authorization.k8s.io/v1", "RoleBinding"),
            Stage::Rest
        );
        assert_eq!(stage_of("apps/v1", "Deployment"), Stage::Rest);
        // A custom kind called Namespace is not the core one.
        assert_eq!(stage_of("example.com/v1", "Namespace"), Stage::Rest);
    }

    #[test]
    fn a_dry_run_is_unchanged_when_only_server_fields_move() {
        let before = json!({"metadata": {"name": "a", "resourceVersion": "5", "managedFields": [1]},
                            "data": {"k": "v"}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "5", "managedFields": [2]},
                          "data": {"k": "v"}});
        let changed =
            json!({"metadata": {"name": "a", "resourceVersion": "5"}, "data": {"k": "w"}});
        assert!(unchanged(&before, &same, true));
        assert!(!unchanged(&before, &changed, true));
        let stored = json!({"metadata": {"resourceVersion": "6"}});
        assert!(!unchanged(&before, &stored, false));
        assert!(unchanged(
            &before,
            &json!({"metadata": {"resourceVersion": "5"}}),
            false
        ));
    }

    #[test]
    fn definitions_are_ready_when_established_or_active() {
        let established = json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "True"}, {"type": "Established", "status": "True"}]}});
        assert!(matches!(
            readiness("CustomResourceDefinition", &established),
            Readiness::Ready
        ));
        let clash = json!({"status": {"conditions": [
            {"type": "NamesAccepted", "status": "False", "message": "\"ks\" is already in use"}]}});
        assert!(
            matches!(readiness("CustomResourceDefinition", &clash), Readiness::Failed(m) if m.contains("already in use"))
        );
        assert!(matches!(
            readiness("CustomResourceDefinition", &json!({})),
            Readiness::Waiting(_)
        ));
        assert!(matches!(
            readiness("Namespace", &json!({"status": {"phase": "Active"}})),
            Readiness::Ready
        ));
        assert!(matches!(
            readiness("Namespace", &json!({"status": {"phase": "Terminating"}})),
            Readiness::Failed(_)
        ));
    }
}
