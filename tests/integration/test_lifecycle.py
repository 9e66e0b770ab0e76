"""The token lifecycle over HTTP: refresh rotation and reuse, logout, lockout, password change,
strict revocation and signing-key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from local_api.http_client import Client
from local_api.process import ServerProcess
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, Target, User, unique


def refresh(client: Client, token: str) -> tuple[int, dict]:
    reply = client.post("/auth/refresh", body={"refresh_token": token})
    return reply.status, reply.json


def test_refresh_rotates_and_a_reused_token_kills_the_newer_one(client: Client, reader: User) -> None:
    status, pair = refresh(client, reader.refresh_token)
    assert status == 200, pair
    assert pair["refresh_token"] != reader.refresh_token
    assert client.get("/users/me", token=pair["access_token"]).status == 200

    status, body = refresh(client, reader.refresh_token)
    assert (status, body) == (401, {"message": "Invalid refresh token"})
    assert refresh(client, pair["refresh_token"])[0] == 401


def test_six_simultaneous_refreshes_with_one_token_give_exactly_one_200(client: Client, reader: User) -> None:
    # Overlapping calls first, so that the refreshes meet warm execution environments side by side.
    assert at_once(*(lambda: refresh(client, "warm-up")[0],) * 6) == [401] * 6
    assert sorted(at_once(*(lambda: refresh(client, reader.refresh_token)[0],) * 6)) == [
        200,
        401,
        401,
        401,
        401,
        401,
    ]


def test_logout_makes_the_refresh_token_useless(client: Client, target: Target, reader: User) -> None:
    other = target.login(reader.username, reader.password)
    reply = client.post("/auth/logout", token=reader.access_token)
    assert reply.status == 204, reply.text
    assert refresh(client, reader.refresh_token)[0] == 401
    assert refresh(client, other.refresh_token)[0] == 200


def test_logout_needs_a_token(client: Client) -> None:
    assert client.post("/auth/logout").status == 401


def test_fifteen_wrong_passwords_give_429_with_retry_after(client: Client, reader: User) -> None:
    replies = [
        client.post("/auth/login", body={"username": reader.username, "password": "wrong-password-123"})
        for _ in range(15)
    ]
    assert [reply.status for reply in replies] == [401] * 5 + [429] * 10
    assert all(int(reply.header("retry-after")) >= 1 for reply in replies[5:])
    assert replies[-1].json["message"]
    right = client.post("/auth/login", body={"username": reader.username, "password": reader.password})
    assert right.status == 429


def test_an_unknown_username_is_locked_out_alike(client: Client) -> None:
    username = unique("nobody")
    statuses = [
        client.post("/auth/login", body={"username": username, "password": "wrong-password-123"}).status
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]


def test_a_password_change_ends_every_other_session(client: Client, target: Target, reader: User) -> None:
    other = target.login(reader.username, reader.password)
    new_password = reader.password + " changed"
    reply = client.post(
        "/users/me/password",
        token=reader.access_token,
        body={"current_password": reader.password, "new_password": new_password},
    )
    assert reply.status == 200, reply.text
    assert reply.header("cache-control") == "no-store"
    for old in (reader, other):
        assert refresh(client, old.refresh_token)[0] == 401
    assert refresh(client, reply.json["refresh_token"])[0] == 200
    assert (
        client.post("/auth/login", body={"username": reader.username, "password": reader.password}).status
        == 401
    )
    assert target.login(reader.username, new_password)


# --- needs its own local server: strict revocation, and a key cache short enough to see rotations ---


@pytest.fixture(scope="module")
def strict_server(server_workdir: Path) -> ServerProcess:
    env_vars = {"Parameters": {**LOCAL_ENV_VARS["Parameters"], "SECRET_MAX_AGE_SECONDS": "0"}}
    server = ServerProcess(
        server_workdir / "strict", env_vars=env_vars, parameters={"StrictRevocation": "true"}
    )
    with server:
        yield server


@pytest.fixture
def strict(strict_server: ServerProcess) -> Target:
    return Target(Client(strict_server.url), strict_server)


@pytest.mark.local_only
def test_with_strict_revocation_logout_stops_the_access_token_at_once(strict: Target) -> None:
    user = strict.signup()
    other = strict.login(user.username, user.password)
    assert strict.client.get("/users/me", token=user.access_token).status == 200
    assert strict.client.post("/auth/logout", token=user.access_token).status == 204
    denied = strict.client.get("/users/me", token=user.access_token)
    assert denied.status == 401
    assert denied.json == {"message": "Unauthorized"}
    assert strict.client.get("/users/me", token=other.access_token).status == 200


@pytest.mark.local_only
def test_without_strict_revocation_the_access_token_lives_out_its_minutes(
    client: Client, reader: User
) -> None:
    assert client.post("/auth/logout", token=reader.access_token).status == 204
    assert client.get("/users/me", token=reader.access_token).status == 200


@pytest.mark.local_only
def test_tokens_survive_one_key_rotation_and_not_two(strict: Target) -> None:
    user = strict.signup()
    oldest = user.access_token

    def rotate() -> None:
        done = strict.admin_cli("rotate-signing-key", password="")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["version"]

    rotate()
    assert strict.client.get("/books", token=oldest).status == 200
    newer = strict.login(user.username, user.password).access_token
    assert jwt.get_unverified_header(newer)["kid"] != jwt.get_unverified_header(oldest)["kid"]
    assert strict.client.get("/books", token=newer).status == 200

    rotate()
    assert strict.client.get("/books", token=oldest).status == 401
    assert strict.client.get("/books", token=newer).status == 200
