"""Settings read from the environment at cold start: defaults, limits, and failing fast on bad values."""

from __future__ import annotations

import pytest

from books_api.config import (
    AccountSettings,
    AuthorizerSettings,
    BooksSettings,
    DirectorySettings,
    TokenSettings,
)
from books_api.errors import ConfigError

TOKENS = {"TOKEN_ISSUER": "urn:i", "TOKEN_AUDIENCE": "urn:a", "SIGNING_SECRET_ARN": "arn:s"}
ACCOUNTS = {
    **TOKENS,
    "USERS_TABLE": "users",
    "TOKENS_TABLE": "tokens",
    "MFA_KEY_ID": "arn:k",
    "MFA_ISSUER": "books-api",
}
DIRECTORY = {"USERS_TABLE": "users", "TOKENS_TABLE": "tokens", "PAGE_TOKEN_SECRET_ARN": "arn:p"}


def test_defaults_are_the_production_values() -> None:
    settings = AccountSettings.from_env(ACCOUNTS)
    assert settings.bcrypt_cost == 12
    assert settings.refresh_ttl_seconds == 30 * 86400
    assert settings.tokens.access_ttl_seconds == 900
    assert settings.tokens.secret_max_age_seconds == 300
    assert (settings.lockout.threshold, settings.lockout.window_seconds) == (5, 900)
    assert (settings.lockout.base_seconds, settings.lockout.max_seconds) == (30, 900)
    assert (settings.mfa_key_id, settings.mfa_issuer) == ("arn:k", "books-api")


def test_values_are_read_and_typed() -> None:
    settings = AccountSettings.from_env({**ACCOUNTS, "BCRYPT_COST": "4", "ACCESS_TOKEN_TTL_SECONDS": "60"})
    assert (settings.bcrypt_cost, settings.tokens.access_ttl_seconds) == (4, 60)


@pytest.mark.parametrize("missing", sorted(ACCOUNTS))
def test_a_missing_required_variable_fails_the_cold_start(missing: str) -> None:
    env = {key: value for key, value in ACCOUNTS.items() if key != missing}
    with pytest.raises(ConfigError, match=missing):
        AccountSettings.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BCRYPT_COST", "3"),
        ("BCRYPT_COST", "twelve"),
        ("ACCESS_TOKEN_TTL_SECONDS", "86400"),
        ("REFRESH_TOKEN_TTL_DAYS", "0"),
    ],
)
def test_out_of_range_values_fail_the_cold_start(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        AccountSettings.from_env({**ACCOUNTS, name: value})


def test_strict_revocation_needs_the_tokens_table() -> None:
    assert AuthorizerSettings.from_env(TOKENS).strict_revocation is False
    with pytest.raises(ConfigError, match="TOKENS_TABLE"):
        AuthorizerSettings.from_env({**TOKENS, "STRICT_REVOCATION": "true"})
    strict = AuthorizerSettings.from_env({**TOKENS, "STRICT_REVOCATION": "true", "TOKENS_TABLE": "t"})
    assert (strict.strict_revocation, strict.tokens_table) == (True, "t")
    with pytest.raises(ConfigError, match="STRICT_REVOCATION"):
        AuthorizerSettings.from_env({**TOKENS, "STRICT_REVOCATION": "yes"})


def test_books_and_token_settings() -> None:
    books = BooksSettings.from_env({"BOOKS_TABLE": "b", "PAGE_TOKEN_SECRET_ARN": "arn:p"})
    assert (books.books_table, books.page_token_secret_arn) == ("b", "arn:p")
    assert TokenSettings.from_env(TOKENS).issuer == "urn:i"


def test_directory_settings() -> None:
    settings = DirectorySettings.from_env({**DIRECTORY, "REFRESH_TOKEN_TTL_DAYS": "7"})
    assert (settings.users_table, settings.tokens_table) == ("users", "tokens")
    assert (settings.page_token_secret_arn, settings.refresh_ttl_seconds) == ("arn:p", 7 * 86400)
    assert settings.secret_max_age_seconds == 300


@pytest.mark.parametrize("missing", sorted(DIRECTORY))
def test_the_directory_fails_the_cold_start_without_a_required_variable(missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        DirectorySettings.from_env({key: value for key, value in DIRECTORY.items() if key != missing})
