"""Races: every guard with a limit or a single-use rule, attacked with simultaneous attempts.

Each racer runs in its own copy of the function (as concurrent Lambda invocations do), and a
threading.Barrier holds every racer's first write until all of them have made their reads, so
only the conditional writes can keep the outcome one of the serial outcomes; the authorizers
are held likewise at their reads of the signing secret. Where a guard's worst moment is later
(a lockout's, while other guesses are inside bcrypt), a Gate holds the racers there too.
Guards: one book's conditional writes, one username's signup, one password's change, the
lockout of logins, of password changes and of MFA codes, a refresh racing a password change, the
previous signing key's grace window, the last enabled admin, and the single use of a TOTP code,
an MFA token and a recovery code. (Simultaneous refreshes of one token: test_sessions; over HTTP:
tests/integration/test_concurrency and test_signing_keys.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import boto3
import jwt
import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from books_api import mfa, passwords
from books_api.keys import ROTATION_SKEW_SECONDS
from books_api.rotation import KeyRotation
from tests.threads import Gate, race
from tests.unit.conftest import (
    LOGICAL_IDS,
    REGION,
    TEST_BCRYPT_COST,
    Enrolled,
    FakeExtension,
    Functions,
    LambdaContext,
    TotpClock,
    api_event,
    authorizer_allows,
    caller_context,
    load_function,
    signed_token,
    signed_up,
    signing_secret,
)
from tests.utils import ADMIN, NEW_PASSWORD, PASSWORD

_WRITES = frozenset({"put_item", "update_item", "delete_item", "transact_write_items"})


class WritesAfter:
    """A DynamoDB client whose first write waits at ``barrier``: every racer has read by then."""

    made: ClassVar[list[WritesAfter]] = []

    def __init__(self, client: Any, barrier: threading.Barrier) -> None:
        self._client = client
        self._barrier = barrier
        self._waited = False
        WritesAfter.made.append(self)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in _WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self._waited:
                self._waited = True
                self._barrier.wait()
            return method(*args, **kwargs)

        return write


@pytest.fixture(autouse=True)
def _every_barrier_is_reached() -> Any:
    """A racer that writes through another client than the one held would race unheld: the
    test would pass without lining anything up. So every held client must have written."""
    WritesAfter.made.clear()
    yield
    assert all(client._waited for client in WritesAfter.made), "a held client never wrote"


@pytest.fixture(autouse=True)
def _metrics_written_one_invocation_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The copies below share this process's metric set, which Lambda's environments never share:
    one invocation's flush could otherwise empty it between another's check that it holds a
    metric and its serialising it ("Must contain at least one metric"), or another could add to
    it while it is serialised. So adding and flushing take turns, as in one environment."""
    lock = threading.Lock()
    for name in ("add_metric", "flush_metrics"):
        method = getattr(AmazonCloudWatchEMFProvider, name)

        def locked(*args: Any, method: Callable[..., None] = method, **kwargs: Any) -> None:
            with lock:
                method(*args, **kwargs)

        monkeypatch.setattr(AmazonCloudWatchEMFProvider, name, locked)


def copies(lambdas: Functions, name: str, count: int) -> list[Any]:
    """``count`` fresh copies of function ``name``: separate execution environments."""
    env = lambdas.stack.environment(LOGICAL_IDS[name])
    if "BCRYPT_COST" in env:
        env["BCRYPT_COST"] = TEST_BCRYPT_COST
    return [load_function(name, env, lambdas.monkeypatch) for _ in range(count)]


def call(module: Any, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = module.lambda_handler(api_event(method, path, **kwargs), LambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


# --- books ---------------------------------------------------------------------------------------


def book_path(book_id: str) -> dict[str, Any]:
    return {"resource": "/books/{id}", "path_parameters": {"id": book_id}, "authorizer": ADMIN}


def new_book(lambdas: Functions) -> str:
    status, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=ADMIN
    )
    assert status == 201
    return book["id"]


def writing_together(lambdas: Functions, name: str, count: int, store: Callable[[Any], Any]) -> list[Any]:
    """``count`` copies of function ``name`` whose ``store(module)`` (a repository) holds its first
    write until every copy has made its reads."""
    barrier = threading.Barrier(count, timeout=10)
    modules = copies(lambdas, name, count)
    for module in modules:
        repository = store(module)
        repository._dynamodb = WritesAfter(repository.dynamodb, barrier)
    return modules


def racing_books(lambdas: Functions, count: int) -> list[Any]:
    return writing_together(lambdas, "books", count, lambda module: module.books)


BODIES = [
    {"title": "First", "author": "Ann", "year": 1901, "isbn": "0-306-40615-2"},
    {"title": "Second", "author": "Bea"},
    {"title": "Third", "author": "Cal", "year": 1903},
    {"title": "Fourth", "author": "Dot", "isbn": "978-3-16-148410-0"},
]


def client_fields(book: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in book.items() if key in ("title", "author", "year", "isbn")}


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, **({"isbn": body["isbn"].replace("-", "")} if "isbn" in body else {})}


