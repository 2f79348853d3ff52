#!/usr/bin/env bash
# vendor_build_test.sh <repo source dir> <runhost CLI binary>
#
# Proves that a plugin vendor holding nothing but a copy of abi/include can follow docs/abi.md:
# the tutorial's source, manifest, cc line and CMake snippet are taken from the guide itself
# (the fenced block after each `<!-- vendor-test: ... -->` line), built in an empty directory
# beside a copy of abi/include alone, and the results are held to the one-export rule, passed
# through `runhost plugin check` and listed with `runhost plugins --plugin-dir DIR --json`.
# A guide that drifts from the headers or the host breaks this test. A missing CLI binary is a
# failure, not a skip.
#
# Environment: CMAKE (default cmake), NINJA (optional path to ninja), CXX (default c++),
# PYTHON (default python3), KEEP_TMP (set to keep the scratch directory).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <repo source dir> <runhost CLI binary>" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
runhost=$2
cmake_bin=${CMAKE:-cmake}
cxx_bin=${CXX:-c++}
python=${PYTHON:-python3}
guide=$src/docs/abi.md

tmp=$(mktemp -d "${TMPDIR:-/tmp}/runhost-vendor.XXXXXX")
if [[ -z ${KEEP_TMP:-} ]]; then
  trap 'rm -rf "$tmp"' EXIT
else
  echo "vendor_build_test: keeping $tmp"
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
finish() {
  echo "vendor_build_test: $passed passed, $failed failed"
  if [[ $failed -ne 0 ]]; then
    exit 1
  fi
  exit 0
}

# Prints the exported (defined, dynamic) symbols of a library, one per line.
exports_of() { nm -D --defined-only "$1" | awk '{ print $NF }'; }

# check_exports <label> <library>: the entry function must be the only export.
check_exports() {
  local exports
  if ! exports=$(exports_of "$2"); then
    fail "$1: nm -D could not read $2"
  elif [[ $exports == runhost_plugin_entry_v1 ]]; then
    pass "$1: exports exactly runhost_plugin_entry_v1"
  else
    fail "$1: exports must be exactly runhost_plugin_entry_v1, got: $(tr '\n' ' ' <<<"$exports")"
  fi
}

# --- 0. The inputs: a copy of abi/include alone, and the guide. --------------------------------
if [[ ! -f $guide ]]; then
  fail "no guide at $guide"
  finish
fi
mkdir -p "$tmp/abi"
cp -R "$src/abi/include" "$tmp/abi/include"

# --- 1. Extract the tagged blocks from the guide. ----------------------------------------------
# Each `<!-- vendor-test: KIND [FILE] -->` line tags the next fenced block. KIND is one of
# source FILE (```c), manifest FILE (```json), cc (```sh), cmake (```cmake); each appears once.
if "$python" - "$guide" "$tmp" <<'PY'
import os, re, sys

guide, out = sys.argv[1], sys.argv[2]
lines = open(guide, encoding="utf-8").read().split("\n")
tag_re = re.compile(r"^<!--\s*vendor-test:\s*(\S+)(?:\s+(\S+))?\s*-->\s*$")
want_lang = {"source": "c", "manifest": "json", "cc": "sh", "cmake": "cmake"}
fixed_name = {"cc": "cc-line.sh", "cmake": "CMakeLists.txt"}
seen, errors, i = {}, [], 0
while i < len(lines):
    m = tag_re.match(lines[i].strip())
    i += 1
    if not m:
        continue
    kind, name = m.group(1), m.group(2)
    where = f"{guide}:{i}"
    if kind not in want_lang:
        errors.append(f"{where}: unknown vendor-test tag {kind!r}")
        continue
    if (name is None) != (kind in fixed_name) or (name and ("/" in name or name.startswith("."))):
        errors.append(f"{where}: tag {kind!r} has a bad file name {name!r}")
        continue
    if kind in seen:
        errors.append(f"{where}: a second {kind!r} block (the first is at line {seen[kind]})")
        continue
    seen[kind] = i
    while i < len(lines) and not lines[i].strip():
        i += 1
    fence = re.match(r"^(```+)\s*(\S*)\s*$", lines[i]) if i < len(lines) else None
    if not fence:
        errors.append(f"{where}: the tag is not followed by a fenced block")
        continue
    if fence.group(2) != want_lang[kind]:
        errors.append(f"{where}: the {kind} block is ```{fence.group(2)}, expected ```{want_lang[kind]}")
    i += 1
    body = []
    while i < len(lines) and lines[i].rstrip() != fence.group(1):
        body.append(lines[i])
        i += 1
    if i == len(lines):
        errors.append(f"{where}: the {kind} block is never closed")
        break
    i += 1
    with open(os.path.join(out, name or fixed_name[kind]), "w", encoding="utf-8") as f:
        f.write("\n".join(body) + "\n")
    with open(os.path.join(out, f"tag-{kind}"), "w", encoding="utf-8") as f:
        f.write(name or fixed_name[kind])
