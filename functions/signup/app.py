"""POST /auth/signup, GET /users/me and POST /users/me/password."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http
from books_api.accounts import Accounts
from books_api.config import AccountSettings
from books_api.models import PasswordChange, Signup, SignupResult, TokenPair, UserProfile
from books_api.observability import logger, metrics, tracer

accounts = Accounts.from_settings(AccountSettings.from_env())
app = http.resolver()


@app.post("/auth/signup")
def signup(credentials: Annotated[Signup, Body()]) -> Response[SignupResult]:
    user, pair = accounts.signup(credentials.username, credentials.password)
    metrics.add_metric(name="Signups", unit=MetricUnit.Count, value=1)
    logger.info("User signed up", extra={"user_id": user.id})
    body = SignupResult.model_validate({"user": user, **pair})
    return http.json_response(201, body, http.NO_STORE)


@app.get("/users/me")
def me() -> UserProfile:
    caller = http.caller(app)
    user = accounts.profile(subject=caller.subject, username=caller.username)
    return UserProfile.model_validate(user)


@app.post("/users/me/password")
def change_password(change: Annotated[PasswordChange, Body()]) -> Response[TokenPair]:
    caller = http.caller(app)
    pair = accounts.change_password(
        subject=caller.subject,
        username=caller.username,
        current_password=change.current_password,
        new_password=change.new_password,
    )
    logger.info("Password changed; earlier sessions revoked", extra={"user_id": caller.subject})
    return http.json_response(200, TokenPair.model_validate(pair), http.NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
