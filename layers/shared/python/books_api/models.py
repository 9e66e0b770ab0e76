"""The API's bodies as Powertools validates them and documents them in the OpenAPI schema.

Requests: strict types (``"1999"`` is not a year and ``true`` is not a number), and every rule
JSON Schema can state, stated with the domain's own constants, so that the published schema is
what the API accepts. What it cannot state the domain checks: a username already taken (409),
and, each named by a ``format`` on its field, an ISBN's check digit and the password policy.
Fields a client must not set are refused, except a book's server-set fields, which are ignored so
a client can PUT back the book it got.

Responses: every success body, made from the domain's objects (dicts or dataclasses alike, by
attribute), so that a route sends exactly these fields and never a password, hash or secret.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue

from books_api import limits
from books_api.books import BookFields
from books_api.permissions import ADMIN, READER

# What any login or current password may be: long enough for every policy, short enough to refuse
# a body built to make the check expensive.
MAX_SECRET_LENGTH = 1024
MAX_REFRESH_TOKEN_LENGTH = 256
MAX_MFA_TOKEN_LENGTH = 256


# Every model defers building its validator to its first use (pydantic's defer_build): a function
# builds only the models of the routes it serves, and only when a request needs them, not the
# whole module's at every cold start.
class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


def _secret() -> Any:
    """A password to check (not to set): any string up to MAX_SECRET_LENGTH."""
    return Field(max_length=MAX_SECRET_LENGTH, json_schema_extra={"format": "password"})


def _new_password() -> Any:
    return Field(
        min_length=limits.PASSWORD_MIN_LENGTH,
        max_length=limits.PASSWORD_MAX_LENGTH,
        pattern=limits.PASSWORD_PATTERN,
        description=f"{limits.PASSWORD_MIN_LENGTH} to {limits.PASSWORD_MAX_LENGTH} characters, as sent "
        "and after NFKC normalisation; no NUL; not a common password; not the username",
        json_schema_extra={"format": "password"},
    )


class Credentials(_Request):
    """A login: any strings, since a name or password that cannot exist is just a wrong one (401)."""

    username: str = Field(max_length=256, description="Case-insensitive; full-width forms are folded")
    password: str = _secret()


class Signup(_Request):
    username: str = Field(
        max_length=limits.USERNAME_MAX_LENGTH,
        pattern=limits.USERNAME_PATTERN,
        description=f"1 to {limits.USERNAME_MAX_LENGTH} ASCII letters, digits, and '.', '_' or '-' "
        "between them; case-insensitive (stored in lower case); 409 if taken",
    )
    password: str = _new_password()


class RefreshRequest(_Request):
    refresh_token: str = Field(min_length=1, max_length=MAX_REFRESH_TOKEN_LENGTH)


class LogoutRequest(_Request):
    refresh_token: str | None = Field(
        default=None, max_length=MAX_REFRESH_TOKEN_LENGTH, description="Also revoke this session"
    )


class PasswordChange(_Request):
    current_password: str = _secret()
    new_password: str = _new_password()


def _code(description: str, pattern: str = limits.MFA_CODE_PATTERN, **default: Any) -> Any:
    return Field(
        **default,
        max_length=limits.MFA_CODE_MAX_LENGTH,
        pattern=pattern,
        description=description,
        json_schema_extra={"format": "mfa-code"},
    )


_ANY_CODE = (
    f"A {limits.TOTP_DIGITS}-digit TOTP code, or an unused recovery code "
    f"({limits.RECOVERY_CODE_LENGTH} base32 characters; hyphens and case do not matter)"
)


class MfaCompletion(_Request):
    mfa_token: str = Field(
        min_length=1,
        max_length=MAX_MFA_TOKEN_LENGTH,
        description="The login's mfa_token (single use, 5 minutes)",
    )
    code: str = _code(_ANY_CODE)


class TotpConfirmation(_Request):
    code: str = _code(
        f"The {limits.TOTP_DIGITS}-digit code the authenticator shows for the new secret",
        limits.TOTP_CODE_PATTERN,
    )


class AccountDeletion(_Request):
    password: str = _secret()
    code: str | None = _code(f"Required when multi-factor sign-in is on. {_ANY_CODE}", default=None)


class MfaRemoval(_Request):
    password: str = _secret()
    code: str = _code(_ANY_CODE)


Role = Literal["reader", "admin"]


class UserChange(_Request):
    """Absent (or null) fields stay as they are; a change of either ends the user's sessions."""

    roles: list[Role] | None = Field(
        default=None,
        min_length=1,
        max_length=4,
        description=f'{ADMIN} includes {READER}; ["{READER}"] removes {ADMIN}',
    )
    disabled: bool | None = Field(default=None, description="A disabled user cannot sign in or refresh")


