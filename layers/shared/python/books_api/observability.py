"""The Powertools Logger, Tracer and Metrics of a function (one of each per process)."""

import logging
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# These libraries log whole requests and responses at DEBUG: passwords and hashes in DynamoDB
# items, secret values, validated request bodies. Whatever level the function's logging is set to
# (LogLevel, Lambda's log-level controls), they log at INFO at most.
for _library in ("botocore", "boto3", "urllib3", "aws_lambda_powertools"):
    logging.getLogger(_library).setLevel(logging.INFO)

# Routes such as GET /health add no metric; an empty flush is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
