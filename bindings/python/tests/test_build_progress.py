"""tools/ninja-progress: during `pip install`, Ninja's progress reaches the terminal (/dev/tty)
while its whole output still goes where pip captures it, and Ninja's exit status is kept.

A fake Ninja prints status lines; `script` gives the wrapper a terminal, so /dev/tty exists as
it does for someone typing `pip install`.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import REPO

WRAPPER = REPO / "bindings" / "python" / "tools" / "ninja-progress"

pytestmark = pytest.mark.skipif(shutil.which("script") is None,
                                reason="`script` (util-linux) is needed to give the wrapper a terminal")


def fake_ninja(tmp_path: pathlib.Path, steps: int, status: int) -> pathlib.Path:
    ninja = tmp_path / "ninja"
    ninja.write_text("#!/bin/sh\n"
                     f"i=1; while [ $i -le {steps} ]; do echo \"[$i/{steps}] Building CXX object core/f$i.cpp.o\"; "
                     "i=$((i+1)); done\n"
                     "echo 'a compiler warning'\n"
                     f"exit {status}\n")
    ninja.chmod(0o755)
    return ninja


def run_on_a_terminal(tmp_path: pathlib.Path, steps: int, status: int, **env: str):
    ninja = fake_ninja(tmp_path, steps, status)
    captured = tmp_path / "captured"  # what pip would capture (the wrapper's stdout)
    command = f"'{WRAPPER}' '{ninja}' -C build > '{captured}'; echo \"exit=$?\""
    out = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    return out.stdout.replace("\r", ""), captured.read_text()


def test_progress_goes_to_the_terminal_and_everything_to_the_log(tmp_path):
    terminal, captured = run_on_a_terminal(tmp_path, steps=40, status=0)
    assert captured.splitlines()[:2] == ["[1/40] Building CXX object core/f1.cpp.o", "[2/40] Building CXX object core/f2.cpp.o"]
    assert captured.splitlines()[-1] == "a compiler warning" and len(captured.splitlines()) == 41
    assert "runhost: building the C++ core, the bundled plugins and the extension (40 steps;" in terminal
    assert "pip install -v shows the full log" in terminal
    assert "runhost build [1/40] core/f1.cpp.o" in terminal, "the first step is shown"
    assert "runhost build [40/40] core/f40.cpp.o" in terminal, "and the last"
    assert terminal.count("runhost build [") <= 3, "at most one line every two seconds (and the last)"
    assert "exit=0" in terminal


def test_ninjas_failure_is_the_wrappers(tmp_path):
    terminal, _ = run_on_a_terminal(tmp_path, steps=3, status=7)
    assert "exit=7" in terminal
    assert "runhost build" not in terminal, "a build of a few steps (a warm rebuild) shows nothing"


def test_it_can_be_turned_off(tmp_path):
    terminal, captured = run_on_a_terminal(tmp_path, steps=40, status=0, RUNHOST_BUILD_PROGRESS="0")
    assert "runhost build" not in terminal and len(captured.splitlines()) == 41


def test_without_a_terminal_it_is_ninja(tmp_path):
    ninja = fake_ninja(tmp_path, 40, 5)
    out = subprocess.run([str(WRAPPER), str(ninja)], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL, start_new_session=True)  # no controlling terminal
    assert out.returncode == 5 and len(out.stdout.splitlines()) == 41 and out.stderr == ""
