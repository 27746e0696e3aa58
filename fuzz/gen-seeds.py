#!/usr/bin/env python3
"""Write the fuzz seed corpora (fuzz/seeds/<target>/) from the repository's testdata.

Run from anywhere: `python3 fuzz/gen-seeds.py`. Needs PyYAML. The seeds are committed and kept
small (each file a few KiB, a few dozen per target): they give libFuzzer valid starting points
(real kubeconfigs, API objects, Helm storage, docs questions); what it finds from there goes to
the working corpus fuzz/corpus/, which is not committed. The first bytes of some seeds are the
harness's own knobs (layout, flags); each target's file says what they mean.
"""
import base64
import gzip
import hashlib
import json
import pathlib
import shutil

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
MAX_SEED = 16 * 1024


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def line(obj):
    return json.dumps(obj, separators=(",", ":"))


def jsonrpc():
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "fuzz", "version": "1"}}}
    lines = [
        init,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {"cursor": "1"}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"x": "y"}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
         "params": {"name": "fail", "arguments": {}, "_meta": {"progressToken": 1}}},
        {"jsonrpc": "2.0", "id": 5, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": 6, "method": "prompts/get",
         "params": {"name": "p", "arguments": {"a": "b"}}},
        {"jsonrpc": "2.0", "id": 7, "method": "ping"},
        {"jsonrpc": "2.0", "id": 8, "method": "logging/setLevel", "params": {"level": "debug"}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled",
         "params": {"requestId": 3, "reason": "user"}},
        {"jsonrpc": "2.0", "id": 9, "result": {}},
        {"jsonrpc": "2.0", "id": 10, "error": {"code": -1, "message": "m", "data": [1.5]}},
        {"jsonrpc": "2.0", "id": 11, "method": "server/discover",
         "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}},
        {"jsonrpc": "2.0", "id": 12, "method": "resources/list"},
        {"jsonrpc": "1.0", "id": 13, "method": "ping"},
        {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
        [{"jsonrpc": "2.0", "id": 14, "method": "ping"}],
    ]
    for l in lines:
        write("jsonrpc_parse", line(l))
    write("jsonrpc_parse", '{"jsonrpc":"2.0","id":18446744073709551615,"method":"p\\u00e9"}')
    sessions = [
        lines[:5] + lines[6:9],
        [lines[0], lines[1], lines[4], lines[10], lines[4]],
        [lines[13], lines[4], lines[11], lines[12]],
        lines[2:10],
    ]
    for s in sessions:
        write("jsonrpc_session", "\n".join(line(l) for l in s) + "\n")
    write("jsonrpc_session", b"\xef\xbb\xbf" + "\r\n".join(line(l) for l in sessions[0]).encode())
    write("jsonrpc_session", "\n\n  \n" + line(lines[0]) + "\n{\n" + line(lines[2]))


def kubeconfig():
    base = ROOT / "testdata" / "kubeconfig"
    for case in sorted(p for p in base.iterdir() if p.is_dir()):
        if case.name in ("certs", "plugin"):
            continue
        files = [f for f in sorted(case.iterdir())
                 if f.is_file() and f.name not in ("case.yaml", "expected.yaml")]
        for f in files:
            write("kubeconfig", b"\x00\x00" + f.read_bytes())
        if len(files) >= 2:
            a, b = files[0].read_bytes(), files[1].read_bytes()
            split = len(a) * 256 // (len(a) + len(b)) + 1
            write("kubeconfig", bytes([1, min(split, 255)]) + a + b)
    text = (base / "context-namespace" / "config").read_text()
    write("kubeconfig", b"\x00\x00\xff\xfe" + text.encode("utf-16-le"))
    write("kubeconfig", b"\x00\x00\xfe\xff" + text.encode("utf-16-be"))
    write("kubeconfig", b"\x00\x00\xef\xbb\xbf" + text.encode())
    write("kubeconfig", b"\x00\x00" + text.encode() + b"\n---\n" + text.encode())
    write("kubeconfig", b"\x00\x00" + json.dumps(yaml.safe_load(text)).encode())


def exec_credential():
    certs = ROOT / "testdata" / "kubeconfig" / "certs"
    cert = (certs / "ec-p256.crt").read_text()
    key = (certs / "ec-p256.pkcs8.key").read_text()
    for version in ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"):
        cred = {"apiVersion": version, "kind": "ExecCredential"}
        write("exec_credential", json.dumps(dict(cred, status={"token": "k8s-aws-v1.fuzzing-token"})))
        write("exec_credential", json.dumps(dict(cred, status={
            "token": "tok-1234567890", "expirationTimestamp": "2030-01-02T03:04:05Z"})))
        write("exec_credential", json.dumps(dict(cred, status={
            "clientCertificateData": cert, "clientKeyData": key,
            "expirationTimestamp": "2020-01-02T03:04:05.123456+01:00"})))
    write("exec_credential", '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{}}')
    write("exec_credential", '{"kind":"ExecCredential","apiVersion":"v1","status":{"token":"x"}}')


def cluster_objects():
    objects = []
    for f in sorted((ROOT / "testdata" / "cluster").glob("*.yaml")):
        objects += [o for o in yaml.safe_load_all(f.read_text()) if isinstance(o, dict)]
    return objects


def objects(all_objects):
    seen = set()
    specs = [
        "", "status.conditions", "status.conditions[?(@.type==\"Ready\")].message",
        "{.spec.interval}\nmetadata.labels['app.kubernetes.io/name']",
        "spec.values.*", "status.inventory.entries[-1]", "data",
    ]
    i = 0
    for o in all_objects:
        kind = o.get("kind")
        if kind in seen and kind != "Secret":
            continue
        seen.add(kind)
        flags = i % 8
        spec = specs[i % len(specs)]
        i += 1
        body = json.dumps(o, separators=(",", ":"), default=str).encode()
        write("objects", bytes([flags]) + (spec.encode() + b"\x00" if spec else b"") + body)
    write("objects", b"\x00" + json.dumps({
        "apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
        "metadata": {"name": "r", "namespace": "n"},
        "spec": {"resources": [{"apiVersion": "v1", "kind": "Secret",
                                "metadata": {"name": "s", "annotations": {"a": "c2VjcmV0LXZhbHVl"}},
                                "data": {"k": "c2VjcmV0LXZhbHVl"}, "stringData": {"p": "hunter22"}}]},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed",
                                   "message": "line one\nline: two\n  - 'three'"}]}}).encode())


