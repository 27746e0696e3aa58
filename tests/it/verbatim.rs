//! The root-cause check of issue 14 (item 7), shared by the integration test (`cargo test
//! --test it verbatim`) and the tools bench (`make bench`, which reports the share): objects of
//! every Flux kind in many failing states (the test data's, plus broken variants made here with
//! awkward messages, and chains whose root is another object), an independent oracle that
//! says which object is each one's root cause, and the check that the root's message appears
//! verbatim within the first 2 KB of the answer (of the object's document in a list, or of the
//! root's own document when the list holds it too). Verbatim means the message's bytes as the
//! API server returned them: whole on one line, or its lines one after another with the same
//! indentation (a YAML block scalar) or each after `# ` (a comment); escaping or cutting fails.

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::apiserver::FLUX_KINDS;

/// Where the root message must appear: within this many bytes of the start.
pub const WITHIN: usize = 2048;
/// The namespace of the generated objects.
pub const NAMESPACE: &str = "broken";

/// Messages that have caught renderers out: quotes of both kinds, YAML syntax, multi-line text
/// with indented continuation lines, a cause on a later line, backslashes and tabs, Unicode,
/// a scalar YAML would read as a boolean, blank lines, a trailing line break, a long one.
pub fn messages() -> Vec<String> {
    vec![
        "unable to clone 'ssh://git@github.com/acme/fleet.git': ssh: handshake failed".into(),
        "HelmChart \"apps/web\" is not ready: 'web' chart with version '2.x' not found".into(),
        "kustomize build failed: accumulating resources:\n  accumulation err='deploy.yaml':\n  \
         yaml: line 12: did not find expected key"
            .into(),
        "failed to checkout: unable to clone 'https://git.acme.internal/x.git':\nGet \
         \"https://git.acme.internal/x.git/info/refs\": dial tcp: lookup git.acme.internal on \
         10.96.0.10:53: no such host"
            .into(),
        "- looks like a list item: and a key: value # and a comment".into(),
        "  starts with spaces\nand goes on".into(),
        "tab\tseparated and a backslash \\ in C:\\temp\\x".into(),
        "unicode: ünïcødé ✓ 🦀 — em dash".into(),
        "true".into(),
        format!("{} end of a long message", "very long ".repeat(90)),
        "ends with a line break\n".into(),
        "blank lines\n\n\nbetween".into(),
        "{\"json\": [1, 2]} and 'yaml': {a: b}".into(),
    ]
}

/// A message whose control characters YAML cannot carry: it must come escaped, and say so.
pub const CONTROL: &str = "colour \u{1b}[31mred\u{1b}[0m and a bell \u{7}";

/// One failing object and what its answer must show.
#[derive(Debug, Clone)]
pub struct Case {
    pub kind: String,
    pub api_version: String,
    pub namespace: String,
    pub name: String,
    pub root: Root,
}

/// The root cause of a failing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// Its message (Ready's, else Stalled's); `None` for a missing object or one without
    /// conditions.
    pub message: Option<String>,
    /// `not found`, `no Ready condition yet`, or `failing`.
    pub state: &'static str,
}

