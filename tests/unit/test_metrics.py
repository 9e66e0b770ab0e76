"""What each function counts, read from the EMF lines it prints (tests/unit/emf.py): the alarms
and the dashboard (tests/unit/test_alarms.py) watch these names."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.unit.conftest import FakeExtension, Functions, caller_context
from tests.unit.emf import WRONG_PASSWORD, published
from tests.utils import PASSWORD


def names(metrics: list) -> Counter[str]:
    return Counter(metric.name for metric in metrics if metric.name != "ColdStart")


def login(lambdas: Functions, username: str, password: str) -> int:
    return lambdas.call("login", "POST", "/auth/login", body={"username": username, "password": password})[0]


@pytest.fixture
def alice(lambdas: Functions) -> dict:
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    assert status == 201
    return body


def test_signups_and_login_outcomes_are_counted(lambdas: Functions) -> None:
    with published() as signup:
        lambdas.call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})
    with published() as good:
        assert login(lambdas, "alice", PASSWORD) == 200
    with published() as bad:
        statuses = [login(lambdas, "alice", WRONG_PASSWORD) for _ in range(6)]
    assert names(signup) == {"Signups": 1}
    assert names(good) == {"Logins": 1}
    assert statuses == [401] * 5 + [429]
    assert names(bad) == {"LoginFailures": 5, "LoginsLockedOut": 1}


def test_a_reused_refresh_token_is_counted_apart_from_other_refused_ones(
    lambdas: Functions, alice: dict
) -> None:
    first = alice["refresh_token"]
    with published() as rotated:
        assert lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first})[0] == 200
    with published() as reused:
        assert lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first})[0] == 401
    with published() as unknown:
        assert lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": "x" * 43})[0] == 401
    assert names(rotated) == {"Refreshes": 1}
    assert names(reused) == {"RefreshFailures": 1, "RefreshReuseDetected": 1}
    assert names(unknown) == {"RefreshFailures": 1}


def test_the_authorizer_counts_its_own_failures_but_not_refused_tokens(
    lambdas: Functions, secrets_extension: FakeExtension, alice: dict
) -> None:
    with published() as refused:
        assert not lambdas.authorizes("not-a-token")
    with published() as allowed:
        assert lambdas.authorizes(alice["access_token"])
    lambdas.modules.pop("authorizer")  # a new process, with no key read yet
    secrets_extension.outage = 503
    with published() as failed:
        assert not lambdas.authorizes(alice["access_token"])
    assert names(refused) == names(allowed) == Counter()
    assert names(failed) == {"AuthorizerFailures": 1}


@pytest.mark.parametrize("function", ["signup", "login", "books", "authorizer"])
def test_a_cold_start_is_counted_once_per_process_with_the_function_name(
    lambdas: Functions, alice: dict, function: str
) -> None:
    lambdas.modules.pop(function, None)

    def invoke() -> None:
        if function == "authorizer":
            lambdas.authorizes(alice["access_token"])
        else:
            lambdas.call(
                function,
                "GET",
                "/users/me" if function == "signup" else "/health",
                authorizer=caller_context(alice),
            )

    with published() as cold:
        invoke()
    with published() as warm:
        invoke()
    assert [(m.name, dict(m.dimensions)) for m in cold if m.name == "ColdStart"] == [
        ("ColdStart", {"function_name": function, "service": "books-api"})
    ]
    assert [m for m in warm if m.name == "ColdStart"] == []
