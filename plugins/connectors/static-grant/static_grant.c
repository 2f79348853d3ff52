/* static-grant: a connector whose grants come from its configuration, for demos and tests.
 *
 * Configuration: {"users": ["u1", ...], "scopes": ["read"], "token": "...",
 * "connect_url": "https://...", "mcp_servers": {...}}. A listed user holds a grant with the
 * configured scopes; anyone else is told to connect at connect_url. Materialising a grant yields
 * one environment variable, STATIC_GRANT_TOKEN, marked secret, and the configured MCP servers
 * as they stand (they name the token as ${STATIC_GRANT_TOKEN}, never hold it). No network, no state that changes after
 * create(), so the concurrent calls the host makes need no lock.
 */
#include <stdlib.h>
#include <string.h>

#include <runhost/json.h>
#include <runhost/runhost.h>

#define GRANT_VERSION "0.1.0"
#define GRANT_DEFAULT_CONNECT_URL "https://connect.invalid/static-grant"

struct rh_connector_instance {
  const rh_host *host;
  char **users; /* immutable after create, like everything here */
  size_t user_count;
  char **scopes;
  size_t scope_count;
  char *token;
  size_t token_len;
  char *connect_url;
  size_t connect_url_len;
  char *mcp_servers; /* the configured "mcp_servers" object, as JSON text; "{}" by default */
  size_t mcp_servers_len;
};

static const rh_host *g_host;

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  rh_str text = {message, strlen(message)};
  host->set_error(host, text);
  return status;
}

/* Copies the array of strings at `key`; absent means empty. */
static rh_status config_list(rh_str config, const char *key, char ***list, size_t *count) {
  rh_str value;
  rh_status status = rh_json_find(config, key, &value);
  if (status == RH_ERR_NOT_FOUND) return RH_OK;
  return status == RH_OK ? rh_json_string_array_dup(value, list, count) : status;
}

/* Copies the string at `key`; absent means `fallback`, or an error when that is NULL. */
static rh_status config_text(rh_str config, const char *key, const char *fallback, char **text,
                             size_t *len) {
  rh_str value;
  rh_status status = rh_json_find(config, key, &value);
  if (status == RH_ERR_NOT_FOUND && fallback) {
    *len = strlen(fallback);
    if (!(*text = (char *)malloc(*len + 1))) return RH_ERR_NO_MEMORY;
    memcpy(*text, fallback, *len + 1);
    return RH_OK;
  }
  if (status != RH_OK || rh_json_type_of(value) != RH_JSON_STRING) return RH_ERR_INVALID_ARGUMENT;
  return rh_json_string_dup(value, text, len);
}

/* Copies the object at `key` as JSON text; absent means "{}". */
static rh_status config_object(rh_str config, const char *key, char **text, size_t *len) {
  rh_str value;
  rh_status status = rh_json_find(config, key, &value);
  if (status == RH_ERR_NOT_FOUND) value.data = "{}", value.len = 2;
  else if (status != RH_OK || rh_json_type_of(value) != RH_JSON_OBJECT) return RH_ERR_INVALID_ARGUMENT;
  if (!(*text = (char *)malloc(value.len + 1))) return RH_ERR_NO_MEMORY;
  memcpy(*text, value.data, value.len);
  (*text)[value.len] = '\0';
  *len = value.len;
  return RH_OK;
}

static void grant_destroy(rh_connector_instance *c) {
  rh_json_string_array_free(c->users, c->user_count);
  rh_json_string_array_free(c->scopes, c->scope_count);
  free(c->token);
  free(c->connect_url);
  free(c->mcp_servers);
  free(c);
}

static rh_status grant_create(const rh_connector_plugin *self, const rh_host *host,
                              rh_str config_json, rh_connector_instance **out) {
  rh_connector_instance *c;
  rh_str config;
  rh_status status;
  const char *problem = NULL;
  (void)self;
  if (rh_json_parse(config_json, &config) != RH_OK || rh_json_type_of(config) != RH_JSON_OBJECT)
    return fail(host, RH_ERR_INVALID_ARGUMENT,
                "static-grant: the configuration is not a JSON object");
  if (!(c = (rh_connector_instance *)calloc(1, sizeof *c)))
    return fail(host, RH_ERR_NO_MEMORY, "static-grant: out of memory");
  c->host = host;
  if ((status = config_list(config, "users", &c->users, &c->user_count)) != RH_OK)
    problem = "static-grant: \"users\" must be an array of strings";
  else if ((status = config_list(config, "scopes", &c->scopes, &c->scope_count)) != RH_OK)
    problem = "static-grant: \"scopes\" must be an array of strings";
  else if ((status = config_text(config, "token", NULL, &c->token, &c->token_len)) != RH_OK)
    problem = "static-grant: \"token\" must be a string (it is required)";
  else if ((status = config_text(config, "connect_url", GRANT_DEFAULT_CONNECT_URL, &c->connect_url,
                                 &c->connect_url_len)) != RH_OK)
    problem = "static-grant: \"connect_url\" must be a string";
  else if ((status = config_object(config, "mcp_servers", &c->mcp_servers, &c->mcp_servers_len)) != RH_OK)
    problem = "static-grant: \"mcp_servers\" must be an object (server name -> MCP server config)";
  if (problem) {
    grant_destroy(c);
    return fail(host, status,
                status == RH_ERR_NO_MEMORY ? "static-grant: out of memory reading the configuration"
                                           : problem);
  }
  *out = c;
  return RH_OK;
}

