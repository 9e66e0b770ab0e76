"""The local server: moto, the template's tables and secrets, warm workers for each function, and
SAM CLI's API Gateway in front, all on 127.0.0.1.

    .venv/bin/python -m local_api [--port 3000] [--env-vars FILE] [--parameter-overrides K=V ...]

It writes a state file (``.local/server-<port>.json`` unless ``--state-file``) naming its URL,
moto endpoint, resources and each function's environment, which the operator CLI
(``python -m admin_cli``) and the tests read; and removes it when it stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.provider import Api, Function
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local_api import REGION, STACK_NAME, moto_patches
from local_api.extension import ExtensionServer
from local_api.gateway import Gateway
from local_api.moto_process import MotoProcess
from local_api.runtime import FAKE_CREDENTIALS, WorkerRunner, function_spec
from local_api.state import DEFAULT_PORT, default_state_file, write_state
from stack.extension import SecretsExtension
from stack.template import ROOT, TEMPLATE, Stack, create_resources, parameter_defaults

LOG = logging.getLogger("local_api")


def read_env_vars_file(path: Path | None) -> dict[str, dict[str, str]]:
    """A ``sam local start-api --env-vars`` file: {function logical id | "Parameters": {VAR: value}}."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"--env-vars {path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(value, dict) for value in data.values()):
        raise SystemExit(f'--env-vars {path}: expected {{"FunctionName": {{"VAR": "value"}}}}')
    return {name: {key: str(value) for key, value in variables.items()} for name, variables in data.items()}


