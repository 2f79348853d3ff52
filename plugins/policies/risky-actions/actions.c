/* actions.c — sorts one action by kind and tool name, the same way for every runtime, and
 * judges what its input says it will do.
 *
 * Tool names are compared lower-cased without '_' and '-', so Claude Code's WebFetch, Gemini
 * CLI's web_fetch and OpenCode's webfetch are one tool. A tool this file does not know changes
 * state (manual asks) but is not risky unless a rule matches; if its input carries a "command",
 * that command is judged too, so a renamed shell tool is still read. Inputs of the wrong shape
 * never crash and never hide a command: a write tool with no path it can read is treated as
 * writing outside the run's directory.
 */
#include "risky.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

enum { NAME_MAX_BYTES = 512 };

typedef enum tool_class { TOOL_UNKNOWN, TOOL_SHELL, TOOL_WRITE, TOOL_READ, TOOL_FETCH } tool_class;

typedef struct tool {
  const char *name; /* normalized */
  tool_class class_;
} tool;

static const tool k_tools[] = {
    /* Claude Code Bash, Gemini CLI run_shell_command, OpenCode bash, Codex exec_command... */
    {"bash", TOOL_SHELL}, {"runshellcommand", TOOL_SHELL}, {"commandexecution", TOOL_SHELL},
    {"execcommand", TOOL_SHELL}, {"shell", TOOL_SHELL}, {"localshell", TOOL_SHELL}, {"exec", TOOL_SHELL},
    {"unifiedexec", TOOL_SHELL},
    /* Write, Edit, MultiEdit, NotebookEdit; write_file, replace; write, edit; apply_patch, file_change */
    {"write", TOOL_WRITE}, {"edit", TOOL_WRITE}, {"multiedit", TOOL_WRITE}, {"notebookedit", TOOL_WRITE},
    {"writefile", TOOL_WRITE}, {"replace", TOOL_WRITE}, {"applypatch", TOOL_WRITE}, {"patch", TOOL_WRITE},
    {"filechange", TOOL_WRITE}, {"editfile", TOOL_WRITE}, {"createfile", TOOL_WRITE},
    /* Reading, listing, searching, and bookkeeping that changes nothing outside the agent */
    {"read", TOOL_READ}, {"readfile", TOOL_READ}, {"readmanyfiles", TOOL_READ}, {"glob", TOOL_READ},
    {"grep", TOOL_READ}, {"grepsearch", TOOL_READ}, {"ls", TOOL_READ}, {"list", TOOL_READ},
    {"listdirectory", TOOL_READ}, {"searchfilecontent", TOOL_READ}, {"websearch", TOOL_READ},
    {"googlewebsearch", TOOL_READ}, {"todowrite", TOOL_READ}, {"todoread", TOOL_READ}, {"notebookread", TOOL_READ},
    {"bashoutput", TOOL_READ}, {"exitplanmode", TOOL_READ}, {"viewimage", TOOL_READ}, {"updateplan", TOOL_READ},
    {"updatetopic", TOOL_READ}, {"skill", TOOL_READ}, {"askuserquestion", TOOL_READ},
    /* WebFetch, web_fetch, webfetch */
    {"webfetch", TOOL_FETCH}, {"fetch", TOOL_FETCH},
};

/* Connector and MCP actions whose name's last segment starts with one of these act on the
 * world for the user (connector_send); these others only read. */
static const char *const k_send_verbs[] = {"send", "post", "publish", "create", "delete", "remove", "destroy",
                                           "drop", "pay", "charge", "refund", "transfer", "invite", "merge",
                                           "share", "upload", "reply", "comment", "approve", "deploy", "archive",
                                           "close", "cancel", "revoke", "grant", "submit", "purchase", "buy",
                                           "order", "email", "tweet", "dm", NULL};
static const char *const k_read_verbs[] = {"get", "list", "search", "read", "fetch", "query", "find", "describe",
                                           "lookup", "view", "show", "count", NULL};

static tool_class class_of(const char *name) {
  char normal[64];
  size_t i, n = 0;
  for (i = 0; name[i] && n + 1 < sizeof normal; i++)
    if (name[i] != '_' && name[i] != '-' && name[i] != ' ')
      normal[n++] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
  normal[n] = '\0';
  if (name[i]) return TOOL_UNKNOWN; /* longer than any tool we know */
  for (i = 0; i < sizeof k_tools / sizeof k_tools[0]; i++)
    if (strcmp(k_tools[i].name, normal) == 0) return k_tools[i].class_;
  return TOOL_UNKNOWN;
}

