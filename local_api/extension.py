"""The AWS Parameters and Secrets Lambda Extension's emulator (``stack.extension``), served to the
local server's functions.

One emulator per server listens on a free port of 127.0.0.1; each worker gets that port in
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` and an ``AWS_SESSION_TOKEN``, which every request must
carry in ``X-Aws-Parameters-Secrets-Token``, as the extension requires the function's own.
"""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from stack.extension import SecretsExtension


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class ExtensionServer:
    """The emulator on 127.0.0.1 (``port`` 0 picks a free one), in a thread of the local server."""

    def __init__(self, extension: SecretsExtension, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.extension = extension
        self.http: BaseWSGIServer = make_server(
            host, port, extension.wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.http.server_port

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.http.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="secrets-extension",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.http.shutdown()
            self._thread.join()
        self.http.server_close()
