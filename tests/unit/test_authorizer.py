"""The authorizer's accept/deny matrix: one valid token allowed, every kind of bad one a 401."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from books_api.keys import key_id
from books_api.permissions import PROTECTED_ROUTES
from tests.unit.conftest import AUDIENCE, METHOD_ARN, FakeExtension, Functions, claims, signing_secret


def sign(lambdas: Functions, payload: dict[str, Any], *, key: bytes | None = None, **header: Any) -> str:
    secret = signing_secret(lambdas.stack)
    headers = {"kid": key_id(secret), "typ": "at+jwt", **header}
    headers = {name: value for name, value in headers.items() if value is not None}
    algorithm = headers.pop("alg", "HS256")
    return jwt.encode(payload, key if key is not None else secret, algorithm=algorithm, headers=headers)


def authorize(lambdas: Functions, token: str, *, scheme: str = "Bearer ") -> dict[str, Any]:
    event = {"type": "TOKEN", "authorizationToken": f"{scheme}{token}", "methodArn": METHOD_ARN}
    return lambdas.invoke("authorizer", event)


def assert_denied(lambdas: Functions, token: str, **kwargs: Any) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(lambdas, token, **kwargs)


def b64(data: dict | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def allowed(policy: dict[str, Any]) -> set[str]:
    return {
        resource.split("/dev/", 1)[1]
        for statement in policy["policyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
        for resource in statement["Resource"]
    }


def test_valid_reader_token_allows_every_reader_route_and_no_admin_route(lambdas: Functions) -> None:
    policy = authorize(lambdas, sign(lambdas, claims()))
    assert policy["principalId"] == claims()["sub"]
    assert policy["context"] == {"username": "alice", "roles": "reader", "sid": "family-1"}
    reader_routes = {f"{method}{path}" for method, path, role in PROTECTED_ROUTES if role == "reader"}
    assert allowed(policy) == reader_routes
    assert "POST/books" not in allowed(policy)


def test_admin_token_allows_every_protected_route(lambdas: Functions) -> None:
    policy = authorize(lambdas, sign(lambdas, claims(roles=["reader", "admin"])))
    assert allowed(policy) == {f"{method}{path}" for method, path, _ in PROTECTED_ROUTES}


def test_token_without_known_roles_is_denied_everything(lambdas: Functions) -> None:
    policy = authorize(lambdas, sign(lambdas, claims(roles=["auditor"])))
    statements = policy["policyDocument"]["Statement"]
    assert [statement["Effect"] for statement in statements] == ["Deny"]


def test_policy_arns_name_this_api_and_stage(lambdas: Functions) -> None:
    policy = authorize(lambdas, sign(lambdas, claims()))
    for statement in policy["policyDocument"]["Statement"]:
        for resource in statement["Resource"]:
            assert resource.startswith("arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/")


def test_tokens_issued_at_login_are_accepted(lambdas: Functions) -> None:
    lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "bob", "password": "quiet-river-stone-77"}
    )
    _, pair, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "bob", "password": "quiet-river-stone-77"}
    )
    assert authorize(lambdas, pair["access_token"])["context"]["username"] == "bob"


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"exp": int(time.time()) - 60}, id="expired"),
        pytest.param({"nbf": int(time.time()) + 600}, id="not-yet-valid"),
        pytest.param({"iat": int(time.time()) + 600, "exp": int(time.time()) + 1200}, id="issued-in-future"),
        pytest.param({"iss": "urn:someone-else"}, id="wrong-issuer"),
        pytest.param({"aud": "urn:someone-else"}, id="wrong-audience"),
        pytest.param({"aud": [AUDIENCE, "urn:other"]}, id="audience-list"),
        pytest.param({"exp": int(time.time()) + 86400 * 365}, id="far-future-exp"),
        pytest.param({"exp": None}, id="missing-exp"),
        pytest.param({"iat": None}, id="missing-iat"),
        pytest.param({"sub": None}, id="missing-sub"),
        pytest.param({"iss": None}, id="missing-iss"),
        pytest.param({"aud": None}, id="missing-aud"),
        pytest.param({"jti": None}, id="missing-jti"),
        pytest.param({"username": None}, id="missing-username"),
        pytest.param({"sid": None}, id="missing-sid"),
        pytest.param({"roles": "admin"}, id="roles-not-a-list"),
        pytest.param({"roles": [1]}, id="roles-not-strings"),
        pytest.param({"sub": 42}, id="sub-not-a-string"),
        pytest.param({"exp": "tomorrow"}, id="exp-not-a-number"),
    ],
)
def test_bad_claims_are_denied(lambdas: Functions, changes: dict[str, Any]) -> None:
    assert_denied(lambdas, sign(lambdas, claims(**changes)))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"typ": "JWT"}, id="typ-jwt"),
        pytest.param({"typ": None}, id="typ-missing"),
        pytest.param({"typ": "refresh+jwt"}, id="typ-refresh"),
        pytest.param({"kid": None}, id="kid-missing"),
        pytest.param({"kid": "../../etc/passwd"}, id="kid-traversal"),
        pytest.param({"kid": "x' OR '1'='1"}, id="kid-injection"),
        pytest.param({"kid": "A" * 43}, id="kid-unknown"),
        pytest.param({"jku": "https://attacker.example/jwks"}, id="jku"),
        pytest.param({"x5u": "https://attacker.example/cert"}, id="x5u"),
        pytest.param({"jwk": {"kty": "oct", "k": "AAAA"}}, id="jwk"),
        pytest.param({"crit": ["exp"]}, id="crit"),
    ],
)
def test_bad_headers_are_denied(lambdas: Functions, header: dict[str, Any]) -> None:
    assert_denied(lambdas, sign(lambdas, claims(), **header))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_with_the_right_key_are_denied(lambdas: Functions, algorithm: str) -> None:
    assert_denied(lambdas, sign(lambdas, claims(), alg=algorithm))


@pytest.mark.parametrize("name", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_denied(lambdas: Functions, name: str) -> None:
    header = {"alg": name, "typ": "at+jwt", "kid": key_id(signing_secret(lambdas.stack))}
    token = f"{b64(header)}.{b64(claims())}."
    assert_denied(lambdas, token)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_asymmetric_algorithm_headers_are_denied(lambdas: Functions, algorithm: str) -> None:
    header = {"alg": algorithm, "typ": "at+jwt", "kid": key_id(signing_secret(lambdas.stack))}
    signature = b64(b"\x00" * 64)
    assert_denied(lambdas, f"{b64(header)}.{b64(claims())}.{signature}")


@pytest.mark.parametrize("key", [b"", b"secret", b"0" * 64], ids=["empty-key", "common-key", "zero-key"])
def test_tokens_signed_with_another_key_are_denied(lambdas: Functions, key: bytes) -> None:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": key_id(signing_secret(lambdas.stack))}
    import hashlib
    import hmac

    signing_input = f"{b64(header)}.{b64(claims(roles=['reader', 'admin']))}"
    signature = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
    assert_denied(lambdas, f"{signing_input}.{signature}")


def test_claims_edited_under_the_old_signature_are_denied(lambdas: Functions) -> None:
    header, _, signature = sign(lambdas, claims()).split(".")
    forged = f"{header}.{b64(claims(roles=['reader', 'admin']))}.{signature}"
    assert_denied(lambdas, forged)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda token: token.rsplit(".", 1)[0] + ".", id="signature-stripped"),
        pytest.param(lambda token: token[:-5], id="signature-truncated"),
        pytest.param(lambda token: token.rsplit(".", 1)[0], id="two-segments"),
        pytest.param(lambda token: token + "." + token, id="two-tokens-joined"),
        pytest.param(lambda token: token + " " + token, id="two-tokens-spaced"),
        pytest.param(lambda token: "garbage", id="garbage"),
        pytest.param(lambda token: "", id="empty"),
        pytest.param(lambda token: token + "A" * 5000, id="oversized"),
        pytest.param(lambda token: token.replace("e", "é", 1), id="non-ascii"),
    ],
)
def test_malformed_tokens_are_denied(lambdas: Functions, mangle: Any) -> None:
    assert_denied(lambdas, mangle(sign(lambdas, claims())))


@pytest.mark.parametrize("scheme", ["", "bearer ", "Basic ", "Token "])
def test_other_schemes_are_denied(lambdas: Functions, scheme: str) -> None:
    assert_denied(lambdas, sign(lambdas, claims()), scheme=scheme)


def test_a_refresh_token_in_place_of_an_access_token_is_denied(lambdas: Functions) -> None:
    _, body, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "bob", "password": "quiet-river-stone-77"}
    )
    assert_denied(lambdas, body["refresh_token"])


@pytest.mark.parametrize("status", [500, 502, 400, 401])
def test_secrets_manager_unavailable_denies(
    lambdas: Functions, secrets_extension: FakeExtension, status: int
) -> None:
    token = sign(lambdas, claims())
    lambdas.module("authorizer")
    secrets_extension.outage = status
    assert_denied(lambdas, token)


def test_warm_invocations_read_the_secret_once(lambdas: Functions, secrets_extension: FakeExtension) -> None:
    token = sign(lambdas, claims())
    lambdas.module("authorizer")
    for _ in range(50):
        authorize(lambdas, token)
    assert secrets_extension.requests == [(lambdas.stack.ref("SigningSecret"), "AWSCURRENT")]


def test_a_token_of_the_previous_key_reads_it_once_and_stays_valid(
    lambdas: Functions, secrets_extension: FakeExtension, rotate: Any
) -> None:
    old = sign(lambdas, claims())
    rotate()
    lambdas.module("authorizer")
    for _ in range(20):
        authorize(lambdas, old)
    secret = lambdas.stack.ref("SigningSecret")
    assert secrets_extension.requests == [(secret, "AWSCURRENT"), (secret, "AWSPREVIOUS")]


def test_authorizer_logs_never_contain_the_token(
    lambdas: Functions, caplog: pytest.LogCaptureFixture
) -> None:
    good = sign(lambdas, claims())
    authorize(lambdas, good)
    bad = sign(lambdas, claims(exp=int(time.time()) - 60))
    assert_denied(lambdas, bad)
    formatter = lambdas.module("authorizer").logger.registered_formatter
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert "Token refused" in logs
    for token in (good, bad):
        assert token not in logs
        assert token.split(".")[2] not in logs


@pytest.mark.parametrize(
    "roles", [(), ("reader",), ("admin",), ("reader", "admin"), ("auditor",), ("reader", "auditor")]
)
@pytest.mark.parametrize(
    "method_arn",
    [
        METHOD_ARN,
        "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3/prod/POST/books/123",
        "arn:aws:execute-api:eu-west-1:123456789012:xyz/v2/DELETE/",
    ],
)
def test_the_policy_is_the_one_powertools_builds(
    lambdas: Functions, roles: tuple[str, ...], method_arn: str
) -> None:
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerResponse,
        parse_api_gateway_arn,
    )

    arn = parse_api_gateway_arn(method_arn)
    expected = APIGatewayAuthorizerResponse(
        principal_id="-",
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
    )
    routes = [(method, path) for method, path, role in PROTECTED_ROUTES if role in roles]
    for method, path in routes:
        expected.allow_route(http_method=method, resource=path)
    if not routes:
        expected.deny_all_routes()
    module = lambdas.module("authorizer")
    stage_arn = "/".join(method_arn.split("/")[:2])
    assert module.policy_document(roles, stage_arn) == expected.asdict()["policyDocument"]


@pytest.mark.parametrize(
    "method_arn", [None, "", "garbage", "arn:aws:s3:::bucket/key/x", "arn:aws:execute-api:r:a:api"]
)
def test_a_method_arn_that_is_not_one_is_denied(lambdas: Functions, method_arn: Any) -> None:
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {sign(lambdas, claims())}",
        "methodArn": method_arn,
    }
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        lambdas.invoke("authorizer", event)
