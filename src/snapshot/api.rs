//! The read-only Kubernetes API `snapshot serve-api` answers over a snapshot, one request in,
//! one answer out, knowing nothing of HTTP or TLS: discovery (legacy documents and the
//! aggregated ones), GET and LIST with label and field selectors and paging, Tables for
//! `kubectl get`, `PartialObjectMetadata`, and pod logs. Every refusal is a `Status` with the
//! API server's code and wording, so kubectl prints it as it would a cluster's; what the
//! snapshot does not hold is a 404 that says so. Writes and watches are 405: a snapshot does
//! not change.

use serde_json::{Value, json};

use super::table::{self, IncludeObject};
use super::{PageQuery, Snapshot};
use crate::kube::Error;
use crate::kube::client::LogOptions;
use crate::kube::discovery::Resource;

/// A request as the HTTP layer hands it over: path and query already percent-decoded.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    /// The `Accept` header ("" when absent).
    pub accept: &'a str,
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.param(name).is_some_and(|v| v == "true" || v == "1")
    }
}

/// An answer: status, content type, body, and a `Warning` kubectl prints (a partial list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    pub warning: Option<String>,
}

impl Response {
    fn json(status: u16, v: &Value) -> Response {
        Response {
            status,
            content_type: "application/json".into(),
            body: serde_json::to_vec(v).unwrap_or_default(),
            warning: None,
        }
    }

    fn typed(v: &Value, content_type: &str) -> Response {
        Response {
            content_type: content_type.into(),
            ..Response::json(200, v)
        }
    }
}

/// A `Status` answer with the API server's fields.
pub fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        body["details"] = d;
    }
    Response::json(code, &body)
}

fn no_such_path() -> Response {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

fn bad_request(message: &str) -> Response {
    status(400, "BadRequest", message, None)
}

/// A snapshot error as the API server would put it; `NotCaptured` is a 404 whose message
/// says the snapshot does not hold it (kubectl prints `Error from server (NotFound): not in
/// the snapshot: ...`).
fn error(e: Error) -> Response {
    match e {
        Error::Api { status: s, .. } => {
            let details = s
                .details
                .as_ref()
                .map(|d| json!({"name": d.name, "group": d.group, "kind": d.kind}));
            status(s.code, &s.reason, &s.message, details)
        }
        Error::NotCaptured(_) => status(404, "NotFound", &e.to_string(), None),
        Error::InvalidRequest(_) => bad_request(&e.to_string()),
        Error::MetricsUnavailable { .. } => status(503, "ServiceUnavailable", &e.to_string(), None),
        other => status(500, "InternalError", &other.to_string(), None),
    }
}

/// The media types a request may get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Table,
    Partial,
    Aggregated,
}

/// The first media range in `Accept` that is one of `allowed` (clients list preferred first).
fn negotiate(accept: &str, allowed: &[Format]) -> Option<Format> {
    let accept = accept.trim();
    if accept.is_empty() {
        return Some(Format::Json);
    }
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let mut r#as = None;
        let mut g = None;
        let mut v = None;
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => r#as = Some(x.trim()),
                Some(("g", x)) => g = Some(x.trim()),
                Some(("v", x)) => v = Some(x.trim()),
                _ => {}
            }
        }
        let format = match (media, r#as, g, v) {
            ("application/json" | "*/*" | "application/*", None, _, _) => Format::Json,
            ("application/json", Some("Table"), Some("meta.k8s.io"), Some("v1")) => Format::Table,
            (
                "application/json",
                Some("PartialObjectMetadataList" | "PartialObjectMetadata"),
                Some("meta.k8s.io"),
                Some("v1"),
            ) => Format::Partial,
            (
                "application/json",
                Some("APIGroupDiscoveryList"),
                Some("apidiscovery.k8s.io"),
                Some("v2"),
            ) => Format::Aggregated,
            _ => continue,
        };
        if allowed.contains(&format) {
            return Some(format);
        }
    }
    None
}

fn not_acceptable(accept: &str) -> Response {
    status(
        406,
        "NotAcceptable",
        &format!(
            "only the following media types are accepted: application/json, \
             application/json;as=Table;v=v1;g=meta.k8s.io (asked: {})",
            &accept[..crate::text::floor_char_boundary(accept, 200)]
        ),
        None,
    )
}

