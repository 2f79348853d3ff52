/* claude-code: the runtime adapter for Anthropic's Claude Code CLI, run headless.
 *
 *   claude -p --output-format stream-json --verbose --input-format stream-json
 *          --permission-prompt-tool stdio --permission-mode=P (default: "default")
 *          [--include-partial-messages] [--model M] [--max-turns N]
 *          [--max-budget-usd X] [--resume=ID] [--mcp-config {"mcpServers":...}] [config args...]
 *          [--disallowedTools T...] [--allowedTools T...]
 *   stdin: {"type":"user","message":{"role":"user","content":PROMPT},...}\n, kept open
 *
 * Claude Code asks before each tool call that changes something (Bash, Write, Edit...): with
 * `--permission-prompt-tool stdio` it prints a control_request (can_use_tool) and waits for the
 * control_response on stdin. The adapter turns the request into approval.required for the host,
 * which decides through every policy (the bundled risky-actions gives approvalPolicy its
 * meaning) and, for what they ask about, a human; respond() writes the answer. stdin stays open
 * for that, and is closed after the result line, when the CLI exits. On a host older than ABI
 * 1.2 (no send_input) it runs as before: stdin closed after the prompt, nothing asks.
 *
 * The prompt travels as one JSON line on stdin rather than in argv: whatever it holds (a leading
 * "-", newlines, U+0000, megabytes) it is data, never an option, and there is no argv size
 * limit; the CLI answers the one message and exits when stdin ends. The policy's constraints
 * become the CLI's own flags (docs/runtimes/claude-code.md has the mapping); the output is mapped
 * line by line in claude_lines.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claude_code.h"

#define CLAUDE_VERSION "0.1.0"

static const rhk_runtime_info k_info = {
    "claude-code",
    "claude",
    "Claude Code",
    "install Claude Code on the device: npm install -g @anthropic-ai/claude-code (in a runhost "
    "checkout: scripts/install-runtimes), or set \"executable\" in the claude-code plugin config",
    "anthropic",
    RHK_DEFAULT_LINE_LIMIT,
    true, /* every run ends with a result line */
    claude_on_stdout_line,
    NULL,
};

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

static char *dup_cstr(const char *text) {
  size_t n = strlen(text) + 1;
  char *copy = (char *)malloc(n);
  if (copy) memcpy(copy, text, n);
  return copy;
}

/* Printable ASCII without spaces: a model name ("claude-sonnet-4-5", "us.anthropic.x-v1:0"). */
static bool printable_word(const char *text) {
  const char *p;
  if (!*text || strlen(text) > 256) return false;
  for (p = text; *p; p++)
    if (*p <= ' ' || *p > '~') return false;
  return true;
}

