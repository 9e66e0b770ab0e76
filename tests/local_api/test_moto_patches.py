"""local_api.moto_patches, the local server's patch of moto: its item reads answer as moto's
serializer does, its transactions roll back as moto's do, and the pinned moto still has the code
it patches."""

from __future__ import annotations

import copy
import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto.backends
import pytest
from moto.dynamodb.responses import DynamoResult

from local_api import REGION, moto_patches
from stack.template import Stack
from tests.utils import assert_upstream_unchanged

_ATOMIC = "checks a condition, then writes, with no lock (atomicity)"
_READ = "a read, serialised with the writes (atomicity)"
_FINDS = "finds the items a transaction names (transactions)"
_STORED = "items stored as items[hash] or items[hash][range] (a failed transaction's put-back)"
# The code of moto 5.2.5 that moto_patches patches or relies on: its source digest, and what for.
UPSTREAM = {
    "moto.dynamodb.models:DynamoDBBackend.put_item": ("f5d9a5042c77b89e", _ATOMIC),
    "moto.dynamodb.models:DynamoDBBackend.update_item": ("218984588dd689a5", _ATOMIC),
    "moto.dynamodb.models:DynamoDBBackend.delete_item": ("083a4bb1af18f6fd", _ATOMIC),
    "moto.dynamodb.models:DynamoDBBackend.transact_write_items": (
        "81db2cb7d94e39c9",
        "checks every condition, then writes, with no lock (atomicity); deep-copies each table it "
        "writes through the module's `copy`, and restores them if a write fails (transactions)",
    ),
    "moto.dynamodb.models:DynamoDBBackend.get_item": ("290b95c46b38bc5a", _READ),
    "moto.dynamodb.models:DynamoDBBackend.query": ("b8f2b308cd13edb4", _READ),
    "moto.dynamodb.models:DynamoDBBackend.get_keys_value": ("1f948797496ddc2c", _FINDS),
    "moto.dynamodb.models:DynamoDBBackend.get_table": ("a738146035fc206b", _FINDS),
    "moto.dynamodb.models.table:Table.get_item": ("b08e98fe37b7e583", _FINDS),
    "moto.dynamodb.models.table:Table.delete_item": ("1594f7b07616c8cb", _STORED),
    "moto.dynamodb.models.table:Table.put_item": ("de23933013ef8426", _STORED),
    "moto.core.responses:ActionResult.execute_result": (
        "6333faa349b58671",
        "replaced for GetItem, BatchGetItem, Query and Scan: the response it writes (serialising)",
    ),
    "moto.dynamodb.responses:DynamoResult.__init__": (
        "e2394775cd5ef6ad",
        "its result is DynamoDB's wire JSON, written as it is (serialising)",
    ),
    "moto.backends:list_of_moto_modules": (
        "4f741a10b06500e8",
        "lists moto's package folder, which does not change while the server runs (dispatch)",
    ),
    "moto.server:ThreadedMotoServer.start": (
        "1cbbc8072bb9b6e7",
        "runs _server_entry in self._thread and waits, with no timeout, for it to bind (starting)",
    ),
    "moto.server:ThreadedMotoServer._server_entry": (
        "ef744bd45e1e465a",
        "binds in that thread, so a port in use ends the thread before the wait is over (starting)",
    ),
    "moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host": (
        "1f41972c1e4e660f",
        "asks backends.list_of_moto_modules() on every request, only for membership (dispatch)",
    ),
}

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
def serialised_by_moto(moto_patched: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
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
    real_plain = moto_patches.plain
    monkeypatch.setattr(moto_patches, "plain", lambda value: taken.append(real_plain(value)) or taken[-1])
    fast = _reads(dynamodb, table)
    assert taken.count(True) >= 4 and False in taken  # the shortcut, and moto's serializer for binary
    serialised_by_moto()
    assert _reads(dynamodb, table) == fast
    assert fast["get"][1]["Item"]["blob"] == {"B": b"\x00\xff binary"}  # through moto's serializer


def test_only_plain_json_values_take_the_shortcut() -> None:
    items = [{"a": {"S": "x"}, "n": {"N": "1"}, "f": {"BOOL": False}}]
    assert moto_patches.plain({"Items": items, "Count": 1})
    assert not moto_patches.plain({"Item": {"b": {"B": b"\x00"}}})
    assert not moto_patches.plain({"LastEvaluatedKey": None})
    assert not moto_patches.plain({1: "not a string key"})


def _plain_by_definition(value: Any) -> bool:
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_plain_by_definition(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain_by_definition(item) for key, item in value.items())
    return False


class _Text(str):
    pass


@pytest.mark.parametrize(
    "value",
    [
        {"Items": [item for item in ITEMS if "blob" not in item], "Count": 2},
        {"Items": [{"deep": {"L": [{"M": {"k": {"L": [{"S": "v"}, {"N": "1"}]}}}]}}]},
        {"Items": [{"deep": {"L": [{"M": {"k": {"L": [{"S": "v"}, {"B": b"\x00"}]}}}]}}]},
        {"Items": [{"k": {"M": {2: {"S": "an int key, deep"}}}}]},
        {"Items": ({"S": "a tuple"},)},
        {"when": object()},
        {_Text("k"): _Text("a str subclass"), "d": OrderedDict(a=[1.5, True])},
        {"d": OrderedDict({1: "an int key in a dict subclass"})},
        [],
        {},
        None,
        "text",
    ],
)
def test_plain_answers_as_its_definition(value: Any) -> None:
    assert moto_patches.plain(value) is _plain_by_definition(value)


def test_moto_modules_are_listed_once(moto_patched: None, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = list(inspect.unwrap(moto.backends.list_of_moto_modules)())
    assert "dynamodb" in listed and "secretsmanager" in listed
    assert list(moto.backends.list_of_moto_modules()) == listed
    listings = []
    monkeypatch.setattr(moto.backends.os, "listdir", lambda path: listings.append(path) or [])
    assert list(moto.backends.list_of_moto_modules()) == listed
    assert "dynamodb" in moto.backends.list_of_moto_modules()
    assert listings == []


def test_installing_twice_wraps_once(moto_patched: None) -> None:
    first = [getattr(owner, name) for owner, name in moto_patches.PATCHED]
    moto_patches.install()
    assert [getattr(owner, name) for owner, name in moto_patches.PATCHED] == first


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
    tokens: tuple[Any, str], moto_patched: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb, table = tokens
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


def test_a_transaction_that_succeeds_applies_every_write(tokens: tuple[Any, str], moto_patched: None) -> None:
    dynamodb, table = tokens
    writes = _transaction(table)[:3]
    dynamodb.transact_write_items(TransactItems=writes)
    items = {item["pk"]["S"]: item for item in _everything(dynamodb, table)}
    assert set(items) == {"a", "b", "new"}
    assert items["a"]["n"] == {"N": "9"}
    assert "flag" not in items["a"]


# --- atomicity: each request applied whole, as DynamoDB applies it -----------------------------


REQUESTS: dict[str, Callable[[Any, str], Any]] = {
    "put_item": lambda db, table: db.put_item(TableName=table, Item={"pk": {"S": "p"}}),
    "update_item": lambda db, table: db.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":v": {"N": "1"}},
    ),
    "delete_item": lambda db, table: db.delete_item(TableName=table, Key={"pk": {"S": "c"}}),
    "transact_write_items": lambda db, table: db.transact_write_items(TransactItems=_transaction(table)[:3]),
    "get_item": lambda db, table: db.get_item(TableName=table, Key={"pk": {"S": "a"}}),
    "query": lambda db, table: db.query(
        TableName=table, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
    ),
}


