"""The API's OpenAPI document, generated from the code: docs/openapi.json.

Each function's Powertools resolver describes its own routes, request models and parameters
(``get_openapi_schema``); this merges them into one document for the whole API and adds what the
resolvers cannot know:
- the paths as API Gateway serves them (template.yaml's ``/books/{id}``, not the handler's
  ``/books/<book_id>``);
- the security of each route, from the template: the Bearer scheme where the JWT authorizer
  guards it (plus Basic on POST /auth/login, where it is an alternative to a JSON body, so that
  body is documented as optional, and as the model alone rather than the model or ``null``);
- the responses the API really sends: its success status (with the body its route's return
  model, or models, describe, or none for a 204), and the JSON errors of books_api.http (400 where
  Powertools would say 422, 401, 403, 404, 409, 413, 415, 429, 503).

    python -m tools.openapi            rewrite docs/openapi.json
    python -m tools.openapi --check    exit 1 if docs/openapi.json is not what the code generates
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from stack.template import ROOT, layer_python_dirs, routes

DOCUMENT = ROOT / "docs" / "openapi.json"
TITLE = "Books API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Sign up, log in for a JSON Web Token (with a TOTP code too, once multi-factor sign-in is on), "
    "and read a catalogue of books; with the admin role, write it and administer the users. Every "
    "error is a JSON body with a `message` (400s may add per-field `errors`)."
)
FUNCTIONS = {
    "signup": "SignupFunction",
    "login": "LoginFunction",
    "books": "BooksFunction",
    "users": "UsersFunction",
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

# What each function reads at import; the values only have to be well formed, no call is made.
_PLACEHOLDER_ENV = {
    "USERS_TABLE": "books-api-UsersTable",
    "TOKENS_TABLE": "books-api-TokensTable",
    "BOOKS_TABLE": "books-api-BooksTable",
    "SIGNING_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:signing",
    "PAGE_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:page-token",
    "TOKEN_ISSUER": "urn:books-api:books-api",
    "TOKEN_AUDIENCE": "urn:books-api:books-api:api",
    "MFA_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000",
    "MFA_ISSUER": "books-api",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "BooksApi",
}

SUCCESS = {("post", "/auth/signup"): 201, ("post", "/books"): 201, ("post", "/auth/logout"): 204}
SUCCESS_WITHOUT_BODY = {204}
ADMIN_ROUTES = {
    ("post", "/books"),
    ("put", "/books/{id}"),
    ("delete", "/books/{id}"),
    ("get", "/users"),
    ("get", "/users/{id}"),
    ("patch", "/users/{id}"),
    ("delete", "/users/{id}"),
}
# The routes that check a password or an MFA code under the lockout.
LOCKOUT_ROUTES = {
    ("post", "/auth/login"),
    ("post", "/auth/mfa"),
    ("post", "/users/me/password"),
    ("delete", "/users/me"),
    ("post", "/users/me/mfa/totp/confirm"),
    ("delete", "/users/me/mfa"),
}
BASIC_ROUTES = {("post", "/auth/login")}
CONFLICT_ROUTES = {
    ("post", "/auth/signup"),
    ("post", "/users/me/password"),
    ("delete", "/users/me"),
    ("post", "/users/me/mfa/totp"),
    ("post", "/users/me/mfa/totp/confirm"),
    ("delete", "/users/me/mfa"),
    ("patch", "/users/{id}"),
    ("delete", "/users/{id}"),
}
DEPENDENCY_FREE = {("get", "/health")}
POWERTOOLS_ERROR_SCHEMAS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}

ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["message"],
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
ERRORS = {
    400: "Invalid JSON, parameters or fields",
    401: "Missing, invalid or expired credentials or token",
    403: "The caller's roles do not allow this",
    404: "No such resource",
    409: (
        "Conflict (username taken, the account changed meanwhile, no enabled admin would remain, "
        "or multi-factor sign-in is already on, or off)"
    ),
    413: "Request body too large",
    415: "Request body is not application/json",
    429: "Too many failed attempts: wait Retry-After seconds",
    503: "A dependency is unavailable: retry after Retry-After seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}}


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update({name: value for name, value in values.items() if name not in os.environ})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _resolver(function: str, logical_id: str) -> Any:
    """functions/<function>/app.py's resolver, from a fresh import with its layers on the path."""
    for layer in reversed(layer_python_dirs(logical_id)):
        if str(layer) not in sys.path:
            sys.path.insert(0, str(layer))
    path = ROOT / "functions" / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"openapi_{function}_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    with _environment(_PLACEHOLDER_ENV):
        spec.loader.exec_module(module)
    return module.app


