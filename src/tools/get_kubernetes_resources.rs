//! `get_kubernetes_resources`: one object (GET) or a streamed list of objects of any kind,
//! shaped by the objects pipeline (lean YAML, secrets masked, events, Helm inventories, root
//! cause first). Errors of the API (RBAC, unknown kind, not found, timeout) are errors, never
//! "no resources"; an empty list says where it looked. A list of a Flux kind is read whole
//! (up to [`SCAN_MAX`] objects) so that its counts cover every object, whatever `limit`
//! prints, and its failing objects come first; a long one shows healthy objects one line
//! each. Every list answer stays within [`ANSWER_BUDGET`] bytes and says when it was cut and
//! how to get the rest (the `continue` argument, a cursor this tool writes).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use base64::Engine as _;
use serde_json::{Value, json};

use super::objects::fields::Fields;
use super::objects::{Batch, ListKey, Shown, Tally, diagnosis, is_flux_group, yaml};
use super::{Args, Cluster, Ctx, Tool, ToolError, cluster};
use crate::kube::discovery::{Resource, close_matches};
use crate::kube::list::ListOptions;

/// Objects returned when the caller gives no `limit`.
pub const DEFAULT_LIMIT: u64 = 100;
/// Names read to suggest close matches for a name that is not found (one metadata-only LIST).
const NAMES_SCANNED: usize = 500;
/// Close names suggested for a name that is not found.
const SIMILAR_NAMES: usize = 5;
/// Objects of a Flux kind read per answer to count them by state and find the failing ones
/// (ten pages of 500): beyond it the counts say they are partial.
pub const SCAN_MAX: usize = 5_000;
/// The most bytes a list answer holds: past it, the objects left out are named by the
/// `continue` cursor the answer ends its summary with.
pub const ANSWER_BUDGET: usize = 48 * 1024;
/// A list answer with more objects than this shows the Flux objects that are not failing one
/// line each.
pub const LONG_LIST: usize = 20;
/// The name of the argument that resumes a cut list.
const CONTINUE_ARG: &str = "continue";

pub const TOOL: Tool = Tool {
    name: "get_kubernetes_resources",
    title: "Get Kubernetes resources",
    description: "Gets Kubernetes objects of any kind as YAML: one by name, or a list (all \
        namespaces unless namespace is given; at most limit objects, default 100, 0 for all). \
        For Flux objects the root cause comes first: a failing object starts with a comment \
        line naming its Ready/Stalled reasons and its root cause when that is another object \
        (the chain of sources and dependencies follows, each message verbatim), then its \
        status (every condition message verbatim, written once) before its spec; a list \
        starts with a summary (counts by state over every object of the kind in scope, one \
        line per failing object) and shows failing objects first; in a list of more than 20, \
        objects that are not failing read one line each (name, state, revision, age). An \
        answer holds at most 48 KB: a cut one says so and gives a continue value for the rest. Flux objects also get \
        their recent events (one line each, without ReconciliationSucceeded) and a HelmRelease \
        its inventory from Helm storage (objects and images). Output is lean: no empty \
        fields, no managedFields, no creation time on Flux objects, status.history keeps its \
        latest entry, inventories are summarised, binaryData reads as its size, \
        observedGeneration shows only when it lags, \
        Flux ownership labels read as one line (# managed by Kustomization ns/name). Use \
        fields for just some paths, e.g. [\"status.conditions\", \"spec.interval\"] \
        (status.history, status.inventory and events come in full). Secret values read \
        <masked: N bytes> unless the server runs with --mask-secrets=false (then base64, as \
        the API returns them).",
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
            "apiVersion": {
                "type": "string",
                "description": "API version, e.g. helm.toolkit.fluxcd.io/v2 or v1; a group alone \
                    (kustomize.toolkit.fluxcd.io) or nothing picks the preferred version, and a \
                    version the cluster does not serve falls back to the one it serves. See \
                    get_kubernetes_api_versions."
            },
            "kind": {
                "type": "string",
                "description": "Kind, case-insensitive; plural and short names work too \
                    (HelmRelease, helmreleases, hr)."
            },
            "name": {
                "type": "string",
                "description": "Object name; without a namespace it is looked up in every namespace."
            },
            "namespace": {
                "type": "string",
                "description": "Namespace; empty for all namespaces."
            },
            "selector": {
                "type": "string",
                "description": "Label selector, e.g. app=podinfo,tier!=db (app=podinfo tier=web \
                    is read the same way)."
            },
            "limit": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULT_LIMIT,
                "description": "At most this many objects (default 100); 0 returns all of them."
            },
            CONTINUE_ARG: {
                "type": "string",
                "description": "The continue value a previous answer gave, with that call's \
                    other arguments unchanged: the objects it left out."
            },
            "fields": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Only these paths of each object (plus apiVersion, kind, name, \
                    namespace), e.g. status.conditions, spec.interval, metadata.labels, \
                    status.conditions[?(@.type==\"Ready\")], status.conditions[*].message, \
                    status.history, status.inventory, events."
            },
            cluster::CONTEXT_ARG: cluster::context_property(),
        },
        "required": ["kind"],
        "additionalProperties": false
    })
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?;
    let api_version = args.opt_str("apiVersion")?;
    let name = args.opt_str("name")?.map(str::trim);
    let namespace = args.opt_str("namespace")?.map(str::trim);
    let selector = args.opt_str("selector")?.map(label_selector);
    let limit = args.opt_u64("limit")?.unwrap_or(DEFAULT_LIMIT);
    let fields =
        Fields::parse(&args.opt_str_list("fields")?).map_err(ToolError::InvalidArgument)?;
    let cluster = ctx.cluster(args)?;
    let (resource, version_note) = resolve(&cluster, api_version, kind)?;
    let mut batch = Batch::new(&cluster, ctx.settings.mask_secrets, fields.as_ref());
    if let Some(note) = version_note {
        batch.note(note);
    }
    let query = Query {
        resource: &resource,
        name,
        namespace: namespace.filter(|_| resource.namespaced),
        selector: selector.as_deref(),
        limit,
    };
    match (query.name, query.selector) {
        (Some(name), None) if query.namespace.is_some() || !resource.namespaced => {
            get_one(&cluster, &query, name, batch)
        }
        _ => {
            let cursor = match args.opt_str(CONTINUE_ARG)? {
                Some(token) => Cursor::decode(token, &query)?,
                None => Cursor::start(&query),
            };
            list(&cluster, &query, cursor, batch)
        }
    }
}

