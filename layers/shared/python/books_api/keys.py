"""The signing keys: Secrets Manager versions of one secret, read through a cache.

A key's id (the JWT ``kid``) is its RFC 7638 thumbprint, so it names the secret version that
holds the key without a lookup table. Signing uses AWSCURRENT; verification accepts AWSCURRENT
and AWSPREVIOUS, so tokens signed just before a rotation stay valid until they expire. Values
come through ``books_api.secret_source`` (the Parameters and Secrets Lambda Extension on Lambda),
so this module imports no AWS SDK.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from books_api.budget import RETRY_AFTER_SECONDS
from books_api.errors import ServiceUnavailable
from books_api.secret_source import CURRENT, PREVIOUS, Fetch, SecretCache, SecretNotFound, SecretUnavailable

MIN_KEY_BYTES = 32


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2), as JWTs and this API's opaque tokens write bytes."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_id(secret: bytes) -> str:
    """RFC 7638 JWK thumbprint of the symmetric key ``secret``."""
    jwk = '{"k":"' + b64url(secret) + '","kty":"oct"}'
    return b64url(hashlib.sha256(jwk.encode("ascii")).digest())


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
    ``fetch`` reads one version of a secret (``books_api.secret_source``; by default the
    extension, or Secrets Manager's API when the function has no extension).
    """

    def __init__(
        self,
        secret_arn: str,
        *,
        max_age: int,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        fetch: Fetch | None = None,
    ) -> None:
        self.secret_arn = secret_arn
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._secrets = SecretCache(fetch, max_age=max_age, clock=clock)
        self._keys: dict[str, SigningKey] = {}
        self._last_refresh = float("-inf")

    def _key(self, value: str) -> SigningKey:
        """The key of a secret value, its thumbprint computed once per value."""
        key = self._keys.get(value)
        if key is None:
            if len(self._keys) >= 4:  # only rotations change the values
                self._keys.clear()
            key = self._keys[value] = SigningKey.from_secret_string(value)
        return key

    def _read(self, stage: str, *, force: bool) -> SigningKey | None:
        try:
            value = self._secrets.get(self.secret_arn, stage, force=force)
        except SecretNotFound as error:
            if stage == PREVIOUS:  # none before the first rotation
                return None
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS) from error
        except SecretUnavailable as error:
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS) from error
        return self._key(value.value)

    def current(self) -> SigningKey:
        key = self._read(CURRENT, force=False)
        if key is None:
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS)
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
