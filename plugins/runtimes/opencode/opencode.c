/* opencode: the runtime adapter for the OpenCode CLI (npm opencode-ai), run headless.
 *
 *   opencode run --format=json [--thinking] [--model=P/M] [--agent=A] [--variant=V] [--auto]
 *                [--session=ID] [config args...]
 *   stdin: PROMPT, then closed
 *   env:   OPENCODE_DISABLE_AUTOUPDATE=1, [OPENCODE_CONFIG], [OPENCODE_CONFIG_CONTENT],
 *          [OPENCODE_PERMISSION], then the config's "env"
 *
 * The prompt goes to stdin, verbatim, and never into argv: `opencode run` reads its stdin when it
 * is not a terminal and, with no message argument, sends exactly that text. In argv it would be
 * parsed for options (a leading "-"), wrapped in quotes when it holds a space (the CLI joins its
 * message words that way), and limited to 128 KiB. Options that take a value are written
 * `--name=value`, one argument each, so a value starting with '-' is never another option.
 *
 * The policy's constraints become opencode's own permission rules and agent settings, passed in
 * the environment (opencode_options.c); the output is mapped line by line (opencode_lines.c) and
 * the ending decided at exit, since opencode prints no result line (opencode_ending.c).
 * docs/runtimes/opencode.md has the tables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opencode.h"

#define OPENCODE_VERSION "0.1.0"

static const rhk_runtime_info k_info = {
    "opencode",
    "opencode",
    "OpenCode",
    "install OpenCode on the device: npm install -g opencode-ai (in a runhost checkout: "
    "scripts/install-runtimes), or set \"executable\" in the opencode plugin config",
    "opencode",
    RHK_DEFAULT_LINE_LIMIT,
    true, /* a run that ends well ends with a finished step: exiting 0 without one is no_result */
    opencode_on_stdout_line,
    opencode_on_stderr_line,
};

static rh_status opencode_open(rh_runtime_session *s) {
  rh_json_buffer_init(&s->result);
  rh_json_buffer_init(&s->error_message);
  rh_json_buffer_init(&s->error_line);
  rh_json_buffer_init(&s->extra);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->build);
  return opencode_read_options(s);
}

static void opencode_close(rh_runtime_session *s) {
  opencode_free_options(&s->options);
  rh_json_buffer_free(&s->result);
  rh_json_buffer_free(&s->error_message);
  rh_json_buffer_free(&s->error_line);
  rh_json_buffer_free(&s->extra);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->build);
}

static rh_status opencode_launch(rh_runtime_session *s, const rh_writer *spec_out) {
  rhk_session *kit = &s->kit;
  const char *env[8];
  size_t env_count = opencode_option_env(s, env);
  rhk_argv argv;
  rh_status status = rhk_launch_begin(kit, &argv);
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "run");
  if (status == RH_OK) status = rhk_argv_addz(kit, &argv, "--format=json");
  if (status == RH_OK) status = opencode_add_option_flags(s, &argv);
  if (status == RH_OK && kit->resume_id)
    status = rhk_argv_add_joined(kit, &argv, "--session=", kit->resume_id, strlen(kit->resume_id));
  if (status == RH_OK) status = rhk_launch_add_config_args(kit, &argv);
  if (status == RH_OK)
    status = rhk_launch_write(kit, &argv, env, env_count, rhk_str(kit->prompt, kit->prompt_len), false, spec_out);
  rhk_argv_free(&argv);
  return status;
}

/* opencode run rejects what it would ask for; live approvals need `opencode acp`. */
static const rhk_adapter k_adapter = {
    .abi = RHK_RUNTIME_ADAPTER(RH_PROTOCOL_LINES, RH_RUNTIME_CAP_RESUME, opencode_launch, NULL),
    .info = &k_info,
    .session_size = sizeof(rh_runtime_session),
    .open = opencode_open,
    .close = opencode_close,
    .decide = opencode_decide,
};

RHK_PLUGIN_ENTRY(k_adapter, "opencode", "OpenCode", OPENCODE_VERSION,
                 "Runs the OpenCode CLI headless (opencode run --format json) and maps its output to unified events.")