impl Root {
    pub fn label(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A failing condition set: Ready False with `message`, and (by `i`) a Stalled and a
/// Reconciling that repeat it, as controllers write them.
fn failing(reason: &str, message: &str, i: usize) -> Value {
    let mut c = vec![json!({"type": "Ready", "status": "False", "reason": reason,
        "message": message, "lastTransitionTime": "2026-11-21T05:00:00Z"})];
    if i.is_multiple_of(2) {
        c.push(
            json!({"type": "Stalled", "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-21T05:00:00Z"}),
        );
    }
    if i.is_multiple_of(3) {
        c.push(
            json!({"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
            "message": format!("building artifact: {message}"),
            "lastTransitionTime": "2026-11-21T05:00:00Z"}),
        );
    }
    json!(c)
}

/// The spec fields that point at other objects: taken out of a variant that fails on its own.
const REFERENCES: &[&str] = &[
    "sourceRef",
    "chartRef",
    "chart",
    "dependsOn",
    "imageRepositoryRef",
    "inputsFrom",
    "providerRef",
    "sources",
    "include",
];

/// Broken variants: for every Flux kind, one object per message that fails on its own; then
/// chains whose root cause is another object (a failing source, a dependency's source, a
/// HelmRelease's chart repository, an image repository, an input provider, a missing one);
/// and one object whose message holds control characters. `templates` are the test data's.
pub fn variants(templates: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    let messages = messages();
    for kind in FLUX_KINDS {
        let Some(template) = templates.iter().find(|o| o["kind"] == *kind) else {
            continue;
        };
        for (i, message) in messages.iter().enumerate() {
            let mut obj = template.clone();
            obj["metadata"] = json!({"name": format!("{}-{i}", kind.to_lowercase()),
                "namespace": NAMESPACE});
            if let Some(spec) = obj["spec"].as_object_mut() {
                for r in REFERENCES {
                    spec.remove(*r);
                }
                spec.remove("suspend");
            }
            obj["status"] = json!({"conditions": failing(&format!("Broken{i}"), message, i)});
            out.push(obj);
        }
    }
    let object = |api: &str, kind: &str, name: &str, spec: Value, status: Value| {
        json!({"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": NAMESPACE}, "spec": spec, "status": status})
    };
    let source = "source.toolkit.fluxcd.io/v1";
    let ks = "kustomize.toolkit.fluxcd.io/v1";
    for (i, message) in messages.iter().enumerate() {
        let git = format!("git-root-{i}");
        out.push(object(
            source,
            "GitRepository",
            &git,
            json!({"interval": "5m", "url": "ssh://git@github.com/acme/x.git"}),
            json!({"conditions": failing("GitOperationFailed", message, i)}),
        ));
        out.push(object(
            ks,
            "Kustomization",
            &format!("ks-via-git-{i}"),
            json!({"interval": "10m", "path": "./", "prune": true,
                   "sourceRef": {"kind": "GitRepository", "name": git}}),
            json!({"conditions": failing("ArtifactFailed",
                "Source artifact not found, retrying in 30s", i)}),
        ));
        out.push(object(
            ks,
            "Kustomization",
            &format!("ks-dep-{i}"),
            json!({"interval": "10m", "path": "./", "prune": true,
                   "sourceRef": {"kind": "GitRepository", "name": "git-ok"},
                   "dependsOn": [{"name": format!("ks-via-git-{i}")}]}),
            json!({"conditions": failing("DependencyNotReady",
                &format!("dependency 'broken/ks-via-git-{i}' is not ready"), i)}),
        ));
        let repo = format!("repo-root-{i}");
        out.push(object(
            source,
            "HelmRepository",
            &repo,
            json!({"interval": "1h", "url": "https://charts.example.com"}),
            json!({"conditions": failing("IndexationFailed", message, i)}),
        ));
        out.push(object(
            source,
            "HelmChart",
            &format!("broken-hr-{i}"),
            json!({"chart": "web", "interval": "1h",
                   "sourceRef": {"kind": "HelmRepository", "name": repo}}),
            json!({"conditions": failing("ArtifactFailed",
                &format!("HelmRepository 'broken/{repo}' is not ready"), i)}),
        ));
        out.push(object(
            "helm.toolkit.fluxcd.io/v2",
            "HelmRelease",
            &format!("hr-{i}"),
            json!({"interval": "10m", "chart": {"spec": {"chart": "web",
                   "sourceRef": {"kind": "HelmRepository", "name": repo}}}}),
            json!({"helmChart": format!("broken/broken-hr-{i}"),
                   "conditions": failing("ArtifactFailed",
                       &format!("HelmChart 'broken/broken-hr-{i}' is not ready"), i)}),
        ));
        let images = "image.toolkit.fluxcd.io/v1";
        out.push(object(
            images,
            "ImageRepository",
            &format!("imagerepo-root-{i}"),
            json!({"image": "ghcr.io/acme/app", "interval": "5m"}),
            json!({"conditions": failing("AuthenticationFailed", message, i)}),
        ));
        out.push(object(
            images,
            "ImagePolicy",
            &format!("policy-{i}"),
            json!({"imageRepositoryRef": {"name": format!("imagerepo-root-{i}")},
                   "policy": {"semver": {"range": "1.x"}}}),
            json!({"conditions": failing("DependencyNotReady",
                "cannot determine latest tag: the image repository is not ready", i)}),
        ));
        let operator = "fluxcd.controlplane.io/v1";
        out.push(object(
            operator,
            "ResourceSetInputProvider",
            &format!("inputs-root-{i}"),
            json!({"type": "GitHubPullRequest", "url": "https://github.com/acme/app"}),
            json!({"conditions": failing("ReconciliationFailed", message, i)}),
        ));
        out.push(object(
            operator,
            "ResourceSet",
            &format!("rset-{i}"),
            json!({"inputsFrom": [{"kind": "ResourceSetInputProvider",
                   "name": format!("inputs-root-{i}")}], "resources": []}),
            json!({"conditions": failing("ReconciliationFailed",
                "failed to get inputs", i)}),
        ));
    }
    out.push(object(
        source,
        "GitRepository",
        "git-ok",
        json!({"interval": "5m", "url": "ssh://git@github.com/acme/x.git"}),
        json!({"conditions": [{"type": "Ready", "status": "True", "reason": "Succeeded",
            "message": "stored artifact for revision 'main@sha1:abc'"}]}),
    ));
    // Missing roots: a HelmRelease whose HelmChart and HelmRepository do not exist.
    out.push(object(
        "helm.toolkit.fluxcd.io/v2",
        "HelmRelease",
        "hr-missing",
        json!({"interval": "10m", "chart": {"spec": {"chart": "web",
               "sourceRef": {"kind": "HelmRepository", "name": "nowhere"}}}}),
        json!({"helmChart": "broken/broken-hr-missing",
               "conditions": failing("ArtifactFailed", "could not get HelmChart object", 1)}),
    ));
    out.push(object(
        ks,
        "Kustomization",
        "ks-control",
        json!({"interval": "10m", "path": "./", "prune": true}),
        json!({"conditions": failing("BuildFailed", CONTROL, 1)}),
    ));
    out
}

/// `ns/name` in a kind, among `objects`.
fn find<'a>(objects: &'a [Value], kind: &str, ns: &str, name: &str) -> Option<&'a Value> {
    objects.iter().find(|o| {
        o["kind"] == kind && o["metadata"]["namespace"] == ns && o["metadata"]["name"] == name
    })
}

fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Failing: Ready False, or Stalled True (and not suspended).
pub fn is_failing(obj: &Value) -> bool {
    let ready_false = condition(obj, "Ready").is_some_and(|c| c["status"] == "False");
    let stalled = condition(obj, "Stalled").is_some_and(|c| c["status"] == "True");
    obj["spec"]["suspend"] != true && (ready_false || stalled)
}

/// Not a problem for a dependent: Ready True.
fn is_ready(obj: &Value) -> bool {
    condition(obj, "Ready").is_some_and(|c| c["status"] == "True") && !is_failing(obj)
}

/// `(kind, namespace, name)` of a referenced object.
type Ref = (String, String, String);

/// What an object names as its sources and dependencies, as `(kind, namespace, name, then)`,
/// `then` being what a missing one would have pointed at. Written here from the Flux API
/// docs, apart from the server's own code.
fn references(obj: &Value) -> Vec<(String, String, String, Vec<Ref>)> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let spec = &obj["spec"];
    let kind = obj["kind"].as_str().unwrap_or("");
    let r = |v: &Value, default_kind: &str| -> Option<(String, String, String)> {
        let name = v["name"].as_str()?;
        let k = v["kind"].as_str().unwrap_or(default_kind);
        let n = v["namespace"].as_str().unwrap_or(ns);
        Some((k.to_string(), n.to_string(), name.to_string()))
    };
    let mut out = Vec::new();
    let mut push = |x: Option<(String, String, String)>, then: Vec<(String, String, String)>| {
        if let Some((k, n, name)) = x
            && !k.is_empty()
        {
            out.push((k, n, name, then));
        }
    };
    match kind {
        "Kustomization" | "ImageUpdateAutomation" => {
            push(r(&spec["sourceRef"], "GitRepository"), Vec::new())
        }
        "HelmChart" => push(r(&spec["sourceRef"], ""), Vec::new()),
        "ImagePolicy" => push(
            r(&spec["imageRepositoryRef"], "ImageRepository"),
            Vec::new(),
        ),
        "Alert" => push(r(&spec["providerRef"], "Provider"), Vec::new()),
        "ResourceSet" => {
            for i in spec["inputsFrom"].as_array().into_iter().flatten() {
                push(r(i, "ResourceSetInputProvider"), Vec::new());
            }
        }
        "ArtifactGenerator" => {
            for s in spec["sources"].as_array().into_iter().flatten() {
                push(r(s, ""), Vec::new());
            }
        }
        "GitRepository" => {
            for i in spec["include"].as_array().into_iter().flatten() {
                push(r(&i["repository"], "GitRepository"), Vec::new());
            }
        }
        "HelmRelease" => {
            if spec["chartRef"].is_object() {
                push(r(&spec["chartRef"], ""), Vec::new());
            } else if spec["chart"].is_object() {
                let name = obj["metadata"]["name"].as_str().unwrap_or("");
                let src = &spec["chart"]["spec"]["sourceRef"];
                let src_ns = src["namespace"].as_str().unwrap_or(ns);
                let (cns, cname) = obj["status"]["helmChart"]
                    .as_str()
                    .and_then(|s| s.split_once('/'))
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or((src_ns.to_string(), format!("{ns}-{name}")));
                let then = src["name"]
                    .as_str()
                    .map(|n| {
                        vec![(
                            src["kind"].as_str().unwrap_or("").to_string(),
                            src_ns.to_string(),
                            n.to_string(),
                        )]
                    })
                    .unwrap_or_default();
                push(Some(("HelmChart".into(), cns, cname)), then);
            }
        }
        _ => {}
    }
    if matches!(kind, "Kustomization" | "HelmRelease") {
        for d in spec["dependsOn"].as_array().into_iter().flatten() {
            push(r(d, kind), Vec::new());
        }
    }
    out
}

