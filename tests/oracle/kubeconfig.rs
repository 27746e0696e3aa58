//! kubectl as the oracle for kubeconfig semantics: `cargo run --example kubeconfig-oracle`.
//!
//! For every case in `testdata/kubeconfig/` it runs the real kubectl (hermetic: a fresh $HOME,
//! the case's KUBECONFIG and flags, nothing else) and our loader, compares the context list,
//! the current and effective context, every context's cluster, user, namespace and server,
//! prints a table and exits non-zero on any difference. It also reports an `expected.yaml` that
//! no longer matches kubectl. `-- --write` rewrites every case's `expected.yaml` from kubectl's
//! answers (that is how they are made: never by hand). Extra arguments pick cases by name.
//! `$KUBECTL` names the kubectl binary (default: `kubectl` in PATH).

#[path = "../it/kubeconfig/cases.rs"]
mod cases;

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use cases::{Case, Observed, ObservedContext};

fn main() -> ExitCode {
    let mut write = false;
    let mut only = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--write" => write = true,
            "-h" | "--help" => {
                println!("usage: kubeconfig-oracle [--write] [CASE...]");
                return ExitCode::SUCCESS;
            }
            name => only.push(name.to_string()),
        }
    }
    match run(write, &only) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kubeconfig-oracle: {e}");
            ExitCode::from(2)
        }
    }
}

