"""After a deployment: does the stage answer, through its functions' live aliases?

    python -m tools.smoke --config-env dev [--region eu-west-1]   # samconfig.toml's stack
    python -m tools.smoke --stack-name books-api-dev [--region eu-west-1]
    python -m tools.smoke --url https://abc.execute-api.eu-west-1.amazonaws.com/dev

``GET /health`` must be a 200 ``{"status": "ok"}`` (the books function answered), and ``GET /books``
with a token of the right shape that no key signed must be a 401: the authorizer ran and refused
it. A 500 there means API Gateway could not get a policy from the authorizer (its alias, or the
permission to invoke it). It reads nothing and writes nothing. Exits 1 naming what failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import urllib.request
from pathlib import Path
from urllib.error import HTTPError

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"

# Three base64url parts, as the gateway's validation expression wants; signed by no key.
UNSIGNED_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c21va2U"  # noqa: S105 - it must be refused


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    # http(s) only, checked above: no file:// or other scheme reaches urlopen.
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            return response.status, response.read().decode()
    except HTTPError as error:
        return error.code, error.read().decode()


def problems(base_url: str) -> list[str]:
    """What is wrong with the stage at ``base_url``; empty when it answers as deployed."""
    base = base_url.rstrip("/")
    found = []
    status, body = _get(f"{base}/health")
    if status != 200 or json.loads(body or "null") != {"status": "ok"}:
        found.append(f"GET /health: {status} {body[:200]}")
    status, body = _get(f"{base}/books", {"Authorization": f"Bearer {UNSIGNED_TOKEN}"})
    if status != 401:
        found.append(f"GET /books with an unsigned token: {status} {body[:200]}, not the authorizer's 401")
    return found


def config_env_stack(config_env: str) -> str:
    """The stack name samconfig.toml gives the environment ``config_env``."""
    config = tomllib.loads(SAMCONFIG.read_text())
    return config[config_env]["global"]["parameters"]["stack_name"]


def stack_api_url(stack_name: str, region: str | None = None) -> str:
    """The ``ApiUrl`` output of a deployed stack."""
    import boto3  # noqa: PLC0415 - only for a stack, not for a URL

    (stack,) = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)[
        "Stacks"
    ]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    return outputs["ApiUrl"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--config-env", help="an environment of samconfig.toml: its stack")
    where.add_argument("--stack-name")
    where.add_argument("--url")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    stack = args.stack_name or (config_env_stack(args.config_env) if args.config_env else None)
    url = args.url or stack_api_url(stack, args.region)
    found = problems(url)
    for problem in found:
        print(f"smoke test failed: {problem}", file=sys.stderr)
    if not found:
        print(f"{url}: /health answers and the authorizer refuses an unsigned token")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
