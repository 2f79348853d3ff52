"""What every wire format shares: where in the script a request is, and side requests."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from .scenario import Hang, HttpFailure, Reply, Step
from .server import Exchange

SIDE_REPLY = "OK."

_CWD_PATTERNS = (
    re.compile(r"Primary working directory:\s*(/[^\s\"\\<]+)"),
    re.compile(r"Working directory:\s*(/[^\s\"\\<]+)"),
    re.compile(r"<cwd>\s*(/[^\s\"\\<]+)\s*</cwd>"),
    re.compile(r"current working directory(?: is|:)\s*[`'\"]?(/[^\s\"\\<`']+)", re.IGNORECASE),
)


def count_model_turns(items: Iterable[Any], is_model: Callable[[Any], bool]) -> int:
    """How many model responses a conversation already holds: runs of consecutive model items
    (a response may be several items: a message and its tool calls)."""
    turns = 0
    previous = False
    for item in items:
        model = is_model(item)
        if model and not previous:
            turns += 1
        previous = model
    return turns


def find_cwd(body: Any) -> str | None:
    """The CLI's working directory as its prompt states it, when we must send absolute paths."""
    text = json.dumps(body, ensure_ascii=False).replace("\\n", "\n")
    for pattern in _CWD_PATTERNS:
        m = pattern.search(text)
        if m:
            return m.group(1).rstrip(".,;")
    return None


def absolute(path: str, cwd: str | None) -> str:
    if path.startswith("/") or not cwd:
        return path
    return cwd.rstrip("/") + "/" + path


def pick_tool(offered: set[str], *candidates: str) -> str:
    """The first candidate tool name the CLI offered; the first candidate if none matches (the
    CLI will then report an unknown tool, which shows up in the transcript)."""
    for name in candidates:
        if name in offered:
            return name
    return candidates[0]


def choose_step(ex: Exchange, provider: str, position: int, main: bool) -> Step:
    """The scenario's answer for a main request; a short text for a side request."""
    if not main:
        ex.note(provider=provider, kind="side", position=position, step="side")
        return Reply((SIDE_REPLY,), ())
    attempt = ex.state.next_attempt(provider, position)
    step = ex.scenario.step(position, attempt)
    ex.note(provider=provider, kind="main", position=position, attempt=attempt, step=step_kind(step))
    return step


def step_kind(step: Step) -> str:
    if isinstance(step, HttpFailure):
        return f"http_{step.status}"
    if isinstance(step, Hang):
        return "hang"
    return "reply"


def retry_headers(step: HttpFailure) -> dict[str, str]:
    return {"retry-after": str(step.retry_after)} if step.retry_after is not None else {}


def call_id(prefix: str, position: int, index: int) -> str:
    return f"{prefix}{position:02d}{index:02d}"


def estimate_tokens(obj: Any) -> int:
    return max(1, len(json.dumps(obj, ensure_ascii=False)) // 4)

