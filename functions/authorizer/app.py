"""The TOKEN authorizer: verifies the access token and allows every route the caller's roles allow.

One policy covers all of them, so API Gateway's authorizer cache (keyed by token) can never
reuse a policy for a route it should not cover. Every failure, expected or not, is a 401.
With strict revocation on, it also refuses tokens of a session that was logged out or voided by
a password change (and the template turns the authorizer cache off, which would hide that).
"""

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import aws
from books_api.config import AuthorizerSettings
from books_api.keys import KeyRing
from books_api.observability import logger
from books_api.permissions import allowed_routes
from books_api.sessions import SessionStore
from books_api.tokens import InvalidToken, verify_access_token

settings = AuthorizerSettings.from_env()
keys = KeyRing(settings.tokens.signing_secret_arn, max_age=settings.tokens.secret_max_age_seconds)
sessions = SessionStore(settings.tokens_table) if settings.tokens_table else None


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme != "Bearer" or not token:
        raise InvalidToken("no Bearer token")
    return token.strip()


def _policy(event: APIGatewayAuthorizerTokenEvent) -> dict:
    claims = verify_access_token(_bearer(event.authorization_token), keys, settings.tokens)
    if sessions is not None and not sessions.session_active(
        family_id=claims.session_id, user_id=claims.subject
    ):
        raise InvalidToken("session revoked")
    arn = event.parsed_arn
    response = APIGatewayAuthorizerResponse(
        principal_id=claims.subject,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        partition=arn.partition,
        context={"username": claims.username, "roles": ",".join(claims.roles), "sid": claims.session_id},
    )
    routes = allowed_routes(claims.roles)
    for method, path in routes:
        response.allow_route(http_method=method, resource=path)
    if not routes:
        response.deny_all_routes()
    return response.asdict()


@logger.inject_lambda_context
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    try:
        with aws.time_budget():
            return _policy(APIGatewayAuthorizerTokenEvent(event))
    except InvalidToken as reason:
        logger.info("Token refused", extra={"reason": str(reason)})
    except Exception:
        logger.exception("Authorizer failed; denying")
    raise Exception("Unauthorized")
