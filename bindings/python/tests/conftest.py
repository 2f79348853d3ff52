"""Shared fixtures: a Host on a fresh store and workspace, and dispatches for the custom runtime.

The store lives outside the workspace, so its own writes never show up as file.changed.
"""
from __future__ import annotations

import itertools
import json
import os
import pathlib
import sys
from typing import Any, Dict, Iterator, List, Optional

import pytest

import runhost

REPO = pathlib.Path(__file__).resolve().parents[3]
SCHEMA_PATH = REPO / "docs" / "events.schema.json"
VECTORS_DIR = REPO / "tests" / "vectors"

_keys = itertools.count(1)


def custom_dispatch(command: List[str], key: Optional[str] = None, **fields: Any) -> Dict[str, Any]:
    """A DevicePromptDispatch for the custom runtime running `command` (test defaults)."""
    d: Dict[str, Any] = {
        "tenantId": "t1",
        "workspaceId": "w1",
        "userId": "u1",
        "deviceType": "local",
        "deviceId": "pytest",
        "runtime": "custom",
        "prompt": "test",
        "approvalPolicy": "auto",
        "idempotencyKey": key or f"key-{os.getpid()}-{next(_keys)}",
        "command": command,
    }
    d.update(fields)
    return d


def sh(script: str, key: Optional[str] = None, **fields: Any) -> Dict[str, Any]:
    return custom_dispatch(["sh", "-c", script], key, **fields)


def jsonl_line(type_: str, payload: Dict[str, Any]) -> str:
    """A shell `printf` of one unified JSON line (custom runtime, outputMode jsonl)."""
    line = json.dumps({"type": type_, "payload": payload}).replace("'", "'\\''")
    return f"printf '%s\\n' '{line}'"


class Env:
    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.store = root / "runhost.db"
        self.workspace = root / "workspace"
        self.workspace.mkdir()

    def host(self, **options: Any) -> runhost.Host:
        options.setdefault("workspace_root", self.workspace)
        options.setdefault("use_environment", False)
        return runhost.Host(store=self.store, **options)


@pytest.fixture
def env(tmp_path: pathlib.Path) -> Env:
    return Env(tmp_path)


@pytest.fixture
def host(env: Env) -> Iterator[runhost.Host]:
    with env.host() as h:
        yield h


@pytest.fixture(scope="session")
def asks_first_plugin(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A directory holding the asks-first policy (bindings/common/test-plugins), compiled now
    against abi/ alone, as a vendor would."""
    import importlib.util

    # One compiler line for every suite: bindings/common/test-plugins/build.py.
    spec = importlib.util.spec_from_file_location("test_plugins_build", REPO / "bindings" / "common" / "test-plugins" / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build.build_asks_first(tmp_path_factory.mktemp("plugins"))


@pytest.fixture(scope="session")
def event_validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema)


def check_stream(events: List[runhost.Event], validator: Any) -> None:
    """Every envelope validates against docs/events.schema.json; seq runs 1, 2, 3...; exactly
    one terminal event, last."""
    assert events, "no events"
    for i, ev in enumerate(events, start=1):
        errors = sorted(validator.iter_errors(ev), key=str)
        assert not errors, f"event {i} does not match the schema: {errors[0].message}\n{ev}"
        assert ev["seq"] == i, f"seq must be gap-free: event {i} has seq {ev['seq']}"
    terminal = [ev for ev in events if ev["type"] in runhost.TERMINAL_EVENT_TYPES]
    assert len(terminal) == 1 and terminal[0] is events[-1], [e["type"] for e in events]


def python_subprocess_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop("RUNHOST_PLUGIN_PATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


PYTHON = sys.executable
