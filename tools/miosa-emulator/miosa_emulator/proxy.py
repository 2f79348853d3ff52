"""The preview reverse proxy: ``/p/<key>/<rest>`` -> ``http://127.0.0.1:<port>/<rest>``.

``<key>`` is one of:
  * a preview token from ``POST /preview-token`` (``url`` = ``/p/<token>/?mt=mp_<token>``),
    no Authorization needed; the port is the one of the sandbox's most recent preview, else
    the single port a process of the sandbox listens on;
  * a share token from ``POST /previews/{id}/share`` or ``POST /shares``, no Authorization
    needed; a preview share reaches that preview's port;
  * a preview id (``preview.url``, a private preview): a Bearer key is required.
An unknown key is 404 ``NOT_FOUND``; an expired or revoked token is 403 ``FORBIDDEN``. The
``mt`` query parameter is removed and the Authorization header is never forwarded.

Listening ports are found the way ``ss -ltnp`` does: the sockets in LISTEN state in
``/proc/net/tcp{,6}`` whose inode is an open fd of a process in one of the sandbox's sessions.
"""

from __future__ import annotations

import http.client
import os
import time
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from .httpcore import ApiError, Handler, Request

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "content-length", "host", "authorization"}


def sandbox_sessions(sbx: Any) -> set:
    return {job.pgid for job in list(sbx.jobs) if not job.done.is_set()}


def listening_ports(sbx: Any) -> list:
    sessions = sandbox_sessions(sbx)
    if not sessions:
        return []
    inodes = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) not in sessions:  # state ppid pgrp session ...
                continue
            fd_dir = f"/proc/{entry}/fd"
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except (OSError, ValueError, IndexError):
            continue
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return sorted(ports)


def resolve_port(app: Any, token: dict, sbx: Any) -> int:
    if token.get("preview_id"):
        preview = sbx.previews.get(token["preview_id"])
        if preview is None or preview["state"] != "active":
            raise ApiError(404, "NOT_FOUND", "the preview of this link was deleted")
        return preview["port"]
    active = [p for p in sbx.previews.values() if p["state"] == "active"]
    if active:
        return max(active, key=lambda p: p["seq"])["port"]
    ports = listening_ports(sbx)
    if len(ports) == 1:
        return ports[0]
    if not ports:
        raise ApiError(502, "NO_PREVIEW_PORT", f"no process of sandbox {sbx.id} listens on a port, "
                       "and it has no preview", details={"sandbox_id": sbx.id})
    raise ApiError(502, "NO_PREVIEW_PORT", f"sandbox {sbx.id} listens on several ports {ports}; "
                   "create a preview for the one to show", details={"sandbox_id": sbx.id, "ports": ports})


def handle(app: Any, req: Request, h: Handler) -> None:
    rest = req.raw_path[len("/p/"):]
    key, slash, tail = rest.partition("/")
    key = unquote(key)
    if not slash:  # /p/<key> -> /p/<key>/ so that relative links resolve under the prefix
        location = f"/p/{quote(key, safe='')}/" + (f"?{req.raw_query}" if req.raw_query else "")
        return h.send_bytes(308, b"", "text/plain", {"Location": location})
    with app.state.lock:
        token = app.state.tokens.get(key)
    if token is None:
        raise ApiError(404, "NOT_FOUND", "unknown preview link")
    if token.get("revoked"):
        raise ApiError(403, "FORBIDDEN", "this preview link was revoked", details={"reason": "revoked"})
    if token.get("expires_epoch") is not None and time.time() >= token["expires_epoch"]:
        raise ApiError(403, "FORBIDDEN", "this preview link has expired", details={"reason": "expired"})
    if token.get("requires_auth"):
        present, scheme, cred = req.authorization()
        if not present or (scheme or "").lower() != "bearer" or not cred:
            raise ApiError(401, "UNAUTHORIZED", "a private preview needs Authorization: Bearer <key>; "
                           "use a preview token or a share link for a browser")
    sbx = app.state.sandboxes.get(token["sandbox_id"])
    if sbx is None or sbx.state == "destroyed":
        raise ApiError(404, "NOT_FOUND", "the sandbox of this preview link is gone")
    sbx.refresh()
    if sbx.state != "running":
        raise ApiError(503, "SANDBOX_NOT_RUNNING", f"sandbox {sbx.id} is {sbx.state}",
                       details={"state": sbx.state}, retryable=sbx.state == "creating", retry_after=0.2)
    port = resolve_port(app, token, sbx)
    query = urlencode([(k, v) for k, v in parse_qsl(req.raw_query, keep_blank_values=True) if k != "mt"])
    target = "/" + tail + (f"?{query}" if query else "")
    headers = {k: v for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["Host"] = f"127.0.0.1:{port}"
    headers["X-Forwarded-Prefix"] = f"/p/{key}"
    headers["X-Forwarded-Host"] = req.header("Host") or ""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(req.method, target, body=req.body or None, headers=headers)
        upstream = conn.getresponse()
        data = upstream.read()
        out_headers = [(k, v) for k, v in upstream.getheaders() if k.lower() not in HOP_BY_HOP]
    except (ConnectionRefusedError, OSError, http.client.HTTPException) as exc:
        raise ApiError(502, "UPSTREAM_UNAVAILABLE", f"port {port} of sandbox {sbx.id} did not answer: {exc}",
                       details={"port": port, "sandbox_id": sbx.id}) from None
    finally:
        conn.close()
    with sbx.lock:
        sbx.proxy_in += len(req.body)
        sbx.proxy_out += len(data)
    out_headers.append(("Content-Length", str(len(data))))
    h.start_response(upstream.status, out_headers)
    if req.method != "HEAD" and data:
        h.wfile.write(data)
