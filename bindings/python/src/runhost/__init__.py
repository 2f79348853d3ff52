"""runhost: dispatch AI-agent prompts into runtimes, under policy, and stream one durable,
replayable event stream per run — embedded in this process.

    import runhost

    with runhost.Host() as host:
        run = host.dispatch({
            "tenantId": "t1", "workspaceId": "w1", "userId": "u1",
            "deviceType": "local", "deviceId": "laptop", "runtime": "custom",
            "prompt": "build it", "approvalPolicy": "auto", "idempotencyKey": "job-42",
            "command": ["make"],
        })
        for ev in run.events():              # blocking; the GIL is released while waiting
            print(ev["seq"], ev["type"], ev["payload"])

    async for ev in run.aevents(): ...       # asyncio, no thread per run

    acme = host.for_tenant("acme")           # acting for one tenant: the others' runs do not exist

Errors are typed: ``runhost.InvalidDispatch``, ``runhost.RunNotFound``, ``runhost.PolicyDenied``,
``runhost.ConnectorAuthorizationMissing``... all subclasses of ``runhost.RunhostError`` with
``code``, ``retryable`` and ``recovery``. The guide is docs/python.md.
"""
from __future__ import annotations

from pathlib import Path

from . import _codes, errors
from ._codes import *  # noqa: F401,F403  (one exception class per error code)
from ._host import Host, TenantView
from ._native import _core
from ._native._core import EventStream
from ._run import Run
from ._streams import AsyncEventStream
from ._types import (
    TERMINAL_EVENT_TYPES,
    Device,
    DevicePromptDispatch,
    Event,
    EventSource,
    EventType,
    PluginInfo,
    PluginRefusal,
    RunInfo,
    RunStatus,
)
from .errors import HostClosedError, RunhostError, StreamConsumedError

__version__ = "0.1.0"


def default_store_path() -> Path:
    """Where ``Host()`` keeps its store: $XDG_DATA_HOME/runhost/runhost.db, or
    ~/.local/share/runhost/runhost.db."""
    return Path(_core.default_store_path())


def bundled_plugin_dir() -> Path:
    """The plugins shipped in this package (custom, example-echo, deny-pattern, static-grant...)."""
    return Path(_core.bundled_plugin_dir())


__all__ = [
    "Host",
    "TenantView",
    "Run",
    "RunInfo",
    "RunStatus",
    "EventStream",
    "AsyncEventStream",
    "Event",
    "EventType",
    "EventSource",
    "Device",
    "DevicePromptDispatch",
    "PluginInfo",
    "PluginRefusal",
    "TERMINAL_EVENT_TYPES",
    "RunhostError",
    "HostClosedError",
    "StreamConsumedError",
    "errors",
    "default_store_path",
    "bundled_plugin_dir",
]
__all__ += _codes.__all__

#: The name the Node binding and the issue tracker use for ``RunNotFound``: the same class.
RunNotFoundError = _codes.RunNotFound
__all__ += ["RunNotFoundError"]
