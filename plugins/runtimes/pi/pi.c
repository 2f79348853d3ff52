/* pi: the runtime adapter for Pi (@mariozechner/pi-coding-agent), run headless.
 *
 *   pi --mode json -p [--offline] [--provider P] [--model M] [--thinking T]
 *      [--tools read,...|--no-tools] [--session ID] [config args...]
 *   stdin: the prompt, then closed
 *
 * Pi reads its prompt from stdin when stdin is not a terminal, so the prompt is data, never an
 * option, and no argv limit applies. It exits 0 whatever happened: the ending is read from its
 * lines (pi_lines.c): the last assistant message's stopReason and pi's own retries. The policy's
 * tool rules become pi's tool allowlist; pi has no turn or spending limit and no permission
 * modes, so a policy asking for those is refused rather than silently ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pi.h"

#define PI_VERSION "0.1.0"

static const rhk_runtime_info k_info = {
    "pi",
    "pi",
    "Pi",
    "install Pi on the device: npm install -g @mariozechner/pi-coding-agent (in a runhost checkout: "
    "scripts/install-runtimes), or set \"executable\" in the pi plugin config",
    "pi",
    RHK_DEFAULT_LINE_LIMIT,
    true, /* every run ends with agent_end (or pi's last retry giving up) */
    pi_on_stdout_line,
    NULL,
};

/* ---- Options ------------------------------------------------------------------------------- */

/* The tools pi has built in; the first four are on unless told otherwise. */
static const char *const k_tools[] = {"read", "bash", "edit", "write", "grep", "find", "ls"};
#define PI_DEFAULT_TOOLS 4
#define PI_TOOL_COUNT (sizeof k_tools / sizeof k_tools[0])

static bool listed(const rhk_strings *list, const char *name) {
  size_t i;
  for (i = 0; i < list->count; i++)
    if (strcmp(list->items[i], name) == 0) return true;
  return false;
}

/* Printable ASCII without spaces or commas, not starting with '-': a provider, model or level. */
static bool word(const char *text) {
  const char *p;
  if (!*text || *text == '-' || strlen(text) > 256) return false;
  for (p = text; *p; p++)
    if (*p <= ' ' || *p > '~' || *p == ',') return false;
  return true;
}

static rh_status read_word(rh_runtime_session *s, const char *key, char **out) {
  rh_str v;
  size_t len;
  char message[128];
  if (rhk_config_find(&s->kit, key, &v) != RH_OK) return RH_OK;
  if (rh_json_string_dup(v, out, &len) != RH_OK || strlen(*out) != len || !word(*out)) {
    snprintf(message, sizeof message, "config \"%s\" must be one word (no spaces, commas or leading '-')", key);
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
  }
  return RH_OK;
}

/* The policy's tool rules as pi's allowlist: NULL when pi's defaults stand. */
static rh_status narrow_tools(rh_runtime_session *s) {
  const rhk_constraints *c = &s->kit.constraints;
  bool on[PI_TOOL_COUNT];
  size_t i, len = 0;
  bool changed = false;
  for (i = 0; i < PI_TOOL_COUNT; i++) {
    on[i] = c->has_allow ? listed(&c->allow, k_tools[i]) : i < PI_DEFAULT_TOOLS;
    if (listed(&c->deny, k_tools[i])) on[i] = false;
    if (c->read_only && (strcmp(k_tools[i], "bash") == 0 || strcmp(k_tools[i], "edit") == 0 ||
                         strcmp(k_tools[i], "write") == 0))
      on[i] = false;
    if (on[i] != (i < PI_DEFAULT_TOOLS)) changed = true;
    if (on[i]) len += strlen(k_tools[i]) + 1;
  }
  if (!changed) return RH_OK;
  if (!(s->tools = (char *)calloc(1, len + 1))) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  for (i = 0; i < PI_TOOL_COUNT; i++) {
    if (!on[i]) continue;
    if (s->tools[0]) strcat(s->tools, ",");
    strcat(s->tools, k_tools[i]);
  }
  return RH_OK;
}