def test_simultaneous_replaces_of_one_book_leave_exactly_one_of_them(lambdas: Functions) -> None:
    book_id = new_book(lambdas)
    modules = racing_books(lambdas, len(BODIES))
    results = race(
        *(
            lambda module=module, body=body: call(
                module, "PUT", f"/books/{book_id}", body=body, **book_path(book_id)
            )
            for module, body in zip(modules, BODIES, strict=True)
        )
    )
    assert [status for status, _ in results] == [200] * len(BODIES)
    _, stored, _ = lambdas.call("books", "GET", f"/books/{book_id}", **book_path(book_id))
    # Never a mix of two bodies (say one's title with another's year).
    assert client_fields(stored) in [normalised(body) for body in BODIES]
    assert client_fields(stored) in [client_fields(body) for _, body in results]


class _Late:
    """Writes of ``client`` (after its barrier) held back ``seconds``."""

    def __init__(self, client: WritesAfter, seconds: float) -> None:
        self._client = client
        self._seconds = seconds

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name not in _WRITES:
            return method

        def write(*args: Any, **kwargs: Any) -> Any:
            if not self._client._waited:
                self._client._waited = True
                self._client._barrier.wait()
            time.sleep(self._seconds)
            return getattr(self._client._client, name)(*args, **kwargs)

        return write


@pytest.mark.parametrize("first", ["put", "delete"])
def test_a_replace_racing_a_delete_never_brings_the_book_back(lambdas: Functions, first: str) -> None:
    book_id = new_book(lambdas)
    barrier = threading.Barrier(2, timeout=10)
    put_module, delete_module = copies(lambdas, "books", 2)
    # Both have read (checked the caller, parsed the body) before either writes; then the one
    # that goes second waits a moment, so both orders are tried.
    for module, late in ((put_module, first == "delete"), (delete_module, first == "put")):
        module.books._dynamodb = _Late(WritesAfter(module.books.dynamodb, barrier), 0.1 if late else 0)
    put, delete = race(
        lambda: call(put_module, "PUT", f"/books/{book_id}", body=BODIES[0], **book_path(book_id)),
        lambda: call(delete_module, "DELETE", f"/books/{book_id}", **book_path(book_id)),
    )
    serial = {"put": (200, 204), "delete": (404, 204)}[first]
    assert (put[0], delete[0]) == serial
    assert lambdas.call("books", "GET", f"/books/{book_id}", **book_path(book_id))[0] == 404
    _, page, _ = lambdas.call("books", "GET", "/books", authorizer=ADMIN)
    assert page["items"] == []


def test_simultaneous_deletes_of_one_book_give_one_204(lambdas: Functions) -> None:
    book_id = new_book(lambdas)
    modules = racing_books(lambdas, 4)
    results = race(
        *(
            lambda module=module: call(module, "DELETE", f"/books/{book_id}", **book_path(book_id))
            for module in modules
        )
    )
    assert sorted(status for status, _ in results) == [204, 404, 404, 404]


# --- accounts ------------------------------------------------------------------------------------


def test_simultaneous_password_changes_leave_exactly_one_new_password(lambdas: Functions) -> None:
    _, first, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    claims = jwt.decode(first["access_token"], options={"verify_signature": False})
    caller = {"principalId": claims["sub"], "username": "alice", "roles": "reader", "sid": claims["sid"]}
    new_passwords = [f"{NEW_PASSWORD}-{n}" for n in range(3)]
    # The change is one transaction of the users repository (with the new session's writes).
    modules = writing_together(lambdas, "signup", len(new_passwords), lambda module: module.accounts.users)
    results = race(
        *(
            lambda module=module, new=new: call(
                module,
                "POST",
                "/users/me/password",
                body={"current_password": PASSWORD, "new_password": new},
                authorizer=caller,
            )
            for module, new in zip(modules, new_passwords, strict=True)
        )
    )
    statuses = [status for status, _ in results]
    # Serially: one 200, then 401s (the current password has changed); at once, the losers may
    # learn of it as a 409 instead. Never two new passwords.
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 401, 409}
    winner = new_passwords[statuses.index(200)]

    def login(password: str) -> int:
        return lambdas.call("login", "POST", "/auth/login", body={"username": "alice", "password": password})[
            0
        ]

    assert [login(password) for password in [PASSWORD, *new_passwords]] == [
        200 if password == winner else 401 for password in [PASSWORD, *new_passwords]
    ]


