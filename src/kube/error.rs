//! `kube::Error`: what can go wrong talking to a cluster, and the Kubernetes `Status` object an
//! API server sends with a refusal. Messages are short, lowercase and name the offending value
//! (URL path, server, field, kind); none ever carries a credential.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Everything the REST client, TLS setup and discovery can fail with. The variants say *when*
/// the failure happened, so the tools layer can add advice without parsing text.
#[derive(Debug)]
pub enum Error {
    /// The kubeconfig could not be loaded or resolved.
    Config(super::config::Error),
    /// Credentials could not be obtained (token file, exec plugin, ...).
    Auth(super::auth::Error),
    /// A connection setting cannot be used: the CA bundle, client certificate or key,
    /// `tls-server-name`, `proxy-url` or the server URL. Found before any request is sent.
    Settings {
        context: String,
        /// The kubeconfig field (or environment variable) at fault, e.g. `client-key`.
        field: &'static str,
        detail: String,
    },
    /// No connection could be made: DNS, refused, unreachable, proxy.
    Connect { server: String, detail: String },
    /// The TLS handshake failed: the server's certificate is not trusted or not valid for the
    /// name, or the server refused our client certificate. Not transient: a setting is wrong.
    Tls { server: String, detail: String },
    /// The call's time budget (`--timeout`) ran out.
    Timeout {
        method: &'static str,
        path: String,
        after: Duration,
    },
    /// The connection broke while the request or its response was in flight (reset, body cut
    /// short), after any retries the request allowed.
    Interrupted {
        method: &'static str,
        path: String,
        detail: String,
    },
    /// The server refused with a Kubernetes `Status` (403, 404, 409, 422, ...).
    Api {
        method: &'static str,
        path: String,
        status: Box<Status>,
    },
    /// The server answered non-2xx with a body that is not a `Status` (a proxy or load balancer
    /// page, a plain-text 500): the status line and the first bytes of the body.
    Http {
        method: &'static str,
        path: String,
        code: u16,
        summary: String,
    },
    /// A successful response whose body is not the JSON expected.
    Decode {
        method: &'static str,
        path: String,
        detail: String,
    },
    /// Discovery knows no resource by that kind (in that apiVersion).
    UnknownKind {
        kind: String,
        api_version: Option<String>,
        /// Close matches, each `Kind (group/version)`, best first.
        suggestions: Vec<String>,
    },
    /// `metrics.k8s.io` is not served: metrics-server is not installed or not ready.
    MetricsUnavailable { detail: String },
    /// The arguments cannot form a valid request (an empty name, a `/` in a namespace).
    InvalidRequest(String),
}

