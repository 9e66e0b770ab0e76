"""What a page of books costs DynamoDB: the items it examines, and the read units it takes from
each partition key of the ByCreation index.

    .venv/bin/python bench/pagination.py [--books 100 10000] [--pages 2]
    .venv/bin/python bench/pagination.py --capacity

Items examined (``measure``): for each catalogue size, in moto (in-process), the books function's
own repository stores that many books and serves the first 20-book page and the page ``--pages``
further on, following next_token. Prints one JSON object: size -> {first, later, returned,
queries}, ``first`` and ``later`` being the page's Queries' ScannedCount summed. A page is a
Query per shard with a bounded Limit, so ScannedCount must not grow with the catalogue.

Read units (``capacity``, ``--capacity``): the same repository pages through a catalogue of
realistic books, and of books at the longest fields books_api.limits allows, as the catalogue
was before it was sharded (one Query of page + 1 items under the one ``catalogue`` value) and
as it is (a merge of ``books.SHARDS`` shards), with ``ReturnConsumedCapacity``. moto answers a
flat 1.0 unit per Query whatever it reads (moto/dynamodb/responses.py,
``include_consumed_capacity``), which is not DynamoDB's rule, so each Query's units are also
computed by the documented rule: the sizes of the items read, summed, rounded up to 4 KB, 0.5
read units per 4 KB (an index Query is eventually consistent), and at least 0.5. The ceiling
of a partition key, 3,000 read units a second, divided by the units the hottest key serves per
GET /books (the rule's, averaged over the pages), is the requests per second at which that key
saturates. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/shared/python")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from books_api import books as books_module  # noqa: E402
from books_api.books import Book, BookFields, BookRepository, book_item  # noqa: E402
from books_api.dal import Repository, placeholders, to_attributes  # noqa: E402
from books_api.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, TEXT_MAX_LENGTH  # noqa: E402
from books_api.pagination import PageTokens  # noqa: E402
from stack.template import Stack, create_resources  # noqa: E402

REGION = "us-east-1"
PAGE = PAGE_SIZE_DEFAULT
PARTITION_KEY_READ_UNITS = 3000  # a second, one partition key value (DynamoDB's documented limit)
PARTITION_KEY_WRITE_UNITS = 1000
READ_UNIT_BYTES = 4096
EVENTUALLY_CONSISTENT_UNITS = 0.5  # per 4 KB: every Query of a global secondary index


def _time(start: datetime, seconds: int) -> str:
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stack(name: str) -> tuple[Any, str]:
    """A moto stack's DynamoDB client and books table (inside ``mock_aws``)."""
    stack = create_resources(
        Stack(name=name, region=REGION),
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("secretsmanager", region_name=REGION),
        boto3.client("kms", region_name=REGION),
    )
    return boto3.client("dynamodb", region_name=REGION), stack.ref("BooksTable")


def _store(dynamodb: Any, table: str, items: list[dict[str, Any]]) -> None:
    """Batch writes: a catalogue is filled in seconds, not minutes."""
    for offset in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": to_attributes(item)}} for item in items[offset : offset + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})


