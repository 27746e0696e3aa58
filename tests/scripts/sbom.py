#!/usr/bin/env python3
"""A CycloneDX 1.5 SBOM (JSON) of the crates in one release binary, from `cargo metadata` (the
resolved graph for the binary's target and features) and Cargo.lock (each crate's SHA-256).

Why a short script and not cargo-cyclonedx: that tool would be compiled from crates.io on every
fresh CI machine (minutes of the release job's budget, and a couple of hundred more crates in our
own supply chain), while this is the standard library and ~150 lines. The output is a pure
function of its inputs (timestamp from SOURCE_DATE_EPOCH, serial number derived from the binary's
hash), so the SBOMs are as reproducible as the binaries, are listed in SHA256SUMS and are
compared by `make dist-verify`. It is checked rather than trusted: the crates it lists as in the
binary must equal what `cargo tree -e normal,no-proc-macro` lists for the same target and
features (done on every run), and `make dist` validates each file against the CycloneDX 1.5
schema with the official cyclonedx-python-lib.

Crates compiled into the binary have scope `required`. Crates used only while building (build
scripts and their dependencies, procedural macros) are listed too, with scope `excluded`, which
CycloneDX defines as "not part of the distribution".

Usage: sbom.py --binary FILE --target TRIPLE --version V --flavour default|read-only --out FILE
       Reads SOURCE_DATE_EPOCH from the environment (required: the SBOM's timestamp).
       sbom.py --validate FILE...   (with cyclonedx-python-lib[json-validation] installed)
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tomllib
import uuid

NAME = "flux-operator-mcp"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def cargo_args(flavour: str) -> list[str]:
    args = ["--locked"]
    if flavour == "read-only":
        args.append("--no-default-features")
    return args


def purl(name: str, version: str) -> str:
    return f"pkg:cargo/{name}@{version}"


def license_expression(text: str) -> str:
    # Old manifests separate alternatives with '/'; SPDX says OR.
    return " OR ".join(part.strip() for part in text.split("/")) if "/" in text else text


def classify(metadata: dict) -> tuple[set[str], set[str], dict[str, list[str]]]:
    """(crates in the binary, crates used only to build it, edges) by package id."""
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    root = metadata["resolve"]["root"]

    def is_proc_macro(pid: str) -> bool:
        return any("proc-macro" in t["kind"] for t in packages[pid]["targets"])

    def edges(pid: str) -> list[tuple[str, set]]:
        return [(d["pkg"], {k["kind"] for k in d["dep_kinds"]}) for d in nodes[pid]["deps"]]

    runtime = {root}
    todo = [root]
    build_roots: list[str] = []
    while todo:
        pid = todo.pop()
        for dep, kinds in edges(pid):
            if None in kinds and not is_proc_macro(dep):
                if dep not in runtime:
                    runtime.add(dep)
                    todo.append(dep)
            if "build" in kinds or (None in kinds and is_proc_macro(dep)):
                build_roots.append(dep)
    build: set[str] = set()
    todo = list(build_roots)
    while todo:
        pid = todo.pop()
        if pid in runtime or pid in build:
            continue
        build.add(pid)
        todo.extend(dep for dep, kinds in edges(pid) if kinds & {None, "build"})
    included = runtime | build
    graph = {pid: sorted({dep for dep, kinds in edges(pid) if kinds & {None, "build"} and dep in included})
             for pid in included}
    return runtime - {root}, build, graph


def cargo_tree_crates(target: str, flavour: str) -> set[tuple[str, str]]:
    """What cargo itself says is linked into the binary: normal edges, no proc-macros."""
    out = subprocess.run(
        ["cargo", "tree", "-e", "normal,no-proc-macro", "--target", target, "--prefix", "none",
         "--format", "{p}", *cargo_args(flavour)],
        capture_output=True, text=True, check=True).stdout
    crates = set()
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] != NAME:
            crates.add((words[0], words[1].lstrip("v")))
    return crates


def validate(files: list[str]) -> int:
    """Each file against the CycloneDX 1.5 JSON schema, with the official library's validator."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    validator = JsonStrictValidator(SchemaVersion.V1_5)
    failed = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            error = validator.validate_str(f.read())
        print(f"{'PASS' if error is None else 'FAIL'}  sbom-schema: {path}" + (f": {error}" if error else ""))
        failed += error is not None
    print(f"sbom-schema: {len(files) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--validate":
        return validate(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--flavour", required=True, choices=["default", "read-only"])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch or not epoch.isdigit():
        print(f"sbom: SOURCE_DATE_EPOCH must be a count of seconds, got {epoch!r}", file=sys.stderr)
        return 1
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--filter-platform", args.target,
         *cargo_args(args.flavour)],
        capture_output=True, text=True, check=True).stdout)
    with open(os.path.join(metadata["workspace_root"], "Cargo.lock"), "rb") as f:
        lock = tomllib.load(f)
    checksums = {(p["name"], p["version"]): p.get("checksum") for p in lock.get("package", [])}
    packages = {p["id"]: p for p in metadata["packages"]}
    runtime, build, graph = classify(metadata)
    root = metadata["resolve"]["root"]

    with open(args.binary, "rb") as f:
        binary_sha = hashlib.sha256(f.read()).hexdigest()

    def ref(pid: str) -> str:
        p = packages[pid]
        return purl(p["name"], args.version if pid == root else p["version"])

    components = []
    for pid in sorted(runtime | build, key=lambda i: (packages[i]["name"], packages[i]["version"])):
        p = packages[pid]
        c: dict = {
            "type": "library",
            "bom-ref": ref(pid),
            "name": p["name"],
            "version": p["version"],
            "scope": "required" if pid in runtime else "excluded",
        }
        if p.get("description"):
            c["description"] = " ".join(p["description"].split())
        checksum = checksums.get((p["name"], p["version"]))
        if checksum:
            c["hashes"] = [{"alg": "SHA-256", "content": checksum}]
        if p.get("license"):
            c["licenses"] = [{"expression": license_expression(p["license"])}]
        c["purl"] = purl(p["name"], p["version"])
        if p.get("source") and p["source"] != CRATES_IO:
            c["properties"] = [{"name": "cargo:source", "value": p["source"]}]
        if p.get("repository"):
            c["externalReferences"] = [{"type": "vcs", "url": p["repository"]}]
        components.append(c)

    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    bom = {
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"sha256:{binary_sha}")),
        "version": 1,
        "metadata": {
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "tests/scripts/sbom.py",
                                      "description": "flux-operator-mcp's SBOM script (cargo metadata + Cargo.lock)"}]},
            "component": {
                "type": "application",
                "bom-ref": ref(root),
                "name": NAME,
                "version": args.version,
                "licenses": [{"expression": packages[root].get("license") or "NOASSERTION"}],
                "purl": ref(root),
                "hashes": [{"alg": "SHA-256", "content": binary_sha}],
                "properties": [
                    {"name": "flux-operator-mcp:target", "value": args.target},
                    {"name": "flux-operator-mcp:build", "value": args.flavour},
                    {"name": "flux-operator-mcp:file", "value": os.path.basename(args.binary)},
                ],
            },
        },
        "components": components,
        "dependencies": [{"ref": ref(pid), "dependsOn": [ref(d) for d in graph[pid]]}
                         for pid in sorted(graph, key=ref)],
    }
    text = json.dumps(bom, indent=2, ensure_ascii=False) + "\n"

    # The check: the crates listed as in the binary are exactly cargo's own answer.
    ours = {(packages[pid]["name"], packages[pid]["version"]) for pid in runtime}
    cargo = cargo_tree_crates(args.target, args.flavour)
    if ours != cargo:
        print(f"sbom: {args.out}: differs from cargo tree: only in the SBOM {sorted(ours - cargo)}, "
              f"only in cargo tree {sorted(cargo - ours)}", file=sys.stderr)
        return 1
    missing = [c["name"] for c in components if "hashes" not in c and c["purl"].startswith("pkg:cargo/")
               and packages_source(packages, c) == CRATES_IO]
    if missing:
        print(f"sbom: no Cargo.lock checksum for {missing}", file=sys.stderr)
        return 1
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"sbom: {args.out}: {len(runtime)} crates in the binary, {len(build)} build-time only "
          f"(matches cargo tree)")
    return 0


def packages_source(packages: dict, component: dict) -> str | None:
    for p in packages.values():
        if p["name"] == component["name"] and p["version"] == component["version"]:
            return p.get("source")
    return None


if __name__ == "__main__":
    sys.exit(main())
