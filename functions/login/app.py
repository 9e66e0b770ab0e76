"""POST /auth/login (JSON or Basic), POST /auth/mfa, POST /auth/refresh and POST /auth/logout."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http, snapstart
from books_api.accounts import Accounts
from books_api.config import AccountSettings
from books_api.errors import BadRequest, CredentialsRefused, RefreshTokenReused, TooManyRequests, Unauthorized
from books_api.models import (
    Credentials,
    LogoutRequest,
    MfaChallenge,
    MfaCompletion,
    RefreshRequest,
    TokenPair,
)
from books_api.observability import logger, metrics, tracer

accounts = Accounts.from_settings(AccountSettings.from_env())
app = http.resolver()
snapstart.register(before=snapstart.warmer("dynamodb", "secretsmanager", "kms"), after=snapstart.refresh)


@app.post("/auth/login")
def login(credentials: Annotated[Credentials | None, Body()] = None) -> Response[TokenPair | MfaChallenge]:
    basic = http.basic_credentials(app)
    if (basic is None) == (credentials is None):
        raise BadRequest("Send credentials either as a JSON body or with Basic authorization, not both")
    if basic is not None:
        username, password = basic
    elif credentials is not None:
        username, password = credentials.username, credentials.password
    try:
        user, pair = accounts.login(username, password)
    except Unauthorized as refused:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        known = refused.username if isinstance(refused, CredentialsRefused) else None
        logger.info("Login failed", extra={"username": known, "source_ip": http.source_ip(app)})
        raise
    except TooManyRequests:
        metrics.add_metric(name="LoginsLockedOut", unit=MetricUnit.Count, value=1)
        logger.info("Login refused: locked out", extra={"source_ip": http.source_ip(app)})
        raise
    if pair.get("mfa_required"):
        logger.info("Password accepted; a code is required", extra={"user_id": user.id})
        return http.json_response(200, MfaChallenge.model_validate(pair), http.NO_STORE)
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("Login succeeded", extra={"user_id": user.id})
    return http.json_response(200, TokenPair.model_validate(pair), http.NO_STORE)


@app.post("/auth/mfa")
def complete_mfa(completion: Annotated[MfaCompletion, Body()]) -> Response[TokenPair]:
    try:
        user, pair = accounts.complete_mfa(completion.mfa_token, completion.code)
    except Unauthorized:
        metrics.add_metric(name="MfaFailures", unit=MetricUnit.Count, value=1)
        logger.info("MFA sign-in refused", extra={"source_ip": http.source_ip(app)})
        raise
    except TooManyRequests:
        metrics.add_metric(name="LoginsLockedOut", unit=MetricUnit.Count, value=1)
        logger.info("MFA sign-in refused: locked out", extra={"source_ip": http.source_ip(app)})
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("Login succeeded with a second factor", extra={"user_id": user.id})
    return http.json_response(200, TokenPair.model_validate(pair), http.NO_STORE)


@app.post("/auth/refresh")
def refresh(request: Annotated[RefreshRequest, Body()]) -> Response[TokenPair]:
    try:
        pair = accounts.refresh(request.refresh_token)
    except Unauthorized as refused:
        metrics.add_metric(name="RefreshFailures", unit=MetricUnit.Count, value=1)
        if isinstance(refused, RefreshTokenReused):
            metrics.add_metric(name="RefreshReuseDetected", unit=MetricUnit.Count, value=1)
        logger.info("Refresh refused")
        raise
    metrics.add_metric(name="Refreshes", unit=MetricUnit.Count, value=1)
    return http.json_response(200, TokenPair.model_validate(pair), http.NO_STORE)


@app.post("/auth/logout")
def logout(request: Annotated[LogoutRequest | None, Body()] = None) -> Response[None]:
    caller = http.caller(app)
    accounts.logout(
        subject=caller.subject,
        session_id=caller.session_id,
        refresh_token=request.refresh_token if request else None,
    )
    logger.info("Logged out", extra={"user_id": caller.subject})
    return Response(status_code=204, headers=http.NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
