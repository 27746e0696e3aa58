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

# Writes, applied in memory (the read-only hardening tests assert our binary never sends them).
# kubectl validates applied manifests against /openapi/v3, which the test server does not serve.
cat >"$WORK/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied-by-kubectl
  namespace: apps
data:
  key: value
EOF
check "annotate (merge patch)" 'annotated' writes annotate kustomization apps -n flux-system reconcile.fluxcd.io/requestedAt=2026-11-21T06:00:00Z --overwrite
check "the annotation is stored" '^2026-11-21T06:00:00Z$' writes get ks apps -n flux-system -o 'jsonpath={.metadata.annotations.reconcile\.fluxcd\.io/requestedAt}'
check "patch --type=merge bumps the generation" 'patched' writes patch helmrelease podinfo -n apps --type=merge -p '{"spec":{"suspend":true}}'
check "the patched spec is served" '^true 2$' writes get hr podinfo -n apps -o 'jsonpath={.spec.suspend} {.metadata.generation}'
check "patch --type=json" 'patched' writes patch gitrepository flux-system -n flux-system --type=json -p '[{"op":"replace","path":"/spec/interval","value":"5m0s"}]'
check "server-side apply creates" 'serverside-applied' writes apply --server-side --validate=false -f "$WORK/cm.yaml"
check "server-side apply again" 'serverside-applied' writes apply --server-side --validate=false -f "$WORK/cm.yaml"
check "delete" 'deleted' writes delete kustomization tenants -n flux-system
check_error "deleted objects are gone" 'kustomizations.kustomize.toolkit.fluxcd.io "tenants" not found' writes get kustomization tenants -n flux-system

echo
echo "kubectl fidelity: $PASSED passed, $FAILED failed ($("$KUBECTL" version --client 2>/dev/null | head -1))"
[ "$FAILED" -eq 0 ]
