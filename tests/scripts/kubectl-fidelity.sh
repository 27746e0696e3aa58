#!/usr/bin/env bash
# kubectl fidelity: the real kubectl runs against the test API server (tests/apiserver/) and every
# command must succeed with no error output and sensible content. Proves the server speaks the
# wire format kubectl (client-go) expects, so tests built on it mean something. Part of
# `make conformance`.
#
#   tests/scripts/kubectl-fidelity.sh            # builds the test-apiserver example, runs all checks
#   TEST_APISERVER=path/to/test-apiserver KUBECTL=path/to/kubectl tests/scripts/kubectl-fidelity.sh
#
# Prints PASS/FAIL per check and exits non-zero when any check fails. Hermetic: HOME, KUBECONFIG
# and kubectl's cache live in a temporary directory; only 127.0.0.1 is contacted.
set -u

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KUBECTL="${KUBECTL:-kubectl}"
if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    echo "FAIL: kubectl not found (set KUBECTL=...)" >&2
    exit 2
fi
if [ -z "${TEST_APISERVER:-}" ]; then
    (cd "$ROOT" && cargo build --quiet --example test-apiserver) || { echo "FAIL: cannot build test-apiserver" >&2; exit 2; }
    TEST_APISERVER="$ROOT/target/debug/examples/test-apiserver"
fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# start NAME [server flags...]: runs a server writing $WORK/NAME.kubeconfig; waits (with a
# deadline) for the URL line it prints when ready.
start() {
    local name="$1"
    shift
    "$TEST_APISERVER" --kubeconfig-out "$WORK/$name.kubeconfig" "$@" >"$WORK/$name.url" 2>"$WORK/$name.err" &
    PIDS+=($!)
    local deadline=$((SECONDS + 30))
    until [ -s "$WORK/$name.url" ]; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            echo "FAIL: server $name did not start: $(cat "$WORK/$name.err")" >&2
            exit 2
        fi
        sleep 0.05
    done
}

export HOME="$WORK/home"
mkdir -p "$HOME"
unset KUBECONFIG HTTPS_PROXY HTTP_PROXY https_proxy http_proxy NO_PROXY no_proxy

FAILED=0
PASSED=0

# kc NAME ARGS...: kubectl against server NAME with its kubeconfig and a private cache.
kc() {
    local name="$1"
    shift
    KUBECONFIG="$WORK/$name.kubeconfig" "$KUBECTL" --cache-dir "$WORK/cache-$name" --request-timeout=20s "$@"
}

# report OK DESCRIPTION DETAIL: count the check, print PASS/FAIL, and kubectl's output on failure.
report() {
    if [ "$1" = yes ]; then
        PASSED=$((PASSED + 1))
        echo "PASS: $2"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL: $2 ($3)"
        sed 's/^/    stderr: /' "$WORK/err" | head -5
        sed 's/^/    stdout: /' "$WORK/out" | head -5
    fi
}

# drop_skew_warning FILE: remove kubectl's client/server version-skew warning, which depends only
# on which kubectl the machine has (CI may install a newer one than the version we report), not
# on what the server sends.
drop_skew_warning() {
    grep -iv '^warning: version difference between client' "$1" >"$1.kept"
    mv "$1.kept" "$1"
}

# check DESCRIPTION EXPECT_RE SERVER ARGS...: exit 0, empty stderr, stdout matching EXPECT_RE.
check() {
    local desc="$1" expect="$2" name="$3" ok=no
    shift 3
    kc "$name" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    drop_skew_warning "$WORK/err"
    if [ $rc -eq 0 ] && ! [ -s "$WORK/err" ] && grep -Eq -- "$expect" "$WORK/out"; then ok=yes; fi
    report "$ok" "$desc" "kubectl $*; exit $rc"
}

# check_error DESCRIPTION EXPECTED_STDERR SERVER ARGS...: kubectl must fail with that message.
check_error() {
    local desc="$1" expect="$2" name="$3" ok=no
    shift 3
    kc "$name" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    if [ $rc -ne 0 ] && grep -Fq -- "$expect" "$WORK/err"; then ok=yes; fi
    report "$ok" "$desc" "kubectl $*; exit $rc"
}

