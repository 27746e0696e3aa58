//! Server-side printing: `meta.k8s.io/v1` Tables for `kubectl get` (Accept `as=Table`), with the
//! CRDs' `additionalPrinterColumns` (a JSONPath subset) and the built-in printers' columns for the
//! core and apps kinds.

use serde_json::{Value, json};

use super::clock;
use super::resources::{PrinterColumn, ResourceType};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// What each row carries besides its cells (`?includeObject=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(v: Option<&str>) -> Result<IncludeObject, String> {
        match v {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }
}

struct Column {
    name: &'static str,
    type_: &'static str,
    format: &'static str,
    priority: i64,
    description: &'static str,
}

const fn col(
    name: &'static str,
    type_: &'static str,
    priority: i64,
    description: &'static str,
) -> Column {
    Column {
        name,
        type_,
        format: "",
        priority,
        description,
    }
}

/// One step of a printer-column JSONPath.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    /// `[?(@.key=="value")]`
    Filter(Vec<String>, String),
}

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
                let value = value
                    .trim()
                    .trim_matches('"')
                    .trim_matches('\'')
                    .to_string();
                steps.push(Step::Filter(
                    key.trim().split('.').map(str::to_string).collect(),
                    value,
                ));
            } else {
                steps.push(Step::Index(inner.parse().ok()?));
            }
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
            rest = rest.strip_prefix('.').unwrap_or(rest);
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
                        let mut k = Some(item);
                        for part in key {
                            k = k.and_then(|x| x.get(part));
                        }
                        let matches = match k {
                            Some(Value::String(s)) => s == want,
                            Some(Value::Bool(b)) => want == if *b { "true" } else { "false" },
                            Some(Value::Number(n)) => n.as_f64() == want.parse::<f64>().ok(),
                            Some(_) => false,
                            None => false,
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

/// A CRD column's cell: the first selected value in the column's type, or null.
fn crd_cell(obj: &Value, c: &PrinterColumn) -> Value {
    let Some(v) = select(obj, &c.json_path).into_iter().next() else {
        return Value::Null;
    };
    match (c.type_.as_str(), v) {
        // apiextensions-apiserver's table convertor prints `date` columns as ages ("5d").
        ("date", Value::String(s)) => json!(clock::age(Some(s))),
        (_, Value::String(_) | Value::Number(_) | Value::Bool(_)) => v.clone(),
        (_, Value::Null) => Value::Null,
        // Maps and lists print as their JSON text, like the API server's printer does.
        (_, other) => json!(other.to_string()),
    }
}

fn str_at<'a>(obj: &'a Value, pointer: &str) -> Option<&'a str> {
    obj.pointer(pointer).and_then(Value::as_str)
}

fn age_of(obj: &Value) -> String {
    clock::age(str_at(obj, "/metadata/creationTimestamp"))
}

