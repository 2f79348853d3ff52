"""Scenarios: runtime-neutral scripts of what the model answers, kept as JSON data files.

A scenario is a list of steps. A *reply* step is one model response (text and/or abstract tool
calls). A *failure* step (``{"http_status": 500}``) or a *hang* step (``{"hang": true}``)
answers one attempt without producing a model response. Steps are grouped into *turns*: each
reply step closes a turn, and the failure steps before it are the attempts that precede it
(the CLI retries the same request). Failure steps after the last reply form a final turn that
never succeeds; its last step answers every further attempt.

The server picks the turn from the request's own conversation history (how many model
responses it already holds), so retries and side requests never advance the script; only the
attempt number within a turn is counted by the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ABSTRACT_TOOLS = {
    "shell": ("command",),
    "write_file": ("path", "content"),
    "edit_file": ("path", "old", "new"),
    "read_file": ("path",),
}


@dataclass(frozen=True)
class ToolCall:
    """An abstract tool call; each provider maps it to its CLI's real tool."""

    tool: str
    args: dict[str, Any]

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> "ToolCall":
        tool = raw.get("tool")
        if tool not in ABSTRACT_TOOLS:
            raise ValueError(f"unknown abstract tool {tool!r}; known: {sorted(ABSTRACT_TOOLS)}")
        args = {k: v for k, v in raw.items() if k != "tool"}
        missing = [k for k in ABSTRACT_TOOLS[tool] if k not in args]
        if missing:
            raise ValueError(f"tool {tool!r} needs {missing}")
        return cls(tool, args)


@dataclass(frozen=True)
class Reply:
    """One model response: text (streamed in the given chunks) then tool calls."""

    chunks: tuple[str, ...]
    tool_calls: tuple[ToolCall, ...]

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@dataclass(frozen=True)
class HttpFailure:
    status: int
    message: str
    retry_after: float | None


@dataclass(frozen=True)
class Hang:
    """The stream starts (text chunks sent) and then stalls until the client goes away."""

    chunks: tuple[str, ...]


Step = Reply | HttpFailure | Hang


@dataclass
class Turn:
    attempts: list[Step] = field(default_factory=list)

    def step(self, attempt: int) -> Step:
        return self.attempts[min(attempt, len(self.attempts) - 1)]


def _chunks(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,) if raw else ()
    return tuple(str(c) for c in raw)


def parse_step(raw: dict[str, Any]) -> Step:
    if "http_status" in raw:
        status = int(raw["http_status"])
        return HttpFailure(status, raw.get("message", f"scripted HTTP {status}"), raw.get("retry_after"))
    if raw.get("hang"):
        return Hang(_chunks(raw.get("text")))
    calls = tuple(ToolCall.parse(c) for c in raw.get("tool_calls", ()))
    chunks = _chunks(raw.get("text"))
    if not chunks and not calls:
        raise ValueError(f"a reply step needs text or tool_calls: {raw}")
    return Reply(chunks, calls)


@dataclass
class Scenario:
    name: str
    prompt: str
    description: str
    files: dict[str, str]
    turns: list[Turn]
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> "Scenario":
        raw = json.loads(Path(path).read_text())
        turns: list[Turn] = [Turn()]
        for step_raw in raw["steps"]:
            step = parse_step(step_raw)
            turns[-1].attempts.append(step)
            if isinstance(step, Reply):
                turns.append(Turn())
        if not turns[-1].attempts:
            turns.pop()
        return cls(
            name=raw.get("name", Path(path).stem),
            prompt=raw["prompt"],
            description=raw.get("description", ""),
            files=dict(raw.get("files", {})),
            turns=turns,
            raw=raw,
        )

    @property
    def abstract_tools(self) -> set[str]:
        """The abstract tools the scenario's replies call."""
        return {c.tool for t in self.turns for s in t.attempts if isinstance(s, Reply) for c in s.tool_calls}

    def step(self, position: int, attempt: int) -> Step:
        """What to answer for the model response number `position` (0-based), attempt `attempt`."""
        if position >= len(self.turns):
            return Reply(("(scenario finished)",), ())
        return self.turns[position].step(attempt)
