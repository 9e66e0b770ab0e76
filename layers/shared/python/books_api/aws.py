"""boto3 clients, made lazily and once per process, and the mapping of AWS failures to a 503.

Clients are never built at import time, so tests can start moto before the first one exists.
boto3 honours ``AWS_ENDPOINT_URL``, which is how the local server points them at moto.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from books_api.errors import ServiceUnavailable

# Timeouts and retries bounded so a call gives up well inside the functions' 10 s timeout.
_CONFIG = Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})

RETRY_AFTER_SECONDS = 2

_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "InternalServerError",
        "InternalServiceError",
        "InternalFailure",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)


_THROTTLED_TRANSACTION_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "InternalServerError"}
)


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def is_unavailable(error: ClientError) -> bool:
    """Throttled or failing on AWS's side: worth retrying later, not a bug of ours."""
    code = error_code(error)
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(reason.get("Code") in _THROTTLED_TRANSACTION_REASONS for reason in reasons)
    return code in _UNAVAILABLE_CODES


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Turn a throttled or unreachable AWS dependency into a 503 with Retry-After.

    Any other ClientError is a bug (wrong table, missing permission) and propagates as one.
    """
    try:
        yield
    except ClientError as error:
        if is_unavailable(error):
            raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from error
        raise
    except BotoCoreError as error:
        raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS) from error


def get_items(dynamodb: Any, keys: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """One item from each of several tables in one strongly consistent BatchGetItem: table -> item.

    A key DynamoDB leaves unprocessed (it does so when throttled) is a 503, never a missing item.
    """
    request = {table: {"Keys": [key], "ConsistentRead": True} for table, key in keys.items()}
    with unavailable_on_failure():
        response = dynamodb.batch_get_item(RequestItems=request)
    if response.get("UnprocessedKeys"):
        raise ServiceUnavailable(retry_after=RETRY_AFTER_SECONDS)
    found = response.get("Responses", {})
    return {table: (found.get(table) or [None])[0] for table in keys}
