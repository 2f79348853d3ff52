"""Sandbox files: path confinement, atomic batch writes, stat/list/tree, the watch differ.

Paths are sandbox paths: absolute under ``/workspace`` or ``/home/user``, or relative to
``/workspace``. They map to ``<root>/<sbx>/workspace`` and ``<root>/<sbx>/home``. A path that
leaves those (``..``, or a symlink whose host target is outside) is 400 ``INVALID_PATH``.

``write_many`` is all or nothing: every file is staged in ``<root>/<sbx>/.staging``, fsynced,
then moved into place with ``os.replace``; a bad entry fails the request before anything moves.

The watch is a snapshot diff (``os.scandir`` every 100 ms): ``created``, ``modified``,
``deleted``, and ``renamed`` when a vanished path's inode reappears under a new path. Event
paths are absolute sandbox paths (``/workspace/src/app.py``).
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import posixpath
import shutil
import stat as stat_mod
import tarfile
import tempfile
from typing import Optional

from .httpcore import ApiError
from .state import iso

MOUNTS = (("/workspace", "workspace"), ("/home/user", "home"))
TREE_LIMIT = 20000
WATCH_LIMIT = 200000


def invalid_path(message: str, path: object) -> ApiError:
    return ApiError(400, "INVALID_PATH", message, details={"path": path})


def resolve(sbx_dir: str, path: object, default: str = "/workspace") -> tuple[str, str]:
    """(sandbox path, host path) of ``path``, or 400 INVALID_PATH."""
    if path is None or path == "":
        path = default
    if not isinstance(path, str) or "\x00" in path:
        raise invalid_path("path must be a string", path)
    if not path.startswith("/"):
        path = "/workspace/" + path
    norm = "/" + posixpath.normpath(path).lstrip("/")
    for mount, sub in MOUNTS:
        if norm == mount or norm.startswith(mount + "/"):
            rel = norm[len(mount):].lstrip("/")
            base = os.path.join(sbx_dir, sub)
            host = os.path.join(base, rel) if rel else base
            probe = host
            while not os.path.lexists(probe) and probe != base:
                probe = os.path.dirname(probe)
            real, real_base = os.path.realpath(probe), os.path.realpath(base)
            if real != real_base and not real.startswith(real_base + os.sep):
                raise invalid_path(f"{norm} resolves outside {mount}", path)
            return norm, host
    raise invalid_path(f"{norm} is outside the sandbox's files (/workspace, /home/user)", path)


def decode_b64(value: object, field: str, path: object) -> bytes:
    if not isinstance(value, str):
        raise ApiError(422, "VALIDATION_FAILED", f"{field} must be a base64 string", details={"path": path})
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "VALIDATION_FAILED", f"{field} is not valid base64",
                       details={"path": path}) from None


def entry_content(item: object, legacy: bool = False) -> tuple[object, bytes]:
    """(path, bytes) of one write entry: ``content_base64``, or ``content`` (base64 on the legacy
    ``/files`` routes, text verbatim on ``/fs/write``)."""
    if not isinstance(item, dict):
        raise ApiError(422, "VALIDATION_FAILED", "each file is an object {path, content_base64}")
    path = item.get("path")
    if "content_base64" in item:
        return path, decode_b64(item["content_base64"], "content_base64", path)
    if "content" in item:
        content = item["content"]
        if legacy:
            return path, decode_b64(content, "content", path)
        if isinstance(content, str):
            return path, content.encode("utf-8")
    raise ApiError(422, "VALIDATION_FAILED", "a file needs content_base64", details={"path": path})


def write_many(sbx_dir: str, entries: list) -> dict:
    """Write every entry or none: stage, fsync, then ``os.replace`` each into place."""
    planned = []
    for path, data in entries:
        spath, host = resolve(sbx_dir, path)
        if spath in ("/workspace", "/home/user") or os.path.isdir(host):
            raise invalid_path(f"{spath} is a directory", path)
        parent = os.path.dirname(host)
        probe = parent
        while not os.path.lexists(probe):
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe):
            raise invalid_path(f"a parent of {spath} is not a directory", path)
        planned.append((spath, host, data))
    staging_root = os.path.join(sbx_dir, ".staging")
    os.makedirs(staging_root, exist_ok=True)
    staging = tempfile.mkdtemp(dir=staging_root)
    try:
        staged = []
        for i, (spath, host, data) in enumerate(planned):
            tmp = os.path.join(staging, str(i))
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)
            staged.append((tmp, spath, host))
        for _, _, host in staged:
            os.makedirs(os.path.dirname(host), exist_ok=True)
        parents = set()
        for tmp, _, host in staged:
            os.replace(tmp, host)
            parents.add(os.path.dirname(host))
        for parent in parents:
            fd = os.open(parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    written = []
    for spath, host, data in planned:
        if spath not in written:
            written.append(spath)
    return {"written": written, "failed": []}


def _type_of(mode: int) -> str:
    if stat_mod.S_ISDIR(mode):
        return "directory"
    if stat_mod.S_ISREG(mode):
        return "file"
    if stat_mod.S_ISLNK(mode):
        return "symlink"
    return "other"


def stat_entry(spath: str, host: str) -> dict:
    try:
        st = os.lstat(host)
    except FileNotFoundError:
        raise ApiError(404, "NOT_FOUND", f"{spath} does not exist", details={"path": spath}) from None
    kind = _type_of(st.st_mode)
    out = {
        "path": spath,
        "name": posixpath.basename(spath) or "/",
        "type": kind,
        "is_dir": kind == "directory",
        "size": st.st_size,
        "mode": oct(stat_mod.S_IMODE(st.st_mode)),
        "modified_at": iso(st.st_mtime),
    }
    if kind == "symlink":
        out["target"] = os.readlink(host)
    return out


def tree(spath: str, host: str, depth: int) -> dict:
    """``{path, name, type, size, modified_at, children}``; children only for directories,
    ``depth`` levels down (0: none)."""
    budget = [TREE_LIMIT]

    def node(sp: str, hp: str, level: int) -> dict:
        entry = stat_entry(sp, hp)
        if entry["type"] == "directory":
            children = []
            if level < depth:
                try:
                    with os.scandir(hp) as it:
                        names = sorted(e.name for e in it)
                except OSError:
                    names = []
                for name in names:
                    if budget[0] <= 0:
                        entry["truncated"] = True
                        break
                    budget[0] -= 1
                    children.append(node(posixpath.join(sp, name), os.path.join(hp, name), level + 1))
            entry["children"] = children
        return entry

    return node(spath, host, 0)


def read_file(spath: str, host: str) -> bytes:
    if not os.path.lexists(host):
        raise ApiError(404, "NOT_FOUND", f"{spath} does not exist", details={"path": spath})
    if os.path.isdir(host):
        raise invalid_path(f"{spath} is a directory", spath)
    with open(host, "rb") as f:
        return f.read()


def tar_gz(items: list) -> bytes:
    """A tar.gz of (sandbox path, host path) items, names relative to ``/``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for spath, host in items:
            if not os.path.lexists(host):
                raise ApiError(404, "NOT_FOUND", f"{spath} does not exist", details={"path": spath})
            tar.add(host, arcname=spath.lstrip("/"))
    return buf.getvalue()


