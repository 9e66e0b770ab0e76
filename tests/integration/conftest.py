"""Integration tests: whole flows over HTTP.

By default against a local server (``python -m local_api``) that a session fixture starts on
free ports on 127.0.0.1, with bcrypt's cost lowered through an ``--env-vars`` file, and stops.
Against a deployed stack when ``AWS_SAM_STACK_NAME`` (its ``ApiUrl`` output) or ``API_URL`` is
set; then tests marked ``local_only`` (they need the local server's processes, or a store of
their own) are deselected, and an admin comes from the operator CLI (``--stack-name``) or
``ADMIN_USERNAME``/``ADMIN_PASSWORD``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
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


STEP_SECONDS = 30  # RFC 6238's time step, which the API uses
MARGIN_SECONDS = 3  # a code is sent at least this long before the API would stop taking it


class Authenticator:
    """The authenticator app of one user: TOTP codes of the secret their enrolment returned.

    The API takes a code of the step before, the current one or the step after, and only for a
    step later than the last it took; so each ``code()`` is of a step later than the one before,
    the earliest the API still takes for a few seconds, waiting for the clock where it must.
    """

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        while True:
            now = time.time()
            current = int(now // STEP_SECONDS)
            step = max(self.last_step + 1, current - 1)
            if step == current - 1 and (current + 1) * STEP_SECONDS - now < MARGIN_SECONDS:
                step = current  # the step before is about to be two steps before
            if step <= current + 1:
                self.last_step = step
                return self.totp.at(step * STEP_SECONDS)
            time.sleep((step - 1) * STEP_SECONDS - now + 0.1)

    def wrong_codes(self, count: int) -> list[str]:
        """``count`` distinct six-digit codes that are none of the steps the API could take now."""
        current = int(time.time() // STEP_SECONDS)
        taken = {self.totp.at(step * STEP_SECONDS) for step in range(current - 2, current + 4)}
        draw = random.Random(self.secret)
        codes: list[str] = []
        while len(codes) < count:
            code = f"{draw.randrange(10**6):06d}"
            if code not in taken and code not in codes:
                codes.append(code)
        return codes


@dataclass(frozen=True)
class MfaUser(User):
    """A user with TOTP on: their authenticator and the recovery codes confirmation returned."""

    authenticator: Authenticator
    recovery_codes: tuple[str, ...]


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

    def make_admin(self) -> User:
        """A new admin, made with the operator CLI (the local server's store, or the stack's)."""
        username, secret = unique("admin"), password()
        done = self.admin_cli("create-user", username, "--role", "admin", password=secret)
        assert done.returncode == 0, done.stderr
        return self.login(username, secret)

    def profile(self, user: User) -> dict[str, Any]:
        reply = self.client.get("/users/me", token=user.access_token)
        assert reply.status == 200, reply.text
        return reply.json

    def start_totp(self, user: User) -> Authenticator:
        reply = self.client.post("/users/me/mfa/totp", token=user.access_token)
        assert reply.status == 200, reply.text
        return Authenticator(reply.json["secret"])

    def enable_mfa(self, user: User) -> MfaUser:
        """``user`` with TOTP on (their session goes on)."""
        authenticator = self.start_totp(user)
        reply = self.client.post(
            "/users/me/mfa/totp/confirm", token=user.access_token, body={"code": authenticator.code()}
        )
        assert reply.status == 200, reply.text
        return MfaUser(
            user.username,
            user.password,
            user.access_token,
            user.refresh_token,
            authenticator,
            tuple(reply.json["recovery_codes"]),
        )

    def mfa_token(self, user: User) -> str:
        """The MFA token a password login of ``user`` (TOTP on) gets instead of tokens."""
        reply = self.client.post("/auth/login", body={"username": user.username, "password": user.password})
        assert reply.status == 200, reply.text
        assert reply.json["mfa_required"] is True, reply.text
        return reply.json["mfa_token"]

    def complete_mfa(self, mfa_token: str, code: str) -> Any:
        return self.client.post("/auth/mfa", body={"mfa_token": mfa_token, "code": code})

    def user_pages(self, admin: User, limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every page of GET /users, as ``admin`` reads them."""
        next_token = None
        while True:
            query = f"?limit={limit}" + (f"&next_token={next_token}" if next_token else "")
            reply = self.client.get("/users" + query, token=admin.access_token)
            assert reply.status == 200, reply.text
            yield reply.json
            next_token = reply.json["next_token"]
            if next_token is None:
                return

    def enabled_admins(self, admin: User) -> set[str]:
        """The usernames of the enabled admins, as ``admin`` lists them."""
        return {
            item["username"]
            for page in self.user_pages(admin)
            for item in page["items"]
            if "admin" in item["roles"] and not item["disabled"]
        }

    def leave_enabled_admins(self, *admins: User) -> None:
        """Demote every enabled admin but ``admins`` (the first of them demotes): only on a store
        of its own (``admins_target``)."""
        assert self.server is not None and self.server.workdir.name == ADMINS_STORE
        keep = {admin.username for admin in admins}
        for page in self.user_pages(admins[0]):
            for item in page["items"]:
                if "admin" in item["roles"] and not item["disabled"] and item["username"] not in keep:
                    reply = self.client.request(
                        "PATCH",
                        f"/users/{item['id']}",
                        token=admins[0].access_token,
                        body={"roles": ["reader"]},
                    )
                    assert reply.status == 200, reply.text
        assert self.enabled_admins(admins[0]) == keep


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
    return target.make_admin()


@pytest.fixture
def reader(target: Target) -> User:
    return target.signup()


@pytest.fixture(scope="session")
def server_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("more-servers")


ADMINS_STORE = "admins"


@pytest.fixture(scope="session")
def admins_target(server_workdir: Path) -> Iterator[Target]:
    """A local server of its own, for the last-admin guard: a test there makes the admins it names
    the only enabled ones (``Target.leave_enabled_admins``), which a shared store cannot allow."""
    with ServerProcess(server_workdir / ADMINS_STORE, env_vars=LOCAL_ENV_VARS) as server:
        yield Target(Client(server.url), server)
