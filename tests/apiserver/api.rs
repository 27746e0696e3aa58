//! One request in, one answer out: fault injection, authentication (client certificate, bearer
//! token, basic), impersonation, authorization (deny rules), routing, content negotiation
//! (JSON, Table, PartialObjectMetadata, aggregated discovery), and the verbs: discovery, get,
//! list with selectors and paging, pod logs; writes are handed to `writes.rs`.

use base64::Engine as _;
use flux_operator_mcp::kube::paging::{PageError, Pager, Versions};
use flux_operator_mcp::kube::selector::Selectors;
use serde_json::{Value, json};

use super::http::{Cut, Request, Response};
use super::resources::ResourceType;
use super::store::{Key, Store};
use super::table::{self, IncludeObject};
use super::{Auth, FaultKind, Shared, User, clock, status, writes};

/// What the connection loop does with the request.
pub enum Reply {
    Respond(Response, Cut),
    /// Reset the connection without answering.
    Reset,
    /// Write these bytes in place of an HTTP response, then close.
    Garbage(&'static [u8]),
    /// A 200 JSON List of this many bytes, streamed (see `http::write_oversize`), then close.
    Oversize(u64),
}

/// What a non-HTTP service says when an HTTP client talks to it (an SSH banner, then junk).
const NOT_HTTP: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n\x00\x00\x01\x14\x0a\x14\xde\xad\xbe\xef";

/// A single sign-on gateway's login page, answered 200 to an API request.
const LOGIN_PAGE: &[u8] = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><form method=\"post\" action=\"/login\"><input name=\"username\"><input name=\"password\" type=\"password\"></form></body></html>\n";

pub struct Outcome {
    pub reply: Reply,
    /// The authenticated user, for the request log.
    pub user: Option<String>,
}

fn respond(resp: Response, user: Option<&User>) -> Outcome {
    Outcome {
        reply: Reply::Respond(resp, Cut::None),
        user: user.map(|u| u.name.clone()),
    }
}

fn take_fault(shared: &Shared, path: &str) -> Option<FaultKind> {
    let mut state = shared.lock();
    let fault = state
        .faults
        .iter_mut()
        .find(|f| f.times > 0 && path.contains(&f.path_contains))?;
    if fault.times != usize::MAX {
        fault.times -= 1;
    }
    Some(fault.kind.clone())
}

/// The union authenticator: a valid client certificate or a valid token (or basic password)
/// authenticates; an invalid credential alone does not.
fn authenticate(shared: &Shared, req: &Request, cert_user: Option<&User>) -> Option<User> {
    let mode = shared.options.auth;
    let mut user = None;
    if let Some(value) = req.header("authorization") {
        if let Some(token) = value.strip_prefix("Bearer ") {
            if mode != Auth::ClientCert {
                user = shared.lock().tokens.get(token.trim()).cloned();
            }
        } else if let Some(encoded) = value.strip_prefix("Basic ")
            && let Some((want_user, want_password)) = &shared.options.basic_auth
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim())
            && let Ok(text) = String::from_utf8(decoded)
            && text.split_once(':') == Some((want_user.as_str(), want_password.as_str()))
        {
            user = Some(User {
                name: want_user.clone(),
                groups: Vec::new(),
            });
        }
    }
    if user.is_none() && mode != Auth::Token {
        user = cert_user.cloned();
    }
    user.map(|mut u| {
        if !u.groups.iter().any(|g| g == "system:authenticated") {
            u.groups.push("system:authenticated".into());
        }
        u
    })
}

fn denied(
    shared: &Shared,
    user: &User,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
) -> bool {
    let any = |rule: &str, value: &str| rule.is_empty() || rule == "*" || rule == value;
    shared.options.deny.iter().any(|d| {
        any(&d.verb, verb)
            && (d.group == "*" || d.group == group)
            && any(&d.resource, resource)
            && d.namespace
                .as_deref()
                .is_none_or(|ns| Some(ns) == namespace)
            && d.user.as_deref().is_none_or(|u| u == user.name)
    })
}

