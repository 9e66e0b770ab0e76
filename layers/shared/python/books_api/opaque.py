"""Opaque tokens (refresh tokens, MFA tokens): 256-bit random strings that the tokens table
keeps only as digests. Apart from ``books_api.tokens`` so that what stores them loads no PyJWT."""

from __future__ import annotations

import hashlib
import secrets


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the tokens table stores instead of the token (a 256-bit random token needs no salt)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
