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

static void free_session(rh_runtime_session *s) {
  rhk_session_free(&s->kit);
  opencode_free_options(&s->options);
  rh_json_buffer_free(&s->result);
  rh_json_buffer_free(&s->error_message);
  rh_json_buffer_free(&s->error_line);
  rh_json_buffer_free(&s->extra);
  rh_json_buffer_free(&s->text);
  rh_json_buffer_free(&s->build);
  free(s);
}

static const rh_host *g_host; /* for failures before a session has its own */

static rh_status opencode_create(const rh_runtime_adapter *self, const rh_runtime_context *ctx,
                                 rh_runtime_session **out) {
  rh_runtime_session *s;
  rh_status status;
  (void)self;
  if (!(s = (rh_runtime_session *)calloc(1, sizeof *s))) {
    const rh_host *host = ctx->host ? ctx->host : g_host;
    rh_str m = RH_STR_LIT("opencode: out of memory");
    if (host) host->set_error(host, m);
    return RH_ERR_NO_MEMORY;
  }
  rh_json_buffer_init(&s->result);
  rh_json_buffer_init(&s->error_message);
  rh_json_buffer_init(&s->error_line);
  rh_json_buffer_init(&s->extra);
  rh_json_buffer_init(&s->text);
  rh_json_buffer_init(&s->build);
  if ((status = rhk_session_init(&s->kit, &k_info, ctx)) != RH_OK || (status = opencode_read_options(s)) != RH_OK) {
    free_session(s);
    return status;
  }
  *out = s;
  return RH_OK;
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

static rh_status opencode_feed(rh_runtime_session *s, rh_stream stream, const char *data, size_t len) {
  return rhk_feed(&s->kit, stream, data, len);
}

static rh_status opencode_finish(rh_runtime_session *s, const rh_exit *exit) {
  rh_status flushed, decided, status;
  if (s->kit.finished) return rhk_finish(&s->kit, exit); /* the kit refuses a second finish */
  flushed = rhk_flush(&s->kit); /* the ending depends on a last line without its newline */
  decided = opencode_decide(s, exit);
  status = rhk_finish(&s->kit, exit);
  return status != RH_OK ? status : decided != RH_OK ? decided : flushed;
}

static void opencode_destroy(rh_runtime_session *s) { free_session(s); }

static rh_status opencode_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

static void opencode_deinit(void) { g_host = NULL; }

static const rh_runtime_adapter k_adapter = {
    .struct_size = sizeof(rh_runtime_adapter),
    .protocol = RH_PROTOCOL_LINES,
    .capabilities = RH_RUNTIME_CAP_RESUME,
    .create = opencode_create,
    .launch = opencode_launch,
    .feed = opencode_feed,
    .respond = NULL, /* opencode run rejects what it would ask for; live approvals need `opencode acp` */
    .finish = opencode_finish,
    .destroy = opencode_destroy,
};

static const rh_plugin_desc k_desc = {
    .struct_size = sizeof(rh_plugin_desc),
    .kind = RH_PLUGIN_KIND_RUNTIME,
    .id = "opencode",
    .name = "OpenCode",
    .version = OPENCODE_VERSION,
    .vendor = "runhost",
    .description = "Runs the OpenCode CLI headless (opencode run --format json) and maps its output to "
                   "unified events.",
    .iface = {.runtime = &k_adapter},
    .get_extension = NULL,
};

static const rh_plugin_desc *const k_plugins[] = {&k_desc};

static const rh_plugin_entry k_entry = {
    .struct_size = sizeof(rh_plugin_entry),
    .abi = RH_ABI_VERSION_INIT,
    .init = opencode_init,
    .deinit = opencode_deinit,
    .plugin_count = 1,
    .plugins = k_plugins,
};

RH_EXPORT const rh_plugin_entry *runhost_plugin_entry_v1(void) { return &k_entry; }
