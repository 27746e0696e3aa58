//! `suspend_flux_reconciliation`: stops a Flux controller from reconciling one object, the way
//! `flux suspend` does: `spec.suspend: true` for the toolkit kinds, the
//! `fluxcd.controlplane.io/reconcile: disabled` annotation for the Flux Operator's kinds
//! (`source.extensions.fluxcd.io/reconcile` for source-watcher's). An object already suspended
//! is said to be so, not an error.

use serde_json::{Value, json};

use super::objects::diagnosis;
use super::reconcile::{self, Suspension, Target};
use super::writes;
use super::{Args, Ctx, Tool, ToolError};

pub const TOOL: Tool = Tool {
    name: "suspend_flux_reconciliation",
    title: "Suspend a Flux resource",
    description: "Suspends reconciliation of one Flux object (flux suspend): spec.suspend: true \
        for toolkit kinds (sources, Kustomization, HelmRelease, image automation, Alert, ...), \
        the fluxcd.controlplane.io/reconcile: disabled annotation for Flux Operator kinds \
        (FluxInstance, ResourceSet, ResourceSetInputProvider). Its controller then leaves it \
        and what it manages alone until resume_flux_reconciliation; use it during an incident \
        or before changing managed objects by hand.",
    input_schema,
    // Not destructive: nothing is lost, resume undoes it. Idempotent: suspending a suspended
    // object changes nothing.
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
    reconcile::flux_object_schema(json!({}))
}

fn call(ctx: &Ctx, args: &Args) -> Result<String, ToolError> {
    let kind = args.str("kind")?;
    let name = args.str("name")?.trim();
    let cluster = ctx.cluster(args)?;
    let resource = reconcile::resolve_flux(&cluster, args.opt_str("apiVersion")?, kind, TOOL.name)?;
    let namespace = writes::namespace_of(&resource, args.opt_str("namespace")?, &cluster);
    let live = writes::get_live(&cluster, &resource, &namespace, name)?;
    let target = Target {
        resource,
        namespace,
        name: name.to_string(),
    };
    let how = reconcile::suspension(&target.resource);
    if let Some(already) = reconcile::suspended(&live, how) {
        super::record_write(target.label(), "already suspended, nothing changed");
        return Ok(format!(
            "{} is already suspended ({already}); nothing changed. \
             resume_flux_reconciliation resumes it.\n",
            target.label()
        ));
    }
    let patch = match how {
        Suspension::Spec => json!({"spec": {"suspend": true}}),
        Suspension::Annotation(key) => json!({"metadata": {"annotations": {key: "disabled"}}}),
    };
    let stored = reconcile::send(&cluster, &target, &patch)?;
    let Some(done) = reconcile::suspended(&stored, how) else {
        // The API server drops fields a CRD's schema does not declare: this kind has no
        // spec.suspend, and nothing was changed.
        super::record_write(
            target.label(),
            "not suspended: the kind has no spec.suspend",
        );
        return Err(ToolError::Failed(format!(
            "{} cannot be suspended: the API server dropped spec.suspend, which {} \
             ({}) does not declare; nothing was changed",
            target.label(),
            target.resource.kind,
            target.resource.api_version()
        )));
    };
    super::record_write(target.label(), "suspended");
    let controller = diagnosis::controller(&target.resource.group, &target.resource.kind);
    let mut out = format!(
        "{} suspended ({done}): {controller} will not reconcile it, nor correct drift in what \
         it manages, until resume_flux_reconciliation.\n",
        target.label()
    );
    if let Some(c) = diagnosis::condition(&stored, "Ready") {
        out.push_str(&format!(
            "Its last state: Ready={} ({}): {}\n",
            c.status, c.reason, c.message
        ));
    }
    for (label, pointer) in [
        ("last applied revision", "/status/lastAppliedRevision"),
        ("artifact revision", "/status/artifact/revision"),
    ] {
        if let Some(rev) = stored.pointer(pointer).and_then(Value::as_str) {
            out.push_str(&format!("Its {label}: {rev}\n"));
        }
    }
    Ok(out)
}
