"""The README's walk-through as a check: each request, the status it must get and what its body
must hold, against any running copy of the API (``make run``, ``sam local start-api``, a stack).

``walk_through`` returns one ``Step`` per request, with how long it took (a function's first
request includes its cold start); nothing a step prints holds a token or a password (only
statuses, and the ``message`` of an unexpected answer). ``get_books_timings`` times
authorized ``GET /books``. ``local_api.sam_local_check`` runs both through ``sam local start-api``;
``tests/integration/test_walk_through.py`` runs the walk-through against the local server.
"""

from __future__ import annotations

import base64
import json
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_api.http_client import Client, Reply

TOKEN_PAIR = {"access_token", "token_type", "expires_in", "refresh_token"}
BOOK = {"title": "The Left Hand of Darkness", "author": "Ursula K. Le Guin", "year": 1969}


def forged_token() -> str:
    """A well-formed JWT that no key of the stack signed. API Gateway (and the local server) answer
    it with 401; SAM CLI's gateway answers an authorizer's "Unauthorized" with 502 (docs/LOCAL.md)."""
    parts = ({"alg": "HS256", "typ": "at+jwt"}, {"sub": "nobody"})
    encoded = [base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode() for part in parts]
    return ".".join([*encoded, base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()])


@dataclass
class Step:
    """One request of the walk-through: what it must come to, what it came to."""

    name: str
    expected: int
    status: int | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == self.expected and not self.problems

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        got = "" if self.status == self.expected else f" (expected {self.expected})"
        detail = f": {'; '.join(self.problems)}" if self.problems else ""
        took = f"{self.seconds:.1f} s" if self.seconds >= 1 else f"{self.seconds * 1000:.0f} ms"
        return f"  {mark} {self.status}{got}  {self.name} ({took}){detail}"


class WalkThrough:
    """Runs the steps in order; a step's check adds problems, and a failed step's values are None."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.steps: list[Step] = []

    def step(
        self,
        name: str,
        expected: int,
        method: str,
        path: str,
        check: Callable[[Reply, list[str]], None] | None = None,
        **kwargs: Any,
    ) -> Reply | None:
        step = Step(name, expected)
        self.steps.append(step)
        started = time.perf_counter()
        try:
            reply = self.client.request(method, path, **kwargs)
        except OSError as error:
            step.problems.append(f"no answer: {type(error).__name__}")
            return None
        finally:
            step.seconds = time.perf_counter() - started
        step.status = reply.status
        if reply.status != expected:
            message = _body(reply).get("message")
            if isinstance(message, str):
                step.problems.append(f"message {message[:120]!r}")
            return None
        if check is not None:
            check(reply, step.problems)
        return None if step.problems else reply


def _body(reply: Reply) -> dict[str, Any]:
    """The reply's JSON object, or an empty one (an empty body, or not JSON)."""
    try:
        body = reply.json
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _has(keys: set[str]) -> Callable[[Reply, list[str]], None]:
    def check(reply: Reply, problems: list[str]) -> None:
        body = _body(reply)
        missing = keys - set(body)
        if missing:
            problems.append(f"missing {sorted(missing)}")
        if "token_type" in keys and body.get("token_type") != "Bearer":
            problems.append("token_type is not Bearer")

    return check


def _value(reply: Reply | None, key: str) -> Any:
    return _body(reply).get(key) if reply is not None else None


def _accounts(walk: WalkThrough, reader: str, *, token: str, admin_token: str) -> None:
    """The admin lists users, a reader may not, and a reader starts a TOTP enrolment."""

    def reader_listed(reply: Reply, problems: list[str]) -> None:
        if reader not in [item.get("username") for item in _value(reply, "items") or []]:
            problems.append("the reader is not listed")

    walk.step("GET /users as the admin", 200, "GET", "/users?limit=100", reader_listed, token=admin_token)
    walk.step("GET /users as a reader", 403, "GET", "/users", token=token)
    # Sealed by KMS (moto's, through the key the environment names) and kept until confirmed.
    walk.step(
        "POST /users/me/mfa/totp",
        200,
        "POST",
        "/users/me/mfa/totp",
        _has({"secret", "otpauth_uri"}),
        token=token,
    )


