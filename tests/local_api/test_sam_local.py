"""How ``sam local`` and ``sam deploy`` see template.yaml under each parameter set samconfig.toml
gives them: SAM CLI's own providers for ``sam local`` (what it resolves, runs and downloads), the
SAM transform resolved as CloudFormation would for ``sam deploy``; and the dependency layer's
Makefile, which picks each layer's wheels from its architecture.

The local sections must give every function the host's architecture, the dependency layer built
for it and no layer SAM CLI would download from AWS (the extension); deploying must give arm64 and
the extension to every function that reads a secret.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from samcli.lib.providers.provider import Function
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

from local_api.samlocal import CONFIG_ENVS, host_architecture, local_parameters
from stack.template import ROOT, TEMPLATE, resources, template
from tests.utils import EXTENSION_PORT, SECRET_READERS, assert_runs
from tools.sam_transform import created

PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


def overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def dependency_layers() -> dict[str, dict[str, Any]]:
    """The template's layers built from layers/deps: logical id -> resource."""
    return {
        name: layer
        for name, layer in resources("AWS::Serverless::LayerVersion").items()
        if layer["Properties"]["ContentUri"].rstrip("/") == "layers/deps"
    }


def sam_cli_functions(parameters: dict[str, str]) -> dict[str, Function]:
    """The functions as ``sam local`` resolves them for these parameter overrides."""
    stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE), parameter_overrides=parameters)
    return {function.name: function for function in SamFunctionProvider(stacks).get_all()}


# --- sam local ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("architecture", "config_env"), sorted(CONFIG_ENVS.items()))
def test_each_local_section_runs_the_hosts_architecture_with_no_layer_from_aws(
    architecture: str, config_env: str
) -> None:
    local = samconfig()[config_env]
    for command in ("local_start_api", "local_invoke"):
        section = local[command]["parameters"]
        assert section["env_vars"] == "events/env.json"
        assert section["region"] == "us-east-1"  # moto's: a configured region would miss its tables
        assert overrides(section["parameter_overrides"]) == local_parameters(config_env)
    functions = sam_cli_functions(local_parameters(config_env))
    (layer,) = [
        name
        for name, res in dependency_layers().items()
        if res["Metadata"]["BuildArchitecture"] == architecture
    ]
    for name, function in functions.items():
        assert function.architectures == [architecture], name
        assert [(found.name, found.codeuri is not None) for found in function.layers] == [
            ("SharedLayer", True),
            (layer, True),
        ], name
        assert function.environment["Variables"][EXTENSION_PORT] == "", name  # read with boto3


def test_warm_containers_are_started_lazily() -> None:
    """EAGER loses track of containers in SAM CLI 1.170 (see samconfig.toml)."""
    for config_env in CONFIG_ENVS.values():
        assert samconfig()[config_env]["local_start_api"]["parameters"]["warm_containers"] == "LAZY"


def test_the_check_picks_the_section_of_the_hosts_processor() -> None:
    assert host_architecture("x86_64") == host_architecture("AMD64") == "x86_64"
    assert host_architecture("aarch64") == host_architecture("arm64") == "arm64"
    for architecture, config_env in CONFIG_ENVS.items():
        assert local_parameters(config_env)["Architecture"] == architecture


def test_without_overrides_sam_cli_sees_arm64_and_the_extension() -> None:
    mapping = template()["Mappings"]["ParametersSecretsExtension"]
    for name, function in sam_cli_functions({}).items():
        assert function.architectures == ["arm64"], name
        layers = [found.name for found in function.layers if found.codeuri is not None]
        assert layers == ["SharedLayer", "DependenciesLayer"], name
        from_aws = [found.arn for found in function.layers if found.codeuri is None]
        expected = [mapping["us-east-1"]["Arm64"]] if name in SECRET_READERS else []
        assert from_aws == expected, name
        assert function.environment["Variables"][EXTENSION_PORT] == "2773", name


# --- sam deploy --------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_every_deploy_ships_arm64_with_the_extension(environment: str, region: str) -> None:
    parameters = overrides(samconfig()[environment]["deploy"]["parameters"]["parameter_overrides"])
    assert_runs(created(parameters, region), "arm64", region)


def test_a_stack_on_x86_64_has_the_x86_64_layer_and_no_extension() -> None:
    assert_runs(created({"Architecture": "x86_64"}), "x86_64")


# --- the dependency layer's build --------------------------------------------------------------


@pytest.mark.parametrize("layer", sorted(dependency_layers()))
def test_the_layer_makefile_picks_the_wheels_of_each_layers_architecture(layer: str) -> None:
    resource = dependency_layers()[layer]
    architecture = resource["Metadata"]["BuildArchitecture"]
    assert resource["Properties"]["CompatibleArchitectures"] == [architecture]
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    plan = subprocess.run(
        ["make", "--dry-run", "--makefile", "Makefile", f"build-{layer}", "ARTIFACTS_DIR=/artifacts"],
        cwd=ROOT / "layers" / "deps",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.findall(r"--platform (\S+)", plan) == [PLATFORMS[architecture]]
    assert "--python-version 3.13" in plan
    assert "--only-binary=:all:" in plan


def test_the_layer_makefile_stops_before_pip_for_an_architecture_it_has_no_wheels_for(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            "make",
            "--makefile",
            "Makefile",
            "build-DependenciesLayer",
            f"ARTIFACTS_DIR={tmp_path}",
            "ARCHITECTURE=riscv64",
        ],
        cwd=ROOT / "layers" / "deps",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "pip install" not in done.stdout
    assert not (tmp_path / "python").exists()
