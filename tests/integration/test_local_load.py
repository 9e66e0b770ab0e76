"""The local server under a short, bounded load: 16 clients at once, each with its own token from a
login, every answer a 200 (no 5xx, no refused or timed-out connection). bench/local_latency.py
measures the same load for longer (``measure_load``)."""

from __future__ import annotations

import pytest

from local_api.http_client import Client
from tests.threads import at_once

from .conftest import Target

pytestmark = pytest.mark.local_only

CLIENTS = 16
REQUESTS_PER_CLIENT = 8
TIMEOUT_SECONDS = 30


def test_sixteen_clients_at_once_all_get_their_books(target: Target, client: Client) -> None:
    users = [target.signup() for _ in range(CLIENTS)]
    tokens = [target.login(user.username, user.password).access_token for user in users]

    def reader(token: str) -> list[int]:
        return [
            client.get("/books", token=token, timeout=TIMEOUT_SECONDS).status
            for _ in range(REQUESTS_PER_CLIENT)
        ]

    # A connection that fails or times out raises, and at_once fails the test with it.
    statuses = at_once(*(lambda token=token: reader(token) for token in tokens), timeout=120)
    assert statuses == [[200] * REQUESTS_PER_CLIENT] * CLIENTS
