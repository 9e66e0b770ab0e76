"""Generators for the formats docs/openapi.json names where a rule is beyond JSON Schema, so that
what schemathesis generates as valid is what the API accepts, and the values only the running
server knows (tools/fuzz_hooks.py registers them for `make fuzz`; tests/unit/test_fuzz.py checks
that the API's own rules accept all they make).

- ``isbn``: ISBN-10s and ISBN-13s with a valid check digit, hyphens or spaces between the digits.
- ``password``: passphrases, which no policy refuses: words of letters and digits with single
  spaces between them, 11 to 53 characters, already in NFKC form (their length is the length the
  policy counts), never a common password (the list has no entry with a space) and never a
  username (which has no space). The schema's own length bounds still apply to what is drawn.
- ``page-token``: the ``next_token`` of a real page of books, which tools/fuzz.py reads from the
  server and passes in FUZZ_NEXT_TOKEN (the server signs them: no other value is one). Each list
  signs its own, so the hooks send a list's own token (FUZZ_USERS_NEXT_TOKEN for the users, or
  one it answered with) wherever another list's arrives (``PageTokens``).
- ``uuid`` (a book's or a user's id): version 4 UUIDs, among them the id of the book and of the
  user tools/fuzz.py created (FUZZ_BOOK_ID, FUZZ_USER_ID), so that /books/{id} and /users/{id}
  reach one, not only 404s.
- ``mfa-code``: six-digit TOTP codes and recovery codes (groups of four base32 characters, with or
  without hyphens, in either case), among them the codes that work for the user with TOTP on that
  tools/fuzz.py made: the current code of its secret (FUZZ_TOTP_SECRET) and its recovery codes
  (FUZZ_RECOVERY_CODES). A code field's own pattern keeps the shapes it takes.

And the MFA tokens POST /auth/mfa takes, which a password login of that user hands out and which
live five minutes: ``MfaTokens`` keeps a live one for the hooks to send in place of half the
generated ones (``takes_mfa_token``).

Only hypothesis and the standard library: schemathesis loads this in its own environment
(.venv-fuzz), where nothing of the API is installed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
import unicodedata
import urllib.request
import zlib
from collections.abc import Callable

from hypothesis import strategies as st

TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
MFA_TOKEN_MAX_LENGTH = 256
# An MFA token lives 5 minutes: one older than this is replaced before it is sent.
MFA_TOKEN_REUSE_SECONDS = 240
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def isbn13_check(digits: list[int]) -> str:
    return str((10 - sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10) % 10)


def isbn10_check(digits: list[int]) -> str:
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "X" if check == 10 else str(check)


@st.composite
def isbns(draw: st.DrawFn) -> str:
    size, check = draw(st.sampled_from([(12, isbn13_check), (9, isbn10_check)]))
    digits = draw(st.lists(st.integers(0, 9), min_size=size, max_size=size))
    characters = [*map(str, digits), check(digits)]
    separators = draw(st.lists(st.sampled_from(["", "", "-", " "]), min_size=size, max_size=size))
    return "".join(ch + sep for ch, sep in zip(characters, [*separators, ""], strict=True))


def _is_nfkc(text: str) -> bool:
    return unicodedata.normalize("NFKC", text) == text


_WORD = st.text(st.characters(categories=("L", "N"), codec="utf-8"), min_size=3, max_size=8)
passphrases = st.lists(_WORD, min_size=3, max_size=6).map(" ".join).filter(_is_nfkc)


def given(name: str) -> st.SearchStrategy[str]:
    """The value of the environment variable ``name``, or nothing to draw if it is not set."""
    value = os.environ.get(name)
    return st.just(value) if value else st.nothing()


def given_list(name: str) -> st.SearchStrategy[str]:
    """One of the comma-separated values of the environment variable ``name``, or nothing."""
    values = [value for value in os.environ.get(name, "").split(",") if value]
    return st.sampled_from(values) if values else st.nothing()


def ids() -> st.SearchStrategy[str]:
    """A book's or a user's id: the fuzzed book's, the fuzzed user's, or any UUIDv4."""
    return st.one_of(given("FUZZ_BOOK_ID"), given("FUZZ_USER_ID"), st.uuids(version=4).map(str))


# --- multi-factor sign-in ----------------------------------------------------------------------


def totp(secret: str, step: int) -> str:
    """RFC 6238's code of ``step`` for a base32 ``secret`` (HMAC-SHA1, six digits)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**TOTP_DIGITS:0{TOTP_DIGITS}d}"


