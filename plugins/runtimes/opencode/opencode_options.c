/* opencode_options.c — the operator's config and the policy's constraints, as `opencode run`
 * flags and environment.
 *
 * opencode has no command-line flags for tools or limits; its own configuration has them, and it
 * reads two environment variables over every config file it finds:
 *
 *   OPENCODE_PERMISSION      JSON merged last into the config's "permission" (every agent, the
 *                            sub-agents too): the policy's tools, read_only and network rules
 *   OPENCODE_CONFIG_CONTENT  an inline config, over the global and project files: the operator's
 *                            "config" and, for max_turns, the running agent's "steps"
 *
 * What opencode cannot enforce (a spending cap) fails create() with the reason, so a run never
 * starts with less protection than the policy asked for. docs/runtimes/opencode.md has the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencode.h"

#define OPT (&s->options)

static char *dup_text(const char *data, size_t len) {
  char *copy = (char *)malloc(len + 1);
  if (!copy) return NULL;
  if (len) memcpy(copy, data, len);
  copy[len] = '\0';
  return copy;
}

static char *dup_string_value(rh_str value) {
  char *text = NULL;
  size_t len;
  if (rh_json_type_of(value) != RH_JSON_STRING || rh_json_string_dup(value, &text, &len) != RH_OK) return NULL;
  if (strlen(text) != len) { /* U+0000 inside */
    free(text);
    return NULL;
  }
  return text;
}

/* Printable ASCII without spaces, at most 256 bytes, not an option: a model, an agent, a word. */
static bool printable_word(const char *text) {
  const char *p;
  if (!*text || *text == '-' || strlen(text) > 256) return false;
  for (p = text; *p; p++)
    if (*p <= ' ' || *p > '~') return false;
  return true;
}

static rh_status read_word(rh_runtime_session *s, const char *key, char **out, const char *what) {
  rh_str v;
  char message[200];
  if (rhk_config_find(&s->kit, key, &v) != RH_OK) return RH_OK;
  if ((*out = dup_string_value(v)) != NULL && printable_word(*out)) return RH_OK;
  snprintf(message, sizeof message, "config \"%s\" must be %s", key, what);
  return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
}

static bool env_configured(const rh_runtime_session *s, const char *name) {
  size_t i;
  for (i = 0; i < s->kit.config.env_names.count; i++)
    if (strcmp(s->kit.config.env_names.items[i], name) == 0) return true;
  return false;
}

/* ---- Permission mode ----------------------------------------------------------------------- */

/* "auto" (the default): --auto, every permission no rule denies is approved; runhost's own
 * policies judge each call the run reports (approvalPolicy "auto": opencode run cannot ask, so it
 * takes no other). "default": what the rules say, and a permission that would be asked for is
 * rejected (opencode run has nobody to ask). */
static rh_status read_permission_mode(rh_runtime_session *s) {
  const char *word = s->kit.constraints.permission_mode;
  char *configured = NULL;
  rh_status status = RH_OK;
  if (!word) {
    if ((status = read_word(s, "permission_mode", &configured, "\"default\" or \"auto\"")) != RH_OK) goto done;
    word = configured;
  }
  if (!word || strcmp(word, "auto") == 0) OPT->auto_approve = true;
  else if (strcmp(word, "default") != 0)
    status = rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                      configured ? "config \"permission_mode\" must be \"default\" or \"auto\" for opencode"
                                 : "constraint \"permission_mode\" must be \"default\" or \"auto\" for opencode");
done:
  free(configured);
  return status;
}

/* ---- Policy constraints -> OPENCODE_PERMISSION ---------------------------------------------- */

/* The permissions opencode 1.18 knows by name (its config schema); "*" covers the rest. */
static const char *const k_permissions[] = {"read",     "edit",  "glob",     "grep",      "list",
                                            "bash",     "task",  "external_directory", "todowrite",
                                            "question", "webfetch", "websearch", "lsp", "doom_loop", "skill"};
#define PERMISSION_COUNT (sizeof k_permissions / sizeof k_permissions[0])

/* The permission a tool asks for: the file tools all ask for "edit". */
static const char *permission_of(const char *tool) {
  static const char *const file_tools[] = {"write", "apply_patch", "patch", "multiedit"};
  size_t i;
  for (i = 0; i < sizeof file_tools / sizeof file_tools[0]; i++)
    if (strcmp(tool, file_tools[i]) == 0) return "edit";
  return tool;
}

static bool listed(const rhk_strings *list, const char *permission) {
  size_t i;
  for (i = 0; i < list->count; i++)
    if (strcmp(permission_of(list->items[i]), permission) == 0) return true;
  return false;
}

