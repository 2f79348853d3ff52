/* paths.c — whether a written path lies inside the run's directory (the outside_workdir rule).
 *
 * Paths are resolved lexically: "." and ".." are folded, symlinks are not followed. The policy
 * reads no files, so its decision depends on the request alone and is the same every time; the
 * host sends the run's directory already canonical. A command line that cd's is judged from
 * every directory it may be in (rk_dirs), so `cd sub && rm ../x` and `(cd sub); rm ../x` both
 * count as writing ../x from sub. What cannot be known before the command runs ($VAR, ~, cd -)
 * is outside: the rule would rather ask than guess.
 *
 * Without a cwd in the request, relative paths resolve under an unknown directory and stay
 * inside unless ".." climbs out of it; absolute paths are outside (but for the temp dirs).
 */
#include "risky.h"

#include <stdlib.h>
#include <string.h>

static const char *const k_temp_dirs[] = {"/tmp", "/var/tmp", "/dev/shm", NULL};

/* Resolves `path` against `base` into `out`: "/a/b" ("" for /) when absolute, else "a/b" under
 * the unknown run directory. *escaped when ".." climbs above that unknown directory. */
static bool resolve(const char *base, bool base_absolute, const char *path, size_t len, char *out,
                    size_t cap, bool *absolute, bool *escaped) {
  const char *p = path, *end = path + len;
  bool from_root = len > 0 && path[0] == '/';
  size_t n = 0;
  *escaped = false;
  *absolute = from_root || base_absolute;
  if (!from_root) {
    if ((n = strlen(base)) >= cap) return false;
    memcpy(out, base, n);
  }
  while (p < end) {
    const char *slash = (const char *)memchr(p, '/', (size_t)(end - p));
    size_t part = (size_t)((slash ? slash : end) - p);
    if (part == 2 && p[0] == '.' && p[1] == '.') {
      if (n == 0 && !*absolute) *escaped = true; /* above / is / itself */
      while (n > 0 && out[n - 1] != '/') n--;
      if (n > 0) n--;
    } else if (part > 0 && !(part == 1 && p[0] == '.')) {
      bool separator = *absolute || n > 0;
      if (n + separator + part + 1 > cap) return false;
      if (separator) out[n++] = '/';
      memcpy(out + n, p, part);
      n += part;
    }
    p = slash ? slash + 1 : end;
  }
  out[n] = '\0';
  return true;
}

static bool under(const char *path, const char *dir) {
  size_t n = strlen(dir);
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool inside(const rk_config *config, const rk_dirs *dirs, const char *resolved, bool absolute) {
  size_t i;
  if (!absolute) return !dirs->absolute[0]; /* under the unknown run directory */
  if (dirs->absolute[0] && under(resolved, dirs->dirs[0])) return true;
  for (i = 0; config->temp_dirs_inside && k_temp_dirs[i]; i++)
    if (under(resolved, k_temp_dirs[i])) return true;
  return false;
}

static void show(char *shown, size_t cap, const char *text, size_t len) {
  if (cap == 0) return;
  if (len == 0) text = "/", len = 1; /* the root, resolved */
  if (len > cap - 1) len = cap - 1;
  memcpy(shown, text, len);
  shown[len] = '\0';
}

/* "$PWD/x" and "${PWD}/x" name the directory the command runs in: `rest` is then "x". */
static bool pwd_relative(const char *path, size_t len, const char **rest, size_t *rest_len) {
  size_t skip = len >= 4 && memcmp(path, "$PWD", 4) == 0 ? 4 : len >= 6 && memcmp(path, "${PWD}", 6) == 0 ? 6 : 0;
  if (skip == 0 || (len > skip && path[skip] != '/')) return false;
  *rest = path + skip;
  *rest_len = len - skip;
  while (*rest_len > 0 && **rest == '/') (*rest)++, (*rest_len)--;
  return !memchr(*rest, '$', *rest_len) && !memchr(*rest, '`', *rest_len);
}

bool rk_path_outside(const rk_config *config, const rk_dirs *dirs, const char *path, size_t len, bool dynamic,
                     char *shown, size_t shown_cap) {
  char resolved[RK_PATH_MAX];
  bool absolute, escaped;
  size_t i;
  if (len == 0) return false;
  show(shown, shown_cap, path, len);
  if (dynamic && !pwd_relative(path, len, &path, &len)) return true;
  if (len > 0 && path[0] == '~') return true;
  if (len > 0 && path[0] == '/') {
    if (!resolve("", true, path, len, resolved, sizeof resolved, &absolute, &escaped)) return true;
    show(shown, shown_cap, resolved, strlen(resolved));
    return !inside(config, dirs, resolved, true);
  }
  if (dirs->unknown) return true;
  for (i = 0; i < dirs->count; i++) {
    if (!resolve(dirs->dirs[i], dirs->absolute[i], path, len, resolved, sizeof resolved, &absolute, &escaped))
      return true;
    if (escaped || !inside(config, dirs, resolved, absolute)) {
      if (absolute) show(shown, shown_cap, resolved, strlen(resolved));
      return true;
    }
  }
  return false;
}

bool rk_path_is_sink(const char *path, size_t len) {
  static const char *const sinks[] = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", NULL};
  size_t i;
  for (i = 0; sinks[i]; i++)
    if (len == strlen(sinks[i]) && memcmp(path, sinks[i], len) == 0) return true;
  return len > 8 && memcmp(path, "/dev/fd/", 8) == 0;
}

static char *copy(const char *text) {
  size_t len = strlen(text);
  char *out = (char *)malloc(len + 1);
  if (out) memcpy(out, text, len + 1);
  return out;
}

rh_status rk_dirs_init(rk_dirs *dirs, const char *cwd, size_t cwd_len) {
  char resolved[RK_PATH_MAX];
  bool absolute, escaped;
  bool known = cwd && cwd_len > 0 && cwd[0] == '/' && !memchr(cwd, '\0', cwd_len) &&
               resolve("", true, cwd, cwd_len, resolved, sizeof resolved, &absolute, &escaped);
  memset(dirs, 0, sizeof *dirs);
  if (!(dirs->dirs[0] = copy(known ? resolved : ""))) return RH_ERR_NO_MEMORY;
  dirs->absolute[0] = known;
  dirs->count = 1;
  return RH_OK;
}

void rk_dirs_free(rk_dirs *dirs) {
  size_t i;
  for (i = 0; i < dirs->count; i++) free(dirs->dirs[i]);
  memset(dirs, 0, sizeof *dirs);
}

rh_status rk_dirs_cd(rk_dirs *dirs, const char *path, size_t len, bool dynamic) {
  char resolved[RK_PATH_MAX];
  bool absolute, escaped;
  size_t i, j, before = dirs->count;
  if (dynamic || len == 0 || path[0] == '~' || (len == 1 && path[0] == '-')) {
    dirs->unknown = true; /* cd $X, cd (home), cd ~, cd - */
    return RH_OK;
  }
  for (i = 0; i < before && !dirs->unknown; i++) {
    if (!resolve(dirs->dirs[i], dirs->absolute[i], path, len, resolved, sizeof resolved, &absolute, &escaped) ||
        escaped || dirs->count == RK_MAX_DIRS) {
      dirs->unknown = true;
      break;
    }
    for (j = 0; j < dirs->count && !(dirs->absolute[j] == absolute && strcmp(dirs->dirs[j], resolved) == 0); j++) {}
    if (j < dirs->count) continue;
    if (!(dirs->dirs[dirs->count] = copy(resolved))) return RH_ERR_NO_MEMORY;
    dirs->absolute[dirs->count++] = absolute;
  }
  return RH_OK;
}
