"""The Lambda runtime of the local server: warm worker processes per function, no Docker.

``WorkerRunner`` stands where SAM CLI's Docker-backed ``LocalLambdaRunner`` stands for
``LocalApigwService``: the same ``invoke(function_identifier, event, stdout=...)`` and
``is_debugging()``. Each worker (``local_api/worker.py``) runs one invocation at a time under the
function's template ``Timeout``, and overlapping invocations get more workers, as Lambda scales
out; a worker that crashes or times out is replaced, and that invocation fails the way a Lambda
invocation does, with an error payload.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samcli.lib.providers.provider import Function
from samcli.local.lambdafn.env_vars import EnvironmentVariables
from samcli.local.lambdafn.exceptions import FunctionNotFound

from stack.template import ROOT, Stack, layer_python_dirs

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda gives a function's init phase (importing the handler) up to 10 s of its own.
INIT_TIMEOUT_SECONDS = 10.0
STOP_GRACE_SECONDS = 3.0
FAKE_CREDENTIALS = {"key": "testing", "secret": "testing"}  # moto accepts any
EXTENSION_PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"


class FunctionFailed(Exception):
    """The invocation failed: the handler raised, the worker crashed, or it timed out."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message

    def payload(self) -> dict[str, str]:
        return {"errorType": self.error_type, "errorMessage": self.message}


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one function as Lambda would."""

    name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    timeout: float
    environment: Mapping[str, str] = field(repr=False)


def function_environment(
    function: Function,
    stack: Stack,
    overrides: Mapping[str, Mapping[str, str]],
    *,
    endpoint_url: str,
    extension_port: int | None = None,
    session_token: str | None = None,
) -> dict[str, str]:
    """Exactly what Lambda gives the function: its template variables (with ``--env-vars``-style
    overrides, which like SAM CLI's apply only to declared variables), the variables Lambda sets,
    fake credentials (with ``session_token``), ``AWS_ENDPOINT_URL`` pointing boto3 at moto, and,
    when the function reads secrets through the extension (its port variable is set), the port of
    the local server's emulator of it (``stack/extension.py``, served by ``local_api/extension.py``)."""
    file_overrides = {**overrides.get("Parameters", {}), **overrides.get(function.name, {})}
    resolved = EnvironmentVariables(
        function.name,
        function.memory,
        function.timeout,
        function.handler,
        function.logging_config,
        variables=stack.environment(function.name),
        shell_env_values={},
        override_values=file_overrides,
        aws_creds={
            "region": stack.region,
            **FAKE_CREDENTIALS,
            **({"sessiontoken": session_token} if session_token else {}),
        },
    ).resolve()
    code_dir = ROOT / function.codeuri
    resolved.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "_HANDLER": function.handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "TZ": ":UTC",
        }
    )
    if resolved.get(EXTENSION_PORT_VARIABLE) and extension_port is not None:
        resolved[EXTENSION_PORT_VARIABLE] = str(extension_port)
    return resolved


def function_spec(
    function: Function,
    stack: Stack,
    overrides: Mapping[str, Mapping[str, str]],
    *,
    endpoint_url: str,
    extension_port: int | None = None,
    session_token: str | None = None,
) -> FunctionSpec:
    return FunctionSpec(
        name=function.name,
        handler=function.handler,
        code_dir=ROOT / function.codeuri,
        layer_dirs=tuple(layer_python_dirs(function.name, stack)),
        timeout=float(function.timeout or 3),
        environment=function_environment(
            function,
            stack,
            overrides,
            endpoint_url=endpoint_url,
            extension_port=extension_port,
            session_token=session_token,
        ),
    )


