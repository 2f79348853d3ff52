/* shell_lex.c — splits one source into simple commands and unquotes their words, the way a
 * POSIX shell (and bash) would, as far as a policy needs.
 *
 * Splits on | || && ; & newlines and ( ); unquotes '...', "...", $'...' and backslashes, so
 * 'rm', r\m and $'\x72m' all read as rm; keeps an expansion ($VAR, ${...}, $(...), `...`) as
 * its raw text and marks the word dynamic; queues each $(...), `...` and <(...) as a source of
 * its own; collects output redirects (> >> &> >| <>) as write targets and drops input ones;
 * skips heredoc bodies (keeping the first for the command) and comments. Each loop moves
 * forward through the text, so reading a source is linear in its length.
 */
#include "risky.h"

#include <string.h>

typedef enum pending { PENDING_NONE, PENDING_WRITE, PENDING_DROP, PENDING_HEREDOC, PENDING_HEREDOC_TABS } pending;

typedef struct heredoc {
  size_t command;
  const char *delimiter;
  size_t delimiter_len;
  bool strip_tabs; /* <<- */
  bool expands;    /* an unquoted delimiter: $(...) in the body runs */
} heredoc;

typedef struct lexer {
  rk_script *script;
  const rk_source *source;
  const char *p, *end;
  size_t command; /* the open command, or RK_NO_WORD */
  size_t pipeline;
  bool piped;     /* the next command continues the pipeline */
  bool in_word;
  char *word;     /* the word being built, at the top of the arena */
  size_t word_len;
  unsigned word_flags;
  bool word_quoted; /* some of it was quoted */
  pending pending;
  heredoc heredocs[RK_MAX_HEREDOCS];
  size_t heredoc_count;
  bool stop; /* a limit was reached */
} lexer;

static bool at(const lexer *lx, const char *text) {
  size_t n = strlen(text);
  return (size_t)(lx->end - lx->p) >= n && memcmp(lx->p, text, n) == 0;
}

static size_t open_command(lexer *lx) {
  if (lx->command == RK_NO_WORD && !lx->stop) {
    if (!lx->piped) lx->pipeline = lx->script->next_pipeline++;
    lx->piped = false;
    lx->command = rk_script_new_command(lx->script, lx->source, lx->pipeline);
    if (lx->command == RK_NO_WORD) lx->stop = true;
  }
  return lx->command;
}

static void start_word(lexer *lx) {
  if (lx->in_word) return;
  lx->in_word = true;
  lx->word = lx->script->arena + lx->script->arena_len;
  lx->word_len = 0;
  lx->word_flags = 0;
  lx->word_quoted = false;
}

static void put(lexer *lx, const char *text, size_t len) {
  char *to = rk_arena_alloc(lx->script, len);
  if (!to) {
    lx->stop = true;
    return;
  }
  memcpy(to, text, len);
  lx->word_len += len;
}

static void put_char(lexer *lx, char c) { put(lx, &c, 1); }

/* The word's index in its command, once pushed; RK_NO_WORD when it will be a redirect's. */
static size_t next_word_index(lexer *lx) {
  size_t command = open_command(lx);
  if (command == RK_NO_WORD || lx->pending != PENDING_NONE) return RK_NO_WORD;
  return lx->script->commands[command].word_count;
}

static void finish_word(lexer *lx) {
  rk_word word;
  size_t command;
  if (!lx->in_word) return;
  lx->in_word = false;
  put_char(lx, '\0');
  if (lx->stop) return;
  word.text = lx->word;
  word.len = lx->word_len - 1;
  word.flags = lx->word_flags;
  if ((command = open_command(lx)) == RK_NO_WORD) return;
  switch (lx->pending) {
  case PENDING_WRITE:
    if (!rk_script_push_target(lx->script, command, word)) lx->stop = true;
    break;
  case PENDING_HEREDOC:
  case PENDING_HEREDOC_TABS:
    if (lx->heredoc_count < RK_MAX_HEREDOCS) {
      heredoc *h = &lx->heredocs[lx->heredoc_count++];
      h->command = command;
      h->delimiter = word.text;
      h->delimiter_len = word.len;
      h->strip_tabs = lx->pending == PENDING_HEREDOC_TABS;
      h->expands = !lx->word_quoted;
    } else {
      rk_script_overflow(lx->script, "a line has too many heredocs");
      lx->stop = true;
    }
    break;
  case PENDING_DROP: break;
  case PENDING_NONE:
    if (!rk_script_push_word(lx->script, command, word)) lx->stop = true;
    break;
  }
  lx->pending = PENDING_NONE;
}

