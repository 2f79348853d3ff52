"""runhost's exceptions.

Every typed code of the core's error table has a subclass of :class:`RunhostError`, generated at
build time from that table (``runhost/_codes.py``): ``InvalidDispatchError``,
``PolicyDeniedError``, ``ConnectorAuthorizationMissingError``, ``IdempotencyConflictError``,
``PluginError``... A class name is the code in CamelCase ending in ``Error``; one that would
shadow a Python builtin or asyncio's ``CancelledError`` is prefixed: ``runtime_error`` is
``RunhostRuntimeError``, ``timeout`` ``RunhostTimeoutError``, ``cancelled``
``RunhostCancelledError``. The names of release 0.1 (``InvalidDispatch``, ``RunNotFound``...)
still work for one release, with a ``DeprecationWarning``.

Using the API wrongly raises ordinary Python exceptions instead: ``TypeError`` for an argument
of the wrong type, :class:`HostClosedError` after ``Host.close()``, :class:`StreamConsumedError`
for a second ``for`` over an ended stream.
"""
from __future__ import annotations

import json
import warnings
from typing import TYPE_CHECKING, Any, Mapping, Optional

from . import _codes
from ._codes import *  # noqa: F401,F403  (one class per code; _codes.__all__ lists them)
from ._codes import BY_CODE, DEPRECATED_NAMES, ERROR_CODES
from ._errors_base import ConnectAccountRecovery, LimitRecovery, RunhostError


class HostClosedError(RuntimeError):
    """The :class:`runhost.Host` was closed; open a new one on the same store to go on."""


class StreamConsumedError(RuntimeError):
    """An ended event stream was iterated again. ``run.events()`` gives a new stream, which
    replays from the start (or from ``after=SEQ``)."""


def error_class(code: str) -> type[RunhostError]:
    """The exception class of ``code``; :class:`RunhostError` for a code this build does not know."""
    return BY_CODE.get(code, RunhostError)


def from_error(error: Mapping[str, Any], *, run_id: Optional[str] = None) -> RunhostError:
    """The exception for a ``run.failed`` payload's ``error`` object ({code, message, retryable,
    recovery, request_id})."""
    code = str(error.get("code", "internal"))
    recovery = error.get("recovery")
    retryable = error.get("retryable")
    request_id = error.get("request_id")
    return error_class(code)(
        str(error.get("message") or code),
        code=code,
        retryable=retryable if isinstance(retryable, bool) else None,
        recovery=recovery if isinstance(recovery, Mapping) else None,
        run_id=run_id,
        request_id=request_id if isinstance(request_id, str) else None,
    )


def _from_core(code: str, message: str, recovery_json: str) -> RunhostError:
    """Called by the extension for a core Error."""
    recovery: Any = None
    if recovery_json:
        try:
            recovery = json.loads(recovery_json)
        except ValueError:
            recovery = None
    return error_class(code)(message, code=code, recovery=recovery if isinstance(recovery, dict) else None)


def _deprecated(module: str, name: str) -> type[RunhostError]:
    """The class a 0.1 name stands for, with a DeprecationWarning; AttributeError for any other
    name (a module's __getattr__ is asked only for names it does not have)."""
    new = DEPRECATED_NAMES.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"runhost.{name} is deprecated and goes in the next release: use runhost.{new} (every exception "
        "class's name now ends in Error)",
        DeprecationWarning,
        stacklevel=3,
    )
    cls: type[RunhostError] = getattr(_codes, new)
    return cls


if not TYPE_CHECKING:  # type checkers see the old names as aliases (runhost/_codes.py)

    def __getattr__(name: str) -> Any:
        return _deprecated(__name__, name)


__all__ = [
    "RunhostError",
    "ConnectAccountRecovery",
    "LimitRecovery",
    "HostClosedError",
    "StreamConsumedError",
    "ERROR_CODES",
    "BY_CODE",
    "error_class",
    "from_error",
]
__all__ += _codes.__all__