def current_totp(secret: str, now: Callable[[], float] = time.time) -> str:
    return totp(secret, int(now() // TOTP_STEP_SECONDS))


def _current_code() -> st.SearchStrategy[str]:
    """The code FUZZ_TOTP_SECRET's authenticator shows when it is drawn (it works once per step)."""
    secret = os.environ.get("FUZZ_TOTP_SECRET")
    if not secret:
        return st.nothing()
    return st.builds(lambda: current_totp(secret))


totp_codes = st.text(st.sampled_from("0123456789"), min_size=TOTP_DIGITS, max_size=TOTP_DIGITS)


@st.composite
def recovery_codes(draw: st.DrawFn) -> str:
    groups = [
        draw(st.text(st.sampled_from(BASE32 + BASE32.lower()), min_size=4, max_size=4)) for _ in range(4)
    ]
    separators = draw(st.lists(st.sampled_from(["-", ""]), min_size=3, max_size=3))
    return "".join(group + separator for group, separator in zip(groups, [*separators, ""], strict=True))


def mfa_codes() -> st.SearchStrategy[str]:
    return st.one_of(totp_codes, recovery_codes(), _current_code(), given_list("FUZZ_RECOVERY_CODES"))


def takes_mfa_token(generated: object) -> bool:
    """Whether the hooks send a live MFA token in place of ``generated``: for half of the values
    the document calls valid (by a checksum, so a case is sent the same way each time it runs)."""
    if not isinstance(generated, str) or not 1 <= len(generated) <= MFA_TOKEN_MAX_LENGTH:
        return False
    return zlib.crc32(generated.encode("utf-8", "surrogatepass")) % 2 == 0


class MfaTokens:
    """A live MFA token of the user with TOTP on: a password login's, reused for a few minutes
    and until a sign-in spends it."""

    def __init__(
        self, url: str, username: str, password: str, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        if not url.startswith("http://127.0.0.1:"):
            raise ValueError(f"not the local server: {url}")
        self.url = url
        self.username = username
        self.password = password
        self._now = now
        self._token: tuple[float, str] | None = None

    @classmethod
    def from_env(cls) -> MfaTokens | None:
        url, username, password = (
            os.environ.get(f"FUZZ_{name}") for name in ("URL", "MFA_USERNAME", "MFA_PASSWORD")
        )
        return cls(url, username, password) if url and username and password else None

    def login(self) -> str:
        body = json.dumps({"username": self.username, "password": self.password}).encode()
        request = urllib.request.Request(  # noqa: S310 - the local server's http URL, checked above
            self.url + "/auth/login", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            return str(json.loads(response.read())["mfa_token"])

    def token(self) -> str:
        if self._token is None or self._now() - self._token[0] > MFA_TOKEN_REUSE_SECONDS:
            self._token = (self._now(), self.login())
        return self._token[1]

    def spent(self) -> None:
        self._token = None


class PageTokens:
    """The next_tokens each list issued, by list: schemathesis carries a value it saw in one
    response into other requests (links it infers by name, data it reuses), and each list signs
    its own, so a token of one list sent to the other is swapped for a token of that list."""

    def __init__(self, issued: dict[str, str] | None = None) -> None:
        self._list_of: dict[str, str] = {}
        self._latest: dict[str, str] = {}
        for path, token in (issued or {}).items():
            self.record(path, {"next_token": token})

    @classmethod
    def from_env(cls) -> PageTokens:
        given = {
            "/books": os.environ.get("FUZZ_NEXT_TOKEN"),
            "/users": os.environ.get("FUZZ_USERS_NEXT_TOKEN"),
        }
        return cls({path: token for path, token in given.items() if token})

    def record(self, path: str, body: object) -> None:
        """Note the next_token of a page ``path`` answered with."""
        token = body.get("next_token") if isinstance(body, dict) else None
        if isinstance(token, str) and token:
            self._list_of.setdefault(token, path)
            self._latest[path] = token

    def for_path(self, path: str, token: object) -> object:
        """The next_token to send on ``path`` for ``token``: ``path``'s own for one another list
        issued; anything else as it was drawn."""
        issuer = self._list_of.get(token) if isinstance(token, str) else None
        if issuer is None or issuer == path or path not in self._latest:
            return token
        return self._latest[path]


def formats() -> dict[str, st.SearchStrategy[str]]:
    return {
        "isbn": isbns(),
        "password": passphrases,
        "page-token": given("FUZZ_NEXT_TOKEN"),
        "uuid": ids(),
        "mfa-code": mfa_codes(),
    }
