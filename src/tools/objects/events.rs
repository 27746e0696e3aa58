//! Recent events of Flux objects, fetched in bulk: one Events LIST per namespace (or one for
//! the whole cluster) filtered by the server on `involvedObject.kind` and
//! `reason!=ReconciliationSucceeded` (the success noise a controller emits on every interval),
//! grouped here by involved object, oldest to newest, the last few kept, messages verbatim;
//! and the one-line form the lean output gives each event.

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde_json::{Map, Value, json};

use crate::kube::discovery::Resource;
use crate::kube::list::ListOptions;
use crate::kube::time::parse_rfc3339;
use crate::tools::Cluster;

/// Events kept per object (the most recent).
pub const PER_OBJECT: usize = 10;

/// The reason controllers give to every successful reconciliation: left out, as upstream does.
const SUCCESS_REASON: &str = "ReconciliationSucceeded";

/// Which events to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every namespace in one request.
    AllNamespaces,
    Namespace(&'a str),
    /// One object's events only.
    Object {
        namespace: &'a str,
        name: &'a str,
    },
}

/// The events of one kind, grouped by involved object.
#[derive(Debug, Default)]
pub struct Events {
    by_object: HashMap<(String, String), Vec<Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    uid: Option<String>,
    /// When it last happened, for sorting (seconds, nanoseconds since the epoch).
    at: (i64, u32),
    line: Map<String, Value>,
}

/// `involvedObject.kind=<kind>,reason!=ReconciliationSucceeded` plus the object's name when
/// one object is wanted. Kubernetes names and kinds hold no `,`, `=` or `\`, so no escaping.
pub fn field_selector(kind: &str, name: Option<&str>) -> String {
    let mut s = format!("involvedObject.kind={kind},reason!={SUCCESS_REASON}");
    if let Some(n) = name {
        s.push_str(",involvedObject.name=");
        s.push_str(n);
    }
    s
}

/// Lists the events of `kind` in `scope`, grouped. The list streams: only the kept events of
/// each object are held.
pub fn fetch(cluster: &Cluster, kind: &str, scope: Scope) -> Result<Events, crate::kube::Error> {
    let resource = Resource::new("v1", "Event", "events", true);
    let (namespace, name) = match scope {
        Scope::AllNamespaces => (None, None),
        Scope::Namespace(ns) => (Some(ns.to_string()), None),
        Scope::Object { namespace, name } => (Some(namespace.to_string()), Some(name)),
    };
    let options = ListOptions {
        namespace,
        field_selector: Some(field_selector(kind, name)),
        ..ListOptions::default()
    };
    let mut events = Events::default();
    cluster.list(&resource, &options, |event| {
        events.add(&event);
        ControlFlow::Continue(())
    })?;
    Ok(events)
}

impl Events {
    /// Files one Event under its involved object (a `reason` of ReconciliationSucceeded is
    /// dropped here too, for servers that ignore the field selector).
    pub fn add(&mut self, event: &Value) {
        let reason = event["reason"].as_str().unwrap_or("");
        if reason == SUCCESS_REASON {
            return;
        }
        let involved = &event["involvedObject"];
        let (Some(name), namespace) = (
            involved["name"].as_str(),
            involved["namespace"]
                .as_str()
                .filter(|ns| !ns.is_empty())
                .or(event["metadata"]["namespace"].as_str())
                .unwrap_or(""),
        ) else {
            return;
        };
        let (time, at) = last_seen(event);
        let mut line = Map::new();
        line.insert("time".into(), json!(time));
        for (key, from) in [
            ("type", "type"),
            ("reason", "reason"),
            ("message", "message"),
        ] {
            if let Some(v) = event[from].as_str().filter(|s| !s.is_empty()) {
                line.insert(key.into(), json!(v));
            }
        }
        let count = count(event);
        if count > 1 {
            line.insert("count".into(), json!(count));
        }
        let list = self
            .by_object
            .entry((namespace.to_string(), name.to_string()))
            .or_default();
        list.push(Entry {
            uid: involved["uid"].as_str().map(str::to_string),
            at,
            line,
        });
        if list.len() >= PER_OBJECT * 4 {
            keep_latest(list, PER_OBJECT);
        }
    }

