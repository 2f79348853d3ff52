"""runhost's exceptions.

Every typed code of the core's error table has a subclass of :class:`RunhostError`, generated at
build time from that table (``runhost/_codes.py``): ``InvalidDispatch``, ``PolicyDenied``,
``ConnectorAuthorizationMissing``, ``IdempotencyConflict``, ``PluginError``... A class name is the
code in CamelCase; one that would shadow a Python builtin is prefixed: ``runtime_error`` is
``RunhostRuntimeError``.

Using the API wrongly raises ordinary Python exceptions instead: ``TypeError`` for an argument
of the wrong type, :class:`HostClosedError` after ``Host.close()``, :class:`StreamConsumedError`
for a second ``for`` over an ended stream.
"""
from __future__ import annotations

import json
from typing import Any, Mapping, Optional

from . import _codes
from ._codes import *  # noqa: F401,F403  (one class per code; _codes.__all__ lists them)
from ._codes import BY_CODE, ERROR_CODES
from ._errors_base import ConnectAccountRecovery, RunhostError


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


__all__ = [
    "RunhostError",
    "ConnectAccountRecovery",
    "HostClosedError",
    "StreamConsumedError",
    "ERROR_CODES",
    "BY_CODE",
    "error_class",
    "from_error",
]
__all__ += _codes.__all__
