/* codex_options.c — the operator's config and the policy's constraints, as `codex exec` flags.
 *
 * Codex's boundary is its sandbox (`exec` never asks for approval): read-only, workspace-write
 * or danger-full-access. Every constraint narrows it or turns a tool off; none is dropped. What
 * codex cannot enforce (a turn limit, a spending cap, a tool it cannot turn off) fails create()
 * with the reason, so the run never starts with less protection than the policy asked for.
 *
 *   sandbox     the tightest of: config "sandbox" (default workspace-write), the constraint
 *               "permission_mode" (a sandbox word), read_only (read-only), file tools denied or
 *               not allowed (read-only: codex cannot turn apply_patch off), network other than
 *               "any" (at most workspace-write, whose network is off)
 *   shell       denied or not allowed: --disable shell_tool (exec_command and write_stdin go)
 *   web search  denied, not allowed, or network limited: -c web_search="disabled"
 *   MCP         a server named in config "mcp_servers" whose tools are denied or not allowed:
 *               -c mcp_servers.<name>.enabled=false (codex refuses to start when that names a
 *               server it does not have, hence the list)
 *
 * docs/runtimes/codex.md has the table and the tools that stay whatever the constraints say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codex.h"

static const char *const k_sandbox_names[] = {"read-only", "workspace-write", "danger-full-access"};

const char *codex_sandbox_name(codex_sandbox sandbox) { return k_sandbox_names[sandbox]; }

static bool sandbox_of(const char *word, codex_sandbox *out) {
  int i;
  for (i = 0; i < 3; i++) {
    if (strcmp(word, k_sandbox_names[i]) == 0) {
      *out = (codex_sandbox)i;
      return true;
    }
  }
  return false;
}

static void tighten(codex_options *o, codex_sandbox at_most) {
  if (o->sandbox > at_most) o->sandbox = at_most;
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

/* Printable ASCII without spaces, at most 256 bytes: a model name, a usage source. */
static bool printable_word(const char *text) {
  const char *p;
  if (!*text || strlen(text) > 256) return false;
  for (p = text; *p; p++)
    if (*p <= ' ' || *p > '~') return false;
  return true;
}

