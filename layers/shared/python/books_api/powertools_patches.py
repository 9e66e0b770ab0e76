"""The shared layer's one patch of Powertools' private code (aws-lambda-powertools 3.37.0).

Powertools' REST event handler has no public hook for either correction below, so both override
its private parts. tests/unit/test_powertools_patches.py records the Powertools code they replace
or rely on and fails, naming this module and what to re-check, when an upgrade changes it.

- Routes match the whole path. ``APIGatewayRestResolver`` compiles each route to a pattern that
  ends in ``$``, which also matches before a final newline: ``/books/%0A`` reached the list and
  ``DELETE /books/<id>%0A`` deleted book ``<id>``. ``WholePathResolver`` ends them with ``\\Z``
  (its ``_compile_regex``).
- Checks before validation. Powertools validates a request before any user middleware runs, so
  it would parse a form or a multi-megabyte body before a middleware could refuse it.
  ``check_before_validation`` runs a check of ours first (in place of the resolver's private
  ``_request_validation_middleware``, told through its private ``context["_route"]`` whether the
  route takes a body).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)

# A check of a request before its validation: (the event, whether the route takes a body).
RequestCheck = Callable[[Any, bool], None]


class WholePathResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with routes that match the whole path (``\\Z``, not ``$``)."""

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "") -> re.Pattern[str]:
        pattern: re.Pattern[str] = ApiGatewayResolver._compile_regex(rule, r"^{}/*\Z")
        return pattern


class _CheckedValidation(OpenAPIRequestValidationMiddleware):
    def __init__(self, check: RequestCheck) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated
        self._check = check

    def handler(self, app: Any, next_middleware: Any) -> Response[Any]:
        self._check(app.current_event, bool(app.context["_route"].dependant.body_params))
        return super().handler(app, next_middleware)


def check_before_validation(app: APIGatewayRestResolver, check: RequestCheck) -> None:
    """Run ``check`` on each request before Powertools validates it; what it raises reaches the
    app's exception handlers, as a route's own exception does."""
    app._request_validation_middleware = _CheckedValidation(check)
