"""books_api.powertools_patches, the shared layer's patch of Powertools' private code: what it
corrects, and that the pinned Powertools still has the code it patches (an upgrade that changes
that code fails here, saying what to re-check, instead of somewhere in the routes)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from pydantic import BaseModel

from books_api.powertools_patches import WholePathResolver, check_before_validation
from tests.unit.conftest import LambdaContext, api_event
from tests.utils import assert_upstream_unchanged

_ROUTER = "aws_lambda_powertools.event_handler.api_gateway"
_VALIDATION = "aws_lambda_powertools.event_handler.middlewares.openapi_validation"
# The code of aws-lambda-powertools 3.37.0 the patch replaces or relies on: its source digest, and what for.
UPSTREAM = {
    f"{_ROUTER}:ApiGatewayResolver._compile_regex": (
        "1e3f23841b90f2b4",
        "builds a route's pattern from base_regex, which WholePathResolver gives as ^{}/*\\Z",
    ),
    f"{_ROUTER}:APIGatewayRestResolver._compile_regex": (
        "20bfabdd6a006b1f",
        "replaced: its ^{}/*$ also matches before a final newline",
    ),
    f"{_ROUTER}:ApiGatewayResolver.route": (
        "8754f108ca5a1e71",
        "compiles each route with self._compile_regex",
    ),
    f"{_ROUTER}:Route._build_middleware_stack": (
        "03f8ac0795674277",
        "runs app._request_validation_middleware first, before any user middleware",
    ),
    f"{_VALIDATION}:OpenAPIRequestValidationMiddleware.__init__": ("52592c11072cf2e2", "takes no arguments"),
    f"{_VALIDATION}:OpenAPIRequestValidationMiddleware.handler": (
        "bbe465c855d8e7df",
        "validates the route in app.context['_route'], whose dependant.body_params are its body",
    ),
}


def test_powertools_patches_still_matches_the_pinned_powertools() -> None:
    assert_upstream_unchanged(
        UPSTREAM,
        distribution="aws-lambda-powertools",
        version="3.37.0",
        patches="books_api/powertools_patches.py",
    )


def _status(app: APIGatewayRestResolver, method: str, path: str, **kwargs: Any) -> int:
    return app.resolve(api_event(method, path, **kwargs), LambdaContext())["statusCode"]


def _with_book_route(app: APIGatewayRestResolver) -> APIGatewayRestResolver:
    @app.get("/books/<book_id>")
    def book(book_id: str) -> dict[str, str]:
        return {"id": book_id}

    return app


def test_a_route_matches_the_whole_path_where_powertools_matches_before_a_newline() -> None:
    patched, stock = _with_book_route(WholePathResolver()), _with_book_route(APIGatewayRestResolver())
    assert _status(patched, "GET", "/books/b-1") == _status(stock, "GET", "/books/b-1") == 200
    assert _status(patched, "GET", "/books/b-1/") == 200  # a trailing slash, as Powertools allows
    assert _status(patched, "GET", "/books/b-1\n") == 404
    # If Powertools ends its patterns properly one day, the override can go.
    assert _status(stock, "GET", "/books/b-1\n") == 200


class Thing(BaseModel):
    name: str


def test_the_check_runs_before_validation_knowing_whether_the_route_takes_a_body() -> None:
    app = WholePathResolver(enable_validation=True)
    checked: list[tuple[str, bool]] = []

    def check(event: Any, takes_body: bool) -> None:
        checked.append((event.http_method, takes_body))
        if event.body == "refuse":
            raise ValueError("refused")

    check_before_validation(app, check)

    @app.post("/things")
    def create(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    @app.get("/things")
    def things() -> list[str]:
        return []

    @app.exception_handler(ValueError)
    def refused(error: ValueError) -> Response:
        return Response(status_code=418, content_type="application/json", body='{"message": "no"}')

    assert _status(app, "POST", "/things", body={"name": "a"}) == 200
    assert _status(app, "GET", "/things") == 200
    # Refused by the check: Powertools never parsed it (it is not JSON, which would be a 422).
    assert (
        _status(app, "POST", "/things", raw_body="refuse", headers={"Content-Type": "application/json"})
        == 418
    )
    assert checked == [("POST", True), ("GET", False), ("POST", True)]
