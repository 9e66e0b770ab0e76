"""The signing keys: Secrets Manager versions of one secret, read through Powertools' cache.

A key's id (the JWT ``kid``) is its RFC 7638 thumbprint, so it names the secret version that
holds the key without a lookup table. Signing uses AWSCURRENT; verification accepts AWSCURRENT
and AWSPREVIOUS, so tokens signed just before a rotation stay valid until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from books_api import aws
from books_api.errors import ServiceUnavailable

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
MIN_KEY_BYTES = 32


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(secret: bytes) -> str:
    """RFC 7638 JWK thumbprint of the symmetric key ``secret``."""
    jwk = '{"k":"' + _b64url(secret) + '","kty":"oct"}'
    return _b64url(hashlib.sha256(jwk.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes = field(repr=False)

    @classmethod
    def from_secret_string(cls, value: str | bytes) -> SigningKey:
        secret = value.encode("utf-8") if isinstance(value, str) else value
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError("signing key is shorter than 256 bits")
        return cls(kid=key_id(secret), secret=secret)


class KeyUnavailable(ServiceUnavailable):
    """The signing key could not be read (Secrets Manager down or throttled)."""


class KeyRing:
    """AWSCURRENT and AWSPREVIOUS of one secret, each cached for ``max_age`` seconds.

    A token naming a kid that neither cached version has may have been signed after a rotation
    this process has not seen yet: ``find`` then re-reads the secret, but at most once every
    ``refresh_interval`` seconds, so a flood of forged kids cannot hammer Secrets Manager.
    """

    def __init__(
        self,
        secret_arn: str,
        *,
        max_age: int,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        client: Any | None = None,
    ) -> None:
        self.secret_arn = secret_arn
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._client = client
        # Powertools caches by name only, not by version stage: one provider per stage.
        self._providers: dict[str, SecretsProvider] = {}
        self._no_previous_until = float("-inf")
        self._last_refresh = float("-inf")

    def _provider(self, stage: str) -> SecretsProvider:
        if stage not in self._providers:
            self._providers[stage] = SecretsProvider(
                boto3_client=self._client or aws.client("secretsmanager")
            )
        return self._providers[stage]

    def _read(self, stage: str, *, force: bool) -> SigningKey | None:
        if stage == PREVIOUS and not force and self._clock() < self._no_previous_until:
            return None
        try:
            value = self._provider(stage).get(
                self.secret_arn, max_age=self.max_age, force_fetch=force, VersionStage=stage
            )
        except GetParameterError as error:
            cause = error.__context__
            if (
                stage == PREVIOUS
                and isinstance(cause, ClientError)
                and aws.error_code(cause) == "ResourceNotFoundException"
            ):
                self._no_previous_until = self._clock() + self.max_age
                return None
            raise KeyUnavailable(retry_after=aws.RETRY_AFTER_SECONDS) from error
        if value is None:
            raise KeyUnavailable(retry_after=aws.RETRY_AFTER_SECONDS)
        return SigningKey.from_secret_string(value)

    def current(self) -> SigningKey:
        key = self._read(CURRENT, force=False)
        if key is None:
            raise KeyUnavailable(retry_after=aws.RETRY_AFTER_SECONDS)
        return key

    def _lookup(self, kid: str, *, force: bool) -> SigningKey | None:
        for stage in (CURRENT, PREVIOUS):
            key = self._read(stage, force=force)
            if key is not None and key.kid == kid:
                return key
        return None

    def find(self, kid: str) -> SigningKey | None:
        """The verification key named ``kid``, or None if no current or previous version has it."""
        key = self._lookup(kid, force=False)
        if key is not None:
            return key
        now = self._clock()
        if now - self._last_refresh < self.refresh_interval:
            return None
        self._last_refresh = now
        return self._lookup(kid, force=True)
