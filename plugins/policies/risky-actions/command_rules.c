/* command_rules.c — what one simple command is found to do, rule by rule.
 *
 * Each matcher looks at the program (past wrappers, so `sudo rm` is rm) and its arguments and
 * notes a finding with a phrase for the decision's reason. docs/policy-rules.md lists what each
 * rule matches; keep the two in step.
 */
#include "risky.h"

#include <string.h>

const char *const rk_shells[] = {"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash",
                                 NULL};
const char *const rk_interpreters[] = {"python", "python2", "python3", "python3.*", "perl", "ruby", "node",
                                       "nodejs", "php", "lua", "pwsh", "powershell", "osascript", "deno", "bun",
                                       NULL};
const char *const rk_downloaders[] = {"curl", "wget", "fetch", "http", "https", "xh", "xhs", NULL};

static bool has_word(const rk_view *view, size_t from, const char *text) {
  size_t i;
  for (i = from; i < view->argc; i++)
    if (rk_word_is(&view->argv[i], text)) return true;
  return false;
}

/* ---- delete -------------------------------------------------------------------------------- */

static const char *git_discards(const rk_view *view, size_t sub) {
  const rk_word *verb = &view->argv[sub];
  size_t first = rk_nth_operand(view, sub + 1, 0, NULL, NULL), i;
  if (rk_word_is(verb, "clean") && !rk_has_option(view, sub + 1, 'n', "dry-run")) return "discards untracked files";
  if (rk_word_is(verb, "reset") && has_word(view, sub + 1, "--hard")) return "discards uncommitted changes";
  if (rk_word_is(verb, "checkout") && (has_word(view, sub + 1, "--") || rk_has_option(view, sub + 1, 'f', "force")))
    return "discards uncommitted changes";
  if (rk_word_is(verb, "restore") && !(rk_has_option(view, sub + 1, 'S', "staged") && !rk_has_option(view, sub + 1, 'W', "worktree")))
    return "discards uncommitted changes";
  if (rk_word_is(verb, "branch") && (rk_has_option(view, sub + 1, 'd', "delete") || rk_has_option(view, sub + 1, 'D', NULL)))
    return "deletes git branches";
  if (rk_word_is(verb, "stash") && first < view->argc && rk_word_in(&view->argv[first], RK_LIST("drop", "clear")))
    return "discards stashed changes";
  if (rk_word_is(verb, "push")) {
    if (rk_has_option(view, sub + 1, 'd', "delete")) return "deletes remote git refs";
    for (i = sub + 1; i < view->argc; i++)
      if (view->argv[i].text[0] == ':' && view->argv[i].len > 1) return "deletes remote git refs";
  }
  return NULL;
}

/* DROP TABLE and friends, in a client's arguments or the heredoc it reads. */
static bool drops_tables(const char *text, size_t len) {
  static const char *const statements[] = {"drop table", "drop database", "drop schema", "truncate table", NULL};
  size_t i, j;
  for (i = 0; i < len; i++) {
    for (j = 0; statements[j]; j++) {
      size_t n = strlen(statements[j]), k;
      for (k = 0; k < n && i + k < len && (text[i + k] | 0x20) == (statements[j][k] | 0x20); k++) {}
      if (k == n) return true;
    }
  }
  return false;
}

static void match_delete(rk_context *context, const rk_view *view, const char *subject, size_t subject_len) {
  static const char *const removers[] = {"rm", "rmdir", "unlink", "shred", "srm", "wipe", NULL};
  static const char *const sql_clients[] = {"psql", "mysql", "mariadb", "sqlite3", "sqlcmd", "cockroach",
                                            "clickhouse-client", "duckdb", NULL};
  const char *what = NULL;
  size_t i, sub;
  if (rk_name_in(view->program, removers)) {
    what = "deletes files";
  } else if (strcmp(view->program, "find") == 0 && has_word(view, 1, "-delete")) {
    what = "deletes files";
  } else if (rk_name_in(view->program, RK_LIST("mkfs", "mkfs.*", "wipefs"))) {
    what = "erases a filesystem";
  } else if (strcmp(view->program, "git") == 0 && (sub = rk_git_subcommand(view)) < view->argc) {
    what = git_discards(view, sub);
  } else if (rk_name_in(view->program, RK_LIST("docker", "podman")) &&
             rk_verb_among_operands(view, RK_LIST("rm", "rmi", "prune"), 3)) {
    what = "deletes containers, images or volumes";
  } else if (rk_name_in(view->program, sql_clients)) {
    for (i = 1; i < view->argc && !what; i++)
      if (drops_tables(view->argv[i].text, view->argv[i].len)) what = "drops database tables";
    if (!what && view->command->heredoc && drops_tables(view->command->heredoc, view->command->heredoc_len))
      what = "drops database tables";
  }
  if (what) rk_note(context->verdict, RK_DELETE, what, "", subject, subject_len);
}