    /// Moves every event of `other` into this collection.
    pub fn absorb(&mut self, other: &mut Events) {
        for (key, mut list) in other.by_object.drain() {
            let mine = self.by_object.entry(key).or_default();
            mine.append(&mut list);
            keep_latest(mine, PER_OBJECT);
        }
    }

    /// The events of one object, oldest first, at most [`PER_OBJECT`], as `{time, type,
    /// reason, message[, count]}`. Events that name another uid belong to an earlier object of
    /// the same name and are left out.
    pub fn take(&mut self, namespace: &str, name: &str, uid: Option<&str>) -> Vec<Value> {
        let Some(mut list) = self
            .by_object
            .remove(&(namespace.to_string(), name.to_string()))
        else {
            return Vec::new();
        };
        if let Some(uid) = uid {
            list.retain(|e| e.uid.as_deref().is_none_or(|u| u == uid));
        }
        keep_latest(&mut list, PER_OBJECT);
        list.into_iter().map(|e| Value::Object(e.line)).collect()
    }
}

/// One event, as [`Events::take`] gives it, in the line the lean output shows:
/// `<time> <type> <reason> (x<count>): <message>`, the count only when above one, and
/// `same message as the <type> condition` instead of a message that a condition of the
/// object carries word for word (controllers record both; the condition holds it verbatim).
pub fn line(event: &Value, same_as_condition: Option<&str>) -> String {
    let mut out = String::new();
    for key in ["time", "type", "reason"] {
        if let Some(v) = event[key].as_str().filter(|v| !v.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(v);
        }
    }
    if let Some(n) = event["count"].as_u64().filter(|&n| n > 1) {
        out.push_str(&format!(" (x{n})"));
    }
    let message = match same_as_condition {
        Some(kind) => Some(format!("same message as the {kind} condition")),
        None => event["message"].as_str().map(str::to_string),
    };
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        out.push_str(": ");
        out.push_str(&m);
    }
    out
}

/// Sorts oldest first (ties keep list order) and keeps the last `n`.
fn keep_latest(list: &mut Vec<Entry>, n: usize) {
    list.sort_by_key(|e| e.at);
    if list.len() > n {
        list.drain(..list.len() - n);
    }
}

/// How often an event happened: it tells a one-off from a loop. Events written through
/// events.k8s.io count in `series.count`, older ones in `count`; at least 1.
pub fn count(event: &Value) -> u64 {
    event["series"]["count"]
        .as_u64()
        .or(event["count"].as_u64())
        .unwrap_or(1)
        .max(1)
}

/// The time an event first happened, as the API wrote it, and as a sort key:
/// `firstTimestamp`, else `eventTime` (events.k8s.io), else creation.
pub fn first_seen(event: &Value) -> (String, (i64, u32)) {
    first_parsed(&[
        &event["firstTimestamp"],
        &event["eventTime"],
        &event["metadata"]["creationTimestamp"],
    ])
}

/// The first of `candidates` that is an RFC 3339 time, as written and as a sort key.
fn first_parsed(candidates: &[&Value]) -> (String, (i64, u32)) {
    for c in candidates {
        if let Some(text) = c.as_str()
            && let Some(at) = parse_rfc3339(text)
        {
            return (text.to_string(), at);
        }
    }
    (String::new(), (i64::MIN, 0))
}