# check_eventually [--error] DESCRIPTION EXPECTED SERVER ARGS...: like check (or, with --error,
# check_error), retried for up to 20 s: for what the simulated controller does after its delay.
check_eventually() {
    local want_error=no
    if [ "$1" = --error ]; then want_error=yes; shift; fi
    local desc="$1" expect="$2" name="$3" ok=no rc=1
    shift 3
    local deadline=$((SECONDS + 20))
    while :; do
        kc "$name" "$@" >"$WORK/out" 2>"$WORK/err"
        rc=$?
        drop_skew_warning "$WORK/err"
        if [ $want_error = yes ]; then
            if [ $rc -ne 0 ] && grep -Fq -- "$expect" "$WORK/err"; then ok=yes; break; fi
        elif [ $rc -eq 0 ] && ! [ -s "$WORK/err" ] && grep -Eq -- "$expect" "$WORK/out"; then
            ok=yes
            break
        fi
        [ $SECONDS -ge $deadline ] && break
        sleep 0.1
    done
    report "$ok" "$desc" "kubectl $*; exit $rc"
}

# check_same DESCRIPTION SERVER "ARGS A" "ARGS B": both succeed with identical, non-empty output.
check_same() {
    local desc="$1" name="$2" a="$3" b="$4" ok=no
    # shellcheck disable=SC2086
    kc "$name" $a >"$WORK/a" 2>"$WORK/a.err"
    local rca=$?
    # shellcheck disable=SC2086
    kc "$name" $b >"$WORK/out" 2>"$WORK/err"
    local rcb=$?
    cat "$WORK/a.err" >>"$WORK/err"
    drop_skew_warning "$WORK/err"
    if [ $rca -eq 0 ] && [ $rcb -eq 0 ] && ! [ -s "$WORK/err" ] && [ -s "$WORK/a" ] && cmp -s "$WORK/a" "$WORK/out"; then ok=yes; fi
    report "$ok" "$desc" "kubectl $a vs kubectl $b"
}

start main
start restricted --deny list::secrets:flux-system --deny get::pods/log --key-type rsa --identity cert-rsa
start tokens --identity token --key-type p384 --no-metrics
start writes
start stale --metrics-unavailable
start controller --controller 200ms --controller-outcome 'HelmRelease/apps/podinfo=fail:InstallFailed:install retries exhausted' 

# Discovery and basics.
check "version from /version" '"gitVersion": "v1\.33' main version -o json
check "api-resources lists the Flux kinds with short names" 'kustomizations +ks +kustomize\.toolkit\.fluxcd\.io/v1 +true +Kustomization' main api-resources
check "api-resources for one group" 'gitrepositories +gitrepo' main api-resources --api-group=source.toolkit.fluxcd.io
check "api-versions lists served versions" '^source\.toolkit\.fluxcd\.io/v1beta2$' main api-versions
check "get --raw /apis" '"kind":"APIGroupList"' main get --raw /apis
check "get --raw /api/v1" '"kind":"APIResourceList"' main get --raw /api/v1
check "get --raw /apis/helm.toolkit.fluxcd.io/v2" '"name":"helmreleases"' main get --raw /apis/helm.toolkit.fluxcd.io/v2

# Every Flux kind across namespaces (server-side Tables).
for kind in gitrepositories ocirepositories helmrepositories helmcharts buckets externalartifacts \
    kustomizations helmreleases alerts providers receivers imagerepositories imagepolicies \
    imageupdateautomations fluxinstances fluxreports resourcesets resourcesetinputproviders artifactgenerators; do
    check "get $kind -A" '^NAMESPACE +NAME' main get "$kind" -A
done
check "short names (ks, hr, gitrepo, ocirepo, hc, rset)" 'kustomization\.kustomize\.toolkit\.fluxcd\.io/tenants' main get ks,hr,gitrepo,ocirepo,hc,rset -A
check "Ready/Status printer columns" 'monitoring-configs +[0-9]+d +False +dependency' main get ks -n flux-system
check "get pods -A (built-in printer)" 'redis-master-0 +0/1 +CrashLoopBackOff +7 \(' main get pods -A
check "get deployments -n flux-system -o wide" 'source-controller +1/1 +1 +1' main get deployments -n flux-system -o wide
check "get all -n apps (category all)" 'statefulset\.apps/redis-master' main get all -n apps
check "get events sorted by kubectl" 'ArtifactFailed' main get events -n flux-system --sort-by=.lastTimestamp
check "get crd (default Table)" 'gitrepositories\.source\.toolkit\.fluxcd\.io' main get crd

