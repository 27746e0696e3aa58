//! Reaching a cluster from a tool call: the kubeconfig (loaded on first use), one REST client
//! per context (so connections are reused across calls), the context a call targets, and
//! cluster errors worded for the agent with the context named.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::{Args, Ctx, Settings, ToolError};
use crate::kube::client::{Client, ClientOptions};
use crate::kube::config::{self, Env, Kubeconfig, Overrides};
use crate::kube::discovery::Resource;
use crate::kube::{self, NetworkEnv};

/// The name of the optional argument every cluster tool takes.
pub const CONTEXT_ARG: &str = "context";

/// The JSON schema of the `context` argument, for the tools' `properties`.
pub fn context_property() -> Value {
    json!({
        "type": "string",
        "description": "Kubeconfig context to query for this call only (see get_kubeconfig_contexts); \
                        default: the session's context, else the kubeconfig's current context."
    })
}

/// The kubeconfig and the clients built from it, shared by every session of the process.
pub struct Clusters {
    overrides: Overrides,
    env: Env,
    timeout: Duration,
    kubeconfig: Mutex<Option<Loaded>>,
    clients: Mutex<HashMap<String, Client>>,
}

/// The merged kubeconfig and what its files looked like when they were read.
struct Loaded {
    kc: Arc<Kubeconfig>,
    stamps: Vec<Option<FileStamp>>,
}

/// Enough of a file's metadata to notice that it was rewritten or replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

/// The stamp of each file (`None`: it cannot be read any more).
fn stamps(files: &[PathBuf]) -> Vec<Option<FileStamp>> {
    files
        .iter()
        .map(|f| {
            let meta = std::fs::metadata(f).ok()?;
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            #[cfg(not(unix))]
            let inode = 0;
            Some(FileStamp {
                modified: meta.modified().ok(),
                len: meta.len(),
                inode,
            })
        })
        .collect()
}