/// The time an event last happened, as the API wrote it, and as a sort key: the series'
/// last observation (events.k8s.io/v1 semantics), else `lastTimestamp`, else `eventTime`,
/// else `firstTimestamp`, else creation.
pub fn last_seen(event: &Value) -> (String, (i64, u32)) {
    first_parsed(&[
        &event["series"]["lastObservedTime"],
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["firstTimestamp"],
        &event["metadata"]["creationTimestamp"],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, uid: Option<&str>, reason: &str, last: &str, msg: &str) -> Value {
        json!({
            "involvedObject": {"kind": "Kustomization", "name": name, "namespace": "ns", "uid": uid},
            "metadata": {"namespace": "ns", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "reason": reason, "type": "Warning", "message": msg,
            "lastTimestamp": last, "count": 2,
        })
    }

    #[test]
    fn events_are_grouped_sorted_and_capped() {
        let mut ev = Events::default();
        for i in (0..15).rev() {
            ev.add(&event(
                "a",
                Some("u1"),
                "Failed",
                &format!("2026-01-01T00:00:{i:02}Z"),
                &format!("m{i}"),
            ));
        }
        ev.add(&event(
            "a",
            Some("u1"),
            "ReconciliationSucceeded",
            "2026-01-01T00:01:00Z",
            "ok",
        ));
        ev.add(&event(
            "b",
            None,
            "Progressing",
            "2026-01-01T00:00:00Z",
            "other",
        ));
        let a = ev.take("ns", "a", Some("u1"));
        let messages: Vec<&str> = a.iter().map(|e| e["message"].as_str().unwrap()).collect();
        assert_eq!(
            messages,
            (5..15).map(|i| format!("m{i}")).collect::<Vec<_>>()
        );
        assert_eq!(
            a[0],
            json!({"time": "2026-01-01T00:00:05Z", "type": "Warning", "reason": "Failed",
                   "message": "m5", "count": 2})
        );
        assert_eq!(
            ev.take("ns", "b", Some("any")).len(),
            1,
            "no uid on the event: kept"
        );
        assert!(ev.take("ns", "a", Some("u1")).is_empty(), "taken once");
    }

    #[test]
    fn events_of_an_earlier_object_with_the_same_name_are_left_out() {
        let mut ev = Events::default();
        ev.add(&event(
            "a",
            Some("old"),
            "Failed",
            "2026-01-01T00:00:00Z",
            "before",
        ));
        ev.add(&event(
            "a",
            Some("new"),
            "Failed",
            "2026-01-01T00:00:01Z",
            "after",
        ));
        let a = ev.take("ns", "a", Some("new"));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0]["message"], "after");
    }

    #[test]
    fn an_event_is_one_line_with_its_message_verbatim() {
        let e = json!({"time": "2026-11-21T05:21:00Z", "type": "Warning",
                       "reason": "ArtifactFailed", "message": "a: b\nsecond line", "count": 20});
        assert_eq!(
            line(&e, None),
            "2026-11-21T05:21:00Z Warning ArtifactFailed (x20): a: b\nsecond line"
        );
        assert_eq!(
            line(&e, Some("Ready")),
            "2026-11-21T05:21:00Z Warning ArtifactFailed (x20): same message as the Ready condition"
        );
        let once = json!({"time": "t", "type": "Normal", "reason": "Progressing", "count": 1});
        assert_eq!(line(&once, None), "t Normal Progressing");
    }

    #[test]
    fn series_time_wins_over_older_fields() {
        let e = json!({"eventTime": "2026-01-01T00:00:00.000001Z",
                       "series": {"count": 31, "lastObservedTime": "2026-01-01T01:00:00.5Z"},
                       "lastTimestamp": null});
        assert_eq!(last_seen(&e).0, "2026-01-01T01:00:00.5Z");
    }

    #[test]
    fn the_selector_filters_kind_and_success() {
        assert_eq!(
            field_selector("HelmRelease", None),
            "involvedObject.kind=HelmRelease,reason!=ReconciliationSucceeded"
        );
        assert_eq!(
            field_selector("HelmRelease", Some("redis")),
            "involvedObject.kind=HelmRelease,reason!=ReconciliationSucceeded,involvedObject.name=redis"
        );
    }
}