def _gateway_path(handler_path: str, gateway_paths: set[str]) -> tuple[str, dict[str, str]]:
    """The template's path for a handler path, and the renamed path parameters."""
    shape = re.sub(r"\{[^}]+\}", "{}", handler_path)
    (path,) = [candidate for candidate in gateway_paths if re.sub(r"\{[^}]+\}", "{}", candidate) == shape]
    renamed = dict(
        zip(re.findall(r"\{([^}]+)\}", handler_path), re.findall(r"\{([^}]+)\}", path), strict=True)
    )
    return path, renamed


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in (429, 503):
        response["headers"] = copy.deepcopy(RETRY_AFTER)
    return response


def _body_or_basic(operation: dict[str, Any]) -> None:
    """Where Basic authorization is the alternative to a JSON body, the body is the model, optional.

    Powertools describes an optional body as its model or ``null``; but with neither a body nor a
    Basic header the route answers 400, so a ``null`` body is no request of its own.
    """
    body = operation["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    (model,) = [branch for branch in schema["anyOf"] if branch != {"type": "null"}]
    body["content"]["application/json"]["schema"] = model
    body["required"] = False
    body["description"] = "The credentials; or no body, and Authorization: Basic instead"


def _responses(method: str, path: str, operation: dict[str, Any], protected: bool) -> dict[str, Any]:
    generated = operation["responses"]
    status = SUCCESS.get((method, path), 204 if method == "delete" else 200)
    success = generated.get("200") or next(iter(generated.values()))
    success = (
        {"description": "Success"}
        if status in SUCCESS_WITHOUT_BODY
        else {**success, "description": "Success"}
    )
    for content in success.get("content", {}).values():
        if "anyOf" in content["schema"]:
            # A route that returns one of several models: the union alone, without the name
            # Powertools gives it ("Return"), which describes nothing.
            content["schema"].pop("title", None)
    errors = []
    in_query = any(parameter["in"] == "query" for parameter in operation.get("parameters", []))
    if "requestBody" in operation or in_query or (method, path) in BASIC_ROUTES:
        errors.append(400)
    if protected or (path.startswith("/auth/") and path != "/auth/signup"):
        errors.append(401)
    if (method, path) in ADMIN_ROUTES:
        errors.append(403)
    if "{" in path:
        errors.append(404)
    if (method, path) in CONFLICT_ROUTES:
        errors.append(409)
    if method in ("post", "put", "patch") or "requestBody" in operation:
        errors += [413, 415]
    if (method, path) in LOCKOUT_ROUTES:
        errors.append(429)
    if (method, path) not in DEPENDENCY_FREE:
        errors.append(503)
    return {str(status): success, **{str(code): _error(code) for code in sorted(errors)}}


def document() -> dict[str, Any]:
    """The OpenAPI document of the whole API, as the code and the template describe it."""
    template_routes = {(method.lower(), path): protected for method, path, _, protected in routes()}
    gateway_paths = {path for _, path in template_routes}
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for function, logical_id in FUNCTIONS.items():
        generated = json.loads(
            _resolver(function, logical_id).get_openapi_json_schema(title=TITLE, version=VERSION)
        )
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            if name in POWERTOOLS_ERROR_SCHEMAS:
                continue  # the API answers validation errors with its own Error, never these
            if schemas.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas are named {name}")
        for handler_path, operations in generated["paths"].items():
            path, renamed = _gateway_path(handler_path, gateway_paths)
            for method, operation in operations.items():
                protected = template_routes[(method, path)]
                for parameter in operation.get("parameters", []):
                    parameter["name"] = renamed.get(parameter["name"], parameter["name"])
                    parameter["schema"].pop("title", None)
                operation["summary"] = f"{method.upper()} {path}"
                operation["responses"] = _responses(method, path, operation, protected)
                if protected:
                    operation["security"] = [{"bearerAuth": []}]
                elif (method, path) in BASIC_ROUTES:
                    operation["security"] = [{}, {"basicAuth": []}]
                    _body_or_basic(operation)
                else:
                    operation["security"] = []
                paths.setdefault(path, {})[method] = operation
    missing = set(template_routes) - {(method, path) for path, ops in paths.items() for method in ops}
    if missing:
        raise ValueError(f"routes in template.yaml that no function serves: {sorted(missing)}")
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": generated["openapi"],
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": {
            path: {method: paths[path][method] for method in METHODS if method in paths[path]}
            for path in sorted(paths)
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from /auth/signup, /auth/login or /auth/refresh.",
                },
                "basicAuth": {"type": "http", "scheme": "basic", "description": "Username and password."},
            },
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv[1:]:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            sys.stderr.write(f"{DOCUMENT.relative_to(ROOT)} is stale: run python -m tools.openapi\n")
            return 1
        return 0
    DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
    DOCUMENT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
