"""Books: input rules, the books table, and pages of the catalogue."""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from books_api.dal import ConditionFailed, Repository, from_attributes, placeholders, to_attributes
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


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    author: str
    created_at: str
    updated_at: str
    year: int | None = None
    isbn: str | None = None

    def public(self) -> dict[str, Any]:
        """The book as the API shows it: ``year`` and ``isbn`` only when it has them."""
        shown = {
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "year": self.year,
            "isbn": self.isbn,
        }
        return {
            **{name: value for name, value in shown.items() if value is not None},
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Book:
        return cls(
            id=item["id"],
            title=item["title"],
            author=item["author"],
            created_at=item["created_at"],
            updated_at=item["updated_at"],
            year=item.get("year"),
            isbn=item.get("isbn"),
        )


@dataclass(frozen=True)
class Page:
    items: list[Book]
    next_token: str | None

    def public(self) -> dict[str, Any]:
        return {"items": [book.public() for book in self.items], "next_token": self.next_token}


_INDEX_KEY = ("id", "catalogue", "created_key")


class BookRepository(Repository):
    """The books table, keyed by ``id``; the ``ByCreation`` index lists them oldest first.

    Every book carries ``catalogue`` (one value) and ``created_key`` (creation time, then id),
    the index's keys, so a page is one Query with a Limit: never a scan.
    """

    def __init__(self, table: str, page_tokens: PageTokens, dynamodb: Any | None = None) -> None:
        super().__init__(table, dynamodb)
        self.page_tokens = page_tokens

    @staticmethod
    def _key(book_id: str) -> dict[str, Any]:
        if not is_book_id(book_id):
            raise NotFound("Book not found")
        return to_attributes({"id": book_id})

    def get(self, book_id: str) -> Book:
        item = self.read({"id": book_id}) if is_book_id(book_id) else None
        if not item:
            raise NotFound("Book not found")
        return Book.from_item(item)

    def create(self, fields: BookFields, *, now: str) -> Book:
        book = Book(id=str(uuid.uuid4()), created_at=now, updated_at=now, **asdict(fields))
        item = {**asdict(book), "catalogue": CATALOGUE, "created_key": f"{now}#{book.id}"}
        self.call("put_item", Item=to_attributes(item), ConditionExpression="attribute_not_exists(id)")
        return book

    def replace(self, book_id: str, fields: BookFields, *, now: str) -> Book:
        """Replace what a client may set, keeping id and created_at; 404 if there is no such book."""
        key = self._key(book_id)
        given = {
            name: value for name, value in {**asdict(fields), "updated_at": now}.items() if value is not None
        }
        cleared = [name for name in ("year", "isbn") if name not in given]
        expression = "SET " + ", ".join(f"#{name} = :{name}" for name in given)
        if cleared:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in cleared)
        try:
            response = self.call(
                "update_item",
                Key=key,
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeNames={f"#{name}": name for name in [*given, *cleared]},
                ExpressionAttributeValues=placeholders(**given),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            raise NotFound("Book not found") from None
        return Book.from_item(from_attributes(response["Attributes"]))

    def delete(self, book_id: str) -> None:
        try:
            self.call("delete_item", Key=self._key(book_id), ConditionExpression="attribute_exists(id)")
        except ConditionFailed:
            raise NotFound("Book not found") from None

    def page(self, *, limit: int, next_token: str | None) -> Page:
        """Up to ``limit`` books after ``next_token``; reads ``limit + 1`` items to know if more follow."""
        request = {
            "IndexName": INDEX,
            "KeyConditionExpression": "catalogue = :catalogue",
            "ExpressionAttributeValues": placeholders(catalogue=CATALOGUE),
        }
        start = self.page_tokens.decode(next_token) if next_token is not None else None
        items, more = self.query_page(request, limit=limit, start=start)
        token = self.page_tokens.encode({name: items[-1][name] for name in _INDEX_KEY}) if more else None
        return Page([Book.from_item(item) for item in items], token)
