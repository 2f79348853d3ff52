/* acp: the runtime adapter for any agent that speaks the Agent Client Protocol, v1 (JSON-RPC 2.0
 * over stdio, both directions): Gemini CLI (gemini --acp), OpenCode (opencode acp), Codex
 * (codex-acp), Hermes (hermes acp; also the `hermes` preset), Claude through claude-agent-acp...
 *
 *   COMMAND... [config args...]          the config's "command" (an argv array), never a shell
 *   stdin: initialize, then (kept open)  session/new | session/load, session/set_mode,
 *                                        session/prompt, answers to the agent's requests
 *
 * The adapter is the ACP client: it opens a session in the run's directory with the run's MCP
 * servers, sends the prompt, maps every session/update to unified events, puts the agent's
 * permission requests through the host's governance (policies, then a human; no answer is a
 * rejection), serves fs/... inside the run's directory when that directory is on this machine, and
 * serves terminal/... with processes in the run's device (acp_terminal.c).
 * The prompt's response (stopReason) ends the run; then stdin is closed and the agent exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acp.h"

#define ACP_VERSION "0.1.0"

#ifdef ACP_PRESET_HERMES
/* hermes: Hermes (hermes-agent, PyPI) through its ACP server, `hermes acp`. */
#define ACP_ID "hermes"
#define ACP_NAME "Hermes"
#define ACP_PROGRAM "hermes"
#define ACP_DESCRIPTION "Runs Hermes (hermes-agent) through its ACP server (hermes acp) and maps it to unified events."
#define ACP_HINT                                                                                   \
  "install Hermes on the device: pip install 'hermes-agent[acp]' (in a runhost checkout: "        \
  "scripts/install-runtimes), or set \"command\" in the hermes plugin config"
static const char *const k_default_args[] = {"acp"};
#define ACP_DEFAULT_ARGS 1
#else
#define ACP_ID "acp"
#define ACP_NAME "ACP agent"
#define ACP_PROGRAM "acp-agent"
#define ACP_DESCRIPTION "Runs any Agent Client Protocol (v1) agent and maps its session to unified events."
#define ACP_HINT                                                                                   \
  "set \"command\" in the acp plugin config to the agent's argv (gemini --acp, opencode acp, "     \
  "codex-acp, hermes acp...) and install that agent on the device"
static const char *const k_default_args[] = {""};
#define ACP_DEFAULT_ARGS 0
#endif

static const rhk_runtime_info k_info = {
    ACP_ID, ACP_PROGRAM, ACP_NAME, ACP_HINT, "acp", RHK_DEFAULT_LINE_LIMIT,
    true, /* the prompt's response ends every run */
    acp_on_stdout_line, NULL, /* stderr: the agent's own log, system messages (the kit's default) */
};

/* ---- Options ------------------------------------------------------------------------------- */

/* The config's "command": a non-empty array of strings without U+0000. */
static rh_status read_command(rh_runtime_session *s, rhk_strings *command) {
  rhk_session *kit = &s->kit;
  rh_str v, key, item;
  rhk_json_iter it;
  size_t len;
  char *text;
  command->items = NULL;
  command->count = 0;
  if (rhk_config_find(kit, "command", &v) != RH_OK) return RH_OK;
  if (v.len < 2 || v.data[0] != '[' || !rhk_json_begin(&it, v))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"command\" must be an array of strings (the agent's argv)");
  while (rhk_json_next(&it, &key, &item)) {
    char **grown;
    text = NULL;
    if (rh_json_string_dup(item, &text, &len) != RH_OK || strlen(text) != len || (command->count == 0 && !len)) {
      free(text);
      return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                      "config \"command\" must be an array of strings, the first one the program");
    }
    if (!(grown = (char **)realloc(command->items, (command->count + 1) * sizeof *grown))) {
      free(text);
      return rhk_fail(kit, RH_ERR_NO_MEMORY, "out of memory");
    }
    command->items = grown;
    command->items[command->count++] = text;
  }
  if (command->count == 0)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"command\" must name the agent's program");
  return RH_OK;
}