static void end_command(lexer *lx, bool pipe) {
  finish_word(lx);
  lx->pending = PENDING_NONE; /* a redirect with no target */
  lx->command = RK_NO_WORD;
  lx->piped = pipe;
}

/* The ')' closing a '(' just before p, past quotes and nested parens; `end` when unclosed. */
static const char *closing_paren(const char *p, const char *end) {
  int depth = 1;
  while (p < end) {
    char c = *p;
    if (c == '\\') {
      p += p + 1 < end ? 2 : 1;
    } else if (c == '\'' || c == '`') {
      const char *close = (const char *)memchr(p + 1, c, (size_t)(end - p - 1));
      p = close ? close + 1 : end;
    } else if (c == '"') {
      for (p++; p < end && *p != '"'; p += *p == '\\' && p + 1 < end ? 2 : 1) {}
      if (p < end) p++;
    } else if (c == '(') {
      depth++;
      p++;
    } else if (c == ')') {
      if (--depth == 0) return p;
      p++;
    } else {
      p++;
    }
  }
  return end;
}

/* The '`' closing one just before p; `end` when unclosed. */
static const char *closing_backtick(const char *p, const char *end) {
  while (p < end && *p != '`') p += *p == '\\' && p + 1 < end ? 2 : 1;
  return p;
}

static void queue(lexer *lx, const char *inner, const char *close, size_t parent, size_t parent_word) {
  if (parent != RK_NO_WORD &&
      !rk_script_enqueue(lx->script, inner, (size_t)(close - inner), parent, parent_word, RK_ORIGIN_SUBST,
                         lx->source->depth + 1))
    lx->stop = true;
}

/* Queues every $(...) and `...` in [p, end): those inside ${...}, $((...)) and heredoc bodies. */
static void queue_within(lexer *lx, const char *p, const char *end, size_t parent, size_t parent_word) {
  while (p < end && !lx->stop) {
    const char *close;
    if (*p == '\\') {
      p += p + 1 < end ? 2 : 1;
    } else if (*p == '`' || (*p == '$' && p + 1 < end && p[1] == '(')) {
      const char *inner = p + (*p == '`' ? 1 : 2);
      close = *p == '`' ? closing_backtick(inner, end) : closing_paren(inner, end);
      queue(lx, inner, close, parent, parent_word);
      p = close < end ? close + 1 : end;
    } else {
      p++;
    }
  }
}

/* Keeps the expansion [lx->p, raw_end) as the word's text and marks the word dynamic. */
static void keep_raw(lexer *lx, const char *raw_end) {
  put(lx, lx->p, (size_t)(raw_end - lx->p));
  lx->word_flags |= RK_WORD_DYNAMIC;
  lx->p = raw_end;
}

static void command_substitution(lexer *lx, size_t opening) { /* at $( or <( or >( */
  const char *inner = lx->p + opening, *close = closing_paren(inner, lx->end);
  queue(lx, inner, close, open_command(lx), next_word_index(lx));
  keep_raw(lx, close < lx->end ? close + 1 : close);
}

