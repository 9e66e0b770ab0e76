"""Signing-key rotation, driven by Secrets Manager (moto) calling the rotation function's four steps."""

from __future__ import annotations

import os
import uuid
from typing import Any

import boto3
import jwt
import pytest

from books_api.keys import KeyRing, key_id
from books_api.rotation import KeyRotation, RotationError
from books_api.secret_source import ExtensionSecrets
from local_api.extension import SecretsExtension
from tests.unit.conftest import REGION, Functions

PASSWORD = "violet-anchor-93-lantern"


def current_secret(lambdas: Functions, stage: str = "AWSCURRENT") -> str:
    return boto3.client("secretsmanager", region_name=REGION).get_secret_value(
        SecretId=lambdas.stack.ref("SigningSecret"), VersionStage=stage
    )["SecretString"]


def login(lambdas: Functions) -> str:
    status, pair, _ = lambdas.call(
        "login", "POST", "/auth/login", body={"username": "alice", "password": PASSWORD}
    )
    assert status == 200
    return pair["access_token"]


@pytest.fixture
def alice(lambdas: Functions) -> None:
    # Fresh reads of the secret on every call, as a process that started after a rotation sees it.
    lambdas.overrides["SECRET_MAX_AGE_SECONDS"] = "0"
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})


def test_rotation_runs_the_four_steps_and_makes_a_new_strong_current_key(
    lambdas: Functions, rotate: Any
) -> None:
    before = current_secret(lambdas)
    assert rotate() == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    after = current_secret(lambdas)
    assert after != before
    assert len(after.encode()) >= 32
    assert current_secret(lambdas, "AWSPREVIOUS") == before


def test_tokens_outlive_one_rotation_and_not_two(lambdas: Functions, alice: None, rotate: Any) -> None:
    oldest = login(lambdas)
    rotate()
    middle = login(lambdas)
    assert jwt.get_unverified_header(middle)["kid"] == key_id(current_secret(lambdas).encode())
    assert jwt.get_unverified_header(middle)["kid"] != jwt.get_unverified_header(oldest)["kid"]
    assert lambdas.authorizes(oldest)
    assert lambdas.authorizes(middle)
    rotate()
    assert not lambdas.authorizes(oldest)
    assert lambdas.authorizes(middle)
    assert lambdas.authorizes(login(lambdas))


def test_a_warm_authorizer_learns_a_new_key_from_the_first_token_signed_with_it(
    lambdas: Functions, rotate: Any
) -> None:
    lambdas.call("signup", "POST", "/auth/signup", body={"username": "alice", "password": PASSWORD})
    assert lambdas.authorizes(login(lambdas))
    rotate()
    lambdas.modules.pop("login")
    assert lambdas.authorizes(login(lambdas))


def test_forged_kids_reread_the_secret_at_most_once_per_interval(lambdas: Functions) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    calls: list[str] = []
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", lambda **_: calls.append("get"))
    now = [0.0]
    extension = SecretsExtension(lambda: client, lambda: os.environ["AWS_SESSION_TOKEN"])
    ring = KeyRing(
        lambdas.stack.ref("SigningSecret"),
        max_age=300,
        refresh_interval=30,
        clock=lambda: now[0],
        fetch=ExtensionSecrets(2773, transport=extension.transport),
    )
    ring.current()
    baseline = len(calls)
    for _ in range(100):
        assert ring.find(uuid.uuid4().hex + "x" * 11) is None
    # AWSPREVIOUS read once (there is none yet), then one forced re-read of both stages.
    assert len(calls) - baseline == 3
    now[0] += 31
    for _ in range(100):
        ring.find("y" * 43)
    assert len(calls) - baseline == 5


@pytest.mark.parametrize("step", ["createSecret", "finishSecret"])
def test_rotation_refuses_a_version_that_is_not_pending(lambdas: Functions, step: str) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    secret = lambdas.stack.ref("SigningSecret")
    client.rotate_secret(SecretId=secret, RotationRules={"AutomaticallyAfterDays": 30})
    with pytest.raises(RotationError):
        KeyRotation(client).run(secret_id=secret, token=str(uuid.uuid4()), step=step)


def test_rotation_refuses_unknown_steps(lambdas: Functions) -> None:
    with pytest.raises(RotationError):
        KeyRotation(boto3.client("secretsmanager", region_name=REGION)).run(
            secret_id=lambdas.stack.ref("SigningSecret"), token="t", step="dropSecret"
        )