/* "slack.send_message", "github/createIssue", "mcp__slack__post_message": the part after the
 * last '.', '/', ':' or "__" starts with a verb, ending there or at '_', '-' or a capital. */
static bool starts_with_verb(const char *name, const char *const *verbs) {
  const char *segment = name, *p;
  for (p = name; *p; p++)
    if (*p == '.' || *p == '/' || *p == ':' || (p[0] == '_' && p[1] == '_')) segment = p + (*p == '_' ? 2 : 1);
  for (; *verbs; verbs++) {
    size_t n = strlen(*verbs), i;
    for (i = 0; i < n && segment[i] && (segment[i] | 0x20) == (*verbs)[i]; i++) {}
    if (i == n && (!segment[n] || strchr("_-.", segment[n]) || (segment[n] >= 'A' && segment[n] <= 'Z'))) return true;
  }
  return false;
}

static bool glob_any(char *const *globs, size_t count, const char *text) {
  size_t i;
  for (i = 0; i < count; i++)
    if (fnmatch(globs[i], text, 0) == 0) return true;
  return false;
}

/* A member's string as a malloc'd C string: NULL with RH_OK when absent or not a string. */
static rh_status member_string(rh_str object, const char *key, char **out, size_t *len) {
  rh_str value;
  *out = NULL;
  *len = 0;
  if (rh_json_find(object, key, &value) != RH_OK || rh_json_type_of(value) != RH_JSON_STRING) return RH_OK;
  return rh_json_string_dup(value, out, len);
}

/* "<tool> <what>", for reasons: "Write /etc/hosts". */
static size_t subject_of(char *out, size_t cap, const char *name, const char *what, size_t what_len) {
  size_t n = strlen(name), room;
  if (n > cap - 1) n = cap - 1;
  memcpy(out, name, n);
  room = cap - 1 - n;
  if (what && what_len > 0 && room > 1) {
    out[n++] = ' ';
    if (what_len > room - 1) what_len = room - 1;
    memcpy(out + n, what, what_len);
    n += what_len;
  }
  out[n] = '\0';
  return n;
}

/* ---- shell tools -------------------------------------------------------------------------- */

/* An argv array as one shell line, each element single-quoted: ["bash","-lc","rm x"]. */
static rh_status argv_line(rk_context *context, rh_str array, rh_json_buffer *line) {
  rh_json_iter it;
  rh_str item;
  rh_status status = RH_OK;
  for (rh_json_iter_begin(&it, array); status == RH_OK && rh_json_iter_next(&it, NULL, &item);) {
    char *arg;
    size_t len, i;
    if (rh_json_type_of(item) != RH_JSON_STRING) {
      rk_note_unjudgeable(context->verdict, "the command array holds something other than strings");
      continue;
    }
    if ((status = rh_json_string_dup(item, &arg, &len)) != RH_OK) return status;
    if (line->len <= RK_MAX_COMMAND_BYTES) { /* past it the line is cut anyway */
      status = line->len > 0 ? line->writer.write(&line->writer, " '", 2) : line->writer.write(&line->writer, "'", 1);
      for (i = 0; i < len && status == RH_OK; i++)
        status = arg[i] == '\'' ? line->writer.write(&line->writer, "'\\''", 4) : line->writer.write(&line->writer, &arg[i], 1);
      if (status == RH_OK) status = line->writer.write(&line->writer, "'", 1);
    } else {
      rk_note_unjudgeable(context->verdict, "the command is longer than the 65536 bytes this policy reads");
    }
    free(arg);
  }
  return status;
}

static rh_status judge_shell(rk_context *context, rh_str input) {
  rh_str command = input;
  rh_status status;
  char *text;
  size_t len;
  if (rh_json_type_of(input) == RH_JSON_OBJECT && rh_json_find(input, "command", &command) != RH_OK &&
      rh_json_find(input, "cmd", &command) != RH_OK)
    command.len = 0;
  if (rh_json_type_of(command) == RH_JSON_ARRAY) {
    rh_json_buffer line;
    rh_json_buffer_init(&line);
    status = argv_line(context, command, &line);
    if (status == RH_OK) status = rk_judge_command_line(context, line.data ? line.data : "", line.len);
    rh_json_buffer_free(&line);
    return status;
  }
  if (rh_json_type_of(command) != RH_JSON_STRING) { /* no command we can read: it may do anything */
    rk_note_change(context->verdict, "a command this policy cannot read", 33);
    return RH_OK;
  }
  if ((status = rh_json_string_dup(command, &text, &len)) != RH_OK) return status;
  if (strlen(text) != len) { /* no shell runs past U+0000; judge what it would see */
    rk_note_unjudgeable(context->verdict, "the command contains U+0000");
    len = strlen(text);
  }
  status = rk_judge_command_line(context, text, len);
  free(text);
  return status;
}

