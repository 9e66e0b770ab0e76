"""Writes events/: one API Gateway REST proxy event per route, and a TOKEN authorizer event.

    .venv/bin/python tools/sample_events.py

Use them with ``sam local invoke <Function> -e events/<file>``. Protected routes carry the
``requestContext.authorizer`` the authorizer would have added. tests/unit/test_events.py checks
the files are current and that each one gets its route's answer from its function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
BOOK_ID = "3f0c8a52-5d3e-4c1e-9b7a-2f6d1c9e8a41"
READER = {
    "principalId": "8d1b6a3e-2f4c-4e8a-9c1d-5b7e3a9f0c2d",
    "username": "alice",
    "roles": "reader",
    "sid": "f" * 32,
}
ADMIN = dict(READER, username="admin", roles="reader,admin")
BOOK = {
    "title": "The Left Hand of Darkness",
    "author": "Ursula K. Le Guin",
    "year": 1969,
    "isbn": "978-0-441-47812-5",
}
CREDENTIALS = {"username": "alice", "password": "correct horse battery staple"}
USER_ID = "5c7e2b9d-8a41-4f6e-b3d0-9e1a2c4f7b68"
TOTP_CODE = "123456"
RECOVERY_CODE = "ABCD-EFGH-IJKL-MNOP"

# file name: (method, resource, path, body, authorizer context)
ROUTES: dict[str, tuple[str, str, str, Any, dict[str, str] | None]] = {
    "health": ("GET", "/health", "/health", None, None),
    "signup": ("POST", "/auth/signup", "/auth/signup", CREDENTIALS, None),
    "login": ("POST", "/auth/login", "/auth/login", CREDENTIALS, None),
    "refresh": ("POST", "/auth/refresh", "/auth/refresh", {"refresh_token": "<refresh token>"}, None),
    "logout": ("POST", "/auth/logout", "/auth/logout", None, READER),
    "users-me": ("GET", "/users/me", "/users/me", None, READER),
    "users-me-password": (
        "POST",
        "/users/me/password",
        "/users/me/password",
        {"current_password": CREDENTIALS["password"], "new_password": "copper kettle meadow 48"},
        READER,
    ),
    "users-me-delete": (
        "DELETE",
        "/users/me",
        "/users/me",
        {"password": CREDENTIALS["password"], "code": TOTP_CODE},
        READER,
    ),
    "users-me-mfa-totp": ("POST", "/users/me/mfa/totp", "/users/me/mfa/totp", None, READER),
    "users-me-mfa-totp-confirm": (
        "POST",
        "/users/me/mfa/totp/confirm",
        "/users/me/mfa/totp/confirm",
        {"code": TOTP_CODE},
        READER,
    ),
    "users-me-mfa-delete": (
        "DELETE",
        "/users/me/mfa",
        "/users/me/mfa",
        {"password": CREDENTIALS["password"], "code": RECOVERY_CODE},
        READER,
    ),
    "mfa": ("POST", "/auth/mfa", "/auth/mfa", {"mfa_token": "<mfa token>", "code": TOTP_CODE}, None),
    "users-list": ("GET", "/users", "/users", None, ADMIN),
    "users-get": ("GET", "/users/{id}", f"/users/{USER_ID}", None, ADMIN),
    "users-change": ("PATCH", "/users/{id}", f"/users/{USER_ID}", {"roles": ["reader", "admin"]}, ADMIN),
    "users-delete": ("DELETE", "/users/{id}", f"/users/{USER_ID}", None, ADMIN),
    "books-list": ("GET", "/books", "/books", None, READER),
    "books-create": ("POST", "/books", "/books", BOOK, ADMIN),
    "books-get": ("GET", "/books/{id}", f"/books/{BOOK_ID}", None, READER),
    "books-replace": ("PUT", "/books/{id}", f"/books/{BOOK_ID}", dict(BOOK, year=1970), ADMIN),
    "books-delete": ("DELETE", "/books/{id}", f"/books/{BOOK_ID}", None, ADMIN),
}


def proxy_event(method: str, resource: str, path: str, body: Any, authorizer: dict[str, str] | None) -> dict:
    headers = {
        "Accept": "application/json",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-Proto": "https",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    if authorizer is not None:
        headers["Authorization"] = "Bearer <access token>"
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdef1234",
        "resourceId": "a1b2c3",
        "stage": "dev",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTimeEpoch": 1763856000000,
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        "path": f"/dev{path}",
        "resourcePath": resource,
        "httpMethod": method,
        "protocol": "HTTP/1.1",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"id": path.rsplit("/", 1)[1]} if "{id}" in resource else None,
        "stageVariables": None,
        "requestContext": context,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def render() -> dict[str, str]:
    files = {f"{name}.json": proxy_event(*route) for name, route in ROUTES.items()}
    files["authorizer.json"] = {
        "type": "TOKEN",
        "authorizationToken": "Bearer <access token>",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/books",
    }
    files["rotation.json"] = {
        "Step": "createSecret",
        "SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningSecret-AbCdEf",
        "ClientRequestToken": "6b9f3c1e-4d2a-4f8b-9e7c-1a2b3c4d5e6f",
    }
    return {name: json.dumps(event, indent=2) + "\n" for name, event in files.items()}


if __name__ == "__main__":
    for name, text in render().items():
        (EVENTS / name).write_text(text)
    print(f"wrote {len(ROUTES) + 2} events to {EVENTS}")