/// `Impersonate-User`, `-Group`, `-Uid` (k8s.io/apiserver/pkg/endpoints/filters/impersonation.go):
/// the impersonator needs the `impersonate` verb on each; the request then runs as the target.
fn impersonate(shared: &Shared, req: &Request, user: User) -> Result<User, Response> {
    let groups: Vec<String> = req
        .header_values("impersonate-group")
        .map(str::to_string)
        .collect();
    let Some(target) = req.header("impersonate-user") else {
        if !groups.is_empty() || req.header("impersonate-uid").is_some() {
            return Err(status::failure(
                500,
                "InternalError",
                "Internal error occurred: requested [{Kind:Group}] without impersonating a user",
                None,
            ));
        }
        return Ok(user);
    };
    let (resource, namespace) = match target.strip_prefix("system:serviceaccount:") {
        Some(rest) => ("serviceaccounts", rest.split(':').next()),
        None => ("users", None),
    };
    if denied(shared, &user, "impersonate", "", resource, namespace) {
        return Err(status::impersonation_forbidden(
            &user.name, resource, target,
        ));
    }
    for g in &groups {
        if denied(shared, &user, "impersonate", "", "groups", None) {
            return Err(status::impersonation_forbidden(&user.name, "groups", g));
        }
    }
    let mut all_groups = groups;
    if let Some(ns) = namespace {
        all_groups.push("system:serviceaccounts".into());
        all_groups.push(format!("system:serviceaccounts:{ns}"));
    }
    all_groups.push("system:authenticated".into());
    Ok(User {
        name: target.to_string(),
        groups: all_groups,
    })
}

/// Serve one request.
pub fn handle(shared: &Shared, req: &Request, cert_user: Option<&User>) -> Outcome {
    let mut cut = Cut::None;
    match take_fault(shared, &req.path) {
        None => {}
        Some(FaultKind::Delay(d)) => std::thread::sleep(d),
        Some(FaultKind::Status(code)) => return respond(status::for_code(code), None),
        Some(FaultKind::TooManyRequests { retry_after_secs }) => {
            return respond(status::too_many_requests(retry_after_secs), None);
        }
        Some(FaultKind::ServiceUnavailable { retry_after }) => {
            return respond(status::service_unavailable(retry_after), None);
        }
        Some(FaultKind::TruncatedBody) => cut = Cut::Half,
        Some(FaultKind::ConnectionReset) => {
            return Outcome {
                reply: Reply::Reset,
                user: None,
            };
        }
        Some(FaultKind::NotHttp) => {
            return Outcome {
                reply: Reply::Garbage(NOT_HTTP),
                user: None,
            };
        }
        Some(FaultKind::NotJson) => {
            let mut page = Response::json(200, LOGIN_PAGE.to_vec());
            page.content_type = "text/html; charset=utf-8".into();
            return respond(page, None);
        }
        Some(FaultKind::Oversize { bytes }) => {
            return Outcome {
                reply: Reply::Oversize(bytes),
                user: None,
            };
        }
    }
    let mut outcome = serve(shared, req, cert_user);
    if let Reply::Respond(_, c) = &mut outcome.reply {
        *c = cut;
    }
    outcome
}

fn serve(shared: &Shared, req: &Request, cert_user: Option<&User>) -> Outcome {
    let path = req.path.trim_end_matches('/');
    // Public endpoints (system:public-info-viewer): no credentials needed.
    match path {
        "/version" => return respond(version(), None),
        "/healthz" | "/livez" | "/readyz" => {
            let mut r = Response::json(200, b"ok".to_vec());
            r.content_type = "text/plain; charset=utf-8".into();
            return respond(r, None);
        }
        _ => {}
    }
    let Some(authenticated) = authenticate(shared, req, cert_user) else {
        return respond(status::unauthorized(), None);
    };
    let recorded = Some(authenticated.name.clone());
    let user = match impersonate(shared, req, authenticated) {
        Ok(u) => u,
        Err(resp) => {
            return Outcome {
                reply: Reply::Respond(resp, Cut::None),
                user: recorded,
            };
        }
    };
    let resp = route(shared, req, path, &user);
    Outcome {
        reply: Reply::Respond(resp, Cut::None),
        user: recorded,
    }
}

