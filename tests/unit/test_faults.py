"""Fault injection: DynamoDB throttled or unreachable, Secrets Manager down or slow.

Every API route answers 503 with Retry-After and a JSON message (never a 500), the authorizer
denies, a failed write leaves nothing half done, and no invocation outlives its time budget.
Faults are injected on the very boto3 clients the functions use (``books_api.aws.client``), in
front of moto: a ``before-call`` hook answers with an AWS error or raises a connection error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from books_api import aws, budget
from stack.template import template
from tests.unit.conftest import METHOD_ARN, REGION, Functions, caller_context
from tests.utils import ADMIN, NEW_PASSWORD, PASSWORD

BOOK = {"title": "The Dispossessed", "author": "Ursula K. Le Guin"}
MISSING_BOOK = "00000000-0000-4000-8000-000000000000"

Fault = Callable[[str, dict[str, Any]], Any]


def aws_error(code: str, status: int = 400, **extra: Any) -> Fault:
    """An AWS error response, as the service would send it once botocore's retries are spent."""

    def answer(operation: str, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        parsed = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {}, **extra}
        return SimpleNamespace(status_code=status, headers={}), parsed

    answer.__name__ = code
    return answer


def raising(error: Exception) -> Fault:
    def answer(operation: str, params: dict[str, Any]) -> None:
        raise error

    answer.__name__ = type(error).__name__
    return answer


def _endpoint(service: str) -> str:
    return f"https://{service}.{REGION}.amazonaws.com"


def connection_faults(service: str) -> list[Fault]:
    url = _endpoint(service)
    return [
        raising(EndpointConnectionError(endpoint_url=url)),
        raising(ConnectTimeoutError(endpoint_url=url)),
        raising(ReadTimeoutError(endpoint_url=url)),
        raising(ConnectionClosedError(endpoint_url=url)),
    ]


DYNAMODB_FAULTS = [
    aws_error("ProvisionedThroughputExceededException"),
    aws_error("ThrottlingException"),
    aws_error("RequestLimitExceeded"),
    aws_error("InternalServerError", 500),
    aws_error("ServiceUnavailable", 503),
    *connection_faults("dynamodb"),
]
TRANSACTION_FAULTS = [
    aws_error(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": "ThrottlingError"}, {"Code": "None"}, {"Code": "None"}],
    ),
    aws_error(
        "TransactionCanceledException",
        CancellationReasons=[{"Code": "None"}, {"Code": "ProvisionedThroughputExceeded"}, {"Code": "None"}],
    ),
]
SECRETS_FAULTS = [
    aws_error("ThrottlingException"),
    aws_error("InternalServiceError", 500),
    *connection_faults("secretsmanager"),
]


class Injector:
    """Faults on the functions' own clients: ``fail`` until ``clear``."""

    def __init__(self) -> None:
        self.active: dict[str, tuple[Fault, frozenset[str] | None]] = {}
        self.hooked: set[str] = set()

    def fail(self, service: str, fault: Fault, operations: set[str] | None = None) -> None:
        if service not in self.hooked:
            events = aws.client(service).meta.events
            events.register("before-parameter-build", self._keep_params)
            events.register("before-call", self._hook(service))
            self.hooked.add(service)
        self.active[service] = (fault, frozenset(operations) if operations else None)

    def clear(self) -> None:
        self.active.clear()

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = params

    def _hook(self, service: str) -> Callable[..., Any]:
        def before_call(model: Any, context: dict[str, Any], **_: Any) -> Any:
            fault, operations = self.active.get(service, (None, None))
            if fault is None or (operations is not None and model.name not in operations):
                return None
            return fault(model.name, context["api_params"])

        return before_call


@pytest.fixture
def faults() -> Injector:
    return Injector()


def assert_unavailable(response: tuple[int, Any, dict[str, str]], case: str) -> None:
    status, body, headers = response
    assert status == 503, (case, status, body)
    assert isinstance(body["message"], str) and body["message"], case
    assert set(body) <= {"message", "errors"}, case
    assert int(headers["retry-after"]) >= 1, case
    assert "Traceback" not in json.dumps(body), case