fn len_of(obj: &Value, field: &str) -> usize {
    obj.get(field)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

fn pod_row(pod: &Value) -> (Vec<Column>, Vec<Value>) {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let statuses: Vec<&Value> = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let ready = statuses
        .iter()
        .filter(|s| s["ready"].as_bool() == Some(true))
        .count();
    let mut reason = str_at(pod, "/status/reason")
        .or_else(|| str_at(pod, "/status/phase"))
        .unwrap_or("Unknown")
        .to_string();
    // kubectl's printer: a waiting or terminated container's reason replaces the phase.
    for s in &statuses {
        if let Some(r) = str_at(s, "/state/waiting/reason") {
            reason = r.to_string();
        } else if let Some(r) = str_at(s, "/state/terminated/reason") {
            reason = r.to_string();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        reason = "Terminating".into();
    }
    let restarts: i64 = statuses
        .iter()
        .filter_map(|s| s["restartCount"].as_i64())
        .sum();
    let last_restart = statuses
        .iter()
        .filter_map(|s| str_at(s, "/lastState/terminated/finishedAt"))
        .max();
    let restarts = match (restarts, last_restart) {
        (0, _) => "0".to_string(),
        (n, Some(t)) => format!("{n} ({} ago)", clock::age(Some(t))),
        (n, None) => n.to_string(),
    };
    let columns = vec![
        col(
            "Ready",
            "string",
            0,
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        col(
            "Status",
            "string",
            0,
            "The aggregate status of the containers in this pod.",
        ),
        col(
            "Restarts",
            "string",
            0,
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        col(
            "Age",
            "string",
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
        col(
            "IP",
            "string",
            1,
            "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        ),
        col(
            "Node",
            "string",
            1,
            "NodeName is a request to schedule this pod onto a specific node.",
        ),
        col(
            "Nominated Node",
            "string",
            1,
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
        ),
        col(
            "Readiness Gates",
            "string",
            1,
            "If specified, all readiness gates will be evaluated for pod readiness.",
        ),
    ];
    let cells = vec![
        json!(format!("{ready}/{containers}")),
        json!(reason),
        json!(restarts),
        json!(age_of(pod)),
        json!(str_at(pod, "/status/podIP").unwrap_or("<none>")),
        json!(str_at(pod, "/spec/nodeName").unwrap_or("<none>")),
        json!(str_at(pod, "/status/nominatedNodeName").unwrap_or("<none>")),
        json!("<none>"),
    ];
    (columns, cells)
}

fn images(obj: &Value) -> (String, String) {
    let containers: Vec<&Value> = obj
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let images: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["image"].as_str())
        .collect();
    (names.join(","), images.join(","))
}

fn selector_text(obj: &Value) -> String {
    obj.pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_else(|| "<none>".into())
}

/// Columns (after Name) and cells of a built-in kind's row.
fn builtin_row(kind: &str, obj: &Value) -> (Vec<Column>, Vec<Value>) {
    let int = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let age_col = || {
        col(
            "Age",
            "string",
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        )
    };
    match kind {
        "Pod" => pod_row(obj),
        "Deployment" | "StatefulSet" | "ReplicaSet" => {
            let (names, imgs) = images(obj);
            let desired = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let mut columns = vec![col(
                "Ready",
                "string",
                0,
                "Number of the pod with ready state",
            )];
            let mut cells = vec![json!(format!("{}/{desired}", int("/status/readyReplicas")))];
            if kind == "Deployment" {
                columns.push(col("Up-to-date", "string", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."));
                columns.push(col("Available", "string", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."));
                cells.push(json!(int("/status/updatedReplicas")));
                cells.push(json!(int("/status/availableReplicas")));
            }
            columns.extend([
                age_col(),
                col("Containers", "string", 1, "Names of each container in the template."),
                col("Images", "string", 1, "Images referenced by each container in the template."),
                col("Selector", "string", 1, "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
            ]);
            cells.extend([
                json!(age_of(obj)),
                json!(names),
                json!(imgs),
                json!(selector_text(obj)),
            ]);
            (columns, cells)
        }
        "DaemonSet" => (
            vec![
                col(
                    "Desired",
                    "integer",
                    0,
                    "The total number of nodes that should be running the daemon pod.",
                ),
                col(
                    "Current",
                    "integer",
                    0,
                    "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                ),
                col(
                    "Ready",
                    "integer",
                    0,
                    "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                ),
                age_col(),
            ],
            vec![
                json!(int("/status/desiredNumberScheduled")),
                json!(int("/status/currentNumberScheduled")),
                json!(int("/status/numberReady")),
                json!(age_of(obj)),
            ],
        ),
        "Namespace" => (
            vec![
                col("Status", "string", 0, "The status of the namespace"),
                age_col(),
            ],
            vec![
                json!(str_at(obj, "/status/phase").unwrap_or("Active")),
                json!(age_of(obj)),
            ],
        ),
        "Secret" => (
            vec![
                col("Type", "string", 0, "The type of the secret"),
                col("Data", "string", 0, "The number of entries in the secret"),
                age_col(),
            ],
            vec![
                json!(str_at(obj, "/type").unwrap_or("Opaque")),
                json!(len_of(obj, "data") + len_of(obj, "stringData")),
                json!(age_of(obj)),
            ],
        ),
        "ConfigMap" => (
            vec![
                col(
                    "Data",
                    "string",
                    0,
                    "The number of entries in the configmap",
                ),
                age_col(),
            ],
            vec![
                json!(len_of(obj, "data") + len_of(obj, "binaryData")),
                json!(age_of(obj)),
            ],
        ),
        "Service" => {
            let ports: Vec<String> = obj
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["port"].as_i64().unwrap_or(0),
                        p["protocol"].as_str().unwrap_or("TCP")
                    )
                })
                .collect();
            (
                vec![
                    col("Type", "string", 0, "The type of the service."),
                    col("Cluster-IP", "string", 0, "The IP address of the service."),
                    col(
                        "External-IP",
                        "string",
                        0,
                        "The external IP address of the service.",
                    ),
                    col("Port(s)", "string", 0, "The ports of the service."),
                    age_col(),
                ],
                vec![
                    json!(str_at(obj, "/spec/type").unwrap_or("ClusterIP")),
                    json!(str_at(obj, "/spec/clusterIP").unwrap_or("<none>")),
                    json!("<none>"),
                    json!(if ports.is_empty() {
                        "<none>".to_string()
                    } else {
                        ports.join(",")
                    }),
                    json!(age_of(obj)),
                ],
            )
        }
        "ServiceAccount" => (
            vec![
                col(
                    "Secrets",
                    "string",
                    0,
                    "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
                ),
                age_col(),
            ],
            vec![
                json!(
                    obj.get("secrets")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                ),
                json!(age_of(obj)),
            ],
        ),
        "Event" => {
            let last = str_at(obj, "/series/lastObservedTime")
                .or_else(|| str_at(obj, "/lastTimestamp"))
                .or_else(|| str_at(obj, "/eventTime"));
            let object = format!(
                "{}/{}",
                str_at(obj, "/involvedObject/kind")
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                str_at(obj, "/involvedObject/name").unwrap_or_default()
            );
            (
                vec![
                    col(
                        "Last Seen",
                        "string",
                        0,
                        "The time of the last occurrence of this event.",
                    ),
                    col(
                        "Type",
                        "string",
                        0,
                        "Type of this event (Normal, Warning), new types could be added in the future.",
                    ),
                    col(
                        "Reason",
                        "string",
                        0,
                        "This should be a short, machine understandable string that gives the reason for this event being generated.",
                    ),
                    col(
                        "Object",
                        "string",
                        0,
                        "The object that this event is about.",
                    ),
                    col(
                        "Message",
                        "string",
                        0,
                        "A human-readable description of the status of this operation.",
                    ),
                ],
                vec![
                    json!(clock::age(last)),
                    json!(str_at(obj, "/type").unwrap_or_default()),
                    json!(str_at(obj, "/reason").unwrap_or_default()),
                    json!(object),
                    json!(str_at(obj, "/message").unwrap_or_default()),
                ],
            )
        }
        "Job" => (
            vec![
                col("Status", "string", 0, "Status of the job."),
                col(
                    "Completions",
                    "string",
                    0,
                    "The desired number of successfully finished pods the job should be run with.",
                ),
                age_col(),
            ],
            vec![
                json!(if int("/status/succeeded") > 0 {
                    "Complete"
                } else {
                    "Running"
                }),
                json!(format!(
                    "{}/{}",
                    int("/status/succeeded"),
                    obj.pointer("/spec/completions")
                        .and_then(Value::as_i64)
                        .unwrap_or(1)
                )),
                json!(age_of(obj)),
            ],
        ),
        "CronJob" => (
            vec![
                col("Schedule", "string", 0, "The schedule in Cron format."),
                col(
                    "Suspend",
                    "boolean",
                    0,
                    "This flag tells the controller to suspend subsequent executions.",
                ),
                col(
                    "Active",
                    "integer",
                    0,
                    "A list of pointers to currently running jobs.",
                ),
                age_col(),
            ],
            vec![
                json!(str_at(obj, "/spec/schedule").unwrap_or_default()),
                json!(
                    obj.pointer("/spec/suspend")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                ),
                json!(
                    obj.pointer("/status/active")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                ),
                json!(age_of(obj)),
            ],
        ),
        "Node" => (
            vec![
                col("Status", "string", 0, "The status of the node"),
                col("Roles", "string", 0, "The roles of the node"),
                age_col(),
                col(
                    "Version",
                    "string",
                    0,
                    "Kubelet Version reported by the node.",
                ),
            ],
            vec![
                json!("Ready"),
                json!(
                    obj.pointer("/metadata/labels")
                        .and_then(Value::as_object)
                        .and_then(|l| l
                            .keys()
                            .find_map(|k| k.strip_prefix("node-role.kubernetes.io/")))
                        .unwrap_or("<none>")
                ),
                json!(age_of(obj)),
                json!(str_at(obj, "/status/nodeInfo/kubeletVersion").unwrap_or_default()),
            ],
        ),
        "PodMetrics" | "NodeMetrics" => {
            let usage = |res: &str| -> String {
                obj.get("containers")
                    .and_then(Value::as_array)
                    .map(|cs| {
                        cs.iter()
                            .filter_map(|c| {
                                c.pointer(&format!("/usage/{res}")).and_then(Value::as_str)
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .or_else(|| str_at(obj, &format!("/usage/{res}")).map(str::to_string))
                    .unwrap_or_default()
            };
            (
                vec![
                    col("CPU", "string", 0, "CPU usage"),
                    col("Memory", "string", 0, "Memory usage"),
                    col("Window", "string", 0, "Window of the measurement"),
                ],
                vec![
                    json!(usage("cpu")),
                    json!(usage("memory")),
                    json!(str_at(obj, "/window").unwrap_or_default()),
                ],
            )
        }
        // The API server's default table for types without a printer: Name and Created At.
        _ => (
            vec![Column {
                name: "Created At",
                type_: "date",
                format: "",
                priority: 0,
                description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
            }],
            vec![json!(
                str_at(obj, "/metadata/creationTimestamp").unwrap_or_default()
            )],
        ),
    }
}

fn name_column() -> Value {
    json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0})
}

fn row_object(obj: &Value, include: IncludeObject) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Object => Some(obj.clone()),
        IncludeObject::Metadata => Some(json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj["metadata"],
        })),
    }
}

/// A Table of `objects` of type `t` served at `version`; list metadata is filled by the caller.
pub fn table(t: &ResourceType, version: &str, objects: &[&Value], include: IncludeObject) -> Value {
    let mut columns = vec![name_column()];
    let mut rows = Vec::new();
    if t.builtin {
        // Column definitions do not depend on the object; an empty object gives them.
        let (cols, _) = builtin_row(&t.kind, &json!({}));
        columns.extend(cols.iter().map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
        }));
        for obj in objects {
            let (_, cells) = builtin_row(&t.kind, obj);
            rows.push(row(obj, cells, include));
        }
    } else {
        let cols = t.columns.get(version).cloned().unwrap_or_default();
        columns.extend(cols.iter().map(|c| {
            json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
        }));
        for obj in objects {
            let cells: Vec<Value> = cols.iter().map(|c| crd_cell(obj, c)).collect();
            rows.push(row(obj, cells, include));
        }
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

fn row(obj: &Value, cells: Vec<Value>, include: IncludeObject) -> Value {
    let mut all = vec![obj["metadata"]["name"].clone()];
    all.extend(cells);
    let mut r = json!({"cells": all});
    if let Some(o) = row_object(obj, include) {
        r["object"] = o;
    }
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn printer_column_paths() {
        use super::*;
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
    }
}
