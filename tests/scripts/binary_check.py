#!/usr/bin/env python3
"""The checks every release binary passes (`make dist` runs them on all four): static, stripped,
for the architecture its name says, free of local paths; `--version` and `version --verbose`
naming its build; `docs search`; and, over stdio, MCP initialize + tools/list and a tool call
that reaches the test API server. It also runs in an empty root directory.

A binary for another architecture runs under qemu user emulation (`qemu-aarch64-static` from
Debian's qemu-user-static): that is how the arm64 binaries are tested here, not just built. The
test API server always runs natively.

Usage: binary_check.py BINARY [--apiserver TEST_APISERVER] [--version V] [--flavour default|read-only]
                       [--revision R] [--source-date-epoch N] [--cc COMPILER] [--forbid-path PATH]...
Prints PASS/FAIL per check and `N passed, M failed`; exit 1 on any failure.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mcp_stdio import CLUSTER_CALL, McpError, Report, Session, hermetic_env, start_apiserver  # noqa: E402

# ELF e_machine -> (uname -m, Rust musl target, the qemu user emulator for it)
MACHINES = {
    62: ("x86_64", "x86_64-unknown-linux-musl", "qemu-x86_64-static"),
    183: ("aarch64", "aarch64-unknown-linux-musl", "qemu-aarch64-static"),
}
PT_INTERP, PT_DYNAMIC, DT_NEEDED = 3, 2, 1


def elf_facts(data: bytes) -> dict:
    """Machine, whether an interpreter or needed libraries are named (dynamic linking), and
    whether a symbol table is left (not stripped). 64-bit little-endian ELF only: the two
    targets we ship."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    (e_type, e_machine, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize,
     e_shnum, e_shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
    interp = False
    needed = 0
    for i in range(e_phnum):
        p_type, _, p_offset, _, _, p_filesz, _, _ = struct.unpack_from(
            "<IIQQQQQQ", data, e_phoff + i * e_phentsize)
        if p_type == PT_INTERP:
            interp = True
        elif p_type == PT_DYNAMIC:
            # static-pie binaries keep a dynamic section to relocate themselves; what makes a
            # binary dynamically linked is a DT_NEEDED library in it.
            for off in range(p_offset, p_offset + p_filesz, 16):
                tag, _ = struct.unpack_from("<qQ", data, off)
                if tag == DT_NEEDED:
                    needed += 1
                if tag == 0:
                    break
    sections = []
    if e_shoff and e_shnum:
        shstr_hdr = e_shoff + e_shstrndx * e_shentsize
        _, _, _, _, str_off, str_size, *_ = struct.unpack_from("<IIQQQQIIQQ", data, shstr_hdr)
        names = data[str_off:str_off + str_size]
        for i in range(e_shnum):
            name_off = struct.unpack_from("<I", data, e_shoff + i * e_shentsize)[0]
            sections.append(names[name_off:names.index(b"\0", name_off)].decode())
    return {"type": e_type, "machine": e_machine, "interp": interp, "needed": needed,
            "symtab": ".symtab" in sections}


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


