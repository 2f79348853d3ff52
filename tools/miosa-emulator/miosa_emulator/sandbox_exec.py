"""Running sandbox commands for real: bubblewrap confinement, the spawner, output pumps.

Every command (exec, exec/stream, processes, commands, runs) is

    bwrap --ro-bind /usr /usr --ro-bind /etc /etc <the host's /bin, /lib, ... as symlinks or binds>
          --bind <root>/<sbx>/workspace /workspace --bind <root>/<sbx>/home /home/user
          --proc /proc --dev /dev --tmpfs /tmp [--ro-bind D D for each template dir]
          --unshare-pid --die-with-parent --chdir <cwd> -- /bin/sh -c CMD

The network is not unshared (agents inside must reach a model server on the host's
127.0.0.1), so ports opened inside a sandbox are host ports.

Each command gets its own session and process group (``start_new_session``). Pause sends
SIGSTOP to the group. A kill sends SIGTERM to the sandboxed processes (not to the bwrap pair
around them, whose death would SIGKILL the whole namespace at once) and SIGCONT to the group,
then SIGKILL to the group after a grace.

Processes are started from one long-lived spawner thread and, when ``setpriv`` exists, with
``--pdeathsig KILL``: the parent-death signal belongs to the thread that forked, so a request
thread must not be the parent, and a killed emulator leaves no sandbox process behind.
"""

from __future__ import annotations

import collections
import os
import queue
import selectors
import shutil
import signal
import subprocess
import threading
import time
from typing import Callable, Optional

from .state import now_iso

ROOT_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEFAULT_PATH = ["/usr/local/bin", "/usr/bin", "/bin"]


