"""The Powertools Logger, Tracer and Metrics of a function (one of each per process)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
