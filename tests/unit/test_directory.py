"""User administration (GET /users, GET, PATCH and DELETE /users/{id}) and account erasure
(DELETE /users/me), through the handlers, against moto. (Admins acting at once: test_races.)
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.unit.conftest import REGION, Enrolled, Functions, TotpClock, caller_context, login, signed_up
from tests.utils import PASSWORD

pytestmark = pytest.mark.usefixtures("every_value_used")

Enrol = Callable[[dict[str, Any]], Enrolled]
PUBLIC = {"id", "username", "roles", "created_at", "disabled", "mfa_enabled"}
LAST_ADMIN = {"message": "This would leave no enabled admin"}
INVALID_CREDENTIALS = {"message": "Invalid username or password"}


def refresh(lambdas: Functions, pair: dict[str, Any]) -> int:
    return lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})[0]


def user_id(pair: dict[str, Any]) -> str:
    return caller_context(pair)["principalId"]


def on_user(
    lambdas: Functions, method: str, target: str, by: dict[str, Any], body: Any = None
) -> tuple[int, Any]:
    """``method`` /users/{target}, by the owner of the token pair ``by``."""
    status, response, _ = lambdas.call(
        "users",
        method,
        f"/users/{target}",
        resource="/users/{id}",
        path_parameters={"id": target},
        body=body,
        authorizer=caller_context(by),
    )
    return status, response


def listing(lambdas: Functions, by: dict[str, Any], **query: str) -> tuple[int, Any]:
    status, body, _ = lambdas.call(
        "users", "GET", "/users", query=query or None, authorizer=caller_context(by)
    )
    return status, body


def scan(lambdas: Functions, table: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("dynamodb", region_name=REGION).scan(TableName=lambdas.stack.ref(table))["Items"]
    )


class Recorded:
    """A DynamoDB client that records the name and request of each call it makes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method):
            return method

        def recorded(**request: Any) -> Any:
            self.calls.append((name, request))
            return method(**request)

        return recorded


# --- the list ------------------------------------------------------------------------------------


def test_the_list_pages_through_users_in_username_order_one_query_a_page(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    for name in ("dave", "Bob", "carol", "alice"):
        signed_up(lambdas, name)
    directory = lambdas.module("users").directory
    recorder = Recorded(directory.users.dynamodb)
    directory.users._dynamodb = directory.sessions._dynamodb = recorder
    pages, token = [], None
    while True:
        recorder.calls.clear()
        status, page = listing(lambdas, admin_pair, limit="2", **({"next_token": token} if token else {}))
        assert status == 200
        (call,) = recorder.calls
        assert (call[0], call[1]["IndexName"], call[1]["Limit"]) == ("query", "Directory", 3)
        pages.append([user["username"] for user in page["items"]])
        assert all(set(user) == PUBLIC for user in page["items"])
        token = page["next_token"]
        if token is None:
            break
    assert pages == [["admin", "alice"], ["bob", "carol"], ["dave"]]


def test_the_list_shows_each_users_profile(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    created = signed_up(lambdas)["user"]
    status, page = listing(lambdas, admin_pair)
    assert status == 200
    assert page["next_token"] is None
    (alice,) = [user for user in page["items"] if user["username"] == "alice"]
    assert alice == created
    (admin,) = [user for user in page["items"] if user["username"] == "admin"]
    assert admin["roles"] == ["reader", "admin"]
    assert "password" not in str(page) and "$2b$" not in str(page)


def test_the_list_shows_who_is_disabled_and_who_has_mfa_on(
    lambdas: Functions, admin_pair: dict[str, Any], enrol: Enrol
) -> None:
    enrol(signed_up(lambdas))
    bob = signed_up(lambdas, "bob")
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"disabled": True})[0] == 200
    _, page = listing(lambdas, admin_pair)
    shown = {user["username"]: (user["disabled"], user["mfa_enabled"]) for user in page["items"]}
    assert shown == {"admin": (False, False), "alice": (False, True), "bob": (True, False)}


