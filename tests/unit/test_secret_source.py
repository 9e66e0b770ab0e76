"""Reading secrets: the extension's client, the local server's emulator of the extension, the cache,
the boto3 path used without the extension, and the authorizer's import path (no boto3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from werkzeug.test import Client as WsgiClient

from books_api import budget
from books_api.errors import ConfigError
from books_api.secret_source import (
    TOKEN_HEADER,
    ExtensionSecrets,
    SecretCache,
    SecretNotFound,
    SecretsManagerApi,
    SecretUnavailable,
    SecretVersion,
    created_date,
    from_environment,
)
from stack.extension import SecretsExtension
from stack.template import ROOT, Stack
from tests.unit.conftest import REGION, FakeExtension, Functions
from tests.utils import ADMIN

SESSION = "unit-test-session-token"


class Recorder:
    """A transport that records each request and answers as told."""

    def __init__(self, status: int = 200, body: bytes | None = None, error: Exception | None = None) -> None:
        self.status = status
        self.body = json.dumps({"SecretString": "value"}).encode() if body is None else body
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def __call__(self, port: int, target: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
        self.calls.append({"port": port, "target": target, "headers": headers, "timeout": timeout})
        if self.error is not None:
            raise self.error
        return self.status, self.body


@pytest.fixture
def secretsmanager(stack: Stack) -> Any:
    return boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def emulator(secretsmanager: Any) -> SecretsExtension:
    return SecretsExtension(lambda: secretsmanager, lambda: SESSION)


# --- the extension's client ---------------------------------------------------------------------


def test_the_client_asks_the_extension_on_its_port_with_the_session_token() -> None:
    recorder = Recorder()
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:books/signing-AbCdEf"
    assert ExtensionSecrets(2773, transport=recorder)(arn, "AWSPREVIOUS").value == "value"
    (call,) = recorder.calls
    assert call["port"] == 2773
    parts = urlsplit(call["target"])
    assert parts.path == "/secretsmanager/get"
    assert parse_qs(parts.query) == {"secretId": [arn], "versionStage": ["AWSPREVIOUS"]}
    assert "/" not in parts.query and ":" not in parts.query  # encoded, as the extension expects
    assert call["headers"] == {TOKEN_HEADER: SESSION}
    assert call["timeout"] == 3.0


def test_the_client_reads_the_session_token_at_each_request(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Recorder()
    client = ExtensionSecrets(2773, transport=recorder)
    client("s", "AWSCURRENT")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "renewed")
    client("s", "AWSCURRENT")
    assert [call["headers"][TOKEN_HEADER] for call in recorder.calls] == [SESSION, "renewed"]


def test_without_a_session_token_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    recorder = Recorder()
    with pytest.raises(SecretUnavailable):
        ExtensionSecrets(2773, transport=recorder)("s", "AWSCURRENT")
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        pytest.param(500, b'{"__type": "InternalServiceError"}', SecretUnavailable, id="server-error"),
        pytest.param(400, b'{"__type": "ThrottlingException"}', SecretUnavailable, id="throttled"),
        pytest.param(401, b"", SecretUnavailable, id="token-refused"),
        pytest.param(400, b'{"__type": "ResourceNotFoundException"}', SecretNotFound, id="not-found-json"),
        pytest.param(
            400,
            b"ResourceNotFoundException: Secrets Manager can't find the specified secret value",
            SecretNotFound,
            id="not-found-text",
        ),
        pytest.param(200, b"not json", SecretUnavailable, id="not-json"),
        pytest.param(200, b"[]", SecretUnavailable, id="not-an-object"),
        pytest.param(200, b'{"SecretBinary": "AAAA"}', SecretUnavailable, id="no-secret-string"),
    ],
)
def test_what_the_extension_answers_maps_to_found_missing_or_unavailable(
    status: int, body: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ExtensionSecrets(2773, transport=Recorder(status, body))("s", "AWSCURRENT")


@pytest.mark.parametrize("failure", [ConnectionRefusedError(), TimeoutError(), OSError("reset")])
def test_an_extension_that_does_not_answer_is_unavailable(failure: Exception) -> None:
    with pytest.raises(SecretUnavailable):
        ExtensionSecrets(2773, transport=Recorder(error=failure))("s", "AWSCURRENT")


def test_inside_a_time_budget_the_request_waits_only_for_what_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder()
    client = ExtensionSecrets(2773, transport=recorder)
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 1.0)
    with budget.time_budget():
        client("s", "AWSCURRENT")
    assert 0.9 < recorder.calls[0]["timeout"] <= 1.0
    monkeypatch.setattr(budget, "BUDGET_SECONDS", 0.0)
    with budget.time_budget(), pytest.raises(SecretUnavailable):
        client("s", "AWSCURRENT")
    assert len(recorder.calls) == 1


CREATED = 1_767_268_800.25  # 2026-01-01T12:00:00.25Z


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(CREATED, id="epoch-number"),  # GetSecretValue's JSON, as the extension relays it
        pytest.param(str(CREATED), id="epoch-string"),  # the Secrets Manager Agent's serializer
        pytest.param("2026-01-01T12:00:00.250Z", id="iso-8601-utc"),
        pytest.param("2026-01-01T13:00:00.250+01:00", id="iso-8601-offset"),
        pytest.param(datetime(2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC), id="datetime"),  # boto3
        pytest.param(
            datetime(2026, 1, 1, 7, 0, 0, 250000, tzinfo=timezone(timedelta(hours=-5))), id="datetime-offset"
        ),
    ],
)
def test_a_created_date_is_read_in_each_shape_it_comes_in(raw: Any) -> None:
    assert created_date(raw) == CREATED
    if not isinstance(raw, datetime):  # JSON has no datetime
        body = json.dumps({"SecretString": "value", "CreatedDate": raw}).encode()
        assert ExtensionSecrets(2773, transport=Recorder(body=body))("s", "AWSCURRENT").created == CREATED


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "yesterday",
        "2026-01-01T12:00:00",
        True,
        0,
        -5,
        float("nan"),
        float("inf"),
        "inf",
        [CREATED],
        {},
    ],
    ids=repr,
)
def test_a_created_date_that_is_not_a_point_in_time_is_none(raw: Any) -> None:
    assert created_date(raw) is None
    body = json.dumps({"SecretString": "value", "CreatedDate": raw}).encode()
    assert ExtensionSecrets(2773, transport=Recorder(body=body))("s", "AWSCURRENT") == SecretVersion(
        "value", None
    )


def test_the_environment_chooses_the_extension_or_boto3() -> None:
    chosen = from_environment({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773"})
    assert isinstance(chosen, ExtensionSecrets)
    assert chosen.port == 2773
    assert isinstance(from_environment({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": ""}), SecretsManagerApi)
    assert isinstance(from_environment({}), SecretsManagerApi)
    for bad in ("http", "0", "70000"):
        with pytest.raises(ConfigError):
            from_environment({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": bad})


# --- the extension, emulated --------------------------------------------------------------------


def test_the_emulator_serves_every_version_as_getsecretvalue_does(
    stack: Stack, emulator: SecretsExtension, secretsmanager: Any
) -> None:
    arn = stack.ref("SigningSecret")
    client = ExtensionSecrets(1, transport=emulator.transport)
    expected = secretsmanager.get_secret_value(SecretId=arn)
    first = SecretVersion(expected["SecretString"], expected["CreatedDate"].timestamp())
    assert client(arn, "AWSCURRENT") == first
    with pytest.raises(SecretNotFound):
        client(arn, "AWSPREVIOUS")
    secretsmanager.put_secret_value(SecretId=arn, SecretString="n" * 64)
    second = secretsmanager.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    assert client(arn, "AWSCURRENT") == SecretVersion("n" * 64, second["CreatedDate"].timestamp())
    assert client(arn, "AWSPREVIOUS") == first
    status, body = emulator.answer(
        "GET",
        f"/secretsmanager/get?secretId={arn}&versionId={expected['VersionId']}",
        {TOKEN_HEADER: SESSION},
    )
    answer = json.loads(body)
    assert status == 200
    assert answer["SecretString"] == expected["SecretString"]
    assert answer["VersionStages"] == ["AWSPREVIOUS"]
    assert {"ARN", "Name", "VersionId", "CreatedDate"} <= set(answer)


@pytest.mark.parametrize(
    ("method", "target", "headers", "status"),
    [
        pytest.param("GET", "/secretsmanager/get?secretId=x", {}, 401, id="no-token"),
        pytest.param("GET", "/secretsmanager/get?secretId=x", {TOKEN_HEADER: "other"}, 401, id="wrong-token"),
        pytest.param("GET", "/secretsmanager/get", {TOKEN_HEADER: SESSION}, 400, id="no-secret-id"),
        pytest.param("GET", "/systemsmanager/parameters/get?name=x", {TOKEN_HEADER: SESSION}, 404, id="ssm"),
        pytest.param("POST", "/secretsmanager/get?secretId=x", {TOKEN_HEADER: SESSION}, 405, id="post"),
    ],
)
def test_the_emulator_refuses_what_the_extension_refuses(
    emulator: SecretsExtension, method: str, target: str, headers: dict[str, str], status: int
) -> None:
    answered, body = emulator.answer(method, target, headers)
    assert answered == status
    assert "SecretString" not in json.loads(body)


def test_an_unknown_secret_is_secrets_managers_own_error(emulator: SecretsExtension) -> None:
    status, body = emulator.answer("GET", "/secretsmanager/get?secretId=nothing", {TOKEN_HEADER: SESSION})
    assert status >= 400
    assert json.loads(body)["__type"] == "ResourceNotFoundException"


def test_the_emulator_requires_a_token_even_when_none_is_expected(secretsmanager: Any) -> None:
    emulator = SecretsExtension(lambda: secretsmanager, lambda: "")
    assert emulator.answer("GET", "/secretsmanager/get?secretId=x", {TOKEN_HEADER: ""})[0] == 401


def test_the_emulator_answers_over_wsgi_with_header_names_in_any_case(
    stack: Stack, emulator: SecretsExtension
) -> None:
    client = WsgiClient(emulator.wsgi)
    arn = stack.ref("PageTokenSecret")
    reply = client.get(
        "/secretsmanager/get", query_string={"secretId": arn}, headers={TOKEN_HEADER.lower(): SESSION}
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.get_json()["ARN"] == arn
    assert client.get("/secretsmanager/get", query_string={"secretId": arn}).status_code == 401


def test_a_secrets_manager_failure_passes_through_with_its_status(stack: Stack, secretsmanager: Any) -> None:
    def throttled(**_: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "Get"
        )

    secretsmanager.meta.events.register("before-call.secrets-manager.GetSecretValue", throttled)
    emulator = SecretsExtension(lambda: secretsmanager, lambda: SESSION)
    status, body = emulator.answer(
        "GET", f"/secretsmanager/get?secretId={stack.ref('SigningSecret')}", {TOKEN_HEADER: SESSION}
    )
    assert (status, json.loads(body)["__type"]) == (400, "ThrottlingException")
    with pytest.raises(SecretUnavailable):
        ExtensionSecrets(1, transport=emulator.transport)(stack.ref("SigningSecret"), "AWSCURRENT")


# --- the cache ----------------------------------------------------------------------------------


class Source:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str | Exception] = {("s", "AWSCURRENT"): "one"}
        self.reads: list[tuple[str, str]] = []

    def __call__(self, secret_id: str, stage: str) -> SecretVersion:
        self.reads.append((secret_id, stage))
        value = self.values.get((secret_id, stage), SecretNotFound())
        if isinstance(value, Exception):
            raise value
        return SecretVersion(value, CREATED)


def test_the_cache_keeps_a_value_for_max_age_and_force_reads_again() -> None:
    source, now = Source(), [0.0]
    cache = SecretCache(source, max_age=300, clock=lambda: now[0])
    assert [cache.get("s").value for _ in range(10)] == ["one"] * 10
    assert cache.read_at("s", "AWSCURRENT") == 0.0
    source.values[("s", "AWSCURRENT")] = "two"
    now[0] = 299.0
    assert cache.get("s").value == "one"
    assert cache.get("s", force=True).value == "two"
    assert cache.read_at("s", "AWSCURRENT") == 299.0
    now[0] = 600.0
    assert cache.get("s") == SecretVersion("two", CREATED)
    assert source.reads == [("s", "AWSCURRENT")] * 3
    assert cache.read_at("s", "AWSPREVIOUS") == float("-inf")


def test_the_cache_remembers_a_missing_stage_but_never_a_failure() -> None:
    source, now = Source(), [0.0]
    cache = SecretCache(source, max_age=300, clock=lambda: now[0])
    for _ in range(5):
        with pytest.raises(SecretNotFound):
            cache.get("s", "AWSPREVIOUS")
    assert source.reads == [("s", "AWSPREVIOUS")]
    source.values[("s", "AWSCURRENT")] = SecretUnavailable("down")
    now[0] = 1000.0
    for _ in range(3):
        with pytest.raises(SecretUnavailable):
            cache.get("s")
    assert source.reads.count(("s", "AWSCURRENT")) == 3


def test_a_max_age_of_zero_reads_every_time() -> None:
    source = Source()
    cache = SecretCache(source, max_age=0)
    for _ in range(3):
        cache.get("s")
    assert len(source.reads) == 3


# --- without the extension: boto3 ---------------------------------------------------------------


def test_without_the_extension_secrets_come_from_getsecretvalue(stack: Stack, secretsmanager: Any) -> None:
    api = SecretsManagerApi(secretsmanager)
    arn = stack.ref("SigningSecret")
    expected = secretsmanager.get_secret_value(SecretId=arn)
    assert api(arn, "AWSCURRENT") == SecretVersion(
        expected["SecretString"], expected["CreatedDate"].timestamp()
    )
    with pytest.raises(SecretNotFound):
        api(arn, "AWSPREVIOUS")
    with pytest.raises(SecretNotFound):
        api("no-such-secret", "AWSCURRENT")


# --- the functions, warm, and the authorizer's imports ------------------------------------------
# (Powertools imports the bare ``botocore`` package, a few names, to tag boto3's user agent; the SDK
# itself is ``botocore.session`` and what it loads.)


def test_a_warm_books_function_reads_the_page_key_once(
    lambdas: Functions, secrets_extension: FakeExtension
) -> None:
    for number in range(3):
        lambdas.call("books", "POST", "/books", body={"title": f"T{number}", "author": "A"}, authorizer=ADMIN)
    next_token = None
    for _ in range(20):
        query = {"limit": "1", **({"next_token": next_token} if next_token else {})}
        _, page, _ = lambdas.call("books", "GET", "/books", query=query, authorizer=ADMIN)
        next_token = page["next_token"]
    assert secrets_extension.requests == [(lambdas.stack.ref("PageTokenSecret"), "AWSCURRENT")]


_IMPORTS = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
print(json.dumps(sorted(name for name in ("boto3", "botocore.session") if name in sys.modules)))
"""


@pytest.mark.parametrize(("strict", "expected"), [("false", []), ("true", ["boto3", "botocore.session"])])
def test_the_authorizer_imports_boto3_only_for_strict_revocation(
    lambdas: Functions, strict: str, expected: list[str]
) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PYTHON")},
        **lambdas.stack.environment("AuthorizerFunction"),
        "STRICT_REVOCATION": strict,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _IMPORTS,
            str(ROOT / "functions/authorizer"),
            str(ROOT / "layers/shared/python"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == expected
