/* asks-first: a policy for the bindings' tests that answers "ask" for a run whose prompt holds
 * the marker [ask], and "allow" for everything else. Compiled by the tests (Python: conftest.py,
 * asks_first_plugin; Node: test/helpers.js, asksFirstPlugin) against abi/ alone, the way a
 * vendor builds a plugin. Stateless: any thread, concurrently. */
#include <string.h>

#include <runhost/runhost.h>

static const char k_marker[] = "[ask]";

static int contains(rh_str text, const char *needle, size_t n) {
  size_t i;
  if (text.len < n) return 0;
  for (i = 0; i + n <= text.len; ++i) {
    if (memcmp(text.data + i, needle, n) == 0) return 1;
  }
  return 0;
}

static rh_status create(const rh_policy_plugin *self, const rh_host *host, rh_str config,
                        rh_policy_instance **out) {
  static int token; /* every instance is this token; never dereferenced */
  (void)self;
  (void)host;
  (void)config;
  *out = (rh_policy_instance *)&token;
  return RH_OK;
}

static rh_status evaluate(rh_policy_instance *self, rh_str request, const rh_writer *out) {
  static const char ask[] = "{\"effect\":\"ask\",\"reason\":\"the prompt asks for a person\"}";
  static const char allow[] = "{\"effect\":\"allow\"}";
  (void)self;
  if (contains(request, k_marker, sizeof k_marker - 1)) return out->write(out, ask, sizeof ask - 1);
  return out->write(out, allow, sizeof allow - 1);
}

static void destroy(rh_policy_instance *self) { (void)self; }

static const rh_policy_plugin k_iface = {
    .struct_size = sizeof(rh_policy_plugin), .create = create, .evaluate = evaluate, .destroy = destroy};
static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc), .kind = RH_PLUGIN_KIND_POLICY, .id = "asks-first",
    .name = "asks first", .version = "0.1.0", .vendor = "runhost python tests",
    .description = "asks a person before a run whose prompt holds [ask]",
    .iface = {.policy = &k_iface}, .get_extension = NULL};
static const rh_plugin_desc *const k_plugins[] = {&k_desc};
static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry), .abi = RH_ABI_VERSION_INIT, .init = NULL, .deinit = NULL,
    .plugin_count = 1, .plugins = k_plugins};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