/* ---- force_push ------------------------------------------------------------------------- */

static void match_force_push(rk_context *context, const rk_view *view, const char *subject, size_t subject_len) {
  size_t sub, i;
  bool force = false;
  if (strcmp(view->program, "git") != 0 || (sub = rk_git_subcommand(view)) == view->argc ||
      !rk_word_is(&view->argv[sub], "push"))
    return;
  force = rk_has_option(view, sub + 1, 'f', "force") || rk_has_option(view, sub + 1, 0, "force-with-lease") ||
          rk_has_option(view, sub + 1, 0, "force-if-includes") || rk_has_option(view, sub + 1, 0, "mirror");
  for (i = sub + 1; i < view->argc && !force; i++) force = view->argv[i].text[0] == '+'; /* +main: a forced ref */
  if (force) rk_note(context->verdict, RK_FORCE_PUSH, "force-pushes git history", "", subject, subject_len);
}

/* ---- publish_package and deploy: a program and a verb among its first operands --------- */

typedef struct verb_rule {
  const char *program;
  const char *const *verbs; /* NULL: the program alone */
  size_t reach;             /* how many operands to look through */
} verb_rule;

#define PUBLISH RK_LIST("publish")
#define KUBE                                                                                                   \
  RK_LIST("apply", "delete", "create", "replace", "patch", "scale", "rollout", "set", "edit", "run", "expose",     \
       "annotate", "label", "drain", "cordon", "uncordon", "taint", "autoscale")

static const verb_rule k_publishers[] = {
    {"npm", PUBLISH, 3},          {"pnpm", PUBLISH, 3},         {"yarn", PUBLISH, 3},        {"bun", PUBLISH, 3},
    {"twine", RK_LIST("upload"), 3}, {"cargo", PUBLISH, 3},        {"gem", RK_LIST("push"), 3},    {"docker", RK_LIST("push"), 3},
    {"podman", RK_LIST("push"), 3},  {"buildah", RK_LIST("push"), 3}, {"poetry", PUBLISH, 3},      {"flit", PUBLISH, 3},
    {"hatch", PUBLISH, 3},        {"uv", PUBLISH, 3},           {"dotnet", RK_LIST("push"), 3}, {"nuget", RK_LIST("push"), 3},
    {"mvn", RK_LIST("deploy"), SIZE_MAX}, {"gradle", RK_LIST("publish*"), SIZE_MAX}, {"gradlew", RK_LIST("publish*"), SIZE_MAX},
    {"helm", RK_LIST("push"), 3},    {"vsce", PUBLISH, 3},         {"ovsx", PUBLISH, 3},        {"dart", PUBLISH, 3},
    {"flutter", PUBLISH, 3},      {"jsr", PUBLISH, 3},          {"deno", PUBLISH, 3},
};

