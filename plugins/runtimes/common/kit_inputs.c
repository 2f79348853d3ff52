/* kit_inputs.c — what a session learns at create(): the dispatch's prompt and cwd, the resume id,
 * the operator's config and the policy constraints. Everything is checked here, once, and a bad
 * field fails create() with a message naming it; the constraints fail closed (a constraint the
 * adapter cannot read is not silently dropped).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_kit.h"

rh_status rhk_fail(const rhk_session *s, rh_status status, const char *message) {
  char text[512];
  int n = snprintf(text, sizeof text, "%s: %s", s->info ? s->info->id : "adapter", message);
  rh_str detail = rhk_str(text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
  s->host->set_error(s->host, detail);
  return status;
}

static rh_status out_of_memory(const rhk_session *s) {
  return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory reading the session's inputs");
}

static char *dup_text(const char *data, size_t len) {
  char *copy = (char *)malloc(len + 1);
  if (!copy) return NULL;
  if (len > 0) memcpy(copy, data, len);
  copy[len] = '\0';
  return copy;
}

static void free_strings(rhk_strings *list) {
  rh_json_string_array_free(list->items, list->count);
  list->items = NULL;
  list->count = 0;
}

/* A JSON string value into a fresh C string; U+0000 inside is refused (NULL, *bad set). */
static char *string_value(rh_str value, bool *bad) {
  char *text = NULL;
  size_t len = 0;
  *bad = false;
  if (rh_json_type_of(value) != RH_JSON_STRING) {
    *bad = true;
    return NULL;
  }
  if (rh_json_string_dup(value, &text, &len) != RH_OK) return NULL;
  if (strlen(text) != len) {
    free(text);
    *bad = true;
    return NULL;
  }
  return text;
}

static rh_status read_strings(const rhk_session *s, rh_str value, rhk_strings *out, const char *what) {
  char message[160];
  rh_status status = rh_json_string_array_dup(value, &out->items, &out->count);
  if (status == RH_ERR_NO_MEMORY) return out_of_memory(s);
  if (status == RH_OK) return RH_OK;
  snprintf(message, sizeof message, "%s must be an array of strings (without U+0000)", what);
  return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, message);
}

static rh_status add_string(rhk_strings *list, const char *text) {
  char **grown = (char **)realloc(list->items, (list->count + 2) * sizeof *grown);
  if (!grown) return RH_ERR_NO_MEMORY;
  list->items = grown;
  if (!(grown[list->count] = dup_text(text, strlen(text)))) return RH_ERR_NO_MEMORY;
  grown[++list->count] = NULL;
  return RH_OK;
}

/* ---- Dispatch ------------------------------------------------------------------------------ */

static rh_status read_dispatch(rhk_session *s, rh_str text) {
  static const char *const names[] = {"prompt", "cwd", "deviceType"};
  rh_str doc, v[3];
  bool bad;
  if (!rhk_json_parse(text, &doc) || rhk_json_pick(doc, names, 3, v) != RH_OK)
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the dispatch is not a JSON object");
  if (v[0].data && rh_json_type_of(v[0]) != RH_JSON_NULL) {
    if (rh_json_type_of(v[0]) != RH_JSON_STRING)
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the dispatch's \"prompt\" must be a string");
    if (rh_json_string_dup(v[0], &s->prompt, &s->prompt_len) != RH_OK) return out_of_memory(s);
  } else if (!(s->prompt = dup_text("", 0))) {
    return out_of_memory(s);
  }
  if (v[1].data && rh_json_type_of(v[1]) != RH_JSON_NULL) {
    if (!(s->cwd = string_value(v[1], &bad)))
      return bad ? rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the dispatch's \"cwd\" must be a string")
                 : out_of_memory(s);
  }
  /* The device the runtime runs on: only on "local" is the run's directory this process's too. */
  s->local_device = !v[2].data || rhk_json_is(v[2], "local");
  return RH_OK;
}

/* ---- Config -------------------------------------------------------------------------------- */