def _books(size: int, fields: list[BookFields], per_second: int = 1) -> list[Book]:
    """``size`` books with repeatable ids, ``per_second`` created each second from 2026-01-01."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = []
    for number in range(size):
        now = _time(start, number // per_second)
        book_id = str(uuid.UUID(int=number, version=4))
        book_fields = fields[number % len(fields)]
        made.append(Book(id=book_id, created_at=now, updated_at=now, **vars(book_fields)))
    return made


def measure(size: int, pages: int) -> dict[str, Any]:
    with mock_aws():
        dynamodb, table = _stack(f"pages-{size}")
        scanned: list[int] = []
        dynamodb.meta.events.register(
            "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(parsed["ScannedCount"])
        )
        books = BookRepository(table, PageTokens(lambda: b"k" * 32), dynamodb=dynamodb)
        _store(dynamodb, table, [book_item(book) for book in _books(size, [BookFields("Book", "Bench")])])
        page = books.page(limit=PAGE, next_token=None)
        first, queries, returned = sum(scanned), len(scanned), len(page.items)
        for _ in range(pages):
            scanned.clear()
            page = books.page(limit=PAGE, next_token=page.next_token)
        return {"first": first, "later": sum(scanned), "returned": returned, "queries": queries}


# --- read units and the partition key's ceiling ---------------------------------------------------

# Realistic books: titles and authors of the lengths a catalogue holds (12 to 40 characters).
TYPICAL = [
    BookFields("The Left Hand of Darkness", "Ursula K. Le Guin", 1969, "9780441478125"),
    BookFields("One Hundred Years of Solitude", "Gabriel García Márquez", 1967, "9780060883287"),
    BookFields("Beloved", "Toni Morrison", 1987, "9781400033416"),
    BookFields("The Name of the Rose", "Umberto Eco", 1980, "9780156001311"),
    BookFields("Things Fall Apart", "Chinua Achebe", 1958, "9780385474542"),
    BookFields("A Suitable Boy", "Vikram Seth", 1993, "9780060786526"),
    BookFields("The Master and Margarita", "Mikhail Bulgakov", 1967, "9780679760801"),
    BookFields("Wolf Hall", "Hilary Mantel", 2009, "9780312429980"),
]
# The most a book may hold (checked as the API checks it): both texts at TEXT_MAX_LENGTH
# characters of four UTF-8 bytes each, the longest year, an ISBN-13.
_FOUR_BYTES = "\U0001d505"
LONGEST = [
    BookFields.validated(
        title=_FOUR_BYTES * TEXT_MAX_LENGTH,
        author=_FOUR_BYTES * TEXT_MAX_LENGTH,
        year=-5000,
        isbn="9780441478125",
    )
]
PROFILES = {"typical": TYPICAL, "longest": LONGEST}


def _value_bytes(value: dict[str, Any]) -> int:
    """A DynamoDB attribute value's size by the documented rule (the types a book item holds)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        digits = raw.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    raise ValueError(f"no size rule here for {kind}")


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size: its attribute names' UTF-8 bytes plus its values' sizes."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def read_units(items: list[dict[str, Any]]) -> float:
    """One eventually consistent Query's read units by DynamoDB's rule."""
    blocks = max(1, math.ceil(sum(item_bytes(item) for item in items) / READ_UNIT_BYTES))
    return blocks * EVENTUALLY_CONSISTENT_UNITS


