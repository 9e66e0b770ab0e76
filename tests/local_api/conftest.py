"""The local server's own pieces, tested in this process: its patch of moto and the file it
generates for ``sam local``.

moto is patched here only for a test that asks for it (``moto_patched``), and put back after it,
so no other test, in this suite or another, runs on the local server's moto.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from local_api import REGION, STACK_NAME, moto_patches
from stack.template import Stack, create_resources


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def stack() -> Iterator[Stack]:
    """The template's tables and secrets in moto, as the local server creates them."""
    with mock_aws():
        yield create_resources(
            Stack(name=STACK_NAME, region=REGION),
            boto3.client("dynamodb", region_name=REGION),
            boto3.client("secretsmanager", region_name=REGION),
            boto3.client("kms", region_name=REGION),
        )


@pytest.fixture
def moto_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto as the local server runs it (``local_api.moto_patches``), until the test ends."""
    for owner, name in moto_patches.PATCHED:
        monkeypatch.setattr(owner, name, getattr(owner, name))  # the original, put back afterwards
    moto_patches.install()