def test_the_default_page_is_twenty_users(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    for n in range(20):
        signed_up(lambdas, f"user{n:02d}")
    _, page = listing(lambdas, admin_pair)
    assert len(page["items"]) == 20
    _, last = listing(lambdas, admin_pair, next_token=page["next_token"])
    assert [user["username"] for user in last["items"]] == ["user19"]
    assert last["next_token"] is None


def _forged(token: str) -> str:
    payload, mac = token.split(".")
    other = base64.urlsafe_b64encode(json.dumps({"u": "zzz"}).encode()).decode().rstrip("=")
    assert other != payload
    return f"{other}.{mac}"


@pytest.mark.parametrize(
    "make", [_forged, lambda token: token + "x", lambda token: "x" + token[1:], lambda _: "not-a-token"]
)
def test_a_forged_next_token_is_400(
    lambdas: Functions, admin_pair: dict[str, Any], make: Callable[[str], str]
) -> None:
    for name in ("alice", "bob"):
        signed_up(lambdas, name)
    _, page = listing(lambdas, admin_pair, limit="1")
    status, body = listing(lambdas, admin_pair, limit="1", next_token=make(page["next_token"]))
    assert status == 400
    assert body["errors"] == [{"field": "next_token", "message": "is not a token this API issued"}]


def test_a_next_token_of_the_books_list_is_400(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    admin = caller_context(admin_pair)
    for title in ("One", "Two"):
        lambdas.call("books", "POST", "/books", body={"title": title, "author": "A"}, authorizer=admin)
    _, books, _ = lambdas.call("books", "GET", "/books", query={"limit": "1"}, authorizer=admin)
    assert books["next_token"]
    status, body = listing(lambdas, admin_pair, next_token=books["next_token"])
    assert status == 400
    assert body["errors"][0]["field"] == "next_token"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "1.5"])
def test_a_bad_limit_is_400(lambdas: Functions, admin_pair: dict[str, Any], limit: str) -> None:
    status, body = listing(lambdas, admin_pair, limit=limit)
    assert status == 400
    assert body["message"]


# --- one user ------------------------------------------------------------------------------------


def test_an_admin_gets_a_user_by_id(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    created = signed_up(lambdas)["user"]
    assert on_user(lambdas, "GET", created["id"], admin_pair) == (200, created)


@pytest.mark.parametrize(
    "target",
    [
        "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b",  # a UUIDv4 no user has
        "not-a-uuid",
        "00000000-0000-0000-0000-000000000000",
        "%23enabled-admins",
        "alice",
    ],
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_an_unknown_or_malformed_id_is_404(
    lambdas: Functions, admin_pair: dict[str, Any], target: str, method: str
) -> None:
    signed_up(lambdas)
    body = {"disabled": True} if method == "PATCH" else None
    assert on_user(lambdas, method, target, admin_pair, body) == (404, {"message": "No such user"})


def test_an_id_in_upper_case_is_404(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    alice = signed_up(lambdas)["user"]
    assert on_user(lambdas, "GET", alice["id"].upper(), admin_pair)[0] == 404


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [
        ("GET", None, None),
        ("GET", "alice", None),
        ("PATCH", "alice", {"roles": ["admin"]}),
        ("PATCH", "self", {"roles": ["admin"]}),
        ("DELETE", "alice", None),
    ],
)
def test_a_reader_gets_403_from_every_admin_route(
    lambdas: Functions, method: str, target: str | None, body: Any
) -> None:
    alice = signed_up(lambdas)
    bob = signed_up(lambdas, "bob")
    if target is None:
        status, response = listing(lambdas, bob)
    else:
        status, response = on_user(lambdas, method, user_id(alice if target == "alice" else bob), bob, body)
    assert status == 403
    assert response == {"message": "This action needs the admin role"}
    status, _, _ = login(lambdas, "bob")
    assert status == 200
    assert lambdas.call("signup", "GET", "/users/me", authorizer=caller_context(bob))[1]["roles"] == [
        "reader"
    ]


def test_the_admin_routes_need_a_caller(lambdas: Functions) -> None:
    assert lambdas.call("users", "GET", "/users")[0] == 401


# --- roles and the disabled state ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"roles": ["root"]},
        {"roles": []},
        {"roles": "admin"},
        {"disabled": "yes"},
        {"disabled": 1},
        {"id": "x"},
        {"username": "mallory"},
        {"mfa_enabled": False},
        {"roles": ["admin"] * 5},
    ],
)
def test_a_bad_change_is_400_and_changes_nothing(
    lambdas: Functions, admin_pair: dict[str, Any], body: dict[str, Any]
) -> None:
    alice = signed_up(lambdas)
    status, response = on_user(lambdas, "PATCH", user_id(alice), admin_pair, body)
    assert status == 400
    assert response["message"]
    assert refresh(lambdas, alice) == 200


