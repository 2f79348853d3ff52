"""OpenAI chat completions (OpenCode, through an "@ai-sdk/openai-compatible" provider):
POST /v1/chat/completions, streamed as SSE chunks ending with ``data: [DONE]``.

Abstract tools map to OpenCode's bash / write / edit / read; argument names are taken from the
tool schemas the request carries (camelCase ``filePath``, ``oldString`` in current versions).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .common import absolute, call_id, choose_step, count_model_turns, estimate_tokens, find_cwd, retry_headers
from .scenario import Hang, HttpFailure, ToolCall
from .server import Exchange


def _schemas(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for tool in body.get("tools") or []:
        fn = tool.get("function") or {}
        if fn.get("name"):
            out[fn["name"]] = (fn.get("parameters") or {}).get("properties") or {}
    return out


def _key(props: dict[str, Any], *candidates: str) -> str:
    for name in candidates:
        if name in props:
            return name
    return candidates[0]


def function_call(call: ToolCall, schemas: dict[str, dict[str, Any]], cwd: str | None) -> tuple[str, dict[str, Any]]:
    a = call.args
    if call.tool == "shell":
        if "bash" not in schemas and "terminal" in schemas:  # Hermes
            return "terminal", {"command": a["command"]}
        return "bash", {"command": a["command"], "description": a.get("description", "Run a command")}
    # Each CLI names its file tools its own way: OpenCode and Pi write/edit/read, Hermes
    # write_file/patch/read_file.
    candidates = {"write_file": ("write", "write_file"), "edit_file": ("edit", "patch"), "read_file": ("read", "read_file")}
    name = next((n for n in candidates[call.tool] if n in schemas), candidates[call.tool][0])
    props = schemas.get(name, {})
    if name == "patch":  # Hermes: replace mode
        return name, {"mode": "replace", "path": absolute(a["path"], cwd), "old_string": a["old"], "new_string": a["new"]}
    args: dict[str, Any] = {_key(props, "filePath", "file_path", "path"): absolute(a["path"], cwd)}
    if call.tool == "write_file":
        args["content"] = a["content"]
    elif call.tool == "edit_file" and "edits" in props:
        args["edits"] = [{"oldText": a["old"], "newText": a["new"]}]  # Pi: a list of replacements
    elif call.tool == "edit_file":
        args[_key(props, "oldString", "old_string")] = a["old"]
        args[_key(props, "newString", "new_string")] = a["new"]
    return name, args


def completions(ex: Exchange) -> None:
    body = ex.body or {}
    schemas = _schemas(body)
    position = count_model_turns(body.get("messages", []), lambda m: m.get("role") == "assistant")
    step = choose_step(ex, "chat", position, main=bool(schemas))
    model = body.get("model", "scripted")

    if isinstance(step, HttpFailure):
        kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
        err = {"error": {"message": step.message, "type": kind, "code": kind, "param": None}}
        ex.reply_json(step.status, err, retry_headers(step))
        return

    cwd = find_cwd(body)
    ex.note(cwd=cwd)
    calls = [] if isinstance(step, Hang) else [function_call(c, schemas, cwd) for c in step.tool_calls]
    cid = f"chatcmpl-e2e{uuid.uuid4().hex[:16]}"
    created = int(time.time())
    finish = "tool_calls" if calls else "stop"
    prompt_tokens = estimate_tokens(body.get("messages", []))
    out_tokens = estimate_tokens([step.chunks, calls])
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": out_tokens, "total_tokens": prompt_tokens + out_tokens}
    tool_calls = [{"id": call_id("call_e2e_", position, i), "type": "function",
                   "function": {"name": n, "arguments": json.dumps(a)}} for i, (n, a) in enumerate(calls)]

    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": "".join(step.chunks) or None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        ex.reply_json(200, {"id": cid, "object": "chat.completion", "created": created, "model": model,
                            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        return

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> None:
        ex.sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

    ex.start_stream()
    chunk({"role": "assistant", "content": ""})
    for c in step.chunks:
        chunk({"content": c})
    if isinstance(step, Hang):
        ex.hang()
        return
    for i, tc in enumerate(tool_calls):
        args = tc["function"]["arguments"]
        chunk({"tool_calls": [{"index": i, "id": tc["id"], "type": "function",
                               "function": {"name": tc["function"]["name"], "arguments": ""}}]})
        cut = max(1, len(args) // 2)
        for part in (args[:cut], args[cut:]):
            chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
    chunk({}, finish)
    ex.sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage})
    ex.sse("[DONE]")


ROUTES = [
    ("POST", r"/v1/chat/completions", completions),
    ("POST", r"/chat/completions", completions),
]
