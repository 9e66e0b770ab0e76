"""Log hygiene (ASVS 5.0 16.2.5, 16.3.1, 16.3.2): every function runs every flow with sentinel
credentials while all logging is captured at DEBUG, and no line holds a password, a hash, a token,
a secret, a TOTP secret or a recovery code, while logins (succeeded, failed, locked out, with a
second factor), refresh-token reuse, authorizer denials and changes to accounts are still there
to see.
"""

from __future__ import annotations

import ast
import base64
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pyotp
import pytest

from books_api.limits import TOTP_STEP_SECONDS
from stack.template import ROOT, functions, template
from tests.unit.conftest import REGION, Functions, caller_context

PASSWORD = "Sentinel-pass-7f3a9c-lantern"
NEW_PASSWORD = "Sentinel-next-51d0e2-meadow"
WRONG_PASSWORD = "Sentinel-wrong-c4b8e7-harbor"


class Captured:
    """Everything the functions log: stdout/stderr (Powertools writes JSON there) and every record
    of the logging module, rendered with its message, arguments, extra fields and traceback."""

    def __init__(self, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        self.capfd = capfd
        self.caplog = caplog
        self.streams: list[str] = []

    def drain(self) -> None:
        out, err = self.capfd.readouterr()
        self.streams += [out, err]

    def text(self) -> str:
        self.drain()
        records = []
        for record in self.caplog.records:
            formatted = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
            records.append(f"{formatted} {record.exc_text or ''} {vars(record)!r}")
        return "\n".join([*self.streams, *records])


@pytest.fixture
def captured(
    lambdas: Functions, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Iterator[Captured]:
    caplog.set_level(logging.DEBUG)
    # The Powertools logger is one per process, made at the first import: set its level here.
    from books_api.observability import logger

    level = logger.log_level
    logger.setLevel(logging.DEBUG)
    yield Captured(capfd, caplog)
    logger.setLevel(level)


def secret_values(lambdas: Functions) -> list[str]:
    client = boto3.client("secretsmanager", region_name=REGION)
    values = []
    for logical_id in ("SigningSecret", "PageTokenSecret"):
        arn = lambdas.stack.ref(logical_id)
        versions = client.list_secret_version_ids(SecretId=arn)["Versions"]
        values += [
            client.get_secret_value(SecretId=arn, VersionId=version["VersionId"])["SecretString"]
            for version in versions
        ]
    return values


def password_hashes(lambdas: Functions) -> list[str]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=lambdas.stack.ref("UsersTable"))[
        "Items"
    ]
    return [item["password_hash"]["S"] for item in items if "password_hash" in item]


def every_mfa_flow(lambdas: Functions, admin: dict[str, str]) -> list[str]:
    """Multi-factor sign-in from enrolment to erasure, and the admin's routes: every TOTP secret,
    recovery code, MFA token and token pair handed out on the way."""
    handed_out: list[str] = []
    credentials = {"username": "dora", "password": PASSWORD}
    _, signed_up, _ = lambdas.call("signup", "POST", "/auth/signup", body=credentials)
    handed_out += [signed_up["access_token"], signed_up["refresh_token"]]
    dora = caller_context(signed_up)

    def enrol() -> tuple[pyotp.TOTP, list[str]]:
        _, enrolment, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=dora)
        handed_out.extend([enrolment["secret"], enrolment["otpauth_uri"]])
        totp = pyotp.TOTP(enrolment["secret"])
        _, confirmed, _ = lambdas.call(
            "signup", "POST", "/users/me/mfa/totp/confirm", body={"code": totp.now()}, authorizer=dora
        )
        # As shown, and as the functions compare them (without hyphens).
        handed_out.extend(confirmed["recovery_codes"])
        handed_out.extend(code.replace("-", "") for code in confirmed["recovery_codes"])
        return totp, confirmed["recovery_codes"]

    def challenge() -> str:
        _, body, _ = lambdas.call("login", "POST", "/auth/login", body=credentials)
        handed_out.append(body["mfa_token"])
        return body["mfa_token"]

    totp, codes = enrol()
    refused = {"mfa_token": challenge(), "code": "ABCD-EFGH-IJKL-MNOP"}
    assert lambdas.call("login", "POST", "/auth/mfa", body=refused)[0] == 401
    for code in (totp.at(time.time() + TOTP_STEP_SECONDS), codes[0]):
        _, pair, _ = lambdas.call("login", "POST", "/auth/mfa", body={"mfa_token": challenge(), "code": code})
        handed_out += [pair["access_token"], pair["refresh_token"]]
    removal = {"password": PASSWORD, "code": codes[1]}
    assert lambdas.call("signup", "DELETE", "/users/me/mfa", body=removal, authorizer=dora)[0] == 204
    _, codes = enrol()
    user = {"resource": "/users/{id}", "path_parameters": {"id": dora["principalId"]}, "authorizer": admin}
    path = f"/users/{dora['principalId']}"
    _, page, _ = lambdas.call("users", "GET", "/users", query={"limit": "1"}, authorizer=admin)
    lambdas.call("users", "GET", "/users", query={"next_token": page["next_token"]}, authorizer=admin)
    lambdas.call("users", "GET", path, **user)
    lambdas.call("users", "PATCH", path, body={"roles": ["reader", "admin"]}, **user)
    lambdas.call("users", "PATCH", path, body={"roles": ["reader"]}, **user)
    deletion = {"password": PASSWORD, "code": codes[0]}
    assert lambdas.call("signup", "DELETE", "/users/me", body=deletion, authorizer=dora)[0] == 204
    _, erin, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "erin", "password": PASSWORD}
    )
    erin_id = erin["user"]["id"]
    user = {"resource": "/users/{id}", "path_parameters": {"id": erin_id}, "authorizer": admin}
    assert lambdas.call("users", "DELETE", f"/users/{erin_id}", **user)[0] == 204
    return handed_out