def test_granting_admin_ends_the_users_sessions_at_once(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    alice = signed_up(lambdas)
    status, changed = on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"roles": ["admin"]})
    assert status == 200
    assert changed["roles"] == ["reader", "admin"]
    assert set(changed) == PUBLIC
    assert refresh(lambdas, alice) == 401
    assert not lambdas.authorizes(alice["access_token"])
    _, pair, _ = login(lambdas)
    assert caller_context(pair)["roles"] == "reader,admin"
    # The admin's own session goes on.
    assert lambdas.authorizes(admin_pair["access_token"])


def test_revoking_admin_ends_the_users_sessions_at_once(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    alice = signed_up(lambdas)
    assert on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"roles": ["admin"]})[0] == 200
    _, promoted, _ = login(lambdas)
    status, changed = on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"roles": ["reader"]})
    assert (status, changed["roles"]) == (200, ["reader"])
    assert refresh(lambdas, promoted) == 401
    assert not lambdas.authorizes(promoted["access_token"])


def test_without_strict_revocation_a_change_ends_refresh_at_once(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    alice = signed_up(lambdas)
    assert on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"disabled": True})[0] == 200
    assert refresh(lambdas, alice) == 401


def test_a_change_to_what_is_already_so_ends_no_session(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    alice = signed_up(lambdas)
    for body in ({}, {"roles": ["reader"]}, {"disabled": False}, {"roles": None, "disabled": None}):
        status, changed = on_user(lambdas, "PATCH", user_id(alice), admin_pair, body)
        assert (status, changed) == (200, alice["user"])
    assert refresh(lambdas, alice) == 200


def test_a_disabled_user_is_refused_like_a_wrong_password_and_cannot_refresh(
    lambdas: Functions, admin_pair: dict[str, Any], bcrypt_costs: list[int]
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    alice = signed_up(lambdas)
    status, changed = on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"disabled": True})
    assert (status, changed["disabled"]) == (200, True)
    assert refresh(lambdas, alice) == 401
    assert not lambdas.authorizes(alice["access_token"])
    signed_up(lambdas, "bob")
    bcrypt_costs.clear()
    wrong = login(lambdas, "bob", "wrong-password-123")
    wrong_costs = list(bcrypt_costs)
    bcrypt_costs.clear()
    disabled = login(lambdas, "alice", PASSWORD)
    assert (disabled[0], disabled[1]) == (wrong[0], wrong[1]) == (401, INVALID_CREDENTIALS)
    assert bcrypt_costs == wrong_costs == [4]
    # Re-enabled, they sign in again.
    status, changed = on_user(lambdas, "PATCH", user_id(alice), admin_pair, {"disabled": False})
    assert (status, changed["disabled"]) == (200, False)
    status, pair, _ = login(lambdas)
    assert status == 200
    assert lambdas.authorizes(pair["access_token"])
    assert refresh(lambdas, pair) == 200


def test_an_admin_can_turn_off_a_users_mfa_through_the_operator(
    lambdas: Functions, enrol: Enrol, admin_pair: dict[str, Any]
) -> None:
    """The reset for a lost authenticator (admin_cli): the next login needs only the password."""
    alice = signed_up(lambdas)
    enrol(alice)
    directory = lambdas.module("users").directory
    directory.reset_mfa(directory.get(user_id(alice)))
    assert refresh(lambdas, alice) == 401
    status, pair, _ = login(lambdas)
    assert (status, "access_token" in pair) == (200, True)
    assert on_user(lambdas, "GET", user_id(alice), admin_pair)[1]["mfa_enabled"] is False


