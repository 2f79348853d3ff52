/* kit_tools.c — the table from a runtime's native tool-call ids to the stable tool_call_ids the
 * unified events carry, so tool.started and tool.completed (and command.output) of one call
 * share one id whatever the runtime does: ids it reuses, omits, or makes unusable.
 *
 * Bounded: at most RHK_TOOL_TABLE_SIZE calls are open at once; past that the oldest open call is
 * forgotten (a runtime that starts calls without ever finishing them cannot grow the table). The
 * array starts small and doubles; lookups are linear over the open calls, which are few.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_kit.h"

static char *dup_str(rh_str text) {
  char *copy = (char *)malloc(text.len + 1);
  if (!copy) return NULL;
  if (text.len > 0) memcpy(copy, text.data, text.len);
  copy[text.len] = '\0';
  return copy;
}

static void clear(rhk_tool_call *call) {
  free(call->native_id);
  free(call->call_id);
  free(call->name);
  free(call->path);
  memset(call, 0, sizeof *call);
}

/* Usable as an id as it stands: short, and only characters ids are made of. */
static bool usable_id(rh_str id) {
  size_t i;
  if (id.len == 0 || id.len > 128) return false;
  for (i = 0; i < id.len; i++) {
    char c = id.data[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == ':' || c == '-'))
      return false;
  }
  return true;
}

rhk_tool_call *rhk_tools_find(rhk_session *s, rh_str native_id) {
  size_t i;
  for (i = 0; i < s->tools.cap; i++) {
    rhk_tool_call *call = &s->tools.slots[i];
    if (call->native_id && strlen(call->native_id) == native_id.len &&
        memcmp(call->native_id, native_id.data, native_id.len) == 0)
      return call;
  }
  return NULL;
}

static bool call_id_taken(const rhk_session *s, const char *id) {
  size_t i;
  for (i = 0; i < s->tools.cap; i++)
    if (s->tools.slots[i].call_id && strcmp(s->tools.slots[i].call_id, id) == 0) return true;
  return false;
}

/* A free slot: grows the array, or forgets the oldest open call when it is full. */
static rhk_tool_call *free_slot(rhk_session *s) {
  rhk_tools *t = &s->tools;
  rhk_tool_call *oldest = NULL;
  size_t i;
  if (t->open_count < t->cap) {
    for (i = 0; i < t->cap; i++)
      if (!t->slots[i].native_id) return &t->slots[i];
  }
  if (t->cap < RHK_TOOL_TABLE_SIZE) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    rhk_tool_call *grown = (rhk_tool_call *)realloc(t->slots, cap * sizeof *grown);
    if (!grown) return NULL;
    memset(grown + t->cap, 0, (cap - t->cap) * sizeof *grown);
    t->slots = grown;
    i = t->cap;
    t->cap = cap;
    return &t->slots[i];
  }
  for (i = 0; i < t->cap; i++)
    if (!oldest || t->slots[i].order < oldest->order) oldest = &t->slots[i];
  clear(oldest);
  t->open_count--;
  return oldest;
}

rhk_tool_call *rhk_tools_open(rhk_session *s, rh_str native_id, rh_str name, rhk_tool_kind kind) {
  rhk_tool_call *call;
  char generated[32];
  rhk_tool_call *same = native_id.len ? rhk_tools_find(s, native_id) : NULL;
  if (same) { /* the runtime reused an open id: the earlier call is over as far as we can tell */
    clear(same);
    s->tools.open_count--;
  }
  if (!(call = free_slot(s))) return NULL;
  s->tools.opened++;
  call->order = s->tools.opened;
  call->kind = kind;
  call->change = -1;
  call->size_bytes = -1;
  call->native_id = dup_str(native_id);
  call->name = dup_str(name);
  if (usable_id(native_id) && !same) {
    call->call_id = dup_str(native_id);
  } else {
    unsigned long long n = (unsigned long long)s->tools.opened;
    do snprintf(generated, sizeof generated, "call_%llu", n++);
    while (call_id_taken(s, generated));
    call->call_id = dup_str(rhk_cstr(generated));
  }
  if (!call->native_id || !call->name || !call->call_id) {
    clear(call);
    return NULL;
  }
  s->tools.open_count++;
  return call;
}

void rhk_tools_close(rhk_session *s, rhk_tool_call *call) {
  if (!call || !call->native_id) return;
  clear(call);
  s->tools.open_count--;
}

/* ---- Files the run has seen ----------------------------------------------------------------- */

static uint64_t path_key(const rhk_session *s, const char *path) {
  char rel[4097];
  const char *p = rhk_relative_path(s, path, strlen(path), rel, sizeof rel) ? rel : path;
  uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
  for (; *p; p++) h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
  return h;
}

bool rhk_path_seen(const rhk_session *s, const char *path) {
  const uint64_t key = path_key(s, path);
  size_t i;
  for (i = 0; i < s->seen_count; i++)
    if (s->seen[i] == key) return true;
  return false;
}

void rhk_see_path(rhk_session *s, const char *path) {
  if (rhk_path_seen(s, path)) return;
  s->seen[s->seen_next] = path_key(s, path);
  s->seen_next = (s->seen_next + 1) % RHK_SEEN_PATHS;
  if (s->seen_count < RHK_SEEN_PATHS) s->seen_count++;
}

rh_status rhk_emit_tool_file_changed(rhk_session *s, const rhk_tool_call *call, rh_str raw) {
  rh_status status;
  int change = call->change;
  if (!call->path) return RH_OK;
  if (change < 0) change = rhk_path_seen(s, call->path) ? RHK_MODIFIED : RHK_CREATED;
  rhk_see_path(s, call->path);
  status = rhk_emit_file_changed(s, call->path, strlen(call->path), (rhk_change)change, NULL, 0, call->size_bytes, raw);
  return status == RH_ERR_NOT_FOUND ? RH_OK : status;
}
