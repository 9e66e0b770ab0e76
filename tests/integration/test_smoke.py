"""The pipeline's smoke test (tools/smoke.py) passes against a stage that answers as deployed."""

from __future__ import annotations

from tools.smoke import problems

from .client import Client


def test_the_smoke_test_passes_against_a_working_stage(client: Client) -> None:
    assert problems(client.base_url) == []
