"""Fixtures: one emulator for the session (``serve --port 0`` in a temp root), an SDK client,
and a fresh sandbox per test. The emulator is stopped with SIGTERM at the end and must exit 0.
"""

from __future__ import annotations

import contextlib
import stat

import pytest
from miosa import Miosa

from emu import API_KEY, Emulator

TEMPLATE_ID = "tools-template"


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory):
    """A host dir that the ``tools-template`` sandboxes see read-only, first on PATH."""
    d = tmp_path_factory.mktemp("template") / "bin"
    d.mkdir()
    tool = d / "hello-tool"
    tool.write_text("#!/bin/sh\necho \"hello from the template tool: $*\"\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return d


@pytest.fixture(scope="session")
def emulator(tmp_path_factory, template_dir):
    root = tmp_path_factory.mktemp("emulator") / "root"
    emu = Emulator(root, "--template", f"{TEMPLATE_ID}:{template_dir}", "--kill-grace-ms", "1000")
    yield emu
    status = emu.stop()
    assert status == 0, f"the emulator exited {status} on SIGTERM\n{emu.stderr()[-4000:]}"


@pytest.fixture(autouse=True)
def _clean_faults(request):
    """Each test starts with no fault armed (only for tests that use the shared emulator)."""
    if "emulator" in request.fixturenames:
        emu = request.getfixturevalue("emulator")
        emu.clear_faults()
        yield
        emu.clear_faults()
    else:
        yield


@pytest.fixture
def client(emulator):
    with Miosa(api_key=API_KEY, base_url=emulator.base_url) as c:
        yield c


@pytest.fixture
def sandbox(client):
    sbx = client.sandboxes.create(persistent=True, metadata={"suite": "miosa-emulator"})
    yield sbx
    with contextlib.suppress(Exception):
        client.sandboxes.delete(sbx.id)
