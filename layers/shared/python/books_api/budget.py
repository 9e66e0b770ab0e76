"""How long one invocation may wait on its dependencies, without importing any of them.

``time_budget`` marks an invocation's start (every API request, every authorizer call); calls to
AWS (``books_api.aws``) and to the secrets extension (``books_api.secret_source``) made inside it
start only while they can end within BUDGET_SECONDS of that start, so nothing waits past the
functions' 10 s timeout. Standard library only: the authorizer imports it without boto3.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

BUDGET_SECONDS = 6.0
RETRY_AFTER_SECONDS = 2

_deadline: ContextVar[float | None] = ContextVar("aws_deadline", default=None)


class _Budget:
    """The context manager ``time_budget`` returns (a class: it runs in every invocation, and a
    generator-based one costs a few microseconds more)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _deadline.set(time.monotonic() + BUDGET_SECONDS)

    def __exit__(self, *_: object) -> None:
        _deadline.reset(self._token)


def time_budget() -> _Budget:
    """Calls made inside may start only while they can end within BUDGET_SECONDS from now."""
    return _Budget()


def deadline() -> float | None:
    """The monotonic time by which the current invocation's calls must end (None outside a budget)."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left in the current budget (None outside one; never below 0)."""
    end = _deadline.get()
    return None if end is None else max(0.0, end - time.monotonic())