static const verb_rule k_deployers[] = {
    {"netlify", RK_LIST("deploy"), 3},
    {"fly", RK_LIST("deploy", "launch"), 3},
    {"flyctl", RK_LIST("deploy", "launch"), 3},
    {"kubectl", KUBE, 3},
    {"oc", KUBE, 3},
    {"terraform", RK_LIST("apply", "destroy", "import"), 3},
    {"tofu", RK_LIST("apply", "destroy", "import"), 3},
    {"terragrunt", RK_LIST("apply", "destroy", "run-all"), 3},
    {"helm", RK_LIST("install", "upgrade", "uninstall", "rollback", "delete"), 3},
    {"gcloud", RK_LIST("deploy"), SIZE_MAX},
    {"aws", RK_LIST("deploy", "create-stack", "update-stack", "delete-stack", "update-function-code", "execute-change-set"),
     SIZE_MAX},
    {"az", RK_LIST("deploy", "deployment"), SIZE_MAX},
    {"firebase", RK_LIST("deploy"), 3},
    {"wrangler", RK_LIST("deploy", "publish"), 3},
    {"serverless", RK_LIST("deploy", "remove"), 3},
    {"sls", RK_LIST("deploy", "remove"), 3},
    {"cdk", RK_LIST("deploy", "destroy"), 3},
    {"pulumi", RK_LIST("up", "destroy", "update"), 3},
    {"railway", RK_LIST("up", "deploy"), 3},
    {"docker", RK_LIST("deploy"), 3},
    {"kamal", RK_LIST("deploy", "rollback"), 3},
    {"cap", RK_LIST("deploy"), 3},
    {"eb", RK_LIST("deploy"), 3},
    {"amplify", RK_LIST("publish", "push"), 3},
    {"skaffold", RK_LIST("run", "deploy"), 3},
    {"argocd", RK_LIST("sync"), 3},
    {"vercel", RK_LIST("deploy", "promote", "rollback", "redeploy", "alias"), 3},
    {"surge", NULL, 0},
    {"ansible-playbook", NULL, 0},
};

static bool verb_rule_matches(const verb_rule *rules, size_t count, const rk_view *view) {
  size_t i;
  for (i = 0; i < count; i++) {
    if (strcmp(rules[i].program, view->program) != 0) continue;
    if (!rules[i].verbs || rk_verb_among_operands(view, rules[i].verbs, rules[i].reach)) return true;
  }
  return false;
}

static void match_publish_and_deploy(rk_context *context, const rk_view *view, const char *subject,
                                     size_t subject_len) {
  if (verb_rule_matches(k_publishers, sizeof k_publishers / sizeof k_publishers[0], view))
    rk_note(context->verdict, RK_PUBLISH_PACKAGE, "publishes a package", "", subject, subject_len);
  /* `vercel` and `vercel --prod` deploy; `vercel dev` does not. */
  if (verb_rule_matches(k_deployers, sizeof k_deployers / sizeof k_deployers[0], view) ||
      (strcmp(view->program, "vercel") == 0 && rk_nth_operand(view, 1, 0, NULL, NULL) == view->argc))
    rk_note(context->verdict, RK_DEPLOY, "deploys", "", subject, subject_len);
}

/* ---- sudo and network -------------------------------------------------------------------- */

static void match_sudo_and_network(rk_context *context, const rk_view *view, const char *subject,
                                   size_t subject_len) {
  rk_egress egress;
  if (rk_name_in(view->program, RK_LIST("sudo", "su", "doas", "pkexec", "run0")))
    rk_note(context->verdict, RK_SUDO, "runs with elevated privileges", "", subject, subject_len);
  memset(&egress, 0, sizeof egress);
  rk_command_egress(context->config, view, &egress);
  if (egress.egress) rk_note(context->verdict, RK_NETWORK, "reaches the network", egress.host, subject, subject_len);
}

/* ---- outside_workdir: the paths a program writes ------------------------------------------ */

enum { WRITES_ALL, WRITES_ALL_BUT_FIRST, WRITES_LAST, WRITES_OF, WRITES_IN_PLACE, WRITES_OPTIONS };

typedef struct writer {
  const char *program;
  const char *short_values;
  int operands;                /* which operands it writes (WRITES_*) */
  const char *target_letters;  /* options whose value it writes (cp -t DIR, curl -o FILE) */
  const char *const *target_names;
} writer;

static const char *const k_writer_long[] = {"target-directory", "suffix", "reference", "mode", "owner", "group",
                                            "date", "size", "context", "output", "output-document",
                                            "directory-prefix", "directory", "expression", "file", NULL};