/// Ok(true) when kubectl and our loader agree on every case.
fn run(write: bool, only: &[String]) -> Result<bool, String> {
    let home = std::env::temp_dir().join(format!("kubeconfig-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&home).map_err(|e| format!("{}: {e}", home.display()))?;
    let kubectl = Kubectl {
        program: std::env::var_os("KUBECTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("kubectl")),
        home: home.clone(),
    };
    let result = compare_all(&kubectl, write, only);
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn compare_all(kubectl: &Kubectl, write: bool, only: &[String]) -> Result<bool, String> {
    let version = kubectl.version()?;
    let mut cases = Case::all(&cases::root())?;
    if !only.is_empty() {
        cases.retain(|c| only.contains(&c.name));
    }
    println!("kubeconfig oracle: {} cases, {version}\n", cases.len());
    let mut table = Table::default();
    let mut agree = true;
    for case in &cases {
        let theirs = kubectl.observe(case)?;
        let ours = case.observe_ours(&kubectl.home);
        agree &= table.compare(case, &theirs, &ours);
        if write {
            let text = cases::render_expected(&theirs, &version)?;
            std::fs::write(case.expected_path(), text)
                .map_err(|e| format!("{}: {e}", case.expected_path().display()))?;
        } else {
            let stale = case.read_expected().ok().as_ref() != Some(&theirs);
            table.row(
                &case.name,
                "expected.yaml",
                "",
                if stale {
                    "stale: rerun with --write"
                } else {
                    ""
                },
                !stale,
            );
            agree &= !stale;
        }
    }
    table.print();
    let failed = table.rows.iter().filter(|r| !r.ok).count();
    println!(
        "\n{} checks, {failed} differences{}",
        table.rows.len(),
        if write {
            "; expected.yaml files written"
        } else {
            ""
        }
    );
    Ok(agree)
}

struct Kubectl {
    program: PathBuf,
    home: PathBuf,
}

impl Kubectl {
    /// kubectl with only PATH, the case's KUBECONFIG and a fresh HOME: never ~/.kube.
    fn command(&self, case: Option<&Case>) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        cmd.env("HOME", &self.home);
        if let Some(case) = case {
            if let Some(list) = case.kubeconfig_env() {
                cmd.env("KUBECONFIG", list);
            }
            if let Some(path) = case.explicit() {
                cmd.arg("--kubeconfig").arg(path);
            }
        }
        cmd
    }

    /// stdout on success, else stderr.
    fn run(&self, case: Option<&Case>, args: &[&str]) -> Result<Result<String, String>, String> {
        let output = self
            .command(case)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        Ok(if output.status.success() {
            Ok(stdout)
        } else {
            Err(stderr)
        })
    }

    fn version(&self) -> Result<String, String> {
        let out = self
            .run(None, &["version", "--client", "-o", "json"])?
            .map_err(|e| format!("kubectl version: {e}"))?;
        let json: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("kubectl version: {e}"))?;
        let version = json["clientVersion"]["gitVersion"]
            .as_str()
            .unwrap_or("unknown");
        Ok(format!("kubectl {version}"))
    }

    fn observe(&self, case: &Case) -> Result<Observed, String> {
        let fail = |what: &str, e: String| format!("{}: kubectl {what}: {e}", case.name);
        let names: Vec<String> = self
            .run(Some(case), &["config", "get-contexts", "-o", "name"])?
            .map_err(|e| fail("config get-contexts", e))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let current_context = match self.run(Some(case), &["config", "current-context"])? {
            Ok(out) => Some(out.trim().to_string()).filter(|c| !c.is_empty()),
            Err(e) if e.contains("current-context is not set") => None,
            Err(e) => return Err(fail("config current-context", e)),
        };
        let view = self
            .run(Some(case), &["config", "view", "-o", "json"])?
            .map_err(|e| fail("config view", e))?;
        let view: serde_json::Value =
            serde_json::from_str(&view).map_err(|e| fail("config view", e.to_string()))?;

        // The context kubectl would act on: `--context` if the case gives one.
        let mut minify = vec!["config", "view", "--minify", "-o", "json"];
        if let Some(context) = &case.spec.context {
            minify.push("--context");
            minify.push(context);
        }
        let effective_context = match self.run(Some(case), &minify)? {
            Ok(out) => {
                let json: serde_json::Value = serde_json::from_str(&out)
                    .map_err(|e| fail("config view --minify", e.to_string()))?;
                json["current-context"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
            }
            Err(_) => None,
        };

        let entry = |list: &str, name: &str, field: &str| -> serde_json::Value {
            view[list]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["name"] == name))
                .map(|i| i[field].clone())
                .unwrap_or(serde_json::Value::Null)
        };
        let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let contexts = names
            .iter()
            .map(|name| {
                let context = entry("contexts", name, "context");
                let cluster = text(&context["cluster"]).unwrap_or_default();
                ObservedContext {
                    name: name.clone(),
                    server: text(&entry("clusters", &cluster, "cluster")["server"]),
                    cluster,
                    user: text(&context["user"]).unwrap_or_default(),
                    namespace: text(&context["namespace"]),
                }
            })
            .collect();
        Ok(Observed {
            current_context,
            effective_context,
            contexts,
        })
    }
}

struct Row {
    case: String,
    what: String,
    kubectl: String,
    ours: String,
    ok: bool,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn row(&mut self, case: &str, what: &str, kubectl: &str, ours: &str, ok: bool) {
        self.rows.push(Row {
            case: case.to_string(),
            what: what.to_string(),
            kubectl: kubectl.to_string(),
            ours: ours.to_string(),
            ok,
        });
    }

    /// One row per compared fact; true when all agree.
    fn compare(&mut self, case: &Case, theirs: &Observed, ours: &Result<Observed, String>) -> bool {
        let ours = match ours {
            Ok(o) => o,
            Err(e) => {
                self.row(&case.name, "load", "ok", &format!("error: {e}"), false);
                return false;
            }
        };
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
        let mut agree = true;
        let mut check = |table: &mut Table, what: &str, k: String, o: String| {
            let ok = k == o;
            agree &= ok;
            table.row(&case.name, what, &k, &o, ok);
        };
        check(
            self,
            "current-context",
            show(&theirs.current_context),
            show(&ours.current_context),
        );
        check(
            self,
            "effective context",
            show(&theirs.effective_context),
            show(&ours.effective_context),
        );
        let names = |o: &Observed| {
            o.contexts
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        };
        check(
            self,
            "contexts",
            names(theirs).join(","),
            names(ours).join(","),
        );
        for t in &theirs.contexts {
            let summary = |c: &ObservedContext| {
                format!(
                    "{} {} ns={} {}",
                    c.cluster,
                    if c.user.is_empty() { "-" } else { &c.user },
                    show(&c.namespace),
                    show(&c.server)
                )
            };
            let o = ours
                .contexts
                .iter()
                .find(|o| o.name == t.name)
                .map(summary)
                .unwrap_or_else(|| "(missing)".to_string());
            check(self, &format!("context {}", t.name), summary(t), o);
        }
        agree
    }

    fn print(&self) {
        let width = |f: fn(&Row) -> &str, title: &str| {
            self.rows
                .iter()
                .map(|r| f(r).chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        };
        let (wc, ww, wk) = (
            width(|r| &r.case, "CASE"),
            width(|r| &r.what, "CHECK"),
            width(|r| &r.kubectl, "KUBECTL"),
        );
        println!("{:wc$}  {:ww$}  {:wk$}  OURS", "CASE", "CHECK", "KUBECTL");
        for r in &self.rows {
            let ours = if r.ok && r.what != "expected.yaml" {
                "same".to_string()
            } else if r.ok {
                "up to date".to_string()
            } else {
                format!("DIFFERS: {}", r.ours)
            };
            println!("{:wc$}  {:ww$}  {:wk$}  {ours}", r.case, r.what, r.kubectl);
        }
    }
}
