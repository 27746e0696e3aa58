//! `get_kubernetes_events`: the events of a namespace, of a kind, or of one object, filtered
//! by type (by the API server), age and a `grep` pattern (here), repeated events folded into
//! one entry with their count, newest last, each message byte for byte as the API server sent
//! it (a literal block scalar where a plain one would need escaping).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::cluster::{self, Cluster};
use super::grep::Grep;
use super::objects::{events, yaml};
use super::pods::{self, plural, text};
use super::{Args, Ctx, Tool, ToolError, flux};
use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_events",
    title: "Get Kubernetes events",
    description: "Gets Kubernetes events as YAML, newest last: those of one object (kind and \
        name), of a kind, or of a whole namespace (all namespaces when neither namespace nor \
        name is given). Filters: type (Warning or Normal), since (a Go duration such as 30m or \
        2h), grep (case-insensitive, over reason, message and Kind/namespace/name: a substring \
        or a regular expression such as fail|error). Repeated events are folded into one entry \
        with their count and first time. Messages are verbatim. The answer says the total and \
        whether it was cut to limit (default 100, the newest kept).",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::Read,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {
                "type": "string",
                "description": "API version or group of kind, e.g. helm.toolkit.fluxcd.io/v2; \
                    optional, the kind is looked up."
            },
            "kind": {
                "type": "string",
                "description": "Kind of the involved object, e.g. HelmRelease, Kustomization, Pod \
                    (plural and short names work too)."
            },
            "name": {
                "type": "string",
                "description": "Name of the involved object; with a kind, its events only."
            },
            "namespace": {
                "type": "string",
                "description": "Namespace; default: all namespaces, or the context's namespace \
                    when name is given."
            },
            "type": {
                "type": "string",
                "enum": ["Normal", "Warning"],
                "description": "Only events of this type."
            },
            "since": {
                "type": "string",
                "description": "Only events seen within this Go duration, e.g. 15m, 1h, 2h30m."
            },
            "grep": {
                "type": "string",
                "description": "Case-insensitive filter over reason, message and \
                    Kind/namespace/name: a substring, or a regular expression (RE2 syntax subset: \
                    | . * + ? [] () {n,m} ^ $ \\d \\w \\s \\b)."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_LIMIT,
                "description": "At most this many (folded) events, the newest."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": [],
        "additionalProperties": false
    })
}

const DEFAULT_LIMIT: u64 = 100;
/// Events read per call: a bound for a cluster with a hundred thousand of them. The API lists
/// by namespace and name, not by time, so the answer says when it was reached.
const MAX_SCANNED: usize = 10_000;

