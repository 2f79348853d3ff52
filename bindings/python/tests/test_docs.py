"""docs/python.md cannot drift from the package: its ```python blocks run, in order, in a fresh
process; the error table is the package's table; the record fields it names are the real ones.

A block's fence says what it is:
  ```python                 runs (all such blocks of the page, in order, share one namespace,
                            as a reader typing them into one interpreter would)
  ```python excerpt=PATH    a piece of a file of the repository: its lines must be in PATH, in order
  ```python norun           deliberately not runnable (it needs what a test cannot provide); say why
                            in the text beside it
Any other tag fails, and so does a runnable block that raises.
"""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from dataclasses import fields
from typing import List, NamedTuple

import pytest

import runhost
from runhost import errors
from conftest import REPO, python_subprocess_env

DOC = REPO / "docs" / "python.md"
TAGS = {"norun", "excerpt"}


class Block(NamedTuple):
    line: int  # the first line of code, 1-based
    tags: dict
    code: str


def python_blocks(path: pathlib.Path) -> List[Block]:
    out: List[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*(.*)$", lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        if m.group(1) == "python":
            tags = {}
            for word in m.group(2).split():
                key, _, value = word.partition("=")
                tags[key] = value
            out.append(Block(i + 2, tags, "\n".join(lines[i + 1:end]) + "\n"))
        i = end + 1
    return out


def test_every_block_has_a_known_tag_and_most_run():
    blocks = python_blocks(DOC)
    for b in blocks:
        unknown = set(b.tags) - TAGS
        assert not unknown, f"docs/python.md:{b.line}: unknown tag {sorted(unknown)} (known: {sorted(TAGS)})"
    runnable = [b for b in blocks if not b.tags]
    assert len(runnable) >= 10 and len(runnable) > 2 * (len(blocks) - len(runnable)), \
        f"{len(runnable)} of {len(blocks)} blocks run: tag a block only when it truly cannot"


def test_the_runnable_blocks_run_in_order(tmp_path, asks_first_plugin):
    blocks = [{"line": b.line, "code": b.code} for b in python_blocks(DOC) if not b.tags]
    (tmp_path / "blocks.json").write_text(json.dumps(blocks))
    workspace = tmp_path / "project"  # the current directory: Host()'s default workspace root
    workspace.mkdir()
    # Each block is compiled as docs/python.md with its own line numbers, so a traceback points
    # at the page's line.
    driver = (
        "import json, sys\n"
        "ns = {'__name__': '__main__'}\n"
        f"for b in json.load(open({str(tmp_path / 'blocks.json')!r})):\n"
        "    print(f'--- docs/python.md:{b[\"line\"]}', flush=True)\n"
        f"    exec(compile('\\n' * (b['line'] - 1) + b['code'], {str(DOC)!r}, 'exec'), ns)\n"
    )
    env = python_subprocess_env()
    # The Approvals samples need a policy that asks: the asks-first test plugin, found by Host()
    # on RUNHOST_PLUGIN_PATH as the page says (it asks only when a prompt holds "[ask]").
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), HOME=str(tmp_path), RUNHOST_PLUGIN_PATH=str(asks_first_plugin))
    out = subprocess.run([sys.executable, "-c", driver], cwd=workspace, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, f"a block of docs/python.md failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert out.stdout.count("--- docs/python.md:") == len(blocks)


def test_excerpts_are_in_the_files_they_come_from():
    excerpts = [b for b in python_blocks(DOC) if "excerpt" in b.tags]
    assert excerpts, "the FastAPI excerpt is tagged excerpt=..."
    for b in excerpts:
        source = (REPO / b.tags["excerpt"]).read_text(encoding="utf-8").splitlines()
        at = 0
        for line in (x for x in b.code.splitlines() if x.strip()):
            found = next((i for i in range(at, len(source)) if source[i].strip() == line.strip()), None)
            assert found is not None, f"docs/python.md:{b.line}: not in {b.tags['excerpt']} (in order): {line.strip()!r}"
            at = found + 1


def error_table_rows() -> List[List[str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in table]


def test_the_error_table_is_the_packages_table():
    documented = {}
    for cells in error_table_rows():
        code = re.fullmatch(r"`(\w+)`", cells[0])
        if code and len(cells) == 3:
            documented[code.group(1)] = cells[1]
    for code, cls in errors.BY_CODE.items():
        assert code in documented, f"docs/python.md's error table lacks {code}"
        assert documented[code].startswith(f"`{cls.__name__}`"), f"{code} is {cls.__name__}, the table says {documented[code]}"
    assert set(documented) == set(errors.BY_CODE), f"codes the package does not have: {set(documented) - set(errors.BY_CODE)}"


@pytest.mark.parametrize("record, properties", [
    (runhost.RunInfo, ["finished", "created_at", "updated_at"]),
    (runhost.PendingApproval, ["created_at", "deadline_at", "summary"]),
    (runhost.Grant, ["active", "created_at", "expires_at", "revoked_at"]),
])
def test_the_record_fields_named_are_the_real_ones(record, properties):
    text = DOC.read_text(encoding="utf-8")
    name = record.__name__
    m = re.search(name + r" fields: (.*?)\.\n", text, re.S)
    assert m, f"docs/python.md lists {name}'s fields ('{name} fields: `id`, ...')"
    named = re.findall(r"`(\w+)`", m.group(1))
    assert named == [f.name for f in fields(record)] + properties
    for prop in properties:
        assert isinstance(getattr(record, prop), property)
    # Fields a reader might look for and that do not exist must not be promised.
    for wrong in ("duration_ms", "started_at", "finished_at"):
        assert wrong not in text, f"docs/python.md mentions {wrong}, which nothing carries"


def test_mypy_strict_accepts_the_documented_usage(tmp_path):
    # The runnable blocks, as one module: what a reader copies must type-check as it runs.
    sample = tmp_path / "docs_python_md.py"
    sample.write_text("\n".join(b.code for b in python_blocks(DOC) if not b.tags), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir=/dev/null",
                          str(sample)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
