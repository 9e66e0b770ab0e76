"""Methods and paths: every method a route does not define, unknown paths, traversal and encoding
tricks in ``{id}``, and hostile query parameters.

A method or path the template does not define is API Gateway's 403 "Missing Authentication
Token" (a REST API answers so, with or without a valid token, before any authorizer). A trick in
``{id}`` reaches the books (or users) function and is a 404 there, or, where it decodes to more
path segments than ``/books/{id}`` has, the gateway's 403; it never reaches another route, another
book or another user.
"""

from __future__ import annotations

import json

import pytest

from stack.template import routes

from .conftest import World, writable_tables
from .harness import Headers, assert_refused, send

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MISSING_TOKEN = {"message": "Missing Authentication Token"}
BOOK = json.dumps({"title": "Trick", "author": "Path"}).encode()
USER_CHANGE = json.dumps({"disabled": True, "roles": ["admin"]}).encode()

DEFINED: dict[str, set[str]] = {}
for _method, _path, _, _ in routes():
    DEFINED.setdefault(_path, set()).add(_method)
UNUSED = [(method, path) for path, methods in DEFINED.items() for method in METHODS if method not in methods]


def _headers(world: World, who: str, body: bytes | None) -> Headers:
    headers: list[tuple[str, str | bytes]] = []
    if who == "admin":
        headers.append(("Authorization", f"Bearer {world.admin.access_token}"))
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    return headers


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize(("method", "path"), UNUSED, ids=[f"{m} {p}" for m, p in UNUSED])
def test_a_method_a_route_does_not_define_is_missing_authentication_token(
    world: World, who: str, method: str, path: str
) -> None:
    body = BOOK if method in ("POST", "PUT", "PATCH") else None
    target = path.replace("{id}", world.book_id)
    reply = send(world.url, method, target, body=body, headers=_headers(world, who, body))
    if method == "HEAD":  # no body to a HEAD
        assert reply.status == 403
        assert reply.text == ""
    else:
        assert assert_refused(reply, 403, world.secrets) == MISSING_TOKEN


UNKNOWN_PATHS = [
    "/",
    "/auth",
    "/admin",
    "/BOOKS",
    "/Health",
    "/dev/books",
    "/books/x/y",
    "/auth/signup/x",
    "/users/me/password/x",
    "/USERS",
    "/users/x/y",
    "/users/me/x",
    "/users/me/mfa/x",
    "/users/me/mfa/totp/x",
    "/users/me/mfa/totp/confirm/x",
    "/auth/mfa/x",
    "/users/..%2Fbooks",
    "/health/x",
    "/books/../health",
    "/.env",
    "/openapi.json",
    "/%2e%2e/health",
]


@pytest.mark.parametrize("who", ["anonymous", "admin"])
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_an_unknown_path_is_missing_authentication_token(
    world: World, who: str, method: str, path: str
) -> None:
    body = BOOK if method == "POST" else None
    reply = send(world.url, method, path, body=body, headers=_headers(world, who, body))
    assert assert_refused(reply, 403, world.secrets) == MISSING_TOKEN


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if ch.isalnum() else ch for ch in text)


