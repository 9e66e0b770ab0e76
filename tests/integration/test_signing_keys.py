"""The signing key's rotation over HTTP, with many requests at once: the previous key verifies only
tokens issued before the rotation took effect, and nothing at all once `admin_cli rotate-signing-key
--revoke-previous` has run.

Against a local server of their own whose functions read the key afresh on every call
(SECRET_MAX_AGE_SECONDS=0), so a rotation reaches them at once; tokens are signed here with keys
read from the server's moto, as an attacker holding a leaked key would sign them, each one new
(its own ``jti``), so that the gateway's authorizer cache, which answers for a token it has seen,
never decides for the key.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest

from books_api.keys import ROTATION_SKEW_SECONDS, key_id
from local_api.http_client import Client
from local_api.process import ServerProcess
from local_api.runtime import FAKE_CREDENTIALS
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, Target

pytestmark = pytest.mark.local_only


@pytest.fixture(scope="module")
def keys_server(server_workdir: Path) -> Iterator[ServerProcess]:
    env_vars = {"Parameters": {**LOCAL_ENV_VARS["Parameters"], "SECRET_MAX_AGE_SECONDS": "0"}}
    with ServerProcess(server_workdir / "keys", env_vars=env_vars) as server:
        yield server


@pytest.fixture
def keys(keys_server: ServerProcess) -> Target:
    return Target(Client(keys_server.url), keys_server)


class Secret:
    """The server's signing secret, read from its moto as an operator (or a thief) would."""

    def __init__(self, server: ServerProcess) -> None:
        self.arn = server.state["stack"]["physical"]["SigningSecret"]
        self.environment = server.state["functions"]["AuthorizerFunction"]["environment"]
        self._client = boto3.client(
            "secretsmanager",
            endpoint_url=server.state["moto_endpoint"],
            region_name=server.state["stack"]["region"],
            aws_access_key_id=FAKE_CREDENTIALS["key"],
            aws_secret_access_key=FAKE_CREDENTIALS["secret"],
        )

    def version(self, stage: str) -> dict[str, Any]:
        return self._client.get_secret_value(SecretId=self.arn, VersionStage=stage)

    def key(self, stage: str) -> bytes:
        return self.version(stage)["SecretString"].encode()

    def token(self, key: bytes, *, issued_at: int, roles: tuple[str, ...] = ("reader",)) -> str:
        """A new access token signed with ``key``, issued at ``issued_at``."""
        ttl = int(self.environment["ACCESS_TOKEN_TTL_SECONDS"])
        claims = {
            "iss": self.environment["TOKEN_ISSUER"],
            "aud": self.environment["TOKEN_AUDIENCE"],
            "sub": "8d1b6a3e-2f4c-4e8a-9c1d-5b7e3a9f0c2d",
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + ttl,
            "jti": uuid.uuid4().hex,
            "username": "mallory",
            "roles": list(roles),
            "sid": "family-1",
        }
        return jwt.encode(claims, key, algorithm="HS256", headers={"kid": key_id(key), "typ": "at+jwt"})


def rotate(target: Target, *options: str) -> dict[str, Any]:
    done = target.admin_cli("rotate-signing-key", *options, password="")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def books(client: Client, token: str) -> Callable[[], int]:
    return lambda: client.get("/books?limit=1", token=token).status


def test_a_revocation_landing_amid_requests_leaves_the_leaked_key_verifying_nothing(keys: Target) -> None:
    secret = Secret(keys.server)
    leaked = secret.key("AWSCURRENT")

    def earlier() -> str:
        return secret.token(leaked, issued_at=int(time.time()) - 60)

    def forged() -> str:
        return secret.token(leaked, issued_at=int(time.time()), roles=("reader", "admin"))

    seen = earlier()
    assert [keys.client.get("/books", token=token).status for token in (seen, forged())] == [200, 200]
    statuses: list[tuple[bool, int]] = []  # (sent after the command returned, status)
    revoked = threading.Event()

    def keep_asking(mint: Callable[[], str]) -> None:
        while True:
            after = revoked.is_set()
            statuses.append((after, keys.client.get("/books?limit=1", token=mint()).status))
            if after:
                return

    askers = [threading.Thread(target=keep_asking, args=(mint,)) for mint in (earlier, forged) * 3]
    for asker in askers:
        asker.start()
    try:
        rotated = rotate(keys, "--revoke-previous")
    finally:
        revoked.set()
        for asker in askers:
            asker.join(timeout=60)
    assert rotated["revoked"]
    assert {status for _, status in statuses} <= {200, 401}
    assert [status for after, status in statuses if after] == [401] * len(askers)
    new = secret.key("AWSCURRENT")
    calls = [books(keys.client, mint()) for mint in (earlier, forged) * 4]
    calls += [books(keys.client, secret.token(new, issued_at=int(time.time()))) for _ in range(4)]
    assert at_once(*calls) == [401] * 8 + [200] * 4
    # A token the gateway had already let through keeps its cached answer for AuthorizerCacheTtlSeconds:
    # what the runbook's flush of the stage's authorizer cache is for (docs/SECURITY.md).
    assert keys.client.get("/books", token=seen).status == 200


def test_simultaneous_tokens_of_the_previous_key_pass_only_if_issued_before_the_rotation_took_effect(
    keys: Target,
) -> None:
    secret = Secret(keys.server)
    rotate(keys)
    created = secret.version("AWSCURRENT")["CreatedDate"].timestamp()
    signed_until = int(created) + int(secret.environment["SECRET_MAX_AGE_SECONDS"]) + ROTATION_SKEW_SECONDS
    # Until then, a token the previous key signs may be a warm function's: wait for the bound to pass.
    time.sleep(max(0.0, signed_until + 2 - time.time()))
    previous = secret.key("AWSPREVIOUS")
    before = [secret.token(previous, issued_at=signed_until - 10 * n) for n in range(6)]
    after = [
        secret.token(previous, issued_at=signed_until + 1 + n, roles=("reader", "admin")) for n in range(6)
    ]
    statuses = at_once(*(books(keys.client, token) for token in before + after))
    assert statuses == [200] * 6 + [401] * 6