def signup(lambdas: Functions, username: str = "alice") -> tuple[int, Any, dict]:
    return lambdas.call("signup", "POST", "/auth/signup", body={"username": username, "password": PASSWORD})


def items(lambdas: Functions, logical_id: str) -> list[dict[str, Any]]:
    """Every item of a table, read with a client of our own (no fault on it)."""
    client = boto3.client("dynamodb", region_name=REGION)
    return client.scan(TableName=lambdas.stack.ref(logical_id), ConsistentRead=True)["Items"]


def each(faults: Injector, service: str, cases: list[Fault], call: Callable[[], Any], **kwargs: Any) -> int:
    """``call`` once under each fault in ``cases``, asserting a 503; the number of cases run."""
    for fault in cases:
        faults.fail(service, fault, **kwargs)
        try:
            assert_unavailable(call(), f"{service} {fault.__name__}")
        finally:
            faults.clear()
    return len(cases)


# --- DynamoDB throttled or unreachable: every route a 503 -------------------------------------------


def test_signup_under_dynamodb_faults_is_503_and_stores_nothing(lambdas: Functions, faults: Injector) -> None:
    lambdas.module("signup")
    each(faults, "dynamodb", DYNAMODB_FAULTS + TRANSACTION_FAULTS, lambda: signup(lambdas))
    assert items(lambdas, "UsersTable") == []
    assert items(lambdas, "TokensTable") == []
    assert signup(lambdas)[0] == 201


def test_login_under_dynamodb_faults_is_503(lambdas: Functions, faults: Injector) -> None:
    signup(lambdas)

    def login() -> tuple[int, Any, dict]:
        return lambdas.call("login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD})

    each(faults, "dynamodb", DYNAMODB_FAULTS, login)
    # The password checks out, and only the write of the new session fails.
    each(faults, "dynamodb", DYNAMODB_FAULTS + TRANSACTION_FAULTS, login, operations={"TransactWriteItems"})
    # A wrong password whose failure cannot be counted is a 503 too, never a 401 that skips the count.
    each(
        faults,
        "dynamodb",
        DYNAMODB_FAULTS,
        lambda: lambdas.call(
            "login", "POST", "/auth/login", body={"username": "alice", "password": "wrong-guess-1"}
        ),
        operations={"UpdateItem"},
    )
    assert login()[0] == 200


def test_token_routes_under_dynamodb_faults_are_503(lambdas: Functions, faults: Injector) -> None:
    _, first, _ = signup(lambdas)
    caller = caller_context(first)
    calls = {
        "refresh": lambda: lambdas.call(
            "login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]}
        ),
        "logout": lambda: lambdas.call("login", "POST", "/auth/logout", authorizer=caller),
        "me": lambda: lambdas.call("signup", "GET", "/users/me", authorizer=caller),
        "password": lambda: lambdas.call(
            "signup",
            "POST",
            "/users/me/password",
            body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            authorizer=caller,
        ),
    }
    for call in calls.values():
        each(faults, "dynamodb", DYNAMODB_FAULTS, call)
    # Nothing was spent or revoked by the failed attempts: the session goes on.
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]})[0]
        == 200
    )


def test_book_routes_under_dynamodb_faults_are_503(lambdas: Functions, faults: Injector) -> None:
    _, book, _ = lambdas.call("books", "POST", "/books", body=BOOK, authorizer=ADMIN)
    path = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": ADMIN}
    calls = [
        lambda: lambdas.call("books", "GET", "/books", authorizer=ADMIN),
        lambda: lambdas.call("books", "POST", "/books", body=BOOK, authorizer=ADMIN),
        lambda: lambdas.call("books", "GET", f"/books/{book['id']}", **path),
        lambda: lambdas.call("books", "PUT", f"/books/{book['id']}", body=BOOK, **path),
        lambda: lambdas.call("books", "DELETE", f"/books/{book['id']}", **path),
    ]
    for call in calls:
        each(faults, "dynamodb", DYNAMODB_FAULTS, call)
    _, page, _ = lambdas.call("books", "GET", "/books", authorizer=ADMIN)
    assert [item["id"] for item in page["items"]] == [book["id"]]


