/* runhost/version.h — ABI version and the few macros every runhost header needs.
 *
 * A plugin records the ABI it was compiled against in its entry table
 * (rh_plugin_entry.abi = RH_ABI_VERSION_INIT). The host refuses a plugin whose major differs
 * from its own and accepts any minor: minors only append fields and functions, and the host
 * reads only what an older plugin provides (see `struct_size` in types.h).
 *
 *   const rh_plugin_entry entry = { sizeof(rh_plugin_entry), RH_ABI_VERSION_INIT, ... };
 *
 * Pure C11, no dependencies but the C standard library. Safe to include from C++.
 */
#ifndef RUNHOST_VERSION_H
#define RUNHOST_VERSION_H

#include <stdint.h>

#define RH_ABI_VERSION_MAJOR 1
#define RH_ABI_VERSION_MINOR 2

/* Value type, frozen: two 32-bit numbers, never grows (so it has no struct_size). */
typedef struct rh_abi_version {
  uint32_t major;
  uint32_t minor;
} rh_abi_version;

#define RH_ABI_VERSION_INIT {RH_ABI_VERSION_MAJOR, RH_ABI_VERSION_MINOR}

#ifdef __cplusplus
#define RH_EXTERN_C extern "C"
#define RH_BEGIN_DECLS extern "C" {
#define RH_END_DECLS }
#else
#define RH_EXTERN_C
#define RH_BEGIN_DECLS
#define RH_END_DECLS
#endif

/* Marks the one symbol a plugin exports. Build plugins with -fvisibility=hidden so that
 * nothing else leaves the library. */
#if defined(_WIN32)
#define RH_EXPORT __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define RH_EXPORT __attribute__((visibility("default")))
#else
#define RH_EXPORT
#endif

#endif /* RUNHOST_VERSION_H */
