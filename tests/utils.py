"""Support shared by the test suites: test constants, what a stack of template.yaml runs (checked
one way), and the check that another library's private code we patch is still the code we
patched."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from importlib import metadata
from typing import Any

from stack.template import environment_variables, functions, template

# --- constants -----------------------------------------------------------------------------------

PASSWORD = "violet-anchor-93-lantern"  # a password the policy accepts
NEW_PASSWORD = "copper-kettle-48-meadow"  # another, for a change or a reset
# An admin's authorizer context, as API Gateway passes it to a function.
ADMIN = {"principalId": "a-1", "username": "admin", "roles": "reader,admin", "sid": "s"}


# --- what a stack runs ------------------------------------------------------------------------

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


# --- upstream code a module of ours patches -----------------------------------------------------


def upstream(name: str) -> Any:
    """The object ``module:Qualified.name`` names, before any wrapper of ours (``__wrapped__``)."""
    module_name, _, qualified = name.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualified.split("."):
        found = inspect.getattr_static(found, part)
        found = getattr(found, "__func__", found)  # a staticmethod or classmethod: its function
    return inspect.unwrap(found)


def source_digest(name: str) -> str:
    """The first 16 hex digits of the SHA-256 of the source of ``name`` (see ``upstream``)."""
    return hashlib.sha256(inspect.getsource(upstream(name)).encode()).hexdigest()[:16]


def assert_upstream_unchanged(
    recorded: dict[str, tuple[str, str]], *, distribution: str, version: str, patches: str
) -> None:
    """Fail, naming ``patches`` (the module of ours that patches ``distribution``'s private code)
    and what to re-check, if the installed ``distribution`` has other code than its ``version``
    had for any name in ``recorded``: ``module:Qualified.name`` -> (its source digest in
    ``version``, what the patch relies on it for)."""
    found = {name: source_digest(name) for name in recorded}
    changed = {name: found[name] for name, (digest, _) in recorded.items() if found[name] != digest}
    assert not changed, (
        f"{distribution} {metadata.version(distribution)} has other code than {version} where "
        f"{patches} patches it or relies on it. Re-check, against the new code, what the patch "
        "relies on:\n"
        + "".join(f"  {name}: {recorded[name][1]}\n" for name in changed)
        + f"then update {patches} (or drop what the new version corrects itself) and record the new "
        f"digests: {json.dumps(changed)}"
    )
