//! Answering from a snapshot the way an API server answers: get (404 with the server's
//! wording), list with label and field selectors and paging (`kube::selector`,
//! `kube::paging`, continue tokens at the collection's saved resourceVersion), pod logs
//! (container choice, `previous`, `sinceSeconds` against the capture time, `tailLines`,
//! `limitBytes`), pod metrics, and names. Each mirrors what `kube::client::Client` makes of
//! the live answer, so a caller cannot tell the two apart; what was not captured is
//! `kube::Error::NotCaptured`, never a 404.

use std::cell::OnceCell;
use std::ops::ControlFlow;

use base64::Engine as _;
use serde_json::Value;

use super::{Collection, Item, Snapshot, qualified};
use crate::kube::client::{DEFAULT_LOG_CAP, LogOptions, Logs, PodSelection};
use crate::kube::discovery::Resource;
use crate::kube::list::{DEFAULT_PAGE_SIZE, ListInfo, ListOptions, PageEnd};
use crate::kube::paging::{ObjectKey, Page, PageError, Pager, Versions};
use crate::kube::selector::Selectors;
use crate::kube::{Error, Status, StatusDetails};

/// The field labels the API server indexes for a built-in kind, besides `metadata.name` and
/// `metadata.namespace` (Kubernetes 1.32; custom resources have none unless their CRD
/// declares selectable fields, which Flux's do not).
pub fn field_labels(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Namespace") => &["status.phase"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Secret") => &["type"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

/// The longest Secret value handed out in full (etcd refuses objects over 1.5 MiB); a saved
/// size above it is left as its `<masked: N bytes>` text.
const MAX_SECRET_VALUE: usize = 3 << 20;

/// What a Secret value is handed out as: its saved size in bytes of this text, repeated. Never
/// shown by the tools (a snapshot is always served with Secret masking on, which prints the
/// size); kubectl on `snapshot serve-api` shows it, and it decodes to what it says.
const FILLER: &[u8] = b"masked-";

fn api(method: &'static str, path: String, status: Status) -> Error {
    Error::Api {
        method,
        path,
        status: Box::new(status),
    }
}

fn failure(code: u16, reason: &str, message: String, details: Option<StatusDetails>) -> Status {
    Status {
        status: "Failure".into(),
        message,
        reason: reason.into(),
        code,
        details,
    }
}

/// One candidate object of a list page: parsed at most once, when a selector or the caller
/// first needs it.
struct Lazy<'a> {
    item: &'a Item,
    parsed: OnceCell<Result<Value, String>>,
}

impl Lazy<'_> {
    fn into_value(self, snapshot: &Snapshot) -> Result<Value, String> {
        match self.parsed.into_inner() {
            Some(parsed) => parsed,
            None => snapshot.object(self.item),
        }
    }
}

/// One LIST request's parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    /// `None`: all namespaces (ignored for cluster-scoped kinds).
    pub namespace: Option<&'a str>,
    pub label_selector: &'a str,
    pub field_selector: &'a str,
    /// `limit`; `None`: everything in one page.
    pub limit: Option<usize>,
    pub continue_token: Option<&'a str>,
}

/// One LIST answer.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Value>,
    pub continue_token: Option<String>,
    pub remaining_item_count: Option<u64>,
    pub resource_version: String,
    /// The kind was saved only in part: these are the objects Flux inventories name.
    pub partial: bool,
}

impl Snapshot {
    /// The saved collection for `resource`, or the error a caller should see: the API
    /// server's 404 for a resource it never served, `NotCaptured` for one it served but the
    /// capture did not save (or saved at another version).
    fn collection(&self, resource: &Resource, path: &str) -> Result<&Collection, Error> {
        let found = self
            .collections
            .iter()
            .find(|c| c.resource.group == resource.group && c.resource.plural == resource.plural);
        match found {
            Some(c) if c.resource.version == resource.version => Ok(c),
            Some(c) => Err(Error::NotCaptured(format!(
                "{} was captured at version {} only; ask for apiVersion {}",
                qualified(&c.resource),
                c.resource.version,
                c.resource.api_version()
            ))),
            None => {
                let served = self.discovery.resources().any(|r| {
                    r.group == resource.group
                        && r.version == resource.version
                        && r.plural == resource.plural
                });
                if served {
                    Err(Error::NotCaptured(format!(
                        "{} were not captured (a snapshot holds every Flux object, the \
                         workloads, pods, events and Secret keys, and the objects Flux \
                         inventories name)",
                        qualified(resource)
                    )))
                } else {
                    Err(api(
                        "GET",
                        path.to_string(),
                        failure(
                            404,
                            "NotFound",
                            "the server could not find the requested resource".into(),
                            Some(StatusDetails::default()),
                        ),
                    ))
                }
            }
        }
    }