def walk_through(client: Client, admin: tuple[str, str], *, sam_cli_gateway: bool) -> list[Step]:
    """The README's walk-through, plus refresh, logout and the refusals that follow them.

    ``admin`` must exist with the admin role. A reader is signed up under a fresh name. With
    ``sam_cli_gateway`` a forged token is expected to get SAM CLI's 502 instead of API Gateway's 401.
    """
    walk = WalkThrough(client)
    reader = (f"reader-{secrets.token_hex(4)}", f"walk through {secrets.token_urlsafe(12)}")

    def health(reply: Reply, problems: list[str]) -> None:
        if _body(reply) != {"status": "ok"}:
            problems.append("body is not {'status': 'ok'}")

    walk.step("GET /health", 200, "GET", "/health", health)

    def signed_up(reply: Reply, problems: list[str]) -> None:
        _has({"user", *TOKEN_PAIR})(reply, problems)
        user = _value(reply, "user") or {}
        if user.get("username") != reader[0] or user.get("roles") != ["reader"]:
            problems.append("user is not the new reader")
        if {"password", "password_hash"} & set(user):
            problems.append("user carries its password or hash")

    walk.step(
        "POST /auth/signup",
        201,
        "POST",
        "/auth/signup",
        signed_up,
        body={"username": reader[0], "password": reader[1]},
    )
    pair = walk.step(
        "POST /auth/login (JSON)",
        200,
        "POST",
        "/auth/login",
        _has(TOKEN_PAIR),
        body={"username": reader[0], "password": reader[1]},
    )
    walk.step("POST /auth/login (Basic)", 200, "POST", "/auth/login", _has(TOKEN_PAIR), basic=reader)
    token = _value(pair, "access_token")

    def me(reply: Reply, problems: list[str]) -> None:
        if _value(reply, "username") != reader[0]:
            problems.append("not the caller's profile")

    walk.step("GET /users/me", 200, "GET", "/users/me", me, token=token)
    walk.step("GET /books with a token", 200, "GET", "/books", _has({"items", "next_token"}), token=token)
    walk.step("GET /books without a token", 401, "GET", "/books")
    walk.step(
        "GET /books with a forged token",
        502 if sam_cli_gateway else 401,
        "GET",
        "/books",
        token=forged_token(),
    )
    walk.step("POST /books as a reader", 403, "POST", "/books", body=BOOK, token=token)
    admin_pair = walk.step(
        "POST /auth/login (Basic, admin)", 200, "POST", "/auth/login", _has(TOKEN_PAIR), basic=admin
    )
    created = walk.step(
        "POST /books as the admin",
        201,
        "POST",
        "/books",
        _has({"id", "title", "author", "created_at"}),
        body=BOOK,
        token=_value(admin_pair, "access_token"),
    )

    def listed(reply: Reply, problems: list[str]) -> None:
        ids = [item.get("id") for item in _value(reply, "items") or []]
        if _value(created, "id") not in ids:
            problems.append("the new book is not listed")

    walk.step("GET /books?limit=10", 200, "GET", "/books?limit=10", listed, token=token)
    _accounts(walk, reader[0], token=token, admin_token=_value(admin_pair, "access_token"))

    def preflight(reply: Reply, problems: list[str]) -> None:
        if reply.header("Access-Control-Allow-Origin") != "*":
            problems.append("no Access-Control-Allow-Origin: *")
        if not {"GET", "POST"} <= set(reply.header("Access-Control-Allow-Methods").split(",")):
            problems.append("Access-Control-Allow-Methods lacks GET or POST")
        if "Authorization" not in reply.header("Access-Control-Allow-Headers"):
            problems.append("Access-Control-Allow-Headers lacks Authorization")

    walk.step(
        "OPTIONS /books (CORS preflight)",
        200,
        "OPTIONS",
        "/books",
        preflight,
        headers={"Origin": "https://books.example", "Access-Control-Request-Method": "GET"},
    )
    spent = _value(pair, "refresh_token")
    fresh = walk.step(
        "POST /auth/refresh", 200, "POST", "/auth/refresh", _has(TOKEN_PAIR), body={"refresh_token": spent}
    )
    walk.step(
        "POST /auth/logout",
        204,
        "POST",
        "/auth/logout",
        body={"refresh_token": _value(fresh, "refresh_token")},
        token=_value(fresh, "access_token"),
    )
    walk.step(
        "POST /auth/refresh after logout",
        401,
        "POST",
        "/auth/refresh",
        body={"refresh_token": _value(fresh, "refresh_token")},
    )
    walk.step(
        "POST /auth/refresh with a spent token", 401, "POST", "/auth/refresh", body={"refresh_token": spent}
    )
    return walk.steps


def get_books_timings(client: Client, token: str, *, requests: int, warm_up: int = 20) -> list[float]:
    """Milliseconds of ``requests`` sequential authorized GET /books, after ``warm_up`` untimed ones."""
    timings = []
    for index in range(warm_up + requests):
        started = time.perf_counter()
        reply = client.get("/books", token=token)
        elapsed = (time.perf_counter() - started) * 1000
        if reply.status != 200:
            raise RuntimeError(f"GET /books answered {reply.status} while timing")
        if index >= warm_up:
            timings.append(elapsed)
    return timings


def percentiles(timings: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(timings)}