def test_health_answers_while_every_dependency_is_down(lambdas: Functions, faults: Injector) -> None:
    lambdas.module("books")
    faults.fail("dynamodb", DYNAMODB_FAULTS[0])
    faults.fail("secretsmanager", SECRETS_FAULTS[0])
    status, body, _ = lambdas.call("books", "GET", "/health")
    assert (status, body) == (200, {"status": "ok"})


# --- Secrets Manager down or slow ---------------------------------------------------------------


def test_signup_without_the_signing_key_is_503_and_stores_nothing(
    lambdas: Functions, faults: Injector
) -> None:
    lambdas.module("signup")
    each(faults, "secretsmanager", SECRETS_FAULTS, lambda: signup(lambdas))
    assert items(lambdas, "UsersTable") == []
    assert items(lambdas, "TokensTable") == []


def test_login_and_refresh_without_the_signing_key_are_503(lambdas: Functions, faults: Injector) -> None:
    _, first, _ = signup(lambdas)
    lambdas.modules.pop("login", None)
    each(
        faults,
        "secretsmanager",
        SECRETS_FAULTS,
        lambda: lambdas.call(
            "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
        ),
    )
    each(
        faults,
        "secretsmanager",
        SECRETS_FAULTS,
        lambda: lambdas.call(
            "login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]}
        ),
    )
    # The refresh token was not spent by the failed attempts.
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]})[0]
        == 200
    )


def test_a_password_change_without_the_signing_key_changes_nothing(
    lambdas: Functions, faults: Injector
) -> None:
    _, first, _ = signup(lambdas)
    lambdas.modules.pop("signup")

    def change() -> tuple[int, Any, dict]:
        return lambdas.call(
            "signup",
            "POST",
            "/users/me/password",
            body={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            authorizer=caller_context(first),
        )

    each(faults, "secretsmanager", SECRETS_FAULTS, change)
    # The old password and the old session still work: the 503 told the truth.
    assert (
        lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": first["refresh_token"]})[0]
        == 200
    )
    assert change()[0] == 200


def test_a_password_change_whose_new_session_cannot_be_stored_changes_nothing(
    lambdas: Functions, faults: Injector
) -> None:
    _, first, _ = signup(lambdas)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    throttled = TRANSACTION_FAULTS[1]

    def when_a_session_starts(operation: str, params: dict[str, Any]) -> Any:
        puts = [write["Put"]["Item"]["pk"]["S"] for write in params["TransactItems"] if "Put" in write]
        return throttled(operation, params) if any(pk.startswith("FAMILY#") for pk in puts) else None

    faults.fail("dynamodb", when_a_session_starts, operations={"TransactWriteItems"})
    response = lambdas.call(
        "signup", "POST", "/users/me/password", body=body, authorizer=caller_context(first)
    )
    faults.clear()
    assert_unavailable(response, "session write throttled")
    status, _, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
    )
    assert status == 200


def test_a_next_token_without_its_key_is_503(lambdas: Functions, faults: Injector) -> None:
    for _ in range(2):
        lambdas.call("books", "POST", "/books", body=BOOK, authorizer=ADMIN)
    _, page, _ = lambdas.call("books", "GET", "/books", query={"limit": "1"}, authorizer=ADMIN)
    lambdas.modules.pop("books")
    each(
        faults,
        "secretsmanager",
        SECRETS_FAULTS,
        lambda: lambdas.call(
            "books", "GET", "/books", query={"next_token": page["next_token"]}, authorizer=ADMIN
        ),
    )


# --- the authorizer fails closed ----------------------------------------------------------------


def authorize(lambdas: Functions, token: str) -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN}
    return lambdas.invoke("authorizer", event)


def test_the_authorizer_denies_when_the_signing_key_cannot_be_read(
    lambdas: Functions, faults: Injector
) -> None:
    _, pair, _ = signup(lambdas)
    lambdas.module("authorizer")
    for fault in SECRETS_FAULTS:
        faults.fail("secretsmanager", fault)
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorize(lambdas, pair["access_token"])
    faults.clear()
    assert authorize(lambdas, pair["access_token"])["principalId"] == caller_context(pair)["principalId"]


