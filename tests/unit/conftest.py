"""Unit-test harness: moto (no network), the template's own tables and secrets, handlers by path."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import socket
import sys
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
import pyotp
import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaBackend

from books_api import aws as books_aws
from books_api import mfa, secret_source
from books_api.keys import key_id
from books_api.limits import TOTP_DIGITS, TOTP_STEP_SECONDS
from books_api.permissions import ADMIN, READER
from stack.extension import SecretsExtension
from stack.template import ROOT, Stack, create_resources
from tests.threads import one_call_at_a_time
from tests.utils import PASSWORD

_client_factory = books_aws.client
REGION = "us-east-1"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/books"
STACK = "books-api-test"
ISSUER = f"urn:books-api:{STACK}"
AUDIENCE = f"urn:books-api:{STACK}:api"
TEST_BCRYPT_COST = "4"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unit tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "BooksApiTest")
    _client_factory.cache_clear()
    yield
    _client_factory.cache_clear()


@dataclass
class FakeExtension:
    """The Parameters and Secrets Lambda Extension in this process: the local server's emulator of
    it (stack/extension.py) over moto, reached through ``books_api.secret_source.http_get``
    instead of a socket. Its Secrets Manager calls go through the functions' own client
    (``books_api.aws.client``), since the extension calls with the function's credentials: fault
    injection and the least-privilege recording see them as the function's calls.

    ``requests`` lists each (secretId, versionStage) asked for; ``outage`` makes every answer
    that HTTP status; ``aged`` (version id: seconds) dates those versions that much earlier, as
    if they had been made that long ago (moto dates a version when it is made); ``before_answer``,
    if set, is called with each request's versionStage first (a test's barrier).
    """

    emulator: SecretsExtension
    requests: list[tuple[str, str]] = field(default_factory=list)
    outage: int | None = None
    aged: dict[str, float] = field(default_factory=dict)
    before_answer: Callable[[str], None] | None = None

    def transport(self, port: int, target: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        query = {key: values[0] for key, values in parse_qs(urlsplit(target).query).items()}
        self.requests.append((query.get("secretId", ""), query.get("versionStage", "")))
        if self.before_answer is not None:
            self.before_answer(query.get("versionStage", ""))
        if self.outage is not None:
            return self.outage, b'{"message": "injected outage"}'
        status, body = self.emulator.answer("GET", target, headers)
        answer = json.loads(body)
        if status == 200 and answer["VersionId"] in self.aged:
            answer["CreatedDate"] -= self.aged[answer["VersionId"]]
            body = json.dumps(answer).encode()
        return status, body

    def age(self, secret_id: str, seconds: float) -> float:
        """Date every version the secret has now ``seconds`` earlier; the current one's date, so aged."""
        client = boto3.client("secretsmanager", region_name=REGION)
        self.aged.update(
            dict.fromkeys(client.describe_secret(SecretId=secret_id)["VersionIdsToStages"], seconds)
        )
        return client.get_secret_value(SecretId=secret_id)["CreatedDate"].timestamp() - seconds


@pytest.fixture(autouse=True)
def secrets_extension(monkeypatch: pytest.MonkeyPatch) -> FakeExtension:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "unit-test-session-token")
    emulator = SecretsExtension(
        lambda: books_aws.client("secretsmanager"), lambda: os.environ.get("AWS_SESSION_TOKEN", "")
    )
    fake = FakeExtension(emulator)
    monkeypatch.setattr(secret_source, "http_get", fake.transport)
    return fake


def create_stack() -> Stack:
    return create_resources(
        Stack(name=STACK, region=REGION),
        boto3.client("dynamodb", region_name=REGION),
        boto3.client("secretsmanager", region_name=REGION),
        boto3.client("kms", region_name=REGION),
    )


