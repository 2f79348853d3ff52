/* read_only.c — which simple commands change nothing (for approvalPolicy "manual").
 *
 * Under manual every action that changes state asks, so this list is the set of commands that
 * may run without asking: they read, list, search or print. Anything not listed changes state,
 * including every program this file has never heard of. A redirect to a file changes state
 * whatever the program (command_line.c judges redirects). Operators extend the list with
 * "read_only_commands".
 */
#include "risky.h"

#include <string.h>

/* Read-only whatever their arguments. */
static const char *const k_read_only[] = {
    "ls", "dir", "vdir", "cat", "head", "tail", "less", "more", "grep", "egrep", "fgrep", "rg", "ag", "ack", "pwd",
    "echo", "printf", "wc", "stat", "file", "which", "whereis", "type", "tree", "du", "df", "diff", "cmp", "comm",
    "date", "whoami", "id", "groups", "uname", "printenv", "env", "cd", "pushd", "popd", "true", "false", ":",
    "test", "[", "[[", "sleep", "exit", "return", "export", "unset", "local", "declare", "typeset", "readonly",
    "read", "set", "shopt", "alias", "jq", "base64", "md5sum", "sha1sum", "sha256sum", "sha512sum", "cksum",
    "b2sum", "realpath", "readlink", "dirname", "basename", "nl", "cut", "tr", "column", "fmt", "fold", "paste",
    "rev", "strings", "od", "hexdump", "tac", "join", "seq", "expr", "bat", "batcat", "man", "help", "locale", "ps",
    "pgrep", "free", "uptime", "nproc", "lsof", "history", "fd", "fdfind", "look", "zcat", "zgrep", "bzcat",
    "xzcat", "lsblk", "getconf", "tput", "wait", "jobs", "whatis", "apropos", "cal", "arch", "tty",
    "hash", NULL};

/* git subcommands that only read the repository. */
static const char *const k_git_read_only[] = {
    "status", "log", "diff", "show", "blame", "rev-parse", "ls-files", "ls-tree", "describe", "grep",
    "shortlog", "cat-file", "rev-list", "name-rev", "whatchanged", "show-ref", "merge-base", "for-each-ref",
    "count-objects", "check-ignore", "var", "help", "version", NULL};

static size_t operand_count(const rk_view *view, size_t from) {
  size_t n = 0;
  while (rk_nth_operand(view, from, n, NULL, NULL) < view->argc) n++;
  return n;
}

/* git branch, tag, remote, stash, config, reflog: read-only in their listing forms. */
static bool git_read_only(const rk_view *view) {
  size_t sub = rk_git_subcommand(view), first;
  const rk_word *verb, *what;
  if (sub == view->argc) return true; /* git, git --version */
  verb = &view->argv[sub];
  first = rk_nth_operand(view, sub + 1, 0, NULL, NULL);
  what = first < view->argc ? &view->argv[first] : NULL;
  if (rk_word_in(verb, k_git_read_only)) return true;
  if (rk_word_is(verb, "branch"))
    return !what && !rk_has_option(view, sub + 1, 'd', "delete") && !rk_has_option(view, sub + 1, 'D', NULL) &&
           !rk_has_option(view, sub + 1, 'm', "move") && !rk_has_option(view, sub + 1, 'M', NULL) &&
           !rk_has_option(view, sub + 1, 'c', "copy") && !rk_has_option(view, sub + 1, 'C', NULL) &&
           !rk_has_option(view, sub + 1, 'u', "set-upstream-to") && !rk_has_option(view, sub + 1, 0, "unset-upstream") &&
           !rk_has_option(view, sub + 1, 0, "edit-description");
  if (rk_word_is(verb, "tag"))
    return (!what || rk_has_option(view, sub + 1, 'l', "list")) && !rk_has_option(view, sub + 1, 'd', "delete");
  if (rk_word_is(verb, "remote")) return !what || rk_word_in(what, RK_LIST("show", "get-url"));
  if (rk_word_is(verb, "stash")) return what && rk_word_in(what, RK_LIST("list", "show"));
  if (rk_word_is(verb, "reflog")) return !what || rk_word_is(what, "show");
  if (rk_word_is(verb, "config"))
    return rk_has_option(view, sub + 1, 'l', "list") || rk_has_option(view, sub + 1, 0, "get") ||
           rk_has_option(view, sub + 1, 0, "get-all") || rk_has_option(view, sub + 1, 0, "get-regexp");
  return false;
}

/* Programs read-only unless one of their options writes. */
static bool conditionally_read_only(const rk_view *view) {
  const char *program = view->program;
  if (strcmp(program, "git") == 0) return git_read_only(view);
  if (strcmp(program, "find") == 0) /* -exec and -ok: their commands are judged on their own */
    return !rk_verb_among_operands(view, RK_LIST("-delete", "-fprint", "-fprint0", "-fprintf", "-fls"), SIZE_MAX) &&
           !rk_has_option(view, 1, 0, "delete");
  if (strcmp(program, "sort") == 0) return !rk_has_option(view, 1, 'o', "output");
  if (strcmp(program, "sed") == 0) return !rk_has_option(view, 1, 'i', "in-place");
  if (strcmp(program, "yq") == 0) return !rk_has_option(view, 1, 'i', "inplace");
  if (rk_name_in(program, RK_LIST("uniq", "xxd"))) return operand_count(view, 1) <= 1; /* uniq in out writes out */
  if (strcmp(program, "hostname") == 0) return operand_count(view, 1) == 0;
  return false;
}

/* "make -n" matches "make -n" and "make -n all", not "make -nx". */
static bool configured(const rk_config *config, const char *line) {
  size_t i;
  for (i = 0; i < config->read_only_command_count; i++) {
    const char *prefix = config->read_only_commands[i];
    size_t n = strlen(prefix);
    if (strncmp(line, prefix, n) == 0 && (line[n] == '\0' || line[n] == ' ')) return true;
  }
  return false;
}

bool rk_command_read_only(const rk_config *config, const rk_view *view, const char *line) {
  if (view->command->flags & RK_CMD_TRANSPARENT) return true; /* sh -c '...': its commands decide */
  if (view->program[0] == '\0') return false;
  if (view->argc == 2 && (rk_word_is(&view->argv[1], "--version") || rk_word_is(&view->argv[1], "--help")))
    return true;
  return configured(config, line) || rk_name_in(view->program, k_read_only) || conditionally_read_only(view);
}
