/* gemini-cli: the runtime adapter for Google's Gemini CLI, run headless.
 *
 *   gemini --output-format stream-json [--skip-trust] [config args...] [--approval-mode=M]
 *          [--model=M] [--resume=ID] [--allowed-tools=T...]
 *   stdin: the prompt, then closed
 *
 * The prompt goes to stdin, never into argv: Gemini CLI reads a piped stdin as the prompt (up to
 * 8 MiB) whenever stdout is not a terminal, so whatever it holds (a leading "-", newlines, U+0000)
 * it is data, never an option; it stays out of the process list, and argv's 128 KiB limit on one
 * argument does not apply. Each value the adapter puts in argv is joined to its option
 * ("--model=x"), so none can be read as an option either. The policy's constraints become
 * --approval-mode and --allowed-tools (docs/runtimes/gemini-cli.md has the rules, and the ones
 * Gemini CLI has no flag for, which refuse the run); the output is mapped line by line in
 * gemini_lines.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemini_cli.h"

#define GEMINI_VERSION "0.1.0"
#define GEMINI_STDIN_LIMIT ((size_t)8 << 20) /* Gemini CLI cuts stdin here (readStdin) */

static rh_status on_stderr_line(rhk_session *kit, const char *line, size_t len, bool truncated);

static const rhk_runtime_info k_info = {
    "gemini-cli",
    "gemini",
    "Gemini CLI",
    "install Gemini CLI on the device: npm install -g @google/gemini-cli (in a runhost checkout: "
    "scripts/install-runtimes), or set \"executable\" in the gemini-cli plugin config",
    "google",
    RHK_DEFAULT_LINE_LIMIT,
    true, /* every run that gets going ends with a result line */
    gemini_on_stdout_line,
    on_stderr_line,
};

/* ---- Tools ---------------------------------------------------------------------------------- */

/* Built-in tools Gemini CLI 0.61 registers and allows in every approval mode (its read-only and
 * agent policies): no flag can take them away, so a policy that denies one refuses the run. */
static const char *const k_always[] = {
    "glob", "grep_search", "list_directory", "read_file", "google_web_search", "codebase_investigator",
    "cli_help", "get_internal_docs", "tracker_create_task", "tracker_update_task", "tracker_get_task",
    "tracker_list_tasks", "tracker_add_dependency", "tracker_visualize", "update_topic", "complete_task",
    "read_mcp_resource", "list_mcp_resources", "invoke_agent", "enter_plan_mode", "exit_plan_mode"};

/* What --approval-mode=yolo and auto_edit add to those, headless; listed as --allowed-tools when a
 * deny list or the network constraint turns the mode down to "default". */
static const char *const k_yolo[] = {"run_shell_command", "write_file", "replace", "web_fetch", "write_todos",
                                     "activate_skill", "list_background_processes", "read_background_output"};
static const char *const k_auto_edit[] = {"write_file", "replace", "web_fetch"};
static const char *const k_network[] = {"web_fetch"}; /* fetches URLs from the device itself */

