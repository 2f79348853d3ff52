#!/usr/bin/env python3
"""Record the gemini-cli transcripts in this directory from the real CLI.

tests/e2e/record.py records the shared scenarios (tests/fixtures/runtimes/gemini-cli/); these are
the cases the gemini-cli adapter needs beyond them: the launch as the adapter builds it (the
prompt on stdin, never in argv; --skip-trust), model API failures (401, 400, 503), the session
turn limit, resuming a session and resuming one that does not exist, an empty model response, the
approval modes (default: tools that ask are not registered headless; plan: read-only) and
--allowed-tools, a missing API key, an untrusted folder, and a failing shell command with file
edits. Each is the real CLI against the scripted model server of tests/e2e/modelserver on
loopback (a tiny one of its own for the empty response), stored verbatim but for the port
({PORT}), the checkout's path ({REPO}) and the API key.

    python3 tests/runtimes/transcripts/gemini-cli/record_gemini.py            # all
    python3 tests/runtimes/transcripts/gemini-cli/record_gemini.py api_401    # one

Needs the CLI from scripts/install-runtimes (tools/runtimes/node_modules/.bin/gemini).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from modelserver import Scenario, make_server  # noqa: E402
from runtimes import DUMMY_KEY, base_env  # noqa: E402

GEMINI = REPO / "tools" / "runtimes" / "node_modules" / ".bin" / "gemini"
WORK_ROOT = Path(os.environ.get("RUNHOST_TRANSCRIPT_WORK_ROOT", "/var/tmp/runhost-gemini-transcripts"))
MODEL = "gemini-2.5-pro"


def shell(command, description="Run a command"):
    return {"tool": "shell", "command": command, "description": description}


def write(path, content):
    return {"tool": "write_file", "path": path, "content": content}


def edit(path, old, new):
    return {"tool": "edit_file", "path": path, "old": old, "new": new}


def read(path):
    return {"tool": "read_file", "path": path}


YOLO = ["--approval-mode=yolo"]

# name: {steps (the model server's script), flags (after the adapter's fixed ones), prompt,
#        settings (merged into settings.json), env (changes; None removes), files, before (a run
#        of the same HOME and work directory first, whose session the flags may name as {SESSION}),
#        trust (False: no --skip-trust), server ("empty": a model that answers nothing at all)}
SCENARIOS = {
    "prompt_on_stdin": {
        "prompt": "-x starts with a dash\nand spans lines, with a NUL \u0000 and \"quotes\"",
        "flags": YOLO,
        "steps": [
            {"text": "Running it.", "tool_calls": [shell("echo out; echo err >&2; exit 3", "fail on purpose")]},
            {"tool_calls": [write("{WORK}/notes/hello.txt", "hi\n")]},
            {"tool_calls": [edit("{WORK}/notes/hello.txt", "hi", "hello")]},
            {"tool_calls": [write("/var/tmp/runhost-gemini-outside.txt", "outside\n")]},
            {"tool_calls": [shell("cat notes/hello.txt; printf 'a\\nb\\n'")]},
            {"text": "All done."},
        ],
    },
    "api_401": {"prompt": "Say hello.", "flags": YOLO,
                "steps": [{"http_status": 401, "message": "API key not valid. Please pass a valid API key."}]},
    "api_400": {"prompt": "Say hello.", "flags": YOLO,
                "steps": [{"http_status": 400, "message": "models/gemini-9 is not found for API version v1beta"}]},
    "api_503": {"prompt": "Say hello.", "flags": YOLO,
                "steps": [{"http_status": 503, "message": "The model is overloaded. Please try again later."}]},
    "max_turns": {
        "prompt": "Run two commands.", "flags": YOLO, "settings": {"model": {"maxSessionTurns": 1}},
        "steps": [{"tool_calls": [shell("echo one")]}, {"tool_calls": [shell("echo two")]}, {"text": "never reached"}],
    },
    "resume": {
        "prompt": "And now?", "flags": YOLO + ["--resume={SESSION}"],
        "before": {"prompt": "Remember the word kiwi.", "flags": YOLO},
        "steps": [{"text": "I will remember kiwi."}, {"text": "You asked me to remember kiwi."}],
    },
    "resume_missing": {"prompt": "Go on.", "flags": YOLO + ["--resume=00000000-1111-2222-3333-444444444444"],
                       "steps": [{"text": "unused"}]},
    "resume_unknown": {"prompt": "Go on.", "flags": YOLO + ["--resume=00000000-1111-2222-3333-444444444444"],
                       "before": {"prompt": "Hello.", "flags": YOLO},
                       "steps": [{"text": "Hi."}, {"text": "unused"}]},
    "empty_response": {"prompt": "Say nothing.", "flags": YOLO, "server": "empty", "steps": [{"text": "unused"}]},
    "approval_default": {
        "prompt": "Write denied.txt and run a command.", "flags": [],
        "steps": [{"tool_calls": [write("denied.txt", "no\n")]}, {"tool_calls": [shell("echo hi")]},
                  {"text": "Neither the write nor the command was allowed."}],
    },
    "plan_mode": {
        "prompt": "Read notes.md, then try to change it.", "flags": ["--approval-mode=plan"],
        "files": {"notes.md": "# Notes\n"},
        "steps": [{"tool_calls": [read("notes.md")]}, {"tool_calls": [edit("notes.md", "Notes", "Changed")]},
                  {"text": "Plan mode is read-only: the edit was refused."}],
    },
    "allowed_tools": {
        "prompt": "Run echo, then ls.", "flags": ["--allowed-tools=run_shell_command(echo)"],
        "steps": [{"tool_calls": [shell("echo allowed")]}, {"tool_calls": [shell("ls")]}, {"text": "Only echo ran."}],
    },
    "no_api_key": {"prompt": "Say hello.", "flags": YOLO, "env": {"GEMINI_API_KEY": None},
                   "steps": [{"text": "unused"}]},
    "untrusted_folder": {"prompt": "Say hello.", "flags": YOLO, "trust": False, "steps": [{"text": "Hello."}]},
}


class EmptyServer(http.server.ThreadingHTTPServer):
    """A Gemini API whose every answer is an empty candidate: the CLI reports an invalid stream."""

    daemon_threads = True

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                chunk = {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP", "index": 0}],
                         "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 0, "totalTokenCount": 12}}
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())

        super().__init__(("127.0.0.1", 0), Handler)


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def run_once(spec, steps, work, home, session=""):
    """One launch as the adapter builds it; returns (CompletedProcess, argv, port)."""
    raw = json.loads(json.dumps({"name": "x", "prompt": spec["prompt"], "steps": steps}).replace("{WORK}", str(work)))
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(raw, f)
    scenario = Scenario.load(f.name)
    os.unlink(f.name)
    server = EmptyServer() if spec.get("server") == "empty" else make_server(scenario, open(os.devnull, "w"))
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = merge({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"maxAttempts": 2, "enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
    }, spec.get("settings", {}))
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    env = base_env(home) | {"GEMINI_API_KEY": DUMMY_KEY, "GOOGLE_GEMINI_BASE_URL": f"http://127.0.0.1:{port}"}
    Path(env["TMPDIR"]).mkdir(parents=True, exist_ok=True)
    for k, v in spec.get("env", {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    flags = [a.replace("{SESSION}", session) for a in spec.get("flags", [])]
    # As the adapter builds it (docs/runtimes/gemini-cli.md): the prompt goes to stdin.
    trust = ["--skip-trust"] if spec.get("trust", True) else []
    argv = [str(GEMINI), "--output-format", "stream-json", *trust, f"--model={MODEL}", *flags]
    try:
        done = subprocess.run(argv, input=spec["prompt"].encode(), capture_output=True, cwd=work, env=env, timeout=180)
    finally:
        server.shutdown()
        server.server_close()
    return done, argv, port


def record(name):
    spec = SCENARIOS[name]
    base = WORK_ROOT / name
    shutil.rmtree(base, ignore_errors=True)
    work, home = base / "work", base / "home"
    work.mkdir(parents=True)
    home.mkdir(parents=True)
    for rel, content in spec.get("files", {}).items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(content)
    session = ""
    if "before" in spec:
        first, _, _ = run_once(spec["before"], spec["steps"], work, home)
        init = json.loads(first.stdout.decode().splitlines()[0])
        session = init["session_id"]
    done, argv, port = run_once(spec, spec["steps"], work, home, session)
    version = subprocess.run([str(GEMINI), "--version"], capture_output=True, text=True,
                             env=base_env(home), stdin=subprocess.DEVNULL).stdout.strip()

    def scrub(data: bytes) -> bytes:
        out = data.replace(f"127.0.0.1:{port}".encode(), b"127.0.0.1:{PORT}").replace(str(REPO).encode(), b"{REPO}")
        return out.replace(DUMMY_KEY.encode(), b"{DUMMY_API_KEY}")

    (HERE / f"{name}.stdout.jsonl").write_bytes(scrub(done.stdout))
    (HERE / f"{name}.stderr.txt").write_bytes(scrub(done.stderr))
    meta = {"runtime": "gemini-cli", "scenario": name, "cli_version": version,
            "recorded_by": "tests/runtimes/transcripts/gemini-cli/record_gemini.py",
            "argv": [a for a in argv[1:]], "stdin": spec["prompt"], "cwd": str(work),
            "settings": spec.get("settings", {}), "env_changes": spec.get("env", {}),
            "exit": {"code": done.returncode if done.returncode >= 0 else None,
                     "signal": -done.returncode if done.returncode < 0 else None},
            "killed": None, "timed_out": False}
    (HERE / f"{name}.meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    lines = done.stdout.count(b"\n")
    print(f"{name}: exit {done.returncode}, {lines} lines")


if __name__ == "__main__":
    for scenario in sys.argv[1:] or SCENARIOS:
        record(scenario)