static const writer k_writers[] = {
    {"rm", "", WRITES_ALL, "", NULL},
    {"rmdir", "", WRITES_ALL, "", NULL},
    {"unlink", "", WRITES_ALL, "", NULL},
    {"shred", "ns", WRITES_ALL, "", NULL},
    {"srm", "", WRITES_ALL, "", NULL},
    {"touch", "dtr", WRITES_ALL, "", NULL},
    {"mkdir", "m", WRITES_ALL, "", NULL},
    {"tee", "", WRITES_ALL, "", NULL},
    {"truncate", "sr", WRITES_ALL, "", NULL},
    {"mkfifo", "m", WRITES_ALL, "", NULL},
    {"mknod", "m", WRITES_ALL, "", NULL},
    {"chmod", "", WRITES_ALL_BUT_FIRST, "", NULL},
    {"chown", "", WRITES_ALL_BUT_FIRST, "", NULL},
    {"chgrp", "", WRITES_ALL_BUT_FIRST, "", NULL},
    {"cp", "tS", WRITES_LAST, "t", RK_LIST("target-directory")},
    {"mv", "tS", WRITES_ALL, "t", RK_LIST("target-directory")},
    {"install", "tSmog", WRITES_LAST, "t", RK_LIST("target-directory")},
    {"ln", "tS", WRITES_LAST, "t", RK_LIST("target-directory")},
    {"rsync", "eBfTM", WRITES_LAST, "", NULL},
    {"scp", "cFiJloPS", WRITES_LAST, "", NULL},
    {"dd", "", WRITES_OF, "", NULL},
    {"sed", "efl", WRITES_IN_PLACE, "", NULL},
    {"curl", "AbcCdDeEFHKmoPQrTuUwxXyYz", WRITES_OPTIONS, "o", RK_LIST("output")},
    {"wget", "OoPUtTeiBlQARDwXI", WRITES_OPTIONS, "OP", RK_LIST("output-document", "directory-prefix")},
    {"tar", "CfbHKLNT", WRITES_OPTIONS, "C", RK_LIST("directory")},
    {"unzip", "dx", WRITES_OPTIONS, "d", NULL},
};

/* Judges one written path; remote paths (host:path) are the network rule's. */
static void written(rk_context *context, const char *path, size_t len, bool dynamic, const char *subject,
                    size_t subject_len) {
  char shown[RK_DETAIL_MAX + 1];
  const char *colon = (const char *)memchr(path, ':', len), *slash = (const char *)memchr(path, '/', len);
  if (len == 0 || (len == 1 && path[0] == '-') || rk_path_is_sink(path, len)) return;
  if (colon && colon != path && (!slash || colon < slash)) return;
  if (rk_path_outside(context->config, &context->dirs, path, len, dynamic, shown, sizeof shown))
    rk_note(context->verdict, RK_OUTSIDE_WORKDIR, "writes outside the run's directory", shown, subject, subject_len);
}

static void program_writes(rk_context *context, const rk_view *view, const char *subject, size_t subject_len) {
  const writer *w = NULL;
  rk_args args;
  rk_arg arg;
  size_t i, operands = 0, last = view->argc;
  bool in_place = false, scripts_given = false;
  for (i = 0; i < sizeof k_writers / sizeof k_writers[0] && !w; i++)
    if (strcmp(k_writers[i].program, view->program) == 0) w = &k_writers[i];
  if (!w) return;
  if (w->operands == WRITES_IN_PLACE) { /* sed -i: the files; the first operand is the script unless -e/-f */
    in_place = rk_has_option(view, 1, 'i', "in-place");
    scripts_given = rk_has_option(view, 1, 'e', "expression") || rk_has_option(view, 1, 'f', "file");
    if (!in_place) return;
  }
  rk_args_begin(&args, view, 1, w->short_values, k_writer_long);
  while (rk_args_next(&args, &arg)) {
    const rk_word *word = &view->argv[arg.index];
    bool dynamic = (word->flags & RK_WORD_DYNAMIC) != 0;
    if (arg.option) {
      if (arg.value && ((arg.letter && strchr(w->target_letters, arg.letter)) ||
                        (arg.name && w->target_names && rk_name_in_n(arg.name, arg.name_len, w->target_names)))) {
        const rk_word *holder = arg.index + 1 < view->argc && arg.value == view->argv[arg.index + 1].text
                                    ? &view->argv[arg.index + 1]
                                    : word; /* -o FILE, or -oFILE and --output=FILE */
        written(context, arg.value, arg.value_len, (holder->flags & RK_WORD_DYNAMIC) != 0, subject, subject_len);
      }
      continue;
    }
    operands++;
    last = arg.index;
    if (w->operands == WRITES_ALL || (w->operands == WRITES_ALL_BUT_FIRST && operands > 1) ||
        (w->operands == WRITES_IN_PLACE && (scripts_given || operands > 1)))
      written(context, arg.value, arg.value_len, dynamic, subject, subject_len);
    else if (w->operands == WRITES_OF && arg.value_len > 3 && memcmp(arg.value, "of=", 3) == 0)
      written(context, arg.value + 3, arg.value_len - 3, dynamic, subject, subject_len);
  }
  if (w->operands == WRITES_LAST && operands >= 2)
    written(context, view->argv[last].text, view->argv[last].len, (view->argv[last].flags & RK_WORD_DYNAMIC) != 0,
            subject, subject_len);
}

