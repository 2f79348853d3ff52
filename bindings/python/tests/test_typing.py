"""The public API is typed (py.typed, inline hints, a stub for the extension): mypy --strict
accepts correct use and rejects misuse."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

SAMPLES = pathlib.Path(__file__).parent / "typing_samples"


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null", *args],
        capture_output=True, text=True, timeout=300, cwd=SAMPLES)


def test_the_package_passes_mypy_strict():
    out = mypy("-p", "runhost")
    assert out.returncode == 0, out.stdout + out.stderr


def test_correct_use_passes_mypy_strict():
    out = mypy("good.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_misuse_is_reported_line_by_line():
    out = mypy("bad.py")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = (SAMPLES / "bad.py").read_text().splitlines()
    marked = {i for i, line in enumerate(lines, start=1) if line.rstrip().endswith("# E")}
    reported = {int(m.group(1)) for m in re.finditer(r"^bad\.py:(\d+): error", out.stdout, re.M)}
    assert marked <= reported, f"not reported: {sorted(marked - reported)}\n{out.stdout}"
    assert reported <= marked, f"unexpected: {sorted(reported - marked)}\n{out.stdout}"


def test_the_literal_types_are_the_event_schemas_enums():
    """EventType and the approval and policy literals say what docs/events.schema.json says."""
    import json
    from typing import get_args

    import runhost
    from conftest import SCHEMA_PATH

    schema = json.loads(SCHEMA_PATH.read_text())
    defs = schema["$defs"]
    assert list(get_args(runhost.EventType)) == schema["properties"]["type"]["enum"]
    assert list(get_args(runhost.ApprovalActionKind)) == defs["action_kind"]["enum"]
    assert list(get_args(runhost.ApprovalScope)) == defs["approval.resolved"]["properties"]["scope"]["enum"]
    assert list(get_args(runhost.PolicyEffect)) == defs["effect"]["enum"]
    assert set(runhost.ApprovalRequest.__annotations__) == set(defs["approval.required"]["properties"])
    decision = defs["policy.decision"]
    assert set(runhost.PolicyDecisionPayload.__annotations__) == set(decision["properties"])
    assert runhost.PolicyDecisionPayload.__required_keys__ == set(decision["required"])
    assert set(runhost.PolicyDecision.__annotations__) == set(defs["decision"]["properties"])
    assert runhost.PolicyDecision.__required_keys__ == set(defs["decision"]["required"])
    for payload, name in ((runhost.RunStartedPayload, "run.started"), (runhost.ToolStartedPayload, "tool.started")):
        assert set(payload.__annotations__) == set(defs[name]["properties"]), name
        assert payload.__required_keys__ == set(defs[name]["required"]), name
