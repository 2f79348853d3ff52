"""File routes: writes, downloads, stat, list/tree, watch, exports, artifacts.

Canonical routes and the legacy ones the SDK falls back to on a 404:
  POST /fs/write-many   (legacy POST /files/write-many)  {"files":[{path, content_base64}]}
                        -> {written: [absolute paths], failed: []}, all or nothing
  POST /fs/write        (legacy POST /files, content is base64 there) -> {path, size}
  GET  /fs/download?path=P (legacy GET /files/<segments>) -> application/octet-stream bytes
  POST /fs/stat {path}  (legacy POST /files/stat; GET /fs/stat?path= also answers)
  GET  /files?path=&depth=1 and GET /files/tree?path=&depth=3 -> {path, name, type, size,
       modified_at, children}
  GET  /files/watch?path=/workspace (SSE) -> data: {event, path, is_dir, old_path}
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from . import files
from .app import Ctx
from .httpcore import ApiError, Reply
from .state import new_id, now_iso


def register(app: Any) -> None:
    app.add("POST", "/sandboxes/{id}/fs/write-many", write_many)
    app.add("POST", "/sandboxes/{id}/files/write-many", write_many)
    app.add("POST", "/sandboxes/{id}/fs/write", write_one)
    app.add("POST", "/sandboxes/{id}/files", write_one_legacy)
    app.add("GET", "/sandboxes/{id}/fs/download", download)
    app.add("POST", "/sandboxes/{id}/fs/stat", stat)
    app.add("GET", "/sandboxes/{id}/fs/stat", stat)
    app.add("POST", "/sandboxes/{id}/files/stat", stat)
    app.add("GET", "/sandboxes/{id}/files", list_files)
    app.add("GET", "/sandboxes/{id}/files/tree", tree)
    app.add("GET", "/sandboxes/{id}/files/watch", watch, sse=True)
    app.add("GET", "/sandboxes/{id}/files/{path*}", download_legacy)
    app.add("POST", "/sandboxes/{id}/exports", export_create)
    app.add("GET", "/sandboxes/{id}/exports/download", export_download)
    app.add("GET", "/sandboxes/{id}/artifacts", artifacts)


def _files_sandbox(ctx: Ctx):
    """File routes work on a running sandbox, and on a paused one (the disk is there)."""
    sbx = ctx.sandbox()
    if sbx.state == "creating":
        raise ApiError(409, "SANDBOX_NOT_COMMAND_READY", f"sandbox {sbx.id} is still starting",
                       details={"state": sbx.state}, retryable=True, retry_after=0.1)
    return sbx


def write_many(ctx: Ctx) -> Reply:
    sbx = _files_sandbox(ctx)
    body = ctx.body()
    items = body.get("files")
    if not isinstance(items, list) or not items:
        raise ApiError(422, "VALIDATION_FAILED", "'files' must be a non-empty list", details={"field": "files"})
    entries = [files.entry_content(item, legacy=False) for item in items]
    total = sum(len(data) for _, data in entries)
    limit = ctx.cfg.max_body_bytes
    if total > limit:
        raise ApiError(413, "TOO_LARGE", f"{total} bytes exceed the {limit} byte limit",
                       details={"limit_bytes": limit, "size_bytes": total})
    result = files.write_many(sbx.dir, entries)
    sbx.events.add("sandbox.files.written", {"sandbox_id": sbx.id, "paths": result["written"]})
    return Ctx.ok(result)


def write_one(ctx: Ctx) -> Reply:
    sbx = _files_sandbox(ctx)
    path, data = files.entry_content(ctx.body(), legacy=False)
    result = files.write_many(sbx.dir, [(path, data)])
    return Ctx.ok({"path": result["written"][0], "size": len(data)})


def write_one_legacy(ctx: Ctx) -> Reply:
    sbx = _files_sandbox(ctx)
    path, data = files.entry_content(ctx.body(), legacy=True)
    result = files.write_many(sbx.dir, [(path, data)])
    return Ctx.ok({"path": result["written"][0], "size": len(data)}, 201)


def _send_file(ctx: Ctx, path: Any) -> None:
    sbx = _files_sandbox(ctx)
    spath, host = files.resolve(sbx.dir, path)
    if os.path.isfile(host) and os.path.getsize(host) > 4 * ctx.cfg.max_body_bytes:
        raise ApiError(413, "TOO_LARGE", f"{spath} is larger than the download limit",
                       details={"path": spath, "limit_bytes": 4 * ctx.cfg.max_body_bytes})
    data = files.read_file(spath, host)
    ctx.h.send_bytes(200, data, "application/octet-stream")


def download(ctx: Ctx) -> None:
    path = ctx.req.q("path")
    if not path:
        raise ApiError(422, "VALIDATION_FAILED", "'path' is required", details={"field": "path"})
    _send_file(ctx, path)


def download_legacy(ctx: Ctx) -> None:
    _send_file(ctx, "/" + ctx.params["path"])


def stat(ctx: Ctx) -> Reply:
    sbx = _files_sandbox(ctx)
    path = ctx.body().get("path") if ctx.req.method == "POST" else ctx.req.q("path")
    if not path:
        raise ApiError(422, "VALIDATION_FAILED", "'path' is required", details={"field": "path"})
    spath, host = files.resolve(sbx.dir, path)
    return Ctx.ok(files.stat_entry(spath, host))


def _tree(ctx: Ctx, default_depth: int) -> Reply:
    sbx = _files_sandbox(ctx)
    spath, host = files.resolve(sbx.dir, ctx.req.q("path") or "/workspace")
    depth = ctx.req.q_int("depth", default_depth)
    return Ctx.ok(files.tree(spath, host, max(0, min(depth or 0, 32))))


def list_files(ctx: Ctx) -> Reply:
    return _tree(ctx, 1)


def tree(ctx: Ctx) -> Reply:
    return _tree(ctx, 3)


def watch(ctx: Ctx) -> None:
    """A 100 ms snapshot diff of ``path`` (slower on a tree that takes long to scan); frames have
    no ``event:`` line, only JSON data.

    The headers go out after the first snapshot is taken, so a change made once the response
    has started is always reported.
    """
    sbx = _files_sandbox(ctx)
    spath, host = files.resolve(sbx.dir, ctx.req.q("path") or "/workspace")
    if not os.path.lexists(host):
        raise ApiError(404, "NOT_FOUND", f"{spath} does not exist", details={"path": spath})
    stream = ctx.sse()
    old = files.snapshot(spath, host)
    stream.start()
    quiet_since = time.monotonic()
    interval = 0.1
    while not sbx.gone.wait(interval):
        scan_started = time.monotonic()
        new = files.snapshot(spath, host)
        # a big tree is scanned less often: at most a fifth of the time goes to scanning
        interval = max(0.1, 4 * (time.monotonic() - scan_started))
        events = files.diff(old, new)
        old = new
        for event in events:
            stream.send(event)
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= ctx.cfg.keepalive_sec:
            stream.comment()
            quiet_since = time.monotonic()
    stream.finish()


# -- exports and artifacts --

def _export_items(ctx: Ctx, sbx: Any, paths: list) -> list:
    items = []
    for p in paths:
        spath, host = files.resolve(sbx.dir, p)
        if not os.path.lexists(host):
            raise ApiError(404, "NOT_FOUND", f"{spath} does not exist", details={"path": spath})
        items.append((spath, host))
    return items


def _export_payload(items: list) -> tuple[bytes, str, str]:
    """(bytes, content type, kind) of an export: one file as is, anything else as tar.gz."""
    if len(items) == 1 and os.path.isfile(items[0][1]):
        return files.read_file(*items[0]), "application/octet-stream", "file"
    return files.tar_gz(items), "application/gzip", "archive"


def export_create(ctx: Ctx) -> Reply:
    sbx = _files_sandbox(ctx)
    body = ctx.body()
    paths = [body["path"]] if isinstance(body.get("path"), str) else body.get("paths")
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ApiError(422, "VALIDATION_FAILED", "give 'path' or a non-empty 'paths' list", details={"field": "paths"})
    items = _export_items(ctx, sbx, paths)
    data, ctype, kind = _export_payload(items)
    spaths = [s for s, _ in items]
    filename = body.get("filename") or (os.path.basename(spaths[0]) if kind == "file" else "export.tar.gz")
    from urllib.parse import urlencode
    query = urlencode([("path", spaths[0])] if len(spaths) == 1 else [("paths[]", s) for s in spaths])
    export = {
        "id": new_id("exp"), "sandbox_id": sbx.id, "paths": spaths, "label": body.get("label"),
        "filename": filename, "kind": kind, "content_type": ctype, "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "created_at": now_iso(),
        "download_url": f"{ctx.cfg.base_url}/api/v1/sandboxes/{sbx.id}/exports/download?{query}",
    }
    with sbx.lock:
        sbx.exports.append(export)
    return Ctx.ok(export, 201)


def export_download(ctx: Ctx) -> None:
    sbx = _files_sandbox(ctx)
    paths = ctx.req.query.get("paths[]") or ctx.req.query.get("paths") or ctx.req.query.get("path")
    if not paths:
        raise ApiError(422, "VALIDATION_FAILED", "give path= or paths[]=", details={"field": "path"})
    data, ctype, kind = _export_payload(_export_items(ctx, sbx, paths))
    filename = ctx.req.q("filename") or (os.path.basename(paths[0]) if kind == "file" else "export.tar.gz")
    ctx.h.send_bytes(200, data, ctype, {"Content-Disposition": f'attachment; filename="{filename}"'})


def artifacts(ctx: Ctx) -> Reply:
    sbx = ctx.sandbox()
    listing = []
    root = os.path.join(sbx.dir, "workspace")
    for dirpath, dirnames, names in os.walk(root):
        dirnames.sort()
        for name in sorted(names):
            host = os.path.join(dirpath, name)
            spath = "/workspace/" + os.path.relpath(host, root)
            try:
                st = os.lstat(host)
            except OSError:
                continue
            listing.append({"path": spath, "size": st.st_size, "modified_at": files.iso(st.st_mtime)})
            if len(listing) >= 1000:
                break
    previews = sorted(sbx.previews.values(), key=lambda p: p["created_at"])
    latest = previews[-1] if previews else None
    preview = {"preview_id": latest["id"], "port": latest["port"], "url": latest["url"]} if latest else {}
    return Ctx.ok({"artifacts": {"files": listing, "exports": list(sbx.exports)},
                   "preview": preview})
