"""boto3 clients, made lazily and once per process, and the mapping of AWS failures to a 503.

Clients are never built at import time, so tests can start moto before the first one exists.
boto3 honours ``AWS_ENDPOINT_URL``, which is how the local server points them at moto.

Nothing waits past the functions' 10 s timeout: an attempt lasts at most ATTEMPT_SECONDS, a call
makes at most MAX_ATTEMPTS attempts (one retry, after at most a second's backoff), and inside
``time_budget`` (``books_api.budget``: every API request, every authorizer call) an attempt starts
only if it can end within BUDGET_SECONDS of the invocation's start; after that, calls fail with
OutOfTime, a 503.
Worst case: BUDGET_SECONDS + one backoff = 7 s, before the function's own work (a bcrypt check).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from books_api import budget
from books_api.budget import RETRY_AFTER_SECONDS
from books_api.errors import ServiceUnavailable

CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
ATTEMPT_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS
MAX_ATTEMPTS = 2
_CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)
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


class OutOfTime(BotoCoreError):
    fmt = "No time left in this invocation for another AWS call"


def _check_deadline(**_: Any) -> None:
    deadline = budget.deadline()
    if deadline is not None and time.monotonic() + ATTEMPT_SECONDS > deadline:
        raise OutOfTime()


@functools.cache
def client(service: str) -> Any:
    # boto3-stubs types clients by literal service names; this factory serves any of them.
    made: Any = cast(Any, boto3).client(service, config=_CONFIG)
    # Before every attempt, retries included (botocore does not retry this error).
    made.meta.events.register_first("before-send", _check_deadline)
    return made


# boto3's default session and the botocore session behind it, once ``reset`` made them: its
# loader holds the API models ``warm`` loaded, which ``reset`` hands to the session that replaces it.
_session: list[tuple[Any, Any]] = []


def warm(services: tuple[str, ...]) -> None:
    """Load what a client of each service needs (its API model and endpoint rules, kept by the
    default session's loader) by making one with placeholder credentials and dropping it: no
    credential is looked up, no request made and no client kept (books_api.snapstart)."""
    if not _session or _session[0][0] is not boto3.DEFAULT_SESSION:
        reset()
    for service in services:
        _session[0][0].client(
            service,
            aws_access_key_id="snapshot",
            aws_secret_access_key="snapshot",  # noqa: S106 - a placeholder that signs nothing
            config=_CONFIG,
        )


def reset() -> None:
    """Forget every client and the default session with its credentials, keeping the API models
    ``warm`` loaded: the next ``client`` is new, with new connections and credentials looked up
    afresh (after a SnapStart restore, as the snapshot's belong to the environment it was taken in)."""
    import botocore.session  # noqa: PLC0415

    client.cache_clear()
    fresh = botocore.session.get_session()
    if _session:
        fresh.register_component("data_loader", _session[0][1].get_component("data_loader"))
    boto3.setup_default_session(botocore_session=fresh)
    _session[:] = [(boto3.DEFAULT_SESSION, fresh)]


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
