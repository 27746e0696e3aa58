//! Server-side printing for `snapshot serve-api`: `meta.k8s.io/v1` Tables, which `kubectl get`
//! asks for (`Accept: ...;as=Table;v=v1;g=meta.k8s.io`). Custom resources get their CRD's
//! `additionalPrinterColumns` (a JSONPath subset: fields, `[n]`, `[*]`, `[?(@.a.b=="v")]`),
//! so `kubectl get kustomizations` shows READY and STATUS as on the cluster; the common
//! built-ins get the columns of kubectl's printers; anything else Name and Created At, as the
//! API server's default. Ages count to the capture time: the table describes the cluster as
//! it was then.

use serde_json::{Value, json};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace.";

/// What each row carries besides its cells (`?includeObject=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    /// The API server's values; anything else is its 400 message.
    pub fn parse(v: Option<&str>) -> Result<IncludeObject, String> {
        match v {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }
}

/// One column: name, type (`string`, `integer`, `date`, ...), JSONPath for printer columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub priority: i64,
    pub description: String,
    /// Set for a CRD's printer columns; built-in columns are computed.
    pub json_path: Option<String>,
}

fn col(name: &str, type_: &str, priority: i64) -> Column {
    Column {
        name: name.into(),
        type_: type_.into(),
        format: String::new(),
        priority,
        description: String::new(),
        json_path: None,
    }
}

/// A CRD's printer columns for `version` (its `spec.versions[].additionalPrinterColumns`).
pub fn crd_columns(crd: &Value, version: &str) -> Vec<Column> {
    let versions = crd["spec"]["versions"].as_array();
    let Some(v) = versions
        .into_iter()
        .flatten()
        .find(|v| v["name"] == version)
    else {
        return Vec::new();
    };
    v["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some(Column {
                name: c["name"].as_str()?.to_string(),
                type_: c["type"].as_str().unwrap_or("string").to_string(),
                format: c["format"].as_str().unwrap_or("").to_string(),
                priority: c["priority"].as_i64().unwrap_or(0),
                description: c["description"].as_str().unwrap_or("").to_string(),
                json_path: Some(c["jsonPath"].as_str()?.to_string()),
            })
        })
        .collect()
}

/// The columns of a built-in kind (empty: the default Created At table).
fn builtin_columns(group: &str, kind: &str) -> Vec<Column> {
    match (group, kind) {
        ("", "Pod") => vec![
            col("Ready", "string", 0),
            col("Status", "string", 0),
            col("Restarts", "string", 0),
            col("Age", "string", 0),
        ],
        ("apps", "Deployment") => vec![
            col("Ready", "string", 0),
            col("Up-to-date", "integer", 0),
            col("Available", "integer", 0),
            col("Age", "string", 0),
        ],
        ("apps", "ReplicaSet") => vec![
            col("Desired", "integer", 0),
            col("Current", "integer", 0),
            col("Ready", "integer", 0),
            col("Age", "string", 0),
        ],
        ("apps", "StatefulSet") => vec![col("Ready", "string", 0), col("Age", "string", 0)],
        ("", "Namespace") => vec![col("Status", "string", 0), col("Age", "string", 0)],
        ("", "Secret") => vec![
            col("Type", "string", 0),
            col("Data", "string", 0),
            col("Age", "string", 0),
        ],
        ("", "Event") => vec![
            col("Last Seen", "string", 0),
            col("Type", "string", 0),
            col("Reason", "string", 0),
            col("Object", "string", 0),
            col("Message", "string", 0),
        ],
        _ => vec![Column {
            description: "CreationTimestamp is a timestamp representing the server time when \
                          this object was created."
                .into(),
            ..col("Created At", "date", 0)
        }],
    }
}

fn num(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Seconds from an RFC 3339 time to `now` (Unix seconds), as kubectl prints ages.
fn age(timestamp: &str, now: i64) -> String {
    match crate::kube::time::parse_rfc3339(timestamp) {
        Some((t, _)) => human_duration(now - t),
        None => "<unknown>".into(),
    }
}

/// `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    let seconds = seconds.max(0);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let days = hours / 24;
    let years = days / 365;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            h => format!("{days}d{h}h"),
        }
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        match days % 365 {
            0 => format!("{years}y"),
            d => format!("{years}y{d}d"),
        }
    } else {
        format!("{years}y")
    }
}