    /// A write (`PATCH`, `DELETE`): refused as `snapshot serve-api` refuses it, a 405 that
    /// says why. The write tools are not offered over a snapshot; this is what a caller that
    /// reaches a write anyway is told.
    pub fn refuse_write(
        &self,
        method: &'static str,
        resource: &Resource,
        namespace: &str,
        name: &str,
    ) -> Error {
        let path = resource.object_path(namespace, name).unwrap_or_default();
        api(
            method,
            path,
            failure(
                405,
                "MethodNotAllowed",
                format!(
                    "{method} is not allowed: context {} answers from a snapshot, which cannot change",
                    self.context()
                ),
                None,
            ),
        )
    }

    /// One object, as `GET` would return it.
    pub fn get(&self, resource: &Resource, namespace: &str, name: &str) -> Result<Value, Error> {
        let path = resource.object_path(namespace, name)?;
        let c = self.collection(resource, &path)?;
        let key = ObjectKey::new(if resource.namespaced { namespace } else { "" }, name);
        match c.items.binary_search_by(|i| i.key.cmp(&key)) {
            Ok(i) => self.object(&c.items[i]).map_err(|detail| Error::Decode {
                method: "GET",
                path,
                detail,
            }),
            Err(_) if c.complete || c.absent.contains(&key) => {
                Err(not_found("GET", path, resource, name))
            }
            Err(_) => Err(Error::NotCaptured(format!(
                "{} {key} was not captured: this kind is saved only where a Flux inventory \
                 names it",
                qualified(resource)
            ))),
        }
    }

