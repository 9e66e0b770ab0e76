"""The Powertools Logger, Tracer and Metrics of a function (one of each per process).

The Tracer is made when a function first imports it: Powertools' Tracer loads the X-Ray SDK,
which loads botocore (about 0.4 s of a cold start here), so the authorizer, which only logs,
does not pay for it. It patches botocore only: by default Powertools patches every library of
the X-Ray SDK's list that it can import, which on Lambda's runtime is botocore and sqlite3, and
no function uses sqlite3. The traces are the same; the cold start does not import sqlite3 and
the SDK's patchers for a dozen libraries that are absent (docs/PERFORMANCE.md).
"""

import logging
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
# The libraries through which the functions reach the network and are traced: AWS's SDK. The
# extension is called on localhost through urllib, which Powertools' default patching does not
# trace either (the X-Ray SDK leaves httplib out of patch_all).
TRACED_LIBRARIES = ("botocore",)

# These libraries log whole requests and responses at DEBUG: passwords and hashes in DynamoDB
# items, secret values, validated request bodies. Whatever level the function's logging is set to
# (LogLevel, Lambda's log-level controls), they log at INFO at most.
for _library in ("botocore", "boto3", "urllib3", "aws_lambda_powertools"):
    logging.getLogger(_library).setLevel(logging.INFO)

# Routes such as GET /health add no metric; an empty flush is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def __getattr__(name: str) -> Any:
    if name == "tracer":
        from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK, only when used

        globals()["tracer"] = tracer = Tracer(patch_modules=TRACED_LIBRARIES)
        return tracer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