/* git clone URL DIR writes DIR; npm install -g writes outside any project. */
static void tool_writes(rk_context *context, const rk_view *view, const char *subject, size_t subject_len) {
  size_t sub, dest;
  if (strcmp(view->program, "git") == 0 && (sub = rk_git_subcommand(view)) < view->argc &&
      rk_word_is(&view->argv[sub], "clone") &&
      (dest = rk_nth_operand(view, sub + 1, 1, "bcjou", RK_LIST("branch", "origin", "depth", "config", "reference",
                                                             "jobs", "template", "separate-git-dir", "filter",
                                                             "upload-pack"))) < view->argc)
    written(context, view->argv[dest].text, view->argv[dest].len, (view->argv[dest].flags & RK_WORD_DYNAMIC) != 0,
            subject, subject_len);
  if ((rk_name_in(view->program, RK_LIST("npm", "pnpm", "bun")) && rk_has_option(view, 1, 'g', "global") &&
       rk_verb_among_operands(view, RK_LIST("install", "i", "add", "remove", "uninstall", "rm", "link", "update"), 3)) ||
      (strcmp(view->program, "yarn") == 0 && rk_verb_among_operands(view, RK_LIST("global"), 1)))
    rk_note(context->verdict, RK_OUTSIDE_WORKDIR, "writes outside the run's directory", "global packages", subject,
            subject_len);
}

void rk_match_command(rk_context *context, const rk_view *view, const char *subject, size_t subject_len) {
  match_delete(context, view, subject, subject_len);
  match_force_push(context, view, subject, subject_len);
  match_publish_and_deploy(context, view, subject, subject_len);
  match_sudo_and_network(context, view, subject, subject_len);
  program_writes(context, view, subject, subject_len);
  tool_writes(context, view, subject, subject_len);
}

void rk_match_written_word(rk_context *context, const rk_word *word, const char *subject, size_t subject_len) {
  written(context, word->text, word->len, (word->flags & RK_WORD_DYNAMIC) != 0, subject, subject_len);
}

void rk_judge_written_path(rk_context *context, const char *path, size_t len, const char *subject,
                           size_t subject_len) {
  written(context, path, len, false, subject, subject_len);
}

bool rk_reads_program_from_stdin(const rk_view *view) {
  bool shell = rk_name_in(view->program, rk_shells);
  rk_args args;
  rk_arg arg;
  rk_args_begin(&args, view, 1, shell ? "oO" : "WXQ", NULL);
  while (rk_args_next(&args, &arg)) {
    const rk_word *word = &view->argv[arg.index];
    if (!arg.option) return arg.value_len == 1 && arg.value[0] == '-'; /* a script file, or - */
    if (shell && rk_short_has(word, 's')) return true;
    if (rk_short_has(word, 'c') || rk_arg_named(&arg, 0, "command")) return false;
    if (!shell && (rk_short_has(word, 'e') || rk_short_has(word, 'E') || rk_short_has(word, 'm') ||
                   rk_short_has(word, 'p') || rk_short_has(word, 'r') || rk_arg_named(&arg, 0, "eval") ||
                   rk_arg_named(&arg, 0, "print")))
      return false;
  }
  return true;
}
