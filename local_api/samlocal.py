"""events/env.json: ``sam local start-api --env-vars events/env.json`` against a moto server.

Start moto with the template's tables, secrets and keys, reachable from Lambda's containers (on
Linux, on the docker0 bridge, see docs/LOCAL.md)::

    .venv/bin/python -m local_api --moto-only --moto-host 172.17.0.1 --moto-port 5000

Then, in each function, every variable that names one of those resources gets its moto name
(secrets by name: ``GetSecretValue`` takes a name as well as an ARN, and moto's ARNs end in a
random suffix; keys by alias, which KMS takes in place of a key's id or ARN, both random), and
``AWS_ENDPOINT_URL`` points boto3 at moto. SAM CLI applies ``--env-vars`` only to variables the
template declares, so each of these is declared there. The Parameters and
Secrets extension is not this file's concern: samconfig.toml's local sections set
``SecretsExtension=false``, so the template itself leaves the layer out and empties
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` (the functions then read secrets with boto3, from moto).
Regenerate with::

    .venv/bin/python -m local_api.samlocal > events/env.json
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import tomllib
from collections.abc import Collection
from typing import Any

from local_api import REGION, STACK_NAME
from stack.template import (
    ROOT,
    Stack,
    environment_variables,
    functions,
    key_alias,
    physical_name,
    resources,
    sub_names,
)

DOCKER_MOTO_ENDPOINT = "http://host.docker.internal:5000"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
CREATED_TYPES = ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::KMS::Key")
# The host's processor as platform.machine() names it -> Lambda's name for it.
ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# samconfig.toml's environment whose local sections run the functions on that architecture.
CONFIG_ENVS = {"x86_64": "default", "arm64": "arm64"}


def created_resources() -> set[str]:
    """The logical ids ``create_resources`` makes in moto."""
    return {logical_id for kind in CREATED_TYPES for logical_id in resources(kind)}


def _names_used(intrinsic: str, argument: Any) -> set[str]:
    if intrinsic == "Ref" and isinstance(argument, str):
        return {argument}
    if intrinsic == "Fn::GetAtt":
        return {argument[0] if isinstance(argument, list) else argument.split(".", 1)[0]}
    if intrinsic == "Fn::Sub" and isinstance(argument, str):
        return {name.split(".", 1)[0] for name in sub_names(argument)}
    return set()


def refers_to(value: Any, names: Collection[str]) -> bool:
    """True if a template value (``!Ref``, ``!GetAtt``, ``!Sub``, ``!If``...) uses one of ``names``."""
    if isinstance(value, list):
        return any(refers_to(item, names) for item in value)
    if not isinstance(value, dict):
        return False
    return any(
        not _names_used(intrinsic, argument).isdisjoint(names) or refers_to(argument, names)
        for intrinsic, argument in value.items()
    )


def env_vars(endpoint: str = DOCKER_MOTO_ENDPOINT) -> dict[str, dict[str, str]]:
    """The ``--env-vars`` file: for each function, the variables that must name moto's resources."""
    created = created_resources()
    keys = {logical_id: key_alias(STACK_NAME, logical_id) for logical_id in resources("AWS::KMS::Key")}
    stack = Stack(
        name=STACK_NAME,
        region=REGION,
        physical={logical_id: physical_name(STACK_NAME, logical_id) for logical_id in created} | keys,
        arns=keys,
    )
    found = {}
    for function in functions():
        declared = environment_variables(function)
        values = {name: stack.resolve(value) for name, value in declared.items() if refers_to(value, created)}
        if ENDPOINT_VARIABLE in declared:
            values[ENDPOINT_VARIABLE] = endpoint
        if values:
            found[function] = dict(sorted(values.items()))
    return found


def host_architecture(machine: str | None = None) -> str:
    """Lambda's name for this host's processor (or ``machine``): x86_64 or arm64."""
    machine = (machine or platform.machine()).lower()
    if machine not in ARCHITECTURES:
        raise ValueError(f"Lambda has no architecture for this host's processor ({machine})")
    return ARCHITECTURES[machine]


def local_parameters(config_env: str) -> dict[str, str]:
    """The template parameters samconfig.toml's ``config_env`` gives ``sam local start-api``."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    overrides = config[config_env]["local_start_api"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in shlex.split(overrides))


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else DOCKER_MOTO_ENDPOINT
    print(json.dumps(env_vars(endpoint), indent=2))


if __name__ == "__main__":
    main()
