/* hosts.c — whom a command talks to (the network rule).
 *
 * A command is egress when it reaches a host that is neither loopback (localhost, *.localhost,
 * 127.0.0.0/8, ::1) nor in allowed_hosts, or a host the policy cannot see (curl "$URL", git
 * fetch origin, apt-get install). Hosts come from URLs in any argument, from host operands
 * (ssh host, nc host port), from scp-style remotes (host:path), and for package managers from
 * the registry they use unless an argument names another (npm install: registry.npmjs.org).
 */
#include "risky.h"

#include <fnmatch.h>
#include <string.h>

static bool is_loopback(const char *host) {
  size_t n = strlen(host), i;
  if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "0:0:0:0:0:0:0:1") == 0)
    return true;
  if (n > 10 && strcmp(host + n - 10, ".localhost") == 0) return true;
  if (strncmp(host, "127.", 4) != 0) return false;
  for (i = 4; i < n; i++)
    if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.')) return false;
  return true;
}

void rk_egress_unknown(rk_egress *egress) {
  if (!egress->egress) {
    egress->egress = true;
    egress->host[0] = '\0';
  }
}

void rk_egress_host(const rk_config *config, rk_egress *egress, const char *host, size_t len) {
  char name[RK_HOST_MAX];
  size_t i;
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') host++, len -= 2;
  len = rk_lower(host, len, name, sizeof name);
  while (len > 0 && name[len - 1] == '.') name[--len] = '\0';
  if (len == 0 || memchr(name, '$', len) || memchr(name, '`', len)) { /* "$HOST": not known yet */
    rk_egress_unknown(egress);
    return;
  }
  if (is_loopback(name)) return;
  for (i = 0; i < config->allowed_host_count; i++)
    if (fnmatch(config->allowed_hosts[i], name, 0) == 0) return;
  if (!egress->egress) {
    egress->egress = true;
    memcpy(egress->host, name, len + 1);
  }
}

static const char *find(const char *text, size_t len, const char *needle) {
  size_t n = strlen(needle), i;
  for (i = 0; i + n <= len; i++)
    if (memcmp(text + i, needle, n) == 0) return text + i;
  return NULL;
}

static bool scheme_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

bool rk_url_host(const char *text, size_t len, const char **host, size_t *host_len) {
  const char *sep = find(text, len, "://"), *scheme, *auth, *end = text + len, *p, *at = NULL;
  char lowered[8];
  if (!sep) return false;
  for (scheme = sep; scheme > text && scheme_char(scheme[-1]); scheme--) {}
  if (scheme == sep) return false;
  auth = sep + 3;
  *host = auth;
  *host_len = 0;
  rk_lower(scheme, (size_t)(sep - scheme), lowered, sizeof lowered);
  if (strcmp(lowered, "file") == 0) return true; /* a local file: no host */
  for (p = auth; p < end && !strchr("/?#\"' \t\n", *p); p++)
    if (*p == '@') at = p;
  if (at) auth = at + 1;
  *host = auth;
  if (auth < p && *auth == '[') {
    const char *close = (const char *)memchr(auth, ']', (size_t)(p - auth));
    *host_len = close ? (size_t)(close + 1 - auth) : (size_t)(p - auth);
  } else {
    const char *colon = (const char *)memchr(auth, ':', (size_t)(p - auth));
    *host_len = (size_t)((colon ? colon : p) - auth);
  }
  return true;
}

bool rk_egress_urls_in(const rk_config *config, rk_egress *egress, const char *text, size_t len) {
  bool found = false;
  size_t i;
  for (i = 0; i + 7 < len; i++) {
    char head[9];
    const char *host;
    size_t host_len;
    rk_lower(text + i, len - i < 8 ? len - i : 8, head, sizeof head);
    if (strncmp(head, "http://", 7) != 0 && strncmp(head, "https://", 8) != 0) continue;
    if (rk_url_host(text + i, len - i, &host, &host_len)) {
      found = true;
      rk_egress_host(config, egress, host, host_len);
    }
  }
  return found;
}