static const char *const k_modes[] = {"default", "auto_edit", "yolo", "plan"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The tool a rule names: "run_shell_command(git log)" names run_shell_command. */
static size_t base_len(const char *rule) {
  const char *paren = strchr(rule, '(');
  return paren ? (size_t)(paren - rule) : strlen(rule);
}

static bool same_tool(const char *a, const char *b) {
  size_t n = base_len(a);
  return n == base_len(b) && memcmp(a, b, n) == 0;
}

static bool listed(const char *rule, const char *const *names, size_t count) {
  size_t i;
  for (i = 0; i < count; i++)
    if (same_tool(rule, names[i])) return true;
  return false;
}

static bool in_strings(const char *rule, const rhk_strings *list) {
  size_t i;
  for (i = 0; i < list->count; i++)
    if (same_tool(rule, list->items[i])) return true;
  return false;
}

static rh_status add_allowed(rh_runtime_session *s, const char *rule) {
  size_t n = strlen(rule) + 1;
  char **grown = (char **)realloc(s->allowed.items, (s->allowed.count + 1) * sizeof *grown);
  if (!grown) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  s->allowed.items = grown;
  if (!(grown[s->allowed.count] = (char *)malloc(n))) return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory");
  memcpy(grown[s->allowed.count++], rule, n);
  return RH_OK;
}

/* Adds each rule of `rules` that no deny (nor the network constraint) takes away. A deny of part
 * of a tool ("run_shell_command(rm)") takes the whole tool: flags cannot deny part of one. */
static rh_status allow_all(rh_runtime_session *s, const char *const *rules, size_t count) {
  const rhk_constraints *c = &s->kit.constraints;
  size_t i;
  rh_status status = RH_OK;
  for (i = 0; i < count && status == RH_OK; i++) {
    if (in_strings(rules[i], &c->deny)) continue;
    if (c->network != RHK_NETWORK_ANY && listed(rules[i], k_network, COUNT(k_network))) continue;
    status = add_allowed(s, rules[i]);
  }
  return status;
}

/* A tool name or rule the CLI can take as one --allowed-tools value: it splits values at commas. */
static rh_status check_rules(rh_runtime_session *s, const rhk_strings *rules, const char *what) {
  size_t i;
  char message[200];
  for (i = 0; i < rules->count; i++) {
    const char *r = rules->items[i];
    if (r[0] == '\0' || r[0] == '-' || strchr(r, ',')) {
      snprintf(message, sizeof message, "constraint \"%s\" holds an empty name, one starting with '-', or one with a "
                                        "comma (Gemini CLI splits tool lists at commas)", what);
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
    }
  }
  return RH_OK;
}

/* The approval mode and --allowed-tools the constraints come to (docs/runtimes/gemini-cli.md,
 * "Constraints"). Fails closed on what Gemini CLI cannot be made to respect. */
static rh_status apply_constraints(rh_runtime_session *s) {
  const rhk_constraints *c = &s->kit.constraints;
  const char *mode = s->approval_mode;
  bool restrictive = c->has_allow || c->deny.count > 0 || c->network != RHK_NETWORK_ANY;
  char message[400];
  size_t i;
  rh_status status;
  if ((status = check_rules(s, &c->allow, "tools.allow")) != RH_OK ||
      (status = check_rules(s, &c->deny, "tools.deny")) != RH_OK)
    return status;
  if (c->max_turns > 0 || c->max_budget_usd > 0)
    return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT,
                    c->max_turns > 0 ? "constraint \"max_turns\" cannot be enforced: Gemini CLI has no flag for a turn "
                                       "limit (only model.maxSessionTurns in settings.json)"
                                     : "constraint \"max_budget_usd\" cannot be enforced: Gemini CLI has no spending limit");
  for (i = 0; i < c->deny.count; i++) {
    if (strcmp(c->deny.items[i], "*") == 0 || listed(c->deny.items[i], k_always, COUNT(k_always))) {
      snprintf(message, sizeof message, "constraint \"tools.deny\" names \"%.80s\", which Gemini CLI runs in every "
                                        "approval mode; only a policy file could remove it", c->deny.items[i]);
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
    }
  }
  if (c->read_only) mode = "plan"; /* the read-only mode: nothing that writes, whatever else says */
  if (mode && strcmp(mode, "plan") == 0) {
    s->approval_mode = mode; /* plan ignores --allowed-tools' modes: none are passed */
    return RH_OK;
  }
  if (!restrictive) return RH_OK;
  /* yolo and auto_edit approve whole classes of tools: turned down to "default", where a tool that
   * would ask is not even registered headless unless --allowed-tools names it. */
  if (c->has_allow) status = allow_all(s, (const char *const *)c->allow.items, c->allow.count);
  else if (mode && strcmp(mode, "yolo") == 0) status = allow_all(s, k_yolo, COUNT(k_yolo));
  else if (mode && strcmp(mode, "auto_edit") == 0) status = allow_all(s, k_auto_edit, COUNT(k_auto_edit));
  if (status != RH_OK) return status;
  if (mode && (strcmp(mode, "yolo") == 0 || strcmp(mode, "auto_edit") == 0)) s->approval_mode = "default";
  return RH_OK;
}