def verbose_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines()[1:]:
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def empty_root_prefix(root: str) -> list[str] | None:
    """How to run a program inside `root` as its `/`: chroot as root, else an unprivileged user
    namespace; None where neither works (some sandboxes). Absolute paths: the program runs with
    an empty environment (no PATH), and Debian keeps chroot in /usr/sbin."""
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0:
        return [chroot, root]
    unshare = shutil.which("unshare")
    if unshare and run([unshare, "-r", "true"]).returncode == 0:
        return [unshare, "-r", chroot, root]
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--apiserver", help="the test API server; without it no tool call reaches a cluster")
    ap.add_argument("--version")
    ap.add_argument("--flavour", choices=["default", "read-only"])
    ap.add_argument("--revision")
    ap.add_argument("--source-date-epoch")
    ap.add_argument("--cc", help="the C compiler `version --verbose` must name")
    ap.add_argument("--forbid-path", action="append", default=[],
                    help="a local path that must not occur in the binary (repeatable)")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    report = Report(os.path.basename(binary))
    data = open(binary, "rb").read()
    elf = elf_facts(data)
    if elf["machine"] not in MACHINES:
        report.check("ELF machine", False, f"unexpected e_machine {elf['machine']}")
        return report.summary()
    arch, triple, qemu = MACHINES[elf["machine"]]
    report.check("ELF machine", True, f"{arch} ({triple})")
    report.check("statically linked", not elf["interp"] and elf["needed"] == 0,
                 f"interpreter: {elf['interp']}, needed libraries: {elf['needed']}")
    report.check("stripped", not elf["symtab"], "no .symtab" if not elf["symtab"] else ".symtab present")
    for path in args.forbid_path:
        report.check(f"no local path {path}", path.encode() not in data,
                     "absent" if path.encode() not in data else "the build folder leaked into the binary")

    runner: list[str] = []
    if arch != platform.machine():
        emulator = shutil.which(qemu)
        if not emulator:
            report.check("emulator", False, f"{qemu} not found (Debian package qemu-user-static)")
            return report.summary()
        runner = [emulator]
    how = f"under {os.path.basename(runner[0])}" if runner else "natively"

    # One line; the read-only build says so, the default build does not.
    suffix = " (read-only build)" if args.flavour == "read-only" else ""
    out = run(runner + [binary, "--version"], env=hermetic_env())
    line = out.stdout.strip()
    if args.version:
        ok = line == f"flux-operator-mcp {args.version}{suffix}"
    else:
        ok = line.startswith("flux-operator-mcp ") and "\n" not in line and (
            line.endswith(suffix) if suffix else "read-only" not in line)
    ok = ok and out.returncode == 0
    report.check(f"--version {how}", ok, repr(line))

    out = run(runner + [binary, "version", "--verbose"], env=hermetic_env())
    fields = verbose_fields(out.stdout)
    report.check("version --verbose target", fields.get("target") == triple, fields.get("target", ""))
    if args.flavour:
        report.check("version --verbose build", fields.get("build", "").startswith(args.flavour),
                     fields.get("build", ""))
    if args.revision:
        report.check("version --verbose revision", fields.get("revision") == args.revision,
                     fields.get("revision", ""))
    if args.source_date_epoch:
        want = f"(SOURCE_DATE_EPOCH={args.source_date_epoch})"
        report.check("version --verbose source date", fields.get("source date", "").endswith(want),
                     fields.get("source date", ""))
    if args.cc:
        report.check("version --verbose cc", fields.get("cc", "").startswith(args.cc + " ("),
                     fields.get("cc", ""))
    report.check("version --verbose rustc", fields.get("rustc", "").startswith("rustc "),
                 fields.get("rustc", ""))
    report.check("version --verbose profile", fields.get("profile", "").startswith("release ("),
                 fields.get("profile", ""))

    out = run(runner + [binary, "docs", "search", "upgrade retries exhausted"], env=hermetic_env())
    report.check(f"docs search {how}", out.returncode == 0 and "HelmRelease" in out.stdout,
                 f"{len(out.stdout)} bytes")

    # An empty root: nothing but the binary (and, for another architecture, the emulator).
    with tempfile.TemporaryDirectory(prefix="release-root-") as root:
        shutil.copy2(binary, os.path.join(root, "flux-operator-mcp"))
        inner = ["/flux-operator-mcp"]
        if runner:
            shutil.copy2(runner[0], os.path.join(root, "qemu"))
            inner = ["/qemu", "/flux-operator-mcp"]
        prefix = empty_root_prefix(root)
        if prefix is None:
            report.check("empty root", True, "SKIPPED: no chroot here (not root, no user namespaces)")
        else:
            session = Session(prefix + inner + ["serve"], env={})
            try:
                info = session.initialize()
                report.check("initialize in an empty root", info.get("protocolVersion") == "2025-06-18",
                             " ".join(prefix[:-1]))
            except McpError as e:
                report.check("initialize in an empty root", False, str(e))
            session.close()

    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        kubeconfig = os.path.join(tmp, "kubeconfig")
        apiserver = url = None
        if args.apiserver:
            try:
                apiserver, url = start_apiserver(args.apiserver, kubeconfig)
            except Exception as e:  # noqa: BLE001 - any failure to start is this check's failure
                report.check("test API server", False, str(e))
                return report.summary()
        session = Session(runner + [binary, "serve"], hermetic_env(KUBECONFIG=kubeconfig, HOME=tmp))
        try:
            info = session.initialize()
            server = info.get("serverInfo", {})
            report.check(f"MCP initialize {how}", info.get("protocolVersion") == "2025-06-18",
                         f"{server.get('name')} {server.get('version')}")
            if args.version:
                report.check("serverInfo.version", server.get("version") == args.version,
                             str(server.get("version")))
            tools = session.tools()
            names = {t["name"] for t in tools}
            wanted = {"search_flux_docs", "get_flux_instance", CLUSTER_CALL[0]}
            report.check("tools/list", wanted <= names, f"{len(names)} tools")
            if args.flavour == "read-only":
                writers = sorted(t["name"] for t in tools
                                 if not t.get("annotations", {}).get("readOnlyHint", False))
                report.check("read-only build lists no writing tool", not writers, ", ".join(writers))
            if url:
                name, arguments, expected = CLUSTER_CALL
                is_error, text = session.call(name, arguments)
                report.check(f"{name} reaches the test API server at {url}",
                             not is_error and expected in text, text[:200])
        except McpError as e:
            report.check("MCP session", False, str(e))
        code = session.close()
        report.check("exits 0 on stdin EOF", code == 0, str(code))
        if apiserver:
            apiserver.kill()
            apiserver.wait()
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
