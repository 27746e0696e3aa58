//! Pod helpers shared by the tools that look at pods (`get_kubernetes_logs`,
//! `get_kubernetes_metrics`, `get_flux_instance`): a container's state from the pod status,
//! the "not found, did you mean" wording for a named object, the pod metrics table, and the
//! count wording they share. Tool files never import each other; what two of them need lives
//! here.

use std::fmt::Write as _;

use serde_json::Value;

use super::cluster::Cluster;
use crate::kube::discovery::{Resource, close_matches};

/// Names listed in a "not shown" or "did you mean" line.
pub const NAMES_LISTED: usize = 10;
/// Objects read to find a workload's pods or close names: a bound for a DaemonSet on a
/// thousand nodes or a crowded namespace, far above what the output names.
pub const LIST_AT_MOST: usize = 500;

/// `500 pods` or `more than 500 pods`.
pub fn count(n: usize, more: bool, word: &str) -> String {
    if more {
        format!("more than {n} {word}s")
    } else {
        plural(n, word)
    }
}

/// `pod "x" not found in namespace "apps"; did you mean a or b? (12 pods in the namespace)`.
/// Lists the names of the namespace's objects of that kind (metadata only) for close names; if
/// even that fails, says only what was not found.
pub fn not_found(cluster: &Cluster, resource: &Resource, namespace: &str, name: &str) -> String {
    let label = resource.kind.to_ascii_lowercase();
    let mut out = format!(
        "context {}: {label} {name:?} not found in namespace {namespace:?}",
        cluster.context()
    );
    let Ok((found, more)) = cluster.names(resource, Some(namespace), LIST_AT_MOST) else {
        return out;
    };
    let names: Vec<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    if names.is_empty() {
        let _ = write!(
            out,
            " (the namespace has no {}: check the namespace name)",
            resource.plural
        );
        return out;
    }
    let mut close = close_matches(name, names.iter().copied(), 3);
    // Pods of one workload differ only in their generated suffix (`web-5d4f8-x2k9p`): offer
    // the pods that share the name up to its last dash.
    if let Some(cut) = name.rfind('-').filter(|&i| i >= 3) {
        let stem = &name[..=cut];
        for n in names.iter().filter(|n| n.starts_with(stem)) {
            if !close.contains(n) && close.len() < 5 {
                close.push(n);
            }
        }
    }
    if !close.is_empty() {
        let _ = write!(out, "; did you mean {}?", close.join(" or "));
    } else if names.len() <= NAMES_LISTED {
        let _ = write!(out, "; {} there: {}", resource.plural, names.join(", "));
        return out;
    }
    let word = resource.singular.as_str();
    let _ = write!(
        out,
        " ({} in the namespace)",
        count(names.len(), more, word)
    );
    out
}

/// [`not_found`] for an object of any scope: a cluster-scoped one is named without a
/// namespace (and without close names, which would need a list of the whole kind).
pub fn object_not_found(
    cluster: &Cluster,
    resource: &Resource,
    namespace: &str,
    name: &str,
) -> String {
    if resource.namespaced {
        not_found(cluster, resource, namespace, name)
    } else {
        format!(
            "context {}: {} {name:?} not found",
            cluster.context(),
            resource.kind.to_ascii_lowercase()
        )
    }
}

/// Where a container stands, from the pod's status: what the header says when it is not
/// simply running.
pub struct ContainerState {
    state: String,
    restarts: u64,
    last_exit: Option<String>,
}

impl ContainerState {
    /// `waiting: CrashLoopBackOff; 7 restarts; last exit 1 (Error) at 2026-11-21T05:26:00Z`;
    /// `None` for a container that is running and never restarted.
    /// How often the container restarted.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    pub fn summary(&self) -> Option<String> {
        if self.state == "running" && self.restarts == 0 {
            return None;
        }
        let mut s = self.state.clone();
        if self.restarts > 0 {
            let _ = write!(s, "; {}", plural(self.restarts as usize, "restart"));
        }
        if let Some(exit) = &self.last_exit {
            let _ = write!(s, "; last {exit}");
        }
        Some(s)
    }
}

