"""Books: input rules, the books table, and pages of the catalogue."""

from __future__ import annotations

import hashlib
import math
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

INDEX = "ByCreation"
# The catalogue's shards: the values of the index's partition key. A page queries every shard
# (one Query each), so the count trades write spread and smaller reads per key against Queries
# per page; see BookRepository for the numbers behind four.
SHARDS = 4
# Shard 0 keeps the value every book had before the catalogue was sharded, so those books are
# listed with the rest, unmigrated.
CATALOGUE = "books"


def shard_values(count: int) -> tuple[str, ...]:
    """The partition key values of a catalogue in ``count`` shards: the first is ``CATALOGUE``."""
    return tuple(CATALOGUE if shard == 0 else f"{CATALOGUE}#{shard}" for shard in range(count))


CATALOGUES = shard_values(SHARDS)
_ID = re.compile(BOOK_ID_PATTERN)
_FRACTION = re.compile(r"\.\d+Z$")
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


def catalogue_of(book_id: str) -> str:
    """The shard a new book is listed under: a hash of its id, so the same id always lands on
    the same shard, and uniformly whatever the ids look like."""
    digest = hashlib.sha256(book_id.encode()).digest()
    return CATALOGUES[int.from_bytes(digest[:8], "big") % SHARDS]


def shard_limit(limit: int) -> int:
    """The Limit of each shard's first Query for a page of ``limit``: the ``limit + 1`` items a
    page reads are spread over the shards binomially (mean ``m = (limit + 1) / SHARDS``), so each
    shard reads ``m`` plus two standard deviations: a second Query of one shard is the exception
    (one default page in seven in bench/pagination.py), and the first round stays within one
    4 KB read unit per shard for a default page of typical books."""
    wanted = limit + 1
    mean = wanted / SHARDS
    return min(wanted, math.ceil(mean + 2 * math.sqrt(mean * (1 - 1 / SHARDS))))


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


def book_item(book: Book, *, created: str | None = None) -> dict[str, Any]:
    """The item that stores ``book`` (plain values): its fields, and the index's keys, whose
    ``created_key`` is when it was ``created`` (its ``created_at`` unless given) and its id."""
    created_key = f"{created or book.created_at}#{book.id}"
    return {**asdict(book), "catalogue": catalogue_of(book.id), "created_key": created_key}


def _created_key(item: dict[str, Any]) -> str:
    return str(item["created_key"])


class BookRepository(Repository):
    """The books table, keyed by ``id``; the ``ByCreation`` index lists them oldest first.

    Every book carries ``catalogue`` (its shard, one of ``CATALOGUES``) and ``created_key``
    (creation time, then id), the index's keys. A page is a merge of the shards by
    ``created_key``: one Query per shard with a Limit (``shard_limit``), then a second only for
    a shard whose items ran out before the page's cut-off; a few Queries, never a scan.

    Why four shards (bench/pagination.py measures each figure): one partition key value serves
    at most 3,000 read units a second, and a Query costs 0.5 read units per 4 KB it reads (at
    least 0.5). Unsharded, a default page (21 items of about 250 bytes) costs its one key 1.0
    unit, so the catalogue saturates at 3,000 pages a second (860 with 100-book pages, 130 with
    100 books at the longest fields). Since every page reads every shard, no shard count takes
    a key below 0.5 unit a page (6,000 pages a second); four shards bring the default page to
    0.53 on the hottest key (5,650 a second), a 100-book page to 1.56 (1,930), and spread the
    index's writes over four keys (4,000 write units a second). Eight would not raise the
    default page's ceiling (5,550) but would double every page's Queries and read units (4.2
    units a page instead of 2.1); two would leave 100-book pages at 1,500 a second.
    Queries run one after another (in threads, each would need the invocation's time budget, a
    context variable, and its trace carried over): a page is four round trips, five when one
    shard is read again.
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
        """A new book created at ``now`` (ISO 8601 in UTC): listed in the catalogue at that time,
        to the microsecond when ``now`` has them (``formats.utc_now_precise``), so that books
        created within one second keep their order; ``created_at`` shows the second."""
        second = _FRACTION.sub("Z", now)
        book = Book(id=str(uuid.uuid4()), created_at=second, updated_at=second, **asdict(fields))
        item = book_item(book, created=now)
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
        """Up to ``limit`` books after ``next_token`` (the last ``created_key`` a page returned)."""
        after = self.page_tokens.decode(next_token)["created_key"] if next_token is not None else None
        items, more = self._merged(limit=limit, after=after)
        token = self.page_tokens.encode({"created_key": items[-1]["created_key"]}) if more else None
        return Page([Book.from_item(item) for item in items], token)

    def _merged(self, *, limit: int, after: str | None) -> tuple[list[dict[str, Any]], bool]:
        """The ``limit`` smallest ``created_key``s after ``after`` across the shards, and whether more follow.

        A shard whose read stopped at its Limit (DynamoDB returned a LastEvaluatedKey) may hold
        more items past its last key. The page's cut-off is the ``limit + 1``-th smallest key
        read; a shard that stopped before the cut-off is read again from where it stopped, for
        as many items as the page can still take after its last key (``limit + 1`` minus the
        items read up to that key). Such a read either finishes the shard or ends at a key with
        ``limit + 1`` items read at or before it, which is at or past the new cut-off: so every
        shard is read at most twice (unless DynamoDB stops a read at its 1 MB, far above a page).
        """
        wanted = limit + 1
        read: list[dict[str, Any]] = []
        stopped_at = dict.fromkeys(CATALOGUES, after)
        pending = dict.fromkeys(CATALOGUES, shard_limit(limit))
        while pending:
            for catalogue, count in pending.items():
                items, last = self._shard_page(catalogue, after=stopped_at[catalogue], count=count)
                read += items
                if last is None:
                    del stopped_at[catalogue]
                else:
                    stopped_at[catalogue] = last
            read.sort(key=_created_key)
            cut_off = read[wanted - 1]["created_key"] if len(read) >= wanted else None
            pending = {
                catalogue: wanted - sum(1 for item in read if item["created_key"] <= last)
                for catalogue, last in stopped_at.items()
                if last is not None and (cut_off is None or last < cut_off)
            }
        return read[:limit], len(read) > limit

    def _shard_page(
        self, catalogue: str, *, after: str | None, count: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``count`` items of one shard after ``after``, and the key its read stopped at
        (None: the shard has no more)."""
        condition = "catalogue = :catalogue" + (" AND created_key > :after" if after is not None else "")
        values = placeholders(catalogue=catalogue, **({"after": after} if after is not None else {}))
        response = self.call(
            "query",
            IndexName=INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=count,
        )
        items = [from_attributes(item) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return items, from_attributes(last)["created_key"] if last else None
