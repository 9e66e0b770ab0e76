"""DynamoDB's item reads answered by moto without its shape-walking serializer.

moto 5 serialises every response by walking the operation's output shape in botocore's model,
value by value: about 1.5 ms per book on this machine, so most of a 20-book GET /books through the
local server was moto writing the Query's answer (docs/PERFORMANCE.md). The results of GetItem,
BatchGetItem, Query and Scan are DynamoDB's wire JSON already (moto builds them with the wire
names; an item is ``{name: {type: value}}``, numbers as strings), so the local server writes them
with ``json.dumps``. A result holding anything JSON would not carry as it is (binary data, a
timestamp, a null) still goes through moto's serializer, as does every other operation.
tests/unit/test_moto_fast.py checks that both give botocore the same answer.
"""

from __future__ import annotations

import json
from typing import Any

from moto.dynamodb.responses import DynamoResult

OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
CONTENT_TYPE = "application/x-amz-json-1.0"


def plain(value: Any) -> bool:
    """True if ``value`` is made only of strings, numbers, booleans, lists and string-keyed dicts."""
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and plain(item) for key, item in value.items())
    return False


def install() -> None:
    """Make moto's DynamoDB write item reads as JSON directly (idempotent)."""
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
