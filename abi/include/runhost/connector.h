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
 *                   "grant": {"id": "grt_...", "scopes": ["repo"], "created_at": "<RFC 3339>",
 *                             "expires_at": "<RFC 3339>" | null, "expired": false,
 *                             "metadata": {...}} | null}
 * check result:    {"state": "granted" | "missing" | "expired",
 *                   "grant_id": "...",             when granted
 *                   "connect_url": "https://...",  when missing or expired
 *                   "scopes": ["repo"]}
 * materialize in:  the check request, its "grant" (when there is one) with "secret": {...}
 * materialize out: {"env": {"GITHUB_TOKEN": {"value": "...", "secret": true}},
 *                   "mcp_servers": {"github": {...MCP server config...}}}
 *
 * The host keeps the grants (runhost grants add, Host::add_grant): "grant" is the user's newest
 * grant for this connector that is neither revoked nor expired, else the newest expired one
 * ("expired": true, the host's judgement: answer "expired" with a connect_url), else null. Its
 * "secret" is what the user granted (a token given directly, or what exchange() made of an
 * authorization code); it reaches only materialize(), and only for a usable grant.
 *
 * Thread rules: create() and destroy() on the host's control thread; describe(), check(),
 * materialize() and invoke() on the host's worker threads, exchange() on the thread of the
 * host call that asked for it (never the reactor); all of them concurrently for one instance,
 * so they must be thread-safe. They may block (they are allowed host->http_request).
 *
 *   static rh_status exchange(rh_connector_instance *self, rh_str code, rh_str request_json,
 *                             const rh_writer *out) {
 *     ... POST the code to the provider's token endpoint with host->http_request ...
 *     return rh_json_write_cstr(out, "{\"secret\":{\"access_token\":\"...\"},"
 *                                    "\"scopes\":[\"repo\"],\"expires_in\":3600}");
 *   }
 */
#ifndef RUNHOST_CONNECTOR_H
#define RUNHOST_CONNECTOR_H

#include "host.h"
#include "types.h"

RH_BEGIN_DECLS

/* The plugin's own per-instance state; opaque to the host. */
typedef struct rh_connector_instance rh_connector_instance;

typedef struct rh_connector_plugin {
  uint32_t struct_size; /* sizeof(rh_connector_plugin); 56 for a plugin built against 1.0-1.1 */

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

  /* Since 1.2 (the host reads it only when struct_size covers it). Optional, may be NULL: a
   * connector without it takes grants only as secret material given directly.
   *
   * Turns an authorization code (what the provider's connect page handed back to the
   * backend, borrowed for the call) into grant material, usually by POSTing it to the
   * provider's token endpoint with host->http_request. `request_json` is
   * {"connector", "tenantId", "userId", "scopes": [...asked for...]}. Writes
   * {"secret": {...}, "scopes": [...], "expires_in": seconds, "metadata": {...}}: "secret"
   * (required, a JSON object: every string in it is treated as a secret) is stored apart and
   * handed to materialize(); "scopes" (default: those asked for), "expires_in" (default: no
   * expiry) and "metadata" (never secret: an account name, say) are optional. Return
   * RH_ERR_INVALID_ARGUMENT when the provider refused the code (the user has to connect
   * again: the host answers connector_authorization_missing), RH_ERR_IO or RH_ERR_TIMEOUT
   * when it could not be asked; set_error() says why, without the code or any token.
   *
   * Why a separate call rather than a host-side OAuth client: token endpoints disagree on
   * form fields, client authentication and response shapes; the connector knows its provider. */
  rh_status (*exchange)(rh_connector_instance *self, rh_str code, rh_str request_json,
                        const rh_writer *out);
} rh_connector_plugin;

RH_END_DECLS

#endif /* RUNHOST_CONNECTOR_H */
