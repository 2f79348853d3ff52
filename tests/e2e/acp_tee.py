#!/usr/bin/env python3
"""Runs an agent as it is, copying what it writes to files: how tests/e2e/record_acp.py records an
ACP agent's side of the conversation while runhost is the client.

    acp_tee.py PREFIX -- AGENT ARGV...

The agent gets this process's stdin; its stdout and stderr go where they would have gone and to
PREFIX.stdout.jsonl and PREFIX.stderr.txt; PREFIX.exit.json says how it ended. SIGTERM and SIGINT
are passed on to it.
"""
import json
import signal
import subprocess
import sys
import threading


def copy(source, sink, path):
    with open(path, "wb") as f:
        for chunk in iter(lambda: source.read1(65536), b""):
            f.write(chunk)
            f.flush()
            sink.write(chunk)
            sink.flush()


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print("usage: acp_tee.py PREFIX -- AGENT ARGV...", file=sys.stderr)
        return 2
    prefix, argv = sys.argv[1], sys.argv[3:]
    agent = subprocess.Popen(argv, stdin=sys.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: agent.send_signal(number))
    threads = [threading.Thread(target=copy, args=(agent.stdout, sys.stdout.buffer, prefix + ".stdout.jsonl")),
               threading.Thread(target=copy, args=(agent.stderr, sys.stderr.buffer, prefix + ".stderr.txt"))]
    for t in threads:
        t.start()
    code = agent.wait()
    for t in threads:
        t.join()
    ended = {"code": code, "signal": None} if code >= 0 else {"code": None, "signal": signal.Signals(-code).name}
    with open(prefix + ".exit.json", "w") as f:
        json.dump(ended, f)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
