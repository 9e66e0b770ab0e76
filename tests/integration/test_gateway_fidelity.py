"""The local gateway and runtime answer as API Gateway and Lambda do, over HTTP.

The routes, authorizer and gateway responses are template.yaml's; the functions are stand-ins
(tests/integration/fakes) that echo what they receive, or fail on request, so the tests can see
exactly what a handler is given and what a client gets back when something goes wrong.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from local_api.gateway import AuthorizerCache
from local_api.http_client import Client, Reply
from local_api.runtime import FunctionSpec
from local_api.samlocal import created_resources
from local_api.server import LocalServer
from stack.template import ROOT, physical_name
from tests.threads import at_once

pytestmark = pytest.mark.local_only

FAKES = Path(__file__).with_name("fakes")
FUNCTION_TIMEOUT_SECONDS = 1.0
ACCESS_DENIED = {"message": "User is not authorized to access this resource"}


class FakeFunctionsServer(LocalServer):
    """The local server's gateway and runtime, with stand-in functions and no moto."""

    moto_endpoint = "http://127.0.0.1:9"  # the stand-ins call no AWS service

    def start_moto(self) -> None:
        for logical_id in created_resources():
            self.stack.physical[logical_id] = physical_name("fidelity", logical_id)
            self.stack.arns[logical_id] = f"arn:aws:fake:::{logical_id}"

    def specs(self) -> list[FunctionSpec]:
        routes = self.api.routes
        authorizers = {route.authorizer_object.lambda_name for route in routes if route.authorizer_object}
        return [
            replace(spec, code_dir=FAKES / "authorizer")
            if spec.name in authorizers
            else replace(spec, code_dir=FAKES / "echo", timeout=FUNCTION_TIMEOUT_SECONDS)
            for spec in super().specs()
        ]


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeFunctionsServer]:
    server = FakeFunctionsServer(port=0, state_file=tmp_path_factory.mktemp("fidelity") / "state.json")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(fake: FakeFunctionsServer) -> Client:
    return Client(fake.url)


def echoed(reply: Reply) -> dict:
    assert reply.status == 200, reply.text
    return reply.json


def test_the_authorizer_context_reaches_the_function_as_api_gateway_passes_it(client: Client) -> None:
    authorizer = echoed(client.get("/books", token="context-types"))["event"]["requestContext"]["authorizer"]
    latency = authorizer.pop("integrationLatency")
    assert isinstance(latency, int)
    assert latency >= 0
    call = authorizer.pop("call")
    assert isinstance(call, str)
    assert call.isdigit()
    expected = {"principalId": "user-1", "username": "u1", "count": "3", "admin": "false", "ratio": "1.5"}
    assert authorizer == expected


def test_the_authorizer_is_cached_per_token_and_its_policy_checked_on_each_route(client: Client) -> None:
    first = echoed(client.get("/books", token="cached-token"))["event"]["requestContext"]["authorizer"]
    again = echoed(client.get("/books/1", token="cached-token"))["event"]["requestContext"]["authorizer"]
    assert again["call"] == first["call"]  # the template's ReauthorizeEvery: not invoked again
    assert again["integrationLatency"] == 0
    other = echoed(client.get("/books", token="another-token"))["event"]["requestContext"]["authorizer"]
    assert other["call"] != first["call"]

    assert client.get("/books", token="only-get").status == 200
    refused = client.post("/books", token="only-get", body={})  # the cached policy has no POST
    assert refused.status == 403
    assert refused.json == ACCESS_DENIED


def test_an_explicit_deny_wins_over_an_allow(client: Client) -> None:
    assert client.get("/books", token="deny-writes").status == 200
    denied = client.post("/books", token="deny-writes", body={})
    assert denied.status == 403
    assert denied.json == ACCESS_DENIED


def test_an_authorizer_raising_unauthorized_is_a_401(client: Client) -> None:
    reply = client.get("/books", token="unauthorized")
    assert reply.status == 401
    assert reply.json == {"message": "Unauthorized"}
    assert reply.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize("token", ["broken", "no-policy", "nested-context"])
def test_an_authorizer_failure_or_invalid_response_is_a_500(client: Client, token: str) -> None:
    reply = client.get("/books", token=token)
    assert reply.status == 500
    assert reply.json == {"message": None}
    assert reply.header("cache-control") == "no-store"  # the template's DEFAULT_5XX


def test_a_missing_or_malformed_authorization_header_never_reaches_the_authorizer(client: Client) -> None:
    for headers in ({}, {"Authorization": "Bearer bad token!"}, {"Authorization": "Token abc"}):
        reply = client.get("/books", headers=headers)
        assert reply.status == 401, headers
        assert reply.json == {"message": "Unauthorized"}