# (id, how the {id} segment is written from the real book's id, statuses API Gateway may give)
NOT_FOUND = (404,)
SPLIT = (403, 404)  # decodes to another segment: the gateway's 403 or, undecoded, the function's 404
ID_TRICKS = [
    ("dot-dot-encoded-slash", lambda b: "..%2F..%2Fhealth", SPLIT),
    ("dot-dot-encoded-lower", lambda b: "..%2f" + b, SPLIT),
    ("dots-and-slash-encoded", lambda b: "%2e%2e%2fhealth", SPLIT),
    ("dot-dot-encoded", lambda b: "%2e%2e", SPLIT),
    ("dot-dot", lambda b: "..", NOT_FOUND),
    ("backslashes", lambda b: "..%5C..%5Chealth", NOT_FOUND),
    ("double-encoded", lambda b: "%252e%252e%252fhealth", NOT_FOUND),
    ("overlong-utf-8-dots", lambda b: "%C0%AE%C0%AE%C0%AFhealth", NOT_FOUND),
    ("iis-unicode-dots", lambda b: "%u002e%u002e", NOT_FOUND),
    ("nul", lambda b: "%00", NOT_FOUND),
    ("id-then-nul", lambda b: b + "%00", NOT_FOUND),
    ("id-then-newline", lambda b: b + "%0A", NOT_FOUND),
    ("newline-alone", lambda b: "%0A", NOT_FOUND),
    ("header-injection", lambda b: "%0D%0AX-Injected:%20yes", NOT_FOUND),
    ("id-then-space", lambda b: b + "%20", NOT_FOUND),
    ("space-then-id", lambda b: "%20" + b, NOT_FOUND),
    ("id-then-tab", lambda b: b + "%09", NOT_FOUND),
    ("id-upper-case", lambda b: b.upper(), NOT_FOUND),
    ("id-full-width", _full_width, NOT_FOUND),
    (
        "id-with-a-cyrillic-a",
        lambda b: b.replace("a", "\u0430", 1) if "a" in b else "\u0430" + b[1:],
        NOT_FOUND,
    ),
    ("id-then-semicolon", lambda b: b + ";x", NOT_FOUND),
    ("id-then-encoded-semicolon", lambda b: b + "%3Bx", NOT_FOUND),
    ("id-then-encoded-hash", lambda b: b + "%23", NOT_FOUND),
    ("id-then-encoded-question-mark", lambda b: b + "%3F", NOT_FOUND),
    ("id-then-extension", lambda b: b + ".json", NOT_FOUND),
    ("id-twice", lambda b: b + b, NOT_FOUND),
    ("invalid-utf-8", lambda b: "%FF%FE", NOT_FOUND),
    ("right-to-left-override", lambda b: "%E2%80%AE" + b, NOT_FOUND),
    ("emoji", lambda b: "%F0%9F%93%9A", NOT_FOUND),
    ("very-long", lambda b: "a" * 4000, NOT_FOUND),
    ("wildcard", lambda b: "*", NOT_FOUND),
    ("sql", lambda b: "'%20OR%20'1'='1", NOT_FOUND),
    ("dynamodb-attribute-value", lambda b: "%7B%22S%22%3A%22" + b + "%22%7D", NOT_FOUND),
    ("null", lambda b: "null", NOT_FOUND),
    ("negative", lambda b: "-1", NOT_FOUND),
]


def _written(path: str) -> str:
    """What the request target says: non-ASCII characters percent-encoded as UTF-8."""
    return "".join(ch if ord(ch) < 128 else "".join(f"%{byte:02X}" for byte in ch.encode()) for ch in path)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize(("name", "book_id", "statuses"), ID_TRICKS, ids=[trick[0] for trick in ID_TRICKS])
def test_a_trick_in_the_book_id_finds_no_book_and_changes_none(
    world: World, method: str, name: str, book_id: object, statuses: tuple[int, ...]
) -> None:
    target = _written("/books/" + book_id(world.book_id))  # type: ignore[operator]
    body = BOOK if method == "PUT" else None
    with world.store.unchanged(writable_tables(method, "/books/{id}")):
        reply = send(world.url, method, target, body=body, headers=_headers(world, "admin", body))
    assert reply.status in statuses, f"{reply.status} {reply.text[:200]}"
    assert_refused(reply, reply.status, world.secrets)


def test_control_the_book_the_tricks_aimed_at_is_still_there(world: World) -> None:
    reply = send(world.url, "GET", f"/books/{world.book_id}", headers=_headers(world, "admin", None))
    assert reply.status == 200, reply.text
    assert reply.json["id"] == world.book_id


