#!/usr/bin/env bash
# kubectl reads a snapshot: `snapshot create` captures the test API server (tests/apiserver/),
# `snapshot serve-api` serves the file over HTTPS on loopback with the kubeconfig it writes, and
# the real kubectl must print the same as it does against the live server it was taken from
# (get -A, -o yaml, selectors, paging, logs), and refuse what a snapshot cannot do (writes,
# watches, no token) with a clear message. Part of `make conformance`.
#
#   tests/scripts/snapshot-kubectl.sh            # builds the binary and test-apiserver (debug)
#   BIN=path/to/flux-operator-mcp TEST_APISERVER=path/to/test-apiserver KUBECTL=kubectl tests/scripts/snapshot-kubectl.sh
#
# Prints PASS/FAIL per check and exits non-zero when any check fails. Hermetic: HOME, kubeconfigs
# and kubectl's cache live in a temporary directory; only 127.0.0.1 is contacted.
set -u

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
KUBECTL="${KUBECTL:-kubectl}"
if ! command -v "$KUBECTL" >/dev/null 2>&1; then
    echo "FAIL: kubectl not found (set KUBECTL=...)" >&2
    exit 2
fi
if [ -z "${TEST_APISERVER:-}" ] || [ -z "${BIN:-}" ]; then
    (cd "$ROOT" && cargo build --quiet --example test-apiserver && cargo build --quiet) ||
        { echo "FAIL: cannot build" >&2; exit 2; }
    TEST_APISERVER="${TEST_APISERVER:-$ROOT/target/debug/examples/test-apiserver}"
    BIN="${BIN:-$ROOT/target/debug/flux-operator-mcp}"
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

# wait_for NAME: waits (with a deadline) for the first line a server prints when it is ready.
wait_for() {
    local name="$1" deadline=$((SECONDS + 30))
    until [ -s "$WORK/$name.out" ]; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "${PIDS[-1]}" 2>/dev/null; then
            echo "FAIL: $name did not start: $(cat "$WORK/$name.err")" >&2
            exit 2
        fi
        sleep 0.05
    done
}

export HOME="$WORK/home"
mkdir -p "$HOME"
unset KUBECONFIG HTTPS_PROXY HTTP_PROXY https_proxy http_proxy NO_PROXY no_proxy

"$TEST_APISERVER" --kubeconfig-out "$WORK/live.kubeconfig" >"$WORK/live.out" 2>"$WORK/live.err" &
PIDS+=($!)
wait_for live

if ! KUBECONFIG="$WORK/live.kubeconfig" "$BIN" snapshot create -o "$WORK/cluster.snapshot" \
    >"$WORK/create.out" 2>"$WORK/create.err"; then
    echo "FAIL: snapshot create: $(cat "$WORK/create.err")" >&2
    exit 1
fi
sed 's/^/    /' "$WORK/create.out"

"$BIN" snapshot serve-api "$WORK/cluster.snapshot" --kubeconfig-out "$WORK/snapshot.kubeconfig" \
    >"$WORK/snapshot.out" 2>"$WORK/snapshot.err" &
PIDS+=($!)
wait_for snapshot
if [ "$(stat -c %a "$WORK/snapshot.kubeconfig")" != 600 ]; then
    echo "FAIL: the kubeconfig (it holds the token) is not private" >&2
    exit 1
fi

FAILED=0
PASSED=0

kc() {
    local name="$1"
    shift
    KUBECONFIG="$WORK/$name.kubeconfig" "$KUBECTL" --cache-dir "$WORK/cache-$name" --request-timeout=20s "$@"
}

report() {
    if [ "$1" = yes ]; then
        PASSED=$((PASSED + 1))
        echo "PASS: $2"
    else
        FAILED=$((FAILED + 1))
        echo "FAIL: $2 ($3)"
        sed 's/^/    stderr: /' "$WORK/err" | head -5
        diff "$WORK/live" "$WORK/snap" 2>/dev/null | head -10 | sed 's/^/    diff: /'
    fi
}

