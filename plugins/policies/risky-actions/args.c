/* args.c — reading one simple command: its program, its options and operands, its text. */
#include "risky.h"

#include <stdlib.h>
#include <string.h>

size_t rk_lower(const char *text, size_t len, char *out, size_t cap) {
  size_t i;
  if (cap == 0) return 0;
  if (len > cap - 1) len = cap - 1;
  for (i = 0; i < len; i++) out[i] = text[i] >= 'A' && text[i] <= 'Z' ? (char)(text[i] - 'A' + 'a') : text[i];
  out[len] = '\0';
  return len;
}

bool rk_view_of(const rk_script *script, size_t command, rk_view *view) {
  const rk_command *c = &script->commands[command];
  const rk_word *program;
  const char *name, *slash;
  size_t len;
  memset(view, 0, sizeof *view);
  if (c->program >= c->word_count) return false;
  view->script = script;
  view->index = command;
  view->command = c;
  view->argv = &script->words[c->first_word + c->program];
  view->argc = c->word_count - c->program;
  program = &view->argv[0];
  slash = strrchr(program->text, '/');
  name = slash ? slash + 1 : program->text;
  len = strlen(name);
  /* A computed program ($CMD, $(which rm)) or an absurd name stays "": unknown. */
  if (!(program->flags & RK_WORD_DYNAMIC) && len < sizeof view->program) memcpy(view->program, name, len + 1);
  return true;
}

bool rk_name_in(const char *name, const char *const *list) {
  for (; *list; list++) {
    size_t len = strlen(*list);
    if (len > 0 && (*list)[len - 1] == '*' ? strncmp(name, *list, len - 1) == 0 : strcmp(name, *list) == 0)
      return true;
  }
  return false;
}

bool rk_name_in_n(const char *name, size_t len, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == len && memcmp(*list, name, len) == 0) return true;
  return false;
}

bool rk_word_is(const rk_word *word, const char *text) { return strcmp(word->text, text) == 0; }

bool rk_word_in(const rk_word *word, const char *const *list) { return rk_name_in(word->text, list); }

bool rk_short_has(const rk_word *word, char letter) {
  return word->len >= 2 && word->text[0] == '-' && word->text[1] != '-' && letter != '\0' &&
         memchr(word->text + 1, letter, word->len - 1) != NULL;
}

bool rk_has_option(const rk_view *view, size_t from, char letter, const char *name) {
  size_t i, n = name ? strlen(name) : 0;
  for (i = from; i < view->argc; i++) {
    const rk_word *word = &view->argv[i];
    if (rk_word_is(word, "--")) break;
    if (letter && rk_short_has(word, letter)) return true;
    if (name && word->len >= n + 2 && memcmp(word->text, "--", 2) == 0 && memcmp(word->text + 2, name, n) == 0 &&
        (word->len == n + 2 || word->text[n + 2] == '='))
      return true;
  }
  return false;
}

void rk_args_begin(rk_args *args, const rk_view *view, size_t from, const char *short_values,
                   const char *const *long_values) {
  args->view = view;
  args->next = from;
  args->short_values = short_values ? short_values : "";
  args->long_values = long_values;
  args->rest = false;
}

static bool takes_value(const char *const *names, const char *name, size_t len) {
  for (; names && *names; names++)
    if (strlen(*names) == len && memcmp(*names, name, len) == 0) return true;
  return false;
}

bool rk_args_next(rk_args *args, rk_arg *arg) {
  const rk_view *view = args->view;
  const rk_word *word;
  size_t i;
  memset(arg, 0, sizeof *arg);
  while (args->next < view->argc && !args->rest && rk_word_is(&view->argv[args->next], "--")) {
    args->rest = true;
    args->next++;
  }
  if (args->next >= view->argc) return false;
  word = &view->argv[args->next];
  arg->index = args->next++;
  if (args->rest || word->len < 2 || word->text[0] != '-') { /* an operand; "-" is one too */
    arg->value = word->text;
    arg->value_len = word->len;
    return true;
  }
  arg->option = true;
  if (word->text[1] == '-') {
    const char *name = word->text + 2, *eq = (const char *)memchr(name, '=', word->len - 2);
    arg->name = name;
    arg->name_len = eq ? (size_t)(eq - name) : word->len - 2;
    if (eq) {
      arg->value = eq + 1;
      arg->value_len = word->len - (size_t)(eq + 1 - word->text);
    } else if (takes_value(args->long_values, name, arg->name_len) && args->next < view->argc) {
      arg->value = view->argv[args->next].text;
      arg->value_len = view->argv[args->next++].len;
    }
    return true;
  }
  for (i = 1; i < word->len; i++) {
    if (word->text[i] == '\0' || !strchr(args->short_values, word->text[i])) continue;
    arg->letter = word->text[i];
    if (i + 1 < word->len) {
      arg->value = word->text + i + 1;
      arg->value_len = word->len - i - 1;
    } else if (args->next < view->argc) {
      arg->value = view->argv[args->next].text;
      arg->value_len = view->argv[args->next++].len;
    }
    break;
  }
  return true;
}

