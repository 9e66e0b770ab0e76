"""samconfig.toml: the three environments deploy with parameters the template accepts."""

from __future__ import annotations

import shlex
import tomllib

import pytest

from stack.template import ROOT, template


def config() -> dict:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
def test_each_environment_deploys_its_own_stack_with_valid_parameters(environment: str) -> None:
    env = config()[environment]
    assert env["global"]["parameters"]["stack_name"].startswith("books-api")
    deploy = env["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    parameters = template()["Parameters"]
    for pair in shlex.split(deploy["parameter_overrides"]):
        name, value = pair.split("=", 1)
        assert name in parameters, name
        allowed = parameters[name].get("AllowedValues")
        assert allowed is None or value in allowed, (name, value)


def test_stacks_differ_per_environment() -> None:
    names = [config()[env]["global"]["parameters"]["stack_name"] for env in ("default", "dev", "prod")]
    assert len(set(names)) == 3


def test_production_turns_on_the_protections() -> None:
    overrides = dict(
        pair.split("=", 1)
        for pair in shlex.split(config()["prod"]["deploy"]["parameters"]["parameter_overrides"])
    )
    assert overrides["DeletionProtection"] == "true"
    assert overrides["StrictRevocation"] == "true"
    assert int(overrides["BcryptCost"]) >= 12
