"""Misuses the API; `mypy --strict` must report each line marked `# E`."""
from __future__ import annotations

import runhost


def misuse(host: runhost.Host, run: runhost.Run) -> None:
    n: int = run.id  # E
    host.cancel(42)  # E
    for ev in run.events():
        s: str = ev["seq"]  # E
        ev["no_such_key"]  # E
    info = run.wait()
    info.status = "failed"  # E
    runhost.Host(store=3.5)  # E
    e = runhost.ConnectorAuthorizationMissing("m")
    e.connect_url.startswith("https")  # E
    view = host.for_tenant(7)  # E
    host.for_tenant("t").close()  # E
    host.for_tenant("t").plugins()  # E
    run.host.close()  # E