def helm_release(all_objects):
    for o in all_objects:
        if o.get("type") != "helm.sh/release.v1":
            continue
        value = o["data"]["release"]
        write("helm_release", b"\x00" + value.encode())
        payload = base64.b64decode(base64.b64decode(value))
        release = gzip.decompress(payload)
        write("helm_release", b"\x01" + release)
        write("helm_release", b"\x04" + payload)


def docs_query():
    questions = yaml.safe_load((ROOT / "testdata" / "docs-relevance.yaml").read_text())
    for n, q in enumerate(questions[::3]):
        write("docs_query", bytes([n % 16]) + q["query"].encode())
    for q in ["", "   ", "spec.interval", "`spec.suspend`", "HelmRelease\u00e9\u4e2d", "\"exact phrase\"",
              "a the of", "dependsOn[0].name", "x" * 300]:
        write("docs_query", b"\x02" + q.encode())


def docs_markdown():
    corpus = ROOT / "src" / "docs" / "corpus"
    small = sorted(corpus.rglob("*.md"), key=lambda p: p.stat().st_size)[:4]
    for p in small:
        write("docs_markdown", b"interval\x00" + p.read_bytes())
    runbook = (
        "---\ntitle: Database failover\nkeywords: [postgres, failover]\n---\n"
        "# Failover\n\nPromote the replica.\n\n## Steps\n\n```sh\nkubectl get pods\n```\n\n"
        "### `spec.replicas`\n\nSet it to 2.\n\n```\nunclosed fence\n"
    )
    write("docs_markdown", "failover replica\x00" + runbook + "\x00# Second\n\nno front matter\n")
    write("docs_markdown", "x\x00---\ntitle: [broken\n---\n# \n##\n")