def unprocessed_keys(operation: str, params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A throttled BatchGetItem's answer: the session found, the owner's generation left
    unprocessed. Read as "no generation record", the session would pass."""
    ((table, request),) = params["RequestItems"].items()
    family_key, user_key = sorted(request["Keys"], key=lambda key: key["pk"]["S"])
    family = {
        **family_key,
        "user_id": {"S": user_key["pk"]["S"].removeprefix("USER#")},
        "username": {"S": "alice"},
        "revoked": {"BOOL": False},
        "generation": {"N": "0"},
        "expires_at": {"N": str(int(time.time()) + 3600)},
    }
    return SimpleNamespace(status_code=200, headers={}), {
        "Responses": {table: [family]},
        "UnprocessedKeys": {table: {**request, "Keys": [user_key]}},
    }


def test_with_strict_revocation_the_authorizer_denies_when_dynamodb_fails(
    lambdas: Functions, faults: Injector
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true"
    _, pair, _ = signup(lambdas)
    authorize(lambdas, pair["access_token"])
    cases = [(fault, None) for fault in DYNAMODB_FAULTS] + [(unprocessed_keys, {"BatchGetItem"})]
    for fault, operations in cases:
        faults.fail("dynamodb", fault, operations=operations)
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorize(lambdas, pair["access_token"])
        faults.clear()
    assert authorize(lambdas, pair["access_token"])["principalId"]


# --- nothing hangs past the function timeout ----------------------------------------------------


def test_the_worst_case_of_every_aws_call_fits_inside_every_function_timeout() -> None:
    config = aws.client("dynamodb").meta.config
    assert config.connect_timeout + config.read_timeout <= aws.ATTEMPT_SECONDS
    assert config.retries["total_max_attempts"] == aws.MAX_ATTEMPTS == 2
    # One retry after at most 2**0 s of backoff (botocore's standard mode); an attempt starts
    # only if it ends within the budget; then the function's own work needs a margin.
    worst = budget.BUDGET_SECONDS + 2 ** (aws.MAX_ATTEMPTS - 2)
    globals_timeout = template()["Globals"]["Function"]["Timeout"]
    for name, resource in template()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            timeout = resource["Properties"].get("Timeout", globals_timeout)
            assert worst + 2 <= timeout, name


@pytest.fixture
def slow_aws(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Every attempt at ``service`` takes ``seconds``, then succeeds or times out, under a short budget."""
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.5)
    monkeypatch.setattr(aws, "ATTEMPT_SECONDS", 0.2)

    def slow(service: str, seconds: float, *, then_time_out: bool = False) -> None:
        def attempt(**_: Any) -> None:
            time.sleep(seconds)
            if then_time_out:
                raise ReadTimeoutError(endpoint_url=_endpoint(service))

        aws.client(service).meta.events.register("before-send", attempt)

    return slow


def test_a_request_whose_calls_are_slow_stops_at_its_budget_with_a_503(
    lambdas: Functions, slow_aws: Callable[..., None]
) -> None:
    assert signup(lambdas)[0] == 201
    lambdas.module("login")
    slow_aws("dynamodb", 0.2)
    slow_aws("secretsmanager", 0.2)
    started = time.monotonic()
    response = lambdas.call("login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD})
    elapsed = time.monotonic() - started
    assert_unavailable(response, "slow login")
    assert elapsed < budget.BUDGET_SECONDS + 0.3
    # The session write was never sent: the only session is signup's.
    assert len([item for item in items(lambdas, "TokensTable") if item["pk"]["S"].startswith("FAMILY#")]) == 1


def test_an_authorizer_whose_key_read_is_slow_denies_within_its_budget(
    lambdas: Functions, slow_aws: Callable[..., None]
) -> None:
    _, pair, _ = signup(lambdas)
    lambdas.module("authorizer")
    slow_aws("secretsmanager", 0.2, then_time_out=True)
    started = time.monotonic()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(lambdas, pair["access_token"])
    # The budget, and at most one backoff before the retry that the budget then refuses.
    assert time.monotonic() - started < budget.BUDGET_SECONDS + 2 ** (aws.MAX_ATTEMPTS - 2) + 0.3
