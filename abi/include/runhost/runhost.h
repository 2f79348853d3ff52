/* runhost/runhost.h — the runhost plugin ABI, version 1: include this one header.
 *
 * A runhost plugin is a shared library, written in C or C++ against these headers alone, that
 * gives the runhost host one or more plugins: runtime adapters (runtime.h), policies
 * (policy.h) and connectors (connector.h). The library exports one symbol,
 * runhost_plugin_entry_v1 (plugin.h); the host's services reach it through rh_host (host.h).
 * docs/abi.md is the plugin author's guide; this block is the contract in brief.
 *
 * Conventions, for every header:
 *
 *  - Language. Pure C11 with <stddef.h> and <stdint.h>; compiles as C++17/20 too. No C++
 *    types, exceptions or allocator crosses the boundary. A C++ plugin catches everything at
 *    its edge and returns a status (abi/sdk has noexcept trampolines for that).
 *
 *  - Versioning. RH_ABI_VERSION_MAJOR changes only when an existing field or function
 *    changes meaning or position; the host refuses any other major. A minor appends: new
 *    fields at the end of a struct, new functions at the end of a table, new enum values,
 *    new extension ids. Nothing is removed; a retired field is renamed `reserved_N`.
 *
 *  - struct_size. Every struct that may grow starts with `uint32_t struct_size`, set by
 *    whoever fills the struct to sizeof() as that side was compiled. The reader uses only
 *    fields that lie wholly within struct_size, so an old plugin works with a newer host and
 *    a new plugin with an older host (which ignores what it does not know). Value types that
 *    are frozen by definition (rh_str, rh_abi_version, rh_http_header) carry none.
 *
 *  - Ownership. Pointers passed into a call are borrowed for that call unless the field says
 *    otherwise ("valid until destroy"). Strings are rh_str views, not NUL-terminated, except
 *    the static descriptor strings in plugin.h. Whoever allocates frees: the host never frees
 *    plugin memory and a plugin never frees host memory. Output goes through host-owned
 *    rh_writer sinks, so a plugin never allocates on the host's behalf.
 *
 *  - Errors. Every fallible call returns rh_status. RH_OK is 0. Before returning anything
 *    else a plugin calls host->set_error() with a sentence naming what was wrong; the host
 *    reads it on return. Host services report their own detail through host->last_error().
 *
 *  - Threads. Each function's comment names the thread that may call it. Runtime sessions
 *    live on the host's reactor thread and must never block; policies may be called
 *    concurrently; connectors run on worker threads and may block.
 *
 *  - Extensions. Newer features are found by id, both ways: host->get_extension(host, id)
 *    and desc->get_extension(desc, id). Ids look like "runhost.approvals/1"; NULL means
 *    "not supported", and both sides must cope with that.
 *
 *  - Payloads that evolve (dispatch, launch spec, policy decisions, event payloads) are JSON
 *    text with documented schemas, so adding a field never breaks the binary interface.
 */
#ifndef RUNHOST_RUNHOST_H
#define RUNHOST_RUNHOST_H

#include "version.h"
#include "types.h"
#include "host.h"
#include "plugin.h"
#include "runtime.h"
#include "policy.h"
#include "connector.h"

#endif /* RUNHOST_RUNHOST_H */
