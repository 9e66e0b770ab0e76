"""Support shared by the test suites: what a stack of template.yaml runs, checked one way."""

from __future__ import annotations

from typing import Any

from local_api.template import environment_variables, functions, template

EXTENSION_PORT = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
# The functions that read a secret by its ARN (the rotation function is handed one by Secrets Manager).
SECRET_READERS = {
    name
    for name in functions()
    if {"SIGNING_SECRET_ARN", "PAGE_TOKEN_SECRET_ARN"} & set(environment_variables(name))
}


def assert_runs(stack: dict[str, dict[str, Any]], architecture: str, region: str = "us-east-1") -> None:
    """``stack`` (``tools.sam_transform.created``) runs every function on ``architecture`` with the
    one dependency layer built for it; on arm64 the functions that read a secret, and they alone,
    have AWS's Parameters and Secrets extension, on x86_64 none has (and its port is empty)."""
    (dependencies,) = [
        name
        for name, res in stack.items()
        if res["Type"] == "AWS::Lambda::LayerVersion" and name.startswith("DependenciesLayer")
    ]
    assert stack[dependencies]["Properties"]["CompatibleArchitectures"] == [architecture]
    extension = template()["Mappings"]["ParametersSecretsExtension"][region]["Arm64"]
    lambdas = {
        name: res["Properties"] for name, res in stack.items() if res["Type"] == "AWS::Lambda::Function"
    }
    assert set(lambdas) == set(functions())
    for name, props in lambdas.items():
        with_extension = architecture == "arm64" and name in SECRET_READERS
        assert props["Architectures"] == [architecture], name
        assert {"Ref": dependencies} in props["Layers"], name
        assert (extension in props["Layers"]) == with_extension, name
        assert props["Environment"]["Variables"][EXTENSION_PORT] == (
            "2773" if architecture == "arm64" else ""
        ), name
