//! `Status` bodies (kind Status, apiVersion v1, status Failure) with the API server's exact
//! messages, reasons and details for 400, 401, 403, 404, 405, 409, 410, 415, 422, 429, 500 and 503.

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

#[derive(Clone, Debug, Serialize)]
pub struct Cause {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
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
    body.push_str(&format!(
        r#""message":{},"reason":{},"#,
        json!(message),
        json!(reason)
    ));
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

pub fn unsupported_media_type(content_type: &str) -> Response {
    failure(
        415,
        "UnsupportedMediaType",
        &format!(
            "the body of the request was in an unknown format ({content_type:?}) - the test API server accepts application/json, application/yaml and, for PATCH, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json"
        ),
        None,
    )
}

pub fn invalid(t: &ResourceType, name: &str, cause: &str) -> Response {
    let mut d = details(t, Some(name));
    d.causes = vec![Cause {
        reason: Some("FieldValueInvalid".into()),
        message: cause.into(),
    }];
    failure(
        422,
        "Invalid",
        &format!("{} \"{name}\" is invalid: {cause}", t.kind),
        Some(d),
    )
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