static rh_status read_options(rh_runtime_session *s) {
  rhk_session *kit = &s->kit;
  rh_str v;
  size_t len;
  s->name = ACP_NAME;
  if (!rhk_can_send_input(kit))
    return rhk_fail(kit, RH_ERR_UNSUPPORTED,
                    "ACP needs a host that can write to the agent's stdin at any time (ABI 1.2, send_input)");
  if (rhk_config_find(kit, "mode", &v) == RH_OK &&
      (rh_json_string_dup(v, &s->mode, &len) != RH_OK || strlen(s->mode) != len || !len))
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"mode\" must be a session mode id (a string)");
  /* fs/...: off unless asked for. Agents then use their own file tools on the device, as under every
   * other runtime; some (Gemini CLI 0.61) cannot tell a missing file from another error through
   * a client's fs, so serving it breaks creating files. */
  if (rhk_config_find(kit, "fs", &v) == RH_OK && rh_json_bool(v, &s->fs) != RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"fs\" must be true or false");
  /* terminal/...: offered where the device can run the agent's commands, unless turned off. */
  s->terminal = true;
  if (rhk_config_find(kit, "terminal", &v) == RH_OK && rh_json_bool(v, &s->terminal) != RH_OK)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT, "config \"terminal\" must be true or false");
  if (kit->constraints.max_turns > 0 || kit->constraints.max_budget_usd > 0)
    return rhk_fail(kit, RH_ERR_INVALID_ARGUMENT,
                    "ACP has no turn or spending limit: \"max_turns\" and \"max_budget_usd\" cannot be enforced");
  return RH_OK;
}

/* ---- The adapter --------------------------------------------------------------------------- */

static rh_status acp_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->reply);
  rh_json_buffer_init(&s->out);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->extra);
  acp_terminals_init(s);
  return read_options(s);
}

static void acp_close(rh_runtime_session *s) {
  size_t i;
  free(s->mode);
  for (i = 0; i < ACP_PENDING_MAX; i++) free(s->pending[i].rpc_id);
  rh_json_buffer_free(&s->reply);
  rh_json_buffer_free(&s->out);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->extra);
  acp_terminals_free(s);
}

static rh_status acp_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rhk_session *kit = &s->kit;
  rhk_strings command;
  rhk_argv argv = {NULL, 0, 0};
  rh_json_buffer stdin_text;
  size_t i;
  rh_status status = read_command(s, &command);
  rh_json_buffer_init(&stdin_text);
  if (status == RH_OK && command.count > 0) {
    for (i = 0; i < command.count && status == RH_OK; i++) status = rhk_argv_addz(kit, &argv, command.items[i]);
  } else if (status == RH_OK) {
    /* No command: the preset's program, or for acp a name no device has, so the run fails
     * runtime_not_found with the hint to set "command". */
    status = rhk_launch_begin(kit, &argv);
    for (i = 0; i + 1 <= (size_t)ACP_DEFAULT_ARGS && status == RH_OK; i++)
      status = rhk_argv_addz(kit, &argv, k_default_args[i]);
  }
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  if (status == RH_OK) status = acp_write_initialize(s, &stdin_text);
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, NULL, 0, rhk_str(stdin_text.data, stdin_text.len), true, spec_out);
  for (i = 0; i < command.count; i++) free(command.items[i]);
  free(command.items);
  rhk_argv_free(&argv);
  rh_json_buffer_free(&stdin_text);
  return status;
}

static rh_status acp_respond(rh_runtime_session *s, rh_str decision_json, const rh_writer *input_out) {
  return acp_answer_permission(s, decision_json, input_out);
}

/* Before the terminal event: terminal lines still held for a tool call go out without one. */
static rh_status acp_decide(rh_runtime_session *s, const rh_exit *exit) {
  (void)exit;
  acp_terminals_flush(s);
  return RH_OK;
}

/* The prompt's response ends the run (acp_lines.c holds it); an agent that exits before it is
 * the kit's no_result, with its last stderr line. */
static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER_CANCELLABLE(RH_PROTOCOL_JSONRPC, RH_RUNTIME_CAP_RESUME | RH_RUNTIME_CAP_APPROVALS,
                                           acp_launch, acp_respond, acp_cancel),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = acp_open,
    .close = acp_close,
    .decide = acp_decide,
};

RHK_PLUGIN_ENTRY(k_adapter, ACP_ID, ACP_NAME, ACP_VERSION, ACP_DESCRIPTION)
