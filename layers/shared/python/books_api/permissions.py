"""Which roles may call which protected route: the one table the authorizer builds policies from.

Paths are API Gateway resource paths with ``*`` for a path parameter, as in an execute-api ARN.
tests/unit/test_template.py checks that this table and template.yaml's routes are the same set.
The roles are named here, not beside the users table, so the authorizer imports no AWS client.
"""

from __future__ import annotations

from collections.abc import Iterable

READER = "reader"
ADMIN = "admin"

PROTECTED_ROUTES: tuple[tuple[str, str, str], ...] = (
    ("GET", "/users/me", READER),
    ("DELETE", "/users/me", READER),
    ("POST", "/users/me/password", READER),
    ("POST", "/users/me/mfa/totp", READER),
    ("POST", "/users/me/mfa/totp/confirm", READER),
    ("DELETE", "/users/me/mfa", READER),
    ("POST", "/auth/logout", READER),
    ("GET", "/books", READER),
    ("GET", "/books/*", READER),
    ("POST", "/books", ADMIN),
    ("PUT", "/books/*", ADMIN),
    ("DELETE", "/books/*", ADMIN),
    ("GET", "/users", ADMIN),
    ("GET", "/users/*", ADMIN),
    ("PATCH", "/users/*", ADMIN),
    ("DELETE", "/users/*", ADMIN),
)


def allowed_routes(roles: Iterable[str]) -> list[tuple[str, str]]:
    granted = set(roles)
    return [(method, path) for method, path, role in PROTECTED_ROUTES if role in granted]