def every_flow(lambdas: Functions, rotate: Any) -> list[str]:
    """Each route and lifecycle path once, and one key rotation; every token issued on the way."""
    tokens: list[str] = []

    def keep(pair: dict[str, Any]) -> dict[str, Any]:
        tokens.extend([pair["access_token"], pair["refresh_token"]])
        return pair

    def login(password: str, username: str = "alice", basic: bool = False) -> tuple[int, Any, dict]:
        if basic:
            header = base64.b64encode(f"{username}:{password}".encode()).decode()
            return lambdas.call("login", "POST", "/auth/login", headers={"Authorization": f"Basic {header}"})
        return lambdas.call("login", "POST", "/auth/login", body={"username": username, "password": password})

    status, first, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    assert status == 201
    keep(first)
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "bob", "password": "bob"})
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "bob", "password": PASSWORD * 20})
    lambdas.module("signup").accounts.set_user("admin", PASSWORD, ("reader", "admin"))
    admin = keep(login(PASSWORD, "admin", basic=True)[1])
    keep(login(PASSWORD)[1])
    login(WRONG_PASSWORD, basic=True)
    login(WRONG_PASSWORD, "nobody-here")
    for _ in range(5):
        login(WRONG_PASSWORD, "carol")
    assert login(PASSWORD, "carol")[0] == 429

    assert lambdas.authorizes(admin["access_token"])
    assert not lambdas.authorizes(admin["access_token"][:-4] + "AAAA")
    assert not lambdas.authorizes(admin["refresh_token"])
    expired = jwt.encode(
        {"sub": "x", "exp": int(time.time()) - 60}, b"k" * 32, algorithm="HS256", headers={"typ": "at+jwt"}
    )
    assert not lambdas.authorizes(expired)

    _, second, _ = lambdas.call(
        "login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]}
    )
    keep(second)
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]})[0]
        == 401
    )

    caller = caller_context(admin)
    lambdas.call("signup", "GET", "/users/me", authorizer=caller)
    for current in (WRONG_PASSWORD, PASSWORD):
        status, pair, _ = lambdas.call(
            "signup",
            "POST",
            "/users/me/password",
            body={"current_password": current, "new_password": NEW_PASSWORD},
            authorizer=caller,
        )
    keep(pair)
    _, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=caller
    )
    lambdas.call("books", "POST", "/books", body={"title": "U", "author": "B"}, authorizer=caller)
    _, page, _ = lambdas.call("books", "GET", "/books", query={"limit": "1"}, authorizer=caller)
    lambdas.call("books", "GET", "/books", query={"next_token": page["next_token"]}, authorizer=caller)
    lambdas.call("books", "GET", "/books", query={"next_token": page["next_token"] + "x"}, authorizer=caller)
    path = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": caller}
    lambdas.call("books", "PUT", f"/books/{book['id']}", body={"title": "T2", "author": "A"}, **path)
    lambdas.call("books", "DELETE", f"/books/{book['id']}", **path)
    lambdas.call(
        "login",
        "POST",
        "/auth/logout",
        body={"refresh_token": second["refresh_token"]},
        authorizer=caller_context(first),
    )
    tokens += every_mfa_flow(lambdas, caller)
    rotate()
    return tokens


