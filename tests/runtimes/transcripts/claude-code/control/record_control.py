#!/usr/bin/env python3
"""Drive the real pinned Claude Code CLI with stdio permission prompts against tests/e2e/modelserver.

Research recorder for the transcripts in this directory (see README.md). It plays the host: it
writes the prompt as one stream-json user message, keeps stdin open, answers each can_use_tool
control_request as the case says, and after the result waits with stdin open before closing it.

    python3 tests/runtimes/transcripts/claude-code/control/record_control.py CASE
    -> $CC_CONTROL_RUNS (default /tmp/cc-research/runs)/CASE/{stdout.jsonl,stdin.jsonl,stderr.txt,timeline.txt,meta.json,requests.jsonl}

The outputs were copied here by hand, with the loopback port replaced by {PORT}.
"""
import json, os, queue, shutil, subprocess, sys, threading, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[4]
RUNS = Path(os.environ.get("CC_CONTROL_RUNS", "/tmp/cc-research/runs"))
SCEN = HERE / "scenarios"
sys.path.insert(0, str(REPO / "tests/e2e"))
from modelserver import Scenario, make_server  # noqa

CLAUDE = REPO / "tools/runtimes/node_modules/.bin/claude"
KEY = "x-e2e-dummy-key"

BASE = ["-p", "--output-format", "stream-json", "--verbose", "--input-format", "stream-json"]
STDIO = ["--permission-prompt-tool", "stdio"]

# case: scenario, flags, init (send initialize first), answers (one per can_use_tool), after (what to do after result)
CASES = {
  "allow_bash":        dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["allow"], after="wait:20"),
  "allow_bash_init":   dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], init=True, answers=["allow"], after="wait:20"),
  "allow_bash_noinput":dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["allow_bare"], after="wait:5"),
  "allow_bash_modified":dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["allow_modified"], after="wait:5"),
  "deny_bash":         dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["deny"], after="wait:5"),
  "deny_bash_interrupt":dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["deny_interrupt"], after="wait:5"),
  "close_stdin_pending":dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["close"], after="wait:5"),
  "no_answer":         dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["ignore"], after="wait:5", limit=float(os.environ.get("NO_ANSWER_LIMIT", "330"))),
  "no_stdio_flag":     dict(scen="bash_write", flags=["--permission-mode", "default"], answers=[], after="wait:5"),
  "close_stdin_early": dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["allow"], after="wait:5", close_after_prompt=True),
  "two_turns":         dict(scen="two_turns", flags=STDIO + ["--permission-mode", "default"], answers=["allow"], after="second_then_wait:5"),
  "default_edits":     dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "default"], answers=["allow", "allow", "allow"], after="wait:5"),
  "accept_edits":      dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "acceptEdits"], answers=["allow", "allow", "allow"], after="wait:5"),
  "bypass_permissions":dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "bypassPermissions"], answers=["allow", "allow", "allow"], after="wait:5"),
  "dangerously_skip":  dict(scen="write_then_bash", flags=STDIO + ["--dangerously-skip-permissions"], answers=["allow", "allow", "allow"], after="wait:5"),
  "dont_ask":          dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "dontAsk"], answers=["allow", "allow", "allow"], after="wait:5"),
  "auto_mode":         dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "auto"], answers=["allow", "allow", "allow"], after="wait:5"),
  "plan_mode":         dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "plan"], answers=["allow", "allow", "allow"], after="wait:5"),
  "bypass_nonroot":    dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "bypassPermissions"], answers=["allow", "allow", "allow"], after="wait:5", user="nobody"),
  "bypass_root_is_sandbox":dict(scen="write_then_bash", flags=STDIO + ["--permission-mode", "bypassPermissions"], answers=["allow", "allow", "allow"], after="wait:5", env={"IS_SANDBOX": "1"}),
  "accept_edits_bash": dict(scen="bash_nonedit", flags=STDIO + ["--permission-mode", "acceptEdits"], answers=["allow", "allow", "allow"], after="wait:5"),
  "default_bash_nonedit": dict(scen="bash_nonedit", flags=STDIO + ["--permission-mode", "default"], answers=["allow", "allow", "allow"], after="wait:5"),
  "auto_mode_bash":    dict(scen="bash_nonedit", flags=STDIO + ["--permission-mode", "auto"], answers=["allow", "allow", "allow"], after="wait:5"),
  "error_response":    dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["error"], after="wait:5"),
  "interrupt_pending": dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default"], answers=["interrupt"], after="wait:5"),
  "allowed_tools_bash":dict(scen="bash_write", flags=STDIO + ["--permission-mode", "default", "--allowedTools", "Bash"], answers=["allow"], after="wait:5"),
}


