"""Rotation of the signing key: the four steps Secrets Manager asks a rotation function for.

createSecret stores a new random key as AWSPENDING (the new version's CreatedDate is this moment);
setSecret has nothing to do (the key lives only in the secret); testSecret checks the pending key
signs and verifies a token; finishSecret moves AWSCURRENT to it, and Secrets Manager labels the
old one AWSPREVIOUS. Verification accepts the previous key only for tokens issued before the
rotation reached every signer (the new version's CreatedDate plus the key cache time plus a
minute), so they stay valid until they expire and nothing it signs later is accepted (keys.py).
Each step is safe to run again. ``revoke_previous`` takes AWSPREVIOUS off its version, so the
previous key verifies nothing at all: the emergency rotation after a key leaked.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import jwt
from botocore.exceptions import ClientError

from books_api import aws
from books_api.keys import SigningKey
from books_api.secret_source import CURRENT, PREVIOUS

PENDING = "AWSPENDING"
KEY_CHARACTERS = 64  # token_urlsafe: 6 bits a character, 384 bits in all


class RotationError(Exception):
    """Secrets Manager asked for a step this secret's state does not allow."""


def new_key_material() -> str:
    return secrets.token_urlsafe(48)


def _stages(metadata: dict[str, Any]) -> dict[str, list[str]]:
    stages: dict[str, list[str]] = metadata.get("VersionIdsToStages", {})
    return stages


class KeyRotation:
    def __init__(self, client: Any) -> None:
        self.client = client

    def run(self, *, secret_id: str, token: str, step: str) -> None:
        steps = {
            "createSecret": self.create,
            "setSecret": self.set,
            "testSecret": self.test,
            "finishSecret": self.finish,
        }
        if step not in steps:
            raise RotationError(f"unknown step {step!r}")
        metadata = self.client.describe_secret(SecretId=secret_id)
        if not metadata.get("RotationEnabled"):
            raise RotationError("rotation is not enabled on the secret")
        stages = _stages(metadata)
        if token not in stages:
            raise RotationError("the version to rotate to does not exist")
        if CURRENT in stages[token]:
            return
        if PENDING not in stages[token]:
            raise RotationError("the version to rotate to is not pending")
        steps[step](secret_id, token, stages)

    def rotate_now(self, secret_id: str) -> str:
        """All four steps in order, as Secrets Manager runs them, where no Secrets Manager drives
        them (the local server's moto). Returns the new version's id."""
        token = str(uuid.uuid4())
        stages = self.stages(secret_id)
        self.create(secret_id, token, stages)
        self.set(secret_id, token, stages)
        self.test(secret_id, token, stages)
        self.finish(secret_id, token, stages)
        return token

    def stages(self, secret_id: str) -> dict[str, list[str]]:
        """Each version of the secret and its staging labels."""
        return _stages(self.client.describe_secret(SecretId=secret_id))

    def finished(self, secret_id: str, version: str) -> bool:
        """Whether the rotation to ``version`` is over: it is AWSCURRENT and nothing is pending."""
        stages = self.stages(secret_id)
        return CURRENT in stages.get(version, []) and not any(PENDING in labels for labels in stages.values())

    def revoke_previous(self, secret_id: str) -> str | None:
        """Take AWSPREVIOUS off the version that has it, so that the previous key verifies nothing;
        the id of that version, or None if there was none."""
        previous = next(
            (version for version, labels in self.stages(secret_id).items() if PREVIOUS in labels), None
        )
        if previous is not None:
            self.client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=PREVIOUS, RemoveFromVersionId=previous
            )
        return previous

    def create(self, secret_id: str, token: str, stages: dict[str, list[str]]) -> None:
        self.client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)
        try:
            self.client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
            return
        except ClientError as error:
            if aws.error_code(error) != "ResourceNotFoundException":
                raise
        self.client.put_secret_value(
            SecretId=secret_id,
            ClientRequestToken=token,
            SecretString=new_key_material(),
            VersionStages=[PENDING],
        )

    def set(self, secret_id: str, token: str, stages: dict[str, list[str]]) -> None:
        """Nothing outside the secret holds the key."""

    def test(self, secret_id: str, token: str, stages: dict[str, list[str]]) -> None:
        value = self.client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)
        key = SigningKey.from_secret_string(value["SecretString"])
        probe = jwt.encode({"probe": token}, key.secret, algorithm="HS256", headers={"kid": key.kid})
        if jwt.decode(probe, key.secret, algorithms=["HS256"]) != {"probe": token}:
            raise RotationError("the pending key does not verify what it signs")

    def finish(self, secret_id: str, token: str, stages: dict[str, list[str]]) -> None:
        current = next((version for version, labels in stages.items() if CURRENT in labels), None)
        self.client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current
        )
        # Done: no version is left pending, so the next rotation starts clean.
        self.client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
        )
