"""The signing keys: Secrets Manager versions of one secret, read through a cache.

A key's id (the JWT ``kid``) is its RFC 7638 thumbprint, so it names the secret version that
holds the key without a lookup table. Signing uses AWSCURRENT. Verification accepts AWSCURRENT,
and AWSPREVIOUS only for what it can have signed before the rotation took effect: a rotation
reaches every signer within the key cache time (warm functions keep the key they read), so the
previous key verifies a token only if its ``iat`` is at most the CreatedDate of the AWSCURRENT
version, plus the key cache time, plus ROTATION_SKEW_SECONDS; and since no token lives longer
than the access-token lifetime, the previous key is not used at all once that much more time has
passed. A token minted with a leaked previous key after the rotation is refused, whatever it
claims. When the current version's date is missing or unreadable, the previous key is not
trusted (fail closed). Values come through ``books_api.secret_source`` (the Parameters and
Secrets Lambda Extension on Lambda), so this module imports no AWS SDK.

The CreatedDate is the moment the rotation's createSecret step stored the new key, moments before
finishSecret made it current. A rotation retried over hours keeps the date of its first
createSecret, so the bound then falls before the rotation took effect: tokens warm signers make
with the old key in the key cache time after finishSecret are refused (their clients refresh or
sign in again). That errs on the safe side and is documented in docs/SECURITY.md.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from books_api.budget import RETRY_AFTER_SECONDS
from books_api.errors import ServiceUnavailable
from books_api.formats import b64url
from books_api.secret_source import (
    CURRENT,
    PREVIOUS,
    Fetch,
    SecretCache,
    SecretNotFound,
    SecretUnavailable,
    SecretVersion,
)

MIN_KEY_BYTES = 32
# What the previous key's bound allows beyond the key cache time: the seconds between createSecret
# (the new version's CreatedDate) and finishSecret of a rotation that succeeds at once (four
# invocations of the rotation function, the first maybe a cold start), the longest a signer can
# take between reading its key and signing with it (its 10 s timeout), and clock differences
# between AWS hosts and whole-second ``iat`` values. A minute covers these with room to spare;
# an attacker holding the previous key gains at most this minute over the key cache time.
ROTATION_SKEW_SECONDS = 60


def key_id(secret: bytes) -> str:
    """RFC 7638 JWK thumbprint of the symmetric key ``secret``."""
    jwk = '{"k":"' + b64url(secret) + '","kty":"oct"}'
    return b64url(hashlib.sha256(jwk.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey:
    """A key, and for the previous one the latest ``iat`` it is trusted to have signed."""

    kid: str
    secret: bytes = field(repr=False)
    signed_until: float | None = None

    @classmethod
    def from_secret_string(cls, value: str | bytes) -> SigningKey:
        secret = value.encode("utf-8") if isinstance(value, str) else value
        if len(secret) < MIN_KEY_BYTES:
            raise ValueError("signing key is shorter than 256 bits")
        return cls(kid=key_id(secret), secret=secret)


class KeyUnavailable(ServiceUnavailable):
    """The signing key could not be read (Secrets Manager down or throttled)."""


_RINGS: weakref.WeakSet[KeyRing] = weakref.WeakSet()


def forget_all() -> None:
    """Forget the keys of every KeyRing of the process (after a SnapStart restore)."""
    for ring in list(_RINGS):
        ring.forget()


class KeyRing:
    """AWSCURRENT and AWSPREVIOUS of one secret, each cached for ``max_age`` seconds.

    A token naming a kid that neither cached version has may have been signed after a rotation
    this process has not seen yet: ``find`` then re-reads the secret, but at most once every
    ``refresh_interval`` seconds, so a flood of forged kids cannot hammer Secrets Manager.
    ``fetch`` reads one version of a secret (``books_api.secret_source``; by default the
    extension, or Secrets Manager's API when the function has no extension). ``clock`` times the
    cache; ``wall_clock`` is compared with the secret's version dates.
    """

    def __init__(
        self,
        secret_arn: str,
        *,
        max_age: int,
        refresh_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        fetch: Fetch | None = None,
    ) -> None:
        self.secret_arn = secret_arn
        self.max_age = max_age
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._wall_clock = wall_clock
        self._secrets = SecretCache(fetch, max_age=max_age, clock=clock)
        self._keys: dict[str, SigningKey] = {}
        self._last_refresh = float("-inf")
        _RINGS.add(self)

    def holds_keys(self) -> bool:
        """Whether any secret value or key of it is cached."""
        return bool(self._keys) or len(self._secrets) > 0

    def forget(self) -> None:
        """Drop every cached version and key: the next use reads Secrets Manager again."""
        self._secrets.clear()
        self._keys.clear()
        self._last_refresh = float("-inf")

    def _key(self, value: str) -> SigningKey:
        """The key of a secret value, its thumbprint computed once per value."""
        key = self._keys.get(value)
        if key is None:
            if len(self._keys) >= 4:  # only rotations change the values
                self._keys.clear()
            key = self._keys[value] = SigningKey.from_secret_string(value)
        return key

    def _read(self, stage: str, *, force: bool) -> SecretVersion | None:
        try:
            return self._secrets.get(self.secret_arn, stage, force=force)
        except SecretNotFound as error:
            if stage == PREVIOUS:  # none before the first rotation, or revoked
                return None
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS) from error
        except SecretUnavailable as error:
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS) from error

    def _current(self, *, force: bool) -> SecretVersion:
        version = self._read(CURRENT, force=force)
        if version is None:
            raise KeyUnavailable(retry_after=RETRY_AFTER_SECONDS)
        return version

    def current(self) -> SigningKey:
        return self._key(self._current(force=False).value)

    def _signed_until(self, current: SecretVersion) -> float | None:
        """The latest ``iat`` the previous key may have signed, given the current version: None
        (not trusted) when that version's date is unknown."""
        if current.created is None:
            return None
        return current.created + self.max_age + ROTATION_SKEW_SECONDS

    def _lookup(self, kid: str, lifetime: float, *, force: bool) -> SigningKey | None:
        current = self._current(force=force)
        key = self._key(current.value)
        if key.kid == kid:
            return key
        # The previous version is judged by the date of the current one, so it must not have been
        # read before it: a rotation between the two reads would pair it with its successor's
        # successor, whose later date would widen its bound.
        stale = self._secrets.read_at(self.secret_arn, PREVIOUS) < self._secrets.read_at(
            self.secret_arn, CURRENT
        )
        previous = self._read(PREVIOUS, force=force or stale)
        if previous is None:
            return None
        key = self._key(previous.value)
        signed_until = self._signed_until(current)
        if key.kid != kid or signed_until is None:
            return None
        if self._wall_clock() > signed_until + lifetime + ROTATION_SKEW_SECONDS:
            return None  # whatever it signed in time has expired
        return replace(key, signed_until=signed_until)

    def find(self, kid: str, *, lifetime: float) -> SigningKey | None:
        """The verification key named ``kid``: the current one, or the previous one with the
        latest ``iat`` it is trusted to have signed (for tokens that live ``lifetime`` seconds at
        most), or None if neither has it or the previous one is no longer trusted."""
        key = self._lookup(kid, lifetime, force=False)
        if key is not None:
            return key
        now = self._clock()
        if now - self._last_refresh < self.refresh_interval:
            return None
        self._last_refresh = now
        return self._lookup(kid, lifetime, force=True)
