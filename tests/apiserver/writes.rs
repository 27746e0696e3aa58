//! The mutating verbs, as the API server's handlers and registry run them: POST (create, 201),
//! PUT (update, 200; 409 on a stale resourceVersion), PATCH (JSON merge, JSON patch, strategic
//! merge for built-in types, server-side apply with `fieldManager` and `force`), DELETE
//! (finalizers hold an object with a `deletionTimestamp` until the last one is removed;
//! dependents are collected at once per `propagationPolicy`; a namespace takes its content with
//! it), `dryRun=All` on each (everything computed, nothing stored), the `status` subresource
//! (which changes only the status, while the main resource keeps its status), generation and
//! resourceVersion bumps, and managedFields for every write. The simulated controller writes
//! through [`update_internal`] and [`create_internal`].

use serde_json::{Map, Value, json};

use super::api::{self, ResourcePath};
use super::http::{Request, Response};
use super::managed_fields::{self, Writer};
use super::resources::ResourceType;
use super::status::{self, FieldError};
use super::store::{self, Key};
use super::{Shared, State, clock, controller, patch};

const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC_PATCH: &str = "application/strategic-merge-patch+json";
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Where a write lands.
struct Cx<'a> {
    shared: &'a Shared,
    state: &'a mut State,
    t: usize,
    ty: ResourceType,
    rp: &'a ResourcePath<'a>,
    /// `group/version` of the request (what managedFields entries record).
    group_version: String,
    /// Writing the `status` subresource.
    status: bool,
    dry_run: bool,
    now: String,
}

impl Cx<'_> {
    fn name(&self) -> &str {
        self.rp.name.unwrap_or_default()
    }

    fn key(&self) -> Key {
        self.rp.key()
    }

    fn has_status_subresource(&self) -> bool {
        has_status(&self.ty)
    }

    fn writer<'w>(&'w self, manager: &'w str) -> Writer<'w> {
        Writer {
            manager,
            api_version: &self.group_version,
            subresource: if self.status { "status" } else { "" },
            now: &self.now,
        }
    }
}

fn has_status(ty: &ResourceType) -> bool {
    ty.subresources.iter().any(|s| s == "status")
}

/// Serve a write; `verb` is the RBAC verb of the request.
pub fn handle(
    shared: &Shared,
    state: &mut State,
    t: usize,
    rp: &ResourcePath,
    req: &Request,
    verb: &str,
) -> Response {
    let ty = state.store.registry.types[t].clone();
    let status = rp.sub == Some("status");
    if rp.sub.is_some() && !status {
        return status::method_not_allowed();
    }
    let group_version = ty.api_version(rp.version);
    let mut cx = Cx {
        shared,
        state,
        t,
        ty,
        rp,
        group_version,
        status,
        dry_run: false,
        now: clock::format_rfc3339(clock::now_unix()),
    };
    match (verb, rp.name.is_some()) {
        ("create", false) if !status => create(&mut cx, req),
        ("update", true) => replace(&mut cx, req),
        ("patch", true) => patch_object(&mut cx, req),
        ("delete", true) if !status => delete(&mut cx, req),
        _ => status::method_not_allowed(),
    }
}

// ---- options -------------------------------------------------------------------------------

/// CreateOptions / UpdateOptions / PatchOptions as the query carries them.
struct Options {
    dry_run: bool,
    field_manager: Option<String>,
    force: bool,
}