impl Clusters {
    /// Nothing is read until a tool needs a cluster: `serve` starts without one (the docs
    /// search works offline) and kubeconfig problems are reported by the first cluster call.
    pub fn new(settings: &Settings, env: Env) -> Clusters {
        Clusters {
            overrides: settings.kube.clone(),
            env,
            timeout: settings.timeout,
            kubeconfig: Mutex::new(None),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The merged kubeconfig, loaded on first use and read again when one of its files
    /// changed, as kubectl reads it on every run: a token that `oc login` or a refresh script
    /// wrote, a `kubectl config use-context`, a fixed typo all apply to the next call. The
    /// clients built from an outdated kubeconfig are dropped. A failure is not remembered: a
    /// user who fixes the file mid-session recovers without restarting the server.
    pub fn kubeconfig(&self) -> Result<Arc<Kubeconfig>, ToolError> {
        self.load(false)
    }

    /// Read the kubeconfig files again even when they look unchanged (the context tools do,
    /// so a context added with `kubectl config` shows up at once).
    pub fn reload(&self) -> Result<Arc<Kubeconfig>, ToolError> {
        self.load(true)
    }

    fn load(&self, force: bool) -> Result<Arc<Kubeconfig>, ToolError> {
        let mut slot = crate::sync::lock(&self.kubeconfig);
        if let Some(loaded) = slot.as_ref()
            && !force
            && stamps(loaded.kc.files()) == loaded.stamps
        {
            return Ok(loaded.kc.clone());
        }
        let kc = config::load(&self.overrides, &self.env)
            .map_err(|e| ToolError::Failed(format!("cannot load the kubeconfig: {e}")))?;
        let stamps = stamps(kc.files());
        let changed = slot.as_ref().is_some_and(|old| old.stamps != stamps);
        if changed {
            crate::sync::lock(&self.clients).clear();
        }
        let kc = Arc::new(kc);
        *slot = Some(Loaded {
            kc: kc.clone(),
            stamps,
        });
        Ok(kc)
    }

    /// The client for `context` (`None`: the kubeconfig's current context), built once.
    fn client(&self, context: Option<&str>) -> Result<Client, ToolError> {
        let kc = self.kubeconfig()?;
        let name = match context.or(kc.current_context()) {
            Some(name) => name.to_string(),
            None => {
                return Err(ToolError::Failed(
                    "no kubeconfig context is selected: the kubeconfig has no current-context; \
                     pass the context argument (see get_kubeconfig_contexts) or start the server \
                     with --kube-context"
                        .to_string(),
                ));
            }
        };
        let mut clients = crate::sync::lock(&self.clients);
        if let Some(client) = clients.get(&name) {
            return Ok(client.clone());
        }
        let conn = kc
            .resolve(Some(&name))
            .map_err(|e| unknown_context(&kc, &name, e))?;
        let options = ClientOptions {
            timeout: self.timeout,
            env: NetworkEnv::from_process(),
        };
        let client = Client::new(&conn, options)
            .map_err(|e| ToolError::Failed(format!("context {name}: {e}")))?;
        clients.insert(name, client.clone());
        Ok(client)
    }
}

/// A resolve failure; for a context that does not exist, list the ones that do.
fn unknown_context(kc: &Kubeconfig, name: &str, e: config::Error) -> ToolError {
    let names: Vec<String> = kc.contexts().into_iter().map(|c| c.name).collect();
    if names.iter().any(|n| n == name) {
        return ToolError::Failed(format!("context {name}: {e}"));
    }
    ToolError::InvalidArgument(if names.is_empty() {
        format!("context {name:?} does not exist: the kubeconfig defines no contexts")
    } else {
        format!(
            "context {name:?} does not exist; the kubeconfig defines: {}",
            names.join(", ")
        )
    })
}

/// One cluster, as seen by one tool call: the client carries the call's deadline.
pub struct Cluster {
    pub client: Client,
}

impl Cluster {
    /// The context name, for messages.
    pub fn context(&self) -> &str {
        self.client.context()
    }

    /// The `(namespace, name)` of up to `at_most` objects of `resource` in `namespace` (every
    /// namespace for `None`), and whether the server has more, for "not found, did you mean"
    /// answers. One metadata-only LIST: what kubectl asks for when it needs names, far smaller
    /// than the objects.
    pub fn names(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        at_most: usize,
    ) -> Result<(Vec<(String, String)>, bool), kube::Error> {
        let path = resource.collection_path(namespace)?;
        let target = format!("{path}?limit={at_most}");
        let accept =
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json";
        let list = self.client.get_path_accept(&target, accept)?;
        let items = list["items"].as_array().map_or(&[][..], Vec::as_slice);
        let names = items
            .iter()
            .take(at_most)
            .filter_map(|i| {
                let name = i["metadata"]["name"].as_str()?;
                let namespace = i["metadata"]["namespace"].as_str().unwrap_or("");
                Some((namespace.to_string(), name.to_string()))
            })
            .collect();
        let more = items.len() > at_most
            || list["metadata"]["continue"]
                .as_str()
                .is_some_and(|t| !t.is_empty());
        Ok((names, more))
    }

    /// A cluster error as the agent reads it: the context named first, the API server's own
    /// message kept verbatim, and a hint where the next step is not obvious.
    pub fn error(&self, e: kube::Error) -> ToolError {
        let hint = if e.is_unauthorized() {
            " (the API server rejected this context's credentials: they may have expired; \
             refresh them, e.g. log in again for an exec plugin, then retry)"
        } else if e.is_forbidden() {
            " (RBAC refused this identity; the message names the verb and resource it lacks)"
        } else {
            match e {
                kube::Error::Timeout { .. } => {
                    " (a slow or unreachable API server: raise --timeout for a slow one, or \
                     narrow the query with namespace, selector or limit)"
                }
                kube::Error::Connect { .. } => {
                    " (check the server URL, VPN and proxy settings: HTTPS_PROXY, NO_PROXY, \
                     proxy-url; `flux-operator-mcp check` shows what is used)"
                }
                _ if e.is_transient() => " (this may be temporary: retry the call)",
                _ => "",
            }
        };
        ToolError::Failed(format!("context {}: {e}{hint}", self.context()))
    }
}

impl Ctx<'_> {
    /// The cluster a call targets: its `context` argument, else the context the session chose
    /// with `set_kubeconfig_context`, else the kubeconfig's current context. The client is
    /// shared across calls; its deadline is this call's `--timeout`.
    pub fn cluster(&self, args: &Args) -> Result<Cluster, ToolError> {
        let from_args = args.opt_str(CONTEXT_ARG)?.map(str::to_string);
        let from_session = crate::sync::lock(&self.session.context).clone();
        let client = self
            .clusters
            .client(from_args.or(from_session).as_deref())?;
        let deadline = Instant::now() + self.settings.timeout;
        Ok(Cluster {
            client: client.with_deadline(deadline),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::Session;
    use serde_json::Map;
    use std::path::PathBuf;

    fn kubeconfig_file(dir: &std::path::Path) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\n\
             clusters:\n- name: c1\n  cluster:\n    server: https://127.0.0.1:1\n\
             contexts:\n- name: dev\n  context:\n    cluster: c1\n- name: prod\n  context:\n    cluster: c1\n",
        )
        .expect("write kubeconfig");
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fomcp-cluster-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// Settings pointing at a two-context kubeconfig (dev is current) in a scratch folder.
    fn two_contexts(name: &str) -> (Settings, Clusters, Session) {
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(kubeconfig_file(&scratch(name)));
        let clusters = Clusters::new(&settings, Env::default());
        (settings, clusters, Session::default())
    }

    #[test]
    fn context_precedence_is_argument_then_session_then_current() {
        let (settings, clusters, session) = two_contexts("precedence");
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
        };
        let none = Map::new();
        assert_eq!(ctx.cluster(&Args(&none)).expect("current").context(), "dev");
        *session.context.lock().expect("lock") = Some("prod".to_string());
        assert_eq!(
            ctx.cluster(&Args(&none)).expect("session").context(),
            "prod"
        );
        let mut args = Map::new();
        args.insert("context".into(), json!("dev"));
        assert_eq!(
            ctx.cluster(&Args(&args)).expect("argument").context(),
            "dev"
        );
    }

    #[test]
    fn an_unknown_context_lists_the_known_ones() {
        let (settings, clusters, session) = two_contexts("unknown");
        let ctx = Ctx {
            settings: &settings,
            session: &session,
            clusters: &clusters,
        };
        let mut args = Map::new();
        args.insert("context".into(), json!("staging"));
        let err = ctx
            .cluster(&Args(&args))
            .err()
            .expect("must fail")
            .to_string();
        assert_eq!(
            err,
            "context \"staging\" does not exist; the kubeconfig defines: dev, prod"
        );
    }

    #[test]
    fn a_missing_kubeconfig_is_a_tool_error_that_says_so() {
        let mut settings = Settings::default();
        settings.kube.kubeconfig = Some(PathBuf::from("/nonexistent/kubeconfig"));
        let clusters = Clusters::new(&settings, Env::default());
        let err = clusters.kubeconfig().expect_err("must fail").to_string();
        assert!(err.starts_with("cannot load the kubeconfig: "), "{err}");
        assert!(err.contains("/nonexistent/kubeconfig"), "{err}");
    }
}