class Queries:
    """Every Query a client makes: the partition key it read, its items, and moto's units."""

    def __init__(self, dynamodb: Any) -> None:
        self.made: list[dict[str, Any]] = []
        events = dynamodb.meta.events
        events.register("before-parameter-build.dynamodb.Query", self._before)
        events.register("after-call.dynamodb.Query", self._after)

    def _before(self, params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"
        self.made.append({"key": params["ExpressionAttributeValues"][":catalogue"]["S"]})

    def _after(self, parsed: dict[str, Any], **_: Any) -> None:
        self.made[-1].update(items=parsed.get("Items", []), moto=parsed["ConsumedCapacity"]["CapacityUnits"])


def _legacy_page(table: str, dynamodb: Any, *, limit: int, start: dict[str, Any] | None) -> Any:
    """A page as the catalogue served it before it was sharded: one Query of ``limit + 1`` items
    under the one ``catalogue`` value, from the last page's key."""
    request = {
        "IndexName": books_module.INDEX,
        "KeyConditionExpression": "catalogue = :catalogue",
        "ExpressionAttributeValues": placeholders(catalogue=books_module.CATALOGUE),
    }
    items, more = Repository(table, dynamodb).query_page(request, limit=limit, start=start)
    return items, ({name: items[-1][name] for name in ("id", "catalogue", "created_key")} if more else None)


def _page_costs(queries: Queries, pages: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """The read units of each page's Queries, per page and on the hottest key per page."""
    per_key: dict[str, float] = defaultdict(float)
    rule, moto, counts = [], [], []
    for made in pages:
        rule.append(sum(read_units(query["items"]) for query in made))
        moto.append(sum(query["moto"] for query in made))
        counts.append(len(made))
        for query in made:
            per_key[query["key"]] += read_units(query["items"])
    hottest = max(per_key.values()) / len(pages)
    read = [item for made in pages for query in made for item in query["items"]]
    return {
        "page_read_units": round(statistics.mean(rule), 3),
        "moto_page_read_units": round(statistics.mean(moto), 3),
        "hottest_key_read_units_per_page": round(hottest, 3),
        "max_rps_per_partition_key": round(PARTITION_KEY_READ_UNITS / hottest),
        "queries_per_page": {"mean": round(statistics.mean(counts), 2), "max": max(counts)},
        "pages_with_a_second_round": sum(count > len(per_key) for count in counts),
        "pages": len(pages),
        "mean_item_bytes": round(statistics.mean(item_bytes(item) for item in read)),
    }


@contextmanager
def _shards(count: int) -> Iterator[None]:
    """The repository with ``count`` shards in place of books.SHARDS (shard 0 still "books")."""
    with patch.multiple(books_module, SHARDS=count, CATALOGUES=books_module.shard_values(count)):
        yield


def _paged(size: int, profile: str, limit: int, *, sharded: bool) -> dict[str, Any]:
    """Page through ``size`` books of ``profile``, ``limit`` a page, sharded or as before."""
    with mock_aws():
        dynamodb, table = _stack(f"capacity-{profile}-{limit}")
        items = [book_item(book) for book in _books(size, PROFILES[profile], per_second=3)]
        if not sharded:
            items = [dict(item, catalogue=books_module.CATALOGUE) for item in items]
        _store(dynamodb, table, items)
        queries = Queries(dynamodb)
        books = BookRepository(table, PageTokens(lambda: b"k" * 32), dynamodb=dynamodb)
        pages: list[list[dict[str, Any]]] = []
        timings: list[float] = []
        token: Any = None
        while True:
            before, started = len(queries.made), time.perf_counter()
            if sharded:
                page = books.page(limit=limit, next_token=token)
                token = page.next_token
            else:
                _, token = _legacy_page(table, dynamodb, limit=limit, start=token)
            timings.append(time.perf_counter() - started)
            pages.append(queries.made[before:])
            if token is None:
                break
        # The last page reads what is left: the steady cost is that of the full pages.
        full = pages[:-1] or pages
        return {**_page_costs(queries, full), "moto_ms_per_page": round(statistics.median(timings) * 1000, 2)}


def capacity(size: int = 1000, shard_counts: tuple[int, ...] = (1, 2, 4, 8, 16)) -> dict[str, Any]:
    """``page_read_units`` (a default page of realistic books, by DynamoDB's rule) and
    ``catalogue_max_rps_per_partition_key`` (3,000 over the hottest key's units per GET /books),
    each ``{"before": ..., "after": ...}``; ``details`` has every case, moto's own figures, and
    the same figures for other shard counts."""
    cases: dict[str, Any] = {}
    for profile in PROFILES:
        for limit in (PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX):
            cases[f"{profile}/{limit}"] = {
                "before": _paged(size, profile, limit, sharded=False),
                "after": _paged(size, profile, limit, sharded=True),
            }
    by_shards: dict[str, Any] = {}
    shown = ("page_read_units", "max_rps_per_partition_key", "pages_with_a_second_round")
    for count in shard_counts:
        by_shards[str(count)] = {}
        for case in cases:
            profile, limit = case.split("/")
            if count == books_module.SHARDS:  # measured above, as "after"
                figures = cases[case]["after"]
            else:
                with _shards(count):
                    figures = _paged(size, profile, int(limit), sharded=True)
            by_shards[str(count)][case] = {key: figures[key] for key in shown}
    headline = cases[f"typical/{PAGE_SIZE_DEFAULT}"]
    return {
        "page_read_units": {when: headline[when]["page_read_units"] for when in ("before", "after")},
        "catalogue_max_rps_per_partition_key": {
            when: headline[when]["max_rps_per_partition_key"] for when in ("before", "after")
        },
        "details": {
            "rule": "per Query: item sizes summed, rounded up to 4 KB, 0.5 read units per 4 KB, at least 0.5",
            "moto": "1.0 unit per Query whatever it reads, not DynamoDB's rule (the ceilings use the rule)",
            "shards": books_module.SHARDS,
            "books": size,
            "write_units_per_second": {
                "before": PARTITION_KEY_WRITE_UNITS,
                "after": PARTITION_KEY_WRITE_UNITS * books_module.SHARDS,
            },
            "cases": cases,
            "by_shard_count": by_shards,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--pages", type=int, default=2)
    parser.add_argument("--capacity", action="store_true", help="read units and the partition key's ceiling")
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    if args.capacity:
        print(json.dumps(capacity()))
    else:
        print(json.dumps({size: measure(size, args.pages) for size in args.books}))


if __name__ == "__main__":
    main()
