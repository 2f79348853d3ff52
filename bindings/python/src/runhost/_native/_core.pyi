# Types of the extension module (ext/module.cpp). Internal: the runhost package is the API,
# except EventStream, which it re-exports as runhost.EventStream.
from types import TracebackType
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

from .._types import Event

def error_codes() -> List[Tuple[str, bool, str]]: ...
def default_store_path() -> str: ...
def bundled_plugin_dir() -> str: ...

class EventStream:
    """A run's events from a cursor to its terminal event, read from the store; blocking.

    ``for ev in stream`` waits for new events with the GIL released; Ctrl-C interrupts the wait
    (within ~50 ms) without losing an event. Ends after ``run.completed``, ``run.failed`` or
    ``run.cancelled``. Iterating it again after it ended raises ``StreamConsumedError``; one
    thread at a time may iterate it. ``close()`` (or ``with``) stops following the run.
    """

    @property
    def run_id(self) -> str: ...
    @property
    def cursor(self) -> int:
        """The seq of the last event returned (``after`` at first)."""
    @property
    def ended(self) -> bool: ...
    def __iter__(self) -> EventStream: ...
    def __next__(self) -> Event: ...
    def fileno(self) -> int:
        """An eventfd that becomes readable when new events may be there (for event loops)."""
    def close(self) -> None: ...
    def __enter__(self) -> EventStream: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None: ...
    def _next(self, timeout: float) -> Optional[Event]: ...
    def _take(self, max: int) -> Optional[List[Event]]: ...
    def _check_iterable(self) -> None: ...

class Host:
    def __init__(
        self,
        store: str,
        plugin_dirs: List[str],
        use_environment: bool,
        use_bundled: bool,
        workspace_root: str,
        plugin_config: Mapping[str, str],
        default_timeout_seconds: int,
        durable: bool,
        keep_raw: bool,
        max_output_bytes: int,
        artifact_patterns: List[str],
        approval_timeout_seconds: int,
        limits: str,
        miosa: Mapping[str, str],  # base_url, api_key, tenant, template_id
    ) -> None: ...
    # `scope`: the acting tenant (runhost.TenantView), or None for the operator (every tenant).
    def dispatch(self, json: str, scope: Optional[str]) -> Tuple[Dict[str, Any], bool]: ...
    def cancel(self, run_id: str, scope: Optional[str]) -> None: ...
    # `approval_scope`: what the answer covers ("once" or "run"); `by`: who answers ("" names nobody).
    def answer_approval(
        self, run_id: str, approval_id: str, allow: bool, approval_scope: str, reason: str, by: str, scope: Optional[str]
    ) -> None: ...
    def pending_approvals(self, scope: Optional[str]) -> List[Dict[str, Any]]: ...
    # A grant's record as a dict (GrantInfo: never the secret; metadata as JSON text).
    def add_grant(
        self,
        tenant_id: str,
        user_id: str,
        connector: str,
        code: Optional[str],
        secret_json: Optional[str],
        scopes: List[str],
        expires_in_s: Optional[int],
        metadata_json: str,
        scope: Optional[str],
    ) -> Dict[str, Any]: ...
    def grants(
        self,
        tenant_id: Optional[str],
        user_id: Optional[str],
        connector: Optional[str],
        include_inactive: bool,
        limit: int,
        scope: Optional[str],
    ) -> List[Dict[str, Any]]: ...
    def revoke_grant(self, grant_id: str, scope: Optional[str]) -> None: ...
    # Per usage source, most spent first: {source, cost_usd, input_tokens, output_tokens,
    # cached_input_tokens, events}. Times in microseconds since the epoch; 0: unbounded.
    def usage(
        self,
        tenant_id: Optional[str],
        user_id: Optional[str],
        workspace_id: Optional[str],
        run_id: Optional[str],
        since_us: int,
        until_us: int,
        scope: Optional[str],
    ) -> List[Dict[str, Any]]: ...
    def run(self, run_id: str, scope: Optional[str]) -> Optional[Dict[str, Any]]: ...
    def info(self, run_id: str, scope: Optional[str]) -> Dict[str, Any]: ...
    def runs(self, tenant_id: Optional[str], status: Optional[str], limit: int, scope: Optional[str]) -> List[Dict[str, Any]]: ...
    def events(self, run_id: str, after: int, limit: int, scope: Optional[str]) -> List[Event]: ...
    def stream(self, run_id: str, after: int, scope: Optional[str]) -> EventStream: ...
    def plugins(self) -> Tuple[List[Dict[str, Any]], List[Tuple[str, str]], List[str]]: ...
    def store_path(self) -> str: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