fn version() -> Response {
    let body = json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.4",
        "gitCommit": "74cdb426c4a2d7ed9b4b81b5ac2f7a5e8d5b1b4c",
        "gitTreeState": "clean",
        "buildDate": "2026-08-13T08:21:11Z",
        "goVersion": "go1.24.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    });
    Response::json(200, body.to_string().into_bytes())
}

/// The response formats a request may get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Table,
    Partial,
    Aggregated,
}

/// The first media range in `Accept` we can serve among `allowed` (clients list preferred first).
fn negotiate(req: &Request, allowed: &[Format]) -> Option<Format> {
    let accept = req.header("accept").unwrap_or("").trim();
    if accept.is_empty() {
        return Some(Format::Json);
    }
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let mut params = std::collections::HashMap::new();
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                params.insert(k.trim(), v.trim());
            }
        }
        let format = match (media, params.get("as").copied()) {
            ("application/json", None) | ("*/*", None) | ("application/*", None) => Format::Json,
            ("application/json", Some("Table")) if params.get("g") == Some(&"meta.k8s.io") => {
                Format::Table
            }
            ("application/json", Some("PartialObjectMetadataList" | "PartialObjectMetadata"))
                if params.get("g") == Some(&"meta.k8s.io") =>
            {
                Format::Partial
            }
            ("application/json", Some("APIGroupDiscoveryList"))
                if params.get("g") == Some(&"apidiscovery.k8s.io")
                    && params.get("v") == Some(&"v2") =>
            {
                Format::Aggregated
            }
            _ => continue,
        };
        if allowed.contains(&format) {
            return Some(format);
        }
    }
    None
}

fn json_response(v: &Value) -> Response {
    Response::json(200, serde_json::to_vec(v).unwrap_or_default())
}

/// A parsed resource path.
pub struct ResourcePath<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub namespace: Option<&'a str>,
    pub plural: &'a str,
    pub name: Option<&'a str>,
    pub sub: Option<&'a str>,
}

impl ResourcePath<'_> {
    /// The store key of the object the path names.
    pub fn key(&self) -> Key {
        Key::new(
            self.namespace.unwrap_or_default(),
            self.name.unwrap_or_default(),
        )
    }
}

fn parse_resource_path<'a>(
    group: &'a str,
    version: &'a str,
    segs: &[&'a str],
) -> Option<ResourcePath<'a>> {
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let p = |namespace, plural, name, sub| {
        Some(ResourcePath {
            group,
            version,
            namespace,
            plural,
            name,
            sub,
        })
    };
    match segs {
        // Namespace subresources: /api/v1/namespaces/NAME/status|finalize.
        ["namespaces", name, sub @ ("status" | "finalize")] if group.is_empty() => {
            p(None, "namespaces", Some(*name), Some(*sub))
        }
        ["namespaces", ns, plural, rest @ ..] if rest.len() <= 2 => p(
            Some(*ns),
            *plural,
            rest.first().copied(),
            rest.get(1).copied(),
        ),
        [plural, rest @ ..] if rest.len() <= 2 => {
            p(None, *plural, rest.first().copied(), rest.get(1).copied())
        }
        _ => None,
    }
}