/* A host operand: "user@host", "host:port", "[::1]", "@8.8.8.8" (dig), or a URL. */
static void host_operand(const rk_config *config, rk_egress *egress, const char *text, size_t len) {
  const char *host, *at, *colon;
  size_t host_len;
  if (rk_url_host(text, len, &host, &host_len)) {
    if (host_len > 0) rk_egress_host(config, egress, host, host_len);
    return;
  }
  if ((at = (const char *)memchr(text, '@', len))) {
    len -= (size_t)(at + 1 - text);
    text = at + 1;
  }
  if (len > 0 && text[0] != '[' && (colon = (const char *)memchr(text, ':', len)) &&
      !memchr(colon + 1, ':', len - (size_t)(colon + 1 - text)))
    len = (size_t)(colon - text); /* host:port, but not a bare IPv6 address */
  rk_egress_host(config, egress, text, len);
}

/* "host:path" or "user@host:path" as scp and rsync write a remote; true with its host. */
static bool remote_path(const char *text, size_t len, const char **host, size_t *host_len) {
  const char *colon, *slash, *at;
  if (rk_url_host(text, len, host, host_len)) return *host_len > 0;
  colon = (const char *)memchr(text, ':', len);
  slash = (const char *)memchr(text, '/', len);
  if (!colon || colon == text || (slash && slash < colon)) return false;
  at = (const char *)memchr(text, '@', (size_t)(colon - text));
  *host = at ? at + 1 : text;
  *host_len = (size_t)(colon - *host);
  return *host_len > 0;
}

/* Every URL in the arguments (also in --opt=URL): whether there was one. */
static bool urls_in_args(const rk_config *config, const rk_view *view, size_t from, rk_egress *egress) {
  bool found = false;
  size_t i;
  for (i = from; i < view->argc; i++) {
    const char *host;
    size_t host_len;
    if (!rk_url_host(view->argv[i].text, view->argv[i].len, &host, &host_len)) continue;
    found = true;
    if (host_len > 0) rk_egress_host(config, egress, host, host_len);
  }
  return found;
}

static void http_client(const rk_config *config, const rk_view *view, rk_egress *egress) {
  static const char *const curl_long[] = {"data", "data-raw", "data-binary", "data-urlencode", "header", "output",
                                          "request", "user", "user-agent", "cookie", "cookie-jar", "form",
                                          "upload-file", "connect-timeout", "max-time", "proxy", "referer",
                                          "write-out", "dump-header", "json", "retry", "output-document",
                                          "directory-prefix", "tries", "timeout", "password", NULL};
  rk_args args;
  rk_arg arg;
  bool any = false;
  if (urls_in_args(config, view, 1, egress)) return;
  /* No scheme: curl example.com/x. Operands are hosts, up to their first '/'. */
  rk_args_begin(&args, view, 1, strcmp(view->program, "wget") == 0 ? "OoPUtTeiBlQARDwXI" : "AbcCdDeEFHKmoPQrTuUwxXyYz",
                curl_long);
  while (rk_args_next(&args, &arg)) {
    const char *slash;
    if (arg.option) continue;
    slash = (const char *)memchr(arg.value, '/', arg.value_len);
    host_operand(config, egress, arg.value, slash ? (size_t)(slash - arg.value) : arg.value_len);
    any = true;
  }
  if (!any) rk_egress_unknown(egress);
}

typedef struct host_first {
  const char *program;
  const char *short_values;
} host_first;