static bool env_name_ok(const char *name) {
  const char *p;
  if (!(isalpha((unsigned char)name[0]) || name[0] == '_')) return false;
  for (p = name; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_')) return false;
  return true;
}

/* A plain string value is secret when its name says so; {"value", "secret"} says it itself. */
static bool name_looks_secret(const char *name) {
  static const char *const words[] = {"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"};
  char upper[256];
  size_t i;
  for (i = 0; name[i] && i + 1 < sizeof upper; i++) upper[i] = (char)toupper((unsigned char)name[i]);
  upper[i] = '\0';
  for (i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(upper, words[i])) return true;
  return false;
}

/* Remembers a secret value the way a payload would hold it (JSON-escaped), to scrub it there. */
static rh_status add_secret(rhk_session *s, const char *value) {
  rh_json_buffer escaped;
  if (strlen(value) < 4 || s->secret_count == RHK_MAX_SECRETS) return RH_OK; /* too short to find safely */
  rh_json_buffer_init(&escaped);
  if (rh_json_write_escaped(&escaped.writer, value, strlen(value)) != RH_OK ||
      rh_json_write_raw(&escaped.writer, "", 1) != RH_OK) {
    rh_json_buffer_free(&escaped);
    return RH_ERR_NO_MEMORY;
  }
  s->secrets[s->secret_count++] = escaped.data; /* NUL-terminated above */
  return RH_OK;
}

static rh_status read_env(rhk_session *s, rh_str env) {
  rhk_json_iter it;
  rh_str key, value, inner[2];
  static const char *const names[] = {"value", "secret"};
  char name[200], message[400];
  char *text;
  bool bad, secret;
  if (rh_json_type_of(env) != RH_JSON_OBJECT || !rhk_json_begin(&it, env))
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"env\" must be an object of strings");
  while (rhk_json_next(&it, &key, &value)) {
    if (rh_json_string(key, name, sizeof name, NULL) != RH_OK || !env_name_ok(name)) {
      snprintf(message, sizeof message, "config \"env\" has a name that is not a valid environment variable name");
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, message);
    }
    secret = name_looks_secret(name);
    if (rh_json_type_of(value) == RH_JSON_OBJECT) {
      if (rhk_json_pick(value, names, 2, inner) != RH_OK) return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"env\" is malformed");
      if (inner[1].data && rh_json_bool(inner[1], &secret) != RH_OK) {
        snprintf(message, sizeof message, "config env \"%s\": \"secret\" must be true or false", name);
        return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, message);
      }
      value = inner[0];
    }
    /* The message names the variable, never its value. */
    if (!(text = string_value(value, &bad))) {
      if (!bad) return out_of_memory(s);
      snprintf(message, sizeof message,
               "config env \"%s\" must be a string (or {\"value\": string, \"secret\": bool}) without U+0000", name);
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, message);
    }
    if (add_string(&s->config.env_names, name) != RH_OK || add_string(&s->config.env_values, text) != RH_OK ||
        (secret && add_secret(s, text) != RH_OK)) {
      free(text);
      return out_of_memory(s);
    }
    free(text);
  }
  return it.ok ? RH_OK : rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"env\" is malformed");
}

static rh_status read_config(rhk_session *s, rh_str text) {
  static const char *const names[] = {"executable", "args", "env", "max_line_bytes"};
  rh_str doc, v[4];
  bool bad;
  int64_t limit;
  rh_status status;
  if (text.len == 0) text = rhk_cstr("{}");
  if (!rhk_json_parse(text, &doc) || rhk_json_pick(doc, names, 4, v) != RH_OK)
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the plugin config is not a JSON object");
  if (!(s->config.text = dup_text(doc.data, doc.len))) return out_of_memory(s);
  s->config.text_len = doc.len;
  if (v[0].data) {
    if (!(s->config.executable = string_value(v[0], &bad)))
      return bad ? rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"executable\" must be a string")
                 : out_of_memory(s);
    if (!s->config.executable[0])
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"executable\" must not be empty");
  }
  if (v[1].data && (status = read_strings(s, v[1], &s->config.args, "config \"args\"")) != RH_OK) return status;
  if (v[2].data && (status = read_env(s, v[2])) != RH_OK) return status;
  s->config.line_limit = s->info->line_limit ? s->info->line_limit : RHK_DEFAULT_LINE_LIMIT;
  if (v[3].data) {
    limit = rhk_json_int(v[3], -1);
    if (limit < 4096 || (uint64_t)limit > RHK_MAX_LINE_LIMIT)
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "config \"max_line_bytes\" must be an integer from 4096 to 268435456");
    s->config.line_limit = (size_t)limit;
  }
  return RH_OK;
}

rh_status rhk_config_find(const rhk_session *s, const char *path, rh_str *value) {
  return rh_json_find_path(rhk_str(s->config.text, s->config.text_len), path, value);
}