def snapshot():
    """A small well-formed snapshot file (format version 1, see src/snapshot/format.rs), its
    records for the record layer, and serve-api request heads."""
    import json
    import zlib

    def record(tag, payload):
        return bytes([tag]) + len(payload).to_bytes(4, "little") + payload

    def obj(ns, name, value, flags=0):
        key = f"{ns}\0{name}".encode()
        return bytes([flags]) + len(key).to_bytes(2, "little") + key + json.dumps(value).encode()

    def res(plural, kind, namespaced=True):
        return {"resource": plural, "responseKind": {"kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster", "verbs": ["get", "list"]}

    meta = {"context": "seed", "server": "https://127.0.0.1:6443", "namespace": "flux-system",
            "capturedAt": "2026-11-21T06:00:00Z", "logTailLines": 100}
    discovery = {
        "core": {"kind": "APIGroupDiscoveryList", "items": [{"metadata": {"name": ""}, "versions": [
            {"version": "v1", "resources": [res("pods", "Pod"), res("namespaces", "Namespace", False)]}]}]},
        "apis": {"kind": "APIGroupDiscoveryList", "items": [
            {"metadata": {"name": "kustomize.toolkit.fluxcd.io"}, "versions": [
                {"version": "v1", "resources": [res("kustomizations", "Kustomization")]}]}]},
    }
    ks = lambda name, ready: {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                              "metadata": {"name": name, "namespace": "flux-system", "labels": {"app": name}},
                              "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "R",
                                                         "message": "m"}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kc-0", "namespace": "flux-system"},
           "spec": {"containers": [{"name": "manager"}]}, "status": {"phase": "Running"}}
    log_header = json.dumps({"namespace": "flux-system", "pod": "kc-0", "container": "manager",
                             "previous": False, "complete": True, "refused": ""}).encode()
    records = [
        (1, json.dumps(meta).encode()),
        (2, json.dumps(discovery).encode()),
        (3, json.dumps({"group": "kustomize.toolkit.fluxcd.io", "version": "v1", "kind": "Kustomization",
                        "plural": "kustomizations", "namespaced": True, "resourceVersion": "7",
                        "complete": True, "absent": ["flux-system/gone"]}).encode()),
        (4, obj("flux-system", "apps", ks("apps", "True"))),
        (4, obj("flux-system", "infra", ks("infra", "False"))),
        (3, json.dumps({"group": "", "version": "v1", "kind": "Pod", "plural": "pods",
                        "namespaced": True, "resourceVersion": "9", "complete": True}).encode()),
        (4, obj("flux-system", "kc-0", pod)),
        (5, len(log_header).to_bytes(4, "little") + log_header
         + b"2026-11-21T05:59:00Z {\"msg\":\"ok\"}\n"),
        (0xff, b""),
    ]
    body = b"".join(record(t, p) for t, p in records)
    header = b"\x89FXSNAP\n" + (1).to_bytes(2, "little") + b"\0\0" + len(body).to_bytes(8, "little")
    write("snapshot", b"\x00" + header + zlib.compress(body, 6))
    write("snapshot", b"\x01" + b"".join(bytes([t, min(len(p), 255)]) + p[:255] for t, p in records))
    for head in [
        "GET /apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations?labelSelector=app%3Dapps&limit=1 HTTP/1.1\r\nAccept: application/json;as=Table;v=v1;g=meta.k8s.io\r\n",
        "GET /api/v1/namespaces/flux-system/pods/kc-0/log?tailLines=1&timestamps=true HTTP/1.1\r\nHost: x\r\n",
        "DELETE /api/v1/namespaces/flux-system/pods/kc-0 HTTP/1.0\r\nContent-Length: 0\r\n",
    ]:
        write("snapshot", b"\x02" + head.encode())


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    all_objects = cluster_objects()
    jsonrpc()
    kubeconfig()
    exec_credential()
    objects(all_objects)
    helm_release(all_objects)
    docs_query()
    docs_markdown()
    snapshot()
    for t in sorted(SEEDS.iterdir()):
        files = list(t.iterdir())
        print(f"{t.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


main()