def caller_of(pair: dict[str, Any]) -> dict[str, str]:
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return {
        "principalId": claims["sub"],
        "username": claims["username"],
        "roles": "reader",
        "sid": claims["sid"],
    }


def holding_bcrypt(monkeypatch: pytest.MonkeyPatch, gate: Gate) -> list[int]:
    """Every racer's first bcrypt check waits at ``gate``: whatever a guard let through is then
    inside bcrypt at once. Returns the list the gate's racers are counted into, per check."""
    checked: list[int] = []
    real = passwords._checkpw

    def held(password: str, password_hash: str) -> bool:
        gate.hold()
        checked.append(threading.get_ident())
        return real(password, password_hash)

    monkeypatch.setattr(passwords, "_checkpw", held)
    return checked


@pytest.mark.parametrize("route", ["login", "password change"])
def test_of_twelve_simultaneous_wrong_passwords_at_most_five_are_checked(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """The lockout admits each check before it runs, in one conditional write: twelve guesses
    that all arrive before any is counted get five checks, whatever the interleaving."""
    pair = signed_up(lambdas)
    count, threshold = 12, 5
    name = "login" if route == "login" else "signup"
    # Every racer has read before any admission is written; then every admitted one is in bcrypt.
    modules = writing_together(lambdas, name, count, lambda module: module.accounts.throttle)
    gate = Gate(count)
    checked = holding_bcrypt(monkeypatch, gate)

    def attempt(module: Any, n: int) -> tuple[int, Any]:
        if route == "login":
            return call(
                module, "POST", "/auth/login", body={"username": "alice", "password": f"wrong-guess-{n}"}
            )
        body = {"current_password": f"wrong-guess-{n}", "new_password": NEW_PASSWORD}
        return call(module, "POST", "/users/me/password", body=body, authorizer=caller_of(pair))

    results = race(
        *(lambda module=module, n=n: attempt(module, n) for n, module in enumerate(modules)), gate=gate
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [401] * threshold + [429] * (count - threshold), results
    assert len(set(checked)) == gate.reached == threshold
    # Locked: the right password is refused too, without a check.
    status, _, headers = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
    )
    assert (status, int(headers["retry-after"]) >= 1) == (429, True)
    assert len(checked) == threshold


def test_twelve_simultaneous_guesses_for_an_unknown_username_get_five_checks_too(
    lambdas: Functions, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 12
    modules = copies(lambdas, "login", count)
    gate = Gate(count)
    checked = holding_bcrypt(monkeypatch, gate)
    results = race(
        *(
            lambda module=module, n=n: call(
                module, "POST", "/auth/login", body={"username": "nobody", "password": f"wrong-guess-{n}"}
            )
            for n, module in enumerate(modules)
        ),
        gate=gate,
    )
    assert sorted(status for status, _ in results) == [401] * 5 + [429] * 7
    assert len(checked) == 5


def test_simultaneous_signups_for_one_name_give_exactly_one_201(lambdas: Functions) -> None:
    count = 6
    modules = writing_together(lambdas, "signup", count, lambda module: module.accounts.users)
    results = race(
        *(
            lambda module=module, n=n: call(
                module, "POST", "/auth/signup", body={"username": "Alice", "password": f"{PASSWORD}-{n}"}
            )
            for n, module in enumerate(modules)
        )
    )
    assert sorted(status for status, _ in results) == [201] + [409] * (count - 1)
    winner = next(n for n, (status, _) in enumerate(results) if status == 201)
    assert (
        lambdas.call(
            "login", "POST", "/auth/login", body={"username": "alice", "password": f"{PASSWORD}-{winner}"}
        )[0]
        == 200
    )


@pytest.mark.parametrize("first", ["refresh", "change"])
def test_a_refresh_racing_a_password_change_issues_nothing_once_the_change_is_in(
    lambdas: Functions, first: str
) -> None:
    """Both have read the session as current before either writes; whichever writes second sees
    the other's write, as if they had run one after the other."""
    pair = signed_up(lambdas)
    (refresher,) = copies(lambdas, "login", 1)
    (changer,) = copies(lambdas, "signup", 1)
    barrier = threading.Barrier(2, timeout=10)
    for writer, late in (
        (refresher.accounts.sessions, first == "change"),
        (changer.accounts.users, first == "refresh"),
    ):
        writer._dynamodb = _Late(WritesAfter(writer.dynamodb, barrier), 0.2 if late else 0)
    refreshed, changed = race(
        lambda: call(refresher, "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]}),
        lambda: call(
            changer,
            "POST",
            "/users/me/password",
            body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            authorizer=caller_of(pair),
        ),
    )
    assert changed[0] == 200
    if first == "change":
        assert refreshed == (401, {"message": "Invalid refresh token"})
    else:
        assert refreshed[0] == 200
        # Its session ended with the change all the same.
        status, _, _ = lambdas.call(
            "login", "POST", "/auth/refresh", body={"refresh_token": refreshed[1]["refresh_token"]}
        )
        assert status == 401


# --- the previous signing key --------------------------------------------------------------------


def held_at_first_read(extension: FakeExtension, count: int, stage: str | None = None) -> None:
    """Each racer's first read of the secret (of ``stage``, if given) waits until ``count`` racers
    are there: they all decide on the keys at the same moment."""
    barrier, seen = threading.Barrier(count, timeout=10), threading.local()

    def hold(asked: str) -> None:
        if not getattr(seen, "held", False) and stage in (None, asked):
            seen.held = True
            barrier.wait()

    extension.before_answer = hold


def allows(module: Any, token: str) -> bool:
    return authorizer_allows(lambda event: module.lambda_handler(event, LambdaContext()), token)


def test_simultaneous_tokens_of_the_previous_key_are_judged_by_when_they_were_issued(
    lambdas: Functions, rotate: Any, secrets_extension: FakeExtension
) -> None:
    """Twelve authorizers at once, each holding a token of the previous key: the six issued before
    the rotation took effect pass, the six signed after it (a leaked key minting admins) do not."""
    previous = signing_secret(lambdas.stack)
    rotate()
    # Dated 600 s ago: it reached every signer long ago (key cache 300 s + skew), tokens live 900 s.
    rotated_at = secrets_extension.age(lambdas.stack.ref("SigningSecret"), 600)
    modules = copies(lambdas, "authorizer", 12)
    signed_until = int(rotated_at) + modules[0].settings.tokens.secret_max_age_seconds + ROTATION_SKEW_SECONDS
    before = [signed_token(previous, issued_at=signed_until - 2 * n) for n in range(6)]
    after = [
        signed_token(previous, issued_at=signed_until + 1 + 50 * n, roles=["reader", "admin"])
        for n in range(6)
    ]
    held_at_first_read(secrets_extension, len(modules), "AWSPREVIOUS")
    results = race(
        *(
            lambda module=module, token=token: allows(module, token)
            for module, token in zip(modules, before + after, strict=True)
        )
    )
    assert results == [True] * 6 + [False] * 6


def test_a_revocation_reaches_simultaneous_warm_authorizers_at_the_first_token_of_the_new_key(
    lambdas: Functions, secrets_extension: FakeExtension
) -> None:
    """Eight warm authorizers, each with the leaked key still current in its cache, meet a token of
    the new key at once after --revoke-previous: from then on none accepts the leaked key."""
    leaked, now = signing_secret(lambdas.stack), int(time.time())
    earlier, forged = (
        signed_token(leaked, issued_at=now - 60),
        signed_token(leaked, issued_at=now, roles=["reader", "admin"]),
    )
    modules = copies(lambdas, "authorizer", 8)
    assert all(allows(module, earlier) for module in modules)
    rotation = KeyRotation(boto3.client("secretsmanager", region_name=REGION))
    rotation.rotate_now(lambdas.stack.ref("SigningSecret"))
    rotation.revoke_previous(lambdas.stack.ref("SigningSecret"))
    new = signed_token(signing_secret(lambdas.stack), issued_at=now)
    held_at_first_read(secrets_extension, len(modules))
    results = race(
        *(
            lambda module=module: [allows(module, token) for token in (new, forged, earlier)]
            for module in modules
        )
    )
    assert results == [[True, False, False]] * len(modules)


# --- user administration -------------------------------------------------------------------------

# What an admin may do to another: each lowers the count of enabled admins by one.
ACTIONS = {
    "demote": ("PATCH", {"roles": ["reader"]}, 200),
    "disable": ("PATCH", {"disabled": True}, 200),
    "delete": ("DELETE", None, 204),
}


def signed_in_admins(lambdas: Functions, count: int) -> list[dict[str, Any]]:
    """``count`` enabled admins (as the operator makes them), each signed in: their token pairs."""
    accounts = lambdas.module("signup").accounts
    pairs = []
    for n in range(count):
        accounts.set_user(f"admin{n}", PASSWORD, ("reader", "admin"))
        status, pair, _ = lambdas.call(
            "login", "POST", "/auth/login", body={"username": f"admin{n}", "password": PASSWORD}
        )
        assert status == 200
        pairs.append(pair)
    return pairs


def enabled_admins(lambdas: Functions) -> list[str]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=lambdas.stack.ref("UsersTable"))[
        "Items"
    ]
    return sorted(
        item["username"]["S"]
        for item in items
        if "id" in item and {"S": "admin"} in item["roles"]["L"] and not item["disabled"]["BOOL"]
    )


@pytest.mark.parametrize(
    "actions",
    [
        ("demote", "demote"),
        ("disable", "disable"),
        ("delete", "delete"),
        ("demote", "delete"),
        ("disable", "demote"),
        ("demote", "disable", "delete"),
        ("delete", "delete", "delete"),
    ],
    ids="-".join,
)
def test_admins_acting_on_each_other_at_once_leave_exactly_one_enabled_admin(
    lambdas: Functions, actions: tuple[str, ...]
) -> None:
    """Each of N admins demotes, disables or deletes the next one at once: any N - 1 of these are
    allowed, all N would leave no enabled admin, so exactly one is refused (409)."""
    pairs = signed_in_admins(lambdas, len(actions))
    # Each change is one transaction of the users repository: the user's item and the count.
    modules = writing_together(lambdas, "users", len(actions), lambda module: module.directory.users)

    def act(n: int) -> tuple[int, Any]:
        method, body, _ = ACTIONS[actions[n]]
        target = caller_context(pairs[(n + 1) % len(pairs)])["principalId"]
        return call(
            modules[n],
            method,
            f"/users/{target}",
            resource="/users/{id}",
            path_parameters={"id": target},
            body=body,
            authorizer=caller_context(pairs[n]),
        )

    results = race(*(lambda n=n: act(n) for n in range(len(actions))))
    refused = [n for n, (status, _) in enumerate(results) if status == 409]
    assert len(refused) == 1, results
    assert results[refused[0]][1] == {"message": "This would leave no enabled admin"}
    assert [status for n, (status, _) in enumerate(results) if n not in refused] == [
        ACTIONS[action][2] for n, action in enumerate(actions) if n not in refused
    ]
    assert len(enabled_admins(lambdas)) == 1
    count = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=lambdas.stack.ref("UsersTable"), Key={"username": {"S": "#enabled-admins"}}
    )["Item"]
    assert count["admins"] == {"N": "1"}


# --- multi-factor sign-in ------------------------------------------------------------------------


def mfa_user(lambdas: Functions, enrol: Callable[[dict[str, Any]], Enrolled], clock: TotpClock) -> Enrolled:
    """alice, with multi-factor sign-in on, a step after the code that confirmed it."""
    enrolled = enrol(signed_up(lambdas))
    clock.step += 1
    return enrolled


def mfa_tokens(lambdas: Functions, count: int) -> list[str]:
    """The MFA tokens of ``count`` password logins of alice."""
    tokens = []
    for _ in range(count):
        status, body, _ = lambdas.call(
            "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
        )
        assert (status, body["mfa_required"]) == (200, True)
        tokens.append(body["mfa_token"])
    return tokens


def signing_in_together(lambdas: Functions, tokens: list[str], codes: list[str]) -> list[tuple[int, Any]]:
    """POST /auth/mfa with each MFA token and code, at once, each in its own copy of the login
    function; the sign-in's one transaction (spend the code and the MFA token, start the session)
    waits until every copy has checked its token and code."""
    modules = writing_together(lambdas, "login", len(tokens), lambda module: module.accounts.sessions)
    return race(
        *(
            lambda module=module, token=token, code=code: call(
                module, "POST", "/auth/mfa", body={"mfa_token": token, "code": code}
            )
            for module, token, code in zip(modules, tokens, codes, strict=True)
        )
    )


def recovery_codes_left(lambdas: Functions) -> int:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=lambdas.stack.ref("UsersTable"), Key={"username": {"S": "alice"}}
    )["Item"]
    return len(item["recovery_codes"]["SS"])


