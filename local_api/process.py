"""Run ``python -m local_api`` as a child process on free ports: for the integration tests and benchmarks.

with ServerProcess(workdir, env_vars={"Parameters": {"BCRYPT_COST": "4"}}) as server:
    urllib.request.urlopen(server.url + "/health")
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self
from urllib.error import URLError

from local_api.state import read_state
from stack.template import ROOT

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
# What the child must not inherit from the caller's shell.
_NOT_INHERITED = ("PORT", "ADMIN_USERNAME", "ADMIN_PASSWORD", "AWS_SAM_STACK_NAME", "API_URL")


class ServerFailed(RuntimeError):
    pass


def children(pid: int) -> dict[int, Path]:
    """The child processes of ``pid`` and their working folders (a worker's is its CodeUri,
    moto's process the repository's), from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found[int(stat.parent.name)] = Path(os.readlink(stat.parent / "cwd"))
        except (OSError, ValueError, IndexError):
            continue
    return found


class ServerProcess:
    """One local server on 127.0.0.1 with a free port for the API and for moto."""

    def __init__(
        self,
        workdir: Path,
        *,
        env_vars: Mapping[str, Mapping[str, str]] | None = None,
        parameters: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        arguments: Sequence[str] = (),
    ) -> None:
        self.workdir = workdir
        self.env_vars = env_vars or {}
        self.parameters = parameters or {}
        self.environment = environment or {}
        self.arguments = tuple(arguments)  # more of python -m local_api's options
        self.state_file = workdir / "state.json"
        self.log_file = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return self.state["url"]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env_file = self.workdir / "env.json"
        env_file.write_text(json.dumps(self.env_vars))
        command = [
            sys.executable,
            "-m",
            "local_api",
            "--port",
            "0",
            "--state-file",
            str(self.state_file),
            "--env-vars",
            str(env_file),
            *self.arguments,
        ]
        if self.parameters:
            command += [
                "--parameter-overrides",
                *(f"{key}={value}" for key, value in self.parameters.items()),
            ]
        env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
        env.update(self.environment)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter and module
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"the local server exited with {self.process.returncode}:\n{self.log()}")
            if self.state_file.exists():
                self.state = read_state(self.state_file)
                try:
                    with urllib.request.urlopen(self.url + "/health", timeout=5) as response:  # noqa: S310 - the http URL of the server it started  # nosec B310
                        if response.status == 200:
                            return
                except (URLError, OSError):
                    pass
            time.sleep(0.1)
        raise ServerFailed(f"the local server was not ready in {START_TIMEOUT_SECONDS:.0f} s:\n{self.log()}")

    def stop(self, signum: int = signal.SIGTERM) -> int | None:
        """Signal the server and wait for it; its exit status (killed if it does not stop in time)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise ServerFailed(
                    f"the local server did not stop on signal {signum}:\n{self.log()}"
                ) from None
        return self.process.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
