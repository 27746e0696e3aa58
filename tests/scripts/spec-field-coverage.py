#!/usr/bin/env python3
"""How many field names from the upstream Flux specs' YAML examples our docs corpus documents.

Reads every ```yaml block in the upstream API specs (default: ../shared/reference/flux-specs
beside the repository), keeps the YAML documents whose `kind` is a kind our corpus covers, and
collects their field paths under `spec` and `status` (`spec.install.remediation.retries`; list
items as `[]`, e.g. `spec.healthChecks[].name`). Free-form maps (Helm values, substitution
variables, labels, ResourceSet inputs and templates, ...) are not descended into: their keys are
user data, not API fields.

A field counts as documented when its full path (ignoring `[]`) appears in the kind's document
(src/docs/corpus/kinds/<kind>.md); the leaf-name figure is looser (the key appears anywhere in
that document). Goal: >= 90% of full paths. Missing paths are listed.

Usage: tests/scripts/spec-field-coverage.py [SPECS_DIR] [--corpus DIR]
Standard library only; the project's tests never read ../shared, this script may.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOAL = 90.0

# Keys whose children are user data rather than API fields.
FREE_FORM = {
    "values", "substitute", "labels", "annotations", "matchLabels", "matchExpressions",
    "inputs", "defaultValues", "data", "stringData", "patch", "conditions", "entries",
    "history", "exportedInputs", "eventMetadata", "messageTemplateValues",
}
# Paths whose children are whole Kubernetes objects or user keys (ResourceSet templates,
# kustomize patches in FluxInstance, OCI annotations, git push options).
FREE_FORM_PATHS = (
    "spec.resources",
    "spec.resourcesTemplate",
    "spec.kustomize.patches",
    "status.artifact.metadata",
    "spec.git.push.options",
)

KEY_RE = re.compile(r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[A-Za-z_][A-Za-z0-9_.\-/]*):(?: |$)")


def corpus_kinds(corpus):
    """kind -> text of its document, from the front matter of corpus/kinds/*.md."""
    kinds = {}
    folder = os.path.join(corpus, "kinds")
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".md"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^kind:\s*(\S+)", text.split("\n---", 1)[0], re.M)
        if m:
            kinds[m.group(1)] = text
    return kinds


def yaml_blocks(markdown):
    """Contents of ```yaml / ```yml fenced blocks."""
    blocks, current, fence = [], None, None
    for line in markdown.splitlines():
        stripped = line.strip()
        if current is None:
            m = re.match(r"^(`{3,}|~{3,})\s*(yaml|yml)\b", stripped)
            if m:
                current, fence = [], m.group(1)
        elif stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
            blocks.append("\n".join(current))
            current = None
        else:
            current.append(line)
    return blocks


def documents(block):
    """Split a YAML block into documents at `---` lines."""
    doc = []
    for line in block.splitlines():
        if line.strip() == "---":
            if doc:
                yield doc
            doc = []
        else:
            doc.append(line)
    if doc:
        yield doc


def field_paths(lines):
    """(kind, apiVersion, set of key paths) of one YAML document, by indentation."""
    kind = api = None
    paths = set()
    stack = []  # (indent, path, is a list item)
    block_scalar_indent = None
    for raw in lines:
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block_scalar_indent is not None:
            if indent > block_scalar_indent:
                continue
            block_scalar_indent = None
        m = KEY_RE.match(line)
        if not m:
            continue
        key = m.group("key")
        dash = m.group("dash")
        key_indent = indent + (len(dash) if dash else 0)
        if dash:
            # A dash at the same indent as a key is a compact sequence under that key
            # (`ignore:` then `- paths:`); a dash at a previous item's indent is its sibling.
            while stack and (stack[-1][0] > indent or (stack[-1][0] == indent and stack[-1][2])):
                stack.pop()
        else:
            while stack and stack[-1][0] >= key_indent:
                stack.pop()
        parent = stack[-1][1] if stack else ""
        if dash:
            # `- key:` opens a list item: its keys (this one and the siblings below it, indented
            # like it) belong to `parent[]`.
            parent += "[]"
            stack.append((indent, parent, True))
        path = f"{parent}.{key}" if parent else key
        value = line[m.end():].strip()
        if not stack:
            if key == "kind":
                kind = value.strip("'\"")
            elif key == "apiVersion":
                api = value.strip("'\"")
        if value in ("|", ">", "|-", ">-", "|+", ">+"):
            block_scalar_indent = key_indent
        plain = path.replace("[]", "")
        free = any(plain.endswith("." + f) or plain == f for f in FREE_FORM) or any(
            plain.startswith(p + ".") for p in FREE_FORM_PATHS
        )
        # Below a free-form key the parent already ends in `.<free>` (and is dropped at the
        # end); only the free-form paths need checking here.
        parent_free = (parent.replace("[]", "") + ".").startswith(
            tuple(p + "." for p in FREE_FORM_PATHS)
        )
        if path.startswith(("spec.", "status.")) and not parent_free:
            paths.add(path)
        if free and value == "":
            # Record the key itself, but skip everything below it.
            stack.append((key_indent, path + ".<free>", False))
            continue
        stack.append((key_indent, path, False))
    paths = {p for p in paths if "<free>" not in p}
    return kind, api, paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "specs",
        nargs="?",
        default=os.path.join(REPO, "..", "shared", "reference", "flux-specs"),
        help="folder of upstream Flux API specs (default: ../shared/reference/flux-specs)",
    )
    parser.add_argument("--corpus", default=os.path.join(REPO, "src", "docs", "corpus"))
    args = parser.parse_args()
    if not os.path.isdir(args.specs):
        sys.exit(f"spec-field-coverage: {args.specs}: not a folder (pass the flux-specs path)")

    kinds = corpus_kinds(args.corpus)
    fields = defaultdict(set)  # kind -> paths
    for root, _, files in sorted(os.walk(args.specs)):
        for name in sorted(files):
            if not name.endswith(".md"):
                continue
            with open(os.path.join(root, name), encoding="utf-8") as f:
                for block in yaml_blocks(f.read()):
                    for doc in documents(block):
                        kind, api, paths = field_paths(doc)
                        if kind in kinds and api and "fluxcd" in api:
                            fields[kind] |= paths

    total = path_hits = name_hits = 0
    missing = []
    for kind in sorted(fields):
        text = kinds[kind].replace("[]", "")
        for path in sorted(fields[kind]):
            total += 1
            plain = path.replace("[]", "")
            leaf = plain.rsplit(".", 1)[-1]
            if re.search(r"(?<![A-Za-z0-9_.])" + re.escape(plain) + r"(?![A-Za-z0-9_])", text):
                path_hits += 1
                name_hits += 1
            else:
                missing.append(f"{kind}: {path}")
                if re.search(r"(?<![A-Za-z0-9_])" + re.escape(leaf) + r"(?![A-Za-z0-9_])", text):
                    name_hits += 1

    if total == 0:
        sys.exit("spec-field-coverage: no YAML examples of covered kinds found")
    path_rate = 100.0 * path_hits / total
    print(f"kinds with examples: {len(fields)} ({', '.join(sorted(fields))})")
    print(f"field paths in upstream YAML examples: {total}")
    print(f"documented with their full path in the kind's document: {path_hits} ({path_rate:.1f}%, goal >= {GOAL:.0f}%)")
    print(f"leaf name present in the kind's document: {name_hits} ({100.0 * name_hits / total:.1f}%)")
    if missing:
        print(f"missing full paths ({len(missing)}):")
        for m in missing:
            print(f"  {m}")
    return 0 if path_rate >= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
