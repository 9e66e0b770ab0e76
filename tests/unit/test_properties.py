"""Property-based tests: for any input, each validator and the token verifier gives a valid result
or its one documented error, never another exception; and the handlers answer any body or header
with a JSON 4xx, never a 500.

Example counts are bounded (``FAST``, ``SLOW``) so the whole file runs in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
import unicodedata
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from books_api import passwords
from books_api.books import MAX_TEXT, BookFields, normalize_isbn
from books_api.config import TokenSettings
from books_api.errors import BadRequest
from books_api.formats import b64url
from books_api.keys import SigningKey
from books_api.models import BookInput, Credentials, LogoutRequest, PasswordChange, RefreshRequest
from books_api.pagination import PageTokens
from books_api.tokens import ACCESS_TOKEN_TYPE, AccessClaims, InvalidToken, verify_access_token
from books_api.users import normalize_username
from tests.unit.conftest import Functions
from tests.unit.conftest import claims as token_claims
from tests.utils import ADMIN

FAST = settings(max_examples=300, deadline=None)
SLOW = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Every code point, lone surrogates included: Python strings can hold them (from argv, say).
any_char = st.characters(codec=None, exclude_categories=())
any_text = st.text(any_char, max_size=300)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def field_of(error: BadRequest) -> str:
    return error.errors[0]["field"]


# --- usernames ---------------------------------------------------------------------------------

USERNAME = r"[a-z0-9](?:[a-z0-9._-]{0,30}[a-z0-9])?"


@FAST
@given(any_text)
def test_any_username_is_a_valid_key_or_a_username_error(raw: str) -> None:
    try:
        name = normalize_username(raw)
    except BadRequest as error:
        assert field_of(error) == "username"
        return
    assert 1 <= len(name) <= 32
    assert name.isascii() and name == name.lower() == name.strip()
    assert normalize_username(name) == name


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@FAST
@given(st.from_regex(USERNAME, fullmatch=True), st.sampled_from([str.upper, str.title, _fullwidth]))
def test_case_and_width_variants_of_a_name_are_one_key(name: str, variant: Any) -> None:
    assert normalize_username(f" {variant(name)} ") == normalize_username(name) == name


# --- passwords ---------------------------------------------------------------------------------


@FAST
@given(any_text, st.from_regex(USERNAME, fullmatch=True))
def test_any_password_meets_the_policy_or_gets_a_password_error(password: str, username: str) -> None:
    try:
        passwords.check_policy(password, username=username)
    except BadRequest as error:
        assert field_of(error) == "password"
        return
    normalized = unicodedata.normalize("NFKC", password)
    assert passwords.MIN_LENGTH <= len(normalized) <= passwords.MAX_LENGTH
    assert "\x00" not in normalized
    assert normalized.casefold() != username
    assert normalized.casefold() not in passwords.common_passwords()
    # An accepted password can always be stored and checked.
    assert passwords.verify_password(password, passwords.hash_password(password, cost=4), cost=4)


@FAST
@given(any_text, st.one_of(any_text, st.just(passwords.dummy_hash(4))))
def test_verifying_any_password_against_any_hash_is_a_boolean(password: str, password_hash: str) -> None:
    assert passwords.verify_password(password, password_hash, cost=4) in (True, False)


# --- books -------------------------------------------------------------------------------------


def _isbn13(digits: list[int]) -> str:
    check = (10 - sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, [*digits, check]))


def _isbn10(digits: list[int]) -> str:
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "".join(map(str, digits)) + ("X" if check == 10 else str(check))


@st.composite
def hyphenated_isbns(draw: st.DrawFn) -> tuple[str, str]:
    """A valid ISBN and the same one with hyphens or spaces anywhere."""
    kind = draw(st.sampled_from([(12, _isbn13), (9, _isbn10)]))
    isbn = kind[1](draw(st.lists(st.integers(0, 9), min_size=kind[0], max_size=kind[0])))
    separators = draw(st.lists(st.sampled_from(["", "", "-", " "]), min_size=len(isbn), max_size=len(isbn)))
    return isbn, "".join(ch + sep for ch, sep in zip(isbn, separators, strict=True))


def _isbn_is_valid(isbn: str) -> bool:
    if len(isbn) == 10:
        values = [10 if ch == "X" else int(ch) for ch in isbn]
        return "X" not in isbn[:9] and sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0
    return sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(isbn)) % 10 == 0


@FAST
@given(st.one_of(any_text, st.text("0123456789Xx- ", max_size=20), st.text(st.characters(categories=["Nd"]))))
def test_any_isbn_is_normalised_ascii_with_a_valid_check_digit_or_an_isbn_error(raw: str) -> None:
    try:
        isbn = normalize_isbn(raw)
    except BadRequest as error:
        assert field_of(error) == "isbn"
        return
    assert isbn.isascii() and len(isbn) in (10, 13)
    assert set(isbn) <= set("0123456789X")
    assert _isbn_is_valid(isbn)


@FAST
@given(hyphenated_isbns())
def test_valid_isbns_however_hyphenated_normalise_to_their_characters(isbns: tuple[str, str]) -> None:
    isbn, written = isbns
    assert normalize_isbn(written) == normalize_isbn(written.lower()) == isbn


@FAST
@given(any_text, any_text, st.none() | st.integers(-5000, 9999), st.none() | any_text)
def test_any_book_fields_are_valid_or_name_the_field(
    title: str, author: str, year: int | None, isbn: str | None
) -> None:
    try:
        fields = BookFields.validated(title=title, author=author, year=year, isbn=isbn)
    except BadRequest as error:
        assert field_of(error) in ("title", "author", "isbn")
        return
    for text in (fields.title, fields.author):
        assert 1 <= len(text) <= MAX_TEXT
        assert text == text.strip()
        assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)
    assert fields.year == year


# --- next_token --------------------------------------------------------------------------------

PAGE_KEY = b"k" * 32
page_tokens = PageTokens(lambda: PAGE_KEY)


def _signed(payload: bytes) -> str:
    """``payload`` under a valid MAC: what only the server could make, to reach the checks past it."""
    return f"{b64url(payload)}.{b64url(page_tokens._mac(payload))}"


def _check_cursor(cursor: dict[str, Any]) -> None:
    assert set(cursor) == {"created_key"}
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z#[0-9a-f-]{36}", cursor["created_key"]
    )


@FAST
@given(
    st.one_of(
        st.text(max_size=600),
        st.text("ABCDEFabcdef0123456789-_.=", max_size=200),
        json_values.map(lambda value: _signed(json.dumps(value).encode())),
        st.binary(max_size=100).map(_signed),
        st.fixed_dictionaries({"c": json_values | st.text(), "i": json_values | st.text()}).map(
            lambda value: _signed(json.dumps(value).encode())
        ),
        st.fixed_dictionaries({"c": json_values | st.text()}).map(
            lambda value: _signed(json.dumps(value).encode())
        ),
    )
)
def test_any_next_token_decodes_to_a_cursor_or_is_a_400(token: str) -> None:
    try:
        cursor = page_tokens.decode(token)
    except BadRequest as error:
        assert field_of(error) == "next_token"
        return
    _check_cursor(cursor)


@FAST
@given(st.datetimes(min_value=datetime(1970, 1, 1)), st.uuids(version=4))
def test_next_tokens_round_trip(created: Any, book_id: Any) -> None:
    cursor = {"created_key": f"{created:%Y-%m-%dT%H:%M:%S}Z#{book_id}"}
    assert page_tokens.decode(page_tokens.encode(cursor)) == cursor


# --- Basic credentials -------------------------------------------------------------------------


def _basic(header: str | None) -> tuple[str, str] | None:
    # Imported here, not at collection: the Powertools singletons must be made under the test environment.
    from books_api import http

    app = SimpleNamespace(
        current_event=SimpleNamespace(headers={} if header is None else {"authorization": header})
    )
    return http.basic_credentials(app)  # type: ignore[arg-type]


@FAST
@given(
    st.one_of(
        st.none(),
        any_text,
        any_text.map(lambda text: f"Basic {text}"),
        st.binary(max_size=80).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
    )
)
def test_any_authorization_header_gives_credentials_none_or_a_400(header: str | None) -> None:
    try:
        result = _basic(header)
    except BadRequest as error:
        assert error.status == 400
        return
    if header is None:
        assert result is None
    else:
        username, password = result
        assert isinstance(username, str) and isinstance(password, str)


@FAST
@given(st.text(max_size=60).filter(lambda name: ":" not in name), st.text(max_size=200))
def test_basic_credentials_round_trip(username: str, password: str) -> None:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    assert _basic(f"Basic {encoded}") == (username, password)


# --- request models ----------------------------------------------------------------------------

MODELS = [Credentials, RefreshRequest, LogoutRequest, PasswordChange, BookInput]


def _shaped_like(model: type[pydantic.BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the model's own field names (and maybe one more), holding any JSON value."""
    names = list(model.model_fields)
    return st.dictionaries(
        st.sampled_from([*names, "roles", "id", "password_hash"]),
        json_values | any_text,
        max_size=len(names) + 1,
    )


