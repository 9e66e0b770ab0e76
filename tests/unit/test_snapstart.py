"""SnapStart's runtime hooks, run as Lambda runs them: registered during a snap-start
initialisation, the before-snapshot hooks in the reverse order of registration, the after-restore
hooks in order (awslambdaric's lambda_runtime_hooks_runner), with Lambda's snapshot_restore_py
replaced by a module that only collects them."""

from __future__ import annotations

import random
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from books_api import aws, keys, models, secret_source, snapstart
from books_api.errors import ConfigError
from stack.template import Stack
from tests.unit.conftest import Functions, _client_factory, caller_context, login, signed_up

API_FUNCTIONS = ("signup", "login", "books", "users")


class Hooks(types.ModuleType):
    """Lambda's snapshot_restore_py as far as the functions use it."""

    def __init__(self) -> None:
        super().__init__(snapstart.HOOKS_MODULE)
        self.before: list[Callable[[], None]] = []
        self.after: list[Callable[[], None]] = []

    def register_before_snapshot(self, func: Callable[[], None]) -> None:
        self.before.append(func)

    def register_after_restore(self, func: Callable[[], None]) -> None:
        self.after.append(func)

    def snapshot(self) -> None:
        for func in reversed(self.before):
            func()

    def restore(self) -> None:
        for func in self.after:
            func()


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Hooks:
    module = Hooks()
    monkeypatch.setitem(sys.modules, snapstart.HOOKS_MODULE, module)
    return module


@pytest.fixture
def snap_lambdas(stack: Stack, monkeypatch: pytest.MonkeyPatch, hooks: Hooks) -> Functions:
    """The API functions as the template configures them with SnapStart on: no extension, so
    their secrets come from Secrets Manager's API (moto here), initialised as snap-start."""
    monkeypatch.setenv(snapstart.INITIALIZATION_TYPE, snapstart.SNAP_START)
    lambdas = Functions(stack, monkeypatch, overrides={secret_source.PORT_VARIABLE: ""})
    for name in API_FUNCTIONS:
        lambdas.module(name)
    return lambdas


def _secret_caches() -> list[secret_source.SecretCache]:
    return list(secret_source._CACHES)


def _nothing_secret_held() -> None:
    assert _secret_caches(), "the functions made no secret cache"
    assert all(len(cache) == 0 for cache in _secret_caches())
    assert not any(ring.holds_keys() for ring in keys._RINGS)


def test_each_api_function_registers_one_hook_of_each_kind(snap_lambdas: Functions, hooks: Hooks) -> None:
    assert len(hooks.before) == len(hooks.after) == len(API_FUNCTIONS)


def test_before_the_snapshot_models_and_clients_are_warm_and_nothing_secret_is_held(
    snap_lambdas: Functions, hooks: Hooks
) -> None:
    # Something read during initialisation (here: a warm key ring) must not reach the snapshot.
    signed_up(snap_lambdas, "early")
    assert any(ring.holds_keys() for ring in keys._RINGS)
    assert _client_factory.cache_info().currsize > 0

    hooks.snapshot()

    _nothing_secret_held()
    assert _client_factory.cache_info().currsize == 0, "a client, with its credentials, in the snapshot"
    assert type(models.Book.__pydantic_validator__).__name__ == "SchemaValidator"
    assert type(models.TokenPair.__pydantic_serializer__).__name__ == "SchemaSerializer"


def test_after_a_restore_caches_are_empty_and_clients_are_made_anew(
    snap_lambdas: Functions, hooks: Hooks
) -> None:
    hooks.snapshot()
    pair = signed_up(snap_lambdas)
    status, _, _ = snap_lambdas.call("books", "GET", "/books", authorizer=caller_context(pair))
    assert status == 200
    # The factory the functions' clients come from (the stack fixture wraps it).
    before = {service: _client_factory(service) for service in ("dynamodb", "secretsmanager")}
    assert any(len(cache) for cache in _secret_caches())

    hooks.restore()

    _nothing_secret_held()
    for service, old in before.items():
        assert _client_factory(service) is not old


def test_restores_of_one_snapshot_draw_different_random_numbers(
    snap_lambdas: Functions, hooks: Hooks
) -> None:
    hooks.snapshot()
    snapshot = random.getstate()
    draws = []
    for _ in range(2):
        random.setstate(snapshot)
        hooks.restore()
        draws.append([random.random() for _ in range(4)])
    assert draws[0] != draws[1]


def test_a_restored_function_serves_requests(snap_lambdas: Functions, hooks: Hooks) -> None:
    hooks.snapshot()
    hooks.restore()
    pair = signed_up(snap_lambdas)
    status, body, _ = login(snap_lambdas)
    assert status == 200, body
    status, body, _ = snap_lambdas.call("books", "GET", "/books", authorizer=caller_context(pair))
    assert (status, body) == (200, {"items": [], "next_token": None})


def test_without_snap_start_nothing_is_registered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, hooks: Hooks
) -> None:
    monkeypatch.delenv(snapstart.INITIALIZATION_TYPE, raising=False)
    lambdas = Functions(stack, monkeypatch)
    for name in API_FUNCTIONS:
        lambdas.module(name)
    assert hooks.before == hooks.after == []


def test_a_snap_start_initialisation_without_the_hooks_module_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(snapstart.INITIALIZATION_TYPE, snapstart.SNAP_START)
    monkeypatch.setitem(sys.modules, snapstart.HOOKS_MODULE, None)  # import raises ImportError
    with pytest.raises(ConfigError):
        snapstart.register(before=lambda: None, after=lambda: None)


def test_the_warm_up_looks_up_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    looked_up: list[Any] = []
    real = botocore.session.Session.get_credentials
    monkeypatch.setattr(
        botocore.session.Session, "get_credentials", lambda self: looked_up.append(self) or real(self)
    )
    aws.warm(("dynamodb", "secretsmanager", "kms"))
    assert looked_up == []


def test_a_restored_function_makes_its_clients_from_the_models_loaded_before_the_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The before-snapshot hook loads the models; the after-restore hook drops the clients and
    the session, not the models: a client made after the restore reads no model file."""
    import boto3
    import botocore.loaders

    snapstart.warmer("dynamodb")()
    snapstart.refresh()
    read: list[str] = []
    real = botocore.loaders.JSONFileLoader.load_file
    monkeypatch.setattr(
        botocore.loaders.JSONFileLoader, "load_file", lambda self, path: read.append(path) or real(self, path)
    )
    boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    # (botocore's retry settings, a small file, are read by each new session.)
    assert [path for path in read if not path.endswith("_retry")] == []
