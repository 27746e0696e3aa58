#!/usr/bin/env python3
"""Judge a run of the official MCP conformance suite check by check, against a list of the
checks expected to fail and why (`conformance-http.expected`).

The suite scores whole scenarios, and most of its scenarios need its reference server's own
fixture tools (`test_*`) or capabilities we do not declare (resources, completions): judged by
scenario, those would hide every check of the scenario that does apply to us (server-stateless
has 25 checks, four of them need fixtures). Here every FAILURE must be listed, every listed
check must fail (a listed check that passes is stale: remove it), and every scenario run must
have left results. WARNINGs (SHOULDs) are shown, never fatal.

Usage: conformance_checks.py LABEL RESULTS_DIR EXPECTED_FILE SCENARIO...
Prints one line per scenario and `N passed, M failed` last; exit 1 on any failure.
"""
from __future__ import annotations

import json
import os
import re
import sys

STAMP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")


def expected_failures(path: str, label: str) -> dict[tuple[str, str], str]:
    """(scenario, check id) -> reason, for the lines of `label`."""
    out: dict[tuple[str, str], str] = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split(None, 3)
            if len(parts) < 3:
                raise SystemExit(f"{path}: bad line {line!r}: SUITE SCENARIO CHECK [REASON]")
            if parts[0] == label:
                out[(parts[1], parts[2])] = parts[3] if len(parts) > 3 else ""
    return out


def results(root: str) -> dict[str, list[dict]]:
    """scenario -> its checks, from every checks.json under root (one folder per scenario run)."""
    found: dict[str, list[dict]] = {}
    for dirpath, _, files in os.walk(root):
        if "checks.json" not in files:
            continue
        name = os.path.basename(dirpath)
        if not name.startswith("server-") or not STAMP.search(name):
            continue
        scenario = STAMP.sub("", name[len("server-"):])
        with open(os.path.join(dirpath, "checks.json")) as f:
            found.setdefault(scenario, []).extend(json.load(f))
    return found


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    label, root, expected_path, scenarios = argv[0], argv[1], argv[2], argv[3:]
    expected = expected_failures(expected_path, label)
    got = results(root)
    passed = failed = 0
    seen_failures: set[tuple[str, str]] = set()
    for scenario in scenarios:
        checks = got.get(scenario)
        if checks is None:
            print(f"FAIL  {scenario}: no results (see {root})")
            failed += 1
            continue
        problems, notes = [], []
        ok = xfail = 0
        for c in checks:
            key = (scenario, c.get("id", ""))
            status = c.get("status")
            message = (c.get("errorMessage") or c.get("description") or "")[:200]
            if status == "FAILURE":
                if key in expected:
                    seen_failures.add(key)
                    xfail += 1
                else:
                    problems.append(f"FAILURE {key[1]}: {message}")
            elif status == "SUCCESS":
                ok += 1
                if key in expected:
                    problems.append(f"STALE {key[1]}: listed as an expected failure but passes; remove it")
            elif status == "WARNING":
                notes.append(f"warning {key[1]}: {message}")
        verdict = "FAIL" if problems else "PASS"
        print(f"{verdict}  {scenario}: {ok} checks passed, {xfail} expected failures")
        for p in problems + notes:
            print(f"      {p}")
        if problems:
            failed += 1
        else:
            passed += 1
    # Listed checks of scenarios that ran but never reported them are stale too.
    for (scenario, check), _ in sorted(expected.items()):
        if scenario in scenarios and scenario in got and (scenario, check) not in seen_failures:
            ids = {c.get("id") for c in got[scenario]}
            if check not in ids:
                print(f"FAIL  {scenario}: listed check {check} was not reported; remove it")
                failed += 1
    print(f"{label}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