/* ---- Constraints --------------------------------------------------------------------------- */

static bool word_ok(const char *text) {
  const char *p;
  if (!*text || strlen(text) > 64) return false;
  for (p = text; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-')) return false;
  return true;
}

static rh_status read_constraints(rhk_session *s, rh_str text) {
  static const char *const names[] = {"tools", "read_only", "network", "max_turns", "max_budget_usd",
                                      "permission_mode"};
  static const char *const tool_names[] = {"allow", "deny"};
  rh_str doc, v[6], tools[2];
  bool bad;
  rh_status status;
  s->constraints.max_turns = -1;
  s->constraints.max_budget_usd = -1;
  if (text.len == 0) text = rhk_cstr("{}");
  if (!rhk_json_parse(text, &doc) || rhk_json_pick(doc, names, 6, v) != RH_OK)
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the launch constraints are not a JSON object");
  if (!(s->constraints.text = dup_text(doc.data, doc.len))) return out_of_memory(s);
  s->constraints.text_len = doc.len;
  if (v[0].data) {
    if (rhk_json_pick(v[0], tool_names, 2, tools) != RH_OK)
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"tools\" must be an object {allow, deny}");
    if (tools[0].data) {
      s->constraints.has_allow = true;
      if ((status = read_strings(s, tools[0], &s->constraints.allow, "constraint \"tools.allow\"")) != RH_OK)
        return status;
    }
    if (tools[1].data &&
        (status = read_strings(s, tools[1], &s->constraints.deny, "constraint \"tools.deny\"")) != RH_OK)
      return status;
  }
  if (v[1].data && rh_json_bool(v[1], &s->constraints.read_only) != RH_OK)
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"read_only\" must be true or false");
  if (v[2].data) {
    if (rhk_json_is(v[2], "none")) s->constraints.network = RHK_NETWORK_NONE;
    else if (rhk_json_is(v[2], "loopback")) s->constraints.network = RHK_NETWORK_LOOPBACK;
    else if (rhk_json_is(v[2], "any")) s->constraints.network = RHK_NETWORK_ANY;
    else return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"network\" must be \"none\", \"loopback\" or \"any\"");
  }
  if (v[3].data && (s->constraints.max_turns = rhk_json_int(v[3], -1)) < 1)
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"max_turns\" must be an integer >= 1");
  if (v[4].data && !((s->constraints.max_budget_usd = rhk_json_number(v[4], -1)) > 0))
    return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"max_budget_usd\" must be a number > 0");
  if (v[5].data) {
    if (!(s->constraints.permission_mode = string_value(v[5], &bad)) && !bad) return out_of_memory(s);
    if (bad || !word_ok(s->constraints.permission_mode))
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "constraint \"permission_mode\" must be one word");
  }
  return RH_OK;
}

rh_status rhk_constraint_find(const rhk_session *s, const char *path, rh_str *value) {
  return rh_json_find_path(rhk_str(s->constraints.text, s->constraints.text_len), path, value);
}

/* ---- The session --------------------------------------------------------------------------- */

#define CTX_HAS(ctx, field) \
  ((ctx)->struct_size >= offsetof(rh_runtime_context, field) + sizeof((ctx)->field))