/* An MCP server name codex's config can hold as a bare TOML key. */
static bool server_name_ok(const char *text, size_t len) {
  size_t i;
  if (len == 0 || len > 64) return false;
  for (i = 0; i < len; i++) {
    char c = text[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* ---- Tool names ---------------------------------------------------------------------------- */

typedef enum tool_class {
  TOOL_OTHER = 0, /* not a codex tool: nothing to turn off */
  TOOL_COMMAND,   /* the shell: exec_command, write_stdin */
  TOOL_FILE,      /* apply_patch */
  TOOL_WEB,       /* web_search */
  TOOL_MCP,       /* an MCP server's tool */
  TOOL_FIXED      /* a codex tool that cannot be turned off */
} tool_class;

/* What a constraint's tool name means for codex; for an MCP tool, the server it belongs to
 * ("mcp__notes__lookup" and "notes.lookup" are notes's lookup; "mcp__notes" all of notes). */
static tool_class classify_tool(const char *name, rh_str *server) {
  static const char *const command[] = {"exec_command", "write_stdin", "shell", "local_shell", "command_execution"};
  static const char *const file[] = {"apply_patch", "file_change"};
  static const char *const fixed[] = {"view_image", "request_user_input", "create_goal", "get_goal", "update_goal",
                                      "tool_search", "list_mcp_resources", "list_mcp_resource_templates",
                                      "read_mcp_resource", "todo_list", "update_plan"};
  const char *dot, *sep;
  size_t i;
  for (i = 0; i < sizeof command / sizeof command[0]; i++)
    if (strcmp(name, command[i]) == 0) return TOOL_COMMAND;
  for (i = 0; i < sizeof file / sizeof file[0]; i++)
    if (strcmp(name, file[i]) == 0) return TOOL_FILE;
  if (strcmp(name, "web_search") == 0) return TOOL_WEB;
  for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strcmp(name, fixed[i]) == 0) return TOOL_FIXED;
  /* Only a name whose server part could be a server's: "Read(./src/...)" is another runtime's rule. */
  if (strncmp(name, "mcp__", 5) == 0) {
    sep = strstr(name + 5, "__");
    *server = rhk_str(name + 5, sep ? (size_t)(sep - name - 5) : strlen(name + 5));
    return server_name_ok(server->data, server->len) ? TOOL_MCP : TOOL_OTHER;
  }
  if ((dot = strchr(name, '.')) != NULL) {
    *server = rhk_str(name, (size_t)(dot - name));
    return server_name_ok(server->data, server->len) ? TOOL_MCP : TOOL_OTHER;
  }
  return TOOL_OTHER;
}

static int find_server(const codex_options *o, rh_str server) {
  size_t i;
  for (i = 0; i < o->mcp_count; i++)
    if (strlen(o->mcp_servers[i]) == server.len && memcmp(o->mcp_servers[i], server.data, server.len) == 0)
      return (int)i;
  return -1;
}

static rh_status apply_deny(rh_runtime_session *s, const char *name) {
  codex_options *o = &s->options;
  rh_str server = rhk_none();
  char message[400];
  int at;
  switch (classify_tool(name, &server)) {
  case TOOL_COMMAND: o->disable_shell = true; break;
  case TOOL_FILE: tighten(o, CODEX_SANDBOX_READ_ONLY); break;
  case TOOL_WEB: o->disable_web_search = true; break;
  case TOOL_MCP:
    if ((at = find_server(o, server)) < 0) {
      snprintf(message, sizeof message,
               "constraint \"tools.deny\" names \"%.100s\", a tool of MCP server \"%.*s\", which config "
               "\"mcp_servers\" does not list: codex can only turn off the servers it has (list them in the config)",
               name, (int)(server.len > 64 ? 64 : server.len), server.data);
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
    }
    o->mcp_disabled[at] = true; /* the whole server: codex turns servers off, not single tools */
    break;
  case TOOL_FIXED:
    snprintf(message, sizeof message,
             "constraint \"tools.deny\" names \"%.100s\", a codex tool that cannot be turned off", name);
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
  case TOOL_OTHER: break; /* codex has no such tool */
  }
  return RH_OK;
}

/* An allow list: whatever codex can turn off and the list does not name, it turns off. */
static void apply_allow(rh_runtime_session *s) {
  codex_options *o = &s->options;
  const rhk_strings *allow = &s->kit.constraints.allow;
  bool command = false, file = false, web = false, server_allowed[CODEX_MAX_MCP_SERVERS] = {false};
  rh_str server;
  size_t i;
  int at;
  for (i = 0; i < allow->count; i++) {
    switch (classify_tool(allow->items[i], &server)) {
    case TOOL_COMMAND: command = true; break;
    case TOOL_FILE: file = true; break;
    case TOOL_WEB: web = true; break;
    case TOOL_MCP:
      if ((at = find_server(o, server)) >= 0) server_allowed[at] = true;
      break;
    default: break;
    }
  }
  if (!command) o->disable_shell = true;
  if (!file) tighten(o, CODEX_SANDBOX_READ_ONLY);
  if (!web) o->disable_web_search = true;
  for (i = 0; i < o->mcp_count; i++)
    if (!server_allowed[i]) o->mcp_disabled[i] = true;
}

/* ---- Reading ------------------------------------------------------------------------------- */

static rh_status read_bool(rh_runtime_session *s, const char *key, bool *out) {
  rh_str v;
  char message[120];
  if (rhk_config_find(&s->kit, key, &v) != RH_OK) return RH_OK;
  if (rh_json_bool(v, out) == RH_OK) return RH_OK;
  snprintf(message, sizeof message, "config \"%s\" must be true or false", key);
  return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
}

static rh_status read_servers(rh_runtime_session *s) {
  codex_options *o = &s->options;
  rhk_json_iter it;
  rh_str v, item;
  char name[80];
  size_t len;
  if (rhk_config_find(&s->kit, "mcp_servers", &v) != RH_OK) return RH_OK;
  if (rh_json_type_of(v) != RH_JSON_ARRAY || !rhk_json_begin(&it, v))
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, "config \"mcp_servers\" must be an array of server names");
  while (rhk_json_next(&it, NULL, &item)) {
    if (rh_json_type_of(item) != RH_JSON_STRING || rh_json_string(item, name, sizeof name, &len) != RH_OK ||
        !server_name_ok(name, len))
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                      "config \"mcp_servers\" must hold MCP server names (1-64 of A-Z a-z 0-9 _ -)");
    if (o->mcp_count == CODEX_MAX_MCP_SERVERS)
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, "config \"mcp_servers\" lists more than 32 servers");
    if (!(o->mcp_servers[o->mcp_count] = (char *)malloc(len + 1)))
      return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
    memcpy(o->mcp_servers[o->mcp_count], name, len + 1);
    o->mcp_count++;
  }
  return it.ok ? RH_OK : rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, "config \"mcp_servers\" is malformed");
}

/* A string config key holding a printable word; NULL when absent. */
static rh_status read_word(rh_runtime_session *s, const char *key, char **out) {
  rh_str v;
  char message[120];
  if (rhk_config_find(&s->kit, key, &v) != RH_OK) return RH_OK;
  if ((*out = dup_string_value(v)) != NULL && printable_word(*out)) return RH_OK;
  snprintf(message, sizeof message, "config \"%s\" must be a string of printable characters without spaces", key);
  return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
}

/* The resume id: a thread id, which codex prints as a UUID. A name that is not one is refused:
 * `codex exec resume NAME` starts a new thread when no thread has that name. */
static rh_status check_resume_id(rh_runtime_session *s) {
  const char *id = s->kit.resume_id;
  size_t i;
  if (!id) return RH_OK;
  for (i = 0; id[i]; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = id[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) break;
  }
  if (i == 36 && id[i] == '\0') return RH_OK;
  return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                  "the resume id must be a codex thread id (a UUID, as run.completed's session_id gives it): "
                  "codex starts a new thread for a name it does not know");
}