static void backtick(lexer *lx) {
  const char *inner = lx->p + 1, *close = closing_backtick(inner, lx->end);
  queue(lx, inner, close, open_command(lx), next_word_index(lx));
  keep_raw(lx, close < lx->end ? close + 1 : close);
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* $'...': bash's ANSI-C quoting, so $'\x72m' reads as rm. */
static void ansi_c_quoted(lexer *lx) {
  static const char escapes[] = "ntrabefv", decoded[] = "\n\t\r\a\b\x1b\f\v";
  const char *p = lx->p + 2, *end = lx->end;
  lx->word_quoted = true;
  while (p < end && *p != '\'') {
    const char *simple;
    int value = 0, digits = 0, digit;
    if (*p != '\\' || p + 1 == end) {
      put_char(lx, *p++);
      continue;
    }
    p++;
    if ((simple = (const char *)memchr(escapes, *p, sizeof escapes - 1))) {
      put_char(lx, decoded[simple - escapes]);
      p++;
    } else if (*p == 'x') {
      for (p++; digits < 2 && p < end && (digit = hex_digit(*p)) >= 0; p++, digits++) value = value * 16 + digit;
      put_char(lx, (char)value);
    } else if (*p >= '0' && *p <= '7') {
      for (; digits < 3 && p < end && *p >= '0' && *p <= '7'; p++, digits++) value = value * 8 + (*p - '0');
      put_char(lx, (char)value);
    } else {
      put_char(lx, *p++);
    }
  }
  lx->p = p < end ? p + 1 : end;
}

static bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* At '$': an expansion, kept raw and marked dynamic, or a quoting form. */
static void dollar(lexer *lx, bool in_double_quotes) {
  const char *p = lx->p, *end = lx->end, *after;
  char next = p + 1 < end ? p[1] : '\0';
  if (next == '(' && p + 2 < end && p[2] == '(') { /* $((arithmetic)) */
    after = closing_paren(p + 2, end);
    queue_within(lx, p + 3, after, open_command(lx), next_word_index(lx));
    keep_raw(lx, after < end ? after + 1 : after);
  } else if (next == '(') {
    command_substitution(lx, 2);
  } else if (next == '{') { /* ${name...}: ${x:-$(cmd)} runs cmd */
    for (after = p + 2; after < end && *after != '}'; after++) {}
    queue_within(lx, p + 2, after, open_command(lx), next_word_index(lx));
    keep_raw(lx, after < end ? after + 1 : end);
  } else if (next == '\'' && !in_double_quotes) {
    ansi_c_quoted(lx);
  } else if (next == '"' && !in_double_quotes) {
    lx->p++; /* $"...": a translated string, read as "..." */
  } else if (name_char(next)) {
    for (after = p + 1; after < end && name_char(*after); after++) {}
    keep_raw(lx, after);
  } else if (next && strchr("@*#?$!-", next)) {
    keep_raw(lx, p + 2);
  } else {
    put_char(lx, '$');
    lx->p++;
  }
}

static void double_quoted(lexer *lx) {
  lx->word_quoted = true;
  lx->p++;
  while (lx->p < lx->end && *lx->p != '"' && !lx->stop) {
    const char *p = lx->p;
    if (*p == '\\' && p + 1 < lx->end && strchr("$`\"\\\n", p[1])) {
      if (p[1] != '\n') put_char(lx, p[1]);
      lx->p += 2;
    } else if (*p == '$') {
      dollar(lx, true);
    } else if (*p == '`') {
      backtick(lx);
    } else {
      put_char(lx, *p);
      lx->p++;
    }
  }
  if (lx->p < lx->end) lx->p++;
}

static void single_quoted(lexer *lx) {
  const char *close = (const char *)memchr(lx->p + 1, '\'', (size_t)(lx->end - lx->p - 1));
  if (!close) close = lx->end;
  lx->word_quoted = true;
  put(lx, lx->p + 1, (size_t)(close - lx->p - 1));
  lx->p = close < lx->end ? close + 1 : close;
}

static bool word_is_digits(const lexer *lx) {
  size_t i;
  for (i = 0; i < lx->word_len; i++)
    if (lx->word[i] < '0' || lx->word[i] > '9') return false;
  return lx->word_len > 0;
}

/* At '<' or '>'. */
static void redirect(lexer *lx) {
  if (lx->in_word && lx->word_flags == 0 && word_is_digits(lx)) { /* 2>err: a descriptor */
    lx->script->arena_len -= lx->word_len;
    lx->in_word = false;
  }
  if (at(lx, "<(") || at(lx, ">(")) { /* process substitution: a word */
    start_word(lx);
    command_substitution(lx, 2);
    return;
  }
  finish_word(lx);
  if (at(lx, "<<<")) lx->pending = PENDING_DROP, lx->p += 3;
  else if (at(lx, "<<-")) lx->pending = PENDING_HEREDOC_TABS, lx->p += 3;
  else if (at(lx, "<<")) lx->pending = PENDING_HEREDOC, lx->p += 2;
  else if (at(lx, "<>")) lx->pending = PENDING_WRITE, lx->p += 2;
  else if (at(lx, "<&")) lx->pending = PENDING_DROP, lx->p += 2;
  else if (at(lx, "<")) lx->pending = PENDING_DROP, lx->p += 1;
  else if (at(lx, ">>") || at(lx, ">|")) lx->pending = PENDING_WRITE, lx->p += 2;
  else if (at(lx, ">&")) {
    lx->p += 2; /* >&2 and >&- duplicate a descriptor; >&file writes the file */
    lx->pending = lx->p < lx->end && ((*lx->p >= '0' && *lx->p <= '9') || *lx->p == '-')
                      ? PENDING_DROP
                      : PENDING_WRITE;
  } else {
    lx->pending = PENDING_WRITE;
    lx->p++;
  }
  open_command(lx);
}

/* After a newline: the bodies of the heredocs opened on the line just ended. */
static void heredoc_bodies(lexer *lx) {
  size_t i;
  for (i = 0; i < lx->heredoc_count; i++) {
    const heredoc *h = &lx->heredocs[i];
    const char *body = lx->p, *line = body, *body_end = lx->end, *next = lx->end;
    while (line < lx->end) {
      const char *eol = (const char *)memchr(line, '\n', (size_t)(lx->end - line));
      const char *text = line, *text_end = eol ? eol : lx->end;
      if (h->strip_tabs)
        while (text < text_end && *text == '\t') text++;
      if ((size_t)(text_end - text) == h->delimiter_len && memcmp(text, h->delimiter, h->delimiter_len) == 0) {
        body_end = line;
        next = eol ? eol + 1 : lx->end;
        break;
      }
      line = eol ? eol + 1 : lx->end;
    }
    if (h->expands) queue_within(lx, body, body_end, h->command, RK_NO_WORD);
    if (!lx->script->commands[h->command].heredoc) {
      lx->script->commands[h->command].heredoc = body;
      lx->script->commands[h->command].heredoc_len = (size_t)(body_end - body);
    }
    lx->p = next;
  }
  lx->heredoc_count = 0;
}

static void operator(lexer *lx) {
  if (at(lx, "&&") || at(lx, "||")) {
    end_command(lx, false);
    lx->p += 2;
  } else if (at(lx, "&>")) { /* &> and &>>: stdout and stderr to a file */
    finish_word(lx);
    lx->p += at(lx, "&>>") ? 3 : 2;
    lx->pending = PENDING_WRITE;
    open_command(lx);
  } else if (at(lx, "|&") || at(lx, "|")) {
    end_command(lx, true);
    lx->p += at(lx, "|&") ? 2 : 1;
  } else { /* ; ;; ;& & ( ) */
    end_command(lx, false);
    lx->p += at(lx, ";;") || at(lx, ";&") ? 2 : 1;
  }
}

void rk_lex(rk_script *script, const rk_source *source) {
  lexer lx;
  memset(&lx, 0, sizeof lx);
  lx.script = script;
  lx.source = source;
  lx.p = source->text;
  lx.end = source->text + source->len;
  lx.command = RK_NO_WORD;
  while (lx.p < lx.end && !lx.stop) {
    char c = *lx.p;
    if (c == ' ' || c == '\t' || c == '\r') {
      finish_word(&lx);
      lx.p++;
    } else if (c == '\n') {
      end_command(&lx, false);
      lx.p++;
      heredoc_bodies(&lx);
    } else if (c == '#' && !lx.in_word) {
      while (lx.p < lx.end && *lx.p != '\n') lx.p++;
    } else if (strchr(";&|()", c)) {
      operator(&lx);
    } else if (c == '<' || c == '>') {
      redirect(&lx);
    } else if (c == '\\' && lx.p + 1 < lx.end && lx.p[1] == '\n') {
      lx.p += 2; /* a line continuation */
    } else {
      start_word(&lx);
      if (c == '\'') single_quoted(&lx);
      else if (c == '"') double_quoted(&lx);
      else if (c == '$') dollar(&lx, false);
      else if (c == '`') backtick(&lx);
      else if (c == '\\') {
        lx.word_quoted = true;
        put_char(&lx, lx.p + 1 < lx.end ? lx.p[1] : '\\');
        lx.p += lx.p + 1 < lx.end ? 2 : 1;
      } else {
        put_char(&lx, c);
        lx.p++;
      }
    }
  }
  end_command(&lx, false);
}
