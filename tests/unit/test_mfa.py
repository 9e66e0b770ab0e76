"""Multi-factor sign-in: TOTP enrolment, MFA tokens, TOTP and recovery codes, their lockout and
their absence from storage and logs, through the handlers, against moto.

TOTP codes are checked at the time of the ``totp_clock`` fixture, moved by whole 30-second steps;
every other clock is the real one unless a test says otherwise. (Simultaneous codes and MFA
tokens: test_races.)
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pyotp
import pytest
from botocore.exceptions import ClientError

from books_api.limits import RECOVERY_CODE_PATTERN
from tests.unit.conftest import REGION, Enrolled, Functions, TotpClock, caller_context, login, signed_up
from tests.utils import PASSWORD

pytestmark = pytest.mark.usefixtures("every_value_used")

Enrol = Callable[[dict[str, Any]], Enrolled]
TOKEN_PAIR = {"access_token", "token_type", "expires_in", "refresh_token"}
INVALID_CODE = {"message": "Invalid code"}
INVALID_MFA_TOKEN = {"message": "Invalid or expired MFA token"}


def challenge(lambdas: Functions, username: str = "alice") -> str:
    """The MFA token of a password login of ``username`` (whose multi-factor sign-in is on)."""
    status, body, _ = login(lambdas, username)
    assert status == 200 and body["mfa_required"] is True, body
    return str(body["mfa_token"])


def complete(lambdas: Functions, mfa_token: str, code: str) -> tuple[int, Any]:
    status, body, _ = lambdas.call("login", "POST", "/auth/mfa", body={"mfa_token": mfa_token, "code": code})
    return status, body


def refresh(lambdas: Functions, pair: dict[str, Any]) -> int:
    return lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})[0]


def me(lambdas: Functions, pair: dict[str, Any]) -> dict[str, Any]:
    status, body, _ = lambdas.call("signup", "GET", "/users/me", authorizer=caller_context(pair))
    assert status == 200, body
    return dict(body)


def items(lambdas: Functions, table: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("dynamodb", region_name=REGION).scan(TableName=lambdas.stack.ref(table))["Items"]
    )


def mfa_lock(lambdas: Functions, user_id: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=lambdas.stack.ref("TokensTable"), Key={"pk": {"S": f"LOCK#mfa:{user_id}"}}
    )
    return item.get("Item")


# --- enrolment -----------------------------------------------------------------------------------


def test_an_enrolment_returns_a_160_bit_base32_secret_and_its_otpauth_uri(lambdas: Functions) -> None:
    pair = signed_up(lambdas)
    status, body, headers = lambdas.call(
        "signup", "POST", "/users/me/mfa/totp", authorizer=caller_context(pair)
    )
    assert status == 200
    assert set(body) == {"secret", "otpauth_uri"}
    assert headers["cache-control"] == "no-store"
    assert len(base64.b32decode(body["secret"])) == 20
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    uri = pyotp.parse_uri(body["otpauth_uri"])
    assert isinstance(uri, pyotp.TOTP)
    assert (uri.secret, uri.name, uri.issuer, uri.digits, uri.interval) == (
        body["secret"],
        "alice",
        lambdas.stack.name,
        6,
        30,
    )
    # Each enrolment has a secret of its own.
    _, again, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller_context(pair))
    assert again["secret"] != body["secret"]


def test_an_enrolment_is_inactive_until_confirmed(lambdas: Functions) -> None:
    pair = signed_up(lambdas)
    assert lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller_context(pair))[0] == 200
    status, body, _ = login(lambdas)
    assert (status, set(body)) == (200, TOKEN_PAIR)
    assert me(lambdas, pair)["mfa_enabled"] is False


def test_a_confirmation_with_a_wrong_code_is_401_and_counted(
    lambdas: Functions, totp_clock: TotpClock
) -> None:
    pair = signed_up(lambdas)
    caller = caller_context(pair)
    _, started, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller)
    wrong = totp_clock.wrong_code(started["secret"], totp_clock.step)
    status, body, _ = lambdas.call(
        "signup", "POST", "/users/me/mfa/totp/confirm", body={"code": wrong}, authorizer=caller
    )
    assert (status, body) == (401, INVALID_CODE)
    assert mfa_lock(lambdas, caller["principalId"])["attempts"] == {"N": "1"}
    assert me(lambdas, pair)["mfa_enabled"] is False
    right = totp_clock.code(started["secret"], totp_clock.step)
    status, _, _ = lambdas.call(
        "signup", "POST", "/users/me/mfa/totp/confirm", body={"code": right}, authorizer=caller
    )
    assert status == 200
    assert me(lambdas, pair)["mfa_enabled"] is True
    # A success clears the count.
    assert mfa_lock(lambdas, caller["principalId"]) is None


def test_a_confirmation_without_an_enrolment_is_409(lambdas: Functions) -> None:
    pair = signed_up(lambdas)
    status, body, _ = lambdas.call(
        "signup",
        "POST",
        "/users/me/mfa/totp/confirm",
        body={"code": "123456"},
        authorizer=caller_context(pair),
    )
    assert status == 409
    assert body["message"]


def test_an_enrolment_when_mfa_is_on_is_409(lambdas: Functions, enrol: Enrol) -> None:
    pair = signed_up(lambdas)
    enrol(pair)
    status, body, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller_context(pair))
    assert (status, body) == (409, {"message": "Multi-factor sign-in is already on"})


def test_the_confirmation_returns_ten_recovery_codes_kept_only_as_digests(
    lambdas: Functions, enrol: Enrol
) -> None:
    pair = signed_up(lambdas)
    bob = signed_up(lambdas, "bob")
    enrolled = enrol(pair)
    codes = enrolled.recovery_codes
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(RECOVERY_CODE_PATTERN, code) for code in codes)
    assert me(lambdas, pair)["mfa_enabled"] is True
    (item,) = [item for item in items(lambdas, "UsersTable") if item["username"] == {"S": "alice"}]
    stored = str(items(lambdas, "UsersTable"))
    for code in codes:
        for shape in (code, code.replace("-", ""), code.lower(), code.replace("-", "").lower()):
            assert shape not in stored
    assert enrolled.secret not in stored
    assert enrolled.secret.encode() not in item["totp_secret"]["B"]
    assert len(item["recovery_codes"]["SS"]) == 10
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in item["recovery_codes"]["SS"])
    assert "totp_pending" not in item
    # The stored secret is KMS's ciphertext, bound to its user: under another user's context it
    # does not decrypt.
    kms = boto3.client("kms", region_name=REGION)
    sealed = item["totp_secret"]["B"]
    context = {"purpose": "totp", "user_id": enrolled.user_id}
    assert (
        kms.decrypt(CiphertextBlob=sealed, EncryptionContext=context)["Plaintext"] == enrolled.secret.encode()
    )
    other = {"purpose": "totp", "user_id": caller_context(bob)["principalId"]}
    with pytest.raises(ClientError, match="InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=sealed, EncryptionContext=other)


def test_turning_mfa_on_ends_the_other_sessions_and_keeps_the_callers(
    lambdas: Functions, enrol: Enrol
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    caller = signed_up(lambdas)
    _, other, _ = login(lambdas)
    assert lambdas.authorizes(other["access_token"])
    enrol(caller)
    assert refresh(lambdas, other) == 401
    assert not lambdas.authorizes(other["access_token"])
    assert lambdas.authorizes(caller["access_token"])
    assert refresh(lambdas, caller) == 200


# --- the MFA token -------------------------------------------------------------------------------


def test_a_login_with_mfa_on_returns_an_mfa_token_and_no_tokens(lambdas: Functions, enrol: Enrol) -> None:
    enrol(signed_up(lambdas))

    def families() -> list[str]:
        return sorted(
            item["pk"]["S"] for item in items(lambdas, "TokensTable") if item["pk"]["S"].startswith("FAMILY#")
        )

    before = families()
    status, body, headers = login(lambdas)
    assert status == 200
    assert set(body) == {"mfa_required", "mfa_token", "expires_in"}
    assert (body["mfa_required"], body["expires_in"]) == (True, 300)
    assert headers["cache-control"] == "no-store"
    assert families() == before
    # Kept only as its digest.
    assert body["mfa_token"] not in str(items(lambdas, "TokensTable"))


@pytest.mark.parametrize("strict", [False, True])
def test_the_authorizer_never_takes_an_mfa_token_for_an_access_token(
    lambdas: Functions, enrol: Enrol, strict: bool
) -> None:
    if strict:
        lambdas.overrides["STRICT_REVOCATION"] = "true"
    enrol(signed_up(lambdas))
    assert not lambdas.authorizes(challenge(lambdas))


def test_a_totp_code_completes_the_sign_in_once(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    enrolled = enrol(signed_up(lambdas))
    confirmed_at = totp_clock.step
    totp_clock.step += 1
    code = totp_clock.code(enrolled.secret, totp_clock.step)
    status, pair, headers = lambdas.call(
        "login", "POST", "/auth/mfa", body={"mfa_token": challenge(lambdas), "code": code}
    )
    assert (status, set(pair)) == (200, TOKEN_PAIR)
    assert headers["cache-control"] == "no-store"
    assert caller_context(pair)["principalId"] == enrolled.user_id
    assert lambdas.authorizes(pair["access_token"])
    assert refresh(lambdas, pair) == 200
    # A code of the step accepted, or of an earlier one (within the skew), is refused.
    for step in (totp_clock.step, confirmed_at):
        assert complete(lambdas, challenge(lambdas), totp_clock.code(enrolled.secret, step)) == (
            401,
            INVALID_CODE,
        )
    # The next step's code is still good.
    assert (
        complete(lambdas, challenge(lambdas), totp_clock.code(enrolled.secret, totp_clock.step + 1))[0] == 200
    )


def test_the_code_that_confirmed_the_enrolment_cannot_sign_in(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    enrolled = enrol(signed_up(lambdas))
    code = totp_clock.code(enrolled.secret, totp_clock.step)
    assert complete(lambdas, challenge(lambdas), code) == (401, INVALID_CODE)


@pytest.mark.parametrize(("offset", "status"), [(-2, 401), (-1, 200), (0, 200), (1, 200), (2, 401)])
def test_a_code_one_step_off_is_accepted_and_two_steps_off_is_not(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock, offset: int, status: int
) -> None:
    enrolled = enrol(signed_up(lambdas))
    totp_clock.step += 5
    code = totp_clock.code(enrolled.secret, totp_clock.step + offset)
    assert complete(lambdas, challenge(lambdas), code)[0] == status


@pytest.mark.parametrize(
    "shape",
    [str, str.lower, lambda code: code.replace("-", ""), lambda code: code.replace("-", "").lower()],
    ids=["as shown", "lower case", "no hyphens", "lower case, no hyphens"],
)
def test_a_recovery_code_works_once_whatever_its_case_and_hyphens(
    lambdas: Functions, enrol: Enrol, shape: Callable[[str], str]
) -> None:
    enrolled = enrol(signed_up(lambdas))
    code = enrolled.recovery_codes[3]
    status, pair = complete(lambdas, challenge(lambdas), shape(code))
    assert (status, set(pair)) == (200, TOKEN_PAIR)
    for again in (code, shape(code)):
        assert complete(lambdas, challenge(lambdas), again) == (401, INVALID_CODE)
    # The others still work.
    assert complete(lambdas, challenge(lambdas), enrolled.recovery_codes[4])[0] == 200
    (item,) = [item for item in items(lambdas, "UsersTable") if item["username"] == {"S": "alice"}]
    assert len(item["recovery_codes"]["SS"]) == 8


def test_a_recovery_code_of_another_user_is_refused(lambdas: Functions, enrol: Enrol) -> None:
    enrol(signed_up(lambdas))
    bobs = enrol(signed_up(lambdas, "bob"))
    assert complete(lambdas, challenge(lambdas), bobs.recovery_codes[0]) == (401, INVALID_CODE)


def test_an_mfa_token_is_single_use(lambdas: Functions, enrol: Enrol) -> None:
    enrolled = enrol(signed_up(lambdas))
    token = challenge(lambdas)
    assert complete(lambdas, token, enrolled.recovery_codes[0])[0] == 200
    assert complete(lambdas, token, enrolled.recovery_codes[1]) == (401, INVALID_MFA_TOKEN)


@pytest.mark.parametrize("token", ["x", "A" * 43, "MFA#abc"])
def test_unknown_mfa_tokens_are_refused(lambdas: Functions, enrol: Enrol, token: str) -> None:
    enrolled = enrol(signed_up(lambdas))
    assert complete(lambdas, token, enrolled.recovery_codes[0]) == (401, INVALID_MFA_TOKEN)


@pytest.mark.parametrize(
    "body",
    [
        {"mfa_token": "t"},
        {"code": "123456"},
        {"mfa_token": "t", "code": "12345"},
        {"mfa_token": "t", "code": "1234567"},
        {"mfa_token": "t", "code": 123456},
        {"mfa_token": "t", "code": "ABCD-EFGH-IJKL-MNO1"},
        {"mfa_token": "", "code": "123456"},
        {"mfa_token": "t" * 257, "code": "123456"},
        {"mfa_token": "t", "code": "123456", "username": "alice"},
    ],
)
def test_bad_mfa_bodies_are_400(lambdas: Functions, body: dict[str, Any]) -> None:
    status, response, _ = lambdas.call("login", "POST", "/auth/mfa", body=body)
    assert status == 400
    assert response["message"]


class Clock:
    """Every clock but the TOTP one's (which the ``totp_clock`` fixture holds)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.time()
        monkeypatch.setattr(time, "time", lambda: self.now)