/// What the caller asked for, checked.
struct Query<'a> {
    resource: Option<Resource>,
    /// The group of an explicit apiVersion (or of the resolved kind): events of a same-named
    /// kind of another group are left out.
    group: Option<String>,
    name: Option<&'a str>,
    /// `None`: all namespaces.
    namespace: Option<String>,
    event_type: Option<&'static str>,
    /// The cut-off and its text as given.
    since: Option<(Duration, &'a str)>,
    grep: Option<Grep>,
    limit: usize,
    /// `--mask-secrets`: credential-shaped text in messages is masked (before `grep` sees it,
    /// so a pattern cannot probe a masked value).
    mask: bool,
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let api_version = args.opt_str("apiVersion")?.map(str::trim);
    let kind = args.opt_str("kind")?.map(str::trim);
    let name = args.opt_str("name")?.map(str::trim);
    let namespace = args.opt_str("namespace")?.map(str::trim);
    let event_type = match args.opt_str("type")?.map(str::trim) {
        None => None,
        Some(t) if t.eq_ignore_ascii_case("warning") => Some("Warning"),
        Some(t) if t.eq_ignore_ascii_case("normal") => Some("Normal"),
        Some(t) => {
            return Err(ToolError::InvalidArgument(format!(
                "type {t:?} is not an event type: use Warning or Normal"
            )));
        }
    };
    let since = match args.opt_duration("since")? {
        Some(d) => Some((d, args.opt_str("since")?.map(str::trim).unwrap_or_default())),
        None => None,
    };
    let grep = args
        .opt_str("grep")?
        .map(Grep::new)
        .transpose()
        .map_err(|e| ToolError::InvalidArgument(e.to_string()))?;
    let limit = match args.opt_u64("limit")? {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n,
    };
    if api_version.is_some() && kind.is_none() {
        return Err(ToolError::InvalidArgument(
            "apiVersion needs kind: pass the kind of the involved object too".to_string(),
        ));
    }
    let cluster = ctx.cluster(args)?;
    let resource = kind
        .map(|k| flux::resolve_kind(&cluster, api_version, k))
        .transpose()
        .map_err(|e| cluster.error(e))?;
    // Events of cluster-scoped objects are recorded in `default` (client-go's recorder) or
    // wherever their reporter chose: look everywhere.
    let namespaced = resource.as_ref().is_none_or(|r| r.namespaced);
    let namespace = match (namespace, name) {
        (Some(ns), _) if namespaced => Some(ns.to_string()),
        (None, Some(_)) if namespaced => Some(cluster.default_namespace().to_string()),
        _ => None,
    };
    let query = Query {
        group: resource.as_ref().map(|r| r.group.clone()),
        resource,
        name,
        namespace,
        event_type,
        since,
        grep,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        mask: ctx.settings.mask_secrets,
    };
    // The object (for its uid) and its events are read at once: the list is filtered by
    // name on the server and by uid here, after both answered. The object's error, if any,
    // comes first, as when they were read in turn.
    let (uid, found) = match (&query.resource, query.name) {
        (Some(r), Some(n)) => {
            let (uid, found) = cluster::both(
                || object_uid(&cluster, r, query.namespace.as_deref(), n),
                || collect_all(&cluster, &query),
            );
            (uid?, found)
        }
        _ => (None, collect_all(&cluster, &query)),
    };
    let found = found.and_then(|all| fold(all, uid.as_deref()))?;
    Ok(render(&cluster, &query, found))
}