/// A list answer: the objects of the window the cursor points into, counted by state, the
/// failing ones first, cut to `limit` and to [`ANSWER_BUDGET`].
fn list(
    cluster: &Cluster,
    query: &Query,
    cursor: Cursor,
    mut batch: Batch,
) -> Result<String, ToolError> {
    let flux = is_flux_group(&query.resource.group);
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    if flux && !batch.has_fields() {
        batch.summarise_healthy_above(LONG_LIST);
    }
    let mut scan = Scan::new(flux, limit, &cursor);
    let mut options = query.list_options();
    options.continue_token = cursor.window.clone();
    if flux {
        options.limit = Some(SCAN_MAX);
    } else if limit > 0 {
        // Pages of `limit`, so that an answer that stops at the end of one can hand over the
        // server's own continue token.
        options.page_size = Some(limit.min(crate::kube::list::DEFAULT_PAGE_SIZE));
    }
    let group = query.resource.group.clone();
    let kind = query.resource.kind.clone();
    let info = cluster
        .list(query.resource, &options, |obj| {
            scan.see(obj, &group, &kind, &mut batch)
        })
        .map_err(|e| cluster.list_error(e))?;
    if scan.seen == 0 {
        return match query.name {
            Some(name) => Err(not_found(cluster, query, name)),
            None => Ok(format!("{}\n", query.nothing_found(cluster.context()))),
        };
    }
    if flux {
        batch.trim_to(limit);
    }
    batch.finish();
    let mut head = vec![query.title(cluster.context(), &scan, flux, &info)];
    let failing_lines = failing_lines(&scan.tally, &batch);
    let notes: Vec<String> = batch
        .notes()
        .into_iter()
        .map(|n| format!("note: {n}"))
        .collect();
    let fixed: usize = failing_lines
        .iter()
        .chain(&notes)
        .chain(&head)
        .map(|l| l.len() + 3)
        .sum();
    // Room for the line that says what was shown and how to go on (a cursor is ~200 bytes).
    let mut body = String::new();
    let shown = batch.render_budgeted(&mut body, ANSWER_BUDGET.saturating_sub(fixed + 512));
    if let Some(line) = continuation(query, &cursor, &scan, &shown, &info) {
        head.push(line);
    }
    head.extend(failing_lines);
    head.extend(notes);
    let mut out = String::from("---\n");
    out.push_str(&yaml::comment(&head.join("\n")));
    out.push_str(&body);
    Ok(out)
}

