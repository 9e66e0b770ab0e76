"""POST /auth/login (JSON or Basic), POST /auth/refresh and POST /auth/logout."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import http
from books_api.accounts import Accounts
from books_api.config import AccountSettings
from books_api.errors import BadRequest, Unauthorized
from books_api.models import Credentials
from books_api.observability import logger, metrics, tracer

accounts = Accounts.from_settings(AccountSettings.from_env())
app = http.resolver()


@app.post("/auth/login")
def login(credentials: Annotated[Credentials | None, Body()] = None) -> Response[dict]:
    basic = http.basic_credentials(app)
    if (basic is None) == (credentials is None):
        raise BadRequest("Send credentials either as a JSON body or with Basic authorization, not both")
    username, password = basic or (credentials.username, credentials.password)
    try:
        pair = accounts.login(username, password)
    except Unauthorized:
        metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
        logger.info("Login failed")
        raise
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    logger.info("Login succeeded")
    return http.json_response(200, pair, http.NO_STORE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