/// The uid of the object the events are asked for, so that events of an earlier object of
/// the same name are left out. A missing object is an error that names close names; an object
/// this identity cannot read (events may still be readable) is looked up by name only.
fn object_uid(
    cluster: &Cluster,
    resource: &Resource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<String>, ToolError> {
    let ns = namespace.unwrap_or("");
    match cluster.get(resource, ns, name) {
        Ok(obj) => Ok(obj["metadata"]["uid"].as_str().map(str::to_string)),
        Err(e) if e.is_not_found() => Err(ToolError::Failed(pods::object_not_found(
            cluster, resource, ns, name,
        ))),
        Err(e) if e.is_forbidden() => Ok(None),
        Err(e) => Err(cluster.error(e)),
    }
}

/// Events folded by involved object, type, reason and message.
#[derive(Debug)]
struct Folded {
    object: String,
    event_type: String,
    reason: String,
    message: String,
    count: u64,
    first: (String, (i64, u32)),
    last: (String, (i64, u32)),
}

/// What the list gave.
struct Found {
    /// Oldest first.
    events: Vec<Folded>,
    scanned: usize,
    /// The scan stopped at [`MAX_SCANNED`].
    capped: bool,
}

/// Events folded by involved object (and its uid), type, reason and message, as listed.
struct Listed {
    by_uid: HashMap<FoldKey, Folded>,
    scanned: usize,
    capped: bool,
}

/// `(uid, object, type, reason, message)`: the uid is kept apart until it is known which
/// object the events are asked for (the object is read at the same time as its events).
type FoldKey = (String, String, String, String, String);

/// Lists the events `q` asks for, folded, before the uid filter (see [`fold`]).
fn collect_all(cluster: &Cluster, q: &Query) -> Result<Listed, ToolError> {
    let mut selector = Vec::new();
    if let Some(r) = &q.resource {
        selector.push(format!("involvedObject.kind={}", r.kind));
    }
    if let Some(n) = q.name {
        selector.push(format!("involvedObject.name={n}"));
    }
    if let Some(t) = q.event_type {
        selector.push(format!("type={t}"));
    }
    let options = ListOptions {
        namespace: q.namespace.clone(),
        field_selector: (!selector.is_empty()).then(|| selector.join(",")),
        ..ListOptions::default()
    };
    let cutoff = q.since.map(|(d, _)| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |t| t.as_secs());
        (
            i64::try_from(now.saturating_sub(d.as_secs())).unwrap_or(0),
            0u32,
        )
    });
    let mut by_uid: HashMap<FoldKey, Folded> = HashMap::new();
    let mut scanned = 0;
    let mut capped = false;
    let events = Resource::new("v1", "Event", "events", true);
    cluster
        .list(&events, &options, |e| {
            scanned += 1;
            if scanned > MAX_SCANNED {
                capped = true;
                return ControlFlow::Break(());
            }
            if let Some(f) = keep(q, cutoff, &e) {
                let uid = text(&e["involvedObject"], "/uid").to_string();
                let key = (
                    uid,
                    f.object.clone(),
                    f.event_type.clone(),
                    f.reason.clone(),
                    f.message.clone(),
                );
                match by_uid.get_mut(&key) {
                    Some(g) => g.absorb(f),
                    None => {
                        by_uid.insert(key, f);
                    }
                }
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| cluster.error(e))?;
    Ok(Listed {
        by_uid,
        scanned: scanned.min(MAX_SCANNED),
        capped,
    })
}

/// The listed events of the object with `uid` (and those that name no uid; every one for
/// `None`), folded by involved object, type, reason and message, oldest first.
fn fold(listed: Listed, uid: Option<&str>) -> Result<Found, ToolError> {
    let mut folded: HashMap<(String, String, String, String), Folded> = HashMap::new();
    for ((event_uid, object, event_type, reason, message), f) in listed.by_uid {
        if let Some(uid) = uid
            && !event_uid.is_empty()
            && event_uid != uid
        {
            continue;
        }
        match folded.get_mut(&(
            object.clone(),
            event_type.clone(),
            reason.clone(),
            message.clone(),
        )) {
            Some(g) => g.absorb(f),
            None => {
                folded.insert((object, event_type, reason, message), f);
            }
        }
    }
    let mut events: Vec<Folded> = folded.into_values().collect();
    events.sort_by(|a, b| {
        (a.last.1, &a.object, &a.reason, &a.message)
            .cmp(&(b.last.1, &b.object, &b.reason, &b.message))
    });
    Ok(Found {
        events,
        scanned: listed.scanned,
        capped: listed.capped,
    })
}

impl Folded {
    /// Adds another entry of the same object, type, reason and message.
    fn absorb(&mut self, f: Folded) {
        self.count += f.count;
        if f.first.1 < self.first.1 {
            self.first = f.first;
        }
        if f.last.1 > self.last.1 {
            self.last = f.last;
        }
    }
}

/// One event as a [`Folded`] entry, or `None` when a filter leaves it out.
fn keep(q: &Query, cutoff: Option<(i64, u32)>, e: &Value) -> Option<Folded> {
    let involved = &e["involvedObject"];
    if let Some(group) = &q.group {
        let api_version = text(involved, "/apiVersion");
        let event_group = api_version.split_once('/').map_or("", |(g, _)| g);
        if !api_version.is_empty() && event_group != group {
            return None;
        }
    }
    let event_type = text(e, "/type");
    if q.event_type.is_some_and(|t| t != event_type) {
        return None;
    }
    let last = events::last_seen(e);
    if cutoff.is_some_and(|c| last.1 < c) {
        return None;
    }
    let namespace = involved["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_default();
    let object = if namespace.is_empty() {
        format!("{}/{}", text(involved, "/kind"), text(involved, "/name"))
    } else {
        format!(
            "{}/{namespace}/{}",
            text(involved, "/kind"),
            text(involved, "/name")
        )
    };
    let reason = text(e, "/reason");
    // The message stays byte for byte, except a credential-shaped value in it (a
    // `password=` pair, a bearer token) that masking replaces with its placeholder.
    let message = if q.mask {
        crate::redact::mask(text(e, "/message"))
    } else {
        std::borrow::Cow::Borrowed(text(e, "/message"))
    };
    let message = message.as_ref();
    if let Some(g) = &q.grep
        && !(g.is_match(reason) || g.is_match(message) || g.is_match(&object))
    {
        return None;
    }
    Some(Folded {
        object,
        event_type: event_type.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        count: events::count(e),
        first: events::first_seen(e),
        last,
    })
}

/// `of HelmRelease apps/podinfo`, `of Kustomization objects in namespace apps`, `in all
/// namespaces`: what was listed, for the first line.
fn scope(q: &Query) -> String {
    let place = match &q.namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "in all namespaces".to_string(),
    };
    match (&q.resource, q.name) {
        (Some(r), Some(n)) => match &q.namespace {
            Some(ns) => format!("of {} {ns}/{n}", r.kind),
            None => format!("of {} {n}", r.kind),
        },
        (Some(r), None) => format!("of {} objects {place}", r.kind),
        (None, Some(n)) => format!("of objects named {n} {place}"),
        (None, None) => place,
    }
}

/// `, type Warning, seen within 1h, matching "x"`: the filters, for the first line.
fn filters(q: &Query) -> String {
    let mut out = String::new();
    if let Some(t) = q.event_type {
        let _ = write!(out, ", type {t}");
    }
    if let Some((_, s)) = q.since {
        let _ = write!(out, ", seen within {s}");
    }
    if let Some(g) = &q.grep {
        let _ = write!(out, ", matching {:?}", g.pattern());
    }
    out
}

fn render(cluster: &Cluster, q: &Query, found: Found) -> String {
    let filters = filters(q);
    let scope = scope(q);
    let mut notes = Vec::new();
    if found.capped {
        notes.push(format!(
            "only the first {MAX_SCANNED} events listed were read (the API lists them by \
             namespace and name, not by time): narrow with namespace, kind, name or type"
        ));
    }
    if found.events.is_empty() {
        let mut out = format!(
            "No events found {scope} of context {}{filters}. Events expire (one hour by \
             default, kube-apiserver --event-ttl), so an old problem may have none left.\n",
            cluster.context()
        );
        for n in notes {
            out.push_str(&yaml::comment(&format!("note: {n}")));
        }
        return out;
    }
    let total = found.events.len();
    let shown = total.min(q.limit);
    let one_object = q.resource.is_some() && q.name.is_some();
    let mut out = yaml::comment(&format!(
        "Events {scope} of context {}{filters}, newest last ({} read).",
        cluster.context(),
        plural(found.scanned, "event")
    ));
    for n in notes {
        out.push_str(&yaml::comment(&format!("note: {n}")));
    }
    let _ = writeln!(out, "total: {total}");
    if shown < total {
        let _ = writeln!(
            out,
            "truncated: true  # the {shown} newest shown; raise limit or narrow with since, type, \
             grep or name"
        );
    } else {
        out.push_str("truncated: false\n");
    }
    out.push_str("events:\n");
    for e in &found.events[total - shown..] {
        yaml::field(&mut out, "- ", "time", &e.last.0);
        if !e.event_type.is_empty() {
            yaml::field(&mut out, "  ", "type", &e.event_type);
        }
        if !e.reason.is_empty() {
            yaml::field(&mut out, "  ", "reason", &e.reason);
        }
        if !one_object {
            yaml::field(&mut out, "  ", "object", &e.object);
        }
        if e.count > 1 {
            let _ = writeln!(out, "  count: {}", e.count);
            if !e.first.0.is_empty() && e.first.0 != e.last.0 {
                yaml::field(&mut out, "  ", "first", &e.first.0);
            }
        }
        yaml::field(&mut out, "  ", "message", &e.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query<'static> {
        Query {
            resource: None,
            group: None,
            name: None,
            namespace: Some("apps".into()),
            event_type: None,
            since: None,
            grep: None,
            limit: 100,
            mask: true,
        }
    }

    fn event(kind: &str, name: &str, uid: &str, last: &str, message: &str) -> Value {
        json!({
            "involvedObject": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": kind,
                               "name": name, "namespace": "apps", "uid": uid},
            "metadata": {"namespace": "apps", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "type": "Warning", "reason": "InstallFailed", "message": message,
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": last, "count": 3
        })
    }

    /// The events of `log`, listed and folded as `collect_all` does, then kept for `uid`.
    fn folded(log: &[Value], uid: Option<&str>) -> Vec<(String, String, u64)> {
        let q = query();
        let mut by_uid: HashMap<FoldKey, Folded> = HashMap::new();
        for e in log {
            let f = keep(&q, None, e).expect("kept");
            let key = (
                text(&e["involvedObject"], "/uid").to_string(),
                f.object.clone(),
                f.event_type.clone(),
                f.reason.clone(),
                f.message.clone(),
            );
            match by_uid.get_mut(&key) {
                Some(g) => g.absorb(f),
                None => {
                    by_uid.insert(key, f);
                }
            }
        }
        let listed = Listed {
            by_uid,
            scanned: log.len(),
            capped: false,
        };
        fold(listed, uid)
            .expect("fold")
            .events
            .into_iter()
            .map(|f| (f.object, f.message, f.count))
            .collect()
    }

    #[test]
    fn the_uid_filter_keeps_the_objects_own_events_and_those_naming_no_uid() {
        let log = [
            event(
                "HelmRelease",
                "redis",
                "old",
                "2026-01-01T01:00:00Z",
                "boom",
            ),
            event(
                "HelmRelease",
                "redis",
                "new",
                "2026-01-01T02:00:00Z",
                "boom",
            ),
            event("HelmRelease", "redis", "", "2026-01-01T03:00:00Z", "boom"),
            event(
                "HelmRelease",
                "redis",
                "new",
                "2026-01-01T04:00:00Z",
                "later",
            ),
        ];
        let redis = "HelmRelease/apps/redis".to_string();
        assert_eq!(
            folded(&log, Some("new")),
            [
                (redis.clone(), "boom".to_string(), 6),
                (redis.clone(), "later".to_string(), 3)
            ],
            "the old object's events are left out; the same message folds across entries"
        );
        assert_eq!(
            folded(&log, None),
            [
                (redis.clone(), "boom".to_string(), 9),
                (redis, "later".to_string(), 3)
            ],
            "without a uid every object of the name folds together"
        );
    }

    #[test]
    fn filters_apply_to_the_event_and_its_object() {
        let e = event(
            "HelmRelease",
            "redis",
            "u1",
            "2026-01-01T01:00:00Z",
            "context deadline",
        );
        let q = query();
        let f = keep(&q, None, &e).expect("kept");
        assert_eq!(f.object, "HelmRelease/apps/redis");
        assert_eq!(f.count, 3);
        let cutoff = crate::kube::time::parse_rfc3339("2026-01-01T02:00:00Z");
        assert!(keep(&q, cutoff, &e).is_none(), "older than since");
        let q = Query {
            grep: Grep::new("helmrelease/apps/red").ok(),
            ..query()
        };
        assert!(keep(&q, None, &e).is_some(), "grep reads the object");
        let q = Query {
            grep: Grep::new("^deadline").ok(),
            ..query()
        };
        assert!(keep(&q, None, &e).is_none());
        let q = Query {
            grep: Grep::new("deadline$").ok(),
            ..query()
        };
        assert!(keep(&q, None, &e).is_some(), "$ ends the message");
        let q = Query {
            group: Some("source.toolkit.fluxcd.io".into()),
            ..query()
        };
        assert!(keep(&q, None, &e).is_none(), "a kind of another group");
        let q = Query {
            event_type: Some("Normal"),
            ..query()
        };
        assert!(keep(&q, None, &e).is_none());
    }

    #[test]
    fn credential_shaped_text_in_messages_is_masked_before_grep_unless_off() {
        let message = "auth failed for url https://git/x: password=hunter2hunter2 rejected";
        let e = event(
            "GitRepository",
            "app",
            "u1",
            "2026-01-01T01:00:00Z",
            message,
        );
        let f = keep(&query(), None, &e).expect("kept");
        assert_eq!(
            f.message,
            "auth failed for url https://git/x: password=<masked: 14 bytes> rejected"
        );
        let probe = Query {
            grep: Grep::new("hunter2").ok(),
            ..query()
        };
        assert!(keep(&probe, None, &e).is_none(), "grep cannot probe it");
        let off = Query {
            mask: false,
            ..query()
        };
        assert_eq!(keep(&off, None, &e).expect("kept").message, message);
        // Nothing credential-shaped: byte for byte.
        let plain = event(
            "X",
            "a",
            "u",
            "2026-01-01T01:00:00Z",
            "secret \"db\" not found: 'x'",
        );
        assert_eq!(
            keep(&query(), None, &plain).expect("kept").message,
            "secret \"db\" not found: 'x'"
        );
    }
}
