"""Latency of an authorized GET /books through the local server (make run's), end to end over HTTP.

    .venv/bin/python bench/local_latency.py [--requests 200] [--books 20]

Starts the local server on free ports (bcrypt cost lowered, as in the integration tests), makes an
admin with the operator CLI, adds ``--books`` books, logs a reader in, then times ``--requests``
sequential GET /books (a page of 20) after a warm-up, twice: with the authorizer cache the
template configures (ReauthorizeEvery, 300 s by default) and with it off, so each request also
invokes the authorizer. Each request opens its own connection, as the server closes them.
Prints p50, p90, p99 and max in milliseconds, and the requests per second that ``--clients``
concurrent clients get (with the template's authorizer cache). bench/run.py uses ``measure``.

    .venv/bin/python bench/local_latency.py --load [--clients 16] [--seconds 10] [--runs 3]

measures the server under load instead (``measure_load``): ``--clients`` users, each logged in
with its own token, each sending authorized GET /books back to back on one keep-alive
connection, as a browser or an HTTP client library with a connection pool does (``--new-connections``
opens one per request instead), for ``--seconds`` or ``--max-requests``, whichever ends first,
after a warm-up that is not counted. It prints the requests per second answered 200, the 5xx
answers, the connection errors and the timeouts apart (each target 0), and p50, p99 and max.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from local_api.process import ServerProcess, children  # noqa: E402

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


def throughput(port: int, token: str, *, clients: int, requests: int, books: int) -> float:
    """Requests per second of ``clients`` threads making ``requests`` GET /books between them,
    each on a new connection (``load``), every one answered 200 with its page."""
    result = load(port, [token] * clients, seconds=120, max_requests=requests, keep_alive=False, books=books)
    assert result["statuses"] == {"200": requests} and result["wrong_bodies"] == 0, result
    return float(result["answers"] / result["seconds"])


def seed(server: ServerProcess, books: int) -> int:
    """Make the admin with the operator CLI and add ``books`` books as it; the server's port."""
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
    return port


def measure(
    workdir: Path, parameters: dict[str, str], requests: int, books: int, *, clients: int = 0
) -> tuple[list[float], float | None]:
    """Sequential GET /books timings in ms, and the throughput of ``clients`` clients (if any)."""
    with ServerProcess(workdir, env_vars=ENV_VARS, parameters=parameters) as server:
        port = seed(server, books)
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
        rps = throughput(port, reader, clients=clients, requests=requests, books=books) if clients else None
        return timings, rps


LOAD_CLIENTS = 16
LOAD_SECONDS = 10.0
LOAD_MAX_REQUESTS = 20_000
LOAD_WARM_UP_PER_CLIENT = 5
LOAD_TIMEOUT_SECONDS = 10.0


class _Connection(http.client.HTTPConnection):
    """An HTTP/1.1 connection that counts the TCP connections it opens (http.client opens a new
    one by itself when the server closed the last)."""

    def __init__(self, port: int, timeout: float) -> None:
        super().__init__("127.0.0.1", port, timeout=timeout)
        self.opened = 0

    def connect(self) -> None:
        super().connect()
        self.opened += 1


@dataclass
class _Tally:
    """One client's outcomes: (seconds since the start, latency ms, status) per answer."""

    answers: list[tuple[float, float, int]] = field(default_factory=list)
    connection_errors: int = 0
    timeouts: int = 0
    connections: int = 0
    wrong_bodies: int = 0


def _load_client(
    port: int,
    token: str,
    *,
    keep_alive: bool,
    timeout: float,
    start: float,
    deadline: float,
    budget: list[int],
    lock: threading.Lock,
    books: int,
) -> _Tally:
    """GET /books back to back until ``deadline`` or until ``budget`` is spent."""
    tally = _Tally()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    connection: _Connection | None = None
    while time.perf_counter() < deadline:
        with lock:
            if budget[0] <= 0:
                break
            budget[0] -= 1
        if connection is None:
            connection = _Connection(port, timeout)
        sent = time.perf_counter()
        try:
            connection.request("GET", "/books", headers=headers)
            response = connection.getresponse()
            data = response.read()
        except TimeoutError:
            tally.timeouts += 1
            tally.connections += connection.opened
            connection.close()
            connection = None
            continue
        except (OSError, http.client.HTTPException):
            tally.connection_errors += 1
            tally.connections += connection.opened
            connection.close()
            connection = None
            continue
        received = time.perf_counter()
        tally.answers.append((sent - start, (received - sent) * 1000, response.status))
        if response.status == 200 and len(json.loads(data)["items"]) != min(books, 20):
            tally.wrong_bodies += 1
        if not keep_alive or response.will_close:
            tally.connections += connection.opened
            connection.close()
            connection = None
    if connection is not None:
        tally.connections += connection.opened
        connection.close()
    return tally


