"""The functions behave the same with the Parameters and Secrets extension (on AWS) and without it
(``SecretsExtension=false``, as under ``sam local``, where they read secrets with boto3).

One flow through the handlers, run twice against moto: sign-up, logins, the authorizer, a page
of books and one of users and their forged page tokens, refresh, logout, a key rotation and the
tokens of both keys. Each answer is reduced to what must not depend on where the secrets come
from (status, body keys, the authorizer's verdict), and the two runs must agree; each run must
also have read its secrets the way its template parameters say.
"""

from __future__ import annotations

from typing import Any

import pytest

from books_api import secret_source
from tests.unit.conftest import FakeExtension, Functions, caller_context
from tests.utils import ADMIN, PASSWORD

TOKEN_PAIR = ["access_token", "expires_in", "refresh_token", "token_type"]
BOOK = ["author", "created_at", "id", "title", "updated_at"]
# What the flow must come to, whichever way the secrets are read.
EXPECTED = [
    (201, sorted(["user", *TOKEN_PAIR])),
    (200, TOKEN_PAIR),
    True,
    False,
    (200, ["created_at", "disabled", "id", "mfa_enabled", "roles", "username"]),
    (201, BOOK),
    (201, BOOK),
    (201, BOOK),
    (200, 2, True),
    (200, 1, None),
    400,
    201,
    (200, 1, True),
    (200, 1, None),
    400,
    (200, TOKEN_PAIR),
    204,
    401,
    (200, TOKEN_PAIR),
    True,
    True,
]


def shape(status: int, body: Any) -> tuple[int, Any]:
    if isinstance(body, dict):
        return status, sorted(body)
    return status, body


def flow(lambdas: Functions, rotate: Any) -> list[Any]:
    seen: list[Any] = []
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "ana", "password": PASSWORD}
    )
    seen.append(shape(status, body))
    first = body
    status, body, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "ana", "password": PASSWORD}
    )
    seen.append(shape(status, body))
    pair = body
    seen.append(lambdas.authorizes(pair["access_token"]))
    seen.append(lambdas.authorizes(pair["access_token"][:-4] + "AAAA"))
    status, body, _ = lambdas.call("signup", "GET", "/users/me", authorizer=caller_context(pair))
    seen.append(shape(status, body))
    for number in range(3):
        book = {"title": f"T{number}", "author": "A"}
        seen.append(shape(*lambdas.call("books", "POST", "/books", body=book, authorizer=ADMIN)[:2]))
    status, page, _ = lambdas.call("books", "GET", "/books", query={"limit": "2"}, authorizer=ADMIN)
    seen.append((status, len(page["items"]), page["next_token"] is not None))
    query = {"limit": "2", "next_token": page["next_token"]}
    status, rest, _ = lambdas.call("books", "GET", "/books", query=query, authorizer=ADMIN)
    seen.append((status, len(rest["items"]), rest["next_token"]))
    forged = {"limit": "2", "next_token": page["next_token"][:-2] + "xx"}
    seen.append(lambdas.call("books", "GET", "/books", query=forged, authorizer=ADMIN)[0])
    other = {"username": "ben", "password": PASSWORD}
    seen.append(lambdas.call("signup", "POST", "/auth/signup", body=other)[0])
    status, users, _ = lambdas.call("users", "GET", "/users", query={"limit": "1"}, authorizer=ADMIN)
    seen.append((status, len(users["items"]), users["next_token"] is not None))
    query = {"limit": "1", "next_token": users["next_token"]}
    status, rest, _ = lambdas.call("users", "GET", "/users", query=query, authorizer=ADMIN)
    seen.append((status, len(rest["items"]), rest["next_token"]))
    forged = {"limit": "1", "next_token": users["next_token"][:-2] + "xx"}
    seen.append(lambdas.call("users", "GET", "/users", query=forged, authorizer=ADMIN)[0])
    status, body, _ = lambdas.call(
        "login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]}
    )
    seen.append(shape(status, body))
    fresh = body
    logout = {"refresh_token": fresh["refresh_token"]}
    seen.append(
        lambdas.call("login", "POST", "/auth/logout", body=logout, authorizer=caller_context(fresh))[0]
    )
    seen.append(lambdas.call("login", "POST", "/auth/refresh", body=logout)[0])
    rotate()
    status, body, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "ana", "password": PASSWORD}
    )
    seen.append(shape(status, body))
    seen.append(lambdas.authorizes(first["access_token"]))  # signed by the previous key
    seen.append(lambdas.authorizes(body["access_token"]))  # by the new one
    return seen


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which source each secret read went through."""
    kinds: list[str] = []
    for source in (secret_source.ExtensionSecrets, secret_source.SecretsManagerApi):
        original = source.__call__

        def counted(self: Any, secret_id: str, stage: str, _original: Any = original) -> str:
            kinds.append(type(self).__name__)
            return _original(self, secret_id, stage)

        monkeypatch.setattr(source, "__call__", counted)
    return kinds


@pytest.fixture(params=["true", "false"], ids=["with-extension", "without-extension"])
def extension(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_flow_reads_secrets_where_the_template_says_and_answers_alike(
    lambdas: Functions,
    rotate: Any,
    secrets_extension: FakeExtension,
    reads: list[str],
    extension: str,
) -> None:
    lambdas.stack.parameters["SecretsExtension"] = extension
    assert flow(lambdas, rotate) == EXPECTED
    used = {"true": "ExtensionSecrets", "false": "SecretsManagerApi"}[extension]
    assert reads
    assert set(reads) == {used}
    assert bool(secrets_extension.requests) == (extension == "true")