impl Error {
    /// The HTTP status code when the server answered (with or without a `Status` body).
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(status.code),
            Error::Http { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The Kubernetes `Status` the server sent, if any.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Api { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The `Status.reason` (`Forbidden`, `NotFound`, `Unauthorized`, `Conflict`, ...).
    pub fn reason(&self) -> Option<&str> {
        self.status()
            .map(|s| s.reason.as_str())
            .filter(|r| !r.is_empty())
    }

    /// 404: the object (or the resource type) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status_code() == Some(404)
    }

    /// 403: RBAC (or an admission webhook) refused the request.
    pub fn is_forbidden(&self) -> bool {
        self.status_code() == Some(403)
    }

    /// 401: the credentials were rejected, even after refreshing them once.
    pub fn is_unauthorized(&self) -> bool {
        self.status_code() == Some(401)
    }

    /// 409: a conflict (e.g. server-side apply field ownership, or the object already exists).
    pub fn is_conflict(&self) -> bool {
        self.status_code() == Some(409)
    }

    /// True for failures of the network or the server's availability, where trying again
    /// later may help (timeouts, broken connections, 429, 5xx); not for a peer that does not
    /// speak HTTP ([`Error::is_not_http`]).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Interrupted { .. } if self.is_not_http() => false,
            Error::Timeout { .. } | Error::Interrupted { .. } | Error::Connect { .. } => true,
            _ => matches!(self.status_code(), Some(429 | 500..=599)),
        }
    }

    /// The peer answered, but not in HTTP: an HTTP proxy setting that points at a TLS port,
    /// or a server URL that points at another kind of service. Retrying does not help.
    pub fn is_not_http(&self) -> bool {
        matches!(self, Error::Interrupted { detail, .. }
            if detail.contains("invalid HTTP") || detail.contains("http parse fail"))
    }

    /// The TLS handshake met a peer that does not speak TLS (a plain-HTTP port behind an
    /// `https://` URL): rustls reads its first bytes as a corrupt TLS record.
    pub fn is_not_tls(&self) -> bool {
        matches!(self, Error::Tls { detail, .. }
            if detail.contains("InvalidContentType") || detail.contains("corrupt message"))
    }

    /// Whether the message already names the kubeconfig context (credential and connection
    /// setting errors do), so that a caller does not name it a second time.
    pub fn names_context(&self) -> bool {
        matches!(self, Error::Auth(_) | Error::Settings { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Auth(e) => write!(f, "{e}"),
            Error::Settings {
                context,
                field,
                detail,
            } => write!(f, "context {context:?}: invalid {field}: {detail}"),
            Error::Connect { server, detail } => write!(f, "cannot connect to {server}: {detail}"),
            Error::Tls { server, detail } => {
                write!(f, "TLS handshake with {server} failed: {detail}")
            }
            Error::Timeout {
                method,
                path,
                after,
            } => write!(
                f,
                "{method} {path}: no answer within the {} timeout",
                DisplayDuration(*after)
            ),
            Error::Interrupted {
                method,
                path,
                detail,
            } => write!(f, "{method} {path}: connection interrupted: {detail}"),
            Error::Api {
                method,
                path,
                status,
            } => {
                // kubectl prints `Error from server (Forbidden): <message>`; the message is the
                // server's own words, quoted verbatim, and usually names the resource and verb.
                if status.message.is_empty() {
                    write!(f, "error from server ({}): {method} {path}", status.label())
                } else {
                    write!(
                        f,
                        "error from server ({}): {}",
                        status.label(),
                        status.message
                    )
                }
            }
            Error::Http {
                method,
                path,
                code,
                summary,
            } => {
                write!(f, "{method} {path}: server answered {code}")?;
                if !summary.is_empty() {
                    write!(f, ": {summary}")?;
                }
                Ok(())
            }
            Error::Decode {
                method,
                path,
                detail,
            } => write!(f, "{method} {path}: unexpected response: {detail}"),
            Error::UnknownKind {
                kind,
                api_version,
                suggestions,
            } => {
                match api_version {
                    Some(v) => write!(f, "the server has no kind {kind:?} in {v:?}")?,
                    None => write!(f, "the server has no kind {kind:?}")?,
                }
                if !suggestions.is_empty() {
                    write!(f, "; did you mean {}?", suggestions.join(" or "))?;
                }
                Ok(())
            }
            Error::MetricsUnavailable { detail } => write!(
                f,
                "the metrics API (metrics.k8s.io) is not available; is metrics-server installed and running? ({detail})"
            ),
            Error::InvalidRequest(detail) => write!(f, "invalid request: {detail}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Auth(e) => Some(e),
            _ => None,
        }
    }
}

impl From<super::config::Error> for Error {
    fn from(e: super::config::Error) -> Error {
        Error::Config(e)
    }
}

impl From<super::auth::Error> for Error {
    fn from(e: super::auth::Error) -> Error {
        Error::Auth(e)
    }
}

/// A Kubernetes `meta.k8s.io/v1 Status`, as sent in the body of a refused request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Status {
    /// `Failure` for errors.
    pub status: String,
    /// The human-readable explanation, e.g. `secrets is forbidden: User "x" cannot list
    /// resource "secrets" in API group "" in the namespace "default"`.
    pub message: String,
    /// Machine-readable: `Forbidden`, `NotFound`, `Unauthorized`, `AlreadyExists`, `Conflict`,
    /// `Invalid`, `TooManyRequests`, `ServiceUnavailable`, ... (may be empty).
    pub reason: String,
    /// The HTTP status code.
    pub code: u16,
    pub details: Option<StatusDetails>,
}

/// `Status.details`: which object the status is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusDetails {
    pub name: String,
    pub group: String,
    pub kind: String,
    #[serde(rename = "retryAfterSeconds")]
    pub retry_after_seconds: Option<u64>,
    /// What exactly was refused: one entry per invalid field (422) or per field owned by
    /// another manager (409 from server-side apply, reason `FieldManagerConflict`).
    pub causes: Vec<StatusCause>,
}

/// One `Status.details.causes` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StatusCause {
    /// `FieldManagerConflict`, `FieldValueInvalid`, ...
    pub reason: String,
    /// `conflict with "kustomize-controller" using apps/v1`, `Invalid value: ...`.
    pub message: String,
    /// The field path, e.g. `.spec.replicas` or `spec.interval`.
    pub field: String,
}

impl Status {
    /// Parse a response body as a `Status`; `None` when it is something else. The `kind` check
    /// keeps an arbitrary JSON error page from passing for one.
    pub(crate) fn parse(body: &[u8], http_code: u16) -> Option<Status> {
        #[derive(Deserialize)]
        struct Probe {
            kind: Option<String>,
        }
        let probe: Probe = serde_json::from_slice(body).ok()?;
        if probe.kind.as_deref() != Some("Status") {
            return None;
        }
        let mut status: Status = serde_json::from_slice(body).ok()?;
        if status.code == 0 {
            status.code = http_code;
        }
        Some(status)
    }

    /// `Forbidden`, or `403` when the server gave no reason.
    fn label(&self) -> String {
        if self.reason.is_empty() {
            self.code.to_string()
        } else {
            self.reason.clone()
        }
    }
}

