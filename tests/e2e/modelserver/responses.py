"""OpenAI Responses API (Codex): POST /v1/responses, streamed as SSE.

Codex offers its shell as ``exec_command`` (``{"cmd": ...}``; older builds: ``shell`` with an
argv) and edits files only through ``apply_patch`` (a freeform "custom" tool whose input is
the patch text, or a function tool with ``{"input": patch}``). It has no read tool: reading a
file is ``cat`` through the shell.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .common import call_id, choose_step, count_model_turns, estimate_tokens, pick_tool, retry_headers
from .scenario import Hang, HttpFailure, ToolCall
from .server import Exchange

MODEL_ITEM_TYPES = {"function_call", "custom_tool_call", "local_shell_call", "reasoning", "web_search_call"}


def _is_model_item(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    if item.get("type") in MODEL_ITEM_TYPES:
        return True
    return item.get("type", "message") == "message" and item.get("role") == "assistant"


def _patch_lines(prefix: str, text: str) -> list[str]:
    return [prefix + line for line in text.splitlines()] or [prefix]


def make_patch(call: ToolCall) -> str:
    a = call.args
    if call.tool == "write_file":
        body = [f"*** Add File: {a['path']}", *_patch_lines("+", a["content"])]
    else:
        body = [f"*** Update File: {a['path']}", "@@", *_patch_lines("-", a["old"]), *_patch_lines("+", a["new"])]
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


def _tools(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t.get("name"): t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")}


def tool_item(call: ToolCall, tools: dict[str, dict[str, Any]], cid: str) -> dict[str, Any]:
    """The output item for one abstract call: a function_call or a custom_tool_call."""
    if call.tool in ("write_file", "edit_file"):
        patch = make_patch(call)
        tool = tools.get("apply_patch", {"type": "custom"})
        if tool.get("type") == "custom":
            return {"type": "custom_tool_call", "call_id": cid, "name": "apply_patch", "input": patch}
        return {"type": "function_call", "call_id": cid, "name": "apply_patch", "arguments": json.dumps({"input": patch})}
    command = call.args["command"] if call.tool == "shell" else f"cat {call.args['path']}"
    name = pick_tool(set(tools), "exec_command", "shell", "local_shell")
    if name == "shell":
        args: dict[str, Any] = {"command": ["bash", "-lc", command]}
    else:
        args = {"cmd": command}
    return {"type": "function_call", "call_id": cid, "name": name, "arguments": json.dumps(args)}


class _Stream:
    def __init__(self, ex: Exchange):
        self.ex = ex
        self.seq = 0

    def send(self, kind: str, **fields: Any) -> None:
        self.ex.sse({"type": kind, "sequence_number": self.seq, **fields}, kind)
        self.seq += 1


def responses(ex: Exchange) -> None:
    body = ex.body or {}
    tools = _tools(body)
    items = body.get("input") or []
    position = count_model_turns(items if isinstance(items, list) else [], _is_model_item)
    step = choose_step(ex, "responses", position, main=bool(tools))
    model = body.get("model", "gpt-scripted")

    if isinstance(step, HttpFailure):
        kind = "rate_limit_exceeded" if step.status == 429 else "server_error"
        err = {"error": {"message": step.message, "type": kind, "code": kind, "param": None}}
        ex.reply_json(step.status, err, {"x-request-id": f"req_e2e_{uuid.uuid4().hex[:12]}", **retry_headers(step)})
        return

    resp_id = f"resp_e2e_{uuid.uuid4().hex[:16]}"
    base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model}
    ex.start_stream(headers={"x-request-id": f"req_e2e_{uuid.uuid4().hex[:12]}"})
    s = _Stream(ex)
    s.send("response.created", response={**base, "status": "in_progress", "output": []})
    s.send("response.in_progress", response={**base, "status": "in_progress", "output": []})

    output: list[dict[str, Any]] = []
    if step.chunks:
        msg_id = f"msg_e2e_{uuid.uuid4().hex[:16]}"
        index = len(output)
        s.send("response.output_item.added", output_index=index,
               item={"type": "message", "id": msg_id, "role": "assistant", "status": "in_progress", "content": []})
        s.send("response.content_part.added", item_id=msg_id, output_index=index, content_index=0,
               part={"type": "output_text", "text": "", "annotations": []})
        for c in step.chunks:
            s.send("response.output_text.delta", item_id=msg_id, output_index=index, content_index=0, delta=c)
        if isinstance(step, Hang):
            ex.hang()
            return
        text = "".join(step.chunks)
        part = {"type": "output_text", "text": text, "annotations": []}
        s.send("response.output_text.done", item_id=msg_id, output_index=index, content_index=0, text=text)
        s.send("response.content_part.done", item_id=msg_id, output_index=index, content_index=0, part=part)
        item = {"type": "message", "id": msg_id, "role": "assistant", "status": "completed", "content": [part]}
        s.send("response.output_item.done", output_index=index, item=item)
        output.append(item)
    elif isinstance(step, Hang):
        ex.hang()
        return

    for i, call in enumerate(step.tool_calls):
        item = {"id": f"fc_e2e_{uuid.uuid4().hex[:16]}", **tool_item(call, tools, call_id("call_e2e_", position, i))}
        index = len(output)
        if item["type"] == "function_call":
            s.send("response.output_item.added", output_index=index, item={**item, "arguments": "", "status": "in_progress"})
            s.send("response.function_call_arguments.delta", item_id=item["id"], output_index=index, delta=item["arguments"])
            s.send("response.function_call_arguments.done", item_id=item["id"], output_index=index, arguments=item["arguments"])
        else:
            s.send("response.output_item.added", output_index=index, item={**item, "input": "", "status": "in_progress"})
            s.send("response.custom_tool_call_input.delta", item_id=item["id"], output_index=index, delta=item["input"])
            s.send("response.custom_tool_call_input.done", item_id=item["id"], output_index=index, input=item["input"])
        item["status"] = "completed"
        s.send("response.output_item.done", output_index=index, item=item)
        output.append(item)

    in_tokens = estimate_tokens(items)
    out_tokens = estimate_tokens(output)
    usage = {"input_tokens": in_tokens, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": out_tokens, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": in_tokens + out_tokens}
    s.send("response.completed", response={**base, "status": "completed", "output": output, "usage": usage})


def models(ex: Exchange) -> None:
    ex.note(provider="responses", kind="models")
    ex.reply_json(200, {"object": "list", "data": [{"id": "gpt-scripted", "object": "model", "owned_by": "e2e"}], "models": []})


ROUTES = [
    ("POST", r"/v1/responses", responses),
    ("GET", r"/v1/models", models),
]