@FAST
@given(
    st.sampled_from(MODELS).flatmap(
        lambda model: st.tuples(st.just(model), json_values | _shaped_like(model))
    )
)
def test_any_json_body_validates_or_is_a_validation_error(case: tuple[type[pydantic.BaseModel], Any]) -> None:
    model, body = case
    try:
        parsed = model.model_validate(body)
    except pydantic.ValidationError:
        return
    assert isinstance(body, dict)
    if isinstance(parsed, BookInput):
        try:
            parsed.fields()
        except BadRequest as error:
            assert field_of(error) in ("title", "author", "isbn")


# --- the access-token verifier -----------------------------------------------------------------

SECRET = b"s" * 48
KEY = SigningKey.from_secret_string(SECRET)
TOKENS = TokenSettings(
    issuer="urn:books-api:test",
    audience="urn:books-api:test:api",
    access_ttl_seconds=900,
    signing_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    secret_max_age_seconds=300,
)


class OneKey:
    """The key ring as the verifier uses it: only our key, current and by its kid."""

    def current(self) -> SigningKey:
        return KEY

    def find(self, kid: str, *, lifetime: float) -> SigningKey | None:
        return KEY if kid == KEY.kid else None


def _jwt(header: Any, payload: Any, key: bytes) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def _valid_claims() -> dict[str, Any]:
    return token_claims(iss=TOKENS.issuer, aud=TOKENS.audience, sub="user-1")


