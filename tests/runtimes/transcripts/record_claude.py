#!/usr/bin/env python3
"""Record the claude-code transcripts in this directory from the real CLI.

tests/e2e/record.py records the shared scenarios (tests/fixtures/runtimes/); these are the cases
the claude-code adapter needs beyond them: model API failures (401, 529, billing), the turn and
budget limits, partial messages, resuming a session that does not exist, permission denials, a
failing Bash command with its exit code, and the prompt on stdin as the adapter sends it
(--input-format stream-json). Each is the real CLI's output against a tiny scripted Anthropic
Messages server on loopback, stored verbatim but for the port ({PORT}).

    python3 tests/runtimes/transcripts/record_claude.py            # all
    python3 tests/runtimes/transcripts/record_claude.py api_401    # one

Needs the CLI from scripts/install-runtimes (tools/runtimes/node_modules/.bin/claude).
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
REPO = HERE.parents[2]
CLAUDE = REPO / "tools" / "runtimes" / "node_modules" / ".bin" / "claude"
OUT = HERE / "claude-code"
WORK_ROOT = Path(os.environ.get("RUNHOST_TRANSCRIPT_WORK_ROOT", "/var/tmp/runhost-claude-transcripts"))
KEY = "sk-ant-test-not-a-real-key"

def text(t): return {"type": "text", "text": t}
def thinking(t): return {"type": "thinking", "thinking": t}
def tool(id_, name, input_): return {"type": "tool_use", "id": id_, "name": name, "input": input_}
def error(status, kind, message): return {"status": status, "body": {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_scripted"}}

# name: (steps the model server plays, one per main-loop request; extra CLI flags; prompt)
SCENARIOS = {
    "api_401": ([error(401, "authentication_error", "invalid x-api-key")], [], "Say hello."),
    "api_529": ([error(529, "overloaded_error", "Overloaded")], [], "Say hello."),
    "api_billing": ([error(400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API.")], [], "Say hello."),
    "max_turns": ([{"blocks": [tool("toolu_T1", "Bash", {"command": "echo one"})]},
                   {"blocks": [tool("toolu_T2", "Bash", {"command": "echo two"})]},
                   {"blocks": [text("never reached")]}],
                  ["--allowedTools", "Bash", "--max-turns", "1"], "Run two commands."),
    "max_budget": ([{"blocks": [tool("toolu_B1", "Bash", {"command": "echo spend"})]},
                    {"blocks": [text("never reached")]}],
                   ["--allowedTools", "Bash", "--max-budget-usd", "0.0001"], "Spend a little."),
    "partial_messages": ([{"blocks": [thinking("The user wants a greeting."), text("Hello there!")]}],
                         ["--include-partial-messages"], "Greet me."),
    "resume_missing": ([{"blocks": [text("unused")]}], ["--resume=00000000-1111-2222-3333-444444444444"], "Go on."),
    "permission_denied": ([{"blocks": [tool("toolu_P1", "Write", {"file_path": "{WORK}/blocked.txt", "content": "no\n"})]},
                           {"blocks": [text("I could not write the file.")]}],
                          [], "Write blocked.txt."),
    "bash_exit_code": ([{"blocks": [thinking("Run it, then write and edit a file."), text("Running it."),
                                    tool("toolu_X1", "Bash", {"command": "echo out; echo err >&2; exit 3", "description": "fail on purpose"})]},
                        {"blocks": [tool("toolu_X2", "Write", {"file_path": "{WORK}/notes/hello.txt", "content": "hi\n"})]},
                        {"blocks": [tool("toolu_X3", "Edit", {"file_path": "{WORK}/notes/hello.txt", "old_string": "hi", "new_string": "hello"})]},
                        {"blocks": [tool("toolu_X4", "Write", {"file_path": "/var/tmp/runhost-outside.txt", "content": "outside\n"})]},
                        {"blocks": [tool("toolu_X5", "Bash", {"command": "cat notes/hello.txt; printf 'a\\nb\\n'"})]},
                        {"blocks": [text("All done.")]}],
                       ["--allowedTools", "Bash", "Write", "Edit"],
                       "-x starts with a dash\nand spans lines \u0000 with a NUL"),
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_handler(steps, work):
    position = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.reply_json(404, {})

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if "count_tokens" in self.path:
                return self.reply_json(200, {"input_tokens": 10})
            if not self.path.startswith("/v1/messages"):
                return self.reply_json(404, {})
            if not request.get("tools"):  # side requests (titles...): not part of the script
                return self.stream([text("ok")], request, "side")
            step = steps[min(position["n"], len(steps) - 1)]
            position["n"] += 1
            if "status" in step:
                return self.reply_json(step["status"], step["body"])
            blocks = json.loads(json.dumps(step["blocks"]).replace("{WORK}", str(work)))
            return self.stream(blocks, request, "msg_rec_%d" % position["n"])

        def reply_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, blocks, request, message_id):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()

            def event(kind, data):
                self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

            event("message_start", {"type": "message_start", "message": {
                "id": message_id, "type": "message", "role": "assistant", "model": request.get("model"), "content": [],
                "stop_reason": None, "usage": {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 20,
                                               "cache_creation_input_tokens": 0}}})
            stop = "end_turn"
            for index, block in enumerate(blocks):
                if block["type"] == "text":
                    event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
                    event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": block["text"]}})
                elif block["type"] == "thinking":
                    event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "thinking", "thinking": "", "signature": ""}})
                    event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": block["thinking"]}})
                    event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": "c2ln"}})
                else:
                    stop = "tool_use"
                    event("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})
                    event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}})
                event("content_block_stop", {"type": "content_block_stop", "index": index})
            event("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 42}})
            event("message_stop", {"type": "message_stop"})
            self.wfile.flush()

    return Handler


def record(name):
    steps, flags, prompt = SCENARIOS[name]
    base = WORK_ROOT / name
    shutil.rmtree(base, ignore_errors=True)
    work, home = base / "work", base / "home"
    work.mkdir(parents=True)
    home.mkdir(parents=True)
    server = Server(("127.0.0.1", 0), make_handler(steps, work))
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # As the adapter launches it: the prompt as one stream-json user message on stdin.
    argv = [str(CLAUDE), "-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json", *flags]
    env = {"PATH": f"{CLAUDE.parent}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb",
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": KEY,
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_MAX_RETRIES": "0"}
    stdin = json.dumps({"type": "user", "message": {"role": "user", "content": prompt},
                        "parent_tool_use_id": None, "session_id": ""}) + "\n"
    done = subprocess.run(argv, input=stdin.encode(), capture_output=True, cwd=work, env=env, timeout=120)
    server.shutdown()
    version = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True, env=env).stdout.strip()

    def scrub(data: bytes) -> bytes:
        out = data.replace(f"127.0.0.1:{port}".encode(), b"127.0.0.1:{PORT}")
        assert KEY.encode() not in out, "the API key leaked into the output"
        return out

    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.stdout.jsonl").write_bytes(scrub(done.stdout))
    (OUT / f"{name}.stderr.txt").write_bytes(scrub(done.stderr))
    meta = {"runtime": "claude-code", "scenario": name, "cli_version": version, "recorded_by": "tests/runtimes/transcripts/record_claude.py",
            "argv": argv[1:], "stdin": stdin, "cwd": str(work), "exit": {"code": done.returncode, "signal": None},
            "killed": None, "timed_out": False}
    (OUT / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    lines = done.stdout.count(b"\n")
    print(f"{name}: exit {done.returncode}, {lines} lines")


if __name__ == "__main__":
    for scenario in sys.argv[1:] or SCENARIOS:
        record(scenario)
