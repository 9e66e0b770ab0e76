"""Secrets Manager's rotation function for the signing key (createSecret, setSecret, testSecret,
finishSecret)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from books_api import aws
from books_api.budget import time_budget
from books_api.observability import logger
from books_api.rotation import KeyRotation


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> None:
    step, token = event["Step"], event["ClientRequestToken"]
    logger.info("Rotating the signing key", extra={"step": step, "version": token})
    with time_budget():
        KeyRotation(aws.client("secretsmanager")).run(secret_id=event["SecretId"], token=token, step=step)
