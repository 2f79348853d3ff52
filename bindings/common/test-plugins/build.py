"""Builds the test plugins of this folder against abi/ alone, as a vendor would: one place for the
compiler line, used by the bindings' tests and the examples' (Python imports it, Node runs it).

    python3 bindings/common/test-plugins/build.py DIR     # builds asks-first into DIR, prints DIR

CC names the compiler (default cc).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
ABI_INCLUDE = HERE.parents[2] / "abi" / "include"


def build_asks_first(out_dir: "os.PathLike[str] | str") -> pathlib.Path:
    """Compiles the asks-first policy (asks when a prompt holds "[ask]") into `out_dir`, with its
    manifest, and returns the directory: a plugin directory for RUNHOST_PLUGIN_PATH."""
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
         "-fvisibility=hidden", "-I", str(ABI_INCLUDE), str(HERE / "asks_first.c"),
         "-o", str(out / "asks-first.so")],
        check=True)
    shutil.copy(HERE / "asks-first.runhost.json", out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    print(build_asks_first(sys.argv[1]))
