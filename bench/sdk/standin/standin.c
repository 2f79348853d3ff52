/*
 * A stand-in for the `claude` and `codex` CLIs, for bench/sdk: it speaks just enough of each
 * CLI's stdio protocol for both runhost's adapters and the vendor SDKs, then writes a prepared
 * transcript (bench/sdk/transcript.py) to stdout as fast as the pipe takes it (its first line in
 * a write of its own, the rest in 1 MiB writes), so the consumer, not the stand-in, is the
 * bottleneck.
 *
 *   BENCH_TRANSCRIPT=FILE  the JSON lines to write (required; the environment, not argv, because
 *                          the SDKs own argv)
 *   BENCH_FIRST_LINE_PAUSE_MS=N  sleep N ms after the first line (default 0): the first-event
 *                          latency cases, where the first line is not followed at once by a burst
 *   BENCH_STANDIN_LOG=FILE append argv and every stdin line there (debugging)
 *
 * Which CLI it plays is read from argv: `exec` as the first argument is codex (`codex exec --json`
 * from runhost, `codex exec --experimental-json` from @openai/codex-sdk), anything else is
 * claude (`claude -p --output-format stream-json --input-format stream-json ...`).
 *
 * codex:  reads the prompt to the end of stdin, then writes the transcript, exits 0.
 * claude: reads stream-json lines from stdin; answers every `control_request` (the SDKs send
 *         `initialize` first) with a success `control_response`; at the first `user` message it
 *         writes the transcript (its last line is the `result`), then keeps answering control
 *         requests until stdin ends (runhost closes stdin after the prompt, the SDKs after the
 *         result), like the real CLI, and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static FILE *logf_;

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("standin: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write to stdout: %s", strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
}

static void pause_ms(const char *env) {
  long ms = env ? strtol(env, NULL, 10) : 0;
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void write_transcript(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open BENCH_TRANSCRIPT %s: %s", path, strerror(errno));
  static char buf[1 << 20];
  int first = 1;
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read %s: %s", path, strerror(errno));
    }
    if (r == 0) break;
    size_t off = 0;
    if (first) {
      /* The first line (claude's init, codex's thread.started) goes out by itself, as a real CLI
       * prints it before the model's first token: first-event latency is then the time to that
       * line, not to the end of a 1 MiB burst behind it. */
      const char *nl = memchr(buf, '\n', (size_t)r);
      if (nl) {
        off = (size_t)(nl - buf) + 1;
        write_all(1, buf, off);
        pause_ms(getenv("BENCH_FIRST_LINE_PAUSE_MS"));
      }
      first = 0;
    }
    write_all(1, buf + off, (size_t)r - off);
  }
  close(fd);
}

/* ---- a minimal reader of one JSON object's top-level string members ---------------------- */

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
  return p;
}

/* p at the opening quote; returns the position after the closing quote (NULL if unterminated).
 * The raw bytes between the quotes are [*b, *e) (escapes kept as they are). */
static const char *scan_string(const char *p, const char **b, const char **e) {
  if (*p != '"') return NULL;
  p++;
  if (b) *b = p;
  while (*p && *p != '"') {
    if (*p == '\\' && p[1]) p++;
    p++;
  }
  if (*p != '"') return NULL;
  if (e) *e = p;
  return p + 1;
}

static const char *skip_value(const char *p) {
  p = skip_ws(p);
  if (*p == '"') return scan_string(p, NULL, NULL);
  if (*p == '{' || *p == '[') {
    int depth = 0;
    while (*p) {
      if (*p == '"') {
        p = scan_string(p, NULL, NULL);
        if (!p) return NULL;
        continue;
      }
      if (*p == '{' || *p == '[') depth++;
      if (*p == '}' || *p == ']') {
        if (--depth == 0) return p + 1;
      }
      p++;
    }
    return NULL;
  }
  while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n') p++;
  return p;
}

struct top {
  char type[64];
  char request_id[256];
};

