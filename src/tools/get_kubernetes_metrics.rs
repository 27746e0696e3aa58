//! `get_kubernetes_metrics`: CPU and memory of pods from metrics-server (`metrics.k8s.io`),
//! per container with pod totals, in millicores and MiB next to the raw quantities.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::cluster::{Cluster, context_property};
use super::get_kubernetes_logs::{container_status, not_found};
use super::{Args, Ctx, Tool, ToolError};
use crate::kube::Error;
use crate::kube::client::PodSelection;
use crate::kube::discovery::Resource;

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_metrics",
    title: "Get pod CPU and memory",
    description: "Gets the current CPU and memory use of pods from metrics-server: one pod by \
        name, or the pods of a namespace (optionally filtered by a label selector). Shows each \
        container in millicores and MiB next to the raw quantities, with pod totals. Needs \
        metrics-server in the cluster.",
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
            "pod_name": {
                "type": "string",
                "description": "One pod's name; leave empty for every pod of the namespace."
            },
            "pod_namespace": {
                "type": "string",
                "description": "The namespace of the pods."
            },
            "pod_selector": {
                "type": "string",
                "description": "Label selector for the pods, e.g. app=podinfo,tier!=db (comma-separated)."
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_LIMIT,
                "description": "At most this many pods."
            },
            "context": context_property()
        },
        "required": ["pod_namespace"],
        "additionalProperties": false
    })
}

const DEFAULT_LIMIT: u64 = 100;

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let namespace = args.str("pod_namespace")?;
    let name = args.opt_str("pod_name")?;
    let selector = args.opt_str("pod_selector")?;
    if name.is_some() && selector.is_some() {
        return Err(ToolError::InvalidArgument(
            "pass pod_name or pod_selector, not both".to_string(),
        ));
    }
    let limit = match args.opt_u64("limit")? {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n,
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let cluster = ctx.cluster(args)?;
    let selection = match name {
        Some(n) => PodSelection::Named(n.to_string()),
        // One more than asked, to know whether the list was cut.
        None => PodSelection::Matching {
            label_selector: selector.map(str::to_string),
            limit: Some(limit.saturating_add(1)),
        },
    };
    let mut items = match cluster.client.pod_metrics(Some(namespace), &selection) {
        Ok(items) => items,
        Err(e @ Error::MetricsUnavailable { .. }) => return Err(unavailable(&cluster, &e)),
        Err(e) if e.is_not_found() && name.is_some() => {
            return Err(no_metrics_for(
                &cluster,
                namespace,
                name.unwrap_or_default(),
                e,
            ));
        }
        Err(e) => return Err(cluster.error(e)),
    };
    let cut = items.len() > limit;
    items.truncate(limit);
    if items.is_empty() {
        let matching = selector
            .map(|s| format!(" matching {s}"))
            .unwrap_or_default();
        return Ok(format!(
            "No pod metrics in namespace {namespace}{matching}: no such pods are running \
             (metrics-server reports running pods only)."
        ));
    }
    let mut out = pod_table(namespace, &items);
    if cut {
        let _ = writeln!(
            out,
            "Showing the first {limit} pods; more exist: narrow with pod_selector or raise limit."
        );
    }
    Ok(out)
}

/// metrics-server is missing or not answering: say so, and how to check.
fn unavailable(cluster: &Cluster, e: &Error) -> ToolError {
    ToolError::Failed(format!(
        "context {}: {e}. Check with `kubectl get apiservice v1beta1.metrics.k8s.io` (Available \
         must be True) and `kubectl -n kube-system get deployment metrics-server`; without it \
         there are no pod metrics, but logs and resources can still be read.",
        cluster.context()
    ))
}

/// A named pod without metrics: either it does not exist (suggest close names) or
/// metrics-server has not sampled it (not running, or started less than a scrape ago).
fn no_metrics_for(cluster: &Cluster, namespace: &str, name: &str, e: Error) -> ToolError {
    let pods = Resource::new("v1", "Pod", "pods", true);
    match cluster.client.get(&pods, namespace, name) {
        Ok(pod) => {
            let phase = pod
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            // Why it has no metrics is usually a container that is not running.
            let states: Vec<String> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .filter_map(|c| {
                    container_status(&pod, c)
                        .and_then(|s| s.summary())
                        .map(|s| format!("container {c} {s}"))
                })
                .collect();
            let detail = if states.is_empty() {
                String::new()
            } else {
                format!("; {}", states.join("; "))
            };
            ToolError::Failed(format!(
                "context {}: metrics-server has no metrics for pod {namespace}/{name} (phase \
                 {phase}{detail}): it reports running containers only, from about a minute \
                 after they start",
                cluster.context()
            ))
        }
        Err(get) if get.is_not_found() => {
            ToolError::Failed(not_found(cluster, &pods, namespace, name))
        }
        Err(_) => cluster.error(e),
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

/// The table of `PodMetrics` objects (as metrics-server returns them), the way this tool
/// shows it; `get_flux_instance` shows the Flux pods with it too.
pub(super) fn pod_table(namespace: &str, items: &[Value]) -> String {
    let pods: Vec<PodUsage> = items.iter().map(PodUsage::from_object).collect();
    render(namespace, &pods)
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
}