def _atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' DynamoDB client makes its calls one at a time, so that moto applies each
    request atomically, as DynamoDB does (tests.threads.one_call_at_a_time)."""
    factory = books_aws.client

    def client(service: str) -> Any:
        made = factory(service)
        return one_call_at_a_time(made) if service == "dynamodb" else made

    client.cache_clear = factory.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(books_aws, "client", client)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    _atomic_dynamodb(monkeypatch)
    with mock_aws():
        yield create_stack()


def load_function(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import functions/<name>/app.py afresh, under its own module name, with ``env`` set: a new
    process, as far as the function can tell, down to Powertools' cold-start flag."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cold_start.reset_cold_start_flag()
    path = ROOT / "functions" / name / "app.py"
    module_name = f"function_{name}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


LOGICAL_IDS = {
    "signup": "SignupFunction",
    "login": "LoginFunction",
    "books": "BooksFunction",
    "users": "UsersFunction",
    "authorizer": "AuthorizerFunction",
    "rotation": "SigningKeyRotationFunction",
}


def signing_secret(stack: Stack, stage: str = "AWSCURRENT") -> bytes:
    """The signing key of one version of the stack's signing secret."""
    client = boto3.client("secretsmanager", region_name=REGION)
    return client.get_secret_value(SecretId=stack.ref("SigningSecret"), VersionStage=stage)[
        "SecretString"
    ].encode()


def claims(**changes: Any) -> dict[str, Any]:
    """An access token's claims as the login function writes them (a reader's, issued now), with
    ``changes``; a change to None leaves that claim out."""
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "8d1b6a3e-2f4c-4e8a-9c1d-5b7e3a9f0c2d",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": "j1",
        "username": "alice",
        "roles": ["reader"],
        "sid": "family-1",
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def signed_token(secret: bytes, *, issued_at: int, **changes: Any) -> str:
    """An access token signed with ``secret`` (its kid in the header), issued at ``issued_at`` and
    living the usual 15 minutes."""
    payload = claims(iat=issued_at, nbf=issued_at, exp=issued_at + 900, **changes)
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": key_id(secret), "typ": "at+jwt"})


@dataclass
class LambdaContext:
    function_name: str = "test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def api_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    path_parameters: dict[str, str] | None = None,
    authorizer: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, shaped like those in events/."""
    base = json.loads((ROOT / "events" / "health.json").read_text())
    all_headers = {"Host": "example.execute-api.us-east-1.amazonaws.com"}
    if body is not None:
        raw_body = json.dumps(body)
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    if base64_body and raw_body is not None:
        raw_body = base64.b64encode(raw_body.encode()).decode()
    context = dict(
        base["requestContext"], httpMethod=method, path=f"/dev{path}", resourcePath=resource or path
    )
    if authorizer is not None:
        context["authorizer"] = authorizer
    return dict(
        base,
        resource=resource or path,
        path=path,
        httpMethod=method,
        headers=all_headers,
        multiValueHeaders={key: [value] for key, value in all_headers.items()},
        queryStringParameters=query,
        multiValueQueryStringParameters={key: [value] for key, value in query.items()} if query else None,
        pathParameters=path_parameters,
        body=raw_body,
        isBase64Encoded=base64_body,
        requestContext=context,
    )


def authorizer_allows(invoke: Callable[[dict[str, Any]], Any], access_token: str) -> bool:
    """Whether the authorizer ``invoke`` calls allows ``access_token`` (a refusal must be its 401)."""
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {access_token}", "methodArn": METHOD_ARN}
    try:
        invoke(event)
    except Exception as error:
        assert str(error) == "Unauthorized"
        return False
    return True


@dataclass
class Functions:
    """The handlers loaded against one moto stack, and ways to call them as API Gateway does.

    ``invoking`` names the function (by logical id) whose invocation is running, if any.
    """

    stack: Stack
    monkeypatch: pytest.MonkeyPatch
    overrides: dict[str, str] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)
    invoking: list[str] = field(default_factory=list)

    def module(self, name: str) -> Any:
        if name not in self.modules:
            env = self.stack.environment(LOGICAL_IDS[name])
            env.update({"BCRYPT_COST": TEST_BCRYPT_COST} if "BCRYPT_COST" in env else {})
            env.update(self.overrides)
            self.modules[name] = load_function(name, env, self.monkeypatch)
        return self.modules[name]

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        module = self.module(name)
        self.invoking.append(LOGICAL_IDS[name])
        try:
            return module.lambda_handler(event, LambdaContext(function_name=name))
        finally:
            self.invoking.pop()

    def authorizes(self, access_token: str) -> bool:
        """Whether the authorizer allows ``access_token`` (a refusal must be its 401)."""
        return authorizer_allows(lambda event: self.invoke("authorizer", event), access_token)

    def call(self, name: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        response = self.invoke(name, api_event(method, path, **kwargs))
        body = json.loads(response["body"]) if response.get("body") else None
        headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers.setdefault(key.lower(), ",".join(values))
        return response["statusCode"], body, headers


@pytest.fixture
def bcrypt_costs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The cost of every bcrypt check made from now on, in order (bcrypt's work is 2**cost)."""
    import bcrypt

    costs: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        costs.append(int(hashed.split(b"$")[2]))
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return costs


