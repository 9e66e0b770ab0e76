"""``make bench``: where a request's time and money go, measured side by side on this machine.

    .venv/bin/python bench/run.py [--check] [--quick] [--no-build] [--output bench/results.json]

Prints a table (each figure, its target, met or not) and writes bench/results.json. Exits 1 on a
missed target only with ``--check``: timing thresholds live here, never in ``make test``. Each
method is described in docs/PERFORMANCE.md; in short:

- sizes from a fresh ``sam build``;
- cold starts in a fresh interpreter per sample with only Lambda's path (bench/cold_start.py),
  the authorizer interleaved with a baseline that reads its key with boto3 and Powertools'
  parameters (bench/baseline_authorizer.py), the API functions with a handler written as
  Powertools' docs show (bench/baseline_api.py) and with only the imports they cannot avoid
  (bench/floor_api.py);
- warm figures in this process, against moto's server and the local server's emulator of the
  Parameters and Secrets extension over real HTTP, interleaved, many repetitions, medians;
- the page's ScannedCount from moto, and its read units by DynamoDB's rule with the catalogue's
  partition-key ceiling, unsharded and sharded (bench/pagination.py);
- GET /books through ``make run``'s server (bench/local_latency.py): sequential, then under 16
  clients at once with each process's CPU time per answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers/shared/python"), str(ROOT / "bench")]

import bcrypt  # noqa: E402
import cold_start  # noqa: E402
import jwt  # noqa: E402
import local_latency  # noqa: E402

from books_api import passwords  # noqa: E402
from books_api.config import TokenSettings  # noqa: E402
from books_api.keys import SigningKey  # noqa: E402
from books_api.tokens import LEEWAY_SECONDS, REQUIRED_CLAIMS, issue_access_token  # noqa: E402
from local_api import REGION  # noqa: E402
from local_api.extension import ExtensionServer  # noqa: E402
from local_api.lambda_path import BUILD_DIR, LambdaPath  # noqa: E402
from local_api.runtime import FAKE_CREDENTIALS, function_environment  # noqa: E402
from local_api.server import LocalServer  # noqa: E402
from stack.extension import SecretsExtension  # noqa: E402
from tools.bytecode import compile_build  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"
EVENTS = ROOT / "events"
FUNCTIONS = (
    "AuthorizerFunction",
    "BooksFunction",
    "LoginFunction",
    "SignupFunction",
    "SigningKeyRotationFunction",
)
SECRET_READERS = ("AuthorizerFunction", "BooksFunction", "LoginFunction", "SignupFunction")
CODE = {
    "AuthorizerFunction": "authorizer",
    "BooksFunction": "books",
    "LoginFunction": "login",
    "SignupFunction": "signup",
    "SigningKeyRotationFunction": "rotation",
}
SHARED_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
)
FAST_BCRYPT_COST = "4"  # for figures bcrypt should not swamp (cold starts, Secrets Manager calls)
RATIO_BCRYPT_COST = "12"  # production's: where bcrypt should dominate a login
PASSWORD = "correct horse battery staple"  # noqa: S105 - a bench user's, in moto

# key -> (description of the target, test of a value). Figures without a target have none here.
TARGETS: dict[str, tuple[str, Callable[[Any, dict[str, Any]], bool]]] = {
    "authorizer_cold_init_ratio": ("<= 0.4", lambda value, _: value <= 0.4),
    "api_cold_init_ratio": ("<= 0.4", lambda value, _: value <= 0.4),
    "api_cold_floor_ratio": ("<= 1.3", lambda value, _: value <= 1.3),
    "authorizer_warm_ratio": ("<= 1.5", lambda value, _: value <= 1.5),
    "secrets_calls_per_1000_warm": ("0", lambda value, _: value == 0),
    "login_vs_bcrypt_ratio": ("<= 1.15", lambda value, _: value <= 1.15),
    "unknown_vs_known_login_ratio": ("0.9 to 1.1", lambda value, _: 0.9 <= value <= 1.1),
    "unknown_vs_known_login_ratio_after_cost_change": ("0.9 to 1.1", lambda value, _: 0.9 <= value <= 1.1),
    "page_scanned_items_100": (
        "= page_scanned_items_10000",
        lambda value, results: value == results["page_scanned_items_10000"],
    ),
    "page_scanned_items_10000": (
        "= page_scanned_items_100",
        lambda value, results: value == results["page_scanned_items_100"],
    ),
    "local_p50_ms": ("<= 20", lambda value, _: value <= 20),
    "local_5xx_under_load": ("0", lambda value, _: value == 0),
    "function_artifact_max_kb": ("<= 50", lambda value, _: value <= 50),
    "layer_unzipped_mb": ("<= 10", lambda value, _: value <= 10),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- sizes: sam build ----------------------------------------------------------------------------


def _tree_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _zipped_bytes(folder: Path) -> int:
    with tempfile.TemporaryFile() as file:
        with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder))
        return file.tell()


def build(*, skip: bool) -> dict[str, Any]:
    if not skip:
        log("sam build")
        env = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        }
        subprocess.run(["sam", "build"], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S607
        log("bytecode for python3.13 (tools/bytecode.py), as `make build` makes it")
        compile_build(BUILD_DIR)
    functions = {name: BUILD_DIR / name for name in FUNCTIONS}
    layers = {name: BUILD_DIR / name for name in ("DependenciesLayer", "SharedLayer")}
    artifacts = {
        name: {"unzipped_kb": _tree_bytes(path) / 1000, "zipped_kb": _zipped_bytes(path) / 1000}
        for name, path in functions.items()
    }
    layer_sizes = {
        name: {"unzipped_mb": _tree_bytes(path) / 1e6, "zipped_mb": _zipped_bytes(path) / 1e6}
        for name, path in layers.items()
    }
    return {
        "function_artifact_max_kb": round(max(size["unzipped_kb"] for size in artifacts.values()), 1),
        "layer_unzipped_mb": round(sum(size["unzipped_mb"] for size in layer_sizes.values()), 2),
        "details": {"function_artifacts": artifacts, "layers": layer_sizes},
    }


# --- the backends: moto's server and the extension's emulator --------------------------------------


class Backend:
    """moto's server with the template's resources, and the Parameters and Secrets extension's
    emulator reading it through a client that counts Secrets Manager requests."""

    def __init__(self, workdir: Path) -> None:
        self.server = LocalServer(port=0, state_file=workdir / "state.json")
        self.secrets_manager_requests = 0
        self.extension_requests = 0

    def start(self) -> None:
        self.server.start(serve=False)
        client = self.server._moto_client("secretsmanager")

        def count(**_: Any) -> None:
            self.secrets_manager_requests += 1

        client.meta.events.register("before-call.secrets-manager.GetSecretValue", count)
        extension = SecretsExtension(lambda: client, lambda: self.server.session_token)
        answer = extension.answer

        def counted(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
            self.extension_requests += 1
            return answer(*args, **kwargs)

        extension.answer = counted  # type: ignore[method-assign]
        self.server.extension = ExtensionServer(extension)
        self.server.extension.start()
        self.environments = {spec.name: dict(spec.environment) for spec in self.server.specs()}
        self.environments["SigningKeyRotationFunction"] = self._rotation_environment()
        # What every function's environment shares (where AWS and the extension are, the
        # credentials and session token), for the functions this process runs warm.
        shared = self.environments["AuthorizerFunction"]
        os.environ.update({name: shared[name] for name in SHARED_VARIABLES})

    def _rotation_environment(self) -> dict[str, str]:
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider  # noqa: PLC0415
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider  # noqa: PLC0415

        from stack.template import TEMPLATE  # noqa: PLC0415

        stacks, _ = SamLocalStackProvider.get_stacks(
            str(TEMPLATE), parameter_overrides={}, global_parameter_overrides={"AWS::Region": REGION}
        )
        function = SamFunctionProvider(stacks, use_raw_codeuri=True).get("SigningKeyRotationFunction")
        return function_environment(
            function,
            self.server.stack,
            {},
            endpoint_url=self.server.moto_endpoint,
            extension_port=self.server.extension.port,
            session_token=self.server.session_token,
        )

    def stop(self) -> None:
        self.server.stop()

    def client(self, service: str) -> Any:
        return self.server._moto_client(service)

    def signing_key(self) -> SigningKey:
        secret = self.server.stack.ref("SigningSecret")
        return SigningKey.from_secret_string(
            self.client("secretsmanager").get_secret_value(SecretId=secret)["SecretString"]
        )


def api_event(name: str, *, body: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    event = json.loads((EVENTS / f"{name}.json").read_text())
    if body is not None:
        event["body"] = json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()}
    return event


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update({key: value for key, value in values.items() if key != "PATH"})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def load_function(name: str, env: Mapping[str, str]) -> Any:
    """functions/<code>/app.py imported afresh under its own name, with ``env`` while it imports."""
    import importlib.util  # noqa: PLC0415

    with environment(env):
        module_name = f"bench_{CODE[name]}_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / CODE[name] / "app.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return module


def token_event(backend: Backend) -> tuple[dict[str, Any], str]:
    settings = TokenSettings.from_env(backend.environments["AuthorizerFunction"])
    token = issue_access_token(
        backend.signing_key(),
        settings,
        subject=str(uuid.uuid4()),
        username="bench-reader",
        roles=("reader",),
        session_id=uuid.uuid4().hex,
    )
    event = json.loads((EVENTS / "authorizer.json").read_text())
    event["authorizationToken"] = f"Bearer {token}"
    return event, token


# --- cold starts ---------------------------------------------------------------------------------


def cold_starts(backend: Backend, workdir: Path, *, pairs: int, samples: int) -> dict[str, Any]:
    path = LambdaPath.create(workdir / "lambda", build_dir=BUILD_DIR)
    try:
        baseline = cold_start.add_baseline_authorizer(path)
        authorizer_event, _ = token_event(backend)
        fast = {**{"BCRYPT_COST": FAST_BCRYPT_COST}}
        env = {name: {**backend.environments[name], **fast} for name in FUNCTIONS}
        # A user for the login samples, made by a signup cold start.
        first = cold_start.sample(
            path,
            "SignupFunction",
            env["SignupFunction"],
            api_event("signup", body={"username": "alice", "password": PASSWORD}),
        )
        assert first["outcome"] in (201, 409), first  # 409: made by an earlier run on this store

        def event_of(name: str) -> Any:
            if name == "AuthorizerFunction":
                return authorizer_event
            if name == "BooksFunction":
                return api_event("books-list")
            if name == "LoginFunction":
                return api_event("login", body={"username": "alice", "password": PASSWORD})
            if name == "SignupFunction":
                return api_event(
                    "signup", body={"username": f"cold-{uuid.uuid4().hex[:12]}", "password": PASSWORD}
                )
            return None  # the rotation function: its import (it runs monthly, on a rotation)

        log(f"cold starts: authorizer and its baseline, {pairs} pairs, interleaved")
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for round_number in range(pairs):
            order = [("ours", "AuthorizerFunction"), ("baseline", baseline)]
            for which, task in order if round_number % 2 == 0 else reversed(order):
                result = cold_start.sample(path, task, env["AuthorizerFunction"], authorizer_event)
                assert result["outcome"] not in ("Exception",), result  # allowed, not denied
                (ours if which == "ours" else theirs).append(result)
        log(f"cold starts: every function, {samples} samples each, round robin")
        per_function: dict[str, list[dict[str, Any]]] = {name: [] for name in FUNCTIONS}
        for _ in range(samples):
            for name in FUNCTIONS:
                per_function[name].append(cold_start.sample(path, name, env[name], event_of(name)))
    finally:
        path.remove()
    ratio = median([sample["total_ms"] for sample in ours]) / median(
        [sample["total_ms"] for sample in theirs]
    )
    per_function["AuthorizerFunction"] += ours
    return {
        "authorizer_cold_init_ratio": round(ratio, 3),
        "cold_init_ms": {
            name: round(median([s["total_ms"] for s in runs]), 1) for name, runs in per_function.items()
        },
        "details": {
            "authorizer": {
                "ours_ms": {
                    part: round(median([s[part] for s in ours]), 1)
                    for part in ("import_ms", "invoke_ms", "total_ms")
                },
                "baseline_ms": {
                    part: round(median([s[part] for s in theirs]), 1)
                    for part in ("import_ms", "invoke_ms", "total_ms")
                },
                "ours_modules": round(median([s["modules"] for s in ours])),
                "baseline_modules": round(median([s["modules"] for s in theirs])),
                "pairs": pairs,
            },
            "cold_import_ms": {
                name: round(median([s["import_ms"] for s in runs]), 1) for name, runs in per_function.items()
            },
            "first_invocation_outcomes": {
                name: sorted({str(s["outcome"]) for s in runs}) for name, runs in per_function.items()
            },
            "samples_per_function": samples,
        },
    }


API_FUNCTIONS = ("BooksFunction", "LoginFunction", "SignupFunction")


def _parts(samples: list[dict[str, Any]]) -> dict[str, float]:
    measured = ("import_ms", "invoke_ms", "total_ms", "restore_ms")
    parts = [part for part in measured if samples[0].get(part) is not None]
    return {part: round(median([s[part] for s in samples]), 1) for part in parts}


def api_cold_starts(backend: Backend, workdir: Path, *, rounds: int) -> dict[str, Any]:
    """Each API function's cold start (import and first request) against bench/baseline_api.py
    serving the same request in the same environment, and against bench/floor_api.py (the imports
    no API function can avoid), interleaved: each round samples every function and its baseline
    and the floor once, in an order that rotates. Tracing is on, as on Lambda (cold_start.on_lambda).

    Each round also samples each function as a restore from SnapStart's snapshot
    (``cold_start.sample(snapstart=True)``, the environment SnapStart=true gives it: secrets read
    with boto3): ``api_snapstart_restored_ms`` is the worst function's after-restore hooks and
    first request, what it adds to Lambda's own restore."""
    path = LambdaPath.create(workdir / "lambda-api", build_dir=BUILD_DIR)
    try:
        baseline = cold_start.add_task(path, "BaselineApi", {"app.py": ROOT / "bench" / "baseline_api.py"})
        floor = cold_start.add_task(path, "FloorApi", {"app.py": ROOT / "bench" / "floor_api.py"})
        env = {
            name: cold_start.on_lambda({**backend.environments[name], "BCRYPT_COST": FAST_BCRYPT_COST})
            for name in API_FUNCTIONS
        }
        username = f"api-cold-{uuid.uuid4().hex[:12]}"
        made = cold_start.sample(
            path,
            "SignupFunction",
            env["SignupFunction"],
            api_event("signup", body={"username": username, "password": PASSWORD}),
        )
        assert made["outcome"] == 201, made

        def event_of(name: str) -> Any:
            if name == "BooksFunction":
                return api_event("books-list")
            if name == "LoginFunction":
                return api_event("login", body={"username": username, "password": PASSWORD})
            return api_event(
                "signup", body={"username": f"cold-{uuid.uuid4().hex[:12]}", "password": PASSWORD}
            )

        tasks = [(name, which) for name in API_FUNCTIONS for which in ("ours", "baseline", "snapstart")] + [
            ("floor", "floor")
        ]
        # As SnapStart=true configures them: no extension, so secrets are read with boto3.
        snapstart_env = {name: {**env[name], "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": ""} for name in env}
        samples: dict[tuple[str, str], list[dict[str, Any]]] = {task: [] for task in tasks}
        log(f"API cold starts: {len(API_FUNCTIONS)} functions, their baseline and the floor, {rounds} rounds")
        for round_number in range(rounds):
            shift = round_number % len(tasks)
            for name, which in tasks[shift:] + tasks[:shift]:
                if which == "floor":
                    result = cold_start.sample(path, floor, env["BooksFunction"], None)
                elif which == "snapstart":
                    result = cold_start.sample(
                        path, name, snapstart_env[name], event_of(name), snapstart=True
                    )
                    assert result["outcome"] in (200, 201), (name, which, result)
                else:
                    task = name if which == "ours" else baseline
                    result = cold_start.sample(path, task, env[name], event_of(name))
                    assert result["outcome"] in (200, 201), (name, which, result)
                samples[(name, which)].append(result)
    finally:
        path.remove()
    total = {task: median([s["total_ms"] for s in runs]) for task, runs in samples.items()}
    init_ratios = {name: total[(name, "ours")] / total[(name, "baseline")] for name in API_FUNCTIONS}
    floor_ratios = {name: total[(name, "ours")] / total[("floor", "floor")] for name in API_FUNCTIONS}
    restored = {name: total[(name, "snapstart")] for name in API_FUNCTIONS}
    return {
        "api_cold_init_ratio": round(max(init_ratios.values()), 3),
        "api_cold_floor_ratio": round(max(floor_ratios.values()), 3),
        "api_snapstart_restored_ms": round(max(restored.values()), 1),
        "details": {
            "init_ratio": {name: round(value, 3) for name, value in init_ratios.items()},
            "floor_ratio": {name: round(value, 3) for name, value in floor_ratios.items()},
            "ms": {f"{name}.{which}": _parts(runs) for (name, which), runs in samples.items()},
            "modules": {
                f"{name}.{which}": round(median([s["modules"] for s in runs]))
                for (name, which), runs in samples.items()
            },
            "rounds": rounds,
            "bcrypt_cost": int(FAST_BCRYPT_COST),
        },
    }


