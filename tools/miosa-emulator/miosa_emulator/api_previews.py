"""Previews, preview tokens, preview shares, sandbox shares and the legacy ``expose``.

  POST /preview-token {expires_in, scope} -> {token, url, expires_at, scope}
       url = http://127.0.0.1:<port>/p/<token>/?mt=mp_<token>  (no key in it, iframe-safe)
  POST /previews {port, ...} -> {id, sandbox_id, port, url, visibility, state, expires_at,
       share_token_prefix, share_token_expires_at, metadata, ...}; url needs a Bearer key
  POST /previews/{id}/share {ttl_seconds} -> {preview, preview_token, share_url, expires_at}
       (the raw token is returned once; later reads show share_token_prefix only)
  DELETE /previews/{id}/share revokes every share token of the preview
  POST /shares {scope, expires_in?} -> {share_id, share_url, expires_at, scope}
Every link goes through the ``/p/<key>/`` proxy (``proxy.py``).
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any, Optional

from .app import Ctx
from .httpcore import ApiError, Reply
from .state import expires_at, new_id, now_iso
from . import proxy

_preview_seq = itertools.count(1)


def register(app: Any) -> None:
    app.add("POST", "/sandboxes/{id}/preview-token", preview_token)
    app.add("POST", "/sandboxes/{id}/previews", preview_create)
    app.add("GET", "/sandboxes/{id}/previews", preview_list)
    app.add("GET", "/sandboxes/{id}/previews/{pid}", preview_get)
    app.add("DELETE", "/sandboxes/{id}/previews/{pid}", preview_delete)
    app.add("POST", "/sandboxes/{id}/previews/{pid}/share", preview_share)
    app.add("DELETE", "/sandboxes/{id}/previews/{pid}/share", preview_unshare)
    app.add("POST", "/sandboxes/{id}/shares", share_create)
    app.add("GET", "/sandboxes/{id}/shares", share_list)
    app.add("DELETE", "/sandboxes/{id}/shares/{share_id}", share_revoke)
    app.add("POST", "/sandboxes/{id}/expose", expose)


def _seconds(body: dict, name: str, default: Optional[float]) -> Optional[float]:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be a positive number of seconds",
                       details={"field": name})
    return float(value)


def _mint(ctx: Ctx, kind: str, sandbox_id: str, seconds: Optional[float], **extra: Any) -> tuple[str, dict]:
    token = secrets.token_hex(16)
    epoch, iso_ = expires_at(seconds)
    record = {"kind": kind, "sandbox_id": sandbox_id, "expires_epoch": epoch, "expires_at": iso_,
              "revoked": False, "created_at": now_iso(), **extra}
    with ctx.state.lock:
        ctx.state.tokens[token] = record
    return token, record


def preview_token(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    seconds = _seconds(body, "expires_in", 3600)
    scope = body.get("scope") or "read"
    token, record = _mint(ctx, "preview_token", sbx.id, seconds, scope=scope)
    return Ctx.ok({"token": token, "url": f"{ctx.cfg.base_url}/p/{token}/?mt=mp_{token}",
                   "expires_at": record["expires_at"], "scope": scope})


def _port(body: dict) -> int:
    port = body.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ApiError(422, "VALIDATION_FAILED", "'port' must be an integer 1..65535", details={"field": "port"})
    return port


def _public(preview: dict) -> dict:
    return {k: v for k, v in preview.items() if k != "seq"}


def make_preview(ctx: Ctx, sbx: Any, port: int, opts: dict) -> dict:
    pid = new_id("prv")
    preview = {
        "id": pid, "sandbox_id": sbx.id, "port": port, "url": f"{ctx.cfg.base_url}/p/{pid}/",
        "label": opts.get("label"), "visibility": "private", "state": "active", "expires_at": None,
        "share_token_prefix": None, "share_token_expires_at": None,
        "metadata": opts.get("metadata") if isinstance(opts.get("metadata"), dict) else {},
        "external_workspace_id": sbx.attribution.get("external_workspace_id"),
        "external_user_id": sbx.attribution.get("external_user_id"),
        "external_project_id": sbx.attribution.get("external_project_id"),
        "created_at": now_iso(), "seq": next(_preview_seq),
    }
    with ctx.state.lock:
        sbx.previews[pid] = preview
        ctx.state.tokens[pid] = {"kind": "preview", "sandbox_id": sbx.id, "preview_id": pid,
                                 "requires_auth": True, "expires_epoch": None, "revoked": False}
    sbx.events.add("sandbox.preview.ready", {"sandbox_id": sbx.id, "preview_id": pid, "port": port,
                                             "url": preview["url"]})
    return preview


def preview_create(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    return Ctx.ok(_public(make_preview(ctx, sbx, _port(body), body)), 201)


def _preview_of(ctx: Ctx, sbx: Any) -> dict:
    preview = sbx.previews.get(ctx.params["pid"])
    if preview is None:
        raise ApiError(404, "NOT_FOUND", f"no preview {ctx.params['pid']} on sandbox {sbx.id}",
                       details={"resource": "preview", "id": ctx.params["pid"]})
    return preview


def preview_list(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    previews = sorted((p for p in sbx.previews.values() if p["state"] == "active"), key=lambda p: p["seq"])
    return Ctx.ok([_public(p) for p in previews])


def preview_get(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    return Ctx.ok(_public(_preview_of(ctx, sbx)))


def _revoke(ctx: Ctx, preview_id: str, kinds: tuple) -> None:
    with ctx.state.lock:
        for record in ctx.state.tokens.values():
            if record.get("preview_id") == preview_id and record["kind"] in kinds:
                record["revoked"] = True


def preview_delete(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    preview = _preview_of(ctx, sbx)
    with ctx.state.lock:
        preview["state"] = "deleted"
        sbx.previews.pop(preview["id"], None)
    _revoke(ctx, preview["id"], ("preview", "preview_share"))
    return Ctx.ok(_public(preview))


def preview_share(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    preview = _preview_of(ctx, sbx)
    seconds = _seconds(ctx.body(), "ttl_seconds", 3600)
    token, record = _mint(ctx, "preview_share", sbx.id, seconds, preview_id=preview["id"])
    with ctx.state.lock:
        preview["visibility"] = "public"
        preview["share_token_prefix"] = token[:8]
        preview["share_token_expires_at"] = record["expires_at"]
    share_url = f"{ctx.cfg.base_url}/p/{token}/"
    return Ctx.ok({"preview": _public(preview), "preview_token": token, "token": token, "share_url": share_url,
                   "url": share_url, "expires_at": record["expires_at"]}, 201)


def preview_unshare(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    preview = _preview_of(ctx, sbx)
    _revoke(ctx, preview["id"], ("preview_share",))
    with ctx.state.lock:
        preview["visibility"] = "private"
        preview["share_token_prefix"] = None
        preview["share_token_expires_at"] = None
    return Ctx.ok(_public(preview))


def share_create(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    body = ctx.body()
    scope = body.get("scope") or "read"
    if scope != "read":
        raise ApiError(422, "VALIDATION_FAILED", "the only share scope is 'read'", details={"field": "scope"})
    seconds = _seconds(body, "expires_in", None)
    share_id = new_id("shr")
    token, record = _mint(ctx, "sandbox_share", sbx.id, seconds, share_id=share_id, scope=scope)
    share = {"share_id": share_id, "id": share_id, "sandbox_id": sbx.id, "scope": scope,
             "expires_at": record["expires_at"], "revoked": False, "created_at": record["created_at"],
             "token_prefix": token[:8]}
    with ctx.state.lock:
        sbx.shares[share_id] = share
    return Ctx.ok({**share, "share_url": f"{ctx.cfg.base_url}/p/{token}/"}, 201)


def share_list(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    return Ctx.ok([dict(s) for s in sbx.shares.values() if not s["revoked"]])


def share_revoke(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    share = sbx.shares.get(ctx.params["share_id"])
    if share is None:
        raise ApiError(404, "NOT_FOUND", f"no share {ctx.params['share_id']} on sandbox {sbx.id}")
    with ctx.state.lock:
        share["revoked"] = True
        for record in ctx.state.tokens.values():
            if record.get("share_id") == share["share_id"]:
                record["revoked"] = True
    return Ctx.ok(dict(share))


def expose(ctx: Ctx) -> Reply:
    """Legacy: a preview of ``port`` (or the single listening port) and a one-hour link to it."""
    sbx = ctx.sandbox()
    body = ctx.body()
    if body.get("port") is not None:
        port = _port(body)
    else:
        ports = proxy.listening_ports(sbx)
        if len(ports) != 1:
            raise ApiError(422, "VALIDATION_FAILED", f"give 'port': the sandbox listens on {ports or 'no port'}",
                           details={"field": "port", "ports": ports})
        port = ports[0]
    preview = make_preview(ctx, sbx, port, {})
    token, record = _mint(ctx, "preview_share", sbx.id, 3600, preview_id=preview["id"])
    url = f"{ctx.cfg.base_url}/p/{token}/"
    return Ctx.ok({"url": url, "preview_url": url, "port": port, "preview_id": preview["id"],
                   "url_class": "temporary_preview", "class": "temporary_preview",
                   "stable_for_embedding": False, "recommended_next_action": "create_alias_or_publish",
                   "expires_at": record["expires_at"]})
