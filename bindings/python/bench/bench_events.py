"""Events per second delivered into Python, as dicts.

    python bindings/python/bench/bench_events.py [--reps 5] [--lines 200000] [--runs 100]
                                                 [--dir DIR] [--no-durable]

The workload is the C++ `runhost_bench_runs deliver` one (bench/runs_bench.cpp), so the two
compare: the custom runtime in jsonl mode, a process printing `{"type":"message",...}` lines as
fast as the pipe takes them; each becomes a `message` event, validated, stamped, stored
(durable: an fsync per group commit) and delivered. Rate = `message` events delivered into
Python (as dicts) / seconds from the first to the last one.

Scenarios (a fresh store per repetition, in DIR, default: a temporary directory under build/):
  one-run      one run of --lines events, followed live with `for ev in run.events()`
  replay       the same run read again once it has ended: store -> dicts, nothing else
  async-100    --runs concurrent runs of --lines/--runs events each, all followed on one asyncio
               loop with `async for ev in run.aevents()` (no thread per run)
  threads-100  the same runs, followed from one thread per run with `for ev in run.events()`

Prints one line per repetition and the medians. For one-run and replay it also prints the CPU
time the consuming thread spent per event (time.thread_time): the binding's own cost, which a
loaded machine changes much less than it changes rates.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Tuple

import runhost

REPO = pathlib.Path(__file__).resolve().parents[3]


LINE = '{"type":"message","payload":{"role":"assistant","text":"a line of streamed assistant text"}}'


def dispatch(lines: int, key: str) -> Dict[str, Any]:
    return {
        "tenantId": "bench", "workspaceId": "w", "userId": "u", "deviceType": "local", "deviceId": "bench",
        "runtime": "custom", "prompt": "", "approvalPolicy": "auto", "idempotencyKey": key,
        "outputMode": "jsonl", "command": ["sh", "-c", f"yes '{LINE}' | head -n {lines}"],
    }


class Span:
    """First and last `message` delivery, across threads."""

    def __init__(self) -> None:
        self.first = float("inf")
        self.last = 0.0
        self.count = 0
        self.lock = threading.Lock()

    def add(self, first: float, last: float, count: int) -> None:
        with self.lock:
            self.first = min(self.first, first)
            self.last = max(self.last, last)
            self.count += count

    def result(self) -> Tuple[int, float]:
        return self.count, self.last - self.first


def count_messages(events: Iterable[runhost.Event]) -> Tuple[float, float, int]:
    first = last = 0.0
    n = 0
    for ev in events:
        if ev["type"] == "message":
            last = time.perf_counter()
            if n == 0:
                first = last
            n += 1
    assert ev["type"] == "run.completed", ev
    return first, last, n


def one_run(host: runhost.Host, args: argparse.Namespace, rep: int) -> Tuple[int, float]:
    run = host.dispatch(dispatch(args.lines, f"one-{rep}"))
    cpu = time.thread_time()
    first, last, n = count_messages(run.events())
    args._cpu = time.thread_time() - cpu
    args._last_run = run
    return n, last - first


def replay(host: runhost.Host, args: argparse.Namespace, rep: int) -> Tuple[int, float]:
    run = args._last_run
    started = time.perf_counter()
    cpu = time.thread_time()
    n = sum(1 for _ in run.events())
    args._cpu = time.thread_time() - cpu
    return n, time.perf_counter() - started


def async_many(host: runhost.Host, args: argparse.Namespace, rep: int) -> Tuple[int, float]:
    per_run = args.lines // args.runs
    span = Span()

    async def follow(run: runhost.Run) -> None:
        first = last = 0.0
        n = 0
        async for ev in run.aevents():
            if ev["type"] == "message":
                last = time.perf_counter()
                if n == 0:
                    first = last
                n += 1
        assert ev["type"] == "run.completed", ev
        span.add(first, last, n)

    async def main() -> None:
        runs = [host.dispatch(dispatch(per_run, f"async-{rep}-{i}")) for i in range(args.runs)]
        await asyncio.gather(*(follow(r) for r in runs))

    asyncio.run(main())
    return span.result()


def threads_many(host: runhost.Host, args: argparse.Namespace, rep: int) -> Tuple[int, float]:
    per_run = args.lines // args.runs
    span = Span()

    def follow(i: int) -> None:
        run = host.dispatch(dispatch(per_run, f"threads-{rep}-{i}"))
        span.add(*count_messages(run.events()))

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(args.runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return span.result()


SCENARIOS: List[Tuple[str, Callable[[runhost.Host, argparse.Namespace, int], Tuple[int, float]]]] = [
    ("one-run", one_run),
    ("replay", replay),
    ("async-100", async_many),
    ("threads-100", threads_many),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--dir", default=None)
    parser.add_argument("--no-durable", action="store_true")
    parser.add_argument("--only", default=None, help="comma-separated scenario names")
    args = parser.parse_args()
    base = pathlib.Path(args.dir) if args.dir else REPO / "build"
    base.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, durable={not args.no_durable}, "
          f"lines={args.lines}, runs={args.runs}")
    results: Dict[str, List[float]] = {}
    cpu_us: Dict[str, List[float]] = {}
    with tempfile.TemporaryDirectory(dir=base, prefix="bench-python-") as tmp:
        workspace = pathlib.Path(tmp) / "workspace"
        workspace.mkdir()
        for rep in range(args.reps):
            store = pathlib.Path(tmp) / f"store-{rep}.db"
            with runhost.Host(store=store, workspace_root=workspace, durable=not args.no_durable,
                              use_environment=False, artifact_patterns=["*.nothing"]) as host:
                for name, fn in SCENARIOS:
                    if only and name not in only and not (name == "replay" and "one-run" in only):
                        continue
                    args._cpu = None
                    n, elapsed = fn(host, args, rep)
                    rate = n / elapsed
                    results.setdefault(name, []).append(rate)
                    cpu = ""
                    if args._cpu is not None:
                        cpu_us.setdefault(name, []).append(args._cpu / n * 1e6)
                        cpu = f"  ({args._cpu / n * 1e6:.1f} us CPU/event in the consuming thread)"
                    print(f"  rep {rep + 1} {name:12s} {n:8d} events in {elapsed:6.2f} s = {rate:10,.0f} events/s{cpu}", flush=True)
    print("median events/s:")
    for name, rates in results.items():
        cpu = f"   {statistics.median(cpu_us[name]):.1f} us CPU/event in the consuming thread" if name in cpu_us else ""
        print(f"  {name:12s} {statistics.median(rates):10,.0f}   (min {min(rates):,.0f}, max {max(rates):,.0f}){cpu}")


if __name__ == "__main__":
    main()
