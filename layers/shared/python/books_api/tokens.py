"""Access tokens: HS256 JWTs, made and checked by PyJWT (opaque tokens: ``books_api.opaque``)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from books_api.config import TokenSettings
from books_api.keys import KeyRing, SigningKey

ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret. RFC 9068: no other kind of JWT is accepted in its place
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "exp", "jti")
MAX_TOKEN_LENGTH = 4096
LEEWAY_SECONDS = 5
_KID = re.compile(r"[A-Za-z0-9_-]{43}")
_ALLOWED_HEADER = frozenset({"alg", "typ", "kid"})


class InvalidToken(Exception):
    """Why a token was refused: safe to log, never shown to a client, never contains the token."""


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    username: str
    roles: tuple[str, ...]
    session_id: str
    token_id: str
    expires_at: int


def issue_access_token(
    key: SigningKey,
    settings: TokenSettings,
    *,
    subject: str,
    username: str,
    roles: tuple[str, ...],
    session_id: str,
    now: int | None = None,
) -> str:
    issued_at = int(time.time()) if now is None else now
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": subject,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.access_ttl_seconds,
        "jti": uuid.uuid4().hex,
        "username": username,
        "roles": list(roles),
        "sid": session_id,
    }
    return jwt.encode(
        claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    )


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidToken("roles claim is not a list of strings")
    return tuple(value)


def _decode(token: str, key: SigningKey, settings: TokenSettings) -> dict[str, Any]:
    """PyJWT's verification under ``key``: the signature, then every registered claim."""
    return jwt.decode_complete(
        token,
        key.secret,
        algorithms=[ALGORITHM],
        audience=settings.audience,
        issuer=settings.issuer,
        leeway=LEEWAY_SECONDS,
        options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
    )


def _verified_by_another_key(token: str, keys: KeyRing, tried: SigningKey, lifetime: int) -> SigningKey:
    """The key a token not signed with ``tried`` (the current key) names: the previous one, or one
    this process has not read yet. Its unverified ``kid`` only chooses among our own keys."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as error:
        raise InvalidToken(f"malformed token: {type(error).__name__}") from None
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidToken("missing or malformed kid")
    key = keys.find(kid, lifetime=lifetime)
    if key is None:
        raise InvalidToken("unknown kid")
    if key.kid == tried.kid:
        raise InvalidToken("rejected: InvalidSignatureError")
    return key


def verify_access_token(token: str, keys: KeyRing, settings: TokenSettings) -> AccessClaims:
    """The verified claims of an access token, or InvalidToken saying why not.

    The algorithm is pinned, the key is one of our own secret versions and the one the header's
    ``kid`` names, the header has only ``alg``, ``typ`` (an access token's) and ``kid``, every
    claim in REQUIRED_CLAIMS must be present and valid, and the lifetime may not exceed the
    configured one. The current key is tried first (one pass over the token, the usual case); a
    token it did not sign is tried with the key its ``kid`` names, and one the previous key signed
    must have been issued before that key was rotated out (``SigningKey.signed_until``). A
    KeyUnavailable from the key ring propagates: the caller denies.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("token missing or too long")
    key = keys.current()
    try:
        try:
            decoded = _decode(token, key, settings)
        except jwt.InvalidSignatureError:
            key = _verified_by_another_key(token, keys, key, settings.access_ttl_seconds)
            decoded = _decode(token, key, settings)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"rejected: {type(error).__name__}") from None
    header, claims = decoded["header"], decoded["payload"]
    if header.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    if not set(header) <= _ALLOWED_HEADER:
        raise InvalidToken("unexpected header parameters")
    if header.get("kid") != key.kid:
        raise InvalidToken("missing or malformed kid")
    # PyJWT accepts any value int() takes ("123", 1.5, true): ours are integers, nothing else.
    if not all(type(claims[name]) is int for name in ("iat", "exp")):
        raise InvalidToken("iat or exp is not an integer")
    if claims["exp"] - claims["iat"] > settings.access_ttl_seconds:
        raise InvalidToken("lifetime longer than allowed")
    if key.signed_until is not None and claims["iat"] > key.signed_until:
        raise InvalidToken("signed by the previous key after it was rotated out")
    subject, username, session_id, token_id = (claims.get(k) for k in ("sub", "username", "sid", "jti"))
    if not all(isinstance(value, str) and value for value in (subject, username, session_id, token_id)):
        raise InvalidToken("sub, username, sid or jti missing or not a string")
    return AccessClaims(
        subject=subject,
        username=username,
        roles=_string_list(claims.get("roles")),
        session_id=session_id,
        token_id=token_id,
        expires_at=int(claims["exp"]),
    )


def token_pair(access_token: str, refresh_token: str, settings: TokenSettings) -> dict[str, Any]:
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": settings.access_ttl_seconds,
        "refresh_token": refresh_token,
    }
