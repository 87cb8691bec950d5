"""The triage console: a small standard-library web app over the alert store.

``serve_console(store, host, port, playbooks)`` is what ``healthdlp console`` runs;
``start_console`` runs the same server in a background thread and returns its URL.
"""

from dashboards.console.app import Console, Request, Response
from dashboards.console.server import ConsoleServer, make_server, serve_console, start_console

__all__ = ["Console", "ConsoleServer", "Request", "Response", "make_server", "serve_console", "start_console"]
