/* command_line.c — judges a whole shell command line: each simple command in it (at any depth:
 * inside $(...), sh -c, eval...), the downloads piped or substituted into an interpreter
 * (pipe_to_shell), the directories it cd's into, and the operator's extra command rules.
 */
#include "risky.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* What a command does with downloaded text, worked out over the whole line. */
enum {
  EMITS_DOWNLOAD = 1, /* its output holds something downloaded: curl x, echo $(curl x) */
  FED_DOWNLOAD = 2,   /* one of its words holds a download: sh -c "$(curl x)", bash <(curl x) */
  RUNS_DOWNLOAD = 4   /* its program is a download: $(curl x) */
};

/* Past this, a text is too long to hand to fnmatch(3) without risking a long backtrack. */
enum { EXTRA_TEXT_MAX = 8192 };

/* Children always come after their parent (they are read from the queue later), so one pass
 * from the end carries every mark up to the top. */
static void mark_downloads(const rk_script *script, unsigned *marks) {
  size_t i = script->command_count;
  while (i-- > 0) {
    const rk_command *c = &script->commands[i];
    rk_view view;
    if (rk_view_of(script, i, &view) && rk_name_in(view.program, rk_downloaders)) marks[i] |= EMITS_DOWNLOAD;
    if (!(marks[i] & EMITS_DOWNLOAD) || c->parent == RK_NO_WORD) continue;
    marks[c->parent] |= EMITS_DOWNLOAD;
    if (c->origin != RK_ORIGIN_SUBST) continue;
    marks[c->parent] |= FED_DOWNLOAD;
    if (c->parent_word == script->commands[c->parent].program) marks[c->parent] |= RUNS_DOWNLOAD;
  }
}

/* Whether command i runs something downloaded; *source is then the command that downloads it
 * when it is piped in (curl x | sh), else i. */
static bool runs_download(const rk_script *script, const unsigned *marks, size_t i, const rk_view *view,
                          size_t *source) {
  bool interpreter;
  size_t j;
  *source = i;
  if (marks[i] & RUNS_DOWNLOAD) return true;
  if (!view) return false;
  interpreter = rk_name_in(view->program, rk_shells) || rk_name_in(view->program, rk_interpreters);
  if ((interpreter || rk_name_in(view->program, RK_LIST("eval", "source", "."))) && (marks[i] & FED_DOWNLOAD))
    return true;
  if (!interpreter || !rk_reads_program_from_stdin(view)) return false;
  /* The commands of one pipeline are consecutive: look back along it for a download. */
  for (j = i; j-- > 0 && script->commands[j].pipeline == script->commands[i].pipeline;)
    if (marks[j] & EMITS_DOWNLOAD) return *source = j, true;
  return false;
}

static void note_pipe_to_shell(rk_context *context, const rk_script *script, size_t source, size_t i,
                               const char *subject, size_t subject_len) {
  char piped[RK_SUBJECT_MAX + 4];
  size_t len;
  if (source == i) {
    rk_note(context->verdict, RK_PIPE_TO_SHELL, "runs a downloaded script", "", subject, subject_len);
    return;
  }
  len = rk_command_text(script, source, 0, piped, sizeof piped - 3); /* "curl x | sh" */
  memcpy(piped + len, " | ", 3);
  len += 3;
  len += rk_command_text(script, i, 0, piped + len, sizeof piped - len);
  rk_note(context->verdict, RK_PIPE_TO_SHELL, "runs a downloaded script", "", piped, len);
}

/* python -m pip install x is pip install x. */
static const rk_view *module_view(const rk_view *view, rk_view *module) {
  const rk_word *name;
  const char *slash;
  if (!rk_name_in(view->program, RK_LIST("python", "python2", "python3", "python3.*")) || view->argc < 3 ||
      !rk_word_is(&view->argv[1], "-m"))
    return view;
  name = &view->argv[2];
  *module = *view;
  module->argv = view->argv + 2;
  module->argc = view->argc - 2;
  slash = strrchr(name->text, '/');
  module->program[0] = '\0';
  if (!(name->flags & RK_WORD_DYNAMIC) && !slash && name->len < sizeof module->program)
    memcpy(module->program, name->text, name->len + 1);
  return module;
}

/* The command from its program on, the program by its basename: "make -n all". */
static char *program_line(const rk_view *view) {
  size_t i, len = strlen(view->program) + 1;
  char *line, *at;
  for (i = 1; i < view->argc; i++) len += view->argv[i].len + 1;
  if (!(line = (char *)malloc(len))) return NULL;
  at = line + strlen(view->program);
  memcpy(line, view->program, (size_t)(at - line));
  for (i = 1; i < view->argc; i++) {
    *at++ = ' ';
    memcpy(at, view->argv[i].text, view->argv[i].len);
    at += view->argv[i].len;
  }
  *at = '\0';
  return line;
}

static bool has_extra_commands(const rk_config *config) {
  size_t i;
  for (i = 0; i < config->extra_count; i++)
    if (config->extra[i].command_count > 0) return true;
  return false;
}

