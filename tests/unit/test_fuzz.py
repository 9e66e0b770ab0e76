"""`make fuzz`: the verdict on a schemathesis report fails on a schema mismatch, the settings hold
schema-valid data to being accepted, and the generators for the document's formats make only
values the API accepts."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from books_api import limits, passwords
from books_api.books import normalize_isbn
from books_api.models import BookInput, PasswordChange, Signup
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


def verdict(run: dict[str, Any], exit_code: int = 0) -> list[str]:
    return fuzz.verdict({"exit_code": exit_code, "report": run, "statuses": Counter({200: 5, 400: 3})})[1]


def test_a_clean_run_passes() -> None:
    line, problems = fuzz.verdict({"exit_code": 0, "report": report(), "statuses": Counter({200: 5})})
    assert problems == []
    assert "9 accepted" in line and "0 refused" in line


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


@FAST
@given(fuzz_formats.book_ids())
def test_every_generated_book_id_has_the_documented_shape(book_id: str) -> None:
    assert re.fullmatch(limits.BOOK_ID_PATTERN, book_id)


def test_the_given_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUZZ_NEXT_TOKEN", "a.b")

    @given(fuzz_formats.given("FUZZ_NEXT_TOKEN"))
    def drawn(value: str) -> None:
        assert value == "a.b"

    drawn()
    monkeypatch.delenv("FUZZ_NEXT_TOKEN")
    assert fuzz_formats.given("FUZZ_NEXT_TOKEN").is_empty
