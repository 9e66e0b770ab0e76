"""local_api/gateway.py, the local server's patch of SAM CLI's local API Gateway, against the pinned
SAM CLI: an upgrade that changes the code it overrides or relies on fails here, saying what to
re-check, instead of as a wrong answer somewhere over HTTP (tests/integration/test_gateway_fidelity.py
checks the answers themselves)."""

from __future__ import annotations

import inspect

from samcli.local.apigw.local_apigw_service import LocalApigwService

from local_api.gateway import Gateway
from tests.utils import assert_upstream_unchanged

_SERVICE = "samcli.local.apigw.local_apigw_service:LocalApigwService"
_AUTHORIZER = "samcli.local.apigw.authorizers.lambda_authorizer:LambdaAuthorizer"
# The code of aws-sam-cli 1.170.0 that Gateway overrides or relies on: its source digest, and what for.
UPSTREAM = {
    f"{_SERVICE}.__init__": ("d94597e3f4306a46", "takes api, lambda_runner, port, host"),
    f"{_SERVICE}.create": (
        "afe0863cb74cc643",
        "builds the Flask app in self._app, one rule per route, then its error handlers; Gateway adds "
        "its request hooks and error handlers after it",
    ),
    f"{_SERVICE}._construct_error_handling": (
        "b15f5a791a2f57a2",
        "SAM CLI's 404, 405 and 500 handlers; Gateway replaces the 500 one with API Gateway's 502",
    ),
    f"{_SERVICE}._request_handler": (
        "8492c9cd2bd392e4",
        "calls the overridden steps (route, event, identity, authorizer, function, output) in this "
        "order and answers their exceptions (the 401/403 bodies Gateway maps to GatewayResponses)",
    ),
    f"{_SERVICE}._get_current_route": (
        "15d0120e6807aeda",
        "raises KeyError for a method the template lacks (HEAD): Gateway answers 403",
    ),
    f"{_SERVICE}._generate_lambda_event": (
        "619adf0ec897cdde",
        "the proxy event, whose requestId, time and path Gateway sets per request",
    ),
    f"{_SERVICE}._invoke_lambda_function": (
        "5ec8522eb4b9fbd4",
        "replaced: invokes the function through the worker runner, returns its output",
    ),
    f"{_SERVICE}._invoke_parse_lambda_authorizer": (
        "943f8fd154f3204d",
        "replaced: the authorizer's 401 and 500, its cache, the context as strings, Deny, IAM wildcards",
    ),
    f"{_SERVICE}._parse_v1_payload_format_lambda_output": (
        "a9253c3ff0e9bb61",
        "a static method whose headers are the function's own (Gateway keeps its CORS headers)",
    ),
    f"{_SERVICE}._create_method_arn": ("53c5610b50ef7858", "the method ARN a policy is evaluated against"),
    "samcli.local.apigw.event_constructor:_should_base64_encode": (
        "cd15c8c1cfc3a9f8",
        "which bodies are binary; any other is text (a body that is not UTF-8 gets U+FFFD)",
    ),
    f"{_AUTHORIZER}.is_valid_response": ("cc3de15912d6fd6e", "the shape of the authorizer's response"),
    f"{_AUTHORIZER}.get_context": ("7cbef5252a3b68f2", "the authorizer's context, as returned"),
    "samcli.local.apigw.service_error_responses:ServiceErrorResponses": (
        "31176aba4033e694",
        "the messages of the errors the gateway answers itself, which pick a GatewayResponses type",
    ),
}


def test_gateway_still_matches_the_pinned_sam_cli() -> None:
    assert_upstream_unchanged(
        UPSTREAM, distribution="aws-sam-cli", version="1.170.0", patches="local_api/gateway.py"
    )


def test_every_step_gateway_overrides_is_recorded() -> None:
    overridden = {
        name
        for name, value in vars(Gateway).items()
        if inspect.isfunction(getattr(value, "__func__", value)) and hasattr(LocalApigwService, name)
    }
    assert "_invoke_parse_lambda_authorizer" in overridden
    assert {f"{_SERVICE}.{name}" for name in overridden} <= set(UPSTREAM)