/// `30s`, `1m30s`, `250ms`: durations the way the `--timeout` flag takes them.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            return write!(f, "{}ms", d.as_millis());
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 || (h == 0 && m == 0) {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORBIDDEN: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"x\" cannot list resource \"secrets\" in API group \"\" in the namespace \"default\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#;

    #[test]
    fn forbidden_status_is_quoted_verbatim() {
        let status = Status::parse(FORBIDDEN.as_bytes(), 403).expect("a Status");
        let err = Error::Api {
            method: "GET",
            path: "/api/v1/namespaces/default/secrets".into(),
            status: Box::new(status),
        };
        assert_eq!(
            err.to_string(),
            r#"error from server (Forbidden): secrets is forbidden: User "x" cannot list resource "secrets" in API group "" in the namespace "default""#
        );
        assert!(err.is_forbidden());
        assert!(!err.is_not_found());
        assert_eq!(err.reason(), Some("Forbidden"));
        assert_eq!(err.status_code(), Some(403));
        assert!(!err.is_transient());
    }

    #[test]
    fn causes_are_read_from_the_details() {
        let body = r#"{"kind":"Status","status":"Failure","reason":"Conflict","code":409,
            "message":"Apply failed with 1 conflict: conflict with \"kustomize-controller\" using apps/v1: .spec.replicas",
            "details":{"causes":[{"reason":"FieldManagerConflict",
                "message":"conflict with \"kustomize-controller\" using apps/v1","field":".spec.replicas"}]}}"#;
        let status = Status::parse(body.as_bytes(), 409).expect("a Status");
        let causes = status.details.map(|d| d.causes).unwrap_or_default();
        assert_eq!(
            causes,
            [StatusCause {
                reason: "FieldManagerConflict".into(),
                message: "conflict with \"kustomize-controller\" using apps/v1".into(),
                field: ".spec.replicas".into(),
            }]
        );
    }

    #[test]
    fn a_json_body_that_is_not_a_status_is_rejected() {
        assert_eq!(Status::parse(br#"{"kind":"Pod","code":403}"#, 403), None);
        assert_eq!(Status::parse(b"<html>bad gateway</html>", 502), None);
        assert_eq!(Status::parse(b"", 500), None);
    }

    #[test]
    fn a_status_without_code_takes_the_http_code() {
        let s = Status::parse(br#"{"kind":"Status","message":"m"}"#, 429).expect("a Status");
        assert_eq!(s.code, 429);
        let err = Error::Api {
            method: "GET",
            path: "/x".into(),
            status: Box::new(s),
        };
        assert_eq!(err.to_string(), "error from server (429): m");
        assert!(err.is_transient());
    }

    #[test]
    fn a_status_without_message_names_the_path() {
        let status = Status::parse(br#"{"kind":"Status","reason":"NotFound","code":404}"#, 404)
            .expect("a Status");
        let err = Error::Api {
            method: "GET",
            path: "/apis/x.io/v1/things".into(),
            status: Box::new(status),
        };
        assert_eq!(
            err.to_string(),
            "error from server (NotFound): GET /apis/x.io/v1/things"
        );
        assert!(err.is_not_found());
    }

    #[test]
    fn durations_read_like_flags() {
        assert_eq!(
            DisplayDuration(Duration::from_millis(250)).to_string(),
            "250ms"
        );
        assert_eq!(DisplayDuration(Duration::from_secs(30)).to_string(), "30s");
        assert_eq!(
            DisplayDuration(Duration::from_secs(90)).to_string(),
            "1m30s"
        );
        assert_eq!(DisplayDuration(Duration::from_secs(3600)).to_string(), "1h");
    }

    #[test]
    fn unknown_kind_lists_suggestions() {
        let err = Error::UnknownKind {
            kind: "HelmRelase".into(),
            api_version: None,
            suggestions: vec!["HelmRelease (helm.toolkit.fluxcd.io/v2)".into()],
        };
        assert_eq!(
            err.to_string(),
            r#"the server has no kind "HelmRelase"; did you mean HelmRelease (helm.toolkit.fluxcd.io/v2)?"#
        );
    }

    #[test]
    fn a_peer_that_speaks_no_http_or_no_tls_is_not_transient() {
        let not_http = Error::Interrupted {
            method: "GET",
            path: "/api".into(),
            detail: "invalid HTTP response: http parse fail: invalid HTTP version".into(),
        };
        assert!(not_http.is_not_http() && !not_http.is_transient());
        let reset = Error::Interrupted {
            method: "GET",
            path: "/api".into(),
            detail: "connection reset by peer".into(),
        };
        assert!(!reset.is_not_http() && reset.is_transient());
        let plain = Error::Tls {
            server: "https://127.0.0.1:8080".into(),
            detail: "TLS: received corrupt message of type InvalidContentType".into(),
        };
        assert!(plain.is_not_tls() && !plain.is_transient());
    }
}