fn route(shared: &Shared, req: &Request, path: &str, user: &User) -> Response {
    if shared.options.metrics_unavailable
        && (path == "/apis/metrics.k8s.io" || path.starts_with("/apis/metrics.k8s.io/"))
    {
        // kube-aggregator's proxyError for an APIService without a ready backend: plain text.
        let mut r = Response::json(503, b"service unavailable\n".to_vec());
        r.content_type = "text/plain; charset=utf-8".into();
        return r;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let discovery = [Format::Json, Format::Aggregated];
    match segs.as_slice() {
        ["api"] => match negotiate(req, &discovery) {
            Some(Format::Aggregated) => aggregated(shared, true),
            Some(_) => json_response(
                &shared
                    .lock()
                    .store
                    .registry
                    .api_versions(&shared.server_address),
            ),
            None => status::not_acceptable(req.header("accept").unwrap_or("")),
        },
        ["apis"] => match negotiate(req, &discovery) {
            Some(Format::Aggregated) => aggregated(shared, false),
            Some(_) => json_response(&shared.lock().store.registry.api_group_list()),
            None => status::not_acceptable(req.header("accept").unwrap_or("")),
        },
        ["api", "v1"] => discovery_doc(shared.lock().store.registry.resource_list("", "v1")),
        ["apis", group] => discovery_doc(shared.lock().store.registry.api_group(group)),
        ["apis", group, version] => {
            discovery_doc(shared.lock().store.registry.resource_list(group, version))
        }
        ["api", "v1", rest @ ..] => match parse_resource_path("", "v1", rest) {
            Some(rp) => resource(shared, req, user, &rp),
            None => status::no_such_path(),
        },
        ["apis", group, version, rest @ ..] => match parse_resource_path(group, version, rest) {
            Some(rp) => resource(shared, req, user, &rp),
            None => status::no_such_path(),
        },
        _ => status::no_such_path(),
    }
}

fn discovery_doc(doc: Option<Value>) -> Response {
    match doc {
        Some(d) => json_response(&d),
        None => status::no_such_path(),
    }
}

fn aggregated(shared: &Shared, core: bool) -> Response {
    let mut doc = shared.lock().store.registry.aggregated(core);
    if shared.options.metrics_unavailable {
        // The API server keeps the last discovery it had of an unavailable APIService and
        // marks it stale (apidiscovery.k8s.io/v2 DiscoveryFreshness).
        for item in doc["items"].as_array_mut().into_iter().flatten() {
            if item["metadata"]["name"] == "metrics.k8s.io" {
                for v in item["versions"].as_array_mut().into_iter().flatten() {
                    v["freshness"] = json!("Stale");
                }
            }
        }
    }
    let mut r = json_response(&doc);
    r.content_type = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList".into();
    r
}

/// The RBAC verb of a request.
fn verb_of(req: &Request, has_name: bool) -> &'static str {
    match (req.method.as_str(), has_name) {
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) if req.param("watch").is_some_and(|w| w == "true" || w == "1") => {
            "watch"
        }
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

fn resource(shared: &Shared, req: &Request, user: &User, rp: &ResourcePath) -> Response {
    let mut state = shared.lock();
    let state = &mut *state;
    let store = &mut state.store;
    let Some(t) = store.registry.find(rp.group, rp.version, rp.plural) else {
        return status::no_such_path();
    };
    let ty = store.registry.types[t].clone();
    // A namespaced type needs a namespace to name one object; a cluster-scoped one never has one.
    if (!ty.namespaced && rp.namespace.is_some())
        || (ty.namespaced && rp.namespace.is_none() && rp.name.is_some())
    {
        return status::no_such_path();
    }
    if let Some(sub) = rp.sub
        && !ty.subresources.iter().any(|s| s == sub)
    {
        return status::no_such_path();
    }
    let verb = verb_of(req, rp.name.is_some());
    let resource = match rp.sub {
        Some(sub) => format!("{}/{sub}", ty.plural),
        None => ty.plural.clone(),
    };
    if denied(shared, user, verb, &ty.group, &resource, rp.namespace) {
        return status::forbidden(&user.name, verb, &ty, rp.sub, rp.name, rp.namespace);
    }
    let reads = [Format::Json, Format::Table, Format::Partial];
    match (verb, rp.sub) {
        ("get", Some("log")) => logs(
            store,
            t,
            rp.namespace.unwrap_or_default(),
            rp.name.unwrap_or_default(),
            req,
        ),
        ("get", _) => {
            let Some(format) = negotiate(req, &reads) else {
                return status::not_acceptable(req.header("accept").unwrap_or(""));
            };
            get(store, t, rp, req, format)
        }
        ("list", None) => {
            let Some(format) = negotiate(req, &reads) else {
                return status::not_acceptable(req.header("accept").unwrap_or(""));
            };
            list(store, t, rp, req, format, shared.options.max_page_size)
        }
        ("create" | "update" | "patch" | "delete", _) => {
            writes::handle(shared, state, t, rp, req, verb)
        }
        _ => status::method_not_allowed(),
    }
}

/// An object as served at `version`: CRD objects are converted by rewriting apiVersion (the
/// Flux CRDs use the None conversion strategy); typed list items carry no kind/apiVersion.
pub fn served(obj: &Value, t: &ResourceType, version: &str, list_item: bool) -> Value {
    let mut o = obj.clone();
    if list_item && t.builtin {
        if let Some(m) = o.as_object_mut() {
            m.remove("kind");
            m.remove("apiVersion");
        }
    } else {
        o["apiVersion"] = json!(t.api_version(version));
        o["kind"] = json!(t.kind);
    }
    o
}

/// A stored object serialized as a list item at the served version, without copying it.
struct AsServed<'a> {
    obj: &'a Value,
    api_version: &'a str,
    /// Typed list items carry no kind/apiVersion.
    strip: bool,
}