/// The root cause of `obj`: down its references, the first object that is missing or not
/// ready whose own references are fine (at most four hops); `obj` itself when none is.
pub fn root(objects: &[Value], obj: &Value) -> Root {
    let own = |o: &Value| {
        let message = condition(o, "Ready")
            .filter(|c| c["status"] == "False")
            .or_else(|| condition(o, "Stalled").filter(|c| c["status"] == "True"))
            .and_then(|c| c["message"].as_str())
            .map(str::to_string);
        Root {
            kind: o["kind"].as_str().unwrap_or("").into(),
            namespace: o["metadata"]["namespace"].as_str().unwrap_or("").into(),
            name: o["metadata"]["name"].as_str().unwrap_or("").into(),
            state: if message.is_some() {
                "failing"
            } else {
                "no Ready condition yet"
            },
            message,
        }
    };
    fn walk(
        objects: &[Value],
        obj: &Value,
        depth: usize,
        own: &dyn Fn(&Value) -> Root,
    ) -> Option<Root> {
        for (k, n, name, then) in references(obj) {
            match find(objects, &k, &n, &name) {
                None => {
                    // What the missing object would have pointed at, when that is missing too.
                    for (tk, tn, tname) in then {
                        if find(objects, &tk, &tn, &tname).is_none() {
                            return Some(Root {
                                kind: tk,
                                namespace: tn,
                                name: tname,
                                message: None,
                                state: "not found",
                            });
                        }
                    }
                    return Some(Root {
                        kind: k,
                        namespace: n,
                        name,
                        message: None,
                        state: "not found",
                    });
                }
                Some(up) if !is_ready(up) => {
                    let deeper = if depth + 1 < 4 {
                        walk(objects, up, depth + 1, own)
                    } else {
                        None
                    };
                    return Some(deeper.unwrap_or_else(|| own(up)));
                }
                Some(_) => {}
            }
        }
        None
    }
    walk(objects, obj, 0, &own).unwrap_or_else(|| own(obj))
}

/// Every failing Flux object among `objects` with its root cause; the one whose message holds
/// control characters aside (see [`CONTROL`]).
pub fn cases(objects: &[Value]) -> Vec<Case> {
    objects
        .iter()
        .filter(|o| FLUX_KINDS.contains(&o["kind"].as_str().unwrap_or("")))
        .filter(|o| is_failing(o))
        .filter(|o| condition(o, "Ready").and_then(|c| c["message"].as_str()) != Some(CONTROL))
        .map(|o| Case {
            kind: o["kind"].as_str().unwrap_or("").into(),
            api_version: o["apiVersion"].as_str().unwrap_or("").into(),
            namespace: o["metadata"]["namespace"].as_str().unwrap_or("").into(),
            name: o["metadata"]["name"].as_str().unwrap_or("").into(),
            root: root(objects, o),
        })
        .collect()
}

