"""The shapes runhost hands out: events (plain dicts, typed as TypedDicts after
docs/events.schema.json), dispatches, and the records of runs and plugins."""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, TypedDict

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
    "policy.decision",
]
"""The 18 event types of schema ``runhost.event/1``."""

TERMINAL_EVENT_TYPES = frozenset({"run.completed", "run.failed", "run.cancelled"})
"""Every run ends with exactly one of these, and nothing follows it."""

EventSource = Literal["runtime", "device", "host", "policy"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
DeviceType = Literal["local", "sandbox", "computer"]
ApprovalPolicy = Literal["auto", "confirm-risky", "manual"]


class Device(TypedDict):
    type: DeviceType
    id: str


class MiosaOptions(TypedDict, total=False):
    """``Host(miosa=...)``: the sandbox device's MIOSA account (docs/devices.md). A member left
    out is read from the official SDK's variables unless ``use_environment=False``."""

    base_url: str
    """The API, e.g. ``https://api.miosa.ai`` (normalised as the SDK does); default
    ``MIOSA_BASE_URL``, else ``https://api.miosa.ai/api/v1``."""
    api_key: str
    """A secret: it reaches no event, log line or store byte. Default ``MIOSA_API_KEY`` (or
    ``MIOSA_ACCESS_TOKEN``); none at all: no sandbox device, and a sandbox dispatch raises
    ``DeviceUnavailableError`` (recovery ``configure_device``)."""
    tenant: str
    """Sent as ``X-MIOSA-Tenant``; default ``MIOSA_TENANT``."""
    template_id: str
    """The template of the sandboxes runhost creates; default ``"miosa-sandbox"``."""


MIOSA_OPTION_NAMES = ("base_url", "api_key", "tenant", "template_id")


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
    deviceId: str  # required for local; a sandbox or computer without one is created or found
    projectId: str
    cwd: str
    connectors: List[str]
    command: List[str]
    outputMode: Literal["text", "jsonl"]
    timeoutSeconds: int
    resumeSessionId: str


class DevicePromptDispatch(_DispatchOptional):
    """What ``Host.dispatch`` takes (the MIOSA DevicePromptDispatch; camelCase keys).

    ``command`` and ``outputMode`` are read by the ``custom`` runtime; ``cwd`` must lie inside
    the host's workspace root.
    """

    tenantId: str
    workspaceId: str
    userId: str
    deviceType: DeviceType
    runtime: str
    prompt: str
    approvalPolicy: ApprovalPolicy
    idempotencyKey: str


class DispatchFields(TypedDict, total=False):
    """The same dispatch as keyword arguments, snake_case: ``host.dispatch(tenant_id="t1", ...)``,
    or ``host.dispatch(**fields)`` with a dict of this type. Every key is optional here because
    ``tenant_id`` may come from a tenant's view; the keyword signature of ``dispatch`` says which
    are required, and the host checks them all."""

    tenant_id: str
    workspace_id: str
    project_id: str
    user_id: str
    device_type: DeviceType
    device_id: str
    runtime: str
    prompt: str
    cwd: str
    connectors: List[str]
    approval_policy: ApprovalPolicy
    idempotency_key: str
    command: List[str]
    output_mode: Literal["text", "jsonl"]
    timeout_seconds: int
    resume_session_id: str


#: DispatchFields' keys -> DevicePromptDispatch's (the wire's camelCase).
DISPATCH_FIELD_NAMES: Mapping[str, str] = {
    "tenant_id": "tenantId",
    "workspace_id": "workspaceId",
    "project_id": "projectId",
    "user_id": "userId",
    "device_type": "deviceType",
    "device_id": "deviceId",
    "runtime": "runtime",
    "prompt": "prompt",
    "cwd": "cwd",
    "connectors": "connectors",
    "approval_policy": "approvalPolicy",
    "idempotency_key": "idempotencyKey",
    "command": "command",
    "output_mode": "outputMode",
    "timeout_seconds": "timeoutSeconds",
    "resume_session_id": "resumeSessionId",
}

Decision = Literal["allow", "deny"]
"""An answer to ``approval.required``."""
ApprovalScope = Literal["once", "run"]
"""What an answer covers: ``"once"``, this request only; ``"run"``, also every later request of
the run for the same action name, policy and rule (answered without asking, recorded as
``policy.decision`` naming this approval)."""
ApprovalActionKind = Literal["tool", "command", "file", "mcp", "connector", "publish", "spend", "run"]
PolicyEffect = Literal["allow", "ask", "deny"]
"""One policy's answer, or the combined one (deny beats ask beats allow)."""


class _PolicyVerdictOptional(TypedDict, total=False):
    reason: str
    rule: str


class PolicyVerdict(_PolicyVerdictOptional):
    """One policy's answer about a request (a ``PolicyDecision``'s ``decisions``)."""

    policy: str
    effect: PolicyEffect


class _PolicyDecisionOptional(TypedDict, total=False):
    policy: str
    rule: str
    reason: str


class PolicyDecision(_PolicyDecisionOptional):
    """What every policy said about one request (docs/events.md, "Decisions"): the combined
    ``effect``, the deciding ``policy`` and its ``rule`` and ``reason`` (none when every policy
    allowed), and each policy's answer in policy id order. ``run.started`` and ``tool.started``
    carry one as ``policy``, ``approval.required`` as ``policy_decision``."""

    effect: PolicyEffect
    decisions: List[PolicyVerdict]


class _RunStartedOptional(TypedDict, total=False):
    pid: int
    resume_id: str
    policy: PolicyDecision


class RunStartedPayload(_RunStartedOptional):
    """The payload of ``run.started``; ``policy`` is what the policies said at run start."""

    cwd: str
    argv: List[str]


class _ToolStartedOptional(TypedDict, total=False):
    input: Any
    kind: Literal["tool", "command", "mcp", "connector", "file"]
    policy: PolicyDecision


class ToolStartedPayload(_ToolStartedOptional):
    """The payload of ``tool.started``; ``policy`` is what the policies said about the call."""

    tool_call_id: str
    name: str


class _PolicyDecisionActionOptional(TypedDict, total=False):
    name: str


class PolicyDecisionAction(_PolicyDecisionActionOptional):
    kind: ApprovalActionKind


class _PolicyDecisionPayloadOptional(_PolicyDecisionOptional, total=False):
    action: PolicyDecisionAction
    tool_call_id: str
    approval_id: str


class PolicyDecisionPayload(_PolicyDecisionPayloadOptional):
    """The payload of ``policy.decision``: the policies answered a runtime's request themselves
    (allow or deny), or an earlier answer with scope ``"run"`` did (``approval_id`` names it)."""

    phase: Literal["run.start", "action"]
    effect: PolicyEffect
    decisions: List[PolicyVerdict]


class _ApprovalActionOptional(TypedDict, total=False):
    name: str
    summary: str
    input: Any


class ApprovalAction(_ApprovalActionOptional):
    """What an ``approval.required`` asks about. A policy that asks before the run starts asks
    about the run itself: ``kind`` ``"run"``, ``name`` ``"run.start"``, ``input`` the runtime,
    prompt, cwd, command and connectors; ``summary`` is one line a UI can show."""

    kind: ApprovalActionKind


class _ApprovalRequestOptional(TypedDict, total=False):
    request_id: str
    tool_call_id: str
    reason: str
    policy: str
    rule: str
    policy_decision: PolicyDecision
    options: List[Decision]
    deadline: str


class ApprovalRequest(_ApprovalRequestOptional):
    """The payload of an ``approval.required`` event (docs/events.md): the action, why (the
    policy's reason), which ``policy`` asks and by which ``rule``, every policy's answer
    (``policy_decision``), the answers it takes (``options``) and the ``deadline`` (RFC 3339)
    after which no answer is a deny. A runtime's own request (a live approval) also carries its
    ``request_id`` and the ``tool_call_id`` of the call it is about."""

    approval_id: str
    action: ApprovalAction


def _utc(us: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(us / 1e6, tz=_dt.timezone.utc)


def _utc_or_none(us: Optional[int]) -> Optional[_dt.datetime]:
    return _utc(us) if us is not None else None


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


@dataclass(frozen=True)
class PendingApproval:
    """An ``approval.required`` still waiting for its answer (``host.pending_approvals()``), from
    any process sharing the store. Answer it with ``host.resolve_approval(p.run_id, p.id, ...)``."""

    id: str
    """The approval id to answer (the event's ``approval_id``)."""
    run_id: str
    tenant_id: str
    seq: int
    """The seq of the run's ``approval.required`` event."""
    request: ApprovalRequest
    """That event's payload: the action (its ``summary``), the reason, the policy, the options, the deadline."""
    created_us: int
    deadline_us: Optional[int]
    """When no answer becomes a deny (microseconds since the epoch, UTC); None: no deadline."""
    answered: bool
    """An answer is recorded and the run's host is applying it (a second answer is refused)."""

    @property
    def created_at(self) -> _dt.datetime:
        return _utc(self.created_us)

    @property
    def deadline_at(self) -> Optional[_dt.datetime]:
        return _utc_or_none(self.deadline_us)

    @property
    def summary(self) -> str:
        """One line saying what is asked about (the action's summary, else its name)."""
        action = self.request.get("action")
        if action is None:
            return ""
        return action.get("summary") or action.get("name") or ""

    @classmethod
    def _from_core(cls, d: Mapping[str, Any]) -> "PendingApproval":
        fields = dict(d)
        request = json.loads(fields.pop("request_json"))
        deadline = fields.pop("deadline_us")
        return cls(**fields, request=request, deadline_us=deadline or None)


GrantState = Literal["active", "expired", "revoked"]
"""A grant's state: usable (``active``), past its expiry, or revoked."""


@dataclass(frozen=True)
class Grant:
    """A connector grant as stored (``host.add_grant()``, ``host.grants()``): for one user of one
    tenant, what they let a connector do, until when. Never its secret material: that is kept
    apart in the store and only the connector sees it, when a run names it."""

    id: str
    """``grt_`` and a ULID: what ``revoke_grant`` takes."""
    tenant_id: str
    user_id: str
    connector: str
    scopes: Tuple[str, ...]
    state: GrantState
    created_us: int
    expires_us: Optional[int]
    """When it expires (microseconds since the epoch, UTC); None: never."""
    revoked_us: Optional[int]
    """When it was revoked; None: it was not."""
    metadata: Mapping[str, Any]
    """The JSON object kept with the grant (never secret)."""

    @property
    def active(self) -> bool:
        """Whether a run naming the connector would get this grant now (neither revoked nor expired)."""
        return self.state == "active"

    @property
    def created_at(self) -> _dt.datetime:
        return _utc(self.created_us)

    @property
    def expires_at(self) -> Optional[_dt.datetime]:
        return _utc_or_none(self.expires_us)

    @property
    def revoked_at(self) -> Optional[_dt.datetime]:
        return _utc_or_none(self.revoked_us)

    @classmethod
    def _from_core(cls, d: Mapping[str, Any]) -> "Grant":
        fields = dict(d)
        metadata = json.loads(fields.pop("metadata_json") or "{}")
        return cls(
            **{**fields, "scopes": tuple(fields["scopes"]),
               "expires_us": fields["expires_us"] or None, "revoked_us": fields["revoked_us"] or None},
            metadata=metadata if isinstance(metadata, dict) else {},
        )


@dataclass(frozen=True)
class UsageTotal:
    """What the ``usage`` events of one usage source add up to (``host.usage()``), from every
    process sharing the store: the spend budgets count (docs/budgets.md)."""

    source: str
    """The usage source, as the events name it: ``"anthropic"``, ``"openai"``..."""
    cost_usd: float
    input_tokens: int
    """Input tokens, cached input included (as runtimes report it)."""
    output_tokens: int
    cached_input_tokens: int
    """The part of ``input_tokens`` read from a cache."""
    events: int
    """How many usage events were added up."""

    @property
    def tokens(self) -> int:
        """``input_tokens + output_tokens``: what a token budget counts."""
        return self.input_tokens + self.output_tokens
