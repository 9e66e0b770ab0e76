"""docs/openapi.json: what the code generates (tools/openapi.py), valid, and true to the template."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pyotp
from openapi_spec_validator import validate

from stack.template import routes
from tests.unit.conftest import Functions, caller_context
from tests.utils import ADMIN, PASSWORD
from tools import openapi


def committed() -> dict:
    return json.loads(openapi.DOCUMENT.read_text())


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert openapi.DOCUMENT.read_text() == openapi.render(), "run: python -m tools.openapi"


def test_the_document_is_valid_openapi() -> None:
    validate(committed())


def test_every_route_of_the_template_is_documented_with_its_authorizer() -> None:
    document = committed()
    documented = {
        (method.upper(), path): operation
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert set(documented) == {(method, path) for method, path, _, _ in routes()}
    for method, path, _, protected in routes():
        security = documented[(method, path)]["security"]
        assert ({"bearerAuth": []} in security) == protected, (method, path)
        if protected:
            assert "401" in documented[(method, path)]["responses"]


def test_documented_errors_are_the_shape_the_handlers_send(lambdas: Functions) -> None:
    schema = {**openapi.ERROR_SCHEMA, "additionalProperties": False}
    status, body, _ = lambdas.call("books", "POST", "/books", body={"title": ""}, authorizer=ADMIN)
    assert str(status) in committed()["paths"]["/books"]["post"]["responses"]
    jsonschema.validate(body, schema)
    status, body, _ = lambdas.call("signup", "GET", "/users/me")
    assert str(status) in committed()["paths"]["/users/me"]["get"]["responses"]
    jsonschema.validate(body, schema)


def test_success_statuses_are_the_ones_the_handlers_answer_with(lambdas: Functions) -> None:
    responses = committed()["paths"]
    status, book, _ = lambdas.call(
        "books", "POST", "/books", body={"title": "T", "author": "A"}, authorizer=ADMIN
    )
    assert str(status) in responses["/books"]["post"]["responses"]
    path = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": ADMIN}
    status, _, _ = lambdas.call("books", "DELETE", f"/books/{book['id']}", **path)
    assert str(status) in responses["/books/{id}"]["delete"]["responses"]
    status, _, _ = lambdas.call(
        "signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD}
    )
    assert str(status) in responses["/auth/signup"]["post"]["responses"]


def _operations(document: dict) -> list[tuple[str, str, dict]]:
    return [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def _success(operation: dict) -> tuple[int, dict | None]:
    """The success status of an operation and the schema of its body (None when it has none)."""
    ((status, response),) = [(code, r) for code, r in operation["responses"].items() if code.startswith("2")]
    content = response.get("content")
    return int(status), content["application/json"]["schema"] if content else None


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].removeprefix("#/components/schemas/")]
    return schema


def _assert_concrete(document: dict, schema: dict, where: str) -> None:
    """Every object in ``schema`` names its properties and allows no others; so do its parts."""
    schema = _resolve(document, schema)
    for branch in schema.get("anyOf", []):
        _assert_concrete(document, branch, where)
    if schema.get("type") == "object":
        assert schema.get("properties"), where
        assert schema.get("additionalProperties") is False, where
        for name, part in schema["properties"].items():
            _assert_concrete(document, part, f"{where}.{name}")
    if schema.get("type") == "array":
        _assert_concrete(document, schema["items"], f"{where}[]")


def test_every_success_response_documents_its_body_field_by_field() -> None:
    document = committed()
    for method, path, operation in _operations(document):
        status, schema = _success(operation)
        if status == 204:
            assert schema is None, (method, path)
            continue
        models = schema["anyOf"] if schema is not None and set(schema) == {"anyOf"} else [schema]
        for model in models:
            assert model is not None and set(model) == {"$ref"}, (method, path)
            _assert_concrete(document, model, f"{method} {path}")


SECRET_NAMES = re.compile(r"password|hash|secret|totp|recovery", re.IGNORECASE)
# The one response that hands each out: the TOTP secret at enrolment, the recovery codes at its
# confirmation. No other response has a field of that name.
HANDED_OUT = {
    ("POST", "/users/me/mfa/totp"): {"secret"},
    ("POST", "/users/me/mfa/totp/confirm"): {"recovery_codes"},
}


def test_no_response_body_has_a_field_for_a_password_hash_or_secret() -> None:
    document = committed()
    seen: list[str] = []

    def names(schema: dict, found: list[str]) -> None:
        schema = _resolve(document, schema)
        for name, part in schema.get("properties", {}).items():
            found.append(name)
            names(part, found)
        for part in [*schema.get("anyOf", []), *([schema["items"]] if "items" in schema else [])]:
            names(part, found)

    for method, path, operation in _operations(document):
        _, schema = _success(operation)
        found: list[str] = []
        if schema is not None:
            names(schema, found)
        seen += found
        secret = {name for name in found if SECRET_NAMES.search(name)}
        assert secret == HANDED_OUT.get((method, path), set()), (method, path)
    assert "access_token" in seen and "title" in seen


# Every keyword a schema in the document may use: JSON Schema's and OpenAPI's. Anything else (a
# pydantic constraint written out as "ge", say) is one no validator or client enforces.
SCHEMA_KEYWORDS = {
    "$ref", "type", "title", "description", "default", "properties", "required", "additionalProperties",
    "items", "anyOf", "const", "enum", "format", "pattern", "minLength", "maxLength", "minimum", "maximum",
    "minItems", "maxItems",
}  # fmt: skip


def test_the_document_uses_only_schema_keywords_validators_know() -> None:
    document = committed()

    def check(schema: dict, where: str) -> None:
        assert set(schema) <= SCHEMA_KEYWORDS, (where, set(schema) - SCHEMA_KEYWORDS)
        for name, part in schema.get("properties", {}).items():
            check(part, f"{where}.{name}")
        for part in schema.get("anyOf", []):
            check(part, where)
        if isinstance(schema.get("items"), dict):
            check(schema["items"], f"{where}[]")

    for name, schema in document["components"]["schemas"].items():
        check(schema, name)
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            check(parameter["schema"], f"{method} {path} {parameter['name']}")


def _validator(document: dict, schema: dict) -> jsonschema.Validator:
    """A validator of ``schema`` that resolves the document's component references."""
    return jsonschema.Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _sent(lambdas: Functions) -> dict[tuple[str, str], list[tuple[int, Any]]]:
    """What each route answers valid requests with: (method, documented path) to statuses and bodies."""
    answers: dict[tuple[str, str], list[tuple[int, Any]]] = {}

    def call(name: str, method: str, path: str, documented: str | None = None, **kwargs: Any) -> Any:
        status, body, _ = lambdas.call(name, method, path, **kwargs)
        answers.setdefault((method, documented or path), []).append((status, body))
        return body

    credentials = {"username": "alice", "password": "violet-anchor-93-lantern"}
    signed_up = call("signup", "POST", "/auth/signup", body=credentials)
    pair = call("login", "POST", "/auth/login", body=credentials)
    me = caller_context(pair)
    call("signup", "GET", "/users/me", authorizer=me)
    pair = call("login", "POST", "/auth/refresh", body={"refresh_token": pair["refresh_token"]})
    call("login", "POST", "/auth/logout", authorizer=caller_context(signed_up))
    change = {"current_password": credentials["password"], "new_password": "another-long-passphrase"}
    pair = call("signup", "POST", "/users/me/password", body=change, authorizer=caller_context(pair))
    credentials["password"] = change["new_password"]
    call("books", "GET", "/health")
    full = {"title": "Dune", "author": "Frank Herbert", "year": 1965, "isbn": "978-0-441-17271-9"}
    book = call("books", "POST", "/books", body=full, authorizer=ADMIN)
    call("books", "POST", "/books", body={"title": "Beowulf", "author": "Unknown"}, authorizer=ADMIN)
    call("books", "GET", "/books", query={"limit": "1"}, authorizer=ADMIN)
    one = {"resource": "/books/{id}", "path_parameters": {"id": book["id"]}, "authorizer": ADMIN}
    call("books", "GET", f"/books/{book['id']}", "/books/{id}", **one)
    call("books", "PUT", f"/books/{book['id']}", "/books/{id}", body={"title": "D", "author": "F"}, **one)
    call("books", "DELETE", f"/books/{book['id']}", "/books/{id}", **one)
    # Multi-factor sign-in: enrolment, a login that needs a code, and the factor turned off.
    me = caller_context(pair)
    secret = call("signup", "POST", "/users/me/mfa/totp", authorizer=me)["secret"]
    confirmation = {"code": pyotp.TOTP(secret).now()}
    codes = call("signup", "POST", "/users/me/mfa/totp/confirm", body=confirmation, authorizer=me)
    challenge = call("login", "POST", "/auth/login", body=credentials)
    completion = {"mfa_token": challenge["mfa_token"], "code": codes["recovery_codes"][0]}
    call("login", "POST", "/auth/mfa", body=completion)
    removal = {"password": credentials["password"], "code": codes["recovery_codes"][1]}
    call("signup", "DELETE", "/users/me/mfa", body=removal, authorizer=me)
    # User administration, on another user; then the first one deletes their account.
    other = call("signup", "POST", "/auth/signup", body={"username": "bob", "password": PASSWORD})["user"]
    call("users", "GET", "/users", query={"limit": "1"}, authorizer=ADMIN)
    user = {"resource": "/users/{id}", "path_parameters": {"id": other["id"]}, "authorizer": ADMIN}
    call("users", "GET", f"/users/{other['id']}", "/users/{id}", **user)
    call("users", "PATCH", f"/users/{other['id']}", "/users/{id}", body={"disabled": True}, **user)
    call("users", "DELETE", f"/users/{other['id']}", "/users/{id}", **user)
    call("signup", "DELETE", "/users/me", body={"password": credentials["password"]}, authorizer=me)
    return answers


def test_every_route_sends_exactly_the_body_the_document_describes(lambdas: Functions) -> None:
    document = committed()
    answers = _sent(lambdas)
    assert set(answers) == {(method, path) for method, path, _ in _operations(document)}
    for (method, path), sent in answers.items():
        documented, schema = _success(document["paths"][path][method.lower()])
        for status, body in sent:
            assert status == documented, (method, path, body)
            if schema is None:
                assert body is None, (method, path)
            else:
                _validator(document, schema).validate(body)
    # Both of the login's answers: a token pair, and for a user with a factor on, a challenge.
    assert [sorted(body) for _, body in answers[("POST", "/auth/login")]] == [
        ["access_token", "expires_in", "refresh_token", "token_type"],
        ["expires_in", "mfa_required", "mfa_token"],
    ]