static void copy_span(char *dst, size_t cap, const char *b, const char *e) {
  size_t n = (size_t)(e - b);
  if (n >= cap) n = cap - 1;
  memcpy(dst, b, n);
  dst[n] = 0;
}

/* Fills `type` and `request_id` from the object's top level; unknown members are skipped. */
static int read_top(const char *line, struct top *t) {
  memset(t, 0, sizeof *t);
  const char *p = skip_ws(line);
  if (*p != '{') return -1;
  p = skip_ws(p + 1);
  while (*p == '"') {
    const char *kb, *ke;
    p = scan_string(p, &kb, &ke);
    if (!p) return -1;
    p = skip_ws(p);
    if (*p != ':') return -1;
    p = skip_ws(p + 1);
    size_t klen = (size_t)(ke - kb);
    if (*p == '"' && ((klen == 4 && !memcmp(kb, "type", 4)) || (klen == 10 && !memcmp(kb, "request_id", 10)))) {
      const char *vb, *ve;
      p = scan_string(p, &vb, &ve);
      if (!p) return -1;
      if (klen == 4)
        copy_span(t->type, sizeof t->type, vb, ve);
      else
        copy_span(t->request_id, sizeof t->request_id, vb, ve);
    } else {
      p = skip_value(p);
      if (!p) return -1;
    }
    p = skip_ws(p);
    if (*p == ',') p = skip_ws(p + 1);
  }
  return 0;
}

/* ---- the two CLIs --------------------------------------------------------------------------- */

static void answer_control(const struct top *t) {
  /* What the real CLI's initialize answer confirms, so an SDK that checks for one of these (it
   * does only when it sent the matching option) finds it; nothing else in it is read by a
   * single-prompt query. */
  char out[1024];
  int n = snprintf(out, sizeof out,
                   "{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\",\"request_id\":\"%s\","
                   "\"response\":{\"commands\":[],\"agents\":[],\"models\":[],\"output_style\":\"default\","
                   "\"available_output_styles\":[\"default\"],\"claude_code_version\":\"2.1.335\","
                   "\"hooks_applied\":true,\"hook_on_failure_supported\":true,\"settings_applied\":true,"
                   "\"disallowed_tools_applied\":true,\"mcp_servers_applied\":true,"
                   "\"managed_settings_applied\":true,\"plugins_applied\":true}}}\n",
                   t->request_id);
  if (n <= 0 || (size_t)n >= sizeof out) die("request_id too long");
  write_all(1, out, (size_t)n);
}

static void play_claude(const char *transcript) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int written = 0;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    if (logf_) fprintf(logf_, "stdin: %s%s", line, len > 0 && line[len - 1] == '\n' ? "" : "\n");
    struct top t;
    if (read_top(line, &t) != 0) continue;
    if (!strcmp(t.type, "control_request")) {
      answer_control(&t);
    } else if (!strcmp(t.type, "user") && !written) {
      write_transcript(transcript);
      written = 1;
    }
  }
  free(line);
  if (!written) die("stdin ended before a user message");
}

static void play_codex(const char *transcript) {
  char buf[65536];
  ssize_t r;
  while ((r = read(0, buf, sizeof buf)) != 0) {
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read stdin: %s", strerror(errno));
    }
    if (logf_) fprintf(logf_, "stdin: %.*s\n", (int)r, buf);
  }
  write_transcript(transcript);
}

int main(int argc, char **argv) {
  const char *transcript = getenv("BENCH_TRANSCRIPT");
  if (!transcript || !*transcript) die("BENCH_TRANSCRIPT is not set");
  const char *log = getenv("BENCH_STANDIN_LOG");
  if (log && *log) {
    logf_ = fopen(log, "a");
    if (logf_) {
      for (int i = 0; i < argc; i++) fprintf(logf_, "argv[%d]: %s\n", i, argv[i]);
    }
  }
  if (argc > 1 && !strcmp(argv[1], "exec"))
    play_codex(transcript);
  else
    play_claude(transcript);
  if (logf_) fclose(logf_);
  return 0;
}