class Confinement:
    """Builds the bwrap argv and the environment of a sandbox command."""

    def __init__(self, bwrap: str) -> None:
        self.bwrap = bwrap
        self.setpriv = shutil.which("setpriv")
        self.base: list[str] = []
        for d in ("/usr", "/etc"):
            if os.path.isdir(d):
                self.base += ["--ro-bind", d, d]
        for name in ROOT_LINKS:
            path = "/" + name
            if os.path.islink(path):
                self.base += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                self.base += ["--ro-bind", path, path]

    def argv(self, sbx_dir: str, cwd: str, template_dirs: list, command: str) -> list:
        args = [self.bwrap, *self.base,
                "--bind", os.path.join(sbx_dir, "workspace"), "/workspace",
                "--bind", os.path.join(sbx_dir, "home"), "/home/user",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for d in template_dirs:
            args += ["--ro-bind", d, d]
        args += ["--unshare-pid", "--die-with-parent", "--chdir", cwd, "--", "/bin/sh", "-c", command]
        if self.setpriv:
            args = [self.setpriv, "--pdeathsig", "KILL", *args]
        return args

    @staticmethod
    def env(template_dirs: list, sandbox_env: dict, request_env: Optional[dict]) -> dict:
        env = {
            "PATH": ":".join(list(template_dirs) + DEFAULT_PATH),
            "HOME": "/home/user",
            "LANG": "C.UTF-8",
        }
        for extra in (sandbox_env or {}, request_env or {}):
            for key, value in extra.items():
                env[str(key)] = str(value)
        return env


class Spawner:
    """Forks every sandbox process from one thread that lives as long as the emulator."""

    def __init__(self) -> None:
        self._queue: "queue.Queue" = queue.Queue()
        self._lock = threading.Lock()
        self.groups: dict[int, subprocess.Popen] = {}
        threading.Thread(target=self._loop, name="spawner", daemon=True).start()

    def _loop(self) -> None:
        while True:
            fn, box, done = self._queue.get()
            try:
                box["value"] = fn()
            except BaseException as exc:  # handed back to the caller
                box["error"] = exc
            done.set()

    def spawn(self, argv: list, env: dict, *, stdin: bool = False) -> subprocess.Popen:
        def start() -> subprocess.Popen:
            return subprocess.Popen(
                argv, env=env, cwd="/",
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, close_fds=True)
        box: dict = {}
        done = threading.Event()
        self._queue.put((start, box, done))
        done.wait()
        if "error" in box:
            raise box["error"]
        popen = box["value"]
        with self._lock:
            self.groups[popen.pid] = popen
        return popen

    def forget(self, popen: subprocess.Popen) -> None:
        with self._lock:
            self.groups.pop(popen.pid, None)

    def kill_all(self) -> None:
        """SIGTERM then SIGKILL every process group still alive (emulator shutdown)."""
        with self._lock:
            groups = list(self.groups.items())
        for pgid, _ in groups:
            if signal_sandboxed(pgid, signal.SIGTERM):
                signal_group(pgid, signal.SIGCONT)
        deadline = time.monotonic() + 1.0
        for _, popen in groups:
            try:
                popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # members can outlive the group leader (the outer bwrap): the group gets SIGKILL anyway
        for pgid, _ in groups:
            signal_group(pgid, signal.SIGKILL)
        for _, popen in groups:
            try:
                popen.wait(2.0)
            except subprocess.TimeoutExpired:
                pass


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_members(pgid: int) -> list:
    """(pid, ppid) of every live process in process group ``pgid``, from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
            fields = raw[raw.rindex(b")") + 2:].split()  # state ppid pgrp ...
            if int(fields[2]) == pgid:
                members.append((int(entry), int(fields[1])))
        except (OSError, ValueError, IndexError):
            continue
    return members


def signal_sandboxed(pgid: int, sig: int) -> bool:
    """Signal the sandboxed processes of a group, not the two bwrap processes around them.

    The group leader is the outer bwrap and its child the inner one (the pid namespace's
    init); if either died first, the namespace would be torn down and every process in it
    SIGKILLed at once, so a SIGTERM must reach the command itself to give it its grace.
    """
    members = group_members(pgid)
    inner = {pid for pid, ppid in members if ppid == pgid}
    targets = [pid for pid, _ in members if pid != pgid and pid not in inner]
    for pid in targets:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    return bool(targets)


def exit_code_of(returncode: int) -> int:
    """Shell convention: a death by signal N is 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def pump(popen: subprocess.Popen, on_line: Callable[[str, str], None],
         on_bytes: Optional[Callable[[str, bytes], None]] = None) -> None:
    """Relay stdout and stderr until both close, one line at a time (``\\n`` removed).

    When both pipes have data at once, stdout is read first. A last line without a newline is
    delivered at end of file.
    """
    sel = selectors.DefaultSelector()
    partial = {"stdout": b"", "stderr": b""}
    for name, f in (("stdout", popen.stdout), ("stderr", popen.stderr)):
        if f is not None:
            os.set_blocking(f.fileno(), False)
            sel.register(f, selectors.EVENT_READ, name)
    try:
        while sel.get_map():
            ready = sel.select(timeout=1.0)
            ready.sort(key=lambda kv: 0 if kv[0].data == "stdout" else 1)
            for key, _ in ready:
                name = key.data
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fileobj)
                    if partial[name]:
                        on_line(name, decode(partial[name]))
                        partial[name] = b""
                    continue
                if on_bytes is not None:
                    on_bytes(name, chunk)
                pieces = (partial[name] + chunk).split(b"\n")
                partial[name] = pieces.pop()
                for piece in pieces:
                    on_line(name, decode(piece))
    finally:
        sel.close()
        for f in (popen.stdout, popen.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass


class Job:
    """One running command of a sandbox, whatever started it."""

    def __init__(self, popen: subprocess.Popen, kind: str) -> None:
        self.popen = popen
        self.pgid = popen.pid
        self.kind = kind
        self.done = threading.Event()
        self.stopped = False  # SIGSTOPped by a pause
        self.killed = False   # ended by us (DELETE, stop, destroy, timeout)
        self.returncode: Optional[int] = None

    def pause(self) -> None:
        if not self.done.is_set() and signal_group(self.pgid, signal.SIGSTOP):
            self.stopped = True

    def resume(self) -> None:
        if self.stopped:
            signal_group(self.pgid, signal.SIGCONT)
            self.stopped = False

    def terminate(self, grace: float) -> None:
        """SIGTERM the sandboxed processes (SIGCONT the group), SIGKILL the group after ``grace``."""
        if self.done.is_set():
            return
        self.killed = True
        # Nothing to signal yet (the command is not started) or any more: no grace is due.
        if signal_sandboxed(self.pgid, signal.SIGTERM):
            signal_group(self.pgid, signal.SIGCONT)
            self.stopped = False
            if self.done.wait(grace):
                return
        signal_group(self.pgid, signal.SIGKILL)
        self.stopped = False
        self.done.wait(5.0)

    def kill_now(self) -> None:
        if self.done.is_set():
            return
        self.killed = True
        signal_group(self.pgid, signal.SIGKILL)
        self.done.wait(5.0)


class ProcRec(Job):
    """A background process (``/processes``, detached ``/commands``, a run's command).

    Its output is kept as numbered lines (a ring) for ``logs?tail=N`` and ``stream``, and
    appended to ``<root>/<sbx>/procs/<pid>.stdout|.stderr``.
    """

    RING = 20000

    def __init__(self, popen: subprocess.Popen, pid: int, sandbox_id: str, command: str,
                 name: Optional[str], cwd: str, log_dir: str) -> None:
        super().__init__(popen, "process")
        self.pid = pid
        self.sandbox_id = sandbox_id
        self.command = command
        self.name = name
        self.cwd = cwd
        self.started_at = now_iso()
        self.ended_at: Optional[str] = None
        self.exit_code: Optional[int] = None
        self.seq = 0
        self.lines: collections.deque = collections.deque(maxlen=self.RING)
        self.cond = threading.Condition()
        os.makedirs(log_dir, exist_ok=True)
        self._files = {
            "stdout": open(os.path.join(log_dir, f"{pid}.stdout"), "ab"),
            "stderr": open(os.path.join(log_dir, f"{pid}.stderr"), "ab"),
        }
        self.on_line_hooks: list = []

    def add_line(self, stream: str, line: str) -> None:
        with self.cond:
            self.seq += 1
            self.lines.append((self.seq, stream, line))
            f = self._files.get(stream)
            if f is not None:
                f.write(line.encode("utf-8", errors="replace") + b"\n")
                f.flush()
            self.cond.notify_all()
        for hook in self.on_line_hooks:
            hook(stream, line)

    def finish(self, returncode: int) -> None:
        with self.cond:
            self.returncode = returncode
            self.exit_code = exit_code_of(returncode)
            self.ended_at = now_iso()
            for f in self._files.values():
                f.close()
            self._files = {}
            self.done.set()
            self.cond.notify_all()

    @property
    def state(self) -> str:
        if self.done.is_set():
            return "killed" if self.killed else "exited"
        return "paused" if self.stopped else "running"

    def to_json(self) -> dict:
        return {
            "pid": self.pid,
            "sandbox_id": self.sandbox_id,
            "name": self.name,
            "command": self.command,
            "cwd": self.cwd,
            "state": self.state,
            "running": not self.done.is_set(),
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
        }

    def tail(self, n: int) -> str:
        with self.cond:
            picked = list(self.lines)[-n:] if n > 0 else []
        return "".join(line + "\n" for _, _, line in picked)

    def follow(self, after_seq: int, timeout: float) -> tuple[list, bool]:
        """Lines numbered after ``after_seq`` (waiting up to ``timeout``), and whether it ended."""
        with self.cond:
            if self.seq <= after_seq and not self.done.is_set():
                self.cond.wait(timeout)
            fresh = [entry for entry in self.lines if entry[0] > after_seq]
            return fresh, self.done.is_set() and (not fresh or fresh[-1][0] == self.seq)


def start_waiter(proc: ProcRec, spawner: Spawner, on_exit: Callable[[ProcRec], None]) -> None:
    """Pump a background process's output into its record, then record its exit."""
    def run() -> None:
        try:
            pump(proc.popen, proc.add_line)
        finally:
            rc = proc.popen.wait()
            spawner.forget(proc.popen)
            proc.finish(rc)
            on_exit(proc)
    threading.Thread(target=run, name=f"proc-{proc.pid}", daemon=True).start()