@pytest.mark.parametrize("operation", sorted(REQUESTS))
def test_a_request_waits_while_another_is_applied(
    tokens: tuple[Any, str], moto_patched: None, operation: str
) -> None:
    dynamodb, table = tokens
    done = threading.Event()
    request = threading.Thread(target=lambda: (REQUESTS[operation](dynamodb, table), done.set()))
    with moto_patches.LOCK:  # as a request of another thread of moto's server holds it
        request.start()
        assert not done.wait(0.5)
    assert done.wait(10)
    request.join()


# --- the pinned moto ------------------------------------------------------------------------------


def test_moto_patches_still_matches_the_pinned_moto() -> None:
    """An upgrade of moto that changes the code moto_patches relies on fails here, saying what to
    re-check, instead of as a wrong answer somewhere in the local server."""
    assert_upstream_unchanged(
        UPSTREAM, distribution="moto", version="5.2.5", patches="local_api/moto_patches.py"
    )


def test_every_method_moto_patches_replaces_is_recorded(moto_patched: None) -> None:
    for owner, name in moto_patches.PATCHED:
        if inspect.isclass(owner) or inspect.isfunction(getattr(owner, name)):
            original = inspect.unwrap(getattr(owner, name))
            assert f"{original.__module__}:{original.__qualname__}" in UPSTREAM, (owner, name)