/// The version document: this is not a cluster, and says so.
fn version() -> Value {
    json!({
        "major": "1",
        "minor": "",
        "gitVersion": format!("v0.0.0-flux-operator-mcp-snapshot-{}", crate::VERSION),
        "platform": "snapshot",
    })
}

/// Answers one request. `address` is `host:port` as clients reach the server (the legacy
/// `/api` document names it).
pub fn handle(snapshot: &Snapshot, address: &str, req: &Request) -> Response {
    let path = req.path.trim_end_matches('/');
    match path {
        "/version" => return Response::json(200, &version()),
        "/healthz" | "/livez" | "/readyz" => {
            return Response {
                status: 200,
                content_type: "text/plain; charset=utf-8".into(),
                body: b"ok".to_vec(),
                warning: None,
            };
        }
        _ => {}
    }
    if req.method != "GET" && req.method != "HEAD" {
        return status(
            405,
            "MethodNotAllowed",
            &format!(
                "{} is not allowed: this API server answers from a snapshot, which cannot change",
                req.method
            ),
            None,
        );
    }
    if req.flag("watch") {
        return status(
            405,
            "MethodNotAllowed",
            "watch is not supported: a snapshot does not change",
            None,
        );
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let discovery = [Format::Json, Format::Aggregated];
    match segs.as_slice() {
        ["api"] => match negotiate(req.accept, &discovery) {
            Some(Format::Aggregated) => aggregated(snapshot, true),
            Some(_) => Response::json(
                200,
                &json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
                }),
            ),
            None => not_acceptable(req.accept),
        },
        ["apis"] => match negotiate(req.accept, &discovery) {
            Some(Format::Aggregated) => aggregated(snapshot, false),
            Some(_) => Response::json(200, &group_list(snapshot)),
            None => not_acceptable(req.accept),
        },
        ["api", "v1"] => resource_list(snapshot, "", "v1"),
        ["apis", group] => match group_list(snapshot)["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["name"] == *group)
        {
            Some(g) => {
                let mut g = g.clone();
                g["kind"] = json!("APIGroup");
                g["apiVersion"] = json!("v1");
                Response::json(200, &g)
            }
            None => no_such_path(),
        },
        ["apis", group, version] => resource_list(snapshot, group, version),
        ["api", "v1", rest @ ..] => resource(snapshot, req, "", "v1", rest),
        ["apis", group, version, rest @ ..] => resource(snapshot, req, group, version, rest),
        _ => no_such_path(),
    }
}

/// The aggregated discovery documents, with each resource's verbs cut to the two served.
fn aggregated(snapshot: &Snapshot, core: bool) -> Response {
    let (core_doc, apis_doc) = snapshot.discovery().to_aggregated();
    let mut doc = if core { core_doc } else { apis_doc };
    for group in doc["items"].as_array_mut().into_iter().flatten() {
        for version in group["versions"].as_array_mut().into_iter().flatten() {
            for r in version["resources"].as_array_mut().into_iter().flatten() {
                r["verbs"] = json!(["get", "list"]);
            }
        }
    }
    Response::typed(
        &doc,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
    )
}

