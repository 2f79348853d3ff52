/* shell.c — reads a command line into simple commands: the storage and the work list.
 *
 * A command line holds more command lines: $(...) and `...` substitutions, <(...), the script
 * of sh -c, eval's arguments, a heredoc fed to a shell, find -exec. Each becomes a source on a
 * queue, read in turn by the lexer (shell_lex.c) after the text that holds it, so nothing
 * recurses: the queue, the nesting depth and the arena that holds every word are all capped,
 * and a line that reaches a cap is read as far as it goes and marked `overflow`.
 *
 * Words live in one arena allocated up front and never moved, so an rk_word's text stays put
 * while the arrays of words and commands grow.
 */
#include "risky.h"

#include <stdlib.h>
#include <string.h>

void rk_script_overflow(rk_script *script, const char *why) {
  if (!script->overflow) script->overflow = why;
}

char *rk_arena_alloc(rk_script *script, size_t len) {
  char *at;
  if (script->arena_cap - script->arena_len < len) {
    rk_script_overflow(script, "the command line and the scripts inside it are too large to read");
    return NULL;
  }
  at = script->arena + script->arena_len;
  script->arena_len += len;
  return at;
}

/* Makes room for one more item; NULL (and `overflow` set) when `max` items are there. */
static void *grow(rk_script *script, void *items, size_t *cap, size_t count, size_t size,
                  size_t max, const char *why) {
  size_t next;
  void *grown;
  if (count < *cap) return items;
  if (count >= max) {
    rk_script_overflow(script, why);
    return NULL;
  }
  next = *cap ? *cap * 2 : 32;
  if (next > max) next = max;
  if (!(grown = realloc(items, next * size))) {
    script->out_of_memory = true;
    rk_script_overflow(script, "out of memory");
    return NULL;
  }
  *cap = next;
  return grown;
}

bool rk_script_enqueue(rk_script *script, const char *text, size_t len, size_t parent,
                       size_t parent_word, rk_origin origin, unsigned depth) {
  rk_source *source;
  if (depth > RK_MAX_DEPTH) {
    rk_script_overflow(script, "scripts are nested too deep to read");
    return false;
  }
  if (script->queue_count == RK_MAX_SOURCES) {
    rk_script_overflow(script, "the command line runs too many scripts and substitutions to read");
    return false;
  }
  source = &script->queue[script->queue_count++];
  source->text = text;
  source->len = len;
  source->parent = parent;
  source->parent_word = parent_word;
  source->origin = origin;
  source->depth = depth;
  return true;
}

size_t rk_script_new_command(rk_script *script, const rk_source *source, size_t pipeline) {
  rk_command *commands = (rk_command *)grow(script, script->commands, &script->command_cap,
                                            script->command_count, sizeof(rk_command),
                                            RK_MAX_COMMANDS, "the command line has too many commands");
  rk_command *command;
  if (!commands) return RK_NO_WORD;
  script->commands = commands;
  command = &commands[script->command_count];
  memset(command, 0, sizeof *command);
  command->first_word = script->word_count;
  command->first_target = script->target_count;
  command->program = 0;
  command->privileged = RK_NO_WORD;
  command->parent = source->parent;
  command->parent_word = source->parent_word;
  command->origin = source->origin;
  command->depth = source->depth;
  command->pipeline = pipeline;
  return script->command_count++;
}

/* Words and targets of a command are contiguous, so only the newest command may gain them. */
bool rk_script_push_word(rk_script *script, size_t command, rk_word word) {
  rk_word *words;
  if (command + 1 != script->command_count) return false;
  words = (rk_word *)grow(script, script->words, &script->word_cap, script->word_count,
                          sizeof(rk_word), RK_MAX_WORDS, "the command line has too many words");
  if (!words) return false;
  script->words = words;
  words[script->word_count++] = word;
  script->commands[command].word_count++;
  return true;
}

bool rk_script_push_target(rk_script *script, size_t command, rk_word word) {
  rk_word *targets;
  if (command + 1 != script->command_count) return false;
  targets = (rk_word *)grow(script, script->targets, &script->target_cap, script->target_count,
                            sizeof(rk_word), RK_MAX_TARGETS, "the command line has too many redirects");
  if (!targets) return false;
  script->targets = targets;
  targets[script->target_count++] = word;
  script->commands[command].target_count++;
  return true;
}

rh_status rk_script_parse(rk_script *script, const char *text, size_t len) {
  size_t cap;
  memset(script, 0, sizeof *script);
  /* Each reading copies at most its text plus a NUL per word; eight times the line covers a
   * few levels of sh -c "$(...)" before the cap turns the rest into `overflow`. */
  cap = len > (RK_MAX_ARENA_BYTES - 4096) / 8 ? RK_MAX_ARENA_BYTES : 8 * len + 4096;
  if (!(script->arena = (char *)malloc(cap))) return RH_ERR_NO_MEMORY;
  script->arena_cap = cap;
  rk_script_enqueue(script, text, len, RK_NO_WORD, RK_NO_WORD, RK_ORIGIN_TOP, 0);
  while (script->queue_head < script->queue_count && !script->out_of_memory) {
    rk_source source = script->queue[script->queue_head++];
    size_t i = script->command_count;
    rk_lex(script, &source);
    /* rk_unwrap may append commands (find -exec): they are unwrapped in this loop too. */
    for (; i < script->command_count && !script->out_of_memory; i++) rk_unwrap(script, i);
  }
  return script->out_of_memory ? RH_ERR_NO_MEMORY : RH_OK;
}

void rk_script_free(rk_script *script) {
  free(script->arena);
  free(script->words);
  free(script->targets);
  free(script->commands);
  memset(script, 0, sizeof *script);
}