/// The state of `container` of `pod` (regular, init or ephemeral), from the pod's status;
/// `None` when the status does not list it.
pub fn container_status(pod: &Value, container: &str) -> Option<ContainerState> {
    let status = [
        "/status/containerStatuses",
        "/status/initContainerStatuses",
        "/status/ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
    .flatten()
    .find(|s| text(s, "/name") == container)?;
    let state = status.get("state").and_then(Value::as_object);
    let state = match state.and_then(|m| m.iter().next()) {
        Some((phase, _)) if phase == "running" => "running".to_string(),
        Some((phase, detail)) if phase == "terminated" => {
            format!("terminated: exit {}", exit(detail))
        }
        Some((phase, detail)) => match text(detail, "/reason") {
            "" => phase.clone(),
            reason => format!("{phase}: {reason}"),
        },
        None => "unknown".to_string(),
    };
    let last_exit = status
        .pointer("/lastState/terminated")
        .map(|t| format!("exit {} at {}", exit(t), text(t, "/finishedAt")));
    Some(ContainerState {
        state,
        restarts: status
            .get("restartCount")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        last_exit,
    })
}

/// `1 (Error)`, `0 (Completed)`.
fn exit(terminated: &Value) -> String {
    let code = terminated
        .get("exitCode")
        .and_then(Value::as_i64)
        .map_or("?".to_string(), |c| c.to_string());
    match text(terminated, "/reason") {
        "" => code,
        reason => format!("{code} ({reason})"),
    }
}

/// The string at `pointer` in `v`, or `""`.
pub fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `1 pod`, `3 pods`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One pod's usage, read from a `PodMetrics` object.
struct PodUsage {
    name: String,
    containers: Vec<ContainerUsage>,
    timestamp: String,
}

struct ContainerUsage {
    name: String,
    /// Raw quantities as metrics-server sent them (`12345678n`, `23456Ki`).
    cpu: String,
    memory: String,
}

impl PodUsage {
    fn from_object(v: &Value) -> PodUsage {
        let text = |v: &Value, pointer: &str| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let containers = v
            .get("containers")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| ContainerUsage {
                        name: text(c, "/name"),
                        cpu: text(c, "/usage/cpu"),
                        memory: text(c, "/usage/memory"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        PodUsage {
            name: text(v, "/metadata/name"),
            containers,
            timestamp: text(v, "/timestamp"),
        }
    }
}

/// The table of `PodMetrics` objects (as metrics-server returns them): what
/// `get_kubernetes_metrics` answers, and how `get_flux_instance` shows the Flux pods.
pub fn pod_table(namespace: &str, items: &[Value]) -> String {
    let pods: Vec<PodUsage> = items.iter().map(PodUsage::from_object).collect();
    render(namespace, &pods)
}

/// Each pod's name, labels and total usage (`16.6m`, `132MiB`: `?` for a quantity that does
/// not parse), and the newest sample time, for summaries shorter than [`pod_table`].
pub fn pod_totals(items: &[Value]) -> (Vec<(String, &Value, String, String)>, String) {
    let mut newest = String::new();
    let totals = items
        .iter()
        .map(|v| {
            let pod = PodUsage::from_object(v);
            if pod.timestamp > newest {
                newest = pod.timestamp.clone();
            }
            let (mut cpu, mut mem) = (Some(0.0), Some(0.0));
            for c in &pod.containers {
                cpu = add(cpu, parse_quantity(&c.cpu));
                mem = add(mem, parse_quantity(&c.memory));
            }
            (
                pod.name,
                &v["metadata"]["labels"],
                millicores(cpu),
                mebibytes(mem),
            )
        })
        .collect();
    (totals, newest)
}

/// The table: one row per container, a `(pod total)` row for pods with several containers, and
/// the namespace total.
fn render(namespace: &str, pods: &[PodUsage]) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let (mut all_cpu, mut all_mem) = (Some(0.0), Some(0.0));
    for pod in pods {
        let (mut cpu, mut mem) = (Some(0.0), Some(0.0));
        for (i, c) in pod.containers.iter().enumerate() {
            let pod_col = if i == 0 {
                pod.name.clone()
            } else {
                String::new()
            };
            rows.push([
                pod_col,
                c.name.clone(),
                cpu_cell(&c.cpu),
                memory_cell(&c.memory),
            ]);
            cpu = add(cpu, parse_quantity(&c.cpu));
            mem = add(mem, parse_quantity(&c.memory));
        }
        if pod.containers.len() > 1 {
            rows.push([
                String::new(),
                "(pod total)".to_string(),
                millicores(cpu),
                mebibytes(mem),
            ]);
        }
        if pod.containers.is_empty() {
            rows.push([
                pod.name.clone(),
                "(no containers reported)".to_string(),
                String::new(),
                String::new(),
            ]);
        }
        all_cpu = add(all_cpu, cpu);
        all_mem = add(all_mem, mem);
    }
    let header = ["POD", "CONTAINER", "CPU", "MEMORY"].map(String::from);
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let sampled = pods
        .iter()
        .map(|p| p.timestamp.as_str())
        .max()
        .unwrap_or("");
    let mut out = format!("Pod metrics in namespace {namespace}");
    if !sampled.is_empty() {
        let _ = write!(out, " (metrics-server, sampled up to {sampled})");
    }
    out.push_str(": CPU in millicores, memory in MiB, raw quantities in brackets.\n");
    for row in std::iter::once(&header).chain(&rows) {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if pods.len() > 1 {
        let _ = writeln!(
            out,
            "Total of {} pods: CPU {}, memory {}.",
            pods.len(),
            millicores(all_cpu),
            mebibytes(all_mem)
        );
    }
    out
}

fn add(total: Option<f64>, v: Option<f64>) -> Option<f64> {
    Some(total? + v?)
}

fn cpu_cell(raw: &str) -> String {
    format!("{} ({raw})", millicores(parse_quantity(raw)))
}

fn memory_cell(raw: &str) -> String {
    format!("{} ({raw})", mebibytes(parse_quantity(raw)))
}

/// Cores → `12m`, `1.5m`; `?` for a quantity that did not parse.
fn millicores(cores: Option<f64>) -> String {
    match cores {
        Some(c) => format!("{}m", short_number(c * 1000.0)),
        None => "?".to_string(),
    }
}

/// Bytes → `95.3MiB`.
fn mebibytes(bytes: Option<f64>) -> String {
    match bytes {
        Some(b) => format!("{}MiB", short_number(b / 1_048_576.0)),
        None => "?".to_string(),
    }
}

/// One decimal below 100, none above: enough to compare pods without noise digits.
fn short_number(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else {
        let s = format!("{x:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

/// A Kubernetes quantity (`resource.Quantity`) in base units: `250m` → 0.25, `1.5Gi` →
/// 1610612736, `12345n` → 0.000012345, `1e3` → 1000. Suffixes: binary `Ki`..`Ei`, decimal
/// `n u m k M G T P E` (and none), or a decimal exponent `e<n>`/`E<n>`. `None` when malformed.
fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let number_end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '+' || c == '-'))))
        .map_or(s.len(), |(i, _)| i);
    let (number, suffix) = s.split_at(number_end);
    if !number.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        other => {
            // `e3`, `E-2`: a decimal exponent (a bare `E` is exa, matched above).
            let exponent = other.strip_prefix(['e', 'E'])?;
            let exponent: i32 = exponent.parse().ok()?;
            10f64.powi(exponent)
        }
    };
    Some(value * factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_in_base_units() {
        let close = |s: &str, want: f64| {
            let got = parse_quantity(s).unwrap_or_else(|| panic!("{s} did not parse"));
            assert!(
                (got - want).abs() <= want.abs() * 1e-12,
                "{s}: {got} != {want}"
            );
        };
        close("250m", 0.25);
        close("1", 1.0);
        close("1.5", 1.5);
        close("12345678n", 0.012345678);
        close("500u", 0.0005);
        close("2k", 2000.0);
        close("3M", 3e6);
        close("1G", 1e9);
        close("1E", 1e18);
        close("23456Ki", 23456.0 * 1024.0);
        close("64Mi", 64.0 * 1048576.0);
        close("1.5Gi", 1.5 * 1073741824.0);
        close("2Ti", 2.0 * 1024f64.powi(4));
        close("1e3", 1000.0);
        close("5E-3", 0.005);
        close("+.5", 0.5);
        for bad in ["", "m", "Ki", "12x", "1.2.3", "e3", "1e", "1ki", "--1"] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(millicores(Some(0.0123)), "12.3m");
        assert_eq!(millicores(Some(0.002)), "2m");
        assert_eq!(millicores(Some(1.5)), "1500m");
        assert_eq!(mebibytes(Some(97536.0 * 1024.0)), "95.2MiB");
        assert_eq!(mebibytes(None), "?");
    }

    fn pod(name: &str, containers: &[(&str, &str, &str)]) -> PodUsage {
        PodUsage {
            name: name.into(),
            containers: containers
                .iter()
                .map(|(n, c, m)| ContainerUsage {
                    name: n.to_string(),
                    cpu: c.to_string(),
                    memory: m.to_string(),
                })
                .collect(),
            timestamp: "2026-11-21T05:29:46Z".into(),
        }
    }

    #[test]
    fn table_has_container_rows_pod_and_namespace_totals() {
        let pods = [
            pod(
                "web-1",
                &[("web", "12345678n", "97536Ki"), ("proxy", "2m", "10Mi")],
            ),
            pod("db-0", &[("db", "bogus", "1Gi")]),
        ];
        assert_eq!(
            render("apps", &pods),
            "Pod metrics in namespace apps (metrics-server, sampled up to 2026-11-21T05:29:46Z): \
             CPU in millicores, memory in MiB, raw quantities in brackets.\n\
             POD    CONTAINER    CPU                MEMORY\n\
             web-1  web          12.3m (12345678n)  95.2MiB (97536Ki)\n\
             \x20      proxy        2m (2m)            10MiB (10Mi)\n\
             \x20      (pod total)  14.3m              105MiB\n\
             db-0   db           ? (bogus)          1024MiB (1Gi)\n\
             Total of 2 pods: CPU ?, memory 1129MiB.\n"
        );
    }

    #[test]
    fn container_state_is_summarised_only_when_not_plainly_running() {
        let p = json!({"status": {"containerStatuses": [
            {"name": "ok", "restartCount": 0, "state": {"running": {"startedAt": "t"}}},
            {"name": "crash", "restartCount": 7,
             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "T"}}},
            {"name": "done", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}});
        let summary = |c: &str| container_status(&p, c).and_then(|s| s.summary());
        assert_eq!(summary("ok"), None);
        assert_eq!(
            summary("crash").as_deref(),
            Some("waiting: CrashLoopBackOff; 7 restarts; last exit 1 (Error) at T")
        );
        assert_eq!(
            summary("done").as_deref(),
            Some("terminated: exit 0 (Completed)")
        );
        assert!(container_status(&p, "missing").is_none());
    }
}