# Objects by name, in every output format.
check "get -o yaml by name" 'lastAttemptedReleaseAction: install' main get helmrelease redis -n apps -o yaml
check "get -o json by name" '"kind": "GitRepository"' main get gitrepository infra-private -n flux-system -o json
check "get -o yaml list" '^kind: List' main get kustomizations -n flux-system -o yaml
check "get -o jsonpath" '^HealthCheckFailed$' main get ks monitoring-controllers -n flux-system -o 'jsonpath={.status.conditions[?(@.type=="Ready")].reason}'
check "get -o name" '^helmrelease\.helm\.toolkit\.fluxcd\.io/podinfo$' main get hr -n apps -o name
check "explicit non-preferred version" 'apiVersion: source\.toolkit\.fluxcd\.io/v1beta2' main get gitrepositories.v1beta2.source.toolkit.fluxcd.io flux-system -n flux-system -o yaml
check "describe a Kustomization" 'Health check failed|health check failed' main describe kustomization monitoring-controllers -n flux-system

# Paging: --chunk-size splits the list into continue-token pages, with the same result.
check_same "--chunk-size=2 lists the same as one page" main "get events -A -o name --chunk-size=0" "get events -A -o name --chunk-size=2"
check_same "--chunk-size=3 Tables match" main "get pods -A --chunk-size=0 -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name" "get pods -A --chunk-size=3 -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name"

# Selectors.
check "label selector =" 'podinfo-' main get pods -n apps -l app.kubernetes.io/name=podinfo
check "label selector in (...)" 'redis-master-0' main get pods -n apps -l 'app.kubernetes.io/name in (redis,frontend)'
check "label selector !key" 'frontend-' main get pods -n apps -l '!statefulset.kubernetes.io/pod-name'
check "field selector on events" 'HealthCheckFailed' main get events -n flux-system --field-selector 'involvedObject.kind=Kustomization,involvedObject.name=monitoring-controllers,reason!=Progressing'
check "field selector metadata.name" '^tenants ' main get ks -n flux-system --field-selector metadata.name=tenants --no-headers

# Logs.
check "logs -c on a two-container pod" 'kube-probe' main logs -n apps deployment/frontend -c nginx
check "logs --tail" 'wrong number of arguments' main logs -n apps redis-master-0 --tail=1
check "logs --previous" 'FATAL CONFIG FILE ERROR' main logs -n apps redis-master-0 --previous
check "logs --timestamps" '^2026-[0-9-]+T[0-9:.]+Z \{"level"' main logs -n flux-system deploy/kustomize-controller --timestamps --tail=3
check "logs --limit-bytes" '^\{"level"' main logs -n flux-system deploy/helm-controller --limit-bytes=200

# Metrics (metrics-server).
check "top pod" 'source-controller-' main top pod -n flux-system
check "top node" 'prod-eu1-' main top node

# Other identities and key types: RSA (PKCS#1 key, like kind) and token auth on P-384.
check "RSA client certificate" 'flux-system' restricted get ks -n flux-system
check "bearer token on a P-384 server" 'podinfo' tokens get hr -n apps
check "bearer token lists across namespaces" 'podinfo' tokens get ocirepo -A

# Refusals kubectl must report as the API server words them.
check_error "forbidden list" 'Error from server (Forbidden): secrets is forbidden: User "kubernetes-admin" cannot list resource "secrets" in API group "" in the namespace "flux-system"' restricted get secrets -n flux-system
check_error "forbidden logs" 'cannot get resource "pods/log" in API group "" in the namespace "apps"' restricted logs -n apps redis-master-0
check_error "not found" 'Error from server (NotFound): gitrepositories.source.toolkit.fluxcd.io "nope" not found' main get gitrepository nope -n flux-system
check_error "unknown kind" "error: the server doesn't have a resource type \"widgets\"" main get widgets
check_error "metrics API absent" 'Metrics API not available' tokens top pod -n flux-system
# metrics-server down: its group is Stale in aggregated discovery; kubectl leaves it out quietly.
check_error "metrics API down" 'Metrics API not available' stale top pod -n flux-system
check "a stale group is left out of api-resources" 'kustomizations +ks' stale api-resources
if grep -q 'metrics.k8s.io' "$WORK/out"; then
    report no "a stale group has no kinds" "kubectl api-resources lists metrics.k8s.io"
