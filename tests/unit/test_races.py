"""Races: simultaneous writes to one book, one password, one username's failure count, and
simultaneous tokens of a rotated-out signing key.

Each racer runs in its own copy of the function (as concurrent Lambda invocations do), and a
threading.Barrier holds every racer's first write until all of them have made their reads, so
only the conditional writes can keep the outcome one of the serial outcomes; the authorizers
are held likewise at their reads of the signing secret. (Simultaneous signups and refreshes:
test_accounts and test_sessions.)
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import jwt
import pytest

from books_api.keys import ROTATION_SKEW_SECONDS
from books_api.rotation import KeyRotation
from tests.threads import race
from tests.unit.conftest import (
    LOGICAL_IDS,
    REGION,
    TEST_BCRYPT_COST,
    FakeExtension,
    Functions,
    LambdaContext,
    api_event,
    authorizer_allows,
    load_function,
    signed_token,
    signing_secret,
)

PASSWORD = "violet-anchor-93-lantern"
ADMIN = {"principalId": "a-1", "username": "admin", "roles": "reader,admin", "sid": "s"}
_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})


class WritesAfter:
    """A DynamoDB client whose first write waits at ``barrier``: every racer has read by then."""

    def __init__(self, client: Any, barrier: threading.Barrier) -> None:
        self._client = client
        self._barrier = barrier
        self._waited = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in _WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self._waited:
                self._waited = True
                self._barrier.wait()
            return method(*args, **kwargs)

        return write


def copies(lambdas: Functions, name: str, count: int) -> list[Any]:
    """``count`` fresh copies of function ``name``: separate execution environments."""
    env = lambdas.stack.environment(LOGICAL_IDS[name])
    if "BCRYPT_COST" in env:
        env["BCRYPT_COST"] = TEST_BCRYPT_COST
    return [load_function(name, env, lambdas.monkeypatch) for _ in range(count)]


def call(module: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = module.lambda_handler(api_event(method, path, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


# --- books ---------------------------------------------------------------------------------------


def book_path(book_id: str) -> dict[str, Any]:
    return {"resource": "/books/{id}", "path_parameters": {"id": book_id}, "authorizer": ADMIN}


def new_book(lambdas: Functions) -> str:
    status, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=ADMIN
    )
    assert status == 201
    return book["id"]


def racing_books(lambdas: Functions, count: int) -> list[Any]:
    """``count`` copies of the books function whose first write waits for all of them."""
    barrier = threading.Barrier(count, timeout=10)
    modules = copies(lambdas, "books", count)
    for module in modules:
        module.books._dynamodb = WritesAfter(module.books.dynamodb, barrier)
    return modules


BODIES = [
    {"title": "First", "author": "Ann", "year": 1901, "isbn": "0-306-40615-2"},
    {"title": "Second", "author": "Bea"},
    {"title": "Third", "author": "Cal", "year": 1903},
    {"title": "Fourth", "author": "Dot", "isbn": "978-3-16-148410-0"},
]


def client_fields(book: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in book.items() if key in ("title", "author", "year", "isbn")}


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, **({"isbn": body["isbn"].replace("-", "")} if "isbn" in body else {})}


def test_simultaneous_replaces_of_one_book_leave_exactly_one_of_them(lambdas: Functions) -> None:
    book_id = new_book(lambdas)
    modules = racing_books(lambdas, len(BODIES))
    results = race(
        *(
            lambda module=module, body=body: call(
                module, "PUT", f"/books/{book_id}", body=body, **book_path(book_id)
            )
            for module, body in zip(modules, BODIES, strict=True)
        )
    )
    assert [status for status, _ in results] == [200] * len(BODIES)
    _, stored, _ = lambdas.call("books", "GET", f"/books/{book_id}", **book_path(book_id))
    # Never a mix of two bodies (say one's title with another's year).
    assert client_fields(stored) in [normalised(body) for body in BODIES]
    assert client_fields(stored) in [client_fields(body) for _, body in results]


class _Late:
    """Writes of ``client`` (after its barrier) held back ``seconds``."""

    def __init__(self, client: WritesAfter, seconds: float) -> None:
        self._client = client
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in _WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self._client._waited:
                self._client._waited = True
                self._client._barrier.wait()
            time.sleep(self._seconds)
            return getattr(self._client._client, name)(*args, **kwargs)

        return write


@pytest.mark.parametrize("first", ["put", "delete"])
def test_a_replace_racing_a_delete_never_brings_the_book_back(lambdas: Functions, first: str) -> None:
    book_id = new_book(lambdas)
    barrier = threading.Barrier(2, timeout=10)
    put_module, delete_module = copies(lambdas, "books", 2)
    # Both have read (checked the caller, parsed the body) before either writes; then the one
    # that goes second waits a moment, so both orders are tried.
    for module, late in ((put_module, first == "delete"), (delete_module, first == "put")):
        module.books._dynamodb = _Late(WritesAfter(module.books.dynamodb, barrier), 0.1 if late else 0)
    put, delete = race(
        lambda: call(put_module, "PUT", f"/books/{book_id}", body=BODIES[0], **book_path(book_id)),
        lambda: call(delete_module, "DELETE", f"/books/{book_id}", **book_path(book_id)),
    )
    serial = {"put": (200, 204), "delete": (404, 204)}[first]
    assert (put[0], delete[0]) == serial
    assert lambdas.call("books", "GET", f"/books/{book_id}", **book_path(book_id))[0] == 404
    _, page, _ = lambdas.call("books", "GET", "/books", authorizer=ADMIN)
    assert page["items"] == []


def test_simultaneous_deletes_of_one_book_give_one_204(lambdas: Functions) -> None:
    book_id = new_book(lambdas)
    modules = racing_books(lambdas, 4)
    results = race(
        *(
            lambda module=module: call(module, "DELETE", f"/books/{book_id}", **book_path(book_id))
            for module in modules
        )
    )
    assert sorted(status for status, _ in results) == [204, 404, 404, 404]


# --- accounts ------------------------------------------------------------------------------------


def test_simultaneous_password_changes_leave_exactly_one_new_password(lambdas: Functions) -> None:
    _, first, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    caller = {"principalId": claims["sub"], "username": "alice", "roles": "reader", "sid": claims["sid"]}
    new_passwords = [f"copper-kettle-48-meadow-{n}" for n in range(3)]
    barrier = threading.Barrier(len(new_passwords), timeout=10)
    modules = copies(lambdas, "signup", len(new_passwords))
    for module in modules:
        sessions = module.accounts.sessions
        sessions._dynamodb = WritesAfter(sessions.dynamodb, barrier)
    results = race(
        *(
            lambda module=module, new=new: call(
                module,
                "POST",
                "/users/me/password",
                body={"current_password": PASSWORD, "new_password": new},
                authorizer=caller,
            )
            for module, new in zip(modules, new_passwords, strict=True)
        )
    )
    statuses = [status for status, _ in results]
    # Serially: one 200, then 401s (the current password has changed); at once, the losers may
    # learn of it as a 409 instead. Never two new passwords.
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 401, 409}
    winner = new_passwords[statuses.index(200)]

    def login(password: str) -> int:
        return lambdas.call("login", "POST", "/auth/login", body={"username": "alice", "password": password})[
            0
        ]

    assert [login(password) for password in [PASSWORD, *new_passwords]] == [
        200 if password == winner else 401 for password in [PASSWORD, *new_passwords]
    ]


def test_simultaneous_failed_logins_are_each_counted(lambdas: Functions) -> None:
    """Five wrong passwords at once lock the username, as five in a row do: no failure is lost."""
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})
    threshold = 5
    barrier = threading.Barrier(threshold, timeout=10)
    modules = copies(lambdas, "login", threshold)
    for module in modules:
        throttle = module.accounts.throttle
        throttle._dynamodb = WritesAfter(throttle.dynamodb, barrier)
    results = race(
        *(
            lambda module=module, n=n: call(
                module, "POST", "/auth/login", body={"username": "alice", "password": f"wrong-guess-{n}"}
            )
            for n, module in enumerate(modules)
        )
    )
    assert [status for status, _ in results] == [401] * threshold
    status, body, headers = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
    )
    assert status == 429, body
    assert int(headers["retry-after"]) >= 1


# --- the previous signing key --------------------------------------------------------------------


def held_at_first_read(extension: FakeExtension, count: int, stage: str | None = None) -> None:
    """Each racer's first read of the secret (of ``stage``, if given) waits until ``count`` racers
    are there: they all decide on the keys at the same moment."""
    barrier, seen = threading.Barrier(count, timeout=10), threading.local()

    def hold(asked: str) -> None:
        if not getattr(seen, "held", False) and stage in (None, asked):
            seen.held = True
            barrier.wait()

    extension.before_answer = hold


def allows(module: Any, token: str) -> bool:
    return authorizer_allows(lambda event: module.lambda_handler(event, LambdaContext()), token)


def test_simultaneous_tokens_of_the_previous_key_are_judged_by_when_they_were_issued(
    lambdas: Functions, rotate: Any, secrets_extension: FakeExtension
) -> None:
    """Twelve authorizers at once, each holding a token of the previous key: the six issued before
    the rotation took effect pass, the six signed after it (a leaked key minting admins) do not."""
    previous = signing_secret(lambdas.stack)
    rotate()
    # Dated 600 s ago: it reached every signer long ago (key cache 300 s + skew), tokens live 900 s.
    rotated_at = secrets_extension.age(lambdas.stack.ref("SigningSecret"), 600)
    modules = copies(lambdas, "authorizer", 12)
    signed_until = int(rotated_at) + modules[0].settings.tokens.secret_max_age_seconds + ROTATION_SKEW_SECONDS
    before = [signed_token(previous, issued_at=signed_until - 2 * n) for n in range(6)]
    after = [
        signed_token(previous, issued_at=signed_until + 1 + 50 * n, roles=["reader", "admin"])
        for n in range(6)
    ]
    held_at_first_read(secrets_extension, len(modules), "AWSPREVIOUS")
    results = race(
        *(
            lambda module=module, token=token: allows(module, token)
            for module, token in zip(modules, before + after, strict=True)
        )
    )
    assert results == [True] * 6 + [False] * 6


def test_a_revocation_reaches_simultaneous_warm_authorizers_at_the_first_token_of_the_new_key(
    lambdas: Functions, secrets_extension: FakeExtension
) -> None:
    """Eight warm authorizers, each with the leaked key still current in its cache, meet a token of
    the new key at once after --revoke-previous: from then on none accepts the leaked key."""
    leaked, now = signing_secret(lambdas.stack), int(time.time())
    earlier, forged = (
        signed_token(leaked, issued_at=now - 60),
        signed_token(leaked, issued_at=now, roles=["reader", "admin"]),
    )
    modules = copies(lambdas, "authorizer", 8)
    assert all(allows(module, earlier) for module in modules)
    rotation = KeyRotation(boto3.client("secretsmanager", region_name=REGION))
    rotation.rotate_now(lambdas.stack.ref("SigningSecret"))
    rotation.revoke_previous(lambdas.stack.ref("SigningSecret"))
    new = signed_token(signing_secret(lambdas.stack), issued_at=now)
    held_at_first_read(secrets_extension, len(modules))
    results = race(
        *(
            lambda module=module: [allows(module, token) for token in (new, forged, earlier)]
            for module in modules
        )
    )
    assert results == [[True, False, False]] * len(modules)