def main(name):
    case = CASES[name]
    run = RUNS / name
    shutil.rmtree(run, ignore_errors=True)
    work, home = run / "work", run / "home"
    work.mkdir(parents=True); home.mkdir(parents=True)
    log = open(run / "requests.jsonl", "w")
    server = make_server(Scenario.load(SCEN / f"{case['scen']}.json"), log)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scen = json.loads((SCEN / f"{case['scen']}.json").read_text())
    argv = [str(CLAUDE), *BASE, *case["flags"]]
    env = {"PATH": f"{CLAUDE.parent}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1",
           "CLAUDE_CONFIG_DIR": str(home / ".claude"),
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": KEY,
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_ERROR_REPORTING": "1", "CLAUDE_CODE_MAX_RETRIES": "0"} | case.get("env", {})
    pre = []
    if case.get("user"):
        for p in (run, work, home): shutil.chown(p, case["user"], "nogroup")
        os.chmod(run, 0o777)
        pre = ["setpriv", f"--reuid={case['user']}", "--regid=nogroup", "--clear-groups", "--"]
    t0 = time.monotonic()
    tl = open(run / "timeline.txt", "w")
    def note(s):
        tl.write(f"{time.monotonic()-t0:8.3f} {s}\n"); tl.flush()
    stdin_log = open(run / "stdin.jsonl", "w")
    stdout_raw = open(run / "stdout.jsonl", "wb")
    proc = subprocess.Popen(["nice", "-n", "5", *pre, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(run / "stderr.txt", "wb"),
                            cwd=work, env=env)
    note(f"spawn pid {proc.pid}: {' '.join(argv[1:])}")
    q = queue.Queue()
    def reader():
        for line in proc.stdout:
            stdout_raw.write(line); stdout_raw.flush()
            q.put(line)
        q.put(None)
    threading.Thread(target=reader, daemon=True).start()
    closed = [False]
    def send(obj):
        s = json.dumps(obj, separators=(",", ":"))
        stdin_log.write(s + "\n"); stdin_log.flush()
        note(">> " + s[:300])
        proc.stdin.write((s + "\n").encode()); proc.stdin.flush()
    def close():
        if not closed[0]:
            closed[0] = True; proc.stdin.close(); note(">> [stdin closed]")
    if case.get("init"):
        send({"type": "control_request", "request_id": "host_init_1", "request": {"subtype": "initialize"}})
    send({"type": "user", "message": {"role": "user", "content": scen["prompt"]}, "parent_tool_use_id": None, "session_id": ""})
    if case.get("close_after_prompt"):
        close()
    answers = list(case["answers"])
    after = case["after"]
    limit = case.get("limit", 120)
    results = 0
    deadline_after_result = None
    pending_second = after.startswith("second")
    while True:
        timeout = limit - (time.monotonic() - t0)
        if deadline_after_result is not None:
            timeout = min(timeout, deadline_after_result - time.monotonic())
        try:
            line = q.get(timeout=max(0.05, timeout))
        except queue.Empty:
            if deadline_after_result is not None and time.monotonic() >= deadline_after_result:
                note(f"still running {after} after result with stdin open: closing stdin")
                deadline_after_result = None
                close()
                continue
            note("overall limit reached: closing stdin"); close()
            try: proc.wait(15)
            except subprocess.TimeoutExpired:
                note("killing (SIGTERM)"); proc.terminate()
            limit += 30
            continue
        if line is None:
            break
        try:
            obj = json.loads(line)
        except Exception:
            note("<< (non-json) " + line[:200].decode(errors="replace")); continue
        t = obj.get("type"); sub = obj.get("subtype") or (obj.get("request") or {}).get("subtype") or (obj.get("response") or {}).get("subtype")
        note(f"<< {t}/{sub} " + line.decode(errors='replace')[:200].rstrip())
        if t == "control_request" and (obj.get("request") or {}).get("subtype") == "can_use_tool":
            req = obj["request"]; rid = obj["request_id"]
            act = answers.pop(0) if answers else "allow"
            note(f"   answer: {act}")
            if act.startswith("allow"):
                resp = {"behavior": "allow"}
                if act == "allow": resp["updatedInput"] = req["input"]
                if act == "allow_modified":
                    resp["updatedInput"] = dict(req["input"], command="echo changed-by-host > greet.txt")
                send({"type": "control_response", "response": {"subtype": "success", "request_id": rid, "response": resp}})
            elif act == "deny":
                send({"type": "control_response", "response": {"subtype": "success", "request_id": rid,
                      "response": {"behavior": "deny", "message": "The operator declined this command."}}})
            elif act == "deny_interrupt":
                send({"type": "control_response", "response": {"subtype": "success", "request_id": rid,
                      "response": {"behavior": "deny", "message": "The operator declined and stopped the run.", "interrupt": True}}})
            elif act == "error":
                send({"type": "control_response", "response": {"subtype": "error", "request_id": rid, "error": "host could not decide"}})
            elif act == "interrupt":
                send({"type": "control_request", "request_id": "host_interrupt_1", "request": {"subtype": "interrupt"}})
            elif act == "close":
                close()
            elif act == "ignore":
                note("   (not answering)")
        if t == "result":
            results += 1
            if pending_second and results == 1:
                pending_second = False
                send({"type": "user", "message": {"role": "user", "content": "And now say something else."}, "parent_tool_use_id": None, "session_id": ""})
                continue
            w = float(after.split(":")[-1])
            deadline_after_result = time.monotonic() + w
            note(f"result seen; waiting up to {w}s for exit with stdin {'closed' if closed[0] else 'open'}")
    rc = proc.wait()
    note(f"exit {rc}")
    server.shutdown(); log.close()
    version = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True, env=env).stdout.strip()
    files = {p.name: p.read_text(errors="replace") for p in sorted(work.iterdir()) if p.is_file()}
    meta = {"case": name, "cli_version": version, "argv": ["claude", *argv[1:]], "run_as": case.get("user", "root"),
            "scenario": str(SCEN / f"{case['scen']}.json"), "answers": case["answers"], "after_result": after,
            "exit_code": rc, "work_files_after": files, "cwd": str(work), "port": port}
    (run / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(name, "exit", rc, "files", files)
    print((run / "timeline.txt").read_text())

if __name__ == "__main__":
    main(sys.argv[1])
