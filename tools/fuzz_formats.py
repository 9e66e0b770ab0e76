"""Generators for the formats docs/openapi.json names where a rule is beyond JSON Schema, so that
what schemathesis generates as valid is what the API accepts (tools/fuzz_hooks.py registers them
for `make fuzz`; tests/unit/test_fuzz.py checks that the API's own rules accept all they make).

- ``isbn``: ISBN-10s and ISBN-13s with a valid check digit, hyphens or spaces between the digits.
- ``password``: passphrases, which no policy refuses: words of letters and digits with single
  spaces between them, 11 to 53 characters, already in NFKC form (their length is the length the
  policy counts), never a common password (the list has no entry with a space) and never a
  username (which has no space). The schema's own length bounds still apply to what is drawn.
- ``page-token``: the ``next_token`` of a real page, which tools/fuzz.py reads from the server
  and passes in FUZZ_NEXT_TOKEN (the server signs them: no other value is one).
- ``uuid`` (a book's id): version 4 UUIDs, half of them the id of the book tools/fuzz.py created
  (FUZZ_BOOK_ID), so that GET, PUT and DELETE /books/{id} reach a book, not only 404s.

Only hypothesis and the standard library: schemathesis loads this in its own environment
(.venv-fuzz), where nothing of the API is installed.
"""

from __future__ import annotations

import os
import unicodedata

from hypothesis import strategies as st


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


def book_ids() -> st.SearchStrategy[str]:
    return st.one_of(given("FUZZ_BOOK_ID"), st.uuids(version=4).map(str))


def formats() -> dict[str, st.SearchStrategy[str]]:
    return {
        "isbn": isbns(),
        "password": passphrases,
        "page-token": given("FUZZ_NEXT_TOKEN"),
        "uuid": book_ids(),
    }