fn builtin_cells(group: &str, kind: &str, o: &Value, now: i64) -> Vec<Value> {
    let created = age(text(o, "/metadata/creationTimestamp"), now);
    match (group, kind) {
        ("", "Pod") => {
            let statuses: Vec<&Value> = o["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .collect();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses.iter().filter(|s| s["ready"] == true).count();
            let restarts: i64 = statuses
                .iter()
                .map(|s| s["restartCount"].as_i64().unwrap_or(0))
                .sum();
            let waiting = statuses
                .iter()
                .find_map(|s| s["state"]["waiting"]["reason"].as_str());
            let terminated = statuses
                .iter()
                .find_map(|s| s["state"]["terminated"]["reason"].as_str());
            let status = waiting
                .or(terminated)
                .or(o["status"]["reason"].as_str())
                .unwrap_or(text(o, "/status/phase"));
            // As the API server's pod printer: the count, and how long ago the last
            // container restart finished.
            let last_restart = statuses
                .iter()
                .filter_map(|s| s["lastState"]["terminated"]["finishedAt"].as_str())
                .filter_map(|t| crate::kube::time::parse_rfc3339(t).map(|(at, _)| (at, t)))
                .max_by_key(|(at, _)| *at);
            let restarts = match last_restart {
                Some((_, t)) if restarts > 0 => format!("{restarts} ({} ago)", age(t, now)),
                _ => restarts.to_string(),
            };
            vec![
                json!(format!("{ready}/{total}")),
                json!(status),
                json!(restarts),
                json!(created),
            ]
        }
        ("apps", "Deployment") => vec![
            json!(format!(
                "{}/{}",
                num(o, "/status/readyReplicas"),
                o["spec"]["replicas"].as_i64().unwrap_or(1)
            )),
            json!(num(o, "/status/updatedReplicas")),
            json!(num(o, "/status/availableReplicas")),
            json!(created),
        ],
        ("apps", "ReplicaSet") => vec![
            json!(o["spec"]["replicas"].as_i64().unwrap_or(1)),
            json!(num(o, "/status/replicas")),
            json!(num(o, "/status/readyReplicas")),
            json!(created),
        ],
        ("apps", "StatefulSet") => vec![
            json!(format!(
                "{}/{}",
                num(o, "/status/readyReplicas"),
                o["spec"]["replicas"].as_i64().unwrap_or(1)
            )),
            json!(created),
        ],
        ("", "Namespace") => vec![json!(text(o, "/status/phase")), json!(created)],
        ("", "Secret") => vec![
            json!(text(o, "/type")),
            json!(o["data"].as_object().map_or(0, |m| m.len()).to_string()),
            json!(created),
        ],
        ("", "Event") => {
            let last = [
                "/lastTimestamp",
                "/eventTime",
                "/firstTimestamp",
                "/metadata/creationTimestamp",
            ]
            .iter()
            .map(|p| text(o, p))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            vec![
                json!(age(last, now)),
                json!(text(o, "/type")),
                json!(text(o, "/reason")),
                json!(format!(
                    "{}/{}",
                    text(o, "/involvedObject/kind").to_ascii_lowercase(),
                    text(o, "/involvedObject/name")
                )),
                json!(text(o, "/message")),
            ]
        }
        _ => vec![json!(text(o, "/metadata/creationTimestamp"))],
    }
}

/// One step of a printer-column JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    /// `[?(@.key.path=="value")]`
    Filter(Vec<String>, String),
}

/// The JSONPath subset CRD printer columns use; `None` for anything else (the cell is then
/// empty, as the API server leaves cells it cannot evaluate).
fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut steps = Vec::new();
    let mut rest = path.strip_prefix('.').unwrap_or(path);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            if inner == "*" {
                steps.push(Step::All);
            } else if let Some(filter) =
                inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
            {
                let (key, value) = filter.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                steps.push(Step::Filter(
                    key.trim().split('.').map(str::to_string).collect(),
                    value.to_string(),
                ));
            } else {
                steps.push(Step::Index(inner.trim().parse().ok()?));
            }
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let field = &rest[..end];
            if field.is_empty() {
                return None;
            }
            steps.push(Step::Field(field.to_string()));
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        if steps.len() > 64 {
            return None;
        }
    }
    Some(steps)
}

