"""A scripted model server for the end-to-end suite (Python standard library only).

It speaks the streaming wire formats of the providers the agent CLIs call — Anthropic
Messages, OpenAI Responses, Gemini generateContent, OpenAI chat completions — and answers
from a scenario file. See tests/e2e/README.md.
"""

from .scenario import Scenario
from .server import ModelServer, ServerState

__all__ = ["ModelServer", "Scenario", "ServerState", "make_server"]


def make_server(scenario: Scenario, log_file=None, host: str = "127.0.0.1", port: int = 0) -> ModelServer:
    """A server for `scenario` bound to host:port (port 0: any free port), every route added."""
    from . import anthropic, chat, gemini, responses

    server = ModelServer(ServerState(scenario, log_file), host, port)
    for module in (anthropic, responses, gemini, chat):
        server.add_routes(module.ROUTES)
    return server
