"""Integration tests: whole flows over HTTP.

By default against a local server (``python -m local_api``) that a session fixture starts on
free ports on 127.0.0.1, with bcrypt's cost lowered through an ``--env-vars`` file, and stops.
Against a deployed stack when ``AWS_SAM_STACK_NAME`` (its ``ApiUrl`` output) or ``API_URL`` is
set; then tests marked ``local_only`` (they need the local server's processes) are deselected,
and an admin comes from the operator CLI (``--stack-name``) or ``ADMIN_USERNAME``/``ADMIN_PASSWORD``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_api.http_client import Client
from local_api.process import ServerProcess
from stack.template import ROOT
from tools.smoke import stack_api_url

TEST_BCRYPT_COST = "4"
LOCAL_ENV_VARS = {"Parameters": {"BCRYPT_COST": TEST_BCRYPT_COST}}
STACK_NAME = os.environ.get("AWS_SAM_STACK_NAME")
API_URL = os.environ.get("API_URL")
REMOTE = bool(STACK_NAME or API_URL)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "local_only: needs the local server's processes (not run against AWS)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not REMOTE:
        return
    local = [item for item in items if item.get_closest_marker("local_only")]
    if local:
        config.hook.pytest_deselected(items=local)
        items[:] = [item for item in items if item not in local]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def password() -> str:
    return f"pw {uuid.uuid4().hex}"


@dataclass(frozen=True)
class User:
    username: str
    password: str
    access_token: str
    refresh_token: str


@dataclass
class Target:
    client: Client
    server: ServerProcess | None = None

    def admin_cli(self, *args: str, password: str) -> subprocess.CompletedProcess[str]:
        """Run the operator CLI against this target's store, the password on stdin."""
        where = (
            ["--state-file", str(self.server.state_file)]
            if self.server
            else ["--stack-name", str(STACK_NAME)]
        )
        return subprocess.run(
            [sys.executable, "-m", "admin_cli", *where, *args],
            input=password + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )

    def signup(self) -> User:
        username, secret = unique("it"), password()
        reply = self.client.post("/auth/signup", body={"username": username, "password": secret})
        assert reply.status == 201, reply.text
        return User(username, secret, reply.json["access_token"], reply.json["refresh_token"])

    def login(self, username: str, secret: str) -> User:
        reply = self.client.post("/auth/login", body={"username": username, "password": secret})
        assert reply.status == 200, reply.text
        return User(username, secret, reply.json["access_token"], reply.json["refresh_token"])


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if REMOTE:
        yield Target(Client(API_URL or stack_api_url(str(STACK_NAME))))
        return
    server = ServerProcess(tmp_path_factory.mktemp("local-server"), env_vars=LOCAL_ENV_VARS)
    server.start()
    try:
        yield Target(Client(server.url), server)
    finally:
        status = server.stop()
    assert status == 0, server.log()


@pytest.fixture(scope="session")
def client(target: Target) -> Client:
    return target.client


@pytest.fixture(scope="session")
def local_server(target: Target) -> ServerProcess:
    assert target.server is not None, "local_only tests run against the local server"
    return target.server


@pytest.fixture(scope="session")
def admin(target: Target) -> User:
    """An admin: made with the operator CLI, or given as ADMIN_USERNAME/ADMIN_PASSWORD for API_URL."""
    if target.server is None and not STACK_NAME:
        username, secret = os.environ.get("ADMIN_USERNAME"), os.environ.get("ADMIN_PASSWORD")
        if not (username and secret):
            pytest.fail("With API_URL, set ADMIN_USERNAME and ADMIN_PASSWORD to an admin of that API")
        return target.login(username, secret)
    username, secret = unique("admin"), password()
    done = target.admin_cli("create-user", username, "--role", "admin", password=secret)
    assert done.returncode == 0, done.stderr
    return target.login(username, secret)


@pytest.fixture
def reader(target: Target) -> User:
    return target.signup()


@pytest.fixture(scope="session")
def server_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("more-servers")
