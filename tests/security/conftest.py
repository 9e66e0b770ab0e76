"""The hostile suite: bodies, tokens, methods and paths an attacker would send, over HTTP.

Always against its own local server (``python -m local_api`` on free ports on 127.0.0.1, bcrypt's
cost lowered as in the integration tests), never a deployed stack: forging tokens with the real
signing key and checking that nothing was written both need moto, which the server's state file
names. Every case expects a 4xx with a JSON ``message`` and checks the body for stack traces,
file paths, bcrypt hashes, tokens, passwords and keys.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import jwt
import pytest

from local_api.http_client import Client
from local_api.process import ServerProcess
from local_api.runtime import FAKE_CREDENTIALS
from stack.template import functions, routes
from tests.integration.conftest import (
    LOCAL_ENV_VARS,
    Authenticator,
    MfaUser,
    Target,
    User,
    password,
    unique,
)

from .harness import Secrets, Store

GROUPS = {"test_bodies.py": "bodies", "test_tokens.py": "tokens", "test_paths.py": "methods and paths"}
# An MFA token lives 5 minutes and an enrolment 10: one older than this is replaced before use.
FRESH_SECONDS = 240


@dataclass(frozen=True)
class Signer:
    secret: bytes
    kid: str
    issuer: str
    audience: str
    ttl_seconds: int


@dataclass
class World:
    """The server under attack and what the cases need from it."""

    target: Target
    url: str
    admin: User
    reader: User
    mfa_user: MfaUser  # a reader with TOTP on
    enrolling: User  # a reader whose TOTP enrolment awaits its code
    patient: User  # the reader whose id the cases on /users/{id} aim at
    patient_id: str
    key: Signer
    secrets: Secrets
    store: Store
    dynamodb: Any
    tables: dict[str, str]
    book_id: str
    stack_name: str
    secret_arn: str
    _mfa_token: tuple[float, str] | None = field(default=None, repr=False)
    _enrolment: tuple[float, Authenticator] | None = field(default=None, repr=False)

    @property
    def client(self) -> Client:
        return self.target.client

    def fresh_user(self) -> User:
        """A reader of its own, signed up now (the store's last seen state is forgotten)."""
        self.store.forget()
        return self.target.signup()

    def fresh_mfa_user(self) -> MfaUser:
        """A reader of its own with TOTP on (the store's last seen state is forgotten)."""
        user = self.target.enable_mfa(self.fresh_user())
        self.secrets.add(user.authenticator.secret, *user.recovery_codes)
        self.store.forget()
        return user

    def mfa_token(self) -> str:
        """A live MFA token of ``mfa_user``: a password login's, reused while it is fresh (a new
        one is written to the store, whose last seen state is then forgotten)."""
        if self._mfa_token is None or time.monotonic() - self._mfa_token[0] > FRESH_SECONDS:
            self._mfa_token = (time.monotonic(), self.target.mfa_token(self.mfa_user))
            self.secrets.add(self._mfa_token[1])
            self.store.forget()
        return self._mfa_token[1]

    def enrolment(self) -> Authenticator:
        """``enrolling``'s authenticator for an enrolment that is still open (started again when
        it is no longer fresh: the store's last seen state is then forgotten)."""
        if self._enrolment is None or time.monotonic() - self._enrolment[0] > FRESH_SECONDS:
            self._enrolment = (time.monotonic(), self.target.start_totp(self.enrolling))
            self.secrets.add(self._enrolment[1].secret)
            self.store.forget()
        return self._enrolment[1]


@pytest.fixture(scope="session")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("hostile-server"), env_vars=LOCAL_ENV_VARS)
    server.start()
    try:
        yield server
    finally:
        status = server.stop()
    assert status == 0, server.log()


WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def writable_tables(method: str, path: str) -> tuple[str, ...]:
    """The tables the function behind a route may write, by its policy in template.yaml: on AWS it
    can write no other, so a refused request need only be shown to leave these as they were."""
    (function,) = {name for m, p, name, _ in routes() if (m, p) == (method, path)}
    found = set()
    for policy in functions()[function]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement.get("Action", [])
            if WRITE_ACTIONS.isdisjoint([actions] if isinstance(actions, str) else actions):
                continue
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                found.add(resource["Fn::GetAtt"][0])
    return tuple(sorted(found))


def _aws(server: ServerProcess, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.state["moto_endpoint"],
        region_name=server.state["stack"]["region"],
        aws_access_key_id=FAKE_CREDENTIALS["key"],
        aws_secret_access_key=FAKE_CREDENTIALS["secret"],
    )


@pytest.fixture(scope="session")
def world(hostile_server: ServerProcess) -> World:
    target = Target(Client(hostile_server.url), hostile_server)
    admin_name, admin_password = unique("admin"), password()
    done = target.admin_cli("create-user", admin_name, "--role", "admin", password=admin_password)
    assert done.returncode == 0, done.stderr
    admin = target.login(admin_name, admin_password)
    reader = target.signup()
    mfa_user = target.enable_mfa(target.signup())
    enrolling = target.signup()
    patient = target.signup()

    physical = hostile_server.state["stack"]["physical"]
    secretsmanager = _aws(hostile_server, "secretsmanager")
    signing = secretsmanager.get_secret_value(SecretId=physical["SigningSecret"])["SecretString"]
    page_key = secretsmanager.get_secret_value(SecretId=physical["PageTokenSecret"])["SecretString"]
    environment = hostile_server.state["functions"]["AuthorizerFunction"]["environment"]
    key = Signer(
        secret=signing.encode(),
        kid=jwt.get_unverified_header(admin.access_token)["kid"],
        issuer=environment["TOKEN_ISSUER"],
        audience=environment["TOKEN_AUDIENCE"],
        ttl_seconds=int(environment["ACCESS_TOKEN_TTL_SECONDS"]),
    )
    # The key read from moto is the one that signed the admin's token: forgeries start from it.
    jwt.decode(admin.access_token, key.secret, algorithms=["HS256"], audience=key.audience)

    secrets = Secrets()
    secrets.add(signing, page_key)
    for user in (admin, reader, mfa_user, enrolling, patient):
        secrets.add(user.password, user.access_token, user.refresh_token)
    secrets.add(mfa_user.authenticator.secret, *mfa_user.recovery_codes)

    book = target.client.post(
        "/books", token=admin.access_token, body={"title": "The Hostile Suite", "author": "Anon"}
    )
    assert book.status == 201, book.text
    dynamodb = _aws(hostile_server, "dynamodb")
    tables = {name: physical[name] for name in ("UsersTable", "BooksTable", "TokensTable")}
    return World(
        target=target,
        url=hostile_server.url,
        admin=admin,
        reader=reader,
        mfa_user=mfa_user,
        enrolling=enrolling,
        patient=patient,
        patient_id=target.profile(patient)["id"],
        key=key,
        secrets=secrets,
        store=Store(dynamodb, tables),
        dynamodb=dynamodb,
        tables=tables,
        book_id=book.json["id"],
        stack_name=hostile_server.state["stack"]["name"],
        secret_arn=physical["SigningSecret"],
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many hostile cases passed, by group (the controls, which must succeed, apart)."""
    counts: Counter[str] = Counter()
    controls = 0
    for report in terminalreporter.stats.get("passed", []):
        if report.when == "call" and report.nodeid.startswith("tests/security/"):
            module, test = report.nodeid.split("::")[:2]
            if test.startswith("test_control_"):
                controls += 1
            else:
                counts[GROUPS.get(module.rsplit("/", 1)[-1], module)] += 1
    if counts:
        groups = ", ".join(f"{group} {count}" for group, count in sorted(counts.items()))
        terminalreporter.write_line(
            f"hostile cases passed: {sum(counts.values())} ({groups}); controls passed: {controls}"
        )
