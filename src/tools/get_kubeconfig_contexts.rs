//! `get_kubeconfig_contexts`: the contexts of the merged kubeconfig, read again on every call,
//! with the one this session's calls go to. Never a credential: no users, tokens or certificates.

use serde::Serialize;
use serde_json::{Value, json};

use super::{Args, Ctx, Tool, ToolError};
use crate::kube::config::without_userinfo;

pub const TOOL: Tool = Tool {
    name: "get_kubeconfig_contexts",
    title: "List kubeconfig contexts",
    description: "Lists the Kubernetes contexts of the kubeconfig (all KUBECONFIG files merged, \
        like kubectl): name, cluster, namespace and API server, and which one is current for this \
        session; when the server answers from snapshots, the snapshots (context, capture time, \
        server). Use a context name as the context argument of any cluster tool to query that \
        cluster for one call, or switch the session with set_kubeconfig_context.",
    input_schema,
    annotations: super::ToolAnnotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    access: super::Access::Read,
    in_cluster: false,
    call,
};

fn input_schema() -> Value {
    json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false})
}

#[derive(Serialize)]
struct Listing {
    #[serde(skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    current_from: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    kubeconfig: Vec<String>,
    contexts: Vec<Entry>,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    // The server URL is shown although upstream leaves it out. It is not a secret (userinfo
    // is stripped), the agent already sees it in every connection error, and it is often the
    // only thing that tells two clusters apart (`kind-dev` vs an EKS ARN, two contexts on one
    // cluster with different users). Users, tokens and certificates are never listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    /// Why the context cannot be used (missing cluster, unreadable certificate file, ...):
    /// found before the agent tries it. The kubeconfig errors name files and fields only.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    current: bool,
}

/// `serve --snapshot`: each snapshot is a context.
#[derive(Serialize)]
struct SnapshotListing {
    current: String,
    current_from: &'static str,
    note: &'static str,
    snapshots: Vec<SnapshotEntry>,
}

#[derive(Serialize)]
struct SnapshotEntry {
    name: String,
    /// The context it was captured through.
    context: String,
    server: String,
    captured_at: String,
    age: String,
    namespace: String,
    file: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    current: bool,
}

fn snapshots(ctx: &Ctx) -> Option<Result<String, ToolError>> {
    let (current, chosen_by) = ctx.current_snapshot()?;
    let snapshots = ctx
        .clusters
        .snapshots()
        .iter()
        .map(|s| {
            let meta = s.snapshot.meta();
            SnapshotEntry {
                name: s.name.clone(),
                context: meta.context.clone(),
                server: meta.server.clone(),
                captured_at: meta.captured_at.clone(),
                age: crate::text::short_duration(s.snapshot.age()),
                namespace: s.namespace.clone(),
                file: s.path.display().to_string(),
                current: s.name == current.name,
            }
        })
        .collect();
    let listing = SnapshotListing {
        current: current.name.clone(),
        current_from: chosen_by,
        note: "the server answers from snapshots (serve --snapshot): each is a context showing \
               its cluster as it was at capture time, not live",
        snapshots,
    };
    Some(
        serde_norway::to_string(&listing)
            .map_err(|e| ToolError::Failed(format!("cannot render the snapshot list: {e}"))),
    )
}