/* Letters only: a permission mode ("acceptEdits", "plan"). */
static bool letters(const char *text) {
  const char *p;
  if (!*text || strlen(text) > 64) return false;
  for (p = text; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return false;
  return true;
}

/* A tool name or rule the CLI can take as one argument of --allowedTools/--disallowedTools: it
 * must not look like an option. Refused rather than dropped: a lost deny rule would widen what the
 * run may do. */
static rh_status check_tools(rh_runtime_session *s, const rhk_strings *tools, const char *what) {
  size_t i;
  char message[160];
  for (i = 0; i < tools->count; i++) {
    if (tools->items[i][0] == '\0' || tools->items[i][0] == '-') {
      snprintf(message, sizeof message, "constraint \"%s\" holds an empty name or one starting with '-'", what);
      return rhk_fail(&s->kit, RH_ERR_INVALID_ARGUMENT, message);
    }
  }
  return RH_OK;
}

static rh_status read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  rh_str v;
  int64_t turns;
  double budget;
  bool partial;
  rh_status status;
  s->max_turns = kit->constraints.max_turns;
  s->max_budget_usd = kit->constraints.max_budget_usd;
  if (rhk_config_find(kit, "model", &v) == RH_OK &&
      (!(s->model = dup_string_value(v)) || !printable_word(s->model)))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"model\" must be a model name");
  if (rhk_config_find(kit, "max_turns", &v) == RH_OK) {
    if ((turns = rhk_json_int(v, -1)) < 1)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"max_turns\" must be an integer >= 1");
    if (s->max_turns < 0 || turns < s->max_turns) s->max_turns = turns; /* the tighter limit wins */
  }
  if (rhk_config_find(kit, "max_budget_usd", &v) == RH_OK) {
    if (!((budget = rhk_json_number(v, -1)) > 0))
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"max_budget_usd\" must be a number > 0");
    if (s->max_budget_usd < 0 || budget < s->max_budget_usd) s->max_budget_usd = budget;
  }
  /* What the host's budgets leave this run (docs/budgets.md): the host stops the run from its
   * usage events too, but Claude Code reports spend only at the end of a turn, so its own cap is
   * what stops it in time. A key of its own, not max_budget_usd: runtimes without a spending
   * limit refuse that one, and may ignore this (the host enforces it either way). */
  if (rhk_constraint_find(kit, "host_budget_usd", &v) == RH_OK) {
    if (!((budget = rhk_json_number(v, -1)) > 0))
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "constraint \"host_budget_usd\" must be a number > 0");
    if (s->max_budget_usd < 0 || budget < s->max_budget_usd) s->max_budget_usd = budget;
  }
  if (kit->constraints.permission_mode) { /* the policy's word beats the operator's default */
    if (!letters(kit->constraints.permission_mode))
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "constraint \"permission_mode\" must be one word (acceptEdits, plan...)");
    if (!(s->permission_mode = dup_cstr(kit->constraints.permission_mode)))
      return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
  } else if (rhk_config_find(kit, "permission_mode", &v) == RH_OK &&
             (!(s->permission_mode = dup_string_value(v)) || !letters(s->permission_mode))) {
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"permission_mode\" must be one word (acceptEdits, plan...)");
  }
  if (rhk_config_find(kit, "partial_messages", &v) == RH_OK) {
    if (rh_json_bool(v, &partial) != RH_OK)
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"partial_messages\" must be true or false");
    s->partial_messages = partial;
  }
  s->live = rhk_can_send_input(kit);
  if ((status = check_tools(s, &kit->constraints.allow, "tools.allow")) != RH_OK ||
      (status = check_tools(s, &kit->constraints.deny, "tools.deny")) != RH_OK)
    return status;
  return RH_OK;
}

/* ---- The adapter --------------------------------------------------------------------------- */

static rh_status claude_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->extra);
  rh_json_buffer_init(&s->terminal);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->output);
  return read_options(s);
}

static void claude_close(rh_runtime_session *s) {
  free(s->model);
  free(s->permission_mode);
  free(s->usage_model);
  rh_json_buffer_free(&s->extra);
  rh_json_buffer_free(&s->terminal);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->output);
}

/* The tools to deny: the policy's, plus what read_only and network mean for Claude Code. */
static rh_status add_denied(rh_runtime_session *s, rhk_argv *argv) {
  static const char *const writers[] = {"Bash", "Write", "Edit", "MultiEdit", "NotebookEdit"};
  static const char *const network[] = {"WebFetch", "WebSearch"};
  const rhk_constraints *c = &s->kit.constraints;
  size_t i;
  rh_status status = RH_OK;
  if (c->deny.count == 0 && !c->read_only && c->network == RHK_NETWORK_ANY) return RH_OK;
  status = rhk_argv_addz(&s->kit, argv, "--disallowedTools");
  for (i = 0; i < c->deny.count && status == RH_OK; i++) status = rhk_argv_addz(&s->kit, argv, c->deny.items[i]);
  for (i = 0; c->read_only && i < sizeof writers / sizeof writers[0] && status == RH_OK; i++)
    status = rhk_argv_addz(&s->kit, argv, writers[i]);
  for (i = 0; c->network != RHK_NETWORK_ANY && i < sizeof network / sizeof network[0] && status == RH_OK; i++)
    status = rhk_argv_addz(&s->kit, argv, network[i]);
  return status;
}

static rh_status add_allowed(rh_runtime_session *s, rhk_argv *argv) {
  const rhk_constraints *c = &s->kit.constraints;
  size_t i;
  rh_status status;
  if (!c->has_allow) return RH_OK;
  if (c->allow.count == 0) { /* nothing allowed: no built-in tool at all */
    if ((status = rhk_argv_addz(&s->kit, argv, "--tools")) != RH_OK) return status;
    return rhk_argv_addz(&s->kit, argv, "");
  }
  status = rhk_argv_addz(&s->kit, argv, "--allowedTools");
  for (i = 0; i < c->allow.count && status == RH_OK; i++) status = rhk_argv_addz(&s->kit, argv, c->allow.items[i]);
  return status;
}

/* The connectors' MCP servers as one --mcp-config argument, {"mcpServers": {...}}: Claude Code
 * takes the JSON itself as well as a file. It holds no secret (the host refuses one): a server's
 * config names it as ${NAME}, which Claude Code expands from the environment the host gave it. */