/* ---- Options ------------------------------------------------------------------------------- */

static char *dup_string_value(rh_str value) {
  char *text = NULL;
  size_t len;
  if (rh_json_string_dup(value, &text, &len) != RH_OK) return NULL;
  if (strlen(text) != len) { /* U+0000 inside */
    free(text);
    return NULL;
  }
  return text;
}

/* Printable ASCII without spaces: a model name ("gemini-2.5-pro"). */
static bool printable_word(const char *text) {
  const char *p;
  if (!*text || strlen(text) > 256) return false;
  for (p = text; *p; p++)
    if (*p <= ' ' || *p > '~') return false;
  return true;
}

static const char *mode_named(const char *word) {
  size_t i;
  for (i = 0; word && i < COUNT(k_modes); i++)
    if (strcmp(word, k_modes[i]) == 0) return k_modes[i];
  return NULL;
}

/* A session id Gemini CLI's --resume takes as one: its own ids are UUIDs, --session-id's are
 * [A-Za-z0-9_-]. A number alone would be read as an index into the session list, and a leading '-'
 * looks like an option: both are refused. */
static bool resume_id_ok(const char *id) {
  const char *p;
  bool digits_only = true;
  if (!*id || strlen(id) > 128 || *id == '-' || *id == '_') return false;
  for (p = id; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return false;
    if (*p < '0' || *p > '9') digits_only = false;
  }
  return !digits_only;
}

static rh_status read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  rh_str v;
  char *word;
  bool trust = true;
  s->skip_trust = true;
  if (rhk_config_find(kit, "model", &v) == RH_OK && (!(s->model = dup_string_value(v)) || !printable_word(s->model)))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"model\" must be a model name");
  if (rhk_config_find(kit, "approval_mode", &v) == RH_OK) {
    word = dup_string_value(v);
    s->approval_mode = mode_named(word);
    free(word);
    if (!s->approval_mode)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"approval_mode\" must be default, auto_edit, yolo or plan");
  }
  if (kit->constraints.permission_mode) { /* the policy's word beats the operator's default */
    if (!(s->approval_mode = mode_named(kit->constraints.permission_mode)))
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                      "constraint \"permission_mode\" must be default, auto_edit, yolo or plan for Gemini CLI");
  }
  /* Headless Gemini CLI cannot ask: in its own default mode it does not even register the tools
   * that would. runhost's policies judge each call it reports, so by default it may act (yolo). */
  if (!s->approval_mode) s->approval_mode = "yolo";
  if (rhk_config_find(kit, "trust_workspace", &v) == RH_OK) {
    if (rh_json_bool(v, &trust) != RH_OK)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"trust_workspace\" must be true or false");
    s->skip_trust = trust;
  }
  if (kit->resume_id && !resume_id_ok(kit->resume_id))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                    "the resume id must be a Gemini CLI session id (letters, digits, '-' and '_'; not a number alone)");
  if (kit->prompt_len > GEMINI_STDIN_LIMIT)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "the prompt is over 8 MiB, the most Gemini CLI reads from stdin");
  return apply_constraints(s);
}

/* ---- Stderr -------------------------------------------------------------------------------- */

static bool starts(const char *line, size_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(line, prefix, n) == 0;
}

/* Lines every run prints, and stack traces: never the reason a run failed. */
static bool stderr_noise(const char *line, size_t len) {
  static const char *const noise[] = {"Warning: 256-color", "YOLO mode is enabled", "Ripgrep is not available",
                                      "[STARTUP]", "Approval mode overridden", "Warning: --allowed-tools",
                                      "Loaded cached credentials", "Warning: Basic terminal detected", "}", "{"};
  size_t i;
  if (len == 0 || line[0] == ' ' || line[0] == '\t') return true;
  for (i = 0; i < COUNT(noise); i++)
    if (starts(line, len, noise[i])) return true;
  return false;
}

