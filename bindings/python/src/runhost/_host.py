"""Host: runhost embedded in this process."""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from types import TracebackType
import warnings
from typing import (
    Any, Dict, Iterable, List, Literal, Mapping, NamedTuple, Optional, Sequence, Tuple, Type, Union, overload,
)

from ._native import _core
from ._native._core import EventStream
from ._run import Run, _check_after
from ._types import (
    DISPATCH_FIELD_NAMES,
    ApprovalPolicy,
    ApprovalScope,
    Decision,
    MIOSA_OPTION_NAMES,
    DeviceType,
    Event,
    Grant,
    MiosaOptions,
    PendingApproval,
    PluginInfo,
    PluginRefusal,
    RunInfo,
    UsageTotal,
)
from .errors import InvalidDispatchError

StrPath = Union[str, "os.PathLike[str]"]

def _path(name: str, value: object) -> str:
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"{name} must be a str or os.PathLike, not {type(value).__name__}")


def _str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value


def _request_of(method: str, args: Tuple[object, ...], fields: Mapping[str, object]) -> Mapping[str, object]:
    """The DevicePromptDispatch of ``dispatch(request)`` or ``dispatch(**fields)``; a TypeError
    naming what is wrong for both at once, a keyword that is no field, or no dispatch at all."""
    if len(args) > 1:
        raise TypeError(f"{method}() takes one dict, or keyword arguments, but {len(args)} positional arguments were given")
    if args and fields:
        raise TypeError(
            f"{method}() takes the dispatch as a dict or as keyword arguments, not both (got a dict and "
            f"{', '.join(sorted(fields))})"
        )
    if args:
        request = args[0]
        if not isinstance(request, Mapping):
            raise TypeError(f"{method}() takes a dict (a DevicePromptDispatch), not {type(request).__name__}")
        return request
    if not fields:
        raise TypeError(f"{method}() needs the dispatch: keyword arguments (tenant_id=..., ...) or a dict")
    unknown = [k for k in fields if k not in DISPATCH_FIELD_NAMES]
    if unknown:
        name = unknown[0]
        snake = next((s for s, c in DISPATCH_FIELD_NAMES.items() if c == name), None)
        hint = f" (the keyword is {snake}=)" if snake else f" (the fields are {', '.join(DISPATCH_FIELD_NAMES)})"
        raise TypeError(f"{method}() got an unexpected keyword argument {name!r}{hint}")
    return {DISPATCH_FIELD_NAMES[k]: v for k, v in fields.items()}


def _encode_dispatch(request: Mapping[str, object]) -> str:
    for key in request:
        if not isinstance(key, str):
            raise InvalidDispatchError(
                f"invalid dispatch: key {key!r} is not a string (fields are camelCase strings, e.g. tenantId)",
                recovery={"action": "fix_dispatch"},
            )
    try:
        return json.dumps(dict(request), allow_nan=False)
    except (TypeError, ValueError) as e:
        # Name the field, as the core does for a field of the wrong type.
        field = next((k for k, v in request.items() if not _json_representable(v)), None)
        where = f'"{field}"' if field else "a field"
        raise InvalidDispatchError(
            f"invalid dispatch: {where} holds a value JSON cannot represent ({e})",
            recovery={"action": "fix_dispatch", **({"field": field} if field else {})},
        ) from None


_APPROVAL_SCOPES = ("once", "run")


class _Answer(NamedTuple):
    """resolve_approval's arguments, checked, as the core's ApprovalDecision takes them."""

    allow: bool
    scope: ApprovalScope
    reason: str
    by: str  # "": nobody named