# --- the last enabled admin ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [("PATCH", {"roles": ["reader"]}), ("PATCH", {"disabled": True}), ("DELETE", None)],
)
def test_the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted(
    lambdas: Functions, admin_pair: dict[str, Any], method: str, body: Any
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    # A second admin, disabled, does not count.
    bob = signed_up(lambdas, "bob")
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"roles": ["admin"]})[0] == 200
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"disabled": True})[0] == 200
    # Not even by themselves.
    assert on_user(lambdas, method, user_id(admin_pair), admin_pair, body) == (409, LAST_ADMIN)
    status, profile = on_user(lambdas, "GET", user_id(admin_pair), admin_pair)
    assert (status, profile["roles"], profile["disabled"]) == (200, ["reader", "admin"], False)
    assert refresh(lambdas, admin_pair) == 200
    assert lambdas.authorizes(admin_pair["access_token"])
    # With another enabled admin, it can.
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"disabled": False})[0] == 200
    assert on_user(lambdas, method, user_id(admin_pair), admin_pair, body)[0] in (200, 204)
    # Now bob is the last.
    _, bobs, _ = login(lambdas, "bob")
    assert on_user(lambdas, method, user_id(bobs), bobs, body) == (409, LAST_ADMIN)


def test_the_last_enabled_admin_cannot_delete_their_own_account(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    status, body, _ = lambdas.call(
        "signup", "DELETE", "/users/me", body={"password": PASSWORD}, authorizer=caller_context(admin_pair)
    )
    assert (status, body) == (409, LAST_ADMIN)
    assert login(lambdas, "admin")[0] == 200


def test_the_operator_can_re_enable_the_admins(lambdas: Functions, admin_pair: dict[str, Any]) -> None:
    """set_user (admin_cli) enables the user it sets, and counts them among the enabled admins."""
    bob = signed_up(lambdas, "bob")
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"roles": ["admin"]})[0] == 200
    assert on_user(lambdas, "PATCH", user_id(bob), admin_pair, {"disabled": True})[0] == 200
    lambdas.module("signup").accounts.set_user("bob", PASSWORD, ("reader", "admin"))
    assert on_user(lambdas, "PATCH", user_id(admin_pair), admin_pair, {"disabled": True})[0] == 200
    _, bobs, _ = login(lambdas, "bob")
    assert on_user(lambdas, "DELETE", user_id(bobs), bobs) == (409, LAST_ADMIN)


# --- erasure -------------------------------------------------------------------------------------


def leave_everything(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock, *, mfa: bool
) -> tuple[dict[str, Any], Enrolled | None]:
    """alice, signed in (her token pair), with every kind of item the tokens table can hold of
    hers: sessions, spent and live refresh tokens, the lockout record of her username and, with
    ``mfa``, a generation record, an MFA token never used and the lockout record of her codes."""
    first = signed_up(lambdas)
    assert refresh(lambdas, first) == 200
    enrolled = enrol(first) if mfa else None
    status, pair, _ = login(lambdas)
    if enrolled is not None:
        token = pair["mfa_token"]
        status, pair, _ = lambdas.call(
            "login", "POST", "/auth/mfa", body={"mfa_token": token, "code": enrolled.recovery_codes[0]}
        )
        _, unused, _ = login(lambdas)
        wrong = totp_clock.wrong_code(enrolled.secret, totp_clock.step)
        body = {"mfa_token": unused["mfa_token"], "code": wrong}
        assert lambdas.call("login", "POST", "/auth/mfa", body=body)[0] == 401
    assert status == 200
    assert login(lambdas, password="wrong-password-123")[0] == 401
    alice_id = user_id(pair)
    held = {item["pk"]["S"].split("#")[0] for item in scan(lambdas, "TokensTable") if alice_id in str(item)}
    assert {"FAMILY", "TOKEN", *(("USER", "MFA") if mfa else ())} <= held
    locks = {item["pk"]["S"] for item in scan(lambdas, "TokensTable") if item["pk"]["S"].startswith("LOCK#")}
    assert {"LOCK#alice", *((f"LOCK#mfa:{alice_id}",) if mfa else ())} <= locks
    return pair, enrolled


