"""template.yaml itself: routes and their authorizer, least-privilege policies, tables, secrets, outputs.

The policy test runs every route and the rotation against moto, records each AWS call a function
makes (through books_api.aws.client), and checks each function's policy grants exactly those
actions on exactly those resources: nothing used is missing, nothing granted is unused.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from typing import Any

import boto3
import pytest

from books_api import aws, passwords
from books_api.permissions import PROTECTED_ROUTES
from stack.template import Stack, functions, resources, routes, template
from tests.unit.conftest import REGION, Functions
from tests.utils import NEW_PASSWORD, PASSWORD

OPEN_ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("GET", "/health"),
}
Grant = tuple[str, str]  # (service:Action, resource ARN)


def test_every_route_but_the_open_ones_has_the_authorizer() -> None:
    api = resources("AWS::Serverless::Api")["Api"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] == "JwtAuthorizer"
    assert {(method, path) for method, path, _, protected in routes() if not protected} == OPEN_ROUTES
    for _, _, function, _ in routes():
        for props in functions()[function]["Properties"]["Events"].values():
            assert props["Properties"]["RestApiId"] == {"Ref": "Api"}


def test_the_authorizer_reads_the_bearer_header_and_caches_per_token() -> None:
    authorizer = resources("AWS::Serverless::Api")["Api"]["Properties"]["Auth"]["Authorizers"][
        "JwtAuthorizer"
    ]
    assert authorizer["FunctionPayloadType"] == "TOKEN"
    assert authorizer["Identity"]["Header"] == "Authorization"
    # Its live alias (tests/unit/test_deployments.py follows it through the SAM transform).
    assert authorizer["FunctionArn"] == {"Fn::Sub": "${AuthorizerFunction.Arn}:live"}


def test_the_role_table_covers_exactly_the_protected_routes() -> None:
    protected = {
        (method, path.replace("{id}", "*")) for method, path, _, is_protected in routes() if is_protected
    }
    assert {(method, path) for method, path, _ in PROTECTED_ROUTES} == protected


def test_functions_run_python313_on_arm64_with_powertools_settings() -> None:
    globals_ = template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.13"
    assert globals_["Architectures"] == [{"Ref": "Architecture"}]
    assert template()["Parameters"]["Architecture"]["Default"] == "arm64"
    assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"} <= set(
        globals_["Environment"]["Variables"]
    )
    for function in functions().values():
        assert "Runtime" not in function["Properties"]


def test_tables_are_on_demand_encrypted_and_recoverable() -> None:
    tables = resources("AWS::DynamoDB::Table")
    assert set(tables) == {"UsersTable", "BooksTable", "TokensTable"}
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert tables["TokensTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


def test_secrets_are_generated_with_at_least_256_bits() -> None:
    for secret in resources("AWS::SecretsManager::Secret").values():
        generate = secret["Properties"]["GenerateSecretString"]
        # Letters and digits only: log2(62) > 5.9 bits a character.
        assert generate["PasswordLength"] * 5.9 >= 256


def test_the_signing_key_rotates_on_a_schedule_through_its_function() -> None:
    schedule = resources("AWS::SecretsManager::RotationSchedule")["SigningKeyRotationSchedule"]["Properties"]
    assert schedule["SecretId"] == {"Ref": "SigningSecret"}
    assert schedule["RotationLambdaARN"] == {"Fn::GetAtt": ["SigningKeyRotationFunction", "Arn"]}


def test_stage_throttling_and_cors_on_gateway_errors() -> None:
    api = resources("AWS::Serverless::Api")["Api"]["Properties"]
    settings = api["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] and settings["ThrottlingBurstLimit"]
    for response in ("DEFAULT_4XX", "DEFAULT_5XX"):
        headers = api["GatewayResponses"][response]["ResponseParameters"]["Headers"]
        assert "Access-Control-Allow-Origin" in headers


def test_outputs_name_the_api_every_table_and_the_secrets() -> None:
    outputs = template()["Outputs"]
    values = [output["Value"] for output in outputs.values()]
    assert "ApiUrl" in outputs
    for logical_id in [*resources("AWS::DynamoDB::Table"), *resources("AWS::SecretsManager::Secret")]:
        assert {"Ref": logical_id} in values


def test_no_policy_uses_a_wildcard() -> None:
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
        else:
            yield value

    for function in functions().values():
        assert "*" not in str(list(walk(function["Properties"]["Policies"])))


# --- least privilege, measured ---------------------------------------------------------------

_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _grants_of_call(stack: Stack, service: str, operation: str, params: dict[str, Any]) -> set[Grant]:
    if service == "secretsmanager":
        # Secrets Manager names the secret to its rotation function by name, not ARN.
        arns = {
            arn.split(":secret:")[1].rsplit("-", 1)[0]: arn
            for arn in stack.arns.values()
            if ":secret:" in arn
        }
        return {(f"secretsmanager:{operation}", arns.get(params["SecretId"], params["SecretId"]))}
    table_arns = {
        name: stack.arns[logical] for logical, name in stack.physical.items() if logical in stack.arns
    }
    if operation == "TransactWriteItems":
        return {
            (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table_arns[write["TableName"]])
            for item in params["TransactItems"]
            for kind, write in item.items()
        }
    if operation == "BatchGetItem":
        return {("dynamodb:BatchGetItem", table_arns[table]) for table in params["RequestItems"]}
    resource = table_arns[params["TableName"]]
    if "IndexName" in params:
        resource += f"/index/{params['IndexName']}"
    return {(f"dynamodb:{operation}", resource)}


def _granted(stack: Stack, function: str, strict: bool) -> set[Grant]:
    granted: set[Grant] = set()
    for entry in functions()[function]["Properties"]["Policies"]:
        policy = entry
        if "Fn::If" in entry:
            condition, when_true, when_false = entry["Fn::If"]
            assert condition == "StrictRevocationOn"
            policy = when_true if strict else when_false
            if policy == {"Ref": "AWS::NoValue"}:
                continue
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            granted |= {(action, stack.resolve(statement["Resource"])) for action in actions}
    return granted


def _scenario(lambdas: Functions, rotate: Any) -> None:
    """Every route, every lifecycle path, and one rotation: what the functions do in production."""
    _, created, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    for _ in range(6):
        lambdas.call(
            "login", "POST", "/auth/login", body={"username": "alice", "password": "wrong-password-1"}
        )
    lambdas.call("login", "POST", "/auth/login", body={"username": "admin", "password": "wrong-password-1"})
    # The admin's hash predates a change of BcryptCost: the login rehashes it.
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=lambdas.stack.ref("UsersTable"),
        Key={"username": {"S": "admin"}},
        UpdateExpression="SET password_hash = :h",
        ExpressionAttributeValues={":h": {"S": passwords.hash_password(PASSWORD, cost=5)}},
    )
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    _, admin, _ = lambdas.call("login", "POST", "/auth/login", headers={"Authorization": f"Basic {basic}"})
    event = {
        "type": "TOKEN",
        "authorizationToken": f"Bearer {admin['access_token']}",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/books",
    }
    context = lambdas.invoke("authorizer", event)
    caller = {"principalId": context["principalId"], **context["context"]}
    _, refreshed, _ = lambdas.call(
        "login", "POST", "/auth/refresh", body={"refresh_token": admin["refresh_token"]}
    )
    lambdas.call("login", "POST", "/auth/refresh", body={"refresh_token": admin["refresh_token"]})
    _, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=caller
    )
    lambdas.call("books", "POST", "/books", body={"title": "U", "author": "B"}, authorizer=caller)
    _, page, _ = lambdas.call("books", "GET", "/books", query={"limit": "1"}, authorizer=caller)
    lambdas.call("books", "GET", "/books", query={"next_token": page["next_token"]}, authorizer=caller)
    path = f"/books/{book['id']}"
    params = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": caller}
    lambdas.call("books", "GET", path, **params)
    lambdas.call("books", "PUT", path, body={"title": "T2", "author": "A"}, **params)
    lambdas.call("books", "DELETE", path, **params)
    lambdas.call("signup", "GET", "/users/me", authorizer=caller)
    for current in ("wrong-password-1", PASSWORD):
        lambdas.call(
            "signup",
            "POST",
            "/users/me/password",
            body={"current_password": current, "new_password": NEW_PASSWORD},
            authorizer=caller,
        )
    lambdas.call(
        "login", "POST", "/auth/logout", body={"refresh_token": refreshed["refresh_token"]}, authorizer=caller
    )
    lambdas.call("books", "GET", "/health")
    assert created["user"]["username"] == "alice"
    rotate()


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict-revocation"])
def test_each_function_is_granted_exactly_the_calls_it_makes(
    lambdas: Functions, rotate: Any, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true" if strict else "false"
    used: dict[str, set[Grant]] = defaultdict(set)
    make_client = aws.client

    def recording_client(service: str) -> Any:
        client = make_client(service)
        if not getattr(client, "_recorded", False):

            def record(model: Any, params: dict[str, Any], **_: Any) -> None:
                assert lambdas.invoking, f"{model.name} called outside any function"
                used[lambdas.invoking[-1]] |= _grants_of_call(lambdas.stack, service, model.name, params)

            client.meta.events.register("before-parameter-build", record)
            client._recorded = True
        return client

    monkeypatch.setattr(aws, "client", recording_client)
    with monkeypatch.context() as m:
        # The operator's set_user runs outside any function: attribute it to no policy.
        m.setattr(lambdas, "invoking", ["operator"])
        lambdas.module("signup").accounts.set_user("admin", PASSWORD, ("reader", "admin"))
    _scenario(lambdas, rotate)
    for function in functions():
        assert used.get(function, set()) == _granted(lambdas.stack, function, strict), function
