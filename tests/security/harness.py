"""What every hostile case sends and checks: raw HTTP, the refusal it expects, and that the store
did not change."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from local_api.http_client import Reply

Headers = Sequence[tuple[str, str | bytes]]

STACK_TRACE = re.compile(r"Traceback|File \"|line \d+, in ")
FILE_PATH = re.compile(r"(?:/[\w.-]+){2,}\.py|site-packages|[A-Za-z]:\\\w")
BCRYPT_HASH = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{20,}")
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+")
LOCKOUT_PREFIX = "LOCK#"  # the tokens table's failed-login counters (books_api.lockout)


def send(
    base_url: str,
    method: str,
    target: str,
    *,
    body: bytes | None = None,
    headers: Headers = (),
    timeout: float = 30,
) -> Reply:
    """One request exactly as given: the target unquoted, no header added but Host (and
    Content-Length for a body), header values as bytes where they are not ASCII."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        text = response.read().decode("utf-8", errors="replace")
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
    finally:
        connection.close()


@dataclass
class Secrets:
    """Every value no response body may contain: keys, passwords, tokens."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        self.values.update(value for value in values if value)

    def assert_absent(self, text: str, *more: str) -> None:
        assert not STACK_TRACE.search(text), text[:500]
        assert not FILE_PATH.search(text), text[:500]
        assert not BCRYPT_HASH.search(text), "a bcrypt hash in the body"
        assert not JWT.search(text), "a token in the body"
        leaked = [value for value in (*self.values, *more) if value and value in text]
        assert not leaked, "a key, password or token in the body"


def assert_refused(reply: Reply, status: int, secrets: Secrets, *sent: str) -> dict[str, Any]:
    """``status`` (a 4xx) with a JSON ``{"message": ...}``, and nothing secret in the body."""
    assert 400 <= status < 500
    assert reply.status == status, f"{reply.status} {reply.text[:300]}"
    assert (reply.header("content-type") or "").startswith("application/json"), reply.headers
    body = json.loads(reply.text)
    assert isinstance(body, dict), reply.text[:300]
    assert isinstance(body.get("message"), str), reply.text[:300]
    assert body["message"]
    secrets.assert_absent(reply.text, *sent)
    return body


def _binary(value: object) -> str:
    """A binary attribute (an encrypted TOTP secret) as text, to compare items by."""
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"not JSON: {type(value).__name__}")


class Store:
    """The tables' items, to show that a refused request wrote nothing.

    The state seen after one check is the state before the next, so a check costs one scan of
    each table; whatever writes in between must call ``forget``. A write it misses can only make
    a check fail, never pass.
    """

    def __init__(self, dynamodb: Any, tables: Mapping[str, str]) -> None:
        self.dynamodb = dynamodb
        self.tables = dict(tables)  # logical id -> physical name
        self._seen: dict[str, set[str]] = {}

    def items(self, table: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"TableName": self.tables[table], "ConsistentRead": True}
        items = []
        while True:
            page = self.dynamodb.scan(**request)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _scan(self, table: str) -> set[str]:
        return {json.dumps(item, sort_keys=True, default=_binary) for item in self.items(table)}

    def forget(self) -> None:
        self._seen.clear()

    @contextmanager
    def unchanged(
        self, tables: Iterable[str] | None = None, *, except_lockouts: bool = False
    ) -> Iterator[None]:
        """Nothing written to or removed from ``tables`` (all of them by default); with
        ``except_lockouts``, but for failed-login counters."""
        tables = tuple(self.tables if tables is None else tables)
        before = {table: self._seen.get(table) or self._scan(table) for table in tables}
        yield
        after = {table: self._scan(table) for table in tables}
        self._seen.update(after)
        for table in tables:
            changed = [
                item
                for item in after[table] ^ before[table]
                if not (
                    except_lockouts and json.loads(item).get("pk", {}).get("S", "").startswith(LOCKOUT_PREFIX)
                )
            ]
            added = len([item for item in changed if item in after[table]])
            assert not changed, f"{table}: {added} items written, {len(changed) - added} removed"
