"""Helpers shared by the release checks (binary_check.py, image_run.py): a minimal MCP client over
stdio (one JSON object per line, Python's standard library only, so it runs wherever the checks
run, with no SDK to install), the standalone test API server, and PASS/FAIL bookkeeping that
ends with the `N passed, M failed` line CI reads.

The official SDK's view of the server is `make conformance`'s job (sdk_check.py, sdk_e2e.py);
here the point is the artifact: the exact bytes we ship, under qemu or in an image's root.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time

PROTOCOL_VERSION = "2025-06-18"


class Report:
    """PASS/FAIL lines as checks run, and the summary line."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.results: list[tuple[str, bool]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok))
        line = f"{'PASS' if ok else 'FAIL'}  {self.prefix}: {name}"
        # One line per check: multi-line details (tool output) are folded.
        detail = " | ".join(part for part in detail.splitlines() if part.strip())
        print(line + (f": {detail}" if detail else ""), flush=True)
        return ok

    def summary(self) -> int:
        passed = sum(1 for _, ok in self.results if ok)
        failed = len(self.results) - passed
        print(f"{self.prefix}: {passed} passed, {failed} failed", flush=True)
        return 1 if failed else 0


class McpError(Exception):
    pass


class Session:
    """One server process spoken to over stdin/stdout. Every wait has a deadline, so a hung or
    crashed server fails the check instead of hanging CI."""

    def __init__(self, argv: list[str], env: dict[str, str], timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.next_id = 1

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        """Send a request and return its `result`; a JSON-RPC error raises McpError."""
        rid = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise McpError(f"{method}: no answer within {self.timeout:.0f}s")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise McpError(f"{method}: the server closed stdout; stderr: {''.join(self.stderr)[-500:]}")
            message = json.loads(line)
            if message.get("id") != rid:
                continue  # a notification (logging, progress): not ours
            if "error" in message:
                raise McpError(f"{method}: {message['error']}")
            return message["result"]

    def initialize(self) -> dict:
        result = self.request("initialize", {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "release-check", "version": "1"},
        })
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def tools(self) -> list[dict]:
        return self.request("tools/list", {})["tools"]

    def call(self, name: str, arguments: dict) -> tuple[bool, str]:
        """(isError, text) of a tool call."""
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        text = "".join(c.get("text", "") for c in result.get("content", []))
        return bool(result.get("isError")), text

    def close(self) -> int | None:
        """Close stdin (the server exits on EOF) and wait; the exit code."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            return self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def start_apiserver(binary: str, kubeconfig: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """The standalone test API server (cargo build --release --example test-apiserver), writing a
    kubeconfig with its CA and a client certificate inline; its URL once it prints it."""
    proc = subprocess.Popen([binary, "--kubeconfig-out", kubeconfig, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=30)
    url = line[0].strip() if line else ""
    if not url.startswith("https://"):
        proc.kill()
        raise RuntimeError(f"the test API server did not start: {url!r}")
    return proc, url


def hermetic_env(**extra: str) -> dict[str, str]:
    """A cleared environment: no proxies, no user KUBECONFIG, only what the check sets."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(extra)
    return env


# The test cluster's facts (testdata/cluster): this call answers with a condition message that
# only the API server holds, so a pass proves the call reached it.
CLUSTER_CALL = (
    "get_kubernetes_resources",
    {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
     "name": "tenants", "namespace": "flux-system"},
    "kustomization path not found",
)
