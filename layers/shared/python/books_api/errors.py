"""Errors the API answers with, each carrying its HTTP status and a message safe to show a client."""

from __future__ import annotations


class ApiError(Exception):
    status = 500
    default_message = "Internal server error"

    def __init__(self, message: str | None = None, *, errors: list[dict[str, str]] | None = None) -> None:
        self.message = message or self.default_message
        self.errors = errors or []
        super().__init__(self.message)

    @property
    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ApiError):
    status = 400
    default_message = "Invalid request"


class Unauthorized(ApiError):
    status = 401
    default_message = "Unauthorized"


class CredentialsRefused(Unauthorized):
    """A password that is not the account's, or no such account: the same 401 either way.
    ``username`` is the account's (normalised) username when there is one, for the log; None for
    an unknown username, which is never logged, since a password typed into the username field
    would be."""

    def __init__(self, message: str | None = None, *, username: str | None = None) -> None:
        super().__init__(message)
        self.username = username


class RefreshTokenReused(Unauthorized):
    """A spent refresh token came back (a replay, or the loser of a race) and its session was
    revoked. The client gets the same 401 as for any refused refresh token; the type tells the
    handler to count it (a security signal)."""


class Forbidden(ApiError):
    status = 403
    default_message = "Forbidden"


class NotFound(ApiError):
    status = 404
    default_message = "Not found"


class Conflict(ApiError):
    status = 409
    default_message = "Conflict"


class PayloadTooLarge(ApiError):
    status = 413
    default_message = "Request body too large"


class UnsupportedMediaType(ApiError):
    status = 415
    default_message = "Request body must be application/json"


class _RetryAfter(ApiError):
    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyRequests(_RetryAfter):
    status = 429
    default_message = "Too many failed attempts; try again later"


class ServiceUnavailable(_RetryAfter):
    status = 503
    default_message = "Service temporarily unavailable"


class ConfigError(RuntimeError):
    """The function's environment is wrong: a deployment bug, raised at cold start."""


def field_error(field: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid {field}", errors=[{"field": field, "message": message}])