bool rk_arg_named(const rk_arg *arg, char letter, const char *name) {
  if (letter && arg->letter == letter) return true;
  return name && arg->name && arg->name_len == strlen(name) && memcmp(arg->name, name, arg->name_len) == 0;
}

size_t rk_nth_operand(const rk_view *view, size_t from, size_t n, const char *short_values,
                      const char *const *long_values) {
  rk_args args;
  rk_arg arg;
  rk_args_begin(&args, view, from, short_values, long_values);
  while (rk_args_next(&args, &arg))
    if (!arg.option && n-- == 0) return arg.index;
  return view->argc;
}

size_t rk_git_subcommand(const rk_view *view) {
  static const char *const long_values[] = {"git-dir", "work-tree", "namespace", "super-prefix", "config-env", NULL};
  return rk_nth_operand(view, 1, 0, "Cc", long_values);
}

/* Appends `text` to out[0, *len), keeping room for "..." and the NUL; false once it is full. */
static bool append(char *out, size_t cap, size_t *len, const char *text, size_t n) {
  size_t room = cap - 4 - *len;
  bool fits = n <= room;
  memcpy(out + *len, text, fits ? n : room);
  *len += fits ? n : room;
  return fits;
}

size_t rk_command_text(const rk_script *script, size_t command, size_t from, char *out, size_t cap) {
  const rk_command *c = &script->commands[command];
  size_t i, len = 0;
  bool fits = true;
  if (cap < 8) return 0;
  for (i = from; i < c->word_count && fits; i++) {
    const rk_word *word = &script->words[c->first_word + i];
    fits = (len == 0 || append(out, cap, &len, " ", 1)) && append(out, cap, &len, word->text, word->len);
  }
  for (i = 0; i < c->target_count && fits; i++) { /* echo x > file: the file is what matters */
    const rk_word *target = &script->targets[c->first_target + i];
    fits = append(out, cap, &len, len == 0 ? "> " : " > ", len == 0 ? 2 : 3) &&
           append(out, cap, &len, target->text, target->len);
  }
  if (!fits) { /* end between whole characters, then say it was cut */
    while (len > 0 && ((unsigned char)out[len - 1] & 0xC0) == 0x80) len--;
    if (len > 0 && (unsigned char)out[len - 1] >= 0xC0) len--;
    memcpy(out + len, "...", 3);
    len += 3;
  }
  out[len] = '\0';
  return len;
}

char *rk_command_join(const rk_script *script, size_t command, size_t from) {
  const rk_command *c = &script->commands[command];
  size_t i, len = 1;
  char *text, *at;
  for (i = from; i < c->word_count; i++) len += script->words[c->first_word + i].len + 1;
  if (!(text = (char *)malloc(len))) return NULL;
  for (at = text, i = from; i < c->word_count; i++) {
    const rk_word *word = &script->words[c->first_word + i];
    if (at != text) *at++ = ' ';
    memcpy(at, word->text, word->len);
    at += word->len;
  }
  *at = '\0';
  return text;
}

bool rk_verb_among_operands(const rk_view *view, const char *const *verbs, size_t limit) {
  rk_args args;
  rk_arg arg;
  rk_args_begin(&args, view, 1, NULL, NULL);
  while (limit > 0 && rk_args_next(&args, &arg)) {
    if (arg.option) continue;
    if (rk_word_in(&view->argv[arg.index], verbs)) return true;
    limit--;
  }
  return false;
}
