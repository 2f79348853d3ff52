"""RunhostError, the base of every typed runhost exception, and the recovery mixins."""
from __future__ import annotations

from typing import Any, ClassVar, Dict, Mapping, Optional, Tuple, Type, TypeVar

T = TypeVar("T")


def _rebuild(cls: "Type[RunhostError]", message: str, state: Dict[str, Any]) -> "RunhostError":
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class RunhostError(Exception):
    """An error with one of runhost's typed codes (``RUNHOST_ERROR_CODES``).

    Raised by the host (a refused dispatch, a store that cannot be opened...) and, with
    ``run.wait(check=True)``, for a run that ended ``run.failed``. Catch a subclass to branch on
    the code (``except runhost.PolicyDeniedError``), or this class for all of them.

    Attributes:
        code: the stable identifier, e.g. ``"policy_denied"``.
        message: for people; never parse it.
        retryable: whether sending the same dispatch again may succeed.
        recovery: what to do next, ``{"action": ..., ...}`` (docs/events.md, "Recovery
            actions"); empty when nothing specific applies.
        run_id: the run it belongs to, when there is one.
        request_id: the device or API request that failed, when there was one.
    """

    CODE: ClassVar[str] = "internal"
    DEFAULT_RETRYABLE: ClassVar[bool] = False
    # What the caller can do about this code when the error names nothing more specific
    # (recovery.action: "fix_dispatch", "retry"...), from the core's table.
    DEFAULT_RECOVERY_ACTION: ClassVar[str] = "contact_support"

    code: str
    message: str
    retryable: bool
    recovery: Dict[str, Any]
    run_id: Optional[str]
    request_id: Optional[str]

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        retryable: Optional[bool] = None,
        recovery: Optional[Mapping[str, Any]] = None,
        run_id: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.CODE
        self.retryable = self.DEFAULT_RETRYABLE if retryable is None else bool(retryable)
        self.recovery = dict(recovery) if recovery else {}
        self.run_id = run_id
        self.request_id = request_id

    @property
    def action(self) -> Optional[str]:
        """``recovery["action"]``: ``fix_dispatch``, ``retry``, ``connect_account``..."""
        action = self.recovery.get("action")
        return action if isinstance(action, str) else None

    @property
    def field(self) -> Optional[str]:
        """The dispatch field to correct (``fix_dispatch``), e.g. ``"tenantId"``."""
        field = self.recovery.get("field")
        return field if isinstance(field, str) else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, retryable={self.retryable!r}, recovery={self.recovery!r})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _member(recovery: Mapping[str, Any], key: str, kind: Type[T]) -> Optional[T]:
    """``recovery[key]`` when it is of ``kind`` (never a bool for an int), else None."""
    value = recovery.get(key)
    if isinstance(value, bool) and kind is not bool:
        return None
    return value if isinstance(value, kind) else None


class ConnectAccountRecovery:
    """For ``connector_authorization_missing``: where to send the user to connect the account."""

    recovery: Dict[str, Any]

    @property
    def connect_url(self) -> Optional[str]:
        """``recovery["connect_url"]``: send the user there, then retry."""
        return _member(self.recovery, "connect_url", str)

    @property
    def connector(self) -> Optional[str]:
        """The connector that has no grant, e.g. ``"github"``."""
        return _member(self.recovery, "connector", str)


class LimitRecovery:
    """For ``budget_exceeded`` and ``quota_exceeded`` (docs/budgets.md): which limit, and what ran out."""

    recovery: Dict[str, Any]

    @property
    def limit(self) -> Optional[str]:
        """``recovery["limit"]``: the limit reached, e.g. ``"user_day_usd"``, ``"concurrent_per_user"``."""
        return _member(self.recovery, "limit", str)

    @property
    def usage_source(self) -> Optional[str]:
        """``recovery["usage_source"]``: the source that spent the most (``"runs"`` for a quota)."""
        return _member(self.recovery, "usage_source", str)

    @property
    def retry_after_ms(self) -> Optional[int]:
        """``recovery["retry_after_ms"]``: for a quota, when trying again may work."""
        return _member(self.recovery, "retry_after_ms", int)