@pytest.fixture
def lambdas(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Functions:
    return Functions(stack, monkeypatch)


def signed_up(lambdas: Functions, username: str = "alice") -> dict[str, Any]:
    """The token pair of a new reader ``username`` (the signup must succeed)."""
    status, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": username, "password": PASSWORD}
    )
    assert status == 201, body
    return dict(body)


def login(lambdas: Functions, username: str = "alice", password: str = PASSWORD) -> tuple[int, Any, dict]:
    return lambdas.call("login", "POST", "/auth/login", body={"username": username, "password": password})


def caller_context(pair: dict[str, Any]) -> dict[str, str]:
    """The ``requestContext.authorizer`` API Gateway passes for ``pair``'s access token."""
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    return {
        "principalId": claims["sub"],
        "username": claims["username"],
        "roles": ",".join(claims["roles"]),
        "sid": claims["sid"],
    }


def authorizer_context(user: dict[str, Any], sid: str = "s") -> dict[str, str]:
    return {
        "principalId": user["id"],
        "username": user["username"],
        "roles": ",".join(user["roles"]),
        "sid": sid,
    }


@pytest.fixture
def rotate(lambdas: Functions, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A function that rotates the signing secret as Secrets Manager does, through our rotation function.

    moto's RotateSecret runs Secrets Manager's steps, but invokes a Lambda function only in
    Docker: for this fixture alone, that invocation (moto's private ``LambdaBackend.invoke``) runs
    our rotation function in this process instead. It is the unit suite's one stand-in for moto's
    private code; tests/unit/test_stock_moto.py fails, saying what to re-check, when the pinned
    moto changes the code it relies on.
    """
    invoked: list[str] = []

    def invoke(self: Any, function_name: str, qualifier: Any, body: str, *args: Any, **kwargs: Any) -> bytes:
        event = json.loads(body)
        invoked.append(event["Step"])
        lambdas.invoke("rotation", event)
        return b""

    monkeypatch.setattr(LambdaBackend, "invoke", invoke)
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="rotation", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "")
    arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName="rotation",
        Runtime="python3.13",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )["FunctionArn"]
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secret = lambdas.stack.ref("SigningSecret")

    def rotate_once() -> list[str]:
        invoked.clear()
        secrets.rotate_secret(
            SecretId=secret, RotationLambdaARN=arn, RotationRules={"AutomaticallyAfterDays": 30}
        )
        return list(invoked)

    return rotate_once


@pytest.fixture
def admin_pair(lambdas: Functions) -> dict[str, Any]:
    """The token pair of a signed-in admin, "admin", made as the operator makes the first one."""
    lambdas.module("signup").accounts.set_user("admin", PASSWORD, (READER, ADMIN))
    status, pair, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "admin", "password": PASSWORD}
    )
    assert status == 200, pair
    return pair


# --- multi-factor sign-in ------------------------------------------------------------------------


class TotpClock:
    """The time TOTP codes are checked at, apart from every other clock: ``books_api.mfa``'s
    ``matching_step`` is handed ``now``, the middle of time step ``step``, which a test moves by
    whole steps; ``code`` is the code of any step."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.step = int(time.time()) // TOTP_STEP_SECONDS
        real = mfa.matching_step

        def at_clock(secret: str, code: str, *, after: int, now: float | None = None) -> int | None:
            return real(secret, code, after=after, now=self.now if now is None else now)

        monkeypatch.setattr(mfa, "matching_step", at_clock)

    @property
    def now(self) -> float:
        return self.step * TOTP_STEP_SECONDS + TOTP_STEP_SECONDS / 2

    @staticmethod
    def code(secret: str, step: int) -> str:
        return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS).at(step * TOTP_STEP_SECONDS)

    @staticmethod
    def wrong_code(secret: str, step: int) -> str:
        """A well-formed code that is none of the codes of the steps around ``step``."""
        near = {TotpClock.code(secret, near) for near in range(step - 3, step + 4)}
        return next(code for code in (f"{digit}" * TOTP_DIGITS for digit in range(10)) if code not in near)


@pytest.fixture
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> TotpClock:
    return TotpClock(monkeypatch)


@dataclass(frozen=True)
class Enrolled:
    """A user with multi-factor sign-in on: the TOTP secret and the recovery codes they were shown."""

    user_id: str
    secret: str = field(repr=False)
    recovery_codes: list[str] = field(repr=False)


@pytest.fixture
def enrol(lambdas: Functions, totp_clock: TotpClock) -> Callable[[dict[str, Any]], Enrolled]:
    """Turns multi-factor sign-in on for the owner of a token pair, through the routes: an
    enrolment, confirmed with the code of the TOTP clock's step (spent, then)."""

    def enrolled(pair: dict[str, Any]) -> Enrolled:
        caller = caller_context(pair)
        status, started, _ = lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=caller)
        assert status == 200, started
        code = totp_clock.code(started["secret"], totp_clock.step)
        status, confirmed, _ = lambdas.call(
            "signup", "POST", "/users/me/mfa/totp/confirm", body={"code": code}, authorizer=caller
        )
        assert status == 200, confirmed
        return Enrolled(caller["principalId"], started["secret"], confirmed["recovery_codes"])

    return enrolled


