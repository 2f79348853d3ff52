"""The public API is typed (py.typed, inline hints, a stub for the extension): mypy --strict
accepts correct use and rejects misuse."""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

SAMPLES = pathlib.Path(__file__).parent / "typing_samples"


def mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null", *args],
        capture_output=True, text=True, timeout=300, cwd=SAMPLES)


def test_the_package_passes_mypy_strict():
    out = mypy("-p", "runhost")
    assert out.returncode == 0, out.stdout + out.stderr


def test_correct_use_passes_mypy_strict():
    out = mypy("good.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_misuse_is_reported_line_by_line():
    out = mypy("bad.py")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = (SAMPLES / "bad.py").read_text().splitlines()
    marked = {i for i, line in enumerate(lines, start=1) if line.rstrip().endswith("# E")}
    reported = {int(m.group(1)) for m in re.finditer(r"^bad\.py:(\d+): error", out.stdout, re.M)}
    assert marked <= reported, f"not reported: {sorted(marked - reported)}\n{out.stdout}"
    assert reported <= marked, f"unexpected: {sorted(reported - marked)}\n{out.stdout}"
