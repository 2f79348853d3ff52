/* runhost/plugin.h — the entry table: how a shared library presents its plugins to the host.
 *
 * A plugin library exports exactly one symbol, runhost_plugin_entry_v1, a function returning a
 * static entry table. The table names the ABI the library was built against, its init/deinit
 * pair and the plugins it holds — any number, of any kind (runtime adapter, policy,
 * connector). The host loads the library (absolute path, RTLD_NOW | RTLD_LOCAL), calls the
 * entry function, checks the table and every descriptor against the manifest beside the
 * library, then calls init() once. It never unloads the library while an object created by
 * it is alive, and calls deinit() before unloading.
 *
 *   static const rh_plugin_desc *const k_plugins[] = {&k_my_policy};
 *   static const rh_plugin_entry k_entry = {
 *       sizeof(rh_plugin_entry), RH_ABI_VERSION_INIT, my_init, my_deinit,
 *       1, k_plugins};
 *   RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
 *
 * Thread rules: the host calls the entry function, init() and deinit() on one thread, with
 * every other library load in the process serialised against them. The table and descriptors
 * are static data: the host reads them before init() and after deinit().
 */
#ifndef RUNHOST_PLUGIN_H
#define RUNHOST_PLUGIN_H

#include "host.h"
#include "types.h"

RH_BEGIN_DECLS

struct rh_runtime_adapter;
struct rh_policy_plugin;
struct rh_connector_plugin;

/* What a plugin is. Kinds are only ever appended; a host refuses a library that declares a
 * kind it does not know. */
typedef uint32_t rh_plugin_kind;
enum {
  RH_PLUGIN_KIND_RUNTIME = 1,   /* iface.runtime: runtime.h */
  RH_PLUGIN_KIND_POLICY = 2,    /* iface.policy: policy.h */
  RH_PLUGIN_KIND_CONNECTOR = 3  /* iface.connector: connector.h */
};

/* One plugin. Static data, immutable, valid while the library is loaded. */
typedef struct rh_plugin_desc {
  uint32_t struct_size;    /* sizeof(rh_plugin_desc) */
  rh_plugin_kind kind;
  /* Unique among loaded plugins of the same kind: [a-z0-9][a-z0-9._-]*, at most 64 bytes.
   * Runtime adapter ids are what a dispatch names in its `runtime` field. */
  const char *id;
  const char *name;        /* human-readable; may be NULL */
  const char *version;     /* the plugin's own release, e.g. "1.2.0"; required */
  const char *vendor;      /* may be NULL */
  const char *description; /* one line; may be NULL */
  union {
    const void *any;
    const struct rh_runtime_adapter *runtime;
    const struct rh_policy_plugin *policy;
    const struct rh_connector_plugin *connector;
  } iface; /* the interface for `kind`; never NULL */
  /* Looks up a plugin extension by id ("runhost.approvals/1"); returns a static table or
   * NULL. May itself be NULL when the plugin has none. Any thread, after init(). */
  const void *(*get_extension)(const struct rh_plugin_desc *self, const char *id);
} rh_plugin_desc;

/* The library's entry table. Static data. */
typedef struct rh_plugin_entry {
  uint32_t struct_size; /* sizeof(rh_plugin_entry) */
  rh_abi_version abi;   /* RH_ABI_VERSION_INIT: the ABI this library was compiled against */

  /* Called once after the host has checked the table, before any plugin is used. `host` stays
   * valid until deinit() returns; `library_path` is the absolute path the library was loaded
   * from (borrowed for the call), for finding files installed beside it. Return RH_OK, or a
   * failure after host->set_error(): the host then refuses the whole library and unloads it
   * without calling deinit(). May be NULL when there is nothing to do. */
  rh_status (*init)(const rh_host *host, const char *library_path);

  /* Called once before the library is unloaded, after every object the library created has
   * been destroyed. No call into the library follows. May be NULL. */
  void (*deinit)(void);

  uint32_t plugin_count;              /* at least 1 */
  const rh_plugin_desc *const *plugins; /* plugin_count pointers to descriptors */
} rh_plugin_entry;

/* The one exported symbol. Returns the library's static entry table; returning NULL refuses
 * loading (the host reports it). Must not call the host: it has none yet. */
#define RH_PLUGIN_ENTRY_SYMBOL "runhost_plugin_entry_v1"
typedef const rh_plugin_entry *(*rh_plugin_entry_fn)(void);
RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void);

/* Rationale: the entry is a function rather than an exported data object (CLAP's choice) so
 * that a library can pick its table at load time (e.g. by CPU features) and so that "no
 * table" has an unambiguous spelling, NULL. The _v1 suffix is the entry's own major: a future
 * incompatible table would be a second symbol, letting one library serve two host majors. */

RH_END_DECLS

#endif /* RUNHOST_PLUGIN_H */