# -- watch --

def snapshot(spath: str, host: str) -> dict:
    """sandbox path -> (inode, is_dir, size, mtime_ns) for everything under ``host``."""
    out: dict = {}

    def walk(sp: str, hp: str) -> None:
        try:
            it = os.scandir(hp)
        except OSError:
            return
        with it:
            for e in it:
                if len(out) >= WATCH_LIMIT:
                    return
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                child = sp.rstrip("/") + "/" + e.name
                is_dir = stat_mod.S_ISDIR(st.st_mode)
                out[child] = (st.st_ino, is_dir, st.st_size, st.st_mtime_ns)
                if is_dir:
                    walk(child, e.path)

    if os.path.isdir(host):
        walk(spath, host)
    elif os.path.lexists(host):
        st = os.lstat(host)
        out[spath] = (st.st_ino, False, st.st_size, st.st_mtime_ns)
    return out


def diff(old: dict, new: dict) -> list:
    """Watch events between two snapshots, in a stable order."""
    removed = {p: v for p, v in old.items() if p not in new}
    added = {p: v for p, v in new.items() if p not in old}
    events = []
    # a rename keeps the inode, the size and the mtime; a new file that merely reuses a freed
    # inode number differs in one of them
    by_inode = {}
    for p, v in removed.items():
        by_inode.setdefault(v if not v[1] else (v[0], True), []).append(p)
    for p in sorted(added):
        v = added[p]
        if v is None:
            continue
        candidates = [q for q in by_inode.get(v if not v[1] else (v[0], True), []) if q in removed]
        if candidates:
            old_path = candidates[0]
            del removed[old_path]
            # whatever lived under a renamed directory moved with it: no events for it
            if v[1]:
                prefix_old, prefix_new = old_path + "/", p + "/"
                for q in [q for q in removed if q.startswith(prefix_old)]:
                    moved = prefix_new + q[len(prefix_old):]
                    if added.get(moved) is not None:
                        del removed[q]
                        added[moved] = None
            events.append({"event": "renamed", "path": p, "is_dir": v[1], "old_path": old_path})
            added[p] = None
    for p in sorted(k for k, v in added.items() if v is not None):
        events.append({"event": "created", "path": p, "is_dir": added[p][1], "old_path": None})
    for p in sorted(set(old) & set(new)):
        o, n = old[p], new[p]
        if o[1] != n[1]:
            events.append({"event": "deleted", "path": p, "is_dir": o[1], "old_path": None})
            events.append({"event": "created", "path": p, "is_dir": n[1], "old_path": None})
        elif not n[1] and (o[0], o[2], o[3]) != (n[0], n[2], n[3]):
            events.append({"event": "modified", "path": p, "is_dir": False, "old_path": None})
    for p in sorted(removed, key=lambda q: (-q.count("/"), q)):
        events.append({"event": "deleted", "path": p, "is_dir": removed[p][1], "old_path": None})
    return events


def copy_tree(src: str, dst: str) -> None:
    shutil.copytree(src, dst, symlinks=True)


def replace_contents(dst: str, src: str) -> None:
    """Make directory ``dst`` hold a copy of ``src``, keeping ``dst`` itself (its inode is
    bind-mounted into running sandboxes)."""
    for name in os.listdir(dst):
        p = os.path.join(dst, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s) and not os.path.islink(s):
            shutil.copytree(s, d, symlinks=True)
        else:
            shutil.copy2(s, d, follow_symlinks=False)


def optional_int(value: object, name: str, default: Optional[int]) -> Optional[int]:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(422, "VALIDATION_FAILED", f"{name!r} must be an integer", details={"field": name})
    return value
