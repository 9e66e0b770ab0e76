"""The TOKEN authorizer: verifies the access token and allows every route the caller's roles allow.

One policy covers all of them, so API Gateway's authorizer cache (keyed by token) can never
reuse a policy for a route it should not cover. Every failure, expected or not, is a 401.
With strict revocation on, it also refuses tokens of a session that was logged out or voided by
a password change (and the template turns the authorizer cache off, which would hide that).

Its cold start is most of its cost: it reads the signing key through the Parameters and Secrets
extension (books_api.secret_source) and, of Powertools, uses only the Logger and Metrics, so it
loads neither boto3, the X-Ray SDK nor Powertools' event classes unless strict revocation needs
DynamoDB. Warm, it verifies in one pass over the token and reuses the policy built for the
caller's roles (docs/PERFORMANCE.md). It writes metrics only on a cold start (ColdStart) and on a
failure of its own (AuthorizerFailures): a valid token costs no metric line.
"""

import functools
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api.budget import time_budget
from books_api.config import AuthorizerSettings
from books_api.keys import KeyRing
from books_api.observability import logger, metrics
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


def _stage_arn(method_arn: object) -> str:
    """``arn:<partition>:execute-api:<region>:<account>:<api>/<stage>`` of a request's method ARN."""
    parts = method_arn.split("/", 2) if isinstance(method_arn, str) else []
    if len(parts) < 3 or not parts[0].startswith("arn:") or ":execute-api:" not in parts[0]:
        raise ValueError("not an execute-api method ARN")
    return f"{parts[0]}/{parts[1]}"


@functools.lru_cache(maxsize=64)
def policy_document(roles: tuple[str, ...], stage_arn: str) -> dict[str, Any]:
    """What ``roles`` may call on one API stage: the statements Powertools'
    APIGatewayAuthorizerResponse makes (tests/unit/test_authorizer.py compares them), built here
    because importing Powertools' event classes was a fifth of the authorizer's cold start. The
    same for every token with those roles, so built once per process and copied per response."""
    routes = allowed_routes(roles)
    if routes:
        statement = {
            "Effect": "Allow",
            "Resource": [f"{stage_arn}/{method}/{path.lstrip('/')}" for method, path in routes],
        }
    else:
        statement = {"Effect": "Deny", "Resource": [f"{stage_arn}/*/*"]}
    return {"Version": "2012-10-17", "Statement": [{"Action": "execute-api:Invoke", **statement}]}


def _policy(event: dict[str, Any]) -> dict[str, Any]:
    claims = verify_access_token(_bearer(event.get("authorizationToken")), keys, settings.tokens)
    if sessions is not None and not sessions.session_active(
        family_id=claims.session_id, user_id=claims.subject
    ):
        raise InvalidToken("session revoked")
    document = policy_document(claims.roles, _stage_arn(event.get("methodArn")))
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


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _cold_start  # noqa: PLW0603 - once per process, as Powertools keeps it
    try:
        if _cold_start:
            # What @metrics.log_metrics(capture_cold_start_metric=True) adds, without its flush on
            # every invocation.
            metrics.provider.add_cold_start_metric(context)
        with time_budget():
            return _policy(event)
    except InvalidToken as reason:
        _logger(context).info("Token refused", extra={"reason": str(reason)})
    except Exception:
        # Every caller is refused while this lasts (say, the signing key cannot be read): unlike a
        # refused token, worth an alarm.
        _logger(context).exception("Authorizer failed; denying")
        metrics.add_metric(name="AuthorizerFailures", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
    finally:
        _cold_start = False
    raise Exception("Unauthorized")