def test_an_mfa_token_expires_after_five_minutes(
    lambdas: Functions, enrol: Enrol, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = enrol(signed_up(lambdas))
    clock = Clock(monkeypatch)
    issued_at = int(clock.now)
    late, in_time = challenge(lambdas), challenge(lambdas)
    stored = [item for item in items(lambdas, "TokensTable") if item["pk"]["S"].startswith("MFA#")]
    # DynamoDB's TTL removes them too.
    assert [int(item["expires_at"]["N"]) for item in stored] == [issued_at + 300] * 2
    clock.now = issued_at + 299
    assert complete(lambdas, in_time, enrolled.recovery_codes[0])[0] == 200
    clock.now = issued_at + 300
    assert complete(lambdas, late, enrolled.recovery_codes[1]) == (401, INVALID_MFA_TOKEN)


@pytest.mark.parametrize("change", ["disabled", "deleted"])
def test_the_mfa_token_of_a_user_disabled_or_deleted_since_is_refused(
    lambdas: Functions, enrol: Enrol, admin_pair: dict[str, Any], change: str
) -> None:
    enrolled = enrol(signed_up(lambdas))
    token = challenge(lambdas)
    path = f"/users/{enrolled.user_id}"
    target = {"resource": "/users/{id}", "path_parameters": {"id": enrolled.user_id}}
    admin = caller_context(admin_pair)
    if change == "disabled":
        status, _, _ = lambdas.call(
            "users", "PATCH", path, body={"disabled": True}, authorizer=admin, **target
        )
        assert status == 200
    else:
        assert lambdas.call("users", "DELETE", path, authorizer=admin, **target)[0] == 204
    assert complete(lambdas, token, enrolled.recovery_codes[0]) == (401, INVALID_MFA_TOKEN)


def test_the_mfa_token_of_a_session_generation_ended_since_is_refused(
    lambdas: Functions, enrol: Enrol
) -> None:
    """A password change (which ends every session) voids the MFA tokens handed out before it."""
    pair = signed_up(lambdas)
    enrolled = enrol(pair)
    token = challenge(lambdas)
    new_password = f"{PASSWORD}-new"
    status, _, _ = lambdas.call(
        "signup",
        "POST",
        "/users/me/password",
        body={"current_password": PASSWORD, "new_password": new_password},
        authorizer=caller_context(pair),
    )
    assert status == 200
    assert complete(lambdas, token, enrolled.recovery_codes[0]) == (401, INVALID_MFA_TOKEN)


# --- turning it off ------------------------------------------------------------------------------


def remove_mfa(lambdas: Functions, pair: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    status, response, _ = lambdas.call(
        "signup", "DELETE", "/users/me/mfa", body=body, authorizer=caller_context(pair)
    )
    return status, response


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_turning_mfa_off_needs_the_password_and_a_code(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock, kind: str
) -> None:
    pair = signed_up(lambdas)
    enrolled = enrol(pair)
    totp_clock.step += 1
    code = totp_clock.code(enrolled.secret, totp_clock.step) if kind == "totp" else enrolled.recovery_codes[0]
    assert remove_mfa(lambdas, pair, {"password": PASSWORD})[0] == 400
    assert remove_mfa(lambdas, pair, {"password": "not-the-password-1", "code": code}) == (
        401,
        {"message": "Current password is incorrect"},
    )
    wrong = (
        totp_clock.wrong_code(enrolled.secret, totp_clock.step) if kind == "totp" else "AAAA-BBBB-CCCC-DDDD"
    )
    assert remove_mfa(lambdas, pair, {"password": PASSWORD, "code": wrong}) == (401, INVALID_CODE)
    assert me(lambdas, pair)["mfa_enabled"] is True
    assert remove_mfa(lambdas, pair, {"password": PASSWORD, "code": code}) == (204, None)
    assert me(lambdas, pair)["mfa_enabled"] is False
    status, body, _ = login(lambdas)
    assert (status, set(body)) == (200, TOKEN_PAIR)
    (item,) = [item for item in items(lambdas, "UsersTable") if item["username"] == {"S": "alice"}]
    assert not {"totp_secret", "totp_last_step", "recovery_codes"} & set(item)
    # Off is off: no code to turn it off again.
    assert remove_mfa(lambdas, pair, {"password": PASSWORD, "code": code})[0] == 409


def test_mfa_can_be_turned_on_again_with_a_new_secret(lambdas: Functions, enrol: Enrol) -> None:
    pair = signed_up(lambdas)
    first = enrol(pair)
    assert remove_mfa(lambdas, pair, {"password": PASSWORD, "code": first.recovery_codes[0]})[0] == 204
    second = enrol(pair)
    assert second.secret != first.secret
    assert complete(lambdas, challenge(lambdas), first.recovery_codes[1]) == (401, INVALID_CODE)
    assert complete(lambdas, challenge(lambdas), second.recovery_codes[1])[0] == 200


# --- lockout -------------------------------------------------------------------------------------


def test_wrong_codes_lock_the_sign_in_after_five(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    enrolled = enrol(signed_up(lambdas))
    totp_clock.step += 1
    token = challenge(lambdas)
    wrong = totp_clock.wrong_code(enrolled.secret, totp_clock.step)
    assert [complete(lambdas, token, wrong)[0] for _ in range(5)] == [401] * 5
    status, body, headers = lambdas.call(
        "login",
        "POST",
        "/auth/mfa",
        body={"mfa_token": token, "code": totp_clock.code(enrolled.secret, totp_clock.step)},
    )
    assert status == 429
    assert body["message"]
    assert int(headers["retry-after"]) >= 1
    # A fresh MFA token does not start a fresh count, nor does a recovery code get past it.
    assert complete(lambdas, challenge(lambdas), enrolled.recovery_codes[0])[0] == 429


def test_a_right_password_does_not_clear_the_count_of_wrong_codes(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    enrolled = enrol(signed_up(lambdas))
    totp_clock.step += 1
    wrong = totp_clock.wrong_code(enrolled.secret, totp_clock.step)
    assert [complete(lambdas, challenge(lambdas), wrong)[0] for _ in range(4)] == [401] * 4
    # Each of those logins had the right password; the fifth wrong code still locks.
    token = challenge(lambdas)
    assert complete(lambdas, token, wrong) == (401, INVALID_CODE)
    assert complete(lambdas, token, totp_clock.code(enrolled.secret, totp_clock.step))[0] == 429


def test_wrong_codes_to_turn_mfa_off_count_toward_the_same_lockout(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    pair = signed_up(lambdas)
    enrolled = enrol(pair)
    totp_clock.step += 1
    wrong = totp_clock.wrong_code(enrolled.secret, totp_clock.step)
    statuses = [remove_mfa(lambdas, pair, {"password": PASSWORD, "code": wrong})[0] for _ in range(5)]
    assert statuses == [401] * 5
    assert complete(lambdas, challenge(lambdas), totp_clock.code(enrolled.secret, totp_clock.step))[0] == 429


# --- what is logged and shown --------------------------------------------------------------------


@pytest.fixture
def captured(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[Callable[[], str]]:
    """Everything logged from now on, at DEBUG: Powertools' JSON lines on stdout and stderr, and
    every record of the logging module with its extra fields (as test_log_hygiene captures)."""
    from books_api.observability import logger

    caplog.set_level(logging.DEBUG)
    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    streams: list[str] = []

    def text() -> str:
        streams.extend(capfd.readouterr())
        records = [
            f"{record.getMessage()} {record.exc_text or ''} {vars(record)!r}" for record in caplog.records
        ]
        return "\n".join([*streams, *records])

    yield text
    logger.setLevel(level)


def test_no_log_line_holds_a_totp_secret_code_recovery_code_or_mfa_token(
    lambdas: Functions,
    totp_clock: TotpClock,
    captured: Callable[[], str],
) -> None:
    pair = signed_up(lambdas)
    caller = caller_context(pair)
    tokens: list[str] = []
    codes: list[str] = []

    def sign_in(code: str) -> tuple[int, Any]:
        token = challenge(lambdas)
        tokens.append(token)
        codes.append(code)
        return complete(lambdas, token, code)

    _, started, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller)
    secret = started["secret"]
    wrong = totp_clock.wrong_code(secret, totp_clock.step)
    right = totp_clock.code(secret, totp_clock.step)
    codes += [wrong, right]
    for code in (wrong, right):
        _, confirmed, _ = lambdas.call(
            "signup", "POST", "/users/me/mfa/totp/confirm", body={"code": code}, authorizer=caller
        )
    recovery = confirmed["recovery_codes"]
    totp_clock.step += 1
    assert sign_in(wrong)[0] == 401
    assert sign_in(totp_clock.code(secret, totp_clock.step))[0] == 200
    assert sign_in(recovery[0].lower())[0] == 200
    assert sign_in(recovery[0])[0] == 401
    assert complete(lambdas, "not-a-token", recovery[1])[0] == 401
    assert not lambdas.authorizes(tokens[0])
    assert remove_mfa(lambdas, pair, {"password": PASSWORD, "code": recovery[2]})[0] == 204
    _, again, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller)
    totp_clock.step += 1
    code = totp_clock.code(again["secret"], totp_clock.step)
    codes.append(code)
    lambdas.call("signup", "POST", "/users/me/mfa/totp/confirm", body={"code": code}, authorizer=caller)
    tokens.append(challenge(lambdas))
    status, _, _ = lambdas.call(
        "signup", "DELETE", "/users/me", body={"password": PASSWORD, "code": recovery[3]}, authorizer=caller
    )
    assert status == 401  # the first enrolment's codes are gone with it
    logs = captured()
    forbidden = {
        **{f"secret {n}": value for n, value in enumerate([secret, again["secret"]])},
        **{f"otpauth uri {n}": value["otpauth_uri"] for n, value in enumerate([started, again])},
        **{f"mfa token {n}": value for n, value in enumerate(tokens)},
        **{f"recovery code {n}": value for n, value in enumerate(recovery)},
        **{f"recovery code {n}, as typed": value.replace("-", "") for n, value in enumerate(recovery)},
    }
    leaked = sorted(name for name, value in forbidden.items() if value.lower() in logs.lower())
    # A six-digit code would be found inside longer numbers (timestamps): only a code standing alone counts.
    leaked += [f"code {code}" for code in codes if re.search(f"(?<![0-9]){code}(?![0-9])", logs)]
    assert leaked == []
    for message in (
        "TOTP enrolment started",
        "Multi-factor sign-in on; other sessions ended",
        "Password accepted; a code is required",
        "MFA sign-in refused",
        "Login succeeded with a second factor",
        "Multi-factor sign-in off",
    ):
        assert message in logs, message


def test_no_response_but_the_enrolment_shows_the_secret(lambdas: Functions, enrol: Enrol) -> None:
    pair = signed_up(lambdas)
    enrolled = enrol(pair)
    profile = me(lambdas, pair)
    assert set(profile) == {"id", "username", "roles", "created_at", "disabled", "mfa_enabled"}
    status, body = complete(lambdas, challenge(lambdas), enrolled.recovery_codes[0])
    assert status == 200
    shown = str([profile, body])
    assert enrolled.secret not in shown
    assert not [code for code in enrolled.recovery_codes if code in shown]
