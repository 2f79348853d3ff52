"""Anthropic Messages API (Claude Code): POST /v1/messages, streamed as SSE, and count_tokens.

Abstract tools map to Claude Code's Bash / Write / Edit / Read, whose paths must be absolute:
the working directory is read from the system prompt.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .common import absolute, call_id, choose_step, count_model_turns, estimate_tokens, find_cwd, pick_tool, retry_headers
from .scenario import Hang, HttpFailure, Reply, ToolCall
from .server import Exchange

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}


def tool_use(call: ToolCall, offered: set[str], cwd: str | None) -> tuple[str, dict[str, Any]]:
    a = call.args
    if call.tool == "shell":
        return pick_tool(offered, "Bash"), {"command": a["command"], "description": a.get("description", "Run a command")}
    if call.tool == "write_file":
        return pick_tool(offered, "Write"), {"file_path": absolute(a["path"], cwd), "content": a["content"]}
    if call.tool == "edit_file":
        return pick_tool(offered, "Edit"), {"file_path": absolute(a["path"], cwd), "old_string": a["old"], "new_string": a["new"]}
    return pick_tool(offered, "Read"), {"file_path": absolute(a["path"], cwd)}


def _usage(body: Any, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": estimate_tokens(body.get("messages", [])), "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def _content(reply: Reply, position: int, offered: set[str], cwd: str | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.chunks:
        blocks.append({"type": "text", "text": reply.text})
    for i, call in enumerate(reply.tool_calls):
        name, args = tool_use(call, offered, cwd)
        blocks.append({"type": "tool_use", "id": call_id("toolu_e2e_", position, i), "name": name, "input": args})
    return blocks


def messages(ex: Exchange) -> None:
    body = ex.body or {}
    offered = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    position = count_model_turns(body.get("messages", []), lambda m: m.get("role") == "assistant")
    step = choose_step(ex, "anthropic", position, main=bool(offered))
    model = body.get("model", "claude-scripted")

    if isinstance(step, HttpFailure):
        err = {"type": "error", "error": {"type": ERROR_TYPES.get(step.status, "api_error"), "message": step.message}}
        ex.reply_json(step.status, err, {"request-id": f"req_e2e_{uuid.uuid4().hex[:12]}", **retry_headers(step)})
        return

    cwd = find_cwd(body)
    ex.note(cwd=cwd)
    msg_id = f"msg_e2e_{uuid.uuid4().hex[:16]}"
    chunks = step.chunks
    blocks = [] if isinstance(step, Hang) else _content(step, position, offered, cwd)
    stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    out_tokens = estimate_tokens(blocks) if blocks else 1

    if not body.get("stream"):
        ex.reply_json(200, {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": blocks,
                            "stop_reason": stop_reason, "stop_sequence": None, "usage": _usage(body, out_tokens)})
        return

    ex.start_stream(headers={"request-id": f"req_e2e_{uuid.uuid4().hex[:12]}"})
    start = {"id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": _usage(body, 1)}
    ex.sse({"type": "message_start", "message": start}, "message_start")
    ex.sse({"type": "ping"}, "ping")
    index = 0
    if chunks:
        ex.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}, "content_block_start")
        for c in chunks:
            ex.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": c}}, "content_block_delta")
        if isinstance(step, Hang):
            ex.hang()
            return
        ex.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        index = 1
    elif isinstance(step, Hang):
        ex.hang()
        return
    for block in blocks:
        if block["type"] != "tool_use":
            continue
        ex.sse({"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}, "content_block_start")
        args = json.dumps(block["input"])
        cut = max(1, len(args) // 2)
        for part in (args[:cut], args[cut:]):
            ex.sse({"type": "content_block_delta", "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": part}}, "content_block_delta")
        ex.sse({"type": "content_block_stop", "index": index}, "content_block_stop")
        index += 1
    ex.sse({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": out_tokens}}, "message_delta")
    ex.sse({"type": "message_stop"}, "message_stop")


def count_tokens(ex: Exchange) -> None:
    ex.note(provider="anthropic", kind="count_tokens")
    ex.reply_json(200, {"input_tokens": estimate_tokens((ex.body or {}).get("messages", []))})


ROUTES = [
    ("POST", r"/v1/messages", messages),
    ("POST", r"/v1/messages/count_tokens", count_tokens),
]