fn call(ctx: &Ctx, _args: &Args) -> Result<String, ToolError> {
    if let Some(answer) = snapshots(ctx) {
        return answer;
    }
    // Read the files again: a context added with `kubectl config` or a cloud CLI since the
    // server started shows up without a restart.
    let kc = ctx.clusters.reload()?;
    let current = ctx.current_context(&kc);
    let infos = kc.contexts();
    let contexts: Vec<Entry> = infos
        .iter()
        .map(|info| {
            let (server, problem) = match kc.resolve(Some(&info.name)) {
                Ok(conn) => (Some(without_userinfo(&conn.server)), None),
                Err(e) => (None, Some(e.to_string())),
            };
            Entry {
                name: info.name.clone(),
                cluster: info.cluster.clone(),
                namespace: info.namespace.clone(),
                server,
                problem,
                current: current.as_ref().is_some_and(|c| c.name == info.name),
            }
        })
        .collect();
    let note = match &current {
        None if infos.is_empty() => Some("the kubeconfig defines no contexts".to_string()),
        None => Some(
            "no context is current: pass the context argument to cluster tools or call \
             set_kubeconfig_context"
                .to_string(),
        ),
        Some(c) if !infos.iter().any(|i| i.name == c.name) => Some(format!(
            "the current context {:?} is not defined in the kubeconfig: cluster calls without a \
             context argument will fail; pick one below with set_kubeconfig_context",
            c.name
        )),
        Some(_) => None,
    };
    let listing = Listing {
        current_from: current.as_ref().map(|c| c.chosen_by),
        current: current.map(|c| c.name),
        note,
        kubeconfig: kc.files().iter().map(|p| p.display().to_string()).collect(),
        contexts,
    };
    serde_norway::to_string(&listing)
        .map_err(|e| ToolError::Failed(format!("cannot render the context list: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::config::Env;
    use crate::tools::{Clusters, Session, Settings};
    use serde_json::Map;
    use std::path::{Path, PathBuf};

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fomcp-contexts-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    const CONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: dev\n\
        clusters:\n- name: c1\n  cluster:\n    server: https://admin:hunter2@k8s.example.com:6443\n\
        users:\n- name: u1\n  user:\n    token: tok-abcdef-123456\n\
        contexts:\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n    namespace: apps\n\
        - name: broken\n  context:\n    cluster: gone\n    user: u1\n";

    fn run(path: &Path, session: &Session, flag: Option<&str>) -> Result<String, ToolError> {
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(path.to_path_buf());
        settings.kube.context = flag.map(str::to_string);
        let clusters = Clusters::new(&settings, Env::default());
        let ctx = Ctx {
            settings: &settings,
            session,
            clusters: &clusters,
            cancel: &crate::mcp::server::Cancel::new(),
        };
        (TOOL.call)(&ctx, &Args(&Map::new()))
    }

    #[test]
    fn lists_contexts_with_servers_and_problems_but_no_credentials() {
        let dir = scratch("list");
        let path = dir.join("config");
        std::fs::write(&path, CONFIG).expect("write");
        let out = run(&path, &Session::default(), None).expect("list");
        let expected = format!(
            "current: dev\ncurrent_from: current-context of the kubeconfig\nkubeconfig:\n- {}\n\
             contexts:\n- name: broken\n  cluster: gone\n  problem: context \"broken\" in {} \
             refers to cluster \"gone\", which no kubeconfig file defines\n\
             - name: dev\n  cluster: c1\n  namespace: apps\n  server: https://k8s.example.com:6443\n  current: true\n",
            path.display(),
            path.display()
        );
        assert_eq!(out, expected);
        assert!(!out.contains("hunter2") && !out.contains("tok-abcdef"));
    }

    #[test]
    fn the_session_choice_wins_over_the_flag_and_the_file() {
        let dir = scratch("session");
        let path = dir.join("config");
        std::fs::write(&path, CONFIG).expect("write");
        let out = run(&path, &Session::default(), Some("broken")).expect("flag");
        assert!(
            out.starts_with("current: broken\ncurrent_from: the server's --kube-context flag\n"),
            "{out}"
        );
        let session = Session::default();
        *session.context.lock().expect("lock") = Some("dev".into());
        let out = run(&path, &session, Some("broken")).expect("session");
        assert!(
            out.starts_with("current: dev\ncurrent_from: set_kubeconfig_context in this session\n"),
            "{out}"
        );
        *session.context.lock().expect("lock") = Some("removed".into());
        let out = run(&path, &session, None).expect("stale");
        let parsed: Value = serde_norway::from_str(&out).expect("YAML");
        let note = parsed["note"].as_str().unwrap_or_default();
        assert!(
            note.starts_with("the current context \"removed\" is not defined"),
            "{out}"
        );
    }
}