impl serde::Serialize for AsServed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(fields) = self.obj.as_object() else {
            return self.obj.serialize(s);
        };
        let mut map = s.serialize_map(None)?;
        for (k, v) in fields {
            match k.as_str() {
                "apiVersion" | "kind" if self.strip => {}
                "apiVersion" => map.serialize_entry(k, self.api_version)?,
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

fn include_object(req: &Request) -> Result<IncludeObject, Response> {
    IncludeObject::parse(req.param("includeObject")).map_err(|e| status::bad_request(&e))
}

fn table_response(mut table: Value, list_meta: Value) -> Response {
    table["metadata"] = list_meta;
    let mut r = json_response(&table);
    r.content_type = "application/json;as=Table;v=v1;g=meta.k8s.io".into();
    r
}

fn get(store: &Store, t: usize, rp: &ResourcePath, req: &Request, format: Format) -> Response {
    let ty = &store.registry.types[t];
    let name = rp.name.unwrap_or_default();
    let Some(obj) = store.get(t, rp.namespace.unwrap_or_default(), name) else {
        return status::not_found(ty, name);
    };
    let obj = served(obj, ty, rp.version, false);
    match format {
        Format::Table => match include_object(req) {
            Ok(include) => table_response(
                table::table(ty, rp.version, &[&obj], include),
                json!({"resourceVersion": obj["metadata"]["resourceVersion"]}),
            ),
            Err(r) => r,
        },
        Format::Partial => {
            let mut r = json_response(&json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }));
            r.content_type = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io".into();
            r
        }
        _ => json_response(&obj),
    }
}

