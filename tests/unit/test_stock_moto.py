"""The unit tests run on moto as it is released: no function of its DynamoDB backend or responses
has been replaced, in this run, by code from outside moto (the local server's patch of moto is
put back after its own tests). The one stand-in they use, for a rotation (conftest's ``rotate``:
moto invokes a Lambda function only in Docker), is checked against the pinned moto."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import moto
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from tests.utils import assert_upstream_unchanged

MOTO = Path(moto.__file__).parent
# The code of moto 5.2.5 that conftest's ``rotate`` relies on: its source digest, and what for.
ROTATION_UPSTREAM = {
    "moto.awslambda.models:LambdaBackend.invoke": (
        "708fb4c92029f2dc",
        "replaced while rotating: invoke(function_name, qualifier, body, headers, response_headers)",
    ),
    "moto.secretsmanager.models:SecretsManagerBackend.rotate_secret": (
        "ae844eec281dd308",
        "stages the new version AWSPENDING, then invokes the function for each step through it",
    ),
}


def test_moto_runs_as_released() -> None:
    replaced = [
        f"{owner.__name__}.{name}: {value.__code__.co_filename}"
        for owner in (DynamoDBBackend, Table, DynamoHandler, DynamoResult)
        for name, value in inspect.getmembers(owner, inspect.isfunction)
        if not Path(value.__code__.co_filename).is_relative_to(MOTO)
    ]
    assert replaced == []
    assert dynamodb_models.copy is copy


def test_the_rotation_stand_in_still_matches_the_pinned_moto() -> None:
    assert_upstream_unchanged(
        ROTATION_UPSTREAM, distribution="moto", version="5.2.5", patches="tests/unit/conftest.py (rotate)"
    )
