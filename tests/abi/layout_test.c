/* The ABI headers compiled as strict C11 (-std=c11 -Wall -Wextra -pedantic -Werror), with the
 * layout assertions, plus runtime checks of what the headers define for plugin authors. */
#include <stdio.h>
#include <string.h>

#include "layout_asserts.h"

static int passed, failed;
#define CHECK(expr)                                                        \
  do {                                                                     \
    if (expr) {                                                            \
      ++passed;                                                            \
    } else {                                                               \
      ++failed;                                                            \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #expr); \
    }                                                                      \
  } while (0)

static const rh_plugin_entry k_test_entry = {sizeof(rh_plugin_entry), RH_ABI_VERSION_INIT, NULL, NULL, 0, NULL};
static const rh_plugin_entry *test_entry(void) { return &k_test_entry; }

int main(void) {
  const rh_str lit = RH_STR_LIT("hello");
  const rh_abi_version v = RH_ABI_VERSION_INIT;
  CHECK(lit.len == 5 && memcmp(lit.data, "hello", 5) == 0);
  CHECK(v.major == RH_ABI_VERSION_MAJOR && v.minor == RH_ABI_VERSION_MINOR);
  CHECK(strcmp(RH_PLUGIN_ENTRY_SYMBOL, "runhost_plugin_entry_v1") == 0);
  CHECK(strcmp(RH_EXT_HOST_INFO, "runhost.host-info/1") == 0);
  CHECK(strcmp(RH_EXT_PROCESSES, "runhost.processes/1") == 0);
  CHECK(RH_RUNTIME_CAP_APPROVALS == 1 && RH_RUNTIME_CAP_RESUME == 2 && RH_RUNTIME_CAP_MULTI_TURN == 4);
  CHECK(RH_LAYOUT_CHECKED == 1);
  /* The entry declaration has the function type the host looks up: a function of a plugin's
   * shape converts to it without a cast, and the host gets the table back through it. */
  {
    rh_plugin_entry_fn fn = test_entry;
    CHECK(fn() == &k_test_entry && fn()->struct_size == sizeof(rh_plugin_entry));
  }
  printf("abi_layout_c11: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
