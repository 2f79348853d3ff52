#!/usr/bin/env python3
"""Record native transcripts from the real agent CLIs playing each scenario.

For every runtime and scenario: a fresh working directory (seeded with the scenario's files)
and a private HOME, the scripted model server on a free loopback port, and the real CLI run
directly (not through runhost) with the recipe from runtimes.py. Stores, per pair, under
tests/fixtures/runtimes/<runtime>/:

    <scenario>.stdout.jsonl   the CLI's stdout, verbatim but for the port ({PORT})
    <scenario>.stderr.txt     its stderr, likewise
    <scenario>.meta.json      CLI version, argv, env, exit status, files left in the working
                              directory, the requests the server saw, and the checks below

Then checks the run against the scenario's "expect" (files written or left unchanged, the run
completed / failed / was killed) and prints one line per run; exit status 1 if any check fails.

    python3 tests/e2e/record.py                        # everything
    python3 tests/e2e/record.py -r claude-code -s write_file --keep
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modelserver import Scenario, make_server  # noqa: E402
from runtimes import DUMMY_KEY, REPO, RUNTIMES, Launch, Runtime  # noqa: E402

E2E_DIR = Path(__file__).resolve().parent
SCENARIO_DIR = E2E_DIR / "scenarios"
FIXTURE_DIR = REPO / "tests" / "fixtures" / "runtimes"
# Stable paths keep re-recorded fixtures comparable. The working directory must be outside any
# git repository (the CLIs would pick up its instructions and ignore rules); /var/tmp rather than
# /tmp because runtimes.md warns Codex off a CODEX_HOME under /tmp (not reproduced with 0.169).
WORK_ROOT = Path(os.environ.get("RUNHOST_E2E_WORK_ROOT", "/var/tmp/runhost-e2e"))
KILL_GRACE_SECONDS = 5.0
MAX_INLINE_BYTES = 64 * 1024


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.json"))


def seed(work: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        p = work / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)


def snapshot(work: Path) -> dict[str, dict[str, Any]]:
    """Every file under the working directory: size, sha256, and the text when it is small."""
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(work.rglob("*")):
        if p.is_symlink():
            out[str(p.relative_to(work))] = {"symlink": os.readlink(p)}
        elif p.is_file():
            data = p.read_bytes()
            entry: dict[str, Any] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            if len(data) <= MAX_INLINE_BYTES:
                try:
                    entry["text"] = data.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            out[str(p.relative_to(work))] = entry
        elif p.is_dir() and not any(p.iterdir()):
            out[str(p.relative_to(work)) + "/"] = {"dir": True}
    return out


def cli_version(runtime: Runtime, launch: Launch, cwd: Path) -> str:
    r = subprocess.run([str(runtime.path), "--version"], env=launch.env, cwd=cwd, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    return (r.stdout.strip() or r.stderr.strip()).splitlines()[-1] if (r.stdout or r.stderr) else ""


def kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def wait_for_hang(log_path: Path, proc: subprocess.Popen[bytes], deadline: float) -> float | None:
    """Seconds until the server logged the stalled request, or None if the CLI exited first."""
    start = time.monotonic()
    while time.monotonic() < deadline and proc.poll() is None:
        if log_path.exists() and '"step": "hang"' in log_path.read_text(errors="replace"):
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def outside_connections(trace: Path) -> list[str]:
    """Socket calls in an strace log that address anything but loopback (DNS lookups included)."""
    out = []
    for line in trace.read_text(errors="replace").splitlines() if trace.exists() else []:
        if "sa_family=AF_INET" not in line:
            continue
        if 'inet_addr("127.' in line or '"::1"' in line or "::ffff:127." in line:
            continue
        call = line.split(" ", 1)[1] if " " in line else line
        out.append(call[:160])
    return sorted(set(out))


def request_summary(log_path: Path) -> list[dict[str, Any]]:
    out = []
    if not log_path.exists():
        return out
    for line in log_path.read_text().splitlines():
        e = json.loads(line)
        out.append({k: e.get(k) for k in ("method", "path", "provider", "kind", "position", "attempt", "step", "status")
                    if e.get(k) is not None or k in ("method", "path", "status")})
    return out


def check(scenario: Scenario, exit_code: int | None, killed: bool, files: dict[str, dict[str, Any]],
          stdout: str) -> list[dict[str, Any]]:
    expect = scenario.raw.get("expect", {})
    checks: list[dict[str, Any]] = []

    def add(name: str, ok: bool, detail: str = "") -> None:
        checks.append({"check": name, "ok": ok, **({"detail": detail} if detail else {})})

    bad = [i + 1 for i, l in enumerate(stdout.splitlines()) if l.strip() and not _is_json(l)]
    add("stdout is JSON lines", not bad, f"non-JSON lines: {bad[:10]}" if bad else "")
    for rel, want in expect.get("files", {}).items():
        got = files.get(rel, {}).get("text")
        add(f"file {rel}", got == want, "" if got == want else f"got {got!r}, want {want!r}")
    for rel in expect.get("absent", []):
        add(f"absent {rel}", not any(k == rel or k.startswith(rel + "/") for k in files))
    outcome = expect.get("outcome")
    if outcome == "completed":
        add("exit status 0", exit_code == 0, f"exit {exit_code}")
    elif outcome == "failed" and '"type":"auto_retry_end"' in stdout.replace(" ", ""):
        # Pi exits 0 whatever happens: its failure is in its last lines (auto_retry_end).
        add("the failure in the output", '"success":false' in stdout.replace(" ", ""))
    elif outcome == "failed":
        add("exit status non-zero", exit_code not in (0, None), f"exit {exit_code}")
    elif outcome == "killed":
        add("killed while streaming", killed)
    add("no API key in output", DUMMY_KEY not in stdout)
    return checks


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except ValueError:
        return False


def record(runtime: Runtime, scenario: Scenario, out_dir: Path, timeout: float, keep: bool,
           audit_network: bool = False) -> bool:
    root = WORK_ROOT / runtime.id / scenario.name
    shutil.rmtree(root, ignore_errors=True)
    work, home = root / "work", root / "home"
    work.mkdir(parents=True)
    home.mkdir(parents=True)
    seed(work, scenario.files)
    log_path = root / "requests.jsonl"

    with open(log_path, "w", encoding="utf-8") as log_file:
        server = make_server(scenario, log_file)
        port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            launch = runtime.launch(port=port, home=home, prompt=scenario.prompt)
            launch.write_files()
            version = cli_version(runtime, launch, work)
            started = time.monotonic()
            killed: dict[str, Any] | None = None
            timed_out = False
            argv = launch.argv
            if audit_network:
                argv = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(root / "strace.log"), *argv]
            with open(root / "stdout", "wb") as so, open(root / "stderr", "wb") as se:
                proc = subprocess.Popen(argv, cwd=work, env=launch.env,
                                        stdin=subprocess.PIPE if launch.stdin is not None else subprocess.DEVNULL,
                                        stdout=so, stderr=se, start_new_session=True)
                if launch.stdin is not None:
                    proc.stdin.write(launch.stdin.encode())
                    proc.stdin.close()
                try:
                    deadline = started + timeout
                    if scenario.raw.get("expect", {}).get("outcome") == "killed":
                        seen = wait_for_hang(log_path, proc, deadline)
                        if seen is not None:
                            time.sleep(1.0)  # let the CLI render what it streamed so far
                            kill_group(proc, signal.SIGTERM)
                            killed = {"signal": "SIGTERM", "after_hang_seconds": 1.0}
                            try:
                                proc.wait(KILL_GRACE_SECONDS)
                            except subprocess.TimeoutExpired:
                                kill_group(proc, signal.SIGKILL)
                                killed["escalated_to"] = "SIGKILL"
                    try:
                        proc.wait(max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        timed_out = True
                        kill_group(proc, signal.SIGKILL)
                        proc.wait()
                finally:
                    kill_group(proc, signal.SIGKILL)  # whatever the CLI left running in its group
                    if proc.poll() is None:
                        proc.wait()
            duration = time.monotonic() - started
        finally:
            server.shutdown()
            server.server_close()

    def clean(text: str) -> str:
        """The port and this checkout's path vary between recordings: placeholders instead."""
        text = text.replace(f"127.0.0.1:{port}", "127.0.0.1:{PORT}").replace(f"localhost:{port}", "localhost:{PORT}")
        return text.replace(str(REPO) + "/", "{REPO}/")

    stdout = clean((root / "stdout").read_text(errors="replace"))
    stderr = clean((root / "stderr").read_text(errors="replace"))
    code = proc.returncode
    files = snapshot(work)
    checks = check(scenario, code, killed is not None, files, stdout)
    if audit_network:
        leaks = outside_connections(root / "strace.log")
        checks.append({"check": "no connection leaves loopback", "ok": not leaks,
                       **({"detail": "; ".join(leaks)[:1000]} if leaks else {})})
    if timed_out:
        checks.append({"check": "finished before the timeout", "ok": False, "detail": f"{timeout}s"})

    secret = {k for k, v in launch.env.items() if v == DUMMY_KEY}
    meta = {
        "runtime": runtime.id,
        "scenario": scenario.name,
        "cli_version": version,
        "recorded_on": time.strftime("%Y-%m-%d", time.gmtime()),
        "argv": [clean(a) for a in launch.argv],
        "env": {k: ("{DUMMY_API_KEY}" if k in secret else clean(v)) for k, v in launch.env.items()},
        "config_files": {p: clean(c).replace(DUMMY_KEY, "{DUMMY_API_KEY}") for p, c in launch.files.items()},
        "cwd": str(work),
        "seeded_files": scenario.files,
        "exit": {"code": code if code is None or code >= 0 else None, "signal": -code if code and code < 0 else None},
        "killed": killed,
        "timed_out": timed_out,
        "duration_seconds": round(duration, 2),
        "files_after": files,
        "requests": request_summary(log_path),
        "checks": checks,
    }
    target = out_dir / runtime.id
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{scenario.name}.stdout.jsonl").write_text(stdout.replace(DUMMY_KEY, "{DUMMY_API_KEY}"))
    (target / f"{scenario.name}.stderr.txt").write_text(stderr.replace(DUMMY_KEY, "{DUMMY_API_KEY}"))
    (target / f"{scenario.name}.meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    if not keep:
        shutil.rmtree(root, ignore_errors=True)

    ok = all(c["ok"] for c in checks)
    failed = [f"{c['check']}: {c.get('detail', '')}" for c in checks if not c["ok"]]
    status = f"exit={code}" + (" killed" if killed else "") + (" TIMEOUT" if timed_out else "")
    print(f"{'ok  ' if ok else 'FAIL'} {runtime.id:12} {scenario.name:26} {status:16} {duration:6.1f}s"
          + ("" if ok else "  " + "; ".join(failed)), flush=True)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--runtime", action="append", choices=list(RUNTIMES), help="default: all")
    parser.add_argument("-s", "--scenario", action="append", help="default: all in tests/e2e/scenarios")
    parser.add_argument("--out", type=Path, default=FIXTURE_DIR, help=f"default: {FIXTURE_DIR}")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run (default 180)")
    parser.add_argument("--keep", action="store_true", help=f"keep the work directories under {WORK_ROOT}")
    parser.add_argument("--audit-network", action="store_true",
                        help="run each CLI under strace and fail if it connects anywhere but loopback")
    args = parser.parse_args()

    runtimes = [RUNTIMES[r] for r in args.runtime or RUNTIMES]
    missing = [r.id for r in runtimes if not r.installed()]
    if missing:
        print(f"skipped: CLIs not installed ({', '.join(missing)}); run scripts/install-runtimes", file=sys.stderr)
        return 77
    names = args.scenario or scenario_names()
    ok = True
    for runtime in runtimes:
        for name in names:
            ok &= record(runtime, Scenario.load(SCENARIO_DIR / f"{name}.json"), args.out, args.timeout, args.keep,
                         args.audit_network)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