class Worker:
    """One function's execution environment: a process, its two pipes, one invocation at a time."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self._requests = -1
        self._responses = -1
        self._buffer = b""
        self._ready = False
        self._closed = False

    def start(self) -> None:
        request_read, self._requests = os.pipe()
        self._responses, response_write = os.pipe()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter and our script
                [
                    sys.executable,
                    "-I",
                    str(WORKER_SCRIPT),
                    str(request_read),
                    str(response_write),
                    self.spec.handler,
                    *map(str, self.spec.layer_dirs),
                ],
                env=dict(self.spec.environment),
                cwd=self.spec.code_dir,
                stdin=subprocess.DEVNULL,
                pass_fds=(request_read, response_write),
            )
        finally:
            os.close(request_read)
            os.close(response_write)
        self._buffer = b""
        self._ready = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def _read_message(self, deadline: float, phase: str) -> dict[str, Any]:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._responses], [], [], remaining)[0]:
                raise FunctionFailed("Sandbox.Timedout", f"{phase} timed out")
            chunk = os.read(self._responses, 1 << 16)
            if not chunk:
                raise FunctionFailed("Runtime.ExitError", "the function's process exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def wait_ready(self) -> None:
        if self._ready:
            return
        message = self._read_message(time.monotonic() + INIT_TIMEOUT_SECONDS, "Init")
        if "error" in message:
            raise FunctionFailed(message["error"]["errorType"], message["error"]["errorMessage"])
        self._ready = True

    def invoke(self, event: str) -> str:
        """The function's result for ``event`` (a JSON text), as JSON text; or FunctionFailed.

        Callers hold ``lock``. A crash or a timeout replaces the process; a handler's own error
        leaves it warm.
        """
        if self._closed:
            raise FunctionFailed("Runtime.ExitError", "the server is stopping")
        try:
            self.wait_ready()
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            deadline_ms = int(time.time() * 1000 + self.spec.timeout * 1000)
            # The event is already JSON: splice it in rather than parse and dump it again.
            line = f'{{"request_id":"{request_id}","deadline_ms":{deadline_ms},"event":{event}}}\n'
            os.write(self._requests, line.encode())
            message = self._read_message(started + self.spec.timeout, "Task")
        except (FunctionFailed, OSError, ValueError) as failure:
            self.restart()
            if isinstance(failure, FunctionFailed):
                raise
            raise FunctionFailed("Runtime.ExitError", "the function's process exited") from None
        if "error" in message:
            raise FunctionFailed(message["error"]["errorType"], message["error"]["errorMessage"])
        return json.dumps(message["result"], separators=(",", ":"))

    def restart(self) -> None:
        self.kill()
        if not self._closed:
            LOG.warning("Restarted the worker of %s", self.spec.name)
            self.start()

    def _close_pipes(self) -> None:
        for fd in (self._requests, self._responses):
            if fd >= 0:
                os.close(fd)
        self._requests = self._responses = -1

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    @contextmanager
    def _quiesced(self) -> Iterator[None]:
        """Hold the lock once the invocation in flight (if any) ends, or after a grace period."""
        acquired = self.lock.acquire(timeout=self.spec.timeout + STOP_GRACE_SECONDS)
        try:
            yield
        finally:
            if acquired:
                self.lock.release()

    def close(self) -> None:
        """Close the request pipe: the worker exits when it reads its end, and is not restarted."""
        with self._quiesced():
            self._closed = True
            if self._requests >= 0:
                os.close(self._requests)
                self._requests = -1

    def stop(self) -> None:
        """Close the request pipe and wait for the worker to exit; kill it if it does not."""
        self.close()
        with self._quiesced():
            if self.process is not None:
                try:
                    self.process.wait(STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self._close_pipes()


class FunctionPool:
    """One function's execution environments, as Lambda scales them: an idle warm worker serves
    the next invocation; when every worker is busy a new one starts (a cold start), up to
    ``max_concurrency``, past which invocations wait for a worker to come free."""

    def __init__(self, spec: FunctionSpec, *, max_concurrency: int) -> None:
        self.spec = spec
        self.max_concurrency = max_concurrency
        self.workers = [Worker(spec)]
        self._idle = list(self.workers)
        self._free = threading.Condition()

    @contextmanager
    def worker(self) -> Iterator[Worker]:
        with self._free:
            while not self._idle and len(self.workers) >= self.max_concurrency:
                self._free.wait()
            if self._idle:
                worker = self._idle.pop()
            else:
                worker = Worker(self.spec)
                worker.start()
                self.workers.append(worker)
        try:
            with worker.lock:
                yield worker
        finally:
            with self._free:
                self._idle.append(worker)
                self._free.notify()


class WorkerRunner:
    """The lambda runner ``LocalApigwService`` calls, backed by a pool of warm workers per function
    (one at first; more, up to ``max_concurrency``, while invocations overlap)."""

    def __init__(self, specs: Iterable[FunctionSpec], *, max_concurrency: int = 4) -> None:
        self.pools = {spec.name: FunctionPool(spec, max_concurrency=max_concurrency) for spec in specs}

    @property
    def workers(self) -> dict[str, Worker]:
        """Each function's first worker (the one started with the server)."""
        return {name: pool.workers[0] for name, pool in self.pools.items()}

    def _all_workers(self) -> list[Worker]:
        return [worker for pool in self.pools.values() for worker in list(pool.workers)]

    def start(self) -> None:
        """Start every function's first worker and wait until each has imported its handler (warm)."""
        for worker in self.workers.values():
            worker.start()
        for name, worker in self.workers.items():
            with worker.lock:
                try:
                    worker.wait_ready()
                except FunctionFailed as failure:
                    LOG.error("%s failed to start: %s", name, failure)
                    worker.restart()

    def stop(self) -> None:
        for worker in self._all_workers():
            worker.close()
        for worker in self._all_workers():
            worker.stop()

    def pids(self) -> dict[str, int | None]:
        return {name: worker.pid for name, worker in self.workers.items()}

    def is_debugging(self) -> bool:
        return False

    def call(self, function_name: str, event: str) -> str:
        """The function's JSON result for a JSON event; raises FunctionFailed like a failed Invoke."""
        pool = self.pools.get(function_name)
        if pool is None:
            raise FunctionNotFound(f"Unable to find a function with name '{function_name}'")
        with pool.worker() as worker:
            return worker.invoke(event)

    def invoke(
        self, function_identifier: str, event: str, tenant_id: str | None = None, stdout: Any = None, **_: Any
    ) -> None:
        """``LocalLambdaRunner.invoke``: the result, or Lambda's error payload, written to ``stdout``."""
        try:
            output = self.call(function_identifier, event)
        except FunctionFailed as failure:
            output = json.dumps(failure.payload())
        if stdout is not None:
            stdout.write_str(output)
            stdout.flush()