# kubectl's version-skew warning depends on the machine's kubectl, not on the server.
drop_skew_warning() {
    grep -iv '^warning: version difference between client' "$1" >"$1.kept"
    mv "$1.kept" "$1"
}

# same DESCRIPTION EXPECT_RE ARGS...: kubectl against the live server and against the snapshot
# both succeed without error output, print the same, and that matches EXPECT_RE.
same() {
    local desc="$1" expect="$2" ok=no
    shift 2
    kc live "$@" >"$WORK/live" 2>"$WORK/err"
    local rcl=$?
    kc snapshot "$@" >"$WORK/snap" 2>>"$WORK/err"
    local rcs=$?
    drop_skew_warning "$WORK/err"
    # An empty EXPECT_RE: the output must be empty.
    if [ $rcl -eq 0 ] && [ $rcs -eq 0 ] && ! [ -s "$WORK/err" ] && cmp -s "$WORK/live" "$WORK/snap" &&
        { if [ -z "$expect" ]; then ! [ -s "$WORK/snap" ]; else grep -Eq -- "$expect" "$WORK/snap"; fi; }; then ok=yes; fi
    report "$ok" "$desc" "kubectl $*; exit $rcl (live) $rcs (snapshot)"
}

# refused DESCRIPTION EXPECTED_STDERR ARGS...: kubectl against the snapshot fails, saying so.
refused() {
    local desc="$1" expect="$2" ok=no
    shift 2
    : >"$WORK/live"
    kc snapshot "$@" >"$WORK/snap" 2>"$WORK/err"
    local rc=$?
    if [ $rc -ne 0 ] && grep -Fq -- "$expect" "$WORK/err"; then ok=yes; fi
    report "$ok" "$desc" "kubectl $*; exit $rc"
}

same "get kustomizations -A" '^flux-system +monitoring-controllers +[0-9]+d +False +health check failed' get kustomizations -A
same "get helmreleases -A" '^apps +podinfo' get helmreleases -A
same "get kustomization -o yaml" 'kind: Kustomization' get kustomization monitoring-controllers -n flux-system -o yaml
same "get kustomizations -A -o yaml" '^kind: List' get kustomizations -A -o yaml
same "get gitrepositories -o json" '"kind": "GitRepository"' get gitrepositories -n flux-system -o json
same "--selector on pods" 'podinfo-' get pods -n apps --selector app.kubernetes.io/name=podinfo
same "--selector with in (...)" 'redis-master-0' get pods -n apps -l 'app.kubernetes.io/name in (redis,frontend)'
same "--field-selector on events" 'HealthCheckFailed' get events -n flux-system --field-selector 'involvedObject.kind=Kustomization,involvedObject.name=monitoring-controllers'
same "--chunk-size=2 pages" 'kustomization' get ks -A -o name --chunk-size=2
same "get pods -A" 'redis-master-0 +0/1 +CrashLoopBackOff' get pods -A
same "get deployments -n flux-system" 'kustomize-controller +1/1' get deployments -n flux-system
same "logs of a Flux controller" 'msg' logs -n flux-system deployment/kustomize-controller --tail=5
same "logs of a failing pod" 'wrong number of arguments' logs -n apps redis-master-0 --tail=1
same "logs --previous" '.' logs -n apps redis-master-0 --previous --tail=3
same "api-resources" 'kustomizations +ks +kustomize\.toolkit\.fluxcd\.io/v1 +true +Kustomization' api-resources
same "--ignore-not-found" '' get ks -n flux-system --ignore-not-found no-such-thing

refused "delete is refused" 'cannot change' delete kustomization apps -n flux-system
refused "apply is refused" 'cannot change' annotate kustomization apps -n flux-system reconcile.fluxcd.io/requestedAt=now
refused "a missing object is NotFound" 'kustomizations.kustomize.toolkit.fluxcd.io "nope" not found' get ks nope -n flux-system
refused "no token: Unauthorized" 'Unauthorized' get ks -A --token=wrong

echo "snapshot-kubectl: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
