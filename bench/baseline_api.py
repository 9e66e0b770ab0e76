"""The baseline of the API functions' cold-start comparison (bench/run.py, ``api_cold_init_ratio``):
a handler written the way Powertools' documentation shows one, serving the same first requests as
the signup, login and books functions do in the benchmark.

An APIGatewayRestResolver with data validation, a Logger with the request's correlation id,
Metrics with the cold-start metric, a Tracer capturing the handler, a boto3 DynamoDB client made at
import, and a pydantic model of the request body. It hashes no password and signs no token: what
it costs is the idiomatic stack's own, which the functions are measured against.
"""

import os
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

tracer = Tracer()
logger = Logger()
metrics = Metrics()
app = APIGatewayRestResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")


class Credentials(BaseModel):
    username: str = Field(min_length=3, max_length=32, pattern=r"^[a-z0-9_.-]+$")
    password: str = Field(min_length=12, max_length=128)


@app.get("/books")
@tracer.capture_method
def list_books(limit: int = 20) -> dict[str, Any]:
    response = dynamodb.query(
        TableName=os.environ["BOOKS_TABLE"],
        IndexName="ByCreation",
        KeyConditionExpression="catalogue = :catalogue",
        ExpressionAttributeValues={":catalogue": {"S": "books"}},
        Limit=limit,
    )
    return {"items": [item["id"]["S"] for item in response["Items"]], "next_token": None}


@app.post("/auth/signup")
@tracer.capture_method
def signup(credentials: Annotated[Credentials, Body()]) -> tuple[dict[str, Any], int]:
    dynamodb.put_item(
        TableName=os.environ["USERS_TABLE"],
        Item={"username": {"S": credentials.username}, "baseline": {"BOOL": True}},
    )
    metrics.add_metric(name="Signups", unit=MetricUnit.Count, value=1)
    logger.info("User signed up")
    return {"username": credentials.username}, 201


@app.post("/auth/login")
@tracer.capture_method
def login(credentials: Annotated[Credentials, Body()]) -> dict[str, Any]:
    item = dynamodb.get_item(
        TableName=os.environ["USERS_TABLE"], Key={"username": {"S": credentials.username}}
    ).get("Item")
    metrics.add_metric(name="Logins", unit=MetricUnit.Count, value=1)
    return {"found": item is not None}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
