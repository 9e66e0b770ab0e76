"""What strict revocation costs the authorizer: warm invocations with it off and on, side by side.

    .venv/bin/python bench/strict_revocation.py [--rounds 2000]

DynamoDB is moto in-process here, so the absolute time of its call is not DynamoDB's; the figures
that carry over are the extra requests and read units per authorization, and the ratio of the
authorizer's own work. Rounds alternate off/on so machine noise falls on both alike. The signing
key is read through the local server's emulator of the Parameters and Secrets extension, in
this process.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/shared/python")]

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from books_api import secret_source  # noqa: E402
from stack.extension import SecretsExtension  # noqa: E402
from stack.template import Stack, create_resources  # noqa: E402

REGION = "us-east-1"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/books"


class Context:
    function_name = "authorizer"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authorizer"
    aws_request_id = "bench"


def load(path: Path, env: dict[str, str]) -> Any:
    os.environ.update(env)
    name = f"bench_{path.parent.name}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - moto's fake credentials
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        BCRYPT_COST="4",
        AWS_SESSION_TOKEN="bench",  # noqa: S106 - the emulator's, in this process
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        stack = create_resources(
            Stack(name="bench", region=REGION),
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("secretsmanager", region_name=REGION),
            boto3.client("kms", region_name=REGION),
        )
        secrets = boto3.client("secretsmanager", region_name=REGION)
        secret_source.http_get = SecretsExtension(lambda: secrets, lambda: "bench").transport
        signup = load(ROOT / "functions/signup/app.py", stack.environment("SignupFunction"))
        pair = signup.accounts.signup("alice", "violet-anchor-93-lantern")[1]
        event = {
            "type": "TOKEN",
            "authorizationToken": f"Bearer {pair['access_token']}",
            "methodArn": METHOD_ARN,
        }
        authorizers = {}
        for mode in ("off", "on"):
            env = stack.environment("AuthorizerFunction")
            env["STRICT_REVOCATION"] = "true" if mode == "on" else "false"
            authorizers[mode] = load(ROOT / "functions/authorizer/app.py", env)
        calls = {"off": 0, "on": 0}
        current = ["off"]

        def count(**_: Any) -> None:
            calls[current[0]] += 1

        times: dict[str, list[float]] = {"off": [], "on": []}
        for module in authorizers.values():
            module.lambda_handler(event, Context())  # warm: key cached, client built
            if module.sessions is not None:
                module.sessions.dynamodb.meta.events.register("before-call.dynamodb", count)
        for _ in range(args.rounds):
            for mode, module in authorizers.items():
                current[0] = mode
                start = time.perf_counter()
                module.lambda_handler(event, Context())
                times[mode].append(time.perf_counter() - start)
    off, on = (statistics.median(times[mode]) * 1000 for mode in ("off", "on"))
    print(f"warm authorizer, median of {args.rounds} invocations each (DynamoDB = moto in-process):")
    print(f"  strict off: {off:.3f} ms   strict on: {on:.3f} ms   ratio on/off: {on / off:.2f}")
    per_call = {mode: calls[mode] / args.rounds for mode in calls}
    print(f"  DynamoDB requests per authorization: off {per_call['off']:.0f}, on {per_call['on']:.0f}")
    print("  read units per authorization with strict on: 2 (two strongly consistent items under 4 KB)")


if __name__ == "__main__":
    main()
