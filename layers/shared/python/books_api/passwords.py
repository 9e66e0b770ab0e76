"""Password policy, hashing and verification.

bcrypt reads at most 72 bytes and bcrypt 5 refuses longer input, while the policy allows up to
``MAX_LENGTH`` characters (up to four bytes each). So every password is pre-hashed once, always:
HMAC-SHA256 under a fixed domain-separation label, base64-encoded (44 ASCII bytes, no NUL), then
bcrypt. No two passwords share a bcrypt input unless they share a SHA-256 digest.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import hmac
import re
import unicodedata
from importlib import resources

import bcrypt

from books_api.errors import field_error
from books_api.limits import PASSWORD_MAX_LENGTH as MAX_LENGTH
from books_api.limits import PASSWORD_MIN_LENGTH as MIN_LENGTH
from books_api.limits import PASSWORD_PATTERN

MIN_COST, MAX_COST = 4, 31  # bcrypt's own bounds
_PREHASH_LABEL = b"books-api/password/v1"


def normalize(password: str) -> str:
    """NFKC, as NIST SP 800-63B asks, so one password typed on two keyboards is one password."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    data = resources.files("books_api").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def check_policy(password: str, *, username: str) -> None:
    """Raise a 400 naming the rule a new password breaks."""
    password = normalize(password)
    if len(password) < MIN_LENGTH or len(password) > MAX_LENGTH:
        raise field_error("password", f"must be {MIN_LENGTH} to {MAX_LENGTH} characters long")
    if not re.fullmatch(PASSWORD_PATTERN, password):
        raise field_error("password", "must not contain NUL characters")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, as from a command line's undecodable bytes
        raise field_error("password", "must be valid Unicode text") from None
    folded = password.casefold()
    if folded in common_passwords():
        raise field_error("password", "is too common; choose another")
    if folded == username.casefold():
        raise field_error("password", "must not be the username")


def _prehash(password: str) -> bytes:
    digest = hmac.new(_PREHASH_LABEL, normalize(password).encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str, *, cost: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=cost)).decode("ascii")


def cost_of(password_hash: str) -> int | None:
    """The cost a bcrypt hash was made with (``$2b$12$...`` is 12), or None if it is not one."""
    parts = password_hash.split("$")
    if len(parts) != 4 or parts[1] not in ("2a", "2b", "2y") or not parts[2].isdigit():
        return None
    cost = int(parts[2])
    return cost if MIN_COST <= cost <= MAX_COST else None


def _checkpw(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:
        return False


def verify_password(password: str, password_hash: str | None, *, cost: int) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from, at the work of one check
    at ``cost`` at least, whatever the hash: so no answer tells a known username from another.

    With no hash (no such user, or a hash that is not bcrypt's), the check runs against a dummy
    hash at ``cost``. A hash made at a lower cost (before the configured cost was raised) is
    checked, then padded with dummy checks at each cost from its own up to ``cost``: bcrypt's
    work doubles with each step, so their sum is the work of one check at ``cost``. A hash made
    at a higher cost costs more: lowering the cost is never done to live hashes' advantage.
    """
    stored_cost = cost_of(password_hash) if password_hash else None
    if password_hash is None or stored_cost is None:
        _checkpw(password, dummy_hash(cost))
        return False
    matches = _checkpw(password, password_hash)
    for padding in range(stored_cost, cost):
        _checkpw(password, dummy_hash(padding))
    return matches


def needs_rehash(password_hash: str, *, cost: int) -> bool:
    """Whether a stored hash was made at another cost than ``cost`` (it is rehashed at login)."""
    return cost_of(password_hash) != cost


def dummy_hash(cost: int) -> str:
    """A well-formed bcrypt hash at ``cost`` that no one's password produced.

    Checking a password against it costs the same bcrypt work as a real check; its result is
    never used.
    """
    return f"$2b${cost:02d}$" + _DUMMY_SALT_AND_CHECKSUM


_DUMMY_SALT_AND_CHECKSUM = "Rr1F6nI1J6uN0Lq0p2pO1eQ3m0y9b6mL1qg1qE8nVv0mXq2v0bG7y"
