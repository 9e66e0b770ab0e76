"""`make fuzz`: the verdict on a schemathesis report fails on a schema mismatch or an operation left
untested, the settings hold schema-valid data to being accepted, the generators for the
document's formats make only values the API accepts, and the values the hooks put in place of
drawn ones are the server's own."""

from __future__ import annotations

import json
import re
import time
import tomllib
from collections import Counter
from typing import Any

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from books_api import limits, mfa, passwords
from books_api.books import normalize_isbn
from books_api.models import BookInput, MfaCompletion, PasswordChange, Signup, TotpConfirmation
from tools import fuzz, fuzz_formats

FAST = settings(max_examples=300, deadline=None)


def report(**warnings: list[str]) -> dict[str, Any]:
    """A schemathesis JSON report of a clean run, with ``warnings`` (kind: operations) added."""
    return {
        "schemathesis_version": "4.32.5",
        "seed": 1,
        "operations": {"tested": 12},
        "test_cases": {"generated": 800, "with_failures": 0, "errored": 0},
        "warnings": {"validation_mismatch": [], "unsupported_regex": [], "missing_test_data": [], **warnings},
        "valid_rates": {
            "POST /books": {"fuzzing": {"accepted": 9, "unreachable": 0, "conflicts": 0, "rejected": 0}}
        },
    }


def verdict(run: dict[str, Any], exit_code: int = 0, operations: int = 12) -> list[str]:
    result = {
        "exit_code": exit_code,
        "report": run,
        "statuses": Counter({200: 5, 400: 3}),
        "operations": operations,
    }
    return fuzz.verdict(result)[1]


def test_a_clean_run_passes() -> None:
    result = {"exit_code": 0, "report": report(), "statuses": Counter({200: 5}), "operations": 12}
    line, problems = fuzz.verdict(result)
    assert problems == []
    assert "9 accepted" in line and "0 refused" in line


def test_an_operation_of_the_document_left_untested_fails_the_run() -> None:
    assert verdict(report(), operations=13) == ["12 of the document's 13 operations tested"]


def test_the_document_s_operations_are_counted_from_it() -> None:
    document = json.loads(fuzz.DOCUMENT.read_text())
    assert fuzz.operations() == sum(len(methods) for methods in document["paths"].values())
    assert fuzz.operations() >= 21  # the routes of template.yaml, each documented


def test_a_schema_mismatch_warning_fails_the_run_even_if_schemathesis_passed() -> None:
    problems = verdict(report(validation_mismatch=["POST /books", "PUT /books/{id}"]))
    assert problems == ["validation_mismatch warning for POST /books, PUT /books/{id}"]


def test_a_pattern_schemathesis_cannot_use_fails_the_run() -> None:
    assert verdict(report(unsupported_regex=["POST /books"])) == ["unsupported_regex warning for POST /books"]


def test_other_warnings_are_reported_by_schemathesis_only() -> None:
    assert verdict(report(missing_test_data=["DELETE /books/{id}"])) == []


def test_a_failed_check_fails_the_run() -> None:
    assert verdict(report(), exit_code=1) == ["schemathesis exited with 1"]


def test_schemathesis_itself_fails_on_the_warnings_the_verdict_fails_on() -> None:
    config = tomllib.loads(fuzz.CONFIG.read_text())
    assert set(fuzz.FAILING_WARNINGS) <= set(config["warnings"]["fail-on"])


def test_schema_valid_data_must_be_accepted_on_every_operation() -> None:
    config = tomllib.loads(fuzz.CONFIG.read_text())
    assert config["checks"].get("positive_data_acceptance", {}).get("enabled", True)
    # No operation widens what counts as accepted: a 400 for valid data is always a failure.
    assert "expected-statuses" not in json.dumps(config)


# --- the generators ----------------------------------------------------------------------------


def _request_formats(document: dict[str, Any]) -> set[str]:
    """The formats named in the document's request bodies and parameters."""
    schemas = document["components"]["schemas"]
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            if isinstance(node.get("$ref"), str):
                walk(schemas[node["$ref"].rsplit("/", 1)[1]])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for operations in document["paths"].values():
        for operation in operations.values():
            walk([operation.get("parameters", []), operation.get("requestBody", {})])
    return found