/// Where `message` first appears verbatim in `text`, and how many bytes it takes there:
/// whole, or its lines one after another at one indentation (a block scalar), or each after
/// `# ` (a comment; an empty line is `#`). A final line break may be left to the rendering.
pub fn verbatim_at(text: &str, message: &str) -> Option<(usize, usize)> {
    let body = message.trim_end_matches('\n');
    let mut forms = vec![body.to_string()];
    let lines: Vec<&str> = body.split('\n').collect();
    if lines.len() > 1 {
        let mut comment = lines[0].to_string();
        for l in &lines[1..] {
            comment.push_str(if l.is_empty() { "\n#" } else { "\n# " });
            comment.push_str(l);
        }
        forms.push(comment);
        for indent in 2..=16 {
            let pad = " ".repeat(indent);
            let mut block = lines[0].to_string();
            for l in &lines[1..] {
                block.push('\n');
                if !l.is_empty() {
                    block.push_str(&pad);
                    block.push_str(l);
                }
            }
            forms.push(block);
        }
    }
    forms
        .iter()
        .filter_map(|f| text.find(f.as_str()).map(|at| (at, f.len())))
        .min()
}

/// Whether `message` appears verbatim, start to end, within [`WITHIN`] bytes of `start`.
pub fn verbatim_within(text: &str, start: usize, message: &str) -> bool {
    let from = &text[start.min(text.len())..];
    verbatim_at(from, message).is_some_and(|(at, len)| at + len <= WITHIN)
}

/// Where the document of `kind` `namespace/name` starts (its `---`) in a list answer.
pub fn document_start(text: &str, kind: &str, namespace: &str, name: &str) -> Option<usize> {
    let marker = format!("\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {namespace}\n");
    let at = text.find(&marker)?;
    text[..at].rfind("---\n")
}

/// What one answer shows for `case`, or what is wrong with it. `own_start`: where the object's
/// document starts in `text`; `root_start`: where the root's does, when the answer holds it.
pub fn check(
    text: &str,
    case: &Case,
    own_start: usize,
    root_start: Option<usize>,
) -> Result<(), String> {
    let root = &case.root;
    let is_self =
        root.kind == case.kind && root.namespace == case.namespace && root.name == case.name;
    if !is_self {
        let named = format!("root cause: {}: ", root.label());
        let head_end = text[own_start..]
            .find("\napiVersion:")
            .map_or(text.len(), |i| own_start + i);
        if !text[own_start..head_end].contains(&named) {
            return Err(format!(
                "the headline does not name the root cause {named:?}"
            ));
        }
    }
    let Some(message) = &root.message else {
        let state = format!("root cause: {}: {}", root.label(), root.state);
        return if text[own_start..].contains(&state) {
            Ok(())
        } else {
            Err(format!("{state:?} not said"))
        };
    };
    let start = match root_start {
        Some(s) if !is_self => s,
        _ => own_start,
    };
    if verbatim_within(text, start, message) {
        Ok(())
    } else if verbatim_at(text, message).is_some() {
        Err(format!(
            "the root message {message:?} is verbatim, but not within {WITHIN} bytes"
        ))
    } else {
        Err(format!(
            "the root message {message:?} is not verbatim in the answer"
        ))
    }
}

/// Lists `kind` in every namespace, following each answer's continue value; the pages.
pub fn list_pages(
    call: &mut dyn FnMut(Value) -> String,
    api_version: &str,
    kind: &str,
) -> Vec<String> {
    let mut args = json!({"apiVersion": api_version, "kind": kind, "limit": 0});
    let mut pages = Vec::new();
    for _ in 0..50 {
        let page = call(args.clone());
        let next = page
            .find("continue: \"")
            .and_then(|at| page[at + 11..].split('"').next().map(str::to_string));
        pages.push(page);
        match next {
            Some(token) => args["continue"] = json!(token),
            None => break,
        }
    }
    pages
}

