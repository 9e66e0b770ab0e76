"""One contract: what the request models publish (and pydantic enforces, with Rust's regex engine)
is what the domain accepts (with Python's), for any input, each rule stated once in books_api.limits.
Where JSON Schema cannot state a rule (an ISBN's check digit, the password policy), the model
accepts at least all the domain does, and the rest is the domain's alone."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from books_api import limits, passwords
from books_api.books import BookFields, normalize_isbn
from books_api.errors import BadRequest
from books_api.models import BookInput, Signup
from books_api.users import normalize_username
from tests.unit.conftest import Functions
from tests.utils import ADMIN, PASSWORD

FAST = settings(max_examples=400, deadline=None)

# Every code point but lone surrogates, which no JSON text carries as Unicode (pydantic refuses them).
any_char = st.characters(codec="utf-8")
# Around the characters the patterns name: controls, the spaces, ASCII punctuation and letters.
near_char = st.sampled_from(
    "\x00\t\n\x1f\x7f\x85\x9f\xa0\u1680\u2000\u200a\u200b\u2028\u202f\u205f\u3000\ufeff"
    " -._xX09aAzZ\uff21\uff41\u212a\u0131\u00e5"
)
texts = st.text(any_char | near_char, max_size=40)


def long_texts(length: int) -> st.SearchStrategy[str]:
    """Texts of about ``length`` characters, around a limit of that length."""
    return st.integers(length - 2, length + 2).flatmap(
        lambda size: st.text(any_char | near_char, min_size=size, max_size=size)
    )


def accepts(model: type[pydantic.BaseModel], body: dict[str, Any]) -> bool:
    try:
        model.model_validate(body)
    except pydantic.ValidationError:
        return False
    return True


def domain_accepts(check: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        check(*args, **kwargs)
    except BadRequest:
        return False
    return True


@FAST
@given(texts | long_texts(limits.TEXT_MAX_LENGTH))
def test_a_title_or_author_is_accepted_by_the_model_exactly_when_by_the_domain(text: str) -> None:
    for field in ("title", "author"):
        body = {"title": "T", "author": "A", field: text}
        by_domain = domain_accepts(BookFields.validated, year=None, isbn=None, **body)
        assert accepts(BookInput, body) == by_domain, (field, text)


@FAST
@given(st.from_regex(limits.TEXT_PATTERN, fullmatch=True) | texts)
def test_an_accepted_title_is_stored_without_surrounding_spaces(text: str) -> None:
    if len(text) <= limits.TEXT_MAX_LENGTH and accepts(BookInput, {"title": text, "author": "A"}):
        stored = BookFields.validated(title=text, author="A", year=None, isbn=None).title
        assert stored == text.strip() and stored
        assert not any(unicodedata.category(ch) == "Cc" for ch in stored)


@pytest.mark.parametrize(
    ("title", "accepted"),
    [
        ("Dune", True),
        ("  Dune  ", True),
        ("x" * limits.TEXT_MAX_LENGTH, True),
        ("x" * (limits.TEXT_MAX_LENGTH + 1), False),
        (" " * 3, False),
        ("\u3000\xa0", False),  # only spaces, of other scripts
        ("\ufeff", True),  # not a space: a zero-width no-break space is a format character
        ("Dune\n", False),  # Python's $ would match before the newline: the patterns are fullmatched
        ("\tDune", False),
        ("Du\x85ne", False),
    ],
)
def test_titles_at_the_edges(title: str, accepted: bool) -> None:
    assert accepts(BookInput, {"title": title, "author": "A"}) is accepted
    assert domain_accepts(BookFields.validated, title=title, author="A", year=None, isbn=None) is accepted


def test_the_spaces_of_the_text_pattern_are_unicodes_white_space_outside_controls() -> None:
    spaces = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    outside_controls = {ch for ch in spaces if unicodedata.category(ch) != "Cc"}
    not_a_title = {ch for ch in map(chr, range(0x3001)) if not re.fullmatch(limits.TEXT_PATTERN, ch)}
    controls = {ch for ch in map(chr, range(0x3001)) if unicodedata.category(ch) == "Cc"}
    assert not_a_title == controls | outside_controls


@FAST
@given(
    st.from_regex(limits.USERNAME_PATTERN, fullmatch=True) | texts | long_texts(limits.USERNAME_MAX_LENGTH)
)
def test_signup_takes_a_username_exactly_when_it_matches_the_pattern_and_stores_it_folded(raw: str) -> None:
    taken = accepts(Signup, {"username": raw, "password": PASSWORD})
    assert taken == bool(
        re.fullmatch(limits.USERNAME_PATTERN, raw) and len(raw) <= limits.USERNAME_MAX_LENGTH
    )
    if taken:
        assert normalize_username(raw) == raw.lower()


@FAST
@given(texts | long_texts(limits.USERNAME_MAX_LENGTH))
def test_every_key_the_domain_makes_is_a_username_signup_takes(raw: str) -> None:
    try:
        name = normalize_username(raw)
    except BadRequest:
        return
    assert accepts(Signup, {"username": name, "password": PASSWORD})


def _valid_check_digit(isbn: str) -> bool:
    """ISBN-10: the weighted sum (10 down to 1, X for 10) is 0 mod 11; ISBN-13: (1, 3, 1, ...) 0 mod 10."""
    values = [10 if ch in "Xx" else int(ch) for ch in isbn]
    if len(isbn) == 10:
        return sum((10 - i) * v for i, v in enumerate(values)) % 11 == 0
    return sum(v * (1 if i % 2 == 0 else 3) for i, v in enumerate(values)) % 10 == 0


@FAST
@given(st.from_regex(limits.ISBN_PATTERN, fullmatch=True) | texts | st.text("0123456789Xx- \t", max_size=34))
def test_the_model_takes_every_isbn_shape_and_the_domain_only_adds_the_check_digit(raw: str) -> None:
    by_model = accepts(BookInput, {"title": "T", "author": "A", "isbn": raw})
    by_domain = domain_accepts(normalize_isbn, raw)
    if by_domain:
        assert by_model
    if by_model:
        assert by_domain == _valid_check_digit(raw.replace("-", "").replace(" ", ""))


@FAST
@given(texts | long_texts(limits.PASSWORD_MIN_LENGTH) | long_texts(limits.PASSWORD_MAX_LENGTH))
def test_the_model_takes_every_password_the_policy_takes_at_its_length(password: str) -> None:
    in_range = limits.PASSWORD_MIN_LENGTH <= len(password) <= limits.PASSWORD_MAX_LENGTH
    by_policy = domain_accepts(passwords.check_policy, password, username="alice")
    by_model = accepts(Signup, {"username": "alice", "password": password})
    assert by_model == (in_range and "\x00" not in password)
    if by_policy and in_range:
        assert by_model


@pytest.mark.parametrize(("year", "stored"), [(2012.0, 2012), (-5000, -5000), (9999.0, 9999), (0, 0)])
def test_a_year_is_any_integral_json_number_in_range(year: float, stored: int) -> None:
    assert BookInput.model_validate({"title": "T", "author": "A", "year": year}).year == stored


@pytest.mark.parametrize("year", [2012.5, -5001, 10000, 1e300, True, "1999", float("inf")])
def test_other_years_are_refused(year: Any) -> None:
    assert not accepts(BookInput, {"title": "T", "author": "A", "year": year})


def test_a_book_the_api_sent_may_be_sent_back(lambdas: Functions) -> None:
    status, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=ADMIN
    )
    assert status == 201
    path = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": ADMIN}
    status, again, _ = lambdas.call("books", "PUT", f"/books/{book['id']}", body=book, **path)
    assert status == 200
    assert again["created_at"] == book["created_at"] and again["id"] == book["id"]


@pytest.mark.parametrize("username", [" alice", "\uff41\uff4c\uff49\uff43\uff45", "alice\n"])
def test_signup_takes_no_variant_of_a_name_and_login_folds_every_one(
    lambdas: Functions, username: str
) -> None:
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": username, "password": PASSWORD}
    )
    assert (status, body["errors"][0]["field"]) == (400, "username")
    assert (
        lambdas.call("signup", "POST", "/auth/signup", body={"username": "Alice", "password": PASSWORD})[0]
        == 201
    )
    credentials = {"username": username, "password": PASSWORD}
    status, _, _ = lambdas.call("login", "POST", "/auth/login", body=credentials)
    assert status == 200


def test_the_patterns_are_portable_between_regular_expression_dialects() -> None:
    """No \\s, \\d, \\w or \\b, whose meaning differs between Python and ECMAScript; anchored."""
    for name, pattern in vars(limits).items():
        if name.endswith("_PATTERN"):
            assert pattern.startswith("^") and pattern.endswith("$"), name
            assert not re.search(r"\\[sSdDwWbB]", pattern), name
            json.dumps(pattern)  # and representable in the JSON document
