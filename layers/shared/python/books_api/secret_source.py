"""Where secret values come from, and the cache in front of them.

On Lambda the functions that read a secret carry the AWS Parameters and Secrets Lambda Extension
(a layer, see template.yaml). It answers ``GET /secretsmanager/get?secretId=...&versionStage=...``
on ``localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` with GetSecretValue's JSON, calling
Secrets Manager with the function's own credentials, for requests that carry the function's
session token in ``X-Aws-Parameters-Secrets-Token``. Reading through it takes a standard-library
HTTP request instead of boto3: the authorizer, which needs nothing else from AWS, never imports
boto3, and boto3's import and client creation are most of a cold start.

Without the extension (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` empty, as under
``sam local``), secrets are read with boto3's GetSecretValue, imported only then.

Each read gives the version's value and its ``CreatedDate`` (``SecretVersion``): the signing key's
previous version is trusted only as far as the date of the version that replaced it allows (keys.py).

``SecretCache`` is the one cache (the template turns the extension's own off): a value is kept
``max_age`` seconds, so warm invocations make no request, and a forced read really reads.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from books_api import budget
from books_api.errors import ConfigError

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"

PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name, not a secret
# The template sets the extension's own timeout for Secrets Manager (SECRETS_MANAGER_TIMEOUT_MILLIS)
# below this, so a slow Secrets Manager is reported by the extension before the request times out.
REQUEST_TIMEOUT_SECONDS = 3.0
MIN_REQUEST_SECONDS = 0.05


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret as GetSecretValue gives it: its SecretString and, as epoch seconds,
    its CreatedDate (None if the answer had none that could be read)."""

    value: str = field(repr=False)
    created: float | None


Fetch = Callable[[str, str], SecretVersion]
"""(secret id, version stage) -> that version; raises SecretNotFound or SecretUnavailable."""
Transport = Callable[[int, str, Mapping[str, str], float], tuple[int, bytes]]
"""(port, request target, headers, timeout) -> (HTTP status, body) of one GET to localhost."""


class SecretNotFound(Exception):
    """No such secret, or no version of it with that stage (AWSPREVIOUS before a first rotation)."""


class SecretUnavailable(Exception):
    """The secret could not be read now: the extension or Secrets Manager failed, or no time is left."""


def created_date(raw: Any) -> float | None:
    """A version's CreatedDate as epoch seconds, or None for anything else.

    boto3 gives a datetime; Secrets Manager's JSON, which the extension relays, an epoch-seconds
    number; AWS's Secrets Manager Agent (the extension's open-source counterpart off Lambda) that
    number as a string; an ISO 8601 string is read too. A date without a time zone is no point in
    time: None.
    """
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            try:
                raw = datetime.fromisoformat(raw)
            except ValueError:
                return None
    if isinstance(raw, datetime):
        return raw.timestamp() if raw.utcoffset() is not None else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw) and raw > 0:
        return float(raw)
    return None