# --- warm: the authorizer against a bare jwt.decode ----------------------------------------------


def _timed(function: Callable[[], Any], batch: int) -> float:
    started = time.perf_counter()
    for _ in range(batch):
        function()
    return (time.perf_counter() - started) / batch


def authorizer_warm(backend: Backend, *, rounds: int, batch: int) -> dict[str, Any]:
    env = {**backend.environments["AuthorizerFunction"], "POWERTOOLS_LOG_LEVEL": "WARNING"}
    module = load_function("AuthorizerFunction", env)
    event, token = token_event(backend)
    context = Context()
    module.lambda_handler(event, context)  # warm: the key read and cached
    key = backend.signing_key().secret
    settings = module.settings.tokens

    def bare() -> None:
        jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
        )

    def invoke() -> None:
        module.lambda_handler(event, context)

    log(f"warm authorizer against jwt.decode: {rounds} rounds of {batch}, interleaved")
    timings: dict[str, list[float]] = {"invoke": [], "decode": []}
    for round_number in range(rounds):
        pair = [("invoke", invoke), ("decode", bare)]
        for name, function in pair if round_number % 2 == 0 else reversed(pair):
            timings[name].append(_timed(function, batch))
    invoke_us, decode_us = (median(timings[name]) * 1e6 for name in ("invoke", "decode"))
    return {
        "authorizer_warm_ratio": round(invoke_us / decode_us, 3),
        "details": {
            "invocation_us": round(invoke_us, 1),
            "jwt_decode_us": round(decode_us, 1),
            "rounds": rounds,
            "batch": batch,
        },
    }


