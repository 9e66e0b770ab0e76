"""tools/smoke.py, the pipeline's check after each deployment, tells a working stage from a
broken one (tests/integration/test_smoke.py runs it against a real one)."""

from __future__ import annotations

import json

import pytest

from tools import smoke


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[int, str]]:
    """The answers of a stage at https://stage.example/dev, by path; what was asked, in ``asked``."""
    answers = {"/health": (200, json.dumps({"status": "ok"})), "/books": (401, '{"message":"Unauthorized"}')}
    asked = []

    def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        path = url.removeprefix("https://stage.example/dev")
        asked.append((path, (headers or {}).get("Authorization", "")))
        return answers[path]

    monkeypatch.setattr(smoke, "_get", get)
    answers["asked"] = asked  # type: ignore[assignment]
    return answers


def test_a_working_stage_passes(stage: dict) -> None:
    assert smoke.problems("https://stage.example/dev/") == []
    assert stage["asked"] == [("/health", ""), ("/books", f"Bearer {smoke.UNSIGNED_TOKEN}")]


@pytest.mark.parametrize(
    ("path", "answer", "reported"),
    [
        ("/books", (500, '{"message": null}'), "not the authorizer's 401"),  # no policy from it
        ("/books", (200, "[]"), "not the authorizer's 401"),  # protected route left open
        ("/health", (502, '{"message": "Internal server error"}'), "GET /health: 502"),
        ("/health", (200, '{"status": "starting"}'), "GET /health: 200"),
    ],
)
def test_a_broken_stage_is_reported(stage: dict, path: str, answer: tuple[int, str], reported: str) -> None:
    stage[path] = answer
    (problem,) = smoke.problems("https://stage.example/dev")
    assert reported in problem


def test_the_unsigned_token_has_the_shape_the_gateway_passes_to_the_authorizer() -> None:
    import re

    from stack.template import api_properties

    identity = api_properties()["Auth"]["Authorizers"]["JwtAuthorizer"]["Identity"]
    assert re.fullmatch(identity["ValidationExpression"], f"Bearer {smoke.UNSIGNED_TOKEN}")


@pytest.mark.parametrize(("environment", "stack"), [("dev", "books-api-dev"), ("prod", "books-api-prod")])
def test_a_samconfig_environment_names_its_stack(environment: str, stack: str) -> None:
    assert smoke.config_env_stack(environment) == stack
