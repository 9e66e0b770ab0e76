"""The local server as a process: worker crashes, side-by-side servers, the admin at start, clean stops."""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

import admin_cli
from local_api import state
from local_api.http_client import Client, Reply
from local_api.process import ServerProcess, children
from stack.template import ROOT
from tests.threads import at_once

from .conftest import LOCAL_ENV_VARS, User, password, unique

pytestmark = pytest.mark.local_only


def worker_pid(server_pid: int, code_dir: str) -> int:
    (pid,) = [child for child, cwd in children(server_pid).items() if cwd == ROOT / code_dir]
    return pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and ") Z " not in Path(f"/proc/{pid}/stat").read_text()


def accepts_connections(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


def test_a_crashed_worker_is_a_502_and_the_next_request_works(
    local_server: ServerProcess, client: Client, reader: User
) -> None:
    assert client.get("/books", token=reader.access_token).status == 200
    books = worker_pid(local_server.pid, "functions/books")
    os.kill(books, signal.SIGSTOP)  # hold it mid-invocation...
    replies: list[Reply] = []
    request = threading.Thread(target=lambda: replies.append(client.get("/books", token=reader.access_token)))
    request.start()
    time.sleep(0.5)
    os.kill(books, signal.SIGKILL)  # ...then crash it
    request.join(30)
    (reply,) = replies
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}
    assert reply.header("cache-control") == "no-store"  # the template's DEFAULT_5XX
    assert reply.header("access-control-allow-origin") == "*"

    after = client.get("/books", token=reader.access_token)
    assert after.status == 200, after.text
    assert worker_pid(local_server.pid, "functions/books") != books


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_server_runs_beside_the_first_and_stops_leaving_no_process(
    signum: int, local_server: ServerProcess, server_workdir: Path
) -> None:
    admin_name, admin_password = unique("admin"), password()
    server = ServerProcess(
        server_workdir / signum.name,
        env_vars=LOCAL_ENV_VARS,
        environment={"ADMIN_USERNAME": admin_name, "ADMIN_PASSWORD": admin_password},
    )
    with server:
        assert server.url != local_server.url
        assert server.state["moto_endpoint"] != local_server.state["moto_endpoint"]
        client = Client(server.url)
        # ADMIN_USERNAME and ADMIN_PASSWORD gave this server an admin at start.
        login = client.post("/auth/login", basic=(admin_name, admin_password))
        assert login.status == 200, login.text
        created = client.post("/books", token=login.json["access_token"], body={"title": "T", "author": "A"})
        assert created.status == 201, created.text
        assert admin_password not in server.log()

        processes = [server.pid, *children(server.pid)]
        # The server, moto's process (in the repository, not a function's folder), a worker per function.
        assert len(processes) == 2 + len(server.state["functions"])
        assert list(children(server.pid).values()).count(ROOT) == 1
        status = server.stop(signum)

    assert status == 0, server.log()
    assert [pid for pid in processes if alive(pid)] == []
    assert not accepts_connections(server.url)
    assert not accepts_connections(server.state["moto_endpoint"])
    assert not server.state_file.exists()
    assert Client(local_server.url).get("/health").status == 200  # the first one is untouched


def test_a_killed_server_leaves_no_process(server_workdir: Path) -> None:
    """Killed, it cannot stop anything: moto's process and the workers end on their own when
    their pipe from it closes."""
    server = ServerProcess(server_workdir / "killed", env_vars=LOCAL_ENV_VARS)
    with server:
        processes = list(children(server.pid))
        assert len(processes) == 1 + len(server.state["functions"])
        server.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while [pid for pid in processes if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in processes if alive(pid)] == []
    assert not accepts_connections(server.state["moto_endpoint"])


def test_overlapping_invocations_scale_a_function_out_up_to_its_limit(
    local_server: ServerProcess, client: Client
) -> None:
    replies = at_once(*(lambda: client.post("/auth/refresh", body={"refresh_token": "not-a-token"}),) * 8)
    assert [reply.status for reply in replies] == [401] * 8
    login_workers = [
        pid for pid, cwd in children(local_server.pid).items() if cwd == ROOT / "functions/login"
    ]
    assert 1 < len(login_workers) <= 4


def documented_state() -> dict[str, set[str]]:
    """Each key of docs/LOCAL.md's table of the state file -> the names its row quotes."""
    section = (ROOT / "docs" / "LOCAL.md").read_text().split("### The state file\n", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| `")]
    return {key.strip().strip("`"): set(re.findall(r"`([^`]+)`", value)) for key, value in rows}


def test_the_state_file_holds_what_the_docs_say(local_server: ServerProcess) -> None:
    documented, written = documented_state(), local_server.state
    assert set(written) == set(documented)
    assert set(written["stack"]) <= documented["stack"]
    for function in written["functions"].values():
        assert set(function) <= documented["functions"]


def test_the_operator_cli_looks_for_the_state_file_where_the_server_writes_it() -> None:
    assert admin_cli.DEFAULT_PORT == state.DEFAULT_PORT
    for port in (state.DEFAULT_PORT, 5000, 43210):
        assert admin_cli.default_state_file(port) == state.default_state_file(port)