/* Every stderr line is the CLI's own (notices, the model router's stack traces): a system message.
 * The first one that says what went wrong is remembered for a failure the exit code alone
 * describes. */
static rh_status on_stderr_line(rhk_session *kit, const char *line, size_t len, bool truncated) {
  rh_runtime_session *s = (rh_runtime_session *)(void *)kit;
  rh_str raw = rhk_str(line, len);
  if (len > 0 && line[len - 1] == '\r') len--;
  if (starts(line, len, "Error resuming session") || starts(line, len, "[ERROR] Error resuming session"))
    s->resume_failed = true;
  if (!s->stderr_note[0] && !stderr_noise(line, len)) {
    size_t n = len > GEMINI_NOTE_MAX ? GEMINI_NOTE_MAX : len;
    while (n > 0 && n < len && ((unsigned char)line[n] & 0xC0) == 0x80) n--; /* whole UTF-8 sequences */
    memcpy(s->stderr_note, line, n);
    s->stderr_note[n] = '\0';
  }
  return rhk_emit_diagnostic(kit, line, len, truncated, raw);
}

/* ---- Ending -------------------------------------------------------------------------------- */

/* Gemini CLI's exit codes (FatalError and its kinds), for a run that ended without a result line. */
static rh_status hold_exit_failure(rh_runtime_session *s, int code) {
  rhk_failure f = *rhk_failure_of(RHK_FAIL_RUNTIME);
  const char *what;
  char message[GEMINI_NOTE_MAX + 160];
  switch (code) {
  case 41:
    f = *rhk_failure_of(RHK_FAIL_AUTH);
    what = "authentication failed (exit 41)";
    break;
  case 42:
    if (s->resume_failed) { /* stderr: "Error resuming session: ..." */
      f = *rhk_failure_of(RHK_FAIL_SESSION_NOT_FOUND);
      what = "the session to resume was not found (exit 42)";
    } else {
      f.cause = "invalid_input";
      f.hint = "Gemini CLI refused its input: check the prompt and the launch arguments";
      what = "the input was refused (exit 42)";
    }
    break;
  case 44:
    f.cause = "sandbox";
    f.hint = "Gemini CLI could not set up its sandbox: check its sandbox settings on the device";
    what = "the sandbox failed (exit 44)";
    break;
  case 52:
    f.cause = "config";
    f.hint = "Gemini CLI's configuration is invalid: check settings.json on the device";
    what = "the configuration is invalid (exit 52)";
    break;
  case 53:
    f = *rhk_failure_of(RHK_FAIL_TURN_LIMIT);
    what = "the session turn limit was reached (exit 53)";
    break;
  case 54:
    f.cause = "tool_failed";
    what = "a tool failed fatally (exit 54)";
    break;
  case 55:
    f = *rhk_failure_of(RHK_FAIL_POLICY);
    f.hint = GEMINI_TRUST_HINT;
    what = "the working directory is not a trusted folder (exit 55)";
    break;
  case 130:
    f.code = "cancelled";
    f.cause = "runtime_cancelled";
    f.hint = NULL;
    what = "the run was cancelled (exit 130)";
    break;
  case 0:
    return RH_OK; /* the kit's ending: exited 0 without a result line */
  default:
    f = *rhk_failure_of(RHK_FAIL_NO_RESULT);
    f.retryable = false; /* it said why on stderr, most likely: read it first */
    snprintf(message, sizeof message, "exited with code %d without a result line%s%s", code,
             s->stderr_note[0] ? "; stderr: " : "", s->stderr_note);
    return rhk_hold_failure_with(&s->kit, &f, rhk_cstr(message), rhk_none(), rhk_none());
  }
  snprintf(message, sizeof message, "%s%s%s", what, s->stderr_note[0] ? ": " : "", s->stderr_note);
  return rhk_hold_failure_with(&s->kit, &f, rhk_cstr(message), rhk_none(), rhk_none());
}

