//! `set_kubeconfig_context`: which context the cluster tools of this MCP session use when a call
//! names none. Kept in the session only; the kubeconfig file is never written.

use serde_json::{Value, json};

use super::{Args, Ctx, Tool, ToolError};
use crate::kube::config::without_userinfo;

pub const TOOL: Tool = Tool {
    name: "set_kubeconfig_context",
    title: "Switch kubeconfig context",
    description: "Switches the Kubernetes context used by the following cluster tool calls of \
        this session (the kubeconfig file is not changed, other sessions are not affected). \
        Names come from get_kubeconfig_contexts. To query another cluster for a single call, \
        pass its context argument instead.",
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
    json!({
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "description": "The context name, as listed by get_kubeconfig_contexts."
            }
        },
        "required": ["name"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let name = args.str("name")?;
    // Read the files again so a context added since the server started can be chosen.
    let kc = ctx.clusters.reload()?;
    let before = ctx.current_context(&kc);
    let names: Vec<String> = kc.contexts().into_iter().map(|c| c.name).collect();
    if !names.iter().any(|n| n == name) {
        return Err(ToolError::InvalidArgument(unknown(name, &names)));
    }
    // Refuse a context that cannot work (its cluster is missing, a certificate file is
    // unreadable) rather than let every later call fail with it; the session is unchanged.
    let conn = kc.resolve(Some(name)).map_err(|e| {
        let keeps = match &before {
            Some(c) => format!("; this session still uses context {}", c.name),
            None => String::new(),
        };
        ToolError::Failed(format!("context {name} cannot be used: {e}{keeps}"))
    })?;
    *crate::sync::lock(&ctx.session.context) = Some(name.to_string());
    let mut out = format!(
        "This session now uses context {name}: cluster {}, server {}, default namespace {}.\n\
         Cluster tool calls without a context argument go there; the kubeconfig file is unchanged.",
        conn.cluster,
        without_userinfo(&conn.server),
        conn.namespace
    );
    if let Some(before) = before.filter(|b| b.name != name) {
        out.push_str(&format!("\nBefore: context {}.", before.name));
    }
    Ok(out)
}

/// `context "prd" does not exist (did you mean prod?); the kubeconfig defines: dev, prod`.
fn unknown(name: &str, names: &[String]) -> String {
    super::cluster::no_such_context(name, names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::config::Env;
    use crate::tools::{Clusters, Session, Settings};
    use serde_json::Map;

    const CONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: dev\n\
        clusters:\n- name: c1\n  cluster:\n    server: https://k8s.example.com:6443\n\
        - name: c2\n  cluster:\n    server: https://prod.example.com\n\
        contexts:\n- name: dev\n  context:\n    cluster: c1\n\
        - name: prod\n  context:\n    cluster: c2\n    namespace: apps\n\
        - name: broken\n  context:\n    cluster: gone\n";

    fn setup(tag: &str) -> Settings {
        let dir = std::env::temp_dir().join(format!("fomcp-setctx-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config");
        std::fs::write(&path, CONFIG).expect("write");
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(path);
        settings
    }

    fn set(settings: &Settings, session: &Session, name: &str) -> Result<String, ToolError> {
        let clusters = Clusters::new(settings, Env::default());
        let ctx = Ctx {
            settings,
            session,
            clusters: &clusters,
        };
        let mut args = Map::new();
        args.insert("name".into(), json!(name));
        (TOOL.call)(&ctx, &Args(&args))
    }

    fn chosen(session: &Session) -> Option<String> {
        session.context.lock().expect("lock").clone()
    }

    #[test]
    fn switching_is_kept_in_the_session_and_says_where_calls_go() {
        let settings = setup("switch");
        let session = Session::default();
        let out = set(&settings, &session, "prod").expect("switch");
        assert_eq!(
            out,
            "This session now uses context prod: cluster c2, server https://prod.example.com, \
             default namespace apps.\nCluster tool calls without a context argument go there; \
             the kubeconfig file is unchanged.\nBefore: context dev."
        );
        assert_eq!(chosen(&session).as_deref(), Some("prod"));
        // Another session is not affected.
        assert_eq!(chosen(&Session::default()), None);
        let file = settings.kube.kubeconfig.as_ref().expect("path");
        assert_eq!(std::fs::read_to_string(file).expect("read"), CONFIG);
    }

    #[test]
    fn unknown_and_unusable_contexts_change_nothing() {
        let settings = setup("refuse");
        let session = Session::default();
        let err = set(&settings, &session, "prd").expect_err("unknown");
        assert_eq!(
            err,
            ToolError::InvalidArgument(
                "context \"prd\" does not exist (did you mean prod?); \
                 the kubeconfig defines: broken, dev, prod"
                    .into()
            )
        );
        let err = set(&settings, &session, "broken")
            .expect_err("unusable")
            .to_string();
        assert!(err.starts_with("context broken cannot be used: "), "{err}");
        assert!(
            err.ends_with("; this session still uses context dev"),
            "{err}"
        );
        assert_eq!(chosen(&session), None);
    }

    #[test]
    fn long_context_lists_are_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("ctx-{i:02}")).collect();
        let text = unknown("nope", &names);
        assert!(text.ends_with("ctx-19 and 5 more"), "{text}");
        assert_eq!(
            unknown("x", &[]),
            "context \"x\" does not exist: the kubeconfig defines no contexts"
        );
    }
}