def _unused_values(write: dict[str, Any]) -> list[str]:
    """The ExpressionAttributeValues of one write of a transaction that none of its expressions names."""
    expressions = " ".join(write.get(name, "") for name in ("ConditionExpression", "UpdateExpression"))
    return [
        value
        for value in write.get("ExpressionAttributeValues", {})
        if not re.search(f"{re.escape(value)}\\b", expressions)
    ]


@pytest.fixture
def every_value_used(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' transactions refused, as DynamoDB refuses them, when a write's
    ExpressionAttributeValues hold a value none of its expressions names: moto checks this for a
    single write, not for the writes of a TransactWriteItems."""
    factory = books_aws.client

    def client(service: str) -> Any:
        made = factory(service)
        if service != "dynamodb" or getattr(made, "_every_value_used", False):
            return made
        transact = made.transact_write_items

        def checked(**request: Any) -> Any:
            unused = [value for item in request["TransactItems"] for value in _unused_values(*item.values())]
            if unused:
                error = {"Code": "ValidationException", "Message": f"Value provided unused: {unused}"}
                raise ClientError({"Error": error}, "TransactWriteItems")
            return transact(**request)

        made.transact_write_items = checked
        made._every_value_used = True
        return made

    client.cache_clear = factory.cache_clear  # type: ignore[attr-defined]
    monkeypatch.setattr(books_aws, "client", client)
