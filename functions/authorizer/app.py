"""The TOKEN authorizer: verifies the access token and allows every route the caller's roles allow.

One policy covers all of them, so API Gateway's authorizer cache (keyed by token) can never
reuse a policy for a route it should not cover. Every failure, expected or not, is a 401.
With strict revocation on, it also refuses tokens of a session that was logged out or voided by
a password change (and the template turns the authorizer cache off, which would hide that).

Its cold start is most of its cost: it reads the signing key through the Parameters and Secrets
extension (books_api.secret_source), logs with Powertools' Logger only, and so loads neither boto3
nor the X-Ray SDK unless strict revocation needs DynamoDB. Warm, it verifies in one pass over the
token and reuses the policy built for the caller's roles (docs/PERFORMANCE.md).
"""

import functools

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerTokenEvent,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api.budget import time_budget
from books_api.config import AuthorizerSettings
from books_api.keys import KeyRing
from books_api.observability import logger
from books_api.permissions import allowed_routes
from books_api.tokens import InvalidToken, verify_access_token

settings = AuthorizerSettings.from_env()
keys = KeyRing(settings.tokens.signing_secret_arn, max_age=settings.tokens.secret_max_age_seconds)
sessions = None
_cold_start = True
if settings.tokens_table:
    # Only strict revocation reads DynamoDB: only then does the authorizer import boto3.
    from books_api.sessions import SessionStore

    sessions = SessionStore(settings.tokens_table)


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme != "Bearer" or not token:
        raise InvalidToken("no Bearer token")
    return token.strip()


@functools.lru_cache(maxsize=64)
def _policy_document(
    roles: tuple[str, ...], *, partition: str, region: str, account: str, api: str, stage: str
) -> dict:
    """What ``roles`` may call on one stage of one API: the same for every token with those roles,
    so built once per process (and copied for each response)."""
    response = APIGatewayAuthorizerResponse(
        principal_id="-",
        region=region,
        aws_account_id=account,
        api_id=api,
        stage=stage,
        partition=partition,
    )
    routes = allowed_routes(roles)
    for method, path in routes:
        response.allow_route(http_method=method, resource=path)
    if not routes:
        response.deny_all_routes()
    return response.asdict()["policyDocument"]


def _policy(event: APIGatewayAuthorizerTokenEvent) -> dict:
    claims = verify_access_token(_bearer(event.authorization_token), keys, settings.tokens)
    if sessions is not None and not sessions.session_active(
        family_id=claims.session_id, user_id=claims.subject
    ):
        raise InvalidToken("session revoked")
    arn = event.parsed_arn
    document = _policy_document(
        claims.roles,
        partition=arn.partition,
        region=arn.region,
        account=arn.aws_account_id,
        api=arn.api_id,
        stage=arn.stage,
    )
    return {
        "principalId": claims.subject,
        "policyDocument": {
            "Version": document["Version"],
            "Statement": [
                {**statement, "Resource": list(statement["Resource"])} for statement in document["Statement"]
            ],
        },
        "context": {"username": claims.username, "roles": ",".join(claims.roles), "sid": claims.session_id},
    }


def _logger(context: LambdaContext) -> Logger:
    """The logger with the keys ``@logger.inject_lambda_context`` adds (request id, function, cold
    start), added only when a line is written: a valid token logs nothing, and the decorator cost
    about a fifth of a warm invocation (docs/PERFORMANCE.md)."""
    logger.append_keys(cold_start=_cold_start, **build_lambda_context_model(context).__dict__)
    return logger


def lambda_handler(event: dict, context: LambdaContext) -> dict:
    global _cold_start  # noqa: PLW0603 - once per process, as Powertools keeps it
    try:
        with time_budget():
            return _policy(APIGatewayAuthorizerTokenEvent(event))
    except InvalidToken as reason:
        _logger(context).info("Token refused", extra={"reason": str(reason)})
    except Exception:
        _logger(context).exception("Authorizer failed; denying")
    finally:
        _cold_start = False
    raise Exception("Unauthorized")