static rh_status check_names(rh_runtime_session *s, const rhk_strings *list, const char *what) {
  char message[160];
  size_t i;
  const char *p;
  for (i = 0; i < list->count; i++) {
    bool bad = list->items[i][0] == '\0';
    for (p = list->items[i]; *p && !bad; p++) bad = (unsigned char)*p < ' ';
    if (bad) {
      snprintf(message, sizeof message, "constraint \"%s\" holds an empty tool name or one with control characters", what);
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
    }
  }
  return RH_OK;
}

/* Whether the constraints deny a permission outright. */
static bool denied(const rhk_constraints *c, const char *permission) {
  if (listed(&c->deny, permission)) return true;
  if (c->read_only && (strcmp(permission, "edit") == 0 || strcmp(permission, "bash") == 0)) return true;
  return c->network != RHK_NETWORK_ANY && (strcmp(permission, "webfetch") == 0 || strcmp(permission, "websearch") == 0);
}

typedef struct rules {
  rh_json_buffer b;
  const char **names; /* written so far: opencode keeps one rule per name */
  size_t count;
} rules;

static rh_status add_rule(rules *r, const char *name, const char *action) {
  size_t i;
  for (i = 0; i < r->count; i++)
    if (strcmp(r->names[i], name) == 0) return RH_OK;
  r->names[r->count] = name;
  return rhk_write_string_member(&r->b.writer, r->count++ == 0, name, action, strlen(action));
}

/* opencode weighs the rules in the order their names first appear, the last match winning: the
 * allow list's catch-all deny comes first, then what it allows, then the denies. A name the
 * constraints deny is never allowed. */
static rh_status build_permission(rh_runtime_session *s) {
  const rhk_constraints *c = &s->kit.constraints;
  static const char *const writers[] = {"edit", "bash"}, *const fetchers[] = {"webfetch", "websearch"};
  rules r;
  size_t i;
  rh_status status = RH_OK;
  if (!c->has_allow && c->deny.count == 0 && !c->read_only && c->network == RHK_NETWORK_ANY) return RH_OK;
  if (env_configured(s, "OPENCODE_PERMISSION"))
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                    "config env \"OPENCODE_PERMISSION\" cannot be set when the policy constrains tools: the adapter "
                    "passes the policy's rules there (put permissions in the opencode config instead)");
  r.count = 0;
  if (!(r.names = (const char **)malloc((PERMISSION_COUNT + c->allow.count + c->deny.count + 8) * sizeof *r.names)))
    return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  rh_json_buffer_init(&r.b);
  status = rh_json_write_raw(&r.b.writer, "{", 1);
  if (c->has_allow) {
    /* Only these: everything else, named or not, is denied; the allowed ones are approved (as
     * claude-code's --allowedTools approves them). */
    if (status == RH_OK && !listed(&c->allow, "*")) status = add_rule(&r, "*", "deny");
    for (i = 0; i < PERMISSION_COUNT && status == RH_OK; i++)
      if (!listed(&c->allow, k_permissions[i]) || denied(c, k_permissions[i])) status = add_rule(&r, k_permissions[i], "deny");
    for (i = 0; i < c->allow.count && status == RH_OK; i++)
      if (!denied(c, permission_of(c->allow.items[i]))) status = add_rule(&r, permission_of(c->allow.items[i]), "allow");
  }
  for (i = 0; i < c->deny.count && status == RH_OK; i++) status = add_rule(&r, permission_of(c->deny.items[i]), "deny");
  for (i = 0; c->read_only && i < 2 && status == RH_OK; i++) status = add_rule(&r, writers[i], "deny");
  for (i = 0; c->network != RHK_NETWORK_ANY && i < 2 && status == RH_OK; i++) status = add_rule(&r, fetchers[i], "deny");
  if (status == RH_OK) status = rh_json_write_raw(&r.b.writer, "}", 1);
  if (status == RH_OK && !(OPT->permission = dup_text(r.b.data, r.b.len))) status = RH_ERR_NO_MEMORY;
  rh_json_buffer_free(&r.b);
  free(r.names);
  return status == RH_OK ? RH_OK : rhk_fail(&s->kit, status, "out of memory building the permission rules");
}

/* ---- Inline config and the turn limit -> OPENCODE_CONFIG_CONTENT ---------------------------- */