fn list(
    store: &Store,
    t: usize,
    rp: &ResourcePath,
    req: &Request,
    format: Format,
    max_page: Option<usize>,
) -> Response {
    let ty = &store.registry.types[t];
    // One implementation of the API server's list semantics, shared with the product.
    let selectors = match Selectors::parse(
        req.param("labelSelector").unwrap_or(""),
        req.param("fieldSelector").unwrap_or(""),
        &ty.field_labels,
    ) {
        Ok(s) => s,
        Err(e) => return status::bad_request(&e.to_string()),
    };
    let limit = match req.param("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => usize::try_from(n).ok(),
            Ok(_) => None,
            Err(_) => {
                return status::bad_request(&format!(
                    "limit: Invalid value: {l:?}: must be an integer"
                ));
            }
        },
    };
    let limit = match (limit, max_page) {
        (Some(l), Some(m)) => Some(l.min(m)),
        (l, None) => l,
        // A cap applies only to paged requests, as the API server never pages unasked.
        (None, Some(_)) => None,
    };
    let continue_token = req.param("continue").filter(|c| !c.is_empty());
    if continue_token.is_some()
        && req
            .param("resourceVersion")
            .is_some_and(|rv| !rv.is_empty() && rv != "0")
    {
        return status::bad_request(
            "specifying resource version is not allowed when using continue",
        );
    }
    // Writes never keep old versions here, so any earlier token goes on over the current
    // objects (a real server would serve its snapshot); only a version never reached expires.
    let versions = Versions {
        current: store.resource_version(),
        compacted: 0,
    };
    let namespace = rp.namespace.filter(|_| ty.namespaced);
    let pager = match Pager::new(namespace, limit, continue_token, versions) {
        Ok(p) => p,
        Err(e) => {
            return match &e {
                PageError::Expired { continue_token } => {
                    status::expired_continue(&e.to_string(), continue_token)
                }
                PageError::InvalidToken { .. } => status::bad_request(&e.to_string()),
            };
        }
    };
    // Borrowed, not cloned: a 10 000-item list is written straight from the store.
    let page = pager.page(
        store.range_from(t, pager.start()),
        |o| selectors.matches(o),
        selectors.is_empty(),
    );
    let mut meta = json!({"resourceVersion": page.resource_version.to_string()});
    if let Some(token) = &page.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(n) = page.remaining_item_count {
        meta["remainingItemCount"] = json!(n);
    }
    let items = page.items;
    match format {
        Format::Table => match include_object(req) {
            Ok(include) => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|o| served(o, ty, rp.version, false))
                    .collect();
                let refs: Vec<&Value> = items.iter().collect();
                table_response(table::table(ty, rp.version, &refs, include), meta)
            }
            Err(r) => r,
        },
        Format::Partial => {
            let items: Vec<Value> = items
                .iter()
                .map(|o| json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}))
                .collect();
            let mut r = json_response(&json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": items,
            }));
            r.content_type =
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io".into();
            r
        }
        _ => {
            // The envelope in the API server's field order, items written one by one.
            let api_version = ty.api_version(rp.version);
            let mut body = Vec::with_capacity(items.len() * 2048 + 256);
            body.extend_from_slice(
                format!(
                    r#"{{"kind":{},"apiVersion":{},"metadata":{meta},"items":["#,
                    json!(ty.list_kind),
                    json!(ty.api_version(rp.version))
                )
                .as_bytes(),
            );
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                let _ = serde_json::to_writer(
                    &mut body,
                    &AsServed {
                        obj: item,
                        api_version: &api_version,
                        strip: ty.builtin,
                    },
                );
            }
            body.extend_from_slice(b"]}");
            Response::json(200, body)
        }
    }
}

