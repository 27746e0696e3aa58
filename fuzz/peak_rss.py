#!/usr/bin/env python3
"""Peak RSS of the product under its largest accepted inputs (issue 15's figure).

    python3 fuzz/peak_rss.py target/release/flux-operator-mcp

Runs `serve` once per case under GNU time and prints the maximum resident set size:
- the baseline: initialize, one ping, EOF;
- a JSON-RPC line just under the 64 MiB line limit (mcp::stdio::MAX_LINE), answered;
- a line just over it, refused without being held;
- a 16 MiB kubeconfig (40,000-odd contexts) read by get_kubeconfig_contexts.
Needs /usr/bin/time (Debian package `time`). Inputs are written to a temporary folder.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

MAX_LINE = 64 << 20


def line(obj):
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


INIT = line({"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "rss", "version": "1"}}})
INITIALIZED = line({"jsonrpc": "2.0", "method": "notifications/initialized"})


def padded_ping(total):
    head = b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"'
    tail = b'"}}'
    return head + b"x" * (total - len(head) - len(tail)) + tail + b"\n"


def run(binary, stdin_bytes, env, folder):
    path = os.path.join(folder, "stdin")
    with open(path, "wb") as f:
        f.write(stdin_bytes)
    with open(path, "rb") as f:
        done = subprocess.run(["/usr/bin/time", "-v", binary, "serve"], stdin=f,
                              capture_output=True, env=env, timeout=600)
    rss = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    answers = [json.loads(l) for l in done.stdout.splitlines() if l.strip()]
    return int(rss.group(1)) // 1024 if rss else None, answers


def kubeconfig(path, size):
    entry = ("- name: ctx-{i}\n  context: {{cluster: c-{i}, user: u-{i}, namespace: ns-{i}}}\n")
    cluster = "- name: c-{i}\n  cluster: {{server: 'https://10.0.{a}.{b}:6443', insecure-skip-tls-verify: true}}\n"
    user = "- name: u-{i}\n  user: {{token: 'token-{i}-abcdefghijklmnopqrstuvwxyz0123456789'}}\n"
    parts = {"contexts": [], "clusters": [], "users": []}
    written, i = 100, 0
    while written < size:
        for key, tpl in (("contexts", entry), ("clusters", cluster), ("users", user)):
            text = tpl.format(i=i, a=(i >> 8) % 256, b=i % 256)
            parts[key].append(text)
            written += len(text)
        i += 1
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\ncurrent-context: ctx-0\n")
        for key in ("clusters", "users", "contexts"):
            f.write(key + ":\n" + "".join(parts[key]))
    return i


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/flux-operator-mcp")
    with tempfile.TemporaryDirectory() as folder:
        config = os.path.join(folder, "config")
        contexts = kubeconfig(config, 16 << 20)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": folder, "KUBECONFIG": config}
        ping = line({"jsonrpc": "2.0", "id": 1, "method": "ping"})
        cases = [
            ("baseline: initialize, ping", INIT + INITIALIZED + ping, 1),
            (f"a {MAX_LINE - 1}-byte line (64 MiB limit)", INIT + INITIALIZED + padded_ping(MAX_LINE - 1), 1),
            (f"a {MAX_LINE + 1}-byte line (refused)", INIT + INITIALIZED + padded_ping(MAX_LINE + 1), None),
            (f"a {os.path.getsize(config)}-byte kubeconfig, {contexts} contexts",
             INIT + INITIALIZED + line({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                        "params": {"name": "get_kubeconfig_contexts", "arguments": {}}}), 1),
        ]
        print(f"{'case':58} {'peak RSS':>9}  answer")
        for name, data, answer_id in cases:
            rss, answers = run(binary, data, env, folder)
            last = answers[-1] if answers else {}
            ok = "error " + str(last.get("error", {}).get("code")) if "error" in last else \
                ("isError" if last.get("result", {}).get("isError") else "ok")
            print(f"{name:58} {rss:>6} MiB  {ok}")


main()