static rh_status grant_describe(rh_connector_instance *c, const rh_writer *out) {
  rh_status status;
  if ((status = rh_json_write_cstr(
           out, "{\"id\":\"static-grant\",\"name\":\"Static grant (example)\",\"scopes\":")) ||
      (status = rh_json_write_string_array(out, c->scopes, c->scope_count)) ||
      (status = rh_json_write_cstr(out, ",\"auth\":\"static\"}")))
    return fail(c->host, status, "static-grant: could not write the description");
  return RH_OK;
}

/* Finds the request's user among the configured ones: *user is that entry, or NULL. */
static rh_status requested_user(const rh_connector_instance *c, rh_str request_json,
                                const char **user) {
  rh_str request, user_id;
  size_t i;
  if (rh_json_parse(request_json, &request) != RH_OK ||
      rh_json_find(request, "userId", &user_id) != RH_OK ||
      rh_json_type_of(user_id) != RH_JSON_STRING)
    return fail(c->host, RH_ERR_INVALID_ARGUMENT,
                "static-grant: the request is not a JSON object with a \"userId\" string");
  *user = NULL;
  for (i = 0; i < c->user_count && !*user; i++)
    if (rh_json_equals(user_id, c->users[i], strlen(c->users[i]))) *user = c->users[i];
  return RH_OK;
}

static rh_status grant_check(rh_connector_instance *c, rh_str request_json, const rh_writer *out) {
  const char *user;
  rh_status status = requested_user(c, request_json, &user);
  if (status != RH_OK) return status;
  if (!user) {
    status = rh_json_write_cstr(out, "{\"state\":\"missing\",\"connect_url\":");
    if (status == RH_OK) status = rh_json_write_string(out, c->connect_url, c->connect_url_len);
  } else {
    status = rh_json_write_cstr(out, "{\"state\":\"granted\",\"grant_id\":\"static-grant:");
    if (status == RH_OK) status = rh_json_write_escaped(out, user, strlen(user));
    if (status == RH_OK) status = rh_json_write_cstr(out, "\",\"scopes\":");
    if (status == RH_OK) status = rh_json_write_string_array(out, c->scopes, c->scope_count);
  }
  if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
  return status == RH_OK ? RH_OK
                         : fail(c->host, status, "static-grant: could not write the check result");
}

static rh_status grant_materialize(rh_connector_instance *c, rh_str grant_json,
                                   const rh_writer *out) {
  const char *user;
  rh_status status = requested_user(c, grant_json, &user);
  if (status != RH_OK) return status;
  if (!user) /* never hand the token to someone check() would not have granted */
    return fail(c->host, RH_ERR_NOT_FOUND, "static-grant: the request's user holds no grant");
  if ((status = rh_json_write_cstr(out, "{\"env\":{\"STATIC_GRANT_TOKEN\":{\"value\":")) ||
      (status = rh_json_write_string(out, c->token, c->token_len)) ||
      (status = rh_json_write_cstr(out, ",\"secret\":true}},\"mcp_servers\":")) ||
      (status = rh_json_write_raw(out, c->mcp_servers, c->mcp_servers_len)) ||
      (status = rh_json_write_raw(out, "}", 1)))
    return fail(c->host, status, "static-grant: could not write the materialised grant");
  return RH_OK;
}

static rh_status grant_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

static void grant_deinit(void) { g_host = NULL; }

static const rh_connector_plugin k_connector = {
    .struct_size = sizeof(rh_connector_plugin),
    .create = grant_create,
    .describe = grant_describe,
    .check = grant_check,
    .materialize = grant_materialize,
    .invoke = NULL /* nothing to invoke */,
    .destroy = grant_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_CONNECTOR,
    .id = "static-grant",
    .name = "Static grant (example)",
    .version = GRANT_VERSION,
    .vendor = "runhost examples",
    .description =
        "Grants configured users a configured token; an example connector with no network.",
    .iface = {.connector = &k_connector},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = grant_init,
    .deinit = grant_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
