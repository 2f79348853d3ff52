/* oauth2: a connector for any OAuth 2.0 provider, by the authorization-code flow.
 *
 * Configuration: {"authorize_url", "token_url", "client_id", "client_secret"?, "redirect_uri"?,
 * "scopes": [...], "env_name": "OAUTH2_TOKEN"}. client_secret is a secret (the host keeps its
 * value out of events and logs because of its name); a public client leaves it out.
 *
 *   check        no grant: missing; an expired grant: expired; both with the connect URL,
 *                authorize_url?response_type=code&client_id=..&scope=..&state=<tenant:user>
 *                (the backend sends the user there and receives the code at its redirect URI);
 *                a usable grant: granted.
 *   exchange     POSTs grant_type=authorization_code, the code and the client's credentials,
 *                form-encoded in the body (never the URL), to token_url through
 *                host->http_request; keeps access_token (and refresh_token) as the secret,
 *                expires_in, and the granted scope.
 *   materialize  the access token as env_name, marked secret.
 *
 * Everything in an instance is immutable after create(), so the concurrent calls the host
 * makes need no lock. No message here ever holds the code, a token or the client secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <runhost/json.h>
#include <runhost/runhost.h>

#define OAUTH2_VERSION "0.1.0"
#define OAUTH2_DEFAULT_ENV "OAUTH2_TOKEN"
#define OAUTH2_MAX_RESPONSE (64u * 1024u) /* a token response is a few hundred bytes */
#define OAUTH2_TIMEOUT_MS 15000u

struct rh_connector_instance {
  const rh_host *host;
  char *authorize_url;
  char *token_url;
  char *client_id;
  char *client_secret; /* NULL for a public client */
  char *redirect_uri;  /* NULL when the provider needs none */
  char *env_name;
  char **scopes;
  size_t scope_count;
};

static rh_status fail(const rh_host *host, rh_status status, const char *message) {
  rh_str text = {message, strlen(message)};
  host->set_error(host, text);
  return status;
}

static rh_status append(rh_json_buffer *buf, const char *data, size_t len) {
  return buf->writer.write(&buf->writer, data, len);
}

static rh_status append_cstr(rh_json_buffer *buf, const char *text) {
  return append(buf, text, strlen(text));
}

/* Percent-encodes `len` bytes (RFC 3986: unreserved characters stay as they are). */
static rh_status append_encoded(rh_json_buffer *buf, const char *data, size_t len) {
  static const char hex[] = "0123456789ABCDEF";
  rh_status status = RH_OK;
  size_t i;
  for (i = 0; i < len && status == RH_OK; i++) {
    const unsigned char c = (unsigned char)data[i];
    const int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    char escaped[3];
    if (plain) {
      status = append(buf, (const char *)&data[i], 1);
    } else {
      escaped[0] = '%';
      escaped[1] = hex[c >> 4];
      escaped[2] = hex[c & 15];
      status = append(buf, escaped, 3);
    }
  }
  return status;
}

/* "&name=<value, percent-encoded>" (no '&' when `first`). */
static rh_status append_param(rh_json_buffer *buf, int first, const char *name, const char *value,
                              size_t len) {
  rh_status status = first ? RH_OK : append(buf, "&", 1);
  if (status == RH_OK) status = append_cstr(buf, name);
  if (status == RH_OK) status = append(buf, "=", 1);
  return status == RH_OK ? append_encoded(buf, value, len) : status;
}

/* ---- configuration ------------------------------------------------------------------------ */

/* Copies the string at `key`: required (absent is an error), or optional (absent leaves NULL,
 * or `fallback`). A value marked {"secret": true, "value": "..."} is read through. */
static rh_status config_text(rh_str config, const char *key, int required, const char *fallback,
                             char **text) {
  rh_str value, inner;
  size_t len;
  rh_status status = rh_json_find(config, key, &value);
  if (status == RH_ERR_NOT_FOUND && !required) {
    if (!fallback) return RH_OK;
    len = strlen(fallback);
    if (!(*text = (char *)malloc(len + 1))) return RH_ERR_NO_MEMORY;
    memcpy(*text, fallback, len + 1);
    return RH_OK;
  }
  if (status != RH_OK) return RH_ERR_INVALID_ARGUMENT;
  if (rh_json_type_of(value) == RH_JSON_OBJECT && rh_json_find(value, "value", &inner) == RH_OK)
    value = inner;
  if (rh_json_type_of(value) != RH_JSON_STRING) return RH_ERR_INVALID_ARGUMENT;
  status = rh_json_string_dup(value, text, &len);
  if (status == RH_OK && (len == 0 || strlen(*text) != len)) { /* empty, or holding U+0000 */
    free(*text);
    *text = NULL;
    return RH_ERR_INVALID_ARGUMENT;
  }
  return status;
}