/* ---- write tools ------------------------------------------------------------------------- */

static void judge_path(rk_context *context, const char *name, const char *path, size_t len, bool deletes) {
  char subject[RK_SUBJECT_MAX + 4];
  size_t subject_len = subject_of(subject, sizeof subject, name, path, len);
  rk_judge_written_path(context, path, len, subject, subject_len);
  rk_note_change(context->verdict, subject, subject_len);
  if (deletes) rk_note(context->verdict, RK_DELETE, "deletes files", "", subject, subject_len);
}

/* Codex's file_change: {"changes": [{"path", "kind": "add"|"update"|"delete"}]} or
 * {"changes": {"<path>": {...}}}. Returns how many paths it judged. */
static rh_status judge_changes(rk_context *context, const char *name, rh_str changes, size_t *paths) {
  rh_json_iter it;
  rh_str key, change, kind;
  rh_status status = RH_OK;
  bool object = rh_json_type_of(changes) == RH_JSON_OBJECT;
  if (rh_json_iter_begin(&it, changes) != RH_OK) return RH_OK;
  while (status == RH_OK && rh_json_iter_next(&it, &key, &change)) {
    char *path = NULL;
    size_t len = 0;
    bool deletes = (rh_json_find(change, "kind", &kind) == RH_OK || rh_json_find(change, "type", &kind) == RH_OK)
                       ? rh_json_equals(kind, "delete", 6)
                       : rh_json_find(change, "delete", &kind) == RH_OK;
    if (object) status = rh_json_string_dup(key, &path, &len);
    else if ((status = member_string(change, "path", &path, &len)) == RH_OK && !path)
      status = member_string(change, "file_path", &path, &len);
    if (status == RH_OK && path) {
      judge_path(context, name, path, len, deletes);
      ++*paths;
    }
    free(path);
  }
  return status;
}

/* apply_patch text: "*** Add File: p", "*** Update File: p", "*** Delete File: p", "*** Move to: p". */
static size_t judge_patch(rk_context *context, const char *name, const char *patch, size_t len) {
  static const char *const heads[] = {"*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: ", NULL};
  const char *line = patch, *end = patch + len;
  size_t paths = 0, i;
  while (line < end) {
    const char *eol = (const char *)memchr(line, '\n', (size_t)(end - line)), *stop = eol ? eol : end;
    for (i = 0; heads[i]; i++) {
      size_t n = strlen(heads[i]);
      if ((size_t)(stop - line) > n && memcmp(line, heads[i], n) == 0) {
        judge_path(context, name, line + n, (size_t)(stop - line - n), i == 2);
        paths++;
      }
    }
    line = eol ? eol + 1 : end;
  }
  return paths;
}

static rh_status judge_write(rk_context *context, const char *name, rh_str input, bool known_tool) {
  static const char *const path_keys[] = {"file_path", "filePath", "path", "notebook_path", "notebookPath",
                                          "absolute_path", "target_file", "filename", NULL};
  static const char *const patch_keys[] = {"patchText", "patch", "input", NULL};
  rh_str changes;
  size_t paths = 0, i, len;
  char *text;
  rh_status status = RH_OK;
  for (i = 0; path_keys[i] && status == RH_OK; i++) {
    if ((status = member_string(input, path_keys[i], &text, &len)) != RH_OK || !text) continue;
    judge_path(context, name, text, len, false);
    paths++;
    free(text);
  }
  if (status == RH_OK && rh_json_find(input, "changes", &changes) == RH_OK)
    status = judge_changes(context, name, changes, &paths);
  for (i = 0; patch_keys[i] && status == RH_OK; i++) {
    if ((status = member_string(input, patch_keys[i], &text, &len)) != RH_OK || !text) continue;
    paths += judge_patch(context, name, text, len);
    free(text);
  }
  if (status == RH_OK && paths == 0 && known_tool) /* a write tool that names no file: it could be any */
    rk_note(context->verdict, RK_OUTSIDE_WORKDIR, "writes outside the run's directory", "no path given", name,
            strlen(name));
  return status;
}

/* ---- fetch tools -------------------------------------------------------------------------- */

