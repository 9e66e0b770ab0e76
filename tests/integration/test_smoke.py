"""The pipeline's smoke test (tools/smoke.py) passes against a stage that answers as deployed."""

from __future__ import annotations

from local_api.http_client import Client
from tools.smoke import problems


def test_the_smoke_test_passes_against_a_working_stage(client: Client) -> None:
    assert problems(client.base_url) == []
