"""events/: current with tools/sample_events.py, one per route, each answered by its function."""

from __future__ import annotations

import json

import pytest

from stack.template import ROOT, routes
from tests.unit.conftest import Functions
from tools import sample_events

EVENTS = ROOT / "events"
FUNCTIONS = {
    "SignupFunction": "signup",
    "LoginFunction": "login",
    "BooksFunction": "books",
    "UsersFunction": "users",
}
# What each sample gets from its function on a fresh stack where the signup sample has run.
# Its caller's id is made up, so routes that look the account up find none; so is the id of the
# user the admin samples name, and the MFA token.
EXPECTED = {
    "health": 200,
    "signup": 201,
    "login": 200,
    "refresh": 401,
    "logout": 204,
    "users-me": 401,
    "users-me-password": 401,
    "users-me-delete": 401,
    "users-me-mfa-totp": 401,
    "users-me-mfa-totp-confirm": 401,
    "users-me-mfa-delete": 401,
    "mfa": 401,
    "users-list": 200,
    "users-get": 404,
    "users-change": 404,
    "users-delete": 404,
    "books-list": 200,
    "books-create": 201,
    "books-get": 404,
    "books-replace": 404,
    "books-delete": 404,
}


def load(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.mark.parametrize(("name", "text"), sorted(sample_events.render().items()))
def test_event_files_are_current(name: str, text: str) -> None:
    assert (EVENTS / name).read_text() == text


def test_every_route_has_a_sample_event() -> None:
    sampled = {(method, resource) for method, resource, *_ in sample_events.ROUTES.values()}
    assert sampled == {(method, path) for method, path, _, _ in routes()}
    assert set(EXPECTED) == set(sample_events.ROUTES)


def test_each_sample_gets_its_routes_answer(lambdas: Functions) -> None:
    owner = {(method, path): FUNCTIONS[function] for method, path, function, _ in routes()}
    for name, status in EXPECTED.items():  # signup first, so login finds alice
        event = load(name)
        response = lambdas.invoke(owner[(event["httpMethod"], event["resource"])], event)
        assert response["statusCode"] == status, name
        if status >= 400:
            assert json.loads(response["body"])["message"]


def test_the_authorizer_sample_is_denied_for_its_placeholder_token(lambdas: Functions) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        lambdas.invoke("authorizer", load("authorizer"))
