"""The shared JSON test vectors (tests/vectors: a dispatch in, the events out), the same files
the C++ suite (tests/engine/vectors_test.cpp) runs, with the same matching rules
(tests/vectors/README.md)."""
from __future__ import annotations

import json
import pathlib
from typing import Any, List

import pytest

import runhost
from conftest import VECTORS_DIR, check_stream

VECTORS = sorted(VECTORS_DIR.glob("*.json"))


def test_the_vectors_are_there():
    # Without this, an empty or moved directory would make the parametrized test vanish quietly.
    assert len(VECTORS) >= 10, f"expected the shared vectors in {VECTORS_DIR}"


def subset(expected: Any, actual: Any, where: List[str]) -> bool:
    """Objects compare key by key, recursively; arrays and scalars exactly."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        for key, value in expected.items():
            if key not in actual:
                where.append(f"{key} (missing)")
                return False
            if not subset(value, actual[key], where):
                where.insert(0, key)
                return False
        return True
    if isinstance(expected, bool) or isinstance(actual, bool):  # True == 1 in Python, not in JSON
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector(path: pathlib.Path, tmp_path: pathlib.Path, event_validator: Any) -> None:
    vector = json.loads(path.read_text())
    expect = vector["expect"]
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    # A fresh store and an empty workspace; the bundled plugins with their default configuration.
    with runhost.Host(store=tmp_path / "runhost.db", workspace_root=workspace, use_environment=False) as host:
        if "error" in expect:
            want = expect["error"]
            with pytest.raises(runhost.RunhostError) as caught:
                host.dispatch(vector["dispatch"])
            e = caught.value
            assert e.code == want["code"]
            assert type(e) is runhost.errors.BY_CODE[want["code"]]
            if "field" in want:
                assert e.field == want["field"], e.message
            if "message_contains" in want:
                assert want["message_contains"] in e.message
            assert host.runs() == [], "a refused dispatch creates no run"
            return

        run = host.dispatch(vector["dispatch"])
        events = list(run.events())
        check_stream(events, event_validator)
        wanted = expect["events"]
        assert [e["type"] for e in events] == [w["type"] for w in wanted]
        for i, (want, actual) in enumerate(zip(wanted, events), start=1):
            for part in ("payload", "source"):
                if part in want:
                    where: List[str] = []
                    assert subset(want[part], actual[part], where), (
                        f"event {i} ({want['type']}) {part} differs at {'/'.join(where)}: {actual[part]}")
        assert run.status == expect["status"]