else
    report yes "a stale group has no kinds" ""
fi
check_error "container required" 'a container name must be specified for pod' main get --raw "/api/v1/namespaces/apps/pods/$(kc main get pods -n apps -l app.kubernetes.io/name=frontend -o name | cut -d/ -f2)/log"

# Writes, with a real API server's semantics: server-side apply with field ownership, the three
# patch types, create/replace, finalizers, dry runs. kubectl validates manifests against
# /openapi/v3, which the test server does not serve: --validate=false.
cat >"$WORK/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied-by-kubectl
  namespace: apps
data:
  key: value
EOF
sed 's/value/other/' "$WORK/cm.yaml" >"$WORK/cm-rival.yaml"
sed 's/applied-by-kubectl/created-by-kubectl/' "$WORK/cm.yaml" >"$WORK/cm-create.yaml"
sed 's/applied-by-kubectl/created-by-kubectl/; s/value/replaced/' "$WORK/cm.yaml" >"$WORK/cm-replace.yaml"
cat >"$WORK/ks.yaml" <<'EOF'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra-controllers
  namespace: flux-system
spec:
  interval: 5m
  path: ./infrastructure/controllers
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
EOF
cat >"$WORK/cluster-settings.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-settings
  namespace: flux-system
data:
  CLUSTER_DOMAIN: prod.acme.io
  CLUSTER_NAME: prod-eu1
  CLUSTER_REGION: eu-west-1
EOF
cm_rv() { kc writes get cm applied-by-kubectl -n apps -o 'jsonpath={.metadata.resourceVersion}' 2>/dev/null; }

# Server-side apply: create, unchanged, conflict, forced, dry run.
check "apply --server-side --dry-run=server" '^configmap/applied-by-kubectl serverside-applied \(server dry run\)$' writes apply --server-side --validate=false --dry-run=server -f "$WORK/cm.yaml"
check_error "the dry run created nothing" 'Error from server (NotFound): configmaps "applied-by-kubectl" not found' writes get cm applied-by-kubectl -n apps
check "apply --server-side creates" '^configmap/applied-by-kubectl serverside-applied$' writes apply --server-side --validate=false -f "$WORK/cm.yaml"
rv_before="$(cm_rv)"
check "apply --server-side again" '^configmap/applied-by-kubectl serverside-applied$' writes apply --server-side --validate=false -f "$WORK/cm.yaml"
rv_after="$(cm_rv)"
if [ -n "$rv_before" ] && [ "$rv_before" = "$rv_after" ]; then
    report yes "re-applying the same manifest stores nothing (resourceVersion $rv_before)" ""
else
    report no "re-applying the same manifest stores nothing" "resourceVersion $rv_before -> $rv_after"
fi
check_error "another field manager conflicts" 'error: Apply failed with 1 conflict: conflict with "kubectl": .data.key' writes apply --server-side --validate=false --field-manager=rival -f "$WORK/cm-rival.yaml"
check "--force-conflicts takes the field" '^configmap/applied-by-kubectl serverside-applied$' writes apply --server-side --validate=false --field-manager=rival --force-conflicts -f "$WORK/cm-rival.yaml"
check "the forced value is stored and owned by its new manager only" '^other rival Apply$' writes get cm applied-by-kubectl -n apps --show-managed-fields -o 'jsonpath={.data.key} {range .metadata.managedFields[*]}{.manager} {.operation}{end}'
check_error "a Flux object's spec conflicts with kustomize-controller" 'error: Apply failed with 1 conflict: conflict with "kustomize-controller": .spec.interval' writes apply --server-side --validate=false -f "$WORK/ks.yaml"
check "--force-conflicts --dry-run=server" '^kustomization\.kustomize\.toolkit\.fluxcd\.io/infra-controllers serverside-applied \(server dry run\)$' writes apply --server-side --validate=false --force-conflicts --dry-run=server -f "$WORK/ks.yaml"
check "the dry run changed nothing" '^1h0m0s 1$' writes get ks infra-controllers -n flux-system -o 'jsonpath={.spec.interval} {.metadata.generation}'
check "--force-conflicts on a Flux object" '^kustomization\.kustomize\.toolkit\.fluxcd\.io/infra-controllers serverside-applied$' writes apply --server-side --validate=false --force-conflicts -f "$WORK/ks.yaml"
check "... bumps its generation; fields the manifest leaves out keep their owner" '^5m 2 5m0s$' writes get ks infra-controllers -n flux-system -o 'jsonpath={.spec.interval} {.metadata.generation} {.spec.timeout}'
check "a client-side applied object moves to server-side apply" '^configmap/cluster-settings serverside-applied$' writes apply --server-side --validate=false -f "$WORK/cluster-settings.yaml"
check "... kubectl rewrote its managedFields to Apply entries" '^kubectl Apply,kubectl-last-applied Apply,$' writes get cm cluster-settings -n flux-system --show-managed-fields -o 'jsonpath={range .metadata.managedFields[*]}{.manager} {.operation},{end}'