/* Programs whose first operand is the host they reach. */
static const host_first k_host_first[] = {
    {"ssh", "bcDEeFIiJLlmOopQRSWw"}, {"autossh", "MbcDEeFIiJLlmOopQRSWw"}, {"mosh", ""}, {"sftp", "BbcDFiJlPRSsoX"},
    {"telnet", "bElnSX"}, {"ftp", "Pso"}, {"rsh", "l"}, {"nc", "IiOpqsTwXx"}, {"ncat", "ipsw"},
    {"netcat", "IiOpqsTwXx"}, {"ping", "cIiLlMmpQStTWw"}, {"ping6", "cIiLlMmpQStTWw"}, {"dig", "bcfkpqtxy"},
    {"nslookup", ""}, {"host", "cNRtW"}, {"traceroute", "fgimNpqstwz"}, {"tracepath", "lmp"}, {"mtr", ""},
    {"whois", "hp"},
};

static bool first_operand_host(const rk_config *config, const rk_view *view, rk_egress *egress) {
  size_t i, operand;
  for (i = 0; i < sizeof k_host_first / sizeof k_host_first[0]; i++) {
    if (strcmp(view->program, k_host_first[i].program) != 0) continue;
    operand = rk_nth_operand(view, 1, 0, k_host_first[i].short_values, NULL);
    if (operand == view->argc || (view->argc > 1 && strcmp(view->program, "nc") == 0 &&
                                  rk_short_has(&view->argv[1], 'l')))
      rk_egress_unknown(egress); /* no host (or nc -l): cannot tell */
    else
      host_operand(config, egress, view->argv[operand].text, view->argv[operand].len);
    return true;
  }
  return false;
}

/* scp a host:b, rsync -a x host:y: only remote operands reach the network. */
static void remote_copy(const rk_config *config, const rk_view *view, rk_egress *egress) {
  size_t i;
  for (i = 1; i < view->argc; i++) {
    const char *host;
    size_t host_len;
    if (view->argv[i].text[0] != '-' && remote_path(view->argv[i].text, view->argv[i].len, &host, &host_len))
      rk_egress_host(config, egress, host, host_len);
  }
}

static void git(const rk_config *config, const rk_view *view, rk_egress *egress) {
  static const char *const remote_verbs[] = {"fetch", "pull", "push", "ls-remote", NULL};
  size_t sub = rk_git_subcommand(view), i, remotes = 0, first;
  const rk_word *verb, *what;
  if (sub == view->argc) return;
  verb = &view->argv[sub];
  for (i = sub + 1; i < view->argc; i++) {
    const rk_word *word = &view->argv[i];
    const char *text = word->text, *eq, *host;
    size_t len = word->len, host_len;
    if (len > 2 && text[0] == '-' && text[1] == '-' && (eq = (const char *)memchr(text, '=', len)))
      len -= (size_t)(eq + 1 - text), text = eq + 1; /* --remote=URL */
    else if (text[0] == '-')
      continue;
    if (remote_path(text, len, &host, &host_len)) {
      rk_egress_host(config, egress, host, host_len);
      remotes++;
    }
  }
  if (remotes > 0) return;
  /* A named remote (origin) or the default one: the policy cannot see where it points. */
  first = rk_nth_operand(view, sub + 1, 0, NULL, NULL);
  what = first < view->argc ? &view->argv[first] : NULL;
  if (rk_word_in(verb, remote_verbs) ||
      (what && rk_word_is(verb, "submodule") && rk_word_in(what, RK_LIST("update", "sync"))) ||
      (what && rk_word_is(verb, "remote") && rk_word_in(what, RK_LIST("update", "prune", "show"))))
    rk_egress_unknown(egress);
}

typedef struct installer {
  const char *program;
  const char *const *verbs; /* NULL: the program alone installs or fetches (npx) */
  const char *registry;     /* NULL: a host the policy does not know (distribution mirrors) */
} installer;

static const char *const k_npm_verbs[] = {"install", "i", "ci", "add", "update", "up", "upgrade", "install-test",
                                          "it", "exec", "x", "dlx", NULL};
static const char *const k_pip_verbs[] = {"install", "download", "wheel", "add", "sync", "lock", "update", "run",
                                          "inject", "upgrade", NULL};