    /// The saved object, parsed, with its Secret values handed out at their saved sizes.
    fn object(&self, item: &Item) -> Result<Value, String> {
        let bytes = self.bytes(item.start, item.len);
        let mut v: Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("the snapshot's copy of {} is not valid JSON: {e}", item.key))?;
        if item.secrets {
            expand_secrets(&mut v);
        }
        Ok(v)
    }

    /// Objects matching `options`, handed to `on_item` one by one, paged as
    /// `kube::client::Client::list` pages a live server: the same `ListInfo` (continue tokens
    /// at the saved resourceVersion, `remainingItemCount` only without selectors). A kind
    /// saved only in part cannot be listed (`NotCaptured`).
    pub fn list(
        &self,
        resource: &Resource,
        options: &ListOptions,
        mut on_item: impl FnMut(Value) -> ControlFlow<()>,
    ) -> Result<ListInfo, Error> {
        let path = resource.collection_path(options.namespace.as_deref())?;
        let page_size = options
            .page_size
            .filter(|&p| p > 0)
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let limit = options.limit.filter(|&l| l > 0);
        let mut info = ListInfo::default();
        let mut token = options.continue_token.clone().filter(|t| !t.is_empty());
        loop {
            let wanted = limit.map(|l| l.saturating_sub(info.items));
            let page_limit = wanted.map_or(page_size, |w| w.min(page_size));
            let query = PageQuery {
                namespace: options.namespace.as_deref(),
                label_selector: options.label_selector.as_deref().unwrap_or(""),
                field_selector: options.field_selector.as_deref().unwrap_or(""),
                limit: Some(page_limit),
                continue_token: token.as_deref(),
            };
            let (c, page) = self.lazy_page(resource, &path, &query, false)?;
            let next = page.continue_token.clone();
            let mut delivered = 0;
            let mut stopped = false;
            let mut more_in_page = false;
            for lazy in page.items {
                if stopped {
                    more_in_page = true;
                    break;
                }
                let value = lazy.into_value(self).map_err(|detail| Error::Decode {
                    method: "GET",
                    path: path.clone(),
                    detail,
                })?;
                delivered += 1;
                if on_item(value).is_break() {
                    stopped = true;
                }
            }
            let end = PageEnd {
                delivered,
                resource_version: c.resource_version.to_string(),
                remaining_item_count: page.remaining_item_count,
                next,
                stopped,
                more_in_page,
            };
            match info.page_done(end, limit) {
                Some(next) => token = Some(next),
                None => return Ok(info),
            }
        }
    }

    /// One page, as the API server answers one LIST request. `partial_ok` lists a kind saved
    /// only in part (what it holds; `ListPage::partial` says so) instead of refusing.
    pub fn list_page(
        &self,
        resource: &Resource,
        query: &PageQuery,
        partial_ok: bool,
    ) -> Result<ListPage, Error> {
        let path = resource.collection_path(query.namespace)?;
        let (c, page) = self.lazy_page(resource, &path, query, partial_ok)?;
        let items = page
            .items
            .into_iter()
            .map(|lazy| lazy.into_value(self))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|detail| Error::Decode {
                method: "GET",
                path,
                detail,
            })?;
        Ok(ListPage {
            items,
            continue_token: page.continue_token,
            remaining_item_count: page.remaining_item_count,
            resource_version: c.resource_version.to_string(),
            partial: !c.complete,
        })
    }

    /// One page of candidates, parsed only where a selector needed them.
    fn lazy_page<'s>(
        &'s self,
        resource: &Resource,
        path: &str,
        query: &PageQuery,
        partial_ok: bool,
    ) -> Result<(&'s Collection, Page<Lazy<'s>>), Error> {
        let c = self.collection(resource, path)?;
        if !c.complete && !partial_ok {
            return Err(Error::NotCaptured(format!(
                "{} can be read one by one but not listed: only those a Flux inventory names \
                 were captured",
                qualified(resource)
            )));
        }
        let labels = field_labels(&resource.group, &resource.kind);
        let selectors = Selectors::parse(query.label_selector, query.field_selector, labels)
            .map_err(|e| api("GET", path.to_string(), e.status()))?;
        let namespace = query.namespace.filter(|_| resource.namespaced);
        let versions = Versions::fixed(c.resource_version);
        let pager = Pager::new(namespace, query.limit, query.continue_token, versions)
            .map_err(|e| page_error(path, e))?;
        let from = pager
            .start()
            .map_or(0, |s| c.items.partition_point(|i| &i.key < s));
        let mut broken: Option<String> = None;
        let candidates = c.items.get(from..).unwrap_or_default().iter().map(|item| {
            (
                &item.key,
                Lazy {
                    item,
                    parsed: OnceCell::new(),
                },
            )
        });
        let page = pager.page(
            candidates,
            |lazy| {
                if selectors.is_empty() {
                    return true;
                }
                match lazy.parsed.get_or_init(|| self.object(lazy.item)) {
                    Ok(v) => selectors.matches(v),
                    Err(e) => {
                        broken.get_or_insert_with(|| e.clone());
                        false
                    }
                }
            },
            selectors.is_empty(),
        );
        if let Some(detail) = broken {
            return Err(Error::Decode {
                method: "GET",
                path: path.to_string(),
                detail,
            });
        }
        Ok((c, page))
    }

    /// The `(namespace, name)` of up to `at_most` objects, and whether there are more: what a
    /// metadata-only list with `limit` gives.
    pub fn names(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        at_most: usize,
    ) -> Result<(Vec<(String, String)>, bool), Error> {
        let path = resource.collection_path(namespace)?;
        let c = self.collection(resource, &path)?;
        if !c.complete {
            return Err(Error::NotCaptured(format!(
                "the names of {} were not all captured",
                qualified(resource)
            )));
        }
        let namespace = namespace.filter(|_| resource.namespaced);
        let pager = Pager::new(
            namespace,
            Some(at_most.max(1)),
            None,
            Versions::fixed(c.resource_version),
        )
        .map_err(|e| page_error(&path, e))?;
        let page = pager.page_sorted(&c.items, |i| &i.key, |_| true, false);
        let names = page
            .items
            .iter()
            .take(at_most)
            .map(|i| (i.key.namespace().to_string(), i.key.name().to_string()))
            .collect();
        Ok((names, page.continue_token.is_some()))
    }

    /// A container's saved log, as `GET .../pods/NAME/log` would answer with these options
    /// (`since_seconds` counted back from the capture time); `timestamps` keeps each line's
    /// RFC 3339 prefix.
    pub fn logs(
        &self,
        namespace: &str,
        pod: &str,
        options: &LogOptions,
        timestamps: bool,
    ) -> Result<Logs, Error> {
        let pods = Resource::new("v1", "Pod", "pods", true);
        let path = format!("{}/log", pods.object_path(namespace, pod)?);
        let object = self.get(&pods, namespace, pod)?;
        let bad = |message: String| {
            api(
                "GET",
                path.clone(),
                failure(400, "BadRequest", message, None),
            )
        };
        let names = |field: &str| -> Vec<String> {
            object["spec"][field]
                .as_array()
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
        let container = match options.container.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => c.to_string(),
            None if containers.len() == 1 => containers[0].clone(),
            None => {
                // The API server's wording (pkg/registry/core/pod: validateContainer).
                let mut msg = format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
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
                return Err(bad(msg));
            }
        };
        if ![&containers, &init, &ephemeral]
            .iter()
            .any(|list| list.contains(&container))
        {
            return Err(bad(format!(
                "container {container} is not valid for pod {pod}"
            )));
        }
        let entry = self.logs.iter().find(|l| {
            l.header.namespace == namespace
                && l.header.pod == pod
                && l.header.container == container
                && l.header.previous == options.previous
        });
        let Some(entry) = entry else {
            // The saved status tells when there is no previous instance at all: the kubelet's
            // answer is then known without having asked.
            if options.previous && !has_previous(&object, &container) {
                return Err(bad(format!(
                    "previous terminated container \"{container}\" in pod \"{pod}\" not found"
                )));
            }
            return Err(Error::NotCaptured(format!(
                "no {}log of container {container} of pod {namespace}/{pod} was captured (logs \
                 are saved for the Flux controllers and for pods that are failing)",
                if options.previous { "previous " } else { "" }
            )));
        };
        if !entry.header.refused.is_empty() {
            return Err(bad(entry.header.refused.clone()));
        }
        let text = self.bytes(entry.start, entry.len);
        let captured = self
            .captured
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let since = options
            .since_seconds
            .map(|s| captured - i64::try_from(s.max(1)).unwrap_or(i64::MAX / 2));
        let mut lines: Vec<&[u8]> = text
            .split_inclusive(|&b| b == b'\n')
            .filter(|l| since.is_none_or(|s| stamp(l).is_none_or(|(t, _)| t >= s)))
            .collect();
        if let Some(n) = options.tail_lines {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
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
        // What the kubelet and the client make of the byte limit together.
        let cap = options.limit_bytes.unwrap_or(DEFAULT_LOG_CAP);
        let sent = match options.limit_bytes {
            Some(l) => body.len().min(usize::try_from(l).unwrap_or(usize::MAX)),
            None => body.len(),
        };
        body.truncate(sent);
        let truncated =
            body.len() as u64 > cap || options.limit_bytes.is_some_and(|l| body.len() as u64 >= l);
        body.truncate(usize::try_from(cap).unwrap_or(usize::MAX));
        Ok(Logs {
            text: String::from_utf8_lossy(&body).into_owned(),
            truncated,
        })
    }

    /// Pod metrics as `kube::client::Client::pod_metrics` reads them: unavailable when the
    /// cluster did not serve `metrics.k8s.io` (or served it stale) at capture time.
    pub fn pod_metrics(
        &self,
        namespace: Option<&str>,
        selection: &PodSelection,
    ) -> Result<Vec<Value>, Error> {
        const GROUP: &str = "metrics.k8s.io";
        let prefix = format!("{GROUP}/");
        if let Some(f) = self
            .discovery
            .failures()
            .iter()
            .find(|f| f.group_version.starts_with(&prefix))
        {
            return Err(Error::MetricsUnavailable {
                detail: format!(
                    "{} is registered but not answering: {}",
                    f.group_version, f.error
                ),
            });
        }
        if !self.discovery.has_group(GROUP) {
            return Err(Error::MetricsUnavailable {
                detail: "the server does not list the metrics.k8s.io API group".into(),
            });
        }
        let resource = Resource::new("metrics.k8s.io/v1beta1", "PodMetrics", "pods", true);
        match selection {
            PodSelection::Named(name) => {
                let ns = namespace.ok_or_else(|| {
                    Error::InvalidRequest("a namespace is required to get one pod's metrics".into())
                })?;
                self.get(&resource, ns, name).map(|v| vec![v])
            }
            PodSelection::Matching {
                label_selector,
                limit,
            } => {
                let mut out = Vec::new();
                self.list(
                    &resource,
                    &ListOptions {
                        namespace: namespace.map(str::to_string),
                        label_selector: label_selector.clone(),
                        limit: *limit,
                        ..ListOptions::default()
                    },
                    |v| {
                        out.push(v);
                        ControlFlow::Continue(())
                    },
                )?;
                Ok(out)
            }
        }
    }
}