def test_every_format_a_request_names_has_a_generator() -> None:
    document = json.loads(fuzz.DOCUMENT.read_text())
    assert _request_formats(document) == set(fuzz_formats.formats())


@FAST
@given(fuzz_formats.isbns())
def test_every_generated_isbn_is_accepted(isbn: str) -> None:
    BookInput.model_validate({"title": "T", "author": "A", "isbn": isbn})
    assert normalize_isbn(isbn) == isbn.replace("-", "").replace(" ", "")


@FAST
@given(fuzz_formats.passphrases, st.from_regex(limits.USERNAME_PATTERN, fullmatch=True))
def test_every_generated_password_is_accepted_for_any_username(password: str, username: str) -> None:
    Signup.model_validate({"username": username, "password": password})
    PasswordChange.model_validate({"current_password": password, "new_password": password})
    passwords.check_policy(password, username=username)


BOOK_ID = "0b9a4c8e-6d1f-4a2b-9c3d-5e6f7a8b9c0d"
USER_ID = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


@pytest.fixture
def known_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_BOOK_ID", BOOK_ID)
    monkeypatch.setenv("FUZZ_USER_ID", USER_ID)


def test_every_generated_id_has_the_documented_shape_and_the_known_ones_are_drawn(known_ids: None) -> None:
    drawn: set[str] = set()

    @FAST
    @given(fuzz_formats.ids())
    def check(value: str) -> None:
        assert re.fullmatch(limits.BOOK_ID_PATTERN, value)
        assert re.fullmatch(limits.USER_ID_PATTERN, value)
        drawn.add(value)

    check()
    assert {BOOK_ID, USER_ID} <= drawn
    assert len(drawn) > 2


# --- multi-factor sign-in --------------------------------------------------------------------------

SECRET = pyotp.random_base32()


@FAST
@given(st.integers(0, 250_000_000))  # every step before the year 9999
def test_the_totp_of_a_step_is_rfc_6238_s_as_pyotp_computes_it(step: int) -> None:
    assert fuzz_formats.totp(SECRET, step) == pyotp.TOTP(SECRET).at(step * 30)


