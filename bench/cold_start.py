"""Cold starts: a fresh interpreter per sample imports a function and serves its first invocation.

Each sample is ``python -I -S`` with only Lambda's path (local_api/lambda_path.py: the built
function and layers, the runtime's boto3, the standard library) and the function's environment
from the local server (moto behind ``AWS_ENDPOINT_URL``, the extension's emulator behind
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``). Where the build holds Lambda's bytecode
(``make build``, tools/bytecode.py) the path holds this host's in its place, so the modules load
compiled, as on Lambda; where it holds none (``sam build`` alone) they are compiled at every cold
start, as on Lambda then. None is written (``-B``: as root, the folders' permissions would not
stop it). boto3 and the standard library keep this host's bytecode (on Lambda both come with
the runtime). Measured inside the child, from its first line
(the interpreter's own start is not the function's): the handler module's import, then the first
invocation.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_api.lambda_path import LambdaPath, site_packages
from stack.template import ROOT

MARK = "COLD-START "

_CHILD = r"""
import time
started = time.perf_counter()
import json, os, sys
paths, handler, event, snapstart = json.loads(sys.stdin.read())
sys.path[:0] = paths
if snapstart:
    # Lambda's hooks module, as its Python runtime runs them: before the snapshot in the reverse
    # order of registration, after a restore in order.
    import types
    before, after = [], []
    hooks = types.ModuleType("snapshot_restore_py")
    hooks.register_before_snapshot = lambda hook, *args, **kwargs: before.append(hook) or hook
    hooks.register_after_restore = lambda hook, *args, **kwargs: after.append(hook) or hook
    sys.modules["snapshot_restore_py"] = hooks
    os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
module_name, _, function_name = handler.rpartition(".")
handle = getattr(__import__(module_name), function_name)
imported = time.perf_counter()
restore_ms = None
if snapstart:
    for hook in reversed(before):
        hook()
    # A restored environment starts here: its initialisation ran before the snapshot.
    started = time.perf_counter()
    for hook in after:
        hook()
    imported = time.perf_counter()
    restore_ms = (imported - started) * 1000


class Context:
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench")
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "cold-start"

    @staticmethod
    def get_remaining_time_in_millis():
        return 10_000


outcome = None
if event is not None:
    try:
        result = handle(event, Context())
        outcome = result.get("statusCode", "ok") if isinstance(result, dict) else "ok"
    except Exception as error:
        outcome = type(error).__name__
done = time.perf_counter()
print("COLD-START " + json.dumps({
    "import_ms": 0.0 if snapstart else (imported - started) * 1000,
    "invoke_ms": (done - imported) * 1000,
    "total_ms": (done - started) * 1000,
    "restore_ms": restore_ms,
    "outcome": outcome,
    "modules": len(sys.modules),
}), flush=True)
"""


def sample(
    path: LambdaPath,
    task: str,
    environment: Mapping[str, str],
    event: Any,
    handler: str = "app.lambda_handler",
    *,
    snapstart: bool = False,
) -> dict[str, Any]:
    """One cold start of ``task`` (a folder of ``path``) given ``event`` (None: import only).

    With ``snapstart``, as a restore from SnapStart's snapshot instead: the initialisation and the
    before-snapshot hooks run first, untimed (Lambda runs them when it publishes the version), then
    ``restore_ms`` times the after-restore hooks and ``invoke_ms`` the first invocation after them;
    ``total_ms`` is both, what the function adds to Lambda's own restore."""
    done = subprocess.run(  # noqa: S603 - our interpreter and our script
        [sys.executable, "-I", "-S", "-B", "-c", _CHILD],
        input=json.dumps([path.sys_path(task), handler, event, snapstart]),
        env=dict(environment),
        cwd=path.task(task),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"cold start of {task} failed:\n{done.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix(MARK))


def on_lambda(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` as Lambda gives it with active tracing, not as SAM CLI does: no
    ``AWS_SAM_LOCAL`` (with it Powertools' Tracer turns itself off, which Lambda never does), and
    the trace header and daemon address Lambda sets, so the X-Ray SDK records (to a UDP port where
    nothing listens) as it does there."""
    given = {name: value for name, value in environment.items() if name != "AWS_SAM_LOCAL"}
    return {**given, **TRACING}


TRACING = {
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


def add_task(path: LambdaPath, name: str, files: Mapping[str, Path]) -> str:
    """A function of ``path`` named ``name`` whose code is ``files`` (name in the task: source)."""
    task = path.task(name)
    task.parent.chmod(stat.S_IRWXU)
    task.mkdir()
    for target, source in files.items():
        shutil.copy2(source, task / target)
    for folder in (task, task.parent):
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return name


def add_baseline_authorizer(path: LambdaPath) -> str:
    """Lay out bench/baseline_authorizer.py as a function of ``path``, with Powertools' parameters
    utility put back into the layers for it; the name of its task folder."""
    utilities = path.layers / "aws_lambda_powertools" / "utilities"
    utilities.chmod(stat.S_IRWXU)
    parameters = site_packages() / "aws_lambda_powertools" / "utilities" / "parameters"
    shutil.copytree(parameters, utilities / "parameters", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in (utilities, utilities / "parameters"):
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    files = {
        "app.py": ROOT / "bench" / "baseline_authorizer.py",
        "authorizer.py": ROOT / "functions/authorizer/app.py",
    }
    return add_task(path, "BaselineAuthorizer", files)
