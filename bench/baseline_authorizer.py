"""The baseline of the cold-start comparison (bench/run.py): this project's authorizer, unchanged,
but reading the signing key with boto3 through Powertools' parameters utility (SecretsProvider),
as it did before it read through the Parameters and Secrets Lambda Extension.

The benchmark lays it out as a function of its own: this file as ``app.py`` beside a copy of
functions/authorizer/app.py as ``authorizer.py``, on a copy of the layers that still holds
Powertools' ``utilities/parameters``.
"""

from typing import Any

import authorizer
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from books_api import aws
from books_api.keys import KeyRing
from books_api.secret_source import SecretUnavailable, SecretVersion


class PowertoolsSecrets:
    """A ``books_api.secret_source.Fetch`` through SecretsProvider and boto3 (one per stage).
    SecretsProvider gives only the SecretString, not the version's date: the benchmark signs with
    the current key alone, which needs none."""

    def __init__(self) -> None:
        self._providers: dict[str, Any] = {}

    def __call__(self, secret_id: str, stage: str) -> SecretVersion:
        if stage not in self._providers:
            self._providers[stage] = SecretsProvider(boto3_client=aws.client("secretsmanager"))
        try:
            value = self._providers[stage].get(secret_id, force_fetch=True, VersionStage=stage)
        except Exception as error:  # GetParameterError and what it wraps: unavailable either way
            raise SecretUnavailable(type(error).__name__) from error
        return SecretVersion(value, None)


authorizer.keys = KeyRing(
    authorizer.settings.tokens.signing_secret_arn,
    max_age=authorizer.settings.tokens.secret_max_age_seconds,
    fetch=PowertoolsSecrets(),
)
lambda_handler = authorizer.lambda_handler
