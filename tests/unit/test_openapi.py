"""docs/openapi.json: what the code generates (tools/openapi.py), valid, and true to the template."""

from __future__ import annotations

import json

import jsonschema
from openapi_spec_validator import validate

from stack.template import routes
from tests.unit.conftest import Functions
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