def _text(what: str) -> Any:
    return Field(
        min_length=1,
        max_length=limits.TEXT_MAX_LENGTH,
        pattern=limits.TEXT_PATTERN,
        description=f"The {what}: 1 to {limits.TEXT_MAX_LENGTH} characters, no control characters, "
        "not all spaces (surrounding spaces are dropped)",
    )


# The check digit is beyond JSON Schema: the format names it (tools/fuzz_formats.py makes valid ones).
Isbn = Annotated[
    str,
    Field(
        max_length=limits.ISBN_MAX_LENGTH, pattern=limits.ISBN_PATTERN, json_schema_extra={"format": "isbn"}
    ),
]


def _integral(value: Any) -> Any:
    """2012.0 as 2012: JSON has one kind of number, and JSON Schema calls any with no fraction an integer."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Year = Annotated[int, Field(ge=limits.YEAR_MIN, le=limits.YEAR_MAX), BeforeValidator(_integral)]


def _ignored(what: str) -> Any:
    return Field(default=None, exclude=True, description=f"Ignored: the {what} is the server's")


class BookInput(_Request):
    title: str = _text("title")
    author: str = _text("author")
    year: Year | None = None
    isbn: Isbn | None = Field(
        default=None,
        description="An ISBN-10 or ISBN-13 with a valid check digit; hyphens and spaces are dropped",
    )
    id: Any = _ignored("id")
    created_at: Any = _ignored("creation time")
    updated_at: Any = _ignored("update time")

    def fields(self) -> BookFields:
        return BookFields.validated(title=self.title, author=self.author, year=self.year, isbn=self.isbn)


# --- responses ---------------------------------------------------------------------------------


def _is_none(value: Any) -> bool:
    return value is None


def _omitted_when_none(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Document the fields left out of a body when they are None as their type, and not required."""
    for name, field in model.model_fields.items():
        if field.exclude_if is _is_none:
            prop = schema["properties"][name]
            (present,) = [branch for branch in prop.pop("anyOf") if branch != {"type": "null"}]
            prop.pop("default", None)
            prop.update(present)


class _Response(BaseModel):
    # Made from a domain object by attribute, or from a dict, which may hold no field but these.
    model_config = ConfigDict(
        from_attributes=True, extra="forbid", json_schema_extra=_omitted_when_none, defer_build=True
    )


_TIMESTAMP: dict[str, JsonValue] = {"format": "date-time"}


class TokenPair(_Response):
    """RFC 6749 §5.1; always sent with Cache-Control: no-store."""

    access_token: str = Field(description="A JWT for the Authorization header: Bearer <access_token>")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Seconds the access token is valid for")
    refresh_token: str = Field(description="Single use: POST /auth/refresh for a new pair")


class UserProfile(_Response):
    id: str
    username: str = Field(description="As stored: folded to lower case")
    roles: list[str]
    created_at: str = Field(json_schema_extra=_TIMESTAMP)
    disabled: bool
    mfa_enabled: bool


class SignupResult(TokenPair):
    user: UserProfile


class UserPage(_Response):
    items: list[UserProfile]
    next_token: str | None = Field(description="Opaque: pass it back for the next page; null on the last")


class MfaChallenge(_Response):
    """A login of a user with multi-factor sign-in on: no tokens yet."""

    mfa_required: Literal[True]
    mfa_token: str = Field(description="Single use: POST /auth/mfa with it and a code")
    expires_in: int = Field(description="Seconds the MFA token is valid for")


class TotpEnrolment(_Response):
    secret: str = Field(description="Base32, 160 bits: shown once, for an authenticator app")
    otpauth_uri: str = Field(description="The same secret as an otpauth:// URI (for a QR code)")


class RecoveryCodes(_Response):
    recovery_codes: list[str] = Field(description="Each works once, in place of a TOTP code; shown once")


class Book(_Response):
    id: str = Field(json_schema_extra={"format": "uuid"})
    title: str
    author: str
    year: int | None = Field(default=None, exclude_if=_is_none)
    isbn: str | None = Field(default=None, exclude_if=_is_none, description="Its digits (and X), no hyphens")
    created_at: str = Field(json_schema_extra=_TIMESTAMP)
    updated_at: str = Field(json_schema_extra=_TIMESTAMP)


class BookPage(_Response):
    items: list[Book]
    next_token: str | None = Field(description="Opaque: pass it back for the next page; null on the last")


class Health(_Response):
    status: Literal["ok"]
