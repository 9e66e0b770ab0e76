"""SAM CLI's local API Gateway (``samcli.local.apigw``), corrected where it differs from API Gateway.

The routes, the Lambda proxy events, the identity-source check, the authorizer's policy
evaluation and the CORS preflight are SAM CLI's own, built from template.yaml as
``sam local start-api`` builds them. ``Gateway`` overrides the few steps where SAM CLI 1.170
answers differently from a deployed REST API, each noted where it is fixed:

- an authorizer raising ``Exception("Unauthorized")`` is a 401 (SAM CLI: 502); any other
  authorizer failure, or a response that is not a valid policy, is a 500;
- a function error, crash or timeout is a 502 (SAM CLI: 500 for an error);
- the authorizer's context reaches the function as API Gateway passes it: values as strings,
  with ``principalId`` and ``integrationLatency``; an explicit Deny wins over an Allow;
- its policy is cached per token for the template's ``ReauthorizeEvery`` and evaluated against
  each request's method ARN, as API Gateway's authorizer cache does, with IAM's wildcards
  (SAM CLI's ``*`` did not match a newline in a path parameter);
- each request gets its own ``requestId`` and time, and ``requestContext.path`` is the stage path;
- the template's ``Cors`` answers preflight requests only: a function's responses carry the
  CORS headers the function sets, as with a proxy integration (SAM CLI adds them to all);
- errors the gateway itself answers go through the template's ``GatewayResponses``;
- a method the template does not define (``HEAD`` included) is a 403 "Missing Authentication Token",
  on the resource API Gateway chooses (``PATCH /users/me`` is not ``PATCH /users/{id}``);
- a request body that is not UTF-8 (and matches no binary media type) reaches the function as
  text with each invalid byte replaced by U+FFFD, as API Gateway passes a text payload: garbled,
  never refused (SAM CLI: 502).

This module is the local server's one patch of SAM CLI's private code. Those modules are not a
public API (aws-sam-cli is pinned): tests/local_api/test_gateway.py records the SAM CLI code the
overrides replace or rely on, and fails, naming this module and what to re-check, when an upgrade
of SAM CLI changes it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, g, jsonify, make_response, request
from samcli.lib.providers.provider import Api
from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizer
from samcli.local.apigw.event_constructor import _should_base64_encode
from samcli.local.apigw.exceptions import AuthorizerUnauthorizedRequest, InvalidLambdaAuthorizerResponse
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.apigw.route import Route

from local_api.runtime import FunctionFailed, WorkerRunner
from stack.template import Stack, api_properties

LOG = logging.getLogger("local_api")

# API Gateway's default for a Lambda authorizer without ReauthorizeEvery (SAM's too).
DEFAULT_AUTHORIZER_TTL_SECONDS = 300
AUTHORIZER_CACHE_MAX_ENTRIES = 10_000
CORS_HEADER_PREFIX = "access-control-"
INVOKE_ACTION = "execute-api:Invoke"

# (status, SAM CLI's message) -> the API Gateway response type it corresponds to.
_RESPONSE_TYPES = {
    (401, "Unauthorized"): "UNAUTHORIZED",
    (403, "User is not authorized to access this resource"): "ACCESS_DENIED",
    (403, "Missing Authentication Token"): "MISSING_AUTHENTICATION_TOKEN",
    (500, None): "AUTHORIZER_CONFIGURATION_ERROR",
}


class AuthorizerUnauthorized(Exception):
    """The authorizer raised ``Exception("Unauthorized")``: API Gateway answers 401."""


class AuthorizerFailed(Exception):
    """The authorizer failed otherwise, or returned no valid policy: API Gateway answers 500."""


@dataclass(frozen=True)
class GatewayResponse:
    """One entry of the Api's ``GatewayResponses``: status override, static headers, JSON template."""

    status: int | None
    headers: dict[str, str]
    template: str | None

    def render(self, response_type: str, message: str | None) -> str | None:
        if self.template is None:
            return None
        return (
            self.template.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message or "")
            .replace("$context.error.responseType", response_type)
        )


def gateway_responses(stack: Stack) -> dict[str, GatewayResponse]:
    """The template's ``GatewayResponses``, with intrinsics resolved and header values unquoted."""
    found = {}
    for response_type, spec in api_properties().get("GatewayResponses", {}).items():
        headers = spec.get("ResponseParameters", {}).get("Headers", {})
        found[response_type] = GatewayResponse(
            status=int(spec["StatusCode"]) if "StatusCode" in spec else None,
            headers={name: stack.resolve(value).strip("'") for name, value in headers.items()},
            template=spec.get("ResponseTemplates", {}).get("application/json"),
        )
    return found


def authorizer_ttls(stack: Stack) -> dict[str, int]:
    """Each authorizer's cache lifetime in seconds (``Identity.ReauthorizeEvery``), 0 for no cache."""
    authorizers = api_properties().get("Auth", {}).get("Authorizers", {})
    return {
        name: int(
            stack.resolve(spec.get("Identity", {}).get("ReauthorizeEvery", DEFAULT_AUTHORIZER_TTL_SECONDS))
        )
        for name, spec in authorizers.items()
    }