def test_no_log_line_holds_a_password_hash_token_or_secret(
    lambdas: Functions, rotate: Any, captured: Captured
) -> None:
    tokens = every_flow(lambdas, rotate)
    logs = captured.text()
    forbidden = {
        "password": PASSWORD,
        "new password": NEW_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "Basic credentials": base64.b64encode(f"admin:{PASSWORD}".encode()).decode(),
        **{f"hash {n}": value for n, value in enumerate(password_hashes(lambdas))},
        **{f"secret {n}": value for n, value in enumerate(secret_values(lambdas))},
        **{f"token {n}": value for n, value in enumerate(tokens)},
        # A JWT's signature alone would let no one in, but it is the token's secret part.
        **{f"signature {n}": value.split(".")[2] for n, value in enumerate(tokens) if value.count(".") == 2},
    }
    assert len(forbidden) > 20
    leaked = sorted(name for name, value in forbidden.items() if value in logs)
    assert leaked == []
    # The events that must be logged still are (ASVS 16.3.1, 16.3.2).
    for message in (
        "Login succeeded",
        "Password accepted; a code is required",
        "Login succeeded with a second factor",
        "MFA sign-in refused",
        "TOTP enrolment started",
        "Multi-factor sign-in on; other sessions ended",
        "Multi-factor sign-in off",
        "Account deleted by its user",
        "User changed; their sessions ended",
        "User deleted by an admin",
        "Login failed",
        "Login refused: locked out",
        "Refresh token reused; session revoked",
        "Refresh refused",
        "Token refused",
        "Logged out",
        "Password changed; earlier sessions revoked",
        "Rotating the signing key",
    ):
        assert message in logs, message


def _records(captured: Captured, message: str) -> list[dict[str, Any]]:
    """The extra fields of each record logged with ``message``."""
    return [vars(record) for record in captured.caplog.records if record.getMessage() == message]


def test_a_failed_login_names_the_account_and_the_source_ip_but_never_an_unknown_username(
    lambdas: Functions, captured: Captured
) -> None:
    """So an operator can count failures by username and address (docs/OPERATIONS.md); a string
    that names no user may be a password typed into the username field, and is not logged."""
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "Alice", "password": PASSWORD})
    typed_password = "Sentinel-typed-0c41-meadow"
    for username in ("ALICE", typed_password):
        lambdas.call("login", "POST", "/auth/login", body={"username": username, "password": WRONG_PASSWORD})
    known, unknown = _records(captured, "Login failed")
    source_ip = json.loads((ROOT / "events" / "health.json").read_text())["requestContext"]["identity"][
        "sourceIp"
    ]
    assert (known["username"], known["source_ip"]) == ("alice", source_ip)
    assert (unknown["username"], unknown["source_ip"]) == (None, source_ip)
    assert typed_password.lower() not in captured.text().lower()


def test_a_lockout_refusal_names_the_source_ip(lambdas: Functions, captured: Captured) -> None:
    for _ in range(6):
        lambdas.call("login", "POST", "/auth/login", body={"username": "carol", "password": WRONG_PASSWORD})
    (refused,) = _records(captured, "Login refused: locked out")
    assert refused["source_ip"]


def test_the_capture_would_see_a_leak(lambdas: Functions, captured: Captured) -> None:
    """The capture above is not blind: a credential that a function logs is found."""
    from books_api.observability import logger

    logger.debug("careless", extra={"body": PASSWORD})
    logging.getLogger("some.library").warning("careless %s", NEW_PASSWORD)
    logs = captured.text()
    assert PASSWORD in logs
    assert NEW_PASSWORD in logs


# --- configuration ---------------------------------------------------------------------------------


def _environments() -> list[dict[str, Any]]:
    globals_env = template()["Globals"]["Function"]["Environment"]["Variables"]
    return [
        {**globals_env, **resource["Properties"].get("Environment", {}).get("Variables", {})}
        for resource in functions().values()
    ]


def test_no_function_logs_its_event_or_runs_in_debug_mode() -> None:
    for env in _environments():
        assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
        # Powertools' debug mode prints every event (bodies, Authorization headers) to stdout.
        assert str(env.get("POWERTOOLS_DEV", "false")).lower() == "false"
        assert str(env.get("POWERTOOLS_EVENT_HANDLER_DEBUG", "false")).lower() == "false"


def _handler_sources() -> list[Path]:
    return sorted((ROOT / "functions").glob("*/app.py"))


def test_no_handler_logs_the_event() -> None:
    assert _handler_sources()
    for path in _handler_sources():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "log_event":
                raise AssertionError(f"{path}: log_event set")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "logger"
            ):
                names = {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}
                attributes = {sub.attr for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}
                assert "event" not in names, f"{path}:{node.lineno} logs the event"
                assert not {"current_event", "body", "json_body", "headers"} & attributes, (
                    f"{path}:{node.lineno} logs the request"
                )
