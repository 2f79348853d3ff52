"""``serve``: parse the options, check bubblewrap, start the server, stop cleanly on a signal.

    serve --port N [--root DIR] [--template ID:DIR[:DIR...]]... [tuning options]

Prints exactly one line to stdout, ``miosa-emulator listening on http://127.0.0.1:<port>``, once
the socket accepts connections (``--port 0`` picks a free port). Logs one line per request to
stderr. On SIGTERM or SIGINT it kills every process group it started, removes the root if it
made it (a temporary one), and exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

from .app import App, Config
from .httpcore import Server
from .sandbox_exec import Confinement, Spawner
from .state import DEFAULT_TEMPLATE, State


def fail(message: str) -> "None":
    sys.stderr.write(f"miosa-emulator: {message}\n")
    sys.exit(2)


def parse_templates(specs: list) -> dict:
    templates: dict = {DEFAULT_TEMPLATE: []}
    for spec in specs:
        template_id, sep, rest = spec.partition(":")
        if not template_id or not sep or not rest:
            fail(f"--template {spec!r}: expected ID:DIR[:DIR...]")
        dirs = []
        for d in rest.split(":"):
            if not os.path.isabs(d):
                fail(f"--template {template_id}: {d!r} is not an absolute path")
            if not os.path.isdir(d):
                fail(f"--template {template_id}: {d} is not a directory")
            if d.rstrip("/") in ("", "/workspace", "/home/user") or d.startswith(("/workspace/", "/home/user/")):
                fail(f"--template {template_id}: {d} would hide the sandbox's own files")
            dirs.append(os.path.normpath(d))
        templates[template_id] = dirs
    return templates


def check_bwrap(confinement: Confinement, root: str) -> None:
    """Run ``true`` confined once, so a host without working user namespaces is told at start."""
    probe = os.path.join(root, "_probe")
    os.makedirs(os.path.join(probe, "workspace"), exist_ok=True)
    os.makedirs(os.path.join(probe, "home"), exist_ok=True)
    argv = confinement.argv(probe, "/workspace", [], "true")
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        fail(f"bubblewrap does not run here: {exc}")
    if done.returncode != 0:
        fail("bubblewrap cannot confine a command here: " + done.stderr.decode(errors="replace").strip())
    shutil.rmtree(probe, ignore_errors=True)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="serve", description="A loopback MIOSA sandbox API emulator.")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--root", help="directory for sandbox files (default: a temporary one, removed at exit)")
    parser.add_argument("--template", action="append", default=[], metavar="ID:DIR[:DIR...]",
                        help="a template whose sandboxes see these host dirs read-only, first on PATH")
    parser.add_argument("--keepalive-sec", type=float, default=15.0, help="SSE keep-alive comment interval")
    parser.add_argument("--checkpoint-ms", type=int, default=300, help="checkpoint window after pause/stop")
    parser.add_argument("--deploy-build-ms", type=int, default=300, help="how long a deployment is 'building'")
    parser.add_argument("--kill-grace-ms", type=int, default=2000, help="SIGTERM to SIGKILL grace")
    parser.add_argument("--max-body-bytes", type=int, default=64 << 20, help="largest request body")
    args = parser.parse_args(argv)

    bwrap = shutil.which("bwrap")
    if bwrap is None:
        fail("bubblewrap (bwrap) is not installed; every sandbox command runs under it. "
             "Install it: apt-get install bubblewrap")
    templates = parse_templates(args.template)

    made_root = args.root is None
    root = os.path.realpath(args.root or tempfile.mkdtemp(prefix="miosa-emulator-"))
    os.makedirs(root, exist_ok=True)
    for shadow in ["/usr", "/etc"] + [d for dirs in templates.values() for d in dirs]:
        if root == shadow or root.startswith(shadow.rstrip("/") + "/"):
            fail(f"--root {root} is inside {shadow}, which every sandbox can read")

    confinement = Confinement(bwrap)
    check_bwrap(confinement, root)
    cfg = Config(root=root, templates=templates, keepalive_sec=args.keepalive_sec,
                 checkpoint_ms=args.checkpoint_ms, deploy_build_ms=args.deploy_build_ms,
                 kill_grace_ms=args.kill_grace_ms, max_body_bytes=args.max_body_bytes)
    state = State(root, templates)
    spawner = Spawner()
    app = App(cfg, state, spawner, confinement)
    try:
        server = Server(("127.0.0.1", args.port), app, args.max_body_bytes)
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{args.port}: {exc}")
    cfg.port = server.server_address[1]
    cfg.base_url = f"http://127.0.0.1:{cfg.port}"

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True).start()
    sys.stdout.write(f"miosa-emulator listening on {cfg.base_url}\n")
    sys.stdout.flush()
    templates_note = ", ".join(f"{k}={':'.join(v) or '-'}" for k, v in templates.items())
    sys.stderr.write(f"miosa-emulator: root {root}; templates {templates_note}\n")
    sys.stderr.flush()
    while not stop.wait(1.0):
        pass
    sys.stderr.write("miosa-emulator: stopping: killing every sandbox process group\n")
    spawner.kill_all()
    server.shutdown()
    server.server_close()
    if made_root:
        shutil.rmtree(root, ignore_errors=True)
    sys.stderr.write("miosa-emulator: stopped\n")
    return 0