/* Copies the members of `object` but `skip` (and `skip2`) into `w`. */
static rh_status copy_members(const rh_writer *w, rh_str object, const char *skip, const char *skip2, bool *first,
                              rh_str *skipped) {
  rhk_json_iter it;
  rh_str key, value;
  rh_status status = RH_OK;
  if (rh_json_type_of(object) != RH_JSON_OBJECT || !rhk_json_begin(&it, object)) return RH_OK;
  while (status == RH_OK && rhk_json_next(&it, &key, &value)) {
    if ((skip && rhk_json_is(key, skip)) || (skip2 && rhk_json_is(key, skip2))) {
      if (skipped) *skipped = value;
      continue;
    }
    if (!*first) status = rh_json_write_raw(w, ",", 1);
    if (status == RH_OK) status = rh_json_write_raw(w, key.data, key.len);
    if (status == RH_OK) status = rh_json_write_raw(w, ":", 1);
    if (status == RH_OK) status = rh_json_write_raw(w, value.data, value.len);
    *first = false;
  }
  return status;
}

/* The operator's inline config, with the running agent's "steps" set for max_turns: opencode tells
 * the model to stop using tools and answer from that step on, so the limit is max_turns + 1 steps
 * and a run that needed more than max_turns is the one that hit it (opencode_ending.c). */
static rh_status build_config_content(rh_runtime_session *s, rh_str inline_config) {
  const char *agent = OPT->agent ? OPT->agent : "build";
  rh_json_buffer b;
  const rh_writer *w = &b.writer;
  rh_str agents = rhk_none(), mine = rhk_none();
  bool first = true, inner = true;
  rh_status status;
  if (!inline_config.data && OPT->max_turns < 0) return RH_OK;
  if (env_configured(s, "OPENCODE_CONFIG_CONTENT"))
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                    OPT->max_turns > 0 ? "config env \"OPENCODE_CONFIG_CONTENT\" cannot be set with a max_turns limit: "
                                         "the adapter sets the agent's steps there (use config \"config\")"
                                       : "config env \"OPENCODE_CONFIG_CONTENT\" and config \"config\" are the same "
                                         "setting: give one");
  rh_json_buffer_init(&b);
  status = rh_json_write_raw(w, "{", 1);
  if (status == RH_OK) status = copy_members(w, inline_config, OPT->max_turns > 0 ? "agent" : NULL, NULL, &first, &agents);
  if (status == RH_OK && OPT->max_turns > 0) {
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)OPT->max_turns + 1);
    status = rhk_write_key(w, first, "agent");
    if (status == RH_OK) status = rh_json_write_raw(w, "{", 1);
    if (status == RH_OK) status = copy_members(w, agents, agent, NULL, &inner, &mine);
    if (status == RH_OK) status = rhk_write_key(w, inner, agent);
    inner = true;
    if (status == RH_OK) status = rh_json_write_raw(w, "{", 1);
    if (status == RH_OK) status = copy_members(w, mine, "steps", "maxSteps", &inner, NULL);
    if (status == RH_OK) status = rhk_write_key(w, inner, "steps");
    if (status == RH_OK) status = rh_json_write_cstr(w, steps);
    if (status == RH_OK) status = rh_json_write_cstr(w, "}}");
  }
  if (status == RH_OK) status = rh_json_write_raw(w, "}", 1);
  if (status == RH_OK && !(OPT->config_content = dup_text(b.data, b.len))) status = RH_ERR_NO_MEMORY;
  rh_json_buffer_free(&b);
  return status == RH_OK ? RH_OK : rhk_fail(&s->kit, status, "out of memory building the inline config");
}

/* ---- Reading ------------------------------------------------------------------------------- */

static rh_status read_limits(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  rh_str v;
  int64_t turns;
  OPT->max_turns = kit->constraints.max_turns;
  if (rhk_config_find(kit, "max_turns", &v) == RH_OK) {
    if ((turns = rhk_json_int(v, -1)) < 1)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"max_turns\" must be an integer >= 1");
    if (OPT->max_turns < 0 || turns < OPT->max_turns) OPT->max_turns = turns; /* the tighter limit wins */
  }
  if (OPT->max_turns > 1000000) OPT->max_turns = 1000000;
  /* A limit opencode has no setting for: refused rather than ignored. */
  if (rhk_config_find(kit, "max_budget_usd", &v) == RH_OK || kit->constraints.max_budget_usd > 0)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "opencode has no spending limit: \"max_budget_usd\" cannot be enforced");
  return RH_OK;
}

static rh_status read_config_file(rh_runtime_session *s) {
  rh_str v;
  if (rhk_config_find(&s->kit, "config_file", &v) != RH_OK) return RH_OK;
  if (!(OPT->config_file = dup_string_value(v)) || !OPT->config_file[0])
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, "config \"config_file\" must be a path");
  if (env_configured(s, "OPENCODE_CONFIG"))
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                    "config env \"OPENCODE_CONFIG\" and config \"config_file\" are the same setting: give one");
  return RH_OK;
}