rh_status rhk_session_init(rhk_session *s, const rhk_runtime_info *info, const rh_runtime_context *ctx) {
  rh_status status;
  rh_str constraints = rhk_none(), config = rhk_none(), resume = rhk_none();
  s->host = ctx->host;
  s->run = ctx->run;
  s->info = info;
  s->outcome_duration_ms = -1;
  rh_json_buffer_init(&s->payload);
  rh_json_buffer_init(&s->scratch);
  rh_json_buffer_init(&s->outcome_message);
  rh_json_buffer_init(&s->outcome_extra);
  rh_json_buffer_init(&s->outcome_line);
  rh_lines_init(&s->out, info->line_limit ? info->line_limit : RHK_DEFAULT_LINE_LIMIT);
  rh_lines_init(&s->err, RHK_STDERR_LINE_LIMIT);
  if (!CTX_HAS(ctx, dispatch_json)) return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the runtime context is too short");
  if (CTX_HAS(ctx, constraints_json)) constraints = ctx->constraints_json;
  if (CTX_HAS(ctx, config_json)) config = ctx->config_json;
  if (CTX_HAS(ctx, resume_id)) resume = ctx->resume_id;
  if ((status = read_dispatch(s, ctx->dispatch_json)) != RH_OK ||
      (status = read_config(s, config)) != RH_OK || (status = read_constraints(s, constraints)) != RH_OK)
    return status;
  s->out.limit = s->config.line_limit;
  if (resume.len > 0) {
    if (resume.len > 512 || memchr(resume.data, '\0', resume.len))
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the resume id must be at most 512 bytes, without U+0000");
    if (!(s->resume_id = dup_text(resume.data, resume.len))) return out_of_memory(s);
  }
  /* The host's absolute working directory (ABI 1.1); from an older host, the dispatch's cwd
   * when it is absolute (a relative one is relative to a workspace root we do not know). */
  if (CTX_HAS(ctx, cwd) && ctx->cwd.len > 0 && ctx->cwd.data[0] == '/') {
    if ((status = rhk_set_work_dir(s, ctx->cwd)) != RH_OK) return status;
  } else if (s->cwd && s->cwd[0] == '/' && (status = rhk_set_work_dir(s, rhk_cstr(s->cwd))) != RH_OK) {
    return status;
  }
  /* The connectors' MCP servers (ABI 1.2): kept as the JSON object it is, when it has any. */
  if (CTX_HAS(ctx, mcp_servers_json) && ctx->mcp_servers_json.len > 2) {
    rh_str object, key, value;
    rhk_json_iter it;
    if (!rhk_json_parse(ctx->mcp_servers_json, &object) || object.len < 2 || object.data[0] != '{' ||
        !rhk_json_begin(&it, object))
      return rhk_fail(s, RH_ERR_INVALID_ARGUMENT, "the context's mcp_servers_json is not a JSON object");
    if (rhk_json_next(&it, &key, &value) && !(s->mcp_servers = dup_text(object.data, object.len)))
      return out_of_memory(s);
  }
  return RH_OK;
}

void rhk_session_free(rhk_session *s) {
  size_t i;
  free(s->prompt);
  free(s->cwd);
  free(s->resume_id);
  free(s->mcp_servers);
  free(s->config.executable);
  free_strings(&s->config.args);
  free_strings(&s->config.env_names);
  free_strings(&s->config.env_values);
  free(s->config.text);
  free_strings(&s->constraints.allow);
  free_strings(&s->constraints.deny);
  free(s->constraints.permission_mode);
  free(s->constraints.text);
  rh_lines_free(&s->out);
  rh_lines_free(&s->err);
  rh_json_buffer_free(&s->payload);
  rh_json_buffer_free(&s->scratch);
  rh_json_buffer_free(&s->outcome_message);
  rh_json_buffer_free(&s->outcome_extra);
  rh_json_buffer_free(&s->outcome_line);
  free(s->work_dir);
  free(s->last_stderr);
  free(s->session_id);
  for (i = 0; i < s->tools.cap; i++) {
    free(s->tools.slots[i].native_id);
    free(s->tools.slots[i].call_id);
    free(s->tools.slots[i].name);
    free(s->tools.slots[i].path);
  }
  free(s->tools.slots);
  for (i = 0; i < s->secret_count; i++) free(s->secrets[i]);
}

void rhk_set_extra(rhk_session *s, rh_str members) { s->extra = members; }

rh_status rhk_set_session_id(rhk_session *s, rh_str id, bool replace) {
  char *copy;
  if (id.len == 0 && replace) { /* forget it */
    free(s->session_id);
    s->session_id = NULL;
    return RH_OK;
  }
  if (id.len == 0 || (s->session_id && !replace)) return RH_OK;
  if (!(copy = dup_text(id.data, id.len))) return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory keeping the session id");
  free(s->session_id);
  s->session_id = copy;
  return RH_OK;
}

rh_status rhk_set_work_dir(rhk_session *s, rh_str dir) {
  char *copy;
  while (dir.len > 1 && dir.data[dir.len - 1] == '/') dir.len--; /* "/a/b/" is "/a/b" */
  if (dir.len == 0 || dir.data[0] != '/') return RH_OK;        /* only absolute directories help */
  if (!(copy = dup_text(dir.data, dir.len))) return rhk_fail(s, RH_ERR_NO_MEMORY, "out of memory keeping the work dir");
  free(s->work_dir);
  s->work_dir = copy;
  return RH_OK;
}
