"""The AWS Parameters and Secrets Lambda Extension, emulated over a Secrets Manager client.

On Lambda the extension runs beside each function and answers on ``localhost`` at
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``; every request must carry the function's own session
token (``AWS_SESSION_TOKEN``) in ``X-Aws-Parameters-Secrets-Token``. The local server serves this
emulator on a free port of 127.0.0.1 (``local_api/extension.py``); the unit tests call it in
their own process.

It serves what the functions use: ``GET /secretsmanager/get?secretId=...`` with ``versionStage``
or ``versionId``, answered with GetSecretValue's JSON from the client it is given (moto's); an
error from Secrets Manager passes through with its HTTP status and its code in the body.
Parameter Store's path is not emulated (the template keeps nothing there). Like the template's
extension, it caches nothing.

``answer`` is one request, ``wsgi`` the same as a WSGI application, and ``transport`` answers in
this process with no socket (``books_api.secret_source.Transport``).
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

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
