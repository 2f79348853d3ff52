"""The emulator's in-memory model: sandboxes, snapshots, deployments, runs, tokens, idempotency.

Nothing is persisted across restarts except the files under ``--root``. Every record is scoped
to a tenant (the ``X-MIOSA-Tenant`` header, or ``default``): a sandbox created under one tenant
is 404 under another, and so are its snapshots, previews and deployments.

Time-based transitions (``creating`` -> ``running`` after a slow readiness, the
``checkpoint_pending`` window after a pause or stop, a deployment's ``building`` ->
``running``) are applied when a record is read (``refresh``), so no timer thread is needed.
"""

from __future__ import annotations

import collections
import os
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import Any, Optional

DEFAULT_TEMPLATE = "miosa-sandbox"
DEFAULT_TENANT = "default"

SIZES = {"xs": (1, 2048), "small": (2, 4096), "medium": (4, 8192), "large": (8, 16384), "xl": (16, 32768)}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def iso(ts: Optional[float] = None) -> str:
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso()


def iso_in(seconds: float) -> str:
    return iso(time.time() + seconds)


def tenant_id_of(tenant: str) -> str:
    return tenant or DEFAULT_TENANT


class EventLog:
    """Numbered events with a condition variable, for an SSE route to replay and follow."""

    def __init__(self, maxlen: int = 2000) -> None:
        self.cond = threading.Condition()
        self.items: collections.deque = collections.deque(maxlen=maxlen)
        self.seq = 0
        self.closed = False

    def add(self, type_: str, data: dict) -> dict:
        with self.cond:
            self.seq += 1
            item = {"id": str(self.seq), "seq": self.seq, "type": type_, "data": data, "created_at": now_iso()}
            self.items.append(item)
            self.cond.notify_all()
            return item

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def follow(self, after_seq: int, timeout: float) -> tuple[list, bool]:
        with self.cond:
            if self.seq <= after_seq and not self.closed:
                self.cond.wait(timeout)
            return [i for i in self.items if i["seq"] > after_seq], self.closed