def _approval_args(args: Tuple[object, ...], legacy: Mapping[str, object], decision: object, scope: object,
                   reason: object, by: object = None) -> _Answer:
    """The answer for the core from resolve_approval's arguments, new or 0.1's.

    0.1 took ``allow`` as a bool, positional or keyword, and ``reason`` positional: still
    accepted for one release, with a DeprecationWarning.
    """
    unknown = [k for k in legacy if k != "allow"]
    if unknown:
        raise TypeError(f"resolve_approval() got an unexpected keyword argument {unknown[0]!r}")
    if args or legacy:
        if decision is not None:
            raise TypeError("resolve_approval() takes decision= or the deprecated allow, not both")
        if len(args) > 2 or (args and legacy):
            raise TypeError("resolve_approval() takes run_id, approval_id and keyword arguments (decision=...)")
        allow = args[0] if args else legacy["allow"]
        if not isinstance(allow, bool):
            raise TypeError(f"allow must be a bool, not {type(allow).__name__}")
        if len(args) == 2:
            if reason is not None:
                raise TypeError("resolve_approval() got reason twice (positional and keyword)")
            reason = args[1]
        warnings.warn(
            "resolve_approval(run_id, approval_id, allow: bool) is deprecated: write "
            f"resolve_approval(run_id, approval_id, decision={'allow' if allow else 'deny'!r})",
            DeprecationWarning,
            stacklevel=3,
        )
        decision = "allow" if allow else "deny"
    if decision is None:
        raise TypeError('resolve_approval() needs decision="allow" or decision="deny"')
    if not isinstance(decision, str):
        raise TypeError(f"decision must be a str, not {type(decision).__name__}")
    if decision not in ("allow", "deny"):
        raise ValueError(f'decision must be "allow" or "deny", not {decision!r}')
    if not isinstance(scope, str):
        raise TypeError(f"scope must be a str, not {type(scope).__name__}")
    if scope not in _APPROVAL_SCOPES:
        # Refused here rather than read as "once": an answer meant to cover more must not
        # silently cover less.
        raise ValueError(f'scope must be "once" (this request) or "run" (the same request for the rest of the run), '
                         f'not {scope!r}')
    if reason is None:
        reason = ""
    who = "" if by is None else _str("by", by)
    if by is not None and not who:
        raise ValueError("by must name who answers (or be left out: None names nobody)")
    return _Answer(decision == "allow", "run" if scope == "run" else "once", _str("reason", reason), who)


def _invalid_grant(field: str, problem: str) -> InvalidDispatchError:
    """The core's error for a bad grant field (field named in the wire's camelCase)."""
    return InvalidDispatchError(f'invalid grant: "{field}" {problem}',
                                recovery={"action": "fix_dispatch", "field": field})


