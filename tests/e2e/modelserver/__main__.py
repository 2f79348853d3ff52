"""python3 -m modelserver SCENARIO.json [--log FILE] [--port-file FILE]

Binds 127.0.0.1 on a free port, prints the port as the first line of stdout (and writes it to
--port-file), logs every request as a JSON line to --log, and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from . import Scenario, make_server


def main() -> int:
    parser = argparse.ArgumentParser(prog="modelserver", description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="scenario JSON file, or the name of one in tests/e2e/scenarios")
    parser.add_argument("--log", type=Path, help="append every request as a JSON line to this file")
    parser.add_argument("--port-file", type=Path, help="also write the port to this file")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    args = parser.parse_args()

    path = Path(args.scenario)
    if not path.exists() and path.suffix != ".json":
        path = Path(__file__).resolve().parent.parent / "scenarios" / f"{args.scenario}.json"
    scenario = Scenario.load(path)
    log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    server = make_server(scenario, log_file, port=args.port)
    port = server.server_address[1]
    print(port, flush=True)
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(f"{port}\n")
        tmp.replace(args.port_file)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="modelserver", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    server.server_close()
    if log_file:
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
