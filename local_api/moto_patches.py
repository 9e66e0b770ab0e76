"""moto's DynamoDB as the local server runs it: the local server's one patch of moto's private code.

Each correction below names the behaviour of the pinned moto (5.2.5) it corrects. moto's classes
are not a public API: tests/local_api/test_moto_patches.py records the code patched here and fails,
naming this module and what to re-check, when an upgrade of moto changes it. The unit tests run on
moto as it is (the functions' client making its calls one at a time instead).

- Atomicity. DynamoDB evaluates a write's condition and applies the write as one step, and a
  transaction's conditions and writes all together. moto checks and writes in separate Python
  steps, so two of its server's threads can both pass a condition that only one should.
  Serialising moto's DynamoDB writes (and the reads beside them) restores the guarantee the code
  relies on: of racing conditional writes, exactly one wins.
- Serialising. moto 5 writes every response by walking the operation's output shape in
  botocore's model, value by value: about 1.5 ms per book on this machine, so most of a 20-book
  GET /books through the local server was moto writing the Query's answer (docs/PERFORMANCE.md).
  The results of GetItem, BatchGetItem, Query and Scan are DynamoDB's wire JSON already (moto
  builds them with the wire names; an item is ``{name: {type: value}}``, numbers as strings), so
  they are written with ``json.dumps``. A result holding anything JSON would not carry as it is
  (binary data, a timestamp, a null) still goes through moto's serializer, as does every other
  operation.
- Transactions. To roll a failed TransactWriteItems back, moto deep-copies every table it
  writes, whole, once per item: a login (two items) copied the tokens table twice, so logins got
  slower with every session stored. Here a transaction copies only the items it names, and puts
  them back if it fails; moto's own code runs unchanged, its table copies made free.
- Dispatch. To find the backend of each request, moto's server asks ``list_of_moto_modules``,
  which lists moto's package folder and stats each entry (about 50 system calls before
  ``dynamodb``), every request, under the dispatcher's one lock: under load the requests queued
  there. The folder does not change while the server runs, so it is listed once.
- Starting. ``ThreadedMotoServer.start`` waits, with no timeout, for its thread to bind; a port in
  use ends that thread first, and the wait never ends. ``started`` watches the thread instead.

The same tests check answers and rollbacks against moto's own.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable
from typing import Any

import moto.backends as moto_backends
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

LOCK = threading.RLock()
_ATOMIC = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query")
OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"
# What install() replaces: (owner, attribute).
PATCHED: tuple[tuple[Any, str], ...] = (
    *((DynamoDBBackend, name) for name in _ATOMIC),
    (DynamoResult, "execute_result"),
    (dynamodb_models, "copy"),
    (moto_backends, "list_of_moto_modules"),
)


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    locked.__books_api_atomic__ = True  # type: ignore[attr-defined]
    return locked


def _install_atomicity() -> None:
    for name in _ATOMIC:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "__books_api_atomic__", False):
            setattr(DynamoDBBackend, name, _serialised(method))


_SCALARS = frozenset({str, bool, int, float})


def plain(value: Any) -> bool:
    """True if ``value`` is made only of strings, numbers, booleans, lists and string-keyed dicts.

    Walked with a stack, exact types first: on every item read, so a recursive walk of
    ``isinstance`` checks was a tenth of moto's time for a page of books."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is dict or (kind is not list and isinstance(item, dict)):
            for key, member in item.items():
                if type(key) is not str and not isinstance(key, str):
                    return False
                pending.append(member)
        elif kind is list or isinstance(item, list):
            pending.extend(item)
        elif not isinstance(item, str | bool | int | float):
            return False
    return True


_transaction = threading.local()


class _CopyKeepingTables:
    """The ``copy`` module as moto's DynamoDB backend sees it: inside a transaction a table is
    not copied (the transaction keeps copies of its own items instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_transaction, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _named_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash key, range key, a copy of the item or None) for each item a transaction names."""
    found = []
    for entry in transact_items:
        for operation, request in entry.items():
            table = backend.get_table(request["TableName"])
            if operation == "Put":
                attributes = request["Item"]
                key = {table.hash_key_attr: attributes[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attributes[table.range_key_attr]
            else:
                key = request["Key"]
            hash_value, range_value = backend.get_keys_value(table, key)
            current = table.get_item(hash_value, range_value)
            found.append((table, hash_value, range_value, copy.deepcopy(current)))
    return found


def _put_back(items: list[tuple[Any, ...]]) -> None:
    for table, hash_value, range_value, item in reversed(items):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item


def _transact_write_items(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        # Under the lock: the copies are taken, and put back, with no other write between.
        with LOCK:
            try:
                named = _named_items(self, transact_items)
            except Exception:  # a malformed request: moto's own code says why, as it would
                return original(self, transact_items)
            _transaction.active = True
            try:
                return original(self, transact_items)
            except Exception:
                _put_back(named)
                raise
            finally:
                _transaction.active = False

    transact_write_items.__books_api_fast__ = True  # type: ignore[attr-defined]
    return transact_write_items


def _listed_once(original: Callable[[], Any]) -> Callable[[], Any]:
    modules: list[tuple[str, ...]] = []

    @functools.wraps(original)
    def list_of_moto_modules() -> Any:
        if not modules:
            modules.append(tuple(original()))
        return iter(modules[0])

    list_of_moto_modules.__books_api_fast__ = True  # type: ignore[attr-defined]
    return list_of_moto_modules


def started(server: Any) -> bool:
    """Start ``server`` (a ``ThreadedMotoServer``); False if its thread died first (the port
    taken, say), where its ``start`` would wait for ever (Starting)."""
    starting = threading.Thread(target=server.start, daemon=True)
    starting.start()
    while starting.is_alive():
        starting.join(0.05)
        if server._thread is not None and not server._thread.is_alive():
            return False
    return True


def install() -> None:
    """Make moto's DynamoDB apply each request atomically, write item reads as JSON directly, and
    back transactions up by item; and list moto's modules once (idempotent)."""
    _install_atomicity()
    if not getattr(moto_backends.list_of_moto_modules, "__books_api_fast__", False):
        moto_backends.list_of_moto_modules = _listed_once(moto_backends.list_of_moto_modules)  # type: ignore[assignment]
    if not getattr(DynamoDBBackend.transact_write_items, "__books_api_fast__", False):
        dynamodb_models.copy = _CopyKeepingTables()  # type: ignore[assignment]
        DynamoDBBackend.transact_write_items = _transact_write_items(DynamoDBBackend.transact_write_items)  # type: ignore[method-assign]
    original = DynamoResult.execute_result
    if getattr(original, "__books_api_fast__", False):
        return

    def execute_result(self: DynamoResult, context: Any) -> Any:
        if context.operation_model.name in OPERATIONS and plain(self.result):
            return 200, {"Content-Type": CONTENT_TYPE}, json.dumps(self.result)
        return original(self, context)

    execute_result.__books_api_fast__ = True  # type: ignore[attr-defined]
    execute_result.__wrapped__ = original  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