# Patches: merge (no change detected), JSON patch (test ops), strategic (by merge key; 415 on CRs).
check "annotate (merge patch)" 'annotated' writes annotate kustomization apps -n flux-system reconcile.fluxcd.io/requestedAt=2026-11-21T06:00:00Z --overwrite
check "the annotation is stored" '^2026-11-21T06:00:00Z$' writes get ks apps -n flux-system -o 'jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}'
check "patch --type=merge --dry-run=server" '^helmrelease\.helm\.toolkit\.fluxcd\.io/podinfo patched' writes patch helmrelease podinfo -n apps --type=merge -p '{"spec":{"suspend":true}}' --dry-run=server
check "the dry run stored nothing" '^ 1$' writes get hr podinfo -n apps -o 'jsonpath={.spec.suspend} {.metadata.generation}'
check "patch --type=merge" '^helmrelease\.helm\.toolkit\.fluxcd\.io/podinfo patched$' writes patch helmrelease podinfo -n apps --type=merge -p '{"spec":{"suspend":true}}'
check "the patched spec is served with a new generation" '^true 2$' writes get hr podinfo -n apps -o 'jsonpath={.spec.suspend} {.metadata.generation}'
check "the same patch again changes nothing" '^helmrelease\.helm\.toolkit\.fluxcd\.io/podinfo patched \(no change\)$' writes patch helmrelease podinfo -n apps --type=merge -p '{"spec":{"suspend":true}}'
check "patch --type=json" '^gitrepository\.source\.toolkit\.fluxcd\.io/flux-system patched$' writes patch gitrepository flux-system -n flux-system --type=json -p '[{"op":"test","path":"/spec/interval","value":"1m0s"},{"op":"replace","path":"/spec/interval","value":"5m0s"}]'
check_error "patch --type=json whose test fails" 'The request is invalid: the server rejected our request due to an error in our request' writes patch gitrepository flux-system -n flux-system --type=json -p '[{"op":"test","path":"/spec/interval","value":"1m0s"},{"op":"replace","path":"/spec/interval","value":"9m"}]'
check "a failed JSON patch changes nothing" '^5m0s$' writes get gitrepository flux-system -n flux-system -o 'jsonpath={.spec.interval}'
check "patch --type=strategic merges containers by name" '^deployment\.apps/frontend patched$' writes patch deployment frontend -n apps --type=strategic -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.29.4"}]}}}}'
check "the other container is untouched" '^frontend=ghcr\.io/acme-corp/webapp-frontend:3\.8\.1 nginx=nginx:1\.29\.4 $' writes get deployment frontend -n apps -o 'jsonpath={range .spec.template.spec.containers[*]}{.name}={.image} {end}'
check_error "patch --type=strategic on a custom resource" 'error: application/strategic-merge-patch+json is not supported by kustomize.toolkit.fluxcd.io/v1, Kind=Kustomization: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml' writes patch kustomization apps -n flux-system --type=strategic -p '{"spec":{"suspend":true}}'
check "rollout restart (a strategic merge patch of the pod template)" '^deployment\.apps/frontend restarted$' writes rollout restart deployment/frontend -n apps
check "the restart annotation is in the template" 'kubectl\.kubernetes\.io/restartedAt' writes get deployment frontend -n apps -o 'jsonpath={.spec.template.metadata.annotations}'

