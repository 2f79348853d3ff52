"""A loopback emulator of the MIOSA sandbox HTTP API (Python standard library only).

The emulator answers the routes of the official MIOSA Python SDK (``miosa`` 2.19.2) under
``/api/v1`` on 127.0.0.1 and executes every sandbox command for real, confined with
bubblewrap. It exists so that runhost's MIOSA device can be tested without the service.

Modules:
  cli        argument parsing, startup checks, signal handling (the ``serve`` script calls it)
  httpcore   the HTTP/1.1 server: request parsing, JSON/bytes/SSE responses, request ids, logging
  app        routing: auth, faults, idempotency, then the handler; the admin routes
  api_*      the route handlers, one module per area of the API
  state      the in-memory model: sandboxes, snapshots, deployments, tokens, idempotency store
  sandbox_exec  bubblewrap confinement, the process spawner, output pumps, process records
  files      path confinement, atomic writes, stat/list/tree, the watch differ
  proxy      preview tokens and the ``/p/<token>/`` reverse proxy, listening-port discovery
  faults     the fault knobs armed through ``POST /_emulator/faults``
"""

__version__ = "1.0.0"