/// Every value `path` selects in `obj`.
pub fn select<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = parse_path(path) else {
        return Vec::new();
    };
    let mut cur = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in cur {
            match step {
                Step::Field(f) => next.extend(v.get(f)),
                Step::Index(i) => next.extend(v.get(*i)),
                Step::All => next.extend(v.as_array().into_iter().flatten()),
                Step::Filter(key, want) => {
                    for item in v.as_array().into_iter().flatten() {
                        let found = key.iter().try_fold(item, |x, part| x.get(part));
                        let matches = match found {
                            Some(Value::String(s)) => s == want,
                            Some(Value::Bool(b)) => want == if *b { "true" } else { "false" },
                            Some(Value::Number(n)) => n.to_string() == *want,
                            _ => false,
                        };
                        if matches {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

fn crd_cell(obj: &Value, c: &Column, now: i64) -> Value {
    let Some(v) = c
        .json_path
        .as_deref()
        .and_then(|p| select(obj, p).into_iter().next())
    else {
        return Value::Null;
    };
    match (c.type_.as_str(), v) {
        // apiextensions-apiserver's table convertor prints `date` columns as ages.
        ("date", Value::String(s)) => json!(age(s, now)),
        (_, Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null) => v.clone(),
        // Maps and lists print as their JSON text, as the API server's printer does.
        (_, other) => json!(other.to_string()),
    }
}

/// A Table of `objects` of one kind: `crd_columns` for a custom resource (empty: Age only),
/// `None` for a built-in kind. `now` (Unix seconds) is what ages count to.
pub fn table(
    group: &str,
    kind: &str,
    crd_columns: Option<&[Column]>,
    objects: &[Value],
    include: IncludeObject,
    now: i64,
) -> Value {
    let columns: Vec<Column> = match crd_columns {
        Some([]) => vec![col("Age", "date", 0)],
        Some(cols) => cols.to_vec(),
        None => builtin_columns(group, kind),
    };
    let mut definitions = vec![json!({
        "name": "Name", "type": "string", "format": "name",
        "description": NAME_DESCRIPTION, "priority": 0
    })];
    definitions.extend(columns.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format,
               "description": c.description, "priority": c.priority})
    }));
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            match crd_columns {
                Some([]) => cells.push(json!(age(text(o, "/metadata/creationTimestamp"), now))),
                Some(_) => cells.extend(columns.iter().map(|c| crd_cell(o, c, now))),
                None => cells.extend(builtin_cells(group, kind, o, now)),
            }
            let mut row = json!({"cells": cells});
            match include {
                IncludeObject::None => {}
                IncludeObject::Object => row["object"] = o.clone(),
                IncludeObject::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    })
                }
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let obj = json!({"status": {"conditions": [
            {"type": "Reconciling", "status": "True"},
            {"type": "Ready", "status": "False", "message": "auth failed"}
        ]}, "spec": {"ref": {"branch": "main"}, "list": [1, 2]}});
        let ready = select(&obj, ".status.conditions[?(@.type==\"Ready\")].status");
        assert_eq!(ready, vec![&json!("False")]);
        assert_eq!(select(&obj, ".spec.ref.branch"), vec![&json!("main")]);
        assert_eq!(select(&obj, ".spec.list[1]"), vec![&json!(2)]);
        assert_eq!(select(&obj, ".spec.list[*]").len(), 2);
        assert!(select(&obj, ".spec.missing.deeper").is_empty());
        assert!(select(&obj, "..").is_empty());
        assert!(select(&obj, ".spec[").is_empty());
    }

    #[test]
    fn crd_tables_use_the_printer_columns_and_age_to_the_capture() {
        let crd = json!({"spec": {"versions": [{"name": "v1", "additionalPrinterColumns": [
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Status", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].message", "priority": 1}]}]}});
        let cols = crd_columns(&crd, "v1");
        assert_eq!(cols.len(), 3);
        let ks = json!({"metadata": {"name": "apps", "creationTimestamp": "2026-11-20T00:00:00Z"},
            "status": {"conditions": [{"type": "Ready", "status": "False", "message": "boom"}]}});
        let now = crate::kube::time::parse_rfc3339("2026-11-21T00:00:00Z")
            .unwrap()
            .0;
        let t = table(
            "kustomize.toolkit.fluxcd.io",
            "Kustomization",
            Some(&cols),
            &[ks],
            IncludeObject::Metadata,
            now,
        );
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["apps", "24h", "False", "boom"])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["columnDefinitions"][3]["priority"], 1);
    }

    #[test]
    fn pod_rows_read_like_kubectl() {
        let pod = json!({"metadata": {"name": "redis-0", "creationTimestamp": "2026-11-20T23:00:00Z"},
            "spec": {"containers": [{"name": "redis"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": false, "restartCount": 7,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let now = crate::kube::time::parse_rfc3339("2026-11-21T00:00:00Z")
            .unwrap()
            .0;
        let t = table("", "Pod", None, &[pod], IncludeObject::None, now);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["redis-0", "0/1", "CrashLoopBackOff", "7", "60m"])
        );
        assert!(t["rows"][0].get("object").is_none());
        let mut restarted = pod_with_restart();
        let t = table(
            "",
            "Pod",
            None,
            &[restarted.clone()],
            IncludeObject::None,
            now,
        );
        assert_eq!(t["rows"][0]["cells"][3], "7 (5m ago)");
        restarted["status"]["containerStatuses"][0]["restartCount"] = json!(0);
        let t = table("", "Pod", None, &[restarted], IncludeObject::None, now);
        assert_eq!(t["rows"][0]["cells"][3], "0");
    }

    fn pod_with_restart() -> Value {
        json!({"metadata": {"name": "redis-0", "creationTimestamp": "2026-11-20T23:00:00Z"},
            "spec": {"containers": [{"name": "redis"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": false, "restartCount": 7,
                "lastState": {"terminated": {"finishedAt": "2026-11-20T23:55:00Z"}},
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
    }

    #[test]
    fn human_durations_match_the_apimachinery_steps() {
        for (s, want) in [
            (5, "5s"),
            (150, "2m30s"),
            (3600, "60m"),
            (4 * 3600 + 60, "4h1m"),
            (30 * 3600, "30h"),
            (3 * 86_400 + 3600, "3d1h"),
            (40 * 86_400, "40d"),
            (3 * 365 * 86_400, "3y"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }
}