# Create and replace (POST, PUT).
check "create --dry-run=server" '^configmap/created-by-kubectl created \(server dry run\)$' writes create --validate=false --dry-run=server -f "$WORK/cm-create.yaml"
check_error "the dry run created nothing" 'configmaps "created-by-kubectl" not found' writes get cm created-by-kubectl -n apps
check "create" '^configmap/created-by-kubectl created$' writes create --validate=false -f "$WORK/cm-create.yaml"
check_error "create again" 'Error from server (AlreadyExists): error when creating "'"$WORK"'/cm-create.yaml": configmaps "created-by-kubectl" already exists' writes create --validate=false -f "$WORK/cm-create.yaml"
check "replace (PUT)" '^configmap/created-by-kubectl replaced$' writes replace --validate=false -f "$WORK/cm-create.yaml"
check "replace --dry-run=server" '^configmap/created-by-kubectl replaced \(server dry run\)$' writes replace --validate=false --dry-run=server -f "$WORK/cm-replace.yaml"
check "the dry run replaced nothing" '^value$' writes get cm created-by-kubectl -n apps -o 'jsonpath={.data.key}'

# Delete: at once without finalizers; with finalizers the object waits for their removal. kubectl
# delete waits for the object to go through a watch, which the test server does not serve, so
# a finalizer-held deletion uses --wait=false (kubectl prints the same line).
check "delete --dry-run=server" '^configmap "created-by-kubectl" deleted \(server dry run\)$' writes delete cm created-by-kubectl -n apps --dry-run=server
check "the dry run deleted nothing" '^configmap/created-by-kubectl$' writes get cm created-by-kubectl -n apps -o name
check "delete" '^configmap "created-by-kubectl" deleted$' writes delete cm created-by-kubectl -n apps
check_error "deleted objects are gone" 'configmaps "created-by-kubectl" not found' writes get cm created-by-kubectl -n apps
check "delete an object held by a finalizer" '^kustomization\.kustomize\.toolkit\.fluxcd\.io "tenants" deleted$' writes delete kustomization tenants -n flux-system --wait=false
check "it stays, being deleted" '^20[0-9-]+T[0-9:]+Z finalizers\.fluxcd\.io$' writes get kustomization tenants -n flux-system -o 'jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers[*]}'
check "removing the finalizer" '^kustomization\.kustomize\.toolkit\.fluxcd\.io/tenants patched$' writes patch kustomization tenants -n flux-system --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
check_error "completes the deletion" 'kustomizations.kustomize.toolkit.fluxcd.io "tenants" not found' writes get kustomization tenants -n flux-system

# The simulated controller (--controller 200ms): a reconcile request is answered after its delay,
# with the configured outcome and an Event; a deleted object is finalized.
check "request a reconcile" 'annotated' controller annotate kustomization apps -n flux-system reconcile.fluxcd.io/requestedAt=fidelity-1 --overwrite
check_eventually "the controller handles it" '^fidelity-1 True$' controller get kustomization apps -n flux-system -o 'jsonpath={.status.lastHandledReconcileAt} {.status.conditions[?(@.type=="Ready")].status}'
check "request a reconcile of a failing release" 'annotated' controller annotate helmrelease podinfo -n apps reconcile.fluxcd.io/requestedAt=fidelity-2 --overwrite
check_eventually "it fails with the configured message" '^fidelity-2 False install retries exhausted$' controller get helmrelease podinfo -n apps -o 'jsonpath={.status.lastHandledReconcileAt} {.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].message}'
check "the failure is an event" 'Warning +InstallFailed +helmrelease/podinfo +install retries exhausted' controller get events -n apps --field-selector involvedObject.name=podinfo,reason=InstallFailed
check "delete a Flux object (the controller holds it)" '^kustomization\.kustomize\.toolkit\.fluxcd\.io "tenants" deleted$' controller delete kustomization tenants -n flux-system --wait=false
check_eventually --error "the controller removes its finalizer: the object goes" 'Error from server (NotFound): kustomizations.kustomize.toolkit.fluxcd.io "tenants" not found' controller get kustomization tenants -n flux-system

echo
echo "kubectl fidelity: $PASSED passed, $FAILED failed ($("$KUBECTL" version --client 2>/dev/null | head -1))"
[ "$FAILED" -eq 0 ]