static void oauth2_destroy(rh_connector_instance *c) {
  free(c->authorize_url);
  free(c->token_url);
  free(c->client_id);
  free(c->client_secret);
  free(c->redirect_uri);
  free(c->env_name);
  rh_json_string_array_free(c->scopes, c->scope_count);
  free(c);
}

static rh_status oauth2_create(const rh_connector_plugin *self, const rh_host *host,
                               rh_str config_json, rh_connector_instance **out) {
  rh_connector_instance *c;
  rh_str config, scopes;
  rh_status status;
  const char *problem = NULL;
  (void)self;
  if (rh_json_parse(config_json, &config) != RH_OK || rh_json_type_of(config) != RH_JSON_OBJECT)
    return fail(host, RH_ERR_INVALID_ARGUMENT, "oauth2: the configuration is not a JSON object");
  if (!(c = (rh_connector_instance *)calloc(1, sizeof *c)))
    return fail(host, RH_ERR_NO_MEMORY, "oauth2: out of memory");
  c->host = host;
  if ((status = config_text(config, "authorize_url", 1, NULL, &c->authorize_url)) != RH_OK)
    problem = "oauth2: \"authorize_url\" must be a string (it is required)";
  else if ((status = config_text(config, "token_url", 1, NULL, &c->token_url)) != RH_OK)
    problem = "oauth2: \"token_url\" must be a string (it is required)";
  else if ((status = config_text(config, "client_id", 1, NULL, &c->client_id)) != RH_OK)
    problem = "oauth2: \"client_id\" must be a string (it is required)";
  else if ((status = config_text(config, "client_secret", 0, NULL, &c->client_secret)) != RH_OK)
    problem = "oauth2: \"client_secret\" must be a string";
  else if ((status = config_text(config, "redirect_uri", 0, NULL, &c->redirect_uri)) != RH_OK)
    problem = "oauth2: \"redirect_uri\" must be a string";
  else if ((status = config_text(config, "env_name", 0, OAUTH2_DEFAULT_ENV, &c->env_name)) != RH_OK)
    problem = "oauth2: \"env_name\" must be a string";
  else if (rh_json_find(config, "scopes", &scopes) == RH_OK &&
           (status = rh_json_string_array_dup(scopes, &c->scopes, &c->scope_count)) != RH_OK)
    problem = "oauth2: \"scopes\" must be an array of strings";
  if (problem) {
    oauth2_destroy(c);
    return fail(host, status,
                status == RH_ERR_NO_MEMORY ? "oauth2: out of memory reading the configuration" : problem);
  }
  *out = c;
  return RH_OK;
}

static rh_status oauth2_describe(rh_connector_instance *c, const rh_writer *out) {
  rh_status status;
  if ((status = rh_json_write_cstr(
           out, "{\"id\":\"oauth2\",\"name\":\"OAuth 2.0 (authorization code)\",\"scopes\":")) ||
      (status = rh_json_write_string_array(out, c->scopes, c->scope_count)) ||
      (status = rh_json_write_cstr(out, ",\"auth\":\"oauth2\"}")))
    return fail(c->host, status, "oauth2: could not write the description");
  return RH_OK;
}

/* ---- check ---------------------------------------------------------------------------------- */

/* Where the user grants access: the provider's authorize page, with state "<tenant>:<user>". */
static rh_status build_connect_url(const rh_connector_instance *c, rh_str tenant, rh_str user,
                                   rh_json_buffer *url) {
  char *tenant_text = NULL, *user_text = NULL;
  size_t tenant_len = 0, user_len = 0, i;
  rh_status status = rh_json_string_dup(tenant, &tenant_text, &tenant_len);
  if (status == RH_OK) status = rh_json_string_dup(user, &user_text, &user_len);
  if (status == RH_OK) status = append_cstr(url, c->authorize_url);
  if (status == RH_OK) status = append_cstr(url, strchr(c->authorize_url, '?') ? "&" : "?");
  if (status == RH_OK) status = append_cstr(url, "response_type=code");
  if (status == RH_OK)
    status = append_param(url, 0, "client_id", c->client_id, strlen(c->client_id));
  if (status == RH_OK && c->redirect_uri)
    status = append_param(url, 0, "redirect_uri", c->redirect_uri, strlen(c->redirect_uri));
  if (status == RH_OK) status = append_cstr(url, "&scope=");
  for (i = 0; i < c->scope_count && status == RH_OK; i++) {
    if (i > 0) status = append_cstr(url, "%20");
    if (status == RH_OK) status = append_encoded(url, c->scopes[i], strlen(c->scopes[i]));
  }
  if (status == RH_OK) status = append_cstr(url, "&state=");
  if (status == RH_OK) status = append_encoded(url, tenant_text, tenant_len);
  if (status == RH_OK) status = append_cstr(url, "%3A");
  if (status == RH_OK) status = append_encoded(url, user_text, user_len);
  free(tenant_text);
  free(user_text);
  return status;
}

