"""events/env.json, for `sam local start-api --env-vars`, against the template and the moto setup."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws
from samcli.local.lambdafn.env_vars import EnvironmentVariables

from local_api import REGION, STACK_NAME
from local_api.samlocal import DOCKER_MOTO_ENDPOINT, ENDPOINT_VARIABLE, env_vars
from stack.template import ROOT, Stack, create_resources, environment_variables, functions

ENV_JSON = ROOT / "events" / "env.json"


def committed() -> dict[str, dict[str, str]]:
    return json.loads(ENV_JSON.read_text())


def test_env_json_is_current() -> None:
    assert committed() == env_vars(), "regenerate: .venv/bin/python -m local_api.samlocal > events/env.json"


def test_every_override_reaches_its_function_under_sam_cli_rules() -> None:
    """SAM CLI applies --env-vars only to variables the template declares: each one must be."""
    overrides = committed()
    assert set(overrides) <= set(functions())
    for function, values in overrides.items():
        resolved = EnvironmentVariables(
            function,
            512,
            10,
            "app.lambda_handler",
            variables=environment_variables(function),
            override_values=values,
        ).resolve()
        assert {name: resolved.get(name) for name in values} == values, function
        assert values[ENDPOINT_VARIABLE] == DOCKER_MOTO_ENDPOINT


def test_names_are_those_the_moto_setup_creates() -> None:
    with mock_aws():
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        stack = create_resources(
            Stack(name=STACK_NAME, region=REGION),
            boto3.client("dynamodb", region_name=REGION),
            secretsmanager,
            kms,
        )
        for function, values in committed().items():
            actual = stack.environment(function)
            for name, value in values.items():
                if name == ENDPOINT_VARIABLE:
                    continue
                if value in stack.physical.values():
                    assert actual[name] == value, (function, name)
                elif value.startswith("alias/"):  # a key, by the alias KMS takes for its random ARN
                    assert kms.describe_key(KeyId=value)["KeyMetadata"]["Arn"] == actual[name], (
                        function,
                        name,
                    )
                else:  # a secret, by the name GetSecretValue accepts in place of moto's random ARN
                    by_name = secretsmanager.get_secret_value(SecretId=value)
                    assert by_name["ARN"] == actual[name], (function, name)


def test_a_key_named_by_its_alias_opens_what_it_sealed_by_its_arn() -> None:
    """The functions under sam local name the key by alias; what they seal, they open."""
    with mock_aws():
        kms = boto3.client("kms", region_name=REGION)
        stack = create_resources(
            Stack(name=STACK_NAME, region=REGION),
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("secretsmanager", region_name=REGION),
            kms,
        )
        (alias,) = {values["MFA_KEY_ID"] for values in committed().values() if "MFA_KEY_ID" in values}
        context = {"purpose": "totp", "user_id": "u"}
        sealed = kms.encrypt(KeyId=alias, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
        opened = kms.decrypt(KeyId=alias, CiphertextBlob=sealed, EncryptionContext=context)
        assert (opened["Plaintext"], opened["KeyId"]) == (b"secret", stack.arns["MfaKey"])


def test_every_resource_variable_of_every_api_function_is_overridden() -> None:
    """A variable left out would reach sam local as SAM CLI's placeholder (the logical id)."""
    overrides = committed()
    for function in set(functions()) - {"SigningKeyRotationFunction"}:
        declared = environment_variables(function)
        for name in (
            "USERS_TABLE",
            "BOOKS_TABLE",
            "TOKENS_TABLE",
            "SIGNING_SECRET_ARN",
            "PAGE_TOKEN_SECRET_ARN",
            "MFA_KEY_ID",
        ):
            if name in declared:
                assert name in overrides[function], (function, name)
