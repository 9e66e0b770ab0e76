"""The AWS Parameters and Secrets Lambda Extension, emulated for the local server's functions.

On Lambda the extension runs beside each function and answers on ``localhost`` at
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``. Locally one emulator per server listens on a free
port of 127.0.0.1; each worker gets that port in ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` and
an ``AWS_SESSION_TOKEN``, which every request must carry in ``X-Aws-Parameters-Secrets-Token``,
as the extension requires the function's own session token.

It serves what the functions use: ``GET /secretsmanager/get?secretId=...`` with ``versionStage``
or ``versionId``, answered from moto with GetSecretValue's JSON; an error from Secrets Manager
passes through with its HTTP status and its code in the body. Parameter Store's path is not
emulated (the template keeps nothing there). Like the template's extension, it caches nothing.

``transport`` answers in-process, with no socket: the unit tests use it in place of HTTP.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

LOG = logging.getLogger("local_api")

PATH = "/secretsmanager/get"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name, not a secret
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"__type": code, "message": message}).encode()


def _value(response: Mapping[str, Any]) -> dict[str, Any]:
    """GetSecretValue's answer as JSON, as the extension relays it."""
    value: dict[str, Any] = {
        "ARN": response["ARN"],
        "Name": response["Name"],
        "VersionId": response["VersionId"],
        "VersionStages": response.get("VersionStages", []),
        "CreatedDate": response["CreatedDate"].timestamp() if "CreatedDate" in response else None,
        "ResultMetadata": {},
    }
    if "SecretString" in response:
        value["SecretString"] = response["SecretString"]
    if "SecretBinary" in response:
        value["SecretBinary"] = base64.b64encode(response["SecretBinary"]).decode("ascii")
    return value


class SecretsExtension:
    """Answers the extension's Secrets Manager requests from ``secretsmanager()`` (a boto3 client),
    for requests carrying ``token()``."""

    def __init__(self, secretsmanager: Callable[[], Any], token: Callable[[], str]) -> None:
        self._secretsmanager = secretsmanager
        self._token = token

    def _refusal(self, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, bytes] | None:
        if path != PATH:
            return _error(404, "NotFound", f"no such path: {path}")
        if method != "GET":
            return _error(405, "MethodNotAllowed", "only GET is served")
        sent = next((value for name, value in headers.items() if name.lower() == TOKEN_HEADER.lower()), "")
        expected = self._token()
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return _error(401, "UnauthorizedException", f"{TOKEN_HEADER} is missing or not this function's")
        return None

    def _get_secret_value(self, query: Mapping[str, list[str]]) -> tuple[int, bytes]:
        secret_id = (query.get("secretId") or [""])[0]
        if not secret_id:
            return _error(400, "ValidationException", "secretId is required")
        request = {"SecretId": secret_id}
        for parameter, name in (("versionStage", "VersionStage"), ("versionId", "VersionId")):
            if query.get(parameter):
                request[name] = query[parameter][0]
        try:
            response = self._secretsmanager().get_secret_value(**request)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400
            details = error.response.get("Error", {})
            return _error(status, details.get("Code", "ClientError"), details.get("Message", ""))
        except BotoCoreError as error:
            return _error(500, type(error).__name__, "Secrets Manager could not be reached")
        return 200, json.dumps(_value(response)).encode()

    def answer(self, method: str, target: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """(status, JSON body) for one request; ``target`` is its path and query string."""
        parts = urlsplit(target)
        return self._refusal(method, parts.path, headers) or self._get_secret_value(parse_qs(parts.query))

    def transport(
        self, port: int, target: str, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, bytes]:
        """``books_api.secret_source.Transport``, answered in this process."""
        return self.answer("GET", target, headers)

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        status, body = self.answer(environ["REQUEST_METHOD"], target, headers)
        start_response(
            f"{status} {_REASONS.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


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
