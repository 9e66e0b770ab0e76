"""The token lifecycle: refresh rotation with reuse detection, logout, strict revocation,
password changes and failed-login lockout, through the handlers, against moto."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import jwt
import pytest

from books_api.opaque import token_digest
from tests.unit.conftest import REGION, Functions, caller_context
from tests.utils import NEW_PASSWORD, PASSWORD


def signup(lambdas: Functions, username: str = "alice") -> dict[str, Any]:
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": username, "password": PASSWORD}
    )
    assert status == 201
    return body


def login(lambdas: Functions, username: str = "alice", password: str = PASSWORD) -> tuple[int, Any, dict]:
    return lambdas.call("login", "POST", "/auth/login", body={"username": username, "password": password})


def refresh(lambdas: Functions, token: str) -> tuple[int, Any, dict]:
    return lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": token})


def logout(lambdas: Functions, pair: dict[str, Any], body: Any = None) -> int:
    return lambdas.call("login", "POST", "/auth/logout", body=body, authorizer=caller_context(pair))[0]


def token_item(lambdas: Functions, token: str) -> dict[str, Any]:
    return boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=lambdas.stack.ref("TokensTable"), Key={"pk": {"S": f"TOKEN#{token_digest(token)}"}}
    )["Item"]


# --- refresh -----------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_in_the_same_session_and_spends_the_old_token(lambdas: Functions) -> None:
    first = signup(lambdas)
    status, pair, headers = refresh(lambdas, first["refresh_token"])
    assert status == 200
    assert set(pair) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert pair["refresh_token"] != first["refresh_token"]
    assert headers["cache-control"] == "no-store"
    assert caller_context(pair)["sid"] == caller_context(first)["sid"]
    assert token_item(lambdas, first["refresh_token"])["spent"] == {"BOOL": True}
    assert token_item(lambdas, pair["refresh_token"])["spent"] == {"BOOL": False}
    assert lambdas.authorizes(pair["access_token"])


def test_a_refresh_picks_up_the_users_current_roles(lambdas: Functions) -> None:
    first = signup(lambdas)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=lambdas.stack.ref("UsersTable"),
        Key={"username": {"S": "alice"}},
        UpdateExpression="SET #r = :r",
        ExpressionAttributeNames={"#r": "roles"},
        ExpressionAttributeValues={":r": {"L": [{"S": "reader"}, {"S": "admin"}]}},
    )
    _, pair, _ = refresh(lambdas, first["refresh_token"])
    assert jwt.decode(pair["access_token"], options={"verify_signature": False})["roles"] == [
        "reader",
        "admin",
    ]


def test_reusing_a_spent_token_is_401_and_revokes_the_whole_family(lambdas: Functions) -> None:
    first = signup(lambdas)
    _, second, _ = refresh(lambdas, first["refresh_token"])
    status, body, _ = refresh(lambdas, first["refresh_token"])
    assert (status, body) == (401, {"message": "Invalid refresh token"})
    assert refresh(lambdas, second["refresh_token"])[0] == 401


def test_reuse_revokes_only_that_family(lambdas: Functions) -> None:
    first = signup(lambdas)
    _, other_session, _ = login(lambdas)
    refresh(lambdas, first["refresh_token"])
    refresh(lambdas, first["refresh_token"])
    assert refresh(lambdas, other_session["refresh_token"])[0] == 200


@pytest.mark.parametrize("token", ["", "x" * 257, "not-a-token-we-issued"])
def test_unknown_or_malformed_refresh_tokens_are_refused(lambdas: Functions, token: str) -> None:
    status, body, _ = refresh(lambdas, token)
    assert status in (400, 401)
    assert body["message"]


@pytest.mark.parametrize("body", [None, {}, {"refresh_token": 42}, {"refresh_token": "a", "extra": 1}, []])
def test_bad_refresh_bodies_are_400(lambdas: Functions, body: Any) -> None:
    status, response, _ = lambdas.call("login", "POST", "/auth/refresh", body=body)
    assert status == 400
    assert response["message"]


def test_a_family_past_its_absolute_lifetime_cannot_refresh(lambdas: Functions) -> None:
    first = signup(lambdas)
    past = str(int(time.time()) - 1)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = lambdas.stack.ref("TokensTable")
    for key in (
        f"FAMILY#{caller_context(first)['sid']}",
        f"TOKEN#{token_digest(first['refresh_token'])}",
    ):
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues={":t": {"N": past}},
        )
    assert refresh(lambdas, first["refresh_token"])[0] == 401


def test_refresh_tokens_expire_after_the_configured_days(lambdas: Functions) -> None:
    first = signup(lambdas)
    expires_at = int(token_item(lambdas, first["refresh_token"])["expires_at"]["N"])
    assert abs(expires_at - (time.time() + 30 * 86400)) < 60


def test_of_simultaneous_refreshes_with_one_token_exactly_one_wins(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = signup(lambdas)
    accounts = lambdas.module("login").accounts
    outcomes: list[str] = []
    # Every refresh has read the token as unspent before any of them writes: only the
    # conditional write can pick the winner.
    all_read = threading.Barrier(6, timeout=10)
    rotate = accounts.sessions.rotate

    def after_all_read(*args: Any) -> Any:
        all_read.wait()
        return rotate(*args)

    monkeypatch.setattr(accounts.sessions, "rotate", after_all_read)

    def attempt() -> None:
        try:
            accounts.refresh(first["refresh_token"])
            outcomes.append("ok")
        except Exception as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The losers presented a token just spent: reuse, which revokes the family (the 401 of any refusal).
    assert sorted(outcomes) == ["RefreshTokenReused"] * 5 + ["ok"]
    assert token_item(lambdas, first["refresh_token"])["spent"] == {"BOOL": True}


# --- logout ------------------------------------------------------------------------------


def test_logout_revokes_the_callers_session(lambdas: Functions) -> None:
    pair = signup(lambdas)
    _, other, _ = login(lambdas)
    assert logout(lambdas, pair) == 204
    assert refresh(lambdas, pair["refresh_token"])[0] == 401
    assert refresh(lambdas, other["refresh_token"])[0] == 200


def test_logout_with_a_refresh_token_also_revokes_that_session(lambdas: Functions) -> None:
    pair = signup(lambdas)
    _, other, _ = login(lambdas)
    assert logout(lambdas, pair, body={"refresh_token": other["refresh_token"]}) == 204
    assert refresh(lambdas, other["refresh_token"])[0] == 401


def test_logout_cannot_revoke_someone_elses_session(lambdas: Functions) -> None:
    alice = signup(lambdas, "alice")
    bob = signup(lambdas, "bob")
    assert logout(lambdas, alice, body={"refresh_token": bob["refresh_token"]}) == 204
    assert refresh(lambdas, bob["refresh_token"])[0] == 200


def test_logout_without_a_caller_is_401(lambdas: Functions) -> None:
    assert lambdas.call("login", "POST", "/auth/logout")[0] == 401


def test_without_strict_revocation_an_access_token_outlives_logout(lambdas: Functions) -> None:
    pair = signup(lambdas)
    logout(lambdas, pair)
    assert lambdas.authorizes(pair["access_token"])


def test_strict_revocation_refuses_access_tokens_of_a_logged_out_session(lambdas: Functions) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    pair = signup(lambdas)
    _, other, _ = login(lambdas)
    assert lambdas.authorizes(pair["access_token"])
    logout(lambdas, pair)
    assert not lambdas.authorizes(pair["access_token"])
    assert lambdas.authorizes(other["access_token"])


def test_strict_revocation_refuses_a_session_it_cannot_find(lambdas: Functions) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    pair = signup(lambdas)
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=lambdas.stack.ref("TokensTable"), Key={"pk": {"S": f"FAMILY#{caller_context(pair)['sid']}"}}
    )
    assert not lambdas.authorizes(pair["access_token"])


# --- password change ---------------------------------------------------------------------


def change_password(
    lambdas: Functions, pair: dict[str, Any], current: str, new: str
) -> tuple[int, Any, dict]:
    return lambdas.call(
        "signup",
        "POST",
        "/users/me/password",
        body={"current_password": current, "new_password": new},
        authorizer=caller_context(pair),
    )


def test_changing_the_password_revokes_every_session_and_starts_a_new_one(lambdas: Functions) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    first = signup(lambdas)
    _, second, _ = login(lambdas)
    status, pair, headers = change_password(lambdas, first, PASSWORD, NEW_PASSWORD)
    assert status == 200
    assert headers["cache-control"] == "no-store"
    for old in (first, second):
        assert refresh(lambdas, old["refresh_token"])[0] == 401
        assert not lambdas.authorizes(old["access_token"])
    assert lambdas.authorizes(pair["access_token"])
    assert refresh(lambdas, pair["refresh_token"])[0] == 200
    assert login(lambdas, password=PASSWORD)[0] == 401
    assert login(lambdas, password=NEW_PASSWORD)[0] == 200


def test_a_wrong_current_password_is_401_and_changes_nothing(lambdas: Functions) -> None:
    pair = signup(lambdas)
    status, body, _ = change_password(lambdas, pair, "not-my-password-1", NEW_PASSWORD)
    assert (status, body) == (401, {"message": "Current password is incorrect"})
    assert refresh(lambdas, pair["refresh_token"])[0] == 200
    assert login(lambdas)[0] == 200


def test_a_weak_new_password_is_400_and_changes_nothing(lambdas: Functions) -> None:
    pair = signup(lambdas)
    status, body, _ = change_password(lambdas, pair, PASSWORD, "password")
    assert status == 400
    assert body["errors"][0]["field"] == "password"
    assert login(lambdas)[0] == 200


def test_changing_the_password_needs_a_caller(lambdas: Functions) -> None:
    status, _, _ = lambdas.call(
        "signup",
        "POST",
        "/users/me/password",
        body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert status == 401


def test_a_token_of_a_deleted_and_recreated_account_cannot_change_its_password(lambdas: Functions) -> None:
    old = signup(lambdas)
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=lambdas.stack.ref("UsersTable"), Key={"username": {"S": "alice"}}
    )
    signup(lambdas)
    assert change_password(lambdas, old, PASSWORD, NEW_PASSWORD)[0] == 401
    assert login(lambdas)[0] == 200


# --- lockout -----------------------------------------------------------------------------


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fail(lambdas: Functions, times: int, username: str = "alice") -> list[int]:
    return [login(lambdas, username, "wrong-password-123")[0] for _ in range(times)]


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_five_failures_lock_the_username_with_retry_after(lambdas: Functions, username: str) -> None:
    signup(lambdas)
    assert fail(lambdas, 5, username) == [401] * 5
    status, body, headers = login(lambdas, username, "wrong-password-123")
    assert status == 429
    assert body["message"]
    assert 1 <= int(headers["retry-after"]) <= 30


def test_a_locked_username_refuses_the_right_password_until_the_wait_is_over(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(lambdas)
    clock = Clock(monkeypatch)
    fail(lambdas, 5)
    assert login(lambdas)[0] == 429
    clock.advance(31)
    assert login(lambdas)[0] == 200


def test_the_wait_doubles_with_each_lockout_up_to_a_cap(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(lambdas)
    clock = Clock(monkeypatch)
    waits = []
    for _ in range(7):
        fail(lambdas, 5)
        _, _, headers = login(lambdas)
        waits.append(int(headers["retry-after"]))
        clock.advance(waits[-1])
    assert waits == [30, 60, 120, 240, 480, 900, 900]


def test_a_success_resets_the_count(lambdas: Functions) -> None:
    signup(lambdas)
    fail(lambdas, 4)
    assert login(lambdas)[0] == 200
    assert fail(lambdas, 4) == [401] * 4
    assert login(lambdas)[0] == 200


def test_failures_outside_the_window_do_not_add_up(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    signup(lambdas)
    clock = Clock(monkeypatch)
    fail(lambdas, 4)
    clock.advance(901)
    assert fail(lambdas, 4) == [401] * 4
    assert login(lambdas)[0] == 200


def test_lockout_records_expire_by_ttl(lambdas: Functions) -> None:
    fail(lambdas, 5, "nobody")
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=lambdas.stack.ref("TokensTable"), Key={"pk": {"S": "LOCK#nobody"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) > time.time()
    assert "password" not in str(item).lower()


def test_a_password_change_with_wrong_current_passwords_is_locked_out_too(lambdas: Functions) -> None:
    pair = signup(lambdas)
    statuses = [change_password(lambdas, pair, "not-my-password-1", NEW_PASSWORD)[0] for _ in range(6)]
    assert statuses == [401] * 5 + [429]


@pytest.mark.parametrize("threshold", [1, 2, 7])
def test_any_threshold_admits_that_many_checks_per_lock_cycle(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    lambdas.overrides["LOCKOUT_THRESHOLD"] = str(threshold)
    signup(lambdas)
    clock = Clock(monkeypatch)
    for wait in (30, 60):
        assert fail(lambdas, threshold + 1) == [401] * threshold + [429]
        _, _, headers = login(lambdas)
        assert int(headers["retry-after"]) == wait
        clock.advance(wait)
    assert login(lambdas)[0] == 200
