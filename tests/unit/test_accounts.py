"""POST /auth/signup, POST /auth/login and GET /users/me, through the handlers, against moto."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import jwt
import pytest

from books_api import passwords
from tests.unit.conftest import REGION, TEST_BCRYPT_COST, Functions, authorizer_context
from tests.utils import PASSWORD


def signup(lambdas: Functions, username: str = "alice", password: str = PASSWORD) -> tuple[int, Any, dict]:
    return lambdas.call("signup", "POST", "/auth/signup", body={"username": username, "password": password})


def login(lambdas: Functions, username: str = "alice", password: str = PASSWORD, **kwargs: Any) -> tuple:
    return lambdas.call(
        "login", "POST", "/auth/login", body={"username": username, "password": password}, **kwargs
    )


def stored_user(lambdas: Functions, username: str) -> dict | None:
    table = lambdas.stack.ref("UsersTable")
    return (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=table, Key={"username": {"S": username}})
        .get("Item")
    )


def test_signup_creates_a_reader_and_returns_a_token_pair(lambdas: Functions) -> None:
    status, body, headers = signup(lambdas, username="Alice")
    assert status == 201
    assert set(body) == {"user", "access_token", "token_type", "expires_in", "refresh_token"}
    assert body["user"]["username"] == "alice"
    assert body["user"]["roles"] == ["reader"]
    assert set(body["user"]) == {"id", "username", "roles", "created_at", "disabled", "mfa_enabled"}
    assert (body["user"]["disabled"], body["user"]["mfa_enabled"]) == (False, False)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == body["user"]["id"]
    assert claims["roles"] == ["reader"]
    assert claims["iss"] == "urn:books-api:books-api-test"
    assert jwt.get_unverified_header(body["access_token"])["typ"] == "at+jwt"


def test_signup_stores_a_bcrypt_hash_and_never_the_password(lambdas: Functions) -> None:
    signup(lambdas)
    item = stored_user(lambdas, "alice")
    assert item["password_hash"]["S"].startswith("$2b$04$")
    assert PASSWORD not in str(item)


def test_refresh_token_is_stored_only_as_a_digest(lambdas: Functions) -> None:
    _, body, _ = signup(lambdas)
    table = lambdas.stack.ref("TokensTable")
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
    assert len(items) == 2
    assert body["refresh_token"] not in str(items)


def test_taken_username_is_409_whatever_its_case(lambdas: Functions) -> None:
    assert signup(lambdas)[0] == 201
    status, body, _ = signup(lambdas, username="ALICE", password="another-good-passphrase")
    assert status == 409
    assert body == {"message": "Username is already taken"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "-al", "password": PASSWORD}, "username"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "a" * 33, "password": PASSWORD}, "username"),
        ({"username": "al ice", "password": PASSWORD}, "username"),
        ({"username": "ålice", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": "short"}, "password"),
        ({"username": "alice", "password": "x" * 129}, "password"),
        ({"username": "alice", "password": "password1234"}, "password"),
        ({"username": "alice", "password": "Baseball1"}, "password"),
        ({"username": "alice", "password": "ALICE"}, "password"),
        ({"username": "longusername", "password": "LongUserName"}, "password"),
        ({"username": "alice", "password": "nul\x00in-the-middle"}, "password"),
    ],
)
def test_signup_refuses_bad_fields_with_400_naming_the_field(
    lambdas: Functions, body: dict, field: str
) -> None:
    status, response, _ = lambdas.call("signup", "POST", "/auth/signup", body=body)
    assert status == 400
    assert [error["field"] for error in response["errors"]] == [field]
    assert stored_user(lambdas, "alice") is None


@pytest.mark.parametrize("extra", [{"roles": ["admin"]}, {"id": "x"}, {"password_hash": "$2b$04$x"}])
def test_signup_refuses_fields_a_client_must_not_set(lambdas: Functions, extra: dict) -> None:
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "mallory", "password": PASSWORD, **extra}
    )
    assert status == 400
    assert body["errors"][0]["field"] == next(iter(extra))
    assert stored_user(lambdas, "mallory") is None


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"raw_body": "{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"raw_body": "[]", "headers": {"Content-Type": "application/json"}}, 400),
        ({"raw_body": "null", "headers": {"Content-Type": "application/json"}}, 400),
        ({"raw_body": '"alice"', "headers": {"Content-Type": "application/json"}}, 400),
        ({}, 400),
        (
            {"raw_body": "username=alice", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            415,
        ),
        ({"raw_body": '{"username": "alice"}', "headers": {"Content-Type": "text/plain"}}, 415),
        ({"raw_body": '{"username": "alice"}'}, 415),
        ({"raw_body": '{"a": "' + "x" * 20000 + '"}', "headers": {"Content-Type": "application/json"}}, 413),
        ({"body": {"username": 5, "password": PASSWORD}}, 400),
        ({"body": {"username": "alice", "password": None}}, 400),
        ({"body": {"username": "alice", "password": ["x"] * 9}}, 400),
    ],
)
def test_signup_bad_bodies_get_a_clear_4xx(lambdas: Functions, kwargs: dict, status: int) -> None:
    got, body, _ = lambdas.call("signup", "POST", "/auth/signup", **kwargs)
    assert got == status
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in str(body)


def test_validation_errors_never_echo_the_password(lambdas: Functions) -> None:
    secret = "hunter2-but-very-long-" * 60
    _, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": secret}
    )
    assert "hunter2" not in str(body)


def test_base64_encoded_json_body_is_accepted(lambdas: Functions) -> None:
    status, _, _ = lambdas.call(
        "signup",
        "POST",
        "/auth/signup",
        raw_body=json.dumps({"username": "alice", "password": PASSWORD}),
        headers={"Content-Type": "application/json"},
        base64_body=True,
    )
    assert status == 201


def test_login_with_json_returns_a_token_pair(lambdas: Functions) -> None:
    signup(lambdas)
    status, body, headers = login(lambdas, username="ALICE")
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert headers["cache-control"] == "no-store"


def test_a_successful_login_is_logged_with_the_user_id(
    lambdas: Functions, caplog: pytest.LogCaptureFixture
) -> None:
    _, created, _ = signup(lambdas)
    caplog.set_level("INFO")
    assert login(lambdas)[0] == 200
    (succeeded,) = [record for record in caplog.records if record.getMessage() == "Login succeeded"]
    assert succeeded.user_id == created["user"]["id"]


def test_login_with_basic_authorization(lambdas: Functions) -> None:
    signup(lambdas)
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    status, body, _ = lambdas.call(
        "login", "POST", "/auth/login", headers={"Authorization": f"Basic {basic}"}
    )
    assert status == 200
    assert body["token_type"] == "Bearer"


@pytest.mark.parametrize(
    "header", ["Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(), "Bearer abc"]
)
def test_login_with_malformed_authorization_is_400(lambdas: Functions, header: str) -> None:
    status, body, _ = lambdas.call("login", "POST", "/auth/login", headers={"Authorization": header})
    assert status == 400
    assert body["message"]


def test_login_with_both_body_and_basic_is_400(lambdas: Functions) -> None:
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    status, _, _ = login(lambdas, headers={"Authorization": f"Basic {basic}"})
    assert status == 400


def test_login_without_credentials_is_400(lambdas: Functions) -> None:
    assert lambdas.call("login", "POST", "/auth/login")[0] == 400


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong-password-123"), ("nobody", PASSWORD), ("x", PASSWORD), ("alice", "")],
)
def test_failed_logins_share_one_401_body(lambdas: Functions, username: str, password: str) -> None:
    signup(lambdas)
    status, body, _ = login(lambdas, username=username, password=password)
    assert status == 401
    assert body == {"message": "Invalid username or password"}


def test_unknown_username_costs_one_bcrypt_check_like_a_known_one(
    lambdas: Functions, bcrypt_costs: list[int]
) -> None:
    signup(lambdas)
    bcrypt_costs.clear()
    login(lambdas, username="alice", password="wrong-password-123")
    login(lambdas, username="nobody")
    assert bcrypt_costs == [4, 4]


def store_hash_of_cost(lambdas: Functions, username: str, cost: int) -> str:
    """Give ``username`` a hash of PASSWORD made at ``cost``: as if made before BcryptCost changed."""
    password_hash = passwords.hash_password(PASSWORD, cost=cost)
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=lambdas.stack.ref("UsersTable"),
        Key={"username": {"S": username}},
        UpdateExpression="SET password_hash = :h",
        ExpressionAttributeValues={":h": {"S": password_hash}},
    )
    return password_hash


@pytest.mark.parametrize("old_cost", [5, 6])
def test_a_login_rehashes_a_hash_of_another_cost_without_ending_any_session(
    lambdas: Functions, old_cost: int
) -> None:
    _, first, _ = signup(lambdas)
    store_hash_of_cost(lambdas, "alice", old_cost)
    status, _, _ = login(lambdas)
    assert status == 200
    stored = stored_user(lambdas, "alice")
    assert passwords.cost_of(stored["password_hash"]["S"]) == int(TEST_BCRYPT_COST)
    assert stored["session_generation"] == {"N": "0"}
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]})[0]
        == 200
    )
    assert login(lambdas)[0] == 200
    assert login(lambdas, password="wrong-password-123")[0] == 401


def test_a_rehash_never_overwrites_a_hash_that_changed_meanwhile(lambdas: Functions) -> None:
    signup(lambdas)
    accounts = lambdas.module("login").accounts
    read = accounts.users.get("alice")
    changed = store_hash_of_cost(lambdas, "alice", 5)
    assert accounts.users.replace_hash(read, passwords.hash_password(PASSWORD, cost=4)) is False
    assert stored_user(lambdas, "alice")["password_hash"]["S"] == changed


def test_a_failed_rehash_does_not_fail_the_login(lambdas: Functions, monkeypatch: pytest.MonkeyPatch) -> None:
    from books_api.errors import ServiceUnavailable

    signup(lambdas)
    old = store_hash_of_cost(lambdas, "alice", 5)
    users = lambdas.module("login").accounts.users

    def unavailable(*args: Any) -> bool:
        raise ServiceUnavailable(retry_after=1)

    monkeypatch.setattr(users, "replace_hash", unavailable)
    assert login(lambdas)[0] == 200
    assert stored_user(lambdas, "alice")["password_hash"]["S"] == old


def test_after_a_cost_change_unknown_and_known_usernames_cost_the_same_bcrypt_work(
    lambdas: Functions, bcrypt_costs: list[int]
) -> None:
    """BcryptCost raised from 4 to 6 with alice's hash still at 4: a wrong password for her and
    any password for a username no one has cost 2**6 of bcrypt's work each."""
    signup(lambdas)
    lambdas.overrides["BCRYPT_COST"] = "6"
    lambdas.module("login")
    bcrypt_costs.clear()
    login(lambdas, password="wrong-password-123")
    known = list(bcrypt_costs)
    bcrypt_costs.clear()
    login(lambdas, username="nobody")
    assert sum(2**cost for cost in known) == sum(2**cost for cost in bcrypt_costs) == 2**6


def test_users_me_returns_the_callers_profile(lambdas: Functions) -> None:
    _, created, _ = signup(lambdas)
    status, body, _ = lambdas.call(
        "signup", "GET", "/users/me", authorizer=authorizer_context(created["user"])
    )
    assert status == 200
    assert body == created["user"]


def test_users_me_without_authorizer_context_is_401(lambdas: Functions) -> None:
    assert lambdas.call("signup", "GET", "/users/me")[0] == 401


def test_users_me_for_a_recreated_account_is_401(lambdas: Functions) -> None:
    _, created, _ = signup(lambdas)
    stale = dict(created["user"], id="00000000-0000-4000-8000-000000000000")
    assert lambdas.call("signup", "GET", "/users/me", authorizer=authorizer_context(stale))[0] == 401