/// The summary's lines about failing and never reconciled objects: reasons, and the root
/// cause when it is another object (for those whose document is in this answer).
fn failing_lines(t: &Tally, batch: &Batch) -> Vec<String> {
    let mut lines = Vec::new();
    if !t.failures.is_empty() {
        lines.push("failing:".to_string());
        for (who, reasons) in &t.failures {
            let (ns, name) = who.split_once('/').unwrap_or(("", who));
            let mut line = format!("- {who}: {reasons}");
            if let Some(root) = batch.root_of(ns, name) {
                line.push_str("; root cause: ");
                line.push_str(root);
            }
            lines.push(line);
        }
        if t.failing > t.failures.len() {
            lines.push(format!(
                "- ... and {} more failing",
                t.failing - t.failures.len()
            ));
        }
    }
    if !t.unreconciled.is_empty() {
        lines.push("not reconciled yet:".to_string());
        lines.extend(t.unreconciled.iter().map(|f| format!("- {f}")));
    }
    lines
}

/// The line that says which objects were left out and how to get them, or `None` when the
/// answer holds every object of the list.
fn continuation(
    query: &Query,
    cursor: &Cursor,
    scan: &Scan,
    shown: &Shown,
    info: &crate::kube::list::ListInfo,
) -> Option<String> {
    let written = shown.failing + shown.others;
    let read_after_cursor = scan.failing_total + scan.others_total;
    let next = if scan.flux {
        let failing_done = cursor.failing_done || shown.failing >= scan.failing_total;
        let others_done = failing_done && shown.others >= scan.others_total;
        if failing_done && others_done {
            // The window is shown; what the server holds after it is the next window.
            info.continue_token.clone().map(|t| cursor.next_window(t))
        } else if failing_done {
            Some(cursor.after(
                true,
                None,
                shown.last_other.clone().or(cursor.other.clone()),
            ))
        } else {
            Some(cursor.after(
                false,
                shown.last_failing.clone().or(cursor.failing.clone()),
                None,
            ))
        }
    } else if written < scan.others_added || (info.more && info.continue_token.is_none()) {
        Some(cursor.after(
            true,
            None,
            shown.last_other.clone().or(cursor.other.clone()),
        ))
    } else if info.more {
        info.continue_token.clone().map(|t| cursor.next_window(t))
    } else {
        None
    };
    let partial_window = scan.flux && info.more;
    let Some(next) = next else {
        if partial_window {
            return Some(format!(
                "counts cover the first {SCAN_MAX} objects only; narrow with namespace or \
                 selector to count the others"
            ));
        }
        return None;
    };
    let of = match (cursor.is_start(), scan.flux && !partial_window) {
        (true, true) => format!("showing {written} of {read_after_cursor}"),
        (true, false) => format!("showing {written}; more exist"),
        (false, true) => format!(
            "continued: {written} of the {read_after_cursor} objects after the previous answer"
        ),
        (false, false) => format!("continued: {written} more; more exist"),
    };
    let why = if shown.cut > 0 {
        format!("the answer reached its {} KB budget", ANSWER_BUDGET / 1024)
    } else if query.limit > 0 {
        format!("limit {}", query.limit)
    } else {
        "the objects counted".to_string()
    };
    let order = if scan.flux { ", failing first" } else { "" };
    Some(format!(
        "{of}{order} ({why}); for the next ones call again with the same arguments and \
         continue: {:?}, or narrow with namespace, selector or limit (limit 0 returns all)",
        next.encode()
    ))
}

/// Reads a list's objects as they stream in: counts the Flux ones by state, and hands the
/// ones after the cursor to the batch (at most `limit` failing and `limit` others for a Flux
/// kind, whose list is read to the end of its window; the first `limit` for any other kind,
/// whose list is read no further).
struct Scan {
    flux: bool,
    limit: usize,
    tally: Tally,
    failing_done: bool,
    failing_after: After,
    other_after: After,
    /// Objects read, whether after the cursor or not.
    seen: usize,
    /// Objects after the cursor, by class, and how many of each went to the batch.
    failing_total: usize,
    others_total: usize,
    failing_added: usize,
    others_added: usize,
}

