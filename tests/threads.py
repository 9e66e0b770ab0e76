"""Attempts run at the same time, in threads: ``race`` for the race tests in-process (a racer's
crash is an outcome), ``at_once`` for N requests at once over HTTP, and ``one_call_at_a_time``,
DynamoDB's atomicity for in-process moto."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# One lock for every client ``one_call_at_a_time`` serialises: moto's tables are shared by all.
_CALLS = threading.RLock()


class Gate:
    """Holds each racer that reaches a point until every racer has reached it or finished, so
    those that get there are all there at once (and no one waits for a racer that never comes).

    ``race(..., gate=gate)`` reports each racer's end; ``reached`` counts those that got there.
    """

    def __init__(self, parties: int, *, timeout: float = 10) -> None:
        self.parties = parties
        self.reached = 0
        self.finished = 0
        self._timeout = timeout
        self._condition = threading.Condition()
        self._held = threading.local()

    def hold(self) -> None:
        if getattr(self._held, "once", False):
            return
        self._held.once = True
        with self._condition:
            self.reached += 1
            self._condition.notify_all()
            everyone = self._condition.wait_for(
                lambda: self.reached + self.finished >= self.parties, timeout=self._timeout
            )
            assert everyone, "a racer neither reached the gate nor finished"

    def finish(self) -> None:
        with self._condition:
            self.finished += 1
            self._condition.notify_all()


def race(
    *attempts: Callable[[], Any], together: bool = False, gate: Gate | None = None, timeout: float = 30
) -> list[Any]:
    """Run each attempt in its own thread, all at once (with ``together``, released by one barrier
    once every thread is running); their results, in order. An attempt that raises has the
    exception as its result: a racer's crash is an outcome to assert on, not to lose; one still
    running after ``timeout`` has a TimeoutError. Each racer's end is reported to ``gate``, if
    given."""
    results: list[Any] = [None] * len(attempts)
    start = threading.Barrier(len(attempts), timeout=timeout) if together else None

    def run(index: int) -> None:
        try:
            if start is not None:
                start.wait()
            results[index] = attempts[index]()
        except Exception as error:
            results[index] = error
        finally:
            if gate is not None:
                gate.finish()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for index, thread in enumerate(threads):
        thread.join(timeout=timeout)
        if thread.is_alive():
            results[index] = TimeoutError(f"racer {index} had not finished after {timeout} s")
    return results


def at_once(*calls: Callable[[], Any], timeout: float = 60) -> list[Any]:
    """N requests at once, for the tests over HTTP: each call in its own thread, all released
    together by one barrier; their results, in order. A call that raises, or has not finished
    within ``timeout``, fails the test: over HTTP every outcome is a reply."""
    results = race(*calls, together=True, timeout=timeout)
    failed = [result for result in results if isinstance(result, BaseException)]
    assert not failed, failed
    return results


def one_call_at_a_time(client: Any) -> Any:
    """``client`` (a boto3 client, changed in place) making its calls one at a time, all such
    clients together.

    DynamoDB applies each request atomically: of racing conditional writes, exactly one passes its
    condition. moto in this process checks the condition and applies the write in separate Python
    steps, so two threads could both pass; each call runs whole in its caller's thread, so holding
    one lock around it restores the guarantee. Only the call holds the lock: a racer waiting at a
    barrier before its call holds nothing.
    """
    if getattr(client, "_one_call_at_a_time", False):
        return client
    for name in client.meta.method_to_api_mapping:
        setattr(client, name, _holding(_CALLS, getattr(client, name)))
    client._one_call_at_a_time = True
    return client


def _holding(lock: threading.RLock, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def held(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return call(*args, **kwargs)

    return held
