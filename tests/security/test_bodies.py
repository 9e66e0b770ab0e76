"""Hostile request bodies on every route that takes one: each is refused with a 4xx and writes nothing.

The cases are tables: generic shapes (absent, empty, not JSON, arrays, scalars, nesting, encodings,
sizes, media types, base64), then for every field of every body its wrong types, NUL, lone
surrogates and huge values (codes of every wrong shape, roles and flags of every wrong type), then
fields a client must not set. Each case starts from a valid body of its route, for the user it is
sent as, which a control test shows is accepted.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.integration.conftest import MfaUser, User, password, unique

from .conftest import World, writable_tables
from .harness import assert_refused, send

JSON = "application/json"
MULTI_MEGABYTE = 3 * 1024 * 1024  # under Lambda's 6 MB request limit: the function itself must refuse it
ISBN = "9780306406157"

Body = tuple[bytes | None, str | None]  # the bytes sent and their Content-Type, either may be absent


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: str
    role: str | None  # whose Bearer token goes with it: "admin", "reader" (the user's) or none
    # name -> "str", "str?" (optional), "int?", "code", "code?" (an MFA code), "roles?" or "bool?"
    fields: dict[str, str]
    valid: Callable[[World, User], dict[str, Any]]
    body_optional: bool = False
    # Whom the cases are sent as: the world's reader, or its reader with TOTP on ("mfa") or with
    # an enrolment awaiting its code ("enrolling").
    who: str = "reader"
    # The user and the body the control sends (by default a fresh reader and its valid body).
    control: Callable[[World], tuple[User, dict[str, Any]]] | None = None

    def target(self, world: World) -> str:
        return self.path.replace(
            "{id}", world.patient_id if self.path.startswith("/users/") else world.book_id
        )

    def user(self, world: World) -> User:
        return {"reader": world.reader, "mfa": world.mfa_user, "enrolling": world.enrolling}[self.who]

    def headers(self, world: World, user: User, content_type: str | None) -> list[tuple[str, str]]:
        token = {"admin": world.admin.access_token, "reader": user.access_token}.get(self.role or "")
        headers = [("Authorization", f"Bearer {token}")] if token else []
        return headers + ([("Content-Type", content_type)] if content_type is not None else [])

    def __str__(self) -> str:
        return self.name


BOOK_FIELDS = {"title": "str", "author": "str", "year": "int?", "isbn": "str?"}


def _book(world: World, user: User) -> dict[str, Any]:
    return {"title": "Hostile", "author": "Suite", "year": 1999, "isbn": ISBN}


def _current_code(user: User) -> str:
    """The code ``user``'s authenticator shows now (not spent: no case is accepted); any
    well-formed code for a user without TOTP, whose check the case never reaches."""
    return user.authenticator.totp.now() if isinstance(user, MfaUser) else "123456"


def _mfa_control(world: World) -> tuple[User, dict[str, Any]]:
    user = world.fresh_mfa_user()
    token = world.target.mfa_token(user)
    world.store.forget()
    return user, {"mfa_token": token, "code": user.authenticator.code()}


def _confirm_control(world: World) -> tuple[User, dict[str, Any]]:
    user = world.fresh_user()
    authenticator = world.target.start_totp(user)
    world.store.forget()
    return user, {"code": authenticator.code()}


def _mfa_off_control(world: World) -> tuple[User, dict[str, Any]]:
    user = world.fresh_mfa_user()
    return user, {"password": user.password, "code": user.authenticator.code()}


ROUTES = (
    Route(
        "signup",
        "POST",
        "/auth/signup",
        None,
        {"username": "str", "password": "str"},
        lambda world, user: {"username": unique("hb"), "password": password()},
    ),
    Route(
        "login",
        "POST",
        "/auth/login",
        None,
        {"username": "str", "password": "str"},
        lambda world, user: {"username": user.username, "password": user.password},
    ),
    Route(
        "refresh",
        "POST",
        "/auth/refresh",
        None,
        {"refresh_token": "str"},
        lambda world, user: {"refresh_token": user.refresh_token},
    ),
    Route(
        "logout",
        "POST",
        "/auth/logout",
        "reader",
        {"refresh_token": "str?"},
        lambda world, user: {"refresh_token": user.refresh_token},
        body_optional=True,
    ),
    Route(
        "password",
        "POST",
        "/users/me/password",
        "reader",
        {"current_password": "str", "new_password": "str"},
        lambda world, user: {"current_password": user.password, "new_password": password()},
    ),
    Route("create-book", "POST", "/books", "admin", BOOK_FIELDS, _book),
    Route("replace-book", "PUT", "/books/{id}", "admin", BOOK_FIELDS, _book),
    Route(
        "mfa",
        "POST",
        "/auth/mfa",
        None,
        {"mfa_token": "str", "code": "code"},
        lambda world, user: {"mfa_token": world.mfa_token(), "code": _current_code(world.mfa_user)},
        control=_mfa_control,
    ),
    Route(
        "confirm-totp",
        "POST",
        "/users/me/mfa/totp/confirm",
        "reader",
        {"code": "code"},
        lambda world, user: {"code": world.enrolment().totp.now()},
        who="enrolling",
        control=_confirm_control,
    ),
    Route(
        "mfa-off",
        "DELETE",
        "/users/me/mfa",
        "reader",
        {"password": "str", "code": "code"},
        lambda world, user: {"password": user.password, "code": _current_code(user)},
        who="mfa",
        control=_mfa_off_control,
    ),
    Route(
        "delete-account",
        "DELETE",
        "/users/me",
        "reader",
        {"password": "str", "code": "code?"},
        lambda world, user: {"password": user.password},
    ),
    # A change to what the patient already is: accepted, and nothing written.
    Route(
        "change-user",
        "PATCH",
        "/users/{id}",
        "admin",
        {"roles": "roles?", "disabled": "bool?"},
        lambda world, user: {"roles": ["reader"], "disabled": False},
    ),
)


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _nested(depth: int) -> bytes:
    return b'{"x": ' + b"[" * depth + b"]" * depth + b"}"


def _multipart(body: dict[str, Any]) -> bytes:
    parts = [
        f'--hostile\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in body.items()
    ]
    return ("".join(parts) + "--hostile--\r\n").encode()


# (id, the body from a valid one, status, needs a body: not sent to a route whose body is optional)
SHAPES: list[tuple[str, Callable[[dict[str, Any]], Body], int, bool]] = [
    ("absent", lambda v: (None, None), 400, True),
    ("empty", lambda v: (b"", JSON), 400, True),
    ("null", lambda v: (b"null", JSON), 400, True),
    ("whitespace", lambda v: (b" \r\n\t", JSON), 400, False),
    ("truncated", lambda v: (_json(v)[:-1], JSON), 400, False),
    ("single-quoted", lambda v: (repr(v).encode(), JSON), 400, False),
    ("trailing-comma", lambda v: (_json(v)[:-1] + b", }", JSON), 400, False),
    ("two-documents", lambda v: (_json(v) + _json(v), JSON), 400, False),
    ("trailing-garbage", lambda v: (_json(v) + b" x", JSON), 400, False),
    ("comment", lambda v: (b"/* */" + _json(v), JSON), 400, False),
    ("empty-array", lambda v: (b"[]", JSON), 400, False),
    ("array-of-the-body", lambda v: (_json([v]), JSON), 400, False),
    ("array-of-null", lambda v: (b"[null]", JSON), 400, False),
    ("array-of-the-body-and-junk", lambda v: (_json([v, "junk"]), JSON), 400, False),
    ("string", lambda v: (b'"x"', JSON), 400, False),
    ("the-body-as-a-string", lambda v: (_json(json.dumps(v)), JSON), 400, False),
    ("integer", lambda v: (b"1", JSON), 400, False),
    ("float", lambda v: (b"-0.5e10", JSON), 400, False),
    ("true", lambda v: (b"true", JSON), 400, False),
    ("false", lambda v: (b"false", JSON), 400, False),
    ("NaN", lambda v: (b"NaN", JSON), 400, False),
    ("Infinity", lambda v: (b"-Infinity", JSON), 400, False),
    ("nested-2000-deep", lambda v: (_nested(2000), JSON), 400, False),
    ("nested-5000-deep", lambda v: (_nested(5000), JSON), 400, False),
    ("raw-nul-byte", lambda v: (b'{"\x00": 1}', JSON), 400, False),
    ("raw-control-character", lambda v: (_json(v)[:-1] + b', "x": "\x07"}', JSON), 400, False),
    ("not-utf-8", lambda v: (b'{"\xff\xfe": 1}', JSON), 400, False),
    ("utf-16", lambda v: (json.dumps(v).encode("utf-16"), JSON + "; charset=utf-16"), 400, False),
    ("over-16-kb", lambda v: (_json({**v, "pad": "a" * 17_000}), JSON), 413, False),
    ("multi-megabyte", lambda v: (_json({**v, "pad": "a" * MULTI_MEGABYTE}), JSON), 413, False),
    ("text-plain", lambda v: (_json(v), "text/plain"), 415, False),
    ("form", lambda v: (urlencode(v).encode(), "application/x-www-form-urlencoded"), 415, False),
    ("multipart", lambda v: (_multipart(v), "multipart/form-data; boundary=hostile"), 415, False),
    ("xml", lambda v: (b"<body/>", "application/xml"), 415, False),
    ("json-suffix", lambda v: (_json(v), "application/merge-patch+json"), 415, False),
    ("json-lookalike", lambda v: (_json(v), "application/jsonx"), 415, False),
    ("no-content-type", lambda v: (_json(v), None), 415, False),
    ("octet-stream", lambda v: (_json(v), "application/octet-stream"), 415, False),
    ("base64-as-json", lambda v: (base64.b64encode(_json(v)), JSON), 400, False),
    (
        "base64-as-octet-stream",
        lambda v: (base64.b64encode(_json(v)), "application/octet-stream"),
        415,
        False,
    ),
]

_RAW = object()  # a value spliced into the JSON text as is (not valid JSON on its own)
WRONG_STRINGS: dict[str, Any] = {
    "integer": 1,
    "float": 1.5,
    "true": True,
    "false": False,
    "empty-array": [],
    "array-of-string": ["x"],
    "object": {},
    "operator-object": {"$ne": None},
    "dynamodb-attribute-value": {"S": "x"},
    "huge": "a" * 10_000,
    "lone-surrogate": (_RAW, '"\\ud800abcdefgh"'),
    "NaN": (_RAW, "NaN"),
}
# An MFA code: a TOTP code of 6 ASCII digits or a recovery code of 16 base32 characters (hyphens
# between groups of four); everything near those shapes is refused before any check.
WRONG_CODES: dict[str, Any] = {
    "empty": "",
    "five-digits": "12345",
    "seven-digits": "1234567",
    "huge-digits": "1" * 10_000,
    "negative": "-12345",
    "digits-as-a-number": 123456,
    "spaced": "123 456",
    "leading-space": " 123456",
    "trailing-newline": "123456\n",
    "arabic-indic-digits": "\u0661\u0662\u0663\u0664\u0665\u0666",
    "full-width-digits": "\uff11\uff12\uff13\uff14\uff15\uff16",
    "superscript-digits": "\u00b9\u00b2\u00b3\u2074\u2075\u2076",
    "recovery-short": "AAAA-BBBB-CCCC-DDD",
    "recovery-long": "AAAA-BBBB-CCCC-DDDD-E",
    "recovery-five-groups": "AAAA-BBBB-CCCC-DDDD-EEEE",
    "recovery-not-base32": "AAAA-BBBB-CCCC-DDD1",
    "recovery-spaced": "AAAA BBBB CCCC DDDD",
    "recovery-double-hyphen": "AAAA--BBBB-CCCC-DDDD",
    "recovery-trailing-hyphen": "AAAABBBBCCCCDDDD-",
    "recovery-full-width": "\uff21" * 16,
    "sql": "' OR '1'='1",
    "wildcard": "*",
    "list-of-codes": ["123456", "654321"],
}
WRONG_ROLES: dict[str, Any] = {
    "a-string": "admin",
    "comma-separated": "reader,admin",
    "empty-array": [],
    "unknown-role": ["superuser"],
    "upper-case": ["ADMIN"],
    "padded": [" admin"],
    "full-width": ["\uff41dmin"],
    "too-many": ["reader"] * 5,
    "huge": ["admin"] * 1000,
    "not-strings": [1],
    "null-in-array": [None],
    "nested": [["admin"]],
    "object": {"admin": True},
    "true": True,
    "integer": 1,
    "dynamodb-attribute-value": {"L": [{"S": "admin"}]},
    "string-set": {"SS": ["admin"]},
    "NaN": (_RAW, "NaN"),
}
WRONG_BOOLS: dict[str, Any] = {
    "string-true": "true",
    "string-false": "false",
    "yes": "yes",
    "one": 1,
    "zero": 0,
    "float": 0.0,
    "array": [True],
    "object": {},
    "dynamodb-attribute-value": {"BOOL": True},
    "NaN": (_RAW, "NaN"),
}
# Not among them: 1999.0, the integer 1999 (JSON has one kind of number, and JSON Schema's integer
# is any without a fraction), which the document calls valid and the API takes (tests/unit/test_limits.py).
WRONG_INTEGERS: dict[str, Any] = {
    "string": "1999",
    "float": 1999.5,
    "true": True,
    "array": [1999],
    "object": {},
    "dynamodb-attribute-value": {"N": "1999"},
    "too-big": 10_000,
    "too-small": -5001,
    "huge": 10**30,
    "NaN": (_RAW, "NaN"),
    "Infinity": (_RAW, "Infinity"),
    "exponent": (_RAW, "1e400"),
}
# Where a wrong value reaches a credential check rather than a validator, the answer is that check's.
FIELD_STATUS = {
    ("login", "username", "nul"): 401,
    ("login", "password", "nul"): 401,
    ("refresh", "refresh_token", "nul"): 401,
    ("password", "current_password", "nul"): 401,
    ("mfa", "mfa_token", "nul"): 401,
    ("mfa-off", "password", "nul"): 401,
    ("delete-account", "password", "nul"): 401,
}
# Not hostile there: logout revokes the caller's session and ignores a refresh token it does not know.
NOT_GENERATED = {("logout", "refresh_token", "nul")}


def _with(valid: dict[str, Any], name: str, value: Any) -> Body:
    if isinstance(value, tuple) and value and value[0] is _RAW:
        marker = f"@@{uuid.uuid4().hex}@@"
        text = json.dumps({**valid, name: marker}).replace(json.dumps(marker), value[1])
        return text.encode(), JSON
    return _json({**valid, name: value}), JSON


def _wrong_values(kind: str) -> dict[str, Any]:
    if kind == "int?":
        return dict(WRONG_INTEGERS)
    if kind == "roles?":
        return dict(WRONG_ROLES)
    if kind == "bool?":
        return dict(WRONG_BOOLS)
    wrong = {**WRONG_STRINGS, **(WRONG_CODES if kind.startswith("code") else {}), "nul": "abcd\u0000efgh"}
    if kind == "code":
        wrong["nul"] = "123\u0000456"
    if not kind.endswith("?"):
        wrong["null"] = None
    return wrong


def _field_cases(route: Route) -> list[tuple[str, Callable[[dict[str, Any]], Body], int]]:
    cases = []
    for name, kind in route.fields.items():
        wrong = _wrong_values(kind)
        if name == "isbn":
            wrong["bad-check-digit"] = ISBN[:-1] + "8"
        for label, value in wrong.items():
            if (route.name, name, label) in NOT_GENERATED:
                continue
            status = FIELD_STATUS.get((route.name, name, label), 400)
            cases.append((f"{name}-{label}", lambda v, n=name, x=value: _with(v, n, x), status))
    return cases


EXTRA_FIELDS: dict[str, Any] = {
    "roles": ["admin"],
    "disabled": False,
    "mfa_enabled": False,
    "totp_secret": "JBSWY3DPEHPK3PXP",
    "recovery_codes": ["AAAA-BBBB-CCCC-DDDD"],
    "role": "admin",
    "is_admin": True,
    "admin": True,
    "password_hash": "$2b$04$" + "A" * 53,
    "sub": str(uuid.uuid4()),
    "user_id": str(uuid.uuid4()),
    "session_generation": 0,
    "__proto__": {"admin": True},
}
BOOK_EXTRA_FIELDS: dict[str, Any] = {
    "catalogue": "other",
    "created_key": "0#x",
    "owner": "someone",
    "roles": ["admin"],
    "deleted": True,
}
SERVER_SET_BOOK_FIELDS = {
    "id": "00000000-0000-4000-8000-000000000000",
    "created_at": "1970-01-01T00:00:00Z",
    "updated_at": "1970-01-01T00:00:00Z",
}


def _extra_cases(route: Route) -> list[tuple[str, Callable[[dict[str, Any]], Body], int]]:
    extras = dict(BOOK_EXTRA_FIELDS if route.name.endswith("book") else EXTRA_FIELDS)
    if not route.name.endswith("book"):
        extras["id"] = str(uuid.uuid4())
        if "username" not in route.fields:
            extras["username"] = "admin"
    if "code" not in route.fields:
        extras["code"] = "123456"
    return [
        (f"extra-{name}", lambda v, n=name, x=value: (_json({**v, n: x}), JSON), 400)
        for name, value in extras.items()
        if name not in route.fields
    ]


@dataclass(frozen=True)
class Case:
    route: Route
    name: str
    body: Callable[[dict[str, Any]], Body]
    status: int

    def __str__(self) -> str:
        return f"{self.route}:{self.name}"


CASES = [
    Case(route, name, body, status)
    for route in ROUTES
    for name, body, status in [
        *((n, b, s) for n, b, s, needs_body in SHAPES if not (needs_body and route.body_optional)),
        *_field_cases(route),
        *_extra_cases(route),
    ]
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_hostile_body_is_refused_and_writes_nothing(world: World, case: Case) -> None:
    route = case.route
    checked = case.status == 401  # a wrong credential: counted against its own user's lockout
    user = world.fresh_user() if checked else route.user(world)
    body, content_type = case.body(route.valid(world, user))
    with world.store.unchanged(writable_tables(route.method, route.path), except_lockouts=checked):
        reply = send(
            world.url,
            route.method,
            route.target(world),
            body=body,
            headers=route.headers(world, user, content_type),
        )
    assert_refused(reply, case.status, world.secrets)


SUCCESS = {
    "signup": 201,
    "login": 200,
    "refresh": 200,
    "logout": 204,
    "password": 200,
    "create-book": 201,
    "replace-book": 200,
    "mfa": 200,
    "confirm-totp": 200,
    "mfa-off": 204,
    "delete-account": 204,
    "change-user": 200,
}


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_control_the_valid_body_each_case_starts_from_is_accepted(world: World, route: Route) -> None:
    # A user of its own: a valid logout, refresh, password change, code or deletion spends it.
    if route.control is not None:
        user, valid = route.control(world)
    else:
        user = world.fresh_user()
        valid = route.valid(world, user)
    reply = send(
        world.url,
        route.method,
        route.target(world),
        body=_json(valid),
        headers=route.headers(world, user, JSON),
    )
    world.store.forget()
    assert reply.status == SUCCESS[route.name], reply.text


def _stored_book(world: World, book_id: str) -> dict[str, Any] | None:
    return world.dynamodb.get_item(
        TableName=world.tables["BooksTable"], Key={"id": {"S": book_id}}, ConsistentRead=True
    ).get("Item")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name.endswith("book")], ids=str)
@pytest.mark.parametrize("field", SERVER_SET_BOOK_FIELDS)
def test_server_set_book_fields_in_a_body_are_ignored_never_stored(
    world: World, route: Route, field: str
) -> None:
    value = SERVER_SET_BOOK_FIELDS[field]
    body = _json({**_book(world, world.admin), field: value})
    reply = send(
        world.url,
        route.method,
        route.target(world),
        body=body,
        headers=route.headers(world, world.admin, JSON),
    )
    world.store.forget()
    assert reply.status == (201 if route.method == "POST" else 200), reply.text
    world.secrets.assert_absent(reply.text)
    book = reply.json
    stored = _stored_book(world, book["id"])
    assert stored is not None
    assert book[field] != value
    assert stored[field]["S"] != value
    if route.method == "PUT":
        assert book["id"] == world.book_id
    assert _stored_book(world, SERVER_SET_BOOK_FIELDS["id"]) is None


# Authorization: Basic on POST /auth/login, the other way to send credentials.
BASIC_CASES = [
    ("scheme-alone", "Basic", None, 400),
    ("not-base64", "Basic !!!not-base64!!!", None, 400),
    ("no-colon", "Basic " + base64.b64encode(b"nocolon").decode(), None, 400),
    ("not-utf-8", "Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(), None, 400),
    ("lone-surrogate", "Basic " + base64.b64encode(b"\xed\xa0\x80:password1").decode(), None, 400),
    ("bearer-instead", "Bearer abc.def.ghi", None, 400),
    ("digest-scheme", 'Digest username="admin"', None, 400),
    ("and-a-json-body", "Basic " + base64.b64encode(b"someone:password1").decode(), {"u": 1}, 400),
]


@pytest.mark.parametrize(("name", "header", "body", "status"), BASIC_CASES, ids=[c[0] for c in BASIC_CASES])
def test_hostile_basic_credentials_are_refused(
    world: World, name: str, header: str, body: dict | None, status: int
) -> None:
    headers = [("Authorization", header)] + ([("Content-Type", JSON)] if body is not None else [])
    with world.store.unchanged(writable_tables("POST", "/auth/login")):
        reply = send(
            world.url,
            "POST",
            "/auth/login",
            body=_json(body) if body is not None else None,
            headers=headers,
        )
    assert_refused(reply, status, world.secrets)