fn go_strings(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

fn dry_run_errors(values: &[&str]) -> Vec<FieldError> {
    if values.iter().all(|v| *v == "All") {
        Vec::new()
    } else {
        vec![FieldError::new(
            "FieldValueNotSupported",
            "dryRun",
            format!(
                "Unsupported value: {}: supported values: \"All\"",
                go_strings(values)
            ),
        )]
    }
}

/// Parse and validate the options of a create, update or patch (`kind`: `CreateOptions`, ...);
/// invalid ones are a 422 naming the options kind, as `ValidatePatchOptions` and friends answer.
fn options(req: &Request, kind: &str, apply: Option<bool>) -> Result<Options, Response> {
    let mut errs = Vec::new();
    let force = match req.param("force") {
        None => None,
        Some(v) => match v {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
            other => {
                return Err(status::bad_request(&format!(
                    "strconv.ParseBool: parsing {other:?}: invalid syntax"
                )));
            }
        },
    };
    let field_manager = req
        .param("fieldManager")
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    match apply {
        Some(true) if field_manager.is_none() => errs.push(FieldError::new(
            "FieldValueRequired",
            "fieldManager",
            "Required value: is required for apply patch",
        )),
        Some(false) if force.is_some() => errs.push(FieldError::new(
            "FieldValueForbidden",
            "force",
            "Forbidden: may not be specified for non-apply patch",
        )),
        _ => {}
    }
    if let Some(m) = &field_manager {
        if m.len() > 128 {
            errs.push(FieldError::new(
                "FieldValueTooLong",
                "fieldManager",
                "Too long: may not be more than 128 bytes",
            ));
        }
        if let Some((i, c)) = m.chars().enumerate().find(|(_, c)| c.is_control()) {
            errs.push(FieldError::new(
                "FieldValueInvalid",
                "fieldManager",
                format!(
                    "Invalid value: {m:?}: invalid character U+{:04X} (at position {i})",
                    c as u32
                ),
            ));
        }
    }
    let dry: Vec<&str> = req
        .query
        .iter()
        .filter(|(k, _)| k == "dryRun")
        .map(|(_, v)| v.as_str())
        .collect();
    errs.extend(dry_run_errors(&dry));
    if let Some(v) = req.param("fieldValidation")
        && !matches!(v, "" | "Ignore" | "Warn" | "Strict")
    {
        errs.push(FieldError::new(
            "FieldValueNotSupported",
            "fieldValidation",
            format!(
                "Unsupported value: {v:?}: supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
            ),
        ));
    }
    if !errs.is_empty() {
        return Err(status::invalid_fields("meta.k8s.io", kind, "", &errs));
    }
    Ok(Options {
        dry_run: !dry.is_empty(),
        field_manager,
        force: force.unwrap_or(false),
    })
}

/// The manager of a non-apply write: `fieldManager`, else the User-Agent up to its first `/`
/// (`kubectl/v1.32.4 (linux/amd64) ...` → `kubectl`), as the API server names it.
fn manager_of(opts: &Options, req: &Request) -> String {
    match &opts.field_manager {
        Some(m) => m.clone(),
        None => req
            .header("user-agent")
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("")
            .chars()
            .take(128)
            .collect(),
    }
}

// ---- bodies and identity -------------------------------------------------------------------

fn media_type(req: &Request) -> String {
    req.header("content-type")
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A POST or PUT body: JSON or YAML, an object.
fn object_body(cx: &Cx, req: &Request) -> Result<Value, Response> {
    let ct = media_type(req);
    let parsed = match ct.as_str() {
        "application/json" => serde_json::from_slice::<Value>(&req.body).map_err(|e| e.to_string()),
        "application/yaml" => {
            serde_norway::from_slice::<Value>(&req.body).map_err(|e| e.to_string())
        }
        _ => {
            let mut accepted = vec!["application/json", "application/yaml"];
            if cx.ty.builtin {
                accepted.push("application/vnd.kubernetes.protobuf");
            }
            return Err(status::unsupported_media_type(&accepted));
        }
    };
    match parsed {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(status::bad_request(
            "the object provided is not a Kubernetes object: not a JSON object",
        )),
        Err(e) => Err(status::bad_request(&format!(
            "the object provided is unrecognized: {e}"
        ))),
    }
}

/// apiVersion, kind, name and namespace of a request body must agree with the URL (missing ones
/// are filled in).
fn check_identity(
    ty: &ResourceType,
    rp: &ResourcePath,
    obj: &mut Value,
    name: &str,
) -> Result<(), Response> {
    let want = ty.api_version(rp.version);
    match obj["apiVersion"].as_str() {
        Some(v) if v != want => {
            return Err(status::bad_request(&format!(
                "the API version in the data ({v}) does not match the expected API version ({want})"
            )));
        }
        _ => obj["apiVersion"] = json!(want),
    }
    match obj["kind"].as_str() {
        Some(k) if k != ty.kind => {
            return Err(status::bad_request(&format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                ty.kind
            )));
        }
        _ => obj["kind"] = json!(ty.kind),
    }
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    match obj["metadata"]["name"].as_str() {
        Some(n) if !n.is_empty() && n != name => {
            return Err(status::bad_request(&format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => obj["metadata"]["name"] = json!(name),
    }
    if let Some(ns) = rp.namespace {
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => obj["metadata"]["namespace"] = json!(ns),
        }
    }
    Ok(())
}

/// `metadata.name` rules: a DNS-1123 label for namespaces and services, a subdomain otherwise.
fn name_errors(ty: &ResourceType, name: &str) -> Vec<FieldError> {
    let label = matches!(ty.kind.as_str(), "Namespace" | "Service") && ty.group.is_empty();
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    let (ok, max, rule) = if label {
        (
            part_ok(name),
            63,
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        )
    } else {
        (
            name.split('.').all(part_ok),
            253,
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        )
    };
    let mut errs = Vec::new();
    if !ok {
        errs.push(FieldError::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: {rule}"),
        ));
    }
    if name.len() > max {
        errs.push(FieldError::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be no more than {max} characters"),
        ));
    }
    errs
}

fn namespace_object<'a>(state: &'a State, ns: &str) -> Option<&'a Value> {
    let t = state.store.registry.by_kind("", "Namespace")?;
    state.store.get(t, "", ns)
}

/// A create into `ns` is possible: the namespace exists and is not being deleted.
fn namespace_accepts(cx: &Cx, name: &str) -> Result<(), Response> {
    let Some(ns) = cx.rp.namespace else {
        return Ok(());
    };
    match namespace_object(cx.state, ns) {
        None => Err(status::namespace_not_found(ns)),
        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => {
            Err(status::namespace_terminating(&cx.ty, name, ns))
        }
        Some(_) => Ok(()),
    }
}

/// Nulls in an applied configuration say nothing (the field is not set by this manager).
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The object as served at `version` (custom resources convert by rewriting apiVersion).
fn served(ty: &ResourceType, obj: &Value, version: &str) -> Value {
    api::served(obj, ty, version, false)
}

