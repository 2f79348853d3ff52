"""Writes runhost/_codes.py, one exception class per error code, from the core's table.

Run by CMake at build time:  gen_codes.py TABLE OUT
TABLE is what ext/error_table.cpp prints (the compiler's expansion of RUNHOST_ERROR_CODES):
one "code retryable action" line per code.

Class names are the code in CamelCase ending in "Error" (policy_denied -> PolicyDeniedError,
plugin_error -> PluginError), as every Python exception's is. A name that would shadow a Python
builtin, or asyncio's CancelledError (which every async program already catches, and must not
confuse with a run that was cancelled), gets a "Runhost" prefix (runtime_error ->
RunhostRuntimeError, timeout -> RunhostTimeoutError, cancelled -> RunhostCancelledError).

Release 0.1 named the classes without the suffix (InvalidDispatch, RunNotFound...): those names
stay for one release as deprecated aliases, listed in DEPRECATED_NAMES; runhost.__getattr__ and
runhost.errors.__getattr__ serve them with a DeprecationWarning. Type checkers see them as plain
aliases (the TYPE_CHECKING block), so old code still type-checks while it is migrated.
"""
from __future__ import annotations

import builtins
import sys

# Codes whose recovery has members worth typed accessors: the mixin in runhost/_errors_base.py.
MIXINS = {"connector_authorization_missing": "ConnectAccountRecovery", "budget_exceeded": "LimitRecovery",
          "quota_exceeded": "LimitRecovery"}
# Codes that are also a builtin exception, so that `except LookupError` catches a missing run as
# it catches a missing key. After RunhostError in the bases: its __init__ takes the keywords.
BUILTIN_BASES = {"run_not_found": "LookupError"}


# Not builtins, but as good as: asyncio.CancelledError (concurrent.futures has one too).
SHADOWED = {"CancelledError"}


def camel(code: str) -> str:
    return "".join(part.capitalize() for part in code.split("_"))


def class_name(code: str) -> str:
    name = camel(code)
    name = name if name.endswith("Error") else name + "Error"
    return "Runhost" + name if hasattr(builtins, name) or name in SHADOWED else name


def old_class_name(code: str) -> str:
    """The 0.1 name: the code in CamelCase, prefixed only where it shadowed a builtin."""
    name = camel(code)
    return "Runhost" + name if hasattr(builtins, name) else name


def main(table_path: str, out_path: str) -> None:
    rows = []
    with open(table_path, encoding="utf-8") as table:
        for line in table:
            if line.strip():
                code, retryable, action = line.split()
                rows.append((code, retryable == "1", action))
    if not rows:
        sys.exit(f"gen_codes: {table_path} holds no codes")

    mixins = sorted(set(MIXINS.values()))
    renamed = [(old_class_name(code), class_name(code)) for code, *_ in rows if old_class_name(code) != class_name(code)]
    out = [
        "# Generated at build time by bindings/python/tools/gen_codes.py from RUNHOST_ERROR_CODES",
        "# (core/include/runhost/error.hpp). Do not edit: change the table.",
        '"""One RunhostError subclass per runhost error code (docs/events.md, "The codes")."""',
        "from typing import TYPE_CHECKING, Dict, List, Tuple, Type",
        "",
        "from ._errors_base import " + ", ".join(["RunhostError", *mixins]),
        "",
    ]
    for code, retryable, action in rows:
        bases = ([MIXINS[code]] if code in MIXINS else []) + ["RunhostError"]
        bases += [BUILTIN_BASES[code]] if code in BUILTIN_BASES else []
        out += [
            "",
            f"class {class_name(code)}({', '.join(bases)}):",
            f'    """``{code}``; retryable by default: {"yes" if retryable else "no"}; recovery: {action}."""',
            "",
            f'    CODE = "{code}"',
            f"    DEFAULT_RETRYABLE = {retryable}",
            f'    DEFAULT_RECOVERY_ACTION = "{action}"',
            "",
        ]
    out += [
        "",
        "# RUNHOST_ERROR_CODES: (code, retryable by default, recovery action), in the table's order.",
        "ERROR_CODES: Tuple[Tuple[str, bool, str], ...] = (",
        *[f'    ("{code}", {retryable}, "{action}"),' for code, retryable, action in rows],
        ")",
        "",
        "BY_CODE: Dict[str, Type[RunhostError]] = {",
        *[f'    "{code}": {class_name(code)},' for code, *_ in rows],
        "}",
        "",
        "__all__: List[str] = [",
        *[f'    "{class_name(code)}",' for code, *_ in rows],
        "]",
        "",
        "# The names of release 0.1, deprecated (one release): old name -> class name.",
        "DEPRECATED_NAMES: Dict[str, str] = {",
        *[f'    "{old}": "{new}",' for old, new in renamed],
        "}",
        "",
        "if TYPE_CHECKING:",
        "    # Type checkers see the old names as aliases; at run time the package's __getattr__",
        "    # serves them with a DeprecationWarning (they are not in this module).",
        *[f"    {old} = {new}" for old, new in renamed],
        *[f'    __all__ += ["{old}"]' for old, _ in renamed],
    ]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: gen_codes.py TABLE OUT")
    main(sys.argv[1], sys.argv[2])
