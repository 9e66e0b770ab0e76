"""The README's walk-through (local_api/walk_through.py, which ``make sam-local-check`` runs through
``sam local start-api``) gets API Gateway's answers here: from the local server, or a stack."""

from __future__ import annotations

from local_api.walk_through import walk_through

from .conftest import Target, User


def test_the_walk_through_gets_api_gateways_answers(target: Target, admin: User) -> None:
    steps = walk_through(target.client, (admin.username, admin.password), sam_cli_gateway=False)
    assert [step.line() for step in steps if not step.ok] == []
    assert len(steps) == 20
