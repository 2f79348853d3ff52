#!/usr/bin/env python3
"""Record the codex transcripts in this directory (tests/runtimes/transcripts/codex/) from the real CLI.

tests/e2e/record.py records the shared scenarios (tests/fixtures/runtimes/codex/); these are the
cases the codex adapter needs beyond them: model API failures (401, 5xx, quota, usage limit,
context window, an unknown model, a missing API key), every item type the model server can make
codex print (reasoning, web search, MCP tool calls, patches that add/update/delete files, one
outside the working directory, a failing command with stderr), a config warning, the read-only
sandbox, resuming a thread and resuming one that does not exist. Each run is launched exactly as
the adapter launches it: `codex exec --json --skip-git-repo-check ... -` with the prompt on stdin.
The model is a tiny scripted OpenAI Responses server on loopback; output is stored verbatim but
for the port ({PORT}).

    python3 tests/runtimes/transcripts/codex/record_codex.py            # all
    python3 tests/runtimes/transcripts/codex/record_codex.py api_401    # one

Needs the CLI from scripts/install-runtimes (tools/runtimes/node_modules/.bin/codex).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
CODEX = REPO / "tools" / "runtimes" / "node_modules" / ".bin" / "codex"
OUT = HERE
# Not under /tmp: codex refuses a CODEX_HOME there.
WORK_ROOT = Path(os.environ.get("RUNHOST_TRANSCRIPT_WORK_ROOT", "/var/tmp/runhost-codex-transcripts"))
KEY = "sk-codex-test-not-a-real-key"

# A minimal MCP server (stdio, newline-delimited JSON-RPC) with one tool, `lookup`.
MCP_SERVER = r'''
import json, sys
for raw in sys.stdin:
    try:
        msg = json.loads(raw)
    except ValueError:
        continue
    method, rid = msg.get("method"), msg.get("id")
    if rid is None:
        continue
    if method == "initialize":
        result = {"protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "notes", "version": "1.0.0"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "lookup", "description": "Look a note up by key.",
                             "annotations": {"readOnlyHint": True},
                             "inputSchema": {"type": "object", "properties": {"key": {"type": "string"}},
                                             "required": ["key"]}}]}
    elif method == "tools/call":
        key = (msg["params"].get("arguments") or {}).get("key", "")
        if key == "missing":
            result = {"content": [{"type": "text", "text": "no note named missing"}], "isError": True}
        else:
            result = {"content": [{"type": "text", "text": "note " + key + ": buy milk"}]}
    elif method == "ping":
        result = {}
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "no such method"}}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}) + "\n")
    sys.stdout.flush()
'''


def text(t):
    return {"kind": "text", "text": t}


def reasoning(t):
    return {"kind": "reasoning", "text": t}


def shell(cmd):
    return {"kind": "call", "name": "exec_command", "args": {"cmd": cmd}}


def call(name, args, namespace=None):
    return {"kind": "call", "name": name, "args": args, "namespace": namespace}


def tool_search(query):
    """The model searches codex's deferred tools (MCP tools are found this way)."""
    return {"kind": "raw", "item": {"type": "tool_search_call", "call_id": "search_1", "execution": "client",
                                    "arguments": {"query": query, "limit": 2}}}


def patch(body):
    return {"kind": "patch", "input": "*** Begin Patch\n" + body + "*** End Patch\n"}


def web_search(query):
    return {"kind": "web_search", "query": query}


def http_error(status, message, kind, code=None, headers=None):
    return {"status": status, "body": {"error": {"message": message, "type": kind, "code": code, "param": None}},
            "headers": headers or {}}


def stream_failure(code, message):
    return {"fail": {"code": code, "message": message}}


