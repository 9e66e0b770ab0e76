"""Items DynamoDB examines to serve a page of books: the Query's ScannedCount, as moto reports it.

    .venv/bin/python bench/pagination.py [--books 100 10000] [--pages 2]

For each catalogue size, in moto (in-process), the books function's own repository stores that
many books and serves the first 20-book page and the page ``--pages`` further on, following
next_token. Prints one JSON object: size -> {first, later, returned}. A page is one Query on the
ByCreation index with Limit = page + 1, so ScannedCount must not grow with the catalogue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/shared/python")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from books_api.books import BookFields, BookRepository  # noqa: E402
from books_api.pagination import PageTokens  # noqa: E402
from stack.template import Stack, create_resources  # noqa: E402

REGION = "us-east-1"
PAGE = 20


def _time(start: datetime, seconds: int) -> str:
    return (start + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def measure(size: int, pages: int) -> dict[str, Any]:
    with mock_aws():
        stack = create_resources(
            Stack(name=f"pages-{size}", region=REGION),
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("secretsmanager", region_name=REGION),
            boto3.client("kms", region_name=REGION),
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        scanned: list[int] = []
        dynamodb.meta.events.register(
            "after-call.dynamodb.Query", lambda parsed, **_: scanned.append(parsed["ScannedCount"])
        )
        books = BookRepository(stack.ref("BooksTable"), PageTokens(lambda: b"k" * 32), dynamodb=dynamodb)
        table = stack.ref("BooksTable")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        # One book made by the repository, the rest copies of its item under new ids and times
        # (batch writes: the catalogue is filled in seconds, not minutes).
        first = books.create(BookFields(title="Book 0", author="Bench"), now=_time(start, 0))
        template = dynamodb.get_item(TableName=table, Key={"id": {"S": first["id"]}})["Item"]
        for offset in range(1, size, 25):
            batch = []
            for number in range(offset, min(offset + 25, size)):
                book_id, now = str(uuid.UUID(int=number, version=4)), _time(start, number)
                item = dict(template, id={"S": book_id}, created_key={"S": f"{now}#{book_id}"})
                batch.append({"PutRequest": {"Item": item}})
            dynamodb.batch_write_item(RequestItems={table: batch})
        page = books.page(limit=PAGE, next_token=None)
        returned = len(page["items"])
        for _ in range(pages):
            page = books.page(limit=PAGE, next_token=page["next_token"])
        return {"first": scanned[0], "later": scanned[-1], "returned": returned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--books", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    print(json.dumps({size: measure(size, args.pages) for size in args.books}))


if __name__ == "__main__":
    main()
