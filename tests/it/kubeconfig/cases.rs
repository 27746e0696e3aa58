//! The kubeconfig cases in `testdata/kubeconfig/`: how each is loaded (`case.yaml`), what kubectl
//! reported for it (`expected.yaml`), and what our loader reports, in one comparable shape.
//! Shared by the integration test (`tests/it/kubeconfig.rs`, no kubectl needed) and the kubectl
//! oracle (`tests/oracle/kubeconfig.rs`, which writes `expected.yaml` from kubectl).
#![allow(dead_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use flux_operator_mcp::kube::config::{self, Env, Overrides};
use serde::{Deserialize, Serialize};

/// `case.yaml`: how to load a case, the way a user would run kubectl on it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// What the case checks, for people.
    pub description: String,
    /// `KUBECONFIG` entries relative to the case folder; `""` stands for an empty entry.
    #[serde(default)]
    pub kubeconfig: Option<Vec<String>>,
    /// `--kubeconfig`, relative to the case folder.
    #[serde(default)]
    pub explicit: Option<String>,
    /// `--kube-context` (kubectl `--context`).
    #[serde(default)]
    pub context: Option<String>,
    /// `-n` (kubectl `--namespace`).
    #[serde(default)]
    pub namespace: Option<String>,
}

#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub spec: Spec,
}

/// What kubectl (or we) report for a case; `expected.yaml` holds kubectl's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Observed {
    /// `kubectl config current-context`; `None` when no file sets one.
    pub current_context: Option<String>,
    /// The context kubectl acts on with the case's flags (`config view --minify`'s
    /// current-context); `None` when there is none.
    pub effective_context: Option<String>,
    /// `kubectl config get-contexts -o name`, in kubectl's order.
    pub contexts: Vec<ObservedContext>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservedContext {
    pub name: String,
    pub cluster: String,
    pub user: String,
    /// The context's own namespace (`None` when it sets none).
    pub namespace: Option<String>,
    /// The server of the context's cluster (`None` when the cluster is not defined).
    pub server: Option<String>,
}

/// testdata/kubeconfig
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/kubeconfig")
}

impl Case {
    /// Every folder of `root` that holds a `case.yaml`, sorted by name.
    pub fn all(root: &Path) -> Result<Vec<Case>, String> {
        let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let mut cases = Vec::new();
        for entry in entries {
            let dir = entry
                .map_err(|e| format!("{}: {e}", root.display()))?
                .path();
            let spec_path = dir.join("case.yaml");
            if !spec_path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&spec_path)
                .map_err(|e| format!("{}: {e}", spec_path.display()))?;
            let spec: Spec = serde_norway::from_str(&text)
                .map_err(|e| format!("{}: {e}", spec_path.display()))?;
            if spec.kubeconfig.is_none() && spec.explicit.is_none() {
                return Err(format!(
                    "{}: needs `kubeconfig` or `explicit`",
                    spec_path.display()
                ));
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            cases.push(Case { name, dir, spec });
        }
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cases)
    }

    /// The `KUBECONFIG` value: the listed entries made absolute, empty ones kept empty.
    pub fn kubeconfig_env(&self) -> Option<OsString> {
        let entries = self.spec.kubeconfig.as_ref()?;
        let paths: Vec<PathBuf> = entries
            .iter()
            .map(|e| {
                if e.is_empty() {
                    PathBuf::new()
                } else {
                    self.dir.join(e)
                }
            })
            .collect();
        std::env::join_paths(paths).ok()
    }

    /// `--kubeconfig`, absolute.
    pub fn explicit(&self) -> Option<PathBuf> {
        self.spec.explicit.as_ref().map(|e| self.dir.join(e))
    }

    pub fn overrides(&self) -> Overrides {
        Overrides {
            kubeconfig: self.explicit(),
            context: self.spec.context.clone(),
            namespace: self.spec.namespace.clone(),
            ..Overrides::default()
        }
    }

    /// A hermetic environment: the case's KUBECONFIG, `home` as $HOME, not in a pod.
    pub fn env(&self, home: &Path) -> Env {
        Env {
            kubeconfig: self.kubeconfig_env(),
            home: Some(home.to_path_buf()),
            service_host: None,
            service_port: None,
            service_account_dir: home.join("no-service-account"),
        }
    }

    pub fn expected_path(&self) -> PathBuf {
        self.dir.join("expected.yaml")
    }

    pub fn read_expected(&self) -> Result<Observed, String> {
        let path = self.expected_path();
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (generate it with `cargo run --example kubeconfig-oracle -- --write`)",
                path.display()
            )
        })?;
        serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// What our loader reports, in the shape kubectl's answers are recorded in.
    pub fn observe_ours(&self, home: &Path) -> Result<Observed, String> {
        let kc = config::load(&self.overrides(), &self.env(home)).map_err(|e| e.to_string())?;
        let contexts = kc
            .contexts()
            .into_iter()
            .map(|c| ObservedContext {
                server: kc.resolve(Some(&c.name)).ok().map(|conn| conn.server),
                name: c.name,
                cluster: c.cluster,
                user: c.user,
                namespace: c.namespace,
            })
            .collect();
        Ok(Observed {
            current_context: kc.file_current_context().map(str::to_string),
            effective_context: kc.resolve(None).ok().map(|conn| conn.context),
            contexts,
        })
    }
}

/// `expected.yaml`'s text for an observation: a header saying where it came from, then YAML.
pub fn render_expected(observed: &Observed, kubectl_version: &str) -> Result<String, String> {
    let body = serde_norway::to_string(observed).map_err(|e| e.to_string())?;
    Ok(format!(
        "# What {kubectl_version} reports for this case (see case.yaml). Generated by\n\
         # `cargo run --example kubeconfig-oracle -- --write`; do not edit by hand.\n{body}"
    ))
}
