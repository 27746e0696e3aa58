//! `reconcile_flux_resource`: asks a Flux controller to reconcile one object now (the
//! `reconcile.fluxcd.io/requestedAt` annotation, plus `forceAt` for a HelmRelease or a
//! ResourceSetInputProvider; its source first with `with_source`) and, unless `wait` is false,
//! waits for the controller to handle it and answers with the outcome: Ready status, reason
//! and message verbatim, revisions before and after, the events since the request. A
//! suspended object is refused; a wait that runs out says what was seen and that the request
//! stands.

use std::time::Instant;

use serde_json::{Value, json};

use super::reconcile::{self, Target};
use super::writes;
use super::{Args, Ctx, Tool, ToolError};

pub const TOOL: Tool = Tool {
    name: "reconcile_flux_resource",
    title: "Reconcile a Flux resource",
    description: "Asks Flux to reconcile one object now (any Flux kind that reconciles: \
        GitRepository, OCIRepository, HelmRepository, HelmChart, Bucket, Kustomization, \
        HelmRelease, ResourceSet, ResourceSetInputProvider, FluxInstance, ImageRepository, \
        ImagePolicy, ImageUpdateAutomation, Receiver, ...) and waits for the result: Ready \
        status, reason and message verbatim, revisions before and after, and the events \
        emitted since the request. with_source reconciles its source first (sourceRef, \
        chartRef or chart.spec.sourceRef). A HelmRelease is also forced (reconcile.fluxcd.io/\
        forceAt: a Helm upgrade even without changes). A suspended object is refused: resume \
        it first.",
    input_schema,
    // Not destructive: it only asks the controller to do now what it does on every interval.
    // Idempotent: a second request for the same state has no further effect on it.
    annotations: super::ToolAnnotations {
        read_only: false,
        destructive: false,
        idempotent: true,
        open_world: true,
    },
    access: super::Access::Write,
    in_cluster: true,
    call,
};

fn input_schema() -> Value {
    reconcile::flux_object_schema(json!({
        "with_source": {
            "type": "boolean",
            "default": false,
            "description": "Reconcile the object's source first (and wait for it), so the \
                object reconciles with its newest revision."
        },
        "wait": reconcile::wait_property(),
        "timeout": reconcile::timeout_property(),
    }))
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let started = Instant::now();
    let kind = args.str("kind")?;
    let name = args.str("name")?.trim();
    let with_source = args.opt_bool("with_source")?.unwrap_or(false);
    let wait = args.opt_bool("wait")?.unwrap_or(true);
    let cluster = ctx.cluster(args)?;
    let deadline = if wait {
        Some(reconcile::wait_deadline(args, &cluster, started)?)
    } else {
        // Still checked: a bad timeout is a mistake worth saying even when unused.
        reconcile::wait_deadline(args, &cluster, started)?;
        None
    };
    let resource = reconcile::resolve_flux(&cluster, args.opt_str("apiVersion")?, kind, TOOL.name)?;
    if let Some(why) = reconcile::not_reconcilable(&resource) {
        return Err(ToolError::InvalidArgument(format!(
            "{} cannot be reconciled: {why}",
            resource.kind
        )));
    }
    let namespace = writes::namespace_of(&resource, args.opt_str("namespace")?, &cluster);
    let live = writes::get_live(&cluster, &resource, &namespace, name)?;
    let target = Target {
        resource,
        namespace,
        name: name.to_string(),
    };
    if let Some(how) = reconcile::suspended(&live, reconcile::suspension(&target.resource)) {
        return Err(ToolError::Failed(format!(
            "{} is suspended ({how}): its controller ignores reconcile requests; resume it \
             first (resume_flux_reconciliation), which also reconciles it",
            target.label()
        )));
    }
    let token = reconcile::new_token();
    let mut out = String::new();
    if with_source {
        out.push_str(&reconcile_source(
            &cluster, &live, &target, &token, &deadline,
        )?);
    }
    let patch = reconcile::request_patch(&target.resource, &token);
    let report = reconcile::run(&cluster, target, live, &patch, token, deadline)?;
    out.push_str(&report.render());
    Ok(out)
}

/// The source part of `with_source`: its report, or a comment saying why it was not
/// reconciled (no source, an ExternalArtifact, suspended, unreadable). The object itself is
/// reconciled either way.
fn reconcile_source(
    cluster: &super::Cluster,
    live: &Value,
    target: &Target,
    token: &str,
    deadline: &Option<(Instant, String)>,
) -> Result<String, ToolError> {
    let skipped = |why: String| {
        Ok(format!(
            "---\n{}",
            super::objects::yaml::comment(&format!("with_source: {why}"))
        ))
    };
    let source = match reconcile::source_of(cluster, live, &target.namespace) {
        None => {
            return skipped(format!(
                "{} has no source reference (sourceRef, chartRef, chart.spec.sourceRef); \
                 only it was reconciled",
                target.label()
            ));
        }
        Some(Err(why)) => return skipped(format!("{why}; only {} was reconciled", target.label())),
        Some(Ok(source)) => source,
    };
    if let Some(why) = reconcile::not_reconcilable(&source.resource) {
        return skipped(format!(
            "the source {} is not reconcilable ({why}); only {} was reconciled",
            source.label(),
            target.label()
        ));
    }
    let source_live =
        match writes::get_live(cluster, &source.resource, &source.namespace, &source.name) {
            Ok(v) => v,
            Err(e) => {
                return skipped(format!(
                    "the source cannot be read ({e}); only {} was reconciled",
                    target.label()
                ));
            }
        };
    if let Some(how) = reconcile::suspended(&source_live, reconcile::suspension(&source.resource)) {
        return skipped(format!(
            "the source {} is suspended ({how}), so it was not reconciled; {} was, with the \
             source's current artifact",
            source.label(),
            target.label()
        ));
    }
    let patch = reconcile::request_patch(&source.resource, token);
    let report = reconcile::run(
        cluster,
        source,
        source_live,
        &patch,
        token.to_string(),
        deadline.clone(),
    )?;
    Ok(report.render())
}
