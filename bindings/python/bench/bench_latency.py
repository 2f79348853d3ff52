"""First-event latency: how long after an event is stamped (its `time` field, set when the host
records it, just before the group commit that makes it durable) it reaches Python.

    python bindings/python/bench/bench_latency.py [--reps 3] [--events 40] [--gap 0.02]
                                                  [--runhost build/default/bin/runhost]
                                                  [--dir DIR] [--no-durable] [--json]

Each run prints --events lines, --gap seconds apart, once the follower has caught up (the run
waits for a file the bench creates then): every line is an event that arrives while its
follower waits, the case a UI lives in. Latency = arrival in Python (time.time() when the
iterator hands the event over) - the event's `time`. Both clocks are this machine's.

Followers (each on a fresh store per repetition):
  sync-in-process    for ev in run.events()           a Host in this process runs the run
  async-in-process   async for ev in run.events()     an AsyncHost in this process runs the run
  sync-cross         for ev in host.run(id).events()  a `runhost run` CLI process runs the run
  async-cross        async for ev in run.events()     (AsyncHost) the same, from asyncio

For runs another process owns, the wake-up is that process's commit signal (the core's; this
binding adds no poll of its own). Prints each follower's median, p90 and max over all samples;
--json prints them as one JSON object too.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

import runhost

REPO = pathlib.Path(__file__).resolve().parents[3]
FIELDS = dict(tenant_id="bench", workspace_id="w", user_id="u", device_type="local", device_id="bench",
              runtime="custom", prompt="", approval_policy="auto")


def script(events: int, gap: float) -> str:
    # Waits for the follower (the `go` file), then prints one line per --gap.
    return (f"while [ ! -e go ]; do sleep 0.005; done; i=0; while [ $i -lt {events} ]; do "
            f"echo tick$i; sleep {gap}; i=$((i+1)); done")


def stamped(ev: runhost.Event) -> float:
    return dt.datetime.strptime(ev["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc).timestamp()


class Sampler:
    """Latency of each `tick` event, taken the moment the follower gets it."""

    def __init__(self, workspace: pathlib.Path) -> None:
        self.go = workspace / "go"
        self.samples: List[float] = []

    def seen(self, ev: runhost.Event) -> None:
        now = time.time()
        if ev["type"] == "command.output" and str(ev["payload"].get("text", "")).startswith("tick"):
            self.samples.append(now - stamped(ev))
        elif ev["type"] == "run.started":
            self.go.touch()  # caught up: let the run print its ticks


def sync_in_process(store: pathlib.Path, ws: pathlib.Path, args: argparse.Namespace, key: str) -> List[float]:
    sampler = Sampler(ws)
    with runhost.Host(store=store, workspace_root=ws, durable=args.durable, use_environment=False) as host:
        run = host.dispatch(**FIELDS, idempotency_key=key, command=["sh", "-c", script(args.events, args.gap)])
        for ev in run.events():
            sampler.seen(ev)
    return sampler.samples


def async_in_process(store: pathlib.Path, ws: pathlib.Path, args: argparse.Namespace, key: str) -> List[float]:
    sampler = Sampler(ws)

    async def main() -> None:
        async with runhost.AsyncHost(store=store, workspace_root=ws, durable=args.durable, use_environment=False) as host:
            run = await host.dispatch(**FIELDS, idempotency_key=key, command=["sh", "-c", script(args.events, args.gap)])
            async for ev in run.events():
                sampler.seen(ev)

    asyncio.run(main())
    return sampler.samples


def start_cli(store: pathlib.Path, ws: pathlib.Path, args: argparse.Namespace, key: str) -> "subprocess.Popen[bytes]":
    cmd = [args.runhost, "run", "--store", str(store), "--workspace-root", str(ws), "--tenant", "bench",
           "--idempotency-key", key, "--"] + ["sh", "-c", script(args.events, args.gap)]
    return subprocess.Popen(cmd, cwd=ws, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cross_process(store: pathlib.Path, ws: pathlib.Path, args: argparse.Namespace, key: str, use_async: bool) -> List[float]:
    sampler = Sampler(ws)
    cli = start_cli(store, ws, args, key)
    try:
        if use_async:
            async def main() -> None:
                async with runhost.AsyncHost(store=store, workspace_root=ws, use_environment=False) as host:
                    runs: List[runhost.RunInfo] = []
                    while not runs:  # the CLI records the run: look it up as a backend would
                        runs = await host.runs(tenant_id="bench")
                        await asyncio.sleep(0.01)
                    run = await host.run(runs[0].id)
                    assert run is not None
                    async for ev in run.events():
                        sampler.seen(ev)

            asyncio.run(main())
        else:
            with runhost.Host(store=store, workspace_root=ws, use_environment=False) as host:
                infos: List[runhost.RunInfo] = []
                while not infos:
                    infos = host.runs(tenant_id="bench")
                    time.sleep(0.01)
                found = host.run(infos[0].id)
                assert found is not None
                for ev in found.events():
                    sampler.seen(ev)
        if cli.wait(timeout=60) != 0:
            raise SystemExit(f"runhost run failed: {cli.stderr.read().decode() if cli.stderr else ''}")
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    return sampler.samples


def summary(samples: List[float]) -> Dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3), "max_ms": round(ms[-1], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--runhost", default=os.environ.get("RUNHOST_BIN", str(REPO / "build/default/bin/runhost")))
    parser.add_argument("--dir", default=None)
    parser.add_argument("--no-durable", dest="durable", action="store_false")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["sync-in-process", "async-in-process", "sync-cross", "async-cross"],
                        action="append")
    args = parser.parse_args()

    followers = {
        "sync-in-process": lambda s, w, k: sync_in_process(s, w, args, k),
        "async-in-process": lambda s, w, k: async_in_process(s, w, args, k),
        "sync-cross": lambda s, w, k: cross_process(s, w, args, k, use_async=False),
        "async-cross": lambda s, w, k: cross_process(s, w, args, k, use_async=True),
    }
    if not os.access(args.runhost, os.X_OK):
        print(f"skipped sync-cross and async-cross: no runhost CLI at {args.runhost} (--runhost, RUNHOST_BIN)")
        del followers["sync-cross"], followers["async-cross"]
    if args.only:
        followers = {k: v for k, v in followers.items() if k in args.only}

    results: Dict[str, Dict[str, float]] = {}
    base = pathlib.Path(args.dir) if args.dir else None
    for name, follow in followers.items():
        samples: List[float] = []
        for rep in range(args.reps):
            with tempfile.TemporaryDirectory(dir=base, prefix="runhost-latency-") as tmp:
                ws = pathlib.Path(tmp) / "ws"
                ws.mkdir()
                got = follow(pathlib.Path(tmp) / "runhost.db", ws, f"lat-{name}-{rep}")
                if len(got) != args.events:
                    raise SystemExit(f"{name}: {len(got)} tick events of {args.events}")
                samples += got
        results[name] = summary(samples)
        r = results[name]
        print(f"{name:17} median {r['median_ms']:7.3f} ms   p90 {r['p90_ms']:7.3f} ms   max {r['max_ms']:7.3f} ms"
              f"   ({r['n']} events)", flush=True)
    if args.json:
        print(json.dumps({"durable": args.durable, "results": results}))


if __name__ == "__main__":
    sys.exit(main())