def test_each_request_has_its_own_id_time_and_stage_path(client: Client) -> None:
    replies = [client.get("/books/abc?x=1", token="ids") for _ in range(2)]
    contexts = [echoed(reply)["event"]["requestContext"] for reply in replies]
    assert contexts[0]["requestId"] != contexts[1]["requestId"]
    assert [reply.header("x-amzn-requestid") for reply in replies] == [c["requestId"] for c in contexts]
    assert abs(contexts[1]["requestTimeEpoch"] / 1000 - time.time()) < 5
    assert contexts[0]["path"] == "/dev/books/abc"
    assert contexts[0]["resourcePath"] == "/books/{id}"
    event = echoed(replies[0])["event"]
    assert event["pathParameters"] == {"id": "abc"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["resource"] == "/books/{id}"


def test_a_function_sees_exactly_its_template_environment(fake: FakeFunctionsServer, client: Client) -> None:
    seen = echoed(client.get("/health"))
    environment = seen["environment"]
    # Python itself adds LC_CTYPE where the runtime's LANG (en_US.UTF-8) is not installed (PEP 538).
    environment.pop("LC_CTYPE", None)
    assert environment == dict(fake.runner.workers["BooksFunction"].spec.environment)
    assert environment["BOOKS_TABLE"] == "fidelity-BooksTable"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "books-api"
    assert environment["AWS_ENDPOINT_URL"] == fake.moto_endpoint
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == seen["function_name"] == "BooksFunction"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert "USERS_TABLE" not in environment  # another function's variable
    assert "HOME" not in environment  # nothing inherited from the server's shell
    assert 0 < seen["remaining_ms"] <= FUNCTION_TIMEOUT_SECONDS * 1000


def test_a_function_has_its_code_then_its_layers_on_the_path(client: Client) -> None:
    path = [Path(entry) for entry in echoed(client.get("/health"))["sys_path"]]
    assert path[:2] == [FAKES / "echo", ROOT / "layers" / "shared" / "python"]
    assert ROOT not in path


def test_a_function_response_keeps_its_own_cors_headers(client: Client) -> None:
    plain = client.get("/health", headers={"Origin": "https://app.example"})
    assert [name for name in plain.headers if name.startswith("access-control-")] == []
    own = client.get("/health?cors=1", headers={"Origin": "https://app.example"})
    assert own.header("access-control-allow-origin") == "https://own.example"
    assert own.header("access-control-allow-methods") is None


def test_a_method_the_template_does_not_define_is_a_403(client: Client) -> None:
    for method in ("HEAD", "PATCH"):
        reply = client.request(method, "/books", token="any")
        assert reply.status == 403, method


def pid(client: Client) -> int:
    return echoed(client.get("/health"))["pid"]


def test_a_function_error_is_a_502_and_the_worker_stays_warm(client: Client) -> None:
    before = pid(client)
    reply = client.get("/health?fail=1")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}
    assert pid(client) == before


def test_a_crash_is_a_502_and_the_worker_is_replaced(client: Client) -> None:
    before = pid(client)
    reply = client.get("/health?crash=1")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}
    assert pid(client) != before


def test_a_timeout_is_a_502_at_the_template_timeout_and_the_worker_is_replaced(client: Client) -> None:
    before = pid(client)
    started = time.monotonic()
    reply = client.get(f"/health?sleep={FUNCTION_TIMEOUT_SECONDS * 3}")
    elapsed = time.monotonic() - started
    assert reply.status == 502
    assert FUNCTION_TIMEOUT_SECONDS <= elapsed < FUNCTION_TIMEOUT_SECONDS * 2.5
    assert pid(client) != before


def overlapping(client: Client, count: int) -> list[dict]:
    replies = at_once(*(lambda: echoed(client.get("/health?sleep=0.3")),) * count, timeout=10)
    return sorted(replies, key=lambda reply: reply["started"])


def test_overlapping_invocations_scale_out_each_worker_one_at_a_time(client: Client) -> None:
    first, second = overlapping(client, 2)
    assert first["pid"] != second["pid"]
    assert second["started"] < first["ended"]  # side by side, in two execution environments
    again = echoed(client.get("/health"))
    assert again["pid"] in {first["pid"], second["pid"]}
    assert again["call"] > 1  # a warm worker: its module was imported once


def test_past_the_concurrency_limit_invocations_wait_their_turn(tmp_path: Path) -> None:
    server = FakeFunctionsServer(port=0, state_file=tmp_path / "state.json", max_concurrency=1)
    try:
        server.start()
        first, second = overlapping(Client(server.url), 2)
    finally:
        server.stop()
    assert first["pid"] == second["pid"]
    assert second["call"] == first["call"] + 1
    assert second["started"] >= first["ended"]


def test_the_authorizer_cache_keeps_a_response_for_its_ttl_only() -> None:
    now = [100.0]
    cache = AuthorizerCache({"cached": 300, "uncached": 0}, clock=lambda: now[0])
    cache.put("cached", "token", "policy")
    cache.put("uncached", "token", "policy")
    assert cache.get("cached", "token") == "policy"
    assert cache.get("uncached", "token") is None
    now[0] += 300
    assert cache.get("cached", "token") is None