def load(
    port: int,
    tokens: list[str],
    *,
    seconds: float = LOAD_SECONDS,
    max_requests: int = LOAD_MAX_REQUESTS,
    keep_alive: bool = True,
    timeout: float = LOAD_TIMEOUT_SECONDS,
    books: int = 20,
) -> dict[str, Any]:
    """One client thread per token, each sending GET /books back to back, for ``seconds`` or
    ``max_requests`` between them, whichever ends first: what they got."""
    budget, lock = [max_requests], threading.Lock()
    tallies: list[_Tally] = [_Tally() for _ in tokens]
    start = time.perf_counter()
    deadline = start + seconds

    def run(index: int) -> None:
        tallies[index] = _load_client(
            port,
            tokens[index],
            keep_alive=keep_alive,
            timeout=timeout,
            start=start,
            deadline=deadline,
            budget=budget,
            lock=lock,
            books=books,
        )

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(tokens))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 5)
    elapsed = time.perf_counter() - start
    answers = [answer for tally in tallies for answer in tally.answers]
    latencies = [latency for _, latency, _ in answers]
    statuses: dict[str, int] = {}
    for _, _, status in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    ok = statuses.get("200", 0)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    over = sum(1 for latency in latencies if latency > 1500)
    return {
        "rps": ok / elapsed,
        "seconds": elapsed,
        "answers": len(answers),
        "statuses": statuses,
        "5xx": sum(count for status, count in statuses.items() if status.startswith("5")),
        "connection_errors": sum(tally.connection_errors for tally in tallies),
        "timeouts": sum(tally.timeouts for tally in tallies),
        "wrong_bodies": sum(tally.wrong_bodies for tally in tallies),
        "connections_opened": sum(tally.connections for tally in tallies),
        "p50_ms": cuts[49],
        "p90_ms": cuts[89],
        "p99_ms": cuts[98],
        "max_ms": max(latencies, default=0.0),
        "over_1500_ms": over,
    }


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far, from /proc (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _roles(server_pid: int) -> dict[int, str]:
    """The server's processes by role: ``gateway`` (the server itself), ``moto`` (its child in the
    repository's folder) and each function's workers (a child in the function's CodeUri)."""
    roles = {server_pid: "gateway"}
    for pid, folder in children(server_pid).items():
        roles[pid] = "moto" if folder == ROOT else f"function {folder.name}"
    return roles


def cpu_profile(server_pid: int, run: Any) -> tuple[Any, dict[str, float]]:
    """``run()``'s result, and the CPU seconds each role spent during it (the client's threads,
    in this process, as ``client``): where a request's time goes, process by process."""
    roles = _roles(server_pid)
    before = {pid: _cpu_seconds(pid) for pid in roles}
    own = os.times()
    result = run()
    own_after = os.times()
    spent: dict[str, float] = {"client": own_after.user + own_after.system - own.user - own.system}
    for pid, role in _roles(server_pid).items():
        spent[role] = spent.get(role, 0.0) + _cpu_seconds(pid) - before.get(pid, 0.0)
    return result, spent


def readers(port: int, count: int) -> list[str]:
    """``count`` readers signed up, each then logged in: their access tokens from the login."""
    tokens = []
    for number in range(count):
        username, password = f"{READER[0]}-{number}", f"{READER[1]} {number}"
        status, body = call(port, "POST", "/auth/signup", {"username": username, "password": password})
        assert status == 201, body
        tokens.append(token_of(port, username, password))
    return tokens


def measure_load(
    workdir: Path,
    *,
    clients: int = LOAD_CLIENTS,
    seconds: float = LOAD_SECONDS,
    requests: int = LOAD_MAX_REQUESTS,
    books: int = 20,
    keep_alive: bool = True,
    runs: int = 1,
    parameters: dict[str, str] | None = None,
    moto_in_process: bool = False,
) -> dict[str, Any]:
    """GET /books under ``clients`` concurrent clients (one user and one token from login each,
    one keep-alive connection each unless not ``keep_alive``), ``runs`` times on one server, each
    for ``seconds`` or ``requests`` requests, whichever ends first, after an uncounted warm-up.

    ``local_rps_16_clients`` is the median run's requests per second answered 200 (named for the
    default of 16 clients; ``details["clients"]`` says how many), ``local_5xx_under_load`` the 5xx
    answers of all runs; ``details`` has the connection errors and timeouts (counted apart), the
    median run's p50, p99 and max latency in ms, each run, and the CPU milliseconds per answer
    that each process spent in the median run (``cpu_ms_per_request``, see ``cpu_profile``).
    ``moto_in_process`` runs moto's server in the gateway's process, as before it had its own.
    """
    arguments = ["--moto-in-process"] if moto_in_process else []
    with ServerProcess(
        workdir, env_vars=ENV_VARS, parameters=parameters or {}, arguments=arguments
    ) as server:
        port = seed(server, books)
        tokens = readers(port, clients)
        load(port, tokens, seconds=seconds, max_requests=clients * LOAD_WARM_UP_PER_CLIENT, books=books)
        results = []
        for _ in range(runs):
            result, spent = cpu_profile(
                server.pid,
                lambda: load(
                    port, tokens, seconds=seconds, max_requests=requests, keep_alive=keep_alive, books=books
                ),
            )
            result["cpu_ms_per_request"] = {
                role: round(seconds_spent * 1000 / max(1, result["answers"]), 2)
                for role, seconds_spent in sorted(spent.items())
            }
            results.append(result)
    median = sorted(results, key=lambda result: result["rps"])[len(results) // 2]
    return {
        "local_rps_16_clients": round(median["rps"], 1),
        "local_5xx_under_load": sum(result["5xx"] for result in results),
        "details": {
            "clients": clients,
            "connection": "keep-alive, one per client" if keep_alive else "a new one per request",
            "seconds_per_run": seconds,
            "max_requests_per_run": requests,
            "books": books,
            "connection_errors": sum(result["connection_errors"] for result in results),
            "timeouts": sum(result["timeouts"] for result in results),
            "p50_ms": round(median["p50_ms"], 1),
            "p99_ms": round(median["p99_ms"], 1),
            "max_ms": round(median["max_ms"], 1),
            "cpu_ms_per_request": median["cpu_ms_per_request"],
            "moto": "the gateway's process" if moto_in_process else "a process of its own",
            "runs": [{key: _rounded(value) for key, value in result.items()} for result in results],
        },
    }


def _rounded(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def summary(timings: list[float]) -> str:
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    figures = {"p50": cuts[49], "p90": cuts[89], "p99": cuts[98], "max": max(timings)}
    return "   ".join(f"{name} {value:.1f} ms" for name, value in figures.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, help="sequential requests (200), or with --load the most per run"
    )
    parser.add_argument("--books", type=int, default=20)
    parser.add_argument("--clients", type=int, help="concurrent clients (4; with --load 16)")
    parser.add_argument("--load", action="store_true", help="measure under load (measure_load) instead")
    parser.add_argument("--seconds", type=float, default=LOAD_SECONDS, help="with --load: each run's length")
    parser.add_argument("--runs", type=int, default=1, help="with --load: runs on one server (the median)")
    parser.add_argument(
        "--new-connections", action="store_true", help="with --load: a connection per request"
    )
    parser.add_argument("--json", action="store_true", help="with --load: print the result as JSON")
    parser.add_argument(
        "--moto-in-process", action="store_true", help="with --load: moto in the gateway's process"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="local-latency-") as workdir:
        if args.load:
            result = measure_load(
                Path(workdir),
                clients=args.clients or LOAD_CLIENTS,
                seconds=args.seconds,
                requests=args.requests or LOAD_MAX_REQUESTS,
                books=args.books,
                keep_alive=not args.new_connections,
                runs=args.runs,
                moto_in_process=args.moto_in_process,
            )
            if args.json:
                print(json.dumps(result, indent=2))
                return
            details = result["details"]
            for run in details["runs"]:
                print(
                    f"  {run['rps']:.0f} requests/s 200, 5xx {run['5xx']}, connection errors "
                    f"{run['connection_errors']}, timeouts {run['timeouts']}, p50 {run['p50_ms']:.1f} ms, "
                    f"p99 {run['p99_ms']:.1f} ms, max {run['max_ms']:.1f} ms, over 1.5 s "
                    f"{run['over_1500_ms']}, {run['connections_opened']} connections, {run['statuses']}",
                    flush=True,
                )
            print(
                f"GET /books, {details['clients']} clients ({details['connection']}): "
                f"{result['local_rps_16_clients']:.0f} requests/s (median of {len(details['runs'])}), "
                f"5xx {result['local_5xx_under_load']}, connection errors {details['connection_errors']}, "
                f"timeouts {details['timeouts']}; moto in {details['moto']}",
                flush=True,
            )
            cpu = details["cpu_ms_per_request"]
            print(
                f"  CPU ms per answer: {', '.join(f'{role} {ms}' for role, ms in cpu.items())}; "
                f"total {sum(cpu.values()):.2f} (so {os.cpu_count()} cores serve at most "
                f"{1000 * (os.cpu_count() or 1) / sum(cpu.values()):.0f} requests/s)",
                flush=True,
            )
            return
        requests, clients = args.requests or 200, args.clients or 4
        runs = {
            "authorizer cache as in the template": {},
            "authorizer invoked on every request": {"AuthorizerCacheTtlSeconds": "0"},
        }
        for number, (name, parameters) in enumerate(runs.items()):
            timings, rps = measure(
                Path(workdir) / str(number),
                parameters,
                requests,
                args.books,
                clients=clients if number == 0 else 0,
            )
            print(f"GET /books, {requests} requests, {name}: {summary(timings)}", flush=True)
            if rps is not None:
                print(f"  {clients} concurrent clients: {rps:.0f} requests/s", flush=True)


if __name__ == "__main__":
    main()
