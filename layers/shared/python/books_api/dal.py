"""The data access layer's one way to do each thing, for every repository.

- Items: plain Python values in and out, marshalled by boto3's ``TypeSerializer`` and
  ``TypeDeserializer`` (numbers come back as ``int``: this API stores no fractions).
- The client: made lazily by ``books_api.aws.client`` unless a repository is handed one.
- A conditional write that finds its condition false: ``ConditionFailed``, carrying the item as
  DynamoDB saw it (when the request asked for it), for the repository to say in domain terms.
- A transaction: ``Write``s that each name what their condition stands for, so a cancelled one
  reports which of them failed (``TransactionCancelled.failed``), not positions in a list.

Every call goes through ``books_api.aws.unavailable_on_failure``: throttling and outages are a 503.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from books_api import aws

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """DynamoDB's attribute values for ``values``; a ``None`` is left out (the attribute is absent)."""
    return {name: _serializer.serialize(value) for name, value in values.items() if value is not None}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    """The plain values of an item DynamoDB returned."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def placeholders(**values: Any) -> dict[str, Any]:
    """``ExpressionAttributeValues`` for ``:name`` placeholders."""
    return {f":{name}": _serializer.serialize(value) for name, value in values.items()}


class ConditionFailed(Exception):
    """A conditional write's condition was false; ``item`` is the item it saw, if it was asked for."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


@dataclass(frozen=True)
class Write:
    """One write of a transaction, and what its condition stands for (``purpose``)."""

    purpose: str
    request: dict[str, Any]


class TransactionCancelled(Exception):
    """A transaction was cancelled: ``failed`` names the writes whose condition was false;
    ``conflict`` says another transaction held one of its items (worth retrying)."""

    def __init__(self, failed: frozenset[str], conflict: bool) -> None:
        super().__init__(f"transaction cancelled: {sorted(failed)}{' (conflict)' if conflict else ''}")
        self.failed = failed
        self.conflict = conflict


class Repository:
    """A table, and the client that reaches it (``books_api.aws.client`` unless one is given)."""

    def __init__(self, table: str, dynamodb: Any | None = None) -> None:
        self.table = table
        self._dynamodb = dynamodb

    @property
    def dynamodb(self) -> Any:
        return self._dynamodb or aws.client("dynamodb")

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        """One request on this table; a false condition raises ``ConditionFailed``."""
        try:
            with aws.unavailable_on_failure():
                response: dict[str, Any] = getattr(self.dynamodb, operation)(TableName=self.table, **request)
                return response
        except ClientError as error:
            if aws.error_code(error) == "ConditionalCheckFailedException":
                item = cast(dict[str, Any] | None, error.response.get("Item"))
                raise ConditionFailed(from_attributes(item) if item else None) from None
            raise

    def read(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item with ``key`` (plain values), strongly consistent, or None."""
        item = self.call("get_item", Key=to_attributes(key), ConsistentRead=True).get("Item")
        return from_attributes(item) if item else None

    def query_page(
        self, request: dict[str, Any], *, limit: int, start: Mapping[str, Any] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """One Query of ``limit + 1`` items after ``start`` (an index's last key, plain values):
        the first ``limit`` items, and whether more follow."""
        request = {**request, "Limit": limit + 1}
        if start is not None:
            request["ExclusiveStartKey"] = to_attributes(start)
        items = [from_attributes(item) for item in self.call("query", **request).get("Items", [])]
        return items[:limit], len(items) > limit

    def transact(self, writes: Iterable[Write]) -> None:
        """Write ``writes`` atomically, or raise ``TransactionCancelled`` naming what failed."""
        writes = list(writes)
        try:
            with aws.unavailable_on_failure():
                self.dynamodb.transact_write_items(TransactItems=[write.request for write in writes])
        except ClientError as error:
            if aws.error_code(error) != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]
            failed = frozenset(
                write.purpose
                for write, code in zip(writes, reasons, strict=False)
                if code == "ConditionalCheckFailed"
            )
            raise TransactionCancelled(failed, "TransactionConflict" in reasons) from None