fn respond(code: u16, obj: &Value) -> Response {
    Response::json(code, serde_json::to_vec(obj).unwrap_or_default())
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj["metadata"][field].as_str().filter(|s| !s.is_empty())
}

fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

fn deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
}

/// The part of an object whose change bumps its generation: everything but metadata and (when
/// the type has a status subresource) status.
fn spec_of(ty: &ResourceType, obj: &Value) -> Value {
    let mut m = obj.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "apiVersion", "kind"] {
        m.remove(k);
    }
    if has_status(ty) || ty.builtin {
        m.remove("status");
    }
    Value::Object(m)
}

// ---- create --------------------------------------------------------------------------------

/// A name for `generateName`: the prefix and five characters from the API server's alphabet.
fn generated_name(prefix: &str, seed: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = super::resources::fnv1a(format!("{prefix}/{seed}").as_bytes());
    let mut s = prefix.to_string();
    for _ in 0..5 {
        s.push(ALPHABET[(n % ALPHABET.len() as u64) as usize] as char);
        n /= ALPHABET.len() as u64;
    }
    s
}

fn create(cx: &mut Cx, req: &Request) -> Response {
    let opts = match options(req, "CreateOptions", None) {
        Ok(o) => o,
        Err(r) => return r,
    };
    cx.dry_run = opts.dry_run;
    let mut obj = match object_body(cx, req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = match obj.pointer("/metadata/name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => match obj
            .pointer("/metadata/generateName")
            .and_then(Value::as_str)
        {
            Some(prefix) => generated_name(prefix, cx.state.store.resource_version()),
            None => {
                return status::invalid(
                    &cx.ty,
                    "",
                    &[FieldError::new(
                        "FieldValueRequired",
                        "metadata.name",
                        "Required value: name or generateName is required",
                    )],
                );
            }
        },
    };
    if let Err(r) = check_identity(&cx.ty, cx.rp, &mut obj, &name) {
        return r;
    }
    let errs = name_errors(&cx.ty, &name);
    if !errs.is_empty() {
        return status::invalid(&cx.ty, &name, &errs);
    }
    if meta_str(&obj, "resourceVersion").is_some() {
        return status::bad_request("resourceVersion should not be set on objects to be created");
    }
    if let Err(r) = namespace_accepts(cx, &name) {
        return r;
    }
    if cx
        .state
        .store
        .get(cx.t, cx.rp.namespace.unwrap_or_default(), &name)
        .is_some()
    {
        return status::already_exists(&cx.ty, &name);
    }
    let base = match managed_fields::decode(&obj) {
        Ok(entries) => entries,
        Err(e) => return status::invalid(&cx.ty, &name, &[managed_fields_error(e)]),
    };
    if let Some(m) = obj["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    let manager = manager_of(&opts, req);
    let mut obj = prepare_new(cx, obj);
    let entries = managed_fields::update(
        cx.state.store.schema(cx.t),
        &managed_fields::creation_base(&cx.ty, &obj),
        &obj,
        base,
        &cx.writer(&manager),
    );
    set_managed_fields(&mut obj, &managed_fields::encode(&entries));
    finish_create(cx, obj)
}

fn managed_fields_error(e: String) -> FieldError {
    FieldError::new("FieldValueInvalid", "metadata.managedFields", e)
}

/// What the registry does to a new object: system metadata set, no deletion state, no status
/// for types with a status subresource (it is written there).
fn prepare_new(cx: &Cx, mut obj: Value) -> Value {
    if cx.has_status_subresource()
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    let seed = format!(
        "{}/{}/{}/{}",
        cx.ty.group,
        cx.ty.kind,
        cx.rp.namespace.unwrap_or_default(),
        obj["metadata"]["name"].as_str().unwrap_or_default()
    );
    let uid = cx.state.store.fresh_uid(&seed);
    let tracked = store::tracks_generation(&cx.ty);
    if let Some(meta) = obj["metadata"].as_object_mut() {
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            meta.remove(k);
        }
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(cx.now));
        if tracked {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
    }
    obj
}

fn set_managed_fields(obj: &mut Value, managed: &Value) {
    if let Some(meta) = obj["metadata"].as_object_mut() {
        if managed.as_array().is_some_and(|a| !a.is_empty()) {
            meta.insert("managedFields".into(), managed.clone());
        } else {
            meta.remove("managedFields");
        }
    }
}

fn finish_create(cx: &mut Cx, obj: Value) -> Response {
    if cx.dry_run {
        return respond(201, &served(&cx.ty, &obj, cx.rp.version));
    }
    let stored = persist_new(cx.shared, cx.state, cx.t, obj);
    respond(201, &served(&cx.ty, &stored, cx.rp.version))
}

// ---- update and patch ----------------------------------------------------------------------

fn replace(cx: &mut Cx, req: &Request) -> Response {
    let opts = match options(req, "UpdateOptions", None) {
        Ok(o) => o,
        Err(r) => return r,
    };
    cx.dry_run = opts.dry_run;
    let mut obj = match object_body(cx, req) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let name = cx.name().to_string();
    if let Err(r) = check_identity(&cx.ty, cx.rp, &mut obj, &name) {
        return r;
    }
    let Some(live) = cx
        .state
        .store
        .get(cx.t, cx.key().namespace(), &name)
        .cloned()
    else {
        return status::not_found(&cx.ty, &name);
    };
    let manager = manager_of(&opts, req);
    commit(cx, &live, obj, &manager)
}

fn patch_object(cx: &mut Cx, req: &Request) -> Response {
    let ct = media_type(req);
    let accepted: &[&str] = if cx.ty.builtin {
        &[JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH]
    } else {
        // Custom resources have no Go types to read patch merge keys from.
        &[JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
    };
    if !accepted.contains(&ct.as_str()) {
        return status::unsupported_media_type(accepted);
    }
    let apply = ct == APPLY_PATCH;
    let opts = match options(req, "PatchOptions", Some(apply)) {
        Ok(o) => o,
        Err(r) => return r,
    };
    cx.dry_run = opts.dry_run;
    if apply {
        return apply_patch(cx, req, &opts);
    }
    let name = cx.name().to_string();
    let Some(live) = cx
        .state
        .store
        .get(cx.t, cx.key().namespace(), &name)
        .cloned()
    else {
        return status::not_found(&cx.ty, &name);
    };
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) if ct == JSON_PATCH => return status::bad_request(&e.to_string()),
        Err(_) => return status::bad_request("Invalid JSON Patch"),
    };
    let mut patched = served(&cx.ty, &live, cx.rp.version);
    match ct.as_str() {
        MERGE_PATCH => {
            if !body.is_object() {
                return status::bad_request("Invalid JSON Patch");
            }
            patch::merge(&mut patched, &body);
        }
        JSON_PATCH => match patch::json_patch(&mut patched, &body) {
            Ok(()) => {}
            Err(patch::JsonPatchError::Decode(e)) => return status::bad_request(&e),
            Err(patch::JsonPatchError::Apply(_)) => return status::patch_not_applicable(),
        },
        _ => {
            if let Err(e) = patch::strategic(cx.state.store.schema(cx.t), &mut patched, &body) {
                return match e {
                    patch::SmpError::BadRequest(m) => status::bad_request(&m),
                    patch::SmpError::Internal(m) => status::failure(500, "", &m, None),
                };
            }
        }
    }
    if !patched.is_object() {
        return status::bad_request("the patched object is not a JSON object");
    }
    if let Err(r) = check_identity(&cx.ty, cx.rp, &mut patched, &name) {
        return r;
    }
    let manager = manager_of(&opts, req);
    commit(cx, &live, patched, &manager)
}