# --- warm: Secrets Manager requests ----------------------------------------------------------------


def secrets_calls(backend: Backend, *, invocations: int) -> dict[str, Any]:
    env = {
        name: {
            **backend.environments[name],
            "BCRYPT_COST": FAST_BCRYPT_COST,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        for name in SECRET_READERS
    }
    modules = {name: load_function(name, env[name]) for name in SECRET_READERS}
    context = Context()
    signup = modules["SignupFunction"]
    username = f"warm-{uuid.uuid4().hex[:12]}"
    assert (
        signup.lambda_handler(
            api_event("signup", body={"username": username, "password": PASSWORD}), context
        )["statusCode"]
        == 201
    )
    admin = api_event("books-create")
    for number in range(3):
        admin["body"] = json.dumps({"title": f"Warm {number}", "author": "Bench"})
        assert modules["BooksFunction"].lambda_handler(admin, context)["statusCode"] == 201
    first_page = json.loads(
        modules["BooksFunction"].lambda_handler(api_event("books-list", query={"limit": "1"}), context)[
            "body"
        ]
    )
    authorizer_event, _ = token_event(backend)
    counter = iter(range(10**9))
    events: dict[str, Callable[[], dict[str, Any]]] = {
        "AuthorizerFunction": lambda: authorizer_event,
        # A page after the first: its next_token is checked with the page-token key.
        "BooksFunction": lambda: api_event(
            "books-list", query={"limit": "1", "next_token": first_page["next_token"]}
        ),
        "LoginFunction": lambda: api_event("login", body={"username": username, "password": PASSWORD}),
        "SignupFunction": lambda: api_event(
            "signup", body={"username": f"w{next(counter)}-{username}", "password": PASSWORD}
        ),
    }
    counts: dict[str, dict[str, int]] = {}
    for name in SECRET_READERS:
        module = modules[name]
        module.lambda_handler(events[name](), context)  # warm: whatever it reads, read now
        before = (backend.secrets_manager_requests, backend.extension_requests)
        log(f"{invocations} warm invocations of {name}")
        for _ in range(invocations):
            result = module.lambda_handler(events[name](), context)
            assert name == "AuthorizerFunction" or result["statusCode"] in (200, 201), result
        counts[name] = {
            "secrets_manager": backend.secrets_manager_requests - before[0],
            "extension": backend.extension_requests - before[1],
        }
    return {
        "secrets_calls_per_1000_warm": round(
            sum(count["secrets_manager"] for count in counts.values()) * 1000 / invocations, 3
        ),
        "details": {"per_function": counts, "invocations_each": invocations},
    }


# --- warm: login against bcrypt ------------------------------------------------------------------


def _login_function(backend: Backend) -> tuple[Any, dict[str, str], str]:
    """The login function at production's bcrypt cost, its environment, and a user of PASSWORD."""
    env = {
        **backend.environments["LoginFunction"],
        "BCRYPT_COST": RATIO_BCRYPT_COST,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    module = load_function("LoginFunction", env)
    known = f"known-{uuid.uuid4().hex[:12]}"
    with environment(env):
        module.accounts.set_user(known, PASSWORD, ("reader",))
    return module, env, known


def _rotated_medians(
    steps: list[tuple[str, Callable[[], None]]], rounds: int, *, between: Callable[[], None] | None = None
) -> dict[str, float]:
    """Each step once per round, their order rotating each round: the median of each, in ms.
    ``between`` runs untimed after each round."""
    timings: dict[str, list[float]] = {name: [] for name, _ in steps}
    for round_number in range(rounds):
        shift = round_number % len(steps)
        for name, function in steps[shift:] + steps[:shift]:
            timings[name].append(_timed(function, 1))
        if between is not None:
            between()
    return {name: median(values) * 1000 for name, values in timings.items()}


def logins(backend: Backend, *, rounds: int) -> dict[str, Any]:
    module, env, known = _login_function(backend)
    context = Context()
    with environment(env):
        stored = module.accounts.users.get(known)
    prehashed = passwords._prehash(PASSWORD)
    stored_hash = stored.password_hash.encode("ascii")
    assert stored_hash.startswith(f"$2b${RATIO_BCRYPT_COST}$".encode())

    def known_login() -> None:
        result = module.lambda_handler(
            api_event("login", body={"username": known, "password": PASSWORD}), context
        )
        assert result["statusCode"] == 200, result

    def unknown_login() -> None:
        # A new name each time: five failures for one name would lock it (429, no bcrypt).
        body = {"username": f"nobody-{uuid.uuid4().hex[:12]}", "password": PASSWORD}
        result = module.lambda_handler(api_event("login", body=body), context)
        assert result["statusCode"] == 401, result

    def checkpw() -> None:
        assert bcrypt.checkpw(prehashed, stored_hash)

    known_login()
    unknown_login()  # warm: clients built, the key read
    log(f"logins at bcrypt cost {RATIO_BCRYPT_COST}: {rounds} rounds of known, unknown, checkpw, rotated")
    medians = _rotated_medians(
        [("known", known_login), ("unknown", unknown_login), ("checkpw", checkpw)], rounds
    )
    known_ms, unknown_ms, checkpw_ms = (medians[name] for name in ("known", "unknown", "checkpw"))
    return {
        "login_vs_bcrypt_ratio": round(known_ms / checkpw_ms, 3),
        "unknown_vs_known_login_ratio": round(unknown_ms / known_ms, 3),
        "details": {
            "bcrypt_cost": int(RATIO_BCRYPT_COST),
            "login_ms": round(known_ms, 1),
            "unknown_login_ms": round(unknown_ms, 1),
            "checkpw_ms": round(checkpw_ms, 1),
            "rounds": rounds,
        },
    }


def logins_after_cost_change(backend: Backend, *, rounds: int) -> dict[str, Any]:
    """A wrong password for a user whose hash predates a raise of BcryptCost (made at cost 11,
    checked by a function configured at 12) against any password for an unknown username: the
    two 401s an attacker compares. Without the padding in passwords.verify_password the known
    user's answer takes half as long (bcrypt's work doubles with each step of cost)."""
    old_cost = int(RATIO_BCRYPT_COST) - 1
    module, env, known = _login_function(backend)
    context = Context()
    with environment(env):
        user = module.accounts.users.get(known)
        module.accounts.users.replace_hash(user, passwords.hash_password(PASSWORD, cost=old_cost))
        stored = module.accounts.users.get(known).password_hash
    assert passwords.cost_of(stored) == old_cost

    def failed_login(username: str) -> None:
        body = {"username": username, "password": "not the password"}
        result = module.lambda_handler(api_event("login", body=body), context)
        assert result["statusCode"] == 401, result

    def forget_failures() -> None:  # untimed: four more failures in a row would lock the name
        with environment(env):
            module.accounts.throttle.clear(known)

    steps = [
        ("known", lambda: failed_login(known)),
        ("unknown", lambda: failed_login(f"nobody-{uuid.uuid4().hex[:12]}")),
    ]
    for _, function in steps:
        function()
    forget_failures()
    log(f"failed logins after a cost change ({old_cost} -> {RATIO_BCRYPT_COST}): {rounds} rounds")
    medians = _rotated_medians(steps, rounds, between=forget_failures)
    known_ms, unknown_ms = medians["known"], medians["unknown"]
    return {
        "unknown_vs_known_login_ratio_after_cost_change": round(unknown_ms / known_ms, 3),
        "details": {
            "stored_cost": old_cost,
            "configured_cost": int(RATIO_BCRYPT_COST),
            "known_wrong_password_ms": round(known_ms, 1),
            "unknown_username_ms": round(unknown_ms, 1),
            "rounds": rounds,
        },
    }


# --- the page's ScannedCount, and the local server -----------------------------------------------


def pagination() -> dict[str, Any]:
    log("a page of 20 books with 100 and with 10,000 stored (moto's ScannedCount)")
    done = subprocess.run(  # noqa: S603 - our interpreter and our script
        [sys.executable, str(ROOT / "bench" / "pagination.py"), "--books", "100", "10000"],
        capture_output=True,
        text=True,
        check=True,
    )
    counts = json.loads(done.stdout.splitlines()[-1])
    return {
        "page_scanned_items_100": counts["100"]["first"],
        "page_scanned_items_10000": counts["10000"]["first"],
        "details": counts,
    }


def catalogue_capacity() -> dict[str, Any]:
    log("the catalogue's read units per page and its partition key's ceiling, unsharded and sharded")
    done = subprocess.run(  # noqa: S603 - our interpreter and our script
        [sys.executable, str(ROOT / "bench" / "pagination.py"), "--capacity"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


def local_server(workdir: Path, *, requests: int) -> dict[str, Any]:
    log(f"GET /books through the local server: {requests} sequential, then 4 concurrent clients")
    timings, rps = local_latency.measure(workdir / "local", {}, requests, 20, clients=4)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "local_p50_ms": round(cuts[49], 1),
        "local_p99_ms": round(cuts[98], 1),
        "local_rps": round(rps or 0, 1),
        "details": {"requests": requests, "books": 20, "concurrent_clients": 4},
    }


def local_load(workdir: Path, *, seconds: float, runs: int) -> dict[str, Any]:
    log(f"GET /books through the local server under 16 clients: {runs} runs of {seconds:.0f} s")
    return local_latency.measure_load(workdir / "load", clients=16, seconds=seconds, runs=runs)


# --- the table -----------------------------------------------------------------------------------


ORDER = (
    "authorizer_cold_init_ratio",
    "api_cold_init_ratio",
    "api_cold_floor_ratio",
    "api_snapstart_restored_ms",
    "authorizer_warm_ratio",
    "secrets_calls_per_1000_warm",
    "login_vs_bcrypt_ratio",
    "unknown_vs_known_login_ratio",
    "unknown_vs_known_login_ratio_after_cost_change",
    "page_scanned_items_100",
    "page_scanned_items_10000",
    "page_read_units",
    "catalogue_max_rps_per_partition_key",
    "local_p50_ms",
    "local_p99_ms",
    "local_rps",
    "local_rps_16_clients",
    "local_5xx_under_load",
    "function_artifact_max_kb",
    "layer_unzipped_mb",
)


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    return {key: test(results[key], results) for key, (_, test) in TARGETS.items()}


def table(results: dict[str, Any], met: dict[str, bool]) -> str:
    rows = [("figure", "value", "target", "")]
    for key in ORDER:
        target = TARGETS.get(key, ("-", None))[0]
        status = "" if key not in met else ("met" if met[key] else "MISSED")
        rows.append((key, str(results[key]), target, status))
    for name, value in results["cold_init_ms"].items():
        rows.append((f"cold_init_ms.{name}", str(value), "-", ""))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions (a rough look, not the figures)"
    )
    parser.add_argument("--no-build", action="store_true", help="use .aws-sam/build as it is")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    scale = 3 if args.quick else 1
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", FAKE_CREDENTIALS["key"])
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", FAKE_CREDENTIALS["secret"])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("samcli").setLevel(logging.CRITICAL)
    started = time.monotonic()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    details: dict[str, Any] = {}

    def take(part: dict[str, Any], name: str) -> None:
        details[name] = part.pop("details")
        results.update(part)

    take(build(skip=args.no_build), "sizes")
    with tempfile.TemporaryDirectory(prefix="bench-") as temporary:
        workdir = Path(temporary)
        backend = Backend(workdir)
        backend.start()
        try:
            take(cold_starts(backend, workdir, pairs=15 // scale, samples=7 // scale), "cold_starts")
            take(api_cold_starts(backend, workdir, rounds=9 // scale), "api_cold_starts")
            # The functions' own output (Powertools' metrics, one line an invocation) is dropped.
            with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
                take(authorizer_warm(backend, rounds=600 // scale, batch=20), "authorizer_warm")
                take(secrets_calls(backend, invocations=1000), "secrets_calls")
                take(logins(backend, rounds=15 // scale), "logins")
                take(logins_after_cost_change(backend, rounds=15 // scale), "logins_after_cost_change")
        finally:
            backend.stop()
        take(pagination(), "pagination")
        take(catalogue_capacity(), "catalogue_capacity")
        take(local_server(workdir, requests=300 // scale), "local_server")
        take(local_load(workdir, seconds=10 / scale, runs=3 if scale == 1 else 1), "local_load")
    met = verdicts(results)
    output = {
        **{key: results[key] for key in ORDER},
        "cold_init_ms": results["cold_init_ms"],
        "targets": {key: {"target": TARGETS[key][0], "met": met[key]} for key in TARGETS},
        "details": details,
        "run": {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started),
            "quick": args.quick,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_before": [round(load, 2) for load in load_before],
            "load_average_after": [round(load, 2) for load in os.getloadavg()],
        },
    }
    args.output.write_text(json.dumps(output, indent=2) + "\n")
    print(table(results, met))
    print(f"\n{sum(met.values())} of {len(met)} targets met; written to {args.output}")
    missed = [key for key, ok in met.items() if not ok]
    if missed:
        print("missed: " + ", ".join(missed) + " (docs/PERFORMANCE.md says what stands in the way)")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
