"""The unit tests run on moto as it is released: no function of its DynamoDB backend or responses
has been replaced, in this run, by code from outside moto (the local server's patch of moto is
put back after its own tests)."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import moto
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

MOTO = Path(moto.__file__).parent


def test_moto_runs_as_released() -> None:
    replaced = [
        f"{owner.__name__}.{name}: {value.__code__.co_filename}"
        for owner in (DynamoDBBackend, Table, DynamoHandler, DynamoResult)
        for name, value in inspect.getmembers(owner, inspect.isfunction)
        if not Path(value.__code__.co_filename).is_relative_to(MOTO)
    ]
    assert replaced == []
    assert dynamodb_models.copy is copy