static rh_status judge_fetch(rk_context *context, const char *name, rh_str input) {
  rk_egress egress;
  char *text = NULL, subject[RK_SUBJECT_MAX + 4];
  size_t len, subject_len = 0, host_len;
  const char *host;
  bool found = false;
  rh_status status;
  memset(&egress, 0, sizeof egress);
  if ((status = member_string(input, "url", &text, &len)) != RH_OK) return status;
  if (text) {
    subject_len = subject_of(subject, sizeof subject, name, text, len);
    if (rk_url_host(text, len, &host, &host_len)) {
      if (host_len > 0) rk_egress_host(context->config, &egress, host, host_len);
    } else { /* "example.com/page": the host up to the first '/' */
      const char *slash = (const char *)memchr(text, '/', len);
      rk_egress_host(context->config, &egress, text, slash ? (size_t)(slash - text) : len);
    }
    found = true;
    free(text);
  } else if ((status = member_string(input, "prompt", &text, &len)) == RH_OK && text) { /* Gemini CLI web_fetch */
    subject_len = subject_of(subject, sizeof subject, name, text, len);
    found = rk_egress_urls_in(context->config, &egress, text, len);
    free(text);
  }
  if (status != RH_OK) return status;
  if (!found) rk_egress_unknown(&egress);
  if (subject_len == 0) subject_len = subject_of(subject, sizeof subject, name, NULL, 0);
  if (egress.egress) rk_note(context->verdict, RK_NETWORK, "reaches the network", egress.host, subject, subject_len);
  return RH_OK;
}

/* ---- the action --------------------------------------------------------------------------- */

/* A member's string into `out` (cut to fit), or `fallback` when it has none. */
static void member_text(rh_str object, const char *key, char *out, size_t cap, const char *fallback) {
  rh_str value;
  if (rh_json_find(object, key, &value) == RH_OK && rh_json_type_of(value) == RH_JSON_STRING &&
      rh_json_string(value, out, cap, NULL) != RH_ERR_INVALID_ARGUMENT)
    return;
  strncpy(out, fallback, cap - 1);
  out[cap - 1] = '\0';
}

rh_status rk_judge_action(rk_context *context, rh_str action) {
  const rk_config *config = context->config;
  char kind[16], name[NAME_MAX_BYTES];
  rh_str input = {"null", 4}, command;
  tool_class class_;
  bool changes = false;
  size_t i;
  rh_status status = RH_OK;
  member_text(action, "kind", kind, sizeof kind, "tool");
  member_text(action, "name", name, sizeof name, "");
  rh_json_find(action, "input", &input);
  for (i = 0; i < config->extra_count; i++)
    if (glob_any(config->extra[i].tools, config->extra[i].tool_count, name))
      rk_note(context->verdict, RK_RULE_COUNT + i, config->extra[i].reason, "", name, strlen(name));
  class_ = class_of(name);
  if (strcmp(kind, "spend") == 0) {
    rk_note(context->verdict, RK_SPEND, "spends money", "", name, strlen(name));
    changes = true;
  } else if (strcmp(kind, "publish") == 0) {
    rk_note(context->verdict, RK_DEPLOY, "publishes or deploys", "", name, strlen(name));
    changes = true;
  } else if (strcmp(kind, "connector") == 0 || strcmp(kind, "mcp") == 0 || strncmp(name, "mcp__", 5) == 0) {
    if (starts_with_verb(name, k_send_verbs))
      rk_note(context->verdict, RK_CONNECTOR_SEND, "acts for the user through a connector", "", name, strlen(name));
    changes = !starts_with_verb(name, k_read_verbs);
  } else if (strcmp(kind, "command") == 0 || class_ == TOOL_SHELL) {
    status = judge_shell(context, input);
  } else if (class_ == TOOL_WRITE || (class_ == TOOL_UNKNOWN && strcmp(kind, "file") == 0)) {
    status = judge_write(context, name, input, class_ == TOOL_WRITE);
    changes = true;
  } else if (class_ == TOOL_FETCH) {
    status = judge_fetch(context, name, input);
  } else if (class_ == TOOL_UNKNOWN) {
    changes = true;
    if (rh_json_type_of(input) == RH_JSON_OBJECT && rh_json_find(input, "command", &command) == RH_OK)
      status = judge_shell(context, input); /* a shell by another name is still read */
  }
  if (changes && !glob_any(config->read_only_tools, config->read_only_tool_count, name))
    rk_note_change(context->verdict, name, strlen(name));
  return status;
}
