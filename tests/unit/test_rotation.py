"""Signing-key rotation, driven by Secrets Manager (moto) calling the rotation function's four steps,
and how far verification trusts the previous key afterwards."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import boto3
import jwt
import pytest

from books_api.keys import ROTATION_SKEW_SECONDS, KeyRing, key_id
from books_api.rotation import KeyRotation, RotationError
from books_api.secret_source import ExtensionSecrets, SecretNotFound, SecretVersion
from stack.extension import SecretsExtension
from tests.unit.conftest import REGION, FakeExtension, Functions, signed_token, signing_secret
from tests.utils import PASSWORD

# How long ago a rotation in these tests took place (FakeExtension.age): longer than the key cache
# time and the skew, shorter than a token's lifetime, so tokens the previous key signed on either
# side of its bound are still unexpired.
AGE = 600


def current_secret(lambdas: Functions, stage: str = "AWSCURRENT") -> str:
    return signing_secret(lambdas.stack, stage).decode()


def rotated_long_ago(lambdas: Functions, rotate: Any, extension: FakeExtension) -> float:
    """Rotate, dated AGE seconds ago; the latest iat the previous key may have signed."""
    rotate()
    rotated_at = extension.age(lambdas.stack.ref("SigningSecret"), AGE)
    return (
        rotated_at
        + lambdas.module("authorizer").settings.tokens.secret_max_age_seconds
        + ROTATION_SKEW_SECONDS
    )


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
        assert ring.find(uuid.uuid4().hex + "x" * 11, lifetime=900) is None
    # AWSPREVIOUS read once (there is none yet), then one forced re-read of both stages.
    assert len(calls) - baseline == 3
    now[0] += 31
    for _ in range(100):
        ring.find("y" * 43, lifetime=900)
    assert len(calls) - baseline == 5


def test_the_previous_key_verifies_only_tokens_issued_before_the_rotation_took_effect(
    lambdas: Functions, rotate: Any, secrets_extension: FakeExtension
) -> None:
    previous = signing_secret(lambdas.stack)
    signed_until = int(rotated_long_ago(lambdas, rotate, secrets_extension))
    now = int(time.time())
    assert signed_until < now - 60  # the rotation has reached every signer
    # Issued before the rotation, and the last a warm signer can have made with the old key: valid
    # until they expire.
    assert lambdas.authorizes(signed_token(previous, issued_at=signed_until - AGE + 60))
    assert lambdas.authorizes(signed_token(previous, issued_at=signed_until))
    # Signed with the previous key after that (a leaked key): refused, whatever it claims.
    assert not lambdas.authorizes(signed_token(previous, issued_at=signed_until + 1))
    assert not lambdas.authorizes(signed_token(previous, issued_at=now, roles=["reader", "admin"]))
    assert lambdas.authorizes(signed_token(signing_secret(lambdas.stack), issued_at=now))


def test_after_the_previous_key_is_revoked_no_token_it_signed_is_accepted(lambdas: Functions) -> None:
    lambdas.overrides["SECRET_MAX_AGE_SECONDS"] = "0"  # a function that reads the key afresh
    leaked = signing_secret(lambdas.stack)
    now = int(time.time())
    earlier, forged = signed_token(leaked, issued_at=now - 60), signed_token(leaked, issued_at=now)
    assert lambdas.authorizes(earlier)
    assert lambdas.authorizes(forged)
    rotation = KeyRotation(boto3.client("secretsmanager", region_name=REGION))
    secret = lambdas.stack.ref("SigningSecret")
    version = rotation.rotate_now(secret)
    assert lambdas.authorizes(forged)  # rotated, not yet revoked: within the previous key's bound
    rotation.revoke_previous(secret)
    stages = rotation.stages(secret)
    assert stages[version] == ["AWSCURRENT"]
    assert not any("AWSPREVIOUS" in labels for labels in stages.values())
    assert not lambdas.authorizes(earlier)
    assert not lambdas.authorizes(forged)
    assert lambdas.authorizes(signed_token(signing_secret(lambdas.stack), issued_at=now))


def test_a_warm_authorizer_drops_a_revoked_key_at_the_first_token_of_the_new_one(lambdas: Functions) -> None:
    leaked = signing_secret(lambdas.stack)
    now = int(time.time())
    forged = signed_token(leaked, issued_at=now)
    assert lambdas.authorizes(forged)
    rotation = KeyRotation(boto3.client("secretsmanager", region_name=REGION))
    secret = lambdas.stack.ref("SigningSecret")
    rotation.rotate_now(secret)
    rotation.revoke_previous(secret)
    assert lambdas.authorizes(forged)  # its cached key is still the current one, for the key cache time
    assert lambdas.authorizes(signed_token(signing_secret(lambdas.stack), issued_at=now))
    assert not lambdas.authorizes(forged)


# --- the key ring's bound on the previous key, with dates of its own ------------------------------


class Versions:
    """A fetch that answers from ``stages`` (stage: version), which a test changes as a rotation would."""

    def __init__(self, **stages: SecretVersion) -> None:
        self.stages = stages

    def __call__(self, secret_id: str, stage: str) -> SecretVersion:
        if stage not in self.stages:
            raise SecretNotFound(stage)
        return self.stages[stage]


def version(letter: str, created: float | None) -> SecretVersion:
    return SecretVersion(letter * 64, created)


def kid(letter: str) -> str:
    return key_id((letter * 64).encode())


def test_the_previous_key_is_not_used_at_all_once_what_it_signed_in_time_has_expired() -> None:
    now = [1_800_000_000.0]
    versions = Versions(AWSCURRENT=version("a", now[0] - 1000), AWSPREVIOUS=version("z", now[0] - 9000))
    ring = KeyRing("s", max_age=300, wall_clock=lambda: now[0], fetch=versions)
    signed_until = now[0] - 1000 + 300 + ROTATION_SKEW_SECONDS
    assert ring.find(kid("z"), lifetime=900).signed_until == signed_until
    now[0] = signed_until + 900 + ROTATION_SKEW_SECONDS
    assert ring.find(kid("z"), lifetime=900) is not None
    now[0] += 1
    assert ring.find(kid("z"), lifetime=900) is None
    assert ring.find(kid("a"), lifetime=900).signed_until is None  # the current key: no bound


def test_without_the_current_versions_date_the_previous_key_is_not_trusted() -> None:
    versions = Versions(AWSCURRENT=version("a", None), AWSPREVIOUS=version("z", time.time()))
    ring = KeyRing("s", max_age=300, fetch=versions)
    assert ring.find(kid("z"), lifetime=900) is None
    assert ring.find(kid("a"), lifetime=900) is not None


def test_a_previous_key_read_before_the_current_one_is_read_again() -> None:
    """A rotation between two reads must not pair a key two rotations old with the newest date."""
    clock, now = [0.0], time.time()
    versions = Versions(AWSCURRENT=version("a", now - 1000), AWSPREVIOUS=version("z", now - 9000))
    ring = KeyRing("s", max_age=300, clock=lambda: clock[0], fetch=versions)
    ring.current()
    clock[0] = 200.0
    assert ring.find(kid("z"), lifetime=900).signed_until == now - 1000 + 300 + ROTATION_SKEW_SECONDS
    versions.stages = {"AWSCURRENT": version("b", now - 10), "AWSPREVIOUS": version("a", now - 1000)}
    clock[0] = 301.0  # the current key's cache has expired, the previous key's has not
    assert ring.current().kid == kid("b")
    assert ring.find(kid("z"), lifetime=900) is None
    assert ring.find(kid("a"), lifetime=900).signed_until == now - 10 + 300 + ROTATION_SKEW_SECONDS


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