void rk_judge_extra_commands(rk_context *context, const char *text, const char *subject, size_t subject_len) {
  const rk_config *config = context->config;
  size_t i, j;
  if (!has_extra_commands(config)) return;
  if (strlen(text) > EXTRA_TEXT_MAX) {
    rk_note_unjudgeable(context->verdict, "a command is too long to match against the extra rules");
    return;
  }
  for (i = 0; i < config->extra_count; i++) {
    for (j = 0; j < config->extra[i].command_count; j++) {
      if (fnmatch(config->extra[i].commands[j], text, 0) == 0) {
        rk_note(context->verdict, RK_RULE_COUNT + i, config->extra[i].reason, "", subject, subject_len);
        break;
      }
    }
  }
}

static rh_status follow_cd(rk_context *context, const rk_view *view) {
  size_t operand;
  if (strcmp(view->program, "popd") == 0) return rk_dirs_cd(&context->dirs, "", 0, false);
  if (!rk_name_in(view->program, RK_LIST("cd", "pushd"))) return RH_OK;
  operand = rk_nth_operand(view, 1, 0, NULL, NULL);
  if (operand == view->argc) return rk_dirs_cd(&context->dirs, "", 0, false); /* cd: home */
  return rk_dirs_cd(&context->dirs, view->argv[operand].text, view->argv[operand].len,
                    (view->argv[operand].flags & RK_WORD_DYNAMIC) != 0);
}

static rh_status judge_command(rk_context *context, const rk_script *script, const unsigned *marks, size_t i) {
  const rk_command *c = &script->commands[i];
  char subject[RK_SUBJECT_MAX + 4];
  size_t subject_len = rk_command_text(script, i, 0, subject, sizeof subject), t;
  rk_view view, module;
  size_t source;
  const rk_view *judged = rk_view_of(script, i, &view) ? module_view(&view, &module) : NULL;
  bool changes = false;
  char *line = NULL, *whole = NULL;
  rh_status status = RH_OK;
  for (t = 0; t < c->target_count; t++) {
    const rk_word *target = &script->targets[c->first_target + t];
    if (rk_path_is_sink(target->text, target->len)) continue;
    changes = true; /* echo x > file */
    rk_match_written_word(context, target, subject, subject_len);
  }
  if (c->privileged != RK_NO_WORD)
    rk_note(context->verdict, RK_SUDO, "runs with elevated privileges", "", subject, subject_len);
  if (runs_download(script, marks, i, judged, &source))
    note_pipe_to_shell(context, script, source, i, subject, subject_len);
  if (judged) {
    if (!(line = program_line(judged))) return RH_ERR_NO_MEMORY;
    if (judged->program[0]) rk_match_command(context, judged, subject, subject_len);
    changes = changes || !rk_command_read_only(context->config, judged, line);
    status = follow_cd(context, judged);
    rk_judge_extra_commands(context, line, subject, subject_len);
  }
  if (status == RH_OK && c->word_count > 0 && has_extra_commands(context->config)) { /* sudo psql prod */
    if (!(whole = rk_command_join(script, i, 0))) status = RH_ERR_NO_MEMORY;
    else if (!line || strcmp(whole, line) != 0) rk_judge_extra_commands(context, whole, subject, subject_len);
  }
  if (changes) rk_note_change(context->verdict, subject, subject_len);
  free(line);
  free(whole);
  return status;
}

/* The extra rules also see the line as written: "*| sh" matches `curl x | sh`. */
static rh_status judge_whole_line(rk_context *context, const char *text, size_t len) {
  char *copy;
  if (!has_extra_commands(context->config)) return RH_OK;
  if (!(copy = (char *)malloc(len + 1))) return RH_ERR_NO_MEMORY;
  memcpy(copy, text, len);
  copy[len] = '\0';
  rk_judge_extra_commands(context, copy, copy, len);
  free(copy);
  return RH_OK;
}

rh_status rk_judge_command_line(rk_context *context, const char *text, size_t len) {
  rk_script script;
  unsigned *marks = NULL;
  size_t i;
  rh_status status;
  if (len > RK_MAX_COMMAND_BYTES) { /* judge what fits; the rest makes it unjudgeable */
    rk_note_unjudgeable(context->verdict, "the command is longer than the 65536 bytes this policy reads");
    len = RK_MAX_COMMAND_BYTES;
  }
  status = rk_script_parse(&script, text, len);
  if (status == RH_OK && script.overflow) rk_note_unjudgeable(context->verdict, script.overflow);
  if (status == RH_OK && !(marks = (unsigned *)calloc(script.command_count + 1, sizeof *marks)))
    status = RH_ERR_NO_MEMORY;
  if (status == RH_OK) {
    mark_downloads(&script, marks);
    for (i = 0; i < script.command_count && status == RH_OK; i++) status = judge_command(context, &script, marks, i);
  }
  if (status == RH_OK) status = judge_whole_line(context, text, len);
  free(marks);
  rk_script_free(&script);
  return status;
}
