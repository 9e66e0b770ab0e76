"""moto_fast (the local server's shortcut for DynamoDB's item reads) answers as moto's serializer does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoResult

from local_api import moto_fast
from local_api.template import Stack
from tests.unit.conftest import REGION

ITEMS = [
    {
        "pk": {"S": "a"},
        "n": {"N": "1.50"},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "list": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"k": {"S": "v"}}}]},
        "strings": {"SS": ["b", "a"]},
        "numbers": {"NS": ["3", "1"]},
        "text": {"S": 'ünïcode " \\ \n'},
    },
    {"pk": {"S": "b"}, "blob": {"B": b"\x00\xff binary"}, "blobs": {"BS": [b"\x01", b"\x02"]}},
    {"pk": {"S": "c"}},
]


@pytest.fixture
def tokens(stack: Stack) -> tuple[Any, str]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = stack.ref("TokensTable")
    for item in ITEMS:
        dynamodb.put_item(TableName=table, Item=item)
    return dynamodb, table


@pytest.fixture
def serialised_by_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    moto_fast.install()
    fast = DynamoResult.execute_result

    def use_moto() -> None:
        monkeypatch.setattr(DynamoResult, "execute_result", fast.__wrapped__)

    yield use_moto


def _reads(dynamodb: Any, table: str) -> dict[str, Any]:
    def strip(response: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in response.items() if key != "ResponseMetadata"}

    return {
        "get": [strip(dynamodb.get_item(TableName=table, Key={"pk": item["pk"]})) for item in ITEMS],
        "missing": strip(dynamodb.get_item(TableName=table, Key={"pk": {"S": "none"}})),
        "batch": strip(
            dynamodb.batch_get_item(RequestItems={table: {"Keys": [{"pk": item["pk"]} for item in ITEMS]}})
        ),
        "query": strip(
            dynamodb.query(
                TableName=table,
                KeyConditionExpression="pk = :a",
                ExpressionAttributeValues={":a": {"S": "a"}},
                ReturnConsumedCapacity="TOTAL",
            )
        ),
        "scan": strip(dynamodb.scan(TableName=table, Limit=2)),
    }


def test_item_reads_parse_alike_with_and_without_the_shortcut(
    tokens: tuple[Any, str], serialised_by_moto: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb, table = tokens
    taken = []
    real_plain = moto_fast.plain
    monkeypatch.setattr(moto_fast, "plain", lambda value: taken.append(real_plain(value)) or taken[-1])
    fast = _reads(dynamodb, table)
    assert taken.count(True) >= 4 and False in taken  # the shortcut, and moto's serializer for binary
    serialised_by_moto()
    assert _reads(dynamodb, table) == fast
    assert fast["get"][1]["Item"]["blob"] == {"B": b"\x00\xff binary"}  # through moto's serializer


def test_only_plain_json_values_take_the_shortcut() -> None:
    assert moto_fast.plain({"Items": [{"a": {"S": "x"}, "n": {"N": "1"}, "f": {"BOOL": False}}], "Count": 1})
    assert not moto_fast.plain({"Item": {"b": {"B": b"\x00"}}})
    assert not moto_fast.plain({"LastEvaluatedKey": None})
    assert not moto_fast.plain({1: "not a string key"})


def test_installing_twice_wraps_once() -> None:
    moto_fast.install()
    first = DynamoResult.execute_result
    moto_fast.install()
    assert DynamoResult.execute_result is first