class AuthorizerCache:
    """Authorizer responses by (authorizer, identity value), each kept for its authorizer's TTL."""

    def __init__(self, ttls: dict[str, int], clock: Any = time.monotonic) -> None:
        self.ttls = ttls
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer: str, identity: str) -> str | None:
        with self._lock:
            entry = self._entries.get((authorizer, identity))
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[(authorizer, identity)]
                return None
            return entry[1]

    def put(self, authorizer: str, identity: str, response: str) -> None:
        ttl = self.ttls.get(authorizer, 0)
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= AUTHORIZER_CACHE_MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[(authorizer, identity)] = (self._clock() + ttl, response)


def _context_value(value: Any) -> str:
    """API Gateway passes authorizer context values to the integration as strings."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise AuthorizerFailed("authorizer context values must be strings, numbers or booleans")


def _iam_pattern(value: str) -> re.Pattern[str]:
    """An IAM action or resource with wildcards: ``*`` is any characters (a newline too), ``?`` one.

    SAM CLI turns ``*`` into the regex ``.*`` without escaping the rest or matching newlines, so a
    path parameter holding ``%0A`` fell outside ``GET/books/*`` and was denied (403).
    """
    parts = (".".join(map(re.escape, part.split("?"))) for part in value.split("*"))
    return re.compile(".*".join(parts), re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_covers(policy: dict[str, Any], method_arn: str, effect: str) -> bool:
    """True if a statement of ``effect`` ("Allow" or "Deny") grants execute-api:Invoke on ``method_arn``."""
    for statement in _as_list(policy.get("policyDocument", {}).get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != effect:
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        resources = [r for r in _as_list(statement.get("Resource", [])) if isinstance(r, str)]
        if any(_iam_pattern(action).fullmatch(INVOKE_ACTION) for action in actions) and any(
            _iam_pattern(resource).fullmatch(method_arn) for resource in resources
        ):
            return True
    return False


def _is_parameter(segment: str) -> bool:
    return segment.startswith(("{", "<")) and segment.endswith(("}", ">"))


def _resource_of(path: str, resources: set[str]) -> str | None:
    """The resource API Gateway routes ``path`` to: of those whose segments match it, the one
    with a literal segment where the others have a parameter, leftmost first."""
    wanted = path.strip("/").split("/")
    matching = []
    for resource in resources:
        segments = resource.strip("/").split("/")
        if len(segments) == len(wanted) and all(
            _is_parameter(mine) or mine == theirs for mine, theirs in zip(segments, wanted, strict=True)
        ):
            matching.append((tuple(_is_parameter(mine) for mine in segments), resource))
    return min(matching)[1] if matching else None


def _as_text_payload(flask_request: Any, binary_types: list[str]) -> None:
    """Replace the bytes of a body that is not UTF-8 (and not binary) with U+FFFD, as API Gateway
    does with a text payload; SAM CLI would fail to decode it and answer 502."""
    data = flask_request.get_data()
    if not data or _should_base64_encode(binary_types, flask_request.mimetype):
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        # werkzeug's cache of the body, which get_data() returns from now on.
        flask_request._cached_data = data.decode("utf-8", errors="replace").encode("utf-8")


def _message(response: Response) -> str | None:
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return None
    return body.get("message") if isinstance(body, dict) else None


class Gateway(LocalApigwService):
    def __init__(self, api: Api, runner: WorkerRunner, stack: Stack, *, host: str, port: int) -> None:
        super().__init__(api=api, lambda_runner=runner, port=port, host=host)
        self.responses = gateway_responses(stack)
        self.authorizer_cache = AuthorizerCache(authorizer_ttls(stack))

    def create(self) -> None:
        super().create()
        app = self._app
        app.before_request(self._begin)
        app.after_request(self._finish)
        app.register_error_handler(FunctionFailed, self._function_failed)
        app.register_error_handler(AuthorizerUnauthorized, self._unauthorized)
        app.register_error_handler(AuthorizerFailed, self._authorizer_failed)
        app.register_error_handler(500, self._internal_error)

    @property
    def app(self) -> Any:
        return self._app

    # --- requests ---------------------------------------------------------------------------

    @staticmethod
    def _begin() -> None:
        g.started = time.perf_counter()
        g.request_id = str(uuid.uuid4())

    def _get_current_route(self, flask_request: Any) -> Route:
        try:
            route: Route = super()._get_current_route(flask_request)
        except KeyError:  # e.g. HEAD, which Flask adds to every GET rule
            abort(404)
        # Flask tries every rule with the method, so PATCH /users/me (no such method on the
        # resource /users/me) fell through to /users/<id>. API Gateway chooses the resource
        # first, a literal segment before a parameter, then the method: a 403 if it has none.
        paths = {candidate.path for candidate in self._dict_of_routes.values()}
        if _resource_of(flask_request.path, paths) != route.path:
            abort(404)
        return route

    def _generate_lambda_event(self, flask_request: Any, route: Route, method: str, endpoint: str) -> dict:
        _as_text_payload(flask_request, self.api.binary_media_types)
        event = super()._generate_lambda_event(flask_request, route, method, endpoint)
        # SAM CLI's RequestContext fixes requestId and the time once, at import.
        now = datetime.now(UTC)
        event["requestContext"].update(
            requestId=g.request_id,
            extendedRequestId=g.request_id,
            requestTimeEpoch=int(now.timestamp() * 1000),
            requestTime=now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            path=f"/{self.api.stage_name}{flask_request.path}",
        )
        return event

    def _invoke_lambda_function(
        self, lambda_function_name: str, event: dict, tenant_id: str | None = None
    ) -> str:
        return self.lambda_runner.call(lambda_function_name, json.dumps(event))

    def _invoke_parse_lambda_authorizer(
        self,
        lambda_authorizer: LambdaAuthorizer,
        auth_lambda_event: dict,
        route_lambda_event: dict,
        route: Route,
    ) -> None:
        method_arn = self._create_method_arn(request, route.event_type)
        name = lambda_authorizer.authorizer_name
        identity = auth_lambda_event.get("authorizationToken")
        cached = self.authorizer_cache.get(name, identity) if identity else None
        latency_ms = 0
        if cached is None:
            started = time.perf_counter()
            try:
                output = self._invoke_lambda_function(lambda_authorizer.lambda_name, auth_lambda_event)
            except FunctionFailed as failure:
                if failure.message == "Unauthorized":
                    raise AuthorizerUnauthorized from None
                raise AuthorizerFailed(failure.error_type) from None
            latency_ms = round((time.perf_counter() - started) * 1000)
        else:
            output = cached
        try:
            lambda_authorizer.is_valid_response(output, method_arn)  # its shape; the policy is ours
            context = lambda_authorizer.get_context(output)
        except InvalidLambdaAuthorizerResponse as invalid:
            raise AuthorizerFailed(str(invalid)) from None
        if cached is None and identity:
            self.authorizer_cache.put(name, identity, output)
        policy = json.loads(output)
        if not _policy_covers(policy, method_arn, "Allow") or _policy_covers(policy, method_arn, "Deny"):
            raise AuthorizerUnauthorizedRequest(f"Request is not authorized for {method_arn}")
        authorizer = {key: _context_value(value) for key, value in context.items()}
        authorizer["integrationLatency"] = latency_ms
        route_lambda_event["requestContext"]["authorizer"] = authorizer

    def _parse_v1_payload_format_lambda_output(
        self, lambda_output: str, binary_types: list, flask_request: Any, event_type: str
    ) -> tuple:
        parsed = LocalApigwService._parse_v1_payload_format_lambda_output(
            lambda_output, binary_types, flask_request, event_type
        )
        g.function_headers = parsed[1].copy()
        return parsed

    # --- errors and responses ---------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str | None) -> Response:
        return make_response(jsonify({"message": message}), status)

    def _function_failed(self, failure: FunctionFailed) -> Response:
        LOG.error("%s failed: %s", request.endpoint, failure.error_type)
        return self._error(502, "Internal server error")

    def _unauthorized(self, _: AuthorizerUnauthorized) -> Response:
        return self._error(401, "Unauthorized")

    def _authorizer_failed(self, failure: AuthorizerFailed) -> Response:
        LOG.error("The authorizer failed: %s", failure)
        return self._error(500, None)

    def _internal_error(self, error: Any) -> Response:
        cause = getattr(error, "original_exception", None) or error
        LOG.error("The local gateway failed: %s: %s", type(cause).__name__, cause)
        return self._error(502, "Internal server error")

    def _apply_gateway_response(self, response: Response) -> None:
        message = _message(response)
        status = response.status_code
        response_type = _RESPONSE_TYPES.get((status, message)) or (
            "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        )
        spec = self.responses.get(response_type) or self.responses.get(
            "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        )
        if spec is None:
            return
        if spec.status is not None:
            response.status_code = spec.status
        response.headers.update(spec.headers)
        body = spec.render(response_type, message)
        if body is not None:
            response.set_data(body)
            response.headers["Content-Type"] = "application/json"

    @staticmethod
    def _restore_function_cors_headers(response: Response) -> None:
        own = g.function_headers
        added = {key for key, _ in response.headers.items() if key.lower().startswith(CORS_HEADER_PREFIX)}
        for name in added:
            if name in own:
                response.headers.setlist(name, own.getlist(name))
            else:
                del response.headers[name]

    def _finish(self, response: Response) -> Response:
        if "function_headers" in g:
            self._restore_function_cors_headers(response)
        elif response.status_code >= 400:
            self._apply_gateway_response(response)
        elif request.method == "OPTIONS":  # the preflight's mock integration answers JSON
            response.headers["Content-Type"] = "application/json"
        if "request_id" in g:
            response.headers["x-amzn-RequestId"] = g.request_id
            elapsed_ms = (time.perf_counter() - g.started) * 1000
            LOG.info("%s %s %d %.1f ms", request.method, request.path, response.status_code, elapsed_ms)
        return response