# name: {"steps": one per main-loop model request (the last repeats), "prompt", and optional
# "flags" (argv before the prompt), "resume" (a scenario whose thread to resume, or an id),
# "files" (seeded into the work dir), "config" (appended to config.toml), "env" (overrides)}
SCENARIOS = {
    "api_401": {"steps": [http_error(401, "Incorrect API key provided: sk-codex***.", "invalid_request_error", "invalid_api_key")],
                "prompt": "Say hello."},
    "api_500": {"steps": [http_error(500, "The server had an error while processing your request.", "server_error")],
                "prompt": "Say hello."},
    "api_quota": {"steps": [http_error(429, "You exceeded your current quota, please check your plan and billing details.",
                                       "insufficient_quota", "insufficient_quota")],
                  "prompt": "Say hello."},
    "api_usage_limit": {"steps": [http_error(429, "The usage limit has been reached", "usage_limit_reached")],
                        "prompt": "Say hello."},
    "api_unknown_model": {"steps": [http_error(400, "The requested model 'gpt-nope' does not exist.",
                                               "invalid_request_error", "model_not_found")],
                          "prompt": "Say hello.", "flags": ["-m", "gpt-nope"]},
    "context_window": {"steps": [stream_failure("context_length_exceeded",
                                                "Your input exceeds the context window of this model.")],
                       "prompt": "Summarise everything."},
    "missing_api_key": {"steps": [{"items": [text("unreachable")]}], "prompt": "Say hello.",
                        "env": {"RUNHOST_E2E_API_KEY": None}},
    "items_tour": {
        "prompt": "-x starts with a dash\nand spans lines: tidy the project, ünïcode too",
        "flags": ["--sandbox", "workspace-write"],
        "files": {"old.txt": "obsolete\n", "README.md": "# Demo\nversion 1\n"},
        "steps": [
            {"items": [reasoning("The user wants the project tidied. First look around."),
                       text("Let me look around first."), shell("ls; echo oops >&2; exit 3")]},
            {"items": [web_search("codex exec json output"), text("Now the files."),
                       patch("*** Add File: notes/new.txt\n+fresh\n*** Update File: README.md\n@@\n-version 1\n+version 2\n"
                             "*** Delete File: old.txt\n")]},
            {"items": [text("Tidied: notes/new.txt added, README.md bumped, old.txt removed.")]},
        ]},
    "full_access": {
        "prompt": "Rename a.txt to b.txt and write a file outside the project.",
        "flags": ["--sandbox", "danger-full-access"],
        "files": {"a.txt": "alpha\n"},
        "steps": [
            {"items": [patch("*** Update File: a.txt\n*** Move to: b.txt\n@@\n-alpha\n+beta\n")]},
            {"items": [patch("*** Add File: {OUTSIDE}\n+outside the work dir\n")]},
            {"items": [text("Renamed a.txt to b.txt and wrote a file outside the project.")]},
        ]},
    "retry_then_success": {"steps": [http_error(500, "The server had an error while processing your request.", "server_error"),
                                     {"items": [text("Hello after a retry.")]}],
                           "prompt": "Say hello."},
    "config_warning": {"steps": [{"items": [text("Hello.")]}], "prompt": "Say hello.",
                       "config": "[features]\nweb_search_request = true\n"},
    "mcp_tool": {
        "prompt": "Look up the shopping note.",
        "config": "[mcp_servers.notes]\ncommand = \"python3\"\nargs = [\"{HOME}/mcp_notes.py\"]\n",
        "steps": [
            {"items": [text("Looking it up."), tool_search("notes lookup")]},
            {"items": [call("lookup", {"key": "shopping"}, "mcp__notes")]},
            {"items": [call("lookup", {"key": "missing"}, "mcp__notes")]},
            {"items": [text("The shopping note says: buy milk.")]},
        ]},
    "read_only": {
        "prompt": "Write a file.", "flags": ["--sandbox", "read-only"],
        "steps": [
            {"items": [shell("echo hi > out.txt")]},
            {"items": [patch("*** Add File: out.txt\n+hi\n")]},
            {"items": [text("The sandbox is read-only, so I could not write out.txt.")]},
        ]},
    "resume_first": {"steps": [{"items": [text("First answer.")]}], "prompt": "Remember the word kiwi."},
    "resume": {"steps": [{"items": [text("The word was kiwi.")]}], "prompt": "Which word?", "resume": "resume_first"},
    "resume_missing": {"steps": [{"items": [text("unreachable")]}], "prompt": "Go on.",
                       "resume": "00000000-1111-2222-3333-444444444444"},
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_handler(steps, subst, log):
    state = {"n": 0, "ids": 0}
    lock = threading.Lock()

    def new_id(prefix):
        """Deterministic ids, so that recording again changes no golden but for codex's own ids."""
        with lock:
            state["ids"] += 1
            return f"{prefix}{state['ids']:012d}"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            self.reply_json(404, {"error": {"message": "not found"}})

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)) or 0)
            try:
                request = json.loads(body or b"{}")
            except ValueError:
                request = {}
            log.append({"path": self.path, "request": request})
            if not self.path.startswith("/v1/responses"):
                return self.reply_json(404, {"error": {"message": "not found"}})
            if not request.get("tools"):  # side requests (titles, compaction...): not part of the script
                return self.stream({"items": [text("ok")]}, request)
            with lock:
                step = steps[min(state["n"], len(steps) - 1)]
                state["n"] += 1
            if "status" in step:
                return self.reply_json(step["status"], step["body"], step.get("headers"))
            return self.stream(step, request)

        def reply_json(self, status, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("x-request-id", "req_scripted_%d" % status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def stream(self, step, request):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("x-request-id", "req_scripted_stream")
            self.send_header("connection", "close")
            self.end_headers()
            seq = [0]

            def event(kind, **fields):
                data = {"type": kind, "sequence_number": seq[0], **fields}
                seq[0] += 1
                self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

            rid = new_id("resp_")
            base = {"id": rid, "object": "response", "model": request.get("model", "gpt-scripted")}
            event("response.created", response={**base, "status": "in_progress", "output": []})
            if "fail" in step:
                event("response.failed", response={**base, "status": "failed", "output": [],
                                                   "error": step["fail"]})
                self.wfile.flush()
                self.close_connection = True
                return
            output = []
            for spec in step["items"]:
                index = len(output)
                kind = spec["kind"]
                if kind == "text":
                    item = {"type": "message", "id": new_id("msg_"), "role": "assistant", "status": "completed",
                            "content": [{"type": "output_text", "text": spec["text"], "annotations": []}]}
                elif kind == "reasoning":
                    item = {"type": "reasoning", "id": new_id("rs_"),
                            "summary": [{"type": "summary_text", "text": spec["text"]}]}
                elif kind == "call":
                    args = json.loads(subst(json.dumps(spec["args"])))
                    item = {"type": "function_call", "id": new_id("fc_"), "status": "completed",
                            "call_id": new_id("call_"), "name": spec["name"], "arguments": json.dumps(args)}
                    if spec.get("namespace"):
                        item["namespace"] = spec["namespace"]
                elif kind == "patch":
                    item = {"type": "custom_tool_call", "id": new_id("ctc_"), "status": "completed",
                            "call_id": new_id("call_"), "name": "apply_patch", "input": subst(spec["input"])}
                elif kind == "raw":
                    item = spec["item"]
                elif kind == "web_search":
                    item = {"type": "web_search_call", "id": new_id("ws_"), "status": "completed",
                            "action": {"type": "search", "query": spec["query"]}}
                else:
                    raise ValueError(kind)
                event("response.output_item.added", output_index=index, item=item)
                event("response.output_item.done", output_index=index, item=item)
                output.append(item)
            usage = {"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 200},
                     "output_tokens": 80, "output_tokens_details": {"reasoning_tokens": 16}, "total_tokens": 1280}
            event("response.completed", response={**base, "status": "completed", "output": output, "usage": usage})
            self.wfile.flush()
            self.close_connection = True

    return Handler


def codex_env(home: Path, port: int, overrides: dict) -> dict:
    env = {"PATH": f"{CODEX.parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "NO_COLOR": "1", "TERM": "dumb", "CODEX_HOME": str(home / ".codex"), "TMPDIR": str(home / "tmp"),
           "RUNHOST_E2E_API_KEY": KEY}
    for k, v in overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def write_config(home: Path, port: int, extra: str) -> None:
    (home / ".codex").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    (home / "mcp_notes.py").write_text(MCP_SERVER)
    config = f"""model = "gpt-5.5"
model_provider = "scripted"
check_for_update_on_startup = false

[model_providers.scripted]
name = "runhost scripted model server"
base_url = "http://127.0.0.1:{port}/v1"
wire_api = "responses"
env_key = "RUNHOST_E2E_API_KEY"
request_max_retries = 1
stream_max_retries = 1

[analytics]
enabled = false
"""
    (home / ".codex" / "config.toml").write_text(config + extra.replace("{HOME}", str(home)))


def thread_id_of(name: str) -> str:
    for line in (OUT / f"{name}.stdout.jsonl").read_text().splitlines():
        doc = json.loads(line)
        if doc.get("type") == "thread.started":
            return doc["thread_id"]
    raise SystemExit(f"{name} has no thread.started line: record it first")


def record(name):
    sc = SCENARIOS[name]
    resume = sc.get("resume")
    # A resumed thread lives in the CODEX_HOME of the run that started it.
    base = WORK_ROOT / (resume if resume in SCENARIOS else name)
    if not (resume in SCENARIOS):
        shutil.rmtree(base, ignore_errors=True)
    work, home = base / "work", base / "home"
    work.mkdir(parents=True, exist_ok=True)
    outside = WORK_ROOT / "outside" / f"{name}.txt"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.unlink(missing_ok=True)
    for rel, content in sc.get("files", {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content)

    def subst(s: str) -> str:
        return s.replace("{WORK}", str(work)).replace("{OUTSIDE}", str(outside))

    log: list = []
    server = Server(("127.0.0.1", 0), make_handler(sc["steps"], subst, log))
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    write_config(home, port, sc.get("config", ""))
    env = codex_env(home, port, sc.get("env", {}))
    # As the adapter launches it: options, then "-" (the prompt is read from stdin).
    argv = [str(CODEX), "exec", "--json", "--skip-git-repo-check", *sc.get("flags", [])]
    if resume:
        argv += ["resume", "--", thread_id_of(resume) if resume in SCENARIOS else resume]
    argv.append("-")
    done = subprocess.run(argv, input=sc["prompt"].encode(), capture_output=True, cwd=work, env=env, timeout=180)
    server.shutdown()
    version = subprocess.run([str(CODEX), "--version"], capture_output=True, text=True, env=env).stdout.strip()

    def scrub(data: bytes) -> bytes:
        out = data.replace(f"127.0.0.1:{port}".encode(), b"127.0.0.1:{PORT}")
        assert KEY.encode() not in out, "the API key leaked into the output"
        return out

    # What the model server saw of the prompt: proof that it arrived intact.
    received = None
    for entry in log:
        for item in entry["request"].get("input") or []:
            if isinstance(item, dict) and item.get("role") == "user":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and part.get("text") == sc["prompt"]:
                        received = True
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.stdout.jsonl").write_bytes(scrub(done.stdout))
    (OUT / f"{name}.stderr.txt").write_bytes(scrub(done.stderr))
    meta = {"runtime": "codex", "scenario": name, "cli_version": version,
            "recorded_by": "tests/runtimes/transcripts/codex/record_codex.py", "argv": argv[1:], "stdin": sc["prompt"],
            "cwd": str(work), "exit": {"code": done.returncode, "signal": None}, "killed": None, "timed_out": False,
            "prompt_received_intact": bool(received), "main_requests": sum(1 for e in log if e["request"].get("tools"))}
    (OUT / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    lines = done.stdout.count(b"\n")
    print(f"{name}: exit {done.returncode}, {lines} lines, prompt intact: {bool(received)}")


if __name__ == "__main__":
    for scenario in sys.argv[1:] or SCENARIOS:
        record(scenario)