static rh_status oauth2_check(rh_connector_instance *c, rh_str request_json, const rh_writer *out) {
  rh_str request, tenant, user, grant, value;
  rh_json_buffer url;
  rh_status status;
  bool expired = false;
  const char *state;
  if (rh_json_parse(request_json, &request) != RH_OK ||
      rh_json_find(request, "tenantId", &tenant) != RH_OK ||
      rh_json_type_of(tenant) != RH_JSON_STRING ||
      rh_json_find(request, "userId", &user) != RH_OK || rh_json_type_of(user) != RH_JSON_STRING)
    return fail(c->host, RH_ERR_INVALID_ARGUMENT,
                "oauth2: the request is not a JSON object with \"tenantId\" and \"userId\" strings");
  if (rh_json_find(request, "grant", &grant) == RH_OK && rh_json_type_of(grant) == RH_JSON_OBJECT) {
    if (rh_json_find(grant, "expired", &value) == RH_OK) (void)rh_json_bool(value, &expired);
    if (!expired) {
      if ((status = rh_json_write_cstr(out, "{\"state\":\"granted\",\"grant_id\":")) == RH_OK &&
          rh_json_find(grant, "id", &value) == RH_OK && rh_json_type_of(value) == RH_JSON_STRING)
        status = rh_json_write_raw(out, value.data, value.len);
      else if (status == RH_OK)
        status = rh_json_write_cstr(out, "\"\"");
      if (status == RH_OK && rh_json_find(grant, "scopes", &value) == RH_OK &&
          rh_json_type_of(value) == RH_JSON_ARRAY) {
        if ((status = rh_json_write_cstr(out, ",\"scopes\":")) == RH_OK)
          status = rh_json_write_raw(out, value.data, value.len);
      }
      if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
      return status == RH_OK ? RH_OK
                             : fail(c->host, status, "oauth2: could not write the check result");
    }
  }
  state = expired ? "{\"state\":\"expired\",\"connect_url\":" : "{\"state\":\"missing\",\"connect_url\":";
  rh_json_buffer_init(&url);
  status = build_connect_url(c, tenant, user, &url);
  if (status == RH_OK) status = rh_json_write_cstr(out, state);
  if (status == RH_OK) status = rh_json_write_string(out, url.data, url.len);
  if (status == RH_OK) status = rh_json_write_cstr(out, ",\"scopes\":");
  if (status == RH_OK) status = rh_json_write_string_array(out, c->scopes, c->scope_count);
  if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
  rh_json_buffer_free(&url);
  return status == RH_OK ? RH_OK : fail(c->host, status, "oauth2: could not write the check result");
}

/* ---- exchange ------------------------------------------------------------------------------- */

/* Collects the token endpoint's answer, up to OAUTH2_MAX_RESPONSE bytes. */
typedef struct response_sink {
  rh_writer writer;
  rh_json_buffer body;
} response_sink;

static rh_status sink_write(const rh_writer *self, const char *data, size_t len) {
  response_sink *sink = (response_sink *)self->host_data;
  if (len > OAUTH2_MAX_RESPONSE - sink->body.len) return RH_ERR_LIMIT;
  return append(&sink->body, data, len);
}

static rh_status form_body(const rh_connector_instance *c, rh_str code, rh_json_buffer *body) {
  rh_status status = append_cstr(body, "grant_type=authorization_code");
  if (status == RH_OK) status = append_param(body, 0, "code", code.data, code.len);
  if (status == RH_OK)
    status = append_param(body, 0, "client_id", c->client_id, strlen(c->client_id));
  if (status == RH_OK && c->client_secret)
    status = append_param(body, 0, "client_secret", c->client_secret, strlen(c->client_secret));
  if (status == RH_OK && c->redirect_uri)
    status = append_param(body, 0, "redirect_uri", c->redirect_uri, strlen(c->redirect_uri));
  return status;
}