static rh_status add_mcp_config(rh_runtime_session *s, rhk_argv *argv) {
  rh_json_buffer config;
  rh_status status;
  rh_json_buffer_init(&config);
  if (rh_json_write_cstr(&config.writer, "{\"mcpServers\":") ||
      rh_json_write_cstr(&config.writer, s->kit.mcp_servers) || rh_json_write_cstr(&config.writer, "}")) {
    rh_json_buffer_free(&config);
    return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory writing the MCP configuration");
  }
  status = rhk_argv_addz(&s->kit, argv, "--mcp-config");
  if (status == RH_OK) status = rhk_argv_add(&s->kit, argv, config.data, config.len);
  rh_json_buffer_free(&config);
  return status;
}

/* The prompt as the one user message of --input-format stream-json. */
static rh_status write_prompt(rh_runtime_session *s, rh_json_buffer *out) {
  const rh_writer *w = &out->writer;
  if (rh_json_write_cstr(w, "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":") ||
      rh_json_write_string(w, s->kit.prompt, s->kit.prompt_len) ||
      rh_json_write_cstr(w, "},\"parent_tool_use_id\":null,\"session_id\":\"\"}\n"))
    return rhk_fail(&s->kit, RH_ERR_NO_MEMORY, "out of memory writing the prompt");
  return RH_OK;
}

static rh_status claude_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  static const char *const fixed[] = {"-p", "--output-format", "stream-json", "--verbose", "--input-format",
                                      "stream-json"};
  rhk_session *kit = &s->kit;
  rhk_argv argv;
  rh_json_buffer stdin_text;
  char number[48];
  size_t i;
  rh_status status = rhk_launch_begin(kit, &argv);
  rh_json_buffer_init(&stdin_text);
  for (i = 0; i < sizeof fixed / sizeof fixed[0] && status == RH_OK; i++) status = rhk_argv_addz(kit, &argv, fixed[i]);
  if (status == RH_OK && s->partial_messages) status = rhk_argv_addz(kit, &argv, "--include-partial-messages");
  if (status == RH_OK && s->model) status = rhk_argv_add_joined(kit, &argv, "--model=", s->model, strlen(s->model));
  if (status == RH_OK && s->live) {
    const char *mode = s->permission_mode ? s->permission_mode : "default";
    status = rhk_argv_addz(kit, &argv, "--permission-prompt-tool");
    if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "stdio");
    if (status == RH_OK) status = rhk_argv_add_joined(kit, &argv, "--permission-mode=", mode, strlen(mode));
  } else if (status == RH_OK && s->permission_mode) {
    status = rhk_argv_add_joined(kit, &argv, "--permission-mode=", s->permission_mode, strlen(s->permission_mode));
  }
  if (status == RH_OK && s->max_turns > 0) {
    snprintf(number, sizeof number, "%lld", (long long)s->max_turns);
    status = rhk_argv_add_joined(kit, &argv, "--max-turns=", number, strlen(number));
  }
  if (status == RH_OK && s->max_budget_usd > 0) {
    snprintf(number, sizeof number, "%.10g", s->max_budget_usd);
    status = rhk_argv_add_joined(kit, &argv, "--max-budget-usd=", number, strlen(number));
  }
  if (status == RH_OK && kit->resume_id)
    status = rhk_argv_add_joined(kit, &argv, "--resume=", kit->resume_id, strlen(kit->resume_id));
  if (status == RH_OK && kit->mcp_servers) status = add_mcp_config(s, &argv);
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  /* Variadic lists last, so nothing after them can be taken for a tool name. */
  if (status == RH_OK) status = add_denied(s, &argv);
  if (status == RH_OK) status = add_allowed(s, &argv);
  if (status == RH_OK) status = write_prompt(s, &stdin_text);
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, NULL, 0, rhk_str(stdin_text.data, stdin_text.len), s->live, spec_out);
  rhk_argv_free(&argv);
  rh_json_buffer_free(&stdin_text);
  return status;
}

static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME | RH_RUNTIME_CAP_APPROVALS, claude_launch,
                               claude_respond),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = claude_open,
    .close = claude_close,
    .decide = NULL, /* the result line says it all; without one, the kit's rules */
};

RHK_PLUGIN_ENTRY(k_adapter, "claude-code", "Claude Code", CLAUDE_VERSION,
                 "Runs Anthropic's Claude Code CLI headless (claude -p, stream-json) and maps its output to unified "
                 "events.")