# The same tricks on /users/{id}, from a real user's id, and names of the users table's own items.
USER_ID_TRICKS = [
    *ID_TRICKS,
    ("id-without-hyphens", lambda b: b.replace("-", ""), NOT_FOUND),
    ("id-in-braces", lambda b: "%7B" + b + "%7D", NOT_FOUND),
    ("urn-uuid", lambda b: "urn:uuid:" + b, NOT_FOUND),
    ("id-wildcard-suffix", lambda b: b[:-1] + "*", NOT_FOUND),
    ("id-prefix", lambda b: b[:8], NOT_FOUND),
    ("me-upper-case", lambda b: "ME", NOT_FOUND),
    ("admin-count-item", lambda b: "%23enabled-admins", NOT_FOUND),
    ("lockout-item", lambda b: "LOCK%23admin", NOT_FOUND),
    ("user-item", lambda b: "USER%23" + b, NOT_FOUND),
    ("directory-key", lambda b: "users", NOT_FOUND),
]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    ("name", "user_id", "statuses"), USER_ID_TRICKS, ids=[trick[0] for trick in USER_ID_TRICKS]
)
def test_a_trick_in_the_user_id_finds_no_user_and_changes_none(
    world: World, method: str, name: str, user_id: object, statuses: tuple[int, ...]
) -> None:
    target = _written("/users/" + user_id(world.patient_id))  # type: ignore[operator]
    body = USER_CHANGE if method == "PATCH" else None
    with world.store.unchanged(writable_tables(method, "/users/{id}")):
        reply = send(world.url, method, target, body=body, headers=_headers(world, "admin", body))
    assert reply.status in statuses, f"{reply.status} {reply.text[:200]}"
    assert_refused(reply, reply.status, world.secrets)


def test_control_the_user_the_tricks_aimed_at_is_still_there_as_they_were(world: World) -> None:
    reply = send(world.url, "GET", f"/users/{world.patient_id}", headers=_headers(world, "admin", None))
    assert reply.status == 200, reply.text
    assert reply.json["username"] == world.patient.username
    assert (reply.json["roles"], reply.json["disabled"]) == (["reader"], False)


QUERIES = [
    "limit=0",
    "limit=101",
    "limit=-1",
    "limit=abc",
    "limit=1.5",
    "limit=1e2",
    "limit=%00",
    "limit=",
    "limit=1&limit=2",
    "limit=99999999999999999999999",
    "next_token=x",
    "next_token=%00",
    "next_token=" + "A" * 600,
    "next_token=eyJpZCI6eyJTIjoieCJ9fQ",
    "next_token={admin}",
]


@pytest.mark.parametrize("path", ["/books", "/users"])
@pytest.mark.parametrize("query", QUERIES)
def test_a_hostile_query_on_a_list_is_a_400(world: World, path: str, query: str) -> None:
    query = query.format(admin=world.admin.access_token)
    reply = send(world.url, "GET", f"{path}?{query}", headers=_headers(world, "admin", None))
    assert_refused(reply, 400, world.secrets)


def test_a_next_token_of_one_list_is_no_token_of_the_other(world: World) -> None:
    """Each list signs its tokens with a key of its own: a token, valid where it was issued, is a
    400 on the other list."""
    admin = _headers(world, "admin", None)
    extra = send(
        world.url,
        "POST",
        "/books",
        body=json.dumps({"title": "Second", "author": "Page"}).encode(),
        headers=_headers(world, "admin", BOOK),
    )
    assert extra.status == 201, extra.text
    world.store.forget()
    tokens = {
        path: send(world.url, "GET", f"{path}?limit=1", headers=admin).json["next_token"]
        for path in ("/books", "/users")
    }
    for path, other in (("/books", "/users"), ("/users", "/books")):
        assert tokens[path], path
        assert (
            send(world.url, "GET", f"{path}?limit=1&next_token={tokens[path]}", headers=admin).status == 200
        )
        assert_refused(
            send(world.url, "GET", f"{other}?next_token={tokens[path]}", headers=admin), 400, world.secrets
        )
