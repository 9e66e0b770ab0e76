"""What ``sam build`` makes: the dependency layer still holds everything the functions load.

The layer's Makefile installs Lambda's wheels (python3.13; arm64 for DependenciesLayer, x86_64 for
DependenciesLayerX86, which ``sam local`` uses on x86_64 hosts) and removes what no function loads
(unused Powertools utilities, the Swagger UI assets, pydantic.v1 and its mypy plugin, C sources,
typing stubs). Against a fresh ``sam build``:

- every binary module of each layer is there, built for its architecture;
- the built template, transformed and resolved for its defaults, deploys arm64 functions with the
  arm64 layer and the Parameters and Secrets extension;
- each function is imported and given events that need no AWS service, in a fresh interpreter
  whose path is only Lambda's (``local_api/lambda_path.py``): its code, the built layers (their
  binary modules swapped for this host's builds of the same versions), the runtime's boto3 and
  the standard library. A module the layers lack fails the import or the event; a module loaded
  from anywhere else fails the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_api import REGION
from local_api.lambda_path import (
    ELF_MACHINE_AARCH64,
    ELF_MACHINE_X86_64,
    LambdaPath,
    elf_machine,
    lambda_binaries,
    standard_library,
)
from local_api.samlocal import created_resources
from stack.template import ROOT, Stack, functions, physical_name, resources
from tests.utils import assert_runs
from tools.bytecode import LAMBDA_CACHE_TAG, code_folders, compile_build, is_lambda_bytecode, lambda_pyc
from tools.sam_transform import created

EVENTS = ROOT / "events"
KEYS = set(resources("AWS::KMS::Key"))
BINARIES = {"bcrypt/_bcrypt", "pydantic_core/_pydantic_core", "wrapt/_wrappers"}

# A fresh interpreter, started with -I -S: Lambda's path first, then the events, then where each
# loaded module came from.
_CHILD = r"""
import json, os, sys
paths, handler, cases = json.loads(sys.stdin.read())
sys.path[:0] = paths
module_name, _, function_name = handler.rpartition(".")
handle = getattr(__import__(module_name), function_name)

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    aws_request_id = "layers-test"

    @staticmethod
    def get_remaining_time_in_millis():
        return 10_000

results = []
for event in cases:
    try:
        result = handle(event, Context())
        results.append({"status": result.get("statusCode") if isinstance(result, dict) else None})
    except Exception as error:
        results.append({"error": type(error).__name__, "message": str(error)})
files = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
print(json.dumps({"results": results, "files": {name: file for name, file in files.items() if file}}))
"""


def _event(name: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event.update(changes)
    return event


# function -> [(event, what it must come to)]: a status, or the error the function raises.
CASES: dict[str, list[tuple[dict[str, Any], int | str]]] = {
    "AuthorizerFunction": [(_event("authorizer"), "Exception")],
    "BooksFunction": [
        (_event("health"), 200),
        (_event("books-create", body=json.dumps({"title": ""})), 400),
        (_event("health", path="/nothing", resource="/nothing"), 404),
    ],
    "SignupFunction": [
        (_event("signup", body=json.dumps({"username": "a", "password": "short"})), 400),
        (_event("users-me-mfa-totp-confirm", body=json.dumps({"code": "12345"})), 400),
    ],
    "LoginFunction": [
        (_event("login", body=json.dumps({"username": "a"})), 400),
        (_event("mfa", body=json.dumps({"mfa_token": "t"})), 400),
    ],
    "UsersFunction": [
        (_event("users-change", body=json.dumps({"roles": []})), 400),
        # A reader's request: refused before the directory is read.
        (_event("users-list", requestContext=_event("users-me")["requestContext"]), 403),
        (_event("users-get", path="/users/nobody", pathParameters={"id": "nobody"}), 404),
    ],
    "SigningKeyRotationFunction": [
        ({"Step": "dropSecret", "SecretId": "books", "ClientRequestToken": "t"}, "RotationError")
    ],
}


# What each function must not load, even after its events: the books function has no passwords,
# tokens or codes to check, the users function no passwords, tokens or codes either, and the
# authorizer reads its key through the extension and validates no request body
# (docs/PERFORMANCE.md: each costs cold-start time).
MUST_NOT_LOAD = {
    "BooksFunction": {"bcrypt", "jwt", "pyotp"},
    "UsersFunction": {"bcrypt", "jwt", "pyotp"},
    "AuthorizerFunction": {"boto3", "pydantic", "pydantic_core", "aws_xray_sdk"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build_dir = tmp_path_factory.mktemp("sam-build")
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    subprocess.run(
        ["sam", "build", "--build-dir", str(build_dir), "--cache-dir", str(build_dir / ".cache")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    compile_build(build_dir)  # as `make build` does
    return build_dir


@pytest.fixture(scope="module")
def lambda_path(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaPath]:
    path = LambdaPath.create(tmp_path_factory.mktemp("lambda") / "root", build_dir=built)
    yield path
    path.remove()


@pytest.mark.parametrize(
    ("layer", "machine"),
    [("DependenciesLayer", ELF_MACHINE_AARCH64), ("DependenciesLayerX86", ELF_MACHINE_X86_64)],
)
def test_each_layer_keeps_lambdas_binary_modules_for_its_architecture(
    built: Path, layer: str, machine: int
) -> None:
    folder = built / layer / "python"
    found = {str(path.relative_to(folder)).split(".", 1)[0]: path for path in lambda_binaries(folder)}
    assert set(found) == BINARIES
    for path in found.values():
        assert elf_machine(path) == machine, path


def test_the_built_template_deploys_arm64_with_the_extension(built: Path) -> None:
    assert_runs(created({}, template_path=built / "template.yaml"), "arm64")


@pytest.mark.parametrize("layer", ["DependenciesLayer", "DependenciesLayerX86"])
def test_the_layer_has_none_of_what_was_removed(built: Path, layer: str) -> None:
    folder = built / layer / "python"
    assert not (folder / "aws_lambda_powertools/utilities/parameters").exists()
    assert not (folder / "aws_lambda_powertools/event_handler/openapi/swagger_ui").exists()
    assert not (folder / "pydantic/v1").exists()
    assert not [path for path in folder.rglob("*") if path.suffix in (".c", ".h", ".pyi")]
    # No bytecode of the build host's Python (pip's): only Lambda's, which the next test checks.
    assert {path.name.split(".")[-2] for path in folder.rglob("*.pyc")} == {LAMBDA_CACHE_TAG}


def test_every_module_built_has_lambdas_bytecode(built: Path) -> None:
    folders = code_folders(built)
    assert {folder.parent.name for folder in folders if folder.name == "python"} == {
        "DependenciesLayer",
        "DependenciesLayerX86",
        "SharedLayer",
    }
    assert {folder.name for folder in folders if folder.name != "python"} == set(functions())
    sources = [source for folder in folders for source in folder.rglob("*.py")]
    assert len(sources) > 500
    assert [source for source in sources if not is_lambda_bytecode(lambda_pyc(source))] == []


def test_a_build_folder_named_relative_to_the_current_one_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As ``make build`` names it (``.aws-sam/build``), while Node.js runs in tools/pyodide."""
    source = tmp_path / "build" / "SomeFunction" / "app.py"
    source.parent.mkdir(parents=True)
    source.write_text("ANSWER = 42\n")
    monkeypatch.chdir(tmp_path)
    assert compile_build(Path("build")) == 1
    assert is_lambda_bytecode(lambda_pyc(source))


def test_lambdas_path_holds_this_hosts_bytecode_where_the_build_holds_lambdas(
    built: Path, lambda_path: LambdaPath
) -> None:
    layer = built / "DependenciesLayer" / "python"
    for relative in ("pydantic/main.py", "aws_lambda_powertools/event_handler/api_gateway.py"):
        copy = lambda_path.layers / relative
        assert is_lambda_bytecode(lambda_pyc(layer / relative))
        assert Path(importlib.util.cache_from_source(str(copy))).is_file(), relative
        assert not lambda_pyc(copy).exists()  # this host cannot load it; Lambda's stays in the build