impl Scan {
    fn new(flux: bool, limit: usize, cursor: &Cursor) -> Scan {
        Scan {
            flux,
            limit,
            tally: Tally::default(),
            failing_done: cursor.failing_done,
            failing_after: After::new(cursor.failing.clone()),
            other_after: After::new(cursor.other.clone()),
            seen: 0,
            failing_total: 0,
            others_total: 0,
            failing_added: 0,
            others_added: 0,
        }
    }

    fn see(&mut self, obj: Value, group: &str, kind: &str, batch: &mut Batch) -> ControlFlow<()> {
        self.seen += 1;
        let meta = &obj["metadata"];
        let key: ListKey = (
            meta["namespace"].as_str().unwrap_or("").to_string(),
            meta["name"].as_str().unwrap_or("").to_string(),
        );
        let room = |added: usize| self.limit == 0 || added < self.limit;
        if !self.flux {
            if !self.other_after.admits(&key) {
                return ControlFlow::Continue(());
            }
            self.others_total += 1;
            batch.add(obj);
            self.others_added += 1;
            return if room(self.others_added) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            };
        }
        let h = diagnosis::health(&obj);
        let unreconciled = diagnosis::unreconciled_line(group, kind, &key.0, &key.1, &h).is_some();
        let who = if key.0.is_empty() {
            key.1.clone()
        } else {
            format!("{}/{}", key.0, key.1)
        };
        self.tally.add(&who, &h, unreconciled);
        let failing = h.state == diagnosis::State::Failing || diagnosis::status_first(&h);
        if failing {
            if self.failing_done || !self.failing_after.admits(&key) {
                return ControlFlow::Continue(());
            }
            self.failing_total += 1;
            if room(self.failing_added) {
                batch.add(obj);
                self.failing_added += 1;
            }
        } else {
            // Others are shown once every failing object was: until then they start over.
            if !self.failing_done || self.other_after.admits(&key) {
                self.others_total += 1;
                if room(self.others_added) {
                    batch.add(obj);
                    self.others_added += 1;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// Skips a list's objects up to and including a cursor's. API servers list in the order of
/// their storage keys (`namespace/name`, etcd's byte order), which a cursor relies on as
/// Kubernetes' own continue token does; the cursor's object itself is looked for first, so a
/// server that orders by (namespace, name) instead is followed exactly too, and when that
/// object is gone the first one after it in both orders resumes.
#[derive(Debug, Clone)]
struct After {
    key: Option<ListKey>,
    passed: bool,
}

impl After {
    fn new(key: Option<ListKey>) -> After {
        After { key, passed: false }
    }

    fn admits(&mut self, key: &ListKey) -> bool {
        let Some(cursor) = &self.key else {
            return true;
        };
        if self.passed {
            return true;
        }
        if key == cursor {
            self.passed = true;
            return false;
        }
        let bytes = |k: &ListKey| format!("{}/{}", k.0, k.1);
        if key > cursor && bytes(key) > bytes(cursor) {
            self.passed = true;
            return true;
        }
        false
    }
}

/// Where a list answer left off, for its `continue` value: the query it belongs to, the
/// server's continue token where the window of objects starts, and the last failing and
/// other object shown. Opaque to the agent (base64 of a small JSON object).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    query: String,
    window: Option<String>,
    failing_done: bool,
    failing: Option<ListKey>,
    other: Option<ListKey>,
}

impl Cursor {
    fn start(query: &Query) -> Cursor {
        Cursor {
            query: query.fingerprint(),
            window: None,
            failing_done: false,
            failing: None,
            other: None,
        }
    }

    fn is_start(&self) -> bool {
        self.window.is_none()
            && !self.failing_done
            && self.failing.is_none()
            && self.other.is_none()
    }

    /// The same window, after these objects.
    fn after(
        &self,
        failing_done: bool,
        failing: Option<ListKey>,
        other: Option<ListKey>,
    ) -> Cursor {
        Cursor {
            query: self.query.clone(),
            window: self.window.clone(),
            failing_done,
            failing,
            other,
        }
    }

    /// The window that starts at the server's continue token `token`.
    fn next_window(&self, token: String) -> Cursor {
        Cursor {
            query: self.query.clone(),
            window: Some(token),
            failing_done: false,
            failing: None,
            other: None,
        }
    }

    fn encode(&self) -> String {
        let key = |k: &Option<ListKey>| k.as_ref().map(|(ns, n)| json!([ns, n]));
        let v = json!({
            "q": self.query,
            "w": self.window,
            "fd": self.failing_done,
            "f": key(&self.failing),
            "o": key(&self.other),
        });
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn decode(token: &str, query: &Query) -> Result<Cursor, ToolError> {
        let bad = || {
            ToolError::InvalidArgument(format!(
                "{CONTINUE_ARG}: {:?} is not a value this tool gave; pass the continue value of \
                 the previous answer unchanged, or leave it out to list from the start",
                &token.trim()[..crate::text::floor_char_boundary(token.trim(), 40)]
            ))
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| bad())?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let key = |k: &Value| -> Result<Option<ListKey>, ToolError> {
            match k {
                Value::Null => Ok(None),
                Value::Array(a) => match (
                    a.first().and_then(Value::as_str),
                    a.get(1).and_then(Value::as_str),
                ) {
                    (Some(ns), Some(n)) if a.len() == 2 => {
                        Ok(Some((ns.to_string(), n.to_string())))
                    }
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            }
        };
        let cursor = Cursor {
            query: v["q"].as_str().ok_or_else(bad)?.to_string(),
            window: match &v["w"] {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                _ => return Err(bad()),
            },
            failing_done: v["fd"].as_bool().ok_or_else(bad)?,
            failing: key(&v["f"])?,
            other: key(&v["o"])?,
        };
        if cursor.query != query.fingerprint() {
            return Err(ToolError::InvalidArgument(format!(
                "{CONTINUE_ARG}: this value continues another list ({}); call again with that \
                 list's kind, namespace, selector and name, or leave continue out",
                cursor.query
            )));
        }
        Ok(cursor)
    }
}

/// The resource for `kind`. An apiVersion whose group serves the kind in another version
/// only (an agent asking for Flux's latest `helm.toolkit.fluxcd.io/v2` on a cluster that still
/// serves `v2beta1`, or for a retired `v1beta1`) falls back to the group's version for it,
/// with a note saying so: the objects are the same, converted by the API server.
fn resolve(
    cluster: &Cluster,
    api_version: Option<&str>,
    kind: &str,
) -> Result<(Resource, Option<String>), ToolError> {
    let e = match cluster.resolve(api_version, kind) {
        Ok(r) if api_version.is_none() => return Ok(prefer_flux(cluster, kind, r)),
        Ok(r) => return Ok((r, None)),
        Err(e) => e,
    };
    let asked = api_version.map(str::trim);
    if let (crate::kube::Error::UnknownKind { .. }, Some(asked)) = (&e, asked)
        && let Some((group, _)) = asked.split_once('/')
        && let Ok(r) = cluster.resolve(Some(group), kind)
    {
        let note = format!(
            "{asked} is not served by this cluster; showing {}",
            r.api_version()
        );
        return Ok((r, Some(note)));
    }
    Err(cluster.error(e))
}

/// A kind name that several API groups serve, asked for without apiVersion: this server is
/// about Flux, so a Flux group's kind is taken over kubectl's group order (on k3s,
/// `helm.cattle.io` sorts before `source.toolkit.fluxcd.io` and would win `HelmChart`), and
/// the answer names the others so the agent can ask for them.
fn prefer_flux(cluster: &Cluster, kind: &str, resolved: Resource) -> (Resource, Option<String>) {
    let Ok(discovery) = cluster.discovery() else {
        return (resolved, None);
    };
    let all = discovery.matches(kind);
    let flux = all
        .iter()
        .find(|r| is_flux_group(&r.group))
        .cloned()
        .filter(|_| all.len() > 1);
    let Some(chosen) = flux else {
        return (resolved, None);
    };
    let others: Vec<String> = all
        .iter()
        .filter(|r| r.group != chosen.group)
        .map(Resource::api_version)
        .collect();
    let note = format!(
        "{} is also served as {}; pass apiVersion to get those",
        chosen.kind,
        others.join(", ")
    );
    (chosen, Some(note))
}

/// What the caller asked for.
struct Query<'a> {
    resource: &'a Resource,
    name: Option<&'a str>,
    /// `None`: all namespaces (or a cluster-scoped kind).
    namespace: Option<&'a str>,
    selector: Option<&'a str>,
    limit: u64,
}

impl Query<'_> {
    fn list_options(&self) -> ListOptions {
        ListOptions {
            namespace: self.namespace.map(str::to_string),
            label_selector: self.selector.map(str::to_string),
            field_selector: self.name.map(|n| format!("metadata.name={n}")),
            limit: usize::try_from(self.limit).ok().filter(|&l| l > 0),
            ..ListOptions::default()
        }
    }

    /// `in namespace apps`, `in any namespace`, `in the cluster`.
    fn place(&self) -> String {
        match (self.resource.namespaced, self.namespace) {
            (true, Some(ns)) => format!("in namespace {ns}"),
            (true, None) => "in any namespace".to_string(),
            (false, _) => "in the cluster".to_string(),
        }
    }

    fn nothing_found(&self, context: &str) -> String {
        let matching = match self.selector {
            Some(s) => format!(" matching selector {s}"),
            None => String::new(),
        };
        format!(
            "no {} ({}){matching} {} of context {context}",
            self.resource.kind,
            self.resource.api_version(),
            self.place()
        )
    }

    /// What a continue cursor belongs to: kind, group, namespace, selector and name.
    fn fingerprint(&self) -> String {
        let mut out = format!("{}.{}", self.resource.kind, self.resource.group);
        for (label, v) in [
            ("namespace", self.namespace),
            ("selector", self.selector),
            ("name", self.name),
        ] {
            if let Some(v) = v {
                out.push_str(&format!(", {label} {v}"));
            }
        }
        out
    }

    /// The first line of a list answer: what was listed where, and for a Flux kind how many
    /// objects there are in each state.
    fn title(
        &self,
        context: &str,
        scan: &Scan,
        flux: bool,
        info: &crate::kube::list::ListInfo,
    ) -> String {
        let n = if flux {
            scan.tally.total()
        } else {
            scan.others_added
        };
        let mut line = format!(
            "{}{n} {} ({}) {} of context {context}{}",
            if flux && info.more { "at least " } else { "" },
            self.resource.kind,
            self.resource.api_version(),
            self.place(),
            self.selector
                .map(|s| format!(", selector {s}"))
                .unwrap_or_default()
        );
        if flux {
            line.push_str(": ");
            line.push_str(&scan.tally.counts());
        }
        line
    }
}

fn get_one(
    cluster: &Cluster,
    query: &Query,
    name: &str,
    mut batch: Batch,
) -> Result<String, ToolError> {
    let namespace = query.namespace.unwrap_or("");
    match cluster.get(query.resource, namespace, name) {
        Ok(obj) => batch.add(obj),
        Err(e) if e.is_not_found() => return Err(not_found(cluster, query, name)),
        Err(e) => return Err(cluster.error(e)),
    }
    batch.finish();
    // The document first (its headline says what is wrong); notes about what could not be
    // added (events, fields that matched nothing) after it.
    let mut out = batch.render();
    for note in batch.notes() {
        out.push_str(&yaml::comment(&format!("note: {note}")));
    }
    // One object is answered whole (cut, it would not be YAML); a big one says how to ask
    // for less.
    if out.len() > ANSWER_BUDGET {
        out.push_str(&yaml::comment(&format!(
            "note: this answer is {} KB, over the {} KB budget of a list answer; pass fields \
             (e.g. [\"status\", \"spec.interval\"]) to get parts of the object",
            out.len() / 1024,
            ANSWER_BUDGET / 1024
        )));
    }
    Ok(out)
}

/// `HelmRelease apps/podinfoo not found in context dev; similar names in apps: podinfo`.
fn not_found(cluster: &Cluster, query: &Query, name: &str) -> ToolError {
    let kind = &query.resource.kind;
    let context = cluster.context();
    let mut msg = match (query.resource.namespaced, query.namespace) {
        (true, Some(ns)) => format!("{kind} {ns}/{name} not found in context {context}"),
        (true, None) => format!("{kind} {name} not found in any namespace of context {context}"),
        (false, _) => format!("{kind} {name} not found in context {context}"),
    };
    let close = similar_names(cluster, query, name);
    if !close.is_empty() {
        let scope = query
            .namespace
            .map(|ns| format!(" in {ns}"))
            .unwrap_or_default();
        msg.push_str(&format!("; similar names{scope}: {}", close.join(", ")));
    }
    ToolError::Failed(msg)
}

/// Up to [`SIMILAR_NAMES`] names close to `wanted` (typos, prefixes: what
/// [`close_matches`] counts as close), from one metadata-only LIST of the namespace (at most
/// [`NAMES_SCANNED`] names; a failure just means no suggestions). Across namespaces a name is
/// shown as `namespace/name`, once per namespace that has it.
fn similar_names(cluster: &Cluster, query: &Query, wanted: &str) -> Vec<String> {
    let Ok((found, _)) = cluster.names(query.resource, query.namespace, NAMES_SCANNED) else {
        return Vec::new();
    };
    let names: BTreeSet<&str> = found.iter().map(|(_, n)| n.as_str()).collect();
    let mut out = Vec::new();
    for close in close_matches(wanted, names, SIMILAR_NAMES) {
        for (ns, _) in found.iter().filter(|(_, n)| n == close) {
            out.push(if query.namespace.is_none() && !ns.is_empty() {
                format!("{ns}/{close}")
            } else {
                close.to_string()
            });
        }
    }
    out.truncate(SIMILAR_NAMES);
    out
}

/// Reads upstream's documented `k1=v1 k2=v2` form as well as the API's comma form: a space
/// between two complete requirements becomes a comma; spaces inside a requirement
/// (`env in (a, b)`, `tier != db`) stay.
fn label_selector(s: &str) -> String {
    let mut tokens: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in s.trim().chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    let operator_start = |t: &str| {
        t.starts_with(['=', '!', '(', ',', '<', '>']) && !is_negated_key(t)
            || t == "in"
            || t == "notin"
    };
    let operator_end =
        |t: &str| t.ends_with(['=', '!', ',', '<', '>']) || t == "in" || t == "notin";
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            let prev = &tokens[i - 1];
            out.push(if operator_end(prev) || operator_start(t) {
                ' '
            } else {
                ','
            });
        }
        out.push_str(t);
    }
    out
}

/// `!key` (the key must not exist) starts a requirement; `!=` continues one.
fn is_negated_key(t: &str) -> bool {
    t.starts_with('!') && !t.starts_with("!=")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_in_both_forms() {
        assert_eq!(label_selector("app=podinfo"), "app=podinfo");
        assert_eq!(
            label_selector("app=podinfo tier=web"),
            "app=podinfo,tier=web"
        );
        assert_eq!(label_selector("  a=1   b!=2 c "), "a=1,b!=2,c");
        assert_eq!(label_selector("a=1,b=2"), "a=1,b=2");
        assert_eq!(label_selector("a=1, b=2"), "a=1, b=2");
        assert_eq!(
            label_selector("env in (prod, staging) tier"),
            "env in (prod, staging),tier"
        );
        assert_eq!(label_selector("tier != db app"), "tier != db,app");
        assert_eq!(label_selector("a = 1 !b"), "a = 1,!b");
        assert_eq!(label_selector("env notin (a) x==y"), "env notin (a),x==y");
    }

    #[test]
    fn fields_arrive_in_three_shapes() {
        let parse = |v: Value| {
            let map = json!({ "fields": v })
                .as_object()
                .cloned()
                .unwrap_or_default();
            Args(&map).opt_str_list("fields")
        };
        let want = Ok(vec![
            "status.conditions".to_string(),
            "spec.interval".to_string(),
        ]);
        assert_eq!(parse(json!(["status.conditions", "spec.interval"])), want);
        assert_eq!(parse(json!("status.conditions, spec.interval")), want);
        assert_eq!(
            parse(json!("[\"status.conditions\", \"spec.interval\"]")),
            want
        );
    }

    #[test]
    fn the_schema_requires_kind_only() {
        let schema = (TOOL.input_schema)();
        assert_eq!(schema["required"], json!(["kind"]));
        assert_eq!(schema["properties"]["limit"]["type"], "integer");
        assert_eq!(schema["properties"]["fields"]["items"]["type"], "string");
        assert!(schema["properties"]["context"].is_object());
    }
}
