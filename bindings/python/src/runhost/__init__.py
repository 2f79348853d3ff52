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

    acme = host.for_tenant("acme")           # acting for one tenant: the others' runs do not exist

    async with runhost.AsyncHost() as host:  # asyncio: every call awaitable, none blocks the loop
        run = await host.dispatch(tenant_id="t1", workspace_id="w1", ...)
        async for ev in run.events():        # no thread per run
            ...

Errors are typed: ``runhost.InvalidDispatchError``, ``runhost.RunNotFoundError``,
``runhost.PolicyDeniedError``, ``runhost.ConnectorAuthorizationMissingError``... all subclasses
of ``runhost.RunhostError`` with ``code``, ``retryable`` and ``recovery``. The guide is
docs/python.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _codes, errors
from ._async import AsyncHost, AsyncRun, AsyncTenantView
from ._codes import *  # noqa: F401,F403  (one exception class per error code)
from ._host import Host, TenantView
from ._native import _core
from ._native._core import EventStream
from ._run import Run
from ._streams import AsyncEventStream
from ._types import (
    TERMINAL_EVENT_TYPES,
    Device,
    ApprovalAction,
    ApprovalActionKind,
    ApprovalRequest,
    ApprovalScope,
    Decision,
    DevicePromptDispatch,
    DispatchFields,
    Event,
    EventSource,
    EventType,
    Grant,
    GrantState,
    MiosaOptions,
    PendingApproval,
    PolicyDecision,
    PolicyDecisionAction,
    PolicyDecisionPayload,
    PolicyEffect,
    PolicyVerdict,
    PluginInfo,
    PluginRefusal,
    RunInfo,
    RunStartedPayload,
    RunStatus,
    ToolStartedPayload,
    UsageTotal,
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
    "AsyncHost",
    "AsyncTenantView",
    "AsyncRun",
    "RunInfo",
    "RunStatus",
    "EventStream",
    "AsyncEventStream",
    "Event",
    "EventType",
    "EventSource",
    "Device",
    "DevicePromptDispatch",
    "MiosaOptions",
    "DispatchFields",
    "Decision",
    "ApprovalScope",
    "ApprovalAction",
    "ApprovalActionKind",
    "ApprovalRequest",
    "PendingApproval",
    "PolicyEffect",
    "PolicyVerdict",
    "PolicyDecision",
    "PolicyDecisionAction",
    "PolicyDecisionPayload",
    "RunStartedPayload",
    "ToolStartedPayload",
    "Grant",
    "GrantState",
    "UsageTotal",
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

if not TYPE_CHECKING:  # type checkers see the 0.1 names as aliases (runhost/_codes.py)

    def __getattr__(name: str) -> Any:
        """The exception names of release 0.1 (``InvalidDispatch``, ``RunNotFound``...), with a
        DeprecationWarning; they go in the next release."""
        return errors._deprecated(__name__, name)
