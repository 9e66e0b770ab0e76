"""The local server under a short, bounded load: 16 clients at once, each with its own token from a
login, every answer a 200 (no 5xx, no refused or timed-out connection). bench/local_latency.py
measures the same load for longer (``measure_load``).

On a server of its own: the load scales the books function out to several workers, which the
session's server's tests of one worker must not see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_api.http_client import Client
from local_api.process import ServerProcess
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, Target

pytestmark = pytest.mark.local_only

CLIENTS = 16
REQUESTS_PER_CLIENT = 8
TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = ServerProcess(Path(tmp_path_factory.mktemp("loaded-server")), env_vars=LOCAL_ENV_VARS)
    with server:
        yield Target(Client(server.url), server)


def test_sixteen_clients_at_once_all_get_their_books(loaded: Target) -> None:
    users = [loaded.signup() for _ in range(CLIENTS)]
    tokens = [loaded.login(user.username, user.password).access_token for user in users]

    def reader(token: str) -> list[int]:
        return [
            loaded.client.get("/books", token=token, timeout=TIMEOUT_SECONDS).status
            for _ in range(REQUESTS_PER_CLIENT)
        ]

    # A connection that fails or times out raises, and at_once fails the test with it.
    statuses = at_once(*(lambda token=token: reader(token) for token in tokens), timeout=120)
    assert statuses == [[200] * REQUESTS_PER_CLIENT] * CLIENTS
