#!/usr/bin/env python3
"""Record the opencode transcripts in this directory from the real CLI.

tests/e2e/record.py records the shared scenarios (tests/fixtures/runtimes/opencode/); these are
the cases the opencode adapter needs beyond them: model API failures (401, context overflow, a
content filter, a dead endpoint, an unknown model), a reply cut at the output limit, visible
reasoning (--thinking), the turn limit (the agent's "steps", as the adapter sets it for
max_turns), a denied tool and a permission the CLI rejects on its own, resuming a session and
resuming one that does not exist, usage with cache reads and a cost, and a failing shell command
with its exit code plus file edits, with the prompt on stdin as the adapter sends it.

Each is the real CLI launched the way the adapter launches it (`opencode run --format json
--thinking`, the prompt on stdin, policy constraints in OPENCODE_PERMISSION, the turn limit in
OPENCODE_CONFIG_CONTENT) against a tiny scripted OpenAI chat-completions server on loopback,
stored verbatim but for the port ({PORT}). The scratch directories are fixed paths under
/var/tmp/runhost-opencode-transcripts, so the absolute paths in the output are reproducible.

    python3 tests/runtimes/transcripts/record_opencode.py            # all
    python3 tests/runtimes/transcripts/record_opencode.py api_401    # one

Needs the CLI from scripts/install-runtimes (tools/runtimes/node_modules/.bin/opencode).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
OPENCODE = REPO / "tools" / "runtimes" / "node_modules" / ".bin" / "opencode"
OUT = HERE / "opencode"
WORK_ROOT = Path(os.environ.get("RUNHOST_TRANSCRIPT_WORK_ROOT", "/var/tmp/runhost-opencode-transcripts"))
KEY = "sk-oc-test-not-a-real-key"


def text(t):
    return {"text": t}


def shell(command, call_id):
    return {"call": ("bash", {"command": command, "description": "scripted command"}, call_id)}


def write(path, content, call_id):
    return {"call": ("write", {"filePath": path, "content": content}, call_id)}


def edit(path, old, new, call_id):
    return {"call": ("edit", {"filePath": path, "oldString": old, "newString": new}, call_id)}


# opencode offers apply_patch (instead of edit and write) to models whose id has "gpt-".
PATCH = """*** Begin Patch
*** Add File: added.txt
+a new file
*** Update File: config.ini
@@
-port = 8080
+port = 9090
*** Delete File: old.txt
*** Update File: a.txt
*** Move to: moved/b.txt
@@
-x
+y
*** End Patch"""


def error(status, message, code):
    return {"status": status, "body": {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}}}


# name: {"steps": what the server answers, one per main-loop request (the last repeats);
#        "prompt" (on stdin); "permission": OPENCODE_PERMISSION; "config": OPENCODE_CONFIG_CONTENT;
#        "files": seeded into the working directory; "args": extra CLI options;
#        "every_request": side requests (titles, summaries) get the steps too;
#        "dead": nothing listens on the port; "cost": the model has a price;
#        "resume": record a first run, then resume its session}
SCENARIOS = {
    "api_401": {"steps": [error(401, "Incorrect API key provided: sk-oc-***", "invalid_api_key")], "prompt": "Say hello."},
    "context_overflow": {"steps": [error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.", "context_length_exceeded")],
                         "every_request": True, "prompt": "Say hello."},
    "content_filter": {"steps": [{"blocks": [text("I can")], "finish": "content_filter"}], "prompt": "Say something."},
    "output_length": {"steps": [{"blocks": [text("This answer is cut off in the mid")], "finish": "length"}], "prompt": "Write an essay."},
    "endpoint_down": {"steps": [], "dead": True, "prompt": "Say hello."},
    "model_not_found": {"steps": [{"blocks": [text("unused")]}], "args": ["--model=e2e/no-such-model"], "prompt": "Say hello."},
    "reasoning": {"steps": [{"blocks": [{"reasoning": "The user wants a greeting. Keep it short."}, text("Hello there!")]}],
                  "prompt": "Greet me."},
    # The adapter's max_turns 1: the agent's steps at 2 (the limit, and the step that wraps up).
    "max_turns": {"steps": [{"blocks": [text("Step one."), shell("echo one", "call_T1")]},
                            {"blocks": [text("Step two."), shell("echo two", "call_T2")]},
                            {"blocks": [text("I reached the step limit; echo three is still to do.")]}],
                  "config": {"agent": {"build": {"steps": 2}}}, "prompt": "Run echo one, echo two and echo three."},
    "tool_denied": {"steps": [{"blocks": [text("Running it."), shell("echo hi", "call_D1")]},
                              {"blocks": [text("The shell is not available to me.")]}],
                    "permission": {"bash": "deny"}, "prompt": "Run echo hi."},
    "permission_rejected": {"steps": [{"blocks": [text("Writing outside."), write("/var/tmp/runhost-opencode-outside.txt", "outside\n", "call_R1")]},
                                      {"blocks": [text("never reached")]}],
                            "prompt": "Write /var/tmp/runhost-opencode-outside.txt."},
    "resume": {"steps": [{"blocks": [text("First answer.")]}, {"blocks": [text("Second answer, same session.")]}],
               "resume": True, "prompt": "Continue."},
    "resume_missing": {"steps": [{"blocks": [text("unused")]}], "args": ["--session=ses_000000000000000000000000ff"],
                       "prompt": "Continue."},
    "usage_cost": {"steps": [{"blocks": [text("Cheap and cached.")], "usage": {"prompt_tokens": 1200, "completion_tokens": 40,
                                                                              "total_tokens": 1240,
                                                                              "prompt_tokens_details": {"cached_tokens": 1000},
                                                                              "completion_tokens_details": {"reasoning_tokens": 10}}}],
                   "cost": True, "prompt": "Say something cheap."},
    "bash_exit_code": {"steps": [{"blocks": [text("Running it."), shell("echo out; echo err >&2; exit 3", "call_X1")]},
                                 {"blocks": [write("notes/hello.txt", "hi\n", "call_X2")]},
                                 {"blocks": [edit("{WORK}/notes/hello.txt", "hi", "hello", "call_X3")]},
                                 {"blocks": [write("notes/hello.txt", "hello again\n", "call_X4")]},
                                 {"blocks": [edit("notes/new.txt", "", "brand new\n", "call_X5")]},
                                 {"blocks": [shell("true", "call_X6"), shell("printf 'a\\nb\\n'", "call_X7")]},
                                 {"blocks": [text("All done.")]}],
                       "prompt": "-x starts with a dash\nand spans \"lines\" -- with a separator"},
    "apply_patch": {"steps": [{"blocks": [text("Patching."), {"call": ("apply_patch", {"patchText": PATCH}, "call_P1")}]},
                              {"blocks": [text("Patched four files.")]}],
                    "files": {"config.ini": "[server]\nport = 8080\n", "old.txt": "old\n", "a.txt": "x\n"},
                    "args": ["--model=e2e/gpt-5-scripted"], "prompt": "Apply the patch."},
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def make_handler(steps, work, log, every_request=False):
    position = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.reply_json(404, {})

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            if not self.path.endswith("/chat/completions"):
                return self.reply_json(404, {})
            if not request.get("tools") and not every_request:  # side requests (the session title): not part of the script
                log.append({"kind": "side"})
                return self.stream([text("Scripted title")], request, None, None)
            step = steps[min(position["n"], len(steps) - 1)]
            position["n"] += 1
            log.append({"kind": "main", "position": position["n"] - 1,
                        "last_user": next((m.get("content") for m in reversed(request.get("messages", []))
                                           if m.get("role") == "user"), None)})
            if "status" in step:
                return self.reply_json(step["status"], step["body"])
            blocks = json.loads(json.dumps(step["blocks"]).replace("{WORK}", str(work)))
            return self.stream(blocks, request, step.get("finish"), step.get("usage"))

        def reply_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, blocks, request, finish, usage):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            model = request.get("model", "scripted")

            def chunk(delta, finish_reason=None, extra=None):
                body = {"id": "chatcmpl-rec", "object": "chat.completion.chunk", "created": 1795262300, "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
                self.wfile.write(f"data: {json.dumps(body | (extra or {}))}\n\n".encode())

            chunk({"role": "assistant", "content": ""})
            calls = 0
            for block in blocks:
                if "reasoning" in block:
                    chunk({"reasoning_content": block["reasoning"]})
                elif "text" in block:
                    chunk({"content": block["text"]})
                else:
                    name, args, call_id = block["call"]
                    chunk({"tool_calls": [{"index": calls, "id": call_id, "type": "function",
                                           "function": {"name": name, "arguments": json.dumps(args)}}]})
                    calls += 1
            chunk({}, finish or ("tool_calls" if calls else "stop"))
            usage = usage or {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920}
            self.wfile.write(("data: " + json.dumps({"id": "chatcmpl-rec", "object": "chat.completion.chunk",
                                                     "created": 1795262300, "model": model, "choices": [],
                                                     "usage": usage}) + "\n\n").encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


def opencode_config(port, cost):
    model = {"name": "scripted", "tool_call": True, "reasoning": True}
    if cost:
        model["cost"] = {"input": 3, "output": 15, "cache_read": 0.3}
    models = {"scripted": model, "gpt-5-scripted": {"name": "gpt-5-scripted", "tool_call": True}}
    return {
        "$schema": "https://opencode.ai/config.json",
        "autoupdate": False,
        "share": "disabled",
        "model": "e2e/scripted",
        "small_model": "e2e/scripted",
        "provider": {"e2e": {"npm": "@ai-sdk/openai-compatible", "name": "scripted",
                             "options": {"baseURL": f"http://127.0.0.1:{port}/v1", "apiKey": KEY},
                             "models": models}},
    }


def environment(home, extra):
    env = {
        "PATH": os.pathsep.join([str(OPENCODE.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home), "LANG": "C.UTF-8", "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"), "XDG_CACHE_HOME": str(home / ".cache"),
        "TMPDIR": str(home / "tmp"),
        "OPENCODE_DISABLE_AUTOUPDATE": "1", "OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_CLAUDE_CODE": "1", "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
        "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    }
    return env | extra


def seed(home, port, cost):
    config_dir = home / ".config" / "opencode"
    (config_dir / "node_modules").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    (config_dir / "opencode.json").write_text(json.dumps(opencode_config(port, cost), indent=2) + "\n")
    # As tests/e2e/runtimes.py: claim @opencode-ai/plugin is installed, so no registry traffic.
    lock = {"name": "opencode-config", "lockfileVersion": 3, "packages": {"": {"dependencies": {"@opencode-ai/plugin": "*"}}}}
    (config_dir / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")


def run_cli(argv, env, work, prompt):
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=work, input=prompt.encode(), capture_output=True, timeout=180)
    return proc, time.monotonic() - started


def session_of(stdout):
    for line in stdout.decode(errors="replace").splitlines():
        try:
            return json.loads(line)["sessionID"]
        except (ValueError, KeyError, TypeError):
            continue
    return None


def record(name, spec):
    root = WORK_ROOT / name
    shutil.rmtree(root, ignore_errors=True)
    work, home = root / "work", root / "home"
    work.mkdir(parents=True)
    for rel, content in spec.get("files", {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content)
    log: list[dict] = []
    server = Server(("127.0.0.1", 0), make_handler(spec["steps"], work, log, spec.get("every_request", False)))
    port = server.server_address[1]
    if spec.get("dead"):
        server.server_close()  # nothing listens on the port any more
    else:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        seed(home, port, spec.get("cost", False))
        extra = {}
        if "permission" in spec:
            extra["OPENCODE_PERMISSION"] = json.dumps(spec["permission"])
        if "config" in spec:
            extra["OPENCODE_CONFIG_CONTENT"] = json.dumps(spec["config"])
        env = environment(home, extra)
        argv = [str(OPENCODE), "run", "--format", "json", "--thinking", *spec.get("args", [])]
        if spec.get("resume"):
            first, _ = run_cli(argv, env, work, "Answer once.")
            session = session_of(first.stdout)
            if not session:
                raise SystemExit(f"{name}: the first run printed no session id: {first.stderr.decode()[-500:]}")
            argv.append(f"--session={session}")
        proc, seconds = run_cli(argv, env, work, spec["prompt"])
    finally:
        if not spec.get("dead"):
            server.shutdown()
            server.server_close()

    def clean(data: bytes) -> str:
        return data.decode("utf-8", errors="replace").replace(str(port), "{PORT}")

    stdout, stderr = clean(proc.stdout), clean(proc.stderr)
    if KEY in stdout or KEY in stderr:
        raise SystemExit(f"{name}: the output holds the API key; not stored")
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.stdout.jsonl").write_text(stdout)
    (OUT / f"{name}.stderr.txt").write_text(stderr)
    meta = {
        "runtime": "opencode",
        "scenario": name,
        "cli_version": subprocess.run([str(OPENCODE), "--version"], capture_output=True, text=True, env=env).stdout.strip(),
        "recorded_by": "tests/runtimes/transcripts/record_opencode.py",
        "argv": [a.replace(str(REPO), "{REPO}") for a in argv],
        "stdin": spec["prompt"],
        "env_added": extra,
        "cwd": str(work),
        "seeded_files": spec.get("files", {}),
        "exit": {"code": proc.returncode if proc.returncode >= 0 else None,
                 "signal": -proc.returncode if proc.returncode < 0 else None},
        "killed": None,
        "timed_out": False,
        "duration_seconds": round(seconds, 2),
        "requests": log,
    }
    (OUT / f"{name}.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: exit {proc.returncode}, {len(stdout.splitlines())} lines, {seconds:.1f}s")


def main(names):
    if not os.access(OPENCODE, os.X_OK):
        raise SystemExit(f"{OPENCODE} is not installed: run scripts/install-runtimes")
    for name in names or SCENARIOS:
        record(name, SCENARIOS[name])


if __name__ == "__main__":
    main(sys.argv[1:])
