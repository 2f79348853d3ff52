"""Gemini API (Gemini CLI): models/M:streamGenerateContent?alt=sse, :generateContent, :countTokens.

Abstract tools map to the CLI's run_shell_command / write_file / replace / read_file; argument
names are taken from the function declarations the request carries (they have moved between
versions). Side requests (a JSON-schema answer such as the next-speaker check or the model
router) get a JSON object built from their schema.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .common import SIDE_REPLY, absolute, choose_step, count_model_turns, estimate_tokens, find_cwd, retry_headers
from .scenario import Hang, HttpFailure, Reply, ToolCall
from .server import Exchange

STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
                500: "INTERNAL", 503: "UNAVAILABLE"}


def _declarations(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for tool in body.get("tools") or []:
        for decl in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
            out[decl.get("name")] = decl
    return out


def _param(decl: dict[str, Any] | None, *candidates: str) -> str:
    schema = (decl or {}).get("parametersJsonSchema") or (decl or {}).get("parameters") or {}
    props = schema.get("properties") or {}
    for name in candidates:
        if name in props:
            return name
    return candidates[0]


def function_call(call: ToolCall, decls: dict[str, dict[str, Any]], cwd: str | None) -> tuple[str, dict[str, Any]]:
    a = call.args
    if call.tool == "shell":
        return "run_shell_command", {"command": a["command"], "description": a.get("description", "Run a command")}
    name = {"write_file": "write_file", "edit_file": "replace", "read_file": "read_file"}[call.tool]
    decl = decls.get(name)
    path_key = _param(decl, "file_path", "absolute_path", "path")
    args: dict[str, Any] = {path_key: absolute(a["path"], cwd) if path_key == "absolute_path" else a["path"]}
    if call.tool == "write_file":
        args["content"] = a["content"]
    elif call.tool == "edit_file":
        args["old_string"] = a["old"]
        args["new_string"] = a["new"]
        if "instruction" in ((decl or {}).get("parametersJsonSchema") or {}).get("required", []):
            args["instruction"] = f"Replace {a['old']!r} with {a['new']!r}"
    return name, args


def _from_schema(schema: dict[str, Any]) -> Any:
    """A small value that satisfies a JSON schema; for enums, prefer handing the turn to the user."""
    if "enum" in schema:
        values = schema["enum"]
        return "user" if "user" in values else values[0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _from_schema(v) for k, v in props.items()}
    if kind == "array":
        return []
    if kind == "boolean":
        return False
    if kind in ("number", "integer"):
        return 0
    return "scripted"


def _side_text(body: dict[str, Any]) -> str:
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema:
        return json.dumps(_from_schema(schema))
    return SIDE_REPLY


def _usage(body: Any, out_tokens: int) -> dict[str, int]:
    prompt = estimate_tokens(body.get("contents", []))
    return {"promptTokenCount": prompt, "candidatesTokenCount": out_tokens, "totalTokenCount": prompt + out_tokens}


def _chunk(parts: list[dict[str, Any]], model: str, resp_id: str, finish: str | None = None,
           usage: dict[str, int] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": resp_id}
    if usage:
        chunk["usageMetadata"] = usage
    return chunk


def model_call(ex: Exchange) -> None:
    assert ex.match is not None
    model, method = ex.match.group("model"), ex.match.group("method")
    body = ex.body or {}
    if method == "countTokens":
        ex.note(provider="gemini", kind="count_tokens")
        ex.reply_json(200, {"totalTokens": estimate_tokens(body.get("contents", []))})
        return
    if method not in ("streamGenerateContent", "generateContent"):
        ex.note(provider="gemini", kind="unknown")
        ex.reply_json(404, {"error": {"code": 404, "message": f"modelserver: no method {method}", "status": "NOT_FOUND"}})
        return

    decls = _declarations(body)
    position = count_model_turns(body.get("contents", []), lambda c: c.get("role") == "model")
    step = choose_step(ex, "gemini", position, main=bool(decls))
    resp_id = f"e2e{uuid.uuid4().hex[:20]}"

    if isinstance(step, HttpFailure):
        err = {"error": {"code": step.status, "message": step.message, "status": STATUS_NAMES.get(step.status, "UNKNOWN")}}
        ex.reply_json(step.status, err, retry_headers(step))
        return

    if not decls:
        text = _side_text(body)
        step = Reply((text,), ())

    cwd = find_cwd(body)
    ex.note(cwd=cwd)
    calls = [] if isinstance(step, Hang) else [function_call(c, decls, cwd) for c in step.tool_calls]
    call_parts = [{"functionCall": {"name": n, "args": a}} for n, a in calls]
    out_tokens = estimate_tokens([step.chunks, call_parts])

    if method == "generateContent":
        parts = ([{"text": "".join(step.chunks)}] if step.chunks else []) + call_parts
        ex.reply_json(200, _chunk(parts, model, resp_id, "STOP", _usage(body, out_tokens)))
        return

    ex.start_stream()
    for c in step.chunks:
        ex.sse(_chunk([{"text": c}], model, resp_id))
    if isinstance(step, Hang):
        ex.hang()
        return
    ex.sse(_chunk(call_parts, model, resp_id, "STOP", _usage(body, out_tokens)) if call_parts
           else _chunk([{"text": ""}], model, resp_id, "STOP", _usage(body, out_tokens)))


def list_models(ex: Exchange) -> None:
    ex.note(provider="gemini", kind="models")
    ex.reply_json(200, {"models": []})


ROUTES = [
    ("POST", r"/v1(?:beta|alpha)?/models/(?P<model>[^:/]+):(?P<method>[A-Za-z]+)", model_call),
    ("GET", r"/v1(?:beta|alpha)?/models", list_models),
]
