"""template.yaml itself: routes and their authorizer, least-privilege policies, tables, secrets,
the MFA key, outputs.

The policy test runs every route and the rotation against moto, records each AWS call a function
makes (through books_api.aws.client), and checks each function's policy grants exactly those
actions on exactly those resources: nothing used is missing, nothing granted is unused; and that
each call meets the conditions of the statement that grants it (the attributes the login may
write, the purpose the key is used for).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import boto3
import pyotp
import pytest

from books_api import aws, passwords
from books_api.limits import TOTP_STEP_SECONDS
from books_api.models import UserProfile
from books_api.permissions import PROTECTED_ROUTES
from stack.template import Stack, functions, resources, routes, template
from tests.unit.conftest import REGION, Functions, caller_context
from tests.utils import NEW_PASSWORD, PASSWORD

OPEN_ROUTES = {
    ("POST", "/auth/signup"),
    ("POST", "/auth/login"),
    ("POST", "/auth/mfa"),
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


def test_the_users_directory_projects_the_public_fields_and_nothing_else() -> None:
    """GET /users reads one index: it holds a profile's fields, never a hash, a secret or a code."""
    table = resources("AWS::DynamoDB::Table")["UsersTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    directory = indexes["Directory"]
    keys = {key["AttributeName"] for key in directory["KeySchema"]}
    assert directory["Projection"]["ProjectionType"] == "INCLUDE"
    assert (keys | set(directory["Projection"]["NonKeyAttributes"])) - {"directory"} == set(
        UserProfile.model_fields
    )
    assert indexes["ById"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_the_mfa_key_rotates_and_its_policy_lets_only_the_functions_that_use_it_use_it() -> None:
    key = resources("AWS::KMS::Key")["MfaKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    # Deleted after the users table (dependents go first): a stack deletion that deletion
    # protection stops at the table never reaches the key.
    assert resources("AWS::DynamoDB::Table")["UsersTable"]["DependsOn"] == "MfaKey"
    using = {
        name: {action for action in _policy_actions(name) if action.startswith("kms:")}
        for name in functions()
    }
    using = {name: actions for name, actions in using.items() if actions}
    statements = key["KeyPolicy"]["Statement"]
    crypto = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey")
    (use,) = [
        statement
        for statement in statements
        if any(
            fnmatch.fnmatchcase(action, pattern)
            for action in crypto
            for pattern in _as_list(statement["Action"])
        )
    ]
    assert set(_as_list(use["Action"])) == set().union(*using.values())
    assert use["Condition"]["StringEquals"] == {"kms:EncryptionContext:purpose": "totp"}
    # The account is the principal: which roles may use the key is IAM's to say, and only the
    # functions above have a grant (measured by test_each_function_is_granted_exactly_the_calls_it_makes).
    assert use["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    assert set(use["Condition"]) == {"StringEquals"}
    assert set(using) == {"SignupFunction", "LoginFunction"}


def _policy_actions(function: str) -> set[str]:
    """The actions ``function``'s policies grant, in either branch of strict revocation."""
    found: set[str] = set()
    for entry in functions()[function]["Properties"]["Policies"]:
        for policy in entry["Fn::If"][1:] if "Fn::If" in entry else [entry]:
            for statement in policy.get("Statement", []):
                found |= set(_as_list(statement["Action"]))
    return found


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


def test_outputs_name_the_api_every_table_the_secrets_and_the_keys() -> None:
    outputs = template()["Outputs"]
    values = [output["Value"] for output in outputs.values()]
    assert "ApiUrl" in outputs
    for logical_id in [*resources("AWS::DynamoDB::Table"), *resources("AWS::SecretsManager::Secret")]:
        assert {"Ref": logical_id} in values
    for logical_id in resources("AWS::KMS::Key"):
        assert {"Fn::GetAtt": [logical_id, "Arn"]} in values


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
    if service == "kms":
        # A key is named by its ARN or its id; a policy names it by its ARN.
        key_arns = {stack.physical[logical]: arn for logical, arn in stack.arns.items() if ":key/" in arn}
        return {(f"kms:{operation}", key_arns.get(params["KeyId"], params["KeyId"]))}
    table_arns = {
        name: stack.arns[logical] for logical, name in stack.physical.items() if logical in stack.arns
    }
    if operation == "TransactWriteItems":
        return {
            (f"dynamodb:{_TRANSACT_ACTIONS[kind]}", table_arns[write["TableName"]])
            for item in params["TransactItems"]
            for kind, write in item.items()
        }
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return {(f"dynamodb:{operation}", table_arns[table]) for table in params["RequestItems"]}
    resource = table_arns[params["TableName"]]
    if "IndexName" in params:
        resource += f"/index/{params['IndexName']}"
    return {(f"dynamodb:{operation}", resource)}


@dataclass(frozen=True)
class Statement:
    actions: frozenset[str]
    resources: frozenset[str]
    condition: dict[str, Any]


def _statements(stack: Stack, function: str, strict: bool) -> list[Statement]:
    """The statements of ``function``'s policies, for these parameters, their resources resolved."""
    found = []
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
            named = statement["Resource"]
            found.append(
                Statement(
                    frozenset(_as_list(statement["Action"])),
                    frozenset(stack.resolve(arn) for arn in _as_list(named)),
                    statement.get("Condition", {}),
                )
            )
    return found


def _granted(stack: Stack, function: str, strict: bool) -> set[Grant]:
    return {
        (action, arn)
        for statement in _statements(stack, function, strict)
        for action in statement.actions
        for arn in statement.resources
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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
    _administer_users(lambdas, caller, created["user"]["id"])
    _multi_factor(lambdas)
    rotate()


def _ok(answer: tuple[int, Any, dict[str, str]], status: int = 200) -> Any:
    assert answer[0] == status, answer[1]
    return answer[1]


def _administer_users(lambdas: Functions, admin: dict[str, str], user_id: str) -> None:
    """An admin pages through the users, reads one, disables and re-enables them, deletes another."""
    _, bob, _ = lambdas.call("signup", "POST", "/auth/signup", body={"username": "bob", "password": PASSWORD})
    page = _ok(lambdas.call("users", "GET", "/users", query={"limit": "1"}, authorizer=admin))
    query = {"next_token": page["next_token"]}
    _ok(lambdas.call("users", "GET", "/users", query=query, authorizer=admin))
    params = {"resource": "/users/{id}", "path_parameters": {"id": user_id}, "authorizer": admin}
    _ok(lambdas.call("users", "GET", f"/users/{user_id}", **params))
    for disabled in (True, False):
        _ok(lambdas.call("users", "PATCH", f"/users/{user_id}", body={"disabled": disabled}, **params))
    bob_id = bob["user"]["id"]
    params = {"resource": "/users/{id}", "path_parameters": {"id": bob_id}, "authorizer": admin}
    _ok(lambdas.call("users", "DELETE", f"/users/{bob_id}", **params), 204)


def _multi_factor(lambdas: Functions) -> None:
    """A user turns TOTP on, signs in with a code and with a recovery code, turns it off, turns it
    on again and deletes the account with a code."""
    body = {"username": "carol", "password": PASSWORD}
    carol = caller_context(_ok(lambdas.call("signup", "POST", "/auth/signup", body=body), 201))

    def enrol() -> tuple[pyotp.TOTP, list[str]]:
        enrolment = _ok(lambdas.call("signup", "POST", "/users/me/mfa/totp", authorizer=carol))
        totp = pyotp.TOTP(enrolment["secret"])
        confirmation = {"code": totp.now()}
        codes = _ok(
            lambdas.call("signup", "POST", "/users/me/mfa/totp/confirm", body=confirmation, authorizer=carol)
        )
        return totp, codes["recovery_codes"]

    totp, codes = enrol()
    # The code of the next step: the confirmation spent the current one.
    for code in (totp.at(time.time() + TOTP_STEP_SECONDS), codes[0]):
        challenge = _ok(lambdas.call("login", "POST", "/auth/login", body=body))
        completion = {"mfa_token": challenge["mfa_token"], "code": code}
        _ok(lambdas.call("login", "POST", "/auth/mfa", body=completion))
    removal = {"password": PASSWORD, "code": codes[1]}
    _ok(lambdas.call("signup", "DELETE", "/users/me/mfa", body=removal, authorizer=carol), 204)
    _, codes = enrol()
    deletion = {"password": PASSWORD, "code": codes[0]}
    _ok(lambdas.call("signup", "DELETE", "/users/me", body=deletion, authorizer=carol), 204)


@dataclass(frozen=True)
class Call:
    function: str
    service: str
    operation: str
    params: dict[str, Any]


def _calls(lambdas: Functions, rotate: Any, monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every AWS call of the scenario, with the function (logical id) that made it."""
    calls: list[Call] = []
    make_client = aws.client

    def recording_client(service: str) -> Any:
        client = make_client(service)
        if not getattr(client, "_recorded", False):

            def record(model: Any, params: dict[str, Any], **_: Any) -> None:
                assert lambdas.invoking, f"{model.name} called outside any function"
                calls.append(Call(lambdas.invoking[-1], service, model.name, copy.deepcopy(params)))

            client.meta.events.register("before-parameter-build", record)
            client._recorded = True
        return client

    monkeypatch.setattr(aws, "client", recording_client)
    with monkeypatch.context() as m:
        # The operator's set_user runs outside any function: attribute it to no policy.
        m.setattr(lambdas, "invoking", ["operator"])
        lambdas.module("signup").accounts.set_user("admin", PASSWORD, ("reader", "admin"))
    _scenario(lambdas, rotate)
    return calls


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict-revocation"])
def test_each_function_is_granted_exactly_the_calls_it_makes(
    lambdas: Functions, rotate: Any, monkeypatch: pytest.MonkeyPatch, strict: bool
) -> None:
    lambdas.overrides["STRICT_REVOCATION"] = "true" if strict else "false"
    used: dict[str, set[Grant]] = defaultdict(set)
    for call in _calls(lambdas, rotate, monkeypatch):
        used[call.function] |= _grants_of_call(lambdas.stack, call.service, call.operation, call.params)
    for function in functions():
        granted = _granted(lambdas.stack, function, strict)
        used_here = used.get(function, set())
        assert used_here == granted, (function, used_here - granted, granted - used_here)


# --- the policies' conditions, measured ------------------------------------------------------

_NOT_ATTRIBUTES = {
    *("SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"),
    *("attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"),
    *("size", "if_not_exists", "list_append"),
}
# A name in an expression: not a :value, not a part of a path after its first.
_NAME = re.compile(r"(?<![:\w.#])#?[A-Za-z_]\w*")


def _attributes(params: dict[str, Any]) -> set[str]:
    """The top-level attributes a DynamoDB request names (IAM's ``dynamodb:Attributes``)."""
    names = set(params.get("Key", {}))
    aliases = params.get("ExpressionAttributeNames", {})
    for part in ("UpdateExpression", "ConditionExpression", "ProjectionExpression"):
        for name in _NAME.findall(params.get(part, "")):
            names.add(aliases.get(name, name))
    return names - _NOT_ATTRIBUTES


def _condition_values(key: str, params: dict[str, Any]) -> list[Any] | None:
    """The values of the condition key ``key`` for a request (None: the request has none)."""
    if key == "kms:EncryptionContext:purpose":
        context = params.get("EncryptionContext", {})
        return [context["purpose"]] if "purpose" in context else None
    if key == "dynamodb:Attributes":
        return sorted(_attributes(params))
    if key == "dynamodb:ReturnValues":
        return [params["ReturnValues"]] if "ReturnValues" in params else None
    raise AssertionError(f"the template conditions on {key}: say here what a request's values are")


def _meets(condition: dict[str, Any], params: dict[str, Any]) -> bool:
    for operator, keys in condition.items():
        for key, allowed in keys.items():
            values = _condition_values(key, params)
            if operator == "StringEquals":
                met = values is not None and all(value in _as_list(allowed) for value in values)
            elif operator in ("StringEqualsIfExists", "ForAllValues:StringEquals"):
                met = values is None or all(value in _as_list(allowed) for value in values)
            else:
                raise AssertionError(f"the template conditions with {operator}: say here how it compares")
            if not met:
                return False
    return True


def _requests(call: Call) -> list[tuple[str, dict[str, Any]]]:
    """A call as IAM authorizes it: each write of a transaction as the action it is."""
    if call.operation == "TransactWriteItems":
        return [
            (_TRANSACT_ACTIONS[kind], write)
            for item in call.params["TransactItems"]
            for kind, write in item.items()
        ]
    return [(call.operation, call.params)]


def _granting(stack: Stack, call: Call) -> list[tuple[dict[str, Any], list[Statement]]]:
    """For each action of ``call`` on its resource: its parameters and the caller's statements
    that grant it (conditions aside)."""
    statements = _statements(stack, call.function, strict=False)
    return [
        (params, [s for s in statements if action in s.actions and resource in s.resources])
        for operation, params in _requests(call)
        for action, resource in _grants_of_call(stack, call.service, operation, params)
    ]


def _admitted(stack: Stack, call: Call) -> bool:
    """Whether each action of ``call`` is granted by a statement whose conditions it meets."""
    return all(
        any(_meets(statement.condition, params) for statement in granting)
        for params, granting in _granting(stack, call)
    )


def test_every_call_meets_the_conditions_of_its_grant(
    lambdas: Functions, rotate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conditions narrow the grants (what the login writes to a user, the key's purpose) no
    further than the functions need: each call of the scenario is still allowed."""
    calls = [call for call in _calls(lambdas, rotate, monkeypatch) if call.function != "operator"]
    conditioned = {
        (call.function, call.service)
        for call in calls
        for _, granting in _granting(lambdas.stack, call)
        if granting and all(statement.condition for statement in granting)
    }
    assert conditioned == {
        ("LoginFunction", "dynamodb"),
        ("LoginFunction", "kms"),
        ("SignupFunction", "kms"),
    }
    refused = [
        (call.function, call.operation, call.params) for call in calls if not _admitted(lambdas.stack, call)
    ]
    assert refused == []


def test_a_call_outside_a_condition_is_refused(lambdas: Functions) -> None:
    """The check above is not blind: a login writing a role, or opening the key for another
    purpose, is refused."""
    users = lambdas.stack.ref("UsersTable")
    role = Call(
        "LoginFunction",
        "dynamodb",
        "UpdateItem",
        {
            "TableName": users,
            "Key": {"username": {"S": "a"}},
            "UpdateExpression": "SET #r = :r",
            "ExpressionAttributeNames": {"#r": "roles"},
            "ExpressionAttributeValues": {":r": {"L": []}},
        },
    )
    rehash = Call(
        "LoginFunction",
        "dynamodb",
        "UpdateItem",
        {
            "TableName": users,
            "Key": {"username": {"S": "a"}},
            "UpdateExpression": "SET password_hash = :h",
            "ConditionExpression": "password_hash = :old",
            "ExpressionAttributeValues": {},
        },
    )
    key = lambdas.stack.arns["MfaKey"]
    other = Call("LoginFunction", "kms", "Decrypt", {"KeyId": key, "EncryptionContext": {"purpose": "other"}})
    totp = Call("LoginFunction", "kms", "Decrypt", {"KeyId": key, "EncryptionContext": {"purpose": "totp"}})
    assert [_admitted(lambdas.stack, call) for call in (role, rehash, other, totp)] == [
        False,
        True,
        False,
        True,
    ]