/// Checks every case by name and in its kind's list through `call` (a
/// get_kubernetes_resources call); the failures, each naming the case.
pub fn check_all(call: &mut dyn FnMut(Value) -> String, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let text = call(json!({"apiVersion": case.api_version, "kind": case.kind,
            "name": case.name, "namespace": case.namespace}));
        if let Err(e) = check(&text, case, 0, None) {
            failures.push(format!(
                "get {} {}/{}: {e}\n{text}",
                case.kind, case.namespace, case.name
            ));
        }
    }
    let mut kinds: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c.api_version.as_str(), c.kind.as_str()))
        .collect();
    kinds.sort();
    kinds.dedup();
    for (api_version, kind) in kinds {
        let pages = list_pages(call, api_version, kind);
        for case in cases.iter().filter(|c| c.kind == kind) {
            let found = pages.iter().find_map(|p| {
                document_start(p, &case.kind, &case.namespace, &case.name).map(|at| (p, at))
            });
            let Some((page, own)) = found else {
                failures.push(format!(
                    "list {kind}: no document for {}/{}",
                    case.namespace, case.name
                ));
                continue;
            };
            // The root's own document carries its message when the page holds it before.
            let root_doc =
                document_start(page, &case.root.kind, &case.root.namespace, &case.root.name)
                    .filter(|&r| r < own);
            if let Err(e) = check(page, case, own, root_doc) {
                let end = (own + 3000).min(page.len());
                let end = (0..=end)
                    .rev()
                    .find(|&i| page.is_char_boundary(i))
                    .unwrap_or(own);
                failures.push(format!(
                    "list {kind} {}/{}: {e}\n{}",
                    case.namespace,
                    case.name,
                    &page[own..end]
                ));
            }
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    // Imports inside each test: the bench includes this file, and its build drops the tests.

    /// Issue 14, item 7: for every failing object (the test data's and the variants: every
    /// Flux kind, awkward messages, chains), its root-cause message is verbatim within the
    /// first 2 KB of its answer, by name and in its kind's list; a message YAML cannot carry
    /// says it is escaped.
    #[test]
    fn every_root_cause_message_is_verbatim_in_the_first_2_kb() {
        use super::*;
        use crate::apiserver::{self, Identity, Options};
        use crate::support::{self, Session};
        let data = apiserver::data_objects(&support::testdata().join("cluster"))
            .unwrap_or_else(|e| panic!("testdata/cluster: {e}"));
        let extra = variants(&data);
        let all: Vec<Value> = data.iter().chain(&extra).cloned().collect();
        let cases = cases(&all);
        assert!(cases.len() >= 300, "only {} failing objects", cases.len());
        let others = cases
            .iter()
            .filter(|c| c.root.name != c.name || c.root.kind != c.kind)
            .count();
        assert!(others >= 60, "only {others} with a root elsewhere");
        let options = Options {
            extra_objects: extra,
            ..Options::default()
        };
        let mut s = Session::start("verbatim", options, Identity::ClientCert, &[]);
        let mut call = |args: Value| s.ok("get_kubernetes_resources", args);
        let failures = check_all(&mut call, &cases);
        assert!(
            failures.is_empty(),
            "{} of {} checks failed:\n{}",
            failures.len(),
            cases.len() * 2,
            failures.join("\n\n")
        );
        let control = s.ok(
            "get_kubernetes_resources",
            json!({"kind": "Kustomization", "name": "ks-control", "namespace": NAMESPACE}),
        );
        assert!(
            control.contains("# escaped: holds characters YAML cannot show as they are"),
            "{control}"
        );
        let back: Value = serde_norway::from_str(
            control
                .trim_start_matches("---\n")
                .split("\n---\n")
                .next()
                .unwrap_or(""),
        )
        .expect("YAML");
        assert_eq!(back["status"]["conditions"][0]["message"], CONTROL);
    }

    #[test]
    fn the_check_fails_on_an_escaped_or_cut_message() {
        use super::*;
        let message = "unable to clone 'ssh://x': it's \"broken\"\n  second line";
        let ok = format!(
            "---\nstatus:\n  conditions:\n  - message: |-\n      {}\n        second line\n",
            &message[..message.find('\n').unwrap()]
        );
        assert!(verbatim_within(&ok, 0, message), "{ok}");
        let comment = "# source X: not ready: R: unable to clone 'ssh://x': it's \"broken\"\n#   second line\n";
        assert!(verbatim_at(comment, message).is_some());
        assert!(!verbatim_within(comment, 0, "not there"));
        let escaped = "message: 'unable to clone ''ssh://x'': it''s \"broken\"\n  second line'";
        assert!(verbatim_at(escaped, message).is_none());
        let json = "message: \"unable to clone 'ssh://x': it's \\\"broken\\\"\\n  second line\"";
        assert!(verbatim_at(json, message).is_none());
        let cut = "message: unable to clone 'ssh://x': it's \"broken\"…";
        assert!(verbatim_at(cut, message).is_none());
        let late = format!("{}{ok}", "x".repeat(WITHIN));
        assert!(!verbatim_within(&late, 0, message));
    }
}
