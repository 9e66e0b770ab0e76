"""Opaque, tamper-evident ``next_token`` values: where a page ended, signed with HMAC-SHA256.

A token is ``<payload>.<mac>`` (both base64url). Anything that does not verify, or does not
decode to exactly the cursor of the index it pages (the books' ``ByCreation``: a ``created_key``;
the users' ``Directory``: a username), is a 400: a client can only hand back what the server gave
it. Each list signs with its own key derived from the secret, so a token of one list is no token
of the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from typing import Any, Self

from books_api.budget import RETRY_AFTER_SECONDS
from books_api.errors import BadRequest, ServiceUnavailable
from books_api.formats import b64url
from books_api.limits import USERNAME_PATTERN
from books_api.secret_source import Fetch, SecretCache, SecretNotFound, SecretUnavailable

MAX_TOKEN_LENGTH = 512
_LABEL = b"books-api/next-token/v1"
_USERS_LABEL = b"books-api/users-next-token/v1"
_USERNAME = re.compile(USERNAME_PATTERN)
# A book's place in the catalogue: when it was created (to the second for books created before
# the microseconds were kept), then its id.
_CREATED_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?Z#([0-9a-f-]{36})")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def invalid() -> BadRequest:
    return BadRequest(
        "Invalid next_token", errors=[{"field": "next_token", "message": "is not a token this API issued"}]
    )


class _SecretDerivedKey:
    """An HMAC key derived from a Secrets Manager secret, read through ``books_api.secret_source``
    (the Parameters and Secrets Lambda Extension on Lambda) and cached for ``max_age`` seconds."""

    def __init__(
        self, secret_arn: str, *, max_age: int, fetch: Fetch | None = None, label: bytes = _LABEL
    ) -> None:
        self.secret_arn = secret_arn
        self.label = label
        self._secrets = SecretCache(fetch, max_age=max_age)
        self._derived: tuple[str, bytes] | None = None

    def __call__(self) -> bytes:
        try:
            value = self._secrets.get(self.secret_arn).value
        except (SecretNotFound, SecretUnavailable) as error:
            raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from error
        if self._derived is None or self._derived[0] != value:
            self._derived = (value, hmac.new(value.encode(), self.label, hashlib.sha256).digest())
        return self._derived[1]


class PageTokens:
    """Tokens of the books list: where a page ended is its last ``created_key`` (``{"c": ...}``).

    Tokens issued before the catalogue was sharded also name the book's id (``{"c", "i"}``, the
    id the key ends with); they verify under the same key and stand for the same cursor, so a
    client paging across that change carries on where it was.
    """

    label = _LABEL

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    @classmethod
    def from_secret(cls, secret_arn: str, *, max_age: int, fetch: Fetch | None = None) -> Self:
        return cls(_SecretDerivedKey(secret_arn, max_age=max_age, fetch=fetch, label=cls.label))

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key(), payload, hashlib.sha256).digest()

    def _payload(self, cursor: dict[str, Any]) -> dict[str, str]:
        return {"c": cursor["created_key"]}

    def _cursor(self, data: dict[str, Any]) -> dict[str, Any]:
        """The cursor a verified payload stands for; ``invalid()`` if it is not of this index."""
        if set(data) not in ({"c"}, {"c", "i"}):
            raise invalid()
        created_key = data["c"]
        match = _CREATED_KEY.fullmatch(created_key) if isinstance(created_key, str) else None
        if match is None or data.get("i", match.group(1)) != match.group(1):
            raise invalid()
        return {"created_key": created_key}

    def encode(self, cursor: dict[str, Any]) -> str:
        """The token of where a page ended (plain values)."""
        payload = json.dumps(self._payload(cursor), separators=(",", ":")).encode()
        return f"{b64url(payload)}.{b64url(self._mac(payload))}"

    def decode(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise invalid()
        payload_text, mac_text = token.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (binascii.Error, ValueError):
            raise invalid() from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid()
        try:
            data = json.loads(payload)
        except ValueError:
            raise invalid() from None
        if not isinstance(data, dict):
            raise invalid()
        return self._cursor(data)


class UserPageTokens(PageTokens):
    """Tokens of the users list: a page's last key is a username (the ``Directory`` index's sort key)."""

    label = _USERS_LABEL

    def _payload(self, cursor: dict[str, Any]) -> dict[str, str]:
        return {"u": cursor["username"]}

    def _cursor(self, data: dict[str, Any]) -> dict[str, Any]:
        username = data.get("u") if set(data) == {"u"} else None
        if not isinstance(username, str) or not _USERNAME.fullmatch(username) or username != username.lower():
            raise invalid()
        return {"username": username}
