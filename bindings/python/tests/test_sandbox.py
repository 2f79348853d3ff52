"""Host(miosa=...): the sandbox device from Python, against the loopback MIOSA emulator
(tools/miosa-emulator), which runs every command for real under bubblewrap."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Iterator

import pytest

import runhost
from conftest import REPO, sh

sys.path.insert(0, str(REPO / "tests" / "miosa"))
from emu import Emulator, store_bytes  # noqa: E402

KEY = "msk_live_python_binding_0123456789"


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) is not installed: the MIOSA emulator confines every sandbox with it "
                    "(scripts/setup installs it)")
    emu = Emulator(tmp_path / "emu")
    yield emu
    emu.stop()


@pytest.fixture
def miosa_env(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> Emulator:
    """The SDK's variables pointing at the emulator, as a deployment would set them."""
    monkeypatch.setenv("MIOSA_BASE_URL", emulator.base_url)
    monkeypatch.setenv("MIOSA_API_KEY", KEY)
    return emulator


def sandbox(script: str, **fields: object) -> dict:
    d = sh(script, deviceType="sandbox", **fields)
    del d["deviceId"]  # none: the host creates the sandbox (idempotently, from the dispatch's key)
    return d


def test_a_host_given_an_account_runs_in_a_sandbox_and_keeps_the_key_out(env, emulator, event_validator):
    from conftest import check_stream

    with env.host(miosa={"base_url": emulator.base_url, "api_key": KEY}) as host:
        run = host.dispatch(sandbox("echo hello from the sandbox; echo x > made.txt"))
        info = run.wait(60)
        events = list(run.events())
    assert info.status == "succeeded"
    check_stream(events, event_validator)
    assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == ["hello from the sandbox"]
    sid = events[0]["device"]["id"]
    assert sid.startswith("sbx_") and all(e["device"] == {"type": "sandbox", "id": sid} for e in events)
    assert any(e["type"] == "file.changed" and e["payload"]["path"] == "made.txt" for e in events)
    assert info.device_id == sid
    stored = store_bytes(env.store)
    assert b"hello from the sandbox" in stored, "the store's bytes were read"
    assert KEY not in json.dumps(events) and KEY.encode() not in stored
    creates = [e for e in emulator.log() if e["method"] == "POST" and e["path"].endswith("/sandboxes")]
    assert len(creates) == 1 and creates[0]["authorization"] == {"present": True, "scheme": "Bearer"}


def test_without_use_environment_the_miosa_variables_are_not_read(env, miosa_env):
    with env.host(use_environment=False) as host:
        with pytest.raises(runhost.errors.DeviceUnavailableError) as caught:
            host.dispatch(sandbox("true"))
    assert caught.value.recovery["action"] == "configure_device"
    assert not miosa_env.log(), "nothing reached MIOSA"


def test_by_default_the_host_reads_the_sdks_variables(env, miosa_env):
    with env.host(use_environment=True) as host:
        run = host.dispatch(sandbox("echo from the environment account", tenantId="acme"))
        info = run.wait(60)
        events = list(run.events())
    assert info.status == "succeeded", events[-1]
    assert [e["payload"]["text"] for e in events if e["type"] == "command.output"] == ["from the environment account"]


def test_a_member_given_wins_over_the_environment(env, miosa_env, monkeypatch):
    monkeypatch.setenv("MIOSA_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    with env.host(use_environment=True, miosa={"base_url": miosa_env.base_url, "tenant": "team-a"}) as host:
        run = host.dispatch(sandbox("true"))
        assert run.wait(60).status == "succeeded"
    assert {e["tenant"] for e in miosa_env.log()} == {"team-a"}


@pytest.mark.parametrize("miosa, message", [
    ("http://x", "miosa must be a dict"),
    ({"apikey": KEY}, "unknown miosa option 'apikey'"),
    ({"api_key": 5}, "miosa['api_key'] must be a str"),
])
def test_bad_miosa_options_are_type_errors_naming_them(env, miosa, message):
    with pytest.raises(TypeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        env.host(miosa=miosa)


def test_async_host_takes_the_same_option(env, emulator):
    import asyncio

    async def main() -> str:
        async with runhost.AsyncHost(store=env.store, workspace_root=env.workspace, use_environment=False,
                                     miosa={"base_url": emulator.base_url, "api_key": KEY}) as host:
            run = await host.dispatch(sandbox("echo async"))
            info = await run.wait()
            return info.status

    assert asyncio.run(main()) == "succeeded"