/* The token endpoint refused: its OAuth "error" code (never a token) in the message. */
static rh_status refused(const rh_connector_instance *c, int32_t http_status, rh_str answer) {
  char message[256], code[64] = "";
  rh_str doc, error;
  if (rh_json_parse(answer, &doc) == RH_OK && rh_json_find(doc, "error", &error) == RH_OK)
    (void)rh_json_string(error, code, sizeof code, NULL);
  if (http_status >= 400 && http_status < 500) {
    snprintf(message, sizeof message, "oauth2: the token endpoint refused the code (HTTP %d%s%s)",
             (int)http_status, code[0] ? ", " : "", code);
    return fail(c->host, RH_ERR_INVALID_ARGUMENT, message);
  }
  snprintf(message, sizeof message, "oauth2: the token endpoint failed (HTTP %d%s%s)",
           (int)http_status, code[0] ? ", " : "", code);
  return fail(c->host, RH_ERR_IO, message);
}

/* Writes " \"name\": <value as the endpoint wrote it>" when the answer has `name` of `type`. */
static rh_status copy_member(rh_str doc, const char *name, rh_json_type type, const char *prefix,
                             const rh_writer *out) {
  rh_str value;
  rh_status status;
  if (rh_json_find(doc, name, &value) != RH_OK || rh_json_type_of(value) != type) return RH_OK;
  if ((status = rh_json_write_cstr(out, prefix)) != RH_OK) return status;
  return rh_json_write_raw(out, value.data, value.len);
}

/* The granted scope, space-separated in OAuth, as a JSON array. */
static rh_status write_granted_scopes(rh_str scope, const rh_writer *out) {
  char *text = NULL;
  size_t len = 0, at = 0, end;
  int first = 1;
  rh_status status = rh_json_string_dup(scope, &text, &len);
  if (status == RH_OK) status = rh_json_write_cstr(out, ",\"scopes\":[");
  while (status == RH_OK && at < len) {
    for (end = at; end < len && text[end] != ' '; end++) continue;
    if (end > at) {
      if (!first) status = rh_json_write_raw(out, ",", 1);
      if (status == RH_OK) status = rh_json_write_string(out, text + at, end - at);
      first = 0;
    }
    at = end + 1;
  }
  if (status == RH_OK) status = rh_json_write_raw(out, "]", 1);
  free(text);
  return status;
}

/* {"secret": {"access_token", "token_type"?, "refresh_token"?}, "scopes"?, "expires_in"?} */
static rh_status write_material(const rh_connector_instance *c, rh_str answer, const rh_writer *out) {
  rh_str doc, token, scope;
  rh_status status;
  if (rh_json_parse(answer, &doc) != RH_OK || rh_json_type_of(doc) != RH_JSON_OBJECT ||
      rh_json_find(doc, "access_token", &token) != RH_OK ||
      rh_json_type_of(token) != RH_JSON_STRING || token.len <= 2)
    return fail(c->host, RH_ERR_FAILED,
                "oauth2: the token endpoint's answer is not a JSON object with an access_token");
  status = rh_json_write_cstr(out, "{\"secret\":{\"access_token\":");
  if (status == RH_OK) status = rh_json_write_raw(out, token.data, token.len);
  if (status == RH_OK)
    status = copy_member(doc, "token_type", RH_JSON_STRING, ",\"token_type\":", out);
  if (status == RH_OK)
    status = copy_member(doc, "refresh_token", RH_JSON_STRING, ",\"refresh_token\":", out);
  if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
  if (status == RH_OK)
    status = copy_member(doc, "expires_in", RH_JSON_NUMBER, ",\"expires_in\":", out);
  if (status == RH_OK && rh_json_find(doc, "scope", &scope) == RH_OK &&
      rh_json_type_of(scope) == RH_JSON_STRING)
    status = write_granted_scopes(scope, out);
  if (status == RH_OK) status = rh_json_write_raw(out, "}", 1);
  return status == RH_OK ? RH_OK : fail(c->host, status, "oauth2: could not write the grant");
}