/// `GET .../pods/NAME/log`: container (required when the pod has several), tailLines,
/// limitBytes, previous, timestamps, sinceSeconds, sinceTime; `text/plain` like the kubelet.
fn logs(store: &Store, t: usize, namespace: &str, name: &str, req: &Request) -> Response {
    let ty = &store.registry.types[t];
    let Some(pod) = store.get(t, namespace, name) else {
        return status::not_found(ty, name);
    };
    let names = |field: &str| -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect()
    };
    let (containers, init, ephemeral) = (
        names("containers"),
        names("initContainers"),
        names("ephemeralContainers"),
    );
    let container = match req.param("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            // The API server's wording (pkg/registry/core/pod: validateContainer).
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !init.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                msg.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            return status::bad_request(&msg);
        }
    };
    if ![&containers, &init, &ephemeral]
        .iter()
        .any(|list| list.contains(&container))
    {
        return status::bad_request(&format!(
            "container {container} is not valid for pod {name}"
        ));
    }
    let flag = |p: &str| req.param(p).is_some_and(|v| v == "true" || v == "1");
    let previous = flag("previous");
    let text: &[u8] = match store.logs.get(namespace, name, &container, previous) {
        Some(t) => t,
        None if previous => {
            return status::bad_request(&format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            ));
        }
        None => b"",
    };
    let int_param = |p: &str| -> Result<Option<i64>, Response> {
        match req.param(p).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                status::bad_request(&format!("{p}: Invalid value: {v:?}: must be an integer"))
            }),
        }
    };
    let (tail, limit_bytes, since_seconds) = match (
        int_param("tailLines"),
        int_param("limitBytes"),
        int_param("sinceSeconds"),
    ) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    for (p, v, min) in [
        ("tailLines", tail, 0),
        ("limitBytes", limit_bytes, 1),
        ("sinceSeconds", since_seconds, 1),
    ] {
        if let Some(v) = v
            && v < min
        {
            return status::failure(
                422,
                "Invalid",
                &format!(
                    "PodLogOptions \"{name}\" is invalid: {p}: Invalid value: {v}: must be greater than {}",
                    min - 1
                ),
                None,
            );
        }
    }
    let since = match (
        since_seconds,
        req.param("sinceTime").filter(|s| !s.is_empty()),
    ) {
        (Some(s), _) => Some(clock::now_unix() - s),
        (None, Some(t)) => match clock::parse_rfc3339(t) {
            Some(t) => Some(t),
            None => {
                return status::bad_request(&format!(
                    "sinceTime: Invalid value: {t:?}: not an RFC 3339 time"
                ));
            }
        },
        (None, None) => None,
    };
    let timestamps = flag("timestamps");
    // Each line starts with its RFC 3339 timestamp and a space; the rest is the container's
    // bytes as written.
    let stamp = |l: &[u8]| -> Option<(i64, usize)> {
        let end = l.iter().position(|&b| b == b' ')?;
        let ts = std::str::from_utf8(&l[..end]).ok()?;
        Some((clock::parse_rfc3339(ts)?, end + 1))
    };
    let mut lines: Vec<&[u8]> = text
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| since.is_none_or(|s| stamp(l).is_none_or(|(t, _)| t >= s)))
        .collect();
    if let Some(n) = tail {
        let n = n as usize;
        if lines.len() > n {
            lines.drain(..lines.len() - n);
        }
    }
    let mut body = Vec::new();
    for l in lines {
        match stamp(l) {
            Some((_, rest)) if !timestamps => body.extend_from_slice(&l[rest..]),
            _ => body.extend_from_slice(l),
        }
    }
    if let Some(n) = limit_bytes {
        body.truncate(n as usize);
    }
    let mut r = Response::json(200, body);
    r.content_type = "text/plain".into();
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn resource_paths() {
        use super::*;
        let p = parse_resource_path("", "v1", &["namespaces", "flux-system", "pods", "p", "log"])
            .unwrap();
        assert_eq!(
            (p.namespace, p.plural, p.name, p.sub),
            (Some("flux-system"), "pods", Some("p"), Some("log"))
        );
        let p = parse_resource_path("", "v1", &["namespaces", "flux-system"]).unwrap();
        assert_eq!(
            (p.namespace, p.plural, p.name),
            (None, "namespaces", Some("flux-system"))
        );
        let p = parse_resource_path("x", "v1", &["gitrepositories"]).unwrap();
        assert_eq!(
            (p.namespace, p.plural, p.name),
            (None, "gitrepositories", None)
        );
        assert!(parse_resource_path("x", "v1", &["a", "b", "c", "d"]).is_none());
    }
}
