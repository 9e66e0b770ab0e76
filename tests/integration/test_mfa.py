"""Multi-factor sign-in over HTTP: TOTP enrolment, sign-in with a password and a code (each code,
MFA token and recovery code once), turning it off, and erasing an account that has it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from local_api.http_client import Client

from .conftest import MfaUser, Target, User

INVALID_CODE = {"message": "Invalid code"}
INVALID_MFA_TOKEN = {"message": "Invalid or expired MFA token"}
RECOVERY_CODE = re.compile(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}")


def refresh(client: Client, user: User) -> int:
    return client.post("/auth/refresh", body={"refresh_token": user.refresh_token}).status


def test_a_user_enrols_totp_and_then_signs_in_with_password_and_code(target: Target, client: Client) -> None:
    user = target.signup()
    elsewhere = target.login(user.username, user.password)
    started = client.post("/users/me/mfa/totp", token=user.access_token)
    assert started.status == 200, started.text
    assert started.header("cache-control") == "no-store"
    uri = urlsplit(started.json["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert user.username in uri.path
    assert parse_qs(uri.query)["secret"] == [started.json["secret"]]
    assert target.profile(user)["mfa_enabled"] is False  # not until a code confirms it
    target.login(user.username, user.password)  # and a login still needs no code: a token pair

    enrolled = target.start_totp(user)  # starting again replaces the enrolment
    assert enrolled.secret != started.json["secret"]
    wrong = client.post(
        "/users/me/mfa/totp/confirm", token=user.access_token, body={"code": enrolled.wrong_codes(1)[0]}
    )
    assert (wrong.status, wrong.json) == (401, INVALID_CODE)
    confirmed = client.post(
        "/users/me/mfa/totp/confirm", token=user.access_token, body={"code": enrolled.code()}
    )
    assert confirmed.status == 200, confirmed.text
    assert confirmed.header("cache-control") == "no-store"
    codes = confirmed.json["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    assert target.profile(user)["mfa_enabled"] is True
    assert refresh(client, elsewhere) == 401  # every other session ended
    assert client.post("/users/me/mfa/totp", token=user.access_token).status == 409  # already on

    challenge = client.post("/auth/login", body={"username": user.username, "password": user.password})
    assert challenge.status == 200, challenge.text
    assert challenge.header("cache-control") == "no-store"
    assert set(challenge.json) == {"mfa_required", "mfa_token", "expires_in"}
    assert challenge.json["mfa_required"] is True
    assert challenge.json["expires_in"] == 300
    mfa_token = challenge.json["mfa_token"]
    assert client.get("/users/me", token=mfa_token).status == 401  # no access token

    code = enrolled.code()
    signed_in = target.complete_mfa(mfa_token, code)
    assert signed_in.status == 200, signed_in.text
    assert signed_in.header("cache-control") == "no-store"
    assert signed_in.json["token_type"] == "Bearer"
    assert client.get("/users/me", token=signed_in.json["access_token"]).json["username"] == user.username
    assert client.post("/auth/refresh", body={"refresh_token": signed_in.json["refresh_token"]}).status == 200

    reused_code = target.complete_mfa(target.mfa_token(user), code)
    assert (reused_code.status, reused_code.json) == (401, INVALID_CODE)
    reused_token = target.complete_mfa(mfa_token, enrolled.code())
    assert (reused_token.status, reused_token.json) == (401, INVALID_MFA_TOKEN)


def test_a_wrong_password_gets_no_mfa_token(target: Target, client: Client) -> None:
    user = target.enable_mfa(target.signup())
    wrong = client.post("/auth/login", body={"username": user.username, "password": user.password + "x"})
    assert (wrong.status, wrong.json) == (401, {"message": "Invalid username or password"})
    assert target.complete_mfa("not-a-token", user.authenticator.code()).json == INVALID_MFA_TOKEN


def test_a_recovery_code_signs_in_once_in_any_case_with_or_without_hyphens(target: Target) -> None:
    user = target.enable_mfa(target.signup())
    first, second, third = user.recovery_codes[:3]
    assert target.complete_mfa(target.mfa_token(user), first.lower()).status == 200
    for spelling in (first, first.replace("-", ""), first.lower()):
        again = target.complete_mfa(target.mfa_token(user), spelling)
        assert (again.status, again.json) == (401, INVALID_CODE)
    assert target.complete_mfa(target.mfa_token(user), second.replace("-", "")).status == 200
    unknown = target.complete_mfa(target.mfa_token(user), "AAAA-BBBB-CCCC-DDDD")
    assert (unknown.status, unknown.json) == (401, INVALID_CODE)
    assert target.complete_mfa(target.mfa_token(user), third).status == 200


def test_turning_mfa_off_takes_the_password_and_a_code(target: Target, client: Client) -> None:
    user = target.enable_mfa(target.signup())
    for body, status in (
        ({"password": user.password + "x", "code": user.authenticator.code()}, 401),
        ({"password": user.password, "code": user.authenticator.wrong_codes(1)[0]}, 401),
        ({"password": user.password}, 400),
    ):
        refused = client.request("DELETE", "/users/me/mfa", token=user.access_token, body=body)
        assert refused.status == status, (body, refused.text)
    off = client.request(
        "DELETE",
        "/users/me/mfa",
        token=user.access_token,
        body={"password": user.password, "code": user.recovery_codes[0]},
    )
    assert off.status == 204, off.text
    assert target.profile(user)["mfa_enabled"] is False
    target.login(user.username, user.password)  # a token pair again, no code asked
    again = client.request(
        "DELETE",
        "/users/me/mfa",
        token=user.access_token,
        body={"password": user.password, "code": user.recovery_codes[1]},
    )
    assert again.status == 409
    assert len(target.enable_mfa(user).recovery_codes) == 10  # and it can be turned on again


def test_a_user_with_mfa_deletes_their_account_and_the_username_can_sign_up_again(
    target: Target, client: Client, admin: User
) -> None:
    user: MfaUser = target.enable_mfa(target.signup())
    user_id = target.profile(user)["id"]
    no_code = client.request("DELETE", "/users/me", token=user.access_token, body={"password": user.password})
    assert (no_code.status, no_code.json) == (
        401,
        {"message": "A code is required: multi-factor sign-in is on"},
    )
    wrong = client.request(
        "DELETE",
        "/users/me",
        token=user.access_token,
        body={"password": user.password, "code": user.authenticator.wrong_codes(1)[0]},
    )
    assert (wrong.status, wrong.json) == (401, INVALID_CODE)
    pending = target.mfa_token(user)

    deleted = client.request(
        "DELETE",
        "/users/me",
        token=user.access_token,
        body={"password": user.password, "code": user.authenticator.code()},
    )
    assert deleted.status == 204, deleted.text
    assert client.get("/users/me", token=user.access_token).status == 401
    assert client.get(f"/users/{user_id}", token=admin.access_token).status == 404
    assert (
        client.post("/auth/login", body={"username": user.username, "password": user.password}).status == 401
    )
    assert refresh(client, user) == 401
    assert target.complete_mfa(pending, user.recovery_codes[0]).json == INVALID_MFA_TOKEN

    again = client.post("/auth/signup", body={"username": user.username, "password": user.password})
    assert again.status == 201, again.text
    assert again.json["user"]["mfa_enabled"] is False
    assert again.json["user"]["id"] != user_id
    fresh = target.login(user.username, user.password)  # no factor: a token pair at once
    assert target.profile(fresh)["id"] == again.json["user"]["id"]