for kind in want_lang:
    if kind not in seen:
        errors.append(f"{guide}: no `<!-- vendor-test: {kind} ... -->` block")
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
then
  pass "extracted source, manifest, cc and cmake blocks from docs/abi.md"
else
  fail "could not extract the tagged blocks from docs/abi.md"
  finish
fi
source_file=$(cat "$tmp/tag-source")
manifest_file=$(cat "$tmp/tag-manifest")
rm -f "$tmp"/tag-*

# The manifest must be the one the tutorial library needs: <stem>.runhost.json naming <stem>.so.
# Its "abi" is the headers' own version (the loader refuses a manifest that disagrees with the
# entry table, which RH_ABI_VERSION_INIT fills from these headers).
if "$python" - "$tmp/$manifest_file" "$tmp/abi/include/runhost/version.h" <<'PY'
import json, re, sys
path = sys.argv[1]
m = json.load(open(path, encoding="utf-8"))
header = open(sys.argv[2], encoding="utf-8").read()
abi = {part: int(re.search(rf"#define RH_ABI_VERSION_{part.upper()} (\d+)", header).group(1)) for part in ("major", "minor")}
problems = []
if m.get("manifest") != 1: problems.append('"manifest" is not 1')
if m.get("library") != "no-sudo.so": problems.append('"library" is not "no-sudo.so"')
if m.get("abi") != abi: problems.append(f'"abi" is not the headers\' {json.dumps(abi)}')
plugins = m.get("plugins")
if not (isinstance(plugins, list) and len(plugins) == 1 and plugins[0].get("id") == "no-sudo"
        and plugins[0].get("kind") == "policy" and isinstance(plugins[0].get("version"), str)):
    problems.append('"plugins" is not one policy with id "no-sudo" and a version')
