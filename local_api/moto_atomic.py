"""DynamoDB's per-request atomicity, which moto lacks.

DynamoDB evaluates a write's condition and applies the write as one step, and a transaction's
conditions and writes all together. moto checks and writes in separate Python steps, so two
threads can both pass a condition that only one should. Serialising moto's DynamoDB writes
(and the reads beside them) restores the guarantee the code relies on: of racing conditional
writes, exactly one wins. Both the unit tests (in-process moto) and the local server (moto's
threaded server) apply it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

LOCK = threading.RLock()
_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    locked.__books_api_atomic__ = True  # type: ignore[attr-defined]
    return locked


def install() -> None:
    """Make moto's DynamoDB backend apply each request atomically (idempotent)."""
    for name in _OPERATIONS:
        method = getattr(DynamoDBBackend, name)
        if not getattr(method, "__books_api_atomic__", False):
            setattr(DynamoDBBackend, name, _serialised(method))