static rh_status oauth2_exchange(rh_connector_instance *c, rh_str code, rh_str request_json,
                                 const rh_writer *out) {
  static const rh_http_header headers[] = {
      {RH_STR_LIT("Content-Type"), RH_STR_LIT("application/x-www-form-urlencoded")},
      {RH_STR_LIT("Accept"), RH_STR_LIT("application/json")}};
  rh_json_buffer body;
  response_sink sink;
  rh_http_request request;
  rh_http_response response;
  rh_status status;
  (void)request_json; /* the configured scopes were asked for at the authorize page */
  if (code.len == 0) return fail(c->host, RH_ERR_INVALID_ARGUMENT, "oauth2: the code is empty");
  rh_json_buffer_init(&body);
  rh_json_buffer_init(&sink.body);
  sink.writer.struct_size = sizeof(rh_writer);
  sink.writer.host_data = &sink;
  sink.writer.write = sink_write;
  if ((status = form_body(c, code, &body)) != RH_OK) {
    rh_json_buffer_free(&body);
    return fail(c->host, status, "oauth2: out of memory");
  }
  memset(&request, 0, sizeof request);
  request.struct_size = sizeof request;
  request.method = (rh_str)RH_STR_LIT("POST");
  request.url = (rh_str){c->token_url, strlen(c->token_url)};
  request.headers = headers;
  request.header_count = sizeof headers / sizeof headers[0];
  request.body = (rh_str){body.data, body.len};
  request.timeout_ms = OAUTH2_TIMEOUT_MS;
  memset(&response, 0, sizeof response);
  response.struct_size = sizeof response;
  response.body = &sink.writer;
  status = c->host->http_request(c->host, &request, &response);
  rh_json_buffer_free(&body);
  if (status != RH_OK) {
    char message[512];
    rh_str detail = c->host->last_error(c->host);
    snprintf(message, sizeof message, "oauth2: the token endpoint could not be asked: %.*s",
             (int)(detail.len > 400 ? 400 : detail.len), detail.data ? detail.data : "");
    rh_json_buffer_free(&sink.body);
    return fail(c->host, status == RH_ERR_INVALID_ARGUMENT ? RH_ERR_FAILED : status, message);
  }
  if (response.status < 200 || response.status >= 300)
    status = refused(c, response.status, (rh_str){sink.body.data, sink.body.len});
  else
    status = write_material(c, (rh_str){sink.body.data, sink.body.len}, out);
  rh_json_buffer_free(&sink.body);
  return status;
}

/* ---- materialize ---------------------------------------------------------------------------- */

static rh_status oauth2_materialize(rh_connector_instance *c, rh_str grant_json,
                                    const rh_writer *out) {
  rh_str request, token;
  rh_status status;
  if (rh_json_parse(grant_json, &request) != RH_OK ||
      rh_json_find_path(request, "grant.secret.access_token", &token) != RH_OK ||
      rh_json_type_of(token) != RH_JSON_STRING)
    return fail(c->host, RH_ERR_NOT_FOUND,
                "oauth2: the request carries no grant with an access_token");
  if ((status = rh_json_write_cstr(out, "{\"env\":{")) ||
      (status = rh_json_write_string(out, c->env_name, strlen(c->env_name))) ||
      (status = rh_json_write_cstr(out, ":{\"value\":")) ||
      (status = rh_json_write_raw(out, token.data, token.len)) ||
      (status = rh_json_write_cstr(out, ",\"secret\":true}},\"mcp_servers\":{}}")))
    return fail(c->host, status, "oauth2: could not write the materialised grant");
  return RH_OK;
}

/* ---- entry ---------------------------------------------------------------------------------- */

static rh_status oauth2_init(const rh_host *host, const char *library_path) {
  (void)host;
  (void)library_path;
  return RH_OK;
}

static void oauth2_deinit(void) {}

static const rh_connector_plugin k_connector = {
    .struct_size = sizeof(rh_connector_plugin),
    .create = oauth2_create,
    .describe = oauth2_describe,
    .check = oauth2_check,
    .materialize = oauth2_materialize,
    .invoke = NULL /* nothing to invoke */,
    .destroy = oauth2_destroy,
    .exchange = oauth2_exchange,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_CONNECTOR,
    .id = "oauth2",
    .name = "OAuth 2.0 (authorization code)",
    .version = OAUTH2_VERSION,
    .vendor = "runhost",
    .description = "Grants from an OAuth 2.0 provider: a connect URL, the code exchanged for a "
                   "token at the token endpoint, the token in the run's environment.",
    .iface = {.connector = &k_connector},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = oauth2_init,
    .deinit = oauth2_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
