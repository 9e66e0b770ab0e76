"""Latency of an authorized GET /books through the local server (make run's), end to end over HTTP.

    .venv/bin/python bench/local_latency.py [--requests 200] [--books 20]

Starts the local server on free ports (bcrypt cost lowered, as in the integration tests), makes an
admin with the operator CLI, adds ``--books`` books, logs a reader in, then times ``--requests``
sequential GET /books (a page of 20) after a warm-up, twice: with the authorizer cache the
template configures (ReauthorizeEvery, 300 s by default) and with it off, so each request also
invokes the authorizer. Each request opens its own connection, as the server closes them.
Prints p50, p90, p99 and max in milliseconds, and the requests per second that ``--clients``
concurrent clients get (with the template's authorizer cache). bench/run.py uses ``measure``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from local_api.process import ServerProcess  # noqa: E402

WARM_UP = 20
ENV_VARS = {"Parameters": {"BCRYPT_COST": "4"}}
ADMIN = ("bench-admin", "bench admin passphrase")
READER = ("bench-reader", "bench reader passphrase")


def call(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else None


def token_of(port: int, username: str, password: str) -> str:
    status, body = call(port, "POST", "/auth/login", {"username": username, "password": password})
    assert status == 200, body
    return body["access_token"]


def throughput(port: int, token: str, *, clients: int, requests: int) -> float:
    """Requests per second of ``clients`` threads making ``requests`` GET /books between them."""
    remaining = list(range(requests))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not remaining:
                    return
                remaining.pop()
            status, _ = call(port, "GET", "/books", token=token)
            assert status == 200

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests / (time.perf_counter() - started)


def measure(
    workdir: Path, parameters: dict[str, str], requests: int, books: int, *, clients: int = 0
) -> tuple[list[float], float | None]:
    """Sequential GET /books timings in ms, and the throughput of ``clients`` clients (if any)."""
    with ServerProcess(workdir, env_vars=ENV_VARS, parameters=parameters) as server:
        port = int(server.url.rsplit(":", 1)[1])
        cli = [sys.executable, "-m", "admin_cli", "--state-file", str(server.state_file)]
        subprocess.run(  # noqa: S603 - our interpreter, our module; the password on stdin
            [*cli, "create-user", ADMIN[0], "--role", "admin"],
            input=ADMIN[1] + "\n",
            text=True,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        admin = token_of(port, *ADMIN)
        for number in range(books):
            status, _ = call(port, "POST", "/books", {"title": f"Book {number}", "author": "Bench"}, admin)
            assert status == 201
        status, body = call(port, "POST", "/auth/signup", {"username": READER[0], "password": READER[1]})
        assert status == 201, body
        reader = body["access_token"]
        timings = []
        for index in range(WARM_UP + requests):
            started = time.perf_counter()
            status, body = call(port, "GET", "/books", token=reader)
            elapsed = (time.perf_counter() - started) * 1000
            assert status == 200, body
            assert len(body["items"]) == min(books, 20)
            if index >= WARM_UP:
                timings.append(elapsed)
        rps = throughput(port, reader, clients=clients, requests=requests) if clients else None
        return timings, rps


def summary(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    figures = {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(timings)}
    return "   ".join(f"{name} {value:.1f} ms" for name, value in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--books", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    runs = {
        "authorizer cache as in the template": {},
        "authorizer invoked on every request": {"AuthorizerCacheTtlSeconds": "0"},
    }
    with tempfile.TemporaryDirectory(prefix="local-latency-") as workdir:
        for number, (name, parameters) in enumerate(runs.items()):
            clients = args.clients if number == 0 else 0
            timings, rps = measure(
                Path(workdir) / str(number), parameters, args.requests, args.books, clients=clients
            )
            print(f"GET /books, {args.requests} requests, {name}: {summary(timings)}", flush=True)
            if rps is not None:
                print(f"  {clients} concurrent clients: {rps:.0f} requests/s", flush=True)


if __name__ == "__main__":
    main()
