"""Environment variables read once into typed, validated settings (a bad value fails the cold start)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from books_api.errors import ConfigError


def _str(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise ConfigError(f"environment variable {name} must be true or false")


def _int(env: Mapping[str, str], name: str, *, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name} must be an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"environment variable {name} must be between {low} and {high}")
    return value


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    access_ttl_seconds: int
    signing_secret_arn: str
    secret_max_age_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> TokenSettings:
        return cls(
            issuer=_str(env, "TOKEN_ISSUER"),
            audience=_str(env, "TOKEN_AUDIENCE"),
            access_ttl_seconds=_int(env, "ACCESS_TOKEN_TTL_SECONDS", default=900, low=60, high=3600),
            signing_secret_arn=_str(env, "SIGNING_SECRET_ARN"),
            secret_max_age_seconds=_secret_max_age(env),
        )


@dataclass(frozen=True)
class LockoutSettings:
    """Failed logins for one username: ``threshold`` within ``window_seconds`` lock it for
    ``base_seconds``, doubling with each further lockout up to ``max_seconds``."""

    threshold: int = 5
    window_seconds: int = 900
    base_seconds: int = 30
    max_seconds: int = 900

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> LockoutSettings:
        return cls(
            threshold=_int(env, "LOCKOUT_THRESHOLD", default=5, low=1, high=100),
            window_seconds=_int(env, "LOCKOUT_WINDOW_SECONDS", default=900, low=1, high=86400),
            base_seconds=_int(env, "LOCKOUT_BASE_SECONDS", default=30, low=1, high=86400),
            max_seconds=_int(env, "LOCKOUT_MAX_SECONDS", default=900, low=1, high=86400),
        )


@dataclass(frozen=True)
class AccountSettings:
    users_table: str
    tokens_table: str
    refresh_ttl_seconds: int
    bcrypt_cost: int
    tokens: TokenSettings
    lockout: LockoutSettings
    # The KMS key that encrypts TOTP secrets, and the issuer name authenticator apps show.
    mfa_key_id: str
    mfa_issuer: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AccountSettings:
        return cls(
            users_table=_str(env, "USERS_TABLE"),
            tokens_table=_str(env, "TOKENS_TABLE"),
            refresh_ttl_seconds=_refresh_ttl(env),
            bcrypt_cost=_int(env, "BCRYPT_COST", default=12, low=4, high=31),
            tokens=TokenSettings.from_env(env),
            lockout=LockoutSettings.from_env(env),
            mfa_key_id=_str(env, "MFA_KEY_ID"),
            mfa_issuer=_str(env, "MFA_ISSUER"),
        )


def _secret_max_age(env: Mapping[str, str]) -> int:
    """How long a function keeps a secret it read (its key cache), in seconds."""
    return _int(env, "SECRET_MAX_AGE_SECONDS", default=300, low=0, high=3600)


def _refresh_ttl(env: Mapping[str, str]) -> int:
    return 86400 * _int(env, "REFRESH_TOKEN_TTL_DAYS", default=30, low=1, high=365)


@dataclass(frozen=True)
class DirectorySettings:
    """The user administration's settings: the tables, how long a session may live (the end of
    sessions is recorded that long), and the secret that signs the users list's ``next_token``."""

    users_table: str
    tokens_table: str
    refresh_ttl_seconds: int
    page_token_secret_arn: str
    secret_max_age_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> DirectorySettings:
        return cls(
            users_table=_str(env, "USERS_TABLE"),
            tokens_table=_str(env, "TOKENS_TABLE"),
            refresh_ttl_seconds=_refresh_ttl(env),
            page_token_secret_arn=_str(env, "PAGE_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=_secret_max_age(env),
        )


@dataclass(frozen=True)
class AuthorizerSettings:
    """The authorizer's settings: the token rules, and where revocation records are when
    ``strict_revocation`` makes it refuse access tokens of revoked sessions at once."""

    tokens: TokenSettings
    strict_revocation: bool
    tokens_table: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> AuthorizerSettings:
        strict = _bool(env, "STRICT_REVOCATION")
        return cls(
            tokens=TokenSettings.from_env(env),
            strict_revocation=strict,
            tokens_table=_str(env, "TOKENS_TABLE") if strict else None,
        )


@dataclass(frozen=True)
class BooksSettings:
    books_table: str
    page_token_secret_arn: str
    secret_max_age_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> BooksSettings:
        return cls(
            books_table=_str(env, "BOOKS_TABLE"),
            page_token_secret_arn=_str(env, "PAGE_TOKEN_SECRET_ARN"),
            secret_max_age_seconds=_secret_max_age(env),
        )


def cors_allow_origin(env: Mapping[str, str] = os.environ) -> str:
    return env.get("CORS_ALLOW_ORIGIN", "").strip() or "*"
