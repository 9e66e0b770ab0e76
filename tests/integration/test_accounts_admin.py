"""User administration over HTTP: an admin lists users a page at a time, disables, re-roles and
deletes them; the last enabled admin stays one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from local_api.http_client import Client, Reply

from .conftest import Target, User

INVALID_CREDENTIALS = {"message": "Invalid username or password"}
LAST_ADMIN = {"message": "This would leave no enabled admin"}
PUBLIC_FIELDS = {"id", "username", "roles", "created_at", "disabled", "mfa_enabled"}


def patch(client: Client, admin: User, user_id: str, body: dict) -> Reply:
    return client.request("PATCH", f"/users/{user_id}", token=admin.access_token, body=body)


def delete(client: Client, admin: User, user_id: str) -> Reply:
    return client.request("DELETE", f"/users/{user_id}", token=admin.access_token)


def refresh(client: Client, user: User) -> int:
    return client.post("/auth/refresh", body={"refresh_token": user.refresh_token}).status


@pytest.fixture
def readers(target: Target, admin: User) -> Iterator[list[User]]:
    """Three new readers, deleted afterwards (those a test has not deleted itself)."""
    users = [target.signup() for _ in range(3)]
    ids = [target.profile(user)["id"] for user in users]
    yield users
    for user_id in ids:
        assert delete(target.client, admin, user_id).status in (204, 404)


def test_an_admin_pages_through_every_user_once_in_username_order(
    target: Target, client: Client, admin: User, readers: list[User]
) -> None:
    profiles = {target.profile(user)["id"]: target.profile(user) for user in readers}
    pages = list(target.user_pages(admin, limit=2))
    items = [item for page in pages for item in page["items"]]
    assert len(pages) >= 2
    assert all(len(page["items"]) <= 2 for page in pages)
    assert all(page["next_token"] for page in pages[:-1])
    assert len({item["id"] for item in items}) == len(items)
    usernames = [item["username"] for item in items]
    assert usernames == sorted(usernames)
    for item in items:
        assert set(item) == PUBLIC_FIELDS, item  # never a hash, a secret or a code
    listed = {item["id"]: item for item in items}
    for user_id, profile in profiles.items():
        assert listed[user_id] == profile
        assert client.get(f"/users/{user_id}", token=admin.access_token).json == profile


def test_a_next_token_the_users_list_did_not_issue_is_a_400(client: Client, admin: User) -> None:
    books = [
        client.post("/books", token=admin.access_token, body={"title": f"Paged {n}", "author": "A"}).json
        for n in range(2)
    ]
    try:
        books_token = client.get("/books?limit=1", token=admin.access_token).json["next_token"]
        assert books_token
        for query in (f"next_token={books_token}", "next_token=bm90LWEtdG9rZW4", "limit=0", "limit=101"):
            reply = client.get(f"/users?{query}", token=admin.access_token)
            assert reply.status == 400, (query, reply.text)
            assert reply.json["message"]
    finally:
        for book in books:
            assert client.request("DELETE", f"/books/{book['id']}", token=admin.access_token).status == 204


def test_a_disabled_user_cannot_log_in_or_refresh_until_enabled_again(
    target: Target, client: Client, admin: User, readers: list[User]
) -> None:
    user = readers[0]
    other_session = target.login(user.username, user.password)
    user_id = target.profile(user)["id"]
    assert client.get(f"/users/{user_id}", token=admin.access_token).json["disabled"] is False

    disabled = patch(client, admin, user_id, {"disabled": True})
    assert disabled.status == 200, disabled.text
    assert disabled.json["disabled"] is True
    assert disabled.json["roles"] == ["reader"]

    right = client.post("/auth/login", body={"username": user.username, "password": user.password})
    wrong = client.post("/auth/login", body={"username": user.username, "password": user.password + "x"})
    assert (right.status, right.json) == (wrong.status, wrong.json) == (401, INVALID_CREDENTIALS)
    assert client.post("/auth/login", basic=(user.username, user.password)).status == 401
    assert refresh(client, user) == 401
    assert refresh(client, other_session) == 401

    enabled = patch(client, admin, user_id, {"disabled": False})
    assert enabled.status == 200, enabled.text
    assert enabled.json["disabled"] is False
    again = target.login(user.username, user.password)
    assert refresh(client, again) == 200
    assert refresh(client, other_session) == 401  # disabling ended it for good


def test_an_admin_re_roles_a_user_and_their_sessions_end(
    target: Target, client: Client, admin: User, readers: list[User]
) -> None:
    user = readers[1]
    user_id = target.profile(user)["id"]
    promoted = patch(client, admin, user_id, {"roles": ["admin"]})
    assert promoted.status == 200, promoted.text
    assert promoted.json["roles"] == ["reader", "admin"]
    assert refresh(client, user) == 401

    as_admin = target.login(user.username, user.password)
    assert client.get("/users?limit=1", token=as_admin.access_token).status == 200
    book = client.post("/books", token=as_admin.access_token, body={"title": "Promoted", "author": "A"})
    assert book.status == 201, book.text
    assert client.request("DELETE", f"/books/{book.json['id']}", token=as_admin.access_token).status == 204

    unchanged = patch(client, admin, user_id, {"roles": ["admin", "reader", "admin"]})
    assert unchanged.json["roles"] == ["reader", "admin"]
    assert refresh(client, as_admin) == 200  # no change, no session ended

    demoted = patch(client, admin, user_id, {"roles": ["reader"]})
    assert demoted.status == 200, demoted.text
    assert demoted.json["roles"] == ["reader"]
    as_reader = target.login(user.username, user.password)
    assert client.get("/users?limit=1", token=as_reader.access_token).status == 403
    refused = client.post("/books", token=as_reader.access_token, body={"title": "Demoted", "author": "A"})
    assert refused.status == 403


def test_an_admin_deletes_a_user_and_the_username_is_free_again(
    target: Target, client: Client, admin: User, readers: list[User]
) -> None:
    user = readers[2]
    profile = target.profile(user)
    other_session = target.login(user.username, user.password)

    deleted = delete(client, admin, profile["id"])
    assert deleted.status == 204, deleted.text
    assert deleted.text == ""
    assert client.get(f"/users/{profile['id']}", token=admin.access_token).status == 404
    assert delete(client, admin, profile["id"]).status == 404
    assert patch(client, admin, profile["id"], {"disabled": True}).status == 404
    login = client.post("/auth/login", body={"username": user.username, "password": user.password})
    assert (login.status, login.json) == (401, INVALID_CREDENTIALS)
    assert refresh(client, user) == 401
    assert refresh(client, other_session) == 401
    assert client.get("/users/me", token=user.access_token).status == 401

    again = client.post("/auth/signup", body={"username": user.username, "password": user.password})
    assert again.status == 201, again.text
    assert again.json["user"]["id"] != profile["id"]
    assert client.get(f"/users/{profile['id']}", token=admin.access_token).status == 404
    assert delete(client, admin, again.json["user"]["id"]).status == 204


def test_a_user_deletes_their_own_account(target: Target, client: Client) -> None:
    user = target.signup()
    wrong = client.request("DELETE", "/users/me", token=user.access_token, body={"password": "not it"})
    assert wrong.status == 401
    still = target.login(user.username, user.password)
    deleted = client.request("DELETE", "/users/me", token=user.access_token, body={"password": user.password})
    assert deleted.status == 204, deleted.text
    assert (
        client.post("/auth/login", body={"username": user.username, "password": user.password}).status == 401
    )
    assert refresh(client, user) == 401
    assert refresh(client, still) == 401
    again = client.post("/auth/signup", body={"username": user.username, "password": user.password})
    assert again.status == 201, again.text


def test_an_unknown_or_malformed_user_id_is_a_404(client: Client, admin: User) -> None:
    for user_id in (str(uuid.uuid4()), "not-a-uuid", str(uuid.uuid4()).upper(), "me-too"):
        for method, body in (("GET", None), ("PATCH", {"disabled": True}), ("DELETE", None)):
            reply = client.request(method, f"/users/{user_id}", token=admin.access_token, body=body)
            assert reply.status == 404, (user_id, method, reply.text)
            assert reply.json == {"message": "No such user"}


def test_a_reader_may_not_administer_users(target: Target, client: Client, reader: User) -> None:
    own_id = target.profile(reader)["id"]
    for method, path, body in (
        ("GET", "/users", None),
        ("GET", f"/users/{own_id}", None),
        ("PATCH", f"/users/{own_id}", {"roles": ["admin"]}),
        ("DELETE", f"/users/{own_id}", None),
    ):
        reply = client.request(method, path, token=reader.access_token, body=body)
        assert reply.status == 403, (method, reply.text)
        assert reply.json == {"message": "User is not authorized to access this resource"}
    assert target.profile(reader)["roles"] == ["reader"]


@pytest.mark.local_only
def test_the_last_enabled_admin_cannot_demote_disable_or_delete_themselves(admins_target: Target) -> None:
    target, client = admins_target, admins_target.client
    admin = target.make_admin()
    target.leave_enabled_admins(admin)
    admin_id = target.profile(admin)["id"]

    for reply in (
        patch(client, admin, admin_id, {"roles": ["reader"]}),
        patch(client, admin, admin_id, {"disabled": True}),
        patch(client, admin, admin_id, {"roles": ["reader"], "disabled": True}),
        delete(client, admin, admin_id),
    ):
        assert (reply.status, reply.json) == (409, LAST_ADMIN)
    assert target.enabled_admins(admin) == {admin.username}
    assert refresh(client, admin) == 200  # nothing changed: the session goes on

    successor = target.signup()
    successor_id = target.profile(successor)["id"]
    assert patch(client, admin, successor_id, {"roles": ["admin"]}).status == 200
    successor = target.login(successor.username, successor.password)
    stepped_down = patch(client, admin, admin_id, {"roles": ["reader"]})
    assert stepped_down.status == 200, stepped_down.text
    assert stepped_down.json["roles"] == ["reader"]
    assert target.enabled_admins(successor) == {successor.username}
    assert (patch(client, successor, successor_id, {"roles": ["reader"]}).status) == 409
    assert delete(client, successor, successor_id).status == 409
    # Deleting the one who stepped down lowers no count: it goes through.
    assert delete(client, successor, admin_id).status == 204