odd_numbers = st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1, 0, 10**30, True, "1", "9999999999"])


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], extra_keys: list[str]) -> tuple[dict[str, Any], int]:
    """``base`` with up to three of its entries removed, replaced by any JSON value, or added."""
    result = dict(base)
    count = draw(st.sampled_from([0, 1, 1, 1, 2, 3]))
    for _ in range(count):
        name = draw(st.sampled_from(sorted({*base, *extra_keys})))
        action = draw(st.sampled_from(["delete", "replace", "number"]))
        if action == "delete":
            result.pop(name, None)
        else:
            result[name] = draw(odd_numbers if action == "number" else json_values)
    return result, count


HEADER = {"alg": "HS256", "typ": ACCESS_TOKEN_TYPE, "kid": KEY.kid}
CRAFTED_TOKENS = st.builds(
    lambda header, claims, key: (_jwt(header[0], claims[0], key), header[1] + claims[1], key == SECRET),
    mutated(HEADER, ["crit", "jku", "jwk", "x5u", "cty", "b64"]),
    st.builds(lambda _: _valid_claims(), st.none()).flatmap(lambda claims: mutated(claims, ["nbf"])),
    st.sampled_from([SECRET, SECRET, b"", b"secret"]),
)


def _check_accepted(claims: AccessClaims, payload: dict[str, Any]) -> None:
    assert payload["iss"] == TOKENS.issuer and payload["aud"] == TOKENS.audience
    assert type(payload["exp"]) is int and type(payload["iat"]) is int
    assert payload["exp"] - payload["iat"] <= TOKENS.access_ttl_seconds
    assert payload["exp"] > time.time() - 10
    assert (claims.subject, claims.username, claims.session_id) == (
        payload["sub"],
        payload["username"],
        payload["sid"],
    )
    assert all(isinstance(role, str) for role in claims.roles)


