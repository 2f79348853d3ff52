#!/usr/bin/env python3
"""Makes the transcript a stand-in writes: a recorded real one, its body repeated.

    python3 bench/sdk/transcript.py claude|codex LINES OUT

The recording is `command_fail_then_succeed` from tests/fixtures/runtimes/<runtime>/ (assistant
text, two Bash tool calls, one failing, and their results). Its opening lines (claude: the
`system`/`init` line; codex: `thread.started`, `turn.started`) are written once, then its body
(the 7 lines between) as many whole times as fit in LINES, then its closing line (claude's
`result`, codex's `turn.completed`). Tool-call ids are made unique per repetition (`toolu_..._r<k>`,
codex `item_<n>`), as a real long session has them. So OUT has at most LINES lines (whole
repetitions only, so that no tool call is left open).

Writes OUT.json beside it: what a consumer must receive, so a broken run cannot look fast:
  lines               lines in OUT (the SDKs yield one message per line)
  tool_started        tool calls started (runhost: `tool.started` events)
  tool_completed      tool calls completed (runhost: `tool.completed` events)
  assistant_messages  assistant text blocks / agent messages (runhost: `message`, role assistant)
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = "command_fail_then_succeed"
RUNTIME_DIR = {"claude": "claude-code", "codex": "codex"}
HEAD = {"claude": 1, "codex": 2}  # lines written once before the body


def load(runtime: str) -> list[str]:
    path = REPO / "tests" / "fixtures" / "runtimes" / RUNTIME_DIR[runtime] / f"{FIXTURE}.stdout.jsonl"
    return [line for line in path.read_text().splitlines() if line.strip()]


def expected(runtime: str, line: str, counts: dict[str, int]) -> None:
    obj = json.loads(line)
    if runtime == "claude":
        content = (obj.get("message") or {}).get("content")
        if not isinstance(content, list):
            return
        for block in content:
            kind = block.get("type")
            if obj.get("type") == "assistant" and kind == "text":
                counts["assistant_messages"] += 1
            elif obj.get("type") == "assistant" and kind == "tool_use":
                counts["tool_started"] += 1
            elif obj.get("type") == "user" and kind == "tool_result":
                counts["tool_completed"] += 1
    else:
        item = obj.get("item") or {}
        if item.get("type") == "agent_message" and obj["type"] == "item.completed":
            counts["assistant_messages"] += 1
        elif item.get("type") == "command_execution":
            if obj["type"] == "item.started":
                counts["tool_started"] += 1
            elif obj["type"] == "item.completed":
                counts["tool_completed"] += 1


def make(runtime: str, lines: int, out: pathlib.Path) -> dict[str, int]:
    rec = load(runtime)
    head, body, tail = rec[: HEAD[runtime]], rec[HEAD[runtime]:-1], rec[-1:]
    reps = (lines - len(head) - len(tail)) // len(body)
    if reps < 1:
        raise SystemExit(f"transcript.py: LINES must be at least {len(head) + len(body) + len(tail)}")
    counts = {"lines": 0, "tool_started": 0, "tool_completed": 0, "assistant_messages": 0}
    item = 0

    def renumber(m: re.Match[str]) -> str:
        nonlocal item
        # item ids come in started/completed pairs with the same id: map each recorded id once per
        # repetition
        key = m.group(1)
        if key not in ids:
            ids[key] = item
            item += 1
        return f'"id":"item_{ids[key]}"'

    with out.open("w") as f:
        def put(line: str) -> None:
            f.write(line)
            f.write("\n")
            counts["lines"] += 1
            expected(runtime, line, counts)

        for line in head:
            put(line)
        for k in range(reps):
            ids: dict[str, int] = {}
            for line in body:
                if runtime == "claude":
                    line = re.sub(r"(toolu_[A-Za-z0-9_]+)", rf"\1_r{k}", line)
                else:
                    line = re.sub(r'"id":"item_(\d+)"', renumber, line)
                put(line)
        for line in tail:
            put(line)
    counts["bytes"] = out.stat().st_size
    pathlib.Path(f"{out}.json").write_text(json.dumps(counts) + "\n")
    return counts


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in RUNTIME_DIR:
        raise SystemExit(__doc__)
    print(json.dumps(make(sys.argv[1], int(sys.argv[2]), pathlib.Path(sys.argv[3]))))


if __name__ == "__main__":
    main()