static const char *const k_system_verbs[] = {"install", "in", "update", "up", "upgrade", "dist-upgrade",
                                             "full-upgrade", "add", "download", "fetch", "tap", "create",
                                             "refresh", "pull", "login", "search", NULL};

static const installer k_installers[] = {
    {"npm", k_npm_verbs, "registry.npmjs.org"},
    {"pnpm", k_npm_verbs, "registry.npmjs.org"},
    {"bun", k_npm_verbs, "registry.npmjs.org"},
    {"yarn", k_npm_verbs, "registry.yarnpkg.com"},
    {"npx", NULL, "registry.npmjs.org"},
    {"pnpx", NULL, "registry.npmjs.org"},
    {"bunx", NULL, "registry.npmjs.org"},
    {"pip", k_pip_verbs, "pypi.org"},
    {"pip3", k_pip_verbs, "pypi.org"},
    {"pipx", k_pip_verbs, "pypi.org"},
    {"uv", k_pip_verbs, "pypi.org"},
    {"uvx", NULL, "pypi.org"},
    {"poetry", k_pip_verbs, "pypi.org"},
    {"pipenv", k_pip_verbs, "pypi.org"},
    {"cargo", RK_LIST("install", "fetch", "update", "add", "search"), "crates.io"},
    {"go", RK_LIST("get", "install", "download"), "proxy.golang.org"},
    {"gem", RK_LIST("install", "update", "fetch"), "rubygems.org"},
    {"bundle", RK_LIST("install", "update"), "rubygems.org"},
    {"composer", RK_LIST("install", "require", "update"), "repo.packagist.org"},
    {"apt", k_system_verbs, NULL},
    {"apt-get", k_system_verbs, NULL},
    {"yum", k_system_verbs, NULL},
    {"dnf", k_system_verbs, NULL},
    {"apk", k_system_verbs, NULL},
    {"zypper", k_system_verbs, NULL},
    {"brew", k_system_verbs, NULL},
    {"conda", k_system_verbs, NULL},
    {"mamba", k_system_verbs, NULL},
    {"docker", RK_LIST("pull", "login", "search"), NULL},
    {"podman", RK_LIST("pull", "login", "search"), NULL},
};

static bool package_manager(const rk_config *config, const rk_view *view, rk_egress *egress) {
  size_t i;
  for (i = 0; i < sizeof k_installers / sizeof k_installers[0]; i++) {
    const installer *m = &k_installers[i];
    bool bare_yarn = strcmp(view->program, "yarn") == 0 && rk_nth_operand(view, 1, 0, NULL, NULL) == view->argc;
    if (strcmp(view->program, m->program) != 0) continue;
    if (m->verbs && !bare_yarn && !rk_verb_among_operands(view, m->verbs, 3)) return true;
    if (urls_in_args(config, view, 1, egress)) return true; /* --registry=URL, or a package by URL */
    if (m->registry) rk_egress_host(config, egress, m->registry, strlen(m->registry));
    else rk_egress_unknown(egress);
    return true;
  }
  return false;
}

void rk_command_egress(const rk_config *config, const rk_view *view, rk_egress *egress) {
  static const char *const http_clients[] = {"curl", "wget", "http", "https", "xh", "xhs", "aria2c", "lynx",
                                             "links", "w3m", NULL};
  static const char *const remote_copies[] = {"scp", "rsync", "rcp", NULL};
  static const char *const opaque[] = {"socat", "websocat", "grpcurl", NULL};
  if (rk_name_in(view->program, http_clients)) http_client(config, view, egress);
  else if (rk_name_in(view->program, remote_copies)) remote_copy(config, view, egress);
  else if (rk_name_in(view->program, opaque)) rk_egress_unknown(egress);
  else if (strcmp(view->program, "git") == 0) git(config, view, egress);
  else if (!first_operand_host(config, view, egress)) package_manager(config, view, egress);
}