def test_one_totp_code_sent_with_simultaneous_mfa_tokens_signs_in_once(
    lambdas: Functions, enrol: Callable[[dict[str, Any]], Enrolled], totp_clock: TotpClock
) -> None:
    enrolled = mfa_user(lambdas, enrol, totp_clock)
    count = 4
    code = totp_clock.code(enrolled.secret, totp_clock.step)
    results = signing_in_together(lambdas, mfa_tokens(lambdas, count), [code] * count)
    assert sorted(status for status, _ in results) == [200] + [401] * (count - 1), results
    assert [body for status, body in results if status == 401] == [{"message": "Invalid code"}] * (count - 1)
    (pair,) = [body for status, body in results if status == 200]
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})[0]
        == 200
    )
    (token,) = mfa_tokens(lambdas, 1)
    assert lambdas.call("login", "POST", "/auth/mfa", body={"mfa_token": token, "code": code})[0] == 401


def test_one_mfa_token_sent_with_simultaneous_codes_signs_in_once(
    lambdas: Functions, enrol: Callable[[dict[str, Any]], Enrolled], totp_clock: TotpClock
) -> None:
    enrolled = mfa_user(lambdas, enrol, totp_clock)
    count = 4
    results = signing_in_together(lambdas, mfa_tokens(lambdas, 1) * count, enrolled.recovery_codes[:count])
    assert sorted(status for status, _ in results) == [200] + [401] * (count - 1), results
    assert [body for status, body in results if status == 401] == [
        {"message": "Invalid or expired MFA token"}
    ] * (count - 1)
    # Only the winner's code was spent.
    assert recovery_codes_left(lambdas) == 10 - 1