def parse_parameter_overrides(pairs: Sequence[str]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--parameter-overrides expects KEY=VALUE, got {pair!r}")
        if key not in parameter_defaults():
            raise SystemExit(f"--parameter-overrides: template.yaml has no parameter {key}")
        overrides[key] = value
    return overrides


class _QuietHandler(WSGIRequestHandler):
    """The gateway logs its own access lines (without query strings or headers)."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class LocalServer:
    """Everything ``make run`` serves, started and stopped as one."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        moto_host: str = "127.0.0.1",
        moto_port: int = 0,
        parameters: Mapping[str, str] | None = None,
        env_vars: Mapping[str, Mapping[str, str]] | None = None,
        state_file: Path | None = None,
        max_concurrency: int = 4,
        moto_process: bool = False,
    ) -> None:
        self.host = host
        self.max_concurrency = max_concurrency
        self.port = port
        self.moto_host = moto_host
        self.moto_port = moto_port
        self.parameters = dict(parameters or {})
        self.env_vars = {name: dict(values) for name, values in (env_vars or {}).items()}
        self.state_file = state_file
        self.moto_process = moto_process
        self.moto: ThreadedMotoServer | MotoProcess | None = None
        self.extension: ExtensionServer | None = None
        # The functions' session token, which the extension's emulator requires of them.
        self.session_token = secrets.token_urlsafe(24)
        self.runner: WorkerRunner | None = None
        self.http: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.stack = Stack(name=STACK_NAME, region=REGION, parameters=self.parameters)
        self.functions: dict[str, Function] = {}
        self.api: Api | None = None

    # --- pieces -----------------------------------------------------------------------------

    @property
    def moto_endpoint(self) -> str:
        assert self.moto is not None
        host, port = self.moto.get_host_and_port()
        if host == "0.0.0.0":  # noqa: S104 - a comparison, binding nothing  # nosec B104
            host = "127.0.0.1"
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        assert self.http is not None
        return f"http://{self.host}:{self.http.server_port}"

    def start_moto(self) -> None:
        """moto's server, with the template's tables and secrets created in it, DynamoDB's
        per-request atomicity, which its threaded server would otherwise lack, and its item reads
        written as JSON directly, which its serializer makes slow (moto_patches): in a process of
        its own with ``moto_process`` (local_api/moto_process.py), else in this one."""
        if self.moto_process:
            self.moto = MotoProcess(self.moto_host, self.moto_port)
        else:
            moto_patches.install()
            self.moto = ThreadedMotoServer(ip_address=self.moto_host, port=self.moto_port, verbose=False)
        self.moto.start()
        clients = {service: self._moto_client(service) for service in ("dynamodb", "secretsmanager", "kms")}
        create_resources(self.stack, clients["dynamodb"], clients["secretsmanager"], clients["kms"])

    def _moto_client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_CREDENTIALS["key"],
            aws_secret_access_key=FAKE_CREDENTIALS["secret"],
        )

    def start_extension(self) -> None:
        """The Parameters and Secrets Lambda Extension's emulator, reading moto's secrets."""
        client: list[Any] = []

        def secretsmanager() -> Any:
            if not client:  # made at the first request, by then moto is up
                client.append(self._moto_client("secretsmanager"))
            return client[0]

        self.extension = ExtensionServer(
            SecretsExtension(secretsmanager, lambda: self.session_token), host="127.0.0.1"
        )
        self.extension.start()

    def load_template(self) -> None:
        """The Api and functions as ``sam local start-api`` reads them from template.yaml."""
        stacks, _ = SamLocalStackProvider.get_stacks(
            str(TEMPLATE),
            parameter_overrides=self.parameters,
            global_parameter_overrides={"AWS::Region": REGION},
        )
        self.api = ApiProvider(stacks, cwd=str(ROOT)).api
        provider = SamFunctionProvider(stacks, use_raw_codeuri=True)
        used = {route.function_name for route in self.api.routes} | {
            route.authorizer_object.lambda_name for route in self.api.routes if route.authorizer_object
        }
        self.functions = {function.name: function for function in provider.get_all() if function.name in used}

    def specs(self) -> list:
        return [
            function_spec(
                function,
                self.stack,
                self.env_vars,
                endpoint_url=self.moto_endpoint,
                extension_port=self.extension.port if self.extension else None,
                session_token=self.session_token,
            )
            for function in self.functions.values()
        ]

    def state(self) -> dict[str, Any]:
        pids = self.runner.pids() if self.runner else {}
        return {
            "url": self.url if self.http else None,
            "pid": os.getpid(),
            "moto_endpoint": self.moto_endpoint,
            "secrets_extension_port": self.extension.port if self.extension else None,
            "stack": {
                "name": self.stack.name,
                "region": self.stack.region,
                "physical": self.stack.physical,
                "arns": self.stack.arns,
                "parameters": self.stack.parameters,
            },
            "functions": {
                spec.name: {"pid": pids.get(spec.name), "environment": dict(spec.environment)}
                for spec in self.specs()
            },
        }

    def write_state(self) -> None:
        if self.state_file is not None:
            write_state(self.state_file, self.state())

    def ensure_admin(self, username: str, password: str) -> None:
        """Create the admin, or give it this password and the admin role, with the operator CLI."""
        assert self.state_file is not None
        env = {key: value for key, value in os.environ.items() if key not in ("ADMIN_PASSWORD", "PORT")}
        done = subprocess.run(  # noqa: S603 - our interpreter, our module; the password goes on stdin
            [
                sys.executable,
                "-m",
                "admin_cli",
                "--state-file",
                str(self.state_file),
                "create-user",
                username,
                "--role",
                "admin",
                "--update",
            ],
            input=password + "\n",
            text=True,
            cwd=ROOT,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise SystemExit(f"Could not set up the admin {username!r} (see above)")

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, *, admin: tuple[str, str] | None = None, serve: bool = True) -> None:
        self.start_moto()
        self.load_template()
        if serve:
            self.start_extension()
            self.runner = WorkerRunner(self.specs(), max_concurrency=self.max_concurrency)
            gateway = Gateway(self.api, self.runner, self.stack, host=self.host, port=self.port)
            gateway.create()
            # Bound now, so the state file can name the port; served once every worker is warm.
            self.http = make_server(
                self.host, self.port, gateway.app, threaded=True, request_handler=_QuietHandler
            )
            gateway.port = self.http.server_port
            self.runner.start()
        if self.state_file is None:  # named after the port that serves: the API's, or moto's alone
            self.state_file = default_state_file(
                self.http.server_port if self.http else self.moto.get_host_and_port()[1]
            )
        self.write_state()
        if admin is not None:
            self.ensure_admin(*admin)
        if self.http is not None:
            self._thread = threading.Thread(
                target=self.http.serve_forever, kwargs={"poll_interval": 0.1}, name="gateway", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.http.shutdown()
            self._thread.join()
        if self.http is not None:
            self.http.server_close()
        if self.runner is not None:
            self.runner.stop()
        if self.extension is not None:
            self.extension.stop()
        if isinstance(self.moto, MotoProcess) or (self.moto is not None and self.moto._thread is not None):
            self.moto.stop()
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", DEFAULT_PORT)),
        help="port to serve on; 0 picks a free one (default $PORT or 3000)",
    )
    parser.add_argument(
        "--env-vars", type=Path, help="JSON file of function environment overrides, as for sam local"
    )
    parser.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="template parameter values"
    )
    parser.add_argument(
        "--state-file", type=Path, help="where to write the state file (default .local/server-PORT.json)"
    )
    parser.add_argument(
        "--moto-host", default="127.0.0.1", help="address moto listens on (default 127.0.0.1)"
    )
    parser.add_argument("--moto-port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument(
        "--moto-in-process",
        action="store_true",
        help="run moto's server in this process, not in one of its own (slower under load)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=4,
        help="warm workers a function may scale out to while invocations overlap (default 4)",
    )
    parser.add_argument(
        "--moto-only",
        action="store_true",
        help="only start moto with the template's resources, for sam local start-api (see docs/LOCAL.md)",
    )
    return parser.parse_args(argv)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    LOG.setLevel(logging.INFO)
    # SAM CLI's own log lines can quote a function's whole response (tokens included): ours replace them.
    logging.getLogger("samcli").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> None:
    args = _arguments(argv)
    os.environ["SAM_CLI_TELEMETRY"] = "0"
    _configure_logging()
    admin_username, admin_password = os.environ.get("ADMIN_USERNAME"), os.environ.get("ADMIN_PASSWORD")
    if bool(admin_username) != bool(admin_password):
        raise SystemExit("Set both ADMIN_USERNAME and ADMIN_PASSWORD, or neither")
    server = LocalServer(
        host=args.host,
        port=args.port,
        moto_host=args.moto_host,
        moto_port=args.moto_port,
        parameters=parse_parameter_overrides(args.parameter_overrides),
        env_vars=read_env_vars_file(args.env_vars),
        state_file=args.state_file,
        max_concurrency=max(1, args.max_concurrency),
        moto_process=not args.moto_in_process,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server.start(
            admin=(admin_username, admin_password) if admin_username else None, serve=not args.moto_only
        )
        if args.moto_only:
            print(f"moto is serving the template's resources at {server.moto_endpoint}", flush=True)
        else:
            print(f"Books API at {server.url} (moto at {server.moto_endpoint}); Ctrl-C stops it", flush=True)
        stopping.wait()
    finally:
        server.stop()
    print("Stopped", flush=True)
