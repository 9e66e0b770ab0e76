"""The one adapter between API Gateway REST events and the domain: routing, CORS, validation,
the mapping of errors to JSON responses, and the caller named by the authorizer.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query

from books_api.budget import time_budget
from books_api.config import cors_allow_origin
from books_api.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from books_api.limits import PAGE_SIZE_MAX, PAGE_SIZE_MIN
from books_api.observability import logger
from books_api.pagination import MAX_TOKEN_LENGTH
from books_api.powertools_patches import WholePathResolver, check_before_validation

MAX_BODY_BYTES = 16 * 1024
# The query parameters of a paginated list (/books, /users); ``limit`` defaults to PAGE_SIZE_DEFAULT.
PageSize = Annotated[int, Query(ge=PAGE_SIZE_MIN, le=PAGE_SIZE_MAX)]
NextToken = Annotated[
    str | None,
    Query(
        max_length=MAX_TOKEN_LENGTH,
        description="The next_token of the previous page, as it was sent",
        json_schema_extra={"format": "page-token"},
    ),
]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=headers or {},
    )


def _error_response(error: ApiError) -> Response[Any]:
    body: dict[str, Any] = {"message": error.message}
    if error.errors:
        body["errors"] = error.errors
    return json_response(error.status, body, {**NO_STORE, **error.headers})


def _check_body(event: Any) -> None:
    """413 past MAX_BODY_BYTES; 415 for a body that is not declared application/json."""
    body = event.body
    if not body:
        return
    size = len(body) * 3 // 4 if event.is_base64_encoded else len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body must be at most {MAX_BODY_BYTES} bytes")
    media_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaType()


def _check_json_shape(event: Any) -> None:
    """400 for a JSON array: Powertools would validate its first item as the body (``[body, junk]``
    passing as ``body``, ``[null]`` as no body at all); 400 for JSON nested too deeply to parse,
    whose RecursionError Powertools would let through as a 500."""
    try:
        body = event.json_body
    except RecursionError:
        raise BadRequest("Request body is nested too deeply") from None
    except ValueError:  # not JSON: Powertools says so as it parses the body again
        return
    if isinstance(body, list):
        raise BadRequest("Invalid request", errors=[{"field": "body", "message": "must be a JSON object"}])


def _check_request(event: Any, takes_body: bool) -> None:
    """The size, content-type and JSON object checks, before Powertools parses and validates a
    body (books_api.powertools_patches)."""
    _check_body(event)
    if takes_body:
        _check_json_shape(event)


def _field(location: Any) -> str:
    parts = [str(part) for part in location[1:]] if len(location) > 1 else [str(part) for part in location]
    return ".".join(parts) or "body"


def _validation_error(error: RequestValidationError) -> BadRequest:
    details = error.errors()
    if any(detail.get("type") == "json_invalid" for detail in details):
        return BadRequest("Request body is not valid JSON")
    if any(
        tuple(detail.get("loc", ())) == ("body",) and detail.get("type") == "missing" for detail in details
    ):
        return BadRequest("Request body is required")
    # Never echo ``input``: it may hold a password.
    errors = [
        {"field": _field(detail.get("loc", ())), "message": str(detail.get("msg", "is invalid"))}
        for detail in details
    ]
    return BadRequest("Invalid request", errors=errors)


def _within_time_budget(app: APIGatewayRestResolver, next_middleware: Any) -> Response[Any]:
    with time_budget():
        response: Response[Any] = next_middleware(app)
        return response


def resolver() -> APIGatewayRestResolver:
    cors = CORSConfig(
        allow_origin=cors_allow_origin(), allow_headers=["Authorization", "Content-Type"], max_age=600
    )
    # A response that breaks its route's declared type is our bug: a 500, never a client's 400.
    app = WholePathResolver(cors=cors, enable_validation=True, response_validation_error_http_code=500)
    check_before_validation(app, _check_request)
    app.use(middlewares=[_within_time_budget])

    @app.exception_handler(ApiError)
    def api_error(error: ApiError) -> Response[Any]:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        return _error_response(_validation_error(error))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported(error: RequestUnsupportedContentType) -> Response[Any]:
        return _error_response(UnsupportedMediaType())

    @app.not_found
    def not_found(error: NotFoundError) -> Response[Any]:
        return json_response(404, {"message": "Not found"})

    @app.exception_handler([ResponseValidationError, Exception])
    def unexpected(error: Exception) -> Response[Any]:
        logger.exception("Unhandled error")
        return json_response(500, {"message": "Internal server error"}, NO_STORE)

    return app


@dataclass(frozen=True)
class Caller:
    """Who the authorizer says is calling: ``sub``, ``username``, ``roles`` and session ``sid``."""

    subject: str
    username: str
    roles: frozenset[str]
    session_id: str

    def has_role(self, role: str) -> bool:
        return role in self.roles


def caller(app: APIGatewayRestResolver) -> Caller:
    """The authorized caller, or a 401 when the request carries no authorizer context (fail closed)."""
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    subject, username, roles, session_id = (
        context.get(k) for k in ("principalId", "username", "roles", "sid")
    )
    if not (
        isinstance(subject, str)
        and subject
        and isinstance(username, str)
        and username
        and isinstance(session_id, str)
        and session_id
        and isinstance(roles, str)
    ):
        raise Unauthorized()
    return Caller(
        subject=subject,
        username=username,
        roles=frozenset(filter(None, roles.split(","))),
        session_id=session_id,
    )


def require_role(app: APIGatewayRestResolver, role: str) -> Caller:
    """The caller, if it has ``role`` (checked again here though the authorizer's policy did)."""
    who = caller(app)
    if not who.has_role(role):
        raise Forbidden(f"This action needs the {role} role")
    return who


def source_ip(app: APIGatewayRestResolver) -> str | None:
    """The client's address as API Gateway saw it (the access log's ``ip``)."""
    return app.current_event.request_context.identity.source_ip


def basic_credentials(app: APIGatewayRestResolver) -> tuple[str, str] | None:
    """``(username, password)`` from an ``Authorization: Basic`` header (RFC 7617), if there is one."""
    header = app.current_event.headers.get("authorization")
    if header is None:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise BadRequest("Authorization must use the Basic scheme on this route")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 (UnicodeDecodeError)
        raise BadRequest("Malformed Basic credentials") from None
    username, colon, password = decoded.partition(":")
    if not colon:
        raise BadRequest("Malformed Basic credentials")
    return username, password
