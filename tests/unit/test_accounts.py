"""POST /auth/signup, POST /auth/login and GET /users/me, through the handlers, against moto."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import boto3
import jwt
import pytest

from tests.unit.conftest import REGION, Functions, authorizer_context

PASSWORD = "violet-anchor-93-lantern"


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
    assert set(body["user"]) == {"id", "username", "roles", "created_at"}
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


def test_racing_signups_for_one_name_give_exactly_one_201(lambdas: Functions) -> None:
    lambdas.module("signup")
    results: list[int] = []

    def attempt(n: int) -> None:
        results.append(signup(lambdas, password=f"{PASSWORD}-{n}")[0])

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 409, 409, 409, 409, 409]


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
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bcrypt

    signup(lambdas)
    costs: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    login(lambdas, username="alice", password="wrong-password-123")
    login(lambdas, username="nobody")
    assert costs == [4, 4]


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
