"""One measurement in one process, for bench/sdk/run: the Python `claude-agent-sdk` or runhost's
Python binding (AsyncHost), driving the stand-in CLI, every message/event materialised and counted.

    python bench/sdk/runner.py --side sdk|runhost --runtime claude|codex --transcript FILE
                               --standin EXE --scratch DIR [--runs N] [--pause-ms MS] [--store FILE]

Runs under the interpreter that has the side's package: the scratch venv for the SDK
(bench/sdk/install), build/python-venv for runhost. Prints one JSON line like runner.mjs.
Both sides are asyncio: the SDK's `query()` is an async iterator, and runhost's documented idiom
for asyncio code is `AsyncHost` with `async for ev in run.events()`.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import resource
import sys
import time
from typing import Any, Awaitable, Callable, Dict

PROMPT = "Run the benchmark transcript."
Result = Dict[str, Any]


def standin_env(args: argparse.Namespace) -> Dict[str, str]:
    """What the stand-in reads (its environment: the SDKs own its argv)."""
    return {"BENCH_TRANSCRIPT": args.transcript, "BENCH_FIRST_LINE_PAUSE_MS": str(args.pause_ms)}


def thread_seconds() -> Dict[str, float]:
    """Each thread's CPU time (schedstat's run time), as "name:tid" (the host's threads carry the
    process's name); the main (asyncio) thread is "main"."""
    out: Dict[str, float] = {}
    pid = os.getpid()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            d = f"/proc/self/task/{tid}"
            name = "main" if int(tid) == pid else f"{open(f'{d}/comm').read().strip()}:{tid}"
            out[name] = out.get(name, 0.0) + int(open(f"{d}/schedstat").read().split()[0]) / 1e9
        except OSError:
            pass
    return out


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


async def sdk_claude(args: argparse.Namespace, expect: Dict[str, int], workdir: str) -> Callable[[], Awaitable[Result]]:
    from claude_agent_sdk import ClaudeAgentOptions, ResultMessage, query

    async def one() -> Result:
        t0 = time.perf_counter()
        first = 0.0
        n = 0
        last: Any = None
        options = ClaudeAgentOptions(cli_path=args.standin, cwd=workdir, env=standin_env(args))
        async for m in query(prompt=PROMPT, options=options):
            if n == 0:
                first = time.perf_counter()
            n += 1
            last = m
        end = time.perf_counter()
        ok = n == expect["lines"] and isinstance(last, ResultMessage) and last.subtype == "success"
        why = "" if ok else f"{n} messages of {expect['lines']}, last {type(last).__name__}"
        return {"first_ms": (first - t0) * 1e3 if first else None, "end": end, "count": n, "ok": ok, "why": why}

    return one


async def runhost_side(args: argparse.Namespace, expect: Dict[str, int], workdir: str) -> Callable[[], Awaitable[Result]]:
    try:
        import runhost
    except ImportError as e:
        raise SystemExit(f"cannot import runhost's Python binding in {sys.executable} ({e}); build it with: "
                         "bindings/python/run-tests (or see bench/sdk/README.md)")
    adapter = "claude-code" if args.runtime == "claude" else "codex"
    host = runhost.AsyncHost(
        store=args.store,  # a fresh SQLite file per measurement; durable (the default)
        workspace_root=args.scratch,
        use_environment=False,
        max_output_bytes=1 << 30,  # the default 64 MiB is near the 100k-line claude transcript
        plugin_config={adapter: {"executable": args.standin, "env": standin_env(args)}},
    )
    await host.open()
    counter = iter(range(1 << 30))

    async def one() -> Result:
        t0 = time.perf_counter()
        run = await host.dispatch(
            tenant_id="bench", workspace_id="w", user_id="u", device_type="local", device_id="bench",
            runtime=adapter, prompt=PROMPT, cwd=workdir, approval_policy="auto",
            idempotency_key=f"bench-{next(counter)}",
        )
        dispatched = time.perf_counter()
        first = 0.0
        n = 0
        last: Any = None
        started = completed = assistant = 0
        async for ev in run.events():
            if first == 0.0 and ev["source"] == "runtime":
                first = time.perf_counter()
            n += 1
            last = ev
            kind = ev["type"]
            if kind == "tool.started":
                started += 1
            elif kind == "tool.completed":
                completed += 1
            elif kind == "message" and ev["payload"].get("role") == "assistant":
                assistant += 1
        end = time.perf_counter()
        ok = (last is not None and last["type"] == "run.completed" and not last["payload"].get("output_truncated")
              and started == expect["tool_started"] and completed == expect["tool_completed"]
              and assistant == expect["assistant_messages"])
        why = "" if ok else (
            f"last {last and last['type']} {json.dumps(last and last['payload'])[:300]}; "
            f"tool.started {started}/{expect['tool_started']}, tool.completed {completed}/{expect['tool_completed']}, "
            f"assistant messages {assistant}/{expect['assistant_messages']}")
        return {"first_ms": (first - t0) * 1e3 if first else None, "dispatch_ms": (dispatched - t0) * 1e3, "end": end, "count": n,
                "ok": ok, "why": why}

    one.close = host.close  # type: ignore[attr-defined]
    return one


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--side", required=True, choices=["sdk", "runhost"])
    p.add_argument("--runtime", required=True, choices=["claude", "codex"])
    p.add_argument("--transcript", required=True)
    p.add_argument("--standin", required=True)
    p.add_argument("--scratch", required=True)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--store", default=None)
    p.add_argument("--pause-ms", type=int, default=0)
    args = p.parse_args()
    expect = json.loads(pathlib.Path(f"{args.transcript}.json").read_text())
    workdir = os.path.join(args.scratch, "work")
    os.makedirs(workdir, exist_ok=True)
    if args.side == "sdk":
        if args.runtime != "claude":
            raise SystemExit("runner.py: the Python SDK side is claude only (no Python codex SDK is compared)")
        one = await sdk_claude(args, expect, workdir)
    else:
        one = await runhost_side(args, expect, workdir)

    threads0 = thread_seconds()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(args.runs)))
    t1 = max(r["end"] for r in results)
    cpu = cpu_seconds() - cpu0
    threads = {k: round(v - threads0.get(k, 0.0), 3) for k, v in thread_seconds().items() if v - threads0.get(k, 0.0) >= 0.005}
    close = getattr(one, "close", None)
    if close is not None:
        await close()

    bad = [r for r in results if not r["ok"]]
    out = {
        "lang": "python", "side": args.side, "runtime": args.runtime, "runs": args.runs, "lines": expect["lines"],
        "wall_s": t1 - t0,
        "first_ms": [r["first_ms"] for r in results],
        "dispatch_ms": [r["dispatch_ms"] for r in results] if "dispatch_ms" in results[0] else None,
        "counts": sorted({r["count"] for r in results}),
        "window_cpu_s": cpu,
        "window_threads_s": threads,
        "ok": not bad,
    }
    if bad:
        out["error"] = f"{len(bad)} of {args.runs} runs wrong: {bad[0]['why']}"
    print(json.dumps(out), flush=True)
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except SystemExit:
        raise
    except BaseException as e:  # one JSON line whatever happened, for the driver
        import traceback
        print(json.dumps({"ok": False, "error": "".join(traceback.format_exception(e))[-2000:]}), flush=True)
        sys.exit(1)
