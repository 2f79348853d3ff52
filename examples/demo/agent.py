"""The demo's agent run: Claude Code (the pinned CLI in tools/runtimes) dispatched through
runhost on the local device, building and serving a small site. With ANTHROPIC_API_KEY set it
talks to the real model; otherwise to the bundled scripted model server on 127.0.0.1, which
plays examples/demo/site.json in Anthropic's streaming format. The unified events are printed
live by `runhost run`; then the run is replayed from the store with `runhost events`.

    python3 examples/demo/agent.py --runhost build/default/bin/runhost --root build/demo

Exit status: runhost run's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from modelserver import Scenario, make_server  # noqa: E402
from runtimes import RUNTIMES  # noqa: E402

SCENARIO = Path(__file__).resolve().parent / "site.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runhost", required=True, help="the runhost CLI")
    parser.add_argument("--root", required=True, help="where the demo keeps its store and workspace")
    args = parser.parse_args()

    root = Path(args.root).resolve()
    workspace, home = root / "workspace", root / "claude-home"
    job = f"site-{time.strftime('%Y%m%d-%H%M%S')}"
    (workspace / job).mkdir(parents=True, exist_ok=True)
    store = root / "runhost.db"
    claude = RUNTIMES["claude-code"]
    scenario = Scenario.load(SCENARIO)

    server = None
    if os.environ.get("ANTHROPIC_API_KEY"):
        # The real model: the key reaches the CLI as a secret environment variable (never argv,
        # never an event), and nothing else is overridden.
        config: dict[str, object] = {"executable": str(claude.path),
                                     "env": {"ANTHROPIC_API_KEY": {"value": os.environ["ANTHROPIC_API_KEY"], "secret": True}}}
        print("model: the real Anthropic API (ANTHROPIC_API_KEY is set)")
    else:
        log = open(root / "model-requests.jsonl", "w", encoding="utf-8")
        server = make_server(scenario, log)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        config, launch = claude.plugin_config(port=server.server_address[1], home=home)
        launch.write_files()
        print(f"model: the scripted model server on 127.0.0.1:{server.server_address[1]} playing {SCENARIO.relative_to(REPO)}"
              " (set ANTHROPIC_API_KEY for the real model)")
    config_path = root / "claude-code.json"
    config_path.write_text(json.dumps(config))
    config_path.chmod(0o600)

    argv = [args.runhost, "run", "--store", str(store), "--workspace-root", str(workspace), "--cwd", job,
            "--runtime", "claude-code", "--prompt", scenario.prompt, "--plugin-config", f"claude-code=@{config_path}",
            "--timeout", "300"]
    print(f"\n$ runhost run --runtime claude-code --cwd {job} --prompt {json.dumps(scenario.prompt)}", flush=True)
    try:
        status = subprocess.run(argv).returncode
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    print(f"(runhost run exited {status})")

    runs = json.loads(subprocess.run([args.runhost, "runs", "--store", str(store), "--json", "--limit", "1"],
                                     capture_output=True, text=True, check=True).stdout)
    run_id = runs[0]["id"]
    print(f"\n$ runhost events {run_id}      # replayed from {store}", flush=True)
    subprocess.run([args.runhost, "events", run_id, "--store", str(store)], check=True)
    page = workspace / job / "site" / "index.html"
    print(f"\nthe site: {page}" if page.is_file() else "\n(the agent wrote no site/index.html)")
    return status


if __name__ == "__main__":
    sys.exit(main())
