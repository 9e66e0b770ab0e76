"""The floor of the API functions' cold-start comparison (bench/run.py, ``api_cold_floor_ratio``):
only what no API function can avoid importing. botocore (the AWS calls), pydantic's BaseModel (a
request model needs it; ``import pydantic`` alone loads almost nothing, its names load on first
use) and Powertools' REST resolver (the routing). Nothing is made and no request is served."""

from typing import Any

import botocore.client
import botocore.session
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from pydantic import BaseModel

UNAVOIDABLE = (botocore.client, botocore.session, BaseModel, APIGatewayRestResolver)


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    return None
