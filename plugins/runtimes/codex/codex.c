/* codex: the runtime adapter for OpenAI's Codex CLI, run headless.
 *
 *   codex exec --json [config args...] [--skip-git-repo-check] --sandbox=MODE [--model=M]
 *              [--disable shell_tool] [-c web_search="disabled"] [-c ...] [resume -- THREAD_ID] -
 *   stdin: the prompt, then closed
 *
 * The prompt travels on stdin: `codex exec` reads it there when the prompt argument is "-". So
 * whatever it holds (a leading "-", newlines, U+0000, megabytes) it is data, never an option, and
 * no argv size limit applies. A resume names the thread after "--", so an id can never be read as
 * an option either (codex_options.c accepts UUIDs only). The policy's constraints become the
 * sandbox mode and the tools codex turns off (codex_options.c); the output is mapped line by line
 * in codex_lines.c, and its error wording typed in codex_errors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codex.h"

#define CODEX_VERSION "0.1.0"

static const rhk_runtime_info k_info = {
    "codex",
    "codex",
    "Codex",
    "install the Codex CLI on the device: npm install -g @openai/codex (in a runhost checkout: "
    "scripts/install-runtimes), or set \"executable\" in the codex plugin config",
    "openai",
    RHK_DEFAULT_LINE_LIMIT,
    true, /* a turn always ends with turn.completed or turn.failed */
    codex_on_stdout_line,
    codex_on_stderr_line,
};

static rh_status codex_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->final_message);
  rh_json_buffer_init(&s->last_error_line);
  rh_json_buffer_init(&s->extra);
  rh_json_buffer_init(&s->terminal);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->build);
  return codex_read_options(s);
}

static void codex_close(rh_runtime_session *s) {
  codex_free_options(&s->options);
  rh_json_buffer_free(&s->final_message);
  rh_json_buffer_free(&s->last_error_line);
  rh_json_buffer_free(&s->extra);
  rh_json_buffer_free(&s->terminal);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->build);
}

static rh_status codex_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rhk_session *kit = &s->kit;
  rhk_argv argv;
  rh_status status = rhk_launch_begin(kit, &argv);
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "exec");
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "--json");
  /* The operator's args first: the flags the constraints imply come later and win. */
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  if (status == RH_OK) status = codex_add_option_flags(s, &argv);
  if (status == RH_OK && kit->resume_id) {
    status = rhk_argv_addz(kit, &argv, "resume");
    if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "--");
    if (status == RH_OK) status = rhk_argv_addz(kit, &argv, kit->resume_id);
  }
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "-"); /* the prompt: read it from stdin */
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, NULL, 0, rhk_str(kit->prompt, kit->prompt_len), false, spec_out);
  rhk_argv_free(&argv);
  return status;
}

/* A run that exited non-zero without a turn result, after codex said why: that error is the
 * failure (a resume of a thread that does not exist, a config codex cannot load, a model error
 * before the turn could fail). Without one, the kit says what the exit implies. */
static rh_status codex_decide(rh_runtime_session *s, const rh_exit *exit) {
  if (s->kit.outcome != RHK_OUTCOME_NONE || !s->last_error[0] || exit->kind != RH_EXIT_EXITED || exit->code == 0)
    return RH_OK;
  return codex_hold_failure(s, rhk_cstr(s->last_error),
                            s->last_error_stream == RH_STREAM_STDERR ? RHK_FAIL_RUNTIME : RHK_FAIL_MODEL_API,
                            rhk_str(s->last_error_line.data, s->last_error_line.len));
}

/* `codex exec` never asks: its sandbox is the boundary (live approvals are app-server only). */
static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME, codex_launch, NULL),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = codex_open,
    .close = codex_close,
    .decide = codex_decide,
};

RHK_PLUGIN_ENTRY(k_adapter, "codex", "Codex", CODEX_VERSION,
                 "Runs OpenAI's Codex CLI headless (codex exec --json) and maps its output to unified events.")
