"""The book catalogue through the books handler, against moto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from books_api import books as books_module
from books_api.books import (
    CATALOGUE,
    CATALOGUES,
    SHARDS,
    BookFields,
    BookRepository,
    Page,
    catalogue_of,
    shard_limit,
)
from books_api.errors import BadRequest
from books_api.formats import b64url
from books_api.pagination import PageTokens
from stack.template import Stack
from tests.unit.conftest import REGION, Functions
from tests.utils import ADMIN

READER = {"principalId": "r-1", "username": "alice", "roles": "reader", "sid": "s"}
BOOK = {"title": "The Dispossessed", "author": "Ursula K. Le Guin", "year": 1974, "isbn": "978-0-06-051275-0"}
MISSING = "00000000-0000-4000-8000-000000000000"


def create(lambdas: Functions, book: dict[str, Any] = BOOK, **kwargs: Any) -> tuple[int, Any, dict]:
    return lambdas.call(
        "books", "POST", "/books", body=book, authorizer=kwargs.pop("authorizer", ADMIN), **kwargs
    )


def book_call(lambdas: Functions, method: str, book_id: str, **kwargs: Any) -> tuple[int, Any, dict]:
    kwargs.setdefault("authorizer", ADMIN)
    return lambdas.call(
        "books",
        method,
        f"/books/{book_id}",
        resource="/books/{id}",
        path_parameters={"id": book_id},
        **kwargs,
    )


def list_page(lambdas: Functions, **query: str) -> tuple[int, Any, dict]:
    return lambdas.call("books", "GET", "/books", query=query or None, authorizer=READER)


def test_health_needs_no_caller(lambdas: Functions) -> None:
    assert lambdas.call("books", "GET", "/health")[:2] == (200, {"status": "ok"})


def test_admin_creates_a_book(lambdas: Functions) -> None:
    status, book, _ = create(lambdas)
    assert status == 201
    assert book["title"] == BOOK["title"]
    assert book["isbn"] == "9780060512750"
    assert book["year"] == 1974
    assert set(book) == {"id", "title", "author", "year", "isbn", "created_at", "updated_at"}
    assert book["created_at"] == book["updated_at"]


def test_optional_fields_may_be_left_out(lambdas: Functions) -> None:
    status, book, _ = create(lambdas, {"title": "Beowulf", "author": "Unknown"})
    assert status == 201
    assert set(book) == {"id", "title", "author", "created_at", "updated_at"}


def test_reader_cannot_write(lambdas: Functions) -> None:
    status, body, _ = create(lambdas, authorizer=READER)
    assert (status, body) == (403, {"message": "This action needs the admin role"})
    _, book, _ = create(lambdas)
    assert book_call(lambdas, "PUT", book["id"], body=BOOK, authorizer=READER)[0] == 403
    assert book_call(lambdas, "DELETE", book["id"], authorizer=READER)[0] == 403
    assert book_call(lambdas, "GET", book["id"], authorizer=READER)[0] == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_books_without_authorizer_context_are_401(lambdas: Functions, method: str) -> None:
    kwargs = {"body": BOOK} if method == "POST" else {}
    assert lambdas.call("books", method, "/books", **kwargs)[0] == 401


def test_get_returns_the_book_and_404_when_missing(lambdas: Functions) -> None:
    _, book, _ = create(lambdas)
    assert book_call(lambdas, "GET", book["id"], authorizer=READER)[:2] == (200, book)
    status, body, _ = book_call(lambdas, "GET", MISSING, authorizer=READER)
    assert (status, body) == (404, {"message": "Book not found"})


@pytest.mark.parametrize(
    "book_id", ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "1 OR 1=1", "x" * 300, "ABC"]
)
def test_malformed_ids_are_404(lambdas: Functions, book_id: str) -> None:
    for method, kwargs in (("GET", {}), ("PUT", {"body": BOOK}), ("DELETE", {})):
        assert book_call(lambdas, method, book_id, **kwargs)[0] == 404


def test_put_replaces_the_client_fields_and_keeps_id_and_created_at(lambdas: Functions) -> None:
    _, book, _ = create(lambdas)
    replacement = {"title": "The Dispossessed: An Ambiguous Utopia", "author": "Ursula K. Le Guin"}
    status, replaced, _ = book_call(lambdas, "PUT", book["id"], body=replacement)
    assert status == 200
    assert replaced["id"] == book["id"]
    assert replaced["created_at"] == book["created_at"]
    assert replaced["title"] == replacement["title"]
    assert "year" not in replaced and "isbn" not in replaced
    assert book_call(lambdas, "GET", book["id"])[1] == replaced


def test_put_accepts_the_book_it_got_back_ignoring_server_fields(lambdas: Functions) -> None:
    _, book, _ = create(lambdas)
    sent = dict(book, year=1975, id=MISSING, created_at="1999-01-01T00:00:00Z")
    status, replaced, _ = book_call(lambdas, "PUT", book["id"], body=sent)
    assert status == 200
    assert (replaced["id"], replaced["created_at"], replaced["year"]) == (
        book["id"],
        book["created_at"],
        1975,
    )


def test_put_and_delete_of_a_missing_book_are_404(lambdas: Functions) -> None:
    assert book_call(lambdas, "PUT", MISSING, body=BOOK)[0] == 404
    assert book_call(lambdas, "DELETE", MISSING)[0] == 404
    table = lambdas.stack.ref("BooksTable")
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Count"] == 0


def test_delete_removes_the_book(lambdas: Functions) -> None:
    _, book, _ = create(lambdas)
    status, body, _ = book_call(lambdas, "DELETE", book["id"])
    assert (status, body) == (204, None)
    assert book_call(lambdas, "GET", book["id"])[0] == 404


@pytest.mark.parametrize(
    ("book", "field"),
    [
        ({"author": "A"}, "title"),
        ({"title": "T"}, "author"),
        ({"title": "", "author": "A"}, "title"),
        ({"title": "   ", "author": "A"}, "title"),
        ({"title": "x" * 201, "author": "A"}, "title"),
        ({"title": "T\x00", "author": "A"}, "title"),
        ({"title": 5, "author": "A"}, "title"),
        ({"title": "T", "author": "A", "year": "1999"}, "year"),
        ({"title": "T", "author": "A", "year": 1999.5}, "year"),
        ({"title": "T", "author": "A", "year": True}, "year"),
        ({"title": "T", "author": "A", "year": 100000}, "year"),
        ({"title": "T", "author": "A", "isbn": "978-0-06-051275-4"}, "isbn"),
        ({"title": "T", "author": "A", "isbn": "not an isbn"}, "isbn"),
        ({"title": "T", "author": "A", "isbn": 9780060512753}, "isbn"),
        ({"title": "T", "author": "A", "owner": "me"}, "owner"),
    ],
)
def test_invalid_books_are_400_naming_the_field(lambdas: Functions, book: dict, field: str) -> None:
    status, body, _ = create(lambdas, book)
    assert status == 400
    assert field in [error["field"] for error in body["errors"]]


@pytest.mark.parametrize("isbn", ["0-306-40615-2", "080442957X", "978-3-16-148410-0"])
def test_valid_isbns_are_stored_normalised(lambdas: Functions, isbn: str) -> None:
    status, book, _ = create(lambdas, {"title": "T", "author": "A", "isbn": isbn})
    assert status == 201
    assert book["isbn"] == isbn.replace("-", "")


def test_list_pages_through_every_book_once_in_creation_order(lambdas: Functions) -> None:
    created = [create(lambdas, {"title": f"Book {n}", "author": "A"})[1]["id"] for n in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        query = {"limit": "3"} | ({"next_token": token} if token else {})
        status, page, _ = list_page(lambdas, **query)
        assert status == 200
        assert len(page["items"]) <= 3
        seen += [book["id"] for book in page["items"]]
        pages += 1
        token = page["next_token"]
        if token is None:
            break
    assert pages == 3
    # Created one after another, within a second or two: listed in that order (to the microsecond).
    assert seen == created


def test_list_defaults_to_20_and_says_when_there_is_no_more(lambdas: Functions) -> None:
    for n in range(21):
        create(lambdas, {"title": f"Book {n}", "author": "A"})
    _, first, _ = list_page(lambdas)
    assert len(first["items"]) == 20 and first["next_token"]
    _, second, _ = list_page(lambdas, next_token=first["next_token"])
    assert len(second["items"]) == 1 and second["next_token"] is None


def test_an_exact_last_page_has_no_next_token(lambdas: Functions) -> None:
    for n in range(2):
        create(lambdas, {"title": f"Book {n}", "author": "A"})
    assert list_page(lambdas, limit="2")[1]["next_token"] is None


def test_list_reads_one_query_per_shard_never_the_table(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        create(lambdas, {"title": f"Book {n}", "author": "A"})
    client = lambdas.module("books").books.dynamodb
    requests: list[dict] = []
    real = client.query

    def recording(**kwargs: Any) -> Any:
        requests.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(client, "query", recording)
    monkeypatch.setattr(client, "scan", lambda **kwargs: pytest.fail("a list must never scan"))
    list_page(lambdas, limit="5")
    first_round = requests[:SHARDS]
    assert sorted(
        request["ExpressionAttributeValues"][":catalogue"]["S"] for request in first_round
    ) == sorted(CATALOGUES)
    assert {request["Limit"] for request in first_round} == {shard_limit(5)}
    assert {request["IndexName"] for request in requests} == {"ByCreation"}
    assert SHARDS <= len(requests) <= 2 * SHARDS


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_out_of_range_limits_are_400(lambdas: Functions, limit: str) -> None:
    status, body, _ = list_page(lambdas, limit=limit)
    assert status == 400
    assert body["errors"][0]["field"] == "limit"


def test_forged_and_edited_next_tokens_are_400(lambdas: Functions) -> None:
    for n in range(3):
        create(lambdas, {"title": f"Book {n}", "author": "A"})
    token = list_page(lambdas, limit="1")[1]["next_token"]
    payload, mac = token.split(".")
    forged = [
        "garbage",
        token + "x",
        f"{payload}.{mac[::-1]}",
        f"{payload[:-2]}AA.{mac}",
        "eyJjIjoiMjAyNi0wMS0wMVQwMDowMDowMFojeCIsImkiOiJ4In0.AAAA",
        "x" * 600,
        "",
    ]
    for value in forged:
        status, body, _ = list_page(lambdas, next_token=value)
        assert status == 400, value
        assert body["message"]


# --- pages across the catalogue's shards ---------------------------------------------------------

PAGE_KEY = b"k" * 32
START = datetime(2026, 1, 1, tzinfo=UTC)


def moment(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hashed(book_id: str) -> str:
    return _real_catalogue_of(book_id)


_real_catalogue_of = books_module.catalogue_of
# Where new books are listed: by the hash of their id; all on one shard, most, or on two (skew); or half
# of them under the catalogue's value from before it was sharded (as if written then).
PLACEMENTS: dict[str, Callable[[str], str]] = {
    "hashed": _hashed,
    "one shard": lambda book_id: CATALOGUES[-1],
    "mostly one shard": lambda book_id: CATALOGUES[1] if book_id < "c" else _hashed(book_id),
    "two shards": lambda book_id: CATALOGUES[1] if book_id < "8" else CATALOGUES[2],
    "legacy mixed in": lambda book_id: CATALOGUE if book_id < "8" else _hashed(book_id),
}


def repeatable_ids() -> Callable[[], uuid.UUID]:
    """``uuid.uuid4`` for one example: ids that look random but are the same in every run, so
    that Hypothesis can replay and shrink what it found."""
    numbers = itertools.count()
    return lambda: uuid.UUID(bytes=hashlib.sha256(b"%d" % next(numbers)).digest()[:16], version=4)


class Shelf:
    """The books table of a moto stack, emptied, through the repository, counting its calls."""

    def __init__(self, stack: Stack) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.table = stack.ref("BooksTable")
        for item in self.client.scan(TableName=self.table, ProjectionExpression="id")["Items"]:
            self.client.delete_item(TableName=self.table, Key=item)
        self.calls: list[str] = []
        self.client.meta.events.register("before-call.dynamodb", self._record)
        self.books = BookRepository(self.table, PageTokens(lambda: PAGE_KEY), dynamodb=self.client)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def create(self, seconds: int) -> tuple[str, str]:
        """A new book created at ``seconds`` past START: its id and its ``created_key``."""
        book = self.books.create(BookFields(title="T", author="A"), now=moment(seconds))
        return book.id, f"{book.created_at}#{book.id}"

    def page(self, limit: int, token: str | None) -> Page:
        """A page, checked to be a few Queries of the index and nothing else."""
        self.calls.clear()
        page = self.books.page(limit=limit, next_token=token)
        assert set(self.calls) == {"Query"}, self.calls
        assert SHARDS <= len(self.calls) <= 2 * SHARDS
        return page

    def every_key(self) -> list[str]:
        items = self.client.scan(TableName=self.table, ProjectionExpression="created_key")["Items"]
        return sorted(item["created_key"]["S"] for item in items)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(sorted(PLACEMENTS)), st.data())
def test_pages_list_each_book_once_in_creation_order_while_books_come_and_go(
    stack: Stack, placement: str, data: st.DataObject
) -> None:
    shelf = Shelf(stack)
    with (
        patch.object(books_module, "catalogue_of", PLACEMENTS[placement]),
        patch.object(books_module, "uuid", SimpleNamespace(uuid4=repeatable_ids())),
    ):
        clock = 0
        existing: dict[str, str] = {}  # id: created_key
        # Several books a second: same-second collisions are ordered by id.
        count = data.draw(st.integers(0, 40), label="books at the start")
        ticks = st.lists(st.integers(0, 1), min_size=count, max_size=count)
        for tick in data.draw(ticks, label="seconds between creates"):
            clock += tick
            book_id, key = shelf.create(clock)
            existing[book_id] = key
        # Every book there when paging starts and not deleted on the way; and every book
        # created later with a key past where the pages had got to then.
        owed = set(existing)
        seen: list[tuple[str, str]] = []
        cursor: str | None = None
        token: str | None = None
        for step in range(60):
            action = data.draw(st.sampled_from(["page", "create", "delete", "tick"])) if step < 40 else "page"
            if action == "tick":
                clock += 1
            elif action == "create":
                book_id, key = shelf.create(clock)
                existing[book_id] = key
                if cursor is None or key > cursor:
                    owed.add(book_id)
            elif action == "delete" and existing:
                book_id = sorted(existing)[data.draw(st.integers(0, len(existing) - 1), label="deleted")]
                shelf.books.delete(book_id)
                del existing[book_id]
                owed.discard(book_id)
            elif action == "page":
                limit = data.draw(st.integers(1, 12), label="limit")
                page = shelf.page(limit, token)
                keys = [f"{book.created_at}#{book.id}" for book in page.items]
                after = sorted(key for key in existing.values() if cursor is None or key > cursor)
                assert keys == after[:limit]
                assert (page.next_token is not None) == (len(after) > limit)
                seen += [(book.id, key) for book, key in zip(page.items, keys, strict=True)]
                if page.next_token is None:
                    break
                token, cursor = page.next_token, keys[-1]
        else:
            pytest.fail("the pages never ended")
    keys = [key for _, key in seen]
    assert keys == sorted(set(keys)), "out of creation order, or a book twice"
    assert owed <= {book_id for book_id, _ in seen}, "a book was skipped"


def test_a_page_reads_a_shard_again_only_when_it_ran_out_before_the_cut_off(stack: Stack) -> None:
    shelf = Shelf(stack)
    with patch.object(books_module, "catalogue_of", PLACEMENTS["one shard"]):
        keys = [shelf.create(second)[1] for second in range(30)]
    page = shelf.page(20, None)
    assert [f"{book.created_at}#{book.id}" for book in page.items] == keys[:20]
    # Every shard once, then the one holding every book once more for the rest of the page.
    assert len(shelf.calls) == SHARDS + 1
    rest = shelf.page(20, page.next_token)
    assert [f"{book.created_at}#{book.id}" for book in rest.items] == keys[20:]
    assert rest.next_token is None


def test_books_written_before_the_shards_are_listed_with_the_new_ones(stack: Stack) -> None:
    shelf = Shelf(stack)
    with patch.object(books_module, "catalogue_of", lambda book_id: CATALOGUE):
        legacy = [shelf.create(second)[1] for second in range(12)]
    assert CATALOGUE in CATALOGUES
    new = [shelf.create(12 + second // 3)[1] for second in range(24)]
    listed: list[str] = []
    token = None
    while True:
        page = shelf.page(7, token)
        listed += [f"{book.created_at}#{book.id}" for book in page.items]
        if (token := page.next_token) is None:
            break
    assert listed == sorted(legacy + new) == shelf.every_key()


def test_books_created_within_one_second_are_listed_in_the_order_they_were_created(stack: Stack) -> None:
    """The catalogue keeps the microseconds of ``now`` (the books function passes
    ``utc_now_precise``); ``created_at`` shows the second. A book created before the microseconds
    were kept (its key to the second) sorts with the others by its second."""
    shelf = Shelf(stack)
    made = []
    for now in ("2026-01-01T00:00:01.000900Z", "2026-01-01T00:00:01.000100Z", "2026-01-01T00:00:01.500000Z"):
        made.append(shelf.books.create(BookFields(title=now, author="A"), now=now))
    assert {book.created_at for book in made} == {"2026-01-01T00:00:01Z"}
    older = shelf.books.create(BookFields(title="older", author="A"), now="2026-01-01T00:00:00Z")
    newer = shelf.books.create(BookFields(title="newer", author="A"), now="2026-01-01T00:00:02Z")
    listed, token = [], None
    while True:
        page = shelf.page(1, token)  # a token after each book: each key's shape round-trips
        listed += [book.title for book in page.items]
        if (token := page.next_token) is None:
            break
    assert listed == [older.title, made[1].title, made[0].title, made[2].title, newer.title]


def test_new_books_spread_over_every_shard_by_a_stable_hash_of_their_id() -> None:
    ids = [str(uuid.UUID(int=number, version=4)) for number in range(2000)]
    counts = Counter(catalogue_of(book_id) for book_id in ids)
    assert set(counts) == set(CATALOGUES)
    assert min(counts.values()) > 2000 / SHARDS * 0.8
    # Published values: a change of the hash would move no stored book but list new ones
    # elsewhere, so it must be a decision, not an accident.
    assert [catalogue_of(book_id) for book_id in ids[:6]] == [
        "books#2",
        "books",
        "books#2",
        "books#1",
        "books",
        "books",
    ]


# --- the catalogue's next_token ------------------------------------------------------------------

tokens = PageTokens(lambda: PAGE_KEY)
KEY = f"{moment(0)}#{MISSING}"


def signed(payload: Any, key: bytes = PAGE_KEY) -> str:
    """A token of ``payload`` (JSON) under ``key``: what only the holder of the key could make."""
    text = json.dumps(payload, separators=(",", ":")).encode()
    return f"{b64url(text)}.{b64url(hmac.new(key, text, hashlib.sha256).digest())}"


def test_a_token_carries_the_last_created_key_alone() -> None:
    token = tokens.encode({"created_key": KEY})
    assert token == signed({"c": KEY})
    assert tokens.decode(token) == {"created_key": KEY}


def test_a_token_issued_before_the_shards_continues_where_it_was() -> None:
    assert tokens.decode(signed({"c": KEY, "i": MISSING})) == {"created_key": KEY}


@pytest.mark.parametrize(
    "token",
    [
        signed({"c": KEY}, key=b"j" * 32),
        signed({"c": KEY, "i": "00000000-0000-4000-8000-000000000001"}),
        signed({"c": KEY, "x": 1}),
        signed({"c": KEY.replace("#", "#x")}),
        signed({"c": "2026-01-01T00:00:00Z"}),
        signed({"c": 5}),
        signed({"i": MISSING}),
        signed([KEY]),
        signed({"c": KEY}).replace(".", ".A"),
        b64url(json.dumps({"c": KEY}).encode()) + "." + signed({"c": KEY}).split(".")[1][::-1],
    ],
)
def test_edited_or_foreign_tokens_are_400(token: str) -> None:
    with pytest.raises(BadRequest) as raised:
        tokens.decode(token)
    assert raised.value.errors == [{"field": "next_token", "message": "is not a token this API issued"}]


def test_a_token_with_a_key_moved_on_is_400_through_the_api(lambdas: Functions) -> None:
    for n in range(3):
        create(lambdas, {"title": f"Book {n}", "author": "A"})
    token = list_page(lambdas, limit="1")[1]["next_token"]
    payload, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    moved = b64url(json.dumps({"c": data["c"].replace("2", "3", 1)}, separators=(",", ":")).encode())
    status, body, _ = list_page(lambdas, next_token=f"{moved}.{mac}")
    assert (status, body["errors"][0]["field"]) == (400, "next_token")
    assert list_page(lambdas, next_token=token)[0] == 200
