//! `resume_flux_reconciliation`: lets a Flux controller reconcile a suspended object again and
//! requests a reconcile at once, in one merge patch (`spec.suspend` removed, or the Flux
//! Operator's annotation set to `enabled`, plus `reconcile.fluxcd.io/requestedAt`), then waits
//! for the outcome as `reconcile_flux_resource` does (`flux resume` does the same). An object
//! that is not suspended is said to be so, not an error.

use std::time::Instant;

use serde_json::{Value, json};

use super::reconcile::{self, Suspension, Target};
use super::writes;
use super::{Args, Ctx, Tool, ToolError};

pub const TOOL: Tool = Tool {
    name: "resume_flux_reconciliation",
    title: "Resume a Flux resource",
    description: "Resumes reconciliation of a suspended Flux object (flux resume): removes \
        spec.suspend (toolkit kinds) or sets fluxcd.controlplane.io/reconcile: enabled (Flux \
        Operator kinds), requests a reconcile and, unless wait is false, waits for it and \
        reports the outcome: Ready status, reason and message verbatim, revisions before and \
        after, and the events since.",
    input_schema,
    // Not destructive: it undoes a suspend. Idempotent: resuming a running object changes
    // nothing.
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
        "wait": reconcile::wait_property(),
        "timeout": reconcile::timeout_property(),
    }))
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let started = Instant::now();
    let kind = args.str("kind")?;
    let name = args.str("name")?.trim();
    let wait = args.opt_bool("wait")?.unwrap_or(true);
    let cluster = ctx.cluster(args)?;
    let deadline = reconcile::wait_deadline(args, &cluster, started)?;
    let resource = reconcile::resolve_flux(&cluster, args.opt_str("apiVersion")?, kind, TOOL.name)?;
    let namespace = writes::namespace_of(&resource, args.opt_str("namespace")?, &cluster);
    let live = writes::get_live(&cluster, &resource, &namespace, name)?;
    let target = Target {
        resource,
        namespace,
        name: name.to_string(),
    };
    let how = reconcile::suspension(&target.resource);
    let Some(was) = reconcile::suspended(&live, how) else {
        super::record_write(target.label(), "not suspended, nothing changed");
        return Ok(format!(
            "{} is not suspended; nothing changed. reconcile_flux_resource requests a \
             reconcile.\n",
            target.label()
        ));
    };
    let token = reconcile::new_token();
    let mut patch = if reconcile::not_reconcilable(&target.resource).is_some() {
        // Alerts and Providers have no reconcile to request: resuming is all there is.
        json!({})
    } else {
        reconcile::request_patch(&target.resource, &token)
    };
    match how {
        Suspension::Spec => patch["spec"] = json!({"suspend": null}),
        Suspension::Annotation(key) => {
            patch["metadata"]["annotations"][key] = json!("enabled");
        }
    }
    let mut out = format!(
        "---\n{}",
        super::objects::yaml::comment(&format!("{} resumed (was {was})", target.label()))
    );
    if reconcile::not_reconcilable(&target.resource).is_some() {
        reconcile::send(&cluster, &target, &patch)?;
        super::record_write(target.label(), "resumed");
        return Ok(out);
    }
    let report = reconcile::run(
        &cluster,
        target,
        live,
        &patch,
        token,
        wait.then_some(deadline),
    )?;
    // The report's document follows the resume line.
    out.push_str(report.render().trim_start_matches("---\n"));
    Ok(out)
}