def http_get(port: int, target: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """One GET to the extension on localhost. http.client, not urllib: no proxy settings apply."""
    connection = http.client.HTTPConnection("localhost", port, timeout=timeout)
    try:
        connection.request("GET", target, headers=dict(headers))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class ExtensionSecrets:
    """Reads secrets through the Parameters and Secrets Lambda Extension listening on ``port``."""

    def __init__(self, port: int, *, transport: Transport | None = None) -> None:
        self.port = port
        self._transport = transport

    def __call__(self, secret_id: str, stage: str) -> SecretVersion:
        remaining = budget.remaining()
        timeout = REQUEST_TIMEOUT_SECONDS if remaining is None else min(REQUEST_TIMEOUT_SECONDS, remaining)
        if timeout < MIN_REQUEST_SECONDS:
            raise SecretUnavailable("no time left in this invocation to read a secret")
        # Read per request, as Lambda may renew the function's credentials between invocations.
        token = os.environ.get("AWS_SESSION_TOKEN", "")
        if not token:
            raise SecretUnavailable("AWS_SESSION_TOKEN is not set: the extension would refuse the request")
        target = "/secretsmanager/get?" + urlencode({"secretId": secret_id, "versionStage": stage})
        transport = self._transport or http_get
        try:
            status, body = transport(self.port, target, {TOKEN_HEADER: token}, timeout)
        except (OSError, http.client.HTTPException) as error:
            raise SecretUnavailable(f"the extension did not answer: {type(error).__name__}") from error
        if status == 200:
            try:
                answer = json.loads(body)
                value = answer.get("SecretString")
            except (ValueError, AttributeError):
                value = None
            if not isinstance(value, str):
                raise SecretUnavailable("the extension answered without a SecretString")
            return SecretVersion(value, created_date(answer.get("CreatedDate")))
        # The extension passes Secrets Manager's error through; its exact shape is not documented,
        # but it names the error code.
        if b"ResourceNotFoundException" in body:
            raise SecretNotFound(f"{stage} of the secret does not exist")
        raise SecretUnavailable(f"the extension answered {status}")


class SecretsManagerApi:
    """Reads secrets with boto3's GetSecretValue: for functions without the extension."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    def __call__(self, secret_id: str, stage: str) -> SecretVersion:
        # Imported here so that a function reading through the extension never imports boto3.
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        from books_api import aws  # noqa: PLC0415

        client = self._client or aws.client("secretsmanager")
        try:
            response = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        except ClientError as error:
            if aws.error_code(error) == "ResourceNotFoundException":
                raise SecretNotFound(f"{stage} of the secret does not exist") from None
            raise SecretUnavailable(aws.error_code(error)) from error
        except BotoCoreError as error:
            raise SecretUnavailable(type(error).__name__) from error
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise SecretUnavailable("the secret has no SecretString")
        return SecretVersion(value, created_date(response.get("CreatedDate")))


def from_environment(env: Mapping[str, str] = os.environ) -> Fetch:
    """The extension when the function has one (its port is set), else Secrets Manager's API."""
    raw = env.get(PORT_VARIABLE, "").strip()
    if not raw:
        return SecretsManagerApi()
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {PORT_VARIABLE} must be a port number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"environment variable {PORT_VARIABLE} must be a port number")
    return ExtensionSecrets(port)


_CACHES: weakref.WeakSet[SecretCache] = weakref.WeakSet()


def forget_all() -> None:
    """Empty every SecretCache of the process: after a SnapStart restore (books_api.snapstart),
    so that no value read before the snapshot is served from it."""
    for cache in list(_CACHES):
        cache.clear()


class SecretCache:
    """Secret versions by (secret id, version stage), each kept for ``max_age`` seconds.

    A stage that does not exist is remembered as such for as long as a value would be; a failed
    read is never remembered. ``force`` reads again whatever is cached; ``read_at`` says when the
    cached entry was read (on ``clock``); ``clear`` forgets every entry.
    """

    def __init__(
        self,
        fetch: Fetch | None = None,
        *,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch or from_environment()
        self.max_age = max_age
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, SecretVersion | None]] = {}
        _CACHES.add(self)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def read_at(self, secret_id: str, stage: str) -> float:
        """When the cached entry of ``stage`` was read; -inf if there is none."""
        entry = self._entries.get((secret_id, stage))
        return float("-inf") if entry is None else entry[0]

    def get(self, secret_id: str, stage: str = CURRENT, *, force: bool = False) -> SecretVersion:
        now = self._clock()
        entry = self._entries.get((secret_id, stage))
        if entry is not None and not force and now - entry[0] < self.max_age:
            version = entry[1]
        else:
            try:
                version = self._fetch(secret_id, stage)
            except SecretNotFound:
                version = None
            self._entries[(secret_id, stage)] = (now, version)
        if version is None:
            raise SecretNotFound(f"{stage} of the secret does not exist")
        return version