rh_status codex_read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  codex_options *o = &s->options;
  const rhk_constraints *c = &kit->constraints;
  char *word = NULL, message[200];
  codex_sandbox mode;
  rh_str v;
  size_t i;
  bool network_access = false;
  rh_status status;
  o->sandbox = CODEX_SANDBOX_WORKSPACE_WRITE;
  o->skip_git_repo_check = true;
  if ((status = read_word(s, "model", &o->model)) != RH_OK ||
      (status = read_word(s, "usage_source", &o->usage_source)) != RH_OK ||
      (status = read_word(s, "sandbox", &word)) != RH_OK)
    goto done;
  if (word && !sandbox_of(word, &o->sandbox)) {
    status = rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                      "config \"sandbox\" must be read-only, workspace-write or danger-full-access");
    goto done;
  }
  if ((status = read_bool(s, "skip_git_repo_check", &o->skip_git_repo_check)) != RH_OK ||
      (status = read_bool(s, "network_access", &network_access)) != RH_OK || (status = read_servers(s)) != RH_OK ||
      (status = check_resume_id(s)) != RH_OK)
    goto done;
  /* Limits codex has no flag for: refused rather than ignored. */
  if (rhk_config_find(kit, "max_turns", &v) == RH_OK || c->max_turns > 0) {
    status = rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "codex exec has no turn limit: \"max_turns\" cannot be enforced");
    goto done;
  }
  if (rhk_config_find(kit, "max_budget_usd", &v) == RH_OK || c->max_budget_usd > 0) {
    status = rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                      "codex exec has no spending limit: \"max_budget_usd\" cannot be enforced");
    goto done;
  }
  if (c->permission_mode) {
    if (!sandbox_of(c->permission_mode, &mode)) {
      snprintf(message, sizeof message,
               "constraint \"permission_mode\" \"%.40s\" is not a codex sandbox (read-only, workspace-write, "
               "danger-full-access)", c->permission_mode);
      status = rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, message);
      goto done;
    }
    tighten(o, mode);
  }
  if (c->read_only) tighten(o, CODEX_SANDBOX_READ_ONLY);
  if (c->network != RHK_NETWORK_ANY) {
    tighten(o, CODEX_SANDBOX_WORKSPACE_WRITE);
    o->network_denied = true;
    o->disable_web_search = true;
  }
  o->network_access = network_access && !o->network_denied;
  for (i = 0; i < c->deny.count; i++)
    if ((status = apply_deny(s, c->deny.items[i])) != RH_OK) goto done;
  if (c->has_allow) apply_allow(s);
  status = RH_OK;
done:
  free(word);
  return status;
}

void codex_free_options(codex_options *o) {
  size_t i;
  free(o->model);
  free(o->usage_source);
  for (i = 0; i < o->mcp_count; i++) free(o->mcp_servers[i]);
  memset(o, 0, sizeof *o);
}

/* ---- Flags --------------------------------------------------------------------------------- */

static rh_status add_config(rh_runtime_session *s, rhk_argv *argv, const char *setting) {
  rh_status status = rhk_argv_addz(&s->kit, argv, "-c");
  return status == RH_OK ? rhk_argv_addz(&s->kit, argv, setting) : status;
}

rh_status codex_add_option_flags(rh_runtime_session *s, rhk_argv *argv) {
  const codex_options *o = &s->options;
  rhk_session *kit = &s->kit;
  const char *sandbox = codex_sandbox_name(o->sandbox);
  char setting[160];
  size_t i;
  rh_status status = RH_OK;
  if (o->skip_git_repo_check) status = rhk_argv_addz(kit, argv, "--skip-git-repo-check");
  if (status == RH_OK) status = rhk_argv_add_joined(kit, argv, "--sandbox=", sandbox, strlen(sandbox));
  if (status == RH_OK && o->model) status = rhk_argv_add_joined(kit, argv, "--model=", o->model, strlen(o->model));
  if (status == RH_OK && o->disable_shell) {
    status = rhk_argv_addz(kit, argv, "--disable");
    if (status == RH_OK) status = rhk_argv_addz(kit, argv, "shell_tool");
  }
  if (status == RH_OK && o->disable_web_search) status = add_config(s, argv, "web_search=\"disabled\"");
  if (status == RH_OK && o->sandbox == CODEX_SANDBOX_WORKSPACE_WRITE && (o->network_access || o->network_denied))
    status = add_config(s, argv, o->network_access ? "sandbox_workspace_write.network_access=true"
                                                   : "sandbox_workspace_write.network_access=false");
  for (i = 0; i < o->mcp_count && status == RH_OK; i++) {
    if (!o->mcp_disabled[i]) continue;
    snprintf(setting, sizeof setting, "mcp_servers.%s.enabled=false", o->mcp_servers[i]);
    status = add_config(s, argv, setting);
  }
  return status;
}