if not path.endswith("/no-sudo.runhost.json"): problems.append("the file is not no-sudo.runhost.json")
for p in problems: print(f"{path}: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
  pass "manifest $manifest_file is well formed and names no-sudo.so"
else
  fail "manifest $manifest_file does not describe the tutorial plugin"
fi

# --- 2. The tutorial source is clean C11 and clean C++20. ---------------------------------------
if (cd "$tmp" && cc -std=c11 -Wall -Wextra -pedantic -Werror -I abi/include \
      -c "$source_file" -o /dev/null) &&
   (cd "$tmp" && "$cxx_bin" -std=c++20 -x c++ -Wall -Wextra -pedantic -Werror -I abi/include \
      -c "$source_file" -o /dev/null); then
  pass "$source_file compiles as C11 and C++20 with -Wall -Wextra -pedantic -Werror"
else
  fail "$source_file does not compile cleanly as C11 and C++20"
fi

# --- 3. The cc line, verbatim, from the vendor's directory. -------------------------------------
mapfile -t cc_lines < <(grep -v '^[[:space:]]*\(#.*\)\?$' "$tmp/cc-line.sh")
cc_ok=0
if [[ ${#cc_lines[@]} -ne 1 ]]; then
  fail "the cc block must hold exactly one command line, found ${#cc_lines[@]}"
elif [[ ${cc_lines[0]} =~ [\;\&\|\`\<\>\\]|\$\( ]]; then
  fail "the cc block must be one plain command, got: ${cc_lines[0]}"
elif ! (cd "$tmp" && bash -c "${cc_lines[0]}") 2>"$tmp/cc.err"; then
  cat "$tmp/cc.err" >&2
  fail "the cc line failed: ${cc_lines[0]}"
elif [[ ! -f $tmp/no-sudo.so ]]; then
  fail "the cc line did not produce no-sudo.so"
elif [[ -s $tmp/cc.err ]]; then
  cat "$tmp/cc.err" >&2
  fail "the cc line built no-sudo.so but printed diagnostics"
else
  pass "the cc line builds no-sudo.so without diagnostics"
  cc_ok=1
fi
if [[ $cc_ok -eq 1 ]]; then
  mkdir -p "$tmp/out-cc"
  mv "$tmp/no-sudo.so" "$tmp/out-cc/"
  cp "$tmp/$manifest_file" "$tmp/out-cc/"
  check_exports "cc build" "$tmp/out-cc/no-sudo.so"
fi

# --- 4. The CMake snippet, as a complete CMakeLists.txt, with Ninja. ----------------------------
cmake_ok=0
cmake_args=(-S "$tmp" -B "$tmp/build" -G Ninja -DCMAKE_C_FLAGS=-Werror
            "-DRUNHOST_ABI_INCLUDE=$tmp/abi/include")
if [[ -n ${NINJA:-} ]]; then
  cmake_args+=("-DCMAKE_MAKE_PROGRAM=$NINJA")
fi
if ! "$cmake_bin" "${cmake_args[@]}" >"$tmp/cmake.log" 2>&1 ||
   ! "$cmake_bin" --build "$tmp/build" >>"$tmp/cmake.log" 2>&1; then
  cat "$tmp/cmake.log" >&2
  fail "the CMake snippet does not configure and build"
elif [[ ! -f $tmp/build/no-sudo.so ]]; then
  fail "the CMake snippet did not produce build/no-sudo.so"
else
  pass "the CMake snippet builds build/no-sudo.so with -Werror"
  cmake_ok=1
fi
if [[ $cmake_ok -eq 1 ]]; then
  mkdir -p "$tmp/out-cmake"
  cp "$tmp/build/no-sudo.so" "$tmp/$manifest_file" "$tmp/out-cmake/"
  check_exports "cmake build" "$tmp/out-cmake/no-sudo.so"
fi

# --- 5. runhost plugin check, and runhost plugins, on each build. -------------------------------
# `plugins --plugin-dir DIR --json` must list no-sudo from DIR and refuse nothing found there.
run_listing() { # <label> <dir>
  local rc=0
  "$runhost" plugins --plugin-dir "$2" --json >"$tmp/plugins.json" 2>"$tmp/plugins.err" || rc=$?
  if [[ $rc -ne 0 ]]; then
    sed 's/^/  | /' "$tmp/plugins.err" >&2
    fail "$1: runhost plugins --plugin-dir exited $rc"
  elif "$python" - "$tmp/plugins.json" "$2" <<'PY'
import json, os, sys
listing = json.load(open(sys.argv[1], encoding="utf-8"))
directory = os.path.realpath(sys.argv[2])
def inside(path):
    return os.path.dirname(os.path.realpath(path)) == directory
mine = [p for p in listing.get("plugins", []) if inside(p.get("library", ""))]
refused = [r for r in listing.get("refused", []) if inside(r.get("path", ""))]
ok = (len(mine) == 1 and mine[0].get("id") == "no-sudo" and mine[0].get("kind") == "policy"
      and mine[0].get("version") == "1.0.0" and not refused)
if not ok:
    print(f"loaded from {directory}: {mine}\nrefused there: {refused}", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
  then
    pass "$1: runhost plugins --plugin-dir lists no-sudo and refuses nothing"
  else
    fail "$1: runhost plugins --plugin-dir does not list no-sudo cleanly"
  fi
}
run_check() { # <label> <library>
  local rc=0
  if command -v timeout >/dev/null; then
    timeout 120 "$runhost" plugin check "$2" >"$tmp/check.log" 2>&1 || rc=$?
  else
    "$runhost" plugin check "$2" >"$tmp/check.log" 2>&1 || rc=$?
  fi
  if [[ $rc -eq 0 ]]; then
    pass "$1: runhost plugin check exits 0"
  else
    sed 's/^/  | /' "$tmp/check.log" >&2
    fail "$1: runhost plugin check exited $rc"
  fi
}
if [[ ! -x $runhost ]]; then
  fail "the runhost CLI '$runhost' does not exist or is not executable; plugin check not run"
else
  if [[ $cc_ok -eq 1 ]]; then
    run_check "cc build" "$tmp/out-cc/no-sudo.so"
    run_listing "cc build" "$tmp/out-cc"
  fi
  if [[ $cmake_ok -eq 1 ]]; then
    run_check "cmake build" "$tmp/out-cmake/no-sudo.so"
    run_listing "cmake build" "$tmp/out-cmake"
  fi
fi

finish