def test_one_recovery_code_sent_with_simultaneous_mfa_tokens_signs_in_once(
    lambdas: Functions, enrol: Callable[[dict[str, Any]], Enrolled], totp_clock: TotpClock
) -> None:
    enrolled = mfa_user(lambdas, enrol, totp_clock)
    count = 4
    results = signing_in_together(lambdas, mfa_tokens(lambdas, count), [enrolled.recovery_codes[0]] * count)
    assert sorted(status for status, _ in results) == [200] + [401] * (count - 1), results
    assert [body for status, body in results if status == 401] == [{"message": "Invalid code"}] * (count - 1)
    assert recovery_codes_left(lambdas) == 10 - 1


def test_of_twelve_simultaneous_wrong_codes_at_most_five_are_checked(
    lambdas: Functions,
    monkeypatch: pytest.MonkeyPatch,
    enrol: Callable[[dict[str, Any]], Enrolled],
    totp_clock: TotpClock,
) -> None:
    """The lockout of a user's MFA codes admits each check before it runs, as the password's does:
    twelve wrong codes that all arrive before any is counted get five checks."""
    enrolled = mfa_user(lambdas, enrol, totp_clock)
    count, threshold = 12, 5
    (token,) = mfa_tokens(lambdas, 1)
    # Every racer has read the MFA token before any admission is written; then every admitted one
    # is checking its code at once.
    modules = writing_together(lambdas, "login", count, lambda module: module.accounts.throttle)
    gate = Gate(count)
    checked: list[int] = []
    real = mfa.verify_code

    def held(*args: Any, **kwargs: Any) -> Any:
        gate.hold()
        checked.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(mfa, "verify_code", held)
    wrong = [f"{n:06d}" for n in range(100, 100 + count)]
    assert not {totp_clock.code(enrolled.secret, totp_clock.step + d) for d in (-1, 0, 1)} & set(wrong)
    results = race(
        *(
            lambda module=module, code=code: call(
                module, "POST", "/auth/mfa", body={"mfa_token": token, "code": code}
            )
            for module, code in zip(modules, wrong, strict=True)
        ),
        gate=gate,
    )
    assert sorted(status for status, _ in results) == [401] * threshold + [429] * (count - threshold), results
    assert len(set(checked)) == gate.reached == threshold
    # Locked: the right code is refused too, without a check.
    right = totp_clock.code(enrolled.secret, totp_clock.step)
    status, _, headers = lambdas.call("login", "POST", "/auth/mfa", body={"mfa_token": token, "code": right})
    assert (status, int(headers["retry-after"]) >= 1) == (429, True)
    assert len(checked) == threshold