/// `/apis` as an `APIGroupList`, groups in discovery order, preferred version first.
fn group_list(snapshot: &Snapshot) -> Value {
    let (_, apis) = snapshot.discovery().to_aggregated();
    let groups: Vec<Value> = apis["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| {
            let name = g["metadata"]["name"].as_str()?;
            let versions: Vec<Value> = g["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["freshness"] != "Stale")
                .filter_map(|v| {
                    let version = v["version"].as_str()?;
                    Some(json!({"groupVersion": format!("{name}/{version}"), "version": version}))
                })
                .collect();
            let preferred = versions.first()?.clone();
            Some(json!({"name": name, "versions": versions, "preferredVersion": preferred}))
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/api/v1` or `/apis/GROUP/VERSION` as an `APIResourceList`.
fn resource_list(snapshot: &Snapshot, group: &str, version: &str) -> Response {
    let discovery = snapshot.discovery();
    let resources: Vec<Value> = discovery
        .resources()
        .filter(|r| r.group == group && r.version == version)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "list"],
                "shortNames": r.short_names,
            })
        })
        .collect();
    if resources.is_empty() {
        return no_such_path();
    }
    let group_version = crate::kube::discovery::api_version(group, version);
    Response::json(
        200,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// A resource path below a group version: `[namespaces/NS/]PLURAL[/NAME[/SUB]]`, or a
/// namespace itself (`namespaces/NAME`).
struct Target<'a> {
    namespace: Option<&'a str>,
    plural: &'a str,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn target<'a>(group: &str, segs: &[&'a str]) -> Option<Target<'a>> {
    if segs.iter().any(|s| s.is_empty()) {
        return None;
    }
    let t = |namespace, plural, name, sub| {
        Some(Target {
            namespace,
            plural,
            name,
            sub,
        })
    };
    match segs {
        ["namespaces", name] if group.is_empty() => t(None, "namespaces", Some(*name), None),
        ["namespaces", ns, plural, rest @ ..] if rest.len() <= 2 => t(
            Some(*ns),
            *plural,
            rest.first().copied(),
            rest.get(1).copied(),
        ),
        [plural, rest @ ..] if rest.len() <= 2 => {
            t(None, *plural, rest.first().copied(), rest.get(1).copied())
        }
        _ => None,
    }
}

fn resource(
    snapshot: &Snapshot,
    req: &Request,
    group: &str,
    version: &str,
    segs: &[&str],
) -> Response {
    let Some(t) = target(group, segs) else {
        return no_such_path();
    };
    let discovery = snapshot.discovery();
    let Some(r) = discovery
        .resources()
        .find(|r| r.group == group && r.version == version && r.plural == t.plural)
        .cloned()
    else {
        return no_such_path();
    };
    if t.namespace.is_some() && !r.namespaced {
        return no_such_path();
    }
    let reads = [Format::Json, Format::Table, Format::Partial];
    match (t.name, t.sub) {
        (Some(name), Some("log")) if r.group.is_empty() && r.plural == "pods" => {
            logs(snapshot, req, t.namespace.unwrap_or_default(), name)
        }
        (Some(_), Some(_)) => no_such_path(),
        (Some(name), None) => {
            let Some(format) = negotiate(req.accept, &reads) else {
                return not_acceptable(req.accept);
            };
            match snapshot.get(&r, t.namespace.unwrap_or_default(), name) {
                Ok(obj) => one(snapshot, req, &r, obj, format),
                Err(e) => error(e),
            }
        }
        (None, _) => {
            let Some(format) = negotiate(req.accept, &reads) else {
                return not_acceptable(req.accept);
            };
            list(snapshot, req, &r, t.namespace, format)
        }
    }
}

fn one(snapshot: &Snapshot, req: &Request, r: &Resource, obj: Value, format: Format) -> Response {
    match format {
        Format::Table => match IncludeObject::parse(req.param("includeObject")) {
            Ok(include) => {
                let rv = obj["metadata"]["resourceVersion"].clone();
                let mut t = render(snapshot, r, &[obj], include);
                t["metadata"] = json!({"resourceVersion": rv});
                Response::typed(&t, "application/json;as=Table;v=v1;g=meta.k8s.io")
            }
            Err(message) => bad_request(&message),
        },
        Format::Partial => Response::typed(
            &json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}),
            "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        ),
        _ => Response::json(200, &obj),
    }
}

/// A Table of `objects`: a custom resource's CRD printer columns (the CRD is in the snapshot
/// for every Flux kind), else the built-in printer.
fn render(snapshot: &Snapshot, r: &Resource, objects: &[Value], include: IncludeObject) -> Value {
    let now = snapshot
        .captured()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let builtin = r.group.is_empty() || !r.group.contains('.') || r.group.ends_with(".k8s.io");
    if builtin {
        return table::table(&r.group, &r.kind, None, objects, include, now);
    }
    let crds = Resource::new(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    );
    let columns = snapshot
        .get(&crds, "", &super::qualified(r))
        .map(|crd| table::crd_columns(&crd, &r.version))
        .unwrap_or_default();
    table::table(&r.group, &r.kind, Some(&columns), objects, include, now)
}

fn list(
    snapshot: &Snapshot,
    req: &Request,
    r: &Resource,
    namespace: Option<&str>,
    format: Format,
) -> Response {
    let limit = match req.param("limit").filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => usize::try_from(n).ok(),
            Ok(_) => None,
            Err(_) => {
                return bad_request(&format!("limit: Invalid value: {l:?}: must be an integer"));
            }
        },
    };
    let query = PageQuery {
        namespace,
        label_selector: req.param("labelSelector").unwrap_or(""),
        field_selector: req.param("fieldSelector").unwrap_or(""),
        limit,
        continue_token: req.param("continue").filter(|c| !c.is_empty()),
    };
    let page = match snapshot.list_page(r, &query, true) {
        Ok(p) => p,
        Err(e) => return error(e),
    };
    let mut meta = json!({"resourceVersion": page.resource_version});
    if let Some(token) = &page.continue_token {
        meta["continue"] = json!(token);
    }
    if let Some(n) = page.remaining_item_count {
        meta["remainingItemCount"] = json!(n);
    }
    let mut response = match format {
        Format::Table => match IncludeObject::parse(req.param("includeObject")) {
            Ok(include) => {
                let mut t = render(snapshot, r, &page.items, include);
                t["metadata"] = meta;
                Response::typed(&t, "application/json;as=Table;v=v1;g=meta.k8s.io")
            }
            Err(message) => return bad_request(&message),
        },
        Format::Partial => {
            let items: Vec<Value> = page
                .items
                .iter()
                .map(|o| json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}))
                .collect();
            Response::typed(
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
                "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            )
        }
        _ => Response::json(
            200,
            &json!({
                "kind": format!("{}List", r.kind),
                "apiVersion": r.api_version(),
                "metadata": meta,
                "items": page.items,
            }),
        ),
    };
    if page.partial {
        response.warning = Some(format!(
            "299 - \"the snapshot holds only the {} that Flux inventories name\"",
            super::qualified(r)
        ));
    }
    response
}

/// `GET .../pods/NAME/log`: container, tailLines, limitBytes, previous, sinceSeconds,
/// sinceTime, timestamps; `text/plain` like the kubelet.
fn logs(snapshot: &Snapshot, req: &Request, namespace: &str, pod: &str) -> Response {
    let int = |p: &str| -> Result<Option<i64>, Response> {
        match req.param(p).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                bad_request(&format!("{p}: Invalid value: {v:?}: must be an integer"))
            }),
        }
    };
    let (tail, limit, since) = match (int("tailLines"), int("limitBytes"), int("sinceSeconds")) {
        (Ok(a), Ok(b), Ok(c)) => (a, b, c),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    for (p, v, min) in [
        ("tailLines", tail, 0),
        ("limitBytes", limit, 1),
        ("sinceSeconds", since, 1),
    ] {
        if let Some(v) = v
            && v < min
        {
            return status(
                422,
                "Invalid",
                &format!(
                    "PodLogOptions \"{pod}\" is invalid: {p}: Invalid value: {v}: must be greater than {}",
                    min - 1
                ),
                None,
            );
        }
    }
    let captured = snapshot
        .captured()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let since = match (since, req.param("sinceTime").filter(|s| !s.is_empty())) {
        (Some(s), _) => Some(s),
        (None, Some(t)) => match crate::kube::time::parse_rfc3339(t) {
            Some((at, _)) => Some((captured - at).max(1)),
            None => {
                return bad_request(&format!(
                    "sinceTime: Invalid value: {t:?}: not an RFC 3339 time"
                ));
            }
        },
        (None, None) => None,
    };
    let options = LogOptions {
        container: req
            .param("container")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        tail_lines: tail.and_then(|n| u64::try_from(n).ok()),
        limit_bytes: limit.and_then(|n| u64::try_from(n).ok()),
        previous: req.flag("previous"),
        since_seconds: since.and_then(|n| u64::try_from(n).ok()),
    };
    match snapshot.logs(namespace, pod, &options, req.flag("timestamps")) {
        Ok(l) => Response {
            status: 200,
            content_type: "text/plain".into(),
            body: l.text.into_bytes(),
            warning: None,
        },
        Err(e) => error(e),
    }
}
