"""The shapes runhost hands out: events (plain dicts, typed as TypedDicts after
docs/events.schema.json), dispatches, and the records of runs and plugins."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional, TypedDict

EventType = Literal[
    "run.started",
    "message",
    "reasoning",
    "tool.started",
    "tool.completed",
    "command.output",
    "file.changed",
    "preview.ready",
    "artifact.created",
    "approval.required",
    "approval.resolved",
    "deployment.ready",
    "usage",
    "run.completed",
    "run.failed",
    "run.cancelled",
    "runtime.unparsed",
]
"""The 17 event types of schema ``runhost.event/1``."""

TERMINAL_EVENT_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled"})
"""Every run ends with exactly one of these, and nothing follows it."""

EventSource = Literal["runtime", "device", "host", "policy"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
DeviceType = Literal["local", "sandbox", "computer"]


class Device(TypedDict):
    type: DeviceType
    id: str


class _EventOptional(TypedDict, total=False):
    project_id: str
    request_id: Optional[str]
    raw: str


class Event(_EventOptional):
    """One event envelope, exactly as stored (docs/events.md, "The envelope").

    ``payload`` depends on ``type``; payloads are open, so ignore keys you do not know.
    """

    schema: Literal["runhost.event/1"]
    id: str
    run_id: str
    seq: int
    type: EventType
    time: str
    tenant_id: str
    workspace_id: str
    user_id: str
    runtime: str
    device: Device
    source: EventSource
    payload: Dict[str, Any]


class _DispatchOptional(TypedDict, total=False):
    projectId: str
    cwd: str
    connectors: List[str]
    command: List[str]
    outputMode: Literal["text", "jsonl"]
    timeoutSeconds: int


class DevicePromptDispatch(_DispatchOptional):
    """What ``Host.dispatch`` takes (the MIOSA DevicePromptDispatch; camelCase keys).

    ``command`` and ``outputMode`` are read by the ``custom`` runtime; ``cwd`` must lie inside
    the host's workspace root.
    """

    tenantId: str
    workspaceId: str
    userId: str
    deviceType: DeviceType
    deviceId: str
    runtime: str
    prompt: str
    approvalPolicy: Literal["auto", "confirm-risky", "manual"]
    idempotencyKey: str


def _utc(us: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(us / 1e6, tz=_dt.timezone.utc)


@dataclass(frozen=True)
class RunInfo:
    """A run's record in the store, as of when it was read."""

    id: str
    status: RunStatus
    tenant_id: str
    workspace_id: str
    project_id: Optional[str]
    user_id: str
    runtime: str
    device_type: str
    device_id: str
    prompt: str
    error_code: Optional[str]
    """The ``run.failed`` code, when the run failed."""
    last_seq: int
    """The seq of the run's newest stored event (0: none yet)."""
    created_us: int
    updated_us: int

    @property
    def finished(self) -> bool:
        """Whether the run has ended (succeeded, failed or cancelled)."""
        return self.status in ("succeeded", "failed", "cancelled")

    @property
    def created_at(self) -> _dt.datetime:
        return _utc(self.created_us)

    @property
    def updated_at(self) -> _dt.datetime:
        return _utc(self.updated_us)

    @classmethod
    def _from_core(cls, d: Mapping[str, Any]) -> "RunInfo":
        return cls(**d)


@dataclass(frozen=True)
class PluginInfo:
    """A plugin the host loaded."""

    id: str
    kind: Literal["runtime", "policy", "connector"]
    version: str
    name: str
    vendor: str
    description: str
    library: str
    """The shared library, absolute and canonical."""
    abi_major: int
    abi_minor: int


@dataclass(frozen=True)
class PluginRefusal:
    """A library, manifest or directory the host refused to load, and why (one line)."""

    path: str
    reason: str
