"""Books: input rules, the books table, and pages of the catalogue."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from books_api import aws
from books_api.errors import NotFound, field_error
from books_api.limits import BOOK_ID_PATTERN, ISBN_MAX_LENGTH, ISBN_PATTERN, TEXT_PATTERN
from books_api.limits import TEXT_MAX_LENGTH as MAX_TEXT
from books_api.pagination import PageTokens

CATALOGUE = "books"
INDEX = "ByCreation"
_ID = re.compile(BOOK_ID_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
_ISBN = re.compile(ISBN_PATTERN)


def _text(value: str, name: str) -> str:
    """The value without surrounding spaces, if it is 1 to MAX_TEXT printable characters as sent."""
    # No lone surrogates either, which DynamoDB cannot store (and no JSON text can carry as Unicode).
    if (
        len(value) > MAX_TEXT
        or not _TEXT.fullmatch(value)
        or any(unicodedata.category(ch) == "Cs" for ch in value)
    ):
        raise field_error(name, f"must be 1 to {MAX_TEXT} printable characters, not all spaces")
    return value.strip()


def normalize_isbn(raw: str) -> str:
    """An ISBN-10 or ISBN-13 with a valid check digit, without hyphens or spaces."""
    if len(raw) <= ISBN_MAX_LENGTH and _ISBN.fullmatch(raw):
        isbn = re.sub(r"[ -]", "", raw).upper()
        if len(isbn) == 10:
            if sum((10 - i) * (10 if ch == "X" else int(ch)) for i, ch in enumerate(isbn)) % 11 == 0:
                return isbn
        elif sum(int(ch) * (1 if i % 2 == 0 else 3) for i, ch in enumerate(isbn)) % 10 == 0:
            return isbn
    raise field_error("isbn", "must be an ISBN-10 or ISBN-13 with a valid check digit")


@dataclass(frozen=True)
class BookFields:
    """What a client may set on a book; everything else is the server's."""

    title: str
    author: str
    year: int | None = None
    isbn: str | None = None

    @classmethod
    def validated(cls, *, title: str, author: str, year: int | None, isbn: str | None) -> BookFields:
        return cls(
            title=_text(title, "title"),
            author=_text(author, "author"),
            year=year,
            isbn=normalize_isbn(isbn) if isbn is not None else None,
        )


def is_book_id(value: str) -> bool:
    return bool(_ID.fullmatch(value))


def _to_book(item: dict[str, Any]) -> dict[str, Any]:
    book: dict[str, Any] = {
        "id": item["id"]["S"],
        "title": item["title"]["S"],
        "author": item["author"]["S"],
    }
    if "year" in item:
        book["year"] = int(item["year"]["N"])
    if "isbn" in item:
        book["isbn"] = item["isbn"]["S"]
    book["created_at"] = item["created_at"]["S"]
    book["updated_at"] = item["updated_at"]["S"]
    return book


class BookRepository:
    """The books table, keyed by ``id``; the ``ByCreation`` index lists them oldest first.

    Every book carries ``catalogue`` (one value) and ``created_key`` (creation time, then id),
    the index's keys, so a page is one Query with a Limit: never a scan.
    """

    def __init__(self, table: str, page_tokens: PageTokens, dynamodb: Any | None = None) -> None:
        self.table = table
        self.page_tokens = page_tokens
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    def get(self, book_id: str) -> dict[str, Any]:
        if not is_book_id(book_id):
            raise NotFound("Book not found")
        with aws.unavailable_on_failure():
            item = self.dynamodb.get_item(TableName=self.table, Key={"id": {"S": book_id}}).get("Item")
        if not item:
            raise NotFound("Book not found")
        return _to_book(item)

    def create(self, fields: BookFields, *, now: str) -> dict[str, Any]:
        book_id = str(uuid.uuid4())
        item = {
            "id": {"S": book_id},
            "catalogue": {"S": CATALOGUE},
            "created_key": {"S": f"{now}#{book_id}"},
            "title": {"S": fields.title},
            "author": {"S": fields.author},
            "created_at": {"S": now},
            "updated_at": {"S": now},
        }
        if fields.year is not None:
            item["year"] = {"N": str(fields.year)}
        if fields.isbn is not None:
            item["isbn"] = {"S": fields.isbn}
        with aws.unavailable_on_failure():
            self.dynamodb.put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(id)"
            )
        return _to_book(item)

    def replace(self, book_id: str, fields: BookFields, *, now: str) -> dict[str, Any]:
        """Replace what a client may set, keeping id and created_at; 404 if there is no such book."""
        if not is_book_id(book_id):
            raise NotFound("Book not found")
        given = {"title": {"S": fields.title}, "author": {"S": fields.author}, "updated_at": {"S": now}}
        if fields.year is not None:
            given["year"] = {"N": str(fields.year)}
        if fields.isbn is not None:
            given["isbn"] = {"S": fields.isbn}
        cleared = [name for name in ("year", "isbn") if name not in given]
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in given)
        if cleared:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in cleared)
        try:
            with aws.unavailable_on_failure():
                response = self.dynamodb.update_item(
                    TableName=self.table,
                    Key={"id": {"S": book_id}},
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(id)",
                    ExpressionAttributeNames={f"#{name}": name for name in [*given, *cleared]},
                    ExpressionAttributeValues={f":{name}": value for name, value in given.items()},
                    ReturnValues="ALL_NEW",
                )
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                raise NotFound("Book not found") from None
            raise
        return _to_book(response["Attributes"])

    def delete(self, book_id: str) -> None:
        if not is_book_id(book_id):
            raise NotFound("Book not found")
        try:
            with aws.unavailable_on_failure():
                self.dynamodb.delete_item(
                    TableName=self.table,
                    Key={"id": {"S": book_id}},
                    ConditionExpression="attribute_exists(id)",
                )
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                raise NotFound("Book not found") from None
            raise

    def page(self, *, limit: int, next_token: str | None) -> dict[str, Any]:
        """Up to ``limit`` books after ``next_token``; reads ``limit + 1`` items to know if more follow."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": INDEX,
            "KeyConditionExpression": "catalogue = :c",
            "ExpressionAttributeValues": {":c": {"S": CATALOGUE}},
            "Limit": limit + 1,
        }
        if next_token is not None:
            request["ExclusiveStartKey"] = self.page_tokens.decode(next_token)
        with aws.unavailable_on_failure():
            items = self.dynamodb.query(**request).get("Items", [])
        more = len(items) > limit
        items = items[:limit]
        token = None
        if more:
            last = items[-1]
            token = self.page_tokens.encode({name: last[name] for name in ("id", "catalogue", "created_key")})
        return {"items": [_to_book(item) for item in items], "next_token": token}
