"""Lambda SnapStart's runtime hooks, for the API functions when the template's SnapStart is on.

Under SnapStart, Lambda initialises a published version once, snapshots the process and resumes
every new execution environment of that version from the snapshot. What the snapshot holds is
shared by all of them, so it must hold nothing secret or unique:

- before the snapshot (``warmer``): load what a first request needs, boto3's API models and the
  pydantic validators (the models defer building them), with placeholder credentials and no
  request, after dropping any secret, key or client that initialisation made;
- after each restore (``refresh``): drop every cached secret and signing key again, reseed
  ``random`` (``secrets`` and ``os.urandom`` need nothing), and forget boto3's clients and
  credentials, so that connections and credentials are made anew, lazily, by the first call.

Lambda sets ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` during such an initialisation, and
provides ``snapshot_restore_py`` in its Python runtimes; ``register`` does nothing without the
variable (on-demand starts, tests, the local server), so nothing here runs or is imported then.
"""

from __future__ import annotations

import importlib
import os
import random
import sys
from collections.abc import Callable, Mapping

from books_api.errors import ConfigError

INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
SNAP_START = "snap-start"
HOOKS_MODULE = "snapshot_restore_py"

Hook = Callable[[], None]


def active(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this initialisation is the one Lambda snapshots."""
    return env.get(INITIALIZATION_TYPE) == SNAP_START


def register(*, before: Hook | None = None, after: Hook | None = None) -> bool:
    """Register ``before`` to run before the snapshot and ``after`` after every restore, when this
    initialisation is SnapStart's; whether they were. Without Lambda's hooks module then, the
    initialisation fails: a snapshot whose restores would skip ``after`` is never taken."""
    if not active():
        return False
    try:
        hooks = importlib.import_module(HOOKS_MODULE)
    except ImportError as error:
        raise ConfigError(f"SnapStart initialisation without {HOOKS_MODULE}: its hooks cannot run") from error
    if before is not None:
        hooks.register_before_snapshot(before)
    if after is not None:
        hooks.register_after_restore(after)
    return True


def forget_secrets() -> None:
    """Drop every cached secret version and signing key of the process."""
    from books_api import keys, secret_source  # noqa: PLC0415

    secret_source.forget_all()
    keys.forget_all()


def build_models() -> None:
    """Build the validators and serialisers of every model (they defer it to their first use)."""
    from pydantic import BaseModel  # noqa: PLC0415

    from books_api import models  # noqa: PLC0415

    for value in vars(models).values():
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == models.__name__:
            value.model_rebuild(force=True)


def warmer(*services: str) -> Hook:
    """The before-snapshot hook of a function whose requests call these AWS services."""

    def before_snapshot() -> None:
        from books_api import aws  # noqa: PLC0415

        forget_secrets()
        aws.reset()
        aws.warm(services)
        build_models()

    return before_snapshot


def refresh() -> None:
    """The after-restore hook: nothing read or made before the snapshot is used after it."""
    random.seed()
    forget_secrets()
    aws = sys.modules.get("books_api.aws")
    if aws is not None:
        aws.reset()