class Sandbox:
    """One sandbox: its record, its directory, its jobs, previews and shares."""

    def __init__(self, *, tenant: str, root: str, template_id: str, body: dict,
                 ready_delay: float = 0.0) -> None:
        self.id = new_id("sbx")
        self.tenant = tenant
        self.dir = os.path.join(root, self.id)
        self.template_id = template_id
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        created = time.time()
        self.created_at = iso(created)
        self.started_at = self.created_at
        self.ready_at: Optional[str] = None
        self.destroyed_at: Optional[str] = None
        self.state = "creating"
        self.ready_deadline = time.monotonic() + ready_delay
        self.checkpoint_until = 0.0
        self.stop_kind: Optional[str] = None  # "pause" | "stop" while paused
        self.name = body.get("name")
        self.slug = body.get("slug")
        self.tags = list(body.get("tags") or [])
        self.metadata = dict(body.get("metadata") or {})
        self.env = {str(k): str(v) for k, v in (body.get("env") or {}).items()}
        self.persistent = bool(body.get("persistent", self.metadata.get("miosa_persistent", False)))
        self.always_on = bool(body.get("always_on", False))
        self.timeout_sec = int(body.get("timeout_sec") or 300)
        self.idle_timeout_sec = body.get("idle_timeout_sec")
        self.timeout_base = time.monotonic()
        size = body.get("size")
        cpu, mem = SIZES.get(size or "small", SIZES["small"])
        self.cpu_count = int(body.get("cpu_count") or cpu)
        self.memory_mb = int(body.get("memory_mb") or mem)
        self.disk_size_mb = int(body.get("disk_size_mb") or body.get("disk_mb") or 10240)
        self.size = size if size in SIZES else ("small" if not body.get("cpu_count") else None)
        self.attribution = {k: body.get(k) for k in (
            "workspace_id", "workspace_slug", "workspace_name", "project_id", "project_slug",
            "project_name", "external_workspace_id", "external_user_id", "external_project_id")}
        self.region = body.get("region") or "local"
        self.forked_from: Optional[str] = None
        # runtime
        self.jobs: set = set()
        self.procs: dict = {}
        self.next_pid = 1000
        self.previews: dict = {}
        self.shares: dict = {}
        self.exports: list = []
        self.events = EventLog()
        self.gone = threading.Event()  # set on destroy: every open stream of this sandbox ends
        # usage
        self.runtime_ms = 0.0
        self.running_since: Optional[float] = None
        self.proxy_in = 0
        self.proxy_out = 0

    # -- transitions --
    def refresh(self) -> None:
        """Apply the transitions that are due (call with the lock held or not; it takes it)."""
        with self.lock:
            if self.state == "creating" and time.monotonic() >= self.ready_deadline:
                self._set_running()
                self.ready_at = now_iso()
                self.events.add("sandbox.ready", {"sandbox_id": self.id, "state": "running"})
                self.cond.notify_all()

    def _set_running(self) -> None:
        self.state = "running"
        self.running_since = time.monotonic()

    def set_state(self, state: str) -> None:
        with self.lock:
            if self.running_since is not None and state != "running":
                self.runtime_ms += (time.monotonic() - self.running_since) * 1000
                self.running_since = None
            if state == "running":
                self._set_running()
            else:
                self.state = state
            self.events.add("sandbox.state", {"sandbox_id": self.id, "state": state})
            self.cond.notify_all()

    @property
    def ready(self) -> bool:
        self.refresh()
        return self.state == "running"

    @property
    def checkpoint_pending(self) -> bool:
        return time.monotonic() < self.checkpoint_until

    def remaining_ms(self) -> int:
        left = self.timeout_sec * 1000 - (time.monotonic() - self.timeout_base) * 1000
        return max(0, int(left))

    def total_runtime_ms(self) -> float:
        with self.lock:
            extra = (time.monotonic() - self.running_since) * 1000 if self.running_since is not None else 0
            return self.runtime_ms + extra

    def to_json(self) -> dict:
        self.refresh()
        with self.lock:
            pending = self.checkpoint_pending and self.state == "paused"
            return {
                "id": self.id,
                "object": "sandbox",
                "state": self.state,
                "ready": self.state == "running",
                "template_id": self.template_id,
                "tenant_id": tenant_id_of(self.tenant),
                "owner_id": None,
                **self.attribution,
                "name": self.name,
                "slug": self.slug,
                "tags": list(self.tags),
                "metadata": dict(self.metadata),
                "size": self.size,
                "cpu_count": self.cpu_count,
                "memory_mb": self.memory_mb,
                "disk_size_mb": self.disk_size_mb,
                "region": self.region,
                "persistent": self.persistent,
                "always_on": self.always_on,
                "timeout_sec": self.timeout_sec,
                "timeout_remaining_ms": self.remaining_ms() if self.state != "destroyed" else 0,
                "idle_timeout_sec": self.idle_timeout_sec,
                "checkpoint_pending": pending,
                "checkpoint_phase": ("uploading" if pending else None),
                "preview_url": None,
                "boot_path": "emulator",
                "boot_ms": 0,
                "forked_from": self.forked_from,
                "created_at": self.created_at,
                "started_at": self.started_at,
                "ready_at": self.ready_at,
                "destroyed_at": self.destroyed_at,
                "total_runtime_sec": int(self.total_runtime_ms() // 1000),
            }

    def alloc_pid(self) -> int:
        with self.lock:
            self.next_pid += 1
            return self.next_pid


class IdempotencyStore:
    """(tenant, method, path, key) -> (sha256 of the body, status, response body).

    ``lock_for`` serialises requests that share a key, so a concurrent duplicate waits for the
    first and then replays its answer instead of creating a second sandbox.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict = {}
        self._locks: dict = {}

    def lock_for(self, key: tuple) -> threading.Lock:
        with self._lock:
            lock = self._locks.get(key)
            if lock is None:
                lock = self._locks[key] = threading.Lock()
            return lock

    def get(self, key: tuple) -> Optional[tuple]:
        with self._lock:
            return self._records.get(key)

    def put(self, key: tuple, record: tuple) -> None:
        with self._lock:
            self._records[key] = record


class State:
    """Every record of the emulator, behind one lock for the dictionaries."""

    def __init__(self, root: str, templates: dict) -> None:
        self.root = root
        self.templates = templates  # id -> [dirs]
        self.lock = threading.RLock()
        self.sandboxes: dict = {}
        self.snapshots: dict = {}
        self.deployments: dict = {}
        self.runs: dict = {}
        self.tokens: dict = {}
        self.idempotency = IdempotencyStore()
        self.snapshot_root = os.path.join(root, "_snapshots")
        self.deploy_root = os.path.join(root, "_deploys")
        for d in (self.snapshot_root, self.deploy_root):
            os.makedirs(d, exist_ok=True)
        self.run_events_seq = 0

    def add_sandbox(self, sbx: Sandbox) -> None:
        with self.lock:
            self.sandboxes[sbx.id] = sbx

    def find_sandbox(self, tenant: str, sandbox_id: str) -> Optional[Sandbox]:
        with self.lock:
            sbx = self.sandboxes.get(sandbox_id)
        if sbx is None or sbx.tenant != tenant:
            return None
        return sbx

    def sandboxes_of(self, tenant: str) -> list:
        with self.lock:
            return [s for s in self.sandboxes.values() if s.tenant == tenant]

    def by_name(self, tenant: str, name: str) -> Optional[Sandbox]:
        for sbx in sorted(self.sandboxes_of(tenant), key=lambda s: s.created_at, reverse=True):
            if sbx.name == name and sbx.state != "destroyed":
                return sbx
        return None

    def next_run_event_id(self) -> str:
        with self.lock:
            self.run_events_seq += 1
            return f"evt_{self.run_events_seq:08d}"


def expires_at(seconds: Optional[float]) -> tuple[Optional[float], Optional[str]]:
    """(epoch, iso) of a lifetime in seconds from now; (None, None) for no expiry."""
    if seconds is None:
        return None, None
    epoch = time.time() + float(seconds)
    return epoch, iso(epoch)


def parse_duration(value: Any, name: str, default: Optional[float]) -> Optional[float]:
    from .httpcore import ApiError  # local: httpcore does not import state
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a positive number of seconds",
                       details={"field": name})
    return float(value)


__all__ = ["DEFAULT_TEMPLATE", "EventLog", "IdempotencyStore", "Sandbox", "State", "expires_at",
           "iso", "iso_in", "new_id", "now_iso", "parse_duration", "tenant_id_of"]