/* A model API error whose message named no status: Gemini CLI exits with the HTTP status itself
 * (process.exit(429) is exit code 173), so the exit code says which. */
static rh_status refine_api_failure(rh_runtime_session *s, int code) {
  rhk_session *kit = &s->kit;
  rhk_failure_kind kind;
  if (code < 144 || code > 255) return RH_OK; /* 400..511 modulo 256 */
  kind = rhk_failure_kind_for_http_status(code + 256);
  if (kind == RHK_FAIL_MODEL_API) return RH_OK;
  kit->failure = *rhk_failure_of(kind);
  return RH_OK;
}

/* ---- The adapter --------------------------------------------------------------------------- */

static rh_status gemini_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->reply);
  rh_json_buffer_init(&s->extra);
  rh_json_buffer_init(&s->terminal);
  rh_json_buffer_init(&s->text);
  return read_options(s);
}

static void gemini_close(rh_runtime_session *s) {
  size_t i;
  free(s->model);
  free(s->usage_model);
  for (i = 0; i < s->allowed.count; i++) free(s->allowed.items[i]);
  free(s->allowed.items);
  rh_json_buffer_free(&s->reply);
  rh_json_buffer_free(&s->extra);
  rh_json_buffer_free(&s->terminal);
  rh_json_buffer_free(&s->text);
}

static rh_status gemini_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rhk_session *kit = &s->kit;
  rhk_argv argv;
  size_t i;
  rh_status status = rhk_launch_begin(kit, &argv);
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "--output-format");
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "stream-json");
  if (status == RH_OK && s->skip_trust) status = rhk_argv_addz(kit, &argv, "--skip-trust");
  /* The operator's args first: what the policy asks for comes after and cannot be overridden
   * silently (Gemini CLI refuses a repeated --approval-mode, and --yolo beside it). */
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  if (status == RH_OK && s->approval_mode)
    status = rhk_argv_add_joined(kit, &argv, "--approval-mode=", s->approval_mode, strlen(s->approval_mode));
  if (status == RH_OK && s->model) status = rhk_argv_add_joined(kit, &argv, "--model=", s->model, strlen(s->model));
  if (status == RH_OK && kit->resume_id)
    status = rhk_argv_add_joined(kit, &argv, "--resume=", kit->resume_id, strlen(kit->resume_id));
  for (i = 0; i < s->allowed.count && status == RH_OK; i++)
    status = rhk_argv_add_joined(kit, &argv, "--allowed-tools=", s->allowed.items[i], strlen(s->allowed.items[i]));
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, NULL, 0, rhk_str(kit->prompt, kit->prompt_len), false, spec_out);
  rhk_argv_free(&argv);
  return status;
}

/* The exit code says more than the lines when they are silent or vague (gemini's exit codes). */
static rh_status gemini_decide(rh_runtime_session *s, const rh_exit *exit) {
  if (exit->kind != RH_EXIT_EXITED) return RH_OK;
  if (s->kit.outcome == RHK_OUTCOME_NONE) return hold_exit_failure(s, exit->code);
  if (s->kit.outcome == RHK_OUTCOME_FAILED && s->api_status_unknown) return refine_api_failure(s, exit->code);
  return RH_OK;
}

/* Headless Gemini CLI never asks: a tool that would ask is not registered. */
static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME, gemini_launch, NULL),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = gemini_open,
    .close = gemini_close,
    .decide = gemini_decide,
};

RHK_PLUGIN_ENTRY(k_adapter, "gemini-cli", "Gemini CLI", GEMINI_VERSION,
                 "Runs Google's Gemini CLI headless (stream-json, the prompt on stdin) and maps its output to "
                 "unified events.")