@FAST
@given(
    st.one_of(
        st.text(max_size=5000),
        st.from_regex(r"[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{0,50}"),
    )
)
def test_any_string_is_refused_with_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        verify_access_token(token, OneKey(), TOKENS)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(CRAFTED_TOKENS)
def test_any_crafted_token_is_verified_claims_or_invalid_token(crafted: tuple[str, int, bool]) -> None:
    token, mutations, right_key = crafted
    try:
        claims = verify_access_token(token, OneKey(), TOKENS)  # type: ignore[arg-type]
    except InvalidToken:
        assert mutations or not right_key, "an untouched token signed with our key must verify"
        return
    assert right_key
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == HEADER
    _check_accepted(claims, payload)


@FAST
@given(st.sampled_from(sorted(_valid_claims())), odd_numbers | json_values)
def test_a_signed_token_with_any_value_in_one_claim_is_verified_or_invalid_token(
    name: str, value: Any
) -> None:
    payload = {**_valid_claims(), name: value}
    try:
        claims = verify_access_token(_jwt(HEADER, payload, SECRET), OneKey(), TOKENS)  # type: ignore[arg-type]
    except InvalidToken:
        return
    _check_accepted(claims, payload)


# --- the handlers, end to end ------------------------------------------------------------------

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/books"


def _assert_json_4xx_or(status: int, body: Any, allowed: set[int]) -> None:
    assert status in allowed, (status, body)
    if status >= 400:
        assert isinstance(body["message"], str) and body["message"]


@SLOW
@given(json_values | _shaped_like(BookInput))
def test_any_book_body_is_created_or_a_json_400(lambdas: Functions, body: Any) -> None:
    status, response, _ = lambdas.call("books", "POST", "/books", body=body, authorizer=ADMIN)
    _assert_json_4xx_or(status, response, {201, 400})


@SLOW
@given(json_values | _shaped_like(Credentials))
def test_any_signup_body_signs_up_or_is_a_json_4xx(lambdas: Functions, body: Any) -> None:
    status, response, _ = lambdas.call("signup", "POST", "/auth/signup", body=body)
    _assert_json_4xx_or(status, response, {201, 400, 409})


@SLOW
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
def test_any_basic_header_at_login_is_a_json_4xx(lambdas: Functions, credentials: str) -> None:
    for header in (f"Basic {credentials}", "Basic " + base64.b64encode(credentials.encode()).decode()):
        status, response, _ = lambdas.call("login", "POST", "/auth/login", headers={"Authorization": header})
        _assert_json_4xx_or(status, response, {400, 401, 429})


@SLOW
@given(st.one_of(st.text(max_size=300), st.text(max_size=300).map(lambda text: f"Bearer {text}")))
def test_any_authorization_token_is_denied_with_unauthorized(lambdas: Functions, header: str) -> None:
    assume(header)
    event = {"type": "TOKEN", "authorizationToken": header, "methodArn": METHOD_ARN}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        lambdas.invoke("authorizer", event)
