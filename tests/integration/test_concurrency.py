"""Guards attacked over HTTP the way an attacker would: many requests at the same moment.

Each test fires more simultaneous requests than its guard allows (lockouts of logins and of
password changes, single use of a username, one book's conditional writes, a refresh racing a
password change) and asserts the outcome a serial run would give. The in-process versions,
which line the attempts up at each guard's worst moment, are in tests/unit/test_races.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_api.http_client import Client, Reply
from local_api.process import ServerProcess
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, REMOTE, Target, User, password, unique

THRESHOLD = 5  # LockoutThreshold's default


@pytest.fixture(scope="module")
def guarded(server_workdir: Path, target: Target) -> Iterator[Target]:
    """Where the guards are attacked: locally, a server of its own (the attacks scale its
    functions out to several workers) whose bcrypt takes as long as a real check (cost 10,
    ~60 ms here), so that many guesses are inside bcrypt at once, as they are on Lambda at cost
    12; against a stack, the stack."""
    if REMOTE:
        yield target
        return
    env_vars = {"Parameters": {**LOCAL_ENV_VARS["Parameters"], "BCRYPT_COST": "10"}}
    with ServerProcess(server_workdir / "guarded", env_vars=env_vars) as server:
        yield Target(Client(server.url), server)


@pytest.fixture(scope="module")
def guarded_admin(guarded: Target, request: pytest.FixtureRequest) -> User:
    if guarded.server is None:
        return request.getfixturevalue("admin")
    username, secret = unique("admin"), password()
    done = guarded.admin_cli("create-user", username, "--role", "admin", password=secret)
    assert done.returncode == 0, done.stderr
    return guarded.login(username, secret)


def statuses(replies: list[Reply]) -> list[int]:
    return sorted(reply.status for reply in replies)


@pytest.mark.parametrize("known", [True, False], ids=["known user", "unknown username"])
def test_twelve_simultaneous_wrong_logins_get_five_401s_and_the_rest_429(
    guarded: Target, known: bool
) -> None:
    username = guarded.signup().username if known else unique("nobody")
    client = guarded.client
    replies = at_once(
        *(
            lambda n=n: client.post(
                "/auth/login", body={"username": username, "password": f"wrong-guess-{n}"}
            )
            for n in range(12)
        )
    )
    assert statuses(replies) == [401] * THRESHOLD + [429] * (12 - THRESHOLD)
    assert all(int(reply.header("retry-after")) >= 1 for reply in replies if reply.status == 429)


def test_twelve_simultaneous_wrong_current_passwords_get_five_401s_and_the_rest_429(guarded: Target) -> None:
    user = guarded.signup()
    client = guarded.client
    replies = at_once(
        *(
            lambda n=n: client.post(
                "/users/me/password",
                token=user.access_token,
                body={"current_password": f"wrong-guess-{n}", "new_password": password()},
            )
            for n in range(12)
        )
    )
    assert statuses(replies) == [401] * THRESHOLD + [429] * (12 - THRESHOLD)
    right = client.post(
        "/users/me/password",
        token=user.access_token,
        body={"current_password": user.password, "new_password": password()},
    )
    assert right.status == 429


def test_eight_simultaneous_signups_for_one_name_give_one_201(guarded: Target) -> None:
    client = guarded.client
    username = unique("twin")
    secrets = [password() for _ in range(8)]
    replies = at_once(
        *(
            lambda secret=secret, n=n: client.post(
                "/auth/signup",
                body={"username": username.upper() if n % 2 else username, "password": secret},
            )
            for n, secret in enumerate(secrets)
        )
    )
    assert statuses(replies) == [201] + [409] * 7
    winner = next(secret for secret, reply in zip(secrets, replies, strict=True) if reply.status == 201)
    losers = [secret for secret in secrets if secret != winner][: THRESHOLD - 1]  # no lockout
    logins = [client.post("/auth/login", body={"username": username, "password": s}).status for s in losers]
    assert logins == [401] * len(losers)
    assert client.post("/auth/login", body={"username": username, "password": winner}).status == 200


def new_book(client: Client, admin: User) -> str:
    reply = client.post("/books", token=admin.access_token, body={"title": "Contested", "author": "A"})
    assert reply.status == 201, reply.text
    return reply.json["id"]


def test_six_simultaneous_deletes_of_one_book_give_one_204(guarded: Target, guarded_admin: User) -> None:
    client, admin = guarded.client, guarded_admin
    book_id = new_book(client, admin)
    replies = at_once(*(lambda: client.request("DELETE", f"/books/{book_id}", token=admin.access_token),) * 6)
    assert statuses(replies) == [204] + [404] * 5
    assert client.get(f"/books/{book_id}", token=admin.access_token).status == 404


def test_simultaneous_replaces_and_a_delete_leave_a_serial_outcome(
    guarded: Target, guarded_admin: User
) -> None:
    client, admin = guarded.client, guarded_admin
    book_id = new_book(client, admin)
    bodies = [{"title": f"Version {n}", "author": f"Author {n}", "year": 1900 + n} for n in range(5)]
    replies = at_once(
        *(
            lambda body=body: client.request("PUT", f"/books/{book_id}", token=admin.access_token, body=body)
            for body in bodies
        ),
        lambda: client.request("DELETE", f"/books/{book_id}", token=admin.access_token),
    )
    *puts, delete = replies
    assert delete.status == 204
    # A replace either came before the delete (200) or found no book (404): never recreated it.
    assert {reply.status for reply in puts} <= {200, 404}
    assert client.get(f"/books/{book_id}", token=admin.access_token).status == 404
    for reply in puts:
        if reply.status == 200:
            assert {key: reply.json[key] for key in ("title", "author", "year")} in bodies


def test_refreshes_racing_a_password_change_never_outlive_it(guarded: Target) -> None:
    user = guarded.signup()
    client = guarded.client
    others = [guarded.login(user.username, user.password) for _ in range(4)]
    *refreshes, change = at_once(
        *(
            lambda other=other: client.post("/auth/refresh", body={"refresh_token": other.refresh_token})
            for other in others
        ),
        lambda: client.post(
            "/users/me/password",
            token=user.access_token,
            body={"current_password": user.password, "new_password": password()},
        ),
    )
    assert change.status == 200, change.text
    for reply in refreshes:
        assert reply.status in (200, 401), reply.text
        if reply.status == 200:  # it came first: the change ended its session all the same
            again = client.post("/auth/refresh", body={"refresh_token": reply.json["refresh_token"]})
            assert again.status == 401