/// The API server's 404 for a missing object: `gitrepositories.source.toolkit.fluxcd.io "x"
/// not found`, with the details clients read.
fn not_found(method: &'static str, path: String, resource: &Resource, name: &str) -> Error {
    api(
        method,
        path,
        failure(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(resource)),
            Some(StatusDetails {
                name: name.to_string(),
                group: resource.group.clone(),
                kind: resource.plural.clone(),
                ..StatusDetails::default()
            }),
        ),
    )
}

fn page_error(path: &str, e: PageError) -> Error {
    api("GET", path.to_string(), e.status())
}

/// A log line's leading RFC 3339 timestamp (Unix seconds) and where the rest starts.
fn stamp(line: &[u8]) -> Option<(i64, usize)> {
    let end = line.iter().position(|&b| b == b' ')?;
    let text = std::str::from_utf8(&line[..end]).ok()?;
    let (seconds, _) = crate::kube::time::parse_rfc3339(text)?;
    Some((seconds, end + 1))
}

/// Every core Secret in `v` (itself, or nested: a ResourceSet's resources, a List) gets its
/// `<masked: N bytes>` values back as N bytes of [`FILLER`]: the size the tools print is the
/// one the cluster had.
pub(crate) fn expand_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let secret = map.get("kind").and_then(Value::as_str) == Some("Secret")
                && map.get("apiVersion").and_then(Value::as_str) == Some("v1");
            if secret {
                for (field, base64) in [("data", true), ("stringData", false)] {
                    let Some(values) = map.get_mut(field).and_then(Value::as_object_mut) else {
                        continue;
                    };
                    for value in values.values_mut() {
                        let Some(size) = value.as_str().and_then(masked_size) else {
                            continue;
                        };
                        let bytes: Vec<u8> = FILLER.iter().copied().cycle().take(size).collect();
                        *value = Value::String(if base64 {
                            base64::engine::general_purpose::STANDARD.encode(&bytes)
                        } else {
                            String::from_utf8_lossy(&bytes).into_owned()
                        });
                    }
                }
            }
            for child in map.values_mut() {
                expand_secrets(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_secrets),
        _ => {}
    }
}

/// N in `<masked: N bytes>`, when N is a size a Secret value can have.
fn masked_size(text: &str) -> Option<usize> {
    let n: usize = text
        .strip_prefix("<masked: ")?
        .strip_suffix(" bytes>")?
        .parse()
        .ok()?;
    (n <= MAX_SECRET_VALUE).then_some(n)
}

/// Whether the pod's saved status shows an earlier instance of `container` (a restart, or a
/// last terminated state), whose log `previous` reads.
fn has_previous(pod: &Value, container: &str) -> bool {
    [
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| pod["status"][*k].as_array())
    .flatten()
    .filter(|s| s["name"] == container)
    .any(|s| {
        s["restartCount"].as_u64().unwrap_or(0) > 0 || s["lastState"]["terminated"].is_object()
    })
}