@pytest.mark.parametrize("case", ["by an admin", "by an admin, mfa on", "by the user", "by the user, mfa on"])
def test_an_erased_user_leaves_nothing_and_the_username_is_free_again(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock, admin_pair: dict[str, Any], case: str
) -> None:
    by_admin, mfa = case.startswith("by an admin"), case.endswith("mfa on")
    pair, enrolled = leave_everything(lambdas, enrol, totp_clock, mfa=mfa)
    alice_id = user_id(pair)
    if by_admin:
        assert on_user(lambdas, "DELETE", alice_id, admin_pair) == (204, None)
    else:
        body = {"password": PASSWORD, **({"code": enrolled.recovery_codes[1]} if enrolled else {})}
        status, response, _ = lambdas.call(
            "signup", "DELETE", "/users/me", body=body, authorizer=caller_context(pair)
        )
        assert (status, response) == (204, None)
    for table in ("UsersTable", "TokensTable"):
        left = [item for item in scan(lambdas, table) if alice_id in str(item) or "alice" in str(item)]
        assert left == [], table
    assert refresh(lambdas, pair) == 401
    assert on_user(lambdas, "GET", alice_id, admin_pair)[0] == 404
    again = signed_up(lambdas)
    assert user_id(again) != alice_id
    status, body, _ = login(lambdas)
    assert (status, set(body)) == (200, {"access_token", "token_type", "expires_in", "refresh_token"})
    assert refresh(lambdas, pair) == 401


def test_deleting_ones_account_with_mfa_on_needs_a_code(
    lambdas: Functions, enrol: Enrol, totp_clock: TotpClock
) -> None:
    pair = signed_up(lambdas)
    enrolled = enrol(pair)
    caller = caller_context(pair)

    def delete(body: dict[str, Any]) -> tuple[int, Any]:
        status, response, _ = lambdas.call("signup", "DELETE", "/users/me", body=body, authorizer=caller)
        return status, response

    assert delete({"password": PASSWORD}) == (
        401,
        {"message": "A code is required: multi-factor sign-in is on"},
    )
    wrong = totp_clock.wrong_code(enrolled.secret, totp_clock.step + 1)
    assert delete({"password": PASSWORD, "code": wrong}) == (401, {"message": "Invalid code"})
    # The code that confirmed the enrolment was spent then.
    assert delete({"password": PASSWORD, "code": totp_clock.code(enrolled.secret, totp_clock.step)})[0] == 401
    right = totp_clock.code(enrolled.secret, totp_clock.step + 1)
    assert delete({"password": "not-the-password-1", "code": right}) == (
        401,
        {"message": "Current password is incorrect"},
    )
    assert login(lambdas)[0] == 200
    assert delete({"password": PASSWORD, "code": right}) == (204, None)
    assert login(lambdas)[:2] == (401, INVALID_CREDENTIALS)


def test_deleting_ones_account_needs_the_password(lambdas: Functions) -> None:
    pair = signed_up(lambdas)
    status, body, _ = lambdas.call(
        "signup",
        "DELETE",
        "/users/me",
        body={"password": "not-the-password-1"},
        authorizer=caller_context(pair),
    )
    assert (status, body) == (401, {"message": "Current password is incorrect"})
    assert lambdas.call("signup", "DELETE", "/users/me", authorizer=caller_context(pair))[0] == 400
    assert login(lambdas)[0] == 200


def test_a_token_of_a_deleted_account_cannot_delete_its_successor(
    lambdas: Functions, admin_pair: dict[str, Any]
) -> None:
    old = signed_up(lambdas)
    assert on_user(lambdas, "DELETE", user_id(old), admin_pair)[0] == 204
    signed_up(lambdas)
    status, _, _ = lambdas.call(
        "signup", "DELETE", "/users/me", body={"password": PASSWORD}, authorizer=caller_context(old)
    )
    assert status == 401
    assert login(lambdas)[0] == 200
