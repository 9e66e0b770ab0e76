"""Attempts run at the same time, in threads: for the race tests in-process and over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(*attempts: Callable[[], Any], together: bool = False, timeout: float = 30) -> list[Any]:
    """Run each attempt in its own thread, all at once (with ``together``, released by one barrier
    once every thread is running); their results, in order. An attempt that raises has the
    exception as its result: a racer's crash is an outcome to assert on, not to lose."""
    results: list[Any] = [None] * len(attempts)
    start = threading.Barrier(len(attempts), timeout=timeout) if together else None

    def run(index: int) -> None:
        try:
            if start is not None:
                start.wait()
            results[index] = attempts[index]()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results
