"""Fault knobs: ``POST /_emulator/faults`` arms one, ``DELETE /_emulator/faults`` clears all.

A fault is ``{"route": <regex>, "kind": <kind>, "count": N, ...}``. ``route`` is searched
(``re.search``) in ``"METHOD /api/v1/path"`` (the request path without its query), so
``"POST .*/sandboxes$"`` matches a create. Each fault fires ``count`` times (default 1) and
then disarms. The first armed fault that matches wins.

Kinds that answer the request instead of the route (checked after auth, before idempotency):
  429                   429 RATE_LIMITED, ``Retry-After: <retry_after>`` (default 0.1 s)
  5xx                   ``status`` (default 503), ``code`` (default SERVICE_UNAVAILABLE),
                        retryable, with Retry-After (default 0.1 s)
  sandbox_starting      409 SANDBOX_STARTING, retryable, Retry-After
  restore_transient     503 RESTORE_TRANSIENT, retryable, ``details.reason: checkpoint_in_flight``
  idempotency_conflict  409 IDEMPOTENCY_CONFLICT
  credit_required       402 CREDIT_REQUIRED
  error                 any ``status`` with any ``code`` and ``message`` (for example a 404
                        on ``readiness/stream`` to push the SDK onto its polling path)
Kinds that change how the route behaves:
  drop_stream_after_frames  ``frames`` N: the next matching event stream is cut after N frames
  slow_readiness_ms     ``ms``: a sandbox created, forked or resumed by the matching request
                        stays ``creating``/not ready for that long
"""

from __future__ import annotations

import re
import threading
from typing import Any, Optional

from .httpcore import ApiError

ANSWER_KINDS = {"429", "5xx", "sandbox_starting", "restore_transient", "idempotency_conflict",
                "credit_required", "error"}
STREAM_KINDS = {"drop_stream_after_frames"}
CREATE_KINDS = {"slow_readiness_ms"}
ALL_KINDS = ANSWER_KINDS | STREAM_KINDS | CREATE_KINDS


class Fault:
    def __init__(self, fid: int, spec: dict) -> None:
        self.id = fid
        route = spec.get("route", spec.get("route_regex", ".*"))
        if not isinstance(route, str):
            raise ApiError(422, "VALIDATION_FAILED", "fault 'route' must be a regex string")
        try:
            self.regex = re.compile(route)
        except re.error as exc:
            raise ApiError(422, "VALIDATION_FAILED", f"fault 'route' is not a regex: {exc}") from None
        self.route = route
        self.kind = str(spec.get("kind", ""))
        if self.kind not in ALL_KINDS:
            raise ApiError(422, "VALIDATION_FAILED",
                           f"unknown fault kind {self.kind!r}; known: {sorted(ALL_KINDS)}")
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ApiError(422, "VALIDATION_FAILED", "fault 'count' must be a positive integer")
        self.count = count
        self.remaining = count
        self.fired = 0
        self.spec = dict(spec)

    def number(self, name: str, default: float) -> float:
        value = self.spec.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ApiError(422, "VALIDATION_FAILED", f"fault {name!r} must be a number")
        return float(value)

    def describe(self) -> dict:
        return {"id": self.id, "route": self.route, "kind": self.kind, "count": self.count,
                "remaining": self.remaining, "fired": self.fired,
                **{k: v for k, v in self.spec.items() if k not in ("route", "route_regex", "kind", "count")}}

    def error(self) -> ApiError:
        """The answer of an answer-kind fault."""
        kind = self.kind
        retry_after = self.number("retry_after", 0.1)
        if kind == "429":
            return ApiError(429, str(self.spec.get("code", "RATE_LIMITED")), "rate limited (emulator fault)",
                            retryable=True, retry_after=retry_after)
        if kind == "5xx":
            status = int(self.number("status", 503))
            return ApiError(status, str(self.spec.get("code", "SERVICE_UNAVAILABLE")),
                            f"injected {status} (emulator fault)", retryable=True, retry_after=retry_after)
        if kind == "sandbox_starting":
            return ApiError(409, "SANDBOX_STARTING", "the sandbox is still starting (emulator fault)",
                            retryable=True, retry_after=retry_after)
        if kind == "restore_transient":
            return ApiError(503, "RESTORE_TRANSIENT",
                            "a checkpoint is in flight; retry the restore (emulator fault)",
                            details={"reason": "checkpoint_in_flight"}, retryable=True, retry_after=retry_after)
        if kind == "idempotency_conflict":
            return ApiError(409, "IDEMPOTENCY_CONFLICT",
                            "this Idempotency-Key was used with another request body (emulator fault)")
        if kind == "credit_required":
            return ApiError(402, "CREDIT_REQUIRED", "the account needs credit (emulator fault)",
                            details={"balance_cents": 0})
        status = int(self.number("status", 500))
        ra = self.spec.get("retry_after")
        return ApiError(status, str(self.spec.get("code", "INJECTED")),
                        str(self.spec.get("message", f"injected {status} (emulator fault)")),
                        details=self.spec.get("details") if isinstance(self.spec.get("details"), dict) else {},
                        retryable=bool(self.spec.get("retryable", False)),
                        retry_after=float(ra) if isinstance(ra, (int, float)) and not isinstance(ra, bool) else None)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next = 1

    def arm(self, spec: Any) -> dict:
        if not isinstance(spec, dict):
            raise ApiError(422, "VALIDATION_FAILED", "a fault is a JSON object")
        with self._lock:
            fault = Fault(self._next, spec)
            if fault.kind == "drop_stream_after_frames":
                frames = fault.number("frames", fault.number("n", 1))
                fault.spec["frames"] = int(frames)
            if fault.kind == "slow_readiness_ms":
                fault.spec["ms"] = fault.number("ms", 500)
            if fault.kind not in ("slow_readiness_ms", "drop_stream_after_frames", "error"):
                fault.number("retry_after", 0.1)  # validate early
            self._next += 1
            self._faults.append(fault)
            return fault.describe()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list:
        with self._lock:
            return [f.describe() for f in self._faults]

    def take(self, method: str, path: str, kinds: set) -> Optional[Fault]:
        """The first armed fault of one of ``kinds`` matching this request; it is consumed."""
        target = f"{method} {path}"
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.kind in kinds and fault.regex.search(target):
                    fault.remaining -= 1
                    fault.fired += 1
                    return fault
        return None
