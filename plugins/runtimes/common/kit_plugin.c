/* kit_plugin.c — the plugin around a kit adapter: create, feed, finish, destroy and the entry's
 * init/deinit, the same for every bundled adapter (adapter_kit.h, "The plugin"). */
#include <stdlib.h>

#include "kit_internal.h"

static const rh_host *g_host; /* from init(): for a failure before a session has its own */

rh_status rhk_plugin_init(const rh_host *host, const char *library_path) {
  (void)library_path;
  g_host = host;
  return RH_OK;
}

void rhk_plugin_deinit(void) { g_host = NULL; }

/* `self` is the pointer the descriptor holds: the abi member, first in the rhk_adapter. */
static const rhk_adapter *adapter_of(const rh_runtime_adapter *self) { return (const rhk_adapter *)self; }

static rhk_session *kit_of(rh_runtime_session *session) { return (rhk_session *)session; }

rh_status rhk_adapter_create(const rh_runtime_adapter *self, const rh_runtime_context *ctx,
                             rh_runtime_session **out) {
  const rhk_adapter *adapter = adapter_of(self);
  rh_runtime_session *session = (rh_runtime_session *)calloc(1, adapter->session_size);
  rhk_session *kit;
  rh_status status;
  if (!session) {
    const rh_host *host = ctx->host ? ctx->host : g_host;
    if (host) {
      rh_json_buffer message;
      rh_json_buffer_init(&message);
      if (rh_json_write_cstr(&message.writer, adapter->info->id) == RH_OK &&
          rh_json_write_cstr(&message.writer, ": out of memory") == RH_OK)
        host->set_error(host, rhk_str(message.data, message.len));
      else
        host->set_error(host, rhk_cstr("out of memory"));
      rh_json_buffer_free(&message);
    }
    return RH_ERR_NO_MEMORY;
  }
  kit = kit_of(session);
  kit->adapter = adapter;
  status = rhk_session_init(kit, adapter->info, ctx);
  if (status == RH_OK && adapter->open) status = adapter->open(session);
  if (status != RH_OK) {
    rhk_adapter_destroy(session);
    return status;
  }
  *out = session;
  return RH_OK;
}

rh_status rhk_adapter_feed(rh_runtime_session *session, rh_stream stream, const char *data, size_t len) {
  return rhk_feed(kit_of(session), stream, data, len);
}

rh_status rhk_adapter_finish(rh_runtime_session *session, const rh_exit *exit) {
  rhk_session *kit = kit_of(session);
  rh_status flushed = RH_OK, decided = RH_OK, ended;
  if (!kit->finished && kit->adapter && kit->adapter->decide) {
    flushed = rhk_flush(kit); /* the decision reads the last lines, even without their newline */
    if (!kit->finished) decided = kit->adapter->decide(session, exit);
  }
  ended = rhk_finish(kit, exit); /* the one terminal event, whatever happened before */
  return ended != RH_OK ? ended : decided != RH_OK ? decided : flushed;
}

void rhk_adapter_destroy(rh_runtime_session *session) {
  rhk_session *kit = kit_of(session);
  if (kit->adapter && kit->adapter->close) kit->adapter->close(session);
  rhk_session_free(kit);
  free(session);
}
