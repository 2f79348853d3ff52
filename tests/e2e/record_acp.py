#!/usr/bin/env python3
"""Record what an ACP agent writes while runhost is its client, for the golden tests: each e2e
scenario run through `runhost run --runtime hermes` (the e2e suite's recipe and scripted model
server), the agent wrapped in acp_tee.py, which copies its stdout and stderr. Stores under
tests/fixtures/runtimes/hermes/:

    <scenario>.stdout.jsonl   the agent's JSON-RPC lines, the server's port as {PORT}
    <scenario>.stderr.txt     its log, likewise
    <scenario>.meta.json      version, the run's directory (the golden test's dispatch cwd), how
                              the agent ended, and how the run ended through runhost

killed_mid_run is not recorded: the suite kills the agent's process group, the recorder with it.

    python3 tests/e2e/record_acp.py [-s SCENARIO]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_e2e  # noqa: E402
from runtimes import HERMES_VENV, REPO, RUNTIMES  # noqa: E402

TEE = Path(__file__).resolve().parent / "acp_tee.py"
OUT = REPO / "tests" / "fixtures" / "runtimes" / "hermes"


def record(scenario: str, scratch: Path) -> str:
    runtime = RUNTIMES["hermes"]
    prefix = scratch / scenario
    make_config = runtime.plugin_config
    ports: list[int] = []

    def plugin_config(*, port: int, home: Path):
        config, launch = make_config(port=port, home=home)
        ports.append(port)
        config.pop("executable", None)
        config["command"] = [sys.executable, str(TEE), str(prefix), "--", str(HERMES_VENV / "bin" / "hermes"), "acp"]
        return config, launch

    object.__setattr__(runtime, "plugin_config", plugin_config)
    try:
        run = test_e2e.run_scenario(runtime, scenario)
    finally:
        object.__delattr__(runtime, "plugin_config")
    port = str(ports[0])
    for suffix in (".stdout.jsonl", ".stderr.txt"):
        text = (prefix.parent / (prefix.name + suffix)).read_text(errors="replace")
        (OUT / (scenario + suffix)).write_text(text.replace(port, "{PORT}"))
    version = subprocess.run([str(HERMES_VENV / "bin" / "hermes"), "--version"], capture_output=True, text=True)
    meta = {
        "runtime": "hermes",
        "scenario": scenario,
        "cli_version": (version.stdout or version.stderr).strip().splitlines()[0],
        "recorded_by": "tests/e2e/record_acp.py",
        "argv": ["hermes", "acp"],
        "cwd": str(run.work),
        "exit": json.loads((prefix.parent / (prefix.name + ".exit.json")).read_text()),
        "killed": None,
        "timed_out": False,
        "through_runhost": run.terminal["type"],
    }
    (OUT / (scenario + ".meta.json")).write_text(json.dumps(meta, indent=2) + "\n")
    return f"{scenario}: {run.terminal['type']}, agent exit {meta['exit']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-s", "--scenario", action="append", help="only these scenarios")
    args = parser.parse_args()
    scenarios = args.scenario or [s for s in test_e2e.SCENARIOS if s != "killed_mid_run"]
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="runhost-record-acp-") as scratch:
        for scenario in scenarios:
            print(record(scenario, Path(scratch)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