def test_the_current_code_is_one_the_api_takes_now() -> None:
    now = time.time()
    code = fuzz_formats.current_totp(SECRET, now=lambda: now)
    assert mfa.matching_step(SECRET, code, after=-1, now=now) == int(now // 30)


@pytest.fixture
def working_codes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    codes = ["ABCD-EFGH-JKLM-NPQR", "STUV-WXYZ-2345-6723"]
    monkeypatch.setenv("FUZZ_TOTP_SECRET", SECRET)
    monkeypatch.setenv("FUZZ_RECOVERY_CODES", ",".join(codes))
    return codes


def test_every_generated_mfa_code_is_accepted_where_its_shape_is(working_codes: list[str]) -> None:
    """Each code passes MfaCompletion (any code); the TOTP-shaped ones TotpConfirmation too; and
    among them are the user's working codes."""
    drawn: set[str] = set()

    @FAST
    @given(fuzz_formats.mfa_codes())
    def check(code: str) -> None:
        MfaCompletion.model_validate({"mfa_token": "t", "code": code})
        if mfa.is_totp_code(code):
            TotpConfirmation.model_validate({"code": code})
        else:
            assert re.fullmatch(limits.RECOVERY_CODE_PATTERN, code)
        drawn.add(code)

    check()
    assert set(working_codes) <= drawn
    assert pyotp.TOTP(SECRET).now() in drawn or pyotp.TOTP(SECRET).at(time.time() - 30) in drawn
    assert any(mfa.is_totp_code(code) for code in drawn - {pyotp.TOTP(SECRET).now()})
    assert any("-" not in code and not mfa.is_totp_code(code) for code in drawn)


@FAST
@given(st.text(max_size=300))
def test_a_live_mfa_token_replaces_only_valid_drawn_ones_and_the_same_each_time(drawn: str) -> None:
    takes = fuzz_formats.takes_mfa_token(drawn)
    assert takes == fuzz_formats.takes_mfa_token(drawn)
    if takes:
        MfaCompletion.model_validate({"mfa_token": drawn, "code": "123456"})


def test_about_half_the_drawn_mfa_tokens_are_replaced() -> None:
    taken = [fuzz_formats.takes_mfa_token(f"token-{n}") for n in range(1000)]
    assert 400 < sum(taken) < 600
    assert not fuzz_formats.takes_mfa_token("")
    assert not fuzz_formats.takes_mfa_token("a" * 257)
    assert not fuzz_formats.takes_mfa_token(None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_live_mfa_token_is_reused_for_minutes_and_until_spent() -> None:
    clock = Clock()
    tokens = fuzz_formats.MfaTokens("http://127.0.0.1:3000", "u", "p", now=clock)
    logins = iter(["first", "second", "third"])
    tokens.login = lambda: next(logins)  # type: ignore[method-assign]
    assert tokens.token() == "first"
    clock.now += fuzz_formats.MFA_TOKEN_REUSE_SECONDS
    assert tokens.token() == "first"
    clock.now += 1
    assert tokens.token() == "second"  # older than the reuse time: a new login
    tokens.spent()
    assert tokens.token() == "third"
    assert fuzz_formats.MFA_TOKEN_REUSE_SECONDS < mfa.MFA_TOKEN_TTL_SECONDS


def test_mfa_tokens_come_only_from_the_local_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="not the local server"):
        fuzz_formats.MfaTokens("https://api.example", "u", "p")
    monkeypatch.delenv("FUZZ_MFA_PASSWORD", raising=False)
    monkeypatch.setenv("FUZZ_URL", "http://127.0.0.1:3000")
    monkeypatch.setenv("FUZZ_MFA_USERNAME", "u")
    assert fuzz_formats.MfaTokens.from_env() is None
    monkeypatch.setenv("FUZZ_MFA_PASSWORD", "p")
    made = fuzz_formats.MfaTokens.from_env()
    assert made is not None
    assert (made.url, made.username, made.password) == ("http://127.0.0.1:3000", "u", "p")


# --- page tokens -----------------------------------------------------------------------------------


def test_a_page_token_of_one_list_is_swapped_for_one_of_the_list_it_is_sent_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FUZZ_NEXT_TOKEN", "books-1")
    monkeypatch.setenv("FUZZ_USERS_NEXT_TOKEN", "users-1")
    tokens = fuzz_formats.PageTokens.from_env()
    assert tokens.for_path("/users", "books-1") == "users-1"
    assert tokens.for_path("/books", "users-1") == "books-1"
    assert tokens.for_path("/books", "books-1") == "books-1"
    assert tokens.for_path("/users", "not-issued") == "not-issued"  # a hostile one stays hostile
    assert tokens.for_path("/users", None) is None
    tokens.record("/users", {"items": [], "next_token": "users-2"})
    tokens.record("/users", {"items": [], "next_token": None})  # the last page: nothing to note
    assert tokens.for_path("/users", "books-1") == "users-2"
    assert tokens.for_path("/books", "users-2") == "books-1"


def test_with_no_token_of_a_list_known_a_drawn_one_is_sent_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_NEXT_TOKEN", "books-1")
    monkeypatch.delenv("FUZZ_USERS_NEXT_TOKEN", raising=False)
    assert fuzz_formats.PageTokens.from_env().for_path("/users", "books-1") == "books-1"


def test_the_given_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_NEXT_TOKEN", "a.b")

    @given(fuzz_formats.given("FUZZ_NEXT_TOKEN"))
    def drawn(value: str) -> None:
        assert value == "a.b"

    drawn()
    monkeypatch.delenv("FUZZ_NEXT_TOKEN")
    assert fuzz_formats.given("FUZZ_NEXT_TOKEN").is_empty
