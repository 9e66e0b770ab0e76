"""events/env.json: ``sam local start-api --env-vars events/env.json`` against a moto server.

Start moto with the template's tables and secrets, reachable from Lambda's containers::

    .venv/bin/python -m local_api --moto-only --moto-host 0.0.0.0 --moto-port 5000

Then, in each function, every variable that names one of those resources gets its moto name
(secrets by name: ``GetSecretValue`` takes a name as well as an ARN, and moto's ARNs end in a
random suffix), and ``AWS_ENDPOINT_URL`` points boto3 at moto. The Parameters and Secrets
extension is not there (SAM CLI skips a layer the template gives by ``!FindInMap``, and it would
read AWS, not moto): an empty ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` makes the functions read
secrets with boto3, from moto too. SAM CLI applies ``--env-vars`` only to variables the template
declares, so each of these is declared there. Regenerate with::

    .venv/bin/python -m local_api.samlocal > events/env.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from typing import Any

from local_api import REGION, STACK_NAME
from stack.template import (
    Stack,
    environment_variables,
    functions,
    physical_name,
    resources,
    sub_names,
)

DOCKER_MOTO_ENDPOINT = "http://host.docker.internal:5000"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
CREATED_TYPES = ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret")


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
    stack = Stack(
        name=STACK_NAME,
        region=REGION,
        physical={logical_id: physical_name(STACK_NAME, logical_id) for logical_id in created},
    )
    found = {}
    for function in functions():
        declared = environment_variables(function)
        values = {name: stack.resolve(value) for name, value in declared.items() if refers_to(value, created)}
        if ENDPOINT_VARIABLE in declared:
            values[ENDPOINT_VARIABLE] = endpoint
        if EXTENSION_PORT_VARIABLE in declared:
            values[EXTENSION_PORT_VARIABLE] = ""
        if values:
            found[function] = dict(sorted(values.items()))
    return found


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else DOCKER_MOTO_ENDPOINT
    print(json.dumps(env_vars(endpoint), indent=2))


if __name__ == "__main__":
    main()