/// Preconditions a request body may carry: its uid and resourceVersion must be the stored ones.
fn preconditions(cx: &Cx, live: &Value, candidate: &Value) -> Result<(), Response> {
    if let Some(uid) = meta_str(candidate, "uid")
        && Some(uid) != meta_str(live, "uid")
    {
        return Err(status::conflict(
            &cx.ty,
            cx.name(),
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(live, "uid").unwrap_or_default()
            ),
        ));
    }
    if let Some(rv) = meta_str(candidate, "resourceVersion")
        && Some(rv) != meta_str(live, "resourceVersion")
    {
        return Err(status::conflict(&cx.ty, cx.name(), status::MODIFIED));
    }
    Ok(())
}

/// What the endpoint lets a write change: the status subresource takes only the status; the
/// main resource of a type with a status subresource keeps the stored status. System metadata
/// always comes from the stored object.
fn reset(cx: &Cx, live: &Value, candidate: Value) -> Value {
    let mut new = if cx.status {
        let mut n = live.clone();
        match candidate.get("status") {
            Some(s) => n["status"] = s.clone(),
            None => {
                if let Some(m) = n.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        n
    } else {
        let mut n = candidate;
        if cx.has_status_subresource()
            && let Some(m) = n.as_object_mut()
        {
            match live.get("status") {
                Some(s) => {
                    m.insert("status".into(), s.clone());
                }
                None => {
                    m.remove("status");
                }
            }
        }
        n
    };
    new["apiVersion"] = live["apiVersion"].clone();
    new["kind"] = live["kind"].clone();
    if !new["metadata"].is_object() {
        new["metadata"] = json!({});
    }
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "generation",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "resourceVersion",
    ] {
        match live["metadata"].get(f) {
            Some(v) => new["metadata"][f] = v.clone(),
            None => {
                if let Some(m) = new["metadata"].as_object_mut() {
                    m.remove(f);
                }
            }
        }
    }
    new
}

/// Once an object is being deleted, finalizers can only go.
fn finalizer_errors(live: &Value, new: &Value) -> Vec<FieldError> {
    if !deleting(live) {
        return Vec::new();
    }
    let old = finalizers(live);
    let added: Vec<String> = finalizers(new)
        .into_iter()
        .filter(|f| !old.contains(f))
        .collect();
    if added.is_empty() {
        return Vec::new();
    }
    let list: Vec<&str> = added.iter().map(String::as_str).collect();
    vec![FieldError::new(
        "FieldValueForbidden",
        "metadata.finalizers",
        format!(
            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {}",
            go_strings(&list)
        ),
    )]
}

/// An update (PUT or a non-apply patch): preconditions, endpoint resets, managedFields, then
/// [`finish`].
fn commit(cx: &mut Cx, live: &Value, candidate: Value, manager: &str) -> Response {
    if let Err(r) = preconditions(cx, live, &candidate) {
        return r;
    }
    // Managed fields sent with an update replace the stored ones (that is how they are edited
    // or cleared); a subresource write, or a body without any, keeps the stored ones.
    let sent = candidate.pointer("/metadata/managedFields").cloned();
    let mut new = reset(cx, live, candidate);
    let errs = finalizer_errors(live, &new);
    if !errs.is_empty() {
        return status::invalid(&cx.ty, cx.name(), &errs);
    }
    let stored_entries = managed_fields::decode(live).unwrap_or_default();
    let (base, cleared) = match sent {
        Some(Value::Array(list)) if !cx.status && !list.is_empty() => {
            if list
                .iter()
                .all(|e| e.as_object().is_some_and(Map::is_empty))
            {
                (Vec::new(), true)
            } else {
                match managed_fields::decode(&json!({"metadata": {"managedFields": list}})) {
                    Ok(entries) => (entries, false),
                    Err(e) => {
                        return status::invalid(&cx.ty, cx.name(), &[managed_fields_error(e)]);
                    }
                }
            }
        }
        _ => (stored_entries, false),
    };
    let mut old = live.clone();
    for o in [&mut old, &mut new] {
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    }
    if !cleared {
        let entries = managed_fields::update(
            cx.state.store.schema(cx.t),
            &old,
            &new,
            base,
            &cx.writer(manager),
        );
        set_managed_fields(&mut new, &managed_fields::encode(&entries));
    }
    finish(cx, live, new)
}

/// The common end of an update or apply: generation, no-op detection, dry run, deletion once
/// the last finalizer is gone, storing.
fn finish(cx: &mut Cx, live: &Value, mut new: Value) -> Response {
    if store::tracks_generation(&cx.ty) && spec_of(&cx.ty, live) != spec_of(&cx.ty, &new) {
        let g = live["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(g);
    }
    if new == *live {
        // Nothing changed: nothing is written and the resourceVersion stays.
        return respond(200, &served(&cx.ty, live, cx.rp.version));
    }
    if cx.dry_run {
        return respond(200, &served(&cx.ty, &new, cx.rp.version));
    }
    let key = cx.key();
    let stored = persist(cx.shared, cx.state, cx.t, &key, Some(live), new);
    respond(200, &served(&cx.ty, &stored, cx.rp.version))
}

// ---- server-side apply ---------------------------------------------------------------------

fn apply_patch(cx: &mut Cx, req: &Request, opts: &Options) -> Response {
    let mut config = match serde_norway::from_slice::<Value>(&req.body) {
        Ok(v) if v.is_object() => v,
        Ok(_) => {
            return status::bad_request(
                "error decoding YAML: the apply configuration is not an object",
            );
        }
        Err(e) => return status::bad_request(&format!("error decoding YAML: {e}")),
    };
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return status::bad_request("metadata.managedFields must be nil");
    }
    let name = cx.name().to_string();
    if let Err(r) = check_identity(&cx.ty, cx.rp, &mut config, &name) {
        return r;
    }
    drop_nulls(&mut config);
    let manager = opts.field_manager.clone().unwrap_or_default();
    let schema = cx.state.store.schema(cx.t).clone();
    let live = cx
        .state
        .store
        .get(cx.t, cx.key().namespace(), &name)
        .cloned();
    // What this endpoint lets the configuration set.
    let effective = if cx.status {
        json!({
            "apiVersion": config["apiVersion"],
            "kind": config["kind"],
            "metadata": {"name": name, "namespace": config["metadata"]["namespace"]},
            "status": config.get("status").cloned().unwrap_or(json!({})),
        })
    } else {
        let mut c = config.clone();
        if cx.has_status_subresource()
            && let Some(m) = c.as_object_mut()
        {
            m.remove("status");
        }
        c
    };
    let mut effective = effective;
    drop_nulls(&mut effective);
    let Some(live) = live else {
        if cx.status {
            return status::not_found(&cx.ty, &name);
        }
        let errs = name_errors(&cx.ty, &name);
        if !errs.is_empty() {
            return status::invalid(&cx.ty, &name, &errs);
        }
        if let Err(r) = namespace_accepts(cx, &name) {
            return r;
        }
        if let Some(m) = effective["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let applied = match managed_fields::apply(
            &schema,
            None,
            &effective,
            Vec::new(),
            &cx.writer(&manager),
            opts.force,
        ) {
            Ok(a) => a,
            Err(conflicts) => return apply_conflict(&conflicts),
        };
        let mut obj = prepare_new(cx, applied.object);
        set_managed_fields(&mut obj, &managed_fields::encode(&applied.entries));
        return finish_create(cx, obj);
    };
    if let Err(r) = preconditions(cx, &live, &config) {
        return r;
    }
    let entries = managed_fields::decode(&live).unwrap_or_default();
    let mut old = live.clone();
    if let Some(m) = old["metadata"].as_object_mut() {
        m.remove("managedFields");
    }
    if let Some(m) = effective["metadata"].as_object_mut() {
        // System metadata is the stored object's, whatever the configuration says.
        for k in ["resourceVersion", "uid", "creationTimestamp", "generation"] {
            m.remove(k);
        }
    }
    let applied = match managed_fields::apply(
        &schema,
        Some(&old),
        &effective,
        entries,
        &cx.writer(&manager),
        opts.force,
    ) {
        Ok(a) => a,
        Err(conflicts) => return apply_conflict(&conflicts),
    };
    let mut new = reset(cx, &live, applied.object);
    let errs = finalizer_errors(&live, &new);
    if !errs.is_empty() {
        return status::invalid(&cx.ty, &name, &errs);
    }
    set_managed_fields(&mut new, &managed_fields::encode(&applied.entries));
    finish(cx, &live, new)
}

fn apply_conflict(conflicts: &[managed_fields::Conflict]) -> Response {
    let pairs: Vec<(String, String)> = conflicts
        .iter()
        .map(|c| (c.manager.clone(), c.field.clone()))
        .collect();
    status::apply_conflict(&managed_fields::conflict_message(conflicts), &pairs)
}

// ---- delete --------------------------------------------------------------------------------

/// How dependents go when their owner is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// DeleteOptions from the body (JSON, as clients send them) and the query.
struct DeleteOptions {
    dry_run: bool,
    propagation: Propagation,
    uid: Option<String>,
    resource_version: Option<String>,
    orphan_dependents: Option<bool>,
}

fn delete_options(req: &Request) -> Result<DeleteOptions, Response> {
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Err(status::bad_request(
                    "the body of a DELETE is not DeleteOptions",
                ));
            }
            Err(e) => return Err(status::bad_request(&e.to_string())),
        }
    };
    let mut dry: Vec<String> = body["dryRun"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    dry.extend(
        req.query
            .iter()
            .filter(|(k, _)| k == "dryRun")
            .map(|(_, v)| v.clone()),
    );
    let policy = body["propagationPolicy"]
        .as_str()
        .map(str::to_string)
        .or_else(|| req.param("propagationPolicy").map(str::to_string));
    let orphan = body["orphanDependents"]
        .as_bool()
        .or_else(|| req.param("orphanDependents").map(|v| v == "true"));
    let mut errs = Vec::new();
    if orphan.is_some() && policy.is_some() {
        errs.push(FieldError::new(
            "FieldValueInvalid",
            "propagationPolicy",
            format!(
                "Invalid value: {:?}: orphanDependents and deletionPropagation cannot be both set",
                policy.clone().unwrap_or_default()
            ),
        ));
    }
    let propagation = match policy.as_deref() {
        None if orphan == Some(true) => Propagation::Orphan,
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            errs.push(FieldError::new(
                "FieldValueNotSupported",
                "propagationPolicy",
                format!(
                    "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            ));
            Propagation::Background
        }
    };
    let dry_refs: Vec<&str> = dry.iter().map(String::as_str).collect();
    errs.extend(dry_run_errors(&dry_refs));
    if !errs.is_empty() {
        return Err(status::invalid_fields(
            "meta.k8s.io",
            "DeleteOptions",
            "",
            &errs,
        ));
    }
    let pre = |k: &str| {
        body["preconditions"][k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(DeleteOptions {
        dry_run: !dry.is_empty(),
        propagation,
        uid: pre("uid"),
        resource_version: pre("resourceVersion"),
        orphan_dependents: orphan,
    })
}

fn delete(cx: &mut Cx, req: &Request) -> Response {
    let opts = match delete_options(req) {
        Ok(o) => o,
        Err(r) => return r,
    };
    cx.dry_run = opts.dry_run;
    let name = cx.name().to_string();
    let key = cx.key();
    let Some(live) = cx.state.store.get(cx.t, key.namespace(), &name).cloned() else {
        return status::not_found(&cx.ty, &name);
    };
    if let Some(uid) = &opts.uid
        && Some(uid.as_str()) != meta_str(&live, "uid")
    {
        return status::conflict(
            &cx.ty,
            &name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(&live, "uid").unwrap_or_default()
            ),
        );
    }
    if let Some(rv) = &opts.resource_version
        && Some(rv.as_str()) != meta_str(&live, "resourceVersion")
    {
        return status::conflict(
            &cx.ty,
            &name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(&live, "resourceVersion").unwrap_or_default()
            ),
        );
    }
    // 202 when the object stays and the client asked for dependents to be deleted (the API
    // server's historical rule), else 200.
    let pending_code = if opts.orphan_dependents == Some(false) {
        202
    } else {
        200
    };
    let is_namespace = cx.ty.group.is_empty() && cx.ty.kind == "Namespace";
    if deleting(&live) {
        return respond(pending_code, &served(&cx.ty, &live, cx.rp.version));
    }
    if is_namespace || !finalizers(&live).is_empty() {
        let marked = mark_deleting(&live, &cx.now, is_namespace);
        if cx.dry_run {
            return respond(pending_code, &served(&cx.ty, &marked, cx.rp.version));
        }
        let stored = persist(cx.shared, cx.state, cx.t, &key, Some(&live), marked);
        // Foreground deletes the dependents before the owner, Orphan releases them before it;
        // Background waits until the owner is gone.
        if opts.propagation != Propagation::Background {
            collect_dependents(cx.shared, cx.state, &stored, opts.propagation, &cx.now);
        }
        if is_namespace {
            empty_namespace(cx.shared, cx.state, &name, &cx.now);
        }
        let current = cx.state.store.get(cx.t, key.namespace(), &name).cloned();
        return respond(
            pending_code,
            &served(&cx.ty, current.as_ref().unwrap_or(&stored), cx.rp.version),
        );
    }
    let removed = if cx.dry_run {
        live.clone()
    } else {
        match remove_object(cx.shared, cx.state, cx.t, &key, opts.propagation, &cx.now) {
            Some(r) => r,
            None => return status::not_found(&cx.ty, &name),
        }
    };
    if cx.ty.group.is_empty() && cx.ty.kind == "Pod" {
        // Pods are deleted gracefully: the API server answers with the pod being deleted.
        let shown = mark_deleting(&removed, &cx.now, false);
        return respond(200, &served(&cx.ty, &shown, cx.rp.version));
    }
    let mut d = status::details(&cx.ty, Some(&name));
    d.uid = meta_str(&live, "uid").map(str::to_string);
    status::success(d)
}

/// An object whose deletion waits for its finalizers: `deletionTimestamp` now, no grace period,
/// and a generation bump (the registry's `markAsDeleting`). A namespace also turns Terminating.
fn mark_deleting(live: &Value, now: &str, namespace: bool) -> Value {
    let mut o = live.clone();
    o["metadata"]["deletionTimestamp"] = json!(now);
    o["metadata"]["deletionGracePeriodSeconds"] = json!(0);
    if let Some(g) = o["metadata"]["generation"].as_i64()
        && g > 0
    {
        o["metadata"]["generation"] = json!(g + 1);
    }
    if namespace {
        o["status"]["phase"] = json!("Terminating");
    }
    o
}

// ---- storing, and what follows a removal ---------------------------------------------------

/// Store a new version of an existing object, tell the controller, wake waiters. An object
/// being deleted whose last finalizer just went is removed instead.
fn persist(
    shared: &Shared,
    state: &mut State,
    t: usize,
    key: &Key,
    before: Option<&Value>,
    new: Value,
) -> Value {
    if deleting(&new) && finalizers(&new).is_empty() && !is_namespace_type(state, t) {
        let stored = state.store.put(t, key, new);
        let removed = remove_object(
            shared,
            state,
            t,
            key,
            Propagation::Background,
            &clock::format_rfc3339(clock::now_unix()),
        );
        return removed.unwrap_or(stored);
    }
    let stored = state.store.put(t, key, new);
    controller::observe(shared, state, t, key, before, Some(&stored));
    shared.changed.notify_all();
    stored
}

fn persist_new(shared: &Shared, state: &mut State, t: usize, obj: Value) -> Value {
    let stored = state.store.insert(t, obj);
    let key = Key::of(&stored);
    controller::observe(shared, state, t, &key, None, Some(&stored));
    shared.changed.notify_all();
    stored
}

fn is_namespace_type(state: &State, t: usize) -> bool {
    let ty = &state.store.registry.types[t];
    ty.group.is_empty() && ty.kind == "Namespace"
}

/// Remove an object for good, then collect its dependents and finish a terminating namespace
/// it was the last object of.
fn remove_object(
    shared: &Shared,
    state: &mut State,
    t: usize,
    key: &Key,
    propagation: Propagation,
    now: &str,
) -> Option<Value> {
    let removed = state.store.remove(t, key)?;
    controller::observe(shared, state, t, key, None, None);
    shared.changed.notify_all();
    collect_dependents(shared, state, &removed, propagation, now);
    if !key.namespace().is_empty() {
        finish_namespace(shared, state, key.namespace());
    }
    Some(removed)
}

/// The garbage collector, done at once: dependents of `owner` go (those with finalizers start
/// deleting) unless another owner of theirs still exists; with `Orphan` they only lose the
/// owner reference.
fn collect_dependents(
    shared: &Shared,
    state: &mut State,
    owner: &Value,
    propagation: Propagation,
    now: &str,
) {
    let Some(uid) = meta_str(owner, "uid").map(str::to_string) else {
        return;
    };
    let mut dependents = Vec::new();
    for t in 0..state.store.registry.types.len() {
        for (key, obj) in state.store.objects(t) {
            let refs = obj
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array);
            if refs.is_some_and(|r| r.iter().any(|o| o["uid"] == uid.as_str())) {
                dependents.push((t, key.clone()));
            }
        }
    }
    for (t, key) in dependents {
        let Some(dep) = state.store.get(t, key.namespace(), key.name()).cloned() else {
            continue;
        };
        if propagation == Propagation::Orphan {
            let mut new = dep.clone();
            if let Some(refs) = new["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|o| o["uid"] != uid.as_str());
            }
            persist(shared, state, t, &key, Some(&dep), new);
            continue;
        }
        let other_owner_alive = dep["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["uid"].as_str())
            .filter(|u| *u != uid)
            .any(|u| uid_exists(state, u));
        if other_owner_alive || deleting(&dep) {
            continue;
        }
        if finalizers(&dep).is_empty() {
            remove_object(shared, state, t, &key, Propagation::Background, now);
        } else {
            let marked = mark_deleting(&dep, now, false);
            persist(shared, state, t, &key, Some(&dep), marked);
        }
    }
}

fn uid_exists(state: &State, uid: &str) -> bool {
    (0..state.store.registry.types.len()).any(|t| {
        state
            .store
            .objects(t)
            .any(|(_, o)| o["metadata"]["uid"] == uid)
    })
}

/// Delete everything in a namespace that is being deleted (the namespace controller's work).
fn empty_namespace(shared: &Shared, state: &mut State, ns: &str, now: &str) {
    for t in 0..state.store.registry.types.len() {
        if !state.store.registry.types[t].namespaced {
            continue;
        }
        let keys: Vec<Key> = state
            .store
            .objects(t)
            .filter(|(k, _)| k.namespace() == ns)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let Some(obj) = state.store.get(t, key.namespace(), key.name()).cloned() else {
                continue;
            };
            if deleting(&obj) {
                continue;
            }
            if finalizers(&obj).is_empty() {
                remove_object(shared, state, t, &key, Propagation::Background, now);
            } else {
                let marked = mark_deleting(&obj, now, false);
                persist(shared, state, t, &key, Some(&obj), marked);
            }
        }
    }
    finish_namespace(shared, state, ns);
}

/// A terminating namespace with nothing left in it is removed.
fn finish_namespace(shared: &Shared, state: &mut State, ns: &str) {
    let Some(nt) = state.store.registry.by_kind("", "Namespace") else {
        return;
    };
    if !state.store.get(nt, "", ns).is_some_and(deleting) {
        return;
    }
    let empty = (0..state.store.registry.types.len()).all(|t| {
        !state.store.registry.types[t].namespaced
            || !state.store.objects(t).any(|(k, _)| k.namespace() == ns)
    });
    if empty {
        state.store.remove(nt, &Key::new("", ns));
        shared.changed.notify_all();
    }
}

// ---- writes by the simulated controller ----------------------------------------------------

/// Write `new` over the stored object at `key` as `manager` (an `Update` through the main
/// resource or the status subresource), with the same bookkeeping as an API write. Returns the
/// stored object, or `None` when it is gone or nothing changed.
pub fn update_internal(
    shared: &Shared,
    state: &mut State,
    t: usize,
    key: &Key,
    new: Value,
    manager: &str,
    subresource: &str,
) -> Option<Value> {
    let live = state.store.get(t, key.namespace(), key.name())?.clone();
    let ty = state.store.registry.types[t].clone();
    let mut old = live.clone();
    let mut new = new;
    for o in [&mut old, &mut new] {
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
    }
    let now = clock::format_rfc3339(clock::now_unix());
    let api_version = live["apiVersion"].as_str().unwrap_or_default().to_string();
    let w = Writer {
        manager,
        api_version: &api_version,
        subresource,
        now: &now,
    };
    let entries = managed_fields::update(
        state.store.schema(t),
        &old,
        &new,
        managed_fields::decode(&live).unwrap_or_default(),
        &w,
    );
    set_managed_fields(&mut new, &managed_fields::encode(&entries));
    if store::tracks_generation(&ty) && spec_of(&ty, &live) != spec_of(&ty, &new) {
        let g = live["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(g);
    }
    if new == live {
        return None;
    }
    Some(persist(shared, state, t, key, Some(&live), new))
}

/// Create `obj` (complete, in an existing namespace) as `manager`; returns it as stored.
pub fn create_internal(
    shared: &Shared,
    state: &mut State,
    t: usize,
    mut obj: Value,
    manager: &str,
) -> Value {
    let ty = state.store.registry.types[t].clone();
    let now = clock::format_rfc3339(clock::now_unix());
    let seed = format!(
        "{}/{}/{}/{}",
        ty.group,
        ty.kind,
        meta_str(&obj, "namespace").unwrap_or_default(),
        meta_str(&obj, "name").unwrap_or_default()
    );
    obj["metadata"]["uid"] = json!(state.store.fresh_uid(&seed));
    obj["metadata"]["creationTimestamp"] = json!(now);
    let api_version = obj["apiVersion"].as_str().unwrap_or_default().to_string();
    let w = Writer {
        manager,
        api_version: &api_version,
        subresource: "",
        now: &now,
    };
    let entries = managed_fields::update(
        state.store.schema(t),
        &managed_fields::creation_base(&ty, &obj),
        &obj,
        Vec::new(),
        &w,
    );
    set_managed_fields(&mut obj, &managed_fields::encode(&entries));
    persist_new(shared, state, t, obj)
}

#[cfg(test)]
mod tests {
    // The bench target compiles this module with cfg(test) but without the test harness, which
    // drops the #[test] functions and leaves their imports and helpers unused there.
    #![allow(unused_imports, dead_code)]

    use super::*;

    #[test]
    fn generated_names_use_the_api_servers_alphabet() {
        let n = generated_name("web-", 42);
        assert_eq!(n.len(), 9);
        assert!(
            n[4..]
                .bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
        assert_ne!(n, generated_name("web-", 43));
    }

    #[test]
    fn dry_run_values_other_than_all_are_refused_like_the_api_server() {
        assert!(dry_run_errors(&["All"]).is_empty());
        assert_eq!(
            dry_run_errors(&["Everything"])[0].body,
            "Unsupported value: []string{\"Everything\"}: supported values: \"All\""
        );
    }
}
