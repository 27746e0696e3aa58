#!/usr/bin/env python3
"""Drive flux-operator-mcp with the official MCP Python SDK (pip install mcp==2.3.0).

Connects in the SDK's three modes (session: the classic ClientSession handshake; auto: the
mcp>=2 default that probes `server/discover` first; legacy: handshake only), lists tools and
prompts, renders a prompt, pings, and checks that an unknown tool is a JSON-RPC error. `auto`
must connect in under a second (a server that ignored `server/discover` would cost a 10 s
timeout). Prints one line per check and `N passed, M failed` last; exit 1 on any failure.

Usage: sdk_check.py SERVER_BINARY [EXTRA SERVE ARGS...]
"""
from __future__ import annotations

import asyncio
import os
import sys
import time

from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

AUTO_CONNECT_BUDGET_S = 1.0
HANDSHAKE_VERSIONS = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}

results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f": {detail}" if detail else ""), flush=True)


def schemas_are_strict(tools) -> str:
    """Empty when every tool has a description and an object schema with properties."""
    bad = []
    for t in tools:
        schema = t.input_schema if hasattr(t, "input_schema") else t.inputSchema
        if not t.description or schema.get("type") != "object" or "properties" not in schema:
            bad.append(t.name)
    return ", ".join(bad)


async def exercise(session, mode: str) -> None:
    tools = (await session.list_tools()).tools
    check(f"{mode}: tools/list", True, f"{len(tools)} tools")
    bad = schemas_are_strict(tools)
    check(f"{mode}: tool schemas are objects with properties and descriptions", not bad, bad)
    prompts = (await session.list_prompts()).prompts
    names = sorted(p.name for p in prompts)
    check(f"{mode}: prompts/list", names == ["debug_flux_helmrelease", "debug_flux_kustomization"], str(names))
    got = await session.get_prompt("debug_flux_kustomization", {"name": "apps", "namespace": "flux-system"})
    text = got.messages[0].content.text if got.messages else ""
    check(f"{mode}: prompts/get", "flux-system/apps" in text, text[:60])
    try:
        await session.get_prompt("debug_flux_kustomization", {"name": "apps"})
        check(f"{mode}: prompts/get without a required argument is refused", False, "no error")
    except MCPError as e:
        check(f"{mode}: prompts/get without a required argument is refused", e.error.code == -32602, str(e.error.code))
    if session.protocol_version == "2026-07-28":
        # The stateless revision removed ping: a server must answer it as an unknown method.
        try:
            await session.send_ping()
            check(f"{mode}: ping is gone in 2026-07-28", False, "answered")
        except MCPError as e:
            check(f"{mode}: ping is gone in 2026-07-28", e.error.code == -32601, str(e.error.code))
    else:
        await session.send_ping()
        check(f"{mode}: ping", True)
    try:
        await session.call_tool("no_such_tool", {})
        check(f"{mode}: unknown tool is a JSON-RPC error", False, "no error")
    except MCPError as e:
        check(f"{mode}: unknown tool is a JSON-RPC error", e.error.code == -32602, str(e.error.code))


async def run_session(params: StdioServerParameters) -> None:
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            check(
                "session: initialize",
                init.server_info.name == "flux-operator-mcp" and init.protocol_version in HANDSHAKE_VERSIONS,
                f"{init.server_info.name} {init.server_info.version} protocol {init.protocol_version}",
            )
            check("session: instructions", bool(init.instructions))
            await exercise(session, "session")


async def run_client(params: StdioServerParameters, mode: str) -> None:
    started = time.perf_counter()
    async with Client(params, mode=mode) as client:
        elapsed = time.perf_counter() - started
        session = client.session
        info = session.server_info
        check(f"{mode}: connect", info is not None and info.name == "flux-operator-mcp",
              f"protocol {session.protocol_version} in {elapsed * 1000:.0f} ms")
        if mode == "auto":
            check("auto: stateless revision chosen", session.protocol_version == "2026-07-28", str(session.protocol_version))
            check("auto: connects in under 1 s", elapsed < AUTO_CONNECT_BUDGET_S, f"{elapsed * 1000:.0f} ms")
        await exercise(session, mode)


async def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[0])
    params = StdioServerParameters(command=binary, args=["serve", *argv[1:]], env={"PATH": os.environ.get("PATH", "")})
    for name, runner in [("session", run_session(params)), ("auto", run_client(params, "auto")),
                         ("legacy", run_client(params, "legacy"))]:
        try:
            await asyncio.wait_for(runner, timeout=30)
        except Exception as e:  # one failing mode must not hide the others
            check(f"{name}: completed", False, repr(e))
    passed = sum(1 for _, ok, _ in results if ok)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
