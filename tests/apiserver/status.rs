//! `Status` bodies (kind Status, apiVersion v1, status Failure) with the API server's exact
//! messages, reasons and details for 400, 401, 403, 404, 405, 409 (already exists, conflicts,
//! apply conflicts), 410, 415, 422 (field errors as `NewInvalid` builds them), 429, 500 and 503.

use serde::Serialize;
use serde_json::json;

use super::http::Response;
use super::resources::ResourceType;

/// `StatusDetails`, fields in the API server's order (a struct keeps it; a JSON map would sort).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<Cause>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

/// `StatusCause`: its Go field `Type` is written as `reason`.
#[derive(Clone, Debug, Serialize)]
pub struct Cause {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Serialize keeping the struct's field order (`json!` would go through a sorted map).
fn to_json(d: &Details) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| "{}".into())
}

/// A Failure Status; fields in the order the API server writes them.
pub fn failure(code: u16, reason: &str, message: &str, details: Option<Details>) -> Response {
    failure_with_meta("{}", code, reason, message, details)
}

/// A Failure Status with list metadata (an expired continue token's replacement).
fn failure_with_meta(
    meta: &str,
    code: u16,
    reason: &str,
    message: &str,
    details: Option<Details>,
) -> Response {
    let mut body =
        format!(r#"{{"kind":"Status","apiVersion":"v1","metadata":{meta},"status":"Failure","#);
    body.push_str(&format!(r#""message":{},"#, json!(message)));
    // An unclassified error has no reason (StatusReasonUnknown is "", omitted).
    if !reason.is_empty() {
        body.push_str(&format!(r#""reason":{},"#, json!(reason)));
    }
    if let Some(d) = details {
        body.push_str(&format!(r#""details":{},"#, to_json(&d)));
    }
    body.push_str(&format!(r#""code":{code}}}"#));
    Response::json(code, body.into_bytes())
}

/// A Success Status (what DELETE answers).
pub fn success(details: Details) -> Response {
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Success","details":{}}}"#,
        to_json(&details)
    );
    Response::json(200, body.into_bytes())
}

/// `details` naming an object: name, group (omitted for core), kind (the plural, as the API server
/// puts the resource there).
pub fn details(t: &ResourceType, name: Option<&str>) -> Details {
    Details {
        name: name.map(str::to_string),
        group: (!t.group.is_empty()).then(|| t.group.clone()),
        kind: Some(t.plural.clone()),
        ..Details::default()
    }
}

fn named(name: &str, kind: &str) -> Details {
    Details {
        name: Some(name.into()),
        kind: Some(kind.into()),
        ..Details::default()
    }
}

pub fn unauthorized() -> Response {
    failure(401, "Unauthorized", "Unauthorized", None)
}

/// The authorizer's refusal: `secrets is forbidden: User "u" cannot list resource "secrets" in API
/// group "" in the namespace "flux-system"`, or `... "name" is forbidden ...` for one object, or
/// `at the cluster scope`.
pub fn forbidden(
    user: &str,
    verb: &str,
    t: &ResourceType,
    subresource: Option<&str>,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Response {
    let resource = match subresource {
        Some(sub) => format!("{}/{sub}", t.plural),
        None => t.plural.clone(),
    };
    let subject = match name {
        Some(n) => format!("{} \"{n}\"", t.qualified()),
        None => t.qualified(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".into(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
        t.group
    );
    failure(403, "Forbidden", &message, Some(details(t, name)))
}

/// Impersonation refused: `users "bob" is forbidden: User "alice" cannot impersonate resource
/// "users" in API group "" at the cluster scope`.
pub fn impersonation_forbidden(user: &str, resource: &str, target: &str) -> Response {
    let message = format!(
        "{resource} \"{target}\" is forbidden: User \"{user}\" cannot impersonate resource \"{resource}\" in API group \"\" at the cluster scope"
    );
    failure(403, "Forbidden", &message, Some(named(target, resource)))
}

/// `gitrepositories.source.toolkit.fluxcd.io "x" not found`.
pub fn not_found(t: &ResourceType, name: &str) -> Response {
    failure(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", t.qualified()),
        Some(details(t, Some(name))),
    )
}

/// `namespaces "x" not found` when creating into a missing namespace.
pub fn namespace_not_found(ns: &str) -> Response {
    failure(
        404,
        "NotFound",
        &format!("namespaces \"{ns}\" not found"),
        Some(named(ns, "namespaces")),
    )
}

/// A path that names no resource (unknown group, version, resource or a wrong scope).
pub fn no_such_path() -> Response {
    failure(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(Details::default()),
    )
}

pub fn bad_request(message: &str) -> Response {
    failure(400, "BadRequest", message, None)
}

pub fn method_not_allowed() -> Response {
    failure(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        Some(Details::default()),
    )
}

pub fn not_acceptable(accept: &str) -> Response {
    failure(
        406,
        "NotAcceptable",
        &format!(
            "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io (got {accept:?})"
        ),
        None,
    )
}

pub fn already_exists(t: &ResourceType, name: &str) -> Response {
    failure(
        409,
        "AlreadyExists",
        &format!("{} \"{name}\" already exists", t.qualified()),
        Some(details(t, Some(name))),
    )
}

/// 410 for a continue token from a version the store never reached; `continue_token` resumes
/// at the same place in the current objects (`metadata.continue`, as the API server offers).
pub fn expired_continue(message: &str, continue_token: &str) -> Response {
    let meta = json!({ "continue": continue_token }).to_string();
    failure_with_meta(&meta, 410, "Expired", message, None)
}

/// 415: `the body of the request was in an unknown format - accepted media types include:
/// application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml` (what a
/// custom resource accepts for PATCH; built-in types add strategic merge patch).
pub fn unsupported_media_type(accepted: &[&str]) -> Response {
    failure(
        415,
        "UnsupportedMediaType",
        &format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
        None,
    )
}

/// 409 from the storage layer: `Operation cannot be fulfilled on kustomizations.kustomize.toolkit.fluxcd.io
/// "apps": the object has been modified; please apply your changes to the latest version and try
/// again` (a stale resourceVersion), or a failed delete precondition.
pub fn conflict(t: &ResourceType, name: &str, cause: &str) -> Response {
    failure(
        409,
        "Conflict",
        &format!(
            "Operation cannot be fulfilled on {} \"{name}\": {cause}",
            t.qualified()
        ),
        Some(details(t, Some(name))),
    )
}

/// The message of a stale resourceVersion.
pub const MODIFIED: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// 409 from server-side apply: the message lists the conflicts, each is a `FieldManagerConflict`
/// cause naming the manager and the field.
pub fn apply_conflict(message: &str, conflicts: &[(String, String)]) -> Response {
    failure(
        409,
        "Conflict",
        message,
        Some(Details {
            causes: conflicts
                .iter()
                .map(|(manager, field)| Cause {
                    reason: Some("FieldManagerConflict".into()),
                    message: format!("conflict with {manager}"),
                    field: Some(field.clone()),
                })
                .collect(),
            ..Details::default()
        }),
    )
}

/// 422 for a JSON patch operation that does not apply: the API server keeps the reason to itself
/// (`errors.NewGenericServerResponse` drops the message), so kubectl prints `The request is
/// invalid: the server rejected our request due to an error in our request`.
pub fn patch_not_applicable() -> Response {
    failure(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
        Some(Details::default()),
    )
}

/// 403 from the NamespaceLifecycle admission plugin.
pub fn namespace_terminating(t: &ResourceType, name: &str, ns: &str) -> Response {
    let mut d = details(t, Some(name));
    d.causes = vec![Cause {
        reason: Some("NamespaceTerminating".into()),
        message: format!("namespace {ns} is being terminated"),
        field: Some("metadata.namespace".into()),
    }];
    failure(
        403,
        "Forbidden",
        &format!(
            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
            t.qualified()
        ),
        Some(d),
    )
}

/// One `field.Error`: its cause type (`FieldValueRequired`, ...), field path and message body.
#[derive(Clone, Debug)]
pub struct FieldError {
    pub kind: &'static str,
    pub field: String,
    pub body: String,
}

impl FieldError {
    pub fn new(kind: &'static str, field: &str, body: impl Into<String>) -> FieldError {
        FieldError {
            kind,
            field: field.into(),
            body: body.into(),
        }
    }
}

/// 422 as `errors.NewInvalid(groupKind, name, errs)` builds it: `Kind.group "name" is invalid:
/// field: message` (several errors in brackets), one cause per error.
pub fn invalid_fields(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Response {
    let qualified = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    let list: Vec<String> = errs
        .iter()
        .map(|e| format!("{}: {}", e.field, e.body))
        .collect();
    let aggregate = match list.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    failure(
        422,
        "Invalid",
        &format!("{qualified} {name:?} is invalid: {aggregate}"),
        Some(Details {
            name: (!name.is_empty()).then(|| name.to_string()),
            group: (!group.is_empty()).then(|| group.to_string()),
            kind: Some(kind.to_string()),
            causes: errs
                .iter()
                .map(|e| Cause {
                    reason: Some(e.kind.into()),
                    message: e.body.clone(),
                    field: Some(e.field.clone()),
                })
                .collect(),
            ..Details::default()
        }),
    )
}

/// 422 for an object of type `t` that fails validation.
pub fn invalid(t: &ResourceType, name: &str, errs: &[FieldError]) -> Response {
    invalid_fields(&t.group, &t.kind, name, errs)
}

/// What API Priority and Fairness answers when it sheds load.
pub fn too_many_requests(retry_after_secs: u64) -> Response {
    failure(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        Some(Details {
            retry_after_seconds: Some(retry_after_secs),
            ..Details::default()
        }),
    )
    .with_header("Retry-After", retry_after_secs.to_string())
}

/// An aggregated API (or the server) that cannot answer right now.
pub fn service_unavailable(retry_after_secs: Option<u64>) -> Response {
    let mut resp = failure(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request",
        retry_after_secs.map(|s| Details {
            retry_after_seconds: Some(s),
            ..Details::default()
        }),
    );
    if let Some(s) = retry_after_secs {
        resp = resp.with_header("Retry-After", s.to_string());
    }
    resp
}

pub fn internal_error(cause: &str) -> Response {
    failure(
        500,
        "InternalError",
        &format!("Internal error occurred: {cause}"),
        Some(Details {
            causes: vec![Cause {
                reason: None,
                message: cause.into(),
                field: None,
            }],
            ..Details::default()
        }),
    )
}

/// Any other status code a test injects, with the reason the API server pairs with it.
pub fn for_code(code: u16) -> Response {
    match code {
        400 => bad_request("injected fault"),
        401 => unauthorized(),
        403 => failure(403, "Forbidden", "forbidden: injected fault", None),
        404 => no_such_path(),
        405 => method_not_allowed(),
        429 => too_many_requests(1),
        500 => internal_error("injected fault"),
        503 => service_unavailable(None),
        504 => failure(
            504,
            "Timeout",
            "The list operation timed out (injected fault)",
            Some(Details {
                retry_after_seconds: Some(1),
                ..Details::default()
            }),
        ),
        other => failure(other, "Unknown", "injected fault", None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn status_body_is_the_api_servers() {
        use super::*;
        let body = String::from_utf8(unauthorized().body).unwrap();
        assert_eq!(
            body,
            r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#
        );
    }
}