static rh_status read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  const rhk_constraints *c = &kit->constraints;
  rh_str v;
  rh_status status;
  bool offline = true;
  static const char *const levels[] = {"off", "minimal", "low", "medium", "high", "xhigh"};
  size_t i;
  if ((status = read_word(s, "provider", &s->provider)) != RH_OK || (status = read_word(s, "model", &s->model)) != RH_OK ||
      (status = read_word(s, "thinking", &s->thinking)) != RH_OK)
    return status;
  if (s->thinking) {
    for (i = 0; i < sizeof levels / sizeof levels[0] && strcmp(levels[i], s->thinking) != 0; i++) {
    }
    if (i == sizeof levels / sizeof levels[0])
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"thinking\" must be off, minimal, low, medium, high or xhigh");
  }
  if (rhk_config_find(kit, "offline", &v) == RH_OK && rh_json_bool(v, &offline) != RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"offline\" must be true or false");
  s->offline = offline;
  if (c->max_turns > 0 || rhk_config_find(kit, "max_turns", &v) == RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "pi has no turn limit: \"max_turns\" cannot be enforced");
  if (c->max_budget_usd > 0 || rhk_config_find(kit, "max_budget_usd", &v) == RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "pi has no spending limit: \"max_budget_usd\" cannot be enforced");
  if (c->permission_mode)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "pi has no permission modes: \"permission_mode\" cannot be honoured");
  return narrow_tools(s);
}

/* ---- The adapter --------------------------------------------------------------------------- */

static rh_status pi_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->reply);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->extra);
  return read_options(s);
}

static void pi_close(rh_runtime_session *s) {
  free(s->provider);
  free(s->model);
  free(s->thinking);
  free(s->tools);
  rh_json_buffer_free(&s->reply);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->extra);
}

/* `--flag VALUE` as two arguments: pi reads `--flag=VALUE` as an extension's flag and ignores it.
 * It takes the next argument as the value whatever it looks like, so a value cannot turn into an
 * option (and the words read_options allows never start with '-'). */
static rh_status add_option(rh_runtime_session *s, rhk_argv *argv, const char *flag, const char *value) {
  rh_status status = rhk_argv_addz(&s->kit, argv, flag);
  return status == RH_OK ? rhk_argv_addz(&s->kit, argv, value) : status;
}

static rh_status pi_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rhk_session *kit = &s->kit;
  rhk_argv argv;
  rh_status status = rhk_launch_begin(kit, &argv);
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "--mode");
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "json");
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "-p");
  if (status == RH_OK && s->offline) status = rhk_argv_addz(kit, &argv, "--offline");
  if (status == RH_OK && s->provider) status = add_option(s, &argv, "--provider", s->provider);
  if (status == RH_OK && s->model) status = add_option(s, &argv, "--model", s->model);
  if (status == RH_OK && s->thinking) status = add_option(s, &argv, "--thinking", s->thinking);
  if (status == RH_OK && s->tools)
    status = s->tools[0] ? add_option(s, &argv, "--tools", s->tools) : rhk_argv_addz(kit, &argv, "--no-tools");
  if (status == RH_OK && kit->resume_id) status = add_option(s, &argv, "--session", kit->resume_id);
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, NULL, 0, rhk_str(kit->prompt, kit->prompt_len), false, spec_out);
  rhk_argv_free(&argv);
  return status;
}

/* Pi exits 0 whatever happened; its lines said how it ended (pi_lines.c holds that as it reads).
 * Exiting without agent_end is the kit's no_result. */
static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME, pi_launch, NULL),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = pi_open,
    .close = pi_close,
    .decide = NULL,
};

RHK_PLUGIN_ENTRY(k_adapter, "pi", "Pi", PI_VERSION,
                 "Runs Pi (@mariozechner/pi-coding-agent) headless (pi --mode json -p) and maps its output to unified "
                 "events.")