def _environment(function: str) -> dict[str, str]:
    stack = Stack(
        name="layers-test",
        region=REGION,
        physical={logical_id: physical_name("layers-test", logical_id) for logical_id in created_resources()},
        arns={
            logical_id: f"arn:aws:{service}:{REGION}:123456789012:{kind}/{logical_id}"
            for logical_id in created_resources()
            for service, kind in [("kms", "key") if logical_id in KEYS else ("dynamodb", "table")]
        },
    )
    return {
        "PATH": os.environ["PATH"],
        **stack.environment(function),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "layers-test",
        "AWS_SECRET_ACCESS_KEY": "layers-test",
        "AWS_SESSION_TOKEN": "layers-test",
        # Nothing answers there: an event that reached AWS would fail, not wait.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "9",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def _run_child(
    lambda_path: LambdaPath, function: str, child: str, events: list[Any], *, env: dict[str, str]
) -> Any:
    """``child`` run with -I -S on the function's Lambda path; what it printed last, as JSON."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", child],
        input=json.dumps([lambda_path.sys_path(function), "app.lambda_handler", events]),
        env=env,
        cwd=lambda_path.task(function),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.parametrize("function", sorted(CASES))
def test_each_function_runs_on_lambdas_path_alone(lambda_path: LambdaPath, function: str) -> None:
    assert set(CASES) == set(functions())
    cases = CASES[function]
    report = _run_child(
        lambda_path, function, _CHILD, [event for event, _ in cases], env=_environment(function)
    )
    for (_, expected), result in zip(cases, report["results"], strict=True):
        assert result.get("status", result.get("error")) == expected, (function, result)
    allowed = [*lambda_path.sys_path(function), *standard_library()]
    outside = {
        name: file
        for name, file in report["files"].items()
        if not any(file.startswith(root + os.sep) for root in allowed)
        and not any(os.path.realpath(file).startswith(root + os.sep) for root in standard_library())
    }
    assert outside == {}, function
    loaded = {name.split(".")[0] for name in report["files"]}
    assert loaded & MUST_NOT_LOAD.get(function, set()) == set(), function


_TRACING_CHILD = r"""
import importlib.util, json, sys
paths, handler, _ = json.loads(sys.stdin.read())
sys.path[:0] = paths
module_name, _, function_name = handler.rpartition(".")
getattr(__import__(module_name), function_name)
from aws_xray_sdk.core import patcher
importable = sorted(name for name in patcher.NO_DOUBLE_PATCH if importlib.util.find_spec(name) is not None)
print(json.dumps({"patched": sorted(patcher._PATCHED_MODULES), "importable": importable,
                  "sqlite3": "sqlite3" in sys.modules}))
"""


@pytest.mark.parametrize("function", ["BooksFunction", "LoginFunction", "SignupFunction", "UsersFunction"])
def test_with_tracing_on_as_on_lambda_the_functions_patch_botocore_alone(
    lambda_path: LambdaPath, function: str
) -> None:
    """Powertools' default patches whatever of the X-Ray SDK's list it can import: on Lambda's
    path botocore and sqlite3. The functions patch botocore alone (books_api.observability), so
    their traces are the default's as long as sqlite3 is the only other one, and no function
    loads it. A library that becomes importable (requests in a layer, say) fails this test."""
    env = {
        name: value for name, value in _environment(function).items() if name != "POWERTOOLS_TRACE_DISABLED"
    }
    env["LAMBDA_TASK_ROOT"] = str(lambda_path.task(function))
    report = _run_child(lambda_path, function, _TRACING_CHILD, [], env=env)
    assert report == {"patched": ["botocore"], "importable": ["botocore", "sqlite3"], "sqlite3": False}