/* The usage source: "usage_source", else the provider of "model" ("anthropic/claude-x" ->
 * "anthropic"), else "opencode". */
static rh_status read_usage_source(rh_runtime_session *s) {
  const char *slash;
  rh_status status = read_word(s, "usage_source", &OPT->usage_source, "a word (the provider usage is charged to)");
  if (status != RH_OK || OPT->usage_source) return status;
  slash = OPT->model ? strchr(OPT->model, '/') : NULL;
  OPT->usage_source = slash ? dup_text(OPT->model, (size_t)(slash - OPT->model)) : dup_text("opencode", 8);
  return OPT->usage_source ? RH_OK : rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
}

rh_status opencode_read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  rh_str v, inline_config = rhk_none();
  rh_status status;
  OPT->thinking = true;
  if ((status = read_word(s, "model", &OPT->model, "\"provider/model\"")) != RH_OK) return status;
  if (OPT->model && (!strchr(OPT->model, '/') || OPT->model[0] == '/'))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"model\" must be \"provider/model\"");
  if ((status = read_word(s, "agent", &OPT->agent, "an agent name")) != RH_OK ||
      (status = read_word(s, "variant", &OPT->variant, "a model variant (high, max, minimal...)")) != RH_OK ||
      (status = read_usage_source(s)) != RH_OK || (status = read_permission_mode(s)) != RH_OK ||
      (status = read_limits(s)) != RH_OK || (status = read_config_file(s)) != RH_OK)
    return status;
  if (rhk_config_find(kit, "thinking", &v) == RH_OK && rh_json_bool(v, &OPT->thinking) != RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"thinking\" must be true or false");
  if (rhk_config_find(kit, "config", &v) == RH_OK) {
    if (rh_json_type_of(v) != RH_JSON_OBJECT)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"config\" must be an object (an opencode config)");
    inline_config = v;
  }
  if ((status = check_names(s, &kit->constraints.allow, "tools.allow")) != RH_OK ||
      (status = check_names(s, &kit->constraints.deny, "tools.deny")) != RH_OK ||
      (status = build_permission(s)) != RH_OK || (status = build_config_content(s, inline_config)) != RH_OK)
    return status;
  return RH_OK;
}

void opencode_free_options(opencode_options *o) {
  free(o->model);
  free(o->agent);
  free(o->variant);
  free(o->usage_source);
  free(o->config_file);
  free(o->config_content);
  free(o->permission);
  memset(o, 0, sizeof *o);
}

/* ---- Flags and environment ----------------------------------------------------------------- */

rh_status opencode_add_option_flags(rh_runtime_session *s, rhk_argv *argv) {
  rhk_session *kit = &s->kit;
  const char *agent = OPT->agent ? OPT->agent : OPT->max_turns > 0 ? "build" : NULL;
  rh_status status = RH_OK;
  if (OPT->thinking) status = rhk_argv_addz(kit, argv, "--thinking");
  if (status == RH_OK && OPT->model) status = rhk_argv_add_joined(kit, argv, "--model=", OPT->model, strlen(OPT->model));
  /* With a turn limit the agent is always named: the limit is set on it, whatever default the
   * opencode config names. */
  if (status == RH_OK && agent) status = rhk_argv_add_joined(kit, argv, "--agent=", agent, strlen(agent));
  if (status == RH_OK && OPT->variant)
    status = rhk_argv_add_joined(kit, argv, "--variant=", OPT->variant, strlen(OPT->variant));
  if (status == RH_OK && OPT->auto_approve) status = rhk_argv_addz(kit, argv, "--auto");
  return status;
}

size_t opencode_option_env(const rh_runtime_session *s, const char **pairs) {
  size_t n = 0;
  pairs[2 * n] = "OPENCODE_DISABLE_AUTOUPDATE"; /* a headless run never updates the CLI under itself */
  pairs[2 * n++ + 1] = "1";
  if (OPT->config_file) {
    pairs[2 * n] = "OPENCODE_CONFIG";
    pairs[2 * n++ + 1] = OPT->config_file;
  }
  if (OPT->config_content) {
    pairs[2 * n] = "OPENCODE_CONFIG_CONTENT";
    pairs[2 * n++ + 1] = OPT->config_content;
  }
  if (OPT->permission) {
    pairs[2 * n] = "OPENCODE_PERMISSION";
    pairs[2 * n++ + 1] = OPT->permission;
  }
  return n;
}