def _strings(name: str, value: object) -> List[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of str, not {type(value).__name__}")
    return [_str(f"{name}[]", v) for v in value]


def _secret_json(secret: object) -> str:
    """The secret material as the core takes it: a JSON object, or a bare token as
    {"access_token": token}. No message quotes it, not even a piece of it."""
    if isinstance(secret, str):
        if not secret:
            raise _invalid_grant("secret", "is an empty token")
        return json.dumps({"access_token": secret})
    if not isinstance(secret, Mapping):
        raise TypeError(f"secret must be a dict (the secret material) or a str (a token), not {type(secret).__name__}")
    if not all(isinstance(k, str) for k in secret):
        raise _invalid_grant("secret", "has a key that is not a str")
    try:
        return json.dumps(dict(secret), allow_nan=False)
    except (TypeError, ValueError):
        # json's own message may quote a value: name the problem only.
        raise _invalid_grant("secret", "holds a value JSON cannot represent") from None


def _expires_in_s(value: object) -> int:
    """expires_in (seconds, or a timedelta) as the core's whole seconds, rounded up; the core
    judges the range (InvalidDispatchError, field expiresIn)."""
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expires_in must be seconds or a timedelta, not {type(value).__name__}")
    if not math.isfinite(value):
        raise _invalid_grant("expiresIn", f"must be a finite number of seconds, not {value}")
    return max(-1, min(int(math.ceil(value)), 1 << 62))


class _GrantArgs(NamedTuple):
    """add_grant's arguments, checked, as the core's GrantInput takes them."""

    tenant_id: str  # "": the view's tenant
    user_id: str
    connector: str
    code: Optional[str]
    secret_json: Optional[str]
    scopes: List[str]
    expires_in_s: Optional[int]
    metadata_json: str

    def __repr__(self) -> str:  # never the secret, should this ever be printed
        return f"<grant for {self.connector!r}, user {self.user_id!r}>"


def _grant_args(connector: object, user_id: object, tenant_id: object, code: object, secret: object, scopes: object,
                expires_in: object, metadata: object) -> _GrantArgs:
    if (code is None) == (secret is None):
        raise TypeError("add_grant() takes one of code= (an authorization code the connector exchanges) or "
                        "secret= (the secret material, or a token), "
                        + ("not both" if code is not None else "and got neither"))
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict, not {type(metadata).__name__}")
    try:
        metadata_json = json.dumps(dict(metadata), allow_nan=False) if metadata is not None else ""
    except (TypeError, ValueError) as e:
        raise _invalid_grant("metadata", f"holds a value JSON cannot represent ({e})") from None
    return _GrantArgs(
        tenant_id=_str("tenant_id", tenant_id) if tenant_id is not None else "",
        user_id=_str("user_id", user_id),
        connector=_str("connector", connector),
        code=_str("code", code) if code is not None else None,
        secret_json=_secret_json(secret) if secret is not None else None,
        scopes=_strings("scopes", scopes) if scopes is not None else [],
        expires_in_s=_expires_in_s(expires_in) if expires_in is not None else None,
        metadata_json=metadata_json,
    )


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive int, not {limit!r}")
    return limit


def _json_representable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _seconds(name: str, value: object) -> int:
    """A duration option (seconds, or a timedelta) as the core's whole seconds, rounded up."""
    if isinstance(value, _dt.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be seconds or a timedelta, not {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be positive, not {value}")
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, not {value}")
    return int(math.ceil(value))


def _limits_json(limits: object) -> str:
    """The ``limits`` option as the core's JSON text ("": none). The core judges the keys and
    values when the host opens (InvalidDispatchError naming the key)."""
    if limits is None:
        return ""
    if isinstance(limits, str):
        return limits
    if not isinstance(limits, Mapping):
        raise TypeError(f"limits must be a dict (or JSON text), not {type(limits).__name__}")
    try:
        return json.dumps(dict(limits), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"limits holds a value JSON cannot represent ({e})") from None


def _epoch_us(name: str, value: object) -> int:
    """usage()'s ``since``/``until``: a timezone-aware datetime, or microseconds since the epoch
    (0: unbounded), as the core's microseconds."""
    if value is None:
        return 0
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware (a naive datetime is ambiguous: "
                             "add tzinfo=datetime.timezone.utc)")
        delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a datetime or microseconds since the epoch (an int), "
                        f"not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be microseconds since the epoch (>= 0), not {value}")
    return value


class _UsageArgs(NamedTuple):
    """usage()'s arguments, checked, as the core's UsageQuery takes them."""

    tenant_id: Optional[str]
    user_id: Optional[str]
    workspace_id: Optional[str]
    run_id: Optional[str]
    since_us: int
    until_us: int


def _usage_args(tenant_id: object, user_id: object, workspace_id: object, run_id: object, since: object,
                until: object) -> _UsageArgs:
    ids = {name: None if value is None else _str(name, value)
           for name, value in (("tenant_id", tenant_id), ("user_id", user_id), ("workspace_id", workspace_id),
                               ("run_id", run_id))}
    return _UsageArgs(**ids, since_us=_epoch_us("since", since), until_us=_epoch_us("until", until))


def _core_options(
    store: Optional[StrPath],
    plugin_paths: Iterable[StrPath],
    *,
    workspace_root: Optional[StrPath],
    plugin_config: Optional[Mapping[str, Union[Mapping[str, Any], str]]],
    default_timeout: Union[float, _dt.timedelta],
    approval_timeout: Union[float, _dt.timedelta],
    limits: Union[Mapping[str, Any], str, None],
    durable: bool,
    keep_raw: bool,
    max_output_bytes: int,
    artifact_patterns: Iterable[str],
    miosa: Optional[MiosaOptions],
    use_environment: bool,
    use_bundled: bool,
) -> Dict[str, Any]:
    """Host's (and AsyncHost's) arguments checked, as the extension's Host takes them."""
    if isinstance(plugin_paths, (str, bytes, os.PathLike)):
        raise TypeError("plugin_paths must be a list of directories, not one path (write [path])")
    dirs = [_path("plugin_paths[]", p) for p in plugin_paths]
    config: Dict[str, str] = {}
    for plugin_id, value in (plugin_config or {}).items():
        _str("plugin_config key", plugin_id)
        if isinstance(value, str):
            config[plugin_id] = value
        elif isinstance(value, Mapping):
            config[plugin_id] = json.dumps(dict(value))
        else:
            raise TypeError(f"plugin_config[{plugin_id!r}] must be a dict or JSON text, not {type(value).__name__}")
    timeouts = {name: _seconds(name, value)
                for name, value in (("default_timeout", default_timeout), ("approval_timeout", approval_timeout))}
    if isinstance(max_output_bytes, bool) or not isinstance(max_output_bytes, int):
        raise TypeError(f"max_output_bytes must be an int, not {type(max_output_bytes).__name__}")
    if isinstance(artifact_patterns, str):
        raise TypeError("artifact_patterns must be a list of patterns, not one string")
    patterns = [_str("artifact_patterns[]", p) for p in artifact_patterns]
    if miosa is not None and not isinstance(miosa, Mapping):
        raise TypeError(f"miosa must be a dict of {', '.join(MIOSA_OPTION_NAMES)}, not {type(miosa).__name__}")
    for name in miosa or {}:
        if name not in MIOSA_OPTION_NAMES:
            raise TypeError(f"unknown miosa option {name!r} (the options: {', '.join(MIOSA_OPTION_NAMES)})")
    account = {name: _str(f"miosa[{name!r}]", value) for name, value in (miosa or {}).items()}

    return dict(
        store=_path("store", store) if store is not None else "",
        plugin_dirs=dirs,
        use_environment=bool(use_environment),
        use_bundled=bool(use_bundled),
        workspace_root=_path("workspace_root", workspace_root) if workspace_root is not None else "",
        plugin_config=config,
        default_timeout_seconds=timeouts["default_timeout"],
        approval_timeout_seconds=timeouts["approval_timeout"],
        limits=_limits_json(limits),
        durable=bool(durable),
        keep_raw=bool(keep_raw),
        max_output_bytes=max_output_bytes,
        artifact_patterns=patterns,
        miosa=account,
    )


class _RunCalls:
    """The calls that read and steer runs, and keep connector grants, as one acting scope sees
    them: the operator's (a :class:`Host`, every tenant) or one tenant's (a :class:`TenantView`).
    Runs they return act in the same scope."""

    _core: _core.Host
    _scope: Optional[str]  # the acting tenant; None: the operator

    @overload
    def dispatch(self, request: Mapping[str, object], /) -> Run: ...

    @overload
    def dispatch(
        self,
        *,
        tenant_id: str = ...,
        workspace_id: str,
        user_id: str,
        device_type: DeviceType,
        runtime: str,
        prompt: str,
        approval_policy: ApprovalPolicy,
        idempotency_key: str,
        device_id: str = ...,
        project_id: str = ...,
        cwd: str = ...,
        connectors: Sequence[str] = ...,
        command: Sequence[str] = ...,
        output_mode: Literal["text", "jsonl"] = ...,
        timeout_seconds: int = ...,
        resume_session_id: str = ...,
    ) -> Run: ...

    def dispatch(self, *args: object, **fields: object) -> Run:
        """Validates a DevicePromptDispatch, records the run and starts it. Returns at once.

        The dispatch is either keyword arguments in snake_case
        (``dispatch(tenant_id="t1", workspace_id="w1", ..., command=["make"])``, typed by this
        signature and by ``DispatchFields``) or one dict with the wire's camelCase keys
        (``dispatch({"tenantId": "t1", ...})``, a ``DevicePromptDispatch``), never both.

        The same ``(tenant_id, idempotency_key)`` again returns the same run (``created`` False)
        and starts nothing. In a tenant's view, ``tenant_id`` may be left out (it is the view's).

        Raises:
            TypeError: not a dict; a dict and keywords together; a keyword that is no field.
            InvalidDispatchError: a field is missing or wrong (``err.field`` names it, in
                camelCase); in a tenant's view, also a ``tenantId`` naming another tenant.
            IdempotencyConflictError: the key was used before with a different dispatch.
            HostClosedError: the host is closed.
        """
        return self._dispatch(_request_of("dispatch", args, fields))

    def _dispatch(self, request: Mapping[str, object]) -> Run:
        body = _encode_dispatch(request)
        info, created = self._core.dispatch(body, self._scope)
        return Run(self, RunInfo._from_core(info), created)

    def run(self, run_id: str) -> Optional[Run]:
        """The run with this id (from this host or any other sharing the store), or None when
        there is none — in a tenant's view, none of that tenant's."""
        d = self._core.run(_str("run_id", run_id), self._scope)
        return Run(self, RunInfo._from_core(d)) if d is not None else None

    def runs(self, *, tenant_id: Optional[str] = None, status: Optional[str] = None, limit: int = 100) -> List[RunInfo]:
        """Runs, newest first, optionally of one tenant and/or one status. A tenant's view lists
        only that tenant's (``tenant_id`` naming another lists nothing)."""
        if tenant_id is not None:
            _str("tenant_id", tenant_id)
        if status is not None:
            _str("status", status)
        return [RunInfo._from_core(d) for d in self._core.runs(tenant_id, status, _limit(limit), self._scope)]

    def events(self, run_id: str, after: int = 0, limit: int = 10000) -> List[Event]:
        """The run's stored events with seq > ``after`` (at most ``limit``), without waiting.

        Raises:
            RunNotFoundError: no such run (in a tenant's view: none of that tenant's).
        """
        return self._core.events(_str("run_id", run_id), _check_after(after), _limit(limit), self._scope)

    def cancel(self, run_id: str) -> None:
        """Asks a run to stop (this host's at once; another live host's through the store).
        A finished run is left as it is.

        Raises:
            RunNotFoundError: no such run (in a tenant's view: none of that tenant's).
        """
        self._core.cancel(_str("run_id", run_id), self._scope)

    def pending_approvals(self) -> List[PendingApproval]:
        """The ``approval.required`` requests still waiting for an answer, oldest first, from
        every process sharing the store (in a tenant's view: that tenant's only). Each names its
        run and approval id, carries the request (the action and its ``summary``, the reason, the
        policy, the options, the ``deadline``) and says whether an answer is already recorded
        (``answered``: the run's host is applying it)."""
        return [PendingApproval._from_core(d) for d in self._core.pending_approvals(self._scope)]

    @overload
    def resolve_approval(
        self,
        run_id: str,
        approval_id: str,
        *,
        decision: Decision,
        scope: ApprovalScope = "once",
        reason: Optional[str] = None,
        by: Optional[str] = None,
    ) -> None: ...

    @overload
    def resolve_approval(self, run_id: str, approval_id: str, allow: bool, reason: str = "") -> None:
        """Deprecated (0.1): ``allow`` as a bool. Write ``decision="allow"`` or ``"deny"``."""

    def resolve_approval(
        self,
        run_id: str,
        approval_id: str,
        *args: Any,
        decision: Optional[str] = None,
        scope: str = "once",
        reason: Optional[str] = None,
        by: Optional[str] = None,
        **legacy: Any,
    ) -> None:
        """Answers a run's pending ``approval.required`` (``approval_id``: its payload's
        ``approval_id``, or ``PendingApproval.id``), from any process sharing the store:
        ``decision="allow"`` or ``"deny"``, with an optional ``reason`` and ``by`` (who answers,
        as your application names them), both recorded in ``approval.resolved``. The answer is
        recorded at once; the run's host applies it within milliseconds.

        ``scope`` is what the answer covers: ``"once"``, this one request; ``"run"``, also every
        later request of the run for the same action name, policy and rule, answered without
        asking (each recorded as ``policy.decision`` naming this approval). Anything else is
        refused rather than read as ``"once"``.

        Raises:
            TypeError: no ``decision``; an argument of the wrong type.
            ValueError: a ``decision`` or ``scope`` the host does not have, named; an empty ``by``.
            InvalidDispatchError: the run has no such approval, it was answered already (the
                message names the first answer), or the run has ended.
            RunNotFoundError: no such run (in a tenant's view: none of that tenant's).
        """
        answer = _approval_args(args, legacy, decision, scope, reason, by)
        self._core.answer_approval(_str("run_id", run_id), _str("approval_id", approval_id), answer.allow, answer.scope,
                                   answer.reason, answer.by, self._scope)

    # ---- connector grants ----

    def add_grant(
        self,
        *,
        connector: str,
        user_id: str,
        tenant_id: Optional[str] = None,
        code: Optional[str] = None,
        secret: Union[Mapping[str, Any], str, None] = None,
        scopes: Optional[Sequence[str]] = None,
        expires_in: Union[float, _dt.timedelta, None] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Grant:
        """Records a connector grant: ``user_id`` of ``tenant_id`` lets ``connector`` act for
        them. Runs that name the connector get the newest active grant of their tenant and user.

        Give exactly one of ``code``, an authorization code the connector exchanges with its
        provider now (for ``oauth2``: a POST to its ``token_url``; this call waits for it), or
        ``secret``, the secret material itself: a dict such as ``{"access_token": ...}``, or a
        bare token ``str``, which stands for ``{"access_token": token}``. The secret is stored
        apart, joins the host's redaction and is never returned, listed or put in a message.
        ``scopes`` are those asked for (a code) or granted (a secret); ``expires_in`` (seconds or
        a timedelta; with a code, what the provider says wins) when it expires, else never;
        ``metadata`` a JSON object kept with it. In a tenant's view ``tenant_id`` may be left
        out (it is the view's).

        Raises:
            TypeError: neither or both of ``code`` and ``secret``; an argument of the wrong type.
            InvalidDispatchError: a bad field, named by ``err.field`` (``tenantId``, ``userId``,
                ``connector``: no such connector loaded, ``code``, ``secret``, ``scopes``,
                ``expiresIn``, ``metadata``); in a tenant's view, a ``tenant_id`` naming another.
            ConnectorAuthorizationMissingError: the provider refused the code (the user connects
                again: ``err.connect_url`` when the connector gives one).
            PluginError: the connector failed otherwise (its provider could not be reached).
        """
        return self._add_grant(_grant_args(connector, user_id, tenant_id, code, secret, scopes, expires_in, metadata))

    def _add_grant(self, checked: _GrantArgs) -> Grant:
        return Grant._from_core(self._core.add_grant(*checked, self._scope))

    def grants(
        self,
        *,
        user_id: Optional[str] = None,
        connector: Optional[str] = None,
        tenant_id: Optional[str] = None,
        include_inactive: bool = False,
        limit: int = 100,
    ) -> List[Grant]:
        """Grants, newest first: the active ones, or with ``include_inactive`` the revoked and
        expired ones too; optionally of one user, one connector, one tenant. Never a secret. A
        tenant's view lists only that tenant's (``tenant_id`` naming another lists nothing)."""
        for name, value in (("user_id", user_id), ("connector", connector), ("tenant_id", tenant_id)):
            if value is not None:
                _str(name, value)
        if not isinstance(include_inactive, bool):
            raise TypeError(f"include_inactive must be a bool, not {type(include_inactive).__name__}")
        rows = self._core.grants(tenant_id, user_id, connector, include_inactive, _limit(limit), self._scope)
        return [Grant._from_core(d) for d in rows]

    def revoke_grant(self, grant_id: str) -> None:
        """Revokes a grant and deletes its secret: runs dispatched from now on no longer get it
        (a run already going keeps what it was given). Revoking a revoked grant changes nothing.

        Raises:
            InvalidDispatchError: no such grant (``err.field == "grant_id"``); in a tenant's
                view, another tenant's grant is no such grant.
        """
        self._core.revoke_grant(_str("grant_id", grant_id), self._scope)

    # ---- budgets ----

    def usage(
        self,
        *,
        user_id: Optional[str] = None,
        workspace_id: Optional[str] = None,
        run_id: Optional[str] = None,
        tenant_id: Optional[str] = None,
        since: Union[_dt.datetime, int, None] = None,
        until: Union[_dt.datetime, int, None] = None,
    ) -> List[UsageTotal]:
        """What the ``usage`` events of every process sharing the store add up to, per usage
        source, most spent first: the spend that budgets count (docs/budgets.md). Each condition
        given must hold: one user, workspace, run or tenant; events at or after ``since`` and
        before ``until`` (a timezone-aware datetime, or microseconds since the epoch; None or 0:
        unbounded). A tenant's view adds up only its tenant's (another tenant's run or tenant
        gives ``[]``).

        Raises:
            TypeError, ValueError: an argument of the wrong type; a naive datetime.
        """
        return self._usage(_usage_args(tenant_id, user_id, workspace_id, run_id, since, until))

    def _usage(self, checked: _UsageArgs) -> List[UsageTotal]:
        return [UsageTotal(**d) for d in self._core.usage(*checked, self._scope)]

    # ---- for Run ----

    def _info(self, run_id: str) -> RunInfo:
        return RunInfo._from_core(self._core.info(run_id, self._scope))

    def _stream(self, run_id: str, after: int) -> EventStream:
        return self._core.stream(run_id, after, self._scope)


class Host(_RunCalls):
    """runhost in this process: a store, the loaded plugins, and one reactor thread that runs
    every run's processes. Use it as a context manager, or call ``close()``.

    ``Host()`` uses the embedded defaults: the SQLite store at ``default_store_path()``, the
    plugins bundled in this package, and ``RUNHOST_PLUGIN_PATH``.

    Args:
        store: the SQLite file (created if missing); hosts in several processes may share one.
        plugin_paths: directories searched for plugins first, in order, before
            ``RUNHOST_PLUGIN_PATH`` (when ``use_environment``) and the bundled plugins (when
            ``use_bundled``). The first library to claim a (kind, id) wins.
        workspace_root: local runs' ``cwd`` must lie inside it (default: the current directory).
        plugin_config: plugin id -> configuration (a dict, or JSON text), replacing the default
            in the plugin's manifest.
        default_timeout: a run's time limit, in seconds or as a timedelta; a dispatch's
            ``timeoutSeconds`` overrides it.
        approval_timeout: how long an ``approval.required`` waits for its answer, in seconds or
            as a timedelta; none by then is a deny (``approval.resolved`` with source
            ``"deadline"``, then ``run.failed`` with ``policy_denied``). The deadline is in the
            request.
        limits: budgets and quotas (docs/budgets.md), a dict or its JSON text, e.g.
            ``{"budgets": {"user_day_usd": 20}, "quotas": {"concurrent_per_user": 3}}``; None:
            nothing is limited. A dispatch past one raises ``BudgetExceededError`` or
            ``QuotaExceededError``.
        durable: fsync each group commit (False: a run survives a crash of this process but
            not of the machine).
        keep_raw: keep each event's native line in ``raw``.
        max_output_bytes: output text recorded per run; the rest is counted and marked.
        artifact_patterns: which files of a local run are reported as ``artifact.created``
            (default: the local device's).
        miosa: the sandbox device's MIOSA account, a :class:`MiosaOptions` dict (``base_url``,
            ``api_key``, ``tenant``, ``template_id``); a member left out is read from
            ``MIOSA_BASE_URL``, ``MIOSA_API_KEY``, ``MIOSA_TENANT`` (when ``use_environment``).
            Without a key, a ``deviceType="sandbox"`` dispatch raises ``DeviceUnavailableError``
            (recovery ``configure_device``). The key reaches no event, log line or store byte.
        use_environment: read ``RUNHOST_PLUGIN_PATH`` and the ``MIOSA_*`` variables (default
            True; False: only what is passed here counts).
        use_bundled: load the plugins bundled in this package (default True).

    Raises:
        StoreUnavailableError: the store cannot be opened.
        PluginError: a policy or connector plugin refused its configuration.
        InvalidDispatchError: ``limits`` has an unknown key or a bad value (the message names it).

    Every method may be called from any thread; none holds the GIL while it waits.

    The Host acts as the operator: it reads and steers every tenant's runs. Code acting for one
    tenant uses ``host.for_tenant(tenant_id)``, a :class:`TenantView` that cannot see the others.
    """

    _scope = None

    def __init__(
        self,
        store: Optional[StrPath] = None,
        plugin_paths: Iterable[StrPath] = (),
        *,
        workspace_root: Optional[StrPath] = None,
        plugin_config: Optional[Mapping[str, Union[Mapping[str, Any], str]]] = None,
        default_timeout: Union[float, _dt.timedelta] = 3600,
        approval_timeout: Union[float, _dt.timedelta] = 3600,
        limits: Union[Mapping[str, Any], str, None] = None,
        durable: bool = True,
        keep_raw: bool = False,
        max_output_bytes: int = 64 << 20,
        artifact_patterns: Iterable[str] = (),
        miosa: Optional[MiosaOptions] = None,
        use_environment: bool = True,
        use_bundled: bool = True,
    ) -> None:
        self._core = _core.Host(**_core_options(
            store, plugin_paths, workspace_root=workspace_root, plugin_config=plugin_config,
            default_timeout=default_timeout, approval_timeout=approval_timeout, limits=limits, durable=durable,
            keep_raw=keep_raw, max_output_bytes=max_output_bytes, artifact_patterns=artifact_patterns,
            miosa=miosa, use_environment=use_environment, use_bundled=use_bundled))

    @classmethod
    def _adopt(cls, core: _core.Host) -> "Host":
        """A Host around an extension Host opened elsewhere (AsyncHost opens it off the loop)."""
        host = cls.__new__(cls)
        host._core = core
        return host

    # ---- lifetime ----

    def close(self) -> None:
        """Cancels this host's runs that are still running (they end ``run.cancelled``, their
        events stored), then closes the store. Idempotent. Streams still being iterated raise
        ``HostClosedError``; a new Host on the same store replays everything."""
        self._core.close()

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __enter__(self) -> "Host":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    @property
    def store_path(self) -> Path:
        return Path(self._core.store_path())

    # ---- scopes ----

    def for_tenant(self, tenant_id: str) -> "TenantView":
        """This host as one tenant sees it: the same calls, walled to that tenant's runs.

        Another tenant's run is indistinguishable from a missing one (``run()`` gives None;
        ``events``, ``cancel``, ``resolve_approval`` and a run's event stream raise
        ``RunNotFoundError`` with the same message as for an unknown id; ``runs()`` and
        ``pending_approvals()`` never list it),
        and a dispatch naming another tenant is refused (``InvalidDispatchError``, field
        ``tenantId``). Grants are walled alike: ``grants()`` lists the tenant's only, and
        another tenant's grant cannot be revoked (``InvalidDispatchError``, field ``grant_id``,
        as for an unknown id). Cheap: make one per request.
        """
        if not isinstance(tenant_id, str):
            raise TypeError(f"tenant_id must be a str, not {type(tenant_id).__name__}")
        if not tenant_id:
            raise ValueError("tenant_id must not be empty")
        return TenantView(self, tenant_id)

    # ---- plugins ----

    def plugins(self) -> List[PluginInfo]:
        """The plugins this host loaded, in search order."""
        loaded, _, _ = self._core.plugins()
        return [PluginInfo(**p) for p in loaded]

    def plugin_refusals(self) -> List[PluginRefusal]:
        """Everything the host refused to load, and why."""
        _, refused, _ = self._core.plugins()
        return [PluginRefusal(path, reason) for path, reason in refused]

    def plugin_directories(self) -> List[Path]:
        """The directories searched for plugins, in order."""
        _, _, dirs = self._core.plugins()
        return [Path(d) for d in dirs]

    def __repr__(self) -> str:
        state = "closed" if self.closed else str(self.store_path)
        return f"<runhost.Host {state}>"


class TenantView(_RunCalls):
    """A :class:`Host` as one tenant sees it (``host.for_tenant(tenant_id)``): ``dispatch``,
    ``run``, ``runs``, ``events``, ``cancel``, ``pending_approvals``, ``resolve_approval``,
    ``add_grant``, ``grants`` and ``revoke_grant``, and the runs they return (their ``events()``,
    ``aevents()``, ``wait()``, ``cancel()``...), all walled to the tenant.

    It owns nothing: closing the Host ends it (calls raise ``HostClosedError``), and it has no
    ``close()``, no plugin listing, and no way back to the operator's Host.
    """

    def __init__(self, host: Host, tenant_id: str) -> None:
        self._core = host._core
        self._tenant_id = tenant_id
        self._scope = tenant_id

    @property
    def tenant_id(self) -> str:
        """The tenant this view acts as."""
        return self._tenant_id

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __repr__(self) -> str:
        return f"<runhost.TenantView tenant_id={self._tenant_id!r}{' closed' if self.closed else ''}>"
