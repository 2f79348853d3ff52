/* runhost/connector.h — the connector plugin interface: access to an outside account (GitHub,
 * Slack, a database) that a run may use, under a grant.
 *
 * A dispatch names the connectors it needs. For each, the host asks the connector whether the
 * user holds a usable grant (check); a missing or expired grant fails the run with
 * connector_authorization_missing and a connect_account recovery carrying the connect URL.
 * With a grant, the connector materialises it into what the runtime needs: environment
 * variables and MCP server configuration, with every secret marked so the host keeps it out of
 * events, logs and the store.
 *
 * check request:   {"connector": "github", "tenantId", "workspaceId", "userId",
 *                   "grant": {...a stored grant...} | null}
 * check result:    {"state": "granted" | "missing" | "expired",
 *                   "grant_id": "...",             when granted
 *                   "connect_url": "https://...",  when missing or expired
 *                   "scopes": ["repo"]}
 * materialize out: {"env": {"GITHUB_TOKEN": {"value": "...", "secret": true}},
 *                   "mcp_servers": {"github": {...MCP server config...}}}
 *
 * Thread rules: create() and destroy() on the host's control thread; describe(), check(),
 * materialize() and invoke() on the host's worker threads, concurrently for one instance, so
 * they must be thread-safe. They may block (they are allowed host->http_request).
 */
#ifndef RUNHOST_CONNECTOR_H
#define RUNHOST_CONNECTOR_H

#include "host.h"
#include "types.h"

RH_BEGIN_DECLS

/* The plugin's own per-instance state; opaque to the host. */
typedef struct rh_connector_instance rh_connector_instance;

typedef struct rh_connector_plugin {
  uint32_t struct_size; /* sizeof(rh_connector_plugin) */

  /* Creates an instance configured by `config_json` ("{}" if none; borrowed). On RH_OK *out
   * is non-NULL and lives until destroy(). */
  rh_status (*create)(const struct rh_connector_plugin *self, const rh_host *host,
                      rh_str config_json, rh_connector_instance **out);

  /* Writes a description: {"id", "name", "scopes": [...], "auth": "oauth2" | "token" | ...}. */
  rh_status (*describe)(rh_connector_instance *self, const rh_writer *out);

  /* Checks a grant (see above). "missing" and "expired" are answers, not failures: return
   * RH_OK with them. Fail only when the check itself could not be made. */
  rh_status (*check)(rh_connector_instance *self, rh_str request_json, const rh_writer *out);

  /* Turns a granted grant (the check request with "grant" filled) into env and MCP config
   * (see above). Secrets must be marked "secret": true. */
  rh_status (*materialize)(rh_connector_instance *self, rh_str grant_json,
                           const rh_writer *out);

  /* Optional, may be NULL: performs one connector action for the host
   * (e.g. "issues.create" with JSON args) and writes its JSON result. */
  rh_status (*invoke)(rh_connector_instance *self, rh_str action, rh_str args_json,
                      const rh_writer *out);

  void (*destroy)(rh_connector_instance *self);
} rh_connector_plugin;

RH_END_DECLS

#endif /* RUNHOST_CONNECTOR_H */
