"""The repaired wheel (tools/build-wheel) installs into a clean virtual environment with no
compiler on PATH and no package index, and runs a real dispatch there; every library its ELF
files load is either inside the wheel or one that manylinux lets a wheel take from the system.

Run by bindings/python/run-tests with RUNHOST_WHEEL set to the wheel it built.
"""
from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import textwrap
import time
from typing import Dict, List

import pytest

WHEEL = os.path.abspath(os.environ["RUNHOST_WHEEL"]) if os.environ.get("RUNHOST_WHEEL") else ""

# The system libraries a manylinux wheel may load (PEP 599/600), as auditwheel's policy for every
# manylinux_2_X tag lists them (auditwheel/policy/manylinux-policy.json), plus the dynamic loader.
MANYLINUX_SYSTEM_LIBRARIES = {
    "libatomic.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libm.so.6", "libmvec.so.1", "libanl.so.1",
    "libdl.so.2", "librt.so.1", "libc.so.6", "libnsl.so.1", "libutil.so.1", "libpthread.so.0",
    "libX11.so.6", "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libGL.so.1",
    "libgobject-2.0.so.0", "libgthread-2.0.so.0", "libglib-2.0.so.0", "libresolv.so.2",
    "libexpat.so.1", "libz.so.1", "linux-vdso.so.1", "ld-linux-x86-64.so.2",
}
COMPILERS = ("cc", "gcc", "c++", "g++", "clang", "clang++", "cmake", "ninja", "make", "ld")

pytestmark = pytest.mark.skipif(
    not WHEEL, reason="RUNHOST_WHEEL is not set: bindings/python/run-tests builds the wheel and sets it")


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """A new venv with the wheel installed by pip, offline, with a PATH that holds no compiler."""
    root = tmp_path_factory.mktemp("wheel-install")
    tools = root / "bin"
    tools.mkdir()
    # The runs below are `sh -c ...`: the only program they need besides Python.
    os.symlink(shutil.which("sh"), tools / "sh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    path = f"{venv / 'bin'}:{tools}"
    env = {
        "PATH": path, "HOME": str(root), "LANG": "C.UTF-8",
        # No index and no configured find-links: the wheel file alone must do.
        "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    found = {c: shutil.which(c, path=path) for c in COMPILERS}
    assert not any(found.values()), f"the clean PATH holds build tools: {found}"
    start = time.monotonic()
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--no-deps", WHEEL],
                             env=env, cwd=root, capture_output=True, text=True, timeout=600)
    seconds = time.monotonic() - start
    assert install.returncode == 0, install.stdout + install.stderr
    print(f"\nwheel install into a clean venv (no compiler, no index): {seconds:.1f} s")
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    return {"root": root, "venv": venv, "env": env, "package": pathlib.Path(site) / "runhost",
            "libs": pathlib.Path(site) / "runhost.libs"}


def test_a_real_dispatch_runs_from_the_installed_wheel(clean_venv):
    root = clean_venv["root"]
    script = textwrap.dedent("""
        import asyncio, json, pathlib, sys
        import runhost
        here = pathlib.Path(sys.argv[1])
        with runhost.Host(store=here / "runhost.db", workspace_root=here) as host:
            run = host.dispatch(tenant_id="t", workspace_id="w", user_id="u", device_type="local",
                                device_id="d", runtime="custom", prompt="p", approval_policy="auto",
                                idempotency_key="wheel-1", command=["sh", "-c", "echo hi"])
            events = [ev for ev in run.events()]
            plugins = {p.id: p.library for p in host.plugins()}

        async def follow():
            async with runhost.AsyncHost(store=here / "runhost.db", workspace_root=here) as host:
                run = await host.dispatch(tenant_id="t", workspace_id="w", user_id="u", device_type="local",
                                          device_id="d", runtime="custom", prompt="p", approval_policy="auto",
                                          idempotency_key="wheel-2", command=["sh", "-c", "echo async"])
                return [ev async for ev in run.events()]

        print(json.dumps({"module": runhost.__file__, "events": events, "async": asyncio.run(follow()),
                          "plugins": plugins, "bundled": str(runhost.bundled_plugin_dir())}))
    """)
    out = subprocess.run([str(clean_venv["venv"] / "bin" / "python"), "-c", script, str(root)],
                         env=clean_venv["env"], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    got = json.loads(out.stdout)
    package = str(clean_venv["package"])
    assert got["module"].startswith(package), f"imported {got['module']}, not the installed wheel"
    assert [e["type"] for e in got["events"]] == ["run.started", "command.output", "run.completed"]
    assert got["events"][1]["payload"]["text"] == "hi"
    assert [e["payload"].get("text") for e in got["async"] if e["type"] == "command.output"] == ["async"]
    # The bundled plugins came from the wheel, found by the core's own rule (no variable set).
    assert got["bundled"] == f"{package}/lib/runhost/plugins"
    assert got["plugins"]["custom"] == f"{package}/lib/runhost/plugins/custom.so"
    assert {"custom", "example-echo", "deny-pattern", "static-grant"} <= set(got["plugins"])


def elf_files(package: pathlib.Path) -> List[pathlib.Path]:
    return sorted(p for p in package.rglob("*.so*") if p.read_bytes()[:4] == b"\x7fELF")


def test_every_library_resolves_inside_the_wheel_or_from_the_manylinux_set(clean_venv):
    # The ELF files Python and the core load (the extension, the plugins): ldd resolves each
    # one's whole dependency tree as the loader will, the vendored libraries included.
    package, libs = clean_venv["package"], clean_venv["libs"]
    files = elf_files(package)
    assert any(f.name.startswith("_core.") for f in files) and len(files) > 5, files
    from_system: Dict[str, str] = {}
    for f in files:
        # A clean environment: no LD_LIBRARY_PATH, so what resolves is what a user would get.
        out = subprocess.run(["ldd", str(f)], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            m = re.match(r"\s*(\S+)(?: => (\S+))?", line)
            if not m:
                continue
            name, where = m.group(1), m.group(2) or m.group(1)
            assert where != "not", f"{f.name}: {name} not found\n{out.stdout}"
            if not where.startswith(str(libs)) and not where.startswith(str(package)):
                from_system[name] = f.name
    outside = {n: who for n, who in from_system.items() if pathlib.Path(n).name not in MANYLINUX_SYSTEM_LIBRARIES}
    assert outside == {}, f"loaded from the system, outside what manylinux allows: {outside}"
    print(f"\nfrom the system: {sorted(pathlib.Path(n).name for n in from_system)}")


def test_the_runpaths_point_inside_the_wheel(clean_venv):
    package = clean_venv["package"]
    core = next(package.glob("_native/_core.*.so"))
    dynamic = subprocess.run(["readelf", "-d", str(core)], capture_output=True, text=True, check=True).stdout
    paths = re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic)
    assert paths == ["$ORIGIN/../../runhost.libs"], dynamic
    # The plugins are dlopen()ed by absolute path and need only libc: no runpath, nothing grafted.
    for plugin in package.glob("lib/runhost/plugins/*.so"):
        dynamic = subprocess.run(["readelf", "-d", str(plugin)], capture_output=True, text=True, check=True).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dynamic))
        assert needed <= MANYLINUX_SYSTEM_LIBRARIES, (plugin.name, needed)
        assert "RPATH" not in dynamic and "RUNPATH" not in dynamic, plugin.name
