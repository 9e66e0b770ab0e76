"""moto_fast (the local server's shortcut for DynamoDB's item reads) answers as moto's serializer does."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoResult

from local_api import moto_fast
from stack.template import Stack
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


# --- transactions: backed up by item, rolled back as moto rolls back ------------------------------


def _transaction(table: str) -> list[dict[str, Any]]:
    """A put, an update and a delete that apply, then a condition that fails: nothing may stay."""
    return [
        {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}, "v": {"N": "1"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": "a"}},
                "UpdateExpression": "SET n = :n REMOVE flag",
                "ExpressionAttributeValues": {":n": {"N": "9"}},
            }
        },
        {"Delete": {"TableName": table, "Key": {"pk": {"S": "c"}}}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"pk": {"S": "b"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
    ]


def _everything(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return sorted(dynamodb.scan(TableName=table)["Items"], key=lambda item: item["pk"]["S"])


def _fails_and_leaves_nothing(dynamodb: Any, table: str) -> dict[str, Any]:
    before = _everything(dynamodb, table)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as raised:
        dynamodb.transact_write_items(TransactItems=_transaction(table))
    assert _everything(dynamodb, table) == before
    return raised.value.response["CancellationReasons"]


def test_a_failed_transaction_leaves_every_item_as_it_was(
    tokens: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb, table = tokens
    moto_fast.install()
    live = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table]
    reasons = _fails_and_leaves_nothing(dynamodb, table)
    assert dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table] is live  # no copy of the table
    # moto's own rollback (a copy of the whole table) gives the same answer.
    from moto.dynamodb import models

    monkeypatch.setattr(models, "copy", copy)
    monkeypatch.setattr(
        models.DynamoDBBackend,
        "transact_write_items",
        models.DynamoDBBackend.transact_write_items.__wrapped__,
    )
    assert _fails_and_leaves_nothing(dynamodb, table) == reasons


def test_a_transaction_that_succeeds_applies_every_write(tokens: tuple[Any, str]) -> None:
    dynamodb, table = tokens
    moto_fast.install()
    writes = _transaction(table)[:3]
    dynamodb.transact_write_items(TransactItems=writes)
    items = {item["pk"]["S"]: item for item in _everything(dynamodb, table)}
    assert set(items) == {"a", "b", "new"}
    assert items["a"]["n"] == {"N": "9"}
    assert "flag" not in items["a"]
