"""Previews, tokens, shares and the /p/ proxy (acceptance checks 7 and 10)."""

from __future__ import annotations

import pytest
from miosa.errors import NotFoundError

from emu import API_KEY, fetch, free_port, wait_until


def serve(sandbox, text: str, port: int) -> dict:
    sandbox.files.write(f"/workspace/site{port}/index.html", text)
    proc = sandbox.processes.start(
        f"cd /workspace/site{port} && exec python3 -m http.server {port} --bind 127.0.0.1",
        env={"PYTHONUNBUFFERED": "1"})
    wait_until(lambda: "Serving HTTP" in sandbox.processes.logs(proc["pid"]), f"a server on {port}")
    return proc


def test_preview_token_reaches_the_single_listening_port(emulator, sandbox):
    token = sandbox.preview_token()
    assert fetch(token["url"])[0] == 502  # nothing listens yet
    port = free_port()
    serve(sandbox, "only server", port)
    url = token["url"]
    assert url.endswith(f"/?mt=mp_{token['token']}")
    assert fetch(url) == (200, b"only server")
    base = url.split("?")[0]
    assert fetch(base + "index.html?x=1")[1] == b"only server"
    status, _ = fetch(base.rstrip("/"))  # /p/<token> redirects to /p/<token>/
    assert status == 200


def test_the_most_recent_preview_picks_the_port(sandbox):
    first, second = free_port(), free_port()
    serve(sandbox, "first", first)
    serve(sandbox, "second", second)
    token = sandbox.preview_token()
    assert fetch(token["url"])[0] == 502  # two ports, no preview: ambiguous
    sandbox.previews.create(port=second)
    assert fetch(token["url"]) == (200, b"second")
    latest = sandbox.previews.create(port=first, label="first")
    assert fetch(token["url"]) == (200, b"first")
    assert [p["port"] for p in sandbox.previews.list()] == [second, first]
    assert sandbox.previews.get(latest["id"])["label"] == "first"
    sandbox.previews.delete(latest["id"])
    assert fetch(token["url"]) == (200, b"second")


def test_bad_expired_and_revoked_links(emulator, sandbox):
    port = free_port()
    serve(sandbox, "page", port)
    assert fetch(f"{emulator.base_url}/p/not-a-token/")[0] == 404
    expired = sandbox.preview_token(expires_in=1)
    wait_until(lambda: fetch(expired["url"])[0] == 403, "the one-second token to expire")
    preview = sandbox.previews.create(port=port)
    assert fetch(preview["url"])[0] == 401  # a private preview needs the key
    assert fetch(preview["url"], {"Authorization": f"Bearer {API_KEY}"}) == (200, b"page")
    share = sandbox.previews.share(preview["id"], ttl_seconds=600)
    assert fetch(share["share_url"]) == (200, b"page")
    assert sandbox.previews.get(preview["id"])["visibility"] == "public"
    sandbox.previews.revoke_share(preview["id"])
    assert fetch(share["share_url"])[0] == 403
    assert sandbox.previews.get(preview["id"])["share_token_prefix"] is None


def test_sandbox_shares(sandbox):
    port = free_port()
    serve(sandbox, "shared", port)
    share = sandbox.share.create(expires_in=600)
    assert set(share) >= {"share_id", "share_url", "expires_at", "scope"} and share["scope"] == "read"
    assert fetch(share["share_url"]) == (200, b"shared")
    assert [s["share_id"] for s in sandbox.share.list()] == [share["share_id"]]
    sandbox.share.revoke(share["share_id"])
    assert fetch(share["share_url"])[0] == 403
    assert sandbox.share.list() == []


def test_expose_legacy(sandbox):
    port = free_port()
    serve(sandbox, "exposed", port)
    info = sandbox.expose_info(port)
    assert info.url_class == "temporary_preview" and info.stable_for_embedding is False
    assert fetch(info.url) == (200, b"exposed")
    with pytest.raises(NotFoundError):
        sandbox.previews.get("prv_missing")
