#!/usr/bin/env python3
"""End to end through the official MCP Python SDK (pip install mcp==2.3.0): start the standalone
test API server (tests/apiserver, serving testdata/cluster), let the SDK's stdio client spawn
`flux-operator-mcp serve --read-only` with KUBECONFIG pointing at it, and call EVERY tool that
tools/list offers with arguments chosen per tool name, checking key content of each result.

A tool offered without an entry in CALLS fails (add one), and so does a tool in CALLS that the
server does not offer: together they keep this test calling every tool. The first session runs
with --read-only; a second one, against a fresh test API server whose simulated Flux controller
answers reconcile requests, calls every tool that the read-only session did not offer (the ones
that change a cluster) in WRITE_CALLS order, checking what each answers.

Prints one PASS/FAIL line per tool and `N passed, M failed` last; exit 1 on any failure.

Usage: sdk_e2e.py SERVER_BINARY TEST_APISERVER_BINARY
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

# tool name -> (arguments, strings the result must contain). The test cluster's facts:
# Flux v2.7.2 run by the Flux Operator; Kustomization flux-system/tenants fails with a missing
# path; the latest Job of CronJob apps/backup failed on a password; metrics-server answers;
# Deployment monitoring/blackbox-exporter comes from a Kustomization whose GitRepository fails
# to authenticate; HelmRelease apps/metrics-exporter asks for a chart version that does not exist.
CALLS: dict[str, tuple[dict, list[str]]] = {
    "get_flux_instance": ({}, ["v2.7.2", "kustomize-controller"]),
    "get_kubernetes_resources": (
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "name": "tenants", "namespace": "flux-system"},
        ["tenants", "kustomization path not found"],
    ),
    "get_kubernetes_api_versions": ({}, ["Kustomization", "kustomize.toolkit.fluxcd.io/v1", "Deployment"]),
    "get_kubernetes_events": (
        {"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps", "type": "Warning"},
        ["total: 1", "ArtifactFailed", "no 'metrics-exporter' chart with version matching '2.x' found"],
    ),
    "trace_kubernetes_resource": (
        {"kind": "Deployment", "name": "blackbox-exporter", "namespace": "monitoring"},
        ["firstFailure: GitRepository flux-system/infra-private", "ssh: handshake failed",
         "managedBy: FluxInstance flux-system/flux"],
    ),
    "get_kubernetes_logs": (
        {"pod_name": "cronjob/backup", "pod_namespace": "apps", "limit": 20},
        ["latest Job", 'password authentication failed for user "backup"'],
    ),
    "get_kubernetes_metrics": ({"pod_namespace": "flux-system"}, ["kustomize-controller", "MiB", "Total of 7 pods"]),
    "get_kubeconfig_contexts": ({}, ["flux-test", "current: flux-test"]),
    "set_kubeconfig_context": ({"name": "flux-test"}, ["This session now uses context flux-test"]),
    "search_flux_docs": ({"query": "HelmRelease install remediation retries"}, ["HelmRelease", "retries"]),
    "read_flux_doc": (
        {"path": "HelmRelease", "heading": "spec.install.remediation.retries"},
        ["Section: HelmRelease", "spec.install.remediation.retries", "Lines "],
    ),
    # Offered under --read-only: a server-side dry run changes nothing.
    "diff_kubernetes_manifest": (
        {"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cluster-settings, namespace: flux-system}\ndata: {e2e: changed}\n"},
        ["ConfigMap/flux-system/cluster-settings would change", "+  e2e: changed"],
    ),
}

# Further calls of tools CALLS already covers: the other generation of parameters.
EXTRA_CALLS: list[tuple[str, dict, list[str]]] = [
    ("get_kubernetes_logs",
     {"kind": "HelmRelease", "name": "metrics-exporter", "namespace": "apps", "grep": "2\\.x", "limit": 1},
     ["helm-controller's log lines about HelmRelease apps/metrics-exporter", "Reconciler error"]),
]

# The tools that change a cluster (and diff, which --read-only offers too), in the order they are
# called in the second session: a suspend before its resume, a finalizer held by the delete that
# the patch then removes. Flux-managed objects need overwrite.
WRITE_CALLS: list[tuple[str, dict, list[str]]] = [
    ("diff_kubernetes_manifest",
     {"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e2e, namespace: apps}\ndata: {a: b}\n"},
     ["ConfigMap/apps/e2e would be created"]),
    ("apply_kubernetes_manifest",
     {"yaml_content": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: e2e, namespace: apps, finalizers: [example.com/hold]}\ndata: {a: b}\n"},
     ["ConfigMap/apps/e2e created"]),
    ("reconcile_flux_resource",
     {"kind": "Kustomization", "name": "apps", "namespace": "flux-system", "with_source": True},
     ["GitRepository/flux-system/flux-system reconciled", "Kustomization/flux-system/apps reconciled", "result: reconciled"]),
    ("suspend_flux_reconciliation",
     {"kind": "HelmRelease", "name": "podinfo", "namespace": "apps"},
     ["HelmRelease/apps/podinfo suspended (spec.suspend: true)"]),
    ("resume_flux_reconciliation",
     {"kind": "HelmRelease", "name": "podinfo", "namespace": "apps"},
     ["HelmRelease/apps/podinfo resumed", "result: reconciled"]),
    ("delete_kubernetes_resource",
     {"apiVersion": "v1", "kind": "ConfigMap", "name": "e2e", "namespace": "apps"},
     ["ConfigMap/apps/e2e deletion pending, finalizers: example.com/hold"]),
    ("patch_kubernetes_resource",
     {"apiVersion": "v1", "kind": "ConfigMap", "name": "e2e", "namespace": "apps", "patch": '{"metadata":{"finalizers":null}}'},
     ["patched; changed: metadata.finalizers", "now deleted"]),
]

# An error path: a tool failure is a result with isError, and says what is wrong.
ERROR_CALL = ("get_kubernetes_logs", {"pod_name": "podinfo-x", "pod_namespace": "apps"}, "not found in namespace")

results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""), flush=True)


def start_apiserver(binary: str, kubeconfig: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """The test API server, and its URL once it prints it (within 30 s)."""
    proc = subprocess.Popen([binary, "--kubeconfig-out", kubeconfig, *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=30)
    url = line[0].strip() if line else ""
    if not url.startswith("https://"):
        proc.kill()
        raise RuntimeError(f"the test API server did not start: {url!r} {proc.stderr.read() if proc.poll() is not None else ''}")
    return proc, url


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def exercise(params: StdioServerParameters) -> set[str]:
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            offered = [t.name for t in (await session.list_tools()).tools]
            read_only_offered = set(offered)
            check("tools/list", bool(offered), f"{len(offered)} tools: {', '.join(offered)}")
            for name in sorted(set(CALLS) - set(offered)):
                check(name, False, "not offered by the server")
            for name in offered:
                if name not in CALLS:
                    check(name, False, "offered but not exercised: add it to CALLS in sdk_e2e.py")
                    continue
                args, expected = CALLS[name]
                started = time.perf_counter()
                try:
                    result = await session.call_tool(name, args)
                except Exception as e:  # a JSON-RPC error is a failure of this tool
                    check(name, False, f"call raised {e!r}")
                    continue
                ms = (time.perf_counter() - started) * 1000
                text = text_of(result)
                missing = [s for s in expected if s not in text]
                if result.is_error:
                    check(name, False, f"isError: {text[:300]}")
                elif missing:
                    check(name, False, f"missing {missing} in: {text[:300]}")
                else:
                    check(name, True, f"{len(text)} bytes in {ms:.0f} ms")
            for name, args, expected in EXTRA_CALLS:
                if name not in offered:
                    continue
                result = await session.call_tool(name, args)
                text = text_of(result)
                missing = [s for s in expected if s not in text]
                ok = not result.is_error and not missing
                check(f"{name} {sorted(args)}", ok, f"{len(text)} bytes" if ok else f"missing {missing} in: {text[:300]}")
            name, args, expected = ERROR_CALL
            if name in offered:
                result = await session.call_tool(name, args)
                text = text_of(result)
                check(f"{name} error path", bool(result.is_error) and expected in text, text[:200])
            return read_only_offered


async def exercise_writes(params: StdioServerParameters, read_only_offered: set[str]) -> None:
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            offered = [t.name for t in (await session.list_tools()).tools]
            writers = sorted(set(offered) - read_only_offered)
            check("tools/list (writes)", bool(writers), f"not under --read-only: {', '.join(writers)}")
            called = {name for name, _, _ in WRITE_CALLS}
            for name in writers:
                if name not in called:
                    check(name, False, "offered but not exercised: add it to WRITE_CALLS in sdk_e2e.py")
            for name, args, expected in WRITE_CALLS:
                if name not in offered:
                    check(name, False, "not offered by the server")
                    continue
                started = time.perf_counter()
                try:
                    result = await session.call_tool(name, args)
                except Exception as e:
                    check(name, False, f"call raised {e!r}")
                    continue
                ms = (time.perf_counter() - started) * 1000
                text = text_of(result)
                missing = [x for x in expected if x not in text]
                if result.is_error:
                    check(name, False, f"isError: {text[:300]}")
                elif missing:
                    check(name, False, f"missing {missing} in: {text[:300]}")
                else:
                    check(name, True, f"{len(text)} bytes in {ms:.0f} ms")
            # The Flux-owner guard: refused, saying who would revert it.
            result = await session.call_tool("delete_kubernetes_resource", {
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo", "namespace": "apps"})
            text = text_of(result)
            check("delete_kubernetes_resource guard", bool(result.is_error) and "will recreate it" in text, text[:200])


async def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, apiserver_binary = (os.path.abspath(a) for a in argv)
    with tempfile.TemporaryDirectory(prefix="flux-mcp-e2e-") as tmp:
        kubeconfig = os.path.join(tmp, "kubeconfig")
        try:
            apiserver, url = start_apiserver(apiserver_binary, kubeconfig)
        except Exception as e:
            check("test API server", False, str(e))
            return 1
        try:
            check("test API server", True, url)
            # A hermetic environment: this kubeconfig only, no HOME/.kube, no proxies.
            env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": kubeconfig, "HOME": tmp}
            params = StdioServerParameters(command=binary, args=["serve", "--read-only"], env=env)
            read_only_offered: set[str] = set()
            try:
                read_only_offered = await asyncio.wait_for(exercise(params), timeout=120)
            except Exception as e:
                check("session completed", False, repr(e))
        finally:
            apiserver.kill()
            apiserver.wait()
        # The writes, on a fresh cluster whose simulated controller answers in 200 ms.
        kubeconfig = os.path.join(tmp, "kubeconfig-writes")
        try:
            apiserver, url = start_apiserver(apiserver_binary, kubeconfig, "--controller", "200ms")
        except Exception as e:
            check("test API server (writes)", False, str(e))
            return 1
        try:
            env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": kubeconfig, "HOME": tmp}
            params = StdioServerParameters(command=binary, args=["serve", "--timeout=30s"], env=env)
            try:
                await asyncio.wait_for(exercise_writes(params, read_only_offered), timeout=120)
            except Exception as e:
                check("writes session completed", False, repr(e))
        finally:
            apiserver.kill()
            apiserver.wait()
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
