"""The book catalogue through the books handler, against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

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
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


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


def test_list_reads_one_page_never_the_table(lambdas: Functions, monkeypatch: pytest.MonkeyPatch) -> None:
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
    assert [request["Limit"] for request in requests] == [6]


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
