"""The user's own account: POST /auth/signup, GET and DELETE /users/me, POST /users/me/password,
and multi-factor sign-in (POST /users/me/mfa/totp, .../confirm, DELETE /users/me/mfa)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http, snapstart
from books_api.accounts import Accounts
from books_api.config import AccountSettings
from books_api.models import (
    AccountDeletion,
    MfaRemoval,
    PasswordChange,
    RecoveryCodes,
    Signup,
    SignupResult,
    TokenPair,
    TotpConfirmation,
    TotpEnrolment,
    UserProfile,
)
from books_api.observability import logger, metrics, tracer

accounts = Accounts.from_settings(AccountSettings.from_env())
app = http.resolver()
snapstart.register(before=snapstart.warmer("dynamodb", "secretsmanager", "kms"), after=snapstart.refresh)


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


@app.delete("/users/me")
def delete_me(deletion: Annotated[AccountDeletion, Body()]) -> Response[None]:
    caller = http.caller(app)
    accounts.delete_account(
        subject=caller.subject, username=caller.username, password=deletion.password, code=deletion.code
    )
    metrics.add_metric(name="AccountsDeleted", unit=MetricUnit.Count, value=1)
    logger.info("Account deleted by its user", extra={"user_id": caller.subject})
    return Response(status_code=204, headers=http.NO_STORE)


@app.post("/users/me/mfa/totp")
def start_totp() -> Response[TotpEnrolment]:
    caller = http.caller(app)
    enrolment = accounts.start_totp(subject=caller.subject, username=caller.username)
    logger.info("TOTP enrolment started", extra={"user_id": caller.subject})
    return http.json_response(200, TotpEnrolment.model_validate(enrolment), http.NO_STORE)


@app.post("/users/me/mfa/totp/confirm")
def confirm_totp(confirmation: Annotated[TotpConfirmation, Body()]) -> Response[RecoveryCodes]:
    caller = http.caller(app)
    codes = accounts.confirm_totp(
        subject=caller.subject, username=caller.username, session_id=caller.session_id, code=confirmation.code
    )
    metrics.add_metric(name="MfaEnabled", unit=MetricUnit.Count, value=1)
    logger.info("Multi-factor sign-in on; other sessions ended", extra={"user_id": caller.subject})
    return http.json_response(200, RecoveryCodes(recovery_codes=codes), http.NO_STORE)


@app.delete("/users/me/mfa")
def disable_totp(removal: Annotated[MfaRemoval, Body()]) -> Response[None]:
    caller = http.caller(app)
    accounts.disable_totp(
        subject=caller.subject, username=caller.username, password=removal.password, code=removal.code
    )
    logger.info("Multi-factor sign-in off", extra={"user_id": caller.subject})
    return Response(status_code=204, headers=http.NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
